//! Typing into a target's consoles: what a person types goes to the
//! selected cell as input frames on that cell's stream (the partitioner
//! hands them to the cell's emulated UART, `bulkhead_wire`), and a few key
//! sequences, all after Ctrl-A, choose the cell or quit. `cargo xtask demo`
//! and `bulkhead console` read the keyboard through [`attach`]; tests type
//! with [`Keyboard::type_into`] (or `Session::type_into`).
//!
//! | keys | what they do |
//! |---|---|
//! | Ctrl-A 1 … Ctrl-A 9 | type into the cell of that number (config order) |
//! | Ctrl-A n | type into the next cell |
//! | Ctrl-A x (or q) | quit |
//! | Ctrl-A Ctrl-A | a Ctrl-A for the cell |
//! | Ctrl-A ? (or h) | show these keys |
//!
//! Everything else, Ctrl-C included, goes to the selected cell: on a
//! terminal the keyboard is read unbuffered and unechoed (the cell's
//! shell echoes), Enter arriving as `\r` as on a serial terminal.

use crate::console::Printer;
use crate::HarnessError;
use bulkhead_wire::{cell_stream, encode_frame, MAX_FRAME};
use std::io::{self, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The key that starts a sequence: Ctrl-A.
pub const PREFIX: u8 = 0x01;

/// Input bytes per frame: well inside what the partitioner's receive
/// FIFO of a cell's console holds (256 bytes).
const CHUNK: usize = 64;

/// The target's serial input, shared by whoever types into it.
#[derive(Clone)]
pub struct Keyboard {
    line: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl Keyboard {
    /// A keyboard writing to `line`, the target's serial input.
    pub fn new(line: Box<dyn Write + Send>) -> Self {
        Keyboard {
            line: Arc::new(Mutex::new(line)),
        }
    }

    /// Sends `bytes` to cell `cell` (index in config order), in input
    /// frames; no bytes sends an empty frame, which only gives the cell
    /// the keyboard (its output then comes as it is written).
    pub fn type_into(&self, cell: usize, bytes: &[u8]) -> Result<(), HarnessError> {
        let stream = u8::try_from(cell)
            .ok()
            .filter(|&c| c < u8::MAX)
            .map(|c| cell_stream(c.into()))
            .ok_or_else(|| send_error(io::Error::other("no such cell")))?;
        let mut frames = Vec::new();
        let mut frame = [0u8; MAX_FRAME];
        let chunks: Vec<&[u8]> = if bytes.is_empty() {
            vec![&[]]
        } else {
            bytes.chunks(CHUNK).collect()
        };
        for chunk in chunks {
            let n = encode_frame(stream, chunk, &mut frame);
            frames.extend_from_slice(&frame[..n]);
        }
        self.send_raw(&frames)
    }

    /// Sends bytes as they are.
    pub fn send_raw(&self, bytes: &[u8]) -> Result<(), HarnessError> {
        let mut line = self.line.lock().unwrap_or_else(PoisonError::into_inner);
        line.write_all(bytes)
            .and_then(|()| line.flush())
            .map_err(send_error)
    }
}

fn send_error(source: io::Error) -> HarnessError {
    HarnessError::Io {
        context: "cannot send to the target".to_string(),
        source,
    }
}

/// What a key does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Type this byte into the selected cell.
    Type(u8),
    /// Select cell `n` (index in config order).
    Select(usize),
    /// Show the keys.
    Help,
    /// Quit.
    Quit,
}

/// The key sequences: bytes in, [`Action`]s out.
#[derive(Debug, Default)]
pub struct KeyMap {
    cells: usize,
    selected: usize,
    after_prefix: bool,
}

impl KeyMap {
    /// A key map for `cells` cells, the first one selected.
    pub fn new(cells: usize) -> Self {
        KeyMap {
            cells,
            ..KeyMap::default()
        }
    }

    /// The selected cell.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// Takes one byte from the keyboard.
    pub fn key(&mut self, byte: u8) -> Option<Action> {
        if !std::mem::take(&mut self.after_prefix) {
            if byte == PREFIX {
                self.after_prefix = true;
                return None;
            }
            return Some(Action::Type(byte));
        }
        // A cell there is not: the keys are shown instead.
        let select = |map: &mut KeyMap, n: usize| {
            if n < map.cells {
                map.selected = n;
                Some(Action::Select(n))
            } else {
                Some(Action::Help)
            }
        };
        match byte {
            PREFIX => Some(Action::Type(PREFIX)),
            b'1'..=b'9' => select(self, usize::from(byte - b'1')),
            b'n' | b'\t' if self.cells > 0 => select(self, (self.selected + 1) % self.cells),
            b'x' | b'q' | b'X' | b'Q' => Some(Action::Quit),
            _ => Some(Action::Help),
        }
    }
}

/// The keys, as [`Action::Help`] shows them.
pub fn help(cells: &[String]) -> String {
    let numbers: Vec<String> = cells
        .iter()
        .enumerate()
        .take(9)
        .map(|(n, cell)| format!("{} {cell}", n + 1))
        .collect();
    format!(
        "keys: Ctrl-A then a number chooses the cell you type into ({}); Ctrl-A n the next; Ctrl-A x quits; Ctrl-A Ctrl-A types a Ctrl-A",
        numbers.join(", ")
    )
}

/// The terminal's settings before [`attach`] changed them, put back when
/// dropped.
pub struct TerminalGuard {
    saved: Option<rustix::termios::Termios>,
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                io::stdin(),
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
    }
}

