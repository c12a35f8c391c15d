//! Boot times on the generic counter: from the partitioner's entry to each
//! cell's first instruction, and to each Linux cell's userspace.
//!
//! Every figure is a reading of the same counter. The partitioner reads
//! `CNTPCT_EL0` at its first instruction and again just before the `eret`
//! into each start of each cell (on the cell's boot core); Linux cells read
//! `CNTVCT_EL0` from user space (`bulkhead-ipc counter`), which equals the
//! physical counter because Bulkhead sets `CNTVOFF_EL2` to 0. Under QEMU's
//! `-icount shift=0,sleep=off` with a 1 GHz counter one tick is one
//! instruction, so the figures repeat exactly.
//!
//! The lines this module reads (partitioner lines as [`defmt_log`] renders
//! them, console lines with the init scripts' `say` prefix):
//!
//! ```text
//! partitioner: [  0.000105 INFO ] Bulkhead 0.1.0 partitioner on qemu-virt: 4 CPUs, counter 1000000000 Hz
//! partitioner: [  0.000106 INFO ] boot: partitioner entry at counter 104857
//! partitioner: [  0.091201 INFO ] cell control (start 1): first instruction at counter 91201324
//! control:     bulkhead-guest: boot: userspace at counter 2871520833 (1000000000 Hz)
//! ```
//!
//! A userspace reading belongs to the latest start of its cell that began
//! before it, so restarts (start 2, 3, …) get their own figures.
//!
//! [`defmt_log`]: crate::defmt_log

use crate::target::description::TargetDescription;
use crate::{HarnessError, Session, SessionOptions};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// One start of one cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellBoot {
    /// The cell's name, as in the config.
    pub name: String,
    /// Which start of the cell: 1 at boot, 2 after its first restart, …
    pub start: u32,
    /// The counter just before the partitioner entered the cell's first
    /// instruction (on the cell's boot core).
    pub first_instruction: u64,
    /// The counter as the cell's init read it from user space, for Linux
    /// cells that got there.
    pub userspace: Option<u64>,
}

/// The boot-time figures of one run, as absolute counter values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootTimes {
    /// The counter at the partitioner's first instruction.
    pub partitioner_entry: u64,
    /// Every start of every cell, in the order the partitioner logged them.
    pub cells: Vec<CellBoot>,
    /// The counter's frequency in Hz.
    pub counter_hz: u64,
}

/// A point of the boot, relative to the partitioner's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinceEntry {
    /// Counter ticks since the entry (instructions, under icount at 1 GHz).
    pub ticks: u64,
    /// The same at the counter's frequency.
    pub duration: Duration,
}

impl fmt::Display for SinceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ticks ({:.3} ms)",
            self.ticks,
            self.duration.as_secs_f64() * 1000.0
        )
    }
}

/// Why a run's boot times could not be read, or do not make sense.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BootTimesError {
    /// The partitioner logged no entry counter.
    #[error("the partitioner log has no `boot: partitioner entry at counter N` line")]
    NoEntry,
    /// Neither the partitioner nor a cell said what the counter's
    /// frequency is.
    #[error(
        "no counter frequency: neither the partitioner's banner nor a userspace line gives one"
    )]
    NoFrequency,
    /// A cell's userspace reading gives another frequency than the
    /// partitioner's.
    #[error(
        "cell `{cell}` reads the counter at {cell_hz} Hz, the partitioner at {partitioner_hz} Hz"
    )]
    FrequencyMismatch {
        /// The cell.
        cell: String,
        /// What the cell read from `CNTFRQ_EL0`.
        cell_hz: u64,
        /// What the partitioner logged.
        partitioner_hz: u64,
    },
    /// A line that starts like a boot-time line but does not parse.
    #[error("`{stream}` said a boot-time line that does not parse: {line:?}")]
    Garbled {
        /// The stream.
        stream: String,
        /// The line.
        line: String,
    },
    /// A cell reached user space before (or at) the first instruction of
    /// every start of it that was logged.
    #[error("cell `{cell}` read counter {counter} in user space, before any start of it")]
    UserspaceWithoutStart {
        /// The cell.
        cell: String,
        /// Its reading.
        counter: u64,
    },
    /// A cell the run should have started has no first instruction.
    #[error("cell `{cell}` has no `first instruction` line for its first start")]
    MissingCell {
        /// The cell.
        cell: String,
    },
    /// A Linux cell did not reach user space in its first start.
    #[error("cell `{cell}` (start 1) has no `boot: userspace at counter` line")]
    NoUserspace {
        /// The cell.
        cell: String,
    },
    /// A cell's first instruction does not come after the partitioner's
    /// entry.
    #[error("cell `{cell}` (start {start}): first instruction at counter {first_instruction} is not after the partitioner's entry at {entry}")]
    StartBeforeEntry {
        /// The cell.
        cell: String,
        /// Which start.
        start: u32,
        /// Its first instruction.
        first_instruction: u64,
        /// The partitioner's entry.
        entry: u64,
    },
}

