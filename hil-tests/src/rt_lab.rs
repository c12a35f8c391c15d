//! The real-time lab (`configs/qemu-rt-lab.yaml`): cyclictest in the
//! PREEMPT_RT cell while its neighbour, the containers cell, is idle, then
//! loaded, then crashes and restarts. Both consoles arrive on one stream,
//! in order, so each cyclictest round can be put in the phase the
//! neighbour was in for the whole of it.
//!
//! The lines this module reads (the init scripts' `say` prefix first):
//!
//! ```text
//! control:    bulkhead-guest: cyclictest round 3: start
//! containers: bulkhead-guest: lab: idle
//! control:    bulkhead-guest: cyclictest round 3: hist 14:1541 15:451 over:0
//! containers: bulkhead-guest: load: started
//! containers: bulkhead-guest: crash: echo c > /proc/sysrq-trigger
//! containers: bulkhead-guest: after crash: back up (boot 2)
//! control:    bulkhead-ipc: control: 1000 samples/s sent, ... round trip min 83 us, avg 1000 us, max 5064 us, ...
//! ```
//!
//! A round's histogram counts samples per microsecond of latency
//! (`over:` counts those past the histogram's end, 2000 us).

use crate::latency::{Histogram, Stats};
use crate::target::description::TargetDescription;
use crate::{HarnessError, Pattern, SessionOptions};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The real-time cell of the lab config.
pub const RT_CELL: &str = "control";
/// The neighbour.
pub const NEIGHBOUR: &str = "containers";
/// The line after which the scenario has seen everything: the neighbour
/// is back after its crash.
pub const BACK_UP: &str = "bulkhead-guest: after crash: back up (boot 2)";

/// What the neighbour was doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Booting, before its scenario began.
    Booting,
    /// Its scenario's idle phase.
    Idle,
    /// CPU, memory and disk load plus an IPC flood.
    Loaded,
    /// From its crash until it is back up (the round overlaps it).
    Crash,
    /// After its restart.
    Restarted,
    /// The neighbour changed phase during the round (not counted).
    Mixed,
}

impl Phase {
    /// The phases a report shows and bounds check, in order.
    pub const MEASURED: [Phase; 3] = [Phase::Idle, Phase::Loaded, Phase::Crash];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Booting => "booting",
            Phase::Idle => "idle",
            Phase::Loaded => "loaded",
            Phase::Crash => "crash",
            Phase::Restarted => "restarted",
            Phase::Mixed => "mixed",
        }
    }

    /// What the neighbour does in this phase, for reports.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Idle => "containers cell idle",
            Phase::Loaded => "containers cell under CPU, memory, disk load and an IPC flood",
            Phase::Crash => "containers cell crashing (kernel panic) and restarting",
            Phase::Booting => "containers cell booting",
            Phase::Restarted => "containers cell back after its restart",
            Phase::Mixed => "rounds across a phase change",
        }
    }
}

/// One cyclictest round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// Its number.
    pub number: u32,
    /// The neighbour's phase throughout it.
    pub phase: Phase,
    /// Samples per microsecond; `lost` holds the overflows (past 2000 us).
    pub histogram: Histogram,
}

/// One report of the control loop (`bulkhead-ipc control`): the round
/// trip of a sample to the containers cell's gateway and back, in us.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct IpcReport {
    /// The neighbour's phase when it was printed.
    pub phase: Phase,
    /// Samples per second sent.
    pub sent_per_s: u64,
    /// Setpoints per second back.
    pub back_per_s: u64,
    /// Smallest round trip, us.
    pub min_us: u64,
    /// Mean round trip, us.
    pub avg_us: u64,
    /// Largest round trip, us.
    pub max_us: u64,
}

/// One core's exits to the partitioner since boot, per cause, as the
/// housekeeping core's periodic status reports them (`exits on cpu 0:
/// irq 0, sgi 0, doorbell 65, mmio 4213, call 7, wfi 1920, register 9,
/// other 0`; `runtime/exits.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitCounts {
    /// The board CPU.
    pub cpu: usize,
    /// Physical interrupts that went to EL2 (a virtualized cell's).
    pub irq: u64,
    /// SGIs the cell sent (a trapped `ICC_SGI1R_EL1` write).
    pub sgi: u64,
    /// Channel doorbells the cell rang.
    pub doorbell: u64,
    /// Accesses to emulated devices (console, GIC, PCI, watchdog).
    pub mmio: u64,
    /// PSCI and other calls.
    pub call: u64,
    /// Trapped `WFI`s.
    pub wfi: u64,
    /// Trapped system registers.
    pub register: u64,
    /// Anything else: faults, the partitioner's kick or timer FIQ.
    pub other: u64,
}

