//! `cargo xtask soak --minutes N [--crashes C]`: the soaks (docs/hil.md).
//!
//! 1. The hostile-guest soak: builds `hil-tests/configs/qemu-fuzz.yaml`,
//!    lets the fuzzer cell run its seeded hostile operations beside the
//!    canary cell for N minutes (every fault a restart of the fuzzer: some
//!    950 a minute), prints what happened and the restart times, and fails
//!    on a partitioner error, a corrupted canary, a gap between canary
//!    beats over two periods, a stuck cell, a silent fuzzer or QEMU dying.
//! 2. The Linux restart soak: `hil-tests/configs/qemu-crashloop.yaml`
//!    under icount, the containers cell's kernel crashing C times (each a
//!    restart of the cell alone) while the real-time cell runs cyclictest;
//!    fails when the real-time cell's worst case exceeds its
//!    `latency_budget` or the loop does not complete.

use crate::build;
use crate::layout::Layout;
use anyhow::{bail, Result};
use hil_tests::soak::{fuzz_log, run_crash_soak, run_fuzz_soak, SoakOptions};
use std::path::Path;
use std::time::Duration;

/// The hostile-guest soak's config.
pub const FUZZ_CONFIG: &str = "hil-tests/configs/qemu-fuzz.yaml";
/// The Linux restart soak's config (20 crashes, budget 200 us).
pub const CRASH_CONFIG: &str = "hil-tests/configs/qemu-crashloop.yaml";
/// The real-time cell's `latency_budget` in that config, in microseconds.
const RT_BUDGET_US: u64 = 200;
/// The crashes that config asks for (`bulkhead.crashes=`).
const CRASHES: u64 = 20;

/// Runs the hostile-guest soak for `minutes`, then, with `crashes`, the
/// Linux restart soak.
pub fn run(layout: &Layout, minutes: u64, crashes: bool) -> Result<()> {
    let built = build::run(layout, Path::new(FUZZ_CONFIG))?;
    let build_dir = built
        .boot_image
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let log_root = layout.target.join("hil");
    let run = "soak".to_string();
    println!(
        "soak: {minutes} min of the fuzzer beside the canary; operations in {}",
        fuzz_log(&log_root, &run).display()
    );
    let report = run_fuzz_soak(&SoakOptions {
        build_dir,
        duration: Duration::from_secs(minutes * 60),
        run: run.clone(),
        log_root,
        partitioner_elf: Some(built.partitioner_elf),
    })?;
    println!("{}", report.summary());
    let mut failures = report.failures();
    if crashes {
        let built = build::run(layout, Path::new(CRASH_CONFIG))?;
        let build_dir = built
            .boot_image
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        println!(
            "soak: the containers cell crashing {CRASHES} times beside the real-time cell (icount)"
        );
        let crash = run_crash_soak(
            &build_dir,
            &layout.target.join("hil"),
            Some(built.partitioner_elf),
            Duration::from_secs(1800),
        )?;
        println!("{}", crash.summary(RT_BUDGET_US));
        failures.extend(crash.failures(CRASHES, RT_BUDGET_US));
    }
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("soak: FAILED: {failure}");
        }
        bail!("the soak failed ({} problems); replay the fuzzer from the seed, life and operation in its log", failures.len());
    }
    println!("soak: passed");
    Ok(())
}
