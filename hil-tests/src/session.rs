//! A running target and the test-facing API: wait for lines with
//! deadlines, read what a stream said, wait for the target to exit.
//!
//! Threads: a reader feeds the target's console through the [`Demux`] into
//! shared per-stream line lists and log files; a watchdog kills the target
//! when the session's hard deadline passes. Dropping the [`Session`] kills
//! the target, waits for it and joins both threads. A panic hook also kills
//! the targets a panicking thread started, before the panic unwinds (or
//! aborts), and QEMU gets `SIGKILL` if the thread that started it dies.

use crate::defmt_log::LogDecoder;
use crate::demux::{Demux, Line};
use crate::error::{Snapshot, SNAPSHOT_LINES};
use crate::keyboard::Keyboard;
use crate::target::{Target, TargetProcess};
use crate::{HarnessError, Pattern};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, Weak};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

/// Called by the reader thread for every line: `(stream, text)`.
pub type LineCallback = Box<dyn FnMut(&str, &str) + Send>;

/// Called by the reader thread when a cell's unfinished line changed:
/// `(stream, text so far)` (see [`Demux::partials`]).
pub type PartialCallback = Box<dyn FnMut(&str, &str) + Send>;

/// How to run a session.
pub struct SessionOptions {
    run_name: String,
    cells: Vec<String>,
    partitioner_elf: Option<PathBuf>,
    log_root: PathBuf,
    deadline: Duration,
    on_line: Option<LineCallback>,
    on_partial: Option<PartialCallback>,
    forget: Vec<String>,
}

impl SessionOptions {
    /// Options for a run called `run_name` (its logs go to
    /// `<log root>/<run_name>/`), with no cells, no `defmt` table, the
    /// default log root ([`default_log_root`]) and a 120 s hard deadline.
    pub fn new(run_name: &str) -> Self {
        let run_name = run_name
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
                _ => '_',
            })
            .collect();
        SessionOptions {
            run_name,
            cells: Vec::new(),
            partitioner_elf: None,
            log_root: default_log_root(),
            deadline: Duration::from_secs(120),
            on_line: None,
            on_partial: None,
            forget: Vec::new(),
        }
    }

    /// The cell names in config order (see [`cell_names`](crate::cell_names)).
    pub fn cells(mut self, cells: Vec<String>) -> Self {
        self.cells = cells;
        self
    }

    /// The partitioner ELF whose `.defmt` table decodes stream 0. Without
    /// one, the partitioner stream shows hex bytes.
    pub fn partitioner_elf(mut self, elf: impl Into<PathBuf>) -> Self {
        self.partitioner_elf = Some(elf.into());
        self
    }

    /// Where run directories go.
    pub fn log_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.log_root = root.into();
        self
    }

    /// The hard deadline: the target is killed this long after it started,
    /// whatever the test is doing.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Lines of `stream` go to its log and to the [`on_line`](Self::on_line)
    /// callback but are not kept for [`Session::lines`] and `expect`: for
    /// long runs of chatty streams (the fuzzer's, an hour at some 1 200
    /// lines a second).
    pub fn forget(mut self, stream: &str) -> Self {
        self.forget.push(stream.to_string());
        self
    }

    /// Calls `callback(stream, line)` for every line as it arrives (from
    /// the reader thread), e.g. to print the consoles live.
    pub fn on_line(mut self, callback: impl FnMut(&str, &str) + Send + 'static) -> Self {
        self.on_line = Some(Box::new(callback));
        self
    }

    /// Calls `callback(stream, text)` whenever a cell's unfinished line
    /// changes (from the reader thread): for an interactive console, which
    /// shows a shell's prompt and echo before the line ends.
    pub fn on_partial(mut self, callback: impl FnMut(&str, &str) + Send + 'static) -> Self {
        self.on_partial = Some(Box::new(callback));
        self
    }
}

/// `target/hil` of this workspace, or `$CARGO_TARGET_DIR/hil`; with
/// [`crate::target::qemu::SECURE_ENV`] set, its `secure/` folder, so that
/// the suite's second pass keeps its own logs.
pub fn default_log_root() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or(Path::new("."))
            .join("target"),
    };
    let root = target.join("hil");
    if crate::target::qemu::secure_from_env() {
        root.join("secure")
    } else {
        root
    }
}

