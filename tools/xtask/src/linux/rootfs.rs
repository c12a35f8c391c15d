//! A root file system, built as a directory tree and packed reproducibly
//! (the same inputs always give the same bytes): into a cpio archive for an
//! initramfs, or into an ext4 image (see [`super::ext4`]) for a disk. File
//! order, owners, modes and timestamps are fixed.
//!
//! Programs come from unpacked Debian packages. A dynamically linked one is
//! copied with its program interpreter and every shared library it needs
//! (read from its `PT_INTERP` and `DT_NEEDED` entries, recursively), each
//! at the path its package puts it, symbolic links included. Nothing is
//! ever installed on the host.

use super::elf;
use crate::process::run as run_command;
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

/// Directories every root gets: mount points and scratch space.
const BASE_DIRECTORIES: &[&str] = &["bin", "dev", "proc", "sys", "tmp"];

/// Where the dynamic loader looks for libraries when there is no
/// `ld.so.cache` (glibc's built-in list on Debian arm64), in its order.
const LIBRARY_DIRECTORIES: &[&str] = &[
    "lib/aarch64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "lib",
    "usr/lib",
];

/// How many symbolic links in a row are followed before giving up.
const MAX_LINK_DEPTH: usize = 8;

/// A root file system being built in a directory.
pub struct Rootfs {
    dir: PathBuf,
}

impl Rootfs {
    /// An empty tree at `dir` (whatever was there is removed) with the
    /// base directories and busybox as `/bin/busybox`. An init script
    /// installs busybox's applets itself at boot; a container's root gets
    /// the few it needs as links ([`Rootfs::symlink`]).
    pub fn new(dir: &Path, busybox: &Path) -> Result<Self> {
        match std::fs::remove_dir_all(dir) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(error).with_context(|| format!("cannot empty {}", dir.display()))
            }
            _ => {}
        }
        for base in BASE_DIRECTORIES {
            let path = dir.join(base);
            std::fs::create_dir_all(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
        }
        let rootfs = Rootfs {
            dir: dir.to_path_buf(),
        };
        rootfs.copy_file(busybox, "bin/busybox")?;
        Ok(rootfs)
    }

    /// The directory the tree is built in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the directory `path` (relative to the root) and its parents.
    pub fn create_dir(&self, path: &str) -> Result<()> {
        let dir = self.dir.join(path);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))
    }

    /// Copies the host file `from` to `path` (relative to the root).
    pub fn copy_file(&self, from: &Path, path: &str) -> Result<()> {
        let to = self.dir.join(path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::copy(from, &to)
            .map(|_| ())
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
    }

    /// Creates the symbolic link `path` (relative to the root) to `target`.
    pub fn symlink(&self, path: &str, target: &str) -> Result<()> {
        let link = self.dir.join(path);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::os::unix::fs::symlink(target, &link)
            .with_context(|| format!("cannot create the link {}", link.display()))
    }

    /// Writes `contents` to `path` (relative to the root), not executable.
    pub fn write_file(&self, path: &str, contents: &str) -> Result<()> {
        let file = self.dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&file, contents).with_context(|| format!("cannot write {}", file.display()))
    }

    /// Writes `contents` to `path` (relative to the root), executable.
    pub fn write_executable(&self, path: &str, contents: &str) -> Result<()> {
        self.write_file(path, contents)?;
        let file = self.dir.join(path);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", file.display()))
    }

    /// Copies the program at `path` of the unpacked package `package_root`
    /// to the same path in this root, with its interpreter and the shared
    /// libraries it needs, found in `library_roots` (unpacked packages,
    /// searched in order). Returns the libraries' paths in the root.
    pub fn add_program(
        &self,
        package_root: &Path,
        path: &str,
        library_roots: &[PathBuf],
    ) -> Result<Vec<String>> {
        let program = self.copy_from(package_root, Path::new(path), 0)?;
        let mut added = Vec::new();
        let mut seen = BTreeSet::new();
        let mut pending = vec![package_root.join(program)];
        while let Some(binary) = pending.pop() {
            let bytes = std::fs::read(&binary)
                .with_context(|| format!("cannot read {}", binary.display()))?;
            let linkage = elf::Linkage::parse(&bytes)
                .with_context(|| format!("cannot read the ELF linkage of {}", binary.display()))?;
            let mut wanted = Vec::new();
            if let Some(interpreter) = &linkage.interpreter {
                let found = locate(library_roots, &[""], interpreter.trim_start_matches('/'))
                    .with_context(|| {
                        format!(
                            "{} asks for the interpreter {interpreter}, which none of the \
                             packages {} has",
                            binary.display(),
                            roots_list(library_roots)
                        )
                    })?;
                wanted.push(found);
            }
            for soname in &linkage.needed {
                let found =
                    locate(library_roots, LIBRARY_DIRECTORIES, soname).with_context(|| {
                        format!(
                            "{} needs {soname}, which none of the packages {} has; add the \
                         package that ships it to the initramfs's library packages",
                            binary.display(),
                            roots_list(library_roots)
                        )
                    })?;
                wanted.push(found);
            }
            for (root, relative) in wanted {
                if !seen.insert(root.join(&relative)) {
                    continue;
                }
                let real = self.copy_from(root, &relative, 0)?;
                added.push(format!("/{}", relative.display()));
                pending.push(root.join(real));
            }
        }
        added.sort();
        Ok(added)
    }

    /// Copies `relative` from `root` to the same place here. A symbolic
    /// link is recreated as it is and its target copied too (resolved
    /// inside `root`). Returns the path of the regular file it ends at.
    fn copy_from(&self, root: &Path, relative: &Path, depth: usize) -> Result<PathBuf> {
        if depth > MAX_LINK_DEPTH {
            bail!(
                "too many symbolic links at {}",
                root.join(relative).display()
            );
        }
        let source = root.join(relative);
        let destination = self.dir.join(relative);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let meta = std::fs::symlink_metadata(&source)
            .with_context(|| format!("cannot read {}", source.display()))?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&source)
                .with_context(|| format!("cannot read the link {}", source.display()))?;
            let resolved = match target.strip_prefix("/") {
                Ok(absolute) => normalize(absolute),
                Err(_) => normalize(&relative.parent().unwrap_or(Path::new("")).join(&target)),
            }
            .with_context(|| {
                format!(
                    "{} points outside its package ({})",
                    source.display(),
                    target.display()
                )
            })?;
            if !exists(&destination) {
                std::os::unix::fs::symlink(&target, &destination)
                    .with_context(|| format!("cannot create the link {}", destination.display()))?;
            }
            return self.copy_from(root, &resolved, depth + 1);
        }
        if !meta.is_file() {
            bail!("{} is not a regular file", source.display());
        }
        std::fs::copy(&source, &destination).with_context(|| {
            format!(
                "cannot copy {} to {}",
                source.display(),
                destination.display()
            )
        })?;
        Ok(relative.to_path_buf())
    }

    /// Fixes what the archive or image would otherwise take from the host:
    /// modes (see [`normalize_modes`]) and every timestamp, set to
    /// `epoch` (seconds since 1970).
    pub fn normalize(&self, epoch: u64) -> Result<()> {
        normalize_modes(&self.dir)?;
        run_command(
            Command::new("find")
                .arg(".")
                .args(["-exec", "touch", "-h", "-d"])
                .arg(format!("@{epoch}"))
                .args(["{}", "+"])
                .current_dir(&self.dir),
        )
        .context("cannot reset timestamps in the rootfs")
    }

    /// Packs the tree into `out`: `find | sort | cpio -H newc | gzip -n`,
    /// owned by root, with normalized modes and timestamps set to 0.
    pub fn pack(&self, out: &Path) -> Result<()> {
        self.normalize(0)?;
        let script = format!(
            "find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --reproducible --quiet | gzip -n -9 > '{}'",
            out.display()
        );
        let status = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .status()
            .context("cannot run cpio")?;
        if !status.success() {
            bail!(
                "building {} failed ({status}); is cpio installed? (cargo xtask setup)",
                out.display()
            );
        }
        Ok(())
    }
}

