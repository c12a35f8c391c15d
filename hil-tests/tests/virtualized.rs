//! Cells whose interrupts are virtualized (`interrupts: virtualized`,
//! docs/architecture.md): their cores run with `HCR_EL2.IMO` set, every
//! physical interrupt goes to the partitioner, and the cell's own reach
//! it through the GIC's list registers, next to cells that take theirs
//! directly.
//!
//! These need the images `cargo xtask build` makes; run them through
//! `cargo xtask test`. Logs land in `target/hil/<test name>/`.

use hil_tests::{artifacts, HarnessError, Pattern, Session};
use std::time::Duration;

mod common;

/// More SGIs at once than the GIC has list registers (QEMU's GICv3: four):
/// the partitioner lists four, keeps the others waiting for the underflow
/// maintenance interrupt, and the cell takes every one exactly once, burst
/// after burst, while its direct neighbour beats on. A restart with six
/// other SGIs and the timer's interrupt pending leaves nothing behind:
/// the new run never sees those SGIs, though it overflows the list
/// registers again, and its timer (whose physical interrupt was listed,
/// so active on the GIC) fires again.
#[test]
fn no_interrupt_is_lost_when_the_list_registers_overflow() -> Result<(), HarnessError> {
    let mut session = artifacts::boot(
        "qemu-virtualized",
        "virtualized_no_interrupt_is_lost",
        Duration::from_secs(60),
    );
    const STEP: Duration = Duration::from_secs(20);
    session.expect_all(
        [
            (
                "partitioner",
                Pattern::regex(
                    r"^.*cell burst: cpus 0b100 .*, WFI direct, interrupts virtualized$",
                ),
            ),
            (
                "partitioner",
                Pattern::regex(r"^.*cell steady: cpus 0b1000 .*, WFI trapped, interrupts direct$"),
            ),
        ],
        STEP,
    )?;
    for boot in 0..2 {
        let banner = format!("burst cell: boot {boot}, vcpu 0");
        session.expect("burst", Pattern::from(banner.as_str()), STEP)?;
        session.expect(
            "burst",
            Pattern::from("burst cell: 0 SGIs and 0 timer interrupts pending at start"),
            STEP,
        )?;
        session.expect(
            "burst",
            Pattern::from("burst cell: timer fired 1 times"),
            STEP,
        )?;
        session.expect(
            "burst",
            Pattern::from("burst 3: 8 of 8 SGIs taken, 0 twice, 0 others since boot"),
            STEP,
        )?;
    }
    session.expect("steady", Pattern::regex(r"^heartbeat \d+$"), STEP)?;
    // The housekeeping core (the burst cell's, the first virtualized one)
    // logs every core's exits every 10 s: the burst cell's core exits for
    // its interrupts and SGIs, the direct heartbeat's for its console
    // (emulated) but never for an interrupt, the two idle cores not at
    // all.
    session.expect_all(
        [
            (
                "partitioner",
                Pattern::regex(r"^.*exits on cpu 2: irq [1-9]\d*, sgi [1-9]\d*, .*$"),
            ),
            (
                "partitioner",
                Pattern::regex(r"^.*exits on cpu 3: irq 0, sgi 0, doorbell 0, mmio [1-9]\d*, .*$"),
            ),
            (
                "partitioner",
                Pattern::regex(r"^.*exits: none on cpus 0b11$"),
            ),
        ],
        STEP,
    )?;
    let log = session.lines("partitioner");
    assert!(
        log.iter()
            .any(|l| l.contains("cell burst: SYSTEM_RESET, restarting")),
        "{log:#?}"
    );
    let bursts = session.lines("burst");
    let bad: Vec<&String> = bursts
        .iter()
        .filter(|l| {
            l.contains("SGIs taken")
                && !l.ends_with(": 8 of 8 SGIs taken, 0 twice, 0 others since boot")
        })
        .collect();
    assert!(bad.is_empty(), "bursts with lost or doubled SGIs: {bad:#?}");
    common::assert_no_partitioner_problems(&session);
    Ok(())
}

/// The gateway scenario (`common::gateway_cells_run_side_by_side`) with
/// the containers cell's interrupts virtualized
/// (`hil-tests/configs/qemu-gateway-virtualized.yaml`): Debian's
/// unmodified generic kernel boots from virtio-blk, gets its address on
/// virtio-net, runs its containers and answers the control loop over the
/// channel, its timer, IPIs, device interrupts and doorbell all listed by
/// the partitioner; the real-time cell beside it keeps direct delivery.
#[test]
fn a_linux_cell_runs_on_virtualized_interrupts() -> Result<(), HarnessError> {
    let mut session = common::gateway_session(artifacts::boot(
        "qemu-gateway-virtualized",
        "virtualized_linux_cell_runs",
        Duration::from_secs(150),
    ));
    session.expect_all(
        [
            (
                "partitioner",
                Pattern::regex(r"^.*cell control: cpus 0b11 .*, interrupts direct$"),
            ),
            (
                "partitioner",
                Pattern::regex(r"^.*cell containers: cpus 0b1100 .*, interrupts virtualized$"),
            ),
        ],
        Duration::from_secs(10),
    )?;
    common::gateway_cells_run_side_by_side(&mut session, &common::QEMU_GATEWAY)?;
    // Typing reaches both shells: the containers cell's console interrupt
    // is listed for it, the control cell takes its own directly; the
    // board UART's receive interrupt goes to the containers cell's first
    // core, the housekeeping core, never to the real-time cell's.
    common::assert_console_input(&session, 33, "cpu 2 (IRQ, virtualized cell)");
    for (cell, cpus) in [("containers", "0-1"), ("control", "0-1")] {
        let answer = common::log_into_shell(&mut session, cell)?;
        assert!(answer.ends_with(cpus), "{cell}: {answer}");
    }

    // The containers cell's first core (the first virtualized one) logs
    // every core's exits every 10 s. The real-time cell's isolated core
    // (CPU 1, cyclictest's, `wfi: direct`) exited while Linux brought it
    // up; once up, it never takes an interrupt through EL2, never waits
    // there and touches no emulated device, while the containers cell
    // works and all its interrupts exit. What it still does is send the
    // odd IPI (Linux's own, about one a second here), which traps like
    // every SGI a direct cell sends: reported, not a failure.
    let cpu1 = |session: &Session| -> Vec<String> {
        session
            .lines("partitioner")
            .into_iter()
            .filter_map(|l| l.split("exits on cpu 1: ").nth(1).map(str::to_string))
            .collect()
    };
    session.skip_to_end("partitioner");
    let seen = cpu1(&session).len();
    for _ in 0..2 {
        session.expect(
            "partitioner",
            Pattern::regex(r"^.*exits on cpu 1: irq 0, .*$"),
            Duration::from_secs(15),
        )?;
    }
    let lines = cpu1(&session);
    // Every count but the SGIs', as `name value` words.
    let without_sgis = |line: &String| -> String {
        line.split(", ")
            .filter(|field| !field.starts_with("sgi "))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let after_boot: Vec<String> = lines[seen..].iter().map(without_sgis).collect();
    assert!(
        after_boot.len() >= 2 && after_boot.windows(2).all(|w| w[0] == w[1]),
        "the real-time cell's isolated core exited for more than its own IPIs: {lines:#?}"
    );
    println!("isolated core's exits (informational): {lines:?}");
    Ok(())
}
