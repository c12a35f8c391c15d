//! `cargo xtask demo`: build a partitioning, boot it in QEMU and show every
//! console live, one line per console line, prefixed with the stream name.

use crate::build;
use crate::layout::Layout;
use anyhow::{Context, Result};
use hil_tests::{cell_names, QemuTarget, Session, SessionOptions};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// ANSI colors for cells, in order of appearance.
const CELL_COLORS: &[&str] = &["32", "33", "35", "34", "31", "36;2", "92", "93"];

/// Runs the demo until Ctrl-C, `seconds`, or the target powering off.
/// `qemu_args` go to QEMU after all the others (the config's devices
/// included), for trying things by hand.
pub fn run(
    layout: &Layout,
    config: &Path,
    seconds: Option<u64>,
    qemu_args: &[String],
) -> Result<()> {
    let built = build::run(layout, config)?;
    let cells = cell_names(&built.config)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("cannot install the Ctrl-C handler")?;
    }
    let deadline = match seconds {
        Some(seconds) => Duration::from_secs(seconds + 10),
        None => Duration::from_secs(7 * 24 * 3600),
    };
    let mut printer = Printer::new(&cells, std::io::stdout().is_terminal());
    let options = SessionOptions::new("demo")
        .cells(cells)
        .partitioner_elf(&built.partitioner_elf)
        .deadline(deadline)
        .on_line(move |stream, line| printer.print(stream, line));
    // The boot image and the devices of the config's `qemu` section.
    let build_dir = built.boot_image.parent().unwrap_or(Path::new("."));
    let target = QemuTarget::for_build(build_dir)?.args(qemu_args);
    println!("demo: {}", hil_tests::Target::describe(&target));
    match seconds {
        Some(seconds) => println!("demo: running for {seconds} s (Ctrl-C stops earlier)"),
        None => println!("demo: running until Ctrl-C"),
    }
    let mut session = Session::start(&target, options)?;
    let started = Instant::now();
    let limit = seconds.map(Duration::from_secs);
    loop {
        if stop.load(Ordering::SeqCst) {
            println!("\ndemo: stopped by Ctrl-C");
            break;
        }
        if limit.is_some_and(|limit| started.elapsed() >= limit) {
            println!("demo: {} s are up", limit.unwrap_or_default().as_secs());
            break;
        }
        if let Some(status) = session.try_exit() {
            // Let the reader print the last lines.
            let _ = session.wait_exit(Duration::from_secs(1));
            println!("demo: QEMU exited ({status})");
            anyhow::ensure!(status.success(), "QEMU failed ({status})");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("demo: logs in {}", session.run_dir().display());
    drop(session);
    Ok(())
}

/// Prints console lines with a colored stream prefix.
struct Printer {
    colored: bool,
    colors: HashMap<String, &'static str>,
}

impl Printer {
    fn new(cells: &[String], colored: bool) -> Self {
        let mut colors = HashMap::new();
        colors.insert(hil_tests::PARTITIONER_STREAM.to_string(), "1;36");
        colors.insert(hil_tests::RAW_STREAM.to_string(), "2");
        for (index, cell) in cells.iter().enumerate() {
            colors.insert(cell.clone(), CELL_COLORS[index % CELL_COLORS.len()]);
        }
        Printer { colored, colors }
    }

    fn print(&mut self, stream: &str, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = if self.colored {
            let color = self.colors.get(stream).copied().unwrap_or("37");
            writeln!(out, "\x1b[{color}m[{stream}]\x1b[0m {line}")
        } else {
            writeln!(out, "[{stream}] {line}")
        };
        let _ = out.flush();
    }
}
