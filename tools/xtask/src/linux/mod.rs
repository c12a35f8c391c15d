//! Guest Linux for Linux cells: Debian's unmodified arm64 kernels (generic
//! and PREEMPT_RT, each resolved from its meta package at provisioning
//! time), small busybox initramfs images and ext4 root disks, all written
//! into `target/bulkhead/images/` so that configs name them like any cell
//! image. Only the images a config names are fetched and built.
//!
//! The initramfs images and the disks are built reproducibly by [`rootfs`]
//! and [`ext4`]: fixed file order, owners, modes and timestamps. Their init
//! scripts are the `init-*.sh` files next to this module. Kernel modules
//! come from the package of the kernel they are loaded into ([`modules`]).

mod elf;
mod ext4;
mod modules;
mod rootfs;

use crate::debs;
use crate::layout::{Layout, LINUX_TARGET};
use anyhow::{Context, Result};
use ext4::Ext4;
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
        image: GENERIC_KERNEL,
        meta: debs::KERNEL_META,
    },
    Kernel {
        image: RT_KERNEL,
        meta: "linux-image-rt-arm64",
    },
];

/// Debian's PREEMPT_RT kernel (`linux-image-rt-arm64`).
const RT_KERNEL: &str = "linux-rt.Image";

/// Shell functions every init script may source (`say`, `report_view`,
/// `bind_channels`), at [`FUNCTIONS_PATH`] in every image.
const FUNCTIONS: &str = include_str!("functions.sh");
/// Where [`FUNCTIONS`] goes in an image.
const FUNCTIONS_PATH: &str = "lib/bulkhead/functions.sh";

/// Our programs for Linux cells: `(package, binary)`, built for
/// [`LINUX_TARGET`] by [`build_linux_programs`].
const LINUX_PROGRAMS: &[(&str, &str)] = &[("bulkhead-ipc", "bulkhead-ipc")];

/// Debian's generic kernel (`linux-image-arm64`).
const GENERIC_KERNEL: &str = "linux-generic.Image";

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
    /// Our own programs, built for Linux ([`LINUX_PROGRAMS`]), in
    /// `/usr/bin`.
    own_programs: &'static [&'static str],
    /// Kernel modules `/init` loads (listed in `/etc/modules`).
    modules: Option<KernelModules>,
    /// The root file system `/init` switches to, if any.
    root: Root,
}

/// Where an initramfs finds the root file system it switches to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Root {
    /// It runs alone.
    None,
    /// On a disk (one of [`ROOT_DISKS`]) that `/init` mounts (the kernel
    /// parameter `root=`): a config that names the initramfs gets the disk
    /// built too.
    Disk(&'static str),
    /// The tree of a root disk (one of [`ROOT_DISKS`]), carried in the
    /// initramfs at [`RAM_ROOT_PATH`]; `/init` copies it to a tmpfs
    /// (`root=ram`) and switches to that. For boards without a disk the
    /// cell can own, or without one QEMU models.
    InRam(&'static str),
}

/// Where an initramfs carries a [`Root::InRam`] tree.
const RAM_ROOT_PATH: &str = "rootfs";

/// Modules of one kernel, for an initramfs.
struct KernelModules {
    /// The kernel image (one of [`KERNELS`]) whose package the modules
    /// come from: the cell must boot exactly that kernel.
    kernel: &'static str,
    /// The modules to load, in this order; what they depend on is added
    /// (and loaded by `modprobe`) by itself, and built-in ones are skipped.
    load: &'static [&'static str],
}

