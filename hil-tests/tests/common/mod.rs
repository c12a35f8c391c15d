//! Scenarios that several system tests run, on different boards.
#![allow(dead_code)]

use hil_tests::{HarnessError, Pattern, Session};
use std::time::Duration;

/// The board addresses the restart scenario's intruder uses (besides the
/// sensor's RAM at `0x5000_0000`, the same in every restart config).
pub struct RestartScenario {
    /// The device no cell has, which the intruder reads (its boot
    /// argument's lower half).
    pub unassigned_mmio: u64,
    /// CPU 0's redistributor, which the intruder writes.
    pub cpu0_redistributor: u64,
}

/// The restart configs (`qemu-restart.yaml`, `imx8mp-restart.yaml`): with
/// `on_fault: restart`, the intruder is restarted after every fault and
/// tries every attack; the sensor resets itself once; the steady cell
/// beats through all of it without a missed or repeated beat.
pub fn faults_restart_only_the_faulting_cell(
    mut session: Session,
    board: &RestartScenario,
) -> Result<(), HarnessError> {
    let unassigned = format!(
        r"cell intruder faulted on cpu 2: stage-2 fault: read \(translation fault\) at IPA {:#x}, .*level \d\)",
        board.unassigned_mmio
    );
    let reading_unassigned = format!(
        "intruder: reading unassigned MMIO at {:#x}",
        board.unassigned_mmio
    );
    let writing_redistributor = format!(
        "intruder: writing CPU 0's redistributor at {:#x}",
        board.cpu0_redistributor
    );
    session.expect_all(
        [
            ("partitioner", Pattern::regex(r"cell intruder faulted on cpu 2: stage-2 fault: read \(translation fault\) at IPA 0x50000000")),
            ("partitioner", Pattern::from("cell intruder: restarting; other cells continue")),
            ("partitioner", Pattern::regex(r"cell intruder faulted on cpu 2: stage-2 fault: write \(translation fault\) at IPA 0x50000000")),
            ("partitioner", Pattern::regex(&unassigned)),
            ("partitioner", Pattern::from("cell intruder faulted on cpu 2: access to another core's redistributor")),
            ("partitioner", Pattern::from("cell intruder: unknown firmware call 0xc2000bad on cpu 2, returned NOT_SUPPORTED")),
            ("partitioner", Pattern::from("cell intruder: HVC #0x42 on cpu 2 is not a Bulkhead call, returned NOT_SUPPORTED")),
            ("intruder", Pattern::from("intruder cell: boot 0")),
            ("intruder", Pattern::from("intruder cell: boot 1")),
            ("intruder", Pattern::from("intruder: writing another cell's RAM at 0x50000000")),
            ("intruder", Pattern::from("intruder cell: boot 2")),
            ("intruder", Pattern::from(reading_unassigned.as_str())),
            ("intruder", Pattern::from("intruder cell: boot 3")),
            ("intruder", Pattern::from("intruder: enabled the sensor's SPI 79? enable reads 0x0 (ignored)")),
            ("intruder", Pattern::from("intruder: sent itself the kick SGI 15 (dropped)")),
            ("intruder", Pattern::from(writing_redistributor.as_str())),
            ("intruder", Pattern::from("intruder cell: boot 4")),
            ("intruder", Pattern::from("intruder: unknown SMC returned -1")),
            ("intruder", Pattern::from("intruder: HVC #0x42 returned -1")),
            ("intruder", Pattern::from("heartbeat 5")),
            ("intruder", Pattern::from("intruder: SYSTEM_OFF")),
            ("partitioner", Pattern::from("cell intruder: SYSTEM_OFF, stopped")),
            ("sensor", Pattern::from("requesting SYSTEM_RESET")),
            ("sensor", Pattern::from("heartbeat cell: boot 1")),
        ],
        Duration::from_secs(60),
    )?;
    // Let the steady cell beat a little longer, then check its whole life.
    let steady = steady_cell_beat_on(&mut session)?;
    let beats: Vec<u64> = steady
        .iter()
        .filter_map(|l| l.strip_prefix("heartbeat ")?.parse().ok())
        .collect();
    assert!(
        beats.len() >= 10,
        "the steady cell beat only {} times: {steady:#?}",
        beats.len()
    );
    let expected: Vec<u64> = (1..=beats.len() as u64).collect();
    assert_eq!(beats, expected, "the steady cell missed or repeated beats");
    let intruder = session.lines("intruder");
    assert!(
        !intruder.iter().any(|l| l.contains("ISOLATION BROKEN")),
        "the intruder got through: {intruder:#?}"
    );
    Ok(())
}

/// The `linux` configs (`qemu-linux.yaml`, `imx8mp-linux.yaml`): Debian's
/// kernel boots on both cores of its cell, finds them at their
/// redistributors (`redistributors`: the board's first two), reaches
/// userspace, sees two CPUs and its own RAM only, takes its timer
/// interrupts directly (both cores count them), and its `poweroff` stops
/// only its own cell, while the bare-metal `beacon` beats on.
pub fn debian_kernel_boots(
    mut session: Session,
    redistributors: [u64; 2],
) -> Result<(), HarnessError> {
    let redistributor = [0, 1].map(|cpu| {
        format!(
            "GICv3: CPU{cpu}: found redistributor {cpu} region 0:{:#018x}",
            redistributors[cpu]
        )
    });
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
            ("linux", Pattern::from(redistributor[0].as_str())),
            ("linux", Pattern::from(redistributor[1].as_str())),
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

/// After the wedge cell's scenario (`cells/baremetal/src/bin/wedge.rs`):
/// the partitioner got every core back (no "did not leave"), the cell's
/// second CPU started at every boot and nothing broke isolation.
pub fn wedge_cores_came_back(session: &Session) {
    let log = session.lines("partitioner");
    assert!(
        !log.iter().any(|l| l.contains("did not leave")),
        "a core stayed in its cell: {log:#?}"
    );
    let wedge = session.lines("wedge");
    assert!(
        !wedge
            .iter()
            .any(|l| l.contains("ISOLATION BROKEN") || l.contains("cpu_on")),
        "the wedge cell's second CPU did not start every time: {wedge:#?}"
    );
}

/// Lets the `steady` cell beat once more after all that happened, checks
/// that it was never restarted, and returns its lines.
pub fn steady_cell_beat_on(session: &mut Session) -> Result<Vec<String>, HarnessError> {
    session.skip_to_end("steady");
    session.expect(
        "steady",
        Pattern::regex(r"^heartbeat \d+$"),
        Duration::from_secs(30),
    )?;
    let steady = session.lines("steady");
    let boots = steady
        .iter()
        .filter(|l| l.starts_with("heartbeat cell: boot"))
        .count();
    assert_eq!(boots, 1, "the steady cell was restarted: {steady:#?}");
    Ok(steady)
}
