//! Showing a target's consoles to a person: every stream's lines with the
//! stream's name in front (`[partitioner]`, `[control]`, …), colored on a
//! terminal. `cargo xtask demo` and `bulkhead console` print through it.
//!
//! On a terminal, the unfinished line of the cell being typed into (its
//! shell's prompt, the echo of what is typed) is shown too, as the last
//! line, redrawn as it changes and kept below the other streams' lines.

use std::collections::HashMap;
use std::io::Write;

/// ANSI colors for cells, in order of appearance.
const CELL_COLORS: &[&str] = &["32", "33", "35", "34", "31", "36;2", "92", "93"];

/// Prints console lines with a stream prefix.
pub struct Printer {
    colored: bool,
    colors: HashMap<String, &'static str>,
    /// The cell being typed into, whose unfinished line is shown.
    focus: Option<String>,
    /// Its unfinished line.
    partial: String,
    /// Whether the terminal's last line is that unfinished line.
    partial_shown: bool,
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
        Printer {
            colored,
            colors,
            focus: None,
            partial: String::new(),
            partial_shown: false,
        }
    }

    /// Prints one line of `stream` to standard output.
    pub fn print(&mut self, stream: &str, line: &str) {
        let mut text = self.take_partial_line();
        text.push_str(&self.format(stream, line));
        if self.focus.as_deref() == Some(stream) {
            self.partial.clear();
        }
        text.push_str(&self.show_partial());
        self.write(&text);
    }

    /// A remark of the console itself (which cell is typed into, the
    /// keys), shown as a line of stream `console`.
    pub fn note(&mut self, text: &str) {
        self.print("console", text);
    }

    /// The cell typed into from now on: its unfinished line is shown
    /// (on a terminal).
    pub fn set_focus(&mut self, stream: &str) {
        let mut text = self.take_partial_line();
        self.focus = Some(stream.to_string());
        self.partial.clear();
        text.push_str(&self.show_partial());
        self.write(&text);
    }

    /// `stream`'s unfinished line is now `line`; shown when `stream` is
    /// the cell typed into and standard output is a terminal.
    pub fn partial(&mut self, stream: &str, line: &str) {
        if !self.colored || self.focus.as_deref() != Some(stream) {
            return;
        }
        let mut text = self.take_partial_line();
        self.partial = line.to_string();
        text.push_str(&self.show_partial());
        self.write(&text);
    }

    /// Erases the unfinished line from the terminal, if it is shown.
    fn take_partial_line(&mut self) -> String {
        if std::mem::take(&mut self.partial_shown) {
            "\r\x1b[K".to_string()
        } else {
            String::new()
        }
    }

    /// The unfinished line of the cell typed into, if there is one to
    /// show.
    fn show_partial(&mut self) -> String {
        match &self.focus {
            Some(focus) if self.colored && !self.partial.is_empty() => {
                self.partial_shown = true;
                let color = self.colors.get(focus).copied().unwrap_or("37");
                format!("\x1b[{color}m[{focus}]\x1b[0m {}", self.partial)
            }
            _ => String::new(),
        }
    }

    fn write(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
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
