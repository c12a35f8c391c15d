//! The latency scenario: boot the `probe` cell natively and under
//! Bulkhead on one target, collect its samples, and summarise them.
//!
//! The probe (`cells/baremetal/src/bin/probe.rs`) prints each measurement
//! as histogram lines, then a summary line that this module checks them
//! against:
//!
//! ```text
//! probe: hist busy 4:198 5:2 lost:0
//! probe: timer latency (busy): 200 samples, min 4, avg 4, max 5 ticks
//! ```
//!
//! The probe's mode names (`busy`, `wfi`, `sgi`) become the measurement
//! names `timer_busy`, `timer_wfi` and `sgi` ([`MEASUREMENTS`]).

use crate::target::description::{TargetDescription, TargetKind, UbootSettings};
use crate::{HarnessError, Pattern, Session, SessionOptions, RAW_STREAM};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use crate::target::description::MEASUREMENTS;

/// The probe's last line.
pub const DONE: &str = "probe: done";

/// The samples of one measurement: how many times each value (in ticks)
/// was seen, and how many interrupts never came.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Value in ticks → number of samples.
    pub counts: BTreeMap<u64, u64>,
    /// Samples whose interrupt never arrived.
    pub lost: u64,
}

impl Histogram {
    /// Adds the words of a histogram line, as the cells print them:
    /// `VALUE:COUNT`, and `LOST_KEY:COUNT` for the samples that never
    /// arrived (or fell beyond the histogram). On a bad word, the message
    /// to report; `value_name` is what the values are (`value`, `us`).
    pub fn add_words<'w>(
        &mut self,
        words: impl IntoIterator<Item = &'w str>,
        lost_key: &str,
        value_name: &str,
    ) -> Result<(), String> {
        for word in words {
            let (value, count) = word
                .split_once(':')
                .ok_or_else(|| format!("expected {value_name}:count"))?;
            let count: u64 = count.parse().map_err(|_| "bad count".to_string())?;
            if value == lost_key {
                self.lost += count;
            } else {
                let value: u64 = value.parse().map_err(|_| "bad value".to_string())?;
                *self.counts.entry(value).or_default() += count;
            }
        }
        Ok(())
    }
}

/// Summary figures of one measurement, in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Samples that arrived.
    pub samples: u64,
    /// Samples that never arrived.
    pub lost: u64,
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub avg: f64,
    /// 99th percentile (nearest rank).
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Histogram {
    /// Number of samples that arrived.
    pub fn samples(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The value below or at which `fraction` of the samples lie (nearest
    /// rank), or `None` without samples.
    pub fn percentile(&self, fraction: f64) -> Option<u64> {
        let total = self.samples();
        if total == 0 {
            return None;
        }
        // The tolerance keeps 0.99 × 200 at rank 198 despite rounding.
        let rank = ((fraction * total as f64 - 1e-9).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (&value, &count) in &self.counts {
            seen += count;
            if seen >= rank {
                return Some(value);
            }
        }
        self.counts.keys().next_back().copied()
    }

    /// The summary, or `None` without samples.
    pub fn stats(&self) -> Option<Stats> {
        let samples = self.samples();
        let (&min, _) = self.counts.iter().next()?;
        let (&max, _) = self.counts.iter().next_back()?;
        let sum: u128 = self
            .counts
            .iter()
            .map(|(&value, &count)| u128::from(value) * u128::from(count))
            .sum();
        Some(Stats {
            samples,
            lost: self.lost,
            min,
            avg: sum as f64 / samples as f64,
            p99: self.percentile(0.99)?,
            max,
        })
    }
}

/// What the probe said in one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeOutput {
    /// By measurement name.
    pub measurements: BTreeMap<String, Histogram>,
    /// The counter's frequency, as the probe read it (its first line:
    /// `probe (cell): redistributor at …, counter N Hz`).
    #[serde(default)]
    pub counter_hz: Option<u64>,
    /// Samples the probe took and dropped before each measurement
    /// (`probe: warm-up: N samples of each measurement dropped`; none in
    /// recordings from before the probe had a warm-up).
    #[serde(default)]
    pub warm_up: Option<u64>,
}

/// A probe line that does not make sense.
#[derive(Debug, thiserror::Error)]
#[error("probe output line {line}: {message}: `{text}`")]
pub struct ProbeParseError {
    /// 1-based line number among the lines given.
    pub line: usize,
    /// The line.
    pub text: String,
    /// What is wrong with it.
    pub message: String,
}

/// The measurement name of a probe mode.
fn measurement_of(mode: &str) -> Option<&'static str> {
    match mode {
        "busy" => Some("timer_busy"),
        "wfi" => Some("timer_wfi"),
        "sgi" => Some("sgi"),
        _ => None,
    }
}

/// The summary line's title for a measurement.
fn summary_title(measurement: &str) -> &'static str {
    match measurement {
        "timer_busy" => "timer latency (busy)",
        "timer_wfi" => "timer latency (wfi)",
        _ => "SGI latency",
    }
}

