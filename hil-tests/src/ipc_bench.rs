//! The IPC lab (`configs/qemu-ipc-lab.yaml`): channel benchmarks between
//! two bare-metal cells, and the parsing of their figures.
//!
//! The bench initiator (`cells/baremetal/src/bin/pingpong.rs`, role 4)
//! prints one figure a line on its console; histograms in the probe's
//! `value:count` format (see [`crate::latency`]), each followed by a
//! summary line that this module checks it against:
//!
//! ```text
//! bench: counter 1000000000 Hz
//! bench: hist oneway 635:199 1055:1 lost:0
//! bench: oneway latency: 200 samples, min 635, avg 637, max 1055 ticks
//! bench: hist notify 532:199 928:1 lost:0
//! bench: notify latency: 200 samples, min 532, avg 533, max 928 ticks
//! bench: hist roundtrip 1564:1000 lost:0
//! bench: roundtrip latency: 1000 samples, min 1564, avg 1564, max 1564 ticks
//! bench: throughput 64 B: 16384 messages, 1048576 bytes in 13235339 ticks; memcpy of the same bytes in 1097731 ticks
//! bench: throughput 1024 B: 1024 messages, 1048576 bytes in 1355659 ticks; memcpy of the same bytes in 560131 ticks
//! bench: throughput 4096 B: 256 messages, 1048576 bytes in 782155 ticks; memcpy of the same bytes in 533251 ticks
//! bench: done
//! ```
//!
//! - `oneway`: counter read right before the initiator sends a small
//!   message → the first instruction of the echoer's doorbell handler (the
//!   echoer idle in WFI).
//! - `notify`: the same samples, from the counter read right before the
//!   store to the Doorbell register: the notification alone.
//! - `roundtrip`: an 8-byte message there and back, counter before the
//!   send → after the receive of the echo.
//! - `throughput`: 1 MiB in messages of one size, from the first send to
//!   the echoer's answer (its count and checksum, checked by the
//!   initiator), and a plain copy of as many bytes between two buffers in
//!   the initiator's RAM.
//!
//! Ticks are of the virtual counter. Under icount with a 1 GHz counter
//! ([`TargetDescription::is_deterministic`]) they are instructions, of
//! both cores: QEMU runs the vCPUs one at a time, so a one-way figure
//! includes the sender's instructions until it waits in WFI. Figures are
//! reported, never judged.

use crate::latency::{Histogram, ScenarioOptions};
use crate::target::description::TargetDescription;
use crate::{HarnessError, SessionOptions};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The lab config's stem: its build lands in `target/bulkhead/qemu-ipc-lab/`.
pub const CONFIG_STEM: &str = "qemu-ipc-lab";
/// The cell (console stream) that prints the figures.
pub const INITIATOR: &str = "initiator";
/// The bench's last line.
pub const DONE: &str = "bench: done";
/// The message sizes the bench streams, in bytes.
pub const MESSAGE_SIZES: [u64; 3] = [64, 1024, 4096];

/// One throughput measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    /// Bytes per message.
    pub message_size: u64,
    /// Messages sent (and, checked by the initiator, received).
    pub messages: u64,
    /// Bytes sent: `messages × message_size`.
    pub bytes: u64,
    /// Ticks from the first send to the echoer's answer.
    pub ticks: u64,
    /// Ticks of the memcpy baseline: as many bytes, message by message,
    /// between two buffers in the initiator's RAM.
    pub memcpy_ticks: u64,
}

/// `amount` per second over `ticks` at `counter_hz`, or `None` without
/// time.
fn per_second(amount: u64, ticks: u64, counter_hz: u64) -> Option<f64> {
    (ticks > 0 && counter_hz > 0).then(|| amount as f64 * counter_hz as f64 / ticks as f64)
}

impl Throughput {
    /// Ticks per message, channel.
    pub fn ticks_per_message(&self) -> Option<f64> {
        (self.messages > 0).then(|| self.ticks as f64 / self.messages as f64)
    }

    /// Messages per second at the counter frequency.
    pub fn messages_per_second(&self, counter_hz: u64) -> Option<f64> {
        per_second(self.messages, self.ticks, counter_hz)
    }

    /// Megabytes (10⁶ bytes) per second through the channel at the
    /// counter frequency.
    pub fn megabytes_per_second(&self, counter_hz: u64) -> Option<f64> {
        per_second(self.bytes, self.ticks, counter_hz).map(|rate| rate / 1e6)
    }

