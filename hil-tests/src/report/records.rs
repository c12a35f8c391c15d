//! What one run of each scenario leaves: the records a report holds.

use crate::boot_times::BootTimes;
use crate::ipc_bench::{IpcBench, IpcBenchRun};
use crate::latency::{Histogram, ProbeOutput, ProbeRun, Stats};
use crate::rt_lab::{ExitCounts, IpcReport, Phase, RtLabOutput, RtLabRun};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

    pub(super) fn stats(&self, measurement: &str) -> Option<Stats> {
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
    /// The real-time cell's cores' exits over the whole run, by cause
    /// (the last periodic status; empty when none was logged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub core_exits: Vec<ExitCounts>,
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
            core_exits: Vec::new(),
        }
    }

    /// With the exits `output` counted on `cpus`, the real-time cell's.
    pub fn with_core_exits(mut self, output: &RtLabOutput, cpus: &[usize]) -> Self {
        self.core_exits = output
            .exits
            .iter()
            .filter(|c| cpus.contains(&c.cpu))
            .copied()
            .collect();
        self
    }
}

/// The isolated-core lab (`configs/qemu-rt-isolated.yaml`) in a report:
/// the real-time cell's isolated core, counted from the start of the
/// measuring window to after the neighbour's restart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IsolatedCoreRecord {
    /// The board CPU of the isolated core.
    pub cpu: usize,
    /// The neighbour's phase when the window began.
    pub from_phase: Option<Phase>,
    /// Its exits before the window, since boot (its kernel's bring-up).
    pub before: Option<ExitCounts>,
    /// Its exits in the window, by cause.
    pub during: Option<ExitCounts>,
    /// The last figures cyclictest reported on it (`T: 0 ... Max: N`).
    pub cyclictest: Option<String>,
    /// The QEMU command line.
    pub command: String,
    /// Where the logs are.
    pub log_dir: Option<String>,
}

impl IsolatedCoreRecord {
    /// The record of a run of the isolated-core lab, whose isolated core is
    /// board CPU `cpu`.
    pub fn of(run: &RtLabRun, cpu: usize) -> Self {
        let mut record = Self::new(&run.output, cpu, &run.command);
        record.cyclictest = run
            .lines
            .iter()
            .rev()
            .find_map(|(_, text)| text.strip_prefix(crate::rt_lab::RUNNING))
            .map(str::to_string);
        record.log_dir = Some(run.log_dir.display().to_string());
        record
    }

    /// The record of parsed lab output (a recorded run), booted with
    /// `command`, whose isolated core is board CPU `cpu`.
    pub fn new(output: &RtLabOutput, cpu: usize, command: &str) -> Self {
        IsolatedCoreRecord {
            cpu,
            from_phase: output.start_phase,
            before: output.exits_at_start.iter().find(|c| c.cpu == cpu).copied(),
            during: output.exits_while_measuring(cpu),
            cyclictest: None,
            command: command.to_string(),
            log_dir: None,
        }
    }

    /// What the core exited for in the window and before it; `None`
    /// without both counts.
    pub fn window(&self) -> Option<String> {
        let (before, during) = self.before.zip(self.during)?;
        Some(format!(
            "{} exits from the neighbour's {} phase to after its restart ({}); before, since boot: {}",
            during.total(),
            self.from_phase.map_or("?", Phase::name),
            during.causes(),
            before.causes()
        ))
    }

    /// One line for terminals and reports.
    pub fn summary(&self) -> String {
        format!(
            "isolated core (cpu {}): {}",
            self.cpu,
            self.window()
                .unwrap_or_else(|| "no exit counts from the measuring window".to_string())
        )
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

/// The probe in a cell whose interrupts are virtualized, against the
/// same probe taking them directly (`configs/qemu-latency-lab-virtualized.yaml`
/// against `configs/qemu-latency-lab.yaml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VirtualizedRecord {
    /// The lab config of the virtualized run.
    pub config: String,
    /// Where its logs are.
    pub log_dir: String,
    /// One row per measurement.
    pub rows: Vec<VirtualizedRow>,
}

/// One measurement, direct and virtualized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VirtualizedRow {
    /// The measurement's name.
    pub measurement: String,
    /// What it measures.
    pub label: String,
    /// With direct delivery.
    pub direct: Option<Stats>,
    /// With virtualized delivery.
    pub virtualized: Option<Stats>,
    /// Bao's trap-and-inject in this lab (ticks), where known.
    pub bao_ticks: Option<u64>,
    /// What virtualized delivery aims at (ticks), where set.
    pub target_ticks: Option<u64>,
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
