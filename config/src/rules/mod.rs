//! The consistency rules of a partitioning, checked on the model.
//!
//! The host tool runs them after it has turned YAML into a [`System`] and
//! reports each [`Finding`] at its place in the file; the partitioner runs
//! them again on the decoded blob and refuses to start on any finding. Each
//! rule is checked once, here.
//!
//! [`warnings()`] holds the advice that does not make a partitioning wrong
//! (a real-time cell next to a neighbour in one L2 cluster): the host tool
//! shows it and builds anyway.
//!
//! Addresses a cell names (image load addresses, the entry point, its
//! memory as it sees it) are guest-physical; the rules check them in the
//! cell's own address space. Whether two cells collide is decided on
//! physical ranges.
//!
//! # One place per rule
//!
//! Each module below holds one concern: the check (its condition, `no_std`,
//! run by the tool and the partitioner) and, for the host tool only
//! (feature `std`), its `explain` function: the code, message, label and
//! help a user reads, at the YAML value the finding is about. Change a rule
//! and its words in one file. [`Problem`] lists every finding, with its
//! stable [`Problem::code`]; the partitioner logs that code.
//!
//! | Module | Checks |
//! |---|---|
//! | `names` | the board, that there are cells, cell names |
//! | `cpus` | a cell's CPUs: on the board, one cell each |
//! | `memory` | a cell's RAM, physical and as the cell sees it; sharing |
//! | `devices` | a cell's devices and their interrupts |
//! | `images` | a cell's images, entry point and virtual console |
//! | `interrupts` | how a cell's interrupts reach it: direct or virtualized |
//! | `watchdog` | a cell's watchdog: its page, timeout, and a core to notice it expire |
//! | `console_input` | that required console input has a core to take it |
//! | `channels` | IPC channels, and the virtual PCI windows their peers see them in |
//! | `stage2` | that each cell's stage 2 fits the IPA space and the table pool |
//! | `warnings` | the advice: shared L2 clusters, clocks without a rate |
//!
//! Some mistakes never reach the model, because the model cannot hold
//! them: a CPU listed twice (a cell's CPUs are a set), an unknown device or
//! cell name. The YAML conversion finds those; their words are in the
//! module of their concern all the same (`cpus::listed_twice`).

pub(crate) mod channels;
pub(crate) mod console_input;
pub(crate) mod cpus;
pub(crate) mod devices;
pub(crate) mod images;
pub(crate) mod interrupts;
pub(crate) mod memory;
pub(crate) mod names;
mod problem;
pub(crate) mod stage2;
#[cfg(test)]
mod tests;
pub(crate) mod warnings;
pub(crate) mod watchdog;

pub use problem::{Concern, Problem, Warning};
pub use warnings::warnings;

use crate::model::*;
use bsp::{Board, MemRange};

/// Where in the system a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The `board` field.
    Board,
    /// The `cells` list as a whole.
    Cells,
    /// The `console_input` field.
    ConsoleInput,
    /// A field of cell `cell` (index in `cells`).
    Cell {
        /// Index of the cell.
        cell: usize,
        /// Which field of the cell.
        field: CellField,
    },
    /// A field of channel `channel` (index in `channels`).
    Channel {
        /// Index of the channel.
        channel: usize,
        /// Which field of the channel.
        field: ChannelField,
    },
}

/// A field of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelField {
    /// `name`.
    Name,
    /// `peers` as a whole.
    Peers,
    /// `peers[n]`: peer id `n`.
    Peer(usize),
    /// `base`: where the channel's memory is.
    Base,
    /// `common_size`.
    CommonSize,
    /// `output_size`.
    OutputSize,
}

/// A field of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellField {
    /// `name`.
    Name,
    /// `cpus` as a whole.
    Cpus,
    /// The entry for physical CPU `n` in `cpus`.
    Cpu(usize),
    /// `memory[n]`.
    Memory(usize),
    /// The entry of `memory[region].shared_with` that names cell `cell`.
    SharedWith {
        /// Index of the region in the cell's memory.
        region: usize,
        /// Index of the cell the entry names.
        cell: usize,
    },
    /// `devices[n]`.
    Device(usize),
    /// `images[n]` (kernel, initrd, device tree in model order).
    Image(usize),
    /// `entry`.
    Entry,
    /// `console`.
    Console,
    /// `realtime`.
    Realtime,
    /// `interrupts`.
    Interrupts,
    /// `watchdog`.
    Watchdog,
}

/// One violated rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Where.
    pub location: Location,
    /// What.
    pub problem: Problem,
}

/// Whether `name` is a valid cell or channel name.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Whether `r` starts and ends on 4 KiB boundaries.
fn aligned(r: &MemRange) -> bool {
    r.base.is_multiple_of(PAGE_SIZE) && r.size.is_multiple_of(PAGE_SIZE)
}

