//! The hostile-guest soak: the `fuzz` cell (`cells/baremetal/src/bin/fuzz.rs`)
//! runs seeded hostile operations beside the `canary` cell
//! (`hil-tests/configs/qemu-fuzz.yaml`) for a while, and this harness
//! tallies what happened from the consoles as they stream: operations,
//! lives of the fuzzer (each restart after a fault or a reset), how long
//! each restart took, the canary's checks and the largest gap between its
//! beats, and anything that must never happen: a partitioner error other
//! than the fuzzer's own faults, a corrupted canary word, a core that did
//! not leave a stopping cell, a fuzzer that went silent, or QEMU dying.
//!
//! `cargo xtask soak --minutes N` and the `soak` system test (2 minutes)
//! run it. The fuzzer's lines are logged (`fuzz.log`, for replaying a
//! failure from its seed, life and operation) but not kept in memory.

use crate::error::HarnessError;
use crate::{cell_names, QemuTarget, Session, SessionOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The canary's period (`canary.rs`).
pub const CANARY_PERIOD: Duration = Duration::from_millis(200);
/// The largest gap between two canary beats the soak accepts: two periods.
pub const LARGEST_GAP: Duration = Duration::from_millis(400);
/// How long the fuzzer may print nothing before it counts as stuck.
pub const SILENCE: Duration = Duration::from_secs(20);

/// What to run.
pub struct SoakOptions {
    /// The build directory of `qemu-fuzz` (`target/bulkhead/qemu-fuzz`).
    pub build_dir: PathBuf,
    /// How long.
    pub duration: Duration,
    /// The run's name (its logs go to `<log root>/<run>/`).
    pub run: String,
    /// Where run directories go.
    pub log_root: PathBuf,
    /// The partitioner ELF that decodes its log, when the build directory
    /// has none beside the image.
    pub partitioner_elf: Option<PathBuf>,
}

/// What happened.
#[derive(Clone, Debug, Default)]
pub struct SoakReport {
    /// Wall time the soak ran.
    pub elapsed: Duration,
    /// The fuzzer's seed (from its first line).
    pub seed: String,
    /// Operations the fuzzer started.
    pub operations: u64,
    /// Lives of the fuzzer (starts of the cell).
    pub lives: u64,
    /// Faults of the fuzzer the partitioner contained.
    pub faults: u64,
    /// Time from each fault of the fuzzer to the first instruction of its
    /// next life, in seconds of counter time.
    pub restart_times: Vec<f64>,
    /// Canary beats that checked the whole region.
    pub canary_checks: u64,
    /// Lines that reported corrupted canary words.
    pub corruptions: Vec<String>,
    /// The largest gap between two canary beats, in seconds of counter
    /// time.
    pub largest_gap: f64,
    /// Partitioner errors other than the fuzzer's faults.
    pub partitioner_errors: Vec<String>,
    /// Cells stuck in stop, a silent fuzzer, or QEMU gone.
    pub stuck: Vec<String>,
    /// The fuzzer's last operation.
    pub last_operation: String,
}

impl SoakReport {
    /// What failed, one line each; empty when the soak passed.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        failures.extend(
            self.partitioner_errors
                .iter()
                .map(|e| format!("partitioner error: {e}")),
        );
        failures.extend(self.corruptions.iter().map(|c| format!("canary: {c}")));
        if self.largest_gap > LARGEST_GAP.as_secs_f64() {
            failures.push(format!(
                "the canary's largest gap between beats was {:.3} s, more than two periods ({:.3} s)",
                self.largest_gap,
                LARGEST_GAP.as_secs_f64()
            ));
        }
        if self.canary_checks == 0 {
            failures.push("the canary never checked its memory".into());
        }
        failures.extend(self.stuck.iter().cloned());
        if self.operations == 0 {
            failures.push("the fuzzer ran no operation".into());
        }
        failures
    }

    /// Restart time percentile `p` (0..=100), in milliseconds.
    pub fn restart_percentile(&self, p: f64) -> Option<f64> {
        percentile_ms(&self.restart_times, p)
    }

    /// The summary, several lines.
    pub fn summary(&self) -> String {
        let percentiles = match (
            self.restart_percentile(50.0),
            self.restart_percentile(99.0),
            self.restart_percentile(100.0),
        ) {
            (Some(p50), Some(p99), Some(max)) => {
                format!("p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms")
            }
            _ => "none".into(),
        };
        format!(
            "soak: {:.1} min, fuzzer seed {}\n\
             \x20 fuzzer: {} operations in {} lives, {} faults contained\n\
             \x20 restarts (fault to the next life's first instruction): {}\n\
             \x20 canary: {} checks, {} corruptions, largest gap between beats {:.3} s (budget {:.3} s)\n\
             \x20 partitioner errors: {}, stuck: {}\n\
             \x20 last operation: {}",
            self.elapsed.as_secs_f64() / 60.0,
            self.seed,
            self.operations,
            self.lives,
            self.faults,
            percentiles,
            self.canary_checks,
            self.corruptions.len(),
            self.largest_gap,
            LARGEST_GAP.as_secs_f64(),
            self.partitioner_errors.len(),
            self.stuck.len(),
            self.last_operation
        )
    }
}

