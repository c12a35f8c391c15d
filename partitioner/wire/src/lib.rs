//! Console multiplexing: how the partitioner log and every cell's console
//! share one physical UART without interleaving bytes.
//!
//! Each chunk of output travels as one frame:
//!
//! ```text
//!   COBS( MARKER, stream, payload… ) 0x00
//! ```
//!
//! COBS (consistent overhead byte stuffing) removes every zero byte from the
//! frame, so `0x00` only ever ends a frame and a reader can resynchronise
//! after any garbage. [`MARKER`] tells Bulkhead frames from plain text that
//! may precede them on the line (a bootloader's messages, for instance).
//! Stream [`LOG_STREAM`] carries the partitioner's `defmt` log; stream
//! `n + 1` carries cell `n`'s console.
//!
//! The host sends what a person types the same way: a frame on stream
//! `n + 1` is input for cell `n`'s console, and tells the partitioner that
//! cell `n` now has the keyboard, so that its output is sent as it comes
//! rather than a line at a time (a shell's prompt and echo have no line
//! end). The partitioner reads them with a [`FrameReader`].
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

/// First decoded byte of every frame.
pub const MARKER: u8 = 0xB7;
/// Stream number of the partitioner's own log.
pub const LOG_STREAM: u8 = 0;
/// Largest payload one frame carries; longer output is split.
pub const MAX_PAYLOAD: usize = 250;
/// Largest encoded frame, delimiter included.
pub const MAX_FRAME: usize = MAX_PAYLOAD + 2 + 2 + 1;

/// Stream number of cell `index`'s console.
pub const fn cell_stream(index: usize) -> u8 {
    (index + 1) as u8
}

/// Encodes one frame into `out` and returns its length (delimiter
/// included). `payload` longer than [`MAX_PAYLOAD`] is cut; callers split.
pub fn encode_frame(stream: u8, payload: &[u8], out: &mut [u8; MAX_FRAME]) -> usize {
    let payload = &payload[..payload.len().min(MAX_PAYLOAD)];
    // With at most 252 decoded bytes there is a single COBS block, so the
    // encoding is: code byte, then the bytes with each zero replaced by the
    // distance to the next zero (or to the end).
    let mut len = 1;
    let mut code_at = 0;
    let mut code = 1u8;
    let header = [MARKER, stream];
    for &byte in header.iter().chain(payload) {
        if byte == 0 {
            out[code_at] = code;
            code_at = len;
            len += 1;
            code = 1;
        } else {
            out[len] = byte;
            len += 1;
            code += 1;
        }
    }
    out[code_at] = code;
    out[len] = 0;
    len + 1
}

/// One unit the host reads off the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A Bulkhead frame.
    Frame {
        /// Stream number.
        stream: u8,
        /// The payload.
        payload: &'a [u8],
    },
    /// Bytes that were not a frame (boot firmware output, line noise).
    Raw(&'a [u8]),
}

/// Decodes zero-free COBS `src` into `dst`. Returns the decoded length, or
/// `None` when `src` is not valid COBS or does not fit.
fn cobs_decode(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    let mut read = 0;
    let mut write = 0;
    while read < src.len() {
        let code = src[read] as usize;
        if code == 0 || read + code > src.len() {
            return None;
        }
        read += 1;
        let block = &src[read..read + code - 1];
        dst.get_mut(write..write + block.len())?
            .copy_from_slice(block);
        write += block.len();
        read += block.len();
        if code < 0xff && read < src.len() {
            *dst.get_mut(write)? = 0;
            write += 1;
        }
    }
    Some(write)
}

/// Classifies one chunk read up to (not including) a `0x00` delimiter,
/// decoding a frame into `scratch`.
pub fn decode_chunk<'a>(chunk: &'a [u8], scratch: &'a mut [u8; MAX_FRAME]) -> Item<'a> {
    match cobs_decode(chunk, scratch) {
        Some(n) if n >= 2 && scratch[0] == MARKER => Item::Frame {
            stream: scratch[1],
            payload: &scratch[2..n],
        },
        _ => Item::Raw(chunk),
    }
}

