//! A watchdog per cell (`watchdog: { timeout_ms, action }`,
//! docs/architecture.md "Watchdogs"): the partitioner emulates an Arm
//! SP805 for the cell, arms it when the cell starts and applies the
//! action when the cell stops petting it. Its timer runs on the
//! housekeeping core, never on another cell's.
//!
//! These need the images `cargo xtask build` makes; run them through
//! `cargo xtask test`. Logs land in `target/hil/<test name>/`.

use hil_tests::{artifacts, HarnessError, Pattern};
use std::time::Duration;

/// A bare-metal cell pets its watchdog, then masks every interrupt and
/// spins: nothing of the cell's can end that, and the partitioner
/// restarts it one timeout after the last pet, again and again, while
/// its neighbour beats on (`hil-tests/configs/qemu-watchdog.yaml`; the
/// neighbour's core is the housekeeping core, with firmware keeping
/// Group 0 or not).
#[test]
fn a_cell_that_spins_with_interrupts_masked_is_restarted() -> Result<(), HarnessError> {
    let mut session = artifacts::boot(
        "qemu-watchdog",
        "watchdog_spinning_cell_restarted",
        Duration::from_secs(60),
    );
    const STEP: Duration = Duration::from_secs(20);
    for boot in 0..3 {
        session.expect(
            "dog",
            Pattern::from(format!(
                "watchdog cell: boot {boot}, watchdog at 0x9001000, control 0x3, load 11999999"
            )),
            STEP,
        )?;
        session.expect(
            "dog",
            Pattern::regex(r"^watchdog cell: pet 5 \(\d+ ticks were left\)$"),
            STEP,
        )?;
        session.expect(
            "dog",
            Pattern::from("watchdog cell: masking interrupts and spinning"),
            STEP,
        )?;
        let expired = session.expect(
            "partitioner",
            Pattern::regex(
                r"^.*cell dog: watchdog expired, not petted for (\d+) ms \(timeout 1000 ms\)$",
            ),
            STEP,
        )?;
        // Noticed at its deadline: the housekeeping core's timer is armed
        // for it (QEMU's own scheduling adds a little).
        let quiet: u64 = expired
            .rsplit("not petted for ")
            .next()
            .and_then(|rest| rest.split(' ').next())
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(0);
        assert!((1000..1500).contains(&quiet), "{expired}");
        session.expect(
            "partitioner",
            Pattern::from("cell dog: watchdog: restarting; other cells continue"),
            STEP,
        )?;
    }
    // The neighbour never missed a beat: its heartbeats count on, one
    // boot, no restart.
    let beats: Vec<u64> = session
        .lines("steady")
        .iter()
        .filter_map(|l| l.strip_prefix("heartbeat ")?.parse().ok())
        .collect();
    assert!(beats.len() >= 10, "{beats:?}");
    assert!(beats.windows(2).all(|w| w[1] == w[0] + 1), "{beats:?}");
    let log = session.lines("partitioner");
    assert!(
        !log.iter()
            .any(|l| l.contains("cell steady:") && l.contains("restart")),
        "{log:#?}"
    );
    // The config turns console input off: the partitioner says so.
    assert!(
        log.iter()
            .any(|l| l.ends_with("console input: off (console_input: off)")),
        "{log:#?}"
    );
    Ok(())
}
