//! The gateway boot flow in emulation: Debian's U-Boot for QEMU starts at
//! EL2 (`-bios`), its distro boot finds `boot.scr` on a disk like a
//! gateway's SD card, the script loads `bulkhead.itb`, and `bootm` unpacks
//! the FIT and enters the partitioner, which runs the same system that
//! `foundation.rs` boots with `-kernel`.
//!
//! Needs the images `cargo xtask build` makes (`BULKHEAD_ARTIFACTS`),
//! Debian's `u-boot-qemu` and `mke2fs` (`cargo xtask setup` installs both).
//! The run's logs land in `target/hil/boots_through_u_boot/`, the boot
//! medium in `target/hil/boots_through_u_boot.medium/`.

use hil_tests::session::default_log_root;
use hil_tests::{cell_names, HarnessError, Pattern, QemuTarget, Session, SessionOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's U-Boot for QEMU's arm64 `virt` machine (package `u-boot-qemu`).
const UBOOT: &str = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";

/// Where the boot partition starts on the medium, in 512-byte sectors
/// (1 MiB, as partitioning tools align it).
const PARTITION_START: u32 = 2048;

/// From QEMU's start to U-Boot's banner.
const FIRMWARE: Duration = Duration::from_secs(20);
/// Each later step: distro boot, loading the FIT, the partitioner's boot.
const STEP: Duration = Duration::from_secs(30);

/// `mke2fs`, which Debian keeps in `/usr/sbin` (not on a user's `PATH`).
fn mke2fs() -> PathBuf {
    ["/usr/sbin/mke2fs", "/sbin/mke2fs"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("mke2fs"))
}

/// A master boot record with one bootable Linux partition of `sectors`
/// sectors at [`PARTITION_START`].
fn master_boot_record(sectors: u32) -> [u8; 512] {
    let mut mbr = [0u8; 512];
    let entry = &mut mbr[446..462];
    entry[0] = 0x80; // bootable: U-Boot's distro boot scans it first
    entry[4] = 0x83; // Linux file system
    entry[8..12].copy_from_slice(&PARTITION_START.to_le_bytes());
    entry[12..16].copy_from_slice(&sectors.to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    mbr
}

/// A disk like a gateway's SD card: an MBR and one ext2 partition holding
/// `files` in its root directory. Made in `dir`; returns the disk image.
fn boot_medium(dir: &Path, files: &[PathBuf]) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let mut bytes = 0;
    for file in files {
        let name = file.file_name().unwrap();
        let copied = std::fs::copy(file, root.join(name)).unwrap_or_else(|error| {
            panic!(
                "cannot copy {}: {error}; build it with `cargo xtask build`",
                file.display()
            )
        });
        bytes += copied;
    }
    // Room for the files and the file system's own tables.
    let kib = bytes.div_ceil(1024) + 4096;
    let partition = dir.join("partition.ext2");
    let status = Command::new(mke2fs())
        .args(["-q", "-F", "-t", "ext2", "-L", "BULKHEAD", "-d"])
        .arg(&root)
        .arg(&partition)
        .arg(format!("{kib}k"))
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|error| {
            panic!("cannot run mke2fs ({error}); `cargo xtask setup` installs e2fsprogs")
        });
    assert!(status.success(), "mke2fs failed: {status}");
    let partition = std::fs::read(&partition).unwrap();
    let sectors = u32::try_from(partition.len() / 512).unwrap();
    let mut disk = master_boot_record(sectors).to_vec();
    disk.resize(PARTITION_START as usize * 512, 0);
    disk.extend(partition);
    let image = dir.join("disk.img");
    std::fs::write(&image, disk).unwrap();
    image
}