/// The tally the reader thread keeps.
#[derive(Default)]
struct Tally {
    report: SoakReport,
    counter_hz: Option<f64>,
    last_fault: Option<f64>,
    last_canary: Option<u64>,
    last_fuzz_line: Option<Instant>,
}

/// Percentile `p` (0..=100) of `times` (seconds), in milliseconds.
fn percentile_ms(times: &[f64], p: f64) -> Option<f64> {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let last = sorted.len().checked_sub(1)?;
    let rank = ((p / 100.0) * last as f64).round() as usize;
    Some(sorted[rank.min(last)] * 1000.0)
}

/// The counter frequency the partitioner's first summary line gives
/// (`… partitioner on qemu-virt: 4 CPUs, counter 62500000 Hz`).
fn counter_hz(line: &str) -> Option<f64> {
    line.split(", counter ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The timestamp of a decoded partitioner line (`[  1.234567 INFO ] …`).
fn timestamp(line: &str) -> Option<f64> {
    line.strip_prefix('[')?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Tally {
    fn line(&mut self, stream: &str, line: &str) {
        match stream {
            "fuzz" => {
                self.last_fuzz_line = Some(Instant::now());
                if let Some(rest) = line.strip_prefix("fuzz: seed ") {
                    self.report.lives += 1;
                    if self.report.seed.is_empty() {
                        self.report.seed = rest.split_whitespace().next().unwrap_or("").into();
                    }
                } else if line.starts_with("fuzz ") {
                    self.report.operations += 1;
                    self.report.last_operation.clear();
                    self.report.last_operation.push_str(line);
                }
            }
            "canary" => {
                if line.contains("CORRUPTED") {
                    self.report.corruptions.push(line.to_string());
                } else if let Some(at) = line.split(" at counter ").nth(1) {
                    self.report.canary_checks += 1;
                    let counter: u64 = at.trim().parse().unwrap_or(0);
                    if let (Some(last), Some(hz)) = (self.last_canary, self.counter_hz) {
                        let gap = counter.saturating_sub(last) as f64 / hz;
                        self.report.largest_gap = self.report.largest_gap.max(gap);
                    }
                    self.last_canary = Some(counter);
                }
            }
            "partitioner" => {
                if self.counter_hz.is_none() {
                    self.counter_hz = counter_hz(line);
                }
                if line.contains("cell fuzz faulted") {
                    self.report.faults += 1;
                    self.last_fault = timestamp(line);
                } else if line.contains("cell fuzz (start ") && line.contains("first instruction") {
                    if let (Some(fault), Some(now)) = (self.last_fault.take(), timestamp(line)) {
                        self.report.restart_times.push(now - fault);
                    }
                } else if line.contains("did not leave") {
                    self.report.stuck.push(line.to_string());
                } else if line.contains(" ERROR]") || line.contains("partitioner exception") {
                    self.report.partitioner_errors.push(line.to_string());
                }
            }
            _ => {}
        }
    }
}

/// Runs the soak; the report, or an error when the run could not start.
pub fn run_fuzz_soak(options: &SoakOptions) -> Result<SoakReport, HarnessError> {
    let cells = cell_names(&options.build_dir.join("config.yaml"))?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = options.duration + Duration::from_secs(60);
    let mut session_options = SessionOptions::new(&options.run)
        .cells(cells)
        .log_root(&options.log_root)
        .deadline(deadline)
        .forget("fuzz")
        .forget("canary")
        .forget("partitioner");
    {
        let tally = Arc::clone(&tally);
        session_options = session_options.on_line(move |stream, line| {
            if let Ok(mut t) = tally.lock() {
                t.line(stream, line);
            }
        });
    }
    let beside = options.build_dir.join("partitioner.elf");
    if let Some(elf) = beside
        .is_file()
        .then_some(beside)
        .or_else(|| options.partitioner_elf.clone())
    {
        session_options = session_options.partitioner_elf(elf);
    }
    let target = QemuTarget::for_build(&options.build_dir)?;
    let mut session = Session::start(&target, session_options)?;
    let started = Instant::now();
    let mut stuck = Vec::new();
    while started.elapsed() < options.duration {
        std::thread::sleep(Duration::from_millis(500));
        if let Some(status) = session.try_exit() {
            stuck.push(format!(
                "QEMU exited ({status}) after {:.1} s; see {}",
                started.elapsed().as_secs_f64(),
                session.run_dir().join("qemu.stderr.log").display()
            ));
            break;
        }
        let silent = tally
            .lock()
            .ok()
            .and_then(|t| t.last_fuzz_line)
            .map_or(started.elapsed(), |at| at.elapsed());
        if silent > SILENCE {
            stuck.push(format!(
                "the fuzzer printed nothing for {} s",
                silent.as_secs()
            ));
            break;
        }
    }
    drop(session);
    let mut report = tally.lock().map(|t| t.report.clone()).unwrap_or_default();
    report.elapsed = started.elapsed();
    if !stuck.is_empty() && !report.last_operation.is_empty() {
        stuck.push(format!("last operation: {}", report.last_operation));
    }
    report.stuck.extend(stuck);
    Ok(report)
}

/// `<run dir>/fuzz.log`, where the fuzzer's operations are.
pub fn fuzz_log(log_root: &Path, run: &str) -> PathBuf {
    log_root.join(run).join("fuzz.log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyclictest_rounds_give_their_worst_case() {
        assert_eq!(
            round_worst_case("3: T: 0 ( 124) P:90 I:1000 C: 3429 Min: 49 Act: 50 Avg: 52 Max: 61"),
            Some(61)
        );
        assert_eq!(
            round_worst_case("2: hist 14:8 15:623 41:4 over:0"),
            Some(41)
        );
        assert_eq!(round_worst_case("2: hist 14:8 over:3"), Some(2000));
        assert_eq!(round_worst_case("4: start"), None);
    }

    #[test]
    fn the_tally_reads_every_stream() {
        let mut t = Tally::default();
        t.line(
            "partitioner",
            "[  0.005 INFO ] Bulkhead 0.1.0 partitioner on qemu-virt: 4 CPUs, counter 62500000 Hz",
        );
        t.line("fuzz", "fuzz: seed 0xc0ffee life 0");
        t.line("fuzz", "fuzz 0.0 own ldr x 0x50c00000");
        t.line("fuzz", "fuzz 0.1 foreign str x 0x60000000");
        t.line(
            "partitioner",
            "[  1.000000 ERROR] cell fuzz faulted on cpu 0: stage-2 fault: write",
        );
        t.line(
            "partitioner",
            "[  1.002500 INFO ] cell fuzz (start 2): first instruction at counter 1",
        );
        t.line(
            "canary",
            "canary: beat 1 ok, 131072 words at counter 62500000",
        );
        t.line(
            "canary",
            "canary: beat 2 ok, 131072 words at counter 75000000",
        );
        t.line(
            "partitioner",
            "[  2.0 ERROR] cell fuzz: a core did not leave the cell; it stays stopped",
        );
        t.line(
            "partitioner",
            "[  2.1 ERROR] partitioner exception 1 at EL2 on cpu 0",
        );
        let r = &t.report;
        assert_eq!((r.lives, r.operations, r.faults), (1, 2, 1));
        assert_eq!(r.seed, "0xc0ffee");
        assert!((r.restart_times[0] - 0.0025).abs() < 1e-9);
        assert_eq!(r.canary_checks, 2);
        assert!((r.largest_gap - 0.2).abs() < 1e-9);
        assert_eq!(r.stuck.len(), 1);
        assert_eq!(r.partitioner_errors.len(), 1);
        assert_eq!(r.failures().len(), 2);
    }
}

/// The restart soak's Linux part: how the containers cell's crash loop
/// (`hil-tests/configs/qemu-crashloop.yaml`) went, and what the real-time
/// cell measured meanwhile.
#[derive(Clone, Debug, Default)]
pub struct CrashReport {
    /// Crashes the containers cell announced.
    pub crashes: u64,
    /// Whether it came back up after its last crash.
    pub back_up: bool,
    /// Seconds (counter time) from each `SYSTEM_RESET` to the first
    /// instruction of the next life.
    pub restart_times: Vec<f64>,
    /// Seconds (counter time) from each life's first instruction to its
    /// user space.
    pub boot_times: Vec<f64>,
    /// cyclictest rounds the real-time cell completed, and their worst
    /// case, in microseconds.
    pub rt_rounds: u64,
    /// The worst wake-up latency of any round.
    pub rt_max_us: u64,
    /// Partitioner errors, and restarts of the real-time cell (there must
    /// be none).
    pub problems: Vec<String>,
}

impl CrashReport {
    /// What failed against `crashes` wanted and a real-time budget of
    /// `budget_us`.
    pub fn failures(&self, crashes: u64, budget_us: u64) -> Vec<String> {
        let mut failures = self.problems.clone();
        if self.crashes < crashes || !self.back_up {
            failures.push(format!(
                "the containers cell crashed {} of {crashes} times and {} back up",
                self.crashes,
                if self.back_up { "came" } else { "did not come" }
            ));
        }
        if self.rt_rounds == 0 {
            failures.push("the real-time cell completed no cyclictest round".into());
        }
        if self.rt_max_us > budget_us {
            failures.push(format!(
                "the real-time cell's worst case was {} us, over its {budget_us} us budget",
                self.rt_max_us
            ));
        }
        failures
    }

    /// The summary, a few lines.
    pub fn summary(&self, budget_us: u64) -> String {
        let ms = |times: &[f64], p: f64| {
            percentile_ms(times, p).map_or_else(|| "-".into(), |v| format!("{v:.1} ms"))
        };
        format!(
            "crash loop: {} crashes of the containers cell, back up: {}\n\
             \x20 restarts (SYSTEM_RESET to first instruction): p50 {}, p99 {}, max {}\n\
             \x20 boots (first instruction to user space): p50 {}, p99 {}, max {}\n\
             \x20 real-time cell: {} cyclictest rounds, worst case {} us (budget {budget_us} us)\n\
             \x20 problems: {}",
            self.crashes,
            self.back_up,
            ms(&self.restart_times, 50.0),
            ms(&self.restart_times, 99.0),
            ms(&self.restart_times, 100.0),
            ms(&self.boot_times, 50.0),
            ms(&self.boot_times, 99.0),
            ms(&self.boot_times, 100.0),
            self.rt_rounds,
            self.rt_max_us,
            self.problems.len()
        )
    }
}

/// The worst case of one cyclictest round from the text after
/// `cyclictest round N: `: its summary (`… Max: 21`) or, in the lab's
/// histogram mode, its histogram (`hist 14:8 15:623 41:4 over:0`: the
/// largest bucket with samples; any overflow counts as the histogram's
/// end, 2000 us).
pub fn round_worst_case(round: &str) -> Option<u64> {
    let (_, rest) = round.split_once(": ")?;
    if let Some(max) = rest.split("Max:").nth(1) {
        return max.trim().parse().ok();
    }
    let histogram = rest.strip_prefix("hist")?;
    let mut worst = 0;
    for bucket in histogram.split_whitespace() {
        let (key, count) = bucket.split_once(':')?;
        let count: u64 = count.parse().ok()?;
        match key {
            "over" if count > 0 => worst = worst.max(2000),
            "over" => {}
            _ if count > 0 => worst = worst.max(key.parse().ok()?),
            _ => {}
        }
    }
    Some(worst)
}

/// Boots the crash-loop build in `build_dir` under icount and waits (at
/// most `deadline`) until the containers cell is back up after its last
/// crash.
pub fn run_crash_soak(
    build_dir: &Path,
    log_root: &Path,
    partitioner_elf: Option<PathBuf>,
    deadline: Duration,
) -> Result<CrashReport, HarnessError> {
    let cells = cell_names(&build_dir.join("config.yaml"))?;
    let mut options = SessionOptions::new("crashloop")
        .cells(cells)
        .log_root(log_root)
        .deadline(deadline + Duration::from_secs(30));
    let beside = build_dir.join("partitioner.elf");
    if let Some(elf) = beside.is_file().then_some(beside).or(partitioner_elf) {
        options = options.partitioner_elf(elf);
    }
    let target = QemuTarget::for_build(build_dir)?.icount(true);
    let mut session = Session::start(&target, options)?;
    let back_up = session
        .expect(
            "containers",
            crate::Pattern::regex(r"^bulkhead-guest: crashloop: back up after \d+ crashes$"),
            deadline,
        )
        .is_ok();
    // One more real-time round after the last restart.
    session.skip_to_end("control");
    let _ = session.expect(
        "control",
        crate::Pattern::regex(r"^bulkhead-guest: cyclictest round \d+: T: 0 "),
        Duration::from_secs(60),
    );
    let mut report = CrashReport {
        back_up,
        ..CrashReport::default()
    };
    report.crashes = session
        .lines("containers")
        .iter()
        .filter(|l| l.starts_with("bulkhead-guest: crashloop: crash "))
        .count() as u64;
    for line in session.lines("control") {
        if let Some(max) = line
            .strip_prefix("bulkhead-guest: cyclictest round ")
            .and_then(round_worst_case)
        {
            report.rt_rounds += 1;
            report.rt_max_us = report.rt_max_us.max(max);
        }
    }
    let hz = session
        .lines("partitioner")
        .iter()
        .find_map(|l| counter_hz(l))
        .unwrap_or(1.0);
    let mut reset_at = None;
    for line in session.lines("partitioner") {
        if line.contains("cell containers: SYSTEM_RESET, restarting") {
            reset_at = timestamp(&line);
        } else if line.contains("cell containers (start ") && line.contains("first instruction") {
            if let (Some(reset), Some(now)) = (reset_at.take(), timestamp(&line)) {
                report.restart_times.push(now - reset);
            }
        } else if line.contains("cell control: starting (boot #2)") {
            report
                .problems
                .push(format!("the real-time cell restarted: {line}"));
        } else if line.contains(" ERROR]") {
            report.problems.push(line.clone());
        }
    }
    // Boot times: each life's first instruction (partitioner) to its
    // "userspace at counter" line (containers), in order.
    let starts: Vec<u64> = session
        .lines("partitioner")
        .iter()
        .filter(|l| l.contains("cell containers (start ") && l.contains("first instruction"))
        .filter_map(|l| l.rsplit("at counter ").next()?.trim().parse().ok())
        .collect();
    let userspace: Vec<u64> = session
        .lines("containers")
        .iter()
        .filter_map(|l| {
            l.strip_prefix("bulkhead-guest: boot: userspace at counter ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    for (start, up) in starts.iter().zip(&userspace) {
        if up > start {
            report.boot_times.push((up - start) as f64 / hz);
        }
    }
    Ok(report)
}
