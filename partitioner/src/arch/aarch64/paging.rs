//! VMSAv8-64 descriptor formats (4 KiB granule) for the two translation
//! regimes the partitioner builds: its own EL2 stage 1 and each cell's
//! stage 2. The generic table builder in [`crate::mm`] asks a
//! [`DescriptorFormat`] for the bits.

/// The memory type of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryType {
    /// Normal memory, write-back cacheable, inner shareable.
    Normal,
    /// Device-nGnRE memory (MMIO).
    Device,
}

/// Access permissions of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permissions {
    /// Reads allowed.
    pub read: bool,
    /// Writes allowed.
    pub write: bool,
    /// Instruction fetches allowed.
    pub execute: bool,
}

impl Permissions {
    /// Read, write, execute.
    pub const RWX: Permissions = Permissions {
        read: true,
        write: true,
        execute: true,
    };
    /// Read and write.
    pub const RW: Permissions = Permissions {
        read: true,
        write: true,
        execute: false,
    };
    /// Read and execute.
    pub const RX: Permissions = Permissions {
        read: true,
        write: false,
        execute: true,
    };
    /// Read only.
    pub const RO: Permissions = Permissions {
        read: true,
        write: false,
        execute: false,
    };
}

/// Descriptor type bits: a table (levels 0..=2) or a page (level 3).
const TABLE_OR_PAGE: u64 = 0b11;
/// Descriptor type bits: a block (levels 1 and 2).
const BLOCK: u64 = 0b01;
/// Access flag.
const AF: u64 = 1 << 10;
/// Shareability field: inner shareable.
const SH_INNER: u64 = 0b11 << 8;
/// Output address bits of a descriptor (bits 47:12).
pub const ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;

/// How one translation regime encodes its descriptors.
pub trait DescriptorFormat {
    /// A leaf (block at level 1 or 2, page at level 3) mapping `pa`.
    fn leaf(pa: u64, level: u8, memory: MemoryType, permissions: Permissions) -> u64;

    /// A table descriptor pointing at the next-level table at `pa`.
    fn table(pa: u64) -> u64 {
        (pa & ADDRESS_MASK) | TABLE_OR_PAGE
    }
}

/// Whether `descriptor` (at `level`) is valid.
pub fn is_valid(descriptor: u64) -> bool {
    descriptor & 1 != 0
}

/// Whether `descriptor` at `level` points at a next-level table.
pub fn is_table(descriptor: u64, level: u8) -> bool {
    level < 3 && descriptor & 0b11 == TABLE_OR_PAGE
}

fn leaf_type(level: u8) -> u64 {
    if level == 3 {
        TABLE_OR_PAGE
    } else {
        BLOCK
    }
}

/// Stage-2 translation of a cell (EL1&0, `VTTBR_EL2`).
pub struct Stage2;

impl Stage2 {
    /// `MemAttr` for Normal, outer and inner write-back.
    const MEMATTR_NORMAL_WB: u64 = 0b1111 << 2;
    /// `MemAttr` for Device-nGnRE.
    const MEMATTR_DEVICE_NGNRE: u64 = 0b0001 << 2;
    /// `S2AP` read bit.
    const S2AP_READ: u64 = 1 << 6;
    /// `S2AP` write bit.
    const S2AP_WRITE: u64 = 1 << 7;
    /// `XN[1]`: not executable at EL1 or EL0.
    const XN: u64 = 1 << 54;
}

impl DescriptorFormat for Stage2 {
    fn leaf(pa: u64, level: u8, memory: MemoryType, permissions: Permissions) -> u64 {
        let mut d = (pa & ADDRESS_MASK) | leaf_type(level) | AF;
        d |= match memory {
            MemoryType::Normal => Self::MEMATTR_NORMAL_WB | SH_INNER,
            MemoryType::Device => Self::MEMATTR_DEVICE_NGNRE,
        };
        if permissions.read {
            d |= Self::S2AP_READ;
        }
        if permissions.write {
            d |= Self::S2AP_WRITE;
        }
        if !permissions.execute || memory == MemoryType::Device {
            d |= Self::XN;
        }
        d
    }
}

/// Stage-1 translation of the partitioner itself (`TTBR0_EL2`).
pub struct El2Stage1;

impl El2Stage1 {
    /// `MAIR_EL2` index of Device-nGnRE.
    pub const MAIR_DEVICE: u64 = 0;
    /// `MAIR_EL2` index of Normal write-back.
    pub const MAIR_NORMAL: u64 = 1;
    /// `AP[2]`: read-only.
    const AP_READ_ONLY: u64 = 1 << 7;
    /// `AP[1]`: RES1 in the EL2 regime.
    const AP1: u64 = 1 << 6;
    /// `XN`.
    const XN: u64 = 1 << 54;
}

impl DescriptorFormat for El2Stage1 {
    fn leaf(pa: u64, level: u8, memory: MemoryType, permissions: Permissions) -> u64 {
        let mut d = (pa & ADDRESS_MASK) | leaf_type(level) | AF | Self::AP1;
        d |= match memory {
            MemoryType::Normal => Self::MAIR_NORMAL << 2 | SH_INNER,
            MemoryType::Device => Self::MAIR_DEVICE << 2,
        };
        if !permissions.write {
            d |= Self::AP_READ_ONLY;
        }
        if !permissions.execute || memory == MemoryType::Device {
            d |= Self::XN;
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage2_bits() {
        let ram = Stage2::leaf(0x4020_0000, 2, MemoryType::Normal, Permissions::RWX);
        assert_eq!(
            ram,
            0x4020_0000 | 0b01 | 1 << 10 | 0b11 << 8 | 0b11 << 6 | 0b1111 << 2
        );
        let ro = Stage2::leaf(0x5000_0000, 3, MemoryType::Normal, Permissions::RO);
        assert_eq!(ro & (0b11 << 6), 1 << 6);
        assert_ne!(ro & 1 << 54, 0);
        let mmio = Stage2::leaf(0x0a00_3000, 3, MemoryType::Device, Permissions::RWX);
        assert_eq!(mmio & 0b11, 0b11);
        assert_eq!(mmio & (0b1111 << 2), 0b0001 << 2);
        assert_ne!(mmio & 1 << 54, 0, "device memory is never executable");
    }

    #[test]
    fn el2_bits() {
        let text = El2Stage1::leaf(0x4008_0000, 3, MemoryType::Normal, Permissions::RX);
        assert_ne!(text & 1 << 7, 0);
        assert_eq!(text & 1 << 54, 0);
        let data = El2Stage1::leaf(0x4010_0000, 3, MemoryType::Normal, Permissions::RW);
        assert_eq!(data & 1 << 7, 0);
        assert_ne!(data & 1 << 54, 0);
    }
}
