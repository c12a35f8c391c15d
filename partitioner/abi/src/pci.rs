//! The virtual PCI host bridge as a cell sees it: a
//! `pci-host-ecam-generic` bridge, one bus, type 0 functions. The
//! partitioner reads a physical ECAM bridge's functions by the same map
//! when it stops their cell (`partitioner::pci`).
//!
//! # ECAM (PCI Express Base Specification, "Enhanced Configuration Access Mechanism")
//!
//! One 4 KiB configuration space per function, at [`config_space`]:
//!
//! | Bits  | Field |
//! |------:|:------|
//! | 27:20 | bus |
//! | 19:15 | device |
//! | 14:12 | function |
//! | 11:0  | register (byte offset in the function's space) |

/// Bytes of ECAM window per bus.
pub const ECAM_BUS_SIZE: u64 = 1 << 20;
/// Bytes of configuration space per function.
pub const CONFIG_SPACE_SIZE: u64 = 4096;
/// Bytes of the conventional (PCI 3.0) configuration space; the rest of
/// the 4 KiB is extended space.
pub const CONVENTIONAL_SIZE: u64 = 0x100;
/// Device numbers on a bus.
pub const DEVICES_PER_BUS: usize = 32;
/// Bytes of the type 0 header; capabilities start at or after it.
pub const HEADER_SIZE: u16 = 0x40;
/// Capability ID of a vendor-specific capability.
pub const CAPABILITY_ID_VENDOR: u8 = 0x09;
/// Capability ID of the PCI Express capability.
pub const CAPABILITY_ID_EXPRESS: u8 = 0x10;
/// Number of BARs of a type 0 header.
pub const BARS: usize = 6;
/// Function numbers of a device.
pub const FUNCTIONS_PER_DEVICE: u8 = 8;
/// What the Vendor ID reads where no function answers.
pub const NO_FUNCTION: u16 = 0xffff;
/// What the Vendor ID reads from a function that is not ready yet (it
/// answers with Configuration Request Retry Status, and the root port
/// has CRS Software Visibility on), e.g. during its own reset.
pub const NOT_READY: u16 = 0x0001;

/// The offset of function `bus:device.function`'s configuration space in
/// an ECAM window whose first bus is bus 0.
pub const fn config_space(bus: u8, device: u8, function: u8) -> u64 {
    (bus as u64) << 20 | ((device & 0x1f) as u64) << 15 | ((function & 0x7) as u64) << 12
}

/// Byte offsets of the type 0 header's registers (PCI Local Bus
/// Specification 3.0, 6.1).
pub mod offset {
    /// Vendor ID (16 bits).
    pub const VENDOR_ID: u16 = 0x00;
    /// Device ID (16 bits).
    pub const DEVICE_ID: u16 = 0x02;
    /// Command (16 bits).
    pub const COMMAND: u16 = 0x04;
    /// Status (16 bits).
    pub const STATUS: u16 = 0x06;
    /// Revision ID (8 bits).
    pub const REVISION_ID: u16 = 0x08;
    /// Class Code: programming interface (8 bits).
    pub const PROGRAMMING_INTERFACE: u16 = 0x09;
    /// Class Code: sub-class (8 bits).
    pub const SUB_CLASS: u16 = 0x0a;
    /// Class Code: base class (8 bits).
    pub const BASE_CLASS: u16 = 0x0b;
    /// Header Type (8 bits).
    pub const HEADER_TYPE: u16 = 0x0e;
    /// BAR 0; BAR n is at `BAR0 + 4 * n` ([`bar`]).
    pub const BAR0: u16 = 0x10;
    /// Subsystem Vendor ID (16 bits).
    pub const SUBSYSTEM_VENDOR_ID: u16 = 0x2c;
    /// Subsystem ID (16 bits).
    pub const SUBSYSTEM_ID: u16 = 0x2e;
    /// Expansion ROM base address.
    pub const EXPANSION_ROM: u16 = 0x30;
    /// Capabilities Pointer (8 bits).
    pub const CAPABILITIES_POINTER: u16 = 0x34;
    /// Interrupt Line (8 bits).
    pub const INTERRUPT_LINE: u16 = 0x3c;
    /// Interrupt Pin (8 bits).
    pub const INTERRUPT_PIN: u16 = 0x3d;

    /// The offset of BAR `n`.
    pub const fn bar(n: usize) -> u16 {
        BAR0 + 4 * n as u16
    }
}

/// Bits of the Command register.
pub mod command {
    /// I/O Space: never writable here (no I/O BARs).
    pub const IO_SPACE: u16 = 1 << 0;
    /// Memory Space: the function decodes its memory BARs.
    pub const MEMORY_SPACE: u16 = 1 << 1;
    /// Bus Master.
    pub const BUS_MASTER: u16 = 1 << 2;
    /// Interrupt Disable: the function must not assert INTx (PCI 2.3).
    pub const INTERRUPT_DISABLE: u16 = 1 << 10;
}

/// Registers of the PCI Express capability, as offsets from it, and
/// their bits (PCI Express Base Specification, 7.5.3).
pub mod express {
    /// Device Capabilities (32 bits); its upper half-word at +2.
    pub const DEVICE_CAPABILITIES: u16 = 0x04;
    /// Function Level Reset Capability: bit 28 of Device Capabilities,
    /// bit 12 of its upper half-word.
    pub const FLR_CAPABLE_HIGH: u16 = 1 << 12;
    /// Device Control (16 bits).
    pub const DEVICE_CONTROL: u16 = 0x08;
    /// Initiate Function Level Reset, in Device Control.
    pub const INITIATE_FLR: u16 = 1 << 15;
    /// Device Status (16 bits).
    pub const DEVICE_STATUS: u16 = 0x0a;
    /// Transactions Pending, in Device Status: requests the function
    /// issued are not all completed.
    pub const TRANSACTIONS_PENDING: u16 = 1 << 5;
}

/// Bits of the Header Type register.
pub mod header_type {
    /// Multi-Function Device: functions 1 to 7 may exist too.
    pub const MULTI_FUNCTION: u8 = 1 << 7;
}

/// Bits of the Status register.
pub mod status {
    /// Interrupt Status: the function has an INTx condition (PCI 2.3).
    pub const INTERRUPT_STATUS: u16 = 1 << 3;
    /// Capabilities List: the Capabilities Pointer is valid.
    pub const CAPABILITIES_LIST: u16 = 1 << 4;
}

/// Bits of a memory BAR's low word.
pub mod bar {
    /// Type 10b: a 64-bit BAR, whose upper half is the next BAR.
    pub const MEMORY_64: u32 = 0b100;
    /// Prefetchable.
    pub const PREFETCHABLE: u32 = 0b1000;
    /// The address bits of the low word.
    pub const ADDRESS_MASK: u32 = 0xffff_fff0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_space_follows_ecam() {
        assert_eq!(config_space(0, 0, 0), 0);
        assert_eq!(config_space(0, 1, 0), 0x8000);
        assert_eq!(config_space(1, 31, 7), 0x1f_f000);
        assert_eq!(offset::bar(2), 0x18);
    }
}
