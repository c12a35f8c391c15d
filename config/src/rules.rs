//! The consistency rules of a partitioning, checked on the model.
//!
//! The host tool runs them after it has turned YAML into a [`System`] and
//! reports each [`Finding`] at its place in the file; the partitioner runs
//! them again on the decoded blob and refuses to start on any finding. Each
//! rule is checked once, here.
//!
//! [`warnings`] holds the advice that does not make a partitioning wrong
//! (a real-time cell next to a neighbour in one L2 cluster): the host tool
//! shows it and builds anyway.
//!
//! Addresses a cell names (image load addresses, the entry point, its
//! memory as it sees it) are guest-physical; the rules check them in the
//! cell's own address space. Whether two cells collide is decided on
//! physical ranges.

use crate::model::*;
use bsp::{Board, Intid, MemRange, VirtualPci};
use core::fmt;

/// Where in the system a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The `board` field.
    Board,
    /// The `cells` list as a whole.
    Cells,
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
}

/// What is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The config is for another board.
    WrongBoard,
    /// No cells at all.
    NoCells,
    /// Two cells have the same name; `other` is the first one.
    DuplicateName {
        /// Index of the cell that has the name first.
        other: usize,
    },
    /// A cell name is empty or has characters other than `[a-z0-9_-]`.
    BadName,
    /// The cell has no CPU.
    NoCpus,
    /// The CPU index is not on the board.
    NoSuchCpu {
        /// Number of CPUs the board has.
        board_cpus: usize,
    },
    /// The CPU belongs to another cell already.
    CpuTaken {
        /// Index of the cell that has it first.
        other: usize,
    },
    /// A base address or size is not a multiple of 4 KiB.
    Unaligned,
    /// A region has size zero.
    Empty,
    /// A memory region is not in the board's RAM.
    NotRam,
    /// A memory region overlaps the partitioner's own RAM.
    HypervisorRam {
        /// The partitioner's range.
        reserved: MemRange,
    },
    /// Two memory regions overlap, and they are not one region shared by
    /// the two cells (the same range, declared on both sides).
    MemoryOverlap {
        /// Cell of the other region.
        other_cell: usize,
        /// Index of the other region in that cell.
        other_region: usize,
    },
    /// A region says it is shared with its own cell.
    SharedWithSelf,
    /// A region is shared with a cell that does not exist.
    NoSuchCell,
    /// A region is shared with a cell that does not share it back: that
    /// cell has no region with the same range that names this cell.
    SharingNotDeclared {
        /// The other cell's region with the same range, if it has one.
        other_region: Option<usize>,
    },
    /// Two regions of a cell overlap in the cell's address space.
    GuestOverlap {
        /// Index of the other region in the cell.
        other_region: usize,
    },
    /// A region overlaps, in the cell's address space, the MMIO pages of
    /// one of the cell's devices.
    GuestDeviceOverlap {
        /// Index of the device in the cell.
        device: usize,
    },
    /// A region overlaps, in the cell's address space, the GIC that the
    /// partitioner emulates there.
    GuestGicOverlap,
    /// A region's guest range reaches past the stage-2 input space.
    GuestOutOfRange,
    /// A region is not identity-mapped, but the cell owns a device that
    /// masters DMA: without an IOMMU, the device would take the cell's
    /// addresses for physical ones.
    DmaNeedsIdentity {
        /// Index of the DMA-capable device in the cell.
        device: usize,
    },
    /// A device is given to two cells.
    DeviceTaken {
        /// Cell that has it first.
        other: usize,
    },
    /// The partitioner keeps this device for itself.
    DeviceReserved,
    /// The board has no device of that name.
    NoSuchDevice,
    /// The device's MMIO windows or interrupts are not the board's (a
    /// hand-made or corrupted config).
    DeviceMismatch,
    /// A device's MMIO shares a 4 KiB page with a device of another cell,
    /// so stage 2 cannot separate them.
    DevicePageShared {
        /// Cell of the other device.
        other_cell: usize,
        /// Index of the other device in that cell.
        other_device: usize,
    },
    /// A range of the cell's stage 2 ends beyond the IPA space the
    /// partitioner gives cells (`stage2::IPA_SPACE`).
    BeyondIpaSpace {
        /// Its guest-physical end.
        end: u64,
    },
    /// The cells' stage 2 needs more translation tables than the
    /// partitioner has (`stage2::CELL_TABLES`).
    TooManyTables {
        /// This cell's tables.
        cell_tables: usize,
        /// All cells' up to and with this one.
        total: usize,
        /// The pool.
        available: usize,
    },
    /// A device shares a 4 KiB page with the board's console UART, which
    /// the partitioner owns: stage 2 maps whole pages, so the cell would
    /// reach the console's registers too (LS1046A's DUART has uart0 and
    /// uart1 in one page).
    ConsolePageShared,
    /// A device shares its interrupt with the board's console UART, which
    /// the partitioner owns.
    ConsoleIrqShared {
        /// The interrupt.
        irq: Intid,
    },
    /// An interrupt is owned by two cells.
    IrqTaken {
        /// The interrupt.
        irq: Intid,
        /// Cell that owns it first.
        other: usize,
    },
    /// An image does not fit in any of the cell's memory regions.
    ImageOutsideRam,
    /// An image lies in a shared region, where reloading it would
    /// overwrite memory another cell uses.
    ImageInSharedRegion {
        /// Index of the region in the cell.
        region: usize,
    },
    /// Two images of a cell overlap.
    ImageOverlap {
        /// Index of the other image.
        other: usize,
    },
    /// The entry point is not inside a kernel image.
    EntryOutsideKernel,
    /// The console window overlaps the cell's RAM or a device.
    ConsoleOverlap,
    /// Two channels have the same name.
    ChannelNameTaken {
        /// Index of the channel that has the name first.
        other: usize,
    },
    /// A channel has fewer than two peers.
    TooFewPeers,
    /// A peer names a cell that does not exist.
    NoSuchPeerCell,
    /// A cell is two peers of one channel.
    PeerTwice {
        /// The cell's first peer id.
        first: usize,
    },
    /// A channel's memory overlaps a memory region of a cell.
    ChannelOverlapsMemory {
        /// The cell.
        cell: usize,
        /// Index of the region in that cell.
        region: usize,
    },
    /// Two channels' memory overlaps.
    ChannelOverlap {
        /// The channel that has the memory first.
        other: usize,
    },
    /// A peer's doorbell would be an interrupt past the board's spare
    /// SPIs ([`doorbell_spi`]).
    NoDoorbellSpi {
        /// The peer id.
        peer: usize,
        /// The interrupt the doorbell would be.
        irq: Intid,
    },
    /// The board has no virtual PCI host bridge (`virtual_pci` in its
    /// description), through which cells reach channels.
    NoVirtualPci,
    /// The channel's index is past the device numbers the board's virtual
    /// PCI windows have room for (the channel's index is its device
    /// number).
    NoVirtualPciDevice {
        /// Device numbers the windows hold.
        devices: usize,
    },
    /// The channel's memory, rounded up to a power of two (its BAR 2),
    /// is larger than a device's slot in the virtual PCI memory window.
    ChannelTooLarge {
        /// The BAR the channel needs.
        bar_size: u64,
        /// The slot.
        slot: u64,
    },
    /// A peer of a channel owns a device whose MMIO overlaps the virtual
    /// PCI windows, where the cell sees its channels.
    DeviceInVirtualPci {
        /// The first channel the cell is a peer of.
        channel: usize,
    },
    /// A peer of a channel sees one of its memory regions over the
    /// virtual PCI windows.
    MemoryInVirtualPci {
        /// The first channel the cell is a peer of.
        channel: usize,
    },
}

