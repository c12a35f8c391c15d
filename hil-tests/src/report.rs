//! The latency report: figures of a native and a Bulkhead run of the
//! probe, their comparison, the budget check, and where they come from, as
//! `report.json` (for machines and trend tracking) and a self-contained
//! `report.html` (inline SVG histograms with log-scale counts, one table,
//! no external resources).

use crate::boot_times::BootTimes;
use crate::ipc_bench::{IpcBench, IpcBenchRun};
use crate::latency::{label, Histogram, ProbeOutput, ProbeRun, Stats, MEASUREMENTS};
use crate::rt_lab::{IpcReport, Phase, RtLabOutput, RtLabRun, HISTOGRAM_END_US};
use crate::target::description::{LatencyBudget, TargetDescription, TargetKind};
use crate::HarnessError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Version of the JSON layout.
pub const REPORT_FORMAT: u32 = 1;

/// What icount figures are, in one sentence, for every report.
pub const ICOUNT_STATEMENT: &str = "These figures come from QEMU with -icount shift=0,sleep=off \
and a 1 GHz counter, so one tick is one guest instruction: they are instruction path lengths \
in emulation, exactly repeatable from run to run, not hardware nanoseconds. Exception entry, \
eret, caches, TLBs and the GIC take time on silicon that a tick does not count.";

/// The same for runs that are not deterministic.
pub const FREE_RUNNING_STATEMENT: &str = "These figures are counter ticks of a free-running \
clock. Under QEMU without icount they are dominated by the host and mean little; on a real \
board they are hardware time at the counter's frequency. No budget is checked on them.";

/// Where a report's figures come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The target.
    pub target: TargetInfo,
    /// The Bulkhead config of the lab (a path).
    pub lab_config: Option<String>,
    /// `qemu-system-aarch64 --version`, first line.
    pub qemu_version: Option<String>,
    /// `git describe`-like revision of the tree (`<hash>` plus `-dirty`).
    pub git_revision: Option<String>,
    /// `rustc --version` of the workspace's toolchain.
    #[serde(default)]
    pub rustc_version: Option<String>,
    /// The Debian packages (`name version`) the guest images of the labs
    /// were made from, from their builds' [`PACKAGES_FILE`].
    #[serde(default)]
    pub guest_packages: Vec<String>,
    /// When the report was made (seconds since 1970, UTC).
    pub generated_unix_s: u64,
}

/// In a build directory: the Debian packages (`name version`, one a line)
/// its guest images were made from. `cargo xtask build` writes it when the
/// config boots Linux.
pub const PACKAGES_FILE: &str = "packages.txt";

/// The target, as the report shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Its name.
    pub name: String,
    /// Its file.
    pub file: Option<String>,
    /// `qemu` or `serial`.
    pub kind: String,
    /// Whether ticks are instructions (icount, 1 GHz counter).
    pub deterministic: bool,
    /// The counter frequency, where known.
    pub cntfrq_hz: Option<u64>,
    /// The target's description.
    pub description: Option<String>,
}

impl TargetInfo {
    /// The report's view of a target file.
    pub fn of(target: &TargetDescription) -> Self {
        let cntfrq_hz = match &target.kind {
            TargetKind::Qemu(qemu) => qemu.cntfrq,
            TargetKind::Serial(_) => None,
        };
        TargetInfo {
            name: target.name.clone(),
            file: target.path.as_ref().map(|p| p.display().to_string()),
            kind: target.kind_name().to_string(),
            deterministic: target.is_deterministic(),
            cntfrq_hz,
            description: target.description.clone(),
        }
    }
}

impl Provenance {
    /// Collects the QEMU version (for QEMU targets), the git revision of
    /// `workspace` and the time.
    pub fn collect(workspace: &Path, target: &TargetDescription, lab_config: &Path) -> Self {
        let qemu_version = match &target.kind {
            TargetKind::Qemu(qemu) => first_line_of(Command::new(&qemu.binary).arg("--version")),
            TargetKind::Serial(_) => None,
        };
        let git =
            |args: &[&str]| first_line_of(Command::new("git").current_dir(workspace).args(args));
        let git_revision = git(&["rev-parse", "--short=12", "HEAD"]).map(|hash| {
            let dirty = Command::new("git")
                .current_dir(workspace)
                .args(["status", "--porcelain", "--untracked-files=no"])
                .output()
                .is_ok_and(|out| !out.stdout.is_empty());
            if dirty {
                format!("{hash}-dirty")
            } else {
                hash
            }
        });
        let generated_unix_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Provenance {
            target: TargetInfo::of(target),
            lab_config: Some(lab_config.display().to_string()),
            qemu_version,
            git_revision,
            rustc_version: first_line_of(
                Command::new("rustc")
                    .current_dir(workspace)
                    .arg("--version"),
            ),
            guest_packages: Vec::new(),
            generated_unix_s,
        }
    }

    /// Adds the packages of the build in `build_dir` (its
    /// [`PACKAGES_FILE`]; nothing when it has none: no Linux in it).
    pub fn add_guest_packages(&mut self, build_dir: &Path) -> Result<(), HarnessError> {
        let file = build_dir.join(PACKAGES_FILE);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(HarnessError::Io {
                    context: format!("cannot read {}", file.display()),
                    source,
                })
            }
        };
        let lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        self.guest_packages.extend(lines.map(str::to_string));
        self.guest_packages.sort();
        self.guest_packages.dedup();
        Ok(())
    }
}

fn first_line_of(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().next().map(|line| line.trim().to_string())
}

/// One measurement of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasurementRecord {
    /// The raw samples.
    pub histogram: Histogram,
    /// Their summary (none without samples).
    pub stats: Option<Stats>,
}

/// One run of the probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `native` or `bulkhead`.
    pub name: String,
    /// The target's command line (or serial port).
    pub command: String,
    /// Where its logs are.
    pub log_dir: Option<String>,
    /// By measurement name.
    pub measurements: BTreeMap<String, MeasurementRecord>,
    /// The counter's frequency the probe read, if it said.
    #[serde(default)]
    pub counter_hz: Option<u64>,
    /// Samples dropped before each measurement, if the probe said.
    #[serde(default)]
    pub warm_up: Option<u64>,
}

