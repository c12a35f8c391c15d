//! Loading good configs: the example, defaults, image lookup, payload
//! layout, and a file with many mistakes reported at once.

mod common;

use config::yaml::{self, LoadError};
use config::{blob, rules, FaultPolicy, ImageKind, PAGE_SIZE};
use std::path::{Path, PathBuf};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/qemu-heartbeat.yaml")
}

#[test]
fn the_example_loads() {
    let images = common::image_dir();
    let loaded = yaml::load(&example(), std::slice::from_ref(&images)).unwrap();
    let s = &loaded.system;
    assert_eq!(s.board.as_str(), "qemu-virt");
    assert_eq!(s.cells.len(), 2);
    let sensor = &s.cells[0];
    assert_eq!(sensor.name.as_str(), "sensor");
    assert_eq!(sensor.cpus.iter().collect::<Vec<_>>(), [0, 1]);
    assert_eq!(sensor.memory[0].range.base, 0x5000_0000);
    assert_eq!(sensor.memory[0].range.size, 16 << 20);
    assert_eq!(sensor.console.unwrap().base, 0x0900_0000);
    assert_eq!(sensor.images[0].kind, ImageKind::Kernel);
    assert_eq!(sensor.images[0].load_address, 0x5000_0000);
    assert_eq!(sensor.images[0].size, 2048);
    assert_eq!(sensor.entry, 0x5000_0000);
    assert_eq!(sensor.boot_argument, 5);
    assert_eq!(sensor.devices[0].name.as_str(), "virtio-mmio31");
    assert_eq!(sensor.devices[0].irqs.as_slice(), [79]);
    assert_eq!(sensor.on_fault, FaultPolicy::Stop);
    assert_eq!(s.cells[1].cpus.iter().collect::<Vec<_>>(), [2]);

    // Payloads: 4 KiB aligned after the blob, in cell order, byte-identical.
    let blob_len = blob::encoded_len(s) as u64;
    assert_eq!(loaded.payloads.len(), 2);
    let mut end = blob_len;
    for p in &loaded.payloads {
        let image = &s.cells[p.cell].images[p.image];
        assert_eq!(image.offset % PAGE_SIZE, 0);
        assert!(image.offset >= end);
        assert_eq!(image.size, p.bytes.len() as u64);
        assert_eq!(std::fs::read(&p.path).unwrap(), p.bytes);
        end = image.offset + image.size;
    }
    assert_eq!(loaded.total_length, end);
    assert_eq!(loaded.payloads[0].footprint, 0x1_0000);

    // The blob round-trips and the partitioner's own check passes.
    let encoded = loaded.blob();
    assert_eq!(&blob::decode(&encoded).unwrap(), s);
    assert_eq!(blob::read_header(&encoded).unwrap().total_length, end);
    assert_eq!(rules::check(s, loaded.board, |_| {}), 0);
}

#[test]
fn cell_names_need_no_images() {
    assert_eq!(
        yaml::cell_names(&example()).unwrap(),
        ["sensor", "intruder"]
    );
    assert!(matches!(
        yaml::cell_names(Path::new("/nonexistent/bulkhead.yaml")),
        Err(LoadError::Read { .. })
    ));
}