/// One violated rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Where.
    pub location: Location,
    /// What.
    pub problem: Problem,
}

/// Something legal that is probably not what the author wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concern {
    /// A real-time cell has a core in the same L2 cluster as a core of
    /// another cell, so that cell's memory traffic can evict its cache
    /// lines and delay it.
    SharedCluster {
        /// The real-time cell's core.
        cpu: usize,
        /// The other cell.
        other_cell: usize,
        /// The other cell's core.
        other_cpu: usize,
        /// The cluster both cores are in.
        cluster: u8,
    },
    /// A device of the cell has input clocks whose rate the board
    /// description does not state, so a generated device tree leaves them
    /// out and the cell's driver may not probe.
    ClockWithoutRate {
        /// The device's index in the cell's `devices`.
        device: usize,
        /// The first clock without a rate.
        clock: &'static str,
        /// How many of its clocks have no rate.
        count: usize,
    },
}

/// One piece of advice: where, and about what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub location: Location,
    /// What.
    pub concern: Concern,
}

impl fmt::Display for Concern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Concern::SharedCluster {
                cpu,
                other_cell,
                other_cpu,
                cluster,
            } => write!(
                f,
                "real-time CPU {cpu} shares L2 cluster {cluster} with CPU {other_cpu} of cell #{other_cell}"
            ),
            Concern::ClockWithoutRate {
                device,
                clock,
                count,
            } => write!(
                f,
                "device #{device} has {count} clock(s) without a known rate, the first `{clock}`"
            ),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::WrongBoard => write!(f, "the config is for another board"),
            Problem::NoCells => write!(f, "there are no cells"),
            Problem::DuplicateName { other } => {
                write!(f, "the name is already used by cell #{other}")
            }
            Problem::BadName => write!(
                f,
                "names must be 1 to 32 characters of a-z, 0-9, '-' and '_'"
            ),
            Problem::NoCpus => write!(f, "the cell has no CPU"),
            Problem::NoSuchCpu { board_cpus } => {
                write!(
                    f,
                    "the board has CPUs 0 to {}",
                    board_cpus.saturating_sub(1)
                )
            }
            Problem::CpuTaken { other } => write!(f, "the CPU already belongs to cell #{other}"),
            Problem::Unaligned => {
                write!(f, "addresses and sizes must be multiples of 4 KiB (0x1000)")
            }
            Problem::Empty => write!(f, "the size is zero"),
            Problem::NotRam => write!(f, "the region is not in the board's RAM"),
            Problem::HypervisorRam { reserved } => write!(
                f,
                "the region overlaps the partitioner's RAM {:#x}..{:#x}",
                reserved.base,
                reserved.end()
            ),
            Problem::MemoryOverlap {
                other_cell,
                other_region,
            } => {
                write!(
                    f,
                    "the region overlaps memory[{other_region}] of cell #{other_cell}"
                )
            }
            Problem::SharedWithSelf => write!(f, "a region cannot be shared with its own cell"),
            Problem::NoSuchCell => {
                write!(f, "the region is shared with a cell that does not exist")
            }
            Problem::SharingNotDeclared { other_region } => match other_region {
                Some(r) => write!(
                    f,
                    "memory[{r}] of the other cell does not share the region back"
                ),
                None => write!(f, "the other cell has no region with the same range"),
            },
            Problem::GuestOverlap { other_region } => write!(
                f,
                "the region overlaps memory[{other_region}] in the cell's address space"
            ),
            Problem::GuestDeviceOverlap { device } => write!(
                f,
                "the region overlaps devices[{device}] in the cell's address space"
            ),
            Problem::GuestGicOverlap => {
                write!(f, "the region overlaps the GIC in the cell's address space")
            }
            Problem::GuestOutOfRange => write!(
                f,
                "the region's guest range ends above {GUEST_ADDRESS_LIMIT:#x}"
            ),
            Problem::DmaNeedsIdentity { device } => write!(
                f,
                "the region is not identity-mapped, but devices[{device}] masters DMA"
            ),
            Problem::DeviceTaken { other } => {
                write!(f, "the device is already given to cell #{other}")
            }
            Problem::DeviceReserved => {
                write!(f, "the partitioner keeps this device (the board console)")
            }
            Problem::NoSuchDevice => write!(f, "the board has no device of that name"),
            Problem::DeviceMismatch => write!(
                f,
                "the device's MMIO windows or interrupts differ from the board description"
            ),
            Problem::DevicePageShared {
                other_cell,
                other_device,
            } => write!(
                f,
                "the device shares a 4 KiB page with devices[{other_device}] of cell #{other_cell}"
            ),
            Problem::BeyondIpaSpace { end } => write!(
                f,
                "its stage-2 mapping ends at {end:#x}, beyond the {} GiB of guest-physical space cells have",
                crate::stage2::IPA_SPACE >> 30
            ),
            Problem::TooManyTables {
                cell_tables,
                total,
                available,
            } => write!(
                f,
                "the cell's stage 2 needs {cell_tables} translation tables, which brings all cells to {total} of the partitioner's {available}"
            ),
            Problem::ConsolePageShared => write!(
                f,
                "the device shares a 4 KiB page with the board console, which the partitioner owns"
            ),
            Problem::ConsoleIrqShared { irq } => write!(
                f,
                "the device shares interrupt {irq} with the board console, which the partitioner owns"
            ),
            Problem::IrqTaken { irq, other } => {
                write!(f, "interrupt {irq} is already owned by cell #{other}")
            }
            Problem::ImageOutsideRam => write!(f, "the image does not fit in the cell's memory"),
            Problem::ImageInSharedRegion { region } => {
                write!(f, "the image lies in memory[{region}], which is shared")
            }
            Problem::ImageOverlap { other } => write!(f, "the image overlaps image #{other}"),
            Problem::EntryOutsideKernel => {
                write!(f, "the entry point is not inside the kernel image")
            }
            Problem::ConsoleOverlap => write!(
                f,
                "the console window overlaps the cell's memory or devices"
            ),
            Problem::ChannelNameTaken { other } => {
                write!(f, "the name is already used by channel #{other}")
            }
            Problem::TooFewPeers => write!(f, "a channel needs at least 2 peers"),
            Problem::NoSuchPeerCell => write!(f, "the peer is a cell that does not exist"),
            Problem::PeerTwice { first } => {
                write!(f, "the cell is already peer {first} of the channel")
            }
            Problem::ChannelOverlapsMemory { cell, region } => write!(
                f,
                "the channel's memory overlaps memory[{region}] of cell #{cell}"
            ),
            Problem::ChannelOverlap { other } => {
                write!(f, "the channel's memory overlaps channel #{other}")
            }
            Problem::NoDoorbellSpi { peer, irq } => write!(
                f,
                "peer {peer}'s doorbell would be interrupt {irq}, past the board's spare SPIs"
            ),
            Problem::NoVirtualPci => write!(
                f,
                "the board has no virtual PCI host bridge, so it cannot have channels"
            ),
            Problem::NoVirtualPciDevice { devices } => write!(
                f,
                "the board's virtual PCI bridge has room for {devices} channels"
            ),
            Problem::ChannelTooLarge { bar_size, slot } => write!(
                f,
                "the channel needs a BAR of {bar_size:#x} bytes, a virtual PCI slot holds {slot:#x}"
            ),
            Problem::DeviceInVirtualPci { channel } => write!(
                f,
                "the device overlaps the virtual PCI windows of channel #{channel}"
            ),
            Problem::MemoryInVirtualPci { channel } => write!(
                f,
                "the region overlaps the virtual PCI windows of channel #{channel} in the cell's address space"
            ),
        }
    }
}

