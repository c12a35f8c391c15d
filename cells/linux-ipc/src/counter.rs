//! `bulkhead-ipc counter`: the generic timer's virtual counter and its
//! frequency, read from user space, for boot-time figures. Bulkhead sets
//! `CNTVOFF_EL2` to 0, so the cell's virtual counter equals the physical
//! counter the partitioner logs with ("first instruction at counter N").
//! The only unsafe code of this program: two `mrs` that Linux lets EL0 run.
#![allow(unsafe_code)]

/// `(CNTVCT_EL0, CNTFRQ_EL0)`: the virtual count and the counter's
/// frequency in Hz.
#[cfg(target_arch = "aarch64")]
pub fn read() -> Option<(u64, u64)> {
    let count: u64;
    let hertz: u64;
    // SAFETY: Linux on arm64 lets EL0 read both registers
    // (CNTKCTL_EL1.EL0VCTEN, which the vDSO relies on; a kernel with an
    // erratum workaround traps the read and emulates it). The `isb` keeps
    // the count from being read ahead of the instructions before it. No
    // memory is touched and no flags change.
    unsafe {
        core::arch::asm!(
            "isb",
            "mrs {count}, cntvct_el0",
            "mrs {hertz}, cntfrq_el0",
            count = out(reg) count,
            hertz = out(reg) hertz,
            options(nomem, nostack, preserves_flags),
        );
    }
    Some((count, hertz))
}

/// No generic timer off arm64 (the host build).
#[cfg(not(target_arch = "aarch64"))]
pub fn read() -> Option<(u64, u64)> {
    None
}

/// The subcommand's output: `N (F Hz)`, e.g. `123456789 (1000000000 Hz)`.
pub fn describe(count: u64, hertz: u64) -> String {
    format!("{count} ({hertz} Hz)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_count_then_frequency() {
        assert_eq!(describe(42, 1_000_000_000), "42 (1000000000 Hz)");
    }
}
