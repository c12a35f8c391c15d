//! The latency report: figures of a native and a Bulkhead run of the
//! probe, their comparison, the budget check, and where they come from, as
//! `report.json` (for machines and trend tracking) and a self-contained
//! `report.html` (inline SVG histograms with log-scale counts, one table,
//! no external resources).
//!
//! | Module | What |
//! |:-------|:-----|
//! | [`records`] | what one run of each scenario leaves: the report's data |
//! | [`budget`] | the bounds a target's budget sets, checked |
//! | [`provenance`] | where the figures come from (tools, versions, packages) |
//! | `html`, `svg` | the page and its histograms |

mod budget;
mod html;
mod provenance;
mod records;
mod svg;

pub use budget::{
    cell_budget_checks, check_budget, core_exit_checks, isolated_core_checks, realtime_checks,
    BudgetCheck, BudgetOutcome,
};
pub use html::escape;
pub use provenance::{Provenance, TargetInfo, PACKAGES_FILE};
pub use records::{
    BootRecord, Comparison, IpcRecord, IsolatedCoreRecord, MeasurementRecord, PhaseRecord,
    RealtimeRecord, RunRecord, VirtualizedRecord, VirtualizedRow, REALTIME_STATEMENT,
};

use crate::latency::{label, Stats, MEASUREMENTS};
use crate::rt_lab::{RtLabOutput, HISTOGRAM_END_US};
use crate::target::description::LatencyBudget;
use budget::ratio;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
    /// The probe with virtualized interrupts, if it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualized: Option<VirtualizedRecord>,
    /// The isolated-core lab, if it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolated_core: Option<IsolatedCoreRecord>,
}

/// Bao's trap-and-inject in this lab, in ticks (the timer from busy, an
/// SGI to self): the figures virtualized delivery is set against.
pub const BAO_TICKS: &[(&str, u64)] = &[("timer_busy", 203), ("sgi", 780)];

/// What virtualized delivery aims at in this lab, in ticks: a timer
/// interrupt in half of Bao's path, an SGI within 200.
pub const VIRTUALIZED_TARGET_TICKS: &[(&str, u64)] =
    &[("timer_busy", 100), ("timer_wfi", 100), ("sgi", 200)];

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
            virtualized: None,
            isolated_core: None,
        }
    }

    /// Adds the probe's run in a cell whose interrupts are virtualized
    /// (lab config `config`), set against this report's Bulkhead run
    /// (direct delivery), Bao's figures and the targets. No bound is
    /// checked on it.
    pub fn add_virtualized(&mut self, config: &str, run: &RunRecord) {
        let look_up = |table: &[(&str, u64)], measurement: &str| {
            table
                .iter()
                .find(|(name, _)| *name == measurement)
                .map(|&(_, ticks)| ticks)
        };
        let direct = self.run("bulkhead").cloned();
        let rows = MEASUREMENTS
            .iter()
            .filter(|m| run.measurements.contains_key(**m))
            .map(|&measurement| VirtualizedRow {
                measurement: measurement.to_string(),
                label: label(measurement).to_string(),
                direct: direct.as_ref().and_then(|d| d.stats(measurement)),
                virtualized: run.stats(measurement),
                bao_ticks: look_up(BAO_TICKS, measurement),
                target_ticks: look_up(VIRTUALIZED_TARGET_TICKS, measurement),
            })
            .collect();
        self.virtualized = Some(VirtualizedRecord {
            config: config.to_string(),
            log_dir: run.log_dir.clone().unwrap_or_default(),
            rows,
        });
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
            self.add_checks(core_exit_checks(&record.core_exits));
        }
        self.realtime = Some(record);
    }

    /// Adds the isolated-core lab and its bound (see
    /// [`isolated_core_checks`]; exit counts are exact on any target, so it
    /// is checked on every one).
    pub fn add_isolated_core(&mut self, record: IsolatedCoreRecord) {
        self.add_checks(isolated_core_checks(&record));
        self.isolated_core = Some(record);
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
        if let Some(iso) = &self.isolated_core {
            let _ = writeln!(text, "{}", iso.summary());
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
        if let Some(v) = &self.virtualized {
            let _ = writeln!(
                text,
                "{:<11} {:>24} {:>24} {:>6} {:>7}",
                "", "direct min/avg/p99/max", "virtualized min/avg/p99/max", "Bao", "target"
            );
            let ticks = |t: Option<u64>| t.map_or("-".to_string(), |t| t.to_string());
            for row in &v.rows {
                let _ = writeln!(
                    text,
                    "{:<11} {:>24} {:>24} {:>6} {:>7}",
                    row.measurement,
                    cell(row.direct),
                    cell(row.virtualized),
                    ticks(row.bao_ticks),
                    ticks(row.target_ticks)
                );
            }
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
}