/// The initramfs images configs can name.
const INITRAMFS: &[Initramfs] = &[
    // Reports what the cell sees, then powers the cell off.
    Initramfs {
        image: "initramfs-busybox.cpio.gz",
        init: include_str!("init-busybox.sh"),
        programs: &[],
        library_packages: &[],
        own_programs: &[],
        modules: None,
        root: Root::None,
    },
    // The real-time cell: cyclictest in rounds, forever.
    Initramfs {
        image: "initramfs-rt.cpio.gz",
        init: include_str!("init-rt.sh"),
        programs: &[("rt-tests", "usr/bin/cyclictest")],
        library_packages: &["libc6", "libnuma1"],
        own_programs: &["bulkhead-ipc"],
        // uio_pci_generic gives user space the channel's PCI function
        // (its BARs and its interrupt), when the cell is a channel peer;
        // sp805_wdt drives the cell's watchdog, when it has one.
        modules: Some(KernelModules {
            kernel: RT_KERNEL,
            load: &["uio", "uio_pci_generic", "sp805_wdt"],
        }),
        root: Root::None,
    },
    // The container host: loads the virtio and ext4 modules, mounts the
    // ext4 disk on virtio-blk and switches to it.
    Initramfs {
        image: "initramfs-containers.cpio.gz",
        init: include_str!("init-switch-root.sh"),
        programs: &[],
        library_packages: &[],
        own_programs: &[],
        modules: Some(KernelModules {
            kernel: GENERIC_KERNEL,
            // Everything the cell needs, root disk and network, is loaded
            // here, before the switch; the disk itself carries no modules.
            // virtio and virtio_ring are built in. ext4 and jbd2 ask for
            // crc32c through the crypto API (a soft dependency on the alias
            // crypto-crc32c, which busybox modprobe does not follow), so
            // its module comes first. virtio_net pulls in net_failover and
            // failover, ext4 jbd2, mbcache and crc16.
            load: &[
                "virtio_mmio",
                "virtio_blk",
                "crc32c_generic",
                "ext4",
                "virtio_net",
                "uio",
                "uio_pci_generic",
                "sp805_wdt",
            ],
        }),
        root: Root::Disk(CONTAINERS_DISK),
    },
    // The container host for boards without a disk for it: the same root
    // tree as the disk, in RAM. Loads the drivers of the network cards a
    // cell can own on those boards, the i.MX 8M Plus's FEC and the
    // ZynqMP's GEM (a driver without its device loads and does nothing),
    // and the channel's.
    Initramfs {
        image: "initramfs-containers-ram.cpio.gz",
        init: include_str!("init-switch-root.sh"),
        programs: &[],
        library_packages: &[],
        own_programs: &[],
        modules: Some(KernelModules {
            kernel: GENERIC_KERNEL,
            // fec pulls in libphy, of_mdio (fwnode_mdio, fixed_phy) and
            // selftests, macb phylink too; the PHYs themselves are driven
            // by libphy's generic driver.
            load: &["fec", "macb", "uio", "uio_pci_generic", "sp805_wdt"],
        }),
        root: Root::InRam(CONTAINERS_DISK),
    },
];

/// The container host's root disk.
const CONTAINERS_DISK: &str = "rootfs-containers.ext4";

/// An ext4 root file system for a cell's virtio-blk disk: busybox,
/// programs from Debian packages, OCI bundles, and `/sbin/init`.
struct RootDisk {
    /// The file name in `target/bulkhead/images/`.
    image: &'static str,
    /// Its `/sbin/init`.
    init: &'static str,
    /// Programs from Debian packages: `(package, path in the package)`.
    programs: &'static [(&'static str, &'static str)],
    /// The packages that provide the programs' interpreter and shared
    /// libraries, searched in order.
    library_packages: &'static [&'static str],
    /// Our own programs, built for Linux ([`LINUX_PROGRAMS`]), in
    /// `/usr/bin`.
    own_programs: &'static [&'static str],
    /// Other files: `(path, contents, executable)`.
    files: &'static [(&'static str, &'static str, bool)],
    /// Empty directories besides the base ones.
    directories: &'static [&'static str],
    /// OCI bundles, each in `/containers/<name>/`.
    containers: &'static [Container],
    /// The file system.
    ext4: Ext4,
}

