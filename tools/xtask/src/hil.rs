//! `cargo xtask hil`: the latency lab in one run. Builds the lab config,
//! boots the interrupt latency probe natively and as a Bulkhead cell on
//! one target (by default QEMU with icount), checks the target's latency
//! budget and writes `target/hil/report.json` and `report.html`.
//!
//! The same scenario runs as the `latency` system test; see docs/hil.md.

use crate::build;
use crate::layout::Layout;
use anyhow::{bail, Context, Result};
use hil_tests::latency::{run_probe_scenario, ProbeImages, ScenarioOptions};
use hil_tests::report::{Provenance, Report, RunRecord};
use hil_tests::TargetDescription;
use std::path::Path;
use std::time::{Duration, Instant};

/// The target `cargo xtask hil` measures on by default.
pub const DEFAULT_TARGET: &str = "hil-tests/targets/qemu-icount.yaml";

/// The one-cell config the probe runs in.
pub const LAB_CONFIG: &str = "hil-tests/configs/qemu-latency-lab.yaml";

/// Runs the scenario; fails when a run fails or the budget is violated.
pub fn run(layout: &Layout, target: &Path, config: &Path) -> Result<()> {
    let target_path = layout.user_path(target);
    let description = TargetDescription::load(&target_path)?;
    let built = build::run(layout, config)?;
    let stem = built
        .config
        .file_stem()
        .context("the lab config has no file name")?
        .to_string_lossy()
        .into_owned();
    let mut images = ProbeImages::in_artifacts(&layout.artifacts(), &stem);
    images.partitioner_elf = Some(built.partitioner_elf.clone());
    let out = layout.target.join("hil");
    let options = ScenarioOptions {
        log_root: out.clone(),
        run_prefix: format!("latency-{}", description.name),
        deadline: Duration::from_secs(60),
    };

    println!(
        "\nhil: probe scenario on target `{}` ({})",
        description.name,
        target_path.display()
    );
    if !description.is_deterministic() {
        println!(
            "hil: note: this target is not deterministic (no icount): figures are \
             reported, no budget is checked"
        );
    }
    let started = Instant::now();
    let (native, bulkhead) = run_probe_scenario(&description, &images, &options)?;
    for run in native.iter().chain([&bulkhead]) {
        println!(
            "hil: {} run: {} lines in {:.1} s ({})",
            run.name,
            run.lines.len(),
            run.took.as_secs_f64(),
            run.log_dir.display()
        );
    }
    let provenance = Provenance::collect(&layout.root, &description, &built.config);
    let report = Report::new(
        provenance,
        native.as_ref().map(RunRecord::of),
        RunRecord::of(&bulkhead),
        &description.latency_budget,
    );
    let (json, html) = report.write(&out)?;
    println!("\n{}", report.summary_text());
    println!("hil: report: {}", json.display());
    println!("hil: report: {}", html.display());
    println!("hil: done in {:.1} s", started.elapsed().as_secs_f64());
    if !report.budget.passed {
        bail!("the latency budget of `{}` is violated", description.name);
    }
    Ok(())
}