/// Whether `name` is a valid cell or channel name.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

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
    check_stage2(system, board, report)
}

/// Everything [`check`] checks but the stage-2 plans.
fn check_layout(system: &System, board: &Board, mut report: impl FnMut(Finding)) -> usize {
    let mut count = 0;
    let mut emit = |location, problem| {
        count += 1;
        report(Finding { location, problem });
    };
    if system.board.as_str() != board.name {
        emit(Location::Board, Problem::WrongBoard);
    }
    if system.cells.is_empty() {
        emit(Location::Cells, Problem::NoCells);
    }
    for (i, cell) in system.cells.iter().enumerate() {
        let c = CellUnderCheck {
            system,
            board,
            i,
            cell,
        };
        check_cell_name(&c, &mut emit);
        check_cell_cpus(&c, &mut emit);
        check_cell_memory(&c, &mut emit);
        check_cell_guest_memory(&c, &mut emit);
        check_cell_devices(&c, &mut emit);
        check_cell_images(&c, &mut emit);
    }
    for (c, channel) in system.channels.iter().enumerate() {
        check_channel(system, board, c, channel, &mut emit);
    }
    if let Some(pci) = &board.virtual_pci {
        check_virtual_pci_windows(system, pci, &mut emit);
    }
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
}

/// Cell `i` of the config: its name, unique among the cells.
fn check_cell_name(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck {
        system, i, cell, ..
    } = c;
    if !is_valid_name(&cell.name) {
        emit(c.at(CellField::Name), Problem::BadName);
    }
    if let Some(other) = system.cells[..i].iter().position(|c| c.name == cell.name) {
        emit(c.at(CellField::Name), Problem::DuplicateName { other });
    }
}

/// Cell `i` of the config: its CPUs: on the board, and no other cell's.
fn check_cell_cpus(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck {
        system,
        board,
        i,
        cell,
    } = c;
    if cell.cpus.is_empty() {
        emit(c.at(CellField::Cpus), Problem::NoCpus);
    }
    for cpu in cell.cpus.iter() {
        if cpu >= board.cpus.len() {
            emit(
                c.at(CellField::Cpu(cpu)),
                Problem::NoSuchCpu {
                    board_cpus: board.cpus.len(),
                },
            );
        } else if let Some(other) = system.cells[..i].iter().position(|c| c.cpus.contains(cpu)) {
            emit(c.at(CellField::Cpu(cpu)), Problem::CpuTaken { other });
        }
    }
}

/// Cell `i` of the config: its memory's physical ranges, against the
/// board and the other cells, and what it shares.
fn check_cell_memory(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck {
        system,
        board,
        i,
        cell,
    } = c;
    for (r, region) in cell.memory.iter().enumerate() {
        let loc = c.at(CellField::Memory(r));
        let range = region.range;
        if range.size == 0 {
            emit(loc, Problem::Empty);
            continue;
        }
        if !aligned(&range) || !region.guest_base.is_multiple_of(PAGE_SIZE) {
            emit(loc, Problem::Unaligned);
        }
        if !board.is_ram(&range) {
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
        let earlier = system.cells[..=i]
            .iter()
            .enumerate()
            .flat_map(|(c, other)| {
                let limit = if c == i { r } else { other.memory.len() };
                other.memory[..limit]
                    .iter()
                    .enumerate()
                    .map(move |(o, m)| (c, o, m))
            });
        for (other_cell, other_region, m) in earlier {
            // One range mapped by two cells is a shared region when
            // either side says so; a side that does not say so back is
            // reported at the other's `shared_with` entry below.
            let shared = other_cell != i
                && m.range == range
                && (region.shared_with.contains(other_cell) || m.shared_with.contains(i));
            if m.range.overlaps(&range) && !shared {
                emit(
                    loc,
                    Problem::MemoryOverlap {
                        other_cell,
                        other_region,
                    },
                );
            }
        }
        for other in (0..MAX_CELLS).filter(|&c| region.shared_with.contains(c)) {
            let loc = c.at(CellField::SharedWith {
                region: r,
                cell: other,
            });
            if other == i {
                emit(loc, Problem::SharedWithSelf);
                continue;
            }
            let Some(other_cell) = system.cells.get(other) else {
                emit(loc, Problem::NoSuchCell);
                continue;
            };
            let same = other_cell.memory.iter().position(|m| m.range == range);
            match same {
                Some(k) if other_cell.memory[k].shared_with.contains(i) => {}
                Some(k) => emit(
                    loc,
                    Problem::SharingNotDeclared {
                        other_region: Some(k),
                    },
                ),
                // Both sides share, but the ranges differ: that is
                // the overlap reported above.
                None if other_cell
                    .memory
                    .iter()
                    .any(|m| m.range.overlaps(&range) && m.shared_with.contains(i)) => {}
                None => emit(loc, Problem::SharingNotDeclared { other_region: None }),
            }
        }
    }
}

/// Cell `i` of the config: its memory as the cell sees it.
fn check_cell_guest_memory(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck { board, cell, .. } = c;
    let dma_device = cell
        .devices
        .iter()
        .position(|d| board.device(&d.name).is_some_and(|known| known.dma));
    for (r, region) in cell.memory.iter().enumerate() {
        let loc = c.at(CellField::Memory(r));
        if region.range.size == 0 {
            continue;
        }
        let guest = region.guest_range();
        if region
            .guest_base
            .checked_add(region.range.size)
            .is_none_or(|end| end > GUEST_ADDRESS_LIMIT)
        {
            emit(loc, Problem::GuestOutOfRange);
        }
        // Regions whose physical ranges overlap are reported above.
        if let Some(other_region) = cell.memory[..r]
            .iter()
            .position(|m| m.guest_range().overlaps(&guest) && !m.range.overlaps(&region.range))
        {
            emit(loc, Problem::GuestOverlap { other_region });
        }
        if let Some(device) = cell.devices.iter().position(|d| {
            d.mmio
                .iter()
                .any(|window| page_span(window).overlaps(&guest))
        }) {
            emit(loc, Problem::GuestDeviceOverlap { device });
        }
        if guest.overlaps(&board.gic.distributor) || guest.overlaps(&board.gic.redistributors) {
            emit(loc, Problem::GuestGicOverlap);
        }
        if let (false, Some(device)) = (region.is_identity(), dma_device) {
            emit(loc, Problem::DmaNeedsIdentity { device });
        }
    }
}

/// Cell `i` of the config: its devices and their interrupts.
fn check_cell_devices(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck {
        system,
        board,
        i,
        cell,
    } = c;
    for (d, device) in cell.devices.iter().enumerate() {
        let loc = c.at(CellField::Device(d));
        if device.name.as_str() == board.console.device {
            emit(loc, Problem::DeviceReserved);
            continue;
        }
        match board.device(&device.name) {
            None => {
                emit(loc, Problem::NoSuchDevice);
                continue;
            }
            Some(known)
                if known.mmio != device.mmio.as_slice() || known.irqs != device.irqs.as_slice() =>
            {
                emit(loc, Problem::DeviceMismatch);
                continue;
            }
            Some(_) => {}
        }
        if let Some(other) = system.cells[..i]
            .iter()
            .position(|c| c.devices.iter().any(|o| o.name == device.name))
        {
            emit(loc, Problem::DeviceTaken { other });
            continue;
        }
        let console_page = page_span(&board.console.mmio);
        if device
            .mmio
            .iter()
            .any(|window| page_span(window).overlaps(&console_page))
        {
            emit(loc, Problem::ConsolePageShared);
        }
        if device.irqs.contains(&board.console.irq) {
            emit(
                loc,
                Problem::ConsoleIrqShared {
                    irq: board.console.irq,
                },
            );
        }
        'pages: for (other_cell, c) in system.cells[..i].iter().enumerate() {
            for (other_device, o) in c.devices.iter().enumerate() {
                let shares = device
                    .mmio
                    .iter()
                    .any(|a| o.mmio.iter().any(|b| page_span(a).overlaps(&page_span(b))));
                if shares && o.name != device.name {
                    emit(
                        loc,
                        Problem::DevicePageShared {
                            other_cell,
                            other_device,
                        },
                    );
                    break 'pages;
                }
            }
        }
        for &irq in &device.irqs {
            if let Some(other) = system.cells[..i].iter().position(|c| c.owns_irq(irq)) {
                emit(loc, Problem::IrqTaken { irq, other });
            }
        }
    }
}