/// The partitioner's banner, which names the counter frequency.
fn banner() -> &'static Regex {
    static REGEX: OnceLock<Regex> = OnceLock::new();
    REGEX.get_or_init(|| {
        Regex::new(r"\] Bulkhead \S+ partitioner on .*, counter (\d+) Hz$").expect("valid regex")
    })
}

/// `boot: partitioner entry at counter N`.
fn entry() -> &'static Regex {
    static REGEX: OnceLock<Regex> = OnceLock::new();
    REGEX.get_or_init(|| {
        Regex::new(r"\] boot: partitioner entry at counter (\d+)$").expect("valid regex")
    })
}

/// `cell NAME (start K): first instruction at counter N`.
fn first_instruction() -> &'static Regex {
    static REGEX: OnceLock<Regex> = OnceLock::new();
    REGEX.get_or_init(|| {
        Regex::new(r"\] cell (\S+) \(start (\d+)\): first instruction at counter (\d+)$")
            .expect("valid regex")
    })
}

/// `bulkhead-guest: boot: userspace at counter N (F Hz)`.
fn userspace() -> &'static Regex {
    static REGEX: OnceLock<Regex> = OnceLock::new();
    REGEX.get_or_init(|| {
        Regex::new(r"^bulkhead-guest: boot: userspace at counter (\d+) \((\d+) Hz\)$")
            .expect("valid regex")
    })
}

/// What marks a partitioner line as a boot-time line.
const PARTITIONER_MARKERS: [&str; 2] = ["] boot: partitioner entry", "): first instruction at"];
/// What marks a console line as a boot-time line.
const CONSOLE_MARKER: &str = "bulkhead-guest: boot: userspace";

/// Capture `index` as a number (the expressions only capture digits; a
/// number too large for a u64 is garbled).
fn number<T: std::str::FromStr>(captures: &regex::Captures<'_>, index: usize) -> Option<T> {
    captures.get(index)?.as_str().parse().ok()
}