impl RunRecord {
    /// A record of parsed probe output.
    pub fn new(name: &str, command: &str, output: &ProbeOutput) -> Self {
        RunRecord {
            name: name.to_string(),
            command: command.to_string(),
            log_dir: None,
            counter_hz: output.counter_hz,
            warm_up: output.warm_up,
            measurements: output
                .measurements
                .iter()
                .map(|(name, histogram)| {
                    let record = MeasurementRecord {
                        histogram: histogram.clone(),
                        stats: histogram.stats(),
                    };
                    (name.clone(), record)
                })
                .collect(),
        }
    }

    /// A record of a scenario run.
    pub fn of(run: &ProbeRun) -> Self {
        let mut record = Self::new(&run.name, &run.command, &run.output);
        record.log_dir = Some(run.log_dir.display().to_string());
        record
    }

    fn stats(&self, measurement: &str) -> Option<Stats> {
        self.measurements.get(measurement)?.stats
    }
}

/// What the real-time lab's figures are, for every report that has them.
pub const REALTIME_STATEMENT: &str = "cyclictest runs in the PREEMPT_RT cell (one thread, \
SCHED_FIFO 90, 1 ms period, 2 s rounds); each round counts in the phase its neighbour, the \
containers cell, was in from its start to its end. Under icount a microsecond is 1000 guest \
instructions. QEMU runs one CPU at a time there, so a busy neighbour takes turns with the \
real-time CPU: the config's icount quantum has the partitioner end the neighbour's turn \
every few microseconds, and even so the real-time CPU shares the emulator's time with it. \
QEMU models no caches or memory bus: interference through them must be measured on a real \
board.";

/// One phase of the real-time lab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseRecord {
    /// Which.
    pub phase: Phase,
    /// What the neighbour did.
    pub label: String,
    /// Rounds that lay wholly in it.
    pub rounds: usize,
    /// Their samples, merged, in us (`lost`: beyond the histogram).
    pub histogram: Histogram,
    /// Their summary.
    pub stats: Option<Stats>,
}

/// The real-time lab in a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RealtimeRecord {
    /// [`REALTIME_STATEMENT`].
    pub statement: String,
    /// The real-time cell.
    pub cell: String,
    /// Its `latency_budget`, in us.
    pub latency_budget_us: Option<f64>,
    /// The QEMU command line.
    pub command: String,
    /// Where the logs are.
    pub log_dir: Option<String>,
    /// The measured phases, in order.
    pub phases: Vec<PhaseRecord>,
    /// The control loop's round trips to the neighbour and back.
    pub ipc: Vec<IpcReport>,
}

impl RealtimeRecord {
    /// The record of a lab run.
    pub fn of(run: &RtLabRun, cell: &str, budget_ns: Option<u64>) -> Self {
        let mut record = Self::new(&run.output, cell, budget_ns, &run.command);
        record.log_dir = Some(run.log_dir.display().to_string());
        record
    }

    /// The record of parsed lab output (a recorded run), booted with
    /// `command`.
    pub fn new(output: &RtLabOutput, cell: &str, budget_ns: Option<u64>, command: &str) -> Self {
        let phases = Phase::MEASURED
            .iter()
            .map(|&phase| {
                let histogram = output.histogram(phase);
                PhaseRecord {
                    phase,
                    label: phase.label().to_string(),
                    rounds: output.rounds_in(phase),
                    stats: histogram.stats(),
                    histogram,
                }
            })
            .collect();
        RealtimeRecord {
            statement: REALTIME_STATEMENT.to_string(),
            cell: cell.to_string(),
            latency_budget_us: budget_ns.map(|ns| ns as f64 / 1000.0),
            command: command.to_string(),
            log_dir: None,
            phases,
            ipc: output.ipc.clone(),
        }
    }
}

/// The IPC lab (two bare-metal peers, `configs/qemu-ipc-lab.yaml`) in a
/// report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IpcRecord {
    /// The QEMU command line.
    pub command: String,
    /// Where the logs are.
    pub log_dir: String,
    /// The figures.
    pub bench: IpcBench,
}

impl IpcRecord {
    /// The record of a bench run.
    pub fn of(run: &IpcBenchRun) -> Self {
        IpcRecord {
            command: run.command.clone(),
            log_dir: run.log_dir.display().to_string(),
            bench: run.bench.clone(),
        }
    }

    /// Round trip avg over notification avg (Doorbell store → the
    /// receiver's doorbell handler): the round trip in interrupt
    /// latencies, which the target wants under 3.
    pub fn round_trip_in_notifications(&self) -> Option<f64> {
        let notify = self.bench.notify.stats()?.avg;
        let round_trip = self.bench.roundtrip.stats()?.avg;
        (notify > 0.0).then(|| round_trip / notify)
    }
}

/// Boot times of a layout in a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootRecord {
    /// The config booted.
    pub config: String,
    /// The QEMU command line.
    pub command: String,
    /// The figures.
    pub times: BootTimes,
}

/// Native against Bulkhead, for one measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The measurement's name.
    pub measurement: String,
    /// What it measures.
    pub label: String,
    /// Native figures.
    pub native: Option<Stats>,
    /// Bulkhead figures.
    pub bulkhead: Option<Stats>,
    /// Bulkhead avg / native avg.
    pub ratio_avg: Option<f64>,
    /// Bulkhead p99 / native p99: the overhead ratio budgets bound.
    pub ratio_p99: Option<f64>,
}

/// One bound of the budget, checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetCheck {
    /// The measurement's name.
    pub measurement: String,
    /// `max_ticks` or `max_overhead_ratio`.
    pub bound: String,
    /// The bound.
    pub limit: f64,
    /// What was measured (none: nothing to compare).
    pub measured: Option<f64>,
    /// Whether it holds.
    pub passed: bool,
    /// One line on the outcome.
    pub message: String,
}

