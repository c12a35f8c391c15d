//! `cargo xtask test` and `cargo xtask clippy`: every check CI runs, each
//! as one step, with a summary at the end. A failing step does not stop
//! the others, except that the system tests need a successful build.

use crate::build::{self, DEFAULT_CONFIG};
use crate::layout::Layout;
use crate::process::{cargo, run};
use anyhow::{bail, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// How a step ended.
enum Outcome {
    Passed,
    Failed(String),
    Skipped(&'static str),
}

/// Runs steps in order and reports them.
struct Steps {
    results: Vec<(&'static str, Outcome, Duration)>,
}

impl Steps {
    fn new() -> Self {
        Steps {
            results: Vec::new(),
        }
    }

    /// Runs one step; returns whether it passed.
    fn run(&mut self, name: &'static str, step: impl FnOnce() -> Result<()>) -> bool {
        println!("\n==> {name}");
        let started = Instant::now();
        let outcome = match step() {
            Ok(()) => Outcome::Passed,
            Err(error) => {
                eprintln!("error: {error:#}");
                Outcome::Failed(format!("{error:#}"))
            }
        };
        let passed = matches!(outcome, Outcome::Passed);
        self.results.push((name, outcome, started.elapsed()));
        passed
    }

    fn skip(&mut self, name: &'static str, why: &'static str) {
        self.results
            .push((name, Outcome::Skipped(why), Duration::ZERO));
    }

    /// Prints the summary; fails when a step failed.
    fn finish(self, task: &str) -> Result<()> {
        println!("\n==> summary");
        let mut failed = Vec::new();
        for (name, outcome, took) in &self.results {
            let seconds = took.as_secs_f64();
            match outcome {
                Outcome::Passed => println!("  ok      {name:<22} {seconds:>6.1} s"),
                Outcome::Failed(why) => {
                    let first = why.lines().next().unwrap_or_default();
                    println!("  FAILED  {name:<22} {seconds:>6.1} s  {first}");
                    failed.push(*name);
                }
                Outcome::Skipped(why) => println!("  skipped {name:<22}           {why}"),
            }
        }
        if failed.is_empty() {
            println!("xtask {task}: all steps ok");
            Ok(())
        } else {
            bail!(
                "xtask {task}: {} of {} steps failed: {}",
                failed.len(),
                self.results.len(),
                failed.join(", ")
            )
        }
    }
}

/// `cargo clippy` for the host crates (all targets: tests too).
fn clippy_host(layout: &Layout) -> Result<()> {
    run(cargo(&layout.root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))
}

/// `cargo clippy` for the crates built for aarch64.
/// Clippy for the aarch64 crates (the partitioner and the cells), for
/// every board the partitioner can be built for.
fn clippy_target(layout: &Layout) -> Result<()> {
    for board in bsp::BOARDS.iter().filter(|b| b.gaps().next().is_none()) {
        run(layout
            .board_build("clippy", board.name)
            .args(["--", "-D", "warnings"]))?;
    }
    Ok(())
}

/// `cargo xtask clippy`.
pub fn clippy(layout: &Layout) -> Result<()> {
    let mut steps = Steps::new();
    steps.run("clippy (host)", || clippy_host(layout));
    steps.run("clippy (aarch64)", || clippy_target(layout));
    steps.finish("clippy")
}

/// The system tests that run a second time on QEMU `virt` with the GIC's
/// security extensions (`GICD_CTLR.DS = 0`, Group 0 kept by "firmware", as
/// on real boards under TF-A), where the partitioner takes the
/// `revoke-stage2` control path: every test that boots cells and stops,
/// restarts or starts their CPUs. Left out: the latency lab's measurements
/// (`latency`, `rt_lab`, `ipc_bench`, `boot_times`: icount figures of the
/// reference machine, whose quantum needs Group 0), `uboot` (with EL3
/// present QEMU starts firmware in the secure world) and the tests that
/// boot nothing (`report`, and the tool's [`TOOL_SYSTEM_TESTS`]).
const SECURE_SUITE: &[&str] = &[
    "foundation",
    "channels",
    "linux",
    "gateway",
    "virtualized",
    "watchdog",
];

/// The `bulkhead` tool's tests that need what the system tests need: its
/// console on a QEMU socket (`BULKHEAD_ARTIFACTS`) and `platform from-dtb`
/// on the DTBs of Debian's kernel (`BULKHEAD_KERNEL_DTBS`). They live with
/// the tool (feature `system-tests`), so that hil-tests never depends on
/// the tools.
const TOOL_SYSTEM_TESTS: &[&str] = &["qemu_console", "kernel_dtbs"];

/// `cargo xtask test`: formatting, build, clippy, unit tests, system tests
/// (twice: on the reference machine, and the [`SECURE_SUITE`] with
/// firmware keeping Group 0).
pub fn test(layout: &Layout) -> Result<()> {
    let mut steps = Steps::new();
    steps.run("formatting", || {
        run(cargo(&layout.root).args(["fmt", "--all", "--", "--check"]))
    });
    let mut built = None;
    steps.run("build", || {
        let default = build::run(layout, Path::new(DEFAULT_CONFIG))?;
        for config in build::SYSTEM_TEST_CONFIGS {
            build::run(layout, Path::new(config))?;
        }
        build::uart_checks(layout)?;
        built = Some(default);
        Ok(())
    });
    steps.run("clippy (host)", || clippy_host(layout));
    steps.run("clippy (aarch64)", || clippy_target(layout));
    steps.run("unit tests (host)", || {
        run(cargo(&layout.root).args(["test", "--workspace", "--exclude", "hil-tests"]))
    });
    match &built {
        Some(built) => {
            steps.run("system tests (QEMU)", || {
                // The board-description tests read the DTBs of Debian's kernel.
                let dtbs = crate::debs::ensure_kernel_dtbs()?;
                run(cargo(&layout.root)
                    .args(["test", "-p", "hil-tests", "--", "--test-threads=1"])
                    .env("BULKHEAD_ARTIFACTS", layout.artifacts())
                    .env("BULKHEAD_PARTITIONER_ELF", &built.partitioner_elf))?;
                let mut tool = cargo(&layout.root);
                tool.args(["test", "-p", "bulkhead", "--features", "system-tests"]);
                for test in TOOL_SYSTEM_TESTS {
                    tool.args(["--test", test]);
                }
                run(tool
                    .args(["--", "--test-threads=1"])
                    .env("BULKHEAD_ARTIFACTS", layout.artifacts())
                    .env(crate::debs::KERNEL_DTBS_ENV, dtbs))
            });
            steps.run("system tests (QEMU, firmware keeps Group 0)", || {
                let mut command = cargo(&layout.root);
                command.args(["test", "-p", "hil-tests"]);
                for test in SECURE_SUITE {
                    command.args(["--test", test]);
                }
                run(command
                    .args(["--", "--test-threads=1"])
                    .env("BULKHEAD_ARTIFACTS", layout.artifacts())
                    .env("BULKHEAD_PARTITIONER_ELF", &built.partitioner_elf)
                    .env(hil_tests::target::qemu::SECURE_ENV, "on"))
            });
        }
        None => {
            steps.skip("system tests (QEMU)", "the build failed");
            steps.skip(
                "system tests (QEMU, firmware keeps Group 0)",
                "the build failed",
            );
        }
    }
    steps.finish("test")
}
