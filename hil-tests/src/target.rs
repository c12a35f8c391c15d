//! Where console bytes come from: something that boots a Bulkhead image and
//! exposes its one serial line.
//!
//! [`QemuTarget`] is the emulated board. [`SerialTarget`] is a real board
//! (a gateway on `/dev/ttyUSB0`, powered through a relay or reset by its
//! debug probe) behind the same trait: `start` opens the serial port with a
//! read timeout and power-cycles the board, and its [`TargetProcess`] maps
//! `kill` to "power off". Both hand the session one byte stream.
//! [`SocketTarget`] is a console something else runs, at a Unix socket.
//! [`description`] reads either from a YAML target file.

pub mod description;
pub mod qemu;
mod serial;
mod socket;

pub use description::TargetDescription;
pub use qemu::QemuTarget;
pub use serial::SerialTarget;
pub use socket::SocketTarget;

use crate::HarnessError;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitStatus;

/// Something that can boot and hand over its console.
pub trait Target {
    /// A one-line description for messages ("QEMU virt: qemu-system-aarch64 …").
    fn describe(&self) -> String;

    /// Boots the target. `run_dir` is the run's log directory, for the
    /// target's own logs (QEMU's stderr, the command line).
    fn start(&self, run_dir: &Path) -> Result<Link, HarnessError>;
}

/// A started target.
pub struct Link {
    /// The serial line, target to host. A read returning 0 means the
    /// target is gone.
    pub console: Box<dyn Read + Send>,
    /// The serial line, host to target, where there is one.
    pub input: Option<Box<dyn Write + Send>>,
    /// Control over the running target.
    pub process: Box<dyn TargetProcess>,
}

/// Control over a running target.
pub trait TargetProcess: Send {
    /// Stops the target at once (kill QEMU, cut a board's power). Stopping
    /// a target that already stopped is not an error.
    fn kill(&mut self) -> io::Result<()>;

    /// The exit status, if the target has stopped by itself.
    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>>;

    /// Waits for the target to be gone after [`kill`](Self::kill), so that
    /// nothing is left running.
    fn reap(&mut self) -> io::Result<()>;
}
