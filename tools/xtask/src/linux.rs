//! Guest Linux for Linux cells: Debian's unmodified arm64 kernel (resolved
//! from its meta package at provisioning time) and a small busybox
//! initramfs, both written into `target/bulkhead/images/` so that configs
//! name them like any cell image. The initramfs is built reproducibly: fixed
//! file order, owners and timestamps.

use crate::debs;
use crate::layout::Layout;
use crate::process::run as run_command;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The generic (non-RT) kernel, as an arm64 Image.
pub const GENERIC_KERNEL: &str = "linux-generic.Image";
/// The busybox initramfs.
pub const INITRAMFS: &str = "initramfs-busybox.cpio.gz";
/// Every image this module writes; a config that names one needs them.
pub const GUEST_IMAGES: &[&str] = &[GENERIC_KERNEL, INITRAMFS];

/// The `/init` of the busybox initramfs: mount the usual file systems,
/// report what the cell sees of the machine, then switch the cell off
/// (PSCI `SYSTEM_OFF`, which stops this cell only).
const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "bulkhead-guest: userspace up"
echo "bulkhead-guest: uname: $(uname -srm)"
echo "bulkhead-guest: kernel: $(uname -v)"
echo "bulkhead-guest: nproc: $(nproc)"
echo "bulkhead-guest: $(grep MemTotal /proc/meminfo)"
echo "bulkhead-guest: device-tree cpus: $(ls /proc/device-tree/cpus | grep -c '^cpu@')"
echo "bulkhead-guest: interrupts:"
cat /proc/interrupts
echo "bulkhead-guest: powering off"
poweroff -f
"#;

/// Makes sure the guest images exist in `target/bulkhead/images/`.
pub fn ensure_guest_images(layout: &Layout) -> Result<()> {
    let images = layout.images();
    std::fs::create_dir_all(&images)
        .with_context(|| format!("cannot create {}", images.display()))?;
    let kernel_package = debs::resolve_meta(debs::KERNEL_META)?;
    let kernel_root = debs::ensure_package(&kernel_package)?;
    let vmlinuz = find_vmlinuz(&kernel_root)?;
    copy_if_changed(&vmlinuz, &images.join(GENERIC_KERNEL))?;

    let busybox = debs::ensure_package("busybox-static")?.join("bin/busybox");
    if !busybox.is_file() {
        anyhow::bail!("busybox-static unpacked without {}", busybox.display());
    }
    let rootfs = layout.artifacts().join("linux/rootfs-busybox");
    build_rootfs(&rootfs, &busybox)?;
    pack_initramfs(&rootfs, &images.join(INITRAMFS))
}

/// `boot/vmlinuz-*` of an unpacked kernel package (an uncompressed Image).
fn find_vmlinuz(root: &Path) -> Result<PathBuf> {
    let boot = root.join("boot");
    std::fs::read_dir(&boot)
        .with_context(|| format!("cannot read {}", boot.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .with_context(|| format!("no vmlinuz-* in {}", boot.display()))
}

fn copy_if_changed(from: &Path, to: &Path) -> Result<()> {
    let same = match (std::fs::metadata(from), std::fs::metadata(to)) {
        (Ok(a), Ok(b)) => a.len() == b.len() && std::fs::read(from)? == std::fs::read(to)?,
        _ => false,
    };
    if !same {
        std::fs::copy(from, to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

fn build_rootfs(rootfs: &Path, busybox: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(rootfs);
    for dir in ["bin", "dev", "proc", "sys", "tmp"] {
        std::fs::create_dir_all(rootfs.join(dir))
            .with_context(|| format!("cannot create {dir} in the rootfs"))?;
    }
    std::fs::copy(busybox, rootfs.join("bin/busybox")).context("cannot copy busybox")?;
    let init = rootfs.join("init");
    std::fs::write(&init, INIT).context("cannot write /init")?;
    use std::os::unix::fs::PermissionsExt;
    for executable in [init, rootfs.join("bin/busybox")] {
        std::fs::set_permissions(&executable, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", executable.display()))?;
    }
    Ok(())
}

/// `find | sort | cpio -H newc | gzip -n`, with timestamps set to 0.
fn pack_initramfs(rootfs: &Path, out: &Path) -> Result<()> {
    run_command(
        Command::new("find")
            .arg(".")
            .args(["-exec", "touch", "-h", "-d", "@0", "{}", "+"])
            .current_dir(rootfs),
    )
    .context("cannot reset timestamps in the rootfs")?;
    let script = format!(
        "find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --reproducible --quiet | gzip -n -9 > '{}'",
        out.display()
    );
    let status = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(rootfs)
        .stdin(Stdio::null())
        .status()
        .context("cannot run cpio")?;
    if !status.success() {
        anyhow::bail!(
            "building {} failed ({status}); is cpio installed? (cargo xtask setup)",
            out.display()
        );
    }
    Ok(())
}