impl ExitCounts {
    /// Parses a status line (`... exits on cpu N: irq A, sgi B, ...`).
    pub fn parse(text: &str) -> Option<ExitCounts> {
        let rest = text.split("exits on cpu ").nth(1)?;
        let (cpu, causes) = rest.split_once(": ")?;
        let mut counts = ExitCounts {
            cpu: cpu.trim().parse().ok()?,
            ..ExitCounts::default()
        };
        for field in causes.split(", ") {
            let (name, value) = field.trim().split_once(' ')?;
            let value: u64 = value.parse().ok()?;
            match name {
                "irq" => counts.irq = value,
                "sgi" => counts.sgi = value,
                "doorbell" => counts.doorbell = value,
                "mmio" => counts.mmio = value,
                "call" => counts.call = value,
                "wfi" => counts.wfi = value,
                "register" => counts.register = value,
                "other" => counts.other = value,
                _ => return None,
            }
        }
        Some(counts)
    }

    /// Exits the partitioner or another cell caused on this core, not the
    /// core's own cell: an interrupt through EL2, or the partitioner's
    /// kick or timer (`other`, which also counts faults).
    pub fn imposed(&self) -> u64 {
        self.irq + self.other
    }

    /// Every exit, whatever its cause.
    pub fn total(&self) -> u64 {
        self.irq
            + self.sgi
            + self.doorbell
            + self.mmio
            + self.call
            + self.wfi
            + self.register
            + self.other
    }

    /// The exits counted after `earlier`, an earlier status of the same
    /// core (a count that went down, which a counter cannot, gives 0).
    pub fn since(&self, earlier: &ExitCounts) -> ExitCounts {
        ExitCounts {
            cpu: self.cpu,
            irq: self.irq.saturating_sub(earlier.irq),
            sgi: self.sgi.saturating_sub(earlier.sgi),
            doorbell: self.doorbell.saturating_sub(earlier.doorbell),
            mmio: self.mmio.saturating_sub(earlier.mmio),
            call: self.call.saturating_sub(earlier.call),
            wfi: self.wfi.saturating_sub(earlier.wfi),
            register: self.register.saturating_sub(earlier.register),
            other: self.other.saturating_sub(earlier.other),
        }
    }

    /// The causes, for messages (`sgi 2, mmio 30, ...`; `none` without
    /// any).
    pub fn causes(&self) -> String {
        let causes: Vec<String> = [
            ("irq", self.irq),
            ("sgi", self.sgi),
            ("doorbell", self.doorbell),
            ("mmio", self.mmio),
            ("call", self.call),
            ("wfi", self.wfi),
            ("register", self.register),
            ("other", self.other),
        ]
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
        if causes.is_empty() {
            "none".to_string()
        } else {
            causes.join(", ")
        }
    }
}

/// What the lab said.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RtLabOutput {
    /// Every complete round, in order.
    pub rounds: Vec<Round>,
    /// The control loop's reports, in order.
    pub ipc: Vec<IpcReport>,
    /// Each core's exits at the last periodic status, by CPU.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exits: Vec<ExitCounts>,
    /// Each core's exits at its first periodic status once the real-time
    /// cell measures and the neighbour's scenario has begun: the start of
    /// the window in which an isolated core must not exit at all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exits_at_start: Vec<ExitCounts>,
    /// The neighbour's phase when that window began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_phase: Option<Phase>,
}

/// How the real-time cell announces its measurement, in both modes
/// (`cyclictest: rounds of 2 s, ...`, `cyclictest: one run, ...`).
const MEASURING: &str = "bulkhead-guest: cyclictest: ";

/// The announcement of the isolated-core lab's one never-ending run
/// (`bulkhead.cyclictest=isolated`).
pub const ONE_RUN: &str = "bulkhead-guest: cyclictest: one run";

