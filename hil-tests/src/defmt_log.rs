//! Decoding the partitioner's log: stream 0 carries raw-encoded `defmt`
//! frames, concatenated, cut into wire frames at arbitrary points.
//!
//! The format strings live in the `.defmt` section of the partitioner ELF.
//! Each decoded log frame becomes one rendered line such as
//! `[  0.001234 INFO ] Bulkhead 0.1.0: 2 cells`.

use crate::HarnessError;
use defmt_decoder::{DecodeError, Encoding, Frame, Table};
use std::fmt::Write as _;
use std::path::Path;

/// A stream decoder for the partitioner's `defmt` log.
pub struct LogDecoder {
    /// The format-string table; `None` renders the bytes as hex.
    table: Option<Table>,
    /// Received bytes not yet decoded (a log frame cut across wire frames).
    pending: Vec<u8>,
}

impl LogDecoder {
    /// A decoder with the table of the ELF at `path`.
    pub fn from_elf(path: &Path) -> Result<Self, HarnessError> {
        let error = |message: String| HarnessError::Defmt {
            path: path.to_path_buf(),
            message,
        };
        let elf = std::fs::read(path).map_err(|e| error(e.to_string()))?;
        let table = Table::parse(&elf)
            .map_err(|e| error(format!("{e:#}")))?
            .ok_or_else(|| error("the ELF has no .defmt section".to_string()))?;
        Self::from_table(table).map_err(error)
    }

    /// A decoder with an already parsed table. Only the raw encoding is
    /// supported, because the wire framing already delimits frames.
    pub fn from_table(table: Table) -> Result<Self, String> {
        if table.encoding() != Encoding::Raw {
            return Err(format!(
                "the log uses the {:?} encoding; the partitioner must be built with defmt's `encoding-raw`",
                table.encoding()
            ));
        }
        Ok(LogDecoder {
            table: Some(table),
            pending: Vec::new(),
        })
    }

    /// A decoder without a table: every chunk is shown as hex bytes, so a
    /// test without the ELF still sees that the partitioner said something.
    pub fn without_table() -> Self {
        LogDecoder {
            table: None,
            pending: Vec::new(),
        }
    }

    /// Feeds the payload of one stream-0 wire frame; returns the lines of
    /// every log frame it completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let Some(table) = &self.table else {
            return vec![format!("[defmt: no table] {}", hex(bytes))];
        };
        self.pending.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while !self.pending.is_empty() {
            match table.decode(&self.pending) {
                Ok((frame, consumed)) => {
                    lines.extend(render(&frame).lines().map(str::to_string));
                    self.pending.drain(..consumed);
                }
                Err(DecodeError::UnexpectedEof) => break,
                Err(DecodeError::Malformed) => {
                    // The raw encoding cannot resynchronise inside a byte
                    // stream; start afresh with the next wire frame.
                    lines.push(format!(
                        "[defmt: malformed log frame, dropped {} bytes: {}]",
                        self.pending.len(),
                        hex(&self.pending)
                    ));
                    self.pending.clear();
                }
            }
        }
        lines
    }

    /// Bytes of an unfinished log frame, for the end of a run.
    pub fn finish(&mut self) -> Option<String> {
        if self.pending.is_empty() {
            return None;
        }
        let line = format!(
            "[defmt: log ended inside a frame, {} bytes: {}]",
            self.pending.len(),
            hex(&self.pending)
        );
        self.pending.clear();
        Some(line)
    }
}

/// Renders one log frame as `[timestamp LEVEL] message`.
fn render(frame: &Frame<'_>) -> String {
    let mut line = String::from("[");
    if let Some(timestamp) = frame.display_timestamp() {
        let _ = write!(line, "{:>10}", timestamp.to_string());
        if frame.level().is_some() {
            line.push(' ');
        }
    }
    if let Some(level) = frame.level() {
        let _ = write!(line, "{:<5}", level.as_str().to_uppercase());
    }
    let _ = write!(line, "] {}", frame.display_message());
    line
}

