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
//! Modules that only transform data (tables, syndromes, PSCI decoding, the
//! UART model, the stage-2 plan) compile and are tested on the host; the
//! runtime that executes on the board is built for the bare-metal target.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod arch;
pub mod ivshmem;
pub mod mm;
pub mod plan;
pub mod psci;
pub mod vgic;
pub mod vpci;
pub mod vuart;

#[cfg(target_os = "none")]
mod runtime;
