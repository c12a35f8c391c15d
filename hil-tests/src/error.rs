//! The harness's errors. A failed expectation carries a [`Snapshot`] of the
//! last lines of every stream, so a red test shows what the target did say.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// How many lines of each stream a [`Snapshot`] keeps.
pub const SNAPSHOT_LINES: usize = 30;

/// Why a harness call failed.
///
/// `Debug` prints the same text as `Display`, so a test that returns
/// `Result<(), HarnessError>` or calls `unwrap()` shows the stream tails.
#[derive(thiserror::Error)]
pub enum HarnessError {
    /// No matching line appeared on a stream before the timeout.
    #[error("no line matching {pattern} on stream `{stream}` within {:.1} s\n{snapshot}", waited.as_secs_f64())]
    Timeout {
        /// The stream waited on.
        stream: String,
        /// The pattern, as text.
        pattern: String,
        /// How long the call waited.
        waited: Duration,
        /// What every stream said.
        snapshot: Box<Snapshot>,
    },
    /// The target's output ended (it exited or was killed) before a
    /// matching line appeared.
    #[error("the target's output ended before a line matching {pattern} appeared on stream `{stream}`\n{snapshot}")]
    Ended {
        /// The stream waited on.
        stream: String,
        /// The pattern, as text.
        pattern: String,
        /// What every stream said.
        snapshot: Box<Snapshot>,
    },
    /// The target did not exit before the timeout.
    #[error("the target did not exit within {:.1} s\n{snapshot}", waited.as_secs_f64())]
    NoExit {
        /// How long the call waited.
        waited: Duration,
        /// What every stream said.
        snapshot: Box<Snapshot>,
    },
    /// A test named a stream the target does not have.
    #[error("there is no stream `{stream}`; the streams are {known}")]
    UnknownStream {
        /// The name asked for.
        stream: String,
        /// The names there are.
        known: String,
    },
    /// The target could not be started.
    #[error("cannot start {what}: {source}{hint}")]
    Start {
        /// What was started (a command line, a device).
        what: String,
        /// Why it failed.
        source: io::Error,
        /// A hint on the fix, starting with a newline, or empty.
        hint: String,
    },
    /// Another I/O failure.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// Why it failed.
        source: io::Error,
    },
    /// The partitioner's `defmt` table could not be read.
    #[error("cannot read the defmt table of {path}: {message}")]
    Defmt {
        /// The ELF file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The cell names could not be read from a config file.
    #[error("cannot read the cell names from {path}: {message}")]
    Config {
        /// The YAML file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The tail of every stream at one moment, for error messages.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Per stream: its name, its total line count and its last lines.
    pub streams: Vec<(String, usize, Vec<String>)>,
    /// Where the full logs are.
    pub log_dir: Option<PathBuf>,
    /// Remarks on the target: why it stopped, what QEMU printed on stderr.
    pub notes: Vec<String>,
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.log_dir {
            Some(dir) => writeln!(f, "---- stream tails (full logs in {}) ----", dir.display())?,
            None => writeln!(f, "---- stream tails ----")?,
        }
        for (name, total, tail) in &self.streams {
            if *total == 0 {
                writeln!(f, "[{name}] (nothing)")?;
                continue;
            }
            writeln!(f, "[{name}] (last {} of {total} lines)", tail.len())?;
            for line in tail {
                writeln!(f, "  {line}")?;
            }
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        write!(f, "----")
    }
}