    /// Megabytes (10⁶ bytes) per second of the memcpy baseline.
    pub fn memcpy_megabytes_per_second(&self, counter_hz: u64) -> Option<f64> {
        per_second(self.bytes, self.memcpy_ticks, counter_hz).map(|rate| rate / 1e6)
    }

    /// How many times longer the channel took than memcpy for the same
    /// bytes (1.0: as fast as memcpy).
    pub fn memcpy_ratio(&self) -> Option<f64> {
        (self.memcpy_ticks > 0).then(|| self.ticks as f64 / self.memcpy_ticks as f64)
    }
}

/// Everything the bench printed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IpcBench {
    /// One way: `send` → the receiver's doorbell handler, ticks.
    pub oneway: Histogram,
    /// Notification: Doorbell register store → the receiver's handler,
    /// ticks (empty in recordings from before it was measured).
    #[serde(default)]
    pub notify: Histogram,
    /// Round trips of an 8-byte message, ticks.
    pub roundtrip: Histogram,
    /// Throughput, in the order printed.
    pub throughput: Vec<Throughput>,
    /// The virtual counter's frequency, as the cell read it.
    pub counter_hz: Option<u64>,
}

/// Why the bench's output does not give its figures.
#[derive(Debug, thiserror::Error)]
pub enum IpcBenchParseError {
    /// A bench line that does not make sense.
    #[error("bench output line {line}: {message}: `{text}`")]
    Garbled {
        /// 1-based position among the lines given.
        line: usize,
        /// The line.
        text: String,
        /// What is wrong with it.
        message: String,
    },
    /// The bench said that a measurement failed.
    #[error("bench output line {line}: the bench reported a failure: `{text}`")]
    Failed {
        /// 1-based position among the lines given.
        line: usize,
        /// The line.
        text: String,
    },
    /// Figures that never came (see [`IpcBench::missing`]).
    #[error("the bench output has no {}", missing.join(", "))]
    Incomplete {
        /// What is missing.
        missing: Vec<String>,
    },
}

/// The two histograms' names, in the cell's words.
const HISTOGRAMS: [&str; 3] = ["oneway", "notify", "roundtrip"];

fn throughput_line() -> &'static Regex {
    static REGEX: OnceLock<Regex> = OnceLock::new();
    REGEX.get_or_init(|| {
        Regex::new(
            r"^bench: throughput (\d+) B: (\d+) messages, (\d+) bytes in (\d+) ticks; memcpy of the same bytes in (\d+) ticks$",
        )
        .expect("a valid regex")
    })
}

impl IpcBench {
    /// Parses the initiator's lines (lines that are not figures are
    /// ignored). Histograms must agree with their summary lines (sample
    /// count, min, max, mean), so that a lost or garbled line is an error
    /// rather than a wrong figure; a line with `FAILED` is an error.
    /// Figures that are absent are simply absent: see [`IpcBench::missing`].
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Result<Self, IpcBenchParseError> {
        let mut bench = IpcBench::default();
        for (index, line) in lines.iter().enumerate() {
            let text = line.as_ref().trim();
            let Some(rest) = text.strip_prefix("bench: ") else {
                continue;
            };
            let garbled = |message: &str| IpcBenchParseError::Garbled {
                line: index + 1,
                text: text.to_string(),
                message: message.to_string(),
            };
            if text.contains("FAILED") {
                return Err(IpcBenchParseError::Failed {
                    line: index + 1,
                    text: text.to_string(),
                });
            }
            if let Some(rest) = rest.strip_prefix("counter ") {
                let hz = rest
                    .strip_suffix(" Hz")
                    .and_then(|hz| hz.parse().ok())
                    .filter(|&hz| hz > 0)
                    .ok_or_else(|| garbled("expected `bench: counter <Hz> Hz`"))?;
                bench.counter_hz = Some(hz);
            } else if let Some(rest) = rest.strip_prefix("hist ") {
                let mut words = rest.split_whitespace();
                let name = words.next().unwrap_or_default();
                let histogram = bench
                    .histogram_mut(name)
                    .ok_or_else(|| garbled("unknown histogram"))?;
                histogram
                    .add_words(words, "lost", "value")
                    .map_err(|message| garbled(&message))?;
            } else if rest.starts_with("throughput ") {
                let numbers = throughput_line()
                    .captures(text)
                    .ok_or_else(|| {
                        garbled(
                            "expected `bench: throughput <size> B: <n> messages, <bytes> bytes \
                             in <ticks> ticks; memcpy of the same bytes in <ticks> ticks`",
                        )
                    })?
                    .iter()
                    .skip(1)
                    .map(|group| group.and_then(|g| g.as_str().parse::<u64>().ok()))
                    .collect::<Option<Vec<u64>>>()
                    .ok_or_else(|| garbled("a figure is out of range"))?;
                let [message_size, messages, bytes, ticks, memcpy_ticks] = numbers[..] else {
                    return Err(garbled("expected five figures"));
                };
                if message_size.checked_mul(messages) != Some(bytes) {
                    return Err(garbled("the bytes are not messages × message size"));
                }
                if bench.throughput_for(message_size).is_some() {
                    return Err(garbled("a second figure for this message size"));
                }
                bench.throughput.push(Throughput {
                    message_size,
                    messages,
                    bytes,
                    ticks,
                    memcpy_ticks,
                });
            } else if let Some((name, summary)) = HISTOGRAMS.iter().find_map(|name| {
                rest.strip_prefix(name)?
                    .strip_prefix(" latency: ")
                    .map(|summary| (*name, summary))
            }) {
                bench
                    .check_summary(name, summary)
                    .map_err(|m| garbled(&m))?;
            }
        }
        Ok(bench)
    }

