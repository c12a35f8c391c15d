//! Board support for Bulkhead: each board is one `const` [`Board`] value, plus
//! the few drivers the partitioner needs to run on it.
//!
//! The same description is read by the host tool (to validate a config before
//! anything boots) and compiled into the partitioner (to drive the board). A
//! board is data, never code: adding a board means adding a module with one
//! `const`, not touching the partitioner.
#![cfg_attr(not(test), no_std)]

pub mod drivers;
pub mod qemu_virt;

/// A physical address range `[base, base + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRange {
    /// First byte of the range.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl MemRange {
    /// Builds a range from its base and size.
    pub const fn new(base: u64, size: u64) -> Self {
        Self { base, size }
    }

    /// One past the last byte (saturating, so a range at the top of the
    /// address space does not wrap).
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    /// Whether `address` lies inside the range.
    pub const fn contains(&self, address: u64) -> bool {
        address >= self.base && address < self.end()
    }

    /// Whether the whole of `other` lies inside this range.
    pub const fn covers(&self, other: &MemRange) -> bool {
        other.base >= self.base && other.end() <= self.end()
    }

    /// Whether the two ranges share at least one byte.
    pub const fn overlaps(&self, other: &MemRange) -> bool {
        self.size != 0 && other.size != 0 && self.base < other.end() && other.base < self.end()
    }
}

/// A GIC interrupt ID (INTID): SGIs are 0..16, PPIs 16..32, SPIs 32..1020.
pub type Intid = u32;

/// A run of consecutive INTIDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntidRange {
    /// First INTID of the run.
    pub first: Intid,
    /// Number of INTIDs.
    pub count: u32,
}

impl IntidRange {
    /// Whether `intid` is in the run.
    pub const fn contains(&self, intid: Intid) -> bool {
        intid >= self.first && intid - self.first < self.count
    }
}

/// First SPI INTID; `SPI n` in a device tree is INTID `32 + n`.
pub const FIRST_SPI: Intid = 32;
/// First PPI INTID; `PPI n` in a device tree is INTID `16 + n`.
pub const FIRST_PPI: Intid = 16;

/// One CPU core of the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// The core's `MPIDR_EL1` affinity fields (Aff3..Aff0), as PSCI expects.
    pub mpidr: u64,
    /// Which L2 cluster the core belongs to (cores with equal numbers share
    /// a cache), when the board description knows it.
    pub cluster: Option<u8>,
}

/// The UART the partitioner owns and multiplexes every console onto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uart {
    /// Name of the matching entry in [`Board::devices`].
    pub device: &'static str,
    /// MMIO window of the UART.
    pub mmio: MemRange,
    /// The UART's interrupt.
    pub irq: Intid,
}

/// How the partitioner regains control of a core that runs a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlPath {
    /// The GIC is in single-security-state mode (`GICD_CTLR.DS = 1`), so
    /// Group 0 interrupts arrive at EL2 as FIQs (QEMU `virt`).
    Group0Fiq,
    /// Firmware keeps Group 0 for the secure world. Not implemented yet; the
    /// partitioner refuses to start on such a board.
    SecureGroup0,
}

/// The GICv3 of the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gic {
    /// Distributor (GICD) window.
    pub distributor: MemRange,
    /// All redistributor (GICR) frames, one `redistributor_stride` apart,
    /// in the order of [`Board::cpus`].
    pub redistributors: MemRange,
    /// Distance between two cores' redistributors (0x20000 on GICv3).
    pub redistributor_stride: u64,
    /// The virtual-interface maintenance interrupt.
    pub maintenance_irq: Intid,
    /// How EL2 gets its own interrupts while a cell runs.
    pub control_path: ControlPath,
}

/// The architected generic timer's interrupts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    /// EL2 physical timer (used by the partitioner).
    pub hypervisor: Intid,
    /// EL1 virtual timer (owned by the cell on each of its cores).
    pub virtual_timer: Intid,
    /// EL1 physical timer.
    pub physical_timer: Intid,
}

/// A device a cell can be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    /// Unique name, used in configs (`devices: [virtio-mmio31]`).
    pub name: &'static str,
    /// Device-tree `compatible` string.
    pub compatible: &'static str,
    /// MMIO windows.
    pub mmio: &'static [MemRange],
    /// Interrupts (INTIDs).
    pub irqs: &'static [Intid],
    /// Whether the device masters DMA (then its cell's RAM must be
    /// identity-mapped unless an IOMMU translates for it).
    pub dma: bool,
}

/// Everything Bulkhead needs to know about one board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// Name used in configs (`board: qemu-virt`).
    pub name: &'static str,
    /// Cores, indexed by Bulkhead's CPU number.
    pub cpus: &'static [Cpu],
    /// All RAM.
    pub ram: &'static [MemRange],
    /// RAM kept by the partitioner: its own image, tables, stacks and the
    /// boot image's payloads. No cell may use it.
    pub hypervisor_ram: MemRange,
    /// The physical console, owned by the partitioner.
    pub console: Uart,
    /// The interrupt controller.
    pub gic: Gic,
    /// The generic timer's PPIs.
    pub timer: Timer,
    /// Devices that can be assigned to cells.
    pub devices: &'static [Device],
    /// SPIs wired to nothing, which the partitioner raises for emulated
    /// devices (virtual consoles, IPC doorbells).
    pub spare_spis: IntidRange,
    /// Counter frequency to assume when firmware leaves `CNTFRQ_EL0` at 0.
    pub counter_hz: u64,
}

impl Board {
    /// Looks a device up by name.
    pub fn device(&self, name: &str) -> Option<&'static Device> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// Index of the core with the given MPIDR affinity value.
    pub fn cpu_index(&self, mpidr: u64) -> Option<usize> {
        let affinity = mpidr & MPIDR_AFFINITY_MASK;
        self.cpus.iter().position(|c| c.mpidr == affinity)
    }

    /// Whether `range` lies entirely in the board's RAM.
    pub fn is_ram(&self, range: &MemRange) -> bool {
        self.ram.iter().any(|r| r.covers(range))
    }
}

/// The affinity fields of `MPIDR_EL1` (Aff3 at 32..40, Aff2..Aff0 at 0..24).
pub const MPIDR_AFFINITY_MASK: u64 = 0xff_00ff_ffff;

/// All boards this build knows, for the host tool.
pub const BOARDS: &[&Board] = &[&qemu_virt::BOARD];

/// Looks a board up by its config name.
pub fn board(name: &str) -> Option<&'static Board> {
    BOARDS.iter().copied().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let a = MemRange::new(0x1000, 0x1000);
        assert!(a.contains(0x1000) && a.contains(0x1fff) && !a.contains(0x2000));
        assert!(a.overlaps(&MemRange::new(0x1fff, 1)));
        assert!(!a.overlaps(&MemRange::new(0x2000, 1)));
        assert!(!a.overlaps(&MemRange::new(0x1000, 0)));
        assert!(MemRange::new(u64::MAX - 1, 10).end() == u64::MAX);
    }

    #[test]
    fn lookup() {
        let b = board("qemu-virt").unwrap();
        assert_eq!(b.cpu_index(0x8000_0002), Some(2));
        assert!(b.device("virtio-mmio31").is_some());
        assert!(board("nope").is_none());
    }
}
