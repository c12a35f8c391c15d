//! The ivshmem-v2 device's register block in BAR 0, as a typed view. Its
//! offsets, and the PCI configuration space facts the Linux backend reads,
//! are `bulkhead_abi::ivshmem` and `bulkhead_abi::pci`, the definitions the
//! partitioner emulates. Names follow Jailhouse's ivshmem-v2 specification
//! (`Documentation/ivshmem-v2-specification.md`).
//!
//! A bare-metal cell gets the register block with the `unsafe`
//! [`Registers::at`] (in [`crate::shm`]) and builds its
//! [`Doorbell`](crate::Doorbell) on [`Registers::ring`]; the Linux backend
//! maps BAR 0 and does the same.
#![forbid(unsafe_code)]

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

use crate::region::{PeerId, PeerState};
use bulkhead_abi::ivshmem::register;

register_structs! {
    /// The ivshmem-v2 register region (BAR 0). All registers take only
    /// aligned 32-bit accesses.
    pub Registers {
        /// ID: the local peer's ID, fixed for the device's lifetime.
        (register::ID as usize => id: ReadOnly<u32>),
        /// Maximum Peers: how many peers the link has, the local one
        /// included (2..=65536).
        (register::MAX_PEERS as usize => max_peers: ReadOnly<u32>),
        /// Interrupt Control.
        (register::INT_CONTROL as usize => int_control: ReadWrite<u32>),
        /// Doorbell (write-only).
        (register::DOORBELL as usize => doorbell: WriteOnly<u32>),
        /// State: the local state; the hypervisor copies it into the state
        /// table and interrupts the other peers when it changes.
        (register::STATE as usize => state: ReadWrite<u32>),
        (register::END as usize => @END),
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
        self.int_control.set(register::INT_CONTROL_ENABLE);
    }

    /// Stops the device from generating interrupts.
    pub fn disable_interrupts(&self) {
        self.int_control.set(0);
    }

    /// Rings `peer`'s doorbell on `vector`. A target that does not exist or
    /// has not enabled interrupts ignores it.
    pub fn ring(&self, peer: PeerId, vector: u16) {
        self.doorbell.set(register::doorbell(peer.0, vector));
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
}
