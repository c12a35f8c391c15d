//! `cargo xtask hil`: the latency lab in one run. Builds the lab configs,
//! boots the interrupt latency probe natively and as a Bulkhead cell on
//! one target (by default QEMU with icount), then, on QEMU targets, the
//! real-time lab (cyclictest in the PREEMPT_RT cell while its neighbour
//! idles, is loaded and crashes) and the isolated-core lab (the same with
//! an isolated core that must never exit), checks the bounds and writes
//! `target/hil/report.json` and `report.html`.
//!
//! The same scenarios run as the `latency` and `rt_lab` system tests; see
//! docs/hil.md.

use crate::build;
use crate::layout::Layout;
use anyhow::{bail, Context, Result};
use hil_tests::boot_times::{self, BootTimes};
use hil_tests::ipc_bench::run_ipc_bench;
use hil_tests::latency::{run_cell_probe, run_probe_scenario, ProbeImages, ScenarioOptions};
use hil_tests::report::{
    BootRecord, IpcRecord, IsolatedCoreRecord, Provenance, RealtimeRecord, Report, RunRecord,
};
use hil_tests::rt_lab::{run_rt_lab, RtLabImages, RT_CELL};
use hil_tests::target::description::TargetKind;
use hil_tests::TargetDescription;
use std::path::Path;
use std::time::{Duration, Instant};

/// The target `cargo xtask hil` measures on by default.
pub const DEFAULT_TARGET: &str = "hil-tests/targets/qemu-icount.yaml";

/// The one-cell config the probe runs in.
pub const LAB_CONFIG: &str = "hil-tests/configs/qemu-latency-lab.yaml";

/// The latency lab with the probe's interrupts virtualized, run after
/// [`LAB_CONFIG`] on QEMU targets.
pub const VIRTUALIZED_LAB_CONFIG: &str = "hil-tests/configs/qemu-latency-lab-virtualized.yaml";

/// The real-time lab's config.
pub const RT_LAB_CONFIG: &str = "hil-tests/configs/qemu-rt-lab.yaml";

/// The isolated-core lab's config: the real-time lab with a two-CPU
/// real-time cell, run after it on QEMU targets.
pub const RT_ISOLATED_CONFIG: &str = "hil-tests/configs/qemu-rt-isolated.yaml";

/// The target the isolated-core lab runs on: exit counts do not depend on
/// time, so QEMU without icount, which is faster.
pub const RT_ISOLATED_TARGET: &str = "hil-tests/targets/qemu.yaml";

/// The IPC lab's config.
pub const IPC_LAB_CONFIG: &str = "hil-tests/configs/qemu-ipc-lab.yaml";

