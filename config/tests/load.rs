//! Loading good configs: the example, defaults, image lookup, payload
//! layout, and a file with many mistakes reported at once.

mod common;

use bsp::MemRange;
use bulkhead_config::yaml::{self, LoadError};
use bulkhead_config::{blob, doorbell_spi, rules, FaultPolicy, ImageKind, MAX_CELLS, PAGE_SIZE};
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
    std::fs::write(dir.join("board.dtb"), bulkhead_config::fdt::EMPTY_TREE).unwrap();
    std::fs::write(dir.join("rootfs.cpio"), vec![1u8; 5000]).unwrap();
    let config = dir.join("linux.yaml");
    std::fs::write(
        &config,
        "version: 1\nboard: qemu-virt\ncells:\n  - name: linux\n    cpus: [3, 1]\n    memory:\n      - { base: 0x5000_0000, size: 64M, access: rwx }\n      - { base: 0x7000_0000, size: \"1M\", access: ro }\n    dma: unconfined\n    devices: [virtio-mmio0]\n    console: none\n    kernel: { path: linux.bin }\n    initrd: { path: rootfs.cpio, load_address: 0x5300_0000 }\n    device_tree: { path: board.dtb, load_address: 0x5200_0000 }\n    on_fault: restart\n",
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
    assert_eq!(cell.memory[1].access, bulkhead_config::Access::ReadOnly);
    assert_eq!(cell.devices[0].name.as_str(), "virtio-mmio0");
    assert_eq!(cell.devices[0].irqs[0], 48);
    assert!(loaded.system.unconfined_dma.contains(0));
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
    dma: unconfined
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
    dma: unconfined
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
    assert_eq!(lines, [13, 14, 14, 14, 16, 18, 19, 21, 21, 21, 23, 24, 31]);
    let rendered = diagnostics.render();
    assert!(rendered.contains("13 problems in"), "{rendered}");
    assert!(
        rendered.contains("did you mean `virtio-mmio9`?"),
        "{rendered}"
    );
    assert!(rendered.contains("multi.yaml:31:12"), "{rendered}");
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
        "guest_base",
        "shared_with",
        "realtime",
        "channels",
        "peers",
        "common_size",
        "output_size",
    ] {
        assert!(schema.contains(needle), "{needle} missing from\n{schema}");
    }
}

#[test]
fn generated_device_trees_become_images() {
    let dir = common::scratch_dir("generated");
    common::write_images(&dir);
    let config = dir.join("generated.yaml");
    std::fs::write(
        &config,
        "version: 1\nboard: qemu-virt\ncells:\n  - name: linux\n    cpus: [1, 3]\n    memory:\n      - { base: 0x5000_0000, size: 63M }\n    kernel: { path: heartbeat.bin }\n    initrd: { path: initrd.bin, load_address: 0x5100_0000 }\n    device_tree: {}\n  - name: quiet\n    cpus: [0]\n    memory: [{ base: 0x6000_0000, size: 16M }]\n    console: none\n    kernel: { path: intruder.bin }\n    device_tree: { load_address: 0x6010_0000 }\n    bootargs: loglevel=0\n    boot_argument: 7\n",
    )
    .unwrap();

    // Without a generator, the loader says it cannot make the trees.
    let Err(LoadError::Invalid(diagnostics)) = yaml::load(&config, &[]) else {
        panic!("loaded without a generator");
    };
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["config::device_tree_generator"; 2]);

    let seen = std::cell::RefCell::new(Vec::new());
    let generator = |request: &yaml::TreeRequest<'_>| {
        seen.borrow_mut().push((
            request.index,
            request.bootargs.to_string(),
            request.cell.console,
            request
                .cell
                .images
                .iter()
                .map(|i| i.kind)
                .collect::<Vec<_>>(),
        ));
        Ok(vec![request.index as u8; 1000 + request.index])
    };
    let loaded = yaml::load_with(&config, &[], Some(&generator)).unwrap();
    let seen = seen.into_inner();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].1, "console=ttyAMA0 earlycon=pl011,mmio32,0x9000000");
    let console = seen[0].2.unwrap();
    assert_eq!((console.base, console.irq), (0x0900_0000, 96));
    assert_eq!(seen[0].3, [ImageKind::Kernel, ImageKind::Initrd]);
    assert_eq!(seen[1].1, "loglevel=0");
    assert_eq!(seen[1].2, None);

    let linux = &loaded.system.cells[0];
    let tree = linux.images[2];
    assert_eq!(tree.kind, ImageKind::DeviceTree);
    // 63 MiB from 0x5000_0000 ends at 0x53f0_0000: the last 2 MiB-aligned
    // 2 MiB window starts at 0x53c0_0000.
    assert_eq!(tree.load_address, 0x53c0_0000);
    assert_eq!(tree.size, 1000);
    assert_eq!(linux.boot_argument, 0x53c0_0000);
    let quiet = &loaded.system.cells[1];
    assert_eq!(quiet.images[1].load_address, 0x6010_0000);
    assert_eq!(quiet.boot_argument, 7);

    let payload = loaded.payload(0, 2).unwrap();
    assert!(payload.generated);
    assert_eq!(payload.path, Path::new("linux.dtb"));
    assert_eq!(payload.bytes, vec![0u8; 1000]);
    assert!(!loaded.payload(0, 0).unwrap().generated);
    assert_eq!(loaded.payloads.len(), 5);
    let encoded = loaded.blob();
    assert_eq!(&blob::decode(&encoded).unwrap(), &loaded.system);
    assert_eq!(rules::check(&loaded.system, loaded.board, |_| {}), 0);
}

