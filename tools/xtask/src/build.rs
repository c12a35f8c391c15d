//! `cargo xtask build`: aarch64 binaries, their flat images, and the boot
//! image of one partitioning.
//!
//! Output:
//! - `target/bulkhead/images/`: `partitioner-<board>.img` (the partitioner
//!   built for the config's board: one build per board), `heartbeat.bin`,
//!   `intruder.bin`, `wedge.bin`, `watchdog.bin`, `probe.bin`, `burst.bin`, `pingpong.bin`, `residue.bin`, `giccheck.bin` (raw arm64
//!   Images), and the Linux kernels and initramfs images the config names
//!   (see [`crate::linux`]);
//! - `target/bulkhead/<config stem>/`: `bulkhead.img`, the bootable image
//!   with the config and the cell images appended, `config.yaml`, a copy
//!   of the config it was built from (the system tests read the cell names
//!   from it), and `partitioner.elf`, the ELF of the partitioner in it
//!   (what decodes its log);
//! - in the same directory, for the U-Boot boot flow (`docs/boot-flow.md`):
//!   `bulkhead.itb`, the FIT image, and `boot.scr`, the script that boots it;
//! - and, when the config boots Linux, `packages.txt`: the Debian packages
//!   (name and version) its guest images were made from, for the HIL
//!   report's provenance.

use crate::flat;
use crate::layout::Layout;
use crate::process::{cargo, run as run_command};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The partitioning `build` and `demo` use by default: the gateway, a
/// PREEMPT_RT Linux cell beside a general-purpose Linux cell.
pub const DEFAULT_CONFIG: &str = "config/examples/qemu-gateway.yaml";

/// Partitionings the system tests boot besides the default.
pub const SYSTEM_TEST_CONFIGS: &[&str] = &[
    "config/examples/qemu-heartbeat.yaml",
    "hil-tests/configs/qemu-restart.yaml",
    "hil-tests/configs/qemu-wedge.yaml",
    "hil-tests/configs/qemu-watchdog.yaml",
    "hil-tests/configs/qemu-residue.yaml",
    "hil-tests/configs/qemu-fuzz.yaml",
    "hil-tests/configs/imx8mp-heartbeat.yaml",
    "hil-tests/configs/imx8mp-linux.yaml",
    "hil-tests/configs/imx8mp-restart.yaml",
    "hil-tests/configs/imx8mp-channels.yaml",
    "config/examples/imx8mp-evk-gateway.yaml",
    "hil-tests/configs/qemu-probe.yaml",
    "hil-tests/configs/qemu-linux.yaml",
    "hil-tests/configs/qemu-latency-lab.yaml",
    "hil-tests/configs/qemu-gateway-faults.yaml",
    "hil-tests/configs/qemu-channels.yaml",
    "hil-tests/configs/qemu-channel-linux.yaml",
    "hil-tests/configs/qemu-rt-lab.yaml",
    "hil-tests/configs/qemu-rt-isolated.yaml",
    "hil-tests/configs/qemu-ipc-lab.yaml",
    "hil-tests/configs/qemu-virtualized.yaml",
    "hil-tests/configs/qemu-gateway-virtualized.yaml",
    "hil-tests/configs/gicv2-restart.yaml",
    "hil-tests/configs/gicv2-wedge.yaml",
    "hil-tests/configs/gicv2-uniprocessor.yaml",
    "hil-tests/configs/zcu102-restart.yaml",
    "hil-tests/configs/rpi4b-restart.yaml",
    "hil-tests/configs/zcu102-linux.yaml",
    "hil-tests/configs/rpi4b-linux.yaml",
    "hil-tests/configs/gicv2-linux.yaml",
    "hil-tests/configs/smmu-dma.yaml",
    "config/examples/zcu102-gateway.yaml",
];

/// The aarch64 binaries and the flat images made from them, per board.
const IMAGES: &[(&str, &str)] = &[
    ("partitioner", "partitioner.img"),
    ("heartbeat", "heartbeat.bin"),
    ("intruder", "intruder.bin"),
    ("wedge", "wedge.bin"),
    ("watchdog", "watchdog.bin"),
    ("probe", "probe.bin"),
    ("burst", "burst.bin"),
    ("pingpong", "pingpong.bin"),
    ("residue", "residue.bin"),
    ("giccheck", "giccheck.bin"),
    ("fuzz", "fuzz.bin"),
    ("canary", "canary.bin"),
    ("dmaengine", "dmaengine.bin"),
];

/// Where `uartcheck.bin` asks to be loaded above its board's RAM base,
/// as a kernel is: clear of what boot firmware keeps at the base (the
/// Raspberry Pi's spin-table stub). Cells say 0, because the partitioner
/// places them; `uartcheck` relocates itself, so any offset works.
const UARTCHECK_TEXT_OFFSET: u64 = 0x8_0000;