/// Runs the scenario; fails when a run fails or the budget is violated.
pub fn run(layout: &Layout, target: &Path, config: &Path, rt_config: Option<&Path>) -> Result<()> {
    let target_path = layout.user_path(target);
    let description = TargetDescription::load(&target_path)?;
    let (built, images) = build_probe_lab(layout, config)?;
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
    let mut report = Report::new(
        provenance,
        native.as_ref().map(RunRecord::of),
        RunRecord::of(&bulkhead),
        &description.latency_budget,
    );
    // The probe cell's latency_budget, if it has one, bounds every probe
    // measurement.
    let lab_config = build_dir_of(layout, &built.config)?.join("config.yaml");
    if let Some(budget) = hil_tests::config::probe_cell_budget(&lab_config)? {
        report.add_cell_budget(budget);
    }
    let qemu = matches!(description.kind, TargetKind::Qemu(_));
    if qemu {
        virtualized_lab(layout, &description, &options, &mut report)?;
    }
    ipc_lab(layout, &description, &options, &mut report)?;
    if qemu {
        boot_times(layout, &description, &out, &mut report)?;
    }
    match (rt_config, qemu) {
        (Some(rt_config), _) => realtime_lab(layout, &description, rt_config, &out, &mut report)?,
        (None, true) => realtime_lab(
            layout,
            &description,
            Path::new(RT_LAB_CONFIG),
            &out,
            &mut report,
        )?,
        (None, false) => println!(
            "hil: no --rt-config for board `{}`: its real-time lab is skipped (docs/hil.md)",
            description.name
        ),
    }
    if qemu {
        isolated_core_lab(layout, &out, &mut report)?;
    }
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

/// Builds a latency lab config (`cargo xtask build`) and names the images
/// its probe scenario boots.
fn build_probe_lab(layout: &Layout, config: &Path) -> Result<(build::Built, ProbeImages)> {
    let built = build::run(layout, config)?;
    let stem = built
        .config
        .file_stem()
        .context("the lab config has no file name")?
        .to_string_lossy()
        .into_owned();
    let mut images = ProbeImages::in_artifacts(&layout.artifacts(), &stem);
    images.partitioner_elf = Some(built.partitioner_elf.clone());
    Ok((built, images))
}

/// Builds and runs the probe in a cell whose interrupts are virtualized
/// ([`VIRTUALIZED_LAB_CONFIG`]) and adds it to `report` next to direct
/// delivery.
fn virtualized_lab(
    layout: &Layout,
    description: &TargetDescription,
    options: &ScenarioOptions,
    report: &mut Report,
) -> Result<()> {
    let (_, images) = build_probe_lab(layout, Path::new(VIRTUALIZED_LAB_CONFIG))?;
    let options = ScenarioOptions {
        log_root: options.log_root.clone(),
        run_prefix: format!("{}-virtualized", options.run_prefix),
        deadline: options.deadline,
    };
    println!(
        "\nhil: probe scenario with virtualized interrupts on target `{}`",
        description.name
    );
    // The native baseline is the direct run's: boot only the cell.
    let virtualized = run_cell_probe(description, &images, &options)?;
    println!(
        "hil: virtualized run: {} lines in {:.1} s ({})",
        virtualized.lines.len(),
        virtualized.took.as_secs_f64(),
        virtualized.log_dir.display()
    );
    report.add_virtualized(VIRTUALIZED_LAB_CONFIG, &RunRecord::of(&virtualized));
    Ok(())
}

/// Builds a real-time lab config (`cargo xtask build`) and names the images
/// its run boots.
fn build_rt_lab(layout: &Layout, config: &Path) -> Result<(build::Built, RtLabImages)> {
    let built = build::run(layout, config)?;
    let images = RtLabImages {
        build_dir: build_dir_of(layout, &built.config)?,
        partitioner_elf: Some(built.partitioner_elf.clone()),
    };
    Ok((built, images))
}

/// Builds and runs the real-time lab and adds it to `report`.
fn realtime_lab(
    layout: &Layout,
    description: &TargetDescription,
    config: &Path,
    out: &Path,
    report: &mut Report,
) -> Result<()> {
    let (built, images) = build_rt_lab(layout, config)?;
    let budget = hil_tests::config::latency_budget(&images.build_dir.join("config.yaml"), RT_CELL)?;
    report.provenance.add_guest_packages(&images.build_dir)?;
    println!(
        "\nhil: real-time lab on target `{}` ({})",
        description.name,
        built.config.display()
    );
    let run = run_rt_lab(
        description,
        &images,
        out,
        &format!("rt-lab-{}", description.name),
        Duration::from_secs(900),
    )?;
    println!(
        "hil: real-time lab: {} lines in {:.1} s ({})",
        run.lines.len(),
        run.took.as_secs_f64(),
        run.log_dir.display()
    );
    let cpus = hil_tests::config::cell_cpus(&images.build_dir.join("config.yaml"), RT_CELL)?;
    let record = RealtimeRecord::of(&run, RT_CELL, budget).with_core_exits(&run.output, &cpus);
    for exits in &record.core_exits {
        println!(
            "hil: real-time cell's cpu {}: {} exits imposed (irq {}, other {}); its own: sgi {}, doorbell {}, mmio {}, call {}, wfi {}, register {}",
            exits.cpu,
            exits.imposed(),
            exits.irq,
            exits.other,
            exits.sgi,
            exits.doorbell,
            exits.mmio,
            exits.call,
            exits.wfi,
            exits.register
        );
    }
    report.add_realtime(
        record,
        &run.output,
        budget,
        description.latency_budget.max_load_factor,
    );
    Ok(())
}

/// Builds and runs the isolated-core lab ([`RT_ISOLATED_CONFIG`] on
/// [`RT_ISOLATED_TARGET`]) and adds the isolated core's exits to `report`.
fn isolated_core_lab(layout: &Layout, out: &Path, report: &mut Report) -> Result<()> {
    let target = TargetDescription::load(&layout.root.join(RT_ISOLATED_TARGET))?;
    let (built, images) = build_rt_lab(layout, Path::new(RT_ISOLATED_CONFIG))?;
    println!(
        "\nhil: isolated-core lab on target `{}` ({})",
        target.name,
        built.config.display()
    );
    let run = run_rt_lab(
        &target,
        &images,
        out,
        "rt-isolated",
        Duration::from_secs(300),
    )?;
    let cpus = hil_tests::config::cell_cpus(&images.build_dir.join("config.yaml"), RT_CELL)?;
    let isolated = *cpus
        .last()
        .context("the isolated-core lab's real-time cell has no CPU")?;
    let record = IsolatedCoreRecord::of(&run, isolated);
    println!(
        "hil: {} ({:.1} s)",
        record.summary(),
        run.took.as_secs_f64()
    );
    report.add_isolated_core(record);
    Ok(())
}

/// Builds and runs the IPC lab (two bare-metal peers) and adds it to
/// `report`.
fn ipc_lab(
    layout: &Layout,
    description: &TargetDescription,
    options: &ScenarioOptions,
    report: &mut Report,
) -> Result<()> {
    let built = build::run(layout, Path::new(IPC_LAB_CONFIG))?;
    let build_dir = build_dir_of(layout, &built.config)?;
    println!("\nhil: IPC lab on target `{}`", description.name);
    let options = ScenarioOptions {
        run_prefix: "ipc-lab".to_string(),
        ..options.clone()
    };
    let run = run_ipc_bench(description, &build_dir, &options)?;
    println!("{}", run.bench.summary_text());
    report.ipc = Some(IpcRecord::of(&run));
    Ok(())
}

/// Boots the default gateway until both Linux cells are in user space and
/// adds the boot times to `report`.
fn boot_times(
    layout: &Layout,
    description: &TargetDescription,
    out: &Path,
    report: &mut Report,
) -> Result<()> {
    let built = build::run(layout, Path::new(build::DEFAULT_CONFIG))?;
    let build_dir = build_dir_of(layout, &built.config)?;
    let cells = hil_tests::cell_names(&build_dir.join("config.yaml"))?;
    report.provenance.add_guest_packages(&build_dir)?;
    println!("\nhil: boot times of {}", built.config.display());
    let options = hil_tests::SessionOptions::new(&format!("boot-{}", description.name))
        .log_root(out)
        .deadline(Duration::from_secs(420))
        .partitioner_elf(&built.partitioner_elf);
    let (mut session, command) = boot_times::boot(description, &build_dir, options)?;
    let userspace =
        hil_tests::Pattern::regex(r"^bulkhead-guest: boot: userspace at counter \d+ \(\d+ Hz\)$");
    session.expect_all(
        cells.iter().map(|cell| (cell.as_str(), userspace.clone())),
        Duration::from_secs(400),
    )?;
    let names: Vec<&str> = cells.iter().map(String::as_str).collect();
    let times = BootTimes::from_session(&session, &names)?;
    drop(session);
    println!("{times}");
    report.boot = Some(BootRecord {
        config: built.config.display().to_string(),
        command,
        times,
    });
    Ok(())
}

/// Where `cargo xtask build` put the artifacts of `config`.
fn build_dir_of(layout: &Layout, config: &Path) -> Result<std::path::PathBuf> {
    let stem = config
        .file_stem()
        .with_context(|| format!("{} has no file name", config.display()))?;
    Ok(layout.artifacts().join(stem))
}
