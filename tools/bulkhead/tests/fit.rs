//! The FIT image and boot script for U-Boot: parsed back with the `fdt`
//! crate, every image must land where it sits in `bulkhead.img`, with a
//! correct CRC-32, under one configuration that boots the partitioner.

use bulkhead::fit::{FitType, CONFIGURATION, FIT_FILE, SCRIPT_FILE, SCRIPT_SOURCE_FILE};
use bulkhead::{build, BuildOptions, Built};
use bulkhead_config::blob::crc32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("bulkhead-fit-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An arm64 Image of `len` bytes whose header gives `image_size`.
fn arm64_image(image_size: u64, len: usize, seed: u8) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed))
        .collect();
    bytes[..64].fill(0);
    bytes[16..24].copy_from_slice(&image_size.to_le_bytes());
    bytes[56..60].copy_from_slice(b"ARM\x64");
    bytes
}

/// Builds the heartbeat example with made-up images.
fn built(partitioner: &[u8]) -> Built {
    let dir = scratch_dir("build");
    std::fs::write(dir.join("heartbeat.bin"), arm64_image(0x1_0000, 3000, 1)).unwrap();
    std::fs::write(dir.join("intruder.bin"), arm64_image(0x1_0000, 5000, 2)).unwrap();
    std::fs::write(dir.join("partitioner.img"), partitioner).unwrap();
    let config =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/examples/qemu-heartbeat.yaml");
    build(&BuildOptions {
        config,
        image_dirs: vec![dir.clone()],
        partitioner: dir.join("partitioner.img"),
        out_dir: dir.join("out"),
    })
    .unwrap()
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes.try_into().unwrap())
}

/// A string property's value (without the trailing NUL).
fn text<'a>(property: Option<fdt::nodes::NodeProperty<'a>>) -> &'a str {
    let value = property.expect("no such property").value;
    std::str::from_utf8(value.strip_suffix(&[0]).unwrap()).unwrap()
}

#[test]
fn every_image_loads_where_it_sits_in_the_boot_image() {
    let partitioner = common::partitioner_for("qemu-virt", arm64_image(0x2_0000, 0x1_2345, 7));
    let built = built(&partitioner);
    let out = built.fit_path.parent().unwrap();
    let itb = std::fs::read(out.join(FIT_FILE)).unwrap();
    assert_eq!(itb, built.gateway.fit);
    let tree = fdt::Fdt::new_unaligned(&itb).unwrap();
    let image = &built.image;
    let load_address = image.load_address;

    let root = tree.find_node("/").unwrap();
    assert!(
        text(root.raw_property("description")).contains("qemu-heartbeat.yaml on board qemu-virt")
    );
    assert_eq!(be32(root.raw_property("#address-cells").unwrap().value), 1);
    assert!(root.raw_property("timestamp").is_some());

    // The configuration: the partitioner is the kernel, the rest loadables.
    let configurations = tree.find_node("/configurations").unwrap();
    assert_eq!(text(configurations.raw_property("default")), CONFIGURATION);
    let config = tree.find_node("/configurations/bulkhead").unwrap();
    assert_eq!(text(config.raw_property("kernel")), "partitioner");
    let loadables: Vec<&str> = config
        .raw_property("loadables")
        .unwrap()
        .value
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| std::str::from_utf8(s).unwrap())
        .collect();
    assert_eq!(loadables, ["config", "sensor-kernel", "intruder-kernel"]);
    assert!(
        config.raw_property("fdt").is_none(),
        "the board's tree comes from the firmware"
    );

    // Each image: data, type, load address, and its CRC-32 hash node.
    let check = |name: &str, kind: &str, load: u64, data: &[u8]| {
        let node = tree
            .find_node(&format!("/images/{name}"))
            .unwrap_or_else(|| panic!("no image {name}"));
        assert_eq!(
            node.raw_property("data").unwrap().value,
            data,
            "{name} data"
        );
        assert_eq!(text(node.raw_property("type")), kind, "{name} type");
        assert_eq!(text(node.raw_property("arch")), "arm64");
        assert_eq!(text(node.raw_property("compression")), "none");
        assert_eq!(
            u64::from(be32(node.raw_property("load").unwrap().value)),
            load,
            "{name} load"
        );
        let hash = tree
            .find_node(&format!("/images/{name}/hash-1"))
            .unwrap_or_else(|| panic!("no hash for {name}"));
        assert_eq!(text(hash.raw_property("algo")), "crc32");
        assert_eq!(be32(hash.raw_property("value").unwrap().value), crc32(data));
        node
    };

    // The partitioner, as built, with its own (unpatched) image_size, so
    // that a loader copying image_size bytes stops at the blob.
    let node = check("partitioner", "kernel", load_address, &partitioner);
    assert_eq!(text(node.raw_property("os")), "linux");
    assert_eq!(
        u64::from(be32(node.raw_property("entry").unwrap().value)),
        load_address
    );
    assert_eq!(
        u64::from_le_bytes(partitioner[16..24].try_into().unwrap()),
        image.blob_offset
    );

    // The blob at the partitioner's __image_end, as in bulkhead.img.
    let blob_address = load_address + image.blob_offset;
    check("config", "firmware", blob_address, &image.blob);
    let blob_at = image.blob_offset as usize;
    assert_eq!(
        &image.bytes[blob_at..blob_at + image.blob.len()],
        image.blob
    );

    // Each cell image at blob + offset: the same bytes bulkhead.img has there.
    for (name, cell) in [("sensor-kernel", 0), ("intruder-kernel", 1)] {
        let model = &built.loaded.system.cells[cell].images[0];
        let at = (image.blob_offset + model.offset) as usize;
        let in_boot_image = &image.bytes[at..at + model.size as usize];
        let node = check(name, "kernel", blob_address + model.offset, in_boot_image);
        assert!(
            node.raw_property("entry").is_none(),
            "the partitioner starts cells, not U-Boot"
        );
        let description = text(node.raw_property("description"));
        assert!(
            description.contains(&format!("{:#x}", model.load_address)),
            "{description}"
        );
    }
    assert_eq!(
        tree.find_node("/images").unwrap().children().iter().count(),
        4
    );

    // What the library reports matches the file.
    let kinds: Vec<FitType> = built.gateway.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            FitType::Kernel,
            FitType::Firmware,
            FitType::Kernel,
            FitType::Kernel
        ]
    );
    let plan = std::fs::read_to_string(&built.plan_path).unwrap();
    assert!(plan.contains("FIT image bulkhead.itb"), "{plan}");
    assert!(plan.contains("sensor-kernel"), "{plan}");
}

#[test]
fn the_boot_script_is_written_with_its_source() {
    let built = built(&common::partitioner_for(
        "qemu-virt",
        arm64_image(0x2_0000, 0x1000, 3),
    ));
    let out = built.script_path.parent().unwrap();
    let script = std::fs::read(out.join(SCRIPT_FILE)).unwrap();
    let source = std::fs::read_to_string(out.join(SCRIPT_SOURCE_FILE)).unwrap();
    assert_eq!(script, built.gateway.script);
    assert_eq!(source, built.gateway.script_source);
    assert_eq!(built.gateway.fit_address, 0x5000_0000);
    assert!(
        source.contains("setenv bulkhead_fit 0x50000000"),
        "{source}"
    );
    assert!(source.contains("for board qemu-virt"), "{source}");
    // The legacy header, then the length list, then the text.
    assert_eq!(be32(&script[0..4]), 0x2705_1956);
    assert_eq!(be32(&script[64..68]) as usize, source.len());
    assert_eq!(&script[72..], source.as_bytes());
}