/// The budget check of a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetOutcome {
    /// Whether a budget was checked at all.
    pub checked: bool,
    /// Each bound.
    pub checks: Vec<BudgetCheck>,
    /// Whether every bound holds (true when nothing was checked).
    pub passed: bool,
    /// Why nothing was checked, or a summary.
    pub note: String,
}

/// Checks `budget` against the runs. Bounds are icount-only: on a target
/// that is not `deterministic` nothing is checked.
pub fn check_budget(
    budget: &LatencyBudget,
    deterministic: bool,
    native: Option<&RunRecord>,
    bulkhead: &RunRecord,
) -> BudgetOutcome {
    if budget.is_empty() {
        return BudgetOutcome {
            checked: false,
            checks: Vec::new(),
            passed: true,
            note: "the target declares no latency budget".to_string(),
        };
    }
    if !deterministic {
        return BudgetOutcome {
            checked: false,
            checks: Vec::new(),
            passed: true,
            note: "budgets hold only under icount; this target is not deterministic".to_string(),
        };
    }
    let mut checks = Vec::new();
    for (measurement, &limit) in &budget.max_ticks {
        let record = bulkhead.measurements.get(measurement);
        let lost = record.map_or(0, |r| r.histogram.lost);
        let max = record.and_then(|r| r.stats).map(|s| s.max);
        let (passed, message) = match max {
            None => (false, "Bulkhead run has no samples".to_string()),
            Some(_) if lost > 0 => (false, format!("{lost} interrupt(s) never arrived")),
            Some(max) if max > limit => (false, format!("max {max} ticks exceeds {limit}")),
            Some(max) => (true, format!("max {max} ticks within {limit}")),
        };
        checks.push(BudgetCheck {
            measurement: measurement.clone(),
            bound: "max_ticks".to_string(),
            limit: limit as f64,
            measured: max.map(|m| m as f64),
            passed,
            message,
        });
    }
    for (measurement, &limit) in &budget.max_overhead_ratio {
        let ratio = native
            .and_then(|native| ratio(native.stats(measurement)?, bulkhead.stats(measurement)?).1);
        let (passed, message) = match ratio {
            None => (false, "no native and Bulkhead p99 to compare".to_string()),
            Some(r) if r > limit => (false, format!("p99 ratio {r:.2} exceeds {limit:.2}")),
            Some(r) => (true, format!("p99 ratio {r:.2} within {limit:.2}")),
        };
        checks.push(BudgetCheck {
            measurement: measurement.clone(),
            bound: "max_overhead_ratio".to_string(),
            limit,
            measured: ratio,
            passed,
            message,
        });
    }
    BudgetOutcome::of(checks)
}

impl BudgetOutcome {
    /// The outcome of `checks`, all of them checked.
    fn of(checks: Vec<BudgetCheck>) -> Self {
        let failed = checks.iter().filter(|c| !c.passed).count();
        BudgetOutcome {
            checked: true,
            passed: failed == 0,
            note: if failed == 0 {
                format!("all {} bounds hold", checks.len())
            } else {
                format!("{failed} of {} bounds violated", checks.len())
            },
            checks,
        }
    }
}

/// The bounds of the real-time lab: each measured phase's worst case
/// against the cell's `latency_budget` (ns), and the loaded and crash
/// phases' worst cases against the idle one times `max_load_factor`. A
/// phase without a round fails: nothing was measured there.
pub fn realtime_checks(
    lab: &RtLabOutput,
    budget_ns: Option<u64>,
    max_load_factor: Option<f64>,
) -> Vec<BudgetCheck> {
    let mut checks = Vec::new();
    let idle_worst = lab.worst_us(Phase::Idle);
    for phase in Phase::MEASURED {
        let measurement = format!("cyclictest_{}", phase.name());
        let worst = lab.worst_us(phase);
        let overflow = lab.histogram(phase).lost;
        if let Some(budget_ns) = budget_ns {
            let limit = budget_ns as f64 / 1000.0;
            let (passed, message) = match worst {
                None => (
                    false,
                    format!(
                        "no cyclictest round lay wholly in the {} phase",
                        phase.name()
                    ),
                ),
                Some(_) if overflow > 0 => (
                    false,
                    format!("{overflow} sample(s) beyond {HISTOGRAM_END_US} us exceed {limit} us"),
                ),
                Some(worst) if worst as f64 > limit => {
                    (false, format!("max {worst} us exceeds {limit} us"))
                }
                Some(worst) => (true, format!("max {worst} us within {limit} us")),
            };
            checks.push(BudgetCheck {
                measurement: measurement.clone(),
                bound: "latency_budget_us".to_string(),
                limit,
                measured: worst.map(|w| w as f64),
                passed,
                message,
            });
        }
        if let (Some(factor), true) = (max_load_factor, phase != Phase::Idle) {
            let ratio = match (worst, idle_worst) {
                (Some(worst), Some(idle)) if idle > 0 => Some(worst as f64 / idle as f64),
                _ => None,
            };
            let (passed, message) = match ratio {
                None => (
                    false,
                    "no idle and loaded worst cases to compare".to_string(),
                ),
                Some(r) if r > factor => (
                    false,
                    format!("worst case {r:.2}x the idle one, more than {factor:.2}x"),
                ),
                Some(r) => (
                    true,
                    format!("worst case {r:.2}x the idle one, within {factor:.2}x"),
                ),
            };
            checks.push(BudgetCheck {
                measurement,
                bound: "max_load_factor".to_string(),
                limit: factor,
                measured: ratio,
                passed,
                message,
            });
        }
    }
    checks
}