/// Cell `i` of the config: its images, entry and console.
fn check_cell_images(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck { board, cell, .. } = c;
    for (m, image) in cell.images.iter().enumerate() {
        let loc = c.at(CellField::Image(m));
        let dest = image.destination();
        if !cell.memory.iter().any(|r| r.guest_range().covers(&dest)) {
            emit(loc, Problem::ImageOutsideRam);
        } else if let Some(region) = cell
            .memory
            .iter()
            .position(|r| r.is_shared() && r.guest_range().overlaps(&dest))
        {
            emit(loc, Problem::ImageInSharedRegion { region });
        }
        if let Some(other) = cell.images[..m]
            .iter()
            .position(|o| o.destination().overlaps(&dest))
        {
            emit(loc, Problem::ImageOverlap { other });
        }
    }
    let entry_ok = cell
        .images
        .iter()
        .any(|im| im.kind == ImageKind::Kernel && im.destination().contains(cell.entry));
    if !entry_ok {
        emit(c.at(CellField::Entry), Problem::EntryOutsideKernel);
    }
    if let Some(console) = cell.console {
        let window = console.window();
        let clash = console.base % PAGE_SIZE != 0
            || cell
                .memory
                .iter()
                .any(|m| m.guest_range().overlaps(&window))
            || cell
                .devices
                .iter()
                .filter(|d| d.name.as_str() != board.console.device)
                .any(|d| d.mmio.iter().any(|r| page_span(r).overlaps(&window)));
        if clash {
            emit(c.at(CellField::Console), Problem::ConsoleOverlap);
        }
    }
}

