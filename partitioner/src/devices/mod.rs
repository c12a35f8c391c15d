//! Everything a cell sees that is not its own RAM and devices: the
//! partitioner's emulated devices and firmware interface. Each is a folder
//! with the two halves side by side:
//!
//! - `mod.rs`, the pure model: what an access or a call means, with the
//!   rules of the interface. No hardware, no global state; it compiles
//!   and is tested on the host.
//! - `runtime.rs`, the glue on the board: the model's state per cell or
//!   per core, and what applies its answers to the hardware. Built only
//!   for the bare-metal target.
//!
//! | Device | Model | Run time |
//! |:-------|:------|:---------|
//! | [`vgic`] | the GICv3 distributor and redistributors, filtered to the interrupts a cell owns | trapped accesses applied to the GIC, SGI routes, priority masks |
//! | [`vpci`] | the virtual PCI host bridge: ECAM decoding and the type 0 header | (through `ivshmem`'s) |
//! | [`ivshmem`] | one ivshmem-v2 function per channel behind each peer's bridge | channels, bridges and doorbells |
//! | [`vuart`] | the cell's console, a PL011 | each cell's console state and output line |
//! | [`psci`] | PSCI 1.1 and `SMCCC_VERSION`, decoded | calls carried out on the cell's cores |
//! | [`watchdog`] | the cell's SP805 watchdog, counting on the partitioner's counter | each cell's watchdog, its expiry noticed on the housekeeping core |
//!
//! The numbers of the interfaces a cell's own software also uses (PCI,
//! ivshmem) are in the `bulkhead-abi` crate; PSCI's are the `smccc`
//! crate's.

pub mod ivshmem;
pub mod psci;
pub mod vgic;
pub mod vpci;
pub mod vuart;
pub mod watchdog;
