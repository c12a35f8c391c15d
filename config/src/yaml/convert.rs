//! From YAML text to a checked [`System`]: parsing, the checks that only
//! make sense on the YAML (duplicates inside one list, unknown names,
//! missing files), the conversion, and the rules run on the result. Each
//! rule finding is told at its YAML value by [`super::explain`].

use super::diagnostic::Diagnostic;
use super::explain::Explainer;
use super::raw::*;
use super::show::{hex_range, human_size, sanitize};
use super::source_map::{offset_of, parent, ByteSpan, SourceMap, Spans};
use super::{
    Payload, PciModel, QemuBackend, QemuDevice, TreeGenerator, TreeRequest, FORMAT_VERSION,
    PAYLOAD_ALIGN,
};
use crate::arm64_image::Header;
use crate::model::*;
use crate::rules;
use bsp::{Board, Intid, MemRange};
use miette::NamedSource;
use serde_saphyr::{Error as YamlError, MessageFormatter, UserMessageFormatter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Source = NamedSource<Arc<str>>;

/// The root `compatible` of QEMU's `virt` machine, the only board whose
/// devices a config's `qemu` section may describe.
const QEMU_VIRT_COMPATIBLE: &str = "linux,dummy-virt";
/// `compatible` of a virtio-mmio slot.
const VIRTIO_MMIO_COMPATIBLE: &str = "virtio,mmio";

/// Parses `source` into the raw types, or describes the first error.
pub(super) fn parse(
    source: &str,
    named: &Source,
    map: &SourceMap,
) -> Result<RawSystem, Box<Diagnostic>> {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options::<RawSystem>(source, options)
        .map_err(|e| Box::new(yaml_error(source, named, map, &e)))
}

fn yaml_error(source: &str, named: &Source, map: &SourceMap, error: &YamlError) -> Diagnostic {
    let error = error.without_snippet();
    let message = sanitize(&UserMessageFormatter.format_standalone_message(error));
    let (span, found) = match error.location() {
        Some(l) if l.line() > 0 => {
            let start = match l.span().byte_offset() {
                Some(b) => b as usize,
                None => offset_of(source, l.line(), l.column()),
            };
            let len = l.span().byte_len().unwrap_or(0) as usize;
            (start..start.saturating_add(len), true)
        }
        _ => (0..0, false),
    };
    let (path, on_key) = match map.path_at(span.start) {
        Some((path, on_key)) if found => (path.to_string(), on_key),
        _ => (String::new(), false),
    };
    let diagnostic = |code, path: &str, message: String| {
        Diagnostic::new(named, code, path, span.clone(), message)
    };
    match error {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let help = suggest(
                field,
                expected,
                format!("the fields allowed here are: {}", expected.join(", ")),
            );
            diagnostic(
                "config::unknown_field",
                &path,
                format!("unknown field `{}`", sanitize(field)),
            )
            .label("not a field of this entry")
            .help(help)
        }
        YamlError::SerdeMissingField { field, .. } => {
            // The location is the entry's first key: the field belongs to its parent.
            let owner = if on_key {
                parent(&path).unwrap_or("").to_string()
            } else {
                path.clone()
            };
            Diagnostic::new(
                named,
                "config::missing_field",
                &owner,
                map.locate(source, &owner),
                format!("missing field `{field}`"),
            )
            .label(format!("this entry needs `{field}`"))
            .help(format!("add it, for example `{}`", example(field)))
        }
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let help = suggest(
                variant,
                expected,
                format!("write one of: {}", expected.join(", ")),
            );
            diagnostic(
                "config::bad_value",
                &path,
                format!("`{}` is not a valid choice", sanitize(variant)),
            )
            .help(help)
        }
        YamlError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => diagnostic(
            "config::wrong_type",
            &path,
            format!("expected {expected}, found {}", sanitize(unexpected)),
        )
        .label(format!("expected {expected}"))
        .help(type_help(&path)),
        YamlError::SerdeInvalidValue { .. }
        | YamlError::SerdeInvalidLength { .. }
        | YamlError::InvalidScalar { .. }
        | YamlError::NullIntoString { .. }
        | YamlError::Message { .. }
            if !map.syntax_error() =>
        {
            diagnostic("config::wrong_type", &path, message).help(type_help(&path))
        }
        YamlError::DuplicateMappingKey { key, .. } => {
            let key = key.as_deref().map(sanitize).unwrap_or_default();
            diagnostic(
                "config::duplicate_key",
                &path,
                format!("`{key}` appears twice in the same entry"),
            )
            .label("second occurrence")
            .help("keep only one of them")
        }
        YamlError::Eof { .. }
            if source
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) =>
        {
            Diagnostic::new(named, "config::empty", "", 0..0, "the file holds no config").help(
                "start with `version: 1`, `board: ...` and `cells: ...`; see `bulkhead schema`",
            )
        }
        _ if !found => diagnostic("config::syntax", "", message)
            .help("the file must hold one YAML document with `version`, `board` and `cells`"),
        _ => diagnostic(
            "config::syntax",
            &path,
            format!("YAML syntax error: {message}"),
        )
        .label("here")
        .help("check the indentation (spaces, not tabs) and that brackets and quotes are closed"),
    }
}

fn example(field: &str) -> &'static str {
    match field {
        "version" => "version: 1",
        "board" => "board: qemu-virt",
        "cells" => "cells: [ ... ]",
        "name" => "name: sensor",
        "cpus" => "cpus: [0]",
        "memory" => "memory: [{ base: 0x50000000, size: 16M }]",
        "kernel" => "kernel: { path: app.bin }",
        "path" => "path: app.bin",
        "load_address" => "load_address: 0x50000000",
        "base" => "base: 0x50000000",
        "size" => "size: 16M",
        "peers" => "peers: [control, containers]",
        "output_size" => "output_size: 64K",
        _ => "<field>: <value>",
    }
}

