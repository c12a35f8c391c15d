//! The latency lab as a system test: the interrupt latency probe runs
//! natively and as a Bulkhead cell in QEMU with icount (one tick = one
//! instruction), and the test fails when the Bulkhead run breaks the
//! latency budget of `targets/qemu-icount.yaml` or the probe cell's
//! `latency_budget` in `configs/qemu-latency-lab.yaml`.
//!
//! Needs the images `cargo xtask build` makes (`BULKHEAD_ARTIFACTS`; the
//! lab config `configs/qemu-latency-lab.yaml` is among the system-test
//! configs). It writes its report to `target/hil/latency-test/`;
//! `cargo xtask hil` runs the same scenario and writes `target/hil/report.*`.

use hil_tests::latency::{run_probe_scenario, ProbeImages, ScenarioOptions};
use hil_tests::report::{Provenance, Report, RunRecord};
use hil_tests::session::default_log_root;
use hil_tests::TargetDescription;
use std::path::PathBuf;
use std::time::Duration;

#[test]
fn interrupt_latency_stays_within_the_icount_budget() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = TargetDescription::load(&crate_dir.join("targets/qemu-icount.yaml"))
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        target.is_deterministic() && !target.latency_budget.is_empty(),
        "the lab target must run under icount and declare a budget"
    );
    let mut images = ProbeImages::in_artifacts(&hil_tests::artifacts::dir(), "qemu-latency-lab");
    images.partitioner_elf = std::env::var_os("BULKHEAD_PARTITIONER_ELF").map(PathBuf::from);
    let out = default_log_root().join("latency-test");
    let options = ScenarioOptions {
        log_root: out.clone(),
        run_prefix: "run".to_string(),
        deadline: Duration::from_secs(60),
    };
    let (native, bulkhead) =
        run_probe_scenario(&target, &images, &options).unwrap_or_else(|error| panic!("{error}"));
    let native = native.expect("QEMU always has a native run");

    // The cell's own view: the probe ran as a cell, natively it did not.
    assert!(
        bulkhead.lines[0].starts_with("probe (cell)"),
        "{:?}",
        bulkhead.lines
    );
    assert!(
        native.lines[0].starts_with("probe (native)"),
        "{:?}",
        native.lines
    );

    let mut report = Report::new(
        Provenance::collect(
            &crate_dir,
            &target,
            &crate_dir.join("configs/qemu-latency-lab.yaml"),
        ),
        Some(RunRecord::of(&native)),
        RunRecord::of(&bulkhead),
        &target.latency_budget,
    );
    let lab_config = hil_tests::artifacts::dir().join("qemu-latency-lab/config.yaml");
    let cell_budget = hil_tests::config::probe_cell_budget(&lab_config)
        .unwrap_or_else(|error| panic!("{error}"))
        .expect("the probe cell of the lab config declares a latency_budget");
    report.add_cell_budget(cell_budget);
    let (_, html) = report.write(&out).unwrap_or_else(|error| panic!("{error}"));
    eprintln!("{}report: {}", report.summary_text(), html.display());

    // Every measurement, complete, in both runs.
    for row in &report.comparison {
        for stats in [row.native, row.bulkhead] {
            let stats = stats.unwrap_or_else(|| panic!("{}: no samples", row.measurement));
            assert_eq!((stats.samples, stats.lost), (200, 0), "{}", row.measurement);
        }
    }
    assert_eq!(report.comparison.len(), 3);
    // The target's five bounds and the cell's, one per measurement.
    assert_eq!(report.budget.checks.len(), 8, "{:#?}", report.budget);
    assert!(
        report.budget.passed,
        "the latency budget of {} is violated:\n{}",
        target.name,
        report.summary_text()
    );
}