    fn histogram_mut(&mut self, name: &str) -> Option<&mut Histogram> {
        match name {
            "oneway" => Some(&mut self.oneway),
            "notify" => Some(&mut self.notify),
            "roundtrip" => Some(&mut self.roundtrip),
            _ => None,
        }
    }

    /// Checks a histogram against its summary line:
    /// `200 samples, min 4, avg 4, max 5 ticks`.
    fn check_summary(&mut self, name: &str, summary: &str) -> Result<(), String> {
        let numbers: Vec<u64> = summary
            .split(|c: char| !c.is_ascii_digit())
            .filter(|word| !word.is_empty())
            .map(|word| word.parse().unwrap_or(u64::MAX))
            .collect();
        let [samples, min, avg, max] = numbers[..] else {
            return Err("expected samples, min, avg and max".to_string());
        };
        let histogram = self.histogram_mut(name).ok_or("unknown histogram")?;
        let total = histogram.samples() + histogram.lost;
        if total == 0 {
            return Err("a summary without histogram lines before it".to_string());
        }
        if total != samples {
            return Err(format!(
                "the histogram holds {total} samples, the summary says {samples}"
            ));
        }
        if let Some(stats) = histogram.stats() {
            if (stats.min, stats.max) != (min, max) || (stats.avg - avg as f64).abs() >= 1.0 {
                return Err(format!(
                    "the histogram's min/avg/max are {}/{:.1}/{}, the summary says {min}/{avg}/{max}",
                    stats.min, stats.avg, stats.max
                ));
            }
        }
        Ok(())
    }

    /// The throughput figure for messages of `message_size` bytes.
    pub fn throughput_for(&self, message_size: u64) -> Option<&Throughput> {
        self.throughput
            .iter()
            .find(|figure| figure.message_size == message_size)
    }

    /// `ticks` in nanoseconds at the counter frequency, if it is known.
    pub fn ticks_to_ns(&self, ticks: f64) -> Option<f64> {
        self.counter_hz.map(|hz| ticks * 1e9 / hz as f64)
    }

    /// What a complete run prints and this one did not: the counter
    /// frequency, both histograms, a throughput figure for each of
    /// [`MESSAGE_SIZES`]. Empty when complete.
    pub fn missing(&self) -> Vec<String> {
        let mut missing = Vec::new();
        if self.counter_hz.is_none() {
            missing.push("counter frequency".to_string());
        }
        for (name, histogram) in [
            ("oneway", &self.oneway),
            ("notify", &self.notify),
            ("roundtrip", &self.roundtrip),
        ] {
            if histogram.samples() + histogram.lost == 0 {
                missing.push(format!("{name} histogram"));
            }
        }
        for size in MESSAGE_SIZES {
            if self.throughput_for(size).is_none() {
                missing.push(format!("throughput at {size} B"));
            }
        }
        missing
    }

