//! AArch64 at EL2: every system register access, every `asm!`, the
//! exception vectors, the stage-1 and stage-2 descriptor formats and the
//! GICv3 CPU interface live under this module.
//!
//! The descriptor formats and the syndrome decoder are plain data
//! transformations and compile on the host for unit tests; everything that
//! executes instructions only exists on the bare-metal target.

pub mod esr;
pub mod paging;

#[cfg(target_os = "none")]
mod cpu;
#[cfg(target_os = "none")]
mod sysreg;
#[cfg(target_os = "none")]
mod virtual_interface;
#[cfg(target_os = "none")]
pub use cpu::*;
#[cfg(target_os = "none")]
pub use virtual_interface::*;

/// Bytes of EL2 stack per CPU (must match `CPU_STACK_SIZE` in link.ld and
/// the stride in `secondary_entry`).
pub const CPU_STACK_SIZE: usize = 0x8000;

/// A guest's general-purpose registers and return state, as the exception
/// vectors save them (the layout is fixed by `boot.S`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapFrame {
    /// x0 to x30.
    pub x: [u64; 31],
    /// `ELR_EL2`: where the guest resumes.
    pub elr: u64,
    /// `SPSR_EL2`: the guest's PSTATE.
    pub spsr: u64,
    _pad: u64,
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 272);

impl TrapFrame {
    /// Register `n` as an instruction reads it (31 is the zero register).
    pub fn reg(&self, n: u8) -> u64 {
        self.x.get(n as usize).copied().unwrap_or(0)
    }

    /// Writes register `n` (writes to 31, the zero register, are dropped).
    pub fn set_reg(&mut self, n: u8, value: u64) {
        if let Some(r) = self.x.get_mut(n as usize) {
            *r = value;
        }
    }

    /// A fresh EL1 context that starts at `entry` with `x0 = argument`,
    /// MMU off and all interrupts masked, as the arm64 boot protocol
    /// requires.
    pub fn boot(entry: u64, argument: u64) -> Self {
        let mut frame = TrapFrame {
            elr: entry,
            spsr: SPSR_EL1H_MASKED,
            ..Default::default()
        };
        frame.x[0] = argument;
        frame
    }
}

/// `SPSR_EL2` for entering EL1h with D, A, I and F masked.
const SPSR_EL1H_MASKED: u64 = 0b1111 << 6 | 0b0101;

/// Why the exception vectors called into Rust (the `kind` argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionKind {
    /// Synchronous exception (trap, abort, call).
    Synchronous,
    /// IRQ.
    Irq,
    /// FIQ (the partitioner's own Group 0 interrupts).
    Fiq,
    /// SError (asynchronous abort).
    SError,
    /// Anything from AArch32, which cells never run.
    Aarch32,
}

impl ExceptionKind {
    /// Decodes the vector's `kind` number.
    pub fn from_vector(kind: u64) -> Self {
        match kind {
            0 => ExceptionKind::Synchronous,
            1 => ExceptionKind::Irq,
            2 => ExceptionKind::Fiq,
            3 => ExceptionKind::SError,
            _ => ExceptionKind::Aarch32,
        }
    }
}
