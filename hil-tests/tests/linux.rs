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
/// Then a line typed for the heartbeat cell reaches it.
#[test]
fn debian_kernel_boots_in_a_cell() -> Result<(), HarnessError> {
    let mut session = start("qemu-linux", "debian_kernel_boots_in_a_cell");
    common::debian_kernel_boots(
        &mut session,
        common::GuestGic::V3 {
            redistributors: [0x080a_0000, 0x080c_0000],
        },
    )?;
    // Both cells are direct. With one security state the Linux cell's
    // first core takes the board UART's interrupt as a Group 0 FIQ, also
    // once the cell powered off and the core is parked; what is typed for
    // the heartbeat cell reaches it. Where firmware keeps Group 0 no core
    // can, and the partitioner says so.
    if hil_tests::target::qemu::secure_from_env() {
        let log = session.lines("partitioner");
        assert!(
            log.iter().any(|l| l.contains("console input: none")),
            "{log:#?}"
        );
        return Ok(());
    }
    common::assert_console_input(&session, 33, "cpu 0 (FIQ, Group 0)");
    common::heartbeat_hears(&mut session, "beacon")
}