    /// A few lines for people: the histograms' summaries and the
    /// throughput figures, in ticks and, with the counter frequency, in
    /// time.
    pub fn summary_text(&self) -> String {
        let hz = self.counter_hz.unwrap_or(0);
        let mut text = format!("counter {hz} Hz\n");
        for (name, histogram) in [
            ("one way", &self.oneway),
            ("notification", &self.notify),
            ("round trip", &self.roundtrip),
        ] {
            match histogram.stats() {
                Some(s) => text.push_str(&format!(
                    "{name}: {} samples ({} lost), min {}, avg {:.1}, p99 {}, max {} ticks{}\n",
                    s.samples,
                    s.lost,
                    s.min,
                    s.avg,
                    s.p99,
                    s.max,
                    self.ticks_to_ns(s.avg)
                        .map(|ns| format!(" (avg {:.0} ns)", ns))
                        .unwrap_or_default()
                )),
                None => text.push_str(&format!("{name}: no samples\n")),
            }
        }
        for figure in &self.throughput {
            let rate = |value: Option<f64>| value.map_or("?".to_string(), |v| format!("{v:.1}"));
            text.push_str(&format!(
                "throughput {} B: {} messages, {} bytes in {} ticks ({} ticks/message, {} messages/s, {} MB/s); memcpy {} ticks ({} MB/s), channel/memcpy {}\n",
                figure.message_size,
                figure.messages,
                figure.bytes,
                figure.ticks,
                rate(figure.ticks_per_message()),
                rate(figure.messages_per_second(hz)),
                rate(figure.megabytes_per_second(hz)),
                figure.memcpy_ticks,
                rate(figure.memcpy_megabytes_per_second(hz)),
                rate(figure.memcpy_ratio()),
            ));
        }
        text
    }
}

/// One run of the bench.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IpcBenchRun {
    /// The target's name (`qemu-icount`).
    pub target: String,
    /// Whether ticks are instructions (icount, 1 GHz counter).
    pub deterministic: bool,
    /// The target's one-line description: the QEMU command line.
    pub command: String,
    /// The initiator's console lines.
    pub lines: Vec<String>,
    /// Parsed.
    pub bench: IpcBench,
    /// Where the logs are.
    pub log_dir: PathBuf,
    /// Wall-clock time from boot to [`DONE`].
    pub took: Duration,
}