fn type_help(path: &str) -> &'static str {
    let leaf = path.rsplit('.').next().unwrap_or("");
    let leaf = leaf.split('[').next().unwrap_or("");
    match leaf {
        "size" | "common_size" | "output_size" => {
            "write a size such as 4096, 0x1000, 64K, 16M or 1G"
        }
        "base" | "load_address" | "entry" | "boot_argument" => {
            "write an address such as 0x50000000"
        }
        "cpus" => "write a list of CPU numbers, such as [0, 1]",
        "version" => "write `version: 1`",
        "devices" => "write a list of device names, such as [virtio-mmio31]",
        "memory" => "write a list of regions, such as [{ base: 0x50000000, size: 16M }]",
        "cells" => "write a list of cells, each starting with `- name: ...`",
        "channels" => "write a list of channels, each starting with `- name: ...`",
        "peers" => "write a list of cell names, such as [control, containers]",
        "kernel" | "initrd" => "write { path: FILE, load_address: ADDRESS }",
        "device_tree" => "write {} for a generated tree, or { path: FILE, load_address: ADDRESS }",
        "bootargs" => "write the command line as a string, such as \"console=ttyAMA0\"",
        _ => "see `bulkhead schema` for the format",
    }
}

/// `help`, preceded by "did you mean …?" when `wrong` is close to one of
/// `expected`.
fn suggest(wrong: &str, expected: &[&str], help: String) -> String {
    match closest(wrong, expected.iter().copied()) {
        Some(close) => format!("did you mean `{close}`? {help}"),
        None => help,
    }
}

/// The candidate closest to `wanted` by edit distance, if it is close enough
/// to be a likely typo.
pub(super) fn closest<'a>(
    wanted: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let wanted_len = wanted.chars().count();
    candidates
        .map(|c| (edit_distance(wanted, c), c))
        .filter(|&(d, c)| d <= (wanted_len.max(c.chars().count()) / 3).max(1))
        // On a tie, prefer the candidate of the same length (a typo rather
        // than a missing character).
        .min_by_key(|&(d, c)| (d, c.chars().count().abs_diff(wanted_len)))
        .map(|(_, c)| c)
}

/// The Levenshtein distance of the first 64 characters of each (a key
/// from a hostile file may be long; a typo is in a short one).
fn edit_distance(a: &str, b: &str) -> usize {
    let prefix = |s: &str| -> String { s.chars().take(64).collect() };
    strsim::levenshtein(&prefix(a), &prefix(b))
}

/// How one cell of the model relates to its YAML.
#[derive(Default)]
pub(crate) struct CellTrace {
    /// The name was unusable and replaced; its findings are already reported.
    pub(crate) name_replaced: bool,
    /// `(cpu, index in cpus)` for each CPU in the model.
    pub(crate) cpus: Vec<(usize, usize)>,
    /// Index in `memory` of each model region.
    pub(crate) memory: Vec<usize>,
    /// For each model region, `(cell, index in shared_with)` of each cell
    /// it is shared with.
    pub(crate) shared_with: Vec<Vec<(usize, usize)>>,
    /// Index in `devices` of each model device.
    pub(crate) devices: Vec<usize>,
    /// Each model image.
    pub(crate) images: Vec<ImageTrace>,
    /// Image and entry findings would only repeat a reported problem.
    pub(crate) quiet_images: bool,
}

pub(crate) struct ImageTrace {
    pub(crate) field: &'static str,
    pub(crate) kind_name: &'static str,
    pub(crate) explicit_load: bool,
    /// A generated device tree (no `path` in the YAML).
    pub(crate) generated: bool,
    pub(crate) footprint: u64,
    pub(crate) file: Option<(PathBuf, Vec<u8>)>,
}

/// How one channel of the model relates to its YAML.
#[derive(Default)]
pub(crate) struct ChannelTrace {
    /// The name was unusable and replaced; its findings are already reported.
    pub(crate) name_replaced: bool,
    /// Index in `peers` of each model peer.
    pub(crate) peers: Vec<usize>,
}

/// The conversion of one parsed file.
pub(super) struct Converter<'a> {
    spans: Spans<'a>,
    raw: &'a RawSystem,
    base_dir: &'a Path,
    image_dirs: &'a [PathBuf],
    generator: Option<TreeGenerator<'a>>,
    diagnostics: Vec<Diagnostic>,
    traces: Vec<CellTrace>,
    channel_traces: Vec<ChannelTrace>,
    /// The `channels` section, converted before the cells so that their
    /// generated device trees can describe the channels.
    converted_channels: heapless::Vec<Channel, MAX_CHANNELS>,
}

/// The result of a successful conversion: the board, the system, its
/// payloads, their total length, and the warnings.
pub(super) type Converted = (
    &'static Board,
    System,
    Vec<Payload>,
    u64,
    Vec<Diagnostic>,
    Vec<QemuDevice>,
);

impl<'a> Converter<'a> {
    pub(super) fn new(
        source: &'a str,
        named: &'a Source,
        map: &'a SourceMap,
        raw: &'a RawSystem,
        base_dir: &'a Path,
        image_dirs: &'a [PathBuf],
        generator: Option<TreeGenerator<'a>>,
    ) -> Self {
        Converter {
            spans: Spans { source, named, map },
            raw,
            base_dir,
            image_dirs,
            generator,
            diagnostics: Vec::new(),
            traces: Vec::new(),
            channel_traces: Vec::new(),
            converted_channels: heapless::Vec::new(),
        }
    }

    fn span(&self, path: &str) -> ByteSpan {
        self.spans.span(path)
    }