/// A human label for a measurement, for reports.
pub fn label(measurement: &str) -> &'static str {
    match measurement {
        "timer_busy" => "Virtual timer, busy-waiting: deadline → IRQ vector",
        "timer_wfi" => "Virtual timer, in WFI: deadline → IRQ vector",
        "sgi" => "SGI to itself: ICC_SGI1R_EL1 write → IRQ vector",
        _ => "unknown measurement",
    }
}

impl ProbeOutput {
    /// Parses the probe's lines (other lines are ignored). Every
    /// histogram must agree with its summary line (sample count, min,
    /// max), so a lost or garbled line is an error, not a wrong figure.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Result<Self, ProbeParseError> {
        let mut output = ProbeOutput::default();
        for (index, line) in lines.iter().enumerate() {
            let text = line.as_ref().trim();
            let error = |message: &str| ProbeParseError {
                line: index + 1,
                text: text.to_string(),
                message: message.to_string(),
            };
            if let Some(hz) = text
                .strip_prefix("probe (")
                .and_then(|rest| rest.rsplit_once(", counter "))
                .and_then(|(_, hz)| hz.strip_suffix(" Hz"))
            {
                output.counter_hz = Some(hz.parse().map_err(|_| error("bad counter frequency"))?);
                continue;
            }
            if let Some(count) = text
                .strip_prefix("probe: warm-up: ")
                .and_then(|rest| rest.strip_suffix(" samples of each measurement dropped"))
            {
                output.warm_up = Some(count.parse().map_err(|_| error("bad warm-up count"))?);
                continue;
            }
            if let Some(rest) = text.strip_prefix("probe: hist ") {
                let mut words = rest.split_whitespace();
                let mode = words.next().unwrap_or_default();
                let name = measurement_of(mode).ok_or_else(|| error("unknown probe mode"))?;
                let histogram = output.measurements.entry(name.to_string()).or_default();
                histogram
                    .add_words(words, "lost", "value")
                    .map_err(|message| error(&message))?;
                continue;
            }
            let Some((name, summary)) = MEASUREMENTS.iter().find_map(|name| {
                text.strip_prefix("probe: ")?
                    .strip_prefix(summary_title(name))?
                    .strip_prefix(": ")
                    .map(|summary| (*name, summary))
            }) else {
                continue;
            };
            // "200 samples, min 4, avg 4, max 5 ticks"
            let numbers: Vec<u64> = summary
                .split(|c: char| !c.is_ascii_digit())
                .filter(|word| !word.is_empty())
                .map(|word| word.parse().unwrap_or(u64::MAX))
                .collect();
            let [samples, min, _avg, max] = numbers[..] else {
                return Err(error("expected samples, min, avg and max"));
            };
            let histogram = output
                .measurements
                .get(name)
                .ok_or_else(|| error("a summary without histogram lines before it"))?;
            let total = histogram.samples() + histogram.lost;
            if total != samples {
                return Err(error(&format!(
                    "the histogram holds {total} samples, the summary says {samples}"
                )));
            }
            if histogram.lost == 0 {
                let stats = histogram.stats().ok_or_else(|| error("no samples"))?;
                if (stats.min, stats.max) != (min, max) {
                    return Err(error(&format!(
                        "the histogram's min/max are {}/{}, the summary says {min}/{max}",
                        stats.min, stats.max
                    )));
                }
            }
        }
        Ok(output)
    }
}

