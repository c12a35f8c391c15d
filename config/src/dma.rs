//! Whose DMA the partitioner confines, and how: the stream IDs at the
//! board's IOMMU of each device a cell owns, from the board description
//! (`iommus` on a device node, `iommu-map` on a PCI host bridge). The
//! partitioner gives each of them an entry that translates through the
//! cell's stage 2 (`partitioner::smmu`), and the host tool's plan shows
//! the same list; both read it from here.
//!
//! Only one SMMUv3 is driven today, the board's first ([`driven_smmu`]).
//! A device behind another IOMMU, or behind none, is not confined
//! ([`confinement`]).
//!
//! When a cell stops, the partitioner also stops the DMA of the PCI
//! functions behind each generic ECAM host bridge the cell owns
//! ([`cell_pci_ecams`]), confined or not, so that a transfer the old
//! incarnation started never lands in the new one.

use crate::Cell;
use bsp::{Board, Device, Iommu, IommuKind, MemRange};

/// The compatible of a PCI host bridge whose configuration space is a
/// plain ECAM window, its first `reg` (`mmio[0]`).
pub const PCI_HOST_ECAM: &str = "pci-host-ecam-generic";

/// log2 of the entries of the partitioner's stream table: it is linear,
/// so a stream ID at or above [`STREAM_TABLE_ENTRIES`] (a PCI function
/// beyond bus 0) has no entry, and its DMA aborts.
pub const STREAM_TABLE_LOG2: u32 = 8;
/// Entries of the partitioner's stream table: stream IDs
/// `0..STREAM_TABLE_ENTRIES`.
pub const STREAM_TABLE_ENTRIES: u32 = 1 << STREAM_TABLE_LOG2;

/// Stream IDs `first..first + count` at an IOMMU, of a device a cell owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streams {
    /// Index of the device in the cell's `devices`.
    pub device: usize,
    /// The first stream ID.
    pub first: u32,
    /// How many.
    pub count: u32,
}

impl Streams {
    /// Whether stream `sid` is one of these.
    pub const fn contains(&self, sid: u32) -> bool {
        sid >= self.first && sid - self.first < self.count
    }

    /// The last of these stream IDs.
    pub const fn last(&self) -> u32 {
        self.first.saturating_add(self.count.saturating_sub(1))
    }

    /// The part of these that the partitioner's stream table holds, if
    /// any; the rest abort.
    pub const fn in_table(&self) -> Option<Streams> {
        if self.count == 0 || self.first >= STREAM_TABLE_ENTRIES {
            return None;
        }
        let end = self.first as u64 + self.count as u64;
        let end = if end > STREAM_TABLE_ENTRIES as u64 {
            STREAM_TABLE_ENTRIES as u64
        } else {
            end
        };
        Some(Streams {
            device: self.device,
            first: self.first,
            count: (end - self.first as u64) as u32,
        })
    }

    /// Whether these and `other` have a stream ID in common.
    pub const fn overlaps(&self, other: &Streams) -> bool {
        self.count > 0
            && other.count > 0
            && (self.first as u64) < other.first as u64 + other.count as u64
            && (other.first as u64) < self.first as u64 + self.count as u64
    }
}

/// How the DMA of a board device is kept within its cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confinement {
    /// The device masters no DMA.
    NoDma,
    /// Through its streams at the board's SMMUv3, which the partitioner
    /// drives.
    Smmu,
    /// Not at all: no IOMMU is in front of it, or one the partitioner does
    /// not drive. Its cell must be identity-mapped, and even so the device
    /// can reach any physical address.
    None,
}

/// The IOMMU the partitioner drives on `board`: its first SMMUv3 with
/// registers. The partitioner maps and programs this one, and only the
/// devices behind it are confined.
pub fn driven_smmu(board: &Board) -> Option<&'static Iommu> {
    board
        .iommus
        .iter()
        .find(|i| i.kind == IommuKind::SmmuV3 && !i.mmio.is_empty())
}

/// How the DMA of `device` is confined on `board`.
pub fn confinement(board: &Board, device: &Device) -> Confinement {
    if !device.dma {
        return Confinement::NoDma;
    }
    let smmu = device
        .iommu
        .zip(driven_smmu(board))
        .is_some_and(|(name, smmu)| smmu.name == name);
    let has_streams = !device.streams.is_empty() || !device.stream_map.is_empty();
    if smmu && has_streams {
        Confinement::Smmu
    } else {
        Confinement::None
    }
}

/// The streams of `cell`'s devices whose DMA the board's SMMUv3
/// confines, device by device, in the order the device tree gives them.
pub fn cell_streams<'a>(board: &'a Board, cell: &'a Cell) -> impl Iterator<Item = Streams> + 'a {
    cell.devices
        .iter()
        .enumerate()
        .filter_map(move |(index, grant)| {
            let device = board.device(&grant.name)?;
            (confinement(board, device) == Confinement::Smmu).then_some((index, device))
        })
        .flat_map(|(index, device)| {
            let single = device.streams.iter().map(move |&sid| Streams {
                device: index,
                first: sid,
                count: 1,
            });
            let mapped = device.stream_map.iter().map(move |m| Streams {
                device: index,
                first: m.sid_base,
                count: m.length,
            });
            single.chain(mapped)
        })
}

/// The configuration space (ECAM) of `device`, if it is a generic ECAM
/// PCI host bridge whose functions master DMA.
pub fn dma_ecam(device: &Device) -> Option<MemRange> {
    let ecam = device.compatible.contains(&PCI_HOST_ECAM) && device.dma;
    ecam.then(|| device.mmio.first().copied()).flatten()
}

/// The ECAM windows of the DMA-capable PCI host bridges `cell` owns,
/// whose functions the partitioner stops when the cell stops.
pub fn cell_pci_ecams<'a>(board: &'a Board, cell: &'a Cell) -> impl Iterator<Item = MemRange> + 'a {
    cell.devices
        .iter()
        .filter_map(move |grant| dma_ecam(board.device(&grant.name)?))
}
