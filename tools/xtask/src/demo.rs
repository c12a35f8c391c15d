//! `cargo xtask demo`: build a partitioning, boot it in QEMU and show every
//! console live, one line per console line, prefixed with the stream name;
//! what is typed goes to the selected cell's console
//! (`hil_tests::keyboard`: Ctrl-A then a number chooses the cell, Ctrl-A x
//! quits).

use crate::build;
use crate::layout::Layout;
use anyhow::{Context, Result};
use hil_tests::console::Printer;
use hil_tests::{cell_names, keyboard, QemuTarget, Session, SessionOptions};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Runs the demo until Ctrl-A x (Ctrl-C where standard input is not a
/// terminal), `seconds`, or the target powering off.
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
    let printer = Arc::new(Mutex::new(Printer::new(
        &cells,
        std::io::stdout().is_terminal(),
    )));
    let lines = Arc::clone(&printer);
    let partials = Arc::clone(&printer);
    let options = SessionOptions::new("demo")
        .cells(cells.clone())
        .partitioner_elf(&built.partitioner_elf)
        .deadline(deadline)
        .on_line(move |stream, line| {
            lines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .print(stream, line)
        })
        .on_partial(move |stream, line| {
            partials
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .partial(stream, line)
        });
    // The boot image and the devices of the config's `qemu` section.
    let build_dir = built.boot_image.parent().unwrap_or(Path::new("."));
    let target = QemuTarget::for_build(build_dir)?.args(qemu_args);
    println!("demo: {}", hil_tests::Target::describe(&target));
    match seconds {
        Some(seconds) => println!("demo: running for {seconds} s (Ctrl-A x stops earlier)"),
        None => println!("demo: running until Ctrl-A x"),
    }
    let mut session = Session::start(&target, options)?;
    // Restores the terminal when the demo ends.
    let _terminal = session
        .keyboard()
        .ok()
        .map(|k| keyboard::attach(k, &cells, printer, Arc::clone(&stop)));
    let started = Instant::now();
    let limit = seconds.map(Duration::from_secs);
    loop {
        if stop.load(Ordering::SeqCst) {
            println!("\ndemo: stopped");
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
