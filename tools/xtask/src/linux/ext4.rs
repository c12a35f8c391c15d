//! ext4 disk images made from a [`Rootfs`] tree with `mke2fs -d`
//! (e2fsprogs), reproducibly: the same tree always gives the same bytes.
//!
//! What would otherwise vary, and how it is fixed:
//! - the file system's features and geometry: mke2fs reads our own
//!   [`MKE2FS_CONF`] (through `MKE2FS_CONFIG`), not the host's
//!   `/etc/mke2fs.conf`;
//! - the UUID and the directory hash seed: `-U` and `-E hash_seed=`, both
//!   the image's fixed UUID;
//! - the superblock's times and each inode's creation time: `EPOCH`,
//!   through `E2FSPROGS_FAKE_TIME` (e2fsprogs 1.47.0, Debian 12) and
//!   `SOURCE_DATE_EPOCH` (the name later e2fsprogs releases read);
//! - the file order: mke2fs 1.47 adds each directory's entries sorted;
//! - modes: normalized in the tree first (see [`Rootfs::normalize`]);
//! - owners and the access, change and modification times, which
//!   `mke2fs -d` copies from the tree (a change time cannot be set on the
//!   host, and reading a file may update its access time): a `debugfs`
//!   pass afterwards sets every inode to root:root and `EPOCH`.
//!
//! The result is checked with `e2fsck -fn`.

