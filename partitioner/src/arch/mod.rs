//! The architecture façade. Generic code calls these hooks; only
//! `arch/aarch64` touches system registers or contains `asm!`.

pub mod aarch64;
pub use aarch64::*;
