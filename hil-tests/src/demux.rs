//! From serial bytes to per-stream lines, with no threads and no I/O, so
//! that recorded or synthetic byte streams can be replayed in unit tests.
//!
//! The line carries `COBS(MARKER, stream, payload…) 0x00` frames, possibly
//! after plain text (boot firmware, a panic before framing started). The
//! demultiplexer:
//!
//! 1. collects bytes up to each `0x00` and classifies the chunk with
//!    [`bulkhead_wire::decode_chunk`];
//! 2. when a chunk is not a frame as a whole, looks for a frame at its end
//!    (plain text followed by a frame with no `0x00` between them), so the
//!    frame is not lost;
//! 3. routes stream 0 to the [`LogDecoder`], stream `n + 1` to cell `n`'s
//!    line buffer, and non-frame bytes to the `raw` line buffer;
//! 4. never holds more than one frame's worth of undelimited bytes: longer
//!    runs cannot be a frame, so their head goes to `raw` at once.

use crate::defmt_log::LogDecoder;
use crate::{PARTITIONER_STREAM, RAW_STREAM};
use bulkhead_wire::{Item, MAX_FRAME};

/// Longest chunk (bytes between two delimiters) that can be a frame.
const MAX_CHUNK: usize = MAX_FRAME - 1;

/// One complete line of one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Stream name: `partitioner`, a cell name, `raw`, or `stream<N>` for a
    /// stream number the config does not name.
    pub stream: String,
    /// The text, without the line ending.
    pub text: String,
}

/// A text stream being assembled into lines.
struct TextStream {
    name: String,
    partial: Vec<u8>,
    /// Bytes arrived since [`Demux::partials`] last looked.
    touched: bool,
}

impl TextStream {
    fn new(name: &str) -> Self {
        TextStream {
            name: name.to_string(),
            partial: Vec::new(),
            touched: false,
        }
    }

    /// The unfinished line as text.
    fn partial_text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.partial).into_owned();
        text.retain(|c| c != '\r');
        text
    }

    /// Appends bytes; pushes every line they complete.
    fn push(&mut self, bytes: &[u8], out: &mut Vec<Line>) {
        self.touched |= !bytes.is_empty();
        for &byte in bytes {
            if byte == b'\n' {
                self.emit(out);
            } else {
                self.partial.push(byte);
            }
        }
    }

    /// Pushes the unfinished line, if any.
    fn flush(&mut self, out: &mut Vec<Line>) {
        if !self.partial.is_empty() {
            self.emit(out);
        }
    }

    fn emit(&mut self, out: &mut Vec<Line>) {
        let text = self.partial_text();
        self.partial.clear();
        out.push(Line {
            stream: self.name.clone(),
            text,
        });
    }
}

/// The demultiplexer: feed it bytes as they arrive, get complete lines.
pub struct Demux {
    /// Undelimited bytes since the last `0x00`.
    pending: Vec<u8>,
    log: LogDecoder,
    /// Cell consoles, in config order (wire stream `index + 1`).
    cells: Vec<TextStream>,
    /// Streams the config does not name, by wire stream number.
    unnamed: Vec<(u8, TextStream)>,
    raw: TextStream,
}

impl Demux {
    /// A demultiplexer for cells named `cells` (in config order) and the
    /// partitioner log decoded by `log`.
    pub fn new(cells: &[String], log: LogDecoder) -> Self {
        Demux {
            pending: Vec::with_capacity(MAX_CHUNK),
            log,
            cells: cells.iter().map(|name| TextStream::new(name)).collect(),
            unnamed: Vec::new(),
            raw: TextStream::new(RAW_STREAM),
        }
    }

    /// The stream names this demultiplexer produces (besides `stream<N>`
    /// for unnamed stream numbers): `partitioner`, the cells, `raw`.
    pub fn stream_names(&self) -> Vec<String> {
        let mut names = vec![PARTITIONER_STREAM.to_string()];
        names.extend(self.cells.iter().map(|cell| cell.name.clone()));
        names.push(RAW_STREAM.to_string());
        names
    }