/// The 4 KiB pages a range touches, as a page-aligned range.
pub fn page_span(r: &MemRange) -> MemRange {
    let base = r.base & !(PAGE_SIZE - 1);
    let end = r.end().saturating_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    MemRange::new(base, end - base)
}

/// Where a channel's memory is, when its layout is whole pages with
/// output sections: [`Channel::range`], or `None` when the layout is not
/// or the region would run past the end of the 64-bit address space.
pub fn channel_region(channel: &Channel) -> Option<MemRange> {
    let pages = channel.base.is_multiple_of(PAGE_SIZE)
        && channel.common_size.is_multiple_of(PAGE_SIZE)
        && channel.output_size.is_multiple_of(PAGE_SIZE)
        && channel.output_size != 0;
    let size = (channel.peers.len() as u64)
        .checked_mul(channel.output_size)?
        .checked_add(channel.common_size)?
        .checked_add(STATE_TABLE_SIZE)?;
    channel.base.checked_add(size)?;
    pages.then(|| channel.range())
}

/// Checks `system` against `board`, calling `report` for every finding, in
/// config order. Returns the number of findings. The cells' stage-2 plans
/// ([`crate::stage2`]) are checked last, and only when nothing else is
/// wrong (an unaligned region, say, is reported as such, not as a plan
/// that does not fit).
pub fn check(system: &System, board: &Board, mut report: impl FnMut(Finding)) -> usize {
    let count = check_layout(system, board, &mut report);
    if count > 0 {
        return count;
    }
    stage2::check(system, board, report)
}

/// Everything [`check`] checks but the stage-2 plans.
fn check_layout(system: &System, board: &Board, mut report: impl FnMut(Finding)) -> usize {
    let mut count = 0;
    let mut emit = |location, problem| {
        count += 1;
        report(Finding { location, problem });
    };
    names::check_system(system, board, &mut emit);
    for (i, cell) in system.cells.iter().enumerate() {
        let c = CellUnderCheck {
            system,
            board,
            i,
            cell,
        };
        names::check_cell(&c, &mut emit);
        cpus::check_cell(&c, &mut emit);
        memory::check_cell(&c, &mut emit);
        memory::check_cell_guest(&c, &mut emit);
        devices::check_cell(&c, &mut emit);
        images::check_cell(&c, &mut emit);
        interrupts::check_cell(&c, &mut emit);
        watchdog::check_cell(&c, &mut emit);
    }
    for (c, channel) in system.channels.iter().enumerate() {
        channels::check(system, board, c, channel, &mut emit);
    }
    if let Some(pci) = &board.virtual_pci {
        channels::check_virtual_pci_windows(system, pci, &mut emit);
    }
    console_input::check(system, board, &mut emit);
    count
}

/// One cell of the config, as the per-cell checks below see it.
#[derive(Clone, Copy)]
struct CellUnderCheck<'a> {
    system: &'a System,
    board: &'a Board,
    /// The cell's index in the config.
    i: usize,
    cell: &'a Cell,
}

impl CellUnderCheck<'_> {
    /// Where `field` of this cell is.
    fn at(&self, field: CellField) -> Location {
        Location::Cell {
            cell: self.i,
            field,
        }
    }

    /// Whether the cell's stage 2 maps something in `window`, a page the
    /// partitioner emulates for it: its RAM as it sees it, or the pages
    /// of its devices (but device `except`).
    fn maps_over(&self, window: &MemRange, except: Option<&str>) -> bool {
        self.cell
            .memory
            .iter()
            .any(|m| m.guest_range().overlaps(window))
            || self
                .cell
                .devices
                .iter()
                .filter(|d| Some(d.name.as_str()) != except)
                .any(|d| d.mmio.iter().any(|r| page_span(r).overlaps(window)))
    }
}

/// Memory at `range` (a cell's region or a channel's) must be the board's
/// RAM, outside the partitioner's.
fn check_in_free_ram(
    range: &MemRange,
    board: &Board,
    loc: Location,
    emit: &mut impl FnMut(Location, Problem),
) {
    if !board.is_ram(range) {
        emit(loc, Problem::NotRam);
    }
    if range.overlaps(&board.hypervisor_ram) {
        emit(
            loc,
            Problem::HypervisorRam {
                reserved: board.hypervisor_ram,
            },
        );
    }
}

/// The size of a channel's shared-memory BAR (BAR 2): its memory rounded
/// up to a power of two; `None` when that does not fit 64 bits.
pub fn channel_bar_size(channel: &Channel) -> Option<u64> {
    let outputs = channel
        .output_size
        .checked_mul(channel.peers.len() as u64)?;
    STATE_TABLE_SIZE
        .checked_add(channel.common_size)?
        .checked_add(outputs)?
        .checked_next_power_of_two()
}