#[test]
fn defaults_follow_the_image_header_and_device_tree() {
    let dir = common::scratch_dir("defaults");
    std::fs::write(
        dir.join("linux.bin"),
        common::arm64_image(0x8_0000, 0x20_0000, 8192),
    )
    .unwrap();
    std::fs::write(dir.join("board.dtb"), [0xd0, 0x0d, 0xfe, 0xed]).unwrap();
    std::fs::write(dir.join("rootfs.cpio"), vec![1u8; 5000]).unwrap();
    let config = dir.join("linux.yaml");
    std::fs::write(
        &config,
        "version: 1\nboard: qemu-virt\ncells:\n  - name: linux\n    cpus: [3, 1]\n    memory:\n      - { base: 0x5000_0000, size: 64M, access: rwx }\n      - { base: 0x7000_0000, size: \"1M\", access: ro }\n    devices: [virtio-mmio0]\n    console: none\n    kernel: { path: linux.bin }\n    initrd: { path: rootfs.cpio, load_address: 0x5300_0000 }\n    device_tree: { path: board.dtb, load_address: 0x5200_0000 }\n    on_fault: restart\n",
    )
    .unwrap();
    let loaded = yaml::load(&config, &[]).unwrap();
    let cell = &loaded.system.cells[0];
    assert_eq!(cell.cpus.iter().collect::<Vec<_>>(), [1, 3]);
    assert_eq!(cell.images[0].load_address, 0x5008_0000);
    assert_eq!(cell.entry, 0x5008_0000);
    assert_eq!(cell.images[1].kind, ImageKind::Initrd);
    assert_eq!(cell.images[2].kind, ImageKind::DeviceTree);
    assert_eq!(cell.boot_argument, 0x5200_0000);
    assert_eq!(cell.console, None);
    assert_eq!(cell.on_fault, FaultPolicy::Restart);
    assert_eq!(cell.memory[1].access, config::Access::ReadOnly);
    assert_eq!(cell.devices[0].name.as_str(), "virtio-mmio0");
    assert_eq!(cell.devices[0].irqs[0], 48);
    assert_eq!(loaded.payloads.len(), 3);
}

#[test]
fn images_next_to_the_config_win_over_image_dirs() {
    let dir = common::scratch_dir("lookup");
    let other = common::image_dir();
    std::fs::copy(example(), dir.join("c.yaml")).unwrap();
    std::fs::write(
        dir.join("heartbeat.bin"),
        common::arm64_image(0, 0x1000, 100),
    )
    .unwrap();
    let loaded = yaml::load(&dir.join("c.yaml"), std::slice::from_ref(&other)).unwrap();
    assert_eq!(loaded.payloads[0].path, dir.join("heartbeat.bin"));
    assert_eq!(loaded.payloads[1].path, other.join("intruder.bin"));
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let images = common::image_dir();
    let source = "\
version: 1
board: qemu-virt
cells:
  - name: sensor
    cpus: [0, 1]
    memory:
      - base: 0x50000000
        size: 16M
    devices: [virtio-mmio31]
    kernel:
      path: heartbeat.bin
  - name: Intruder!
    cpus: [1, 2, 2, 7]
    memory:
      - base: 0x50800000
        size: 16M
      - base: 0x48000000
        size: 0x1800
    devices: [virtio-mmio30, virtio-mmio3, uart0, virtio-mmio9x]
    kernel:
      path: nothere.bin
  - name: sensor
    cpus: [3]
    memory:
      - base: 0x70000000
        size: 16M
    kernel:
      path: intruder.bin
    entry: 0x10
";
    let Err(diagnostics) = yaml::load_source(source, &images.join("multi.yaml"), &[]) else {
        panic!("loaded");
    };
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            "config::bad_name",
            "config::cpu_taken",
            "config::cpu_listed_twice",
            "config::no_such_cpu",
            "config::memory_overlap",
            "config::hypervisor_ram",
            "config::unaligned",
            "config::device_page_shared",
            "config::device_reserved",
            "config::unknown_device",
            "config::missing_image",
            "config::duplicate_name",
            "config::entry_outside_kernel",
        ]
    );
    let lines: Vec<usize> = diagnostics.iter().map(|d| d.line).collect();
    assert_eq!(lines, [12, 13, 13, 13, 15, 17, 18, 19, 19, 19, 21, 22, 29]);
    let rendered = diagnostics.render();
    assert!(rendered.contains("13 problems in"), "{rendered}");
    assert!(
        rendered.contains("did you mean `virtio-mmio9`?"),
        "{rendered}"
    );
    assert!(rendered.contains("multi.yaml:29:12"), "{rendered}");
}

#[test]
fn the_schema_describes_the_format() {
    let schema = yaml::json_schema();
    for needle in [
        "\"cells\"",
        "\"additionalProperties\": false",
        "load_address",
        "rwx",
        "restart",
    ] {
        assert!(schema.contains(needle), "{needle} missing from\n{schema}");
    }
}