/// Reads the keyboard (standard input) on a thread of its own and types
/// what it reads into the selected cell through `keyboard`; `printer` is
/// told the selected cell (its unfinished lines are shown) and shows the
/// notes; Ctrl-A x sets `quit`. On a terminal, input is read unbuffered
/// and unechoed until the returned guard is dropped; from a pipe, as it
/// comes (the same key sequences work), and its end only ends the typing.
pub fn attach(
    keyboard: Keyboard,
    cells: &[String],
    printer: Arc<Mutex<Printer>>,
    quit: Arc<AtomicBool>,
) -> TerminalGuard {
    let stdin = io::stdin();
    let saved = stdin.is_terminal().then(|| unbuffered(&stdin)).flatten();
    let cells = cells.to_vec();
    let note = |printer: &Arc<Mutex<Printer>>, text: &str| {
        printer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .note(text)
    };
    let mut map = KeyMap::new(cells.len());
    if let Some(first) = cells.first() {
        printer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set_focus(first);
        note(
            &printer,
            &format!("typing goes to {first}; {}", help(&cells)),
        );
    }
    let spawned = std::thread::Builder::new()
        .name("keyboard".to_string())
        .spawn(move || {
            let mut buffer = [0u8; 256];
            let mut stdin = io::stdin().lock();
            loop {
                let n = match stdin.read(&mut buffer) {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
                let mut typed = Vec::new();
                for &byte in &buffer[..n] {
                    match map.key(byte) {
                        None => {}
                        Some(Action::Type(byte)) => typed.push(byte),
                        Some(action) => {
                            let _ = keyboard.type_into(map.selected(), &std::mem::take(&mut typed));
                            match action {
                                Action::Select(cell) => {
                                    printer
                                        .lock()
                                        .unwrap_or_else(PoisonError::into_inner)
                                        .set_focus(&cells[cell]);
                                    note(&printer, &format!("typing goes to {}", cells[cell]));
                                    // Gives the cell the keyboard: its
                                    // prompt shows at once.
                                    let _ = keyboard.type_into(cell, &[]);
                                }
                                Action::Help => note(&printer, &help(&cells)),
                                Action::Quit => {
                                    quit.store(true, Ordering::SeqCst);
                                    return;
                                }
                                Action::Type(_) => {}
                            }
                        }
                    }
                }
                if !typed.is_empty() && keyboard.type_into(map.selected(), &typed).is_err() {
                    return;
                }
            }
        });
    if spawned.is_err() {
        eprintln!("console: cannot start the keyboard reader; typing is off");
    }
    TerminalGuard { saved }
}

/// Puts the terminal on standard input in unbuffered, unechoed mode
/// with no signal keys (Ctrl-C goes to the cell), output processing kept;
/// returns the settings to restore.
fn unbuffered(stdin: &io::Stdin) -> Option<rustix::termios::Termios> {
    use rustix::termios::{self, InputModes, LocalModes, OptionalActions, SpecialCodeIndex};
    let saved = termios::tcgetattr(stdin).ok()?;
    let mut raw = saved.clone();
    raw.local_modes
        .remove(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG | LocalModes::IEXTEN);
    raw.input_modes
        .remove(InputModes::IXON | InputModes::ICRNL | InputModes::INLCR | InputModes::IGNCR);
    raw.special_codes[SpecialCodeIndex::VMIN] = 1;
    raw.special_codes[SpecialCodeIndex::VTIME] = 0;
    termios::tcsetattr(stdin, OptionalActions::Now, &raw).ok()?;
    Some(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(map: &mut KeyMap, bytes: &[u8]) -> Vec<Action> {
        bytes.iter().filter_map(|&b| map.key(b)).collect()
    }

    #[test]
    fn sequences_choose_cells_and_quit() {
        let mut map = KeyMap::new(2);
        assert_eq!(
            keys(&mut map, b"ls\r"),
            [b'l', b's', b'\r'].map(Action::Type)
        );
        assert_eq!(keys(&mut map, b"\x012"), [Action::Select(1)]);
        assert_eq!(map.selected(), 1);
        // No third cell: nothing changes, the keys are shown.
        assert_eq!(keys(&mut map, b"\x013"), [Action::Help]);
        assert_eq!(map.selected(), 1);
        assert_eq!(keys(&mut map, b"\x01n"), [Action::Select(0)]);
        assert_eq!(
            keys(&mut map, b"\x01\x01\x03"),
            [Action::Type(1), Action::Type(3)]
        );
        assert_eq!(keys(&mut map, b"\x01x"), [Action::Quit]);
    }

    #[test]
    fn input_travels_in_frames_of_the_cells_stream() {
        struct Line(Arc<Mutex<Vec<u8>>>);
        impl Write for Line {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let sent = Arc::new(Mutex::new(Vec::new()));
        let keyboard = Keyboard::new(Box::new(Line(Arc::clone(&sent))));
        let text = [b'y'; 100];
        keyboard.type_into(1, &text).unwrap();
        keyboard.type_into(0, &[]).unwrap();
        let mut reader = bulkhead_wire::FrameReader::new();
        let frames: Vec<(u8, Vec<u8>)> = sent
            .lock()
            .unwrap()
            .iter()
            .filter_map(|&b| reader.push(b).map(|(s, p)| (s, p.to_vec())))
            .collect();
        assert_eq!(
            frames,
            [
                (2, vec![b'y'; CHUNK]),
                (2, vec![b'y'; 100 - CHUNK]),
                (1, Vec::new())
            ]
        );
    }
}