/// What that run reports every 2 s, before cyclictest's own figures
/// (`T: 0 (128) P:90 I:1000 C: 51421 Min: 36 Act: 157 Avg: 307 Max:
/// 19494`, in us).
pub const RUNNING: &str = "bulkhead-guest: cyclictest running: ";

/// A line of the isolated core's IPI trace, which that run prints when
/// the core raised an IPI after its bring-up: the kernel's trace line of
/// each `ipi_raise` event and of the stack that raised it.
pub const IPI_TRACE: &str = "bulkhead-guest: ipi trace: ";

/// A lab line that does not make sense.
#[derive(Debug, thiserror::Error)]
#[error("real-time lab line {line}: {message}: `{text}`")]
pub struct RtLabParseError {
    /// 1-based position among the lines given.
    pub line: usize,
    /// The line.
    pub text: String,
    /// What is wrong.
    pub message: String,
}

/// The numbers in `text`, in order.
fn numbers(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|word| !word.is_empty())
        .filter_map(|word| word.parse().ok())
        .collect()
}

impl RtLabOutput {
    /// Parses the lab's lines, each `(stream, text)`, in the order they
    /// arrived. Lines of other streams, and other lines, are ignored.
    pub fn parse<S: AsRef<str>, T: AsRef<str>>(
        lines: &[(S, T)],
    ) -> Result<RtLabOutput, RtLabParseError> {
        let mut output = RtLabOutput::default();
        let mut phase = Phase::Booting;
        // The round under way: its number and the phases seen during it.
        let mut open: Option<(u32, Vec<Phase>)> = None;
        let mut measuring = false;
        for (index, (stream, text)) in lines.iter().enumerate() {
            let (stream, text) = (stream.as_ref(), text.as_ref().trim());
            if stream == crate::PARTITIONER_STREAM {
                if let Some(counts) = ExitCounts::parse(text) {
                    let started = measuring && phase != Phase::Booting;
                    if started && output.exits_at_start.iter().all(|c| c.cpu != counts.cpu) {
                        output.exits_at_start.push(counts);
                        output.start_phase.get_or_insert(phase);
                    }
                    output.exits.retain(|c| c.cpu != counts.cpu);
                    output.exits.push(counts);
                }
                continue;
            }
            let error = |message: &str| RtLabParseError {
                line: index + 1,
                text: text.to_string(),
                message: message.to_string(),
            };
            if stream == NEIGHBOUR {
                let next = match text.strip_prefix("bulkhead-guest: ") {
                    Some("lab: idle") => Some(Phase::Idle),
                    Some("load: started") => Some(Phase::Loaded),
                    Some(line) if line.starts_with("crash: ") => Some(Phase::Crash),
                    Some(line) if text == BACK_UP || line.starts_with("after crash") => {
                        Some(Phase::Restarted)
                    }
                    _ => None,
                };
                if let Some(next) = next {
                    phase = next;
                    if let Some((_, seen)) = open.as_mut() {
                        seen.push(next);
                    }
                }
                continue;
            }
            if stream != RT_CELL {
                continue;
            }
            measuring |= text.starts_with(MEASURING);
            if let Some(rest) = text.strip_prefix("bulkhead-ipc: control: ") {
                // "1000 samples/s sent, 1000 setpoints/s back, round trip
                // min 83 us, avg 1000 us, max 5064 us, 0 dropped/s, ..."
                if !rest.contains("round trip min") {
                    continue;
                }
                let [sent, back, min, avg, max, ..] = numbers(rest)[..] else {
                    return Err(error("expected rates and a round trip"));
                };
                output.ipc.push(IpcReport {
                    phase,
                    sent_per_s: sent,
                    back_per_s: back,
                    min_us: min,
                    avg_us: avg,
                    max_us: max,
                });
                continue;
            }
            let Some(rest) = text.strip_prefix("bulkhead-guest: cyclictest round ") else {
                continue;
            };
            let Some((number, what)) = rest.split_once(": ") else {
                continue;
            };
            let number: u32 = number.parse().map_err(|_| error("bad round number"))?;
            if what == "start" {
                open = Some((number, vec![phase]));
                continue;
            }
            let Some(words) = what.strip_prefix("hist") else {
                continue;
            };
            let Some((started, seen)) = open.take() else {
                // A round that began before the log did.
                continue;
            };
            if started != number {
                return Err(error(&format!(
                    "round {started} started, round {number} ended"
                )));
            }
            let mut histogram = Histogram::default();
            histogram
                .add_words(words.split_whitespace(), "over", "us")
                .map_err(|message| error(&message))?;
            let phase = if seen.contains(&Phase::Crash) {
                Phase::Crash
            } else if seen.iter().all(|&p| p == seen[0]) {
                seen[0]
            } else {
                Phase::Mixed
            };
            output.rounds.push(Round {
                number,
                phase,
                histogram,
            });
        }
        Ok(output)
    }

