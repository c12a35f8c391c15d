//! From YAML text to a checked [`System`]: parsing, the checks that only
//! make sense on the YAML (duplicates inside one list, unknown names,
//! missing files), the conversion, and the mapping of each rule finding
//! back to the YAML value it is about.

use super::diagnostic::Diagnostic;
use super::raw::*;
use super::source_map::{offset_of, parent, ByteSpan, SourceMap};
use super::{
    Payload, QemuBackend, QemuDevice, TreeGenerator, TreeRequest, FORMAT_VERSION, PAYLOAD_ALIGN,
};
use crate::arm64_image::Header;
use crate::model::*;
use crate::rules::{self, CellField, ChannelField, Concern, Finding, Location, Problem, Warning};
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

/// Replaces control characters so a message cannot garble a terminal.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(200)
        .collect()
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
struct CellTrace {
    /// The name was unusable and replaced; its findings are already reported.
    name_replaced: bool,
    /// `(cpu, index in cpus)` for each CPU in the model.
    cpus: Vec<(usize, usize)>,
    /// Index in `memory` of each model region.
    memory: Vec<usize>,
    /// For each model region, `(cell, index in shared_with)` of each cell
    /// it is shared with.
    shared_with: Vec<Vec<(usize, usize)>>,
    /// Index in `devices` of each model device.
    devices: Vec<usize>,
    /// Each model image.
    images: Vec<ImageTrace>,
    /// Image and entry findings would only repeat a reported problem.
    quiet_images: bool,
}

struct ImageTrace {
    field: &'static str,
    kind_name: &'static str,
    explicit_load: bool,
    /// A generated device tree (no `path` in the YAML).
    generated: bool,
    footprint: u64,
    file: Option<(PathBuf, Vec<u8>)>,
}

/// How one channel of the model relates to its YAML.
#[derive(Default)]
struct ChannelTrace {
    /// The name was unusable and replaced; its findings are already reported.
    name_replaced: bool,
    /// Index in `peers` of each model peer.
    peers: Vec<usize>,
}

/// The conversion of one parsed file.
pub(super) struct Converter<'a> {
    source: &'a str,
    named: &'a Source,
    map: &'a SourceMap,
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

fn hex_range(r: &MemRange) -> String {
    format!("{:#x}..{:#x}", r.base, r.end())
}

/// The virtual PCI windows of `board`, for messages.
fn virtual_pci_windows(board: &Board) -> String {
    match &board.virtual_pci {
        Some(pci) => format!(
            "ECAM {}, registers {}, memory {}",
            hex_range(&pci.ecam),
            hex_range(&pci.registers),
            hex_range(&pci.memory)
        ),
        None => "none".to_string(),
    }
}