    fn diagnostic(&self, code: &'static str, path: &str, message: impl Into<String>) -> Diagnostic {
        self.spans.diagnostic(code, path, message)
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub(super) fn run(mut self) -> Result<Converted, Vec<Diagnostic>> {
        let raw = self.raw;
        if raw.version.0 != FORMAT_VERSION {
            let d = self
                .diagnostic(
                    "config::version",
                    "version",
                    format!("unsupported format version {}", raw.version.0),
                )
                .label("this tool reads version 1")
                .help("write `version: 1` and use the format described by `bulkhead schema`");
            self.report(d);
        }
        let Some(board) = bsp::board(&raw.board) else {
            let known: Vec<&str> = bsp::BOARDS.iter().map(|b| b.name).collect();
            let mut help = format!("known boards: {}", known.join(", "));
            if let Some(close) = closest(&raw.board, known.iter().copied()) {
                help = format!("did you mean `{close}`? {help}");
            }
            let d = self
                .diagnostic(
                    "config::unknown_board",
                    "board",
                    format!("unknown board `{}`", sanitize(&raw.board)),
                )
                .label("no such board")
                .help(help);
            self.report(d);
            return Err(self.diagnostics);
        };
        if raw.cells.len() > MAX_CELLS {
            let path = format!("cells[{MAX_CELLS}]");
            let d = self
                .diagnostic(
                    "config::too_many",
                    &path,
                    format!(
                        "there are {} cells, at most {MAX_CELLS} are supported",
                        raw.cells.len()
                    ),
                )
                .help("merge or remove cells");
            self.report(d);
        }
        let mut system = System {
            board: name(board.name).unwrap_or_default(),
            cells: heapless::Vec::new(),
            realtime: CellSet::EMPTY,
            direct_wfi: CellSet::EMPTY,
            virtualized: CellSet::EMPTY,
            unconfined_dma: CellSet::EMPTY,
            channels: heapless::Vec::new(),
            icount_quantum_ns: self.icount_quantum(),
            console_input: match raw.console_input {
                RawConsoleInput::Auto => ConsoleInput::Auto,
                RawConsoleInput::Required => ConsoleInput::Required,
                RawConsoleInput::Off => ConsoleInput::Off,
            },
        };
        // Channels first: a peer's generated device tree describes them.
        self.converted_channels = self.channels();
        for (i, raw_cell) in raw.cells.iter().enumerate().take(MAX_CELLS) {
            let (cell, trace) = self.cell(board, i, raw_cell);
            // Cannot fail: at most MAX_CELLS are taken.
            let _ = system.cells.push(cell);
            self.traces.push(trace);
            if raw_cell.realtime {
                system.realtime.insert(i);
            }
            if raw_cell.wfi == RawWfi::Direct {
                system.direct_wfi.insert(i);
            }
            if raw_cell.dma == RawDma::Unconfined {
                system.unconfined_dma.insert(i);
            }
            if raw_cell.interrupts == RawInterrupts::Virtualized {
                system.virtualized.insert(i);
            }
        }
        system.channels = self.converted_channels.clone();

        // The rules see each image with its footprint, so a kernel's bss
        // counts when checking that it fits.
        let mut footprints = system.clone();
        for (cell, trace) in footprints.cells.iter_mut().zip(&self.traces) {
            for (image, t) in cell.images.iter_mut().zip(&trace.images) {
                image.size = t.footprint;
            }
        }
        let qemu = self.qemu(board, &system);
        let mut findings = Vec::new();
        rules::check(&footprints, board, |f| findings.push(f));
        // The partitioner checks the model with file sizes: an entry point in
        // a kernel's bss passes above but not there.
        rules::check(&system, board, |f| {
            if !findings.contains(&f) {
                findings.push(f);
            }
        });
        let explainer = Explainer {
            spans: self.spans,
            raw: self.raw,
            traces: &self.traces,
            channel_traces: &self.channel_traces,
            board,
            system: &system,
            footprints: &footprints,
        };
        let explained: Vec<Diagnostic> = findings
            .into_iter()
            .filter_map(|f| explainer.finding(f))
            .collect();
        let mut warnings = Vec::new();
        rules::warnings(&system, board, |w| warnings.push(explainer.warning(w)));
        self.diagnostics.extend(explained);
        if !self.diagnostics.is_empty() {
            self.diagnostics.extend(warnings);
            return Err(self.diagnostics);
        }

        // Lay the payloads out after the blob.
        let mut payloads = Vec::new();
        let mut cursor = crate::blob::encoded_len(&system) as u64;
        for (c, (cell, trace)) in system.cells.iter_mut().zip(self.traces).enumerate() {
            for (m, (image, t)) in cell.images.iter_mut().zip(trace.images).enumerate() {
                let Some((path, bytes)) = t.file else {
                    continue;
                };
                let offset = align_up(cursor, PAYLOAD_ALIGN);
                image.offset = offset;
                cursor = offset + image.size;
                payloads.push(Payload {
                    cell: c,
                    image: m,
                    path,
                    bytes,
                    generated: t.generated,
                    footprint: t.footprint,
                });
            }
        }
        Ok((board, system, payloads, cursor, warnings, qemu))
    }

    /// The `qemu` section's `icount_quantum` in ns (0 without one), if it
    /// is from 1us to 100ms.
    fn icount_quantum(&mut self) -> u32 {
        let Some(quantum) = self.raw.qemu.as_ref().and_then(|q| q.icount_quantum) else {
            return 0;
        };
        match u32::try_from(quantum.0) {
            Ok(ns) if (1_000..=100_000_000).contains(&ns) => ns,
            _ => {
                let d = self
                    .diagnostic(
                        "config::icount_quantum",
                        "qemu.icount_quantum",
                        format!("a quantum of {} ns is outside 1us to 100ms", quantum.0),
                    )
                    .label("out of range")
                    .help(
                        "10us is a good lab quantum: short against the latencies measured, \
                         long against the partitioner's timer path of about 100 instructions",
                    );
                self.report(d);
                0
            }
        }
    }

    /// Converts the `qemu` section: each entry names a virtio-mmio slot of
    /// QEMU's `virt` board that a cell owns, once, with exactly one back
    /// end.
    fn qemu(&mut self, board: &'static Board, system: &System) -> Vec<QemuDevice> {
        let Some(raw) = &self.raw.qemu else {
            return Vec::new();
        };
        if board.compatible != QEMU_VIRT_COMPATIBLE {
            let d = self
                .diagnostic(
                    "config::qemu_section",
                    "qemu",
                    format!(
                        "board {} is not QEMU's virt machine, so it has no emulated devices",
                        board.name
                    ),
                )
                .label("only for board qemu-virt")
                .help("remove the `qemu` section: on a real board the devices are real");
            self.report(d);
            return Vec::new();
        }
        let mut slots: Vec<&bsp::Device> = board
            .devices
            .iter()
            .filter(|d| d.compatible.contains(&VIRTIO_MMIO_COMPATIBLE))
            .collect();
        slots.sort_by_key(|d| d.mmio.first().map(|r| r.base));
        let mut devices = Vec::new();
        for (k, entry) in raw.devices.iter().enumerate() {
            let at = format!("qemu.devices[{k}]");
            let device_path = format!("{at}.device");
            let shown = sanitize(&entry.device);
            if entry.edu.is_some() || entry.igb.is_some() {
                if let Some(device) = self.qemu_pci_function(board, system, raw, k) {
                    devices.push(device);
                }
                continue;
            }
            let Some(bus) = slots.iter().position(|d| d.name == entry.device) else {
                let mut help =
                    "name a virtio-mmio slot of the board, e.g. `virtio-mmio31`".to_string();
                if let Some(close) = closest(&entry.device, slots.iter().map(|d| d.name)) {
                    help = format!("did you mean `{close}`? {help}");
                }
                let d = self
                    .diagnostic(
                        "config::qemu_device",
                        &device_path,
                        format!(
                            "`{shown}` is not a virtio-mmio slot of board {}",
                            board.name
                        ),
                    )
                    .label("no such slot")
                    .help(help);
                self.report(d);
                continue;
            };
            if raw.devices[..k].iter().any(|e| e.device == entry.device) {
                let d = self
                    .diagnostic(
                        "config::qemu_device",
                        &device_path,
                        format!("slot `{shown}` is given a QEMU device twice"),
                    )
                    .label("second device for this slot")
                    .help("one slot holds one device: use another slot for the second one");
                self.report(d);
                continue;
            }
            let owned = system
                .cells
                .iter()
                .any(|c| c.devices.iter().any(|g| g.name.as_str() == entry.device));
            if !owned {
                let d = self
                    .diagnostic(
                        "config::qemu_device",
                        &device_path,
                        format!("slot `{shown}` is not given to any cell"),
                    )
                    .label("no cell owns this slot")
                    .help(format!(
                        "add `{shown}` to the `devices` of the cell that uses it, or remove this entry"
                    ));
                self.report(d);
                continue;
            }
            let backend = match (&entry.disk, entry.network) {
                (Some(disk), None) => {
                    let Some(found) = self.locate(&format!("{at}.disk"), disk) else {
                        continue;
                    };
                    QemuBackend::Disk(found)
                }
                (None, Some(RawNetwork::User)) => QemuBackend::UserNetwork,
                (disk, _) => {
                    let message = if disk.is_some() {
                        "a slot holds either a disk or a network device, not both"
                    } else {
                        "the entry says neither `disk` nor `network`"
                    };
                    let d = self
                        .diagnostic("config::qemu_device", &at, message)
                        .help("write `disk: FILE` or `network: user`");
                    self.report(d);
                    continue;
                }
            };
            devices.push(QemuDevice {
                device: entry.device.clone(),
                bus,
                backend,
            });
        }
        devices
    }

    /// Entry `k` of the `qemu` section, a PCI function of QEMU's (`edu`
    /// or `igb`) in a slot of a PCI host bridge that a cell owns,
    /// converted; `None` (and reported) if the bridge or the slot is wrong.
    fn qemu_pci_function(
        &mut self,
        board: &'static Board,
        system: &System,
        raw: &RawQemu,
        k: usize,
    ) -> Option<QemuDevice> {
        let entry = &raw.devices[k];
        let at = format!("qemu.devices[{k}]");
        let shown = sanitize(&entry.device);
        let (model, slot) = match (entry.edu, entry.igb) {
            (Some(slot), None) => (PciModel::Edu, slot),
            (None, Some(slot)) => (PciModel::Igb, slot),
            _ => {
                let d = self
                    .diagnostic(
                        "config::qemu_device",
                        &at,
                        "an entry has either `edu` or `igb`, not both".to_string(),
                    )
                    .help("give each function its own entry");
                self.report(d);
                return None;
            }
        };
        let key = model.name();
        let bridge = board
            .device(&entry.device)
            .filter(|d| d.compatible.contains(&crate::dma::PCI_HOST_ECAM));
        let problem = if bridge.is_none() {
            Some((
                format!("{at}.device"),
                format!("`{shown}` is not a PCI host bridge of board {}", board.name),
                "name the board's PCI host bridge, e.g. `pcie`".to_string(),
            ))
        } else if entry.disk.is_some() || entry.network.is_some() {
            Some((
                at.clone(),
                format!("an `{key}` entry has no `disk` or `network`"),
                "give the virtio device its own entry, on a virtio-mmio slot".to_string(),
            ))
        } else if !(1..=31).contains(&slot) {
            Some((
                format!("{at}.{key}"),
                format!("slot {slot} is not a device number of a PCI bus"),
                "use 1 to 31 (0 is the bridge's own)".to_string(),
            ))
        } else if raw.devices[..k]
            .iter()
            .any(|e| e.device == entry.device && (e.edu == Some(slot) || e.igb == Some(slot)))
        {
            Some((
                format!("{at}.{key}"),
                format!("slot {slot} of `{shown}` is given a QEMU device twice"),
                "one slot holds one device".to_string(),
            ))
        } else if !system
            .cells
            .iter()
            .any(|c| c.devices.iter().any(|g| g.name.as_str() == entry.device))
        {
            Some((
                format!("{at}.device"),
                format!("`{shown}` is not given to any cell"),
                format!("add `{shown}` to the `devices` of the cell that uses it"),
            ))
        } else {
            None
        };
        if let Some((path, message, help)) = problem {
            let d = self
                .diagnostic("config::qemu_device", &path, message)
                .help(help);
            self.report(d);
            return None;
        }
        Some(QemuDevice {
            device: entry.device.clone(),
            bus: 0,
            backend: QemuBackend::PciFunction { model, slot },
        })
    }

    /// `raw` as a [`Name`] (a cell's or a channel's, at `path`). A name too
    /// long for one is reported, `replaced` is set, and the stand-in `#n`
    /// (unique, never compared with a real name) is returned, so that the
    /// conversion goes on and finds the other problems.
    fn checked_name(&mut self, raw: &str, path: &str, n: usize, replaced: &mut bool) -> Name {
        if let Some(name) = name(raw) {
            return name;
        }
        *replaced = true;
        let d = self
            .diagnostic(
                "config::bad_name",
                path,
                format!(
                    "the name is {} bytes long, at most {MAX_NAME} are allowed",
                    raw.len()
                ),
            )
            .label("too long")
            .help(format!(
                "use 1 to {MAX_NAME} characters of a-z, 0-9, '-' and '_'"
            ));
        self.report(d);
        name(&format!("#{n}")).unwrap_or_default()
    }

    fn cell(&mut self, board: &'static Board, i: usize, raw: &RawCell) -> (Cell, CellTrace) {
        let at = |field: &str| format!("cells[{i}].{field}");
        let mut trace = CellTrace::default();

        let cell_name = self.checked_name(&raw.name, &at("name"), i, &mut trace.name_replaced);

        // CPUs: duplicates in the list and indices a CpuSet cannot hold are
        // caught here; the rest by the rules.
        let mut cpus = CpuSet::EMPTY;
        for (k, cpu) in raw.cpus.iter().enumerate() {
            let path = format!("cells[{i}].cpus[{k}]");
            if let Some(&(_, first)) = trace.cpus.iter().find(|&&(c, _)| c as u64 == cpu.0) {
                let first = format!("cells[{i}].cpus[{first}]");
                let d = rules::cpus::listed_twice(self.spans, &path, &first, cpu.0);
                self.report(d);
                continue;
            }
            let index = usize::try_from(cpu.0).unwrap_or(usize::MAX);
            if !cpus.insert(index) {
                let d = rules::cpus::no_such_cpu(self.spans, board, &path, cpu.0);
                self.report(d);
                continue;
            }
            trace.cpus.push((index, k));
        }

        // Memory.
        if raw.memory.is_empty() {
            trace.quiet_images = true;
            let d = self
                .diagnostic("config::no_memory", &at("memory"), "the cell has no memory")
                .help("give the cell at least one region, like `memory: [{ base: 0x50000000, size: 16M }]`");
            self.report(d);
        }
        let mut memory = heapless::Vec::new();
        for (k, region) in raw.memory.iter().enumerate() {
            let path = format!("cells[{i}].memory[{k}]");
            if region.base.0.checked_add(region.size.0).is_none() {
                let d = self
                    .diagnostic(
                        "config::not_ram",
                        &format!("{path}.size"),
                        "the region runs past the end of the 64-bit address space",
                    )
                    .help("check base and size");
                self.report(d);
                continue;
            }
            let access = match region.access {
                RawAccess::Rwx => Access::ReadWriteExecute,
                RawAccess::Rw => Access::ReadWrite,
                RawAccess::Ro => Access::ReadOnly,
            };
            let (shared_with, sharing) = self.shared_with(i, k, &region.shared_with);
            let region = MemoryRegion {
                range: MemRange::new(region.base.0, region.size.0),
                guest_base: region.guest_base.map_or(region.base.0, |g| g.0),
                access,
                shared_with,
            };
            if memory.push(region).is_err() {
                let d = self
                    .diagnostic(
                        "config::too_many",
                        &path,
                        format!("a cell can have at most {MAX_CELL_MEMORY} memory regions"),
                    )
                    .help("merge adjacent regions");
                self.report(d);
                break;
            }
            trace.memory.push(k);
            trace.shared_with.push(sharing);
        }

        // Devices.
        let mut devices = heapless::Vec::new();
        for (k, device_name) in raw.devices.iter().enumerate() {
            let path = format!("cells[{i}].devices[{k}]");
            if let Some(first) = raw.devices[..k].iter().position(|d| d == device_name) {
                let first = format!("cells[{i}].devices[{first}]");
                let d = rules::devices::listed_twice(self.spans, &path, &first, device_name);
                self.report(d);
                continue;
            }
            let Some(device) = board.device(device_name) else {
                let mut help = format!("board {} has: {}", board.name, device_summary(board));
                if let Some(close) = closest(device_name, board.devices.iter().map(|d| d.name)) {
                    help = format!("did you mean `{close}`? {help}");
                }
                let d = self
                    .diagnostic(
                        "config::unknown_device",
                        &path,
                        format!(
                            "board {} has no device `{}`",
                            board.name,
                            sanitize(device_name)
                        ),
                    )
                    .label("unknown device")
                    .help(help);
                self.report(d);
                continue;
            };
            let grant = (|| {
                Some(DeviceGrant {
                    name: name(device.name)?,
                    mmio: heapless::Vec::from_slice(device.mmio).ok()?,
                    irqs: heapless::Vec::from_slice(device.irqs).ok()?,
                })
            })();
            let pushed = match grant {
                Some(grant) => devices.push(grant).is_ok(),
                None => false,
            };
            if !pushed {
                let d = self
                    .diagnostic(
                        "config::too_many",
                        &path,
                        format!(
                            "the partitioner supports at most {MAX_CELL_DEVICES} devices per cell, \
                             {MAX_DEVICE_MMIO} MMIO windows and {MAX_DEVICE_IRQS} interrupts per device"
                        ),
                    )
                    .help("give fewer devices to this cell");
                self.report(d);
                continue;
            }
            trace.devices.push(k);
        }

        // Images.
        let first_base = memory.first().map(|m: &MemoryRegion| m.guest_base);
        let mut images = heapless::Vec::new();
        let kernel_file = self.read_image(i, "kernel", &raw.kernel.path);
        let kernel_missing = kernel_file.is_none();
        let (kernel_size, kernel_footprint, text_offset) = match &kernel_file {
            Some((_, bytes)) => (
                bytes.len() as u64,
                Header::footprint(bytes),
                Header::parse(bytes).map_or(0, |h| h.text_offset),
            ),
            None => (0, 0, 0),
        };
        let kernel_load = match raw.kernel.load_address {
            Some(address) => address.0,
            None => match first_base.unwrap_or(0).checked_add(text_offset) {
                Some(address) => address,
                None => {
                    trace.quiet_images = true;
                    let d = self
                        .diagnostic(
                            "config::bad_image",
                            &at("kernel.path"),
                            format!("the Image header's text_offset {text_offset:#x} is not usable"),
                        )
                        .help("give `load_address` explicitly, or check that the file is an arm64 Image");
                    self.report(d);
                    0
                }
            },
        };
        push_image(
            &mut images,
            &mut trace,
            Image {
                kind: ImageKind::Kernel,
                offset: 0,
                size: kernel_size,
                load_address: kernel_load,
            },
            ImageTrace {
                field: "kernel",
                kind_name: "kernel",
                explicit_load: raw.kernel.load_address.is_some(),
                generated: false,
                footprint: kernel_footprint,
                file: kernel_file,
            },
        );
        if let Some(raw_image) = &raw.initrd {
            let file = self.read_image(i, "initrd", &raw_image.path);
            let size = file.as_ref().map_or(0, |(_, b)| b.len() as u64);
            push_image(
                &mut images,
                &mut trace,
                Image {
                    kind: ImageKind::Initrd,
                    offset: 0,
                    size,
                    load_address: raw_image.load_address.0,
                },
                ImageTrace {
                    field: "initrd",
                    kind_name: "initrd",
                    explicit_load: true,
                    generated: false,
                    footprint: size,
                    file,
                },
            );
        }
        if kernel_missing {
            trace.quiet_images = true;
        }

        let console = match raw.console {
            RawConsole::Virtual => Some(Console {
                base: board.console.mmio.base,
                irq: self.console_irq(board, i),
            }),
            RawConsole::None => None,
        };
        let mut cell = Cell {
            name: cell_name,
            cpus,
            memory,
            devices,
            console,
            images,
            entry: raw.entry.map_or(kernel_load, |e| e.0),
            boot_argument: 0,
            on_fault: policy(raw.on_fault),
            watchdog: None,
        };
        cell.watchdog = raw
            .watchdog
            .as_ref()
            .and_then(|w| self.watchdog(i, w, cell.console.as_ref()));
        let tree_address = self.device_tree(board, i, raw, &mut cell, &mut trace);
        cell.boot_argument = match (raw.boot_argument, tree_address) {
            (Some(argument), _) => argument.0,
            (None, Some(address)) => address,
            (None, None) => 0,
        };
        (cell, trace)
    }

    /// Cell `i`'s watchdog: where it is (by default the page after the
    /// console) and its timeout, which must fit in 32 bits here; the rules
    /// check the range.
    fn watchdog(
        &mut self,
        i: usize,
        raw: &RawWatchdog,
        console: Option<&Console>,
    ) -> Option<Watchdog> {
        let base = match (raw.base, console) {
            (Some(base), _) => base.0,
            (None, Some(console)) => console.window().end(),
            (None, None) => {
                let d = self
                    .diagnostic(
                        "config::watchdog_base",
                        &format!("cells[{i}].watchdog"),
                        "a cell without a console needs its watchdog's `base`".to_string(),
                    )
                    .help("give `base: ADDRESS`, a free 4 KiB page of the cell's address space");
                self.report(d);
                return None;
            }
        };
        let timeout_ms = u32::try_from(raw.timeout_ms.0).unwrap_or(u32::MAX);
        Some(Watchdog {
            base,
            timeout_ms,
            action: policy(raw.action),
        })
    }

    /// The console's interrupt: the board's spare SPI for cell `i`.
    fn console_irq(&mut self, board: &Board, i: usize) -> Intid {
        let spare = board.spare_spis;
        match console_spi(spare, i) {
            Some(intid) => intid,
            None => {
                let d = self
                    .diagnostic(
                        "config::no_spare_spi",
                        &format!("cells[{i}].console"),
                        format!(
                            "board {} has {} spare SPIs for virtual consoles, too few for cell #{i}",
                            board.name,
                            spare.count()
                        ),
                    )
                    .help("set `console: none` for this cell, or use fewer cells");
                self.report(d);
                0
            }
        }
    }

    /// Adds the cell's device tree image, read from its file or generated
    /// from `cell`; returns its load address.
    fn device_tree(
        &mut self,
        board: &'static Board,
        i: usize,
        raw: &RawCell,
        cell: &mut Cell,
        trace: &mut CellTrace,
    ) -> Option<u64> {
        let at = |field: &str| format!("cells[{i}].{field}");
        let unused_bootargs = |this: &Self, help: &str| {
            this.diagnostic(
                "config::bootargs_unused",
                &at("bootargs"),
                "`bootargs` only applies to a generated device tree",
            )
            .label("ignored")
            .help(help.to_string())
        };
        let Some(tree) = &raw.device_tree else {
            if raw.bootargs.is_some() {
                let d = unused_bootargs(
                    self,
                    "add `device_tree: {}` to have a tree generated with this command line, \
                     or remove `bootargs`",
                );
                self.report(d);
            }
            return None;
        };
        let (address, file, generated) = match &tree.path {
            Some(path) => {
                if raw.bootargs.is_some() {
                    let d = unused_bootargs(
                        self,
                        "put the command line into your tree's /chosen/bootargs, \
                         or remove `device_tree.path` to have the tree generated",
                    );
                    self.report(d);
                }
                let file = self.read_image(i, "device_tree", path);
                if let Some((found, bytes)) = &file {
                    if let Err(why) = crate::fdt::check_header(bytes) {
                        let d = self
                            .diagnostic(
                                "config::not_a_device_tree",
                                &at("device_tree.path"),
                                format!(
                                    "`{}` is not a device tree: {why}",
                                    sanitize(&found.display().to_string())
                                ),
                            )
                            .label("not a .dtb")
                            .help(
                                "give a compiled tree (`dtc -I dts -O dtb`), or remove `path` \
                                 to have the tree generated from what the cell owns",
                            );
                        self.report(d);
                    }
                }
                let Some(address) = tree.load_address else {
                    let d = self
                        .diagnostic(
                            "config::missing_field",
                            &at("device_tree"),
                            "missing field `load_address`",
                        )
                        .label("this entry needs `load_address`")
                        .help(
                            "a device tree file needs an address, for example \
                             `load_address: 0x50e00000`; without `path`, the tree is generated \
                             and the address is optional",
                        );
                    self.report(d);
                    return None;
                };
                (address.0, file, false)
            }
            None => {
                let first = cell.memory.first().map(|m| m.guest_range());
                let address = match (tree.load_address, first) {
                    (Some(address), _) => address.0,
                    (None, Some(first)) => match default_tree_address(&first) {
                        Some(address) => address,
                        None => {
                            let d = self
                                .diagnostic(
                                    "config::no_room_for_device_tree",
                                    &at("device_tree"),
                                    format!(
                                        "the cell's first memory region {} has no 2 MiB-aligned \
                                         2 MiB window for the generated device tree",
                                        hex_range(&first)
                                    ),
                                )
                                .help("give `device_tree.load_address` inside the cell's memory");
                            self.report(d);
                            return None;
                        }
                    },
                    // No memory: reported already.
                    (None, None) => return None,
                };
                let Some(generator) = self.generator else {
                    let d = self
                        .diagnostic(
                            "config::device_tree_generator",
                            &at("device_tree"),
                            "this program cannot generate device trees",
                        )
                        .help(
                            "check and build the config with `bulkhead`, or give your own \
                             tree with `path` and `load_address`",
                        );
                    self.report(d);
                    return None;
                };
                if raw.bootargs.as_deref().is_some_and(|b| b.contains('\0')) {
                    let d = self
                        .diagnostic(
                            "config::bad_bootargs",
                            &at("bootargs"),
                            "`bootargs` contains a NUL character",
                        )
                        .help("a device tree string ends at its first NUL; remove it");
                    self.report(d);
                    return None;
                }
                let bootargs = match (&raw.bootargs, &cell.console) {
                    (Some(bootargs), _) => bootargs.clone(),
                    (None, Some(console)) => super::default_bootargs(console),
                    (None, None) => String::new(),
                };
                let bootargs = if raw.realtime {
                    super::realtime_bootargs(&bootargs, cell.cpus.len())
                } else {
                    bootargs
                };
                let request = TreeRequest {
                    board,
                    index: i,
                    cell,
                    channels: &self.converted_channels,
                    bootargs: &bootargs,
                };
                match generator(&request) {
                    Ok(bytes) => {
                        let name = PathBuf::from(format!("{}.dtb", cell.name));
                        (address, Some((name, bytes)), true)
                    }
                    Err(why) => {
                        let d = self
                            .diagnostic(
                                "config::device_tree_generation",
                                &at("device_tree"),
                                format!("cannot generate the device tree: {}", sanitize(&why)),
                            )
                            .help("check the cell's `bootargs` and devices");
                        self.report(d);
                        return None;
                    }
                }
            }
        };
        let size = file.as_ref().map_or(0, |(_, b)| b.len() as u64);
        push_image(
            &mut cell.images,
            trace,
            Image {
                kind: ImageKind::DeviceTree,
                offset: 0,
                size,
                load_address: address,
            },
            ImageTrace {
                field: "device_tree",
                kind_name: if generated {
                    "generated device tree"
                } else {
                    "device tree"
                },
                explicit_load: tree.load_address.is_some(),
                generated,
                footprint: size,
                file,
            },
        );
        Some(address)
    }

    /// Resolves the cell names of `cells[i].memory[k].shared_with`; reports
    /// unknown and repeated names. Returns the set and, for each cell in
    /// it, its index in the list.
    fn shared_with(
        &mut self,
        i: usize,
        k: usize,
        names: &[String],
    ) -> (CellSet, Vec<(usize, usize)>) {
        let mut set = CellSet::EMPTY;
        let mut trace = Vec::new();
        for (n, wanted) in names.iter().enumerate() {
            let path = format!("cells[{i}].memory[{k}].shared_with[{n}]");
            if let Some(first) = names[..n].iter().position(|o| o == wanted) {
                let first = format!("cells[{i}].memory[{k}].shared_with[{first}]");
                let d = self.cell_listed_twice(&path, &first, wanted, "shared_with");
                self.report(d);
                continue;
            }
            match self.raw.cells.iter().position(|c| &c.name == wanted) {
                Some(cell) => {
                    // Cells past MAX_CELLS are reported already.
                    if set.insert(cell) {
                        trace.push((cell, n));
                    }
                }
                None => {
                    let d = self.unknown_cell(&path, wanted);
                    self.report(d);
                }
            }
        }
        (set, trace)
    }

    /// A cell named twice in one list (`shared_with`, `peers`).
    fn cell_listed_twice(&self, path: &str, first: &str, wanted: &str, list: &str) -> Diagnostic {
        self.diagnostic(
            "config::cell_listed_twice",
            path,
            format!("cell `{}` is listed twice in `{list}`", sanitize(wanted)),
        )
        .label("second time")
        .also(self.span(first), "first time")
        .help("remove one of them")
    }

    /// A name in a list of cells that no cell has.
    fn unknown_cell(&self, path: &str, wanted: &str) -> Diagnostic {
        let known = self.raw.cells.iter().map(|c| c.name.as_str());
        let names: Vec<String> = known
            .clone()
            .map(|c| format!("`{}`", sanitize(c)))
            .collect();
        let mut help = format!("the cells are {}", names.join(", "));
        if let Some(close) = closest(wanted, known) {
            help = format!("did you mean `{}`? {help}", sanitize(close));
        }
        self.diagnostic(
            "config::unknown_cell",
            path,
            format!("no cell named `{}`", sanitize(wanted)),
        )
        .label("unknown cell")
        .help(help)
    }

    /// Converts the `channels` section. Unknown and repeated peers are
    /// reported here and left out of the model; the rules check the rest.
    fn channels(&mut self) -> heapless::Vec<Channel, MAX_CHANNELS> {
        let raw = self.raw;
        let mut channels = heapless::Vec::new();
        if raw.channels.len() > MAX_CHANNELS {
            let d = self
                .diagnostic(
                    "config::too_many",
                    &format!("channels[{MAX_CHANNELS}]"),
                    format!(
                        "there are {} channels, at most {MAX_CHANNELS} are supported",
                        raw.channels.len()
                    ),
                )
                .help("merge channels that connect the same cells");
            self.report(d);
        }
        for (c, channel) in raw.channels.iter().enumerate().take(MAX_CHANNELS) {
            let at = |field: &str| format!("channels[{c}].{field}");
            let mut trace = ChannelTrace::default();
            let channel_name =
                self.checked_name(&channel.name, &at("name"), c, &mut trace.name_replaced);
            let mut peers = heapless::Vec::new();
            for (n, wanted) in channel.peers.iter().enumerate() {
                let path = format!("channels[{c}].peers[{n}]");
                if let Some(first) = channel.peers[..n].iter().position(|o| o == wanted) {
                    let first = format!("channels[{c}].peers[{first}]");
                    let d = self
                        .cell_listed_twice(&path, &first, wanted, "peers")
                        .help("remove one of them; a cell is one peer of a channel");
                    self.report(d);
                    continue;
                }
                let Some(cell) = raw.cells.iter().position(|o| &o.name == wanted) else {
                    let d = self.unknown_cell(&path, wanted);
                    self.report(d);
                    continue;
                };
                // Cells past MAX_CELLS are reported already.
                let Some(cell) = u8::try_from(cell)
                    .ok()
                    .filter(|&i| (i as usize) < MAX_CELLS)
                else {
                    continue;
                };
                if peers.push(cell).is_err() {
                    let d = self
                        .diagnostic(
                            "config::too_many",
                            &path,
                            format!(
                                "channel `{}` has {} peers, at most {MAX_CHANNEL_PEERS} are supported",
                                sanitize(&channel.name),
                                channel.peers.len()
                            ),
                        )
                        .help(format!(
                            "split it into channels of at most {MAX_CHANNEL_PEERS} cells each"
                        ));
                    self.report(d);
                    break;
                }
                trace.peers.push(n);
            }
            // Cannot fail: at most MAX_CHANNELS are taken.
            let _ = channels.push(Channel {
                name: channel_name,
                base: channel.base.0,
                peers,
                common_size: channel.common_size.0,
                output_size: channel.output_size.0,
            });
            self.channel_traces.push(trace);
        }
        channels
    }

    /// Finds a file named at `yaml_path`: an absolute path, or relative to
    /// the config's directory, then to each image directory. Reports it
    /// when it is nowhere.
    fn locate(&mut self, yaml_path: &str, path: &Path) -> Option<PathBuf> {
        let mut candidates = Vec::new();
        if path.is_absolute() {
            candidates.push(path.to_path_buf());
        } else {
            candidates.push(self.base_dir.join(path));
            candidates.extend(self.image_dirs.iter().map(|d| d.join(path)));
        }
        let shown = sanitize(&path.display().to_string());
        let Some(found) = candidates.iter().find(|c| c.is_file()).cloned() else {
            let searched: Vec<String> = candidates
                .iter()
                .filter_map(|c| c.parent())
                .map(|d| {
                    let d = d.display().to_string();
                    if d.is_empty() {
                        ".".to_string()
                    } else {
                        sanitize(&d)
                    }
                })
                .collect();
            let help = if path.is_absolute() {
                "check the path".to_string()
            } else {
                format!(
                    "looked in: {}; build the image first, or pass `--image-dir DIR` for the directory that holds it",
                    searched.join(", ")
                )
            };
            let d = self
                .diagnostic(
                    "config::missing_image",
                    yaml_path,
                    format!("image file `{shown}` not found"),
                )
                .label("no such file")
                .help(help);
            self.report(d);
            return None;
        };
        Some(found)
    }

    /// Finds and reads an image file; reports it when it cannot.
    fn read_image(&mut self, cell: usize, field: &str, path: &Path) -> Option<(PathBuf, Vec<u8>)> {
        let yaml_path = format!("cells[{cell}].{field}.path");
        let found = self.locate(&yaml_path, path)?;
        // No image can be larger than the cell's RAM: read no more than
        // that (a huge sparse file, or a device, is refused, not read).
        let ram: u64 = self.raw.cells[cell]
            .memory
            .iter()
            .map(|m| m.size.0)
            .fold(0, u64::saturating_add);
        // A cell without memory is refused anyway; read its images within
        // a bound all the same.
        let limit = if ram == 0 { 256 << 20 } else { ram };
        match super::read_at_most(&found, limit) {
            Ok(Some(bytes)) => Some((found, bytes)),
            Ok(None) => {
                let d = self
                    .diagnostic(
                        "config::image_too_large",
                        &yaml_path,
                        format!(
                            "image file `{}` is larger than the cell's RAM ({})",
                            sanitize(&found.display().to_string()),
                            human_size(ram)
                        ),
                    )
                    .help("give the cell more memory, or check that this is the right file");
                self.report(d);
                None
            }
            Err(e) => {
                let d = self
                    .diagnostic(
                        "config::missing_image",
                        &yaml_path,
                        format!(
                            "cannot read image file `{}`: {e}",
                            sanitize(&found.display().to_string())
                        ),
                    )
                    .help("check the file's permissions");
                self.report(d);
                None
            }
        }
    }
}

/// Adds an image and its trace to a cell.
fn push_image(
    images: &mut heapless::Vec<Image, MAX_CELL_IMAGES>,
    trace: &mut CellTrace,
    image: Image,
    t: ImageTrace,
) {
    // Cannot fail: a cell has at most 3 images.
    if images.push(image).is_ok() {
        trace.images.push(t);
    }
}

/// The default load address of a generated device tree: the highest
/// 2 MiB-aligned address with a 2 MiB window before the end of `region`.
pub(super) fn default_tree_address(region: &MemRange) -> Option<u64> {
    let window = super::DEVICE_TREE_WINDOW;
    let address = region.end().checked_sub(window)? & !(window - 1);
    (address >= region.base).then_some(address)
}

fn device_summary(board: &Board) -> String {
    let names: Vec<&str> = board.devices.iter().map(|d| d.name).collect();
    // Collapse numbered families (virtio-mmio0 .. virtio-mmio31).
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let stem = names[i].trim_end_matches(|c: char| c.is_ascii_digit());
        let mut j = i;
        while j + 1 < names.len()
            && stem.len() < names[i].len()
            && names[j + 1].trim_end_matches(|c: char| c.is_ascii_digit()) == stem
        {
            j += 1;
        }
        if j > i + 1 {
            out.push(format!("{} .. {}", names[i], names[j]));
        } else {
            out.extend(names[i..=j].iter().map(|n| n.to_string()));
        }
        i = j + 1;
    }
    out.join(", ")
}

/// Rounds `value` up to a multiple of `align` (a power of two), saturating.
pub(super) fn align_up(value: u64, align: u64) -> u64 {
    value.saturating_add(align - 1) & !(align - 1)
}

/// The model's fault policy for the YAML's.
fn policy(raw: RawFaultPolicy) -> FaultPolicy {
    match raw {
        RawFaultPolicy::Stop => FaultPolicy::Stop,
        RawFaultPolicy::Restart => FaultPolicy::Restart,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            closest("virtio-mmio3l", ["virtio-mmio31", "rtc"].into_iter()),
            Some("virtio-mmio31")
        );
        assert_eq!(closest("cpu", ["cpus", "name"].into_iter()), Some("cpus"));
        assert_eq!(closest("zzzzzz", ["cpus", "name"].into_iter()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn device_families_are_collapsed() {
        let summary = device_summary(&bsp::qemu_virt::BOARD);
        assert!(
            summary.contains("virtio-mmio0 .. virtio-mmio31"),
            "{summary}"
        );
        // Board devices come in address order; the singles are all named.
        for single in ["uart0", "rtc", "gpio", "fw-cfg"] {
            assert!(summary.contains(single), "{summary}");
        }
    }
}
