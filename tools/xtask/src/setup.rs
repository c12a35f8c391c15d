//! Provisioning a fresh Debian 12 machine, idempotently: host tools from
//! apt, the aarch64 Rust target and components from rustup, and the
//! download cache. When everything is there it only looks, in well under a
//! second.

use crate::layout::{Layout, LINUX_TARGET, TARGET};
use crate::process::{find_program, run as run_command, stdout_of};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Host tools: `(executable, Debian package)`. An absolute path names a
/// file that must exist instead of an executable on `PATH`.
const HOST_TOOLS: &[(&str, &str)] = &[
    ("qemu-system-aarch64", "qemu-system-arm"),
    ("dtc", "device-tree-compiler"),
    ("cpio", "cpio"),
    ("depmod", "kmod"),
    // The U-Boot system test: the firmware and the boot medium's file system.
    ("/usr/lib/u-boot/qemu_arm64/u-boot.bin", "u-boot-qemu"),
    ("mke2fs", "e2fsprogs"),
];

/// Whether a [`HOST_TOOLS`] entry is installed.
fn is_installed(tool: &str) -> bool {
    if tool.starts_with('/') {
        std::path::Path::new(tool).is_file()
    } else {
        find_program(tool).is_some()
    }
}

/// Rustup components the checks use.
const COMPONENTS: &[&str] = &["rustfmt", "clippy"];

/// Makes sure everything is installed.
pub fn run(layout: &Layout) -> Result<()> {
    let started = Instant::now();
    let mut did = Vec::new();
    did.extend(host_tools()?);
    did.extend(rust_toolchain(layout)?);
    cache_dir()?;
    if !did.is_empty() {
        println!(
            "setup: {} ({:.1} s)",
            did.join(", "),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// `~/.cache/bulkhead`, where later steps keep downloads (Debian arm64
/// packages for Linux cells, fetched on demand by [`crate::debs`]). Created
/// when missing.
pub fn cache_dir() -> Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    let dir = PathBuf::from(home).join(".cache").join("bulkhead");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Installs missing host tools with apt (as root); returns what it did.
fn host_tools() -> Result<Option<String>> {
    let missing: Vec<&str> = HOST_TOOLS
        .iter()
        .filter(|(tool, _)| !is_installed(tool))
        .map(|(tool, _)| *tool)
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let packages: Vec<&str> = HOST_TOOLS.iter().map(|(_, package)| *package).collect();
    let install = format!("apt-get install -y {}", packages.join(" "));
    if !rustix::process::getuid().is_root() {
        bail!(
            "missing host tools: {}.\nInstall them as root, then run this again:\n  \
             sudo apt-get update && sudo {install}",
            missing.join(", ")
        );
    }
    if find_program("apt-get").is_none() {
        bail!(
            "missing host tools: {}, and there is no apt-get: Bulkhead's setup supports Debian 12; \
             install the equivalents of: {}",
            missing.join(", "),
            packages.join(" ")
        );
    }
    println!(
        "setup: installing {} (missing: {})",
        packages.join(" "),
        missing.join(", ")
    );
    run_command(
        Command::new("apt-get")
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("apt-get update failed")?;
    run_command(
        Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(&packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("apt-get install failed")?;
    let still: Vec<&str> = HOST_TOOLS
        .iter()
        .filter(|(tool, _)| !is_installed(tool))
        .map(|(tool, _)| *tool)
        .collect();
    if !still.is_empty() {
        bail!("still missing after apt-get install: {}", still.join(", "));
    }
    Ok(Some(format!("installed {}", packages.join(" "))))
}

/// Adds the aarch64 targets (bare metal, and Linux for our programs in
/// Linux cells) and the check components when missing.
fn rust_toolchain(layout: &Layout) -> Result<Vec<String>> {
    if find_program("rustup").is_none() {
        // A toolchain without rustup (a distribution's rustc): it has to
        // ship the target already.
        let sysroot = stdout_of(Command::new("rustc").args(["--print", "sysroot"]))?;
        let target_dir = PathBuf::from(sysroot.trim())
            .join("lib/rustlib")
            .join(TARGET);
        if !target_dir.is_dir() {
            bail!(
                "rustup is not installed and this Rust toolchain lacks the {TARGET} target; \
                 install rustup (https://rustup.rs) and run `cargo xtask setup` again"
            );
        }
        return Ok(Vec::new());
    }
    let rustup = |args: &[&str]| {
        let mut command = Command::new("rustup");
        command.args(args).current_dir(&layout.root);
        command
    };
    let mut did = Vec::new();
    let targets = stdout_of(&mut rustup(&["target", "list", "--installed"]))?;
    for target in [TARGET, LINUX_TARGET] {
        if !targets.lines().any(|line| line.trim() == target) {
            run_command(&mut rustup(&["target", "add", target]))?;
            did.push(format!("added target {target}"));
        }
    }
    let components = stdout_of(&mut rustup(&["component", "list", "--installed"]))?;
    for component in COMPONENTS {
        let installed = components
            .lines()
            .any(|line| line == *component || line.starts_with(&format!("{component}-")));
        if !installed {
            run_command(&mut rustup(&["component", "add", component]))?;
            did.push(format!("added component {component}"));
        }
    }
    Ok(did)
}
