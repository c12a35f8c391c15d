//! The real-time lab as a system test (`configs/qemu-rt-lab.yaml`):
//! cyclictest in the PREEMPT_RT cell while the containers cell idles, is
//! loaded (CPU, memory, disk, IPC flood) and crashes, in QEMU with icount
//! (one tick = one instruction, `targets/qemu-icount.yaml`). Fails when a
//! phase breaks the cell's `latency_budget` or the target's
//! `max_load_factor`, or has no round to measure, and when anything but
//! its own requests exited its core (an interrupt through EL2, a kick,
//! EL2's timer) in the whole run.
//!
//! Needs the images `cargo xtask build` makes (`BULKHEAD_ARTIFACTS`; the
//! lab config is among the system-test configs). Its logs and report go to
//! `target/hil/rt-lab-test/`; `cargo xtask hil` runs the same lab.

use hil_tests::report::{core_exit_checks, realtime_checks};
use hil_tests::rt_lab::{run_rt_lab, Phase, RtLabImages, RT_CELL};
use hil_tests::session::default_log_root;
use hil_tests::TargetDescription;
use std::path::PathBuf;
use std::time::Duration;

#[test]
fn rt_cell_keeps_its_budget_while_the_neighbour_idles_works_and_crashes() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = TargetDescription::load(&crate_dir.join("targets/qemu-icount.yaml"))
        .unwrap_or_else(|error| panic!("{error}"));
    let images = RtLabImages {
        build_dir: hil_tests::artifacts::dir().join("qemu-rt-lab"),
        partitioner_elf: hil_tests::artifacts::partitioner_elf(),
    };
    let run = run_rt_lab(
        &target,
        &images,
        &default_log_root(),
        "rt-lab-test",
        Duration::from_secs(600),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let budget = hil_tests::config::latency_budget(&images.build_dir.join("config.yaml"), RT_CELL)
        .unwrap_or_else(|error| panic!("{error}"))
        .expect("the lab's real-time cell declares a latency_budget");
    let mut checks = realtime_checks(
        &run.output,
        Some(budget),
        target.latency_budget.max_load_factor,
    );
    let cpus = hil_tests::config::cell_cpus(&images.build_dir.join("config.yaml"), RT_CELL)
        .unwrap_or_else(|error| panic!("{error}"));
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
