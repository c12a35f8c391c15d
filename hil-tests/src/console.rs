//! Showing a target's consoles to a person: every stream's lines with the
//! stream's name in front (`[partitioner]`, `[control]`, …), colored on a
//! terminal. `cargo xtask demo` and `bulkhead console` print through it.

use std::collections::HashMap;
use std::io::Write;

/// ANSI colors for cells, in order of appearance.
const CELL_COLORS: &[&str] = &["32", "33", "35", "34", "31", "36;2", "92", "93"];

/// Prints console lines with a stream prefix.
pub struct Printer {
    colored: bool,
    colors: HashMap<String, &'static str>,
}

impl Printer {
    /// A printer for the partitioner's log, raw bytes and `cells`' streams;
    /// `colored` for a terminal.
    pub fn new(cells: &[String], colored: bool) -> Self {
        let mut colors = HashMap::new();
        colors.insert(crate::PARTITIONER_STREAM.to_string(), "1;36");
        colors.insert(crate::RAW_STREAM.to_string(), "2");
        for (index, cell) in cells.iter().enumerate() {
            colors.insert(cell.clone(), CELL_COLORS[index % CELL_COLORS.len()]);
        }
        Printer { colored, colors }
    }

    /// Prints one line of `stream` to standard output.
    pub fn print(&mut self, stream: &str, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.format(stream, line).as_bytes());
        let _ = out.flush();
    }

    /// The text [`print`](Self::print) writes for a line.
    pub fn format(&self, stream: &str, line: &str) -> String {
        if self.colored {
            let color = self.colors.get(stream).copied().unwrap_or("37");
            format!("\x1b[{color}m[{stream}]\x1b[0m {line}\n")
        } else {
            format!("[{stream}] {line}\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_their_stream() {
        let cells = vec!["control".to_string()];
        assert_eq!(
            Printer::new(&cells, false).format("control", "up"),
            "[control] up\n"
        );
        assert_eq!(
            Printer::new(&cells, true).format("control", "up"),
            "\x1b[32m[control]\x1b[0m up\n"
        );
    }
}