/// The bounds a bare-metal cell's `latency_budget` (ns) puts on the probe
/// it runs: each measurement's largest sample of the Bulkhead run, in
/// microseconds of its counter, against the budget. A lost interrupt, or
/// a run that did not say its counter's frequency, fails.
pub fn cell_budget_checks(bulkhead: &RunRecord, budget_ns: u64) -> Vec<BudgetCheck> {
    let limit = budget_ns as f64 / 1000.0;
    let hz = bulkhead.counter_hz.filter(|&hz| hz > 0);
    bulkhead
        .measurements
        .iter()
        .map(|(measurement, record)| {
            let max = record.stats.map(|s| s.max);
            let max_us = max
                .zip(hz)
                .map(|(ticks, hz)| ticks as f64 * 1e6 / hz as f64);
            let lost = record.histogram.lost;
            let (passed, message) = match (max_us, hz) {
                (_, None) => (
                    false,
                    "the probe did not say its counter frequency".to_string(),
                ),
                (None, _) => (false, "Bulkhead run has no samples".to_string()),
                (Some(_), _) if lost > 0 => (false, format!("{lost} interrupt(s) never arrived")),
                (Some(us), _) if us > limit => {
                    (false, format!("max {us:.3} us exceeds {limit} us"))
                }
                (Some(us), _) => (true, format!("max {us:.3} us within {limit} us")),
            };
            BudgetCheck {
                measurement: measurement.clone(),
                bound: "latency_budget_us".to_string(),
                limit,
                measured: max_us,
                passed,
                message,
            }
        })
        .collect()
}

/// (avg ratio, p99 ratio), Bulkhead over native; none where native is 0.
fn ratio(native: Stats, bulkhead: Stats) -> (Option<f64>, Option<f64>) {
    let avg = (native.avg > 0.0).then(|| bulkhead.avg / native.avg);
    let p99 = (native.p99 > 0).then(|| bulkhead.p99 as f64 / native.p99 as f64);
    (avg, p99)
}

/// A latency report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub format: u32,
    /// What the figures mean ([`ICOUNT_STATEMENT`] or
    /// [`FREE_RUNNING_STATEMENT`]).
    pub statement: String,
    /// Where they come from.
    pub provenance: Provenance,
    /// The runs, native first (if there was one).
    pub runs: Vec<RunRecord>,
    /// Per measurement, native against Bulkhead.
    pub comparison: Vec<Comparison>,
    /// The budget check.
    pub budget: BudgetOutcome,
    /// The real-time lab, if it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime: Option<RealtimeRecord>,
    /// The IPC lab, if it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc: Option<IpcRecord>,
    /// Boot times, if measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<BootRecord>,
}