/// An OCI bundle: `config.json` and a busybox root file system.
struct Container {
    /// The bundle's directory under `/containers/`.
    name: &'static str,
    /// Its `config.json`.
    config: &'static str,
    /// Its program, `/bin/<name>` in the container (a busybox script).
    program: &'static str,
    /// Busybox applets linked in the container's `/bin` (the program runs
    /// them by name).
    applets: &'static [&'static str],
}

/// The root disks configs can name.
const ROOT_DISKS: &[RootDisk] = &[RootDisk {
    image: CONTAINERS_DISK,
    init: include_str!("init-containers.sh"),
    programs: &[("crun", "usr/bin/crun")],
    own_programs: &["bulkhead-ipc"],
    // crun 1.8 needs libcap2, libseccomp2, libsystemd0 and libyajl2;
    // libsystemd0 needs libgcrypt20 (and it libgpg-error0), liblz4-1,
    // liblzma5 and libzstd1.
    library_packages: &[
        "libc6",
        "libcap2",
        "libseccomp2",
        "libsystemd0",
        "libyajl2",
        "libgcrypt20",
        "libgpg-error0",
        "liblz4-1",
        "liblzma5",
        "libzstd1",
    ],
    files: &[
        ("etc/hostname", "containers\n", false),
        (
            "etc/udhcpc/default.script",
            include_str!("udhcpc.script"),
            true,
        ),
    ],
    directories: &["etc", "run", "sbin", "var/lib/bulkhead", "var/tmp"],
    containers: &[
        Container {
            name: "hello",
            config: include_str!("container-hello.json"),
            program: include_str!("container-hello.sh"),
            applets: &["sh", "hostname"],
        },
        // The IT side of the IPC demo: answers the control cell's samples
        // over the channel (bulkhead-ipc gateway).
        Container {
            name: "gateway",
            config: include_str!("container-gateway.json"),
            program: include_str!("container-gateway.sh"),
            applets: &["sh"],
        },
    ],
    ext4: Ext4 {
        // About 12 MiB of files; the rest leaves room for the I/O load of
        // the `faults` scenario (32 MiB files on the disk).
        size_mib: 96,
        free_mib: 64,
        label: "containers",
        uuid: "b01d4ead-c0de-4c0e-8a11-000000000001",
    },
}];

/// Whether the config text names any image this module makes.
pub fn names_guest_images(config: &str) -> bool {
    all_image_names().any(|i| config.contains(i))
}

fn all_image_names() -> impl Iterator<Item = &'static str> {
    KERNELS
        .iter()
        .map(|k| k.image)
        .chain(INITRAMFS.iter().map(|i| i.image))
        .chain(ROOT_DISKS.iter().map(|d| d.image))
}

/// Makes sure the guest images that the config text `config` names exist
/// in `target/bulkhead/images/`, and the root disks of the initramfs
/// images it names.
pub fn ensure_guest_images(layout: &Layout, config: &str) -> Result<()> {
    let images = layout.images();
    std::fs::create_dir_all(&images)
        .with_context(|| format!("cannot create {}", images.display()))?;
    for kernel in KERNELS.iter().filter(|k| config.contains(k.image)) {
        let root = kernel_package(kernel)?;
        let vmlinuz = find_vmlinuz(&root)?;
        copy_if_changed(&vmlinuz, &images.join(kernel.image))?;
        println!(
            "image: {} ({} from {})",
            images.join(kernel.image).display(),
            vmlinuz.file_name().unwrap_or_default().to_string_lossy(),
            root.file_name().unwrap_or_default().to_string_lossy(),
        );
    }
    let initramfs: Vec<&Initramfs> = INITRAMFS
        .iter()
        .filter(|i| config.contains(i.image))
        .collect();
    for recipe in &initramfs {
        build_initramfs(layout, recipe)?;
    }
    for disk in ROOT_DISKS.iter().filter(|d| {
        config.contains(d.image) || initramfs.iter().any(|i| i.root == Root::Disk(d.image))
    }) {
        build_root_disk(layout, disk)?;
    }
    Ok(())
}

/// The unpacked package of `kernel`'s current version.
fn kernel_package(kernel: &Kernel) -> Result<PathBuf> {
    let package = debs::resolve_meta(kernel.meta)?;
    debs::ensure_package(&package)
}