/// The images of the latency scenario, as `cargo xtask build` makes them.
#[derive(Clone, Debug)]
pub struct ProbeImages {
    /// The bare probe (`target/bulkhead/images/<board>/probe.bin`), for
    /// the native baseline.
    pub native: PathBuf,
    /// The lab config's boot image (`target/bulkhead/qemu-latency-lab/bulkhead.img`).
    pub bulkhead: PathBuf,
    /// The lab config (for the cell names; the probe cell must be there).
    pub config: PathBuf,
    /// The partitioner ELF, to decode its log.
    pub partitioner_elf: Option<PathBuf>,
}

impl ProbeImages {
    /// The images under an artifacts directory (`target/bulkhead`) for the
    /// lab config called `config_stem`; the bare probe is the one built for
    /// the config's board (when the config cannot be read, the boot fails
    /// later with the reason).
    pub fn in_artifacts(artifacts: &Path, config_stem: &str) -> Self {
        let dir = artifacts.join(config_stem);
        let board = bulkhead_config::yaml::parse(&dir.join("config.yaml"))
            .map(|raw| raw.board)
            .unwrap_or_default();
        ProbeImages {
            native: artifacts.join("images").join(board).join("probe.bin"),
            bulkhead: dir.join("bulkhead.img"),
            config: dir.join("config.yaml"),
            partitioner_elf: None,
        }
    }
}

/// One boot of the probe.
#[derive(Clone, Debug)]
pub struct ProbeRun {
    /// `native` or `bulkhead`.
    pub name: String,
    /// The target's one-line description (the QEMU command line).
    pub command: String,
    /// The probe's lines.
    pub lines: Vec<String>,
    /// Parsed.
    pub output: ProbeOutput,
    /// Where the logs are.
    pub log_dir: PathBuf,
    /// Wall-clock time from boot to `probe: done`.
    pub took: Duration,
}

/// Why the scenario failed.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The target did not run or did not say what it should.
    #[error("{run} run: {source}")]
    Harness {
        /// Which run.
        run: String,
        /// The harness's error, with the stream tails.
        source: HarnessError,
    },
    /// The probe's output did not parse.
    #[error("{run} run: {source} (logs in {})", log_dir.display())]
    Parse {
        /// Which run.
        run: String,
        /// Why.
        source: ProbeParseError,
        /// Where the logs are.
        log_dir: PathBuf,
    },
    /// A file the scenario needs is not there.
    #[error("{0}")]
    Missing(String),
}

/// How to run the scenario.
#[derive(Clone, Debug)]
pub struct ScenarioOptions {
    /// Where run directories go (`target/hil`).
    pub log_root: PathBuf,
    /// Prefix of the run directories (`<prefix>-native`, `<prefix>-bulkhead`).
    pub run_prefix: String,
    /// How long one boot may take, to `probe: done`.
    pub deadline: Duration,
}

/// Runs the probe natively (where the target can) and as a Bulkhead cell.
pub fn run_probe_scenario(
    target: &TargetDescription,
    images: &ProbeImages,
    options: &ScenarioOptions,
) -> Result<(Option<ProbeRun>, ProbeRun), ScenarioError> {
    require("probe image", &images.native)?;
    require("boot image", &images.bulkhead)?;
    require("lab config", &images.config)?;
    let native = match target.native_target(&images.native) {
        Some(native) => Some(run_probe(
            target,
            native.as_ref(),
            "native",
            &[&images.native],
            Vec::new(),
            None,
            options,
        )?),
        None => None,
    };
    Ok((native, run_cell_probe(target, images, options)?))
}

