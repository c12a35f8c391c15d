//! `bulkhead`: check a partitioning config, print its plan, build the boot
//! image, or print the config's JSON Schema.
//!
//! Exit codes: 0 success (warnings about the config are printed, with their
//! place in the file, but do not fail), 1 the config is wrong (every problem
//! is printed with its place in the file), 2 usage or I/O errors.
#![forbid(unsafe_code)]

use anyhow::Context;
use bulkhead::{BuildOptions, Error};
use bulkhead_config::yaml::{Diagnostics, LoadError};
use clap::{Parser, Subcommand};
use miette::GraphicalTheme;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Bulkhead, a static partitioning hypervisor for ARM64: host tool.
#[derive(Parser)]
#[command(name = "bulkhead", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a config and print the partitioning plan.
    Check {
        /// The YAML config.
        config: PathBuf,
        /// A directory holding cell images (repeatable; searched after the
        /// config's own directory).
        #[arg(long = "image-dir", value_name = "DIR")]
        image_dirs: Vec<PathBuf>,
    },
    /// Build the boot image: DIR/bulkhead.img, DIR/config.bin, DIR/plan.txt,
    /// and DIR/CELL.dtb for each cell whose device tree is generated.
    ///
    /// Also writes, for boards that boot through U-Boot, DIR/bulkhead.itb
    /// (a FIT image: the partitioner, the config and every cell image, each
    /// with its load address), DIR/boot.scr (the U-Boot script that loads
    /// and boots it; its text is DIR/boot.cmd). Copy bulkhead.itb and
    /// boot.scr to the boot partition; see docs/boot-flow.md.
    Build {
        /// The YAML config.
        config: PathBuf,
        /// The output directory.
        #[arg(short = 'o', long = "out-dir", value_name = "DIR")]
        out_dir: PathBuf,
        /// The partitioner's raw arm64 Image.
        #[arg(long, value_name = "PARTITIONER.img")]
        partitioner: PathBuf,
        /// A directory holding cell images (repeatable).
        #[arg(long = "image-dir", value_name = "DIR")]
        image_dirs: Vec<PathBuf>,
    },
    /// Show a running target's consoles: every stream with its name, the
    /// partitioner's log decoded. Reads a serial port (a board's, or a
    /// pseudo-terminal) or a Unix socket (QEMU's `-chardev socket,…,server=on`).
    /// What you type goes to one cell's console: Ctrl-A then a cell's
    /// number chooses it, Ctrl-A x quits, Ctrl-A ? shows the keys.
    Console {
        /// The serial device or the socket.
        target: PathBuf,
        /// The config the target runs (its cells name the streams).
        #[arg(long, value_name = "CONFIG.yaml")]
        config: PathBuf,
        /// The partitioner ELF, to decode its log (default: the
        /// `partitioner.elf` a build left beside the config's boot image).
        #[arg(long, value_name = "ELF")]
        elf: Option<PathBuf>,
        /// The serial port's baud rate.
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// Stop after this many seconds (default: when the target hangs up).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Print the JSON Schema of the config format.
    Schema,
    /// Board descriptions (`bsp/boards/*.yaml`).
    #[command(subcommand)]
    Platform(PlatformCommand),
}

#[derive(Subcommand)]
enum PlatformCommand {
    /// Describe a board from its device tree blob, as YAML.
    FromDtb {
        /// The board's .dtb.
        dtb: PathBuf,
        /// Write here instead of standard output; an existing file's
        /// hand-made section is kept.
        #[arg(short = 'o', long = "out", value_name = "OUT.yaml")]
        out: Option<PathBuf>,
        /// Board name (default: the DTB's file stem).
        #[arg(long)]
        name: Option<String>,
    },
}

fn run(command: Command) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match command {
        Command::Check { config, image_dirs } => {
            let loaded = bulkhead::check(&config, &image_dirs)?;
            print_warnings(&loaded.warnings);
            let plan = bulkhead::plan::plan(&loaded);
            let plan = if std::io::IsTerminal::is_terminal(&stdout) {
                bulkhead::plan::highlight(&plan)
            } else {
                plan
            };
            write!(stdout, "{plan}").context("writing the plan")?;
            for gap in loaded.board.gaps() {
                eprintln!(
                    "warning: the partitioner cannot run on board `{}` yet: {}",
                    loaded.board.name,
                    gap.message()
                );
            }
        }
        Command::Build {
            config,
            out_dir,
            partitioner,
            image_dirs,
        } => {
            let built = bulkhead::build(&BuildOptions {
                config,
                image_dirs,
                partitioner,
                out_dir,
            })?;
            print_warnings(&built.loaded.warnings);
            writeln!(
                stdout,
                "wrote {} ({} bytes, load at {:#x}), {} and {}",
                built.boot_image_path.display(),
                built.image.bytes.len(),
                built.image.load_address,
                built.blob_path.display(),
                built.plan_path.display()
            )
            .context("writing the summary")?;
            writeln!(
                stdout,
                "wrote {} ({} bytes, loaded at {:#x} by {}) for U-Boot",
                built.fit_path.display(),
                built.gateway.fit.len(),
                built.gateway.fit_address,
                built.script_path.display()
            )
            .context("writing the summary")?;
            for path in &built.device_tree_paths {
                writeln!(stdout, "wrote {} (generated device tree)", path.display())
                    .context("writing the summary")?;
            }
        }
        Command::Console {
            target,
            config,
            elf,
            baud,
            seconds,
        } => {
            drop(stdout);
            let cells = hil_tests::cell_names(&config)?;
            let printer =
                std::sync::Arc::new(std::sync::Mutex::new(hil_tests::console::Printer::new(
                    &cells,
                    std::io::IsTerminal::is_terminal(&std::io::stdout()),
                )));
            let lines = std::sync::Arc::clone(&printer);
            let options = bulkhead::console::ConsoleOptions {
                target,
                config,
                elf,
                baud,
                duration: seconds.map(std::time::Duration::from_secs),
            };
            let logs = bulkhead::console::run(
                &options,
                move |stream, line| {
                    lines
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .print(stream, line)
                },
                Some(printer),
            )?;
            eprintln!("console: logs in {}", logs.display());
        }
        Command::Schema => {
            writeln!(stdout, "{}", bulkhead_config::yaml::json_schema())
                .context("writing the schema")?;
        }
        Command::Platform(PlatformCommand::FromDtb { dtb, out, name }) => {
            let text = bulkhead::platform::from_dtb_file(&dtb, name.as_deref(), out.as_deref())?;
            match out {
                Some(out) => std::fs::write(&out, text)
                    .with_context(|| format!("cannot write {}", out.display()))?,
                None => write!(stdout, "{text}").context("writing the board description")?,
            }
        }
    }
    Ok(())
}

/// Prints the config's warnings, if any, on standard error.
fn print_warnings(warnings: &Diagnostics) {
    if !warnings.is_empty() {
        eprint!("{}", warnings.render_with(GraphicalTheme::default()));
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Err(error) = run(cli.command) else {
        return ExitCode::SUCCESS;
    };
    match error.downcast::<Error>() {
        Ok(Error::Config(LoadError::Invalid(diagnostics))) => {
            eprint!("{}", diagnostics.render_with(GraphicalTheme::default()));
            ExitCode::from(1)
        }
        Ok(error) => {
            let code = error.exit_code();
            eprintln!("{:?}", miette::Report::new(error));
            ExitCode::from(code)
        }
        Err(other) => {
            eprintln!("error: {other:#}");
            ExitCode::from(2)
        }
    }
}
