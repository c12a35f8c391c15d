//! The validated partitioning, as the partitioner uses it.
//!
//! Every collection has a fixed capacity: these counts size the
//! partitioner's static tables.

use bsp::{Intid, MemRange, SpareSpis};
use core::fmt;
use heapless::{String, Vec};

/// Most cells one system can have.
pub const MAX_CELLS: usize = 8;
/// Most CPUs a board can have (the width of [`CpuSet`]).
pub const MAX_CPUS: usize = 64;
/// Most memory regions per cell.
pub const MAX_CELL_MEMORY: usize = 8;
/// Most devices per cell.
pub const MAX_CELL_DEVICES: usize = 16;
/// Most MMIO windows per device.
pub const MAX_DEVICE_MMIO: usize = 4;
/// Most interrupts per device.
pub const MAX_DEVICE_IRQS: usize = 4;
/// Most images (kernel, initrd, device tree, …) per cell.
pub const MAX_CELL_IMAGES: usize = 4;
/// Most shared-memory channels one system can have.
pub const MAX_CHANNELS: usize = 8;
/// Most cells one channel connects (its peers).
pub const MAX_CHANNEL_PEERS: usize = 4;
/// Longest name, in bytes.
pub const MAX_NAME: usize = 32;
/// Smallest unit of memory the partitioner maps.
pub const PAGE_SIZE: u64 = 4096;
/// Bytes of a channel's state table: one page, at the channel's base.
pub const STATE_TABLE_SIZE: u64 = PAGE_SIZE;
/// One past the highest guest-physical address a cell can use: stage 2
/// translates a 39-bit intermediate physical address space.
pub const GUEST_ADDRESS_LIMIT: u64 = 1 << 39;

/// A cell or device name.
pub type Name = String<MAX_NAME>;

/// A set of physical CPU indices (positions in the board's CPU list).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuSet(u64);

impl CpuSet {
    /// The empty set.
    pub const EMPTY: CpuSet = CpuSet(0);

    /// Builds a set from its bit mask (bit `n` is CPU `n`).
    pub const fn from_bits(bits: u64) -> Self {
        CpuSet(bits)
    }

    /// The bit mask.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Adds `cpu`; returns false when it is out of range.
    pub fn insert(&mut self, cpu: usize) -> bool {
        if cpu >= MAX_CPUS {
            return false;
        }
        self.0 |= 1 << cpu;
        true
    }

    /// Whether `cpu` is in the set.
    pub const fn contains(self, cpu: usize) -> bool {
        cpu < MAX_CPUS && self.0 & (1 << cpu) != 0
    }

    /// Number of CPUs in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The CPUs, lowest first. The n-th CPU runs the cell's virtual CPU n.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..MAX_CPUS).filter(move |&cpu| self.contains(cpu))
    }

    /// Physical CPU running virtual CPU `vcpu`.
    pub fn nth(self, vcpu: usize) -> Option<usize> {
        self.iter().nth(vcpu)
    }

    /// Virtual CPU number of physical CPU `cpu`, if it is in the set.
    pub fn position(self, cpu: usize) -> Option<usize> {
        self.iter().position(|c| c == cpu)
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// What a cell may do with a memory region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read, write and execute (ordinary RAM).
    ReadWriteExecute,
    /// Read and write, never execute.
    ReadWrite,
    /// Read only.
    ReadOnly,
}

/// A set of cells, by index in [`System::cells`] (bit `n` is cell `n`).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct CellSet(u8);

impl CellSet {
    /// The empty set.
    pub const EMPTY: CellSet = CellSet(0);

    /// Builds a set from its bit mask (bit `n` is cell `n`).
    pub const fn from_bits(bits: u8) -> Self {
        CellSet(bits)
    }

    /// The bit mask.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Adds `cell`; returns false when it is out of range.
    pub fn insert(&mut self, cell: usize) -> bool {
        if cell >= MAX_CELLS {
            return false;
        }
        self.0 |= 1 << cell;
        true
    }

    /// Whether `cell` is in the set.
    pub const fn contains(self, cell: usize) -> bool {
        cell < MAX_CELLS && self.0 & (1 << cell) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The cells, lowest index first.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..MAX_CELLS).filter(move |&cell| self.contains(cell))
    }
}

impl fmt::Debug for CellSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A region of RAM mapped into a cell: physical memory `range`, seen by the
/// cell at `guest_base`. Regions are usually identity-mapped (`guest_base
/// == range.base`); a cell that owns a DMA-capable device must be, because
/// without an IOMMU the device uses the cell's addresses as physical ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// The physical range.
    pub range: MemRange,
    /// Where the cell sees the range: its intermediate physical address.
    pub guest_base: u64,
    /// The cell's permissions.
    pub access: Access,
    /// The other cells that map the same physical range. Sharing is
    /// declared on both sides: each of them has a region with the same
    /// range that names this cell.
    pub shared_with: CellSet,
}

