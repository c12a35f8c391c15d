//! Two minutes of the hostile-guest soak (`hil_tests::soak`, docs/hil.md):
//! the fuzzer cell runs seeded hostile operations and is restarted after
//! every fault, beside the canary cell. The test fails on any partitioner
//! error other than the fuzzer's contained faults, a corrupted canary, a
//! gap between canary beats over two periods, a cell stuck in stop, a
//! silent fuzzer or QEMU dying. `cargo xtask soak --minutes N` runs longer
//! soaks.

use hil_tests::session::default_log_root;
use hil_tests::soak::{run_fuzz_soak, SoakOptions};
use std::time::Duration;

#[test]
fn two_minutes_of_hostile_operations_are_contained() {
    let options = SoakOptions {
        build_dir: hil_tests::artifacts::dir().join("qemu-fuzz"),
        duration: Duration::from_secs(120),
        run: "soak".into(),
        log_root: default_log_root(),
        partitioner_elf: hil_tests::artifacts::partitioner_elf(),
    };
    let report = run_fuzz_soak(&options).unwrap_or_else(|error| panic!("{error}"));
    println!("{}", report.summary());
    let failures = report.failures();
    assert!(failures.is_empty(), "{}\n{failures:#?}", report.summary());
    // Enough happened to mean something: hundreds of lives, each ended
    // by a contained fault or a reset, and the canary checked all along.
    assert!(report.lives >= 100, "{}", report.summary());
    assert!(report.faults >= 50, "{}", report.summary());
    assert!(report.canary_checks >= 300, "{}", report.summary());
}

/// The Linux restart soak (`cargo xtask soak` runs it after the fuzzer):
/// the containers cell's kernel crashes 20 times, each a restart of that
/// cell alone, while the real-time cell's cyclictest stays within its
/// budget. Minutes under icount, so not in `cargo xtask test`; run it
/// with `--ignored` after `cargo xtask build --config
/// hil-tests/configs/qemu-crashloop.yaml`.
#[test]
#[ignore = "minutes under icount: `cargo xtask soak` runs it"]
fn twenty_container_crashes_leave_the_realtime_cell_within_budget() {
    let report = hil_tests::soak::run_crash_soak(
        &hil_tests::artifacts::dir().join("qemu-crashloop"),
        &default_log_root(),
        hil_tests::artifacts::partitioner_elf(),
        Duration::from_secs(1800),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    println!("{}", report.summary(200));
    let failures = report.failures(20, 200);
    assert!(failures.is_empty(), "{failures:#?}");
}