/// Writing a report failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct ReportWriteError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl Report {
    /// Builds the report of `native` (if any) and `bulkhead` runs, and
    /// checks `budget`.
    pub fn new(
        provenance: Provenance,
        native: Option<RunRecord>,
        bulkhead: RunRecord,
        budget: &LatencyBudget,
    ) -> Self {
        let deterministic = provenance.target.deterministic;
        let outcome = check_budget(budget, deterministic, native.as_ref(), &bulkhead);
        let comparison = MEASUREMENTS
            .iter()
            .filter(|m| {
                bulkhead.measurements.contains_key(**m)
                    || native
                        .as_ref()
                        .is_some_and(|n| n.measurements.contains_key(**m))
            })
            .map(|&measurement| {
                let native_stats = native.as_ref().and_then(|n| n.stats(measurement));
                let bulkhead_stats = bulkhead.stats(measurement);
                let (ratio_avg, ratio_p99) = match (native_stats, bulkhead_stats) {
                    (Some(n), Some(b)) => ratio(n, b),
                    _ => (None, None),
                };
                Comparison {
                    measurement: measurement.to_string(),
                    label: label(measurement).to_string(),
                    native: native_stats,
                    bulkhead: bulkhead_stats,
                    ratio_avg,
                    ratio_p99,
                }
            })
            .collect();
        Report {
            format: REPORT_FORMAT,
            statement: if deterministic {
                ICOUNT_STATEMENT
            } else {
                FREE_RUNNING_STATEMENT
            }
            .to_string(),
            provenance,
            runs: native.into_iter().chain([bulkhead]).collect(),
            comparison,
            budget: outcome,
            realtime: None,
            ipc: None,
            boot: None,
        }
    }

    /// Adds the bounds of the probe cell's `latency_budget` (ns; see
    /// [`cell_budget_checks`]; checked under icount only).
    pub fn add_cell_budget(&mut self, budget_ns: u64) {
        if !self.provenance.target.deterministic {
            return;
        }
        let Some(bulkhead) = self.run("bulkhead") else {
            return;
        };
        let checks = cell_budget_checks(bulkhead, budget_ns);
        self.add_checks(checks);
    }

    /// Joins `checks` to the verdict (nothing to join: it stays as it is).
    fn add_checks(&mut self, checks: Vec<BudgetCheck>) {
        if checks.is_empty() {
            return;
        }
        let mut all = std::mem::take(&mut self.budget.checks);
        all.extend(checks);
        self.budget = BudgetOutcome::of(all);
    }

    /// Adds the real-time lab and its bounds (see [`realtime_checks`];
    /// checked under icount only).
    pub fn add_realtime(
        &mut self,
        record: RealtimeRecord,
        output: &RtLabOutput,
        budget_ns: Option<u64>,
        max_load_factor: Option<f64>,
    ) {
        if self.provenance.target.deterministic {
            self.add_checks(realtime_checks(output, budget_ns, max_load_factor));
        }
        self.realtime = Some(record);
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// A report read back from JSON.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Writes `report.json` and `report.html` into `dir`; returns their
    /// paths.
    pub fn write(&self, dir: &Path) -> Result<(PathBuf, PathBuf), ReportWriteError> {
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, text))
                .map(|()| path.clone())
                .map_err(|source| ReportWriteError { path, source })
        };
        Ok((
            write("report.json", self.to_json())?,
            write("report.html", self.to_html())?,
        ))
    }

    fn run(&self, name: &str) -> Option<&RunRecord> {
        self.runs.iter().find(|run| run.name == name)
    }

    /// A plain-text table for terminals.
    pub fn summary_text(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "{:<11} {:>36} {:>36} {:>12}",
            "", "native min/avg/p99/max", "Bulkhead min/avg/p99/max", "ratio p99"
        );
        let cell = |stats: Option<Stats>| match stats {
            Some(s) => format!("{}/{:.1}/{}/{}", s.min, s.avg, s.p99, s.max),
            None => "-".to_string(),
        };
        for row in &self.comparison {
            let _ = writeln!(
                text,
                "{:<11} {:>36} {:>36} {:>12}",
                row.measurement,
                cell(row.native),
                cell(row.bulkhead),
                row.ratio_p99.map_or("-".to_string(), |r| format!("{r:.2}"))
            );
        }
        if let Some(rt) = &self.realtime {
            let _ = writeln!(
                text,
                "real-time cell `{}` (cyclictest, us):{:>26} {:>8}",
                rt.cell, "min/avg/p99/max", "rounds"
            );
            for phase in &rt.phases {
                let _ = writeln!(
                    text,
                    "  {:<9} {:>46} {:>8}{}",
                    phase.phase.name(),
                    cell(phase.stats),
                    phase.rounds,
                    if phase.histogram.lost > 0 {
                        format!("  ({} beyond {HISTOGRAM_END_US} us)", phase.histogram.lost)
                    } else {
                        String::new()
                    }
                );
            }
        }
        if let Some(ipc) = &self.ipc {
            text.push_str(&ipc.bench.summary_text());
            if let Some(ratio) = ipc.round_trip_in_notifications() {
                let _ = writeln!(text, "round trip = {ratio:.2} x notification");
            }
        }
        if let Some(boot) = &self.boot {
            let _ = write!(text, "{}: {}", boot.config, boot.times);
        }
        let _ = writeln!(text, "budget: {}", self.budget.note);
        for check in &self.budget.checks {
            let verdict = if check.passed { "ok  " } else { "FAIL" };
            let _ = writeln!(
                text,
                "  {verdict} {} {}: {}",
                check.measurement, check.bound, check.message
            );
        }
        text
    }

    /// For a target that is not deterministic (a board, a free-running
    /// QEMU): the same figures in nanoseconds, at the counter frequency each
    /// probe read.
    fn time_html(&self, html: &mut String) {
        let in_ns = |run: &str, measurement: &str| -> Option<String> {
            let run = self.run(run)?;
            let hz = run.counter_hz.filter(|&hz| hz > 0)? as f64;
            let s = run.stats(measurement)?;
            let ns = |ticks: f64| ticks * 1e9 / hz;
            Some(format!(
                "<td>{:.0}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td>",
                ns(s.min as f64),
                ns(s.avg),
                ns(s.p99 as f64),
                ns(s.max as f64)
            ))
        };
        if self.runs.iter().all(|run| run.counter_hz.is_none()) {
            return;
        }
        html.push_str(
            "<h3>The same in nanoseconds</h3>\n<table><tr><th rowspan=\"2\">Measurement</th>\
             <th colspan=\"4\">Native (ns)</th><th colspan=\"4\">Bulkhead cell (ns)</th></tr>\n\
             <tr><th>min</th><th>avg</th><th>p99</th><th>max</th>\
             <th>min</th><th>avg</th><th>p99</th><th>max</th></tr>\n",
        );
        for row in &self.comparison {
            let _ = writeln!(
                html,
                "<tr><td>{}</td>{}{}</tr>",
                escape(&row.measurement),
                in_ns("native", &row.measurement)
                    .unwrap_or_else(|| "<td colspan=\"4\">–</td>".to_string()),
                in_ns("bulkhead", &row.measurement)
                    .unwrap_or_else(|| "<td colspan=\"4\">–</td>".to_string()),
            );
        }
        html.push_str("</table>\n");
    }

    /// The self-contained HTML page.
    pub fn to_html(&self) -> String {
        let p = &self.provenance;
        let mut html = String::new();
        let title = format!("Bulkhead interrupt latency on {}", p.target.name);
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{}</title>\n<style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
            escape(&title),
            escape(&title)
        );
        let _ = writeln!(
            html,
            "<p class=\"statement\"><strong>What these numbers are.</strong> {}</p>",
            escape(&self.statement)
        );

        // Verdict.
        let (class, verdict) = match (self.budget.checked, self.budget.passed) {
            (false, _) => ("none", "Budget not checked"),
            (true, true) => ("pass", "Budget met"),
            (true, false) => ("fail", "Budget VIOLATED"),
        };
        let _ = writeln!(
            html,
            "<p class=\"verdict {class}\">{verdict}: {}</p>",
            escape(&self.budget.note)
        );
        if !self.budget.checks.is_empty() {
            html.push_str(
                "<table><tr><th>Measurement</th><th>Bound</th><th>Limit</th>\
                 <th>Measured</th><th>Result</th></tr>\n",
            );
            for check in &self.budget.checks {
                let _ = writeln!(
                    html,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                    escape(&check.measurement),
                    escape(&check.bound),
                    number(check.limit),
                    check.measured.map_or("–".to_string(), |m| {
                        if check.bound == "max_ticks" {
                            number(m)
                        } else {
                            format!("{m:.2}")
                        }
                    }),
                    if check.passed { "pass" } else { "fail" },
                    escape(&check.message)
                );
            }
            html.push_str("</table>\n");
        }

        // The table.
        let unit = if p.target.deterministic {
            "ticks = instructions"
        } else {
            "counter ticks"
        };
        let _ = writeln!(html, "<h2>Native against Bulkhead ({unit})</h2>");
        html.push_str(
            "<table><tr><th rowspan=\"2\">Measurement</th><th colspan=\"4\">Native</th>\
             <th colspan=\"4\">Bulkhead cell</th><th colspan=\"2\">Bulkhead / native</th></tr>\n\
             <tr><th>min</th><th>avg</th><th>p99</th><th>max</th>\
             <th>min</th><th>avg</th><th>p99</th><th>max</th><th>avg</th><th>p99</th></tr>\n",
        );
        for row in &self.comparison {
            let _ = write!(
                html,
                "<tr><td>{}<br><small>{}</small></td>",
                escape(&row.measurement),
                escape(&row.label)
            );
            for stats in [row.native, row.bulkhead] {
                match stats {
                    Some(s) => {
                        let _ = write!(
                            html,
                            "<td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td>",
                            s.min, s.avg, s.p99, s.max
                        );
                    }
                    None => html.push_str("<td colspan=\"4\">not measured</td>"),
                }
            }
            for ratio in [row.ratio_avg, row.ratio_p99] {
                let _ = write!(
                    html,
                    "<td>{}</td>",
                    ratio.map_or("–".to_string(), |r| format!("{r:.2}×"))
                );
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</table>\n");
        let warm_ups: Vec<String> = self
            .runs
            .iter()
            .filter_map(|run| Some(format!("{} {}", run.name, run.warm_up?)))
            .collect();
        if !warm_ups.is_empty() {
            let _ = writeln!(
                html,
                "<p>Before recording, each measurement took warm-up samples and dropped them \
                 (cold caches, TLBs, and in QEMU untranslated code), per run: {}.</p>",
                escape(&warm_ups.join(", "))
            );
        }
        if !p.target.deterministic {
            self.time_html(&mut html);
        }
        let lost: Vec<String> = self
            .runs
            .iter()
            .flat_map(|run| {
                run.measurements
                    .iter()
                    .filter(|(_, m)| m.histogram.lost > 0)
                    .map(move |(name, m)| format!("{} {name}: {} lost", run.name, m.histogram.lost))
            })
            .collect();
        if !lost.is_empty() {
            let _ = writeln!(
                html,
                "<p class=\"verdict fail\">Interrupts that never arrived: {}</p>",
                escape(&lost.join("; "))
            );
        }

        // Histograms.
        html.push_str(
            "<h2>Histograms</h2>\n<p>Samples per latency value; counts on a log scale, \
             as in OSADL latency plots.</p>\n",
        );
        for row in &self.comparison {
            let series: Vec<(&str, &str, &Histogram)> = [
                ("native", "native", "#1f77b4"),
                ("bulkhead", "Bulkhead cell", "#ff7f0e"),
            ]
            .iter()
            .filter_map(|&(run, name, color)| {
                let histogram = &self.run(run)?.measurements.get(&row.measurement)?.histogram;
                Some((name, color, histogram))
            })
            .collect();
            let _ = writeln!(
                html,
                "<h3>{}</h3>\n{}",
                escape(&row.label),
                histogram_svg(&series, unit)
            );
        }

        if let Some(rt) = &self.realtime {
            realtime_html(&mut html, rt);
        }
        if let Some(ipc) = &self.ipc {
            ipc_html(&mut html, ipc, p.target.deterministic);
        }
        if let Some(boot) = &self.boot {
            boot_html(&mut html, boot);
        }

        // Provenance.
        html.push_str("<h2>Provenance</h2>\n<table class=\"provenance\">\n");
        let mut row = |key: &str, value: &str| {
            let _ = writeln!(
                html,
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                escape(key),
                escape(value)
            );
        };
        row("Target", &p.target.name);
        row("Target file", p.target.file.as_deref().unwrap_or("–"));
        row("Target kind", &p.target.kind);
        if let Some(description) = &p.target.description {
            row("Target description", description);
        }
        row(
            "Counter frequency",
            &p.target
                .cntfrq_hz
                .map_or("board default".to_string(), |hz| format!("{hz} Hz")),
        );
        row(
            "Deterministic (icount)",
            if p.target.deterministic { "yes" } else { "no" },
        );
        row("Lab config", p.lab_config.as_deref().unwrap_or("–"));
        row("QEMU version", p.qemu_version.as_deref().unwrap_or("–"));
        row("Git revision", p.git_revision.as_deref().unwrap_or("–"));
        row("Rust compiler", p.rustc_version.as_deref().unwrap_or("–"));
        if !p.guest_packages.is_empty() {
            row(
                "Guest packages (Debian arm64)",
                &p.guest_packages.join(", "),
            );
        }
        row("Generated", &utc_text(p.generated_unix_s));
        for run in &self.runs {
            row(&format!("Run `{}`", run.name), &run.command);
            if let Some(dir) = &run.log_dir {
                row(&format!("Run `{}` logs", run.name), dir);
            }
        }
        if let Some(ipc) = &self.ipc {
            row("IPC lab run", &ipc.command);
            row("IPC lab logs", &ipc.log_dir);
        }
        if let Some(boot) = &self.boot {
            row("Boot-time run", &boot.command);
        }
        if let Some(rt) = &self.realtime {
            row("Real-time lab run", &rt.command);
            if let Some(dir) = &rt.log_dir {
                row("Real-time lab logs", dir);
            }
        }
        html.push_str("</table>\n</body></html>\n");
        html
    }
}