/// Why the bench did not give its figures.
#[derive(Debug, thiserror::Error)]
pub enum IpcBenchError {
    /// The target did not run or did not say what it should.
    #[error(transparent)]
    Harness(#[from] HarnessError),
    /// The output did not parse or was incomplete.
    #[error("{source} (logs in {})", log_dir.display())]
    Parse {
        /// Why.
        source: IpcBenchParseError,
        /// Where the logs are.
        log_dir: PathBuf,
    },
    /// A file the bench needs is not there.
    #[error("{0}")]
    Missing(String),
}

/// Boots the lab's build (`build_dir`, normally
/// `target/bulkhead/qemu-ipc-lab`) on `target`, waits up to
/// `options.deadline` for [`DONE`] and parses the figures.
///
/// A QEMU target keeps its CPU model, counter frequency, memory and icount
/// setting, with the CPUs the lab config uses; a board boots through its
/// U-Boot commands like the latency scenario. The run is called
/// `<options.run_prefix>-<target name>`, its logs go under
/// `options.log_root`, and the partitioner's log is decoded with the ELF
/// named by `BULKHEAD_PARTITIONER_ELF`, if set.
pub fn run_ipc_bench(
    target: &TargetDescription,
    build_dir: &Path,
    options: &ScenarioOptions,
) -> Result<IpcBenchRun, IpcBenchError> {
    let image = build_dir.join("bulkhead.img");
    let config = build_dir.join("config.yaml");
    for (what, path) in [("boot image", &image), ("lab config", &config)] {
        if !path.is_file() {
            return Err(IpcBenchError::Missing(format!(
                "no {what} at {}; build it with `cargo xtask build --config \
                 hil-tests/configs/{CONFIG_STEM}.yaml`",
                path.display()
            )));
        }
    }
    let cells = crate::cell_names(&config)?;
    if !cells.iter().any(|cell| cell == INITIATOR) {
        return Err(IpcBenchError::Missing(format!(
            "the lab config {} has no cell called `{INITIATOR}`",
            config.display()
        )));
    }
    let mut session_options =
        SessionOptions::new(&format!("{}-{}", options.run_prefix, target.name))
            .log_root(&options.log_root)
            .cells(cells)
            .deadline(options.deadline + Duration::from_secs(10));
    if let Some(elf) = crate::artifacts::partitioner_elf() {
        session_options = session_options.partitioner_elf(elf);
    }
    let started = Instant::now();
    let (mut session, command) = target.start_build(build_dir, session_options)?;
    session.expect(INITIATOR, DONE, options.deadline)?;
    let took = started.elapsed();
    let lines = session.lines(INITIATOR);
    let log_dir = session.run_dir().to_path_buf();
    drop(session);
    let parse_error = |source| IpcBenchError::Parse {
        source,
        log_dir: log_dir.clone(),
    };
    let bench = IpcBench::parse(&lines).map_err(parse_error)?;
    let missing = bench.missing();
    if !missing.is_empty() {
        return Err(parse_error(IpcBenchParseError::Incomplete { missing }));
    }
    Ok(IpcBenchRun {
        target: target.name.clone(),
        deterministic: target.is_deterministic(),
        command,
        lines,
        bench,
        log_dir,
        took,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The initiator's console of a run under icount.
    const RECORDED: &str = "\
pingpong: bench initiator, boot 0
pingpong: 00:00.0 is 110a:4106 class ff4000
pingpong: registers at 0x10000000, shared memory at 0x20000000: state table 0x1000, common 0x1000, 2 x output 0x10000; I am peer 0
pingpong: doorbell interrupt is SPI 104
bench: counter 1000000000 Hz
bench: hist oneway 1013:199 1097:1 lost:0
bench: oneway latency: 200 samples, min 1013, avg 1013, max 1097 ticks
bench: hist notify 745:199 817:1 lost:0
bench: notify latency: 200 samples, min 745, avg 745, max 817 ticks
bench: hist roundtrip 3061:1000 lost:0
bench: roundtrip latency: 1000 samples, min 3061, avg 3061, max 3061 ticks
bench: throughput 64 B: 16384 messages, 1048576 bytes in 21229954 ticks; memcpy of the same bytes in 1097731 ticks
bench: throughput 1024 B: 1024 messages, 1048576 bytes in 1882114 ticks; memcpy of the same bytes in 560131 ticks
bench: throughput 4096 B: 256 messages, 1048576 bytes in 914722 ticks; memcpy of the same bytes in 533251 ticks
bench: done";

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn parses_a_recorded_run() {
        let bench = IpcBench::parse(&lines(RECORDED)).unwrap();
        assert_eq!(bench.counter_hz, Some(1_000_000_000));
        assert_eq!(bench.oneway.samples(), 200);
        assert_eq!(bench.oneway.counts[&1097], 1);
        assert_eq!(bench.notify.stats().unwrap().min, 745);
        assert_eq!(bench.roundtrip.stats().unwrap().p99, 3061);
        assert_eq!(bench.throughput.len(), 3);
        let big = bench.throughput_for(4096).unwrap();
        assert_eq!(
            *big,
            Throughput {
                message_size: 4096,
                messages: 256,
                bytes: 1 << 20,
                ticks: 914_722,
                memcpy_ticks: 533_251,
            }
        );
        assert!(bench.missing().is_empty(), "{:?}", bench.missing());
        let json = serde_json::to_string(&bench).unwrap();
        assert_eq!(serde_json::from_str::<IpcBench>(&json).unwrap(), bench);
        let text = bench.summary_text();
        assert!(text.contains("throughput 4096 B: 256 messages"), "{text}");
    }

    #[test]
    fn derived_figures() {
        let figure = Throughput {
            message_size: 4096,
            messages: 256,
            bytes: 1 << 20,
            ticks: 1_048_576,
            memcpy_ticks: 262_144,
        };
        let hz = 1_000_000_000;
        assert_eq!(figure.ticks_per_message(), Some(4096.0));
        assert_eq!(
            figure.messages_per_second(hz),
            Some(256_000_000.0 / 1_048_576.0 * 1000.0)
        );
        assert!((figure.megabytes_per_second(hz).unwrap() - 1000.0).abs() < 1e-9);
        assert!((figure.memcpy_megabytes_per_second(hz).unwrap() - 4000.0).abs() < 1e-9);
        assert_eq!(figure.memcpy_ratio(), Some(4.0));
        let idle = Throughput {
            ticks: 0,
            memcpy_ticks: 0,
            ..figure
        };
        assert_eq!(idle.megabytes_per_second(hz), None);
        assert_eq!(idle.memcpy_ratio(), None);
        assert_eq!(figure.megabytes_per_second(0), None);
    }

    #[test]
    fn histograms_span_lines_and_count_the_lost() {
        let bench = IpcBench::parse(&[
            "bench: hist oneway 1:1 2:1 3:1 4:1 5:1 6:1 7:1 8:1",
            "bench: hist oneway 9:1 lost:2",
            "bench: oneway latency: 11 samples, min 1, avg 5, max 9 ticks",
        ])
        .unwrap();
        assert_eq!((bench.oneway.samples(), bench.oneway.lost), (9, 2));
        assert_eq!(
            bench.missing(),
            [
                "counter frequency",
                "notify histogram",
                "roundtrip histogram",
                "throughput at 64 B",
                "throughput at 1024 B",
                "throughput at 4096 B"
            ]
        );
    }

    #[test]
    fn a_histogram_that_disagrees_with_its_summary_is_an_error() {
        let error = IpcBench::parse(&[
            "bench: hist roundtrip 3228:990",
            "bench: roundtrip latency: 1000 samples, min 3228, avg 3228, max 3228 ticks",
        ])
        .unwrap_err();
        assert!(
            matches!(&error, IpcBenchParseError::Garbled { line: 2, message, .. } if message.contains("990 samples")),
            "{error}"
        );
        let error = IpcBench::parse(&[
            "bench: hist roundtrip 3228:1000 lost:0",
            "bench: roundtrip latency: 1000 samples, min 3228, avg 3228, max 3300 ticks",
        ])
        .unwrap_err();
        assert!(error.to_string().contains("min/avg/max"), "{error}");
        let error = IpcBench::parse(&["bench: hist oneway 4-200"]).unwrap_err();
        assert!(error.to_string().contains("value:count"), "{error}");
        let error = IpcBench::parse(&["bench: hist sideways 4:200"]).unwrap_err();
        assert!(error.to_string().contains("unknown histogram"), "{error}");
    }

    #[test]
    fn bad_throughput_lines_are_errors() {
        let error = IpcBench::parse(&[
            "bench: throughput 64 B: 16384 messages, 1048000 bytes in 5 ticks; memcpy of the same bytes in 1 ticks",
        ])
        .unwrap_err();
        assert!(
            error.to_string().contains("messages × message size"),
            "{error}"
        );
        let error = IpcBench::parse(&["bench: throughput 64 B: fast"]).unwrap_err();
        assert!(
            matches!(error, IpcBenchParseError::Garbled { line: 1, .. }),
            "{error}"
        );
        let error = IpcBench::parse(&[
            "bench: counter 62500000 Hz",
            "bench: throughput 4096 B: the echoer got 255 messages, checksum 0x1; sent 256, checksum 0x2: FAILED",
        ])
        .unwrap_err();
        assert!(
            matches!(error, IpcBenchParseError::Failed { line: 2, .. }),
            "{error}"
        );
        let error = IpcBench::parse(&["bench: counter fast Hz"]).unwrap_err();
        assert!(error.to_string().contains("counter"), "{error}");
    }

    #[test]
    fn other_lines_are_ignored() {
        let bench = IpcBench::parse(&[
            "bench: echoer ready",
            "bench: oneway: 3 samples sent again (the echoer was not idle)",
            "probe: hist busy 4:200 lost:0",
        ])
        .unwrap();
        assert_eq!(bench, IpcBench::default());
    }

    #[test]
    fn the_lab_gets_two_cpus_and_keeps_the_targets_clock() {
        let target = TargetDescription::parse(
            "name: q\nqemu:\n  cntfrq: 1000000000\n  smp: 1\n  icount: true\n",
            "q.yaml",
        )
        .unwrap();
        let dir = std::env::temp_dir().join(format!("ipc-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The lab's own config: its cells use CPUs 0 and 1.
        let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/qemu-ipc-lab.yaml");
        std::fs::copy(lab, dir.join("config.yaml")).unwrap();
        let qemu = target.qemu_for_build(&dir).unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let line: Vec<String> = qemu
            .command_line()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let line = line.join(" ");
        assert!(line.contains("-smp 2 "), "{line}");
        assert!(line.contains("cntfrq=1000000000"), "{line}");
        assert!(line.contains("-icount shift=0,sleep=off"), "{line}");
        assert!(line.contains("bulkhead.img"), "{line}");
    }
}
