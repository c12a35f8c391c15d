//! Debian arm64 packages, fetched and unpacked without installing them:
//! `apt-get download` into `~/.cache/bulkhead/debs/`, `dpkg -x` into
//! `~/.cache/bulkhead/root/<package>/`. Only what a command or test needs is
//! fetched, when it needs it; a package already unpacked costs one
//! `apt-cache` lookup. Later steps reuse [`ensure_package`] for kernels and
//! busybox.
//!
//! Every package [`ensure_package`] hands out is noted with its version, so
//! that a build can say which packages went into its guest images
//! ([`take_used`]; `cargo xtask build` writes them to `packages.txt`).

use crate::process::{find_program, run as run_command, stdout_of};
use crate::setup::cache_dir;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// In an unpacked package's root: the name of the `.deb` it came from.
const SOURCE_MARKER: &str = ".bulkhead-deb";

/// Packages handed out since the last [`take_used`]: name → version.
static USED: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// The packages [`ensure_package`] handed out since the last call, as
/// `name version` lines, sorted; forgets them.
pub fn take_used() -> Vec<String> {
    let mut used = USED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::mem::take(&mut *used)
        .into_iter()
        .map(|(package, version)| format!("{package} {version}"))
        .collect()
}

/// Notes that `package`, unpacked at `root`, went into a build.
fn note_used(package: &str, root: &Path, debs: &Path) -> Result<()> {
    let source = match std::fs::read_to_string(root.join(SOURCE_MARKER)) {
        Ok(name) => Some(name.trim().to_string()),
        // Unpacked before the marker existed: the cached .deb says it.
        Err(_) => find_deb(debs, package)?
            .and_then(|deb| Some(deb.file_name()?.to_string_lossy().into_owned())),
    };
    let version = source
        .as_deref()
        .and_then(|name| version_of_deb(name, package))
        .unwrap_or_else(|| "(version unknown)".to_string());
    USED.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(package.to_string(), version);
    Ok(())
}

/// The version in a `.deb`'s file name: `PACKAGE_VERSION_arm64.deb`, with
/// apt's `%3a` for the epoch's colon.
fn version_of_deb(file_name: &str, package: &str) -> Option<String> {
    let version = file_name
        .strip_prefix(package)?
        .strip_prefix('_')?
        .strip_suffix("_arm64.deb")?;
    Some(version.replace("%3a", ":"))
}

/// The meta package whose dependency is the current generic kernel.
pub const KERNEL_META: &str = "linux-image-arm64";

/// Environment variable through which tests get the kernel's DTB directory.
pub const KERNEL_DTBS_ENV: &str = "BULKHEAD_KERNEL_DTBS";

/// The directory of board DTBs shipped in Debian's arm64 kernel package
/// (`…/root/linux-image-6.1.0-NN-arm64/usr/lib/linux-image-6.1.0-NN-arm64`),
/// fetching and unpacking the package when it is not cached yet.
pub fn ensure_kernel_dtbs() -> Result<PathBuf> {
    let package = resolve_meta(KERNEL_META)?;
    let root = ensure_package(&package)?;
    let lib = root.join("usr/lib");
    let dir = std::fs::read_dir(&lib)
        .with_context(|| format!("{package} unpacked without {}", lib.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("linux-image-"))
                && p.is_dir()
        })
        .with_context(|| format!("{package} has no usr/lib/linux-image-*/ with DTBs"))?;
    Ok(dir)
}

