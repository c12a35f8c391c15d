//! Each rule finding and warning, told at the YAML value it is about.
//!
//! The text itself (code, message, label, help) is not here: it sits next
//! to the rule it explains, in the `explain` function of each module of
//! [`crate::rules`], so that a rule's condition and its words are read and
//! changed together. This module gives those functions what they need to
//! point into the file: the YAML path of every model field (through the
//! conversion's traces), the cells' and channels' names as written, and
//! the helps several rules share.

use super::convert::{CellTrace, ChannelTrace};
use super::diagnostic::Diagnostic;
use super::raw::RawSystem;
use super::show::hex_range;
use super::source_map::{ByteSpan, Spans};
use crate::model::*;
use crate::rules::{
    self, cpus, devices, images, memory, names, CellField, ChannelField, Finding, Location,
    Problem, Warning,
};
use bsp::{Board, MemRange};

/// A converted config, with what it takes to explain its findings.
pub(crate) struct Explainer<'c> {
    pub(crate) spans: Spans<'c>,
    pub(crate) raw: &'c RawSystem,
    pub(crate) traces: &'c [CellTrace],
    pub(crate) channel_traces: &'c [ChannelTrace],
    pub(crate) board: &'static Board,
    /// The model with the images' file sizes, as the partitioner checks it.
    pub(crate) system: &'c System,
    /// The model with the images' footprints (a kernel's bss counted), as
    /// the host checks it first.
    pub(crate) footprints: &'c System,
}