impl MemoryRegion {
    /// The range as the cell sees it.
    pub const fn guest_range(&self) -> MemRange {
        MemRange::new(self.guest_base, self.range.size)
    }

    /// Whether the cell sees the region at its physical address.
    pub const fn is_identity(&self) -> bool {
        self.guest_base == self.range.base
    }

    /// Whether other cells map the region too.
    pub const fn is_shared(&self) -> bool {
        !self.shared_with.is_empty()
    }
}

/// A board device given to a cell, with its MMIO and interrupts resolved
/// from the board description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceGrant {
    /// The board's name for the device.
    pub name: Name,
    /// MMIO windows, mapped into the cell's stage 2 (whole pages).
    pub mmio: Vec<MemRange, MAX_DEVICE_MMIO>,
    /// Interrupts the cell owns with the device.
    pub irqs: Vec<Intid, MAX_DEVICE_IRQS>,
}

/// What an image is, for the boot summary and the boot protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// Code the cell's boot CPU enters.
    Kernel,
    /// An initial RAM file system.
    Initrd,
    /// A flattened device tree (passed in `x0`).
    DeviceTree,
}

/// A blob that the partitioner copies from the boot image into the cell's
/// RAM each time the cell starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image {
    /// What the image is.
    pub kind: ImageKind,
    /// Offset of the image's bytes from the start of the config blob.
    pub offset: u64,
    /// Length in bytes.
    pub size: u64,
    /// Guest-physical address in the cell's RAM where it is copied (see
    /// [`Cell::physical`] for where that is in the board's RAM).
    pub load_address: u64,
}

impl Image {
    /// Where the image lands in the cell's RAM, as the cell sees it.
    pub const fn destination(&self) -> MemRange {
        MemRange::new(self.load_address, self.size)
    }
}

/// The virtual PL011 each cell gets as its console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Console {
    /// Guest-physical address of the emulated UART (one page).
    pub base: u64,
    /// The UART's interrupt: a spare SPI of the board ([`console_spi`]),
    /// which no board device uses. The spare SPIs after the consoles' are
    /// the channels' doorbells ([`doorbell_spi`]). A generated device tree
    /// gives it to the cell's PL011 node.
    pub irq: Intid,
}

impl Console {
    /// The page the emulated UART occupies.
    pub const fn window(&self) -> MemRange {
        MemRange::new(self.base, PAGE_SIZE)
    }
}

/// The doorbell interrupt of peer `peer` of channel `channel` (index in
/// [`System::channels`]): a spare SPI of the board, after the
/// [`MAX_CELLS`] that the cells' consoles take (see [`Console::irq`]):
/// spare SPI number `MAX_CELLS + channel * MAX_CHANNEL_PEERS + peer`
/// ([`SpareSpis::nth`]).
///
/// `None` when the board has fewer spare SPIs than that; the rules refuse
/// a system with such a doorbell.
pub fn doorbell_spi(spare: SpareSpis, channel: usize, peer: usize) -> Option<Intid> {
    spare.nth(doorbell_spare_number(channel, peer)?)
}

/// Which spare SPI (counting from 0 through the board's runs) is the
/// doorbell of peer `peer` of channel `channel`: `MAX_CELLS + channel *
/// MAX_CHANNEL_PEERS + peer`; `None` past `usize`.
pub fn doorbell_spare_number(channel: usize, peer: usize) -> Option<usize> {
    channel
        .checked_mul(MAX_CHANNEL_PEERS)?
        .checked_add(peer)?
        .checked_add(MAX_CELLS)
}

/// The console interrupt of cell `cell` (index in [`System::cells`]):
/// spare SPI number `cell` ([`SpareSpis::nth`]); `None` when the board has
/// too few.
pub fn console_spi(spare: SpareSpis, cell: usize) -> Option<Intid> {
    spare.nth(cell)
}

/// What the partitioner does when a cell faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPolicy {
    /// Park the cell's cores until the board restarts.
    Stop,
    /// Reload the cell's images and start it again.
    Restart,
}