/// Runs the probe as a Bulkhead cell only (the second half of
/// [`run_probe_scenario`]), for a variant of the lab whose native
/// baseline is already known.
pub fn run_cell_probe(
    target: &TargetDescription,
    images: &ProbeImages,
    options: &ScenarioOptions,
) -> Result<ProbeRun, ScenarioError> {
    require("boot image", &images.bulkhead)?;
    require("lab config", &images.config)?;
    let cells = crate::cell_names(&images.config).map_err(|source| ScenarioError::Harness {
        run: "bulkhead".to_string(),
        source,
    })?;
    if !cells.iter().any(|cell| cell == "probe") {
        return Err(ScenarioError::Missing(format!(
            "the lab config {} has no cell called `probe`",
            images.config.display()
        )));
    }
    let bulkhead_dir = images.bulkhead.parent().unwrap_or(Path::new("."));
    let files: Vec<PathBuf> = ["bulkhead.img", "bulkhead.itb", "boot.scr"]
        .iter()
        .map(|name| bulkhead_dir.join(name))
        .filter(|path| path.is_file())
        .collect();
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    run_probe(
        target,
        target.bulkhead_target(&images.bulkhead).as_ref(),
        "bulkhead",
        &files,
        cells,
        images.partitioner_elf.as_deref(),
        options,
    )
}

/// Fails with what to build when `path` (`what`) is missing.
fn require(what: &str, path: &Path) -> Result<(), ScenarioError> {
    if path.is_file() {
        return Ok(());
    }
    Err(ScenarioError::Missing(format!(
        "no {what} at {}; build it with `cargo xtask build --config \
         hil-tests/configs/qemu-latency-lab.yaml` (or run `cargo xtask hil`)",
        path.display()
    )))
}

fn run_probe(
    description: &TargetDescription,
    target: &dyn crate::Target,
    name: &str,
    files: &[&Path],
    cells: Vec<String>,
    partitioner_elf: Option<&Path>,
    options: &ScenarioOptions,
) -> Result<ProbeRun, ScenarioError> {
    let harness = |source| ScenarioError::Harness {
        run: name.to_string(),
        source,
    };
    // A bare probe prints plain text; a cell's console is its own stream.
    let stream = if cells.is_empty() {
        RAW_STREAM
    } else {
        "probe"
    };
    let mut session_options = SessionOptions::new(&format!("{}-{name}", options.run_prefix))
        .log_root(&options.log_root)
        .cells(cells)
        .deadline(options.deadline + Duration::from_secs(10));
    if let Some(elf) = partitioner_elf {
        session_options = session_options.partitioner_elf(elf);
    }
    let started = Instant::now();
    let mut session = Session::start(target, session_options).map_err(harness)?;
    if let TargetKind::Serial(serial) = &description.kind {
        if let Some(uboot) = &serial.uboot {
            let commands = if name == "native" {
                &uboot.native_commands
            } else {
                &uboot.commands
            };
            boot(&mut session, uboot, commands, files).map_err(harness)?;
        }
    }
    session
        .expect(stream, DONE, options.deadline)
        .map_err(harness)?;
    let took = started.elapsed();
    let lines = session.lines(stream);
    let log_dir = session.run_dir().to_path_buf();
    drop(session);
    let output = ProbeOutput::parse(&lines).map_err(|source| ScenarioError::Parse {
        run: name.to_string(),
        source,
        log_dir: log_dir.clone(),
    })?;
    Ok(ProbeRun {
        name: name.to_string(),
        command: target.describe(),
        lines,
        output,
        log_dir,
        took,
    })
}

