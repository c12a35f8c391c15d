//! What the rules find: every [`Problem`] that makes a partitioning wrong,
//! and every [`Concern`] the tool warns about, each with its stable code.

use super::Location;
use bsp::{Intid, MemRange};

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
    /// A device's MMIO shares a 4 KiB page with the registers of the
    /// board's IOMMU, which only the partitioner may reach.
    IommuPageShared,
    /// A device that masters DMA with no SMMU the partitioner drives in
    /// front of it, in a cell without `dma: unconfined`.
    UnconfinedDma,
    /// A device's stream IDs at the SMMU overlap those of a device of
    /// another cell, so the SMMU cannot tell their DMA apart.
    StreamTaken {
        /// Cell of the other device.
        other_cell: usize,
        /// Index of the other device in that cell.
        other_device: usize,
    },
    /// A device whose DMA the SMMU confines, in a config with no core
    /// where the partitioner takes interrupts of its own: its faults
    /// would be blocked but neither reported nor acted on.
    DmaWithoutHousekeeper,
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
    /// A `realtime` cell asks for virtualized interrupts.
    RealtimeVirtualized,
    /// Virtualized interrupts on a board whose GICv2 description gives no
    /// virtual interface (`GICH`, `GICV`).
    VirtualizedWithoutVirtualInterface,
    /// A watchdog timeout outside what the emulated SP805 counts.
    WatchdogTimeout,
    /// A watchdog page that is unaligned or overlaps something the cell
    /// sees (its RAM, devices, console, the GIC, virtual PCI windows).
    WatchdogPlace,
    /// A watchdog in a config with no core where the partitioner takes
    /// interrupts of its own ([`crate::housekeeping`]).
    WatchdogWithoutHousekeeper,
    /// A watchdog in the latency lab, whose quantum has EL2's timer.
    WatchdogInLatencyLab,
    /// `console_input: required` in a config with no core where the
    /// partitioner takes interrupts of its own.
    ConsoleInputWithoutHousekeeper,
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
    /// A peer's doorbell would be a spare SPI past the board's last
    /// ([`doorbell_spi`](crate::model::doorbell_spi)).
    NoDoorbellSpi {
        /// The peer id.
        peer: usize,
        /// The number of the spare SPI the doorbell would be (counting
        /// from 0 through the board's runs of spare SPIs).
        spare: usize,
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

impl Problem {
    /// The problem's stable identifier, like `config::cpu_taken`: the code
    /// of the tool's diagnostic and of the partitioner's log line. Related
    /// problems share one (three kinds of overlap in a cell's address
    /// space are all `config::guest_overlap`).
    pub const fn code(&self) -> &'static str {
        match self {
            Problem::WrongBoard => "config::wrong_board",
            Problem::NoCells => "config::no_cells",
            Problem::DuplicateName { .. } | Problem::ChannelNameTaken { .. } => {
                "config::duplicate_name"
            }
            Problem::BadName => "config::bad_name",
            Problem::NoCpus => "config::no_cpus",
            Problem::NoSuchCpu { .. } => "config::no_such_cpu",
            Problem::CpuTaken { .. } => "config::cpu_taken",
            Problem::Unaligned => "config::unaligned",
            Problem::Empty => "config::empty",
            Problem::NotRam => "config::not_ram",
            Problem::HypervisorRam { .. } => "config::hypervisor_ram",
            Problem::MemoryOverlap { .. }
            | Problem::ChannelOverlapsMemory { .. }
            | Problem::ChannelOverlap { .. } => "config::memory_overlap",
            Problem::SharedWithSelf => "config::shared_with_self",
            Problem::NoSuchCell | Problem::NoSuchPeerCell => "config::unknown_cell",
            Problem::SharingNotDeclared { .. } => "config::sharing_not_declared",
            Problem::GuestOverlap { .. }
            | Problem::GuestDeviceOverlap { .. }
            | Problem::GuestGicOverlap => "config::guest_overlap",
            Problem::GuestOutOfRange => "config::guest_out_of_range",
            Problem::DmaNeedsIdentity { .. } => "config::dma_needs_identity",
            Problem::DeviceTaken { .. } => "config::device_taken",
            Problem::DeviceReserved => "config::device_reserved",
            Problem::NoSuchDevice => "config::unknown_device",
            Problem::DeviceMismatch => "config::device_mismatch",
            Problem::DevicePageShared { .. } => "config::device_page_shared",
            Problem::UnconfinedDma => "config::unconfined_dma",
            Problem::IommuPageShared => "config::iommu_page_shared",
            Problem::StreamTaken { .. } => "config::stream_taken",
            Problem::DmaWithoutHousekeeper => "config::dma_needs_el2_interrupts",
            Problem::BeyondIpaSpace { .. } | Problem::TooManyTables { .. } => "config::stage2",
            Problem::ConsolePageShared => "config::console_page_shared",
            Problem::ConsoleIrqShared { .. } => "config::console_irq_shared",
            Problem::IrqTaken { .. } => "config::irq_taken",
            Problem::ImageOutsideRam => "config::image_outside_ram",
            Problem::ImageInSharedRegion { .. } => "config::image_in_shared_region",
            Problem::ImageOverlap { .. } => "config::image_overlap",
            Problem::EntryOutsideKernel => "config::entry_outside_kernel",
            Problem::ConsoleOverlap => "config::console_overlap",
            Problem::RealtimeVirtualized => "config::realtime_virtualized",
            Problem::VirtualizedWithoutVirtualInterface => {
                "config::virtualized_needs_virtual_interface"
            }
            Problem::WatchdogTimeout => "config::watchdog_timeout",
            Problem::WatchdogPlace => "config::watchdog_place",
            Problem::WatchdogWithoutHousekeeper => "config::watchdog_needs_el2_interrupts",
            Problem::WatchdogInLatencyLab => "config::watchdog_in_latency_lab",
            Problem::ConsoleInputWithoutHousekeeper => "config::console_input_needs_el2_interrupts",
            Problem::TooFewPeers => "config::too_few_peers",
            Problem::PeerTwice { .. } => "config::cell_listed_twice",
            Problem::NoDoorbellSpi { .. } => "config::no_spare_spi",
            Problem::NoVirtualPci | Problem::NoVirtualPciDevice { .. } => "config::no_virtual_pci",
            Problem::ChannelTooLarge { .. } => "config::channel_too_large",
            Problem::DeviceInVirtualPci { .. } | Problem::MemoryInVirtualPci { .. } => {
                "config::virtual_pci_overlap"
            }
        }
    }
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
    /// A cell runs on cores of different types (big.LITTLE).
    MixedCoreTypes {
        /// The cell's first core.
        cpu: usize,
        /// A core of another type.
        other_cpu: usize,
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

impl Concern {
    /// The concern's stable identifier, like `config::clock_without_rate`.
    pub const fn code(&self) -> &'static str {
        match self {
            Concern::SharedCluster { .. } => "config::realtime_shared_cluster",
            Concern::MixedCoreTypes { .. } => "config::mixed_core_types",
            Concern::ClockWithoutRate { .. } => "config::clock_without_rate",
        }
    }
}