/// The real-time lab's section: a table per phase, the histograms, and
/// the control loop's round trips.
fn realtime_html(html: &mut String, rt: &RealtimeRecord) {
    let _ = writeln!(
        html,
        "<h2>Real-time cell <code>{}</code>: cyclictest, neighbour idle, loaded, crashing</h2>\n\
         <p class=\"statement\">{}</p>",
        escape(&rt.cell),
        escape(&rt.statement)
    );
    if let Some(budget) = rt.latency_budget_us {
        let _ = writeln!(
            html,
            "<p>The cell's <code>latency_budget</code>: {} us.</p>",
            number(budget)
        );
    }
    html.push_str(
        "<table><tr><th>Phase</th><th>Rounds</th><th>Samples</th><th>min</th><th>avg</th>\
         <th>p99</th><th>max</th><th>Beyond 2000 us</th></tr>\n",
    );
    for phase in &rt.phases {
        let _ = write!(
            html,
            "<tr><td>{}<br><small>{}</small></td><td>{}</td>",
            phase.phase.name(),
            escape(&phase.label),
            phase.rounds
        );
        match phase.stats {
            Some(s) => {
                let _ = write!(
                    html,
                    "<td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td>",
                    s.samples, s.min, s.avg, s.p99, s.max
                );
            }
            None => html.push_str("<td colspan=\"5\">no round in this phase</td>"),
        }
        let _ = writeln!(html, "<td>{}</td></tr>", phase.histogram.lost);
    }
    html.push_str("</table>\n");
    const COLORS: [&str; 3] = ["#2ca02c", "#d62728", "#9467bd"];
    let series: Vec<(&str, &str, &Histogram)> = rt
        .phases
        .iter()
        .zip(COLORS)
        .map(|(phase, color)| (phase.phase.name(), color, &phase.histogram))
        .collect();
    let _ = writeln!(
        html,
        "<h3>cyclictest latency by phase</h3>\n{}",
        histogram_svg(&series, "us")
    );
    if !rt.ipc.is_empty() {
        html.push_str(
            "<h3>IPC: the control loop's round trips to the containers cell</h3>\n\
             <p>Each line is one report of <code>bulkhead-ipc control</code> (1000 samples/s \
             out, a setpoint back from the gateway for each): the round trip from publishing a \
             sample to reading its setpoint, which the control loop does once per period.</p>\n\
             <table><tr><th>Phase</th><th>Samples/s</th><th>Setpoints/s</th><th>min us</th>\
             <th>avg us</th><th>max us</th></tr>\n",
        );
        for report in &rt.ipc {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                report.phase.name(),
                report.sent_per_s,
                report.back_per_s,
                report.min_us,
                report.avg_us,
                report.max_us
            );
        }
        html.push_str("</table>\n");
    }
}