#[test]
fn generated_device_trees_obey_the_image_rules() {
    let dir = common::scratch_dir("generated-bad");
    common::write_images(&dir);
    let source = "version: 1\nboard: qemu-virt\ncells:\n  - name: tiny\n    cpus: [0]\n    memory: [{ base: 0x5000_0000, size: 1M }]\n    kernel: { path: heartbeat.bin }\n    device_tree: {}\n  - name: clash\n    cpus: [1]\n    memory: [{ base: 0x6000_0000, size: 16M }]\n    kernel: { path: heartbeat.bin }\n    device_tree: { load_address: 0x6000_8000 }\n  - name: broken\n    cpus: [2]\n    memory: [{ base: 0x7000_0000, size: 16M }]\n    kernel: { path: heartbeat.bin }\n    device_tree: { load_address: 0x7100_0000 }\n";
    let generator = |request: &yaml::TreeRequest<'_>| match request.index {
        2 => Err("no GIC".to_string()),
        _ => Ok(vec![0xd0; 4096]),
    };
    let Err(diagnostics) =
        yaml::load_source_with(source, &dir.join("c.yaml"), &[], Some(&generator))
    else {
        panic!("loaded");
    };
    let found: Vec<(&str, &str)> = diagnostics
        .iter()
        .map(|d| (d.code, d.path.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("config::no_room_for_device_tree", "cells[0].device_tree"),
            ("config::image_overlap", "cells[1].device_tree.load_address"),
            ("config::device_tree_generation", "cells[2].device_tree"),
        ]
    );
    assert!(diagnostics.render().contains("generated device tree"));
}

#[test]
fn channels_load_with_their_peers_in_order() {
    let images = common::image_dir();
    let source = "\
version: 1
board: qemu-virt
cells:
  - name: control
    cpus: [0]
    memory: [{ base: 0x50000000, size: 16M }]
    kernel: { path: heartbeat.bin }
  - name: containers
    cpus: [1]
    memory: [{ base: 0x60000000, size: 16M }]
    kernel: { path: intruder.bin }
  - name: logger
    cpus: [2]
    memory: [{ base: 0x68000000, size: 16M }]
    kernel: { path: intruder.bin }
channels:
  - name: telemetry
    peers: [control, containers]
    base: 0x7fe00000
    common_size: 4K
    output_size: 64K
  - name: logs
    peers: [logger, containers, control]
    base: 0x0_7fd0_0000
    output_size: 0x2000
";
    let loaded = yaml::load_source(source, &images.join("channels.yaml"), &[]).unwrap();
    let s = &loaded.system;
    assert_eq!(s.channels.len(), 2);
    let telemetry = &s.channels[0];
    assert_eq!(telemetry.name.as_str(), "telemetry");
    assert_eq!(telemetry.peers.as_slice(), [0, 1]);
    assert_eq!(telemetry.state_table(), MemRange::new(0x7fe0_0000, 0x1000));
    assert_eq!(telemetry.common(), MemRange::new(0x7fe0_1000, 0x1000));
    assert_eq!(telemetry.output(1), MemRange::new(0x7fe1_2000, 0x1_0000));
    assert_eq!(telemetry.range(), MemRange::new(0x7fe0_0000, 0x2_2000));
    let logs = &s.channels[1];
    // The list's order is the peer ids' order.
    assert_eq!(logs.peers.as_slice(), [2, 1, 0]);
    assert_eq!(logs.peer_of(0), Some(2));
    assert_eq!(logs.common_size, 0);
    assert_eq!(logs.range(), MemRange::new(0x7fd0_0000, 0x7000));
    // Doorbells: after the consoles' spare SPIs, four per channel.
    let spare = loaded.board.spare_spis;
    assert_eq!(doorbell_spi(spare, 0, 1), Some(96 + MAX_CELLS as u32 + 1));
    assert_eq!(
        doorbell_spi(spare, 1, 2),
        Some(96 + MAX_CELLS as u32 + 4 + 2)
    );

    let encoded = loaded.blob();
    assert_eq!(&blob::decode(&encoded).unwrap(), s);
    assert_eq!(rules::check(s, loaded.board, |_| {}), 0);
    // A config without channels has none.
    let loaded = yaml::load(&example(), std::slice::from_ref(&images)).unwrap();
    assert!(loaded.system.channels.is_empty());
}

