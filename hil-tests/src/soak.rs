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
        let mut times = self.restart_times.clone();
        if times.is_empty() {
            return None;
        }
        times.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * (times.len() - 1) as f64).round() as usize;
        Some(times[rank.min(times.len() - 1)] * 1000.0)
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
                    if let Some(hz) = line
                        .split(", counter ")
                        .nth(1)
                        .and_then(|r| r.split_whitespace().next())
                        .and_then(|n| n.parse().ok())
                    {
                        self.counter_hz = Some(hz);
                    }
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