/// The IPC lab's section: latencies and throughput against memcpy.
fn ipc_html(html: &mut String, ipc: &IpcRecord, deterministic: bool) {
    let bench = &ipc.bench;
    let unit = if deterministic {
        "ticks = instructions"
    } else {
        "counter ticks"
    };
    let _ = writeln!(
        html,
        "<h2>IPC between two bare-metal cells ({unit})</h2>\n\
         <p>One channel between two cells on their own CPUs (<code>configs/qemu-ipc-lab.yaml</code>), \
         through <code>bulkhead-channel</code>: <em>one way</em> is from just before <code>send</code> \
         to the first instruction of the receiver's doorbell handler, the receiver waiting \
         in WFI with the interrupt masked; <em>notification</em> is the same from the store to the Doorbell register; \
         <em>round trip</em> is <code>send</code> to the echo's arrival. Throughput streams \
         1 MiB in messages of each size; the receiver copies each message out; memcpy copies the \
         same bytes once, RAM to RAM, in the same run.</p>"
    );
    html.push_str(
        "<table><tr><th>Latency</th><th>Samples</th><th>min</th><th>avg</th><th>p99</th>\
         <th>max</th></tr>\n",
    );
    for (name, histogram) in [
        ("one way", &bench.oneway),
        ("notification", &bench.notify),
        ("round trip", &bench.roundtrip),
    ] {
        match histogram.stats() {
            Some(s) => {
                let _ = writeln!(
                    html,
                    "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
                    s.samples, s.min, s.avg, s.p99, s.max
                );
            }
            None => {
                let _ = writeln!(
                    html,
                    "<tr><td>{name}</td><td colspan=\"5\">no samples</td></tr>"
                );
            }
        }
    }
    html.push_str("</table>\n");
    if let Some(ratio) = ipc.round_trip_in_notifications() {
        let _ = writeln!(
            html,
            "<p>A round trip takes {ratio:.2} notifications, Doorbell store to the \
             receiver's handler (target: under 3 interrupt latencies).</p>"
        );
    }
    let hz = bench.counter_hz.unwrap_or(0);
    html.push_str(
        "<table><tr><th>Message</th><th>Messages</th><th>Ticks per message</th>\
         <th>Messages/s</th><th>MB/s</th><th>memcpy MB/s</th><th>Share of memcpy</th></tr>\n",
    );
    for t in &bench.throughput {
        let per_second = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
        let _ = writeln!(
            html,
            "<tr><td>{} B</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.message_size,
            t.messages,
            t.ticks_per_message().map_or("–".to_string(), |v| format!("{v:.0}")),
            per_second(t.messages_per_second(hz)),
            per_second(t.megabytes_per_second(hz)),
            per_second(t.memcpy_megabytes_per_second(hz)),
            t.memcpy_ratio()
                .filter(|r| *r > 0.0)
                .map_or("–".to_string(), |r| format!("{:.0}%", 100.0 / r)),
        );
    }
    html.push_str(
        "</table>\n<p>Target for 4 KiB messages: at least 50% of memcpy. The channel copies \
         each message twice (into the ring, out of it) in aligned 32-bit atomic words, so that a \
         peer writing at the same time can corrupt a message but never cause undefined \
         behaviour; memcpy copies once, in wide accesses.</p>\n",
    );
}

