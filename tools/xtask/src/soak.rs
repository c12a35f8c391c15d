//! `cargo xtask soak --minutes N`: the hostile-guest soak (docs/hil.md).
//! Builds `hil-tests/configs/qemu-fuzz.yaml`, lets the fuzzer cell run its
//! seeded hostile operations beside the canary cell for N minutes, prints
//! what happened and fails on a partitioner error, a corrupted canary, a
//! gap between canary beats over two periods, a stuck cell, a silent
//! fuzzer or QEMU dying.

use crate::build;
use crate::layout::Layout;
use anyhow::{bail, Result};
use hil_tests::soak::{fuzz_log, run_fuzz_soak, SoakOptions};
use std::path::Path;
use std::time::Duration;

/// The soak's config.
pub const FUZZ_CONFIG: &str = "hil-tests/configs/qemu-fuzz.yaml";

/// Runs the soak for `minutes`.
pub fn run(layout: &Layout, minutes: u64) -> Result<()> {
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
    let failures = report.failures();
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("soak: FAILED: {failure}");
        }
        bail!("the soak failed ({} problems); replay from the seed, life and operation in the fuzzer's log", failures.len());
    }
    println!("soak: passed");
    Ok(())
}
