//! The bounds of a target's latency budget, checked against a report's
//! runs: the probe's, a cell's own `latency_budget`, and the real-time
//! lab's.

use super::records::{IsolatedCoreRecord, RunRecord};
use crate::latency::Stats;
use crate::rt_lab::{ExitCounts, Phase, RtLabOutput, HISTOGRAM_END_US};
use crate::target::description::LatencyBudget;
use serde::{Deserialize, Serialize};

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
    pub(super) fn of(checks: Vec<BudgetCheck>) -> Self {
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

/// The real-time cell's cores over the whole lab run: no exit the
/// partitioner or another cell imposed on them (an interrupt through EL2,
/// the kick, EL2's timer: [`ExitCounts::imposed`]), while the neighbour
/// idled, was loaded, crashed and restarted. Its own requests (console
/// writes, trapped `WFI`, doorbells, IPIs) are reported, not bounded.
/// Without a periodic status in the log there is nothing to check, which
/// fails.
pub fn core_exit_checks(core_exits: &[ExitCounts]) -> Vec<BudgetCheck> {
    if core_exits.is_empty() {
        return vec![BudgetCheck {
            measurement: "rt_core_exits".to_string(),
            bound: "imposed_exits".to_string(),
            limit: 0.0,
            measured: None,
            passed: false,
            message: "no exit counts in the partitioner's log".to_string(),
        }];
    }
    core_exits
        .iter()
        .map(|c| {
            let imposed = c.imposed();
            BudgetCheck {
                measurement: format!("rt_core_exits_cpu{}", c.cpu),
                bound: "imposed_exits".to_string(),
                limit: 0.0,
                measured: Some(imposed as f64),
                passed: imposed == 0,
                message: format!(
                    "{imposed} imposed (irq {}, other {}); its own: sgi {}, doorbell {}, mmio {}, call {}, wfi {}, register {}",
                    c.irq, c.other, c.sgi, c.doorbell, c.mmio, c.call, c.wfi, c.register
                ),
            }
        })
        .collect()
}

/// The isolated-core lab (`configs/qemu-rt-isolated.yaml`): from the
/// first periodic status after the real-time cell's isolated core `cpu`
/// began measuring and the neighbour began its scenario, to the last one,
/// after the neighbour's restart, the core does not exit at all (limit 0):
/// no interrupt through EL2, no kick, no timer, no device access, no
/// wait, no call, no register, and no IPI of its own kernel's (each a
/// trapped `ICC_SGI1R_EL1` write). What it exited for before (its
/// kernel's bring-up) is reported. Without both statuses there is nothing
/// to check, which fails.
pub fn isolated_core_checks(lab: &IsolatedCoreRecord) -> Vec<BudgetCheck> {
    let cpu = lab.cpu;
    let measurement = format!("isolated_core_exits_cpu{cpu}");
    let bound = "exits".to_string();
    let (Some(window), Some(during)) = (lab.window(), lab.during) else {
        return vec![BudgetCheck {
            measurement,
            bound,
            limit: 0.0,
            measured: None,
            passed: false,
            message: format!(
                "no exit counts of cpu {cpu} from the measuring window in the partitioner's log"
            ),
        }];
    };
    let exits = during.total();
    vec![BudgetCheck {
        measurement,
        bound,
        limit: 0.0,
        measured: Some(exits as f64),
        passed: exits == 0,
        message: window,
    }]
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
pub(super) fn ratio(native: Stats, bulkhead: Stats) -> (Option<f64>, Option<f64>) {
    let avg = (native.avg > 0.0).then(|| bulkhead.avg / native.avg);
    let p99 = (native.p99 > 0).then(|| bulkhead.p99 as f64 / native.p99 as f64);
    (avg, p99)
}