/// The boot-time section.
fn boot_html(html: &mut String, boot: &BootRecord) {
    let times = &boot.times;
    let _ = writeln!(
        html,
        "<h2>Boot times of <code>{}</code></h2>\n<p>From the partitioner's first instruction \
         (counter {}), at {} Hz: when the partitioner enters each cell's first instruction, and \
         when each Linux cell's init reads the counter in user space.</p>\n\
         <table><tr><th>Cell</th><th>Start</th><th>First instruction</th><th>Userspace</th></tr>",
        escape(&boot.config),
        times.partitioner_entry,
        times.counter_hz
    );
    for cell in &times.cells {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&cell.name),
            cell.start,
            times.to_first_instruction(cell),
            times
                .to_userspace(cell)
                .map_or("–".to_string(), |s| s.to_string())
        );
    }
    html.push_str("</table>\n");
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;\
padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;\
padding:.3em .6em;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}\
.provenance td,.provenance th{text-align:left}.statement{background:#fff8e0;border-left:4px solid \
#e0b000;padding:.6em 1em}.verdict{font-weight:bold;padding:.4em 1em}.pass{color:#11702a}\
.fail{color:#b00020}.verdict.pass{background:#e6f6ea}.verdict.fail{background:#fde8ea}\
.verdict.none{background:#eee}svg{font-size:11px}code{font-size:90%;word-break:break-all}";

/// An SVG bar chart of one or more histograms on one axis, with
/// logarithmic counts.
fn histogram_svg(series: &[(&str, &str, &Histogram)], unit: &str) -> String {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 260.0;
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 24.0;
    const BOTTOM: f64 = 44.0;
    const MAX_BINS: u64 = 80;
    let values = series.iter().flat_map(|(_, _, h)| h.counts.keys().copied());
    // The axis starts at 0, as latency plots do, so that bars compare.
    let low = 0;
    let Some(high) = values.max() else {
        return "<p>No samples.</p>".to_string();
    };
    let bin_width = nice_width((high - low + 1).div_ceil(MAX_BINS));
    let bins = (high - low) / bin_width + 1;
    // Bin the samples.
    let binned: Vec<Vec<u64>> = series
        .iter()
        .map(|(_, _, histogram)| {
            let mut counts = vec![0u64; bins as usize];
            for (&value, &count) in &histogram.counts {
                counts[((value - low) / bin_width) as usize] += count;
            }
            counts
        })
        .collect();
    let peak = binned.iter().flatten().copied().max().unwrap_or(1).max(1);
    let decades = (peak as f64).log10().ceil().max(1.0);
    // Axis from 10^-0.3 (so a count of 1 shows) to 10^decades.
    let floor = -0.3;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y_of = |count: f64| TOP + plot_h * (1.0 - (count.log10() - floor) / (decades - floor));
    // Leave one empty slot on either side so single values do not touch
    // the frame.
    let slots = bins as f64 + 2.0;
    let slot_w = plot_w / slots;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\">"
    );
    // Grid and count labels, one per decade.
    for decade in 0..=decades as u32 {
        let y = y_of(10f64.powi(decade as i32));
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            10u64.pow(decade)
        );
    }
    // Bars: the series side by side within a bin.
    let bar_w = slot_w * 0.8 / series.len().max(1) as f64;
    for (index, counts) in binned.iter().enumerate() {
        let (name, color, _) = series[index];
        for (bin, &count) in counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let x = LEFT + slot_w * (bin as f64 + 1.0 + 0.1) + bar_w * index as f64;
            let y = y_of(count as f64);
            let value = low + bin as u64 * bin_width;
            let range = if bin_width == 1 {
                value.to_string()
            } else {
                format!("{value}–{}", value + bin_width - 1)
            };
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" \
                 fill=\"{color}\"><title>{name}: {count} samples at {range}</title></rect>",
                TOP + plot_h - y
            );
        }
    }
    // X labels: at most ~10.
    let step = nice_width(bins.div_ceil(10));
    let mut bin = 0;
    while bin < bins {
        let x = LEFT + slot_w * (bin as f64 + 1.5);
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + plot_h + 14.0,
            low + bin * bin_width
        );
        bin += step;
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>\
         <line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"#444\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">latency ({})</text>\
         <text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">samples (log)</text>",
        WIDTH - RIGHT,
        TOP + plot_h,
        TOP + plot_h,
        TOP + plot_h,
        LEFT + plot_w / 2.0,
        HEIGHT - 8.0,
        escape(unit),
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
    );
    // Legend.
    for (index, (name, color, histogram)) in series.iter().enumerate() {
        let x = LEFT + 8.0 + 150.0 * index as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"6\" width=\"10\" height=\"10\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"15\">{} ({} samples)</text>",
            x + 14.0,
            escape(name),
            histogram.samples()
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The smallest of 1, 2, 5, 10, 20, 50, … that is at least `width`, so
/// that bins and axis labels fall on round numbers.
fn nice_width(width: u64) -> u64 {
    let mut decade = 1u64;
    loop {
        for step in [1, 2, 5] {
            if step * decade >= width {
                return step * decade;
            }
        }
        decade = decade.saturating_mul(10);
    }
}

/// A bound or ratio without needless decimals.
fn number(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Escapes text for HTML, in element content and in quoted attributes
/// alike (`&`, `<`, `>`, `"`, `'`).
pub fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

/// `YYYY-MM-DD hh:mm:ss UTC` of a Unix time.
fn utc_text(seconds: u64) -> String {
    let Some(time) = i64::try_from(seconds)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
    else {
        return format!("{seconds} s after 1970 (UTC)");
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_text(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }

    #[test]
    fn bins_are_round() {
        assert_eq!(nice_width(0), 1);
        assert_eq!(nice_width(1), 1);
        assert_eq!(nice_width(3), 5);
        assert_eq!(nice_width(5), 5);
        assert_eq!(nice_width(3_900), 5_000);
        assert_eq!(nice_width(5_001), 10_000);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
        );
    }

    #[test]
    fn svg_of_a_single_value_and_of_a_wide_spread() {
        let narrow = Histogram {
            counts: [(4, 200)].into_iter().collect(),
            lost: 0,
        };
        let svg = histogram_svg(&[("native", "#000", &narrow)], "ticks");
        assert_eq!(
            svg.matches("<rect").count(),
            2,
            "one bar and one legend box"
        );
        assert!(svg.contains("native: 200 samples at 4"));
        let wide = Histogram {
            counts: (0..1000).map(|v| (v * 7, 1 + v % 3)).collect(),
            lost: 0,
        };
        let svg = histogram_svg(&[("bulkhead", "#111", &wide)], "ticks");
        assert!(
            svg.matches("<rect").count() <= 81,
            "binned to at most 80 bars"
        );
        assert!(svg.contains(">1000<") || svg.contains(">100<"));
    }
}
