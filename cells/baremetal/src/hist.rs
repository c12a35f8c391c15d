//! Histograms on the console, in the form the HIL harness reads
//! (`hil_tests::latency`, `hil_tests::ipc_bench`): one line per eight
//! `value:count` pairs, each starting `<prefix>: hist <name>`, the last
//! ending with `lost:N`.

use crate::println;
use core::fmt::{self, Display, Write};

/// `value:count` pairs per line.
const PAIRS_PER_LINE: usize = 8;

/// Prints the histogram of `kept` (sorted, ascending) and `lost` samples
/// that never came.
pub fn print_histogram<T: Copy + PartialEq + Display>(
    prefix: &str,
    name: &str,
    kept: &[T],
    lost: usize,
) {
    let mut line = Line::new();
    let mut pairs = 0;
    let mut index = 0;
    while index < kept.len() {
        let value = kept[index];
        let count = kept[index..].iter().take_while(|&&v| v == value).count();
        if pairs % PAIRS_PER_LINE == 0 {
            line.flush();
            line.push_fmt(format_args!("{prefix}: hist {name}"));
        }
        line.push_fmt(format_args!(" {value}:{count}"));
        pairs += 1;
        index += count;
    }
    if pairs % PAIRS_PER_LINE == 0 {
        line.flush();
        line.push_fmt(format_args!("{prefix}: hist {name}"));
    }
    line.push_fmt(format_args!(" lost:{lost}"));
    line.flush();
}

/// One console line being assembled (the console has no heap).
struct Line {
    bytes: [u8; 160],
    len: usize,
}

impl Line {
    fn new() -> Self {
        Line {
            bytes: [0; 160],
            len: 0,
        }
    }

    fn push_fmt(&mut self, args: fmt::Arguments) {
        let _ = self.write_fmt(args);
    }

    fn flush(&mut self) {
        if self.len > 0 {
            let text = core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("?");
            println!("{text}");
            self.len = 0;
        }
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