/// busybox from busybox-static.
fn busybox() -> Result<PathBuf> {
    let busybox = debs::ensure_package("busybox-static")?.join("bin/busybox");
    if !busybox.is_file() {
        anyhow::bail!("busybox-static unpacked without {}", busybox.display());
    }
    Ok(busybox)
}

/// Builds our programs for Linux cells ([`LINUX_PROGRAMS`]) and copies
/// the ones in `names` into `rootfs`'s `/usr/bin`.
fn add_own_programs(layout: &Layout, rootfs: &Rootfs, names: &[&str], what: &str) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let mut command = crate::process::cargo(&layout.root);
    command.args(["build", "--release", "--target", LINUX_TARGET]);
    for (package, binary) in LINUX_PROGRAMS {
        if names.contains(binary) {
            command.args(["-p", package]);
        }
    }
    crate::process::run(&mut command).context("building our programs for Linux cells failed")?;
    for name in names {
        let built = layout.target.join(LINUX_TARGET).join("release").join(name);
        rootfs.copy_file(&built, &format!("usr/bin/{name}"))?;
        println!("{what}: /usr/bin/{name} (ours, {LINUX_TARGET})");
    }
    Ok(())
}

/// Adds `programs` with their libraries from `library_packages`.
fn add_programs(
    rootfs: &Rootfs,
    programs: &[(&str, &str)],
    library_packages: &[&str],
    what: &str,
) -> Result<()> {
    let library_roots = library_packages
        .iter()
        .map(|package| debs::ensure_package(package))
        .collect::<Result<Vec<PathBuf>>>()?;
    for (package, path) in programs {
        let root = debs::ensure_package(package)?;
        let libraries = rootfs.add_program(&root, path, &library_roots)?;
        println!(
            "{what}: /{path} from {package}, with {}",
            libraries.join(", ")
        );
    }
    Ok(())
}

/// Builds one initramfs image from its recipe.
fn build_initramfs(layout: &Layout, recipe: &Initramfs) -> Result<()> {
    let stem = recipe
        .image
        .strip_suffix(".cpio.gz")
        .unwrap_or(recipe.image);
    let rootfs = Rootfs::new(&layout.artifacts().join("linux").join(stem), &busybox()?)?;
    rootfs.write_executable("init", recipe.init)?;
    rootfs.write_file(FUNCTIONS_PATH, FUNCTIONS)?;
    add_programs(
        &rootfs,
        recipe.programs,
        recipe.library_packages,
        "initramfs",
    )?;
    add_own_programs(layout, &rootfs, recipe.own_programs, "initramfs")?;
    if let Some(modules) = &recipe.modules {
        let kernel = KERNELS
            .iter()
            .find(|k| k.image == modules.kernel)
            .with_context(|| format!("{}: no kernel {}", recipe.image, modules.kernel))?;
        let package = kernel_package(kernel)?;
        let added = modules::add_modules(&rootfs, &package, modules.load)?;
        println!(
            "initramfs: modules of {} ({}): /etc/modules {}; copied {}{}",
            added.version,
            package.file_name().unwrap_or_default().to_string_lossy(),
            added.load.join(" "),
            added.copied.join(" "),
            if added.builtin.is_empty() {
                String::new()
            } else {
                format!("; built in: {}", added.builtin.join(" "))
            }
        );
    }
    if let Root::InRam(disk) = recipe.root {
        let disk = root_disk(disk)?;
        let tree = Rootfs::new(&rootfs.dir().join(RAM_ROOT_PATH), &busybox()?)?;
        fill_root_tree(layout, disk, &tree, "initramfs")?;
        println!(
            "initramfs: /{RAM_ROOT_PATH} holds the tree of {} (copied to RAM at boot)",
            disk.image
        );
    }
    let out = layout.images().join(recipe.image);
    rootfs.pack(&out)?;
    println!("image: {}", out.display());
    Ok(())
}