    /// Feeds bytes read from the line; returns the lines they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Line> {
        let mut out = Vec::new();
        for &byte in bytes {
            if byte == 0 {
                let chunk = std::mem::take(&mut self.pending);
                self.chunk(&chunk, &mut out);
                self.pending = chunk;
                self.pending.clear();
            } else {
                self.pending.push(byte);
                self.release_plain_text(&mut out);
            }
        }
        out
    }

    /// Passes on at once the undelimited bytes that cannot belong to a
    /// frame, so plain text shows up without waiting for a delimiter.
    ///
    /// A frame's first decoded byte is [`bulkhead_wire::MARKER`] and its first COBS
    /// code is at least 2, so a frame starting at `i` has `MARKER` at
    /// `i + 1`. Everything before the first such candidate is plain text;
    /// so is anything more than one frame length back. The last byte is
    /// kept: it may be the code byte of a frame whose marker is next.
    fn release_plain_text(&mut self, out: &mut Vec<Line>) {
        let candidate = self
            .pending
            .iter()
            .skip(1)
            .position(|&byte| byte == bulkhead_wire::MARKER)
            .unwrap_or(self.pending.len() - 1);
        let certain = candidate.max(self.pending.len().saturating_sub(MAX_CHUNK));
        if certain > 0 {
            let head: Vec<u8> = self.pending.drain(..certain).collect();
            self.raw.push(&head, out);
        }
    }

    /// The unfinished line of each cell stream that received bytes since
    /// the last call, as `(stream, text so far)` (empty when its last line
    /// was completed): a shell's prompt and the echo of what is typed,
    /// which an interactive console shows before the line ends.
    pub fn partials(&mut self) -> Vec<(String, String)> {
        self.cells
            .iter_mut()
            .filter_map(|cell| {
                std::mem::take(&mut cell.touched).then(|| (cell.name.clone(), cell.partial_text()))
            })
            .collect()
    }

    /// Ends the stream: undelimited bytes go to `raw`, and every
    /// unfinished line is returned as a line.
    pub fn finish(&mut self) -> Vec<Line> {
        let mut out = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        self.raw.push(&pending, &mut out);
        if let Some(text) = self.log.finish() {
            out.push(Line {
                stream: PARTITIONER_STREAM.to_string(),
                text,
            });
        }
        for cell in &mut self.cells {
            cell.flush(&mut out);
        }
        for (_, stream) in &mut self.unnamed {
            stream.flush(&mut out);
        }
        self.raw.flush(&mut out);
        out
    }

    /// Handles one chunk that ended at a delimiter.
    fn chunk(&mut self, chunk: &[u8], out: &mut Vec<Line>) {
        if chunk.is_empty() {
            return;
        }
        let mut scratch = [0u8; MAX_FRAME];
        if let Item::Frame { stream, payload } = bulkhead_wire::decode_chunk(chunk, &mut scratch) {
            self.frame(stream, payload, out);
            return;
        }
        // Plain text directly followed by a frame: find the longest frame
        // that ends the chunk.
        let first = chunk.len().saturating_sub(MAX_CHUNK);
        for start in first.max(1)..chunk.len() {
            let mut scratch = [0u8; MAX_FRAME];
            if let Item::Frame { stream, payload } =
                bulkhead_wire::decode_chunk(&chunk[start..], &mut scratch)
            {
                self.raw.push(&chunk[..start], out);
                self.frame(stream, payload, out);
                return;
            }
        }
        self.raw.push(chunk, out);
    }

    /// Routes one decoded frame.
    fn frame(&mut self, stream: u8, payload: &[u8], out: &mut Vec<Line>) {
        if stream == bulkhead_wire::LOG_STREAM {
            out.extend(self.log.push(payload).into_iter().map(|text| Line {
                stream: PARTITIONER_STREAM.to_string(),
                text,
            }));
            return;
        }
        let index = usize::from(stream) - 1;
        if let Some(cell) = self.cells.get_mut(index) {
            cell.push(payload, out);
            return;
        }
        let position = match self.unnamed.iter().position(|(n, _)| *n == stream) {
            Some(position) => position,
            None => {
                self.unnamed
                    .push((stream, TextStream::new(&format!("stream{stream}"))));
                self.unnamed.len() - 1
            }
        };
        self.unnamed[position].1.push(payload, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defmt_log::tests::{info_frame, test_table};
    use bulkhead_wire::{cell_stream, encode_frame};

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = [0u8; MAX_FRAME];
        let n = encode_frame(stream, payload, &mut out);
        out[..n].to_vec()
    }

    fn demux() -> Demux {
        Demux::new(
            &["sensor".to_string(), "intruder".to_string()],
            LogDecoder::from_table(test_table()).unwrap(),
        )
    }

    fn line(stream: &str, text: &str) -> Line {
        Line {
            stream: stream.to_string(),
            text: text.to_string(),
        }
    }

    /// Feeds `bytes` in pieces of `piece` bytes, then finishes.
    fn replay(bytes: &[u8], piece: usize) -> Vec<Line> {
        let mut demux = demux();
        let mut lines = Vec::new();
        for part in bytes.chunks(piece) {
            lines.extend(demux.push(part));
        }
        lines.extend(demux.finish());
        lines
    }

    /// A recording: boot firmware text, a log frame, interleaved cell
    /// output where a line spans several frames, and CRLF endings.
    fn recording() -> Vec<u8> {
        let mut bytes = b"U-Boot 2023.01\r\nStarting kernel ...\r\n\0".to_vec();
        bytes.extend(frame(0, &info_frame(1234, 2)));
        bytes.extend(frame(cell_stream(0), b"heart"));
        bytes.extend(frame(cell_stream(1), b"intruder: heartbeat 0\r\n"));
        bytes.extend(frame(cell_stream(0), b"beat 0\r\nheartbeat 1"));
        bytes.extend(frame(cell_stream(0), b"\r\n"));
        bytes
    }

    fn expected() -> Vec<Line> {
        vec![
            line("raw", "U-Boot 2023.01"),
            line("raw", "Starting kernel ..."),
            line("partitioner", "[  0.001234 INFO ] Bulkhead 2 cells"),
            line("intruder", "intruder: heartbeat 0"),
            line("sensor", "heartbeat 0"),
            line("sensor", "heartbeat 1"),
        ]
    }

    #[test]
    fn routes_a_recording_in_one_read() {
        assert_eq!(replay(&recording(), usize::MAX), expected());
    }

    #[test]
    fn frames_split_across_reads_give_the_same_lines() {
        for piece in [1, 2, 3, 7, 64] {
            assert_eq!(replay(&recording(), piece), expected(), "piece {piece}");
        }
    }

    #[test]
    fn text_directly_before_a_frame_keeps_the_frame() {
        let mut bytes = b"early text\r\n".to_vec();
        bytes.extend(frame(cell_stream(1), b"heartbeat\n"));
        assert_eq!(
            replay(&bytes, 5),
            vec![line("raw", "early text"), line("intruder", "heartbeat")]
        );
    }

    #[test]
    fn garbage_is_raw_and_framing_recovers() {
        let mut bytes = vec![0xff, 0x13, 0x37, 0x00, 0x05, 0x01, 0x00];
        bytes.extend(frame(cell_stream(0), b"ok\n"));
        let lines = replay(&bytes, 4);
        let sensor: Vec<&Line> = lines.iter().filter(|l| l.stream == "sensor").collect();
        assert_eq!(sensor, vec![&line("sensor", "ok")]);
        assert!(lines
            .iter()
            .all(|l| l.stream == "sensor" || l.stream == "raw"));
    }

    #[test]
    fn plain_text_is_not_held_back() {
        let mut demux = demux();
        // No delimiter at all: a line comes out as soon as the next byte
        // shows it cannot start a frame.
        assert_eq!(demux.push(b"panic at EL2\r\n"), vec![]);
        assert_eq!(demux.push(b"x"), vec![line("raw", "panic at EL2")]);
        let text = "y".repeat(1000) + "\nz";
        assert_eq!(
            demux.push(text.as_bytes()),
            vec![line("raw", &("x".to_string() + &"y".repeat(1000)))]
        );
    }

    #[test]
    fn text_with_marker_bytes_before_a_frame() {
        // 0xB7 in the plain text: held back until the delimiter, then
        // split correctly.
        let mut bytes = vec![b'a', 0x05, 0xB7, b'b', b'\n'];
        bytes.extend(frame(cell_stream(0), b"heartbeat\n"));
        let lines = replay(&bytes, 1);
        assert_eq!(lines[1], line("sensor", "heartbeat"));
        assert_eq!(lines[0].stream, "raw");
    }

    #[test]
    fn unfinished_lines_come_out_at_the_end() {
        let mut bytes = frame(cell_stream(0), b"no newline");
        bytes.extend(b"tail");
        assert_eq!(
            replay(&bytes, 3),
            vec![line("sensor", "no newline"), line("raw", "tail")]
        );
    }

    #[test]
    fn a_prompt_shows_as_a_partial_line() {
        let mut d = demux();
        assert!(d.partials().is_empty());
        assert!(d.push(&frame(cell_stream(1), b"~ # ")).is_empty());
        assert_eq!(d.partials(), [("intruder".to_string(), "~ # ".to_string())]);
        // Nothing new: nothing to show again.
        assert!(d.partials().is_empty());
        assert_eq!(
            d.push(&frame(cell_stream(1), b"ls\r\n")),
            [line("intruder", "~ # ls")]
        );
        assert_eq!(d.partials(), [("intruder".to_string(), String::new())]);
    }

    #[test]
    fn unknown_stream_numbers_get_their_own_stream() {
        let bytes = frame(cell_stream(5), b"who am I\n");
        assert_eq!(replay(&bytes, 100), vec![line("stream6", "who am I")]);
    }

    #[test]
    fn log_frames_split_across_wire_frames() {
        let log = info_frame(42, 1);
        let mut bytes = frame(0, &log[..4]);
        bytes.extend(frame(cell_stream(0), b"between\n"));
        bytes.extend(frame(0, &log[4..]));
        assert_eq!(
            replay(&bytes, 1),
            vec![
                line("sensor", "between"),
                line("partitioner", "[  0.000042 INFO ] Bulkhead 1 cells"),
            ]
        );
    }

    #[test]
    fn stream_names() {
        assert_eq!(
            demux().stream_names(),
            vec!["partitioner", "sensor", "intruder", "raw"]
        );
    }
}