/// A byte count for people: `16 MiB`, `4 KiB`, `1.5 KiB`, `100 bytes`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, scale) in UNITS {
        if bytes >= scale {
            return if bytes.is_multiple_of(scale) {
                format!("{} {unit}", bytes / scale)
            } else {
                format!("{:.1} {unit}", bytes as f64 / scale as f64)
            };
        }
    }
    format!("{bytes} bytes")
}

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
            source,
            named,
            map,
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
        self.map.locate(self.source, path)
    }

    fn diagnostic(&self, code: &'static str, path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.named, code, path, self.span(path), message)
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn channel_name(&self, channel: usize) -> String {
        let name = self
            .raw
            .channels
            .get(channel)
            .map_or("?", |c| c.name.as_str());
        format!("`{}`", sanitize(&name.chars().take(40).collect::<String>()))
    }

    fn cell_name(&self, cell: usize) -> String {
        let name = self.raw.cells.get(cell).map_or("?", |c| c.name.as_str());
        format!("`{}`", sanitize(&name.chars().take(40).collect::<String>()))
    }

    /// Runs the conversion and the rules; returns every problem on failure.
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
            channels: heapless::Vec::new(),
            icount_quantum_ns: self.icount_quantum(),
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
        for finding in findings {
            if let Some(d) = self.finding(board, &system, &footprints, finding) {
                self.report(d);
            }
        }
        let mut warnings = Vec::new();
        rules::warnings(&system, board, |w| {
            warnings.push(self.warning(board, &system, w))
        });
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
                let first_span = self.span(&format!("cells[{i}].cpus[{first}]"));
                let d = self
                    .diagnostic(
                        "config::cpu_listed_twice",
                        &path,
                        format!("CPU {} is listed twice in this cell", cpu.0),
                    )
                    .label("second time")
                    .also(first_span, "first time")
                    .help("remove one of them; each CPU runs one virtual CPU");
                self.report(d);
                continue;
            }
            let index = usize::try_from(cpu.0).unwrap_or(usize::MAX);
            if !cpus.insert(index) {
                let d = self.no_such_cpu(board, &path, cpu.0);
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
                let first_span = self.span(&format!("cells[{i}].devices[{first}]"));
                let d = self
                    .diagnostic(
                        "config::device_listed_twice",
                        &path,
                        format!(
                            "device `{}` is listed twice in this cell",
                            sanitize(device_name)
                        ),
                    )
                    .label("second time")
                    .also(first_span, "first time")
                    .help("remove one of them");
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
            on_fault: match raw.on_fault {
                RawFaultPolicy::Stop => FaultPolicy::Stop,
                RawFaultPolicy::Restart => FaultPolicy::Restart,
            },
        };
        let tree_address = self.device_tree(board, i, raw, &mut cell, &mut trace);
        cell.boot_argument = match (raw.boot_argument, tree_address) {
            (Some(argument), _) => argument.0,
            (None, Some(address)) => address,
            (None, None) => 0,
        };
        (cell, trace)
    }

    /// The console's interrupt: the board's spare SPI for cell `i`.
    fn console_irq(&mut self, board: &Board, i: usize) -> Intid {
        let spare = board.spare_spis;
        match u32::try_from(i).ok().filter(|&n| n < spare.count) {
            Some(n) => spare.first + n,
            None => {
                let d = self
                    .diagnostic(
                        "config::no_spare_spi",
                        &format!("cells[{i}].console"),
                        format!(
                            "board {} has {} spare SPIs for virtual consoles, too few for cell #{i}",
                            board.name, spare.count
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

    fn no_such_cpu(&self, board: &Board, path: &str, cpu: u64) -> Diagnostic {
        let last = board.cpus.len().saturating_sub(1);
        self.diagnostic(
            "config::no_such_cpu",
            path,
            format!(
                "CPU {cpu} is not on board {}, which has CPUs 0 to {last}",
                board.name
            ),
        )
        .label("no such CPU")
        .help(format!("use CPU numbers from 0 to {last}"))
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

    /// The help for memory that overlaps the partitioner's RAM
    /// `reserved` (a cell's region or a channel of `size` bytes): what the
    /// partitioner keeps it for and, when there is some, free RAM of that
    /// size.
    fn hypervisor_ram_help(
        &self,
        board: &Board,
        system: &System,
        reserved: &MemRange,
        size: u64,
    ) -> String {
        let help = format!(
            "the partitioner keeps {} for its code, tables and the boot image",
            hex_range(reserved)
        );
        match self.free_ram(board, system, size) {
            Some(free) => format!("{help}; free RAM of this size starts at {free:#x}"),
            None => help,
        }
    }

    /// The YAML path of CPU `cpu` of cell `cell`.
    fn cpu_path(&self, cell: usize, cpu: usize) -> String {
        match self.traces[cell].cpus.iter().find(|&&(c, _)| c == cpu) {
            Some(&(_, k)) => format!("cells[{cell}].cpus[{k}]"),
            None => format!("cells[{cell}].cpus"),
        }
    }

    fn memory_path(&self, cell: usize, region: usize) -> String {
        let k = self.traces[cell]
            .memory
            .get(region)
            .copied()
            .unwrap_or(region);
        format!("cells[{cell}].memory[{k}]")
    }

    /// The YAML path of the field that places region `region` of cell
    /// `cell` in the cell's address space: `guest_base` when written, else
    /// `base`.
    fn guest_path(&self, cell: usize, region: usize) -> String {
        let path = self.memory_path(cell, region);
        let k = self.traces[cell]
            .memory
            .get(region)
            .copied()
            .unwrap_or(region);
        let explicit = self
            .raw
            .cells
            .get(cell)
            .and_then(|c| c.memory.get(k))
            .is_some_and(|m| m.guest_base.is_some());
        if explicit {
            format!("{path}.guest_base")
        } else {
            format!("{path}.base")
        }
    }

    /// The YAML path of the `shared_with` entry of region `region` of cell
    /// `cell` that names cell `other`.
    fn shared_with_path(&self, cell: usize, region: usize, other: usize) -> String {
        let path = self.memory_path(cell, region);
        let entry = self.traces[cell]
            .shared_with
            .get(region)
            .and_then(|s| s.iter().find(|&&(c, _)| c == other));
        match entry {
            Some(&(_, n)) => format!("{path}.shared_with[{n}]"),
            None => format!("{path}.shared_with"),
        }
    }

    fn device_path(&self, cell: usize, device: usize) -> String {
        let k = self.traces[cell]
            .devices
            .get(device)
            .copied()
            .unwrap_or(device);
        format!("cells[{cell}].devices[{k}]")
    }

    fn image_path(&self, cell: usize, image: usize) -> String {
        match self.traces[cell].images.get(image) {
            Some(t) if t.explicit_load => format!("cells[{cell}].{}.load_address", t.field),
            Some(t) if t.generated => format!("cells[{cell}].{}", t.field),
            Some(t) => format!("cells[{cell}].{}.path", t.field),
            None => format!("cells[{cell}]"),
        }
    }

    /// `FIELD VALUE is not a multiple of 4 KiB`, at `{path}.{field}`, with
    /// the two closest values that are (sizes also in KiB, MiB, ...).
    fn unaligned(&self, path: &str, field: &str, value: u64) -> Diagnostic {
        let down = value & !(PAGE_SIZE - 1);
        let up = down.saturating_add(PAGE_SIZE);
        let shown = |v: u64| {
            if field.ends_with("size") {
                format!("{v:#x} ({})", human_size(v))
            } else {
                format!("{v:#x}")
            }
        };
        let fix = if down == 0 {
            format!("use {}", shown(up))
        } else {
            format!("use {} or {}", shown(down), shown(up))
        };
        self.diagnostic(
            "config::unaligned",
            &format!("{path}.{field}"),
            format!("{field} {value:#x} is not a multiple of 4 KiB"),
        )
        .label("not 4 KiB aligned")
        .help(format!("the partitioner maps memory in 4 KiB pages; {fix}"))
    }

    /// A start address for `size` bytes of free RAM, if there is room.
    fn free_ram(&self, board: &Board, system: &System, size: u64) -> Option<u64> {
        let mut taken: Vec<MemRange> = system
            .cells
            .iter()
            .flat_map(|c| c.memory.iter().map(|m| m.range))
            .collect();
        taken.extend(system.channels.iter().filter_map(rules::channel_region));
        taken.push(board.hypervisor_ram);
        for ram in board.ram {
            let mut start = ram.base;
            loop {
                let candidate = MemRange::new(start, size);
                if candidate.end() > ram.end() || start.checked_add(size).is_none() {
                    break;
                }
                match taken
                    .iter()
                    .filter(|t| t.overlaps(&candidate))
                    .map(|t| t.end())
                    .max()
                {
                    None => return Some(start),
                    Some(end) => {
                        let next = align_up(end, PAGE_SIZE);
                        if next <= start {
                            break;
                        }
                        start = next;
                    }
                }
            }
        }
        None
    }

    /// Describes a rule finding at its YAML value, or `None` when it only
    /// repeats a problem reported already.
    ///
    /// `system` has the images' file sizes, `footprints` their footprints.
    fn finding(
        &self,
        board: &Board,
        system: &System,
        footprints: &System,
        finding: Finding,
    ) -> Option<Diagnostic> {
        let (cell, field) = match finding.location {
            Location::Board => {
                return Some(self.diagnostic(
                    "config::wrong_board",
                    "board",
                    finding.problem.to_string(),
                ))
            }
            Location::Cells => {
                return Some(
                    self.diagnostic("config::no_cells", "cells", "there are no cells")
                        .label("empty")
                        .help("add at least one cell, starting with `- name: ...`"),
                )
            }
            Location::Cell { cell, field } => (cell, field),
            Location::Channel { channel, field } => {
                return self.channel_finding(board, system, channel, field, finding.problem)
            }
        };
        if let Problem::BeyondIpaSpace { .. } | Problem::TooManyTables { .. } = finding.problem {
            let path = match field {
                CellField::Memory(n) => self.memory_path(cell, n),
                CellField::Device(n) => self.device_path(cell, n),
                _ => format!("cells[{cell}]"),
            };
            let help = match finding.problem {
                Problem::BeyondIpaSpace { .. } => format!(
                    "cells see {} bits of guest-physical space (stage 2 starts at level 1); \
                     give the cell devices and `guest_base` addresses below {:#x}",
                    crate::stage2::IPA_BITS,
                    crate::stage2::IPA_SPACE
                ),
                _ => String::from(
                    "stage 2 maps 2 MiB blocks where a range's guest and physical addresses are \
                     both 2 MiB-aligned, else 4 KiB pages, 512 to a table: give `guest_base` the \
                     same offset from a 2 MiB boundary as `base`, align regions to 2 MiB, or map \
                     less",
                ),
            };
            return Some(
                self.diagnostic("config::stage2", &path, finding.problem.to_string())
                    .label("does not fit the cell's stage 2")
                    .help(help),
            );
        }
        let trace = self.traces.get(cell)?;
        let model = footprints.cells.get(cell)?;
        let this = self.cell_name(cell);
        let of = |other: usize| {
            if other == cell {
                "this cell".to_string()
            } else {
                format!("cell {}", self.cell_name(other))
            }
        };
        let d = match (field, finding.problem) {
            (CellField::Name, Problem::BadName) => {
                if trace.name_replaced {
                    return None;
                }
                let raw = &self.raw.cells[cell].name;
                let help = name_help(raw);
                self.diagnostic(
                    "config::bad_name",
                    &format!("cells[{cell}].name"),
                    format!("{this} is not a valid cell name"),
                )
                .label("invalid name")
                .help(help)
            }
            (CellField::Name, Problem::DuplicateName { other }) => {
                if trace.name_replaced {
                    return None;
                }
                self.diagnostic(
                    "config::duplicate_name",
                    &format!("cells[{cell}].name"),
                    format!("cells[{other}] is already called {this}"),
                )
                .label("second cell with this name")
                .also(
                    self.span(&format!("cells[{other}].name")),
                    "first used here",
                )
                .help("give every cell a unique name; it prefixes the cell's console output")
            }
            (CellField::Cpus, Problem::NoCpus) => {
                if !self.raw.cells[cell].cpus.is_empty() {
                    // Every listed CPU was rejected and reported.
                    return None;
                }
                self.diagnostic(
                    "config::no_cpus",
                    &format!("cells[{cell}].cpus"),
                    "the cell has no CPU",
                )
                .label("empty")
                .help(format!(
                    "list at least one of the board's CPUs 0 to {}",
                    board.cpus.len().saturating_sub(1)
                ))
            }
            (CellField::Cpu(cpu), Problem::NoSuchCpu { .. }) => {
                self.no_such_cpu(board, &self.cpu_path(cell, cpu), cpu as u64)
            }
            (CellField::Cpu(cpu), Problem::CpuTaken { other }) => {
                let used = system.cells.iter().fold(0u64, |acc, c| acc | c.cpus.bits());
                let free: Vec<String> = (0..board.cpus.len())
                    .filter(|&c| c < 64 && used & (1 << c) == 0)
                    .map(|c| c.to_string())
                    .collect();
                let help = if free.is_empty() {
                    "a CPU runs one cell only, and every CPU of the board is taken; remove it here"
                        .to_string()
                } else {
                    format!("a CPU runs one cell only; free CPUs: {}", free.join(", "))
                };
                self.diagnostic(
                    "config::cpu_taken",
                    &self.cpu_path(cell, cpu),
                    format!("CPU {cpu} already belongs to {}", of(other)),
                )
                .label("taken")
                .also(
                    self.span(&self.cpu_path(other, cpu)),
                    format!("given to {} here", self.cell_name(other)),
                )
                .help(help)
            }
            (CellField::Memory(r), problem) => {
                let path = self.memory_path(cell, r);
                let region = *model.memory.get(r)?;
                let range = region.range;
                let guest = region.guest_range();
                let guest_path = self.guest_path(cell, r);
                match problem {
                    Problem::Unaligned => {
                        let (field, value) = if range.base % PAGE_SIZE != 0 {
                            ("base", range.base)
                        } else if range.size % PAGE_SIZE != 0 {
                            ("size", range.size)
                        } else {
                            ("guest_base", region.guest_base)
                        };
                        self.unaligned(&path, field, value)
                    }
                    Problem::Empty => self
                        .diagnostic(
                            "config::empty",
                            &format!("{path}.size"),
                            "the region's size is zero",
                        )
                        .help("give a size of at least 4K, or remove the region"),
                    Problem::NotRam => {
                        let ram: Vec<String> = board
                            .ram
                            .iter()
                            .map(|r| format!("{} ({})", hex_range(r), human_size(r.size)))
                            .collect();
                        self.diagnostic(
                            "config::not_ram",
                            &format!("{path}.base"),
                            format!("region {} is not in the board's RAM", hex_range(&range)),
                        )
                        .label(hex_range(&range))
                        .help(format!(
                            "board {} has RAM at {}; the partitioner keeps {}",
                            board.name,
                            ram.join(", "),
                            hex_range(&board.hypervisor_ram)
                        ))
                    }
                    Problem::HypervisorRam { reserved } => {
                        let help = self.hypervisor_ram_help(board, system, &reserved, range.size);
                        self.diagnostic(
                            "config::hypervisor_ram",
                            &format!("{path}.base"),
                            format!(
                                "region {} overlaps the partitioner's RAM {}",
                                hex_range(&range),
                                hex_range(&reserved)
                            ),
                        )
                        .label(hex_range(&range))
                        .help(help)
                    }
                    Problem::MemoryOverlap {
                        other_cell,
                        other_region,
                    } => {
                        let other_range = system
                            .cells
                            .get(other_cell)?
                            .memory
                            .get(other_region)?
                            .range;
                        let other = system.cells.get(other_cell)?.memory.get(other_region)?;
                        let other_path = self.memory_path(other_cell, other_region);
                        let mutual = other_cell != cell
                            && region.shared_with.contains(other_cell)
                            && other.shared_with.contains(cell);
                        let mut help =
                            if mutual {
                                format!(
                                    "a shared region must have the same `base` and `size` in both \
                                 cells; make this one {}, like {}",
                                    hex_range(&other_range),
                                    other_path.rsplit('.').next().unwrap_or("")
                                )
                            } else if other_cell == cell {
                                "the regions of a cell must not overlap; merge them".to_string()
                            } else {
                                format!(
                                "cells share RAM only through a region with the same `base` and \
                                 `size` in both, each naming the other in `shared_with` \
                                 (here `shared_with: [{}]`)",
                                self.raw.cells.get(other_cell).map_or("?", |c| c.name.as_str())
                            )
                            };
                        if let (false, Some(free)) =
                            (mutual, self.free_ram(board, system, range.size))
                        {
                            help = format!("{help}; free RAM of this size starts at {free:#x}");
                        }
                        self.diagnostic(
                            "config::memory_overlap",
                            &format!("{path}.base"),
                            format!(
                                "region {} overlaps {} of {} ({})",
                                hex_range(&range),
                                other_path.rsplit('.').next().unwrap_or(""),
                                of(other_cell),
                                hex_range(&other_range)
                            ),
                        )
                        .label(hex_range(&range))
                        .also(
                            self.span(&format!("{other_path}.base")),
                            format!(
                                "{} of {}",
                                hex_range(&other_range),
                                self.cell_name(other_cell)
                            ),
                        )
                        .help(help)
                    }
                    Problem::GuestOverlap { other_region } => {
                        let other = model.memory.get(other_region)?.guest_range();
                        self.diagnostic(
                            "config::guest_overlap",
                            &guest_path,
                            format!(
                                "the cell sees this region at {}, which overlaps memory[{}] ({})",
                                hex_range(&guest),
                                self.traces[cell]
                                    .memory
                                    .get(other_region)
                                    .copied()
                                    .unwrap_or(other_region),
                                hex_range(&other)
                            ),
                        )
                        .label(hex_range(&guest))
                        .also(
                            self.span(&self.guest_path(cell, other_region)),
                            format!("seen at {}", hex_range(&other)),
                        )
                        .help("give the regions `guest_base`s that do not overlap")
                    }
                    Problem::GuestDeviceOverlap { device } => {
                        let grant = model.devices.get(device)?;
                        let pages: Vec<String> = grant
                            .mmio
                            .iter()
                            .map(|w| hex_range(&rules::page_span(w)))
                            .collect();
                        self.diagnostic(
                            "config::guest_overlap",
                            &guest_path,
                            format!(
                                "the cell sees this region at {}, over the MMIO of its device `{}` ({})",
                                hex_range(&guest),
                                grant.name,
                                pages.join(", ")
                            ),
                        )
                        .label(hex_range(&guest))
                        .also(self.span(&self.device_path(cell, device)), "the device")
                        .help("move `guest_base` away from the cell's devices")
                    }
                    Problem::GuestGicOverlap => self
                        .diagnostic(
                            "config::guest_overlap",
                            &guest_path,
                            format!(
                                "the cell sees this region at {}, over the GIC ({} and {})",
                                hex_range(&guest),
                                hex_range(&board.gic.distributor),
                                hex_range(&board.gic.redistributors)
                            ),
                        )
                        .label(hex_range(&guest))
                        .help(
                            "the partitioner emulates the GIC at the board's addresses; \
                             move `guest_base` away from them",
                        ),
                    Problem::MemoryInVirtualPci { channel } => {
                        let windows = virtual_pci_windows(board);
                        self.diagnostic(
                            "config::virtual_pci_overlap",
                            &guest_path,
                            format!(
                                "the cell sees this region at {}, over the virtual PCI windows \
                                  where it sees channel {} ({windows})",
                                hex_range(&guest),
                                self.channel_name(channel)
                            ),
                        )
                        .label(hex_range(&guest))
                        .help(
                            "a peer of a channel sees the channel's device there; \
                              move `guest_base` (or `base`) away from those windows",
                        )
                    }
                    Problem::GuestOutOfRange => self
                        .diagnostic(
                            "config::guest_out_of_range",
                            &guest_path,
                            format!(
                                "the cell would see this region at {:#x}, past the end of its \
                                 {GUEST_ADDRESS_LIMIT:#x}-byte (39-bit) address space",
                                region.guest_base
                            ),
                        )
                        .help(format!(
                            "choose a `guest_base` at most {:#x}",
                            GUEST_ADDRESS_LIMIT.saturating_sub(range.size)
                        )),
                    Problem::DmaNeedsIdentity { device } => {
                        let device_name = model.devices.get(device)?.name.clone();
                        self.diagnostic(
                            "config::dma_needs_identity",
                            &guest_path,
                            format!(
                                "the cell sees this region at {:#x} instead of its physical address \
                                 {:#x}, but it owns `{device_name}`, which masters DMA",
                                region.guest_base, range.base
                            ),
                        )
                        .label("not identity-mapped")
                        .also(
                            self.span(&self.device_path(cell, device)),
                            "DMA-capable device",
                        )
                        .help(format!(
                            "remove `guest_base` (identity mapping) or drop the DMA-capable \
                             device `{device_name}`, since without an IOMMU the device would use \
                             guest addresses as physical ones"
                        ))
                    }
                    _ => self.diagnostic("config::rule", &path, problem.to_string()),
                }
            }
            (
                CellField::SharedWith {
                    region: r,
                    cell: other,
                },
                problem,
            ) => {
                let path = self.shared_with_path(cell, r, other);
                let range = model.memory.get(r)?.range;
                match problem {
                    Problem::SharedWithSelf => self
                        .diagnostic(
                            "config::shared_with_self",
                            &path,
                            format!("{this} shares a region with itself"),
                        )
                        .label("this cell")
                        .help("name the other cells that map this region; remove this entry"),
                    Problem::SharingNotDeclared { other_region } => {
                        let other_name = self.cell_name(other);
                        let mine = self.raw.cells.get(cell).map_or("?", |c| c.name.as_str());
                        let mut d = self.diagnostic(
                            "config::sharing_not_declared",
                            &path,
                            format!(
                                "region {} is shared with cell {other_name}, which does not share it back",
                                hex_range(&range)
                            ),
                        );
                        d = match other_region {
                            Some(k) => {
                                let other_path = self.memory_path(other, k);
                                let mut has_list = false;
                                if let Some(raw) = self.raw.cells.get(other).and_then(|c| {
                                    c.memory.get(self.traces[other].memory.get(k).copied()?)
                                }) {
                                    has_list = !raw.shared_with.is_empty();
                                }
                                let fix = if has_list {
                                    format!(
                                        "add `{mine}` to `shared_with` of the matching region of cell {other_name} ({})",
                                        other_path.rsplit('.').next().unwrap_or("")
                                    )
                                } else {
                                    format!(
                                        "add `shared_with: [{mine}]` to the matching region of cell {other_name} ({})",
                                        other_path.rsplit('.').next().unwrap_or("")
                                    )
                                };
                                d.label("not shared back")
                                    .also(
                                        self.span(&format!("{other_path}.base")),
                                        format!("the same range in cell {other_name}"),
                                    )
                                    .help(format!("{fix}; sharing is declared on both sides"))
                            }
                            None => d.label("not shared back").help(format!(
                                "cell {other_name} has no region {}; give it one with the same \
                                 `base` and `size` and `shared_with: [{mine}]`, or remove {other_name} here",
                                hex_range(&range)
                            )),
                        };
                        d
                    }
                    _ => self.diagnostic("config::rule", &path, problem.to_string()),
                }
            }
            (CellField::Device(n), problem) => {
                let path = self.device_path(cell, n);
                let device = model.devices.get(n)?;
                let device_name = device.name.as_str();
                let find_device = |other: usize| {
                    system
                        .cells
                        .get(other)
                        .and_then(|c| c.devices.iter().position(|d| d.name == device.name))
                };
                match problem {
                    Problem::DeviceInVirtualPci { channel } => {
                        let windows = virtual_pci_windows(board);
                        self.diagnostic(
                            "config::virtual_pci_overlap",
                            &path,
                            format!(
                                "`{device_name}` overlaps the virtual PCI windows where this cell \
                                  sees channel {} ({windows})",
                                self.channel_name(channel)
                            ),
                        )
                        .label("in the virtual PCI windows")
                        .help(format!(
                            "a peer of a channel sees the channel as a PCI device there, so it cannot \
                              own `{device_name}`; give the device to a cell that is no peer, or remove it"
                        ))
                    }
                    Problem::DeviceReserved => self
                        .diagnostic(
                            "config::device_reserved",
                            &path,
                            format!("`{device_name}` is the board's console, which the partitioner keeps"),
                        )
                        .label("reserved")
                        .help(
                            "remove it: every cell gets a virtual console (`console: virtual`) \
                             at the same address, multiplexed onto this UART",
                        ),
                    Problem::DeviceTaken { other } => {
                        let other_path = find_device(other).map(|d| self.device_path(other, d));
                        let mut d = self
                            .diagnostic(
                                "config::device_taken",
                                &path,
                                format!("device `{device_name}` is already given to {}", of(other)),
                            )
                            .label("taken")
                            .help("a device belongs to one cell only; remove it from one of them");
                        if let Some(p) = other_path {
                            d = d.also(self.span(&p), format!("given to {} here", self.cell_name(other)));
                        }
                        d
                    }
                    Problem::DevicePageShared {
                        other_cell,
                        other_device,
                    } => {
                        let other = system.cells.get(other_cell)?.devices.get(other_device)?;
                        let page = device.mmio.first().map(rules::page_span);
                        self.diagnostic(
                            "config::device_page_shared",
                            &path,
                            format!(
                                "`{device_name}` shares a 4 KiB page{} with `{}` of {}",
                                page.map(|p| format!(" ({})", hex_range(&p))).unwrap_or_default(),
                                other.name,
                                of(other_cell)
                            ),
                        )
                        .label("same page")
                        .also(
                            self.span(&self.device_path(other_cell, other_device)),
                            format!("given to {} here", self.cell_name(other_cell)),
                        )
                        .help(
                            "the partitioner isolates devices with whole 4 KiB pages, so devices in one \
                             page must go to the same cell; give both to one cell, or use a device in another page",
                        )
                    }
                    Problem::ConsolePageShared => {
                        let console = board.console.mmio;
                        self.diagnostic(
                            "config::console_page_shared",
                            &path,
                            format!(
                                "`{device_name}` shares the 4 KiB page {} with the board console `{}` at {:#x}, \
                                 which the partitioner owns",
                                hex_range(&rules::page_span(&console)),
                                board.console.device,
                                console.base
                            ),
                        )
                        .label("in the console's page")
                        .help(
                            "stage 2 maps whole 4 KiB pages, so a cell given this device could reach the \
                             console's registers; this board's UARTs share a page, so leave this one to the \
                             partitioner, or give the cell a device in another page",
                        )
                    }
                    Problem::ConsoleIrqShared { irq } => self
                        .diagnostic(
                            "config::console_irq_shared",
                            &path,
                            format!(
                                "`{device_name}` shares interrupt {irq} with the board console `{}`, \
                                 which the partitioner owns",
                                board.console.device
                            ),
                        )
                        .label("the console's interrupt")
                        .help(
                            "an interrupt has one owner; this board wires the device and its console \
                             to one line, so the device cannot be given to a cell",
                        ),
                    Problem::IrqTaken { irq, other } => self
                        .diagnostic(
                            "config::irq_taken",
                            &path,
                            format!("interrupt {irq} of `{device_name}` is already owned by {}", of(other)),
                        )
                        .help("devices that share an interrupt must go to the same cell"),
                    _ => self.diagnostic("config::rule", &path, problem.to_string()),
                }
            }
            (CellField::Image(m), problem) => {
                if trace.quiet_images {
                    return None;
                }
                let t = trace.images.get(m)?;
                let image = model.images.get(m)?;
                let path = self.image_path(cell, m);
                let dest = image.destination();
                let described = format!(
                    "the {} ({}, {}{})",
                    t.kind_name,
                    hex_range(&dest),
                    human_size(dest.size),
                    match &t.file {
                        Some((_, bytes)) if bytes.len() as u64 != t.footprint => " including bss",
                        _ => "",
                    }
                );
                match problem {
                    Problem::ImageOutsideRam => {
                        let regions: Vec<String> = model
                            .memory
                            .iter()
                            .map(|m| hex_range(&m.guest_range()))
                            .collect();
                        self.diagnostic(
                            "config::image_outside_ram",
                            &path,
                            format!("{described} does not fit in the cell's memory"),
                        )
                        .label("does not fit")
                        .help(format!(
                            "the cell's memory is {}; enlarge a region or move `load_address`",
                            if regions.is_empty() {
                                "empty".to_string()
                            } else {
                                regions.join(", ")
                            }
                        ))
                    }
                    Problem::ImageInSharedRegion { region } => {
                        let shared = model.memory.get(region)?;
                        let others: Vec<String> = shared
                            .shared_with
                            .iter()
                            .map(|c| self.cell_name(c))
                            .collect();
                        self.diagnostic(
                            "config::image_in_shared_region",
                            &path,
                            format!(
                                "{described} lies in memory[{}] ({}), which is shared with {}",
                                self.traces[cell]
                                    .memory
                                    .get(region)
                                    .copied()
                                    .unwrap_or(region),
                                hex_range(&shared.guest_range()),
                                others.join(", ")
                            ),
                        )
                        .label("in a shared region")
                        .help(
                            "the partitioner copies a cell's images again at every restart, \
                             which would overwrite what the other cells keep there; \
                             load it into a region of this cell alone",
                        )
                    }
                    Problem::ImageOverlap { other } => {
                        let other_trace = trace.images.get(other)?;
                        let other_image = model.images.get(other)?;
                        self.diagnostic(
                            "config::image_overlap",
                            &path,
                            format!(
                                "{described} overlaps the {} ({})",
                                other_trace.kind_name,
                                hex_range(&other_image.destination())
                            ),
                        )
                        .label("overlaps")
                        .also(
                            self.span(&self.image_path(cell, other)),
                            format!("the {}", other_trace.kind_name),
                        )
                        .help("move one `load_address` so that the images do not overlap")
                    }
                    _ => self.diagnostic("config::rule", &path, problem.to_string()),
                }
            }
            (CellField::Entry, Problem::EntryOutsideKernel) => {
                if trace.quiet_images {
                    return None;
                }
                let kernel = system.cells.get(cell)?.images.first()?.destination();
                let footprint = model.images.first()?.destination();
                let explicit = self.raw.cells[cell].entry.is_some();
                let path = if explicit {
                    format!("cells[{cell}].entry")
                } else {
                    format!("cells[{cell}].kernel.path")
                };
                let help = if kernel.size == 0 {
                    "the kernel file is empty".to_string()
                } else if footprint.contains(model.entry) {
                    format!(
                        "{:#x} is in the kernel's bss (the zeroed memory after the file's {} bytes); \
                         point `entry` into {}",
                        model.entry,
                        kernel.size,
                        hex_range(&kernel)
                    )
                } else if explicit {
                    format!(
                        "point `entry` into {}, or remove it to start at the kernel's load address",
                        hex_range(&kernel)
                    )
                } else {
                    "set `entry` to an address inside the kernel".to_string()
                };
                self.diagnostic(
                    "config::entry_outside_kernel",
                    &path,
                    format!(
                        "entry point {:#x} is not inside the kernel ({})",
                        model.entry,
                        hex_range(&kernel)
                    ),
                )
                .label("outside the kernel")
                .help(help)
            }
            (CellField::Console, Problem::ConsoleOverlap) => self
                .diagnostic(
                    "config::console_overlap",
                    &format!("cells[{cell}].console"),
                    format!(
                        "the virtual console at {:#x} overlaps the cell's memory or devices",
                        model.console.map_or(0, |c| c.base)
                    ),
                )
                .help(
                    "move the memory or devices away from the console page, or set `console: none`",
                ),
            (field, problem) => {
                let path = match field {
                    CellField::Name => format!("cells[{cell}].name"),
                    CellField::Cpus => format!("cells[{cell}].cpus"),
                    CellField::Cpu(c) => self.cpu_path(cell, c),
                    CellField::Entry => format!("cells[{cell}].entry"),
                    CellField::Console => format!("cells[{cell}].console"),
                    CellField::SharedWith {
                        region,
                        cell: other,
                    } => self.shared_with_path(cell, region, other),
                    CellField::Realtime => format!("cells[{cell}].realtime"),
                    _ => format!("cells[{cell}]"),
                };
                self.diagnostic("config::rule", &path, problem.to_string())
            }
        };
        Some(d)
    }

    /// Describes a rule finding about channel `channel` at its YAML value,
    /// or `None` when it only repeats a problem reported already.
    fn channel_finding(
        &self,
        board: &Board,
        system: &System,
        channel: usize,
        field: ChannelField,
        problem: Problem,
    ) -> Option<Diagnostic> {
        let trace = self.channel_traces.get(channel)?;
        let model = system.channels.get(channel)?;
        let raw = self.raw.channels.get(channel)?;
        let at = |field: &str| format!("channels[{channel}].{field}");
        let this = format!("`{}`", sanitize(&raw.name));
        let peer_path = |peer: usize| match trace.peers.get(peer) {
            Some(n) => at(&format!("peers[{n}]")),
            None => at("peers"),
        };
        let range = model.range();
        let d = match (field, problem) {
            (ChannelField::Name, Problem::BadName) => {
                if trace.name_replaced {
                    return None;
                }
                self.diagnostic(
                    "config::bad_name",
                    &at("name"),
                    format!("{this} is not a valid channel name"),
                )
                .label("invalid name")
                .help(name_help(&raw.name))
            }
            (ChannelField::Name, Problem::ChannelNameTaken { other }) => {
                if trace.name_replaced {
                    return None;
                }
                self.diagnostic(
                    "config::duplicate_name",
                    &at("name"),
                    format!("channels[{other}] is already called {this}"),
                )
                .label("second channel with this name")
                .also(
                    self.span(&format!("channels[{other}].name")),
                    "first used here",
                )
                .help("give every channel a unique name")
            }
            (ChannelField::Peers, Problem::TooFewPeers) => {
                if raw.peers.len() >= 2 {
                    // Peers were left out for reasons reported already.
                    return None;
                }
                let peers = match raw.peers.len() {
                    0 => "no peers".to_string(),
                    _ => "1 peer".to_string(),
                };
                self.diagnostic(
                    "config::too_few_peers",
                    &at("peers"),
                    format!("channel {this} has {peers}; a channel connects 2 to {MAX_CHANNEL_PEERS} cells"),
                )
                .label("too few peers")
                .help(
                    "list every cell that shares the channel, such as `peers: [control, containers]`; \
                     a cell's position in the list is its peer id",
                )
            }
            (ChannelField::Peers, Problem::NoDoorbellSpi { peer, irq }) => {
                let spare = board.spare_spis;
                let last = spare.first + spare.count.saturating_sub(1);
                let help = if spare.count as usize <= MAX_CELLS {
                    format!(
                        "the cells' consoles keep the first {MAX_CELLS} spare SPIs, so board {} \
                         has none left for doorbells and cannot have channels",
                        board.name
                    )
                } else {
                    format!(
                        "the cells' consoles keep the first {MAX_CELLS} spare SPIs and each \
                         channel the next {MAX_CHANNEL_PEERS} (one per peer id); use fewer \
                         channels or peers on this board"
                    )
                };
                self.diagnostic(
                    "config::no_spare_spi",
                    &peer_path(peer),
                    format!(
                        "peer {peer} of channel {this} needs doorbell interrupt {irq}, but board {} \
                         has spare SPIs {} to {last} only",
                        board.name, spare.first
                    ),
                )
                .label("no doorbell")
                .help(help)
            }
            (ChannelField::Name, Problem::NoVirtualPci) => {
                let able: Vec<&str> = bsp::BOARDS
                    .iter()
                    .filter(|b| b.virtual_pci.is_some())
                    .map(|b| b.name)
                    .collect();
                self.diagnostic(
                    "config::no_virtual_pci",
                    &at("name"),
                    format!(
                        "board {} has no virtual PCI host bridge for channel {this}",
                        board.name
                    ),
                )
                .label("no virtual PCI")
                .help(format!(
                    "cells reach a channel through a virtual PCI device, which needs \
                      `virtual_pci` in the board description; boards that have it: {}",
                    able.join(", ")
                ))
            }
            (ChannelField::Name, Problem::NoVirtualPciDevice { devices }) => self
                .diagnostic(
                    "config::no_virtual_pci",
                    &at("name"),
                    format!(
                        "channel {this} would be device {channel} of the virtual PCI bridge, \
                          which has room for {devices} devices on board {}",
                        board.name
                    ),
                )
                .label("no device number")
                .help(format!(
                    "a channel's index is its device number; use at most {devices} channels"
                )),
            (ChannelField::OutputSize, Problem::ChannelTooLarge { bar_size, slot }) => self
                .diagnostic(
                    "config::channel_too_large",
                    &at("output_size"),
                    format!(
                        "channel {this} takes {} ({} peers), a BAR of {}, but the virtual PCI \
                          bridge of board {} gives each channel {}",
                        human_size(range.size),
                        model.peers.len(),
                        human_size(bar_size),
                        board.name,
                        human_size(slot)
                    ),
                )
                .label("too large")
                .help(format!(
                    "4 KiB + common_size + peers x output_size, rounded up to a power of two, \
                      must be at most {}; make `output_size` or `common_size` smaller",
                    human_size(slot)
                )),
            (ChannelField::Base, Problem::Unaligned) => {
                self.unaligned(&format!("channels[{channel}]"), "base", model.base)
            }
            (ChannelField::CommonSize, Problem::Unaligned) => self.unaligned(
                &format!("channels[{channel}]"),
                "common_size",
                model.common_size,
            ),
            (ChannelField::OutputSize, Problem::Unaligned) => self.unaligned(
                &format!("channels[{channel}]"),
                "output_size",
                model.output_size,
            ),
            (ChannelField::OutputSize, Problem::Empty) => {
                self.diagnostic(
                    "config::empty",
                    &at("output_size"),
                    "the output section size is zero",
                )
                .label("empty")
                .help("give each peer an output section of at least 4K, such as `output_size: 64K`")
            }
            (ChannelField::Base, Problem::NotRam) => {
                let ram: Vec<String> = board
                    .ram
                    .iter()
                    .map(|r| format!("{} ({})", hex_range(r), human_size(r.size)))
                    .collect();
                self.diagnostic(
                    "config::not_ram",
                    &at("base"),
                    format!(
                        "channel memory {} ({}) is not in the board's RAM",
                        hex_range(&range),
                        human_size(range.size)
                    ),
                )
                .label(hex_range(&range))
                .help(format!(
                    "board {} has RAM at {}; the channel needs a 4 KiB state table, \
                     `common_size` and `output_size` for each of its {} peers",
                    board.name,
                    ram.join(", "),
                    model.peers.len()
                ))
            }
            (ChannelField::Base, Problem::HypervisorRam { reserved }) => {
                let help = self.hypervisor_ram_help(board, system, &reserved, range.size);
                self.diagnostic(
                    "config::hypervisor_ram",
                    &at("base"),
                    format!(
                        "channel memory {} overlaps the partitioner's RAM {}",
                        hex_range(&range),
                        hex_range(&reserved)
                    ),
                )
                .label(hex_range(&range))
                .help(help)
            }
            (ChannelField::Base, Problem::ChannelOverlapsMemory { cell, region }) => {
                let other = system.cells.get(cell)?.memory.get(region)?.range;
                let other_path = self.memory_path(cell, region);
                let mut help = "a channel's memory belongs to the channel alone: its peers \
                                map it as the channel, not through `memory`; move `base` or \
                                the region"
                    .to_string();
                if let Some(free) = self.free_ram(board, system, range.size) {
                    help = format!("{help}; free RAM of this size starts at {free:#x}");
                }
                self.diagnostic(
                    "config::memory_overlap",
                    &at("base"),
                    format!(
                        "channel memory {} overlaps {} of cell {} ({})",
                        hex_range(&range),
                        other_path.rsplit('.').next().unwrap_or(""),
                        self.cell_name(cell),
                        hex_range(&other)
                    ),
                )
                .label(hex_range(&range))
                .also(
                    self.span(&format!("{other_path}.base")),
                    format!("{} of {}", hex_range(&other), self.cell_name(cell)),
                )
                .help(help)
            }
            (ChannelField::Base, Problem::ChannelOverlap { other }) => {
                let other_range = system.channels.get(other)?.range();
                let other_name = self
                    .raw
                    .channels
                    .get(other)
                    .map_or("?", |c| c.name.as_str());
                let mut help = "every channel has memory of its own; move `base`".to_string();
                if let Some(free) = self.free_ram(board, system, range.size) {
                    help = format!("{help}; free RAM of this size starts at {free:#x}");
                }
                self.diagnostic(
                    "config::memory_overlap",
                    &at("base"),
                    format!(
                        "channel memory {} overlaps channel `{}` ({})",
                        hex_range(&range),
                        sanitize(other_name),
                        hex_range(&other_range)
                    ),
                )
                .label(hex_range(&range))
                .also(
                    self.span(&format!("channels[{other}].base")),
                    format!("channel `{}`", sanitize(other_name)),
                )
                .help(help)
            }
            (field, problem) => {
                let path = match field {
                    ChannelField::Name => at("name"),
                    ChannelField::Peers => at("peers"),
                    ChannelField::Peer(k) => peer_path(k),
                    ChannelField::Base => at("base"),
                    ChannelField::CommonSize => at("common_size"),
                    ChannelField::OutputSize => at("output_size"),
                };
                self.diagnostic("config::rule", &path, problem.to_string())
            }
        };
        Some(d)
    }

    /// Describes a warning at its YAML value.
    fn warning(&self, board: &Board, system: &System, warning: Warning) -> Diagnostic {
        let Location::Cell { cell, .. } = warning.location else {
            return self
                .diagnostic("config::warning", "", warning.concern.to_string())
                .warning();
        };
        match warning.concern {
            Concern::SharedCluster {
                cpu,
                other_cell,
                other_cpu,
                cluster,
            } => {
                let this = self.cell_name(cell);
                let other = self.cell_name(other_cell);
                let in_cluster: Vec<String> = board
                    .cpus
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.cluster == Some(cluster))
                    .map(|(n, _)| n.to_string())
                    .collect();
                let free: Vec<String> = board
                    .cpus
                    .iter()
                    .enumerate()
                    .filter(|&(n, c)| {
                        c.cluster != Some(cluster)
                            && c.cluster.is_some()
                            && !system.cells.iter().any(|o| o.cpus.contains(n))
                    })
                    .map(|(n, _)| n.to_string())
                    .collect();
                let why = format!(
                    "cores of one L2 cluster share its cache, so {other} can evict {this}'s \
                     cache lines and delay it"
                );
                let mut help = if in_cluster.len() == board.cpus.len() {
                    format!(
                        "{why}; every CPU of board {} is in cluster {cluster}, so only running \
                         {this} alone avoids it",
                        board.name
                    )
                } else {
                    format!(
                        "{why}; give the cells CPUs of different clusters (cluster {cluster} is \
                         CPUs {})",
                        in_cluster.join(", ")
                    )
                };
                if !free.is_empty() {
                    help = format!("{help}; free CPUs in other clusters: {}", free.join(", "));
                }
                self.diagnostic(
                    "config::realtime_shared_cluster",
                    &format!("cells[{cell}].realtime"),
                    format!(
                        "real-time cell {this} shares L2 cluster {cluster} with cell {other} \
                         (its CPU {cpu}, their CPU {other_cpu})"
                    ),
                )
                .label("real-time")
                .also(
                    self.span(&self.cpu_path(other_cell, other_cpu)),
                    format!("CPU {other_cpu} of {other}, in cluster {cluster}"),
                )
                .help(help)
                .warning()
            }
            Concern::ClockWithoutRate {
                device,
                clock: _,
                count: _,
            } => {
                let this = self.cell_name(cell);
                let name = system.cells[cell]
                    .devices
                    .get(device)
                    .map_or("", |g| g.name.as_str());
                let missing: Vec<&str> = board
                    .device(name)
                    .map(|d| {
                        d.clocks
                            .iter()
                            .filter(|c| c.hz.is_none())
                            .map(|c| c.name)
                            .collect()
                    })
                    .unwrap_or_default();
                self.diagnostic(
                    "config::clock_without_rate",
                    &format!("cells[{cell}].devices[{device}]"),
                    format!(
                        "device `{name}` of cell {this} has clocks whose rate board {} does not state: {}",
                        board.name,
                        missing.join(", ")
                    ),
                )
                .label("clocks without a rate")
                .help(
                    "no cell owns the clock controller, so a generated device tree gives each \
                     clock as a fixed clock of the rate the boot firmware leaves it at; without \
                     a rate the tree leaves the clock out and the cell's driver may not probe. \
                     Add the rates under hand_made.clock_rates in the board description",
                )
                .warning()
            }
        }
    }
}

/// How to fix the invalid name `raw`: the rule, and a valid name made
/// from it when there is one.
fn name_help(raw: &str) -> String {
    let suggestion: String = raw
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => Some(c),
            c if c.is_whitespace() => Some('-'),
            _ => None,
        })
        .take(MAX_NAME)
        .collect();
    let help = "use 1 to 32 characters of a-z, 0-9, '-' and '_'".to_string();
    if rules::is_valid_name(&suggestion) {
        format!("{help}, for example `{suggestion}`")
    } else {
        help
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
    fn sizes_for_people() {
        assert_eq!(human_size(16 << 20), "16 MiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(100), "100 bytes");
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