impl Explainer<'_> {
    /// Tells `finding` at its YAML value, or `None` when it only repeats a
    /// problem reported already (by the conversion, or as another finding).
    pub(crate) fn finding(&self, finding: Finding) -> Option<Diagnostic> {
        let problem = finding.problem;
        if let Problem::BeyondIpaSpace { .. } | Problem::TooManyTables { .. } = problem {
            return Some(rules::stage2::explain(self, finding.location, problem));
        }
        let (cell, field) = match finding.location {
            Location::Board | Location::Cells => return names::explain_system(self, problem),
            Location::ConsoleInput => return rules::console_input::explain(self, problem),
            Location::Channel { channel, field } => {
                return rules::channels::explain(self, channel, field, problem)
            }
            Location::Cell { cell, field } => (cell, field),
        };
        match problem {
            Problem::BadName | Problem::DuplicateName { .. } => names::explain(self, cell, problem),
            Problem::NoCpus | Problem::NoSuchCpu { .. } | Problem::CpuTaken { .. } => {
                cpus::explain(self, cell, field, problem)
            }
            Problem::Unaligned
            | Problem::Empty
            | Problem::NotRam
            | Problem::HypervisorRam { .. }
            | Problem::MemoryOverlap { .. }
            | Problem::SharedWithSelf
            | Problem::NoSuchCell
            | Problem::SharingNotDeclared { .. }
            | Problem::GuestOverlap { .. }
            | Problem::GuestDeviceOverlap { .. }
            | Problem::GuestGicOverlap
            | Problem::GuestOutOfRange
            | Problem::DmaNeedsIdentity { .. } => memory::explain(self, cell, field, problem),
            Problem::DeviceTaken { .. }
            | Problem::DeviceReserved
            | Problem::NoSuchDevice
            | Problem::DeviceMismatch
            | Problem::DevicePageShared { .. }
            | Problem::ConsolePageShared
            | Problem::ConsoleIrqShared { .. }
            | Problem::IrqTaken { .. }
            | Problem::UnconfinedDma
            | Problem::IommuPageShared
            | Problem::StreamTaken { .. }
            | Problem::DmaWithoutHousekeeper => devices::explain(self, cell, field, problem),
            Problem::ImageOutsideRam
            | Problem::ImageInSharedRegion { .. }
            | Problem::ImageOverlap { .. }
            | Problem::EntryOutsideKernel
            | Problem::ConsoleOverlap => images::explain(self, cell, field, problem),
            Problem::RealtimeVirtualized | Problem::VirtualizedWithoutVirtualInterface => {
                rules::interrupts::explain(self, cell, problem)
            }
            Problem::WatchdogTimeout
            | Problem::WatchdogPlace
            | Problem::WatchdogWithoutHousekeeper
            | Problem::WatchdogInLatencyLab => rules::watchdog::explain(self, cell, problem),
            Problem::MemoryInVirtualPci { .. } | Problem::DeviceInVirtualPci { .. } => {
                rules::channels::explain_peer(self, cell, field, problem)
            }
            // Told above, wherever they are; and problems that are never
            // a cell's field.
            Problem::BeyondIpaSpace { .. }
            | Problem::TooManyTables { .. }
            | Problem::WrongBoard
            | Problem::NoCells
            | Problem::ChannelNameTaken { .. }
            | Problem::TooFewPeers
            | Problem::NoSuchPeerCell
            | Problem::PeerTwice { .. }
            | Problem::ChannelOverlapsMemory { .. }
            | Problem::ChannelOverlap { .. }
            | Problem::NoDoorbellSpi { .. }
            | Problem::NoVirtualPci
            | Problem::NoVirtualPciDevice { .. }
            | Problem::ConsoleInputWithoutHousekeeper
            | Problem::ChannelTooLarge { .. } => {
                Some(self.unexplained(&self.cell_field_path(cell, field), problem))
            }
        }
    }

    /// Tells `warning` at its YAML value.
    pub(crate) fn warning(&self, warning: Warning) -> Diagnostic {
        rules::warnings::explain(self, warning)
    }

    /// A finding that YAML cannot produce (the conversion refuses it
    /// first, like a device the board does not have), at `path`.
    pub(crate) fn unexplained(&self, path: &str, problem: Problem) -> Diagnostic {
        self.diagnostic(
            problem.code(),
            path,
            format!("the config breaks a rule: {problem:?}"),
        )
    }

    pub(crate) fn span(&self, path: &str) -> ByteSpan {
        self.spans.span(path)
    }

    pub(crate) fn diagnostic(
        &self,
        code: &'static str,
        path: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.spans.diagnostic(code, path, message)
    }

    /// Cell `cell`'s name as written, quoted.
    pub(crate) fn cell_name(&self, cell: usize) -> String {
        quoted(self.raw.cells.get(cell).map_or("?", |c| c.name.as_str()))
    }

    /// Channel `channel`'s name as written, quoted.
    pub(crate) fn channel_name(&self, channel: usize) -> String {
        quoted(
            self.raw
                .channels
                .get(channel)
                .map_or("?", |c| c.name.as_str()),
        )
    }

    /// Cell `other` as seen from cell `cell`: `this cell`, or `cell NAME`.
    pub(crate) fn other_cell(&self, cell: usize, other: usize) -> String {
        if other == cell {
            "this cell".to_string()
        } else {
            format!("cell {}", self.cell_name(other))
        }
    }

    /// The YAML path of `field` of cell `cell`.
    pub(crate) fn cell_field_path(&self, cell: usize, field: CellField) -> String {
        match field {
            CellField::Name => format!("cells[{cell}].name"),
            CellField::Cpus => format!("cells[{cell}].cpus"),
            CellField::Cpu(c) => self.cpu_path(cell, c),
            CellField::Memory(r) => self.memory_path(cell, r),
            CellField::SharedWith {
                region,
                cell: other,
            } => self.shared_with_path(cell, region, other),
            CellField::Device(d) => self.device_path(cell, d),
            CellField::Image(m) => self.image_path(cell, m),
            CellField::Entry => format!("cells[{cell}].entry"),
            CellField::Console => format!("cells[{cell}].console"),
            CellField::Realtime => format!("cells[{cell}].realtime"),
            CellField::Interrupts => format!("cells[{cell}].interrupts"),
            CellField::Watchdog => format!("cells[{cell}].watchdog"),
        }
    }

    /// The YAML path of `field` of channel `channel`.
    pub(crate) fn channel_field_path(&self, channel: usize, field: ChannelField) -> String {
        let at = |field: &str| format!("channels[{channel}].{field}");
        match field {
            ChannelField::Name => at("name"),
            ChannelField::Peers => at("peers"),
            ChannelField::Peer(peer) => match self
                .channel_traces
                .get(channel)
                .and_then(|t| t.peers.get(peer))
            {
                Some(n) => at(&format!("peers[{n}]")),
                None => at("peers"),
            },
            ChannelField::Base => at("base"),
            ChannelField::CommonSize => at("common_size"),
            ChannelField::OutputSize => at("output_size"),
        }
    }

    /// The YAML path of CPU `cpu` of cell `cell`.
    pub(crate) fn cpu_path(&self, cell: usize, cpu: usize) -> String {
        match self
            .traces
            .get(cell)
            .and_then(|t| t.cpus.iter().find(|&&(c, _)| c == cpu))
        {
            Some(&(_, k)) => format!("cells[{cell}].cpus[{k}]"),
            None => format!("cells[{cell}].cpus"),
        }
    }

    /// The index in the YAML's `memory` of model region `region` of cell
    /// `cell`.
    pub(crate) fn memory_index(&self, cell: usize, region: usize) -> usize {
        self.traces
            .get(cell)
            .and_then(|t| t.memory.get(region))
            .copied()
            .unwrap_or(region)
    }

    /// The YAML path of region `region` of cell `cell`.
    pub(crate) fn memory_path(&self, cell: usize, region: usize) -> String {
        format!("cells[{cell}].memory[{}]", self.memory_index(cell, region))
    }

    /// The YAML path of the field that places region `region` of cell
    /// `cell` in the cell's address space: `guest_base` when written, else
    /// `base`.
    pub(crate) fn guest_path(&self, cell: usize, region: usize) -> String {
        let path = self.memory_path(cell, region);
        let explicit = self
            .raw
            .cells
            .get(cell)
            .and_then(|c| c.memory.get(self.memory_index(cell, region)))
            .is_some_and(|m| m.guest_base.is_some());
        if explicit {
            format!("{path}.guest_base")
        } else {
            format!("{path}.base")
        }
    }

    /// The YAML path of the `shared_with` entry of region `region` of cell
    /// `cell` that names cell `other`.
    pub(crate) fn shared_with_path(&self, cell: usize, region: usize, other: usize) -> String {
        let path = self.memory_path(cell, region);
        let entry = self
            .traces
            .get(cell)
            .and_then(|t| t.shared_with.get(region))
            .and_then(|s| s.iter().find(|&&(c, _)| c == other));
        match entry {
            Some(&(_, n)) => format!("{path}.shared_with[{n}]"),
            None => format!("{path}.shared_with"),
        }
    }

    /// The YAML path of device `device` of cell `cell`.
    pub(crate) fn device_path(&self, cell: usize, device: usize) -> String {
        let k = self
            .traces
            .get(cell)
            .and_then(|t| t.devices.get(device))
            .copied()
            .unwrap_or(device);
        format!("cells[{cell}].devices[{k}]")
    }

    /// The YAML path of the field that places image `image` of cell `cell`.
    pub(crate) fn image_path(&self, cell: usize, image: usize) -> String {
        match self.traces.get(cell).and_then(|t| t.images.get(image)) {
            Some(t) if t.explicit_load => format!("cells[{cell}].{}.load_address", t.field),
            Some(t) if t.generated => format!("cells[{cell}].{}", t.field),
            Some(t) => format!("cells[{cell}].{}.path", t.field),
            None => format!("cells[{cell}]"),
        }
    }

    /// `FIELD VALUE is not a multiple of 4 KiB`, at `{path}.{field}`, with
    /// the two closest values that are (sizes also in KiB, MiB, ...).
    pub(crate) fn unaligned(&self, path: &str, field: &str, value: u64) -> Diagnostic {
        let down = value & !(PAGE_SIZE - 1);
        let up = down.saturating_add(PAGE_SIZE);
        let shown = |v: u64| {
            if field.ends_with("size") {
                format!("{v:#x} ({})", super::show::human_size(v))
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
            Problem::Unaligned.code(),
            &format!("{path}.{field}"),
            format!("{field} {value:#x} is not a multiple of 4 KiB"),
        )
        .label("not 4 KiB aligned")
        .help(format!("the partitioner maps memory in 4 KiB pages; {fix}"))
    }

    /// The board's RAM, for a help: `0x40000000..0x80000000 (1 GiB), ...`.
    pub(crate) fn board_ram(&self) -> String {
        let ram: Vec<String> = self
            .board
            .ram
            .iter()
            .map(|r| format!("{} ({})", hex_range(r), super::show::human_size(r.size)))
            .collect();
        ram.join(", ")
    }

    /// `WHAT RANGE overlaps the partitioner's RAM`, at `path`, for a cell's
    /// region or a channel (`what`) of `range`.
    pub(crate) fn in_hypervisor_ram(
        &self,
        problem: Problem,
        path: &str,
        what: &str,
        range: &MemRange,
        reserved: &MemRange,
    ) -> Diagnostic {
        self.diagnostic(
            problem.code(),
            path,
            format!(
                "{what} {} overlaps the partitioner's RAM {}",
                hex_range(range),
                hex_range(reserved)
            ),
        )
        .label(hex_range(range))
        .help(self.hypervisor_ram_help(reserved, range.size))
    }

    /// `WHAT RANGE overlaps memory[k] of OWNER (ITS RANGE)`, at `path`,
    /// pointing also at region `region` of cell `cell` (which `owner`
    /// names, as `this cell` or `cell NAME`).
    pub(crate) fn overlaps_region(
        &self,
        problem: Problem,
        path: &str,
        what: &str,
        range: &MemRange,
        (cell, region): (usize, usize),
        owner: &str,
    ) -> Option<Diagnostic> {
        let other = self.system.cells.get(cell)?.memory.get(region)?.range;
        let other_path = self.memory_path(cell, region);
        Some(
            self.diagnostic(
                problem.code(),
                path,
                format!(
                    "{what} {} overlaps {} of {owner} ({})",
                    hex_range(range),
                    other_path.rsplit('.').next().unwrap_or(""),
                    hex_range(&other)
                ),
            )
            .label(hex_range(range))
            .also(
                self.span(&format!("{other_path}.base")),
                format!("{} of {}", hex_range(&other), self.cell_name(cell)),
            ),
        )
    }

    /// The help for memory that overlaps the partitioner's RAM
    /// `reserved` (a cell's region or a channel of `size` bytes): what the
    /// partitioner keeps it for and, when there is some, free RAM of that
    /// size.
    fn hypervisor_ram_help(&self, reserved: &MemRange, size: u64) -> String {
        let help = format!(
            "the partitioner keeps {} for its code, tables and the boot image",
            hex_range(reserved)
        );
        self.with_free_ram(help, size)
    }

    /// `help`, followed by where free RAM of `size` bytes starts, if there
    /// is room.
    pub(crate) fn with_free_ram(&self, help: String, size: u64) -> String {
        match self.free_ram(size) {
            Some(free) => format!("{help}; free RAM of this size starts at {free:#x}"),
            None => help,
        }
    }

    /// A start address for `size` bytes of free RAM, if there is room.
    fn free_ram(&self, size: u64) -> Option<u64> {
        let system = self.system;
        let mut taken: Vec<MemRange> = system
            .cells
            .iter()
            .flat_map(|c| c.memory.iter().map(|m| m.range))
            .collect();
        taken.extend(system.channels.iter().filter_map(rules::channel_region));
        taken.push(self.board.hypervisor_ram);
        for ram in self.board.ram {
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
                        let next = super::convert::align_up(end, PAGE_SIZE);
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
}

/// A name as written, quoted and made safe for a terminal.
fn quoted(name: &str) -> String {
    format!(
        "`{}`",
        super::show::sanitize(&name.chars().take(40).collect::<String>())
    )
}