/// Bytes as space-separated hex, cut after 64 bytes.
fn hex(bytes: &[u8]) -> String {
    let mut text = String::new();
    for byte in bytes.iter().take(64) {
        let _ = write!(text, "{byte:02x} ");
    }
    if bytes.len() > 64 {
        text.push('…');
    }
    text.trim_end().to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A table with a microsecond timestamp and two messages:
    /// index 1 is `INFO Bulkhead {=u8} cells`, index 2 is `WARN cell {=str} stopped`.
    pub(crate) fn test_table() -> Table {
        serde_json::from_value(serde_json::json!({
            "timestamp": {
                "string": { "tag": "Timestamp", "string": "{=u64:us}" },
                "raw_symbol": "timestamp"
            },
            "entries": {
                "1": {
                    "string": { "tag": "Info", "string": "Bulkhead {=u8} cells" },
                    "raw_symbol": "info"
                },
                "2": {
                    "string": { "tag": "Warn", "string": "cell {=str} stopped" },
                    "raw_symbol": "warn"
                }
            },
            "bitflags": {},
            "encoding": "Raw"
        }))
        .expect("test table")
    }

    /// The raw encoding of index 1 at `micros` with argument `cells`.
    pub(crate) fn info_frame(micros: u64, cells: u8) -> Vec<u8> {
        let mut bytes = 1u16.to_le_bytes().to_vec();
        bytes.extend_from_slice(&micros.to_le_bytes());
        bytes.push(cells);
        bytes
    }

    #[test]
    fn renders_timestamp_level_and_message() {
        let mut decoder = LogDecoder::from_table(test_table()).unwrap();
        assert_eq!(
            decoder.push(&info_frame(1234, 2)),
            vec!["[  0.001234 INFO ] Bulkhead 2 cells".to_string()]
        );
    }

    #[test]
    fn frames_cut_anywhere_and_concatenated() {
        let mut decoder = LogDecoder::from_table(test_table()).unwrap();
        let mut bytes = info_frame(1, 1);
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&5_000_000u64.to_le_bytes());
        bytes.extend_from_slice(&(6u32).to_le_bytes()); // str length (usize, 4 bytes on the target)
        bytes.extend_from_slice(b"sensor");
        bytes.extend_from_slice(&info_frame(7, 3));
        let mut lines = Vec::new();
        for piece in bytes.chunks(3) {
            lines.extend(decoder.push(piece));
        }
        assert_eq!(
            lines,
            vec![
                "[  0.000001 INFO ] Bulkhead 1 cells",
                "[  5.000000 WARN ] cell sensor stopped",
                "[  0.000007 INFO ] Bulkhead 3 cells",
            ]
        );
        assert_eq!(decoder.finish(), None);
    }

    #[test]
    fn malformed_bytes_are_reported_and_dropped() {
        let mut decoder = LogDecoder::from_table(test_table()).unwrap();
        // Index 0x99 is not in the table.
        let lines = decoder.push(&[0x99, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("[defmt: malformed"), "{lines:?}");
        assert_eq!(
            decoder.push(&info_frame(10, 4)),
            vec!["[  0.000010 INFO ] Bulkhead 4 cells"]
        );
    }

    #[test]
    fn unfinished_frame_is_reported_at_the_end() {
        let mut decoder = LogDecoder::from_table(test_table()).unwrap();
        assert!(decoder.push(&info_frame(10, 4)[..5]).is_empty());
        assert!(decoder.finish().unwrap().contains("5 bytes"));
    }

    #[test]
    fn without_table_shows_hex() {
        let mut decoder = LogDecoder::without_table();
        assert_eq!(
            decoder.push(&[1, 0xab]),
            vec!["[defmt: no table] 01 ab".to_string()]
        );
    }
}