/// One partition: its cores, memory, devices and boot images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// Unique name, shown in logs and console prefixes.
    pub name: Name,
    /// Physical CPUs; the lowest boots the cell as virtual CPU 0.
    pub cpus: CpuSet,
    /// RAM regions.
    pub memory: Vec<MemoryRegion, MAX_CELL_MEMORY>,
    /// Passed-through devices.
    pub devices: Vec<DeviceGrant, MAX_CELL_DEVICES>,
    /// The emulated console, if any.
    pub console: Option<Console>,
    /// Images copied into RAM at each start.
    pub images: Vec<Image, MAX_CELL_IMAGES>,
    /// Guest-physical entry point of virtual CPU 0.
    pub entry: u64,
    /// Value of `x0` at entry (the device tree's address for Linux).
    pub boot_argument: u64,
    /// Reaction to a fault.
    pub on_fault: FaultPolicy,
    /// The cell's watchdog, if it has one.
    pub watchdog: Option<Watchdog>,
}

/// A cell's watchdog: an emulated Arm SP805 (`arm,sp805`) that the
/// partitioner arms when the cell starts and acts on when it expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watchdog {
    /// Guest-physical address of the emulated SP805 (one page).
    pub base: u64,
    /// How long the cell may go without petting it, in ms: the timeout it
    /// starts with, and the one its device tree suggests (`timeout-sec`).
    pub timeout_ms: u32,
    /// What the partitioner does to the cell when it expires.
    pub action: FaultPolicy,
}

impl Watchdog {
    /// Shortest timeout a config may give.
    pub const MIN_TIMEOUT_MS: u32 = 100;
    /// Longest timeout a config may give: what an SP805 counts at
    /// [`Self::CLOCK_HZ`], about 357 s, rounded down.
    pub const MAX_TIMEOUT_MS: u32 = 300_000;
    /// The clock the emulated SP805 counts at (`WDOGCLK`), as a generated
    /// device tree gives it to the cell (its fixed clock, which the
    /// emulated PL011 shares).
    pub const CLOCK_HZ: u64 = 24_000_000;

    /// The page the emulated SP805 occupies.
    pub const fn window(&self) -> MemRange {
        MemRange::new(self.base, PAGE_SIZE)
    }
}

impl Cell {
    /// Whether the cell owns interrupt `intid` through one of its devices.
    pub fn owns_irq(&self, intid: Intid) -> bool {
        self.devices.iter().any(|d| d.irqs.contains(&intid))
    }

    /// The physical range behind the guest range `guest`, when it lies
    /// inside one memory region of the cell.
    pub fn physical(&self, guest: &MemRange) -> Option<MemRange> {
        let region = self.memory.iter().find(|m| m.guest_range().covers(guest))?;
        let base = region
            .range
            .base
            .checked_add(guest.base - region.guest_base)?;
        Some(MemRange::new(base, guest.size))
    }
}

/// A shared-memory channel between cells, modelled on Jailhouse's
/// ivshmem-v2: one region of physical RAM that belongs to no cell's
/// memory, laid out as
///
/// ```text
/// offset                                      bytes             section         peers may
/// 0                                           STATE_TABLE_SIZE  state table     read
/// STATE_TABLE_SIZE                            common_size       common          read and write
/// STATE_TABLE_SIZE + common_size + k * output_size
///                                             output_size       output of peer k  peer k writes, the others read
/// ```
///
/// The partitioner writes each peer's state into the state table. Peer
/// `k` rings the others through the doorbell [`doorbell_spi`] gives it.
/// The methods saturate instead of overflowing: a range that would wrap
/// ends at `u64::MAX`, which the rules reject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Unique among the channels.
    pub name: Name,
    /// Physical address of the channel's memory, 4 KiB-aligned.
    pub base: u64,
    /// The peers' cells (indices in [`System::cells`]); a cell's position
    /// in the list is its peer id.
    pub peers: Vec<u8, MAX_CHANNEL_PEERS>,
    /// Bytes of the common section: whole pages, may be 0.
    pub common_size: u64,
    /// Bytes of each peer's output section: whole pages, not 0.
    pub output_size: u64,
}

impl Channel {
    /// The whole region: state table, common section and every output
    /// section.
    pub fn range(&self) -> MemRange {
        let outputs = self.output_size.saturating_mul(self.peers.len() as u64);
        let size = STATE_TABLE_SIZE
            .saturating_add(self.common_size)
            .saturating_add(outputs);
        MemRange::new(self.base, size)
    }

    /// The state table, read-only for every peer.
    pub const fn state_table(&self) -> MemRange {
        MemRange::new(self.base, STATE_TABLE_SIZE)
    }

    /// The common section, read-write for every peer (empty when
    /// `common_size` is 0).
    pub const fn common(&self) -> MemRange {
        MemRange::new(self.base.saturating_add(STATE_TABLE_SIZE), self.common_size)
    }

    /// The output section of peer `peer`: read-write for that peer,
    /// read-only for the others.
    pub const fn output(&self, peer: usize) -> MemRange {
        let before = self.output_size.saturating_mul(peer as u64);
        let base = self.common().end().saturating_add(before);
        MemRange::new(base, self.output_size)
    }

