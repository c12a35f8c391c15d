//! The gateway layout (`config/examples/qemu-gateway.yaml`, the default
//! of `cargo xtask build` and `demo`): Debian's PREEMPT_RT kernel in the
//! `control` cell on CPUs 0-1 and its generic kernel in the `containers`
//! cell on CPUs 2-3, booting at the same time on one board. The containers
//! cell boots from an ext4 disk on virtio-blk, gets an address on virtio-net
//! and runs an OCI container with crun under cgroup limits. Run through
//! `cargo xtask test`, which fetches the kernels, busybox, rt-tests and crun
//! and builds the images.
//!
//! Two Linux kernels on four emulated cores are slow on a 2-core CI host,
//! and nothing here looks at latency figures (without QEMU's `-icount` they
//! measure the host): cyclictest must run and produce samples, no more.

use common::{CYCLICTEST_ROUND as ROUND, GATEWAY_BOOT as BOOT};
use hil_tests::{artifacts, HarnessError, Pattern, Session};
use std::time::{Duration, Instant};

mod common;

/// Hard limit for the default layout's QEMU run.
const DEADLINE: Duration = Duration::from_secs(150);

fn start(config: &str, run: &str, deadline: Duration) -> Session {
    common::gateway_session(artifacts::boot(config, run, deadline))
}

/// The gateway scenario (`common::gateway_cells_run_side_by_side`) on
/// QEMU virt: the containers cell boots from its ext4 disk on virtio-blk
/// and gets its address on virtio-net. Then a person logs into each
/// cell's shell through the console, as in `cargo xtask demo`: the board
/// UART's interrupt reaches the partitioner on the containers cell's
/// first core (its interrupts are virtualized), with firmware keeping
/// Group 0 or not. Last, the containers cell's watchdog daemon is
/// killed, and the cell's watchdog restarts it while the control cell
/// measures on.
#[test]
fn rt_and_container_cells_run_side_by_side() -> Result<(), HarnessError> {
    let mut session = start(
        "qemu-gateway",
        "rt_and_container_cells_run_side_by_side",
        DEADLINE,
    );
    common::gateway_cells_run_side_by_side(&mut session, &common::QEMU_GATEWAY)?;
    common::typing_and_the_watchdog(
        &mut session,
        &common::QEMU_GATEWAY,
        "console input: UART interrupt 33 to cpu 2 (IRQ, virtualized cell)",
    )
}