    /// All rounds of `phase`, merged.
    pub fn histogram(&self, phase: Phase) -> Histogram {
        let mut merged = Histogram::default();
        for round in self.rounds.iter().filter(|r| r.phase == phase) {
            for (&value, &count) in &round.histogram.counts {
                *merged.counts.entry(value).or_default() += count;
            }
            merged.lost += round.histogram.lost;
        }
        merged
    }

    /// The number of rounds of `phase`.
    pub fn rounds_in(&self, phase: Phase) -> usize {
        self.rounds.iter().filter(|r| r.phase == phase).count()
    }

    /// The summary of `phase` (`None` without samples). Overflows count
    /// as samples past the histogram: `max` is then at least its end.
    pub fn stats(&self, phase: Phase) -> Option<Stats> {
        self.histogram(phase).stats()
    }

    /// `cpu`'s exits from the start of the measuring window
    /// ([`RtLabOutput::exits_at_start`]) to the last status; `None` when
    /// either status is missing.
    pub fn exits_while_measuring(&self, cpu: usize) -> Option<ExitCounts> {
        let start = self.exits_at_start.iter().find(|c| c.cpu == cpu)?;
        let end = self.exits.iter().find(|c| c.cpu == cpu)?;
        Some(end.since(start))
    }

    /// The worst case of `phase` in us: the largest sample, or the
    /// histogram's end ([`HISTOGRAM_END_US`]) when a sample went past it.
    pub fn worst_us(&self, phase: Phase) -> Option<u64> {
        let histogram = self.histogram(phase);
        if histogram.lost > 0 {
            return Some(HISTOGRAM_END_US);
        }
        histogram.stats().map(|s| s.max)
    }
}

/// The file in a run's log directory with both consoles in arrival order,
/// one `stream | text` line each ([`parse_timeline`] reads it back).
pub const TIMELINE: &str = "timeline.txt";

/// Reads a [`TIMELINE`] file's text back into `(stream, text)` lines.
pub fn parse_timeline(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once(" | "))
        .map(|(stream, text)| (stream.to_string(), text.to_string()))
        .collect()
}

/// Where the RT cell's histograms end (cyclictest `-h 2000`).
pub const HISTOGRAM_END_US: u64 = 2000;

/// The lab's images, as `cargo xtask build --config
/// hil-tests/configs/qemu-rt-lab.yaml` makes them.
#[derive(Clone, Debug)]
pub struct RtLabImages {
    /// The build directory (`target/bulkhead/qemu-rt-lab`): boot image,
    /// `qemu.args`, config copy.
    pub build_dir: PathBuf,
    /// The partitioner ELF, to decode its log.
    pub partitioner_elf: Option<PathBuf>,
}

/// One run of the lab.
#[derive(Clone, Debug)]
pub struct RtLabRun {
    /// The QEMU command line.
    pub command: String,
    /// Every line of the RT cell and the neighbour, in arrival order.
    pub lines: Vec<(String, String)>,
    /// Parsed.
    pub output: RtLabOutput,
    /// Where the logs are.
    pub log_dir: PathBuf,
    /// Wall-clock time of the run.
    pub took: Duration,
}