    /// The peer id of cell `cell`, if it is a peer of the channel.
    pub fn peer_of(&self, cell: usize) -> Option<usize> {
        self.peers.iter().position(|&p| p as usize == cell)
    }
}

/// A whole partitioning of one board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct System {
    /// The board's name (must match the partitioner's board).
    pub board: Name,
    /// The cells, in config order.
    pub cells: Vec<Cell, MAX_CELLS>,
    /// The cells that asked to be treated as real-time (`realtime: true`):
    /// the host tool warns when they share an L2 cluster with another cell.
    pub realtime: CellSet,
    /// The cells whose `WFI` runs on the hardware (`wfi: direct`); every
    /// other cell's traps, and the partitioner waits in its stead, so that
    /// no GIC state the cell sets can keep its cores from a stop.
    pub direct_wfi: CellSet,
    /// The cells whose interrupts are virtualized (`interrupts:
    /// virtualized`): their cores run with `HCR_EL2.IMO` set, every
    /// physical interrupt goes to EL2, and the cell's own reach it through
    /// the list registers. Every other cell takes its interrupts directly.
    pub virtualized: CellSet,
    /// The cells whose owner accepts that they own devices that master
    /// DMA no SMMU confines (`dma: unconfined`): such a device reaches any
    /// physical address ([`crate::dma`]). A cell that owns one and is not
    /// in this set is refused.
    pub unconfined_dma: CellSet,
    /// The shared-memory channels between cells, in config order.
    pub channels: Vec<Channel, MAX_CHANNELS>,
    /// The latency lab's scheduling quantum for QEMU under `-icount`, in
    /// ns; 0 (the default) for none. When set, the partitioner interrupts
    /// every CPU of a cell that is not real-time this often with its own
    /// (EL2) timer, which ends QEMU's turn on that CPU, so that a busy
    /// neighbour cannot keep a real-time CPU waiting for longer than that
    /// (docs/hil.md). Only for the emulated board.
    pub icount_quantum_ns: u32,
    /// Whether typing on the serial line reaches the cells' consoles.
    pub console_input: ConsoleInput,
}

/// Whether typing on the serial line reaches the cells' consoles
/// (`console_input:`); the housekeeping core takes it
/// ([`crate::housekeeping`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConsoleInput {
    /// Where a housekeeping core exists.
    #[default]
    Auto,
    /// The config is refused where no housekeeping core exists.
    Required,
    /// The partitioner never reads the serial line.
    Off,
}

/// Copies `s` into a [`Name`], or returns `None` when it is too long.
pub fn name(s: &str) -> Option<Name> {
    let mut n = Name::new();
    n.push_str(s).ok()?;
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_is_laid_out_state_table_common_outputs() {
        let channel = Channel {
            name: name("telemetry").unwrap(),
            base: 0x7fe0_0000,
            peers: Vec::from_slice(&[3, 0, 1]).unwrap(),
            common_size: 0x4000,
            output_size: 0x1_0000,
        };
        assert_eq!(channel.state_table(), MemRange::new(0x7fe0_0000, 0x1000));
        assert_eq!(channel.common(), MemRange::new(0x7fe0_1000, 0x4000));
        assert_eq!(channel.output(0), MemRange::new(0x7fe0_5000, 0x1_0000));
        assert_eq!(channel.output(2), MemRange::new(0x7fe2_5000, 0x1_0000));
        assert_eq!(channel.range(), MemRange::new(0x7fe0_0000, 0x3_5000));
        assert_eq!(channel.range().end(), channel.output(2).end());
        assert_eq!(channel.peer_of(3), Some(0));
        assert_eq!(channel.peer_of(1), Some(2));
        assert_eq!(channel.peer_of(2), None);
    }

    #[test]
    fn a_channel_without_common_section_starts_its_outputs_after_the_state_table() {
        let channel = Channel {
            name: name("c").unwrap(),
            base: 0x1000,
            peers: Vec::from_slice(&[0, 1]).unwrap(),
            common_size: 0,
            output_size: 0x2000,
        };
        assert!(channel.common().size == 0);
        assert_eq!(channel.output(1), MemRange::new(0x4000, 0x2000));
    }

    #[test]
    fn huge_channels_saturate() {
        let channel = Channel {
            name: name("c").unwrap(),
            base: u64::MAX - 0xfff,
            peers: Vec::from_slice(&[0, 1]).unwrap(),
            common_size: u64::MAX,
            output_size: u64::MAX,
        };
        assert_eq!(channel.range().end(), u64::MAX);
        assert_eq!(channel.output(1).base, u64::MAX);
    }
}