use super::rootfs::Rootfs;
use crate::process::{find_program, output, run as run_command};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every timestamp in the image: 2024-01-01 00:00:00 UTC. (Not 0:
/// e2fsprogs takes a fake time of 0 as "no fake time".)
pub const EPOCH: u64 = 1_704_067_200;

/// The mke2fs configuration: Debian 12's defaults for ext4, pinned. The
/// `default` usage type keeps mke2fs from choosing the `small` type
/// (1 KiB blocks) for images under 512 MiB.
const MKE2FS_CONF: &str = "\
[defaults]
\tbase_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
\tdefault_mntopts = acl,user_xattr
\tenable_periodic_fsck = 0
\tblocksize = 4096
\tinode_size = 256
\tinode_ratio = 16384

[fs_types]
\text4 = {
\t\tfeatures = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
\t}
\tdefault = {
\t}
";

/// How one ext4 image is made.
pub struct Ext4 {
    /// The image size in MiB.
    pub size_mib: u64,
    /// The free space the image must keep, in MiB, at least.
    pub free_mib: u64,
    /// The volume label.
    pub label: &'static str,
    /// The file system UUID, also the directory hash seed.
    pub uuid: &'static str,
}

/// The sizes of a built image.
pub struct Built {
    /// Bytes in use (files, directories, journal, tables).
    pub used: u64,
    /// Free bytes.
    pub free: u64,
}

/// Packs `rootfs` into the ext4 image `out` as `spec` says, keeping the
/// mke2fs configuration and the debugfs commands in the directory `work`.
pub fn pack(rootfs: &Rootfs, out: &Path, spec: &Ext4, work: &Path) -> Result<Built> {
    let mke2fs = tool("mke2fs")?;
    let debugfs = tool("debugfs")?;
    let e2fsck = tool("e2fsck")?;
    rootfs.normalize(EPOCH)?;
    std::fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    let config = work.join("mke2fs.conf");
    std::fs::write(&config, MKE2FS_CONF)
        .with_context(|| format!("cannot write {}", config.display()))?;

    // mke2fs formats an existing file at its size (and then does not
    // announce that it created one).
    let _ = std::fs::remove_file(out);
    std::fs::File::create(out)
        .and_then(|file| file.set_len(spec.size_mib << 20))
        .with_context(|| format!("cannot create {}", out.display()))?;
    let epoch = EPOCH.to_string();
    run_command(
        Command::new(&mke2fs)
            .args(["-q", "-F", "-t", "ext4", "-T", "default", "-m", "0"])
            .args(["-L", spec.label, "-U", spec.uuid, "-E"])
            .arg(format!("hash_seed={},root_owner=0:0,nodiscard", spec.uuid))
            .arg("-d")
            .arg(rootfs.dir())
            .arg(out)
            .env("MKE2FS_CONFIG", &config)
            .env("E2FSPROGS_FAKE_TIME", &epoch)
            .env("SOURCE_DATE_EPOCH", &epoch),
    )
    .with_context(|| format!("mke2fs could not build {}", out.display()))?;

    let commands = work.join("normalize.debugfs");
    std::fs::write(&commands, normalize_commands(rootfs.dir())?)
        .with_context(|| format!("cannot write {}", commands.display()))?;
    let result = output(
        Command::new(&debugfs)
            .arg("-w")
            .arg("-f")
            .arg(&commands)
            .arg(out)
            .env("E2FSPROGS_FAKE_TIME", &epoch)
            .env("SOURCE_DATE_EPOCH", &epoch),
    )?;
    // debugfs reports a failed command on stderr but still exits with 0.
    let errors: Vec<String> = String::from_utf8_lossy(&result.stderr)
        .lines()
        .filter(|l| !l.starts_with("debugfs ") && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    if !result.status.success() || !errors.is_empty() {
        bail!(
            "debugfs could not normalize {} ({}): {}",
            out.display(),
            result.status,
            errors.join("; ")
        );
    }

    let check = output(Command::new(&e2fsck).args(["-f", "-n"]).arg(out))?;
    if !check.status.success() {
        bail!(
            "e2fsck finds {} inconsistent:\n{}{}",
            out.display(),
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }
    let built = sizes(&String::from_utf8_lossy(&check.stdout), spec.size_mib << 20)
        .with_context(|| format!("cannot read the sizes e2fsck reports for {}", out.display()))?;
    if built.free < spec.free_mib << 20 {
        bail!(
            "{} has {} MiB free, less than the {} MiB it must keep; make it larger",
            out.display(),
            built.free >> 20,
            spec.free_mib
        );
    }
    Ok(built)
}

/// `debugfs` commands that set every inode of the tree (and the root and
/// `lost+found`) to root:root and [`EPOCH`].
fn normalize_commands(dir: &Path) -> Result<String> {
    let mut paths = vec!["/".to_string(), "/lost+found".to_string()];
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let current = dir.join(&relative);
        let mut entries: Vec<_> = std::fs::read_dir(&current)
            .with_context(|| format!("cannot read {}", current.display()))?
            .collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = relative.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(path.clone());
            }
            let text = format!("/{}", path.display());
            if text.contains(['"', '\n', '\\']) {
                bail!("cannot put {text:?} into an ext4 image (quote or newline in the name)");
            }
            paths.push(text);
        }
    }
    let mut commands = String::new();
    for path in paths {
        for field in ["uid 0", "gid 0"]
            .into_iter()
            .map(str::to_string)
            .chain(["atime", "ctime", "mtime"].map(|f| format!("{f} @{EPOCH}")))
        {
            commands.push_str(&format!("set_inode_field \"{path}\" {field}\n"));
        }
    }
    Ok(commands)
}

/// The used and free bytes from `e2fsck`'s summary line
/// (`LABEL: 312/6144 files (0.3% non-contiguous), 4961/24576 blocks`).
fn sizes(report: &str, size: u64) -> Option<Built> {
    let blocks = report
        .lines()
        .find_map(|l| l.trim().strip_suffix(" blocks"))?
        .rsplit(", ")
        .next()?;
    let (used, total) = blocks.split_once('/')?;
    let (used, total): (u64, u64) = (used.parse().ok()?, total.parse().ok()?);
    let block = size.checked_div(total)?;
    Some(Built {
        used: used * block,
        free: (total - used) * block,
    })
}

fn tool(name: &str) -> Result<PathBuf> {
    find_program(name).with_context(|| {
        format!(
            "`{name}` is not installed; `cargo xtask setup` installs it (Debian package e2fsprogs)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::sizes;

    #[test]
    fn e2fsck_summary_gives_the_sizes() {
        let report = "containers: 312/6144 files (0.3% non-contiguous), 4961/24576 blocks\n";
        let built = sizes(report, 96 << 20).unwrap();
        assert_eq!(built.used, 4961 * 4096);
        assert_eq!(built.free, (24576 - 4961) * 4096);
        assert!(sizes("nothing", 1 << 20).is_none());
    }
}