/// Collects bytes as they arrive, one at a time, into frames: the
/// receiving half of the line for a side that cannot hold a whole
/// stream (the partitioner reading the host's input). No allocation.
pub struct FrameReader {
    chunk: [u8; MAX_FRAME],
    len: usize,
    /// The current chunk outgrew any frame: skip to the next delimiter.
    overflowed: bool,
    scratch: [u8; MAX_FRAME],
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameReader {
    /// A reader waiting for its first delimiter-ended chunk.
    pub const fn new() -> Self {
        FrameReader {
            chunk: [0; MAX_FRAME],
            len: 0,
            overflowed: false,
            scratch: [0; MAX_FRAME],
        }
    }

    /// Takes one byte; returns the frame it completes as `(stream,
    /// payload)`. Chunks that are not frames (line noise, plain text, a
    /// chunk longer than any frame) are dropped whole.
    pub fn push(&mut self, byte: u8) -> Option<(u8, &[u8])> {
        if byte != 0 {
            match self.chunk.get_mut(self.len) {
                Some(slot) if !self.overflowed => {
                    *slot = byte;
                    self.len += 1;
                }
                _ => self.overflowed = true,
            }
            return None;
        }
        let len = core::mem::take(&mut self.len);
        if core::mem::take(&mut self.overflowed) {
            return None;
        }
        match decode_chunk(&self.chunk[..len], &mut self.scratch) {
            Item::Frame { stream, payload } => Some((stream, payload)),
            Item::Raw(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(stream: u8, payload: &[u8]) {
        let mut out = [0u8; MAX_FRAME];
        let n = encode_frame(stream, payload, &mut out);
        assert_eq!(out[n - 1], 0);
        assert!(
            !out[..n - 1].contains(&0),
            "frame body has a zero: {:?}",
            &out[..n]
        );
        let mut scratch = [0u8; MAX_FRAME];
        assert_eq!(
            decode_chunk(&out[..n - 1], &mut scratch),
            Item::Frame { stream, payload }
        );
    }

    #[test]
    fn frames_round_trip() {
        round_trip(0, b"");
        round_trip(3, b"hello\n");
        round_trip(1, &[0, 0, 0]);
        round_trip(0, &[0xff; MAX_PAYLOAD]);
        let mixed: std::vec::Vec<u8> = (0..MAX_PAYLOAD).map(|i| (i % 7) as u8).collect();
        round_trip(2, &mixed);
    }

    #[test]
    fn plain_text_is_raw() {
        let text = b"U-Boot 2023.01 (Jan 01 2023)\r\n";
        let mut scratch = [0u8; MAX_FRAME];
        assert_eq!(decode_chunk(text, &mut scratch), Item::Raw(&text[..]));
    }

    /// Feeds `bytes` to `reader`; the frames they complete.
    fn read_all(reader: &mut FrameReader, bytes: &[u8]) -> std::vec::Vec<(u8, std::vec::Vec<u8>)> {
        bytes
            .iter()
            .filter_map(|&b| reader.push(b).map(|(s, p)| (s, p.to_vec())))
            .collect()
    }

    #[test]
    fn reader_finds_frames_between_noise() {
        let mut line = std::vec::Vec::new();
        let mut out = [0u8; MAX_FRAME];
        line.extend_from_slice(b"noise\0");
        let n = encode_frame(2, b"ls -l\r", &mut out);
        line.extend_from_slice(&out[..n]);
        // Longer than any frame: dropped, and the next frame still found.
        line.extend_from_slice(&[b'x'; 2 * MAX_FRAME]);
        line.push(0);
        let n = encode_frame(1, &[0, 3, 0], &mut out);
        line.extend_from_slice(&out[..n]);
        let mut reader = FrameReader::new();
        assert_eq!(
            read_all(&mut reader, &line),
            [(2, b"ls -l\r".to_vec()), (1, vec![0, 3, 0])]
        );
        // A frame split across two reads.
        let n = encode_frame(3, b"abc", &mut out);
        assert!(read_all(&mut reader, &out[..2]).is_empty());
        assert_eq!(read_all(&mut reader, &out[2..n]), [(3, b"abc".to_vec())]);
    }

    #[test]
    fn long_payload_is_cut() {
        let mut out = [0u8; MAX_FRAME];
        let n = encode_frame(1, &[b'x'; 400], &mut out);
        let mut scratch = [0u8; MAX_FRAME];
        match decode_chunk(&out[..n - 1], &mut scratch) {
            Item::Frame { payload, .. } => assert_eq!(payload.len(), MAX_PAYLOAD),
            other => panic!("{other:?}"),
        }
    }
}
