//! Linux cells: Debian's unmodified arm64 kernel boots in a cell of two
//! cores from a busybox initramfs, next to a bare-metal cell, and sees only
//! what the config gives it. Run through `cargo xtask test`, which fetches
//! the kernel and busybox and builds the images.

use hil_tests::{artifacts, HarnessError, Pattern, Session};
use std::time::Duration;

fn start(config: &str, run: &str) -> Session {
    artifacts::boot(config, run, Duration::from_secs(180))
}

/// The kernel boots on both of its cores, reaches userspace, sees two CPUs
/// and its own RAM only, takes its timer interrupts directly (both cores
/// count them), and its `poweroff` stops only its own cell.
#[test]
fn debian_kernel_boots_in_a_cell() -> Result<(), HarnessError> {
    let mut session = start("qemu-linux", "debian_kernel_boots_in_a_cell");
    let step = Duration::from_secs(90);
    session.expect_all(
        [
            (
                "linux",
                Pattern::from("Booting Linux on physical CPU 0x0000000000"),
            ),
            (
                "linux",
                Pattern::from("psci: PSCIv1.1 detected in firmware."),
            ),
            (
                "linux",
                Pattern::from("GICv3: CPU0: found redistributor 0 region 0:0x00000000080a0000"),
            ),
            (
                "linux",
                Pattern::from("GICv3: CPU1: found redistributor 1 region 0:0x00000000080c0000"),
            ),
            (
                "linux",
                Pattern::from("CPU1: Booted secondary processor 0x0000000001"),
            ),
            ("linux", Pattern::from("bulkhead-guest: userspace up")),
            (
                "linux",
                Pattern::regex(r"^bulkhead-guest: uname: Linux 6\.\S+-arm64 aarch64$"),
            ),
            ("linux", Pattern::from("bulkhead-guest: nproc: 2")),
            (
                "linux",
                Pattern::regex(r"^bulkhead-guest: MemTotal: +\d+ kB$"),
            ),
            (
                "linux",
                Pattern::from("bulkhead-guest: device-tree cpus: 2"),
            ),
            (
                "linux",
                Pattern::regex(r"^\s*\d+:\s+[1-9]\d*\s+[1-9]\d*\s+GICv3\s+27 Level\s+arch_timer$"),
            ),
            ("linux", Pattern::from("bulkhead-guest: powering off")),
            (
                "partitioner",
                Pattern::from("cell linux: SYSTEM_OFF, stopped"),
            ),
            ("beacon", Pattern::from("heartbeat 1")),
        ],
        step,
    )?;
    // The kernel's RAM is the cell's 256 MiB (less what the kernel keeps).
    let memory = session
        .lines("linux")
        .into_iter()
        .find_map(|l| {
            l.strip_prefix("bulkhead-guest: MemTotal:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    let kib: u64 = memory.trim_end_matches(" kB").trim().parse().unwrap_or(0);
    assert!(
        (128 * 1024..=256 * 1024).contains(&kib),
        "MemTotal {memory} is not the cell's 256 MiB"
    );
    // The bare-metal cell keeps beating after Linux switched itself off.
    session.skip_to_end("beacon");
    session.expect("beacon", Pattern::regex(r"^heartbeat \d+$"), step)?;
    Ok(())
}
