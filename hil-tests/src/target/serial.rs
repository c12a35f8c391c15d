//! A real board behind a serial cable: the same byte stream as QEMU's
//! console socket, read from a tty device.
//!
//! `start` opens and configures the port first (raw mode, the given baud
//! rate, reads that time out after 100 ms), so nothing the board prints
//! after its power cycle is missed, then runs the power-cycle command if
//! there is one. `kill` runs the power-off command if there is one; a board
//! never "exits" by itself.

use super::{Link, Target, TargetProcess};
use crate::HarnessError;
use rustix::termios::{self, OptionalActions, SpecialCodeIndex};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// A board on a serial port.
#[derive(Clone, Debug)]
pub struct SerialTarget {
    device: PathBuf,
    baud: u32,
    power_cycle: Option<String>,
    power_off: Option<String>,
}

impl SerialTarget {
    /// The board whose console is `device` (`/dev/ttyUSB0`) at `baud`.
    pub fn new(device: impl Into<PathBuf>, baud: u32) -> Self {
        SerialTarget {
            device: device.into(),
            baud,
            power_cycle: None,
            power_off: None,
        }
    }

    /// A shell command that power-cycles (or resets) the board, run once
    /// the port is open.
    pub fn power_cycle(mut self, command: impl Into<String>) -> Self {
        self.power_cycle = Some(command.into());
        self
    }

    /// A shell command that switches the board off when the session ends.
    pub fn power_off(mut self, command: impl Into<String>) -> Self {
        self.power_off = Some(command.into());
        self
    }

    fn open(&self) -> io::Result<File> {
        let port = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
            .open(&self.device)?;
        let mut settings = termios::tcgetattr(&port)?;
        settings.make_raw();
        settings.set_speed(self.baud)?;
        // A read returns after 100 ms without data (VMIN 0, VTIME 1).
        settings.special_codes[SpecialCodeIndex::VMIN] = 0;
        settings.special_codes[SpecialCodeIndex::VTIME] = 1;
        termios::tcsetattr(&port, OptionalActions::Now, &settings)?;
        termios::tcflush(&port, termios::QueueSelector::IFlush)?;
        Ok(port)
    }
}

/// Runs `command` with `sh -c`; fails unless it succeeds.
fn shell(command: &str) -> io::Result<()> {
    let status = Command::new("sh").arg("-c").arg(command).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("`{command}` failed ({status})")))
    }
}

impl Target for SerialTarget {
    fn describe(&self) -> String {
        format!("serial: {} at {} baud", self.device.display(), self.baud)
    }

    fn start(&self, run_dir: &Path) -> Result<Link, HarnessError> {
        let port = self.open().map_err(|source| HarnessError::Start {
            what: self.describe(),
            hint: format!(
                "\nhint: check that {} exists and that you may open it (group `dialout`)",
                self.device.display()
            ),
            source,
        })?;
        let _ = std::fs::write(run_dir.join("target.txt"), self.describe() + "\n");
        let input = port.try_clone().map_err(|source| HarnessError::Io {
            context: format!("cannot duplicate {}", self.device.display()),
            source,
        })?;
        if let Some(command) = &self.power_cycle {
            shell(command).map_err(|source| HarnessError::Start {
                what: format!("the power cycle of {}", self.describe()),
                source,
                hint: "\nhint: check `power_cycle` in the target file".to_string(),
            })?;
        }
        Ok(Link {
            console: Box::new(SerialConsole { port }),
            input: Some(Box::new(input)),
            process: Box::new(Board {
                power_off: self.power_off.clone(),
            }),
        })
    }
}

/// The port's receive side. A read that times out is reported as
/// `WouldBlock`, not as the end of the stream, so the session keeps
/// reading until it is told to stop.
struct SerialConsole {
    port: File,
}

impl Read for SerialConsole {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.port.read(buf) {
            Ok(0) => Err(io::ErrorKind::WouldBlock.into()),
            // The adapter was unplugged (or, in tests, the pseudo-terminal's
            // other side closed): the stream has ended.
            Err(error) if error.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => {
                Ok(0)
            }
            other => other,
        }
    }
}

/// A running board.
struct Board {
    power_off: Option<String>,
}

impl TargetProcess for Board {
    fn kill(&mut self) -> io::Result<()> {
        match self.power_off.take() {
            Some(command) => shell(&command),
            None => Ok(()),
        }
    }

    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        Ok(None)
    }

    fn reap(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Pattern, Session, SessionOptions};
    use bulkhead_wire::{cell_stream, encode_frame, MAX_FRAME};
    use std::io::Write;
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    /// A pseudo-terminal: the "board" side and the path of the port.
    fn pseudo_terminal() -> (File, PathBuf) {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        let controller: OwnedFd = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&controller).unwrap();
        unlockpt(&controller).unwrap();
        let name = ptsname(&controller, Vec::new()).unwrap();
        let path = PathBuf::from(name.to_str().unwrap());
        (File::from(controller), path)
    }

    #[test]
    fn a_board_on_a_serial_port_goes_through_the_same_session() {
        let (mut board, port) = pseudo_terminal();
        let root = std::env::temp_dir().join(format!("bulkhead-serial-{}", std::process::id()));
        let marker = root.join("powered");
        let target = SerialTarget::new(&port, 115_200)
            .power_cycle(format!("mkdir -p {0} && touch {0}/powered", root.display()));
        let mut session = Session::start(
            &target,
            SessionOptions::new("serial-pty")
                .log_root(&root)
                .cells(vec!["probe".into()])
                .deadline(Duration::from_secs(30)),
        )
        .unwrap();
        assert!(marker.is_file(), "the power-cycle command did not run");

        let mut bytes = b"U-Boot 2023.01\r\n\0".to_vec();
        let mut frame = [0u8; MAX_FRAME];
        let n = encode_frame(cell_stream(0), b"probe: done\r\n", &mut frame);
        bytes.extend_from_slice(&frame[..n]);
        board.write_all(&bytes).unwrap();
        session
            .expect_all(
                [
                    ("raw", Pattern::from("U-Boot 2023.01")),
                    ("probe", Pattern::from("probe: done")),
                ],
                Duration::from_secs(10),
            )
            .unwrap();

        // Host to board.
        session.send(b"version\n").unwrap();
        let mut received = [0u8; 8];
        board.read_exact(&mut received).unwrap();
        assert_eq!(&received, b"version\n");
        assert!(session.try_exit().is_none(), "a board never exits");
        drop(session);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_missing_port_is_a_clear_error() {
        let error = SerialTarget::new("/dev/nonexistent-tty", 115_200)
            .start(&std::env::temp_dir())
            .err()
            .expect("must fail");
        let message = error.to_string();
        assert!(message.contains("/dev/nonexistent-tty"), "{message}");
        assert!(message.contains("dialout"), "{message}");
    }
}
