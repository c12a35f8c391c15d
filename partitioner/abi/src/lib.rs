//! # What a cell sees of the partitioner
//!
//! The register interfaces of the virtual devices the partitioner puts in
//! front of a cell, defined once, here, for the three programs that speak
//! them:
//!
//! - the partitioner, which emulates them (`partitioner/src/devices/`);
//! - the channel library (`cells/channel`), which drives them from Linux
//!   user space and from bare-metal cells;
//! - the bare-metal test cells (`cells/baremetal`), which probe them.
//!
//! | Module | Interface | Specification |
//! |:-------|:----------|:--------------|
//! | [`pci`] | the virtual PCI host bridge: ECAM and the type 0 header | PCI Local Bus 3.0, PCI Express Base ("ECAM") |
//! | [`ivshmem`] | one channel: IDs, vendor capability, the register page (BAR 0), the shared memory's sections (BAR 2) | Jailhouse's ivshmem-v2 specification |
//!
//! PSCI and SMCCC function IDs are the `smccc` crate's; the console is a
//! PL011 (`partitioner/src/devices/vuart`); the GIC is the architecture's
//! (`partitioner/src/gic`). Only constants and arithmetic live here: no
//! state, no MMIO, no `unsafe`.
#![no_std]
#![forbid(unsafe_code)]

pub mod ivshmem;
pub mod pci;
