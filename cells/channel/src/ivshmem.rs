//! The ivshmem-v2 device as a cell sees it: the register block in BAR 0
//! and the PCI configuration space facts the Linux backend reads. Names
//! follow Jailhouse's ivshmem-v2 specification
//! (`Documentation/ivshmem-v2-specification.md`).
//!
//! A bare-metal cell gets the register block with the `unsafe`
//! [`Registers::at`] (in [`crate::shm`]) and builds its
//! [`Doorbell`](crate::Doorbell) on [`Registers::ring`]; the Linux backend
//! maps BAR 0 and does the same.
#![forbid(unsafe_code)]

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

use crate::region::{PeerId, PeerState};

register_bitfields! [u32,
    /// Interrupt Control (offset 08h).
    INT_CONTROL [
        /// 1: the device generates interrupts for doorbells and state
        /// changes. Cleared on each delivery in one-shot mode.
        ENABLE OFFSET(0) NUMBITS(1) []
    ],
    /// Doorbell (offset 0Ch): interrupts a vector of a target peer.
    DOORBELL [
        /// The vector to trigger in the target.
        VECTOR OFFSET(0) NUMBITS(16) [],
        /// The ID of the target peer.
        TARGET OFFSET(16) NUMBITS(16) []
    ]
];

register_structs! {
    /// The ivshmem-v2 register region (BAR 0). All registers take only
    /// aligned 32-bit accesses.
    pub Registers {
        /// ID: the local peer's ID, fixed for the device's lifetime.
        (0x00 => id: ReadOnly<u32>),
        /// Maximum Peers: how many peers the link has, the local one
        /// included (2..=65536).
        (0x04 => max_peers: ReadOnly<u32>),
        /// Interrupt Control.
        (0x08 => int_control: ReadWrite<u32, INT_CONTROL::Register>),
        /// Doorbell (write-only).
        (0x0C => doorbell: WriteOnly<u32, DOORBELL::Register>),
        /// State: the local state; the hypervisor copies it into the state
        /// table and interrupts the other peers when it changes.
        (0x10 => state: ReadWrite<u32>),
        (0x14 => @END),
    }
}

impl Registers {
    /// The local peer's ID.
    pub fn id(&self) -> u32 {
        self.id.get()
    }

    /// The local peer's ID as a [`PeerId`], if it fits the spec's 16 bits.
    pub fn peer_id(&self) -> Option<PeerId> {
        u16::try_from(self.id()).ok().map(PeerId)
    }

    /// The number of peers of the link, the local one included.
    pub fn max_peers(&self) -> u32 {
        self.max_peers.get()
    }

    /// Lets the device generate interrupts (and re-arms it in one-shot mode).
    pub fn enable_interrupts(&self) {
        self.int_control.write(INT_CONTROL::ENABLE::SET);
    }

    /// Stops the device from generating interrupts.
    pub fn disable_interrupts(&self) {
        self.int_control.write(INT_CONTROL::ENABLE::CLEAR);
    }

    /// Rings `peer`'s doorbell on `vector`. A target that does not exist or
    /// has not enabled interrupts ignores it.
    pub fn ring(&self, peer: PeerId, vector: u16) {
        self.doorbell.write(
            DOORBELL::TARGET.val(u32::from(peer.0)) + DOORBELL::VECTOR.val(u32::from(vector)),
        );
    }

    /// Sets the local state, which the other peers see in the state table.
    pub fn set_state(&self, state: PeerState) {
        self.state.set(state.raw());
    }

    /// The local state last written.
    pub fn state(&self) -> PeerState {
        PeerState::from_raw(self.state.get())
    }
}

/// PCI configuration space facts of the ivshmem-v2 device.
pub mod pci {
    /// Vendor ID of the ivshmem-v2 device (Siemens).
    pub const VENDOR_ID: u16 = 0x110a;
    /// Device ID of the ivshmem-v2 device.
    pub const DEVICE_ID: u16 = 0x4106;
    /// Offset of the Command register.
    pub const COMMAND: usize = 0x04;
    /// Command register bit 10: INTx interrupt disable.
    pub const COMMAND_INTX_DISABLE: u16 = 1 << 10;
    /// Offset of the Status register.
    pub const STATUS: usize = 0x06;
    /// Status register bit 4: a capability list is present.
    pub const STATUS_CAPABILITIES: u16 = 1 << 4;
    /// Offset of the Class Code interface byte (protocol bits 0-7).
    pub const CLASS_INTERFACE: usize = 0x09;
    /// Offset of the Class Code sub-class byte (protocol bits 8-15).
    pub const CLASS_SUBCLASS: usize = 0x0a;
    /// Offset of the Capability Pointer.
    pub const CAPABILITY_POINTER: usize = 0x34;
    /// Capability ID of the vendor-specific capability that describes the
    /// shared memory.
    pub const CAPABILITY_VENDOR: u8 = 0x09;
    /// Vendor capability: the 32-bit state table size.
    pub const VENDOR_STATE_TABLE_SIZE: usize = 0x04;
    /// Vendor capability: the 64-bit common read/write section size.
    pub const VENDOR_RW_SECTION_SIZE: usize = 0x08;
    /// Vendor capability: the 64-bit output section size.
    pub const VENDOR_OUTPUT_SECTION_SIZE: usize = 0x10;
    /// The first 64 bytes are the standard header; capabilities follow.
    pub const HEADER_SIZE: usize = 0x40;
    /// Size of the conventional configuration space.
    pub const CONFIG_SIZE: usize = 0x100;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_offsets_follow_the_spec() {
        assert_eq!(core::mem::size_of::<Registers>(), 0x14);
        assert_eq!(core::mem::offset_of!(Registers, id), 0x00);
        assert_eq!(core::mem::offset_of!(Registers, max_peers), 0x04);
        assert_eq!(core::mem::offset_of!(Registers, int_control), 0x08);
        assert_eq!(core::mem::offset_of!(Registers, doorbell), 0x0c);
        assert_eq!(core::mem::offset_of!(Registers, state), 0x10);
    }

    #[test]
    fn doorbell_value_is_target_then_vector() {
        let value = (DOORBELL::TARGET.val(3) + DOORBELL::VECTOR.val(1)).value;
        assert_eq!(value, 3 << 16 | 1);
    }
}
