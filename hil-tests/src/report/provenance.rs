//! Where a report's figures come from: the target, the tools and their
//! versions, the guest packages.

use crate::target::description::{TargetDescription, TargetKind};
use crate::HarnessError;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;

/// Where a report's figures come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The target.
    pub target: TargetInfo,
    /// The Bulkhead config of the lab (a path).
    pub lab_config: Option<String>,
    /// `qemu-system-aarch64 --version`, first line.
    pub qemu_version: Option<String>,
    /// `git describe`-like revision of the tree (`<hash>` plus `-dirty`).
    pub git_revision: Option<String>,
    /// `rustc --version` of the workspace's toolchain.
    #[serde(default)]
    pub rustc_version: Option<String>,
    /// The Debian packages (`name version`) the guest images of the labs
    /// were made from, from their builds' [`PACKAGES_FILE`].
    #[serde(default)]
    pub guest_packages: Vec<String>,
    /// When the report was made (seconds since 1970, UTC).
    pub generated_unix_s: u64,
}

/// In a build directory: the Debian packages (`name version`, one a line)
/// its guest images were made from. `cargo xtask build` writes it when the
/// config boots Linux.
pub const PACKAGES_FILE: &str = "packages.txt";

/// The target, as the report shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Its name.
    pub name: String,
    /// Its file.
    pub file: Option<String>,
    /// `qemu` or `serial`.
    pub kind: String,
    /// Whether ticks are instructions (icount, 1 GHz counter).
    pub deterministic: bool,
    /// The counter frequency, where known.
    pub cntfrq_hz: Option<u64>,
    /// The target's description.
    pub description: Option<String>,
}

impl TargetInfo {
    /// The report's view of a target file.
    pub fn of(target: &TargetDescription) -> Self {
        let cntfrq_hz = match &target.kind {
            TargetKind::Qemu(qemu) => qemu.cntfrq,
            TargetKind::Serial(_) => None,
        };
        TargetInfo {
            name: target.name.clone(),
            file: target.path.as_ref().map(|p| p.display().to_string()),
            kind: target.kind_name().to_string(),
            deterministic: target.is_deterministic(),
            cntfrq_hz,
            description: target.description.clone(),
        }
    }
}

impl Provenance {
    /// Collects the QEMU version (for QEMU targets), the git revision of
    /// `workspace` and the time.
    pub fn collect(workspace: &Path, target: &TargetDescription, lab_config: &Path) -> Self {
        let qemu_version = match &target.kind {
            TargetKind::Qemu(qemu) => first_line_of(Command::new(&qemu.binary).arg("--version")),
            TargetKind::Serial(_) => None,
        };
        let git =
            |args: &[&str]| first_line_of(Command::new("git").current_dir(workspace).args(args));
        let git_revision = git(&["rev-parse", "--short=12", "HEAD"]).map(|hash| {
            let dirty = Command::new("git")
                .current_dir(workspace)
                .args(["status", "--porcelain", "--untracked-files=no"])
                .output()
                .is_ok_and(|out| !out.stdout.is_empty());
            if dirty {
                format!("{hash}-dirty")
            } else {
                hash
            }
        });
        let generated_unix_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Provenance {
            target: TargetInfo::of(target),
            lab_config: Some(lab_config.display().to_string()),
            qemu_version,
            git_revision,
            rustc_version: first_line_of(
                Command::new("rustc")
                    .current_dir(workspace)
                    .arg("--version"),
            ),
            guest_packages: Vec::new(),
            generated_unix_s,
        }
    }

    /// Adds the packages of the build in `build_dir` (its
    /// [`PACKAGES_FILE`]; nothing when it has none: no Linux in it).
    pub fn add_guest_packages(&mut self, build_dir: &Path) -> Result<(), HarnessError> {
        let file = build_dir.join(PACKAGES_FILE);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(HarnessError::Io {
                    context: format!("cannot read {}", file.display()),
                    source,
                })
            }
        };
        let lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        self.guest_packages.extend(lines.map(str::to_string));
        self.guest_packages.sort();
        self.guest_packages.dedup();
        Ok(())
    }
}

fn first_line_of(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().next().map(|line| line.trim().to_string())
}