/// What the reader thread and the test share.
struct State {
    /// Stream names in display order.
    order: Vec<String>,
    lines: HashMap<String, Vec<String>>,
    /// Streams whose lines are not kept.
    forget: Vec<String>,
    /// The console reached its end (the target stopped or was killed).
    ended: bool,
    /// Remarks for error messages.
    notes: Vec<String>,
}

impl State {
    fn add(&mut self, line: Line) {
        if !self.lines.contains_key(&line.stream) {
            self.order.push(line.stream.clone());
        }
        if self.forget.contains(&line.stream) {
            self.lines.entry(line.stream).or_default();
            return;
        }
        self.lines.entry(line.stream).or_default().push(line.text);
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// Locks, ignoring poisoning: a panicking test must not wedge the harness.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

type SharedProcess = Arc<Mutex<Box<dyn TargetProcess>>>;
/// A [`SharedProcess`] that does not keep the target alive.
type WeakProcess = Weak<Mutex<Box<dyn TargetProcess>>>;

/// A booted target whose console is being read.
pub struct Session {
    run_dir: PathBuf,
    shared: Arc<Shared>,
    /// Per stream, the index of the first line the next `expect` looks at.
    cursors: HashMap<String, usize>,
    process: SharedProcess,
    input: Option<Keyboard>,
    /// The cell names in config order, for [`Session::type_into`].
    cells: Vec<String>,
    exit: Option<ExitStatus>,
    stop_reader: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    stop_watchdog: Arc<(Mutex<bool>, Condvar)>,
    watchdog: Option<JoinHandle<()>>,
}

impl Session {
    /// Boots `target` and starts reading its console.
    ///
    /// The run directory `<log root>/<run name>/` is emptied first; it gets
    /// one `<stream>.log` per stream and `serial.bin`, the bytes exactly as
    /// read (a recording for replay in unit tests).
    pub fn start(target: &dyn Target, options: SessionOptions) -> Result<Session, HarnessError> {
        let run_dir = options.log_root.join(&options.run_name);
        match std::fs::remove_dir_all(&run_dir) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                return Err(HarnessError::Io {
                    context: format!("cannot empty {}", run_dir.display()),
                    source: error,
                })
            }
            _ => {}
        }
        std::fs::create_dir_all(&run_dir).map_err(|source| HarnessError::Io {
            context: format!("cannot create {}", run_dir.display()),
            source,
        })?;
        let log = match &options.partitioner_elf {
            Some(elf) => LogDecoder::from_elf(elf)?,
            None => LogDecoder::without_table(),
        };
        let demux = Demux::new(&options.cells, log);
        let names = demux.stream_names();
        let logs = LogFiles::create(&run_dir, &names)?;

        let link = target.start(&run_dir)?;
        let process: SharedProcess = Arc::new(Mutex::new(link.process));
        register_for_panic_kill(&process);

        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                lines: names.iter().map(|n| (n.clone(), Vec::new())).collect(),
                forget: options.forget.clone(),
                order: names,
                ended: false,
                notes: Vec::new(),
            }),
            changed: Condvar::new(),
        });
        let stop_reader = Arc::new(AtomicBool::new(false));
        let reader = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop_reader);
            let console = link.console;
            let callbacks = (options.on_line, options.on_partial);
            thread::Builder::new()
                .name(format!("hil-reader-{}", options.run_name))
                .spawn(move || read_console(console, demux, logs, callbacks, &shared, &stop))
                .map_err(|source| HarnessError::Io {
                    context: "cannot start the console reader thread".to_string(),
                    source,
                })?
        };
        let stop_watchdog = Arc::new((Mutex::new(false), Condvar::new()));
        let mut session = Session {
            run_dir,
            shared: Arc::clone(&shared),
            cursors: HashMap::new(),
            process: Arc::clone(&process),
            input: link.input.map(Keyboard::new),
            cells: options.cells.clone(),
            exit: None,
            stop_reader,
            reader: Some(reader),
            stop_watchdog: Arc::clone(&stop_watchdog),
            watchdog: None,
        };
        let deadline = options.deadline;
        let watchdog = thread::Builder::new()
            .name(format!("hil-watchdog-{}", options.run_name))
            .spawn(move || watch(deadline, &stop_watchdog, &process, &shared))
            .map_err(|source| HarnessError::Io {
                context: "cannot start the watchdog thread".to_string(),
                source,
            })?;
        session.watchdog = Some(watchdog);
        Ok(session)
    }

    /// The run directory with the logs.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The stream names seen so far (`partitioner`, the cells, `raw`, and
    /// any `stream<N>` that appeared).
    pub fn streams(&self) -> Vec<String> {
        self.shared.lock().order.clone()
    }

    /// Waits for a line on `stream` matching `pattern` that came after the
    /// previous match on that stream, and returns it.
    pub fn expect(
        &mut self,
        stream: &str,
        pattern: impl Into<Pattern>,
        timeout: Duration,
    ) -> Result<String, HarnessError> {
        let mut found = self.expect_all([(stream, pattern)], timeout)?;
        Ok(found.remove(0))
    }

    /// Waits until every `(stream, pattern)` has matched, in any order
    /// across streams and in the given order within one stream, all within
    /// one `timeout`. Returns the matching lines in the given order.
    pub fn expect_all<'a, I, P>(
        &mut self,
        expectations: I,
        timeout: Duration,
    ) -> Result<Vec<String>, HarnessError>
    where
        I: IntoIterator<Item = (&'a str, P)>,
        P: Into<Pattern>,
    {
        let wanted: Vec<(String, Pattern)> = expectations
            .into_iter()
            .map(|(stream, pattern)| (stream.to_string(), pattern.into()))
            .collect();
        let started = Instant::now();
        let deadline = started + timeout;
        let shared = Arc::clone(&self.shared);
        let mut state = shared.lock();
        for (stream, _) in &wanted {
            let numbered = stream
                .strip_prefix("stream")
                .is_some_and(|n| n.parse::<u8>().is_ok());
            if !state.lines.contains_key(stream) && !numbered {
                return Err(HarnessError::UnknownStream {
                    stream: stream.clone(),
                    known: state.order.join(", "),
                });
            }
        }
        let mut found: Vec<Option<String>> = vec![None; wanted.len()];
        loop {
            for index in 0..wanted.len() {
                let (stream, pattern) = &wanted[index];
                let earlier_pending = (0..index)
                    .any(|earlier| found[earlier].is_none() && wanted[earlier].0 == *stream);
                if found[index].is_some() || earlier_pending {
                    continue;
                }
                let Some(lines) = state.lines.get(stream) else {
                    continue;
                };
                let cursor = self.cursors.entry(stream.clone()).or_default();
                if let Some(offset) = lines[*cursor..].iter().position(|l| pattern.matches(l)) {
                    found[index] = Some(lines[*cursor + offset].clone());
                    *cursor += offset + 1;
                }
            }
            let Some(missing) = found.iter().position(Option::is_none) else {
                return Ok(found.into_iter().flatten().collect());
            };
            let (stream, pattern) = &wanted[missing];
            if state.ended {
                return Err(HarnessError::Ended {
                    stream: stream.clone(),
                    pattern: pattern.to_string(),
                    snapshot: Box::new(self.snapshot_of(&state)),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(HarnessError::Timeout {
                    stream: stream.clone(),
                    pattern: pattern.to_string(),
                    waited: now - started,
                    snapshot: Box::new(self.snapshot_of(&state)),
                });
            }
            state = shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Every line `stream` has produced so far (empty for an unknown
    /// stream). Does not move the `expect` cursor.
    pub fn lines(&self, stream: &str) -> Vec<String> {
        self.shared
            .lock()
            .lines
            .get(stream)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the console has ended: the target hung up (a socket
    /// closed, QEMU exited) and every byte it sent has been read.
    pub fn hung_up(&self) -> bool {
        self.shared.lock().ended
    }

    /// Moves `stream`'s `expect` cursor past every line that has arrived so
    /// far, so that the next `expect` only matches newer output ("this
    /// happened after that").
    pub fn skip_to_end(&mut self, stream: &str) {
        let arrived = self.shared.lock().lines.get(stream).map_or(0, Vec::len);
        self.cursors.insert(stream.to_string(), arrived);
    }

    /// Moves `stream`'s `expect` cursor back to its first line, so that the
    /// next `expect` also matches output that arrived before earlier
    /// matches: for a line whose order against them is not fixed (two
    /// cells running at once).
    pub fn rewind(&mut self, stream: &str) {
        self.cursors.remove(stream);
    }

    /// The exit status if the target has stopped by itself, without
    /// waiting.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = lock(&self.process).try_wait().ok().flatten();
        }
        self.exit
    }

    /// Waits for the target to stop by itself (QEMU exits on PSCI
    /// `SYSTEM_OFF`), then for the rest of its output to be read.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, HarnessError> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.try_exit() {
                break status;
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::NoExit {
                    waited: timeout,
                    snapshot: Box::new(self.snapshot()),
                });
            }
            thread::sleep(Duration::from_millis(10));
        };
        // The output is complete once the reader has seen the end.
        let end = Instant::now() + Duration::from_secs(2);
        let mut state = self.shared.lock();
        while !state.ended && Instant::now() < end {
            state = self
                .shared
                .changed
                .wait_timeout(state, Duration::from_millis(50))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        Ok(status)
    }

    /// Sends bytes to the target's serial input as they are (to a
    /// target that is not a Bulkhead partitioner: U-Boot, a native
    /// kernel).
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), HarnessError> {
        self.keyboard()?.send_raw(bytes)
    }

    /// Types `text` into the console of cell `cell` (by name), as a person
    /// does in `cargo xtask demo`: the partitioner hands it to that cell's
    /// emulated UART. End a command with `\r` (the Enter key).
    pub fn type_into(&mut self, cell: &str, text: &str) -> Result<(), HarnessError> {
        let index = self
            .cells
            .iter()
            .position(|name| name == cell)
            .ok_or_else(|| HarnessError::UnknownStream {
                stream: cell.to_string(),
                known: self.cells.join(", "),
            })?;
        self.keyboard()?.type_into(index, text.as_bytes())
    }

    /// A handle on the target's serial input that other threads can keep
    /// (an interactive console's keyboard reader).
    pub fn keyboard(&self) -> Result<Keyboard, HarnessError> {
        self.input.clone().ok_or_else(|| HarnessError::Io {
            context: "cannot send to the target".to_string(),
            source: io::Error::new(
                io::ErrorKind::Unsupported,
                "the target has no console input",
            ),
        })
    }

    /// The last lines of every stream, as error messages show them.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_of(&self.shared.lock())
    }

    fn snapshot_of(&self, state: &State) -> Snapshot {
        let streams = state
            .order
            .iter()
            .map(|name| {
                let lines = &state.lines[name];
                let tail = lines[lines.len().saturating_sub(SNAPSHOT_LINES)..].to_vec();
                (name.clone(), lines.len(), tail)
            })
            .collect();
        let mut notes = state.notes.clone();
        if let Ok(stderr) = std::fs::read_to_string(self.run_dir.join("qemu.stderr.log")) {
            let lines: Vec<&str> = stderr.lines().collect();
            if !lines.is_empty() {
                let tail = &lines[lines.len().saturating_sub(10)..];
                notes.push(format!("QEMU stderr:\n  {}", tail.join("\n  ")));
            }
        }
        Snapshot {
            streams,
            log_dir: Some(self.run_dir.clone()),
            notes,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        {
            let (stopped, wake) = &*self.stop_watchdog;
            *lock(stopped) = true;
            wake.notify_all();
        }
        {
            let mut process = lock(&self.process);
            let _ = process.kill();
            let _ = process.reap();
        }
        self.input = None;
        self.stop_reader.store(true, Ordering::Relaxed);
        if let Some(watchdog) = self.watchdog.take() {
            let _ = watchdog.join();
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// The per-stream log files of a run, and the raw recording.
struct LogFiles {
    dir: PathBuf,
    files: HashMap<String, BufWriter<File>>,
    serial: Option<BufWriter<File>>,
}

impl LogFiles {
    fn create(dir: &Path, names: &[String]) -> Result<Self, HarnessError> {
        let open = |name: &str| {
            let path = dir.join(name);
            File::create(&path)
                .map(BufWriter::new)
                .map_err(|source| HarnessError::Io {
                    context: format!("cannot create {}", path.display()),
                    source,
                })
        };
        let mut files = HashMap::new();
        for name in names {
            files.insert(name.clone(), open(&format!("{name}.log"))?);
        }
        Ok(LogFiles {
            dir: dir.to_path_buf(),
            files,
            serial: Some(open("serial.bin")?),
        })
    }

    fn record(&mut self, bytes: &[u8]) {
        if let Some(serial) = &mut self.serial {
            if serial.write_all(bytes).is_err() {
                self.serial = None;
            }
        }
    }

    fn write(&mut self, line: &Line) {
        if !self.files.contains_key(&line.stream) {
            if let Ok(file) = File::create(self.dir.join(format!("{}.log", line.stream))) {
                self.files.insert(line.stream.clone(), BufWriter::new(file));
            }
        }
        if let Some(file) = self.files.get_mut(&line.stream) {
            let _ = writeln!(file, "{}", line.text);
        }
    }

    fn flush(&mut self) {
        for file in self.files.values_mut().chain(self.serial.as_mut()) {
            let _ = file.flush();
        }
    }
}

/// The reader thread: console bytes to lines, logs and shared state.
fn read_console(
    mut console: Box<dyn Read + Send>,
    mut demux: Demux,
    mut logs: LogFiles,
    (mut on_line, mut on_partial): (Option<LineCallback>, Option<PartialCallback>),
    shared: &Shared,
    stop: &AtomicBool,
) {
    let mut deliver = |lines: Vec<Line>, logs: &mut LogFiles| {
        if lines.is_empty() {
            return;
        }
        for line in &lines {
            logs.write(line);
            if let Some(callback) = &mut on_line {
                callback(&line.stream, &line.text);
            }
        }
        logs.flush();
        let mut state = shared.lock();
        for line in lines {
            state.add(line);
        }
        shared.changed.notify_all();
    };
    let mut buffer = [0u8; 4096];
    loop {
        match console.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                logs.record(&buffer[..n]);
                deliver(demux.push(&buffer[..n]), &mut logs);
                if let Some(callback) = &mut on_partial {
                    for (stream, text) in demux.partials() {
                        callback(&stream, &text);
                    }
                }
            }
            Err(error) => match error.kind() {
                io::ErrorKind::Interrupted => {}
                // A serial port with a read timeout: keep going until told
                // to stop.
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                _ => {
                    shared
                        .lock()
                        .notes
                        .push(format!("reading the console failed: {error}"));
                    break;
                }
            },
        }
    }
    deliver(demux.finish(), &mut logs);
    logs.flush();
    shared.lock().ended = true;
    shared.changed.notify_all();
}

/// The watchdog thread: kills the target at the hard deadline unless told
/// to stop first.
fn watch(
    deadline: Duration,
    stop: &(Mutex<bool>, Condvar),
    process: &SharedProcess,
    shared: &Shared,
) {
    let end = Instant::now() + deadline;
    let (stopped, wake) = stop;
    let mut stopped = lock(stopped);
    while !*stopped {
        let now = Instant::now();
        if now >= end {
            // The note goes first: the reader reports the end as soon as
            // the kill closes the console.
            shared.lock().notes.push(format!(
                "the target was killed at the session's hard deadline ({deadline:?})"
            ));
            let _ = lock(process).kill();
            shared.changed.notify_all();
            return;
        }
        stopped = wake
            .wait_timeout(stopped, end - now)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
    }
}

/// Targets started per thread, for the panic hook.
static LIVE_TARGETS: Mutex<Vec<(ThreadId, WeakProcess)>> = Mutex::new(Vec::new());
static PANIC_HOOK: Once = Once::new();

/// Makes a panic on the current thread kill `process` before anything else
/// happens (the test binary may abort instead of unwinding).
fn register_for_panic_kill(process: &SharedProcess) {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            kill_targets_of_this_thread();
            previous(info);
        }));
    });
    let mut live = lock(&LIVE_TARGETS);
    live.retain(|(_, process)| process.strong_count() > 0);
    live.push((thread::current().id(), Arc::downgrade(process)));
}