/// The containers cell misbehaves while the control cell measures
/// (`hil-tests/configs/qemu-gateway-faults.yaml`): cyclictest completes a
/// round while the containers cell runs CPU, memory and disk load; the
/// containers kernel crashes (`echo c > /proc/sysrq-trigger`) and resets
/// its own cell; then it reads the control cell's RAM through `/dev/mem`
/// as root, which faults it without a byte leaking, and it restarts. The
/// control cell is never restarted and keeps measuring throughout.
#[test]
fn container_cell_crashes_and_faults_while_rt_cell_measures() -> Result<(), HarnessError> {
    let started = Instant::now();
    let mut session = start(
        "qemu-gateway-faults",
        "container_cell_crashes_and_faults_while_rt_cell_measures",
        Duration::from_secs(300),
    );
    session.expect_all(
        [
            ("control", Pattern::from("bulkhead-guest: userspace up")),
            ("containers", Pattern::from("bulkhead-guest: userspace up")),
            (
                "containers",
                Pattern::from("bulkhead-guest: scenario: faults"),
            ),
            ("containers", Pattern::from("bulkhead-guest: load: started")),
        ],
        BOOT,
    )?;

    // A cyclictest round that starts after the load did and ends before
    // it stops: the real-time cell measured under load.
    session.skip_to_end("control");
    session.expect(
        "control",
        Pattern::regex(r"^bulkhead-guest: cyclictest round \d+: "),
        ROUND,
    )?;
    let loaded = session.expect(
        "control",
        Pattern::regex(
            r"^bulkhead-guest: cyclictest round \d+: T: 0 \(\s*\d+\) P:90 I:1000 C:\s*[1-9]\d* .*Max:\s*\d+$",
        ),
        ROUND,
    )?;
    let load_over = session
        .lines("containers")
        .iter()
        .any(|l| l == "bulkhead-guest: load: stopped");
    assert!(
        !load_over,
        "the cyclictest round ended while the containers cell was still loaded"
    );
    println!("cyclictest under load (host-dependent, informational): {loaded}");

    session.expect_all(
        [
            ("containers", Pattern::from("bulkhead-guest: load: stopped")),
            (
                "containers",
                Pattern::from("bulkhead-guest: crash: echo c > /proc/sysrq-trigger"),
            ),
            (
                "containers",
                Pattern::from("Kernel panic - not syncing: sysrq triggered crash"),
            ),
            (
                "partitioner",
                Pattern::from("cell containers: SYSTEM_RESET, restarting"),
            ),
            (
                "partitioner",
                Pattern::from("cell containers: starting (boot #2) at 0x70000000 on cpu 2"),
            ),
            (
                "containers",
                Pattern::from("bulkhead-guest: after crash: back up (boot 2)"),
            ),
            (
                "containers",
                Pattern::from("bulkhead-guest: devmem: reading 0x50000000 (control cell RAM)"),
            ),
            (
                "partitioner",
                Pattern::regex(
                    r"cell containers faulted on cpu [23]: stage-2 fault: read \(translation fault\) at IPA 0x50000000, ",
                ),
            ),
            (
                "partitioner",
                Pattern::from("cell containers: restarting; other cells continue"),
            ),
            (
                "partitioner",
                Pattern::from("cell containers: starting (boot #3) at 0x70000000 on cpu 2"),
            ),
            (
                "containers",
                Pattern::from("bulkhead-guest: after fault: back up (boot 3)"),
            ),
        ],
        Duration::from_secs(180),
    )?;

    // The channel resumes: the control loop saw its peer go down and come
    // back, and setpoints flow again to the control cell's first life.
    session.skip_to_end("control");
    session.expect(
        "control",
        Pattern::regex(
            r"^bulkhead-ipc: control: \d+ samples/s sent, [1-9]\d* setpoints/s back, .*, peer up$",
        ),
        ROUND,
    )?;

    let saw_down = session
        .lines("control")
        .iter()
        .any(|l| l.starts_with("bulkhead-ipc: control: ") && l.ends_with(", peer down"));
    assert!(
        saw_down,
        "the control loop saw its channel peer down while the containers cell restarted"
    );

    // The control cell is still measuring, on its first boot.
    session.skip_to_end("control");
    session.expect(
        "control",
        Pattern::regex(r"^bulkhead-guest: cyclictest round \d+: T: 0 .* Max:\s*\d+$"),
        ROUND,
    )?;
    let partitioner = session.lines("partitioner");
    assert!(
        !partitioner
            .iter()
            .any(|l| l.contains("cell control:")
                && (l.contains("restarting") || l.contains("boot #2"))),
        "the control cell was never restarted: {partitioner:#?}"
    );
    assert!(
        !partitioner
            .iter()
            .any(|l| l.contains("cell control faulted")),
        "the control cell never faulted"
    );
    let leaked: Vec<String> = session
        .lines("containers")
        .into_iter()
        .filter(|l| l.contains("devmem: read returned"))
        .collect();
    assert!(
        leaked.is_empty(),
        "/dev/mem read another cell's RAM: {leaked:?}"
    );
    // Both cells take their interrupts directly here. With one security
    // state the board UART's interrupt is a Group 0 FIQ to the containers
    // cell's first core, and typing reaches the restarted cell's shell;
    // where firmware keeps Group 0 no core can take it, and the
    // partitioner says so.
    if hil_tests::target::qemu::secure_from_env() {
        let log = session.lines("partitioner");
        assert!(
            log.iter().any(|l| l.contains("console input: none")),
            "{log:#?}"
        );
    } else {
        common::assert_console_input(&session, 33, "cpu 2 (FIQ, Group 0)");
        let answer = common::log_into_shell(&mut session, "containers")?;
        assert!(answer.ends_with("on cpus 0-1"), "{answer}");
    }
    println!(
        "gateway faults: load, crash, reset, fault, restart in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