/// Unpacks the arm64 package `package` (a concrete name, not a meta
/// package) into the cache; returns its root. Does nothing when it is
/// already there.
pub fn ensure_package(package: &str) -> Result<PathBuf> {
    let cache = cache_dir()?;
    let root = cache.join("root").join(package);
    let debs = cache.join("debs");
    if root.is_dir() {
        note_used(package, &root, &debs)?;
        return Ok(root);
    }
    std::fs::create_dir_all(&debs).with_context(|| format!("cannot create {}", debs.display()))?;
    let deb = match find_deb(&debs, package)? {
        Some(deb) => deb,
        None => {
            println!("debs: downloading {package}:arm64");
            run_command(
                Command::new("apt-get")
                    .args(["download", "-q"])
                    .arg(format!("{package}:arm64"))
                    .current_dir(&debs),
            )
            .with_context(|| {
                format!(
                    "cannot download {package}:arm64; if apt's lists are stale, run \
                     `apt-get update` (as root) and try again"
                )
            })?;
            find_deb(&debs, package)?.with_context(|| {
                format!(
                    "apt-get download left no {package}_*.deb in {}",
                    debs.display()
                )
            })?
        }
    };
    // Unpack beside the final place, then rename, so an interrupted
    // extraction is never taken for a cached one.
    let partial = cache.join("root").join(format!(".{package}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    println!("debs: unpacking {}", deb.display());
    run_command(Command::new("dpkg").arg("-x").arg(&deb).arg(&partial))
        .with_context(|| format!("cannot unpack {}", deb.display()))?;
    let marker = partial.join(SOURCE_MARKER);
    std::fs::write(
        &marker,
        deb.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .as_bytes(),
    )
    .with_context(|| format!("cannot write {}", marker.display()))?;
    std::fs::rename(&partial, &root)
        .with_context(|| format!("cannot move {} to {}", partial.display(), root.display()))?;
    note_used(package, &root, &debs)?;
    Ok(root)
}

/// `PACKAGE_*_arm64.deb` in `dir`, the newest by name when several are.
fn find_deb(dir: &Path, package: &str) -> Result<Option<PathBuf>> {
    let prefix = format!("{package}_");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with(&prefix) && n.ends_with("_arm64.deb")
            })
        })
        .collect();
    found.sort();
    Ok(found.pop())
}

/// The concrete package a meta package depends on
/// (`linux-image-arm64` → `linux-image-6.1.0-NN-arm64`), enabling the
/// arm64 architecture in apt first when needed.
pub fn resolve_meta(meta: &str) -> Result<String> {
    for tool in ["apt-get", "apt-cache", "dpkg"] {
        if find_program(tool).is_none() {
            bail!(
                "`{tool}` is missing: fetching Debian arm64 packages needs apt and dpkg \
                 (Debian 12)"
            );
        }
    }
    ensure_arm64_architecture()?;
    let depends = |m: &str| -> Result<Option<String>> {
        let text = stdout_of(Command::new("apt-cache").args(["depends", &format!("{m}:arm64")]))
            .unwrap_or_default();
        Ok(text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Depends:"))
            .map(|d| d.trim().trim_end_matches(":arm64").to_string())
            .find(|d| d.starts_with("linux-image-") && d != m))
    };
    if let Some(package) = depends(meta)? {
        return Ok(package);
    }
    // The arm64 lists may never have been fetched.
    apt_update()?;
    depends(meta)?.with_context(|| {
        format!("apt knows no {meta}:arm64 with a linux-image-* dependency after apt-get update")
    })
}

fn is_root() -> bool {
    rustix::process::getuid().is_root()
}

/// `dpkg --add-architecture arm64` (and `apt-get update`) unless arm64 is
/// already a foreign architecture. This only lets apt *download* arm64
/// packages; nothing arm64 is ever installed.
fn ensure_arm64_architecture() -> Result<()> {
    let foreign = stdout_of(Command::new("dpkg").arg("--print-foreign-architectures"))?;
    if foreign.lines().any(|l| l.trim() == "arm64") {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "apt cannot fetch arm64 packages yet. As root, run:\n  \
             dpkg --add-architecture arm64 && apt-get update\nthen run this again"
        );
    }
    run_command(Command::new("dpkg").args(["--add-architecture", "arm64"]))?;
    apt_update()
}

fn apt_update() -> Result<()> {
    if !is_root() {
        bail!("apt's package lists lack arm64 packages; run `apt-get update` as root");
    }
    run_command(
        Command::new("apt-get")
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("apt-get update failed")
}

#[cfg(test)]
mod tests {
    use super::version_of_deb;

    #[test]
    fn versions_come_from_deb_file_names() {
        assert_eq!(
            version_of_deb(
                "busybox-static_1%3a1.35.0-4+deb12u1+b1_arm64.deb",
                "busybox-static"
            )
            .as_deref(),
            Some("1:1.35.0-4+deb12u1+b1")
        );
        assert_eq!(
            version_of_deb(
                "linux-image-6.1.0-56-rt-arm64_6.1.192-2_arm64.deb",
                "linux-image-6.1.0-56-rt-arm64"
            )
            .as_deref(),
            Some("6.1.192-2")
        );
        // Another package whose name starts the same is not this one.
        assert_eq!(version_of_deb("libc6-dev_2.36-9_arm64.deb", "libc6"), None);
    }
}
