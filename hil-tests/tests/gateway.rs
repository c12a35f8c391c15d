//! The gateway layout (`config/examples/qemu-gateway.yaml`, the default
//! of `cargo xtask build` and `demo`): Debian's PREEMPT_RT kernel in the
//! `control` cell on CPUs 0-1 and its generic kernel in the `containers`
//! cell on CPUs 2-3, booting at the same time on one board. Run through
//! `cargo xtask test`, which fetches the kernels, busybox and rt-tests and
//! builds the images.
//!
//! Two Linux kernels on four emulated cores are slow on a 2-core CI host:
//! the whole test stays well under a minute there, and nothing here looks
//! at latency figures (without QEMU's `-icount` they measure the host).

use hil_tests::{artifacts, HarnessError, Pattern, Session};
use std::time::{Duration, Instant};

/// Hard limit for the QEMU run: it is killed after this, whatever happens.
const DEADLINE: Duration = Duration::from_secs(90);
/// Both kernels boot to userspace (3 to 4 s each alone on a fast host).
const BOOT: Duration = Duration::from_secs(45);
/// One cyclictest round (5 s) plus slack.
const ROUND: Duration = Duration::from_secs(20);
/// The general-purpose cell's status period (5 s) plus slack.
const STATUS: Duration = Duration::from_secs(15);

fn start(run: &str) -> Session {
    let session = artifacts::boot("qemu-gateway", run, DEADLINE);
    assert!(
        session.streams().iter().any(|s| s == "control")
            && session.streams().iter().any(|s| s == "containers"),
        "the gateway's cells are control and containers"
    );
    session
}

/// Both cells boot at the same time and reach userspace, each on its own
/// two cores; the control cell runs the PREEMPT_RT kernel with its
/// measuring core isolated, and cyclictest completes a round there while
/// the general-purpose cell keeps reporting.
#[test]
fn rt_and_general_purpose_cells_run_side_by_side() -> Result<(), HarnessError> {
    let started = Instant::now();
    let mut session = start("rt_and_general_purpose_cells_run_side_by_side");
    session.expect_all(
        [
            (
                "partitioner",
                Pattern::from("cell control: starting (boot #1) at 0x50000000 on cpu 0"),
            ),
            (
                "partitioner",
                Pattern::from("cell containers: starting (boot #1) at 0x70000000 on cpu 2"),
            ),
            (
                "control",
                Pattern::from("Booting Linux on physical CPU 0x0000000000"),
            ),
            (
                "control",
                Pattern::from("CPU1: Booted secondary processor 0x0000000001"),
            ),
            ("control", Pattern::from("bulkhead-guest: userspace up")),
            (
                "control",
                Pattern::regex(r"^bulkhead-guest: uname: Linux \S+ 6\.\S+-rt-arm64 #1 SMP PREEMPT_RT .* aarch64 GNU/Linux$"),
            ),
            ("control", Pattern::from("bulkhead-guest: cpus online: 0-1")),
            ("control", Pattern::from("bulkhead-guest: isolated cpus: 1")),
            ("control", Pattern::from("bulkhead-guest: nohz_full cpus: 1")),
            (
                "containers",
                Pattern::from("Booting Linux on physical CPU 0x0000000000"),
            ),
            (
                "containers",
                Pattern::from("CPU1: Booted secondary processor 0x0000000001"),
            ),
            ("containers", Pattern::from("bulkhead-guest: userspace up")),
            (
                "containers",
                Pattern::regex(r"^bulkhead-guest: uname: Linux \S+ 6\.\S+-arm64 #1 SMP .* aarch64 GNU/Linux$"),
            ),
            ("containers", Pattern::from("bulkhead-guest: nproc: 2")),
            (
                "containers",
                Pattern::regex(r"^bulkhead-guest: status 1: up [\d.]+ s, "),
            ),
        ],
        BOOT,
    )?;
    let generic_uname = session
        .lines("containers")
        .into_iter()
        .find(|l| l.starts_with("bulkhead-guest: uname:"))
        .unwrap_or_default();
    assert!(
        !generic_uname.contains("PREEMPT_RT") && !generic_uname.contains("-rt-"),
        "the containers cell runs the generic kernel: {generic_uname}"
    );

    // cyclictest ran its first round on the isolated core and printed the
    // summary of its one thread; the figures themselves are not checked.
    let summary = session.expect(
        "control",
        Pattern::regex(
            r"^bulkhead-guest: cyclictest round 1: T: 0 \(\s*\d+\) P:90 I:1000 C:\s*[1-9]\d* Min:\s*\d+ Act:\s*\d+ Avg:\s*\d+ Max:\s*\d+$",
        ),
        ROUND,
    )?;
    println!("cyclictest (host-dependent, informational): {summary}");

    // The general-purpose cell is still alive after the real-time cell's
    // round, and the real-time cell goes on measuring.
    session.skip_to_end("containers");
    session.expect_all(
        [
            (
                "containers",
                Pattern::regex(r"^bulkhead-guest: status \d+: up "),
            ),
            (
                "control",
                Pattern::regex(r"^bulkhead-guest: cyclictest round 2: T: 0 .* Max:\s*\d+$"),
            ),
        ],
        ROUND.max(STATUS),
    )?;

    // Neither cell faulted, and the partitioner warned about nothing.
    let problems: Vec<String> = session
        .lines("partitioner")
        .into_iter()
        .filter(|l| l.contains(" WARN ]") || l.contains(" ERROR ]") || l.contains("faulted"))
        .collect();
    assert!(problems.is_empty(), "partitioner problems: {problems:#?}");
    for cell in ["control", "containers"] {
        let failures: Vec<String> = session
            .lines(cell)
            .into_iter()
            .filter(|l| l.contains("Kernel panic") || l.contains("failed (exit status"))
            .collect();
        assert!(failures.is_empty(), "{cell}: {failures:#?}");
    }
    println!(
        "gateway: both cells up and measured in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
