//! Guest Linux for Linux cells: Debian's unmodified arm64 kernels (generic
//! and PREEMPT_RT, each resolved from its meta package at provisioning
//! time) and small busybox initramfs images, all written into
//! `target/bulkhead/images/` so that configs name them like any cell image.
//! Only the images a config names are fetched and built.
//!
//! The initramfs images are built reproducibly by [`rootfs`]: fixed file
//! order, owners, modes and timestamps. Their `/init` scripts are the
//! `init-*.sh` files next to this module.

mod elf;
mod rootfs;

use crate::debs;
use crate::layout::Layout;
use anyhow::{Context, Result};
use rootfs::Rootfs;
use std::path::{Path, PathBuf};

/// A Debian kernel, as an arm64 Image in the images directory.
struct Kernel {
    /// The file name in `target/bulkhead/images/`.
    image: &'static str,
    /// The meta package that depends on the current kernel package.
    meta: &'static str,
}

/// The kernels configs can name.
const KERNELS: &[Kernel] = &[
    Kernel {
        image: "linux-generic.Image",
        meta: debs::KERNEL_META,
    },
    Kernel {
        image: "linux-rt.Image",
        meta: "linux-image-rt-arm64",
    },
];

/// A busybox initramfs and what goes into it besides busybox.
struct Initramfs {
    /// The file name in `target/bulkhead/images/`.
    image: &'static str,
    /// Its `/init`.
    init: &'static str,
    /// Programs from Debian packages: `(package, path in the package)`.
    programs: &'static [(&'static str, &'static str)],
    /// The packages that provide the programs' interpreter and shared
    /// libraries, searched in order.
    library_packages: &'static [&'static str],
}

/// The initramfs images configs can name.
const INITRAMFS: &[Initramfs] = &[
    // Reports what the cell sees, then powers the cell off.
    Initramfs {
        image: "initramfs-busybox.cpio.gz",
        init: include_str!("init-busybox.sh"),
        programs: &[],
        library_packages: &[],
    },
    // The real-time cell: cyclictest in rounds, forever.
    Initramfs {
        image: "initramfs-rt.cpio.gz",
        init: include_str!("init-rt.sh"),
        programs: &[("rt-tests", "usr/bin/cyclictest")],
        library_packages: &["libc6", "libnuma1"],
    },
    // The general-purpose cell: a status line every few seconds, forever.
    Initramfs {
        image: "initramfs-general.cpio.gz",
        init: include_str!("init-general.sh"),
        programs: &[],
        library_packages: &[],
    },
];

/// Whether the config text names any image this module makes.
pub fn names_guest_images(config: &str) -> bool {
    KERNELS.iter().map(|k| k.image).any(|i| config.contains(i))
        || INITRAMFS
            .iter()
            .map(|i| i.image)
            .any(|i| config.contains(i))
}

/// Makes sure the guest images that the config text `config` names exist
/// in `target/bulkhead/images/`.
pub fn ensure_guest_images(layout: &Layout, config: &str) -> Result<()> {
    let images = layout.images();
    std::fs::create_dir_all(&images)
        .with_context(|| format!("cannot create {}", images.display()))?;
    for kernel in KERNELS.iter().filter(|k| config.contains(k.image)) {
        let package = debs::resolve_meta(kernel.meta)?;
        let root = debs::ensure_package(&package)?;
        let vmlinuz = find_vmlinuz(&root)?;
        copy_if_changed(&vmlinuz, &images.join(kernel.image))?;
        println!(
            "image: {} ({} from {package})",
            images.join(kernel.image).display(),
            vmlinuz.file_name().unwrap_or_default().to_string_lossy(),
        );
    }
    for initramfs in INITRAMFS.iter().filter(|i| config.contains(i.image)) {
        build_initramfs(layout, initramfs)?;
    }
    Ok(())
}

/// Builds one initramfs image from its recipe.
fn build_initramfs(layout: &Layout, recipe: &Initramfs) -> Result<()> {
    let busybox = debs::ensure_package("busybox-static")?.join("bin/busybox");
    if !busybox.is_file() {
        anyhow::bail!("busybox-static unpacked without {}", busybox.display());
    }
    let stem = recipe
        .image
        .strip_suffix(".cpio.gz")
        .unwrap_or(recipe.image);
    let rootfs = Rootfs::new(
        &layout.artifacts().join("linux").join(stem),
        &busybox,
        recipe.init,
    )?;
    let library_roots = recipe
        .library_packages
        .iter()
        .map(|package| debs::ensure_package(package))
        .collect::<Result<Vec<PathBuf>>>()?;
    for (package, path) in recipe.programs {
        let root = debs::ensure_package(package)?;
        let libraries = rootfs.add_program(&root, path, &library_roots)?;
        println!(
            "initramfs: /{path} from {package}, with {}",
            libraries.join(", ")
        );
    }
    let out = layout.images().join(recipe.image);
    rootfs.pack(&out)?;
    println!("image: {}", out.display());
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::{names_guest_images, INITRAMFS, KERNELS};

    #[test]
    fn image_names_are_unique_and_recognised() {
        let mut names: Vec<&str> = KERNELS.iter().map(|k| k.image).collect();
        names.extend(INITRAMFS.iter().map(|i| i.image));
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
        for name in names {
            assert!(names_guest_images(&format!("path: {name}\n")));
        }
        assert!(!names_guest_images("kernel: { path: heartbeat.bin }"));
    }

    #[test]
    fn init_scripts_are_busybox_scripts() {
        for initramfs in INITRAMFS {
            assert!(
                initramfs.init.starts_with("#!/bin/busybox sh\n"),
                "{}",
                initramfs.image
            );
        }
    }
}