/// Builds `uartcheck.bin` (`cells/baremetal/src/bin/uartcheck.rs`) into
/// `target/bulkhead/images/<board>/` for every board QEMU models (its
/// description's `qemu`), whether or not the partitioner runs there yet:
/// the UART system test boots it alone on each model.
pub fn uart_checks(layout: &Layout) -> Result<()> {
    for board in bsp::BOARDS.iter().filter(|b| b.qemu.is_some()) {
        run_command(&mut layout.board_cells_build(board.name))
            .with_context(|| format!("building the cells for board `{}` failed", board.name))?;
        let elf = layout.board_elf(board.name, "uartcheck");
        let data = std::fs::read(&elf).with_context(|| format!("cannot read {}", elf.display()))?;
        let mut image = flat::elf_to_flat(&data)
            .with_context(|| format!("cannot flatten {}", elf.display()))?;
        let field = bulkhead_config::arm64_image::TEXT_OFFSET_FIELD;
        image.bytes[field..field + 8].copy_from_slice(&UARTCHECK_TEXT_OFFSET.to_le_bytes());
        let dir = layout.board_images(board.name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let out = dir.join("uartcheck.bin");
        std::fs::write(&out, &image.bytes)
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("image: {}", out.display());
    }
    Ok(())
}

/// What a build produced.
pub struct Built {
    /// The bootable image (`-kernel` for QEMU).
    pub boot_image: PathBuf,
    /// The partitioner ELF, with the `defmt` table.
    pub partitioner_elf: PathBuf,
    /// The config it was built from.
    pub config: PathBuf,
}

/// Builds everything for `config`.
pub fn run(layout: &Layout, config: &Path) -> Result<Built> {
    let config = layout.user_path(config);
    if !config.is_file() {
        anyhow::bail!("no config at {}", config.display());
    }
    let board = bulkhead_config::yaml::parse(&config)
        .map_err(|error| anyhow::anyhow!("{}: {error}", config.display()))?
        .board;
    run_command(&mut layout.board_build("build", &board)).with_context(|| {
        format!("building the partitioner and the cells for board `{board}` failed")
    })?;

    let images = layout.images();
    let board_images = layout.board_images(&board);
    for (binary, image_name) in IMAGES {
        let elf = layout.board_elf(&board, binary);
        let out = board_images.join(image_name);
        let image = flat::convert(&elf, &out)?;
        if !image.has_image_header() {
            eprintln!(
                "warning: {} does not start with an arm64 Image header; check its linker script",
                out.display()
            );
        }
        println!(
            "image: {} ({} bytes, loads at {:#x})",
            out.display(),
            image.bytes.len(),
            image.load_address
        );
    }

    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    // Forget the packages an earlier build in this process used: only
    // this config's guest images go into its packages.txt.
    let _ = crate::debs::take_used();
    if crate::linux::names_guest_images(&text) {
        crate::linux::ensure_guest_images(layout, &text)?;
    }
    let packages = crate::debs::take_used();

    let stem = config
        .file_stem()
        .context("the config path has no file name")?
        .to_string_lossy()
        .into_owned();
    let out_dir = layout.artifacts().join(&stem);
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let partitioner_image = board_images.join("partitioner.img");
    let boot_image = build_boot_image(
        layout,
        &config,
        &out_dir,
        &partitioner_image,
        &[&board_images, &images],
    )?;
    std::fs::copy(&config, out_dir.join("config.yaml"))
        .with_context(|| format!("cannot copy {} to {}", config.display(), out_dir.display()))?;
    let partitioner_elf = layout.board_elf(&board, "partitioner");
    let elf_copy = out_dir.join("partitioner.elf");
    std::fs::copy(&partitioner_elf, &elf_copy).with_context(|| {
        format!(
            "cannot copy {} to {}",
            partitioner_elf.display(),
            elf_copy.display()
        )
    })?;
    let packages_file = out_dir.join(hil_tests::report::PACKAGES_FILE);
    if packages.is_empty() {
        let _ = std::fs::remove_file(&packages_file);
    } else {
        std::fs::write(&packages_file, packages.join("\n") + "\n")
            .with_context(|| format!("cannot write {}", packages_file.display()))?;
    }
    println!("boot image: {}", boot_image.display());
    Ok(Built {
        boot_image,
        partitioner_elf: elf_copy,
        config,
    })
}

/// Builds `OUT/bulkhead.img` with the `bulkhead` host tool.
///
/// NOTE: the only place xtask calls the host tool. It goes through the CLI
/// (`bulkhead build CONFIG -o DIR --partitioner IMG --image-dir DIR…`) while
/// the library API settles; switch to `bulkhead::build(…)` here then.
fn build_boot_image(
    layout: &Layout,
    config: &Path,
    out_dir: &Path,
    partitioner_image: &Path,
    image_dirs: &[&Path],
) -> Result<PathBuf> {
    run_command(
        cargo(&layout.root)
            .args(["run", "-q", "-p", "bulkhead", "--", "build"])
            .arg(config)
            .arg("-o")
            .arg(out_dir)
            .arg("--partitioner")
            .arg(partitioner_image)
            .args(
                image_dirs
                    .iter()
                    .flat_map(|dir| [std::ffi::OsStr::new("--image-dir"), dir.as_os_str()]),
            ),
    )
    .context("the bulkhead host tool could not build the boot image")?;
    let boot_image = out_dir.join("bulkhead.img");
    // The FIT and its script: the U-Boot system test boots them.
    for file in [
        &boot_image,
        &out_dir.join("bulkhead.itb"),
        &out_dir.join("boot.scr"),
    ] {
        if !file.is_file() {
            anyhow::bail!(
                "the bulkhead host tool succeeded but wrote no {}",
                file.display()
            );
        }
    }
    Ok(boot_image)
}
