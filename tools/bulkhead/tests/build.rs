//! Boot image assembly: the layout the partitioner depends on, the size
//! checks, and the command line's exit codes.

use bulkhead::{boot_image, build, BuildOptions, Error, ImageError, LOAD_OFFSET};
use bulkhead_config::{arm64_image, blob, yaml};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("bulkhead-tool-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn arm64_image(image_size: u64, len: usize, seed: u8) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    bytes[..64].fill(0);
    bytes[16..24].copy_from_slice(&image_size.to_le_bytes());
    bytes[56..60].copy_from_slice(b"ARM\x64");
    bytes
}

/// A stand-in partitioner for `qemu-virt` whose header asks for
/// `image_size`.
fn virt_partitioner(image_size: u64) -> Vec<u8> {
    common::partitioner_for("qemu-virt", arm64_image(image_size, 0x1000, 3))
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/examples/qemu-heartbeat.yaml")
}

fn images() -> PathBuf {
    let dir = scratch_dir("images");
    std::fs::write(dir.join("heartbeat.bin"), arm64_image(0x1_0000, 3000, 1)).unwrap();
    std::fs::write(dir.join("intruder.bin"), arm64_image(0x1_0000, 5000, 2)).unwrap();
    dir
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

#[test]
fn the_boot_image_round_trips() {
    let dir = scratch_dir("build");
    let partitioner = common::partitioner_for("qemu-virt", arm64_image(0x2_0000, 0x1_2345, 7));
    std::fs::write(dir.join("partitioner.img"), &partitioner).unwrap();
    let out = dir.join("out");
    let built = build(&BuildOptions {
        config: example(),
        image_dirs: vec![images()],
        partitioner: dir.join("partitioner.img"),
        out_dir: out.clone(),
    })
    .unwrap();
    let image = std::fs::read(out.join("bulkhead.img")).unwrap();
    assert_eq!(image, built.image.bytes);

    // The partitioner, then zeros up to its image_size.
    assert_eq!(image[..16], partitioner[..16]);
    assert_eq!(image[24..partitioner.len()], partitioner[24..]);
    assert!(image[partitioner.len()..0x2_0000].iter().all(|&b| b == 0));

    // The header's image_size now covers the whole boot image.
    let patched = le64(&image, arm64_image::IMAGE_SIZE_FIELD);
    assert_eq!(patched, (image.len() as u64).div_ceil(4096) * 4096);
    assert_eq!(patched, built.image.image_size);
    assert_eq!(built.image.load_address, 0x4000_0000 + LOAD_OFFSET);

    // The blob at the old image_size, alone in config.bin too.
    let blob_bytes = &image[0x2_0000..];
    let system = blob::decode(blob_bytes).unwrap();
    assert_eq!(system, built.loaded.system);
    let header = blob::read_header(blob_bytes).unwrap();
    assert_eq!(header.total_length, (image.len() - 0x2_0000) as u64);
    let config_bin = std::fs::read(out.join("config.bin")).unwrap();
    assert_eq!(blob::decode(&config_bin).unwrap(), system);
    assert_eq!(config_bin, built.image.blob);

    // Each payload at its offset, byte-identical, 4 KiB aligned.
    let mut payloads = 0;
    for (c, cell) in system.cells.iter().enumerate() {
        for (m, im) in cell.images.iter().enumerate() {
            let start = 0x2_0000 + im.offset as usize;
            assert_eq!(start % 4096, 0);
            let bytes = &image[start..start + im.size as usize];
            let payload = built.loaded.payload(c, m).unwrap();
            assert_eq!(bytes, payload.bytes.as_slice());
            assert_eq!(bytes, std::fs::read(&payload.path).unwrap().as_slice());
            payloads += 1;
        }
    }
    assert_eq!(payloads, 2);

    let plan = std::fs::read_to_string(out.join("plan.txt")).unwrap();
    for needle in [
        "cell 0: sensor",
        "cell 1: intruder",
        "memory map",
        "free",
        "boot image",
        "config blob",
    ] {
        assert!(plan.contains(needle), "{needle} missing from\n{plan}");
    }
}

#[test]
fn bad_partitioner_images_are_refused() {
    let loaded = yaml::load(&example(), &[images()]).unwrap();
    assert_eq!(
        boot_image(&loaded, &[0u8; 4096]),
        Err(ImageError::NotAnImage)
    );
    assert_eq!(
        boot_image(&loaded, &arm64_image(0x1800, 0x100, 0)),
        Err(ImageError::BadImageSize { image_size: 0x1800 })
    );
    assert_eq!(
        boot_image(&loaded, &arm64_image(0, 0x100, 0)),
        Err(ImageError::BadImageSize { image_size: 0 })
    );
    assert_eq!(
        boot_image(&loaded, &arm64_image(0x1000, 0x1001, 0)),
        Err(ImageError::PartitionerTooBig {
            file_size: 0x1001,
            image_size: 0x1000
        })
    );
}

#[test]
fn a_partitioner_for_another_board_or_address_is_refused() {
    let loaded = yaml::load(&example(), &[images()]).unwrap();
    let image = || arm64_image(0x2_0000, 0x1000, 3);
    assert_eq!(
        boot_image(&loaded, &image()),
        Err(ImageError::NoIdentity {
            reason: "it carries no board identity record".into()
        })
    );
    let other = boot_image(&loaded, &common::partitioner_for("imx8mp-evk", image()));
    assert_eq!(
        other,
        Err(ImageError::WrongBoard {
            built_for: "imx8mp-evk".into(),
            board: "qemu-virt".into()
        })
    );
    let mut moved = image();
    common::stamp(
        &mut moved,
        bulkhead_config::identity::Record::new("qemu-virt", 0x8008_0000),
    );
    let error = boot_image(&loaded, &moved).unwrap_err();
    assert_eq!(
        error,
        ImageError::WrongLoadAddress {
            linked: 0x8008_0000,
            board: "qemu-virt".into(),
            load_address: 0x4008_0000
        }
    );
    assert!(error
        .to_string()
        .contains("linked at 0x80080000, but board `qemu-virt` loads it at 0x40080000"));
}

#[test]
fn the_boot_image_must_fit_in_the_partitioners_ram() {
    let loaded = yaml::load(&example(), &[images()]).unwrap();
    let ram = loaded.board.hypervisor_ram;
    let available = ram.size - LOAD_OFFSET;
    // The partitioner alone fills the RAM: the payloads no longer fit.
    let full = boot_image(&loaded, &virt_partitioner(available)).unwrap_err();
    assert!(
        matches!(full, ImageError::TooBig { available: a, .. } if a == available),
        "{full:?}"
    );
    // A huge image_size neither overflows nor allocates.
    let huge = boot_image(&loaded, &virt_partitioner(!0xfff)).unwrap_err();
    assert!(matches!(huge, ImageError::TooBig { .. }));
    assert_eq!(Error::from(huge).exit_code(), 1);
    // Just enough room works.
    let room = available - (loaded.total_length.div_ceil(4096) * 4096);
    let fits = boot_image(&loaded, &virt_partitioner(room)).unwrap();
    assert_eq!(fits.image_size, available);
}

fn bulkhead(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_bulkhead"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_exit_codes() {
    let images = images();
    let example = example();
    let example = example.to_str().unwrap();
    let images = images.to_str().unwrap();

    let (code, stdout, _) = bulkhead(&["check", example, "--image-dir", images]);
    assert_eq!(code, 0);
    assert!(stdout.contains("CPU 2 -> vCPU 0"), "{stdout}");

    // Missing images: a config error, reported at the `path` line.
    let (code, _, stderr) = bulkhead(&["check", example]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cells[0].kernel.path"), "{stderr}");
    let source = std::fs::read_to_string(example).unwrap();
    let line = 1 + source
        .lines()
        .position(|l| l.contains("path: heartbeat.bin"))
        .unwrap();
    assert!(
        stderr.contains(&format!("qemu-heartbeat.yaml:{line}:13")),
        "{stderr}"
    );
    assert!(stderr.contains("2 problems in"), "{stderr}");

    let (code, _, stderr) = bulkhead(&["check", "/nonexistent.yaml"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = bulkhead(&["check"]);
    assert_eq!(code, 2);

    let dir = scratch_dir("cli");
    let (code, _, stderr) = bulkhead(&[
        "build",
        example,
        "-o",
        dir.join("out").to_str().unwrap(),
        "--partitioner",
        dir.join("none.img").to_str().unwrap(),
        "--image-dir",
        images,
    ]);
    assert_eq!(code, 2, "{stderr}");

    let (code, stdout, _) = bulkhead(&["schema"]);
    assert_eq!(code, 0);
    assert!(stdout.trim_start().starts_with('{') && stdout.contains("\"cells\""));
}

/// The example with `sensor` marked real-time and sharing a region with
/// `intruder`.
fn realtime_example(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(example())
        .unwrap()
        .replace(
            "  - name: sensor\n",
            "  - name: sensor\n    realtime: true\n",
        )
        .replace(
            "        size: 16M\n",
            "        size: 16M\n      - base: 0x70000000\n        size: 2M\n        access: rw\n        shared_with: [OTHER]\n",
        )
        .replacen("[OTHER]", "[intruder]", 1)
        .replacen("[OTHER]", "[sensor]", 1);
    let path = dir.join("realtime.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn warnings_are_printed_but_do_not_fail() {
    let images = images();
    let dir = scratch_dir("warnings");
    let config = realtime_example(&dir);
    let (config, images) = (config.to_str().unwrap(), images.to_str().unwrap());

    let (code, stdout, stderr) = bulkhead(&["check", config, "--image-dir", images]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("config::realtime_shared_cluster"),
        "{stderr}"
    );
    assert!(stderr.contains("cells[0].realtime"), "{stderr}");
    assert!(stderr.contains("1 warning in"), "{stderr}");
    // The plan shows the shared region once, naming both cells.
    assert!(
        stdout.contains("shared: sensor memory[1] rw, intruder memory[1] rw"),
        "{stdout}"
    );
    assert!(stdout.contains("rw, shared with intruder"), "{stdout}");
    assert!(stdout.contains("real-time  yes"), "{stdout}");

    let out = dir.join("out");
    let partitioner = dir.join("partitioner.img");
    std::fs::write(&partitioner, virt_partitioner(0x2_0000)).unwrap();
    let (code, _, stderr) = bulkhead(&[
        "build",
        config,
        "-o",
        out.to_str().unwrap(),
        "--partitioner",
        partitioner.to_str().unwrap(),
        "--image-dir",
        images,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("config::realtime_shared_cluster"),
        "{stderr}"
    );
    let blob = std::fs::read(out.join(bulkhead::BLOB_FILE)).unwrap();
    let system = blob::decode(&blob).unwrap();
    assert!(system.realtime.contains(0));
    assert!(system.cells[1].memory[1].shared_with.contains(0));

    // Through the library, the warnings travel with the checked config.
    let loaded = yaml::load(Path::new(config), &[PathBuf::from(images)]).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
}

/// The `qemu` section becomes QEMU arguments that put each device on its
/// slot's bus (slot N of QEMU virt is `virtio-mmio-bus.N`), with the disk
/// found like an image and never written (`snapshot=on`); the plan shows
/// them, and `build` writes them to `qemu.args`.
#[test]
fn qemu_devices_become_arguments_on_their_slots() {
    let dir = scratch_dir("qemu");
    let images = images();
    std::fs::write(images.join("root.ext4"), [0u8; 4096]).unwrap();
    let config = dir.join("gateway.yaml");
    std::fs::write(
        &config,
        "version: 1\nboard: qemu-virt\ncells:\n  - name: gw\n    cpus: [0]\n    \
         dma: unconfined\n    devices: [virtio-mmio31, virtio-mmio23]\n    memory:\n      - { base: 0x50000000, size: 16M }\n    \
         kernel: { path: heartbeat.bin }\n\
         qemu:\n  devices:\n    - { device: virtio-mmio23, network: user }\n    \
         - { device: virtio-mmio31, disk: root.ext4 }\n",
    )
    .unwrap();
    let partitioner = dir.join("partitioner.img");
    std::fs::write(&partitioner, virt_partitioner(0x2_0000)).unwrap();
    let built = build(&BuildOptions {
        config,
        image_dirs: vec![images.clone()],
        partitioner,
        out_dir: dir.join("out"),
    })
    .unwrap();
    let disk = std::path::absolute(images.join("root.ext4")).unwrap();
    let expected = [
        "-netdev".to_string(),
        "user,id=net23".into(),
        "-device".into(),
        "virtio-net-device,netdev=net23,bus=virtio-mmio-bus.23".into(),
        "-drive".into(),
        format!(
            "file={},if=none,format=raw,id=disk31,snapshot=on",
            disk.display()
        ),
        "-device".into(),
        "virtio-blk-device,drive=disk31,bus=virtio-mmio-bus.31".into(),
    ];
    assert_eq!(bulkhead::qemu_args(&built.loaded), expected);
    let written = std::fs::read_to_string(&built.qemu_args_path).unwrap();
    assert_eq!(written.lines().collect::<Vec<_>>(), expected);
    let plan = bulkhead::plan::plan(&built.loaded);
    assert!(plan.contains("in QEMU: disk root.ext4"), "{plan}");
    // Both slots master DMA that no SMMU confines, as the cell accepted.
    assert!(
        plan.contains(
            "DMA       UNCONFINED: virtio-mmio31, virtio-mmio23 can reach any physical address (dma: unconfined)"
        ),
        "{plan}"
    );
    assert!(bulkhead::plan::highlight(&plan).contains("\x1b[1;31mUNCONFINED\x1b[0m"));
    assert!(plan.contains("in QEMU: user network"), "{plan}");

    // Without a `qemu` section the file is empty: QEMU gets no devices.
    let plain = build(&BuildOptions {
        config: example(),
        image_dirs: vec![images],
        partitioner: dir.join("partitioner.img"),
        out_dir: dir.join("plain"),
    })
    .unwrap();
    assert_eq!(std::fs::read(plain.qemu_args_path).unwrap(), b"");
}

/// A channel is planned with its peers, doorbells, layout and
/// permissions, shows in the memory map, and travels in the blob.
#[test]
fn channels_are_planned_and_travel_in_the_blob() {
    let dir = scratch_dir("channels");
    let config = dir.join("channels.yaml");
    std::fs::write(
        &config,
        "version: 1\nboard: qemu-virt\ncells:\n  - name: control\n    cpus: [0]\n    \
         memory: [{ base: 0x50000000, size: 16M }]\n    kernel: { path: heartbeat.bin }\n  \
         - name: containers\n    cpus: [1]\n    memory: [{ base: 0x60000000, size: 16M }]\n    \
         kernel: { path: intruder.bin }\n\
         channels:\n  - name: telemetry\n    peers: [control, containers]\n    \
         base: 0x7fe00000\n    common_size: 4K\n    output_size: 64K\n",
    )
    .unwrap();
    let partitioner = dir.join("partitioner.img");
    std::fs::write(&partitioner, virt_partitioner(0x2_0000)).unwrap();
    let built = build(&BuildOptions {
        config,
        image_dirs: vec![images()],
        partitioner,
        out_dir: dir.join("out"),
    })
    .unwrap();
    let plan = std::fs::read_to_string(&built.plan_path).unwrap();
    for needle in [
        "(4 CPUs, 2 cells, 1 channel)",
        "channels  telemetry (peer 0)",
        "channels  telemetry (peer 1)",
        "channel 0: telemetry (0x7fe00000..0x7fe22000, 136 KiB)",
        "peer 0  control     doorbell IRQ 104  rw: common, output 0; ro: state table, output 1",
        "peer 1  containers  doorbell IRQ 105  rw: common, output 1; ro: state table, output 0",
        "each peer sees PCI device 00:00.0 (ivshmem-v2): ECAM 0x3f000000, BAR 0 (registers) 0x10000000, BAR 2 (memory) 0x20000000 (256 KiB)",
        "state table  0x7fe00000..0x7fe01000  4 KiB   read-only for every peer",
        "common       0x7fe01000..0x7fe02000  4 KiB   read-write for every peer",
        "output 0     0x7fe02000..0x7fe12000  64 KiB  read-write for control, read-only for containers",
        "output 1     0x7fe12000..0x7fe22000  64 KiB  read-write for containers, read-only for control",
        "0x7fe00000..0x7fe22000  136 KiB  channel telemetry (control, containers)",
    ] {
        assert!(plan.contains(needle), "{needle:?} missing from\n{plan}");
    }
    let blob = std::fs::read(&built.blob_path).unwrap();
    let system = blob::decode(&blob).unwrap();
    assert_eq!(system.channels, built.loaded.system.channels);
    assert_eq!(system.channels[0].peers.as_slice(), [0, 1]);
}
