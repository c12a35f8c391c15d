//! The real-time lab as a system test (`configs/qemu-rt-lab.yaml`):
//! cyclictest in the PREEMPT_RT cell while the containers cell idles, is
//! loaded (CPU, memory, disk, IPC flood) and crashes, in QEMU with icount
//! (one tick = one instruction, `targets/qemu-icount.yaml`). Fails when a
//! phase breaks the cell's `latency_budget` or the target's
//! `max_load_factor`, or has no round to measure, and when anything but
//! its own requests exited its core (an interrupt through EL2, a kick,
//! EL2's timer) in the whole run.
//!
//! Beside it, the isolated-core lab (`configs/qemu-rt-isolated.yaml`): the
//! real-time cell on two CPUs, the second isolated, where nothing may exit
//! at all while the neighbour idles, works, crashes and restarts.
//!
//! Needs the images `cargo xtask build` makes (`BULKHEAD_ARTIFACTS`; the
//! lab configs are among the system-test configs). Their logs go to
//! `target/hil/rt-lab-test/` and `rt-isolated-test/`; `cargo xtask hil`
//! runs the same labs.

use hil_tests::report::{
    core_exit_checks, isolated_core_checks, realtime_checks, IsolatedCoreRecord,
};
use hil_tests::rt_lab::{
    run_rt_lab, Phase, RtLabImages, RtLabRun, IPI_TRACE, ONE_RUN, RT_CELL, RUNNING,
};
use hil_tests::session::default_log_root;
use hil_tests::TargetDescription;
use std::path::PathBuf;
use std::time::Duration;

/// One run of a lab: its target, its output, and the real-time cell's
/// board CPUs.
struct Lab {
    target: TargetDescription,
    run: RtLabRun,
    budget: Option<u64>,
    cpus: Vec<usize>,
}

/// Runs the lab built for config `config` on target file `target` (in
/// `targets/`) as run `run_name`, within `deadline`.
fn run_lab(target: &str, config: &str, run_name: &str, deadline: Duration) -> Lab {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = TargetDescription::load(&crate_dir.join("targets").join(target))
        .unwrap_or_else(|error| panic!("{error}"));
    let images = RtLabImages {
        build_dir: hil_tests::artifacts::dir().join(config),
        partitioner_elf: hil_tests::artifacts::partitioner_elf_of(config),
    };
    let run = run_rt_lab(&target, &images, &default_log_root(), run_name, deadline)
        .unwrap_or_else(|error| panic!("{error}"));
    let config = images.build_dir.join("config.yaml");
    let budget = hil_tests::config::latency_budget(&config, RT_CELL)
        .unwrap_or_else(|error| panic!("{error}"));
    let cpus =
        hil_tests::config::cell_cpus(&config, RT_CELL).unwrap_or_else(|error| panic!("{error}"));
    Lab {
        target,
        run,
        budget,
        cpus,
    }
}

#[test]
fn rt_cell_keeps_its_budget_while_the_neighbour_idles_works_and_crashes() {
    let Lab {
        target,
        run,
        budget,
        cpus,
    } = run_lab(
        "qemu-icount.yaml",
        "qemu-rt-lab",
        "rt-lab-test",
        Duration::from_secs(600),
    );
    let budget = budget.expect("the lab's real-time cell declares a latency_budget");
    let mut checks = realtime_checks(
        &run.output,
        Some(budget),
        target.latency_budget.max_load_factor,
    );
    let rt_exits: Vec<_> = run
        .output
        .exits
        .iter()
        .filter(|c| cpus.contains(&c.cpu))
        .copied()
        .collect();
    checks.extend(core_exit_checks(&rt_exits));
    for phase in Phase::MEASURED {
        eprintln!(
            "{:<7} {} rounds: {:?}",
            phase.name(),
            run.output.rounds_in(phase),
            run.output.stats(phase)
        );
    }
    for check in &checks {
        eprintln!("{} {}: {}", check.measurement, check.bound, check.message);
    }
    eprintln!(
        "logs: {} ({:.0} s)",
        run.log_dir.display(),
        run.took.as_secs_f64()
    );
    assert!(
        !run.output.ipc.is_empty(),
        "the control loop never reported a round trip"
    );
    assert_eq!(
        checks.len(),
        6,
        "three budgets, two load factors, the real-time core's exits"
    );
    assert!(
        checks.iter().all(|check| check.passed),
        "bounds violated (logs in {}): {checks:#?}",
        run.log_dir.display()
    );
}

/// The isolated core of a two-CPU real-time cell (`isolcpus`, `nohz_full`,
/// `wfi: direct`, direct interrupts) runs cyclictest's measuring thread
/// without a single exit to the partitioner, for any cause, from the
/// first count after it began measuring, while the neighbour was idle,
/// until after the neighbour's crash and restart. Exit counts do not
/// depend on time, so this runs on QEMU without icount.
#[test]
fn the_isolated_core_never_exits_while_the_neighbour_idles_works_and_crashes() {
    let Lab { run, cpus, .. } = run_lab(
        "qemu.yaml",
        "qemu-rt-isolated",
        "rt-isolated-test",
        Duration::from_secs(300),
    );
    let isolated = *cpus.last().expect("the real-time cell has CPUs");
    let said = |prefix: &str| run.lines.iter().any(|(_, text)| text.starts_with(prefix));
    assert!(
        said(ONE_RUN) && said(RUNNING),
        "cyclictest never measured on the isolated core (logs in {})",
        run.log_dir.display()
    );
    assert_eq!(
        run.output.start_phase,
        Some(Phase::Idle),
        "the window starts while the neighbour idles (logs in {})",
        run.log_dir.display()
    );
    let checks = isolated_core_checks(&IsolatedCoreRecord::of(&run, isolated));
    for check in &checks {
        eprintln!("{} {}: {}", check.measurement, check.bound, check.message);
    }
    // What the core's own kernel traced of the IPIs it raised, if any.
    let traced: Vec<&str> = run
        .lines
        .iter()
        .filter_map(|(_, text)| text.strip_prefix(IPI_TRACE))
        .collect();
    assert!(
        checks.iter().all(|check| check.passed),
        "the isolated core exited (logs in {}): {checks:#?}\nIPIs it raised, as its kernel traced them:\n{}",
        run.log_dir.display(),
        traced.join("\n")
    );
}
