//! A console that something else already runs: a Unix socket to connect
//! to, such as QEMU's `-chardev socket,path=…,server=on`, or a serial
//! server's. The session reads the same byte stream as from a board's
//! serial port; it neither starts nor stops what is behind the socket.

use super::{Link, Target, TargetProcess};
use crate::HarnessError;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

/// The console at a Unix socket.
#[derive(Clone, Debug)]
pub struct SocketTarget {
    path: PathBuf,
}

impl SocketTarget {
    /// The console served at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SocketTarget { path: path.into() }
    }
}

impl Target for SocketTarget {
    fn describe(&self) -> String {
        format!("socket: {}", self.path.display())
    }

    fn start(&self, run_dir: &Path) -> Result<Link, HarnessError> {
        let stream = UnixStream::connect(&self.path).map_err(|source| HarnessError::Start {
            what: self.describe(),
            source,
            hint: "\nhint: start the target first (for QEMU: -chardev socket,id=c,path=PATH,server=on,wait=off -serial chardev:c)".to_string(),
        })?;
        let _ = std::fs::write(run_dir.join("target.txt"), self.describe() + "\n");
        let input = stream.try_clone().map_err(|source| HarnessError::Io {
            context: format!("cannot duplicate the connection to {}", self.path.display()),
            source,
        })?;
        let closer = stream.try_clone().map_err(|source| HarnessError::Io {
            context: format!("cannot duplicate the connection to {}", self.path.display()),
            source,
        })?;
        Ok(Link {
            console: Box::new(stream),
            input: Some(Box::new(input)),
            process: Box::new(Connection {
                stream: Some(closer),
            }),
        })
    }
}

/// What "stopping" a socket target means: hanging up.
struct Connection {
    stream: Option<UnixStream>,
}

impl TargetProcess for Connection {
    fn kill(&mut self) -> io::Result<()> {
        if let Some(stream) = self.stream.take() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        Ok(())
    }

    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        Ok(None)
    }

    fn reap(&mut self) -> io::Result<()> {
        Ok(())
    }
}