/// Channel `c`: its name, peers and doorbells, and its memory against
/// the board, the cells and the channels before it.
fn check_channel(
    system: &System,
    board: &Board,
    c: usize,
    channel: &Channel,
    emit: &mut impl FnMut(Location, Problem),
) {
    let at = |channel, field| Location::Channel { channel, field };
    if !is_valid_name(&channel.name) {
        emit(at(c, ChannelField::Name), Problem::BadName);
    }
    if let Some(other) = system.channels[..c]
        .iter()
        .position(|o| o.name == channel.name)
    {
        emit(
            at(c, ChannelField::Name),
            Problem::ChannelNameTaken { other },
        );
    }
    if channel.peers.len() < 2 {
        emit(at(c, ChannelField::Peers), Problem::TooFewPeers);
    }
    for (k, &cell) in channel.peers.iter().enumerate() {
        let loc = at(c, ChannelField::Peer(k));
        if cell as usize >= system.cells.len() {
            emit(loc, Problem::NoSuchPeerCell);
        } else if let Some(first) = channel.peers[..k].iter().position(|&p| p == cell) {
            emit(loc, Problem::PeerTwice { first });
        }
    }
    if let Some((peer, irq)) = (0..channel.peers.len())
        .map(|peer| (peer, doorbell_spi(board.spare_spis, c, peer)))
        .find(|&(_, irq)| !board.spare_spis.contains(irq))
    {
        emit(
            at(c, ChannelField::Peers),
            Problem::NoDoorbellSpi { peer, irq },
        );
    }
    match &board.virtual_pci {
        None => emit(at(c, ChannelField::Name), Problem::NoVirtualPci),
        Some(pci) if c >= pci.devices() => emit(
            at(c, ChannelField::Name),
            Problem::NoVirtualPciDevice {
                devices: pci.devices(),
            },
        ),
        Some(pci) => {
            let bar_size = channel_bar_size(channel);
            if bar_size.is_some_and(|size| size > pci.memory_slot) {
                emit(
                    at(c, ChannelField::OutputSize),
                    Problem::ChannelTooLarge {
                        bar_size: bar_size.unwrap_or(u64::MAX),
                        slot: pci.memory_slot,
                    },
                );
            }
        }
    }
    if !channel.base.is_multiple_of(PAGE_SIZE) {
        emit(at(c, ChannelField::Base), Problem::Unaligned);
    }
    if !channel.common_size.is_multiple_of(PAGE_SIZE) {
        emit(at(c, ChannelField::CommonSize), Problem::Unaligned);
    }
    if channel.output_size == 0 {
        emit(at(c, ChannelField::OutputSize), Problem::Empty);
    } else if !channel.output_size.is_multiple_of(PAGE_SIZE) {
        emit(at(c, ChannelField::OutputSize), Problem::Unaligned);
    }
    let loc = at(c, ChannelField::Base);
    let Some(range) = channel_region(channel) else {
        // Unaligned or empty, reported above; or past the end of the
        // address space.
        let pages = [channel.base, channel.common_size, channel.output_size]
            .iter()
            .all(|v| v.is_multiple_of(PAGE_SIZE));
        if pages && channel.output_size != 0 {
            emit(loc, Problem::NotRam);
        }
        return;
    };
    if !board.is_ram(&range) {
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
    for (cell, other) in system.cells.iter().enumerate() {
        if let Some(region) = other.memory.iter().position(|m| m.range.overlaps(&range)) {
            emit(loc, Problem::ChannelOverlapsMemory { cell, region });
        }
    }
    if let Some(other) = system.channels[..c]
        .iter()
        .position(|o| channel_region(o).is_some_and(|r| r.overlaps(&range)))
    {
        emit(loc, Problem::ChannelOverlap { other });
    }
}

/// The virtual PCI windows a peer cell sees its channels through: nothing
/// of the cell's own may be there.
fn check_virtual_pci_windows(
    system: &System,
    pci: &VirtualPci,
    emit: &mut impl FnMut(Location, Problem),
) {
    for (i, cell) in system.cells.iter().enumerate() {
        let Some(channel) = system
            .channels
            .iter()
            .position(|ch| ch.peer_of(i).is_some())
        else {
            continue;
        };
        let at = |field| Location::Cell { cell: i, field };
        for (r, region) in cell.memory.iter().enumerate() {
            if pci.overlaps(&region.guest_range()) {
                emit(
                    at(CellField::Memory(r)),
                    Problem::MemoryInVirtualPci { channel },
                );
            }
        }
        for (d, device) in cell.devices.iter().enumerate() {
            if device.mmio.iter().any(|w| pci.overlaps(&page_span(w))) {
                emit(
                    at(CellField::Device(d)),
                    Problem::DeviceInVirtualPci { channel },
                );
            }
        }
    }
}

/// The stage-2 plan of every cell: within the IPA space, and all cells'
/// tables within the partitioner's pool (reported once, at the cell where
/// the pool runs out, on its mapping that needs the most tables).
fn check_stage2(system: &System, board: &Board, mut report: impl FnMut(Finding)) -> usize {
    let mut count = 0;
    let mut emit = |location, problem| {
        count += 1;
        report(Finding { location, problem });
    };
    let mut total = 0;
    for i in 0..system.cells.len() {
        let location = |source| match source {
            crate::stage2::Source::Memory(n) => Location::Cell {
                cell: i,
                field: CellField::Memory(n),
            },
            crate::stage2::Source::Device(n) => Location::Cell {
                cell: i,
                field: CellField::Device(n),
            },
            crate::stage2::Source::Channel(channel) => Location::Channel {
                channel,
                field: ChannelField::Base,
            },
        };
        match crate::stage2::plan(system, board, i) {
            Err(crate::stage2::PlanError::BeyondIpaSpace { source, end }) => {
                emit(location(source), Problem::BeyondIpaSpace { end })
            }
            // Reported by the rules above; cannot happen here.
            Err(crate::stage2::PlanError::NotPages { .. }) => {}
            Ok(plan) => {
                let needed = crate::stage2::tables_needed(&plan);
                total += needed;
                if total > crate::stage2::CELL_TABLES {
                    if let Some(worst) = crate::stage2::largest_need(&plan) {
                        emit(
                            location(worst.source),
                            Problem::TooManyTables {
                                cell_tables: needed,
                                total,
                                available: crate::stage2::CELL_TABLES,
                            },
                        );
                    }
                    // Reported once, where the pool runs out.
                    break;
                }
            }
        }
    }
    count
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

/// Gives the advice for `system` on `board`, calling `report` for each
/// warning, in config order. Returns the number of warnings.
///
/// A real-time cell (in [`System::realtime`]) gets one warning for each
/// other cell that has a core in an L2 cluster of its own cores. Boards
/// whose description does not know the clusters get none. A device given
/// to a cell whose clocks have no rate in the board description gets one.
pub fn warnings(system: &System, board: &Board, mut report: impl FnMut(Warning)) -> usize {
    let cluster = |cpu: usize| board.cpus.get(cpu).and_then(|c| c.cluster);
    let mut count = 0;
    for (i, cell) in system.cells.iter().enumerate() {
        for (n, grant) in cell.devices.iter().enumerate() {
            let Some(device) = board.device(&grant.name) else {
                continue;
            };
            let mut unknown = device.clocks.iter().filter(|c| c.hz.is_none());
            if let Some(first) = unknown.next() {
                count += 1;
                report(Warning {
                    location: Location::Cell {
                        cell: i,
                        field: CellField::Device(n),
                    },
                    concern: Concern::ClockWithoutRate {
                        device: n,
                        clock: first.name,
                        count: 1 + unknown.count(),
                    },
                });
            }
        }
        if !system.realtime.contains(i) {
            continue;
        }
        for (other_cell, other) in system.cells.iter().enumerate() {
            if other_cell == i {
                continue;
            }
            let shared = cell.cpus.iter().find_map(|cpu| {
                let mine = cluster(cpu)?;
                other
                    .cpus
                    .iter()
                    .find(|&o| o != cpu && cluster(o) == Some(mine))
                    .map(|other_cpu| (cpu, other_cpu, mine))
            });
            if let Some((cpu, other_cpu, cluster)) = shared {
                count += 1;
                report(Warning {
                    location: Location::Cell {
                        cell: i,
                        field: CellField::Realtime,
                    },
                    concern: Concern::SharedCluster {
                        cpu,
                        other_cell,
                        other_cpu,
                        cluster,
                    },
                });
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use bsp::qemu_virt::BOARD;
    use heapless::Vec;

    fn region(base: u64, size: u64, access: Access) -> MemoryRegion {
        MemoryRegion {
            range: MemRange::new(base, size),
            guest_base: base,
            access,
            shared_with: CellSet::EMPTY,
        }
    }

    fn cell(n: &str, cpus: u64, base: u64) -> Cell {
        let mut memory = Vec::new();
        memory
            .push(region(base, 0x100_0000, Access::ReadWriteExecute))
            .unwrap();
        let mut images = Vec::new();
        images
            .push(Image {
                kind: ImageKind::Kernel,
                offset: 0x1000,
                size: 0x2000,
                load_address: base,
            })
            .unwrap();
        Cell {
            name: name(n).unwrap(),
            cpus: CpuSet::from_bits(cpus),
            memory,
            devices: Vec::new(),
            console: Some(Console {
                base: 0x0900_0000,
                irq: 96,
            }),
            images,
            entry: base,
            boot_argument: 0,
            on_fault: FaultPolicy::Stop,
        }
    }

    fn system(cells: &[Cell]) -> System {
        System {
            board: name("qemu-virt").unwrap(),
            cells: cells.iter().cloned().collect(),
            realtime: CellSet::EMPTY,
            direct_wfi: CellSet::EMPTY,
            channels: Vec::new(),
            icount_quantum_ns: 0,
        }
    }

    fn findings(s: &System) -> std::vec::Vec<Finding> {
        let mut v = std::vec::Vec::new();
        check(s, &BOARD, |f| v.push(f));
        v
    }

    fn device(n: &str) -> DeviceGrant {
        let d = BOARD.device(n).unwrap();
        DeviceGrant {
            name: name(n).unwrap(),
            mmio: d.mmio.iter().copied().collect(),
            irqs: d.irqs.iter().copied().collect(),
        }
    }

    #[test]
    fn a_good_system_has_no_findings() {
        let s = system(&[cell("a", 0b11, 0x5000_0000), cell("b", 0b1100, 0x6000_0000)]);
        assert_eq!(findings(&s), []);
    }

    #[test]
    fn shared_cpu_is_reported_on_the_second_cell() {
        let s = system(&[cell("a", 0b11, 0x5000_0000), cell("b", 0b110, 0x6000_0000)]);
        let f = findings(&s);
        assert_eq!(
            f,
            [Finding {
                location: Location::Cell {
                    cell: 1,
                    field: CellField::Cpu(1)
                },
                problem: Problem::CpuTaken { other: 0 }
            }]
        );
    }

    #[test]
    fn overlapping_memory_and_hypervisor_ram() {
        let s = system(&[
            cell("a", 1, 0x5000_0000),
            cell("b", 2, 0x5080_0000),
            cell("c", 4, 0x4800_0000),
        ]);
        let problems: std::vec::Vec<_> = findings(&s).iter().map(|f| f.problem).collect();
        assert!(problems.contains(&Problem::MemoryOverlap {
            other_cell: 0,
            other_region: 0
        }));
        assert!(problems.contains(&Problem::HypervisorRam {
            reserved: BOARD.hypervisor_ram
        }));
    }

    #[test]
    fn unaligned_empty_and_not_ram() {
        let mut c = cell("a", 1, 0x5000_0000);
        c.memory
            .push(region(0x6000_0800, 0x1000, Access::ReadWrite))
            .unwrap();
        c.memory
            .push(region(0x6100_0000, 0, Access::ReadWrite))
            .unwrap();
        c.memory
            .push(region(0x2000_0000, 0x1000, Access::ReadWrite))
            .unwrap();
        let problems: std::vec::Vec<_> =
            findings(&system(&[c])).iter().map(|f| f.problem).collect();
        assert_eq!(
            problems,
            [Problem::Unaligned, Problem::Empty, Problem::NotRam]
        );
    }

    #[test]
    fn devices_are_exclusive() {
        let mut a = cell("a", 1, 0x5000_0000);
        let mut b = cell("b", 2, 0x6000_0000);
        a.devices.push(device("virtio-mmio31")).unwrap();
        b.devices.push(device("virtio-mmio31")).unwrap();
        b.devices.push(device("virtio-mmio30")).unwrap();
        b.devices.push(device("uart0")).unwrap();
        let problems: std::vec::Vec<_> = findings(&system(&[a, b]))
            .iter()
            .map(|f| f.problem)
            .collect();
        assert_eq!(
            problems,
            [
                Problem::DeviceTaken { other: 0 },
                Problem::DevicePageShared {
                    other_cell: 0,
                    other_device: 0
                },
                Problem::DeviceReserved
            ]
        );
    }

    /// LS1046A's DUART: uart0 (the console) and uart1 sit in one 4 KiB
    /// page at 0x21c0500 and 0x21c0600 and share SPI 54. Modelled on QEMU
    /// virt by moving the console next to virtio-mmio31.
    #[test]
    fn a_device_in_the_consoles_page_or_on_its_interrupt_is_refused() {
        let mut board = BOARD;
        let uart1 = BOARD.device("virtio-mmio31").unwrap();
        board.console.mmio = MemRange::new(uart1.mmio[0].base - 0x100, 0x100);
        board.console.irq = uart1.irqs[0];
        let mut a = cell("a", 1, 0x5000_0000);
        a.devices.push(device("virtio-mmio31")).unwrap();
        let mut problems = std::vec::Vec::new();
        check(&system(&[a]), &board, |f| problems.push(f.problem));
        assert_eq!(
            problems,
            [
                Problem::ConsolePageShared,
                Problem::ConsoleIrqShared { irq: uart1.irqs[0] }
            ]
        );
        assert_eq!(
            Problem::ConsolePageShared.to_string(),
            "the device shares a 4 KiB page with the board console, which the partitioner owns"
        );
    }

    #[test]
    fn devices_must_be_the_boards() {
        let mut a = cell("a", 1, 0x5000_0000);
        let mut forged = device("virtio-mmio31");
        forged.mmio[0] = MemRange::new(0x0800_0000, 0x1_0000);
        a.devices.push(forged).unwrap();
        let mut unknown = device("rtc");
        unknown.name = name("nope").unwrap();
        a.devices.push(unknown).unwrap();
        let problems: std::vec::Vec<_> =
            findings(&system(&[a])).iter().map(|f| f.problem).collect();
        assert_eq!(problems, [Problem::DeviceMismatch, Problem::NoSuchDevice]);
    }

    #[test]
    fn shared_irq_is_reported() {
        let mut a = cell("a", 1, 0x5000_0000);
        let mut b = cell("b", 2, 0x6000_0000);
        a.devices.push(device("virtio-mmio0")).unwrap();
        // A board whose RTC shares virtio-mmio0's interrupt line.
        const SHARED: &[u32] = &[48];
        let mut devices = BOARD.devices.to_vec();
        let rtc = devices.iter_mut().find(|d| d.name == "rtc").unwrap();
        rtc.irqs = SHARED;
        let devices: &'static [bsp::Device] = devices.leak();
        let board = bsp::Board { devices, ..BOARD };
        let mut d = device("rtc");
        d.irqs[0] = 48;
        b.devices.push(d).unwrap();
        let mut problems = std::vec::Vec::new();
        check(&system(&[a, b]), &board, |f| problems.push(f.problem));
        assert_eq!(problems, [Problem::IrqTaken { irq: 48, other: 0 }]);
    }

    #[test]
    fn images_must_fit_and_entry_must_be_in_kernel() {
        let mut a = cell("a", 1, 0x5000_0000);
        a.images[0].size = 0x100_0001;
        a.entry = 0x5800_0000;
        let problems: std::vec::Vec<_> =
            findings(&system(&[a])).iter().map(|f| f.problem).collect();
        assert_eq!(
            problems,
            [Problem::ImageOutsideRam, Problem::EntryOutsideKernel]
        );
    }

    #[test]
    fn names_cpus_and_board() {
        let mut s = system(&[cell("A", 0, 0x5000_0000), cell("A", 1 << 9, 0x6000_0000)]);
        s.board = name("rpi4").unwrap();
        let problems: std::vec::Vec<_> = findings(&s).iter().map(|f| f.problem).collect();
        assert_eq!(
            problems,
            [
                Problem::WrongBoard,
                Problem::BadName,
                Problem::NoCpus,
                Problem::BadName,
                Problem::DuplicateName { other: 0 },
                Problem::NoSuchCpu { board_cpus: 4 }
            ]
        );
        assert_eq!(
            findings(&System {
                board: name("qemu-virt").unwrap(),
                cells: Vec::new(),
                realtime: CellSet::EMPTY,
                direct_wfi: CellSet::EMPTY,
                channels: Vec::new(),
                icount_quantum_ns: 0,
            })
            .len(),
            1
        );
    }

    fn problems(s: &System) -> std::vec::Vec<(Location, Problem)> {
        findings(s)
            .iter()
            .map(|f| (f.location, f.problem))
            .collect()
    }

    /// Cells `a` and `b` with a 2 MiB region at 0x7000_0000 each, shared
    /// with the other as `a_shares` and `b_shares` say.
    fn sharing(a_shares: u8, b_shares: u8) -> System {
        let mut a = cell("a", 1, 0x5000_0000);
        let mut b = cell("b", 2, 0x6000_0000);
        let mut shared = region(0x7000_0000, 0x20_0000, Access::ReadWrite);
        shared.shared_with = CellSet::from_bits(a_shares);
        a.memory.push(shared).unwrap();
        shared.shared_with = CellSet::from_bits(b_shares);
        b.memory.push(shared).unwrap();
        system(&[a, b])
    }

    #[test]
    fn a_region_declared_shared_on_both_sides_is_fine() {
        assert_eq!(findings(&sharing(0b10, 0b01)), []);
    }

    #[test]
    fn a_region_shared_without_either_side_saying_so_overlaps() {
        assert_eq!(
            problems(&sharing(0, 0)),
            [(
                Location::Cell {
                    cell: 1,
                    field: CellField::Memory(1)
                },
                Problem::MemoryOverlap {
                    other_cell: 0,
                    other_region: 1
                }
            )]
        );
    }

    #[test]
    fn sharing_must_be_declared_back() {
        // `a` shares with `b`; `b` maps the range but does not say so.
        assert_eq!(
            problems(&sharing(0b10, 0)),
            [(
                Location::Cell {
                    cell: 0,
                    field: CellField::SharedWith { region: 1, cell: 1 }
                },
                Problem::SharingNotDeclared {
                    other_region: Some(1)
                }
            )]
        );
        // `b` does not map the range at all.
        let mut s = sharing(0b10, 0);
        s.cells[1].memory.pop();
        assert_eq!(
            problems(&s),
            [(
                Location::Cell {
                    cell: 0,
                    field: CellField::SharedWith { region: 1, cell: 1 }
                },
                Problem::SharingNotDeclared { other_region: None }
            )]
        );
    }

    #[test]
    fn shared_regions_must_be_the_same_range() {
        let mut s = sharing(0b10, 0b01);
        s.cells[1].memory[1].range.size = 0x10_0000;
        s.cells[1].memory[1].guest_base = 0x7000_0000;
        assert_eq!(
            problems(&s),
            [(
                Location::Cell {
                    cell: 1,
                    field: CellField::Memory(1)
                },
                Problem::MemoryOverlap {
                    other_cell: 0,
                    other_region: 1
                }
            )]
        );
    }

    #[test]
    fn sharing_with_oneself_or_nobody() {
        let s = sharing(0b1000_0011, 0b01);
        let p: std::vec::Vec<_> = findings(&s).iter().map(|f| f.problem).collect();
        assert_eq!(p, [Problem::SharedWithSelf, Problem::NoSuchCell]);
    }

    #[test]
    fn images_stay_out_of_shared_regions() {
        let mut s = sharing(0b10, 0b01);
        s.cells[0].images[0].load_address = 0x7000_0000;
        s.cells[0].entry = 0x7000_0000;
        assert_eq!(
            problems(&s),
            [(
                Location::Cell {
                    cell: 0,
                    field: CellField::Image(0)
                },
                Problem::ImageInSharedRegion { region: 1 }
            )]
        );
    }

    #[test]
    fn guest_addresses_are_checked_in_the_cells_space() {
        // RAM at 0x5000_0000 seen at 0: the image, the entry and the console
        // are guest addresses.
        let mut a = cell("a", 1, 0);
        a.memory[0].range.base = 0x5000_0000;
        assert_eq!(findings(&system(&[a.clone()])), []);
        assert_eq!(
            a.physical(&MemRange::new(0x1000, 0x2000)),
            Some(MemRange::new(0x5000_1000, 0x2000))
        );
        assert_eq!(a.physical(&MemRange::new(0xff_f000, 0x2000)), None);

        // Two regions at one guest address; one over a device, the console
        // page and the GIC; one past the IPA space; one unaligned.
        let mut b = cell("b", 2, 0x6000_0000);
        b.devices.push(device("rtc")).unwrap();
        let mut over = region(0x6100_0000, 0x1000, Access::ReadWrite);
        over.guest_base = 0x6000_0000;
        b.memory.push(over).unwrap();
        let mut low = region(0x6200_0000, 0x200_0000, Access::ReadWrite);
        low.guest_base = 0x0800_0000;
        b.memory.push(low).unwrap();
        let mut high = region(0x6400_0000, 0x1000, Access::ReadWrite);
        high.guest_base = GUEST_ADDRESS_LIMIT;
        b.memory.push(high).unwrap();
        let mut odd = region(0x6500_0000, 0x1000, Access::ReadWrite);
        odd.guest_base = 0x10_0800;
        b.memory.push(odd).unwrap();
        let p: std::vec::Vec<_> = findings(&system(&[b])).iter().map(|f| f.problem).collect();
        assert_eq!(
            p,
            [
                Problem::Unaligned,
                Problem::GuestOverlap { other_region: 0 },
                Problem::GuestDeviceOverlap { device: 0 },
                Problem::GuestGicOverlap,
                Problem::GuestOutOfRange,
                Problem::ConsoleOverlap,
            ]
        );
    }

    #[test]
    fn dma_capable_devices_need_identity_mapped_ram() {
        let mut a = cell("a", 1, 0x5000_0000);
        a.devices.push(device("rtc")).unwrap();
        let mut moved = region(0x5800_0000, 0x1000, Access::ReadWrite);
        moved.guest_base = 0x5900_0000;
        a.memory.push(moved).unwrap();
        // The RTC does not master DMA.
        assert_eq!(findings(&system(&[a.clone()])), []);
        a.devices.push(device("virtio-mmio31")).unwrap();
        assert_eq!(
            problems(&system(&[a])),
            [(
                Location::Cell {
                    cell: 0,
                    field: CellField::Memory(1)
                },
                Problem::DmaNeedsIdentity { device: 1 }
            )]
        );
    }

    /// Cells `a` (0x5000_0000) and `b` (0x6000_0000) and a channel
    /// between them at 0x7000_0000: 4 KiB state table, 4 KiB common
    /// section, two 64 KiB output sections.
    fn with_channel() -> System {
        let mut s = system(&[cell("a", 1, 0x5000_0000), cell("b", 2, 0x6000_0000)]);
        s.channels
            .push(channel("link", 0x7000_0000, &[0, 1]))
            .unwrap();
        s
    }

    fn channel(n: &str, base: u64, peers: &[u8]) -> Channel {
        Channel {
            name: name(n).unwrap(),
            base,
            peers: Vec::from_slice(peers).unwrap(),
            common_size: 0x1000,
            output_size: 0x1_0000,
        }
    }

    fn at_channel(channel: usize, field: ChannelField) -> Location {
        Location::Channel { channel, field }
    }

    #[test]
    fn a_channel_between_two_cells_is_fine() {
        let s = with_channel();
        assert_eq!(findings(&s), []);
        let link = &s.channels[0];
        assert_eq!(
            channel_region(link),
            Some(MemRange::new(0x7000_0000, 0x2_2000))
        );
        assert_eq!(link.peer_of(1), Some(1));
        assert_eq!(link.peer_of(2), None);
    }

    #[test]
    fn a_channel_needs_two_distinct_existing_peers() {
        let mut s = with_channel();
        s.channels[0].peers = Vec::from_slice(&[1]).unwrap();
        assert_eq!(
            problems(&s),
            [(at_channel(0, ChannelField::Peers), Problem::TooFewPeers)]
        );
        s.channels[0].peers = Vec::from_slice(&[0, 1, 0, 7]).unwrap();
        assert_eq!(
            problems(&s),
            [
                (
                    at_channel(0, ChannelField::Peer(2)),
                    Problem::PeerTwice { first: 0 }
                ),
                (
                    at_channel(0, ChannelField::Peer(3)),
                    Problem::NoSuchPeerCell
                ),
            ]
        );
    }

    #[test]
    fn channel_names_are_checked_and_unique() {
        let mut s = with_channel();
        s.channels
            .push(channel("link", 0x7100_0000, &[1, 0]))
            .unwrap();
        s.channels
            .push(channel("Bad!", 0x7200_0000, &[0, 1]))
            .unwrap();
        assert_eq!(
            problems(&s),
            [
                (
                    at_channel(1, ChannelField::Name),
                    Problem::ChannelNameTaken { other: 0 }
                ),
                (at_channel(2, ChannelField::Name), Problem::BadName),
            ]
        );
    }

    #[test]
    fn a_channel_layout_is_whole_pages_with_output_sections() {
        let mut s = with_channel();
        s.channels[0].base += 0x800;
        s.channels[0].common_size = 0x800;
        s.channels[0].output_size = 0x1800;
        assert_eq!(
            problems(&s),
            [
                (at_channel(0, ChannelField::Base), Problem::Unaligned),
                (at_channel(0, ChannelField::CommonSize), Problem::Unaligned),
                (at_channel(0, ChannelField::OutputSize), Problem::Unaligned),
            ]
        );
        let mut s = with_channel();
        s.channels[0].output_size = 0;
        s.channels[0].common_size = 0;
        assert_eq!(
            problems(&s),
            [(at_channel(0, ChannelField::OutputSize), Problem::Empty)]
        );
        // A layout that wraps around the address space is nowhere in RAM.
        let mut s = with_channel();
        s.channels[0].output_size = 1 << 63;
        assert_eq!(
            problems(&s),
            [(at_channel(0, ChannelField::Base), Problem::NotRam)]
        );
    }

    #[test]
    fn channel_memory_is_the_channels_own() {
        let mut s = with_channel();
        // Past the end of RAM, over the partitioner, over cell b's memory,
        // over the first channel.
        s.channels
            .push(channel("high", 0xbfff_f000, &[0, 1]))
            .unwrap();
        s.channels
            .push(channel("low", 0x4fff_f000, &[0, 1]))
            .unwrap();
        s.channels
            .push(channel("twin", 0x7001_0000, &[1, 0]))
            .unwrap();
        s.channels[2].output_size = 0x40_0000;
        assert_eq!(
            problems(&s),
            [
                (at_channel(1, ChannelField::Base), Problem::NotRam),
                (
                    at_channel(2, ChannelField::Base),
                    Problem::HypervisorRam {
                        reserved: BOARD.hypervisor_ram
                    }
                ),
                (
                    at_channel(2, ChannelField::Base),
                    Problem::ChannelOverlapsMemory { cell: 0, region: 0 }
                ),
                (
                    at_channel(3, ChannelField::Base),
                    Problem::ChannelOverlap { other: 0 }
                ),
            ]
        );
        let mut s = with_channel();
        s.channels[0].base = 0x6080_0000;
        assert_eq!(
            problems(&s),
            [(
                at_channel(0, ChannelField::Base),
                Problem::ChannelOverlapsMemory { cell: 1, region: 0 }
            )]
        );
    }

    #[test]
    fn doorbells_follow_the_consoles_in_the_spare_spis() {
        let spare = BOARD.spare_spis;
        assert_eq!(doorbell_spi(spare, 0, 0), spare.first + MAX_CELLS as u32);
        assert_eq!(
            doorbell_spi(spare, 1, 3),
            spare.first + (MAX_CELLS + MAX_CHANNEL_PEERS + 3) as u32
        );
        // The last doorbell of the largest system fits qemu-virt.
        let last = doorbell_spi(spare, MAX_CHANNELS - 1, MAX_CHANNEL_PEERS - 1);
        assert!(spare.contains(last));
        // Far out of range, it saturates instead of wrapping.
        assert_eq!(doorbell_spi(spare, usize::MAX, 1), u32::MAX);

        // A board with ten spare SPIs: the consoles take eight, the first
        // channel's peers 0 and 1 get the other two, its peer 2 none.
        let mut s = with_channel();
        let mut b = cell("c", 4, 0x6800_0000);
        b.console = None;
        s.cells.push(b).unwrap();
        let small = bsp::Board {
            spare_spis: bsp::IntidRange {
                first: 96,
                count: 10,
            },
            ..BOARD
        };
        let mut found = std::vec::Vec::new();
        check(&s, &small, |f| found.push(f));
        assert_eq!(found, []);
        s.channels[0].peers.push(2).unwrap();
        let mut found = std::vec::Vec::new();
        check(&s, &small, |f| found.push((f.location, f.problem)));
        assert_eq!(
            found,
            [(
                at_channel(0, ChannelField::Peers),
                Problem::NoDoorbellSpi { peer: 2, irq: 106 }
            )]
        );
    }

    #[test]
    fn channels_need_a_virtual_pci_bridge_that_fits_them() {
        let s = with_channel();
        let bare = bsp::Board {
            virtual_pci: None,
            ..BOARD
        };
        let mut found = std::vec::Vec::new();
        check(&s, &bare, |f| found.push((f.location, f.problem)));
        assert_eq!(
            found,
            [(at_channel(0, ChannelField::Name), Problem::NoVirtualPci)]
        );

        // 4 KiB + 4 KiB + 2 x 16 MiB needs a 64 MiB BAR; a slot is 16 MiB.
        let mut s = with_channel();
        s.channels[0].output_size = 16 << 20;
        s.channels[0].base = 0x7100_0000;
        assert_eq!(channel_bar_size(&s.channels[0]), Some(64 << 20));
        assert_eq!(
            problems(&s),
            [(
                at_channel(0, ChannelField::OutputSize),
                Problem::ChannelTooLarge {
                    bar_size: 64 << 20,
                    slot: 16 << 20
                }
            )]
        );

        // Room for one device only: the second channel has no slot.
        let mut s = with_channel();
        s.channels
            .push(channel("more", 0x7100_0000, &[1, 0]))
            .unwrap();
        let pci = BOARD.virtual_pci.unwrap();
        let one = bsp::Board {
            virtual_pci: Some(bsp::VirtualPci {
                registers: MemRange::new(pci.registers.base, 0x1000),
                ..pci
            }),
            ..BOARD
        };
        let mut found = std::vec::Vec::new();
        check(&s, &one, |f| found.push((f.location, f.problem)));
        assert_eq!(
            found,
            [(
                at_channel(1, ChannelField::Name),
                Problem::NoVirtualPciDevice { devices: 1 }
            )]
        );
    }

    #[test]
    fn peers_keep_their_memory_and_devices_out_of_the_virtual_pci_windows() {
        let mut s = with_channel();
        s.cells[1].devices.push(device("pcie")).unwrap();
        s.cells[0].memory[0].guest_base = 0x2000_0000;
        s.cells[0].images[0].load_address = 0x2000_0000;
        s.cells[0].entry = 0x2000_0000;
        assert_eq!(
            problems(&s),
            [
                (
                    Location::Cell {
                        cell: 0,
                        field: CellField::Memory(0)
                    },
                    Problem::MemoryInVirtualPci { channel: 0 }
                ),
                (
                    Location::Cell {
                        cell: 1,
                        field: CellField::Device(0)
                    },
                    Problem::DeviceInVirtualPci { channel: 0 }
                ),
            ]
        );
        // A cell that is no peer may have them.
        s.channels[0].peers = Vec::from_slice(&[1, 2]).unwrap();
        let mut c = cell("c", 4, 0x6800_0000);
        c.console = None;
        s.cells.push(c).unwrap();
        s.cells[1].devices.clear();
        assert_eq!(problems(&s), []);
    }

    fn advice(s: &System, board: &bsp::Board) -> std::vec::Vec<Warning> {
        let mut v = std::vec::Vec::new();
        assert_eq!(warnings(s, board, |w| v.push(w)), v.len());
        v
    }

    #[test]
    fn a_realtime_cell_in_a_shared_cluster_is_warned_about() {
        let mut s = system(&[cell("rt", 0b1, 0x5000_0000), cell("b", 0b110, 0x6000_0000)]);
        assert_eq!(advice(&s, &BOARD), []);
        s.realtime = CellSet::from_bits(0b1);
        assert_eq!(
            advice(&s, &BOARD),
            [Warning {
                location: Location::Cell {
                    cell: 0,
                    field: CellField::Realtime
                },
                concern: Concern::SharedCluster {
                    cpu: 0,
                    other_cell: 1,
                    other_cpu: 1,
                    cluster: 0
                }
            }]
        );
        // A warning is not a finding: the partitioner boots it.
        assert_eq!(findings(&s), []);
    }

    #[test]
    fn clusters_decide_and_unknown_clusters_say_nothing() {
        const SPLIT: [bsp::Cpu; 4] = {
            let c = BOARD.cpus;
            [
                c[0],
                c[1],
                bsp::Cpu {
                    cluster: Some(1),
                    ..c[2]
                },
                bsp::Cpu {
                    cluster: Some(1),
                    ..c[3]
                },
            ]
        };
        const UNKNOWN: [bsp::Cpu; 4] = {
            let c = BOARD.cpus;
            [
                bsp::Cpu {
                    cluster: None,
                    ..c[0]
                },
                bsp::Cpu {
                    cluster: None,
                    ..c[1]
                },
                bsp::Cpu {
                    cluster: None,
                    ..c[2]
                },
                bsp::Cpu {
                    cluster: None,
                    ..c[3]
                },
            ]
        };
        let mut s = system(&[
            cell("rt", 0b11, 0x5000_0000),
            cell("b", 0b1100, 0x6000_0000),
        ]);
        s.realtime = CellSet::from_bits(0b1);
        let split = bsp::Board {
            cpus: &SPLIT,
            ..BOARD
        };
        assert_eq!(advice(&s, &split), []);
        let unknown = bsp::Board {
            cpus: &UNKNOWN,
            ..BOARD
        };
        assert_eq!(advice(&s, &unknown), []);
        assert_eq!(advice(&s, &BOARD).len(), 1);
    }
}
