//! Provisioning a fresh Debian 12 machine, idempotently: host tools from
//! apt (QEMU from Debian 12's backports, pinned, for its models of real
//! SoCs), the aarch64 Rust target and components from rustup, and the
//! download cache. When everything is there it only looks, in well under a
//! second.

use crate::layout::{Layout, LINUX_TARGET, TARGET};
use crate::process::{find_program, run as run_command, stdout_of};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Host tools: `(executable, Debian package)`. An absolute path names a
/// file that must exist instead of an executable on `PATH`. QEMU is
/// [`QEMU_PACKAGE`], handled apart.
const HOST_TOOLS: &[(&str, &str)] = &[
    ("dtc", "device-tree-compiler"),
    ("cpio", "cpio"),
    ("depmod", "kmod"),
    // The U-Boot system test: the firmware and the boot medium's file system.
    ("/usr/lib/u-boot/qemu_arm64/u-boot.bin", "u-boot-qemu"),
    ("mke2fs", "e2fsprogs"),
];

/// The QEMU the lab is measured with (docs/hil.md): Debian 12's backport
/// of QEMU 10, which models real SoCs (`imx8mp-evk`, `raspi4b`,
/// `xlnx-zcu102`) with EL2 and the GIC's security extensions. Pinned, so
/// that every machine measures with the same emulator.
const QEMU_PACKAGE: &str = "qemu-system-arm";
/// The pinned version of [`QEMU_PACKAGE`].
const QEMU_VERSION: &str = "1:10.0.2+ds-2+deb13u1~bpo12+1";
/// What `qemu-system-aarch64 --version` prints first for [`QEMU_VERSION`].
const QEMU_BANNER: &str = "QEMU emulator version 10.0.2";
/// The Debian suite that has [`QEMU_VERSION`].
const BACKPORTS: &str = "bookworm-backports";
/// Where setup adds the backports source when the machine has none.
const BACKPORTS_SOURCE: &str = "/etc/apt/sources.list.d/bulkhead-backports.sources";

/// Whether the pinned QEMU is the one on `PATH`.
fn qemu_is_pinned() -> bool {
    find_program("qemu-system-aarch64").is_some()
        && stdout_of(Command::new("qemu-system-aarch64").arg("--version"))
            .is_ok_and(|text| text.starts_with(QEMU_BANNER))
}

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

/// The tools [`host_tools`] finds missing, QEMU first when it is not
/// the pinned version.
fn missing_tools() -> Vec<&'static str> {
    let qemu = (!qemu_is_pinned()).then_some("qemu-system-aarch64 10.0.2");
    qemu.into_iter()
        .chain(
            HOST_TOOLS
                .iter()
                .filter(|(tool, _)| !is_installed(tool))
                .map(|(tool, _)| *tool),
        )
        .collect()
}

/// Whether an apt source of the machine already names [`BACKPORTS`].
fn has_backports_source() -> bool {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        files.extend(entries.flatten().map(|entry| entry.path()).filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "list" || ext == "sources")
        }));
    }
    files.iter().any(|file| {
        std::fs::read_to_string(file).is_ok_and(|text| {
            text.lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .any(|line| line.contains(BACKPORTS))
        })
    })
}

/// Adds Debian's backports suite as an apt source (deb822 format, signed
/// by the Debian archive key that every Debian 12 machine has).
fn add_backports_source() -> Result<()> {
    let codename = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VERSION_CODENAME="))
        .map(|name| name.trim_matches('"').to_owned())
        .unwrap_or_default();
    if codename != "bookworm" {
        bail!(
            "QEMU {QEMU_VERSION} comes from {BACKPORTS}, but this machine runs Debian \
             '{codename}', not bookworm (Debian 12); install QEMU 10.0 by other means"
        );
    }
    let source = format!(
        "# Added by Bulkhead's `cargo xtask setup`: QEMU 10 for the emulated lab.\n\
         Types: deb\n\
         URIs: http://deb.debian.org/debian\n\
         Suites: {BACKPORTS}\n\
         Components: main\n\
         Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    );
    std::fs::write(BACKPORTS_SOURCE, source)
        .with_context(|| format!("cannot write {BACKPORTS_SOURCE}"))?;
    println!("setup: added the {BACKPORTS} apt source ({BACKPORTS_SOURCE})");
    Ok(())
}

/// Installs missing host tools with apt (as root); returns what it did.
fn host_tools() -> Result<Option<String>> {
    let missing = missing_tools();
    if missing.is_empty() {
        return Ok(None);
    }
    let qemu = format!("{QEMU_PACKAGE}={QEMU_VERSION}");
    let packages: Vec<&str> = std::iter::once(qemu.as_str())
        .chain(HOST_TOOLS.iter().map(|(_, package)| *package))
        .collect();
    let install = format!("apt-get install -y -t {BACKPORTS} {}", packages.join(" "));
    if !rustix::process::getuid().is_root() {
        bail!(
            "missing host tools: {}.\nAs root, add Debian's {BACKPORTS} suite to apt's sources, \
             then run this again after:\n  sudo apt-get update && sudo {install}",
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
    if !has_backports_source() {
        add_backports_source()?;
    }
    run_command(
        Command::new("apt-get")
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("apt-get update failed")?;
    run_command(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "-t", BACKPORTS])
            .args(&packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("apt-get install failed")?;
    let still = missing_tools();
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
