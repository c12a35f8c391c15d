//! `cargo xtask`: the one entry point for provisioning, building, running
//! and testing Bulkhead (the alias lives in `.cargo/config.toml`).
//!
//! Every subcommand first runs [`setup`], which is idempotent and fast when
//! the machine is already provisioned.
#![forbid(unsafe_code)]

mod build;
mod checks;
mod debs;
mod demo;
mod flat;
mod hil;
mod layout;
mod linux;
mod process;
mod setup;
mod soak;

use anyhow::Result;
use clap::{Parser, Subcommand};
use layout::Layout;
use std::path::PathBuf;
use std::process::ExitCode;

/// Bulkhead's build, demo and test tasks.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

/// The tasks.
#[derive(Subcommand)]
enum Task {
    /// Installs what Bulkhead needs (QEMU, U-Boot for QEMU, dtc, the
    /// aarch64 Rust target); does nothing when it is all there.
    Setup,
    /// Builds the partitioner and the cells for aarch64, flattens them to
    /// raw images and builds the boot image for a config.
    Build {
        /// The partitioning to build.
        #[arg(long, default_value = build::DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Builds and boots a partitioning in QEMU, printing every console
    /// live, until Ctrl-A x (Ctrl-C when standard input is not a
    /// terminal) or `--seconds` have passed. What you type goes to one
    /// cell's console (Ctrl-A then its number chooses it). By default the
    /// gateway: a PREEMPT_RT Linux cell running cyclictest beside a
    /// general-purpose Linux cell.
    Demo {
        /// The partitioning to run; `config/examples/qemu-heartbeat.yaml`
        /// is the bare-metal demo (a heartbeat and a contained intruder).
        #[arg(long, default_value = build::DEFAULT_CONFIG)]
        config: PathBuf,
        /// Stop after this many seconds.
        #[arg(long)]
        seconds: Option<u64>,
        /// One more QEMU argument (repeatable), for trying things by hand:
        /// `--qemu-arg=-drive --qemu-arg=file=…`.
        #[arg(long = "qemu-arg", hide = true, allow_hyphen_values = true)]
        qemu_args: Vec<String>,
    },
    /// The full check, as CI runs it: formatting, build, clippy for host
    /// and target, host unit tests, QEMU system tests.
    Test,
    /// Clippy with warnings as errors, for the host and the aarch64 crates.
    Clippy,
    /// The latency lab: boots the interrupt latency probe natively and as a
    /// Bulkhead cell, checks the target's latency budget and writes
    /// `target/hil/report.json` and `report.html` (see docs/hil.md).
    Hil {
        /// The target file (QEMU or a board on a serial port).
        #[arg(long, default_value = hil::DEFAULT_TARGET)]
        target: PathBuf,
        /// The one-cell config the probe runs in.
        #[arg(long, default_value = hil::LAB_CONFIG)]
        config: PathBuf,
        /// The real-time lab's config: a PREEMPT_RT cell `control` and a
        /// neighbour `containers` playing the `lab` scenario. Default on
        /// QEMU: hil-tests/configs/qemu-rt-lab.yaml; a board needs its own
        /// (without one, its real-time lab is skipped).
        #[arg(long)]
        rt_config: Option<PathBuf>,
    },
    /// The hostile-guest soak: a fuzzer cell runs seeded hostile
    /// operations beside a canary cell; fails on any partitioner error, a
    /// corrupted canary, a late canary beat or a stuck cell (docs/hil.md).
    Soak {
        /// How long the hostile-guest soak runs.
        #[arg(long, default_value_t = 10)]
        minutes: u64,
        /// Skip the Linux restart soak (20 crashes of the containers cell
        /// beside the real-time cell, under icount).
        #[arg(long)]
        no_crashes: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The error and its causes, without anyhow's backtrace (which
            // RUST_BACKTRACE=1 in the environment would add).
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let layout = Layout::new()?;
    setup::run(&layout)?;
    match cli.task {
        Task::Setup => {
            println!(
                "setup: everything is in place (download cache: {})",
                setup::cache_dir()?.display()
            );
            Ok(())
        }
        Task::Build { config } => build::run(&layout, &config).map(|_| ()),
        Task::Demo {
            config,
            seconds,
            qemu_args,
        } => demo::run(&layout, &config, seconds, &qemu_args),
        Task::Test => checks::test(&layout),
        Task::Clippy => checks::clippy(&layout),
        Task::Hil {
            target,
            config,
            rt_config,
        } => hil::run(&layout, &target, &config, rt_config.as_deref()),
        Task::Soak {
            minutes,
            no_crashes,
        } => soak::run(&layout, minutes, !no_crashes),
    }
}