fn kill_targets_of_this_thread() {
    let me = thread::current().id();
    // `try_lock`: the panic may have happened while one of these was held.
    let Ok(live) = LIVE_TARGETS.try_lock() else {
        return;
    };
    for (owner, process) in live.iter() {
        if *owner != me {
            continue;
        }
        if let Some(process) = process.upgrade() {
            if let Ok(mut process) = process.try_lock() {
                let _ = process.kill();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Link;
    use bulkhead_wire::{cell_stream, encode_frame, MAX_FRAME};
    use std::io::Cursor;

    /// A target whose console is a fixed recording, read slowly.
    struct Replay {
        bytes: Vec<u8>,
        delay: Duration,
    }

    /// Reads a few bytes at a time with a pause, like a UART.
    struct Slow {
        inner: Cursor<Vec<u8>>,
        delay: Duration,
    }

    impl Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            thread::sleep(self.delay);
            let len = buf.len().min(7);
            self.inner.read(&mut buf[..len])
        }
    }

    struct Done;

    impl TargetProcess for Done {
        fn kill(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
            Ok(None)
        }
        fn reap(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Target for Replay {
        fn describe(&self) -> String {
            "replay".to_string()
        }
        fn start(&self, _run_dir: &Path) -> Result<Link, HarnessError> {
            Ok(Link {
                console: Box::new(Slow {
                    inner: Cursor::new(self.bytes.clone()),
                    delay: self.delay,
                }),
                input: None,
                process: Box::new(Done),
            })
        }
    }

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = [0u8; MAX_FRAME];
        let n = encode_frame(stream, payload, &mut out);
        out[..n].to_vec()
    }

    fn session(name: &str, bytes: Vec<u8>) -> Session {
        let root = std::env::temp_dir().join(format!("bulkhead-hil-{}", std::process::id()));
        Session::start(
            &Replay {
                bytes,
                delay: Duration::from_millis(1),
            },
            SessionOptions::new(name)
                .cells(vec!["sensor".into(), "intruder".into()])
                .log_root(root),
        )
        .unwrap()
    }

    fn heartbeats() -> Vec<u8> {
        let mut bytes = b"boot text\r\n\0".to_vec();
        for n in 0..3 {
            bytes.extend(frame(
                cell_stream(0),
                format!("sensor: heartbeat {n}\n").as_bytes(),
            ));
            bytes.extend(frame(
                cell_stream(1),
                format!("intruder: heartbeat {n}\n").as_bytes(),
            ));
        }
        bytes
    }

    #[test]
    fn expect_moves_a_cursor_per_stream() {
        let mut s = session("cursor", heartbeats());
        let second = Duration::from_secs(5);
        assert_eq!(
            s.expect("sensor", "heartbeat", second).unwrap(),
            "sensor: heartbeat 0"
        );
        assert_eq!(
            s.expect("sensor", "heartbeat", second).unwrap(),
            "sensor: heartbeat 1"
        );
        assert_eq!(
            s.expect("intruder", Pattern::regex(r"heartbeat [12]"), second)
                .unwrap(),
            "intruder: heartbeat 1"
        );
        assert_eq!(s.expect("raw", "boot", second).unwrap(), "boot text");
        let all = s
            .expect_all([("sensor", "heartbeat"), ("intruder", "heartbeat")], second)
            .unwrap();
        assert_eq!(all, vec!["sensor: heartbeat 2", "intruder: heartbeat 2"]);
        s.rewind("sensor");
        assert_eq!(
            s.expect("sensor", "heartbeat", second).unwrap(),
            "sensor: heartbeat 0"
        );
        assert_eq!(s.lines("sensor").len(), 3);
        let log = std::fs::read_to_string(s.run_dir().join("sensor.log")).unwrap();
        assert_eq!(log.lines().count(), 3);
        assert_eq!(
            std::fs::read(s.run_dir().join("serial.bin")).unwrap(),
            heartbeats()
        );
    }

    #[test]
    fn end_of_output_fails_fast_with_stream_tails() {
        let mut s = session("ended", heartbeats());
        let started = Instant::now();
        let error = s
            .expect("sensor", "never said", Duration::from_secs(30))
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        let message = format!("{error:?}");
        assert!(message.contains("output ended"), "{message}");
        assert!(
            message.contains("[intruder] (last 3 of 3 lines)"),
            "{message}"
        );
        assert!(message.contains("[partitioner] (nothing)"), "{message}");
    }

    #[test]
    fn timeout_is_respected() {
        // A console that stays silent longer than the timeout.
        let root = std::env::temp_dir().join(format!("bulkhead-hil-{}", std::process::id()));
        let mut s = Session::start(
            &Replay {
                bytes: b"x".to_vec(),
                delay: Duration::from_millis(800),
            },
            SessionOptions::new("timeout").log_root(root),
        )
        .unwrap();
        let started = Instant::now();
        let error = s
            .expect("partitioner", "Bulkhead", Duration::from_millis(200))
            .unwrap_err();
        assert!(matches!(error, HarnessError::Timeout { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_millis(700));
    }

    #[test]
    fn unknown_stream_is_an_error() {
        let mut s = session("unknown", Vec::new());
        let error = s.expect("sensr", "x", Duration::from_secs(1)).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("partitioner, sensor, intruder, raw"),
            "{error}"
        );
    }

    #[test]
    fn run_names_are_made_safe_for_paths() {
        assert_eq!(SessionOptions::new("a/b c").run_name, "a_b_c");
    }
}
