//! Linux cells: Debian's unmodified arm64 kernel boots in a cell of two
//! cores from a busybox initramfs, next to a bare-metal cell, and sees only
//! what the config gives it. Run through `cargo xtask test`, which fetches
//! the kernel and busybox and builds the images.

use hil_tests::{artifacts, HarnessError, Session};
use std::time::Duration;

mod common;

fn start(config: &str, run: &str) -> Session {
    artifacts::boot(config, run, Duration::from_secs(180))
}

/// The kernel boots on both of its cores, reaches userspace, sees two CPUs
/// and its own RAM only, takes its timer interrupts directly, and its
/// `poweroff` stops only its own cell (`common::debian_kernel_boots`).
#[test]
fn debian_kernel_boots_in_a_cell() -> Result<(), HarnessError> {
    let session = start("qemu-linux", "debian_kernel_boots_in_a_cell");
    common::debian_kernel_boots(
        session,
        common::GuestGic::V3 {
            redistributors: [0x080a_0000, 0x080c_0000],
        },
    )
}