/// The root disk recipe named `image`.
fn root_disk(image: &str) -> Result<&'static RootDisk> {
    ROOT_DISKS
        .iter()
        .find(|d| d.image == image)
        .with_context(|| format!("no root disk recipe {image}"))
}

/// Builds one root disk image from its recipe.
fn build_root_disk(layout: &Layout, recipe: &RootDisk) -> Result<()> {
    let stem = recipe.image.strip_suffix(".ext4").unwrap_or(recipe.image);
    let linux = layout.artifacts().join("linux");
    let rootfs = Rootfs::new(&linux.join(stem), &busybox()?)?;
    fill_root_tree(layout, recipe, &rootfs, "disk")?;
    let out = layout.images().join(recipe.image);
    let built = ext4::pack(
        &rootfs,
        &out,
        &recipe.ext4,
        &linux.join(format!("{stem}.mke2fs")),
    )?;
    println!(
        "image: {} (ext4, {} MiB: {:.1} MiB used, {:.1} MiB free)",
        out.display(),
        recipe.ext4.size_mib,
        built.used as f64 / 1048576.0,
        built.free as f64 / 1048576.0
    );
    Ok(())
}

/// Puts everything of a root disk's recipe into `rootfs` (a fresh tree);
/// `what` prefixes the progress lines.
fn fill_root_tree(layout: &Layout, recipe: &RootDisk, rootfs: &Rootfs, what: &str) -> Result<()> {
    let busybox = busybox()?;
    rootfs.write_executable("sbin/init", recipe.init)?;
    rootfs.write_file(FUNCTIONS_PATH, FUNCTIONS)?;
    for directory in recipe.directories {
        rootfs.create_dir(directory)?;
    }
    for (path, contents, executable) in recipe.files {
        if *executable {
            rootfs.write_executable(path, contents)?;
        } else {
            rootfs.write_file(path, contents)?;
        }
    }
    add_programs(rootfs, recipe.programs, recipe.library_packages, what)?;
    add_own_programs(layout, rootfs, recipe.own_programs, what)?;
    for container in recipe.containers {
        let bundle = format!("containers/{}", container.name);
        rootfs.write_file(&format!("{bundle}/config.json"), container.config)?;
        let container_root = Rootfs::new(&rootfs.dir().join(&bundle).join("rootfs"), &busybox)?;
        container_root.write_executable(&format!("bin/{}", container.name), container.program)?;
        for applet in container.applets {
            container_root.symlink(&format!("bin/{applet}"), "busybox")?;
        }
        println!(
            "{what}: OCI bundle /{bundle} (busybox, /bin/{} in the container)",
            container.name
        );
    }
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
    use super::{all_image_names, names_guest_images, Root, INITRAMFS, KERNELS, ROOT_DISKS};

    #[test]
    fn image_names_are_unique_and_recognised() {
        let mut names: Vec<&str> = all_image_names().collect();
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
    fn recipes_name_known_kernels_and_disks() {
        for initramfs in INITRAMFS {
            if let Some(modules) = &initramfs.modules {
                assert!(KERNELS.iter().any(|k| k.image == modules.kernel));
            }
            if let Root::Disk(disk) | Root::InRam(disk) = initramfs.root {
                assert!(ROOT_DISKS.iter().any(|d| d.image == disk));
            }
        }
    }

    #[test]
    fn init_scripts_are_busybox_scripts() {
        let scripts = INITRAMFS
            .iter()
            .map(|i| (i.image, i.init))
            .chain(ROOT_DISKS.iter().map(|d| (d.image, d.init)));
        for (image, init) in scripts {
            assert!(init.starts_with("#!/bin/busybox sh\n"), "{image}");
        }
        for disk in ROOT_DISKS {
            for container in disk.containers {
                assert!(container.program.starts_with("#!/bin/sh\n"));
                assert!(container.applets.contains(&"sh"));
                assert!(container
                    .config
                    .contains(&format!("\"/bin/{}\"", container.name)));
            }
        }
    }
}