/// Whether `path` exists, as a file, a directory or a (even dangling) link.
fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// The first of `roots` that has `name` in one of `directories` (tried in
/// order), and its path there relative to that root.
fn locate<'a>(
    roots: &'a [PathBuf],
    directories: &[&str],
    name: &str,
) -> Option<(&'a PathBuf, PathBuf)> {
    roots.iter().find_map(|root| {
        directories
            .iter()
            .map(|directory| Path::new(directory).join(name))
            .find(|relative| exists(&root.join(relative)))
            .map(|relative| (root, relative))
    })
}

fn roots_list(roots: &[PathBuf]) -> String {
    roots
        .iter()
        .filter_map(|r| r.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a/b/../c` → `a/c`, without touching the file system; `None` when the
/// path climbs above its start.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Directories 0755 (`/tmp` 1777), files 0755 when any execute bit is set
/// and 0644 otherwise, so the archive does not depend on the umask or on
/// the modes in the packages.
fn normalize_modes(dir: &Path) -> Result<()> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)
            .with_context(|| format!("cannot read {}", current.display()))?
        {
            let path = entry?.path();
            let meta = std::fs::symlink_metadata(&path)?;
            let mode = if meta.is_dir() {
                pending.push(path.clone());
                if path == dir.join("tmp") {
                    0o1777
                } else {
                    0o755
                }
            } else if meta.is_file() {
                if meta.permissions().mode() & 0o111 != 0 {
                    0o755
                } else {
                    0o644
                }
            } else {
                continue;
            };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot set the mode of {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use std::path::{Path, PathBuf};

    #[test]
    fn links_resolve_inside_the_package() {
        assert_eq!(
            normalize(Path::new("lib/aarch64-linux-gnu/../ld.so")),
            Some(PathBuf::from("lib/ld.so"))
        );
        assert_eq!(normalize(Path::new("lib/../../etc/passwd")), None);
    }
}
