//! One shared-memory channel as a peer cell sees it: an ivshmem-v2 PCI
//! function (Jailhouse's `Documentation/ivshmem-v2-specification.md`),
//! with INTx as its only interrupt. The partitioner's model of it, with
//! the behaviour of every register, is `partitioner/src/devices/ivshmem`;
//! this module names the numbers.
//!
//! # Shared memory (BAR 2; spec: "Shared Memory Region Layout")
//!
//! ```text
//! base + st + rw + n·out  ┐ end (BAR 2 may be larger: its size is a power of two)
//!   output section of peer n-1   read/write for peer n-1, read-only for the others
//!   …
//!   output section of peer 0     read/write for peer 0, read-only for the others
//! base + st               read/write section       read/write for every peer
//! base                    state table              read-only for every peer;
//!                                                  u32 state of peer i at base + 4·i
//! ```
//!
//! [`Sections`] computes these offsets.

/// Vendor ID (Siemens, as ivshmem-v2 assigns).
pub const VENDOR_ID: u16 = 0x110a;
/// Device ID of ivshmem-v2.
pub const DEVICE_ID: u16 = 0x4106;
/// Class Code base class: "device does not fit any defined class".
pub const BASE_CLASS: u8 = 0xff;
/// Subsystem Vendor ID. The spec asks it to name the provider; without a
/// PCI-SIG vendor ID of our own we report the device's IDs, as Jailhouse
/// does.
pub const SUBSYSTEM_VENDOR_ID: u16 = VENDOR_ID;
/// Subsystem ID (see [`SUBSYSTEM_VENDOR_ID`]).
pub const SUBSYSTEM_ID: u16 = DEVICE_ID;
/// The protocol Bulkhead's channels report in their class code (sub-class
/// and programming interface): the first user-defined value (spec:
/// "Protocols", `4000h`–`7FFFh`).
pub const PROTOCOL_BULKHEAD_CHANNEL: u16 = 0x4000;
/// The BAR of the register page.
pub const REGISTERS_BAR: usize = 0;
/// The BAR of the shared memory (the spec's optional BAR 2, 64-bit).
pub const SHARED_MEMORY_BAR: usize = 2;
/// Bytes of the register BAR: one page, so it can be trapped alone.
pub const REGISTERS_SIZE: u64 = 0x1000;
/// Offset of the vendor-specific capability in configuration space.
pub const VENDOR_CAPABILITY: u16 = 0x40;
/// Length of the vendor-specific capability without Base Address.
pub const VENDOR_CAPABILITY_LENGTH: u8 = 0x18;
/// Interrupt Pin: INTA.
pub const INTERRUPT_PIN_A: u8 = 1;
/// Interrupt vectors with INTx.
pub const INTX_VECTORS: u32 = 1;

/// Byte offsets of the registers in BAR 0. Aligned 32-bit accesses only.
pub mod register {
    /// ID: this peer's id (read-only).
    pub const ID: u64 = 0x00;
    /// Maximum Peers (read-only).
    pub const MAX_PEERS: u64 = 0x04;
    /// Interrupt Control: [`INT_CONTROL_ENABLE`] enables interrupts.
    pub const INT_CONTROL: u64 = 0x08;
    /// Doorbell: [`doorbell`] (write-only).
    pub const DOORBELL: u64 = 0x0c;
    /// State: this peer's state.
    pub const STATE: u64 = 0x10;
    /// The end of the registers; the rest of the page reads 0.
    pub const END: u64 = 0x14;

    /// Interrupt Control bit 0: the device generates interrupts for
    /// doorbells and state changes (cleared on each one in one-shot mode).
    pub const INT_CONTROL_ENABLE: u32 = 1;

    /// The Doorbell value that interrupts `vector` of peer `peer`.
    pub const fn doorbell(peer: u16, vector: u16) -> u32 {
        (peer as u32) << 16 | vector as u32
    }

    /// The peer and vector of a Doorbell value.
    pub const fn doorbell_target(value: u32) -> (u16, u16) {
        ((value >> 16) as u16, value as u16)
    }
}

/// Byte offsets inside the vendor-specific capability (spec: "Vendor
/// Specific Capability").
pub mod capability {
    /// Capability ID (`09h`).
    pub const ID: u16 = 0x00;
    /// Next capability pointer.
    pub const NEXT: u16 = 0x01;
    /// Length of the capability.
    pub const LENGTH: u16 = 0x02;
    /// Privileged Control: [`ONE_SHOT`] is one-shot interrupt mode.
    pub const PRIVILEGED_CONTROL: u16 = 0x03;
    /// State Table Size (32 bits).
    pub const STATE_TABLE_SIZE: u16 = 0x04;
    /// R/W Section Size (64 bits).
    pub const RW_SECTION_SIZE: u16 = 0x08;
    /// Output Section Size (64 bits).
    pub const OUTPUT_SECTION_SIZE: u16 = 0x10;

    /// Privileged Control bit 0: one-shot interrupt mode.
    pub const ONE_SHOT: u8 = 1;
}

/// The sizes of a channel's sections, as the vendor capability reports
/// them, and where each section starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sections {
    /// Bytes of the state table (at least 4 per peer).
    pub state_table: u64,
    /// Bytes of the read/write section (may be 0).
    pub read_write: u64,
    /// Bytes of each peer's output section.
    pub output: u64,
}

impl Sections {
    /// Bytes of one state table entry.
    pub const STATE_ENTRY: u64 = 4;

    /// Offset of peer `peer`'s entry in the state table.
    pub const fn state_entry(peer: u64) -> u64 {
        Self::STATE_ENTRY * peer
    }

    /// Offset of the read/write section.
    pub const fn read_write_offset(&self) -> u64 {
        self.state_table
    }

    /// Offset of peer `peer`'s output section, if it fits 64 bits.
    pub const fn output_offset(&self, peer: u64) -> Option<u64> {
        match self.output.checked_mul(peer) {
            Some(before) => match self.state_table.checked_add(self.read_write) {
                Some(first) => first.checked_add(before),
                None => None,
            },
            None => None,
        }
    }

    /// Bytes of all sections of a channel of `peers` peers, if it fits 64
    /// bits.
    pub const fn size(&self, peers: u64) -> Option<u64> {
        self.output_offset(peers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doorbell_value_is_target_then_vector() {
        assert_eq!(register::doorbell(3, 1), 3 << 16 | 1);
        assert_eq!(register::doorbell_target(3 << 16 | 1), (3, 1));
    }

    #[test]
    fn sections_follow_each_other() {
        let s = Sections {
            state_table: 0x1000,
            read_write: 0x2000,
            output: 0x4000,
        };
        assert_eq!(s.read_write_offset(), 0x1000);
        assert_eq!(s.output_offset(0), Some(0x3000));
        assert_eq!(s.output_offset(1), Some(0x7000));
        assert_eq!(s.size(2), Some(0xb000));
        assert_eq!(Sections::state_entry(3), 12);
        let huge = Sections {
            output: u64::MAX,
            ..s
        };
        assert_eq!(huge.size(2), None);
    }
}