/// Boots a board from its U-Boot prompt: copies `files` to the TFTP
/// directory (if there is one), stops autoboot by sending newlines until a
/// prompt line appears, then runs `commands` one by one. Each command but
/// the last must finish within the command timeout: it is followed by an
/// `echo` of a marker, and the next command is sent once the marker comes
/// back.
pub fn boot(
    session: &mut Session,
    uboot: &UbootSettings,
    commands: &[String],
    files: &[&Path],
) -> Result<(), HarnessError> {
    if let Some(dir) = &uboot.tftp_dir {
        for file in files {
            let Some(name) = file.file_name() else {
                continue;
            };
            std::fs::copy(file, dir.join(name)).map_err(|source| HarnessError::Io {
                context: format!("cannot copy {} to {}", file.display(), dir.display()),
                source,
            })?;
        }
    }
    let timeout = Duration::from_secs(uboot.command_timeout_s);
    let prompt = regex::escape(&uboot.prompt);
    let at_prompt = Pattern::regex(&format!(r"^\s*{prompt}\s*$"));
    let give_up = Instant::now() + timeout;
    loop {
        // A newline stops autoboot and makes U-Boot print a fresh prompt;
        // the next newline ends that prompt's line.
        session.send(b"\n")?;
        match session.expect(RAW_STREAM, at_prompt.clone(), Duration::from_millis(300)) {
            Ok(_) => break,
            Err(HarnessError::Timeout { .. }) if Instant::now() < give_up => {}
            Err(error) => return Err(error),
        }
    }
    for (index, command) in commands.iter().enumerate() {
        let last = index + 1 == commands.len();
        if last {
            session.send(format!("{command}\n").as_bytes())?;
        } else {
            let marker = format!("bulkhead-hil-step-{index}");
            session.send(format!("{command}; echo {marker}\n").as_bytes())?;
            session.expect(RAW_STREAM, Pattern::regex(&format!("^{marker}$")), timeout)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(pairs: &[(u64, u64)]) -> Histogram {
        Histogram {
            counts: pairs.iter().copied().collect(),
            lost: 0,
        }
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let h = histogram(&[(4, 197), (9, 2), (30, 1)]);
        assert_eq!(h.percentile(0.99), Some(9));
        assert_eq!(
            histogram(&[(4, 198), (9, 1), (30, 1)]).percentile(0.99),
            Some(4)
        );
        assert_eq!(h.percentile(1.0), Some(30));
        assert_eq!(h.percentile(0.0), Some(4));
        let s = h.stats().unwrap();
        assert_eq!((s.samples, s.min, s.p99, s.max), (200, 4, 9, 30));
        assert!((s.avg - (4.0 * 197.0 + 18.0 + 30.0) / 200.0).abs() < 1e-9);
        assert!(Histogram::default().stats().is_none());
    }

    #[test]
    fn parses_histograms_and_checks_them_against_the_summary() {
        let lines = [
            "probe (native): redistributor at 0x80a0000, counter 1000000000 Hz",
            "probe: warm-up: 20 samples of each measurement dropped",
            "probe: hist busy 4:150 5:40",
            "probe: hist busy 6:10 lost:0",
            "probe: timer latency (busy): 200 samples, min 4, avg 4, max 6 ticks",
            "probe: hist sgi 376:200 lost:0",
            "probe: SGI latency: 200 samples, min 376, avg 376, max 376 ticks",
            "probe: done",
        ];
        let output = ProbeOutput::parse(&lines).unwrap();
        let busy = &output.measurements["timer_busy"];
        assert_eq!(busy.samples(), 200);
        assert_eq!(busy.counts[&5], 40);
        assert_eq!(output.measurements["sgi"].stats().unwrap().p99, 376);
        assert!(!output.measurements.contains_key("timer_wfi"));
        assert_eq!(output.warm_up, Some(20));
        assert_eq!(ProbeOutput::parse(&lines[2..]).unwrap().warm_up, None);
        let error =
            ProbeOutput::parse(&["probe: warm-up: many samples of each measurement dropped"])
                .unwrap_err();
        assert!(error.message.contains("warm-up"), "{error}");
    }

    #[test]
    fn a_missing_histogram_line_is_an_error() {
        let lines = [
            "probe: hist busy 4:150 5:40",
            "probe: timer latency (busy): 200 samples, min 4, avg 4, max 6 ticks",
        ];
        let error = ProbeOutput::parse(&lines).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("190 samples"), "{error}");
        let error = ProbeOutput::parse(&["probe: hist busy 4-200"]).unwrap_err();
        assert!(error.message.contains("value:count"), "{error}");
    }

    #[test]
    fn lost_samples_are_counted() {
        let lines = [
            "probe: hist wfi 4:199 lost:1",
            "probe: timer latency (wfi): 200 samples, min 4, avg 5000003, max 18446744073709551615 ticks",
        ];
        let output = ProbeOutput::parse(&lines).unwrap();
        assert_eq!(output.measurements["timer_wfi"].lost, 1);
    }
}