#[test]
fn channel_problems_are_reported_with_the_cells_problems() {
    let images = common::image_dir();
    let source = "\
version: 1
board: qemu-virt
cells:
  - name: control
    cpus: [0]
    memory: [{ base: 0x50000000, size: 16M }]
    kernel: { path: heartbeat.bin }
  - name: containers
    cpus: [0]
    memory: [{ base: 0x60000000, size: 16M }]
    kernel: { path: intruder.bin }
channels:
  - name: telemetry
    peers: [control, contaners, control]
    base: 0x50f00000
    output_size: 64K
  - name: telemetry
    peers: [containers]
    base: 0x7fe00000
    output_size: 0x1800
";
    let Err(diagnostics) = yaml::load_source(source, &images.join("c.yaml"), &[]) else {
        panic!("loaded");
    };
    let found: Vec<(&str, &str, usize)> = diagnostics
        .iter()
        .map(|d| (d.code, d.path.as_str(), d.line))
        .collect();
    assert_eq!(
        found,
        [
            ("config::cpu_taken", "cells[1].cpus[0]", 9),
            ("config::unknown_cell", "channels[0].peers[1]", 14),
            ("config::cell_listed_twice", "channels[0].peers[2]", 14),
            ("config::memory_overlap", "channels[0].base", 15),
            ("config::duplicate_name", "channels[1].name", 17),
            ("config::too_few_peers", "channels[1].peers", 18),
            ("config::unaligned", "channels[1].output_size", 20),
        ]
    );
    let rendered = diagnostics.render();
    assert!(
        rendered.contains("did you mean `containers`?"),
        "{rendered}"
    );
}

/// Neither a config nor an image is read past what it could sensibly be:
/// a device that never ends (`/dev/zero`) as the config, and a 1 GiB
/// sparse file as the kernel of a 16 MiB cell, are refused at once, with
/// the reason, and without reading them.
#[test]
fn endless_or_oversized_files_are_refused_unread() {
    let Err(LoadError::Read { source, .. }) = yaml::load(Path::new("/dev/zero"), &[]) else {
        panic!("/dev/zero loaded");
    };
    assert!(
        source.to_string().contains("larger than 1024 KiB"),
        "{source}"
    );

    let dir = common::image_dir();
    let sparse = std::fs::File::create(dir.join("sparse.bin")).unwrap();
    sparse.set_len(1 << 30).unwrap();
    let config = dir.join("sparse.yaml");
    std::fs::write(
        &config,
        "version: 1\nboard: qemu-virt\ncells:\n  - name: big\n    cpus: [0]\n    memory: [{ base: 0x50000000, size: 16M }]\n    kernel: { path: sparse.bin }\n",
    )
    .unwrap();
    let Err(LoadError::Invalid(diagnostics)) = yaml::load(&config, &[]) else {
        panic!("a 1 GiB kernel for a 16 MiB cell loaded");
    };
    let rendered = diagnostics.render();
    assert!(
        rendered.contains("image file")
            && rendered.contains("is larger than the cell's RAM (16 MiB)"),
        "{rendered}"
    );
}

/// A config whose text holds terminal escape sequences, BEL and a
/// right-to-left override is reported with those characters replaced:
/// quoting the file cannot act on the user's terminal or make a line read
/// other than it parses.
#[test]
fn quoted_lines_carry_no_control_or_bidi_characters() {
    let text = "version: 1\nboard: qemu-virt\ncells:\n  - name: \"ev\u{1b}]0;pwned\u{7}il\u{202e}bad\"\n    cpus: [0]\n    memory: [{ base: 0x50000000, size: 16M }]\n    kernel: { path: heartbeat.bin }\n";
    let Err(diagnostics) = yaml::load_source(text, Path::new("esc.yaml"), &[]) else {
        panic!("loaded");
    };
    let rendered = diagnostics.render();
    assert!(rendered.contains("esc.yaml:4"), "{rendered}");
    for bad in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(!rendered.contains(bad), "{bad:?} in {rendered}");
    }
}