/// U-Boot finds the boot script on the disk, loads the FIT, checks every
/// image's CRC-32, unpacks it and enters the partitioner at EL2; the
/// partitioner then boots the heartbeat system exactly as with `-kernel`:
/// summary, both cells' heartbeats, and the intruder's contained fault.
#[test]
fn boots_through_u_boot_like_a_gateway() -> Result<(), HarnessError> {
    let run = "boots_through_u_boot";
    let built = hil_tests::artifacts::dir().join("qemu-heartbeat");
    let medium = boot_medium(
        &default_log_root().join(format!("{run}.medium")),
        &[built.join("boot.scr"), built.join("bulkhead.itb")],
    );
    let cells = cell_names(&built.join("config.yaml")).unwrap_or_else(|error| panic!("{error}"));
    let mut options = SessionOptions::new(run)
        .cells(cells)
        .deadline(Duration::from_secs(90));
    if let Some(elf) = std::env::var_os("BULKHEAD_PARTITIONER_ELF") {
        options = options.partitioner_elf(elf);
    }
    let drive = format!(
        "if=none,file={},format=raw,id=boot,readonly=on",
        medium.display()
    );
    // With -nodefaults there is no NIC, no USB and no SCSI controller, so
    // distro boot passes over qfw, usb0 and scsi0 quickly and finds virtio0.
    let target = QemuTarget::firmware(UBOOT).args([
        "-drive",
        &drive,
        "-device",
        "virtio-blk-device,drive=boot",
    ]);
    let started = Instant::now();
    let mut session = Session::start(&target, options)?;

    // U-Boot, before any Bulkhead frame: plain text on the `raw` stream.
    session.expect("raw", Pattern::regex(r"^U-Boot 20\d\d\.\d\d"), FIRMWARE)?;
    let banner = started.elapsed();
    session.expect("raw", "Found U-Boot script /boot.scr", STEP)?;
    session.expect(
        "raw",
        "Bulkhead: loading /bulkhead.itb from virtio 0:1",
        STEP,
    )?;
    session.expect("raw", "Using 'bulkhead' configuration", STEP)?;
    session.expect("raw", "Trying 'partitioner' kernel subimage", STEP)?;
    for loadable in ["config", "sensor-kernel", "intruder-kernel"] {
        session.expect(
            "raw",
            format!("Trying '{loadable}' loadables subimage"),
            STEP,
        )?;
        session.expect("raw", "Verifying Hash Integrity ... crc32+ OK", STEP)?;
    }
    session.expect("raw", "Starting kernel ...", STEP)?;
    let handover = started.elapsed();

    // The partitioner runs at EL2 (it halts silently otherwise) and finds
    // its config where the FIT put it.
    session.expect_all(
        [
            (
                "partitioner",
                Pattern::regex(r"Bulkhead \S+ partitioner on qemu-virt: 4 CPUs"),
            ),
            (
                "partitioner",
                Pattern::from("cell sensor: cpus 0b11 (2 vCPUs), entry 0x50000000, on fault: stop"),
            ),
            (
                "partitioner",
                Pattern::from(
                    "cell intruder: cpus 0b100 (1 vCPUs), entry 0x60000000, on fault: stop",
                ),
            ),
            (
                "partitioner",
                Pattern::from("3 of 3 secondary cores online"),
            ),
        ],
        STEP,
    )?;
    session.expect_all(
        [("sensor", "heartbeat 1"), ("intruder", "heartbeat 1")],
        STEP,
    )?;
    let heartbeats = started.elapsed();
    session.expect(
        "partitioner",
        Pattern::regex(
            r"cell intruder faulted on cpu 2: stage-2 fault: read \(translation fault\) at IPA 0x50000000",
        ),
        STEP,
    )?;
    session.expect(
        "partitioner",
        "cell intruder: stopped; other cells continue",
        STEP,
    )?;
    session.skip_to_end("sensor");
    session.expect("sensor", Pattern::regex(r"^heartbeat \d+$"), STEP)?;
    eprintln!(
        "U-Boot banner after {:.1} s, partitioner entered after {:.1} s, \
         both cells beating after {:.1} s, fault contained after {:.1} s",
        banner.as_secs_f64(),
        handover.as_secs_f64(),
        heartbeats.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[test]
fn the_master_boot_record_has_one_bootable_partition() {
    let mbr = master_boot_record(8192);
    assert_eq!(&mbr[510..], &[0x55, 0xaa]);
    assert_eq!(mbr[446], 0x80);
    assert_eq!(mbr[450], 0x83);
    assert_eq!(u32::from_le_bytes(mbr[454..458].try_into().unwrap()), 2048);
    assert_eq!(u32::from_le_bytes(mbr[458..462].try_into().unwrap()), 8192);
    assert!(mbr[462..510].iter().all(|&b| b == 0), "one partition only");
}
