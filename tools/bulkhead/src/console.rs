//! `bulkhead console`: a running target's consoles, read from a serial
//! port or a Unix socket, split into their streams, the partitioner's
//! `defmt` log decoded, each line shown with its stream's name, as `cargo
//! xtask demo` shows them; what is typed goes to the selected cell
//! (`hil_tests::keyboard`: Ctrl-A then a number chooses it, Ctrl-A x quits).
//!
//! The partitioner's log is decoded with the ELF of the partitioner that
//! runs: `--elf`, or the `partitioner.elf` that `cargo xtask build` leaves
//! beside the boot image (`target/bulkhead/<config>/`), found from the
//! config.

use hil_tests::console::Printer;
use hil_tests::{
    keyboard, HarnessError, SerialTarget, Session, SessionOptions, SocketTarget, Target,
};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where the console is and what to show.
#[derive(Clone, Debug)]
pub struct ConsoleOptions {
    /// A serial device (`/dev/ttyUSB0`, a pseudo-terminal) or a Unix
    /// socket (QEMU's `-chardev socket,…,server=on`).
    pub target: PathBuf,
    /// The config the target runs: its cells name the streams.
    pub config: PathBuf,
    /// The partitioner ELF; found from the config when `None`.
    pub elf: Option<PathBuf>,
    /// The serial port's baud rate.
    pub baud: u32,
    /// Stop after this long; `None`: until the target hangs up.
    pub duration: Option<Duration>,
}

/// The ELF of the partitioner that runs `config`: beside the config when
/// it is the copy a build left (`target/bulkhead/<stem>/config.yaml`),
/// else in `target/bulkhead/<stem>/` under the current directory.
pub fn find_partitioner_elf(config: &Path) -> Option<PathBuf> {
    let beside = config.with_file_name("partitioner.elf");
    let stem = config.file_stem()?;
    let built = Path::new("target")
        .join("bulkhead")
        .join(stem)
        .join("partitioner.elf");
    [beside, built].into_iter().find(|path| path.is_file())
}

/// Shows the console until the target hangs up, `options.duration` is
/// over or Ctrl-A x is typed, passing each line to `on_line(stream,
/// line)`. With `typing`, what is typed on standard input goes to the
/// selected cell, and that cell's unfinished lines go to the printer.
/// Returns the session's log directory.
pub fn run(
    options: &ConsoleOptions,
    on_line: impl FnMut(&str, &str) + Send + 'static,
    typing: Option<Arc<Mutex<Printer>>>,
) -> Result<PathBuf, HarnessError> {
    let cells = hil_tests::cell_names(&options.config)?;
    let is_socket = std::fs::metadata(&options.target)
        .map(|meta| meta.file_type().is_socket())
        .unwrap_or(false);
    let target: Box<dyn Target> = if is_socket {
        Box::new(SocketTarget::new(&options.target))
    } else {
        Box::new(SerialTarget::new(&options.target, options.baud))
    };
    let deadline = options
        .duration
        .unwrap_or(Duration::from_secs(365 * 24 * 3600));
    let mut session_options = SessionOptions::new("console")
        .cells(cells.clone())
        // One folder per process: two consoles at once keep their logs.
        .log_root(std::env::temp_dir().join(format!("bulkhead-console-{}", std::process::id())))
        .deadline(deadline + Duration::from_secs(5))
        .on_line(on_line);
    let elf = options
        .elf
        .clone()
        .or_else(|| find_partitioner_elf(&options.config));
    match elf {
        Some(elf) => session_options = session_options.partitioner_elf(elf),
        None => eprintln!(
            "console: no partitioner ELF beside the config or in target/bulkhead/: \
             the partitioner's log is shown raw (pass --elf)"
        ),
    }
    if let Some(printer) = &typing {
        let printer = Arc::clone(printer);
        session_options = session_options.on_partial(move |stream, line| {
            printer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .partial(stream, line)
        });
    }
    let session = Session::start(target.as_ref(), session_options)?;
    let quit = Arc::new(AtomicBool::new(false));
    // Restores the terminal when the console ends.
    let _terminal = match (typing, session.keyboard()) {
        (Some(printer), Ok(keyboard)) => Some(keyboard::attach(
            keyboard,
            &cells,
            printer,
            Arc::clone(&quit),
        )),
        _ => None,
    };
    let started = Instant::now();
    while started.elapsed() < deadline && !session.hung_up() && !quit.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(session.run_dir().to_path_buf())
}