impl BootTimes {
    /// Reads the figures from the partitioner's decoded log lines and the
    /// consoles of the cells, `(cell name, its lines)`.
    pub fn parse<P, C, L>(
        partitioner: &[P],
        consoles: &[(C, Vec<L>)],
    ) -> Result<Self, BootTimesError>
    where
        P: AsRef<str>,
        C: AsRef<str>,
        L: AsRef<str>,
    {
        let garbled = |stream: &str, line: &str| BootTimesError::Garbled {
            stream: stream.to_string(),
            line: line.to_string(),
        };
        let mut partitioner_entry = None;
        let mut partitioner_hz = None;
        let mut cells = Vec::new();
        for line in partitioner.iter().map(AsRef::as_ref) {
            if let Some(c) = banner().captures(line) {
                partitioner_hz = number(&c, 1);
            } else if let Some(c) = entry().captures(line) {
                partitioner_entry =
                    Some(number(&c, 1).ok_or_else(|| garbled(crate::PARTITIONER_STREAM, line))?);
            } else if let Some(c) = first_instruction().captures(line) {
                let (Some(start), Some(counter)) = (number(&c, 2), number(&c, 3)) else {
                    return Err(garbled(crate::PARTITIONER_STREAM, line));
                };
                cells.push(CellBoot {
                    name: c[1].to_string(),
                    start,
                    first_instruction: counter,
                    userspace: None,
                });
            } else if PARTITIONER_MARKERS.iter().any(|m| line.contains(m)) {
                return Err(garbled(crate::PARTITIONER_STREAM, line));
            }
        }
        let partitioner_entry = partitioner_entry.ok_or(BootTimesError::NoEntry)?;
        let mut counter_hz = partitioner_hz;
        for (cell, lines) in consoles {
            let cell = cell.as_ref();
            for line in lines.iter().map(AsRef::as_ref) {
                if !line.contains(CONSOLE_MARKER) {
                    continue;
                }
                let c = userspace()
                    .captures(line)
                    .ok_or_else(|| garbled(cell, line))?;
                let (Some(counter), Some(hz)) = (number::<u64>(&c, 1), number::<u64>(&c, 2)) else {
                    return Err(garbled(cell, line));
                };
                match counter_hz {
                    Some(known) if known != hz => {
                        return Err(BootTimesError::FrequencyMismatch {
                            cell: cell.to_string(),
                            cell_hz: hz,
                            partitioner_hz: known,
                        })
                    }
                    _ => counter_hz = Some(hz),
                }
                // The latest start of this cell that began before the
                // reading; a start keeps its first reading.
                let owner = cells
                    .iter_mut()
                    .filter(|b| b.name == cell && b.first_instruction < counter)
                    .max_by_key(|b| b.first_instruction)
                    .ok_or_else(|| BootTimesError::UserspaceWithoutStart {
                        cell: cell.to_string(),
                        counter,
                    })?;
                owner.userspace.get_or_insert(counter);
            }
        }
        Ok(BootTimes {
            partitioner_entry,
            cells,
            counter_hz: counter_hz.ok_or(BootTimesError::NoFrequency)?,
        })
    }

    /// Reads the figures from what a session's streams said so far:
    /// the partitioner's log and the consoles of `cells`.
    pub fn from_session<S: AsRef<str>>(
        session: &Session,
        cells: &[S],
    ) -> Result<Self, BootTimesError> {
        let consoles: Vec<(&str, Vec<String>)> = cells
            .iter()
            .map(|cell| (cell.as_ref(), session.lines(cell.as_ref())))
            .collect();
        Self::parse(&session.lines(crate::PARTITIONER_STREAM), &consoles)
    }

    /// Start `start` of cell `name`, if it was logged.
    pub fn cell(&self, name: &str, start: u32) -> Option<&CellBoot> {
        self.cells
            .iter()
            .find(|b| b.name == name && b.start == start)
    }

    /// `counter` relative to the partitioner's entry (0 for readings
    /// before it).
    pub fn since_entry(&self, counter: u64) -> SinceEntry {
        let ticks = counter.saturating_sub(self.partitioner_entry);
        let hz = u128::from(self.counter_hz.max(1));
        let nanos = u128::from(ticks) * 1_000_000_000 / hz;
        SinceEntry {
            ticks,
            duration: Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)),
        }
    }

    /// From the partitioner's entry to `boot`'s first instruction.
    pub fn to_first_instruction(&self, boot: &CellBoot) -> SinceEntry {
        self.since_entry(boot.first_instruction)
    }

    /// From the partitioner's entry to `boot`'s user space, if it got
    /// there.
    pub fn to_userspace(&self, boot: &CellBoot) -> Option<SinceEntry> {
        boot.userspace.map(|counter| self.since_entry(counter))
    }

    /// The facts that hold whatever the timing: each of `cells` has a
    /// first start, each of `linux_cells` reached user space in it, and
    /// for every start the partitioner's entry < its first instruction <
    /// its user space (readings of one counter, so strictly increasing;
    /// [`parse`](Self::parse) already refuses a user space reading that
    /// is not after a start of its cell).
    pub fn check(&self, cells: &[&str], linux_cells: &[&str]) -> Result<(), BootTimesError> {
        for &cell in cells.iter().chain(linux_cells) {
            if self.cell(cell, 1).is_none() {
                return Err(BootTimesError::MissingCell {
                    cell: cell.to_string(),
                });
            }
        }
        for &cell in linux_cells {
            if self.cell(cell, 1).and_then(|b| b.userspace).is_none() {
                return Err(BootTimesError::NoUserspace {
                    cell: cell.to_string(),
                });
            }
        }
        for boot in &self.cells {
            if boot.first_instruction <= self.partitioner_entry {
                return Err(BootTimesError::StartBeforeEntry {
                    cell: boot.name.clone(),
                    start: boot.start,
                    first_instruction: boot.first_instruction,
                    entry: self.partitioner_entry,
                });
            }
        }
        Ok(())
    }
}

