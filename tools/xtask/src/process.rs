//! Running tools: echo the command, fail with a message that says which
//! tool is missing or which step failed.

use anyhow::{bail, Context, Result};
use std::ffi::OsStr;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A `cargo` command in the workspace, with the same cargo that runs xtask.
pub fn cargo(root: &std::path::Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root);
    command
}

/// The command as one line (the program by its file name).
pub fn display(command: &Command) -> String {
    let program = command.get_program();
    let program = std::path::Path::new(program).file_name().unwrap_or(program);
    std::iter::once(program)
        .chain(command.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` with inherited stdio; fails when it does not succeed.
pub fn run(command: &mut Command) -> Result<()> {
    let line = display(command);
    println!("$ {line}");
    let status = command
        .status()
        .map_err(|error| missing_tool(command, error))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs `command` and captures its output; fails when it cannot start.
pub fn output(command: &mut Command) -> Result<Output> {
    command
        .output()
        .map_err(|error| missing_tool(command, error))
}

fn missing_tool(command: &Command, error: std::io::Error) -> anyhow::Error {
    let program = command.get_program().to_string_lossy().into_owned();
    if error.kind() == ErrorKind::NotFound {
        anyhow::anyhow!("`{program}` is not installed or not on PATH; `cargo xtask setup` installs what Bulkhead needs")
    } else {
        anyhow::Error::new(error).context(format!("cannot run `{program}`"))
    }
}

/// Finds an executable on `PATH`, or in the sbin directories where Debian
/// keeps tools such as `depmod` for root.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Stdout of a successful command, as text.
pub fn stdout_of(command: &mut Command) -> Result<String> {
    let line = display(command);
    let result = output(command)?;
    if !result.status.success() {
        bail!(
            "`{line}` failed ({}): {}",
            result.status,
            String::from_utf8_lossy(&result.stderr).trim()
        );
    }
    String::from_utf8(result.stdout).with_context(|| format!("`{line}` printed non-UTF-8"))
}
