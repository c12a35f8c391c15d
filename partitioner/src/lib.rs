//! # Bulkhead partitioner
//!
//! A static partitioning hypervisor for Arm64 gateways. It boots first, at
//! EL2, splits the board into cells as a validated config says, and then
//! gets out of the way. Design principles, in order of precedence:
//!
//! 1. **Static.** Cores, RAM, devices and interrupts are assigned once, at
//!    boot, from a config that the host tool checked. Nothing is scheduled
//!    and nothing is shared unless the config says so.
//! 2. **Contained.** A cell that faults, or makes a call it may not make,
//!    stops (or restarts) alone. Guest or config input never panics the
//!    partitioner; every error is a value that says whose fault it is.
//! 3. **Absent.** A running cell executes without exits: the partitioner
//!    runs only when a cell traps (an emulated device, a PSCI call, a
//!    fault) or when another core asks it to. Idle cores sit in WFI.
//! 4. **No heap.** Every table is sized by the config model's capacities.
//! 5. **One arch façade.** Generic code never names a system register;
//!    `arch::aarch64` holds every `asm!` and register access.
//!
//! Where things are:
//!
//! | Module | Role |
//! |:-------|:-----|
//! | [`arch`] | every system register and `asm!`: exception vectors, traps' syndromes, EL2 and stage-2 set-up, the CPU interface |
//! | [`devices`] | what a cell sees: virtual GIC, PCI bridge, ivshmem channels, console, PSCI; each a pure model and its run-time glue |
//! | [`gic`] | the GIC's register map, and the partitioner's own driver of it |
//! | [`mm`] | page tables, built from a list of mappings |
//! | [`plan`] | the stage-2 plan of each cell, from the config (shared arithmetic in `bulkhead_config::stage2`) |
//! | [`smmu`] | the SMMUv3's register map, stream table entries, commands and events, and the driver that confines cells' DMA |
//! | `runtime` | on the board: boot, the machine description, the cells' life cycle, the trap handlers, the console, the table pool |
//!
//! Modules that only transform data compile and are tested on the host;
//! the runtime and each device's `runtime` half are built for the
//! bare-metal target only.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod arch;
pub mod devices;
pub mod gic;
pub mod mm;
pub mod pci;
pub mod plan;
pub mod smmu;

#[cfg(target_os = "none")]
mod runtime;