/// Why the lab failed.
#[derive(Debug, thiserror::Error)]
pub enum RtLabError {
    /// The target did not run or did not say what it should.
    #[error("real-time lab: {0}")]
    Harness(#[from] HarnessError),
    /// Its output did not parse.
    #[error("{source} (logs in {})", log_dir.display())]
    Parse {
        /// Why.
        source: RtLabParseError,
        /// Where the logs are.
        log_dir: PathBuf,
    },
    /// The target cannot run this lab.
    #[error("real-time lab: {0}")]
    Unsupported(String),
}

/// Boots the lab on `target` ([`TargetDescription::start_build`]: QEMU
/// with its CPU, counter frequency and icount setting and the CPUs the lab
/// config uses, or a board through U-Boot), runs until the neighbour is
/// back from its crash and one more round has ended, and parses what both
/// cells said. On a board, `images.build_dir` holds a build of a config
/// for that board with the same two cells and scenarios.
pub fn run_rt_lab(
    target: &TargetDescription,
    images: &RtLabImages,
    log_root: &Path,
    run_name: &str,
    deadline: Duration,
) -> Result<RtLabRun, RtLabError> {
    let cells = crate::cell_names(&images.build_dir.join("config.yaml"))?;
    let lines: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = Arc::clone(&lines);
    let mut options = SessionOptions::new(run_name)
        .log_root(log_root)
        .cells(cells)
        .deadline(deadline + Duration::from_secs(10))
        .on_line(move |stream, text| {
            let status = stream == crate::PARTITIONER_STREAM && text.contains("exits on cpu ");
            if stream == RT_CELL || stream == NEIGHBOUR || status {
                sink.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push((stream.to_string(), text.to_string()));
            }
        });
    if let Some(elf) = &images.partitioner_elf {
        options = options.partitioner_elf(elf);
    }
    let started = Instant::now();
    let (mut session, command) = target.start_build(&images.build_dir, options)?;
    session.expect(NEIGHBOUR, BACK_UP, deadline)?;
    // The exits counted after the restart, in the next periodic status.
    session.skip_to_end(crate::PARTITIONER_STREAM);
    let left = deadline.saturating_sub(started.elapsed());
    session.expect(crate::PARTITIONER_STREAM, "exits on cpu ", left)?;
    // In rounds, one whole round after the restart: its start, then its
    // histogram.
    let one_run = session
        .lines(RT_CELL)
        .iter()
        .any(|l| l.starts_with(ONE_RUN));
    if !one_run {
        session.skip_to_end(RT_CELL);
        let left = deadline.saturating_sub(started.elapsed());
        session.expect_all(
            [
                (
                    RT_CELL,
                    Pattern::regex(r"^bulkhead-guest: cyclictest round \d+: start$"),
                ),
                (
                    RT_CELL,
                    Pattern::regex(r"^bulkhead-guest: cyclictest round \d+: hist"),
                ),
            ],
            left,
        )?;
    }
    let took = started.elapsed();
    let log_dir = session.run_dir().to_path_buf();
    drop(session);
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(|p| p.into_inner()));
    // Both consoles in arrival order, as the parser saw them (the per-cell
    // logs lose the interleaving).
    let timeline: String = lines
        .iter()
        .map(|(stream, text)| format!("{stream} | {text}\n"))
        .collect();
    std::fs::write(log_dir.join(TIMELINE), timeline).map_err(|source| HarnessError::Io {
        context: format!("cannot write {}", log_dir.join(TIMELINE).display()),
        source,
    })?;
    let output = RtLabOutput::parse(&lines).map_err(|source| RtLabError::Parse {
        source,
        log_dir: log_dir.clone(),
    })?;
    Ok(RtLabRun {
        command,
        lines,
        output,
        log_dir,
        took,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(String, String)> {
        let trimmed: Vec<&str> = text.lines().map(str::trim).collect();
        parse_timeline(&trimmed.join("\n"))
    }

    const RECORDED: &str = "
        control | bulkhead-guest: cyclictest round 1: start
        containers | bulkhead-guest: lab: idle
        control | bulkhead-guest: cyclictest round 1: hist 11:286 14:623 over:0
        control | bulkhead-guest: cyclictest round 2: start
        control | bulkhead-ipc: control: 1000 samples/s sent, 1000 setpoints/s back, round trip min 83 us, avg 1000 us, max 5064 us, 0 dropped/s, peer up
        control | bulkhead-guest: cyclictest round 2: hist 14:1544 15:446 16:8 17:2 over:0
        control | bulkhead-guest: cyclictest round 3: start
        control | bulkhead-guest: cyclictest round 3: hist 14:1566 15:422 216:1 over:0
        control | bulkhead-guest: cyclictest round 4: start
        containers | bulkhead-guest: load: started
        control | bulkhead-guest: cyclictest round 4: hist 14:1541 over:0
        control | bulkhead-guest: cyclictest round 5: start
        control | bulkhead-ipc: control: 394 samples/s sent, 394 setpoints/s back, round trip min 118862 us, avg 164957 us, max 259039 us, 605 dropped/s, peer up, 20666 filler/s
        control | bulkhead-guest: cyclictest round 5: hist 11:492 1437:18 over:4
        control | bulkhead-guest: cyclictest round 6: start
        containers | bulkhead-guest: crash: echo c > /proc/sysrq-trigger
        control | bulkhead-guest: cyclictest round 6: hist 20:1990 over:0
        control | bulkhead-guest: cyclictest round 7: start
        control | bulkhead-guest: cyclictest round 7: hist 21:1990 over:0
        partitioner | [ 10.1 INFO ] exits on cpu 0: irq 0, sgi 0, doorbell 12, mmio 400, call 7, wfi 900, register 9, other 0
        partitioner | [ 10.1 INFO ] exits on cpu 1: irq 0, sgi 0, doorbell 8, mmio 600, call 7, wfi 1000, register 0, other 5
        containers | bulkhead-guest: after crash: back up (boot 2)
        control | bulkhead-guest: cyclictest round 8: start
        partitioner | [ 20.1 INFO ] exits on cpu 0: irq 0, sgi 2, doorbell 30, mmio 800, call 7, wfi 1800, register 9, other 0
        control | bulkhead-guest: cyclictest round 8: hist 14:2000 over:0
    ";

    #[test]
    fn rounds_go_to_the_phase_they_lie_in() {
        let output = RtLabOutput::parse(&lines(RECORDED)).unwrap();
        let phases: Vec<(u32, Phase)> = output.rounds.iter().map(|r| (r.number, r.phase)).collect();
        assert_eq!(
            phases,
            [
                (1, Phase::Mixed),
                (2, Phase::Idle),
                (3, Phase::Idle),
                (4, Phase::Mixed),
                (5, Phase::Loaded),
                (6, Phase::Crash),
                (7, Phase::Crash),
                (8, Phase::Restarted),
            ]
        );
        let idle = output.stats(Phase::Idle).unwrap();
        assert_eq!((idle.samples, idle.min, idle.max), (3989, 14, 216));
        assert_eq!(output.worst_us(Phase::Idle), Some(216));
        // Overflows make the worst case the histogram's end.
        assert_eq!(output.worst_us(Phase::Loaded), Some(HISTOGRAM_END_US));
        assert_eq!(output.rounds_in(Phase::Crash), 2);
        assert_eq!(output.worst_us(Phase::Crash), Some(21));
        assert_eq!(output.ipc.len(), 2);
        assert_eq!(output.ipc[0].phase, Phase::Idle);
        assert_eq!(
            (output.ipc[1].phase, output.ipc[1].avg_us),
            (Phase::Loaded, 164957)
        );
        // Each core's last status.
        let cpu0 = output.exits.iter().find(|c| c.cpu == 0).unwrap();
        assert_eq!((cpu0.sgi, cpu0.wfi, cpu0.imposed()), (2, 1800, 0));
        let cpu1 = output.exits.iter().find(|c| c.cpu == 1).unwrap();
        assert_eq!(cpu1.imposed(), 5);
        assert_eq!(ExitCounts::parse("exits on cpu 0: irq 1, bogus 2"), None);
    }

    /// The isolated-core lab: one never-ending run; the window opens at
    /// the first status once the real-time cell measures and the
    /// neighbour's scenario began, and closes at the last status.
    const ISOLATED: &str = "
        partitioner | [ 10.1 INFO ] exits on cpu 1: irq 0, sgi 20, doorbell 0, mmio 30, call 0, wfi 0, register 9, other 0
        control | bulkhead-guest: cyclictest: one run, 1 thread on CPU 1, SCHED_FIFO 90, interval 1000 us
        partitioner | [ 20.1 INFO ] exits on cpu 1: irq 0, sgi 26, doorbell 0, mmio 30, call 0, wfi 0, register 9, other 0
        containers | bulkhead-guest: lab: idle
        control | bulkhead-guest: cyclictest running: T: 0 (  128) P:90 I:1000 C:  9000 Min:     36 Act:  157 Avg:  307 Max:   19494
        partitioner | [ 30.1 INFO ] exits on cpu 1: irq 0, sgi 26, doorbell 0, mmio 30, call 0, wfi 0, register 9, other 0
        partitioner | [ 30.1 INFO ] exits on cpu 2: irq 0, sgi 0, doorbell 5, mmio 50, call 1, wfi 10, register 0, other 0
        containers | bulkhead-guest: load: started
        containers | bulkhead-guest: crash: echo c > /proc/sysrq-trigger
        containers | bulkhead-guest: after crash: back up (boot 2)
        partitioner | [ 40.1 INFO ] exits on cpu 1: irq 0, sgi 27, doorbell 0, mmio 30, call 0, wfi 0, register 9, other 0
    ";

    #[test]
    fn the_measuring_window_opens_once_both_sides_are_under_way() {
        let output = RtLabOutput::parse(&lines(ISOLATED)).unwrap();
        assert!(output.rounds.is_empty());
        assert_eq!(output.start_phase, Some(Phase::Idle));
        let start = output.exits_at_start.iter().find(|c| c.cpu == 1).unwrap();
        assert_eq!((start.sgi, start.total()), (26, 65));
        // CPU 2's first count came in the same window.
        assert!(output.exits_at_start.iter().any(|c| c.cpu == 2));
        let window = output.exits_while_measuring(1).unwrap();
        assert_eq!((window.total(), window.causes()), (1, "sgi 1".to_string()));
        assert_eq!(output.exits_while_measuring(3), None);
        let record = |output: &RtLabOutput| crate::report::IsolatedCoreRecord::new(output, 1, "");
        let checks = crate::report::isolated_core_checks(&record(&output));
        assert_eq!(checks.len(), 1);
        // An IPI of its own kernel's is an exit too: it fails.
        assert!(!checks[0].passed, "{checks:#?}");
        assert_eq!(checks[0].measured, Some(1.0));
        assert!(
            checks[0].message.starts_with(
                "1 exits from the neighbour's idle phase to after its restart (sgi 1)"
            ),
            "{}",
            checks[0].message
        );
        // Without it, the window is clean and the check passes.
        let mut clean = output.clone();
        let last = clean.exits.iter_mut().find(|c| c.cpu == 1).unwrap();
        last.sgi -= 1;
        let checks = crate::report::isolated_core_checks(&record(&clean));
        assert!(checks[0].passed, "{checks:#?}");
        assert!(
            checks[0]
                .message
                .starts_with("0 exits from the neighbour's idle phase to after its restart (none)"),
            "{}",
            checks[0].message
        );
        // Any other exit fails.
        let mut worse = clean.clone();
        let last = worse.exits.iter_mut().find(|c| c.cpu == 1).unwrap();
        last.mmio += 1;
        let checks = crate::report::isolated_core_checks(&record(&worse));
        assert!(!checks[0].passed, "{checks:#?}");
        // Without the last status there is nothing to check: a failure.
        let cut: Vec<(String, String)> = lines(ISOLATED).into_iter().take(4).collect();
        let early = RtLabOutput::parse(&cut).unwrap();
        assert!(!crate::report::isolated_core_checks(&record(&early))[0].passed);
        // The same counts without a window (the lab in rounds, status lines
        // all before the scenario) leave the check failing too.
        assert!(RtLabOutput::parse(&lines(RECORDED))
            .unwrap()
            .exits_at_start
            .is_empty());
    }

    #[test]
    fn garbled_lines_are_errors() {
        let bad = lines(
            "control | bulkhead-guest: cyclictest round 1: start
             control | bulkhead-guest: cyclictest round 1: hist 14-2000",
        );
        let error = RtLabOutput::parse(&bad).unwrap_err();
        assert!(error.to_string().contains("expected us:count"), "{error}");
        let crossed = lines(
            "control | bulkhead-guest: cyclictest round 1: start
             control | bulkhead-guest: cyclictest round 2: hist 14:2000",
        );
        assert!(RtLabOutput::parse(&crossed).is_err());
    }
}