/// A table: one row per start of a cell, times since the partitioner's
/// entry.
impl fmt::Display for BootTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "boot times since the partitioner's entry (counter {}, {} Hz):",
            self.partitioner_entry, self.counter_hz
        )?;
        let width = self.cells.iter().map(|b| b.name.len()).max().unwrap_or(4);
        for boot in &self.cells {
            let userspace = self
                .to_userspace(boot)
                .map_or_else(|| "-".to_string(), |s| s.to_string());
            writeln!(
                f,
                "  {:<width$} start {}: first instruction {}, userspace {}",
                boot.name,
                boot.start,
                self.to_first_instruction(boot),
                userspace
            )?;
        }
        Ok(())
    }
}

/// Boots the build in `build_dir` on `target`
/// ([`TargetDescription::start_build`]) with the config's cell names as
/// streams. Returns the session and the target's one-line description.
pub fn boot(
    target: &TargetDescription,
    build_dir: &Path,
    options: SessionOptions,
) -> Result<(Session, String), HarnessError> {
    let cells = crate::cell_names(&build_dir.join("config.yaml"))?;
    target.start_build(build_dir, options.cells(cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARTITIONER: &str = "\
[  0.000109 INFO ] Bulkhead 0.1.0 partitioner on qemu-virt: 4 CPUs, counter 1000000000 Hz
[  0.000111 INFO ] boot: partitioner entry at counter 104857
[  0.000178 INFO ] 2 cells
[  0.001200 INFO ] cell control: starting (boot #1) at 0x50000000 on cpu 0
[  0.001260 INFO ] cell containers: starting (boot #1) at 0x70000000 on cpu 2
[  0.001903 INFO ] cell containers (start 1): first instruction at counter 1903112
[  0.002105 INFO ] cell control (start 1): first instruction at counter 2105400
[  9.000000 WARN ] cell containers: restarting; other cells continue
[  9.000100 INFO ] cell containers: starting (boot #2) at 0x70000000 on cpu 2
[  9.001000 INFO ] cell containers (start 2): first instruction at counter 9001000211
";

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    fn consoles() -> Vec<(&'static str, Vec<&'static str>)> {
        vec![
            (
                "control",
                vec![
                    "Booting Linux on physical CPU 0x0000000000",
                    "bulkhead-guest: userspace up",
                    "bulkhead-guest: boot: userspace at counter 2871520833 (1000000000 Hz)",
                ],
            ),
            (
                "containers",
                vec![
                    "bulkhead-guest: userspace up",
                    "bulkhead-guest: boot: userspace at counter 3400000000 (1000000000 Hz)",
                    "bulkhead-guest: after fault: back up (boot 2)",
                    "bulkhead-guest: boot: userspace at counter 12000000000 (1000000000 Hz)",
                ],
            ),
        ]
    }

    #[test]
    fn every_start_gets_its_first_instruction_and_userspace() {
        let times = BootTimes::parse(&lines(PARTITIONER), &consoles()).unwrap();
        assert_eq!(times.partitioner_entry, 104_857);
        assert_eq!(times.counter_hz, 1_000_000_000);
        assert_eq!(
            times.cells,
            vec![
                CellBoot {
                    name: "containers".into(),
                    start: 1,
                    first_instruction: 1_903_112,
                    userspace: Some(3_400_000_000),
                },
                CellBoot {
                    name: "control".into(),
                    start: 1,
                    first_instruction: 2_105_400,
                    userspace: Some(2_871_520_833),
                },
                CellBoot {
                    name: "containers".into(),
                    start: 2,
                    first_instruction: 9_001_000_211,
                    userspace: Some(12_000_000_000),
                },
            ]
        );
        assert_eq!(
            times.check(&["control", "containers"], &["control"]),
            Ok(())
        );
    }

    #[test]
    fn figures_are_relative_to_the_entry() {
        let times = BootTimes::parse(&lines(PARTITIONER), &consoles()).unwrap();
        let control = times.cell("control", 1).unwrap();
        let first = times.to_first_instruction(control);
        assert_eq!(first.ticks, 2_105_400 - 104_857);
        assert_eq!(first.duration, Duration::from_nanos(2_000_543));
        assert_eq!(first.to_string(), "2000543 ticks (2.001 ms)");
        let userspace = times.to_userspace(control).unwrap();
        assert_eq!(userspace.ticks, 2_871_520_833 - 104_857);
        let table = times.to_string();
        assert!(
            table.contains("control    start 1: first instruction 2000543 ticks (2.001 ms), userspace 2871415976 ticks (2871.416 ms)"),
            "{table}"
        );
    }

    #[test]
    fn at_another_frequency_durations_follow_it() {
        let times = BootTimes {
            partitioner_entry: 1000,
            cells: Vec::new(),
            counter_hz: 62_500_000,
        };
        assert_eq!(times.since_entry(63_500).duration, Duration::from_millis(1));
        assert_eq!(times.since_entry(10).ticks, 0);
    }

    #[test]
    fn the_figures_round_trip_through_json() {
        let times = BootTimes::parse(&lines(PARTITIONER), &consoles()).unwrap();
        let json = serde_json::to_string(&times).unwrap();
        assert!(json.contains(r#""first_instruction":2105400"#), "{json}");
        assert_eq!(serde_json::from_str::<BootTimes>(&json).unwrap(), times);
    }

    #[test]
    fn missing_facts_are_named() {
        let times = BootTimes::parse(&lines(PARTITIONER), &consoles()).unwrap();
        assert_eq!(
            times.check(&["control", "beacon"], &[]),
            Err(BootTimesError::MissingCell {
                cell: "beacon".into()
            })
        );
        let quiet: Vec<(&str, Vec<&str>)> = Vec::new();
        let times = BootTimes::parse(&lines(PARTITIONER), &quiet).unwrap();
        assert_eq!(
            times.check(&["control"], &["containers"]),
            Err(BootTimesError::NoUserspace {
                cell: "containers".into()
            })
        );
        let no_entry: Vec<&str> = lines(PARTITIONER)
            .into_iter()
            .filter(|l| !l.contains("partitioner entry"))
            .collect();
        assert_eq!(
            BootTimes::parse(&no_entry, &quiet),
            Err(BootTimesError::NoEntry)
        );
    }

    #[test]
    fn a_start_before_the_entry_is_an_error() {
        let times = BootTimes {
            partitioner_entry: 5000,
            cells: vec![CellBoot {
                name: "control".into(),
                start: 1,
                first_instruction: 4000,
                userspace: None,
            }],
            counter_hz: 1_000_000_000,
        };
        assert!(matches!(
            times.check(&["control"], &[]),
            Err(BootTimesError::StartBeforeEntry { .. })
        ));
    }

    #[test]
    fn userspace_before_any_start_is_an_error() {
        let consoles = vec![(
            "control",
            vec!["bulkhead-guest: boot: userspace at counter 5 (1000000000 Hz)"],
        )];
        assert_eq!(
            BootTimes::parse(&lines(PARTITIONER), &consoles),
            Err(BootTimesError::UserspaceWithoutStart {
                cell: "control".into(),
                counter: 5
            })
        );
    }

    #[test]
    fn garbled_and_inconsistent_lines_are_errors() {
        let consoles = vec![(
            "control",
            vec!["bulkhead-guest: boot: userspace at counter  (1000000000 Hz)"],
        )];
        assert!(matches!(
            BootTimes::parse(&lines(PARTITIONER), &consoles),
            Err(BootTimesError::Garbled { stream, .. }) if stream == "control"
        ));
        let consoles = vec![(
            "control",
            vec!["bulkhead-guest: boot: userspace at counter 3000000 (62500000 Hz)"],
        )];
        assert!(matches!(
            BootTimes::parse(&lines(PARTITIONER), &consoles),
            Err(BootTimesError::FrequencyMismatch {
                cell_hz: 62_500_000,
                ..
            })
        ));
        let mut partitioner = lines(PARTITIONER);
        partitioner.push("[  9.1 INFO ] cell control (start x): first instruction at counter 1");
        let quiet: Vec<(&str, Vec<&str>)> = Vec::new();
        assert!(matches!(
            BootTimes::parse(&partitioner, &quiet),
            Err(BootTimesError::Garbled { stream, .. }) if stream == "partitioner"
        ));
    }

    /// Recorded: the gateway's fault scenario (`qemu-gateway-faults`,
    /// free-running time at QEMU's 62.5 MHz), where the containers cell
    /// resets itself and later faults, and restarts each time. Only the
    /// boot-time lines and the life-cycle lines around them are kept.
    const RECORDED_PARTITIONER: &str = "\
[  0.009679 INFO ] Bulkhead 0.1.0 partitioner on qemu-virt: 4 CPUs, counter 62500000 Hz
[  0.010154 INFO ] boot: partitioner entry at counter 132781
[  0.369796 INFO ] cell control: starting (boot #1) at 0x50000000 on cpu 0
[  0.669343 INFO ] cell containers: starting (boot #1) at 0x70000000 on cpu 2
[  0.678922 INFO ] cell control (start 1): first instruction at counter 42092599
[  0.690585 INFO ] cell containers (start 1): first instruction at counter 42815755
[ 58.647306 INFO ] cell containers: SYSTEM_RESET, restarting
[ 65.410008 INFO ] cell containers: starting (boot #2) at 0x70000000 on cpu 2
[ 65.412224 INFO ] cell containers (start 2): first instruction at counter 4055557520
[ 93.718036 ERROR] cell containers faulted on cpu 3: stage-2 fault: read (translation fault) at IPA 0x50000000, PC 0x4c7ed8, ESR 0x93830006 (EC 0x24: data abort from a lower EL, level 2)
[ 93.726728 WARN ] cell containers: restarting; other cells continue
[ 98.324670 INFO ] cell containers: starting (boot #3) at 0x70000000 on cpu 2
[ 98.325879 INFO ] cell containers (start 3): first instruction at counter 6096204273
";

    #[test]
    fn a_recorded_run_with_restarts() {
        let consoles = vec![
            (
                "control",
                vec![
                    "bulkhead-guest: userspace up",
                    "bulkhead-guest: boot: userspace at counter 821420420 (62500000 Hz)",
                ],
            ),
            (
                "containers",
                vec![
                    "bulkhead-guest: userspace up",
                    "bulkhead-guest: boot: userspace at counter 990778050 (62500000 Hz)",
                    "bulkhead-guest: userspace up",
                    "bulkhead-guest: boot: userspace at counter 4902007039 (62500000 Hz)",
                    "bulkhead-guest: after crash: back up (boot 2)",
                    "bulkhead-guest: userspace up",
                    "bulkhead-guest: boot: userspace at counter 6909085098 (62500000 Hz)",
                    "bulkhead-guest: after fault: back up (boot 3)",
                ],
            ),
        ];
        let times = BootTimes::parse(&lines(RECORDED_PARTITIONER), &consoles).unwrap();
        assert_eq!(times.counter_hz, 62_500_000);
        let starts: Vec<(&str, u32, Option<u64>)> = times
            .cells
            .iter()
            .map(|b| (b.name.as_str(), b.start, b.userspace))
            .collect();
        assert_eq!(
            starts,
            vec![
                ("control", 1, Some(821_420_420)),
                ("containers", 1, Some(990_778_050)),
                ("containers", 2, Some(4_902_007_039)),
                ("containers", 3, Some(6_909_085_098)),
            ]
        );
        assert_eq!(times.check(&CELLS, &CELLS), Ok(()));
        let restart = times.cell("containers", 2).unwrap();
        // 62.5 ticks per microsecond.
        assert_eq!(
            times.to_first_instruction(restart).duration,
            Duration::from_nanos((4_055_557_520 - 132_781) * 16)
        );
    }

    const CELLS: [&str; 2] = ["control", "containers"];

    #[test]
    fn without_a_banner_the_cells_give_the_frequency() {
        let partitioner: Vec<&str> = lines(PARTITIONER)
            .into_iter()
            .filter(|l| !l.contains("] Bulkhead"))
            .collect();
        let times = BootTimes::parse(&partitioner, &consoles()).unwrap();
        assert_eq!(times.counter_hz, 1_000_000_000);
        let quiet: Vec<(&str, Vec<&str>)> = Vec::new();
        assert_eq!(
            BootTimes::parse(&partitioner, &quiet),
            Err(BootTimesError::NoFrequency)
        );
    }
}
