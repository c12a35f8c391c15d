//! `bulkhead platform from-dtb` against QEMU's own device tree, and the
//! example gateway configs of the boards described from Debian's DTBs.

use bulkhead::platform::{self, generated_part, render, with_hand_made};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bulkhead-platform-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// QEMU's DTB for the reference machine with GIC version `gic`, dumped
/// now.
fn qemu_virt_dtb(gic: u8) -> Vec<u8> {
    qemu_dtb(&format!("qemu-gic{gic}"), &format!("gic-version={gic}"))
}

/// QEMU's DTB for `virt,virtualization=on,<options>`, dumped now into
/// scratch directory `name`.
fn qemu_dtb(name: &str, options: &str) -> Vec<u8> {
    let dir = scratch(name);
    let dtb = dir.join("qemu-virt.dtb");
    let status = Command::new("qemu-system-aarch64")
        .args([
            "-M",
            &format!("virt,virtualization=on,{options},dumpdtb={}", dtb.display()),
            "-cpu",
            "cortex-a72",
            "-smp",
            "4",
            "-m",
            "2G",
            "-display",
            "none",
        ])
        .output()
        .expect("qemu-system-aarch64 must be installed (cargo xtask setup)");
    assert!(dtb.is_file(), "QEMU wrote no DTB: {status:?}");
    std::fs::read(dtb).unwrap()
}

/// `platform`, generated from QEMU's DTB now, is what board file `name`
/// holds above its hand-made section.
fn assert_round_trips(platform: &platform::Platform, name: &str) {
    let committed =
        std::fs::read_to_string(root().join(format!("bsp/boards/{name}.yaml"))).unwrap();
    assert_eq!(
        render(platform),
        generated_part(&committed),
        "bsp/boards/{name}.yaml is stale: regenerate it with \
         `bulkhead platform from-dtb {name}.dtb --name {name} -o bsp/boards/{name}.yaml`"
    );
}

#[test]
fn qemu_virt_round_trips_to_the_committed_board_file() {
    let platform = platform::from_dtb(&qemu_virt_dtb(3), "qemu-virt", "qemu-virt.dtb").unwrap();
    assert_round_trips(&platform, "qemu-virt");
    // The names configs use, and what the Rust board says, agree.
    let board = bsp::board("qemu-virt").unwrap();
    assert_eq!(platform.devices.len(), board.devices.len());
    for (d, b) in platform.devices.iter().zip(board.devices) {
        assert_eq!(d.name, b.name);
        assert_eq!(d.irqs, b.irqs);
        let mmio: Vec<bsp::MemRange> = d
            .mmio
            .iter()
            .map(|r| bsp::MemRange::new(r.base, r.size))
            .collect();
        assert_eq!(mmio, b.mmio);
    }
    assert_eq!(platform.console.as_deref(), Some("uart0"));
    assert_eq!(platform.gic.version, 3);
    assert_eq!(platform.cpus.len(), 4);
    assert_eq!(platform.cluster_source, "cpu-map");
}

/// QEMU 10's `virt` with its SMMUv3 in front of the PCIe host bridge (and
/// without the high memory map), the lab's SMMU board `qemu-virt-smmu`:
/// the SMMU is the partitioner's (listed apart, never a device a cell can
/// be given), with its registers and its four interrupts, and the bridge's
/// `iommu-map` says that a requester ID is its stream ID.
#[test]
fn qemu_virt_with_an_smmuv3_lists_it_and_the_bridge_streams() {
    let name = "qemu-virt-smmu";
    let dtb = qemu_dtb("qemu-smmuv3", "gic-version=3,iommu=smmuv3,highmem=off");
    let platform = platform::from_dtb(&dtb, name, &format!("{name}.dtb")).unwrap();
    assert_round_trips(&platform, name);
    // The board the partitioner is built for has the same SMMU, and the
    // spare SPIs it raises for emulated devices are clear of the SMMU's.
    let board = bsp::board(name).unwrap();
    let [iommu] = board.iommus else {
        panic!("one IOMMU expected: {:#?}", board.iommus);
    };
    assert_eq!(iommu.kind, bsp::IommuKind::SmmuV3);
    assert!(iommu.irqs.iter().all(|i| !board.spare_spis.contains(*i)));
    let [smmu] = &platform.iommus[..] else {
        panic!("one IOMMU expected: {:#?}", platform.iommus);
    };
    assert_eq!(smmu.name, "smmu");
    assert_eq!(smmu.kind, platform::IommuKind::SmmuV3);
    assert_eq!(
        (smmu.mmio[0].base, smmu.mmio[0].size),
        (0x0905_0000, 0x2_0000)
    );
    assert_eq!(smmu.irqs, [106, 107, 108, 109]);
    assert!(smmu.enabled);
    assert!(
        platform.devices.iter().all(|d| d.node != smmu.node),
        "the SMMU is not a device"
    );
    let pcie = platform.devices.iter().find(|d| d.name == "pcie").unwrap();
    assert_eq!(pcie.iommu.as_deref(), Some("smmu"));
    assert_eq!(
        pcie.stream_map,
        [platform::StreamMap {
            rid_base: 0,
            sid_base: 0,
            length: 0x1_0000
        }]
    );
    // virtio-mmio is not behind it.
    assert!(platform
        .devices
        .iter()
        .filter(|d| d.name.starts_with("virtio-mmio"))
        .all(|d| d.iommu.is_none()));
    let text = render(&platform);
    assert!(text.contains("    kind: smmu-v3\n"), "{text}");
    assert!(
        text.contains("      - { rid_base: 0x0, sid_base: 0x0, length: 0x10000 }\n"),
        "{text}"
    );
}

/// The GICv2 variant of the reference machine, the lab's GICv2 board.
#[test]
fn qemu_virt_with_a_gicv2_round_trips_to_its_board_file() {
    let name = "qemu-virt-gicv2";
    let platform = platform::from_dtb(&qemu_virt_dtb(2), name, &format!("{name}.dtb")).unwrap();
    assert_round_trips(&platform, name);
    let board = bsp::board(name).unwrap();
    assert_eq!(board.gic.version, bsp::GicVersion::V2);
    assert_eq!(
        board.gic.cpu_interface,
        Some(bsp::MemRange::new(0x0801_0000, 0x1_0000))
    );
    assert!(board.gic.redistributors.size == 0);
}

#[test]
fn regenerating_keeps_the_hand_made_section() {
    let committed = std::fs::read_to_string(root().join("bsp/boards/qemu-virt.yaml")).unwrap();
    let generated = generated_part(&committed);
    assert_eq!(with_hand_made(generated, Some(&committed)), committed);
    let fresh = with_hand_made(generated, None);
    assert!(fresh.contains("hand_made:\n  # RAM the partitioner keeps"));
}

#[test]
fn garbage_is_refused() {
    assert!(matches!(
        platform::from_dtb(b"not a dtb at all", "x", "x.dtb"),
        Err(platform::PlatformError::BadDtb(_))
    ));
}

/// Stand-ins for the gateway cells' images: small arm64 Images with a
/// 32 MiB footprint, and placeholder initrds and DTBs.
fn gateway_images() -> PathBuf {
    let dir = scratch("gateway-images");
    let mut image = vec![0u8; 4096];
    image[8..16].copy_from_slice(&0x8_0000u64.to_le_bytes());
    image[16..24].copy_from_slice(&(32u64 << 20).to_le_bytes());
    image[56..60].copy_from_slice(b"ARM\x64");
    for name in ["rt-Image", "Image", "linux-rt.Image", "linux-generic.Image"] {
        std::fs::write(dir.join(name), &image).unwrap();
    }
    for name in [
        "rt-initrd.cpio.gz",
        "containers.cpio.gz",
        "initramfs-rt.cpio.gz",
        "initramfs-containers-ram.cpio.gz",
        "rt-cell.dtb",
        "containers.dtb",
    ] {
        let bytes: &[u8] = if name.ends_with(".dtb") {
            &bulkhead_config::fdt::EMPTY_TREE
        } else {
            &[0x1f, 0x8b, 0, 0]
        };
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir
}

#[test]
fn gateway_examples_pass_check() {
    let images = gateway_images();
    for board in ["rpi4b", "imx8mp-evk", "zcu102"] {
        let config = root().join(format!("config/examples/{board}-gateway.yaml"));
        let loaded = bulkhead::check(&config, std::slice::from_ref(&images))
            .unwrap_or_else(|e| panic!("{}: {e:?}", config.display()));
        assert_eq!(loaded.board.name, board);
        let names: Vec<&str> = loaded
            .system
            .cells
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["control", "containers"]);
        let built = bulkhead::build(&bulkhead::BuildOptions {
            config: config.clone(),
            image_dirs: vec![images.clone()],
            partitioner: images.join("Image"),
            out_dir: scratch(board),
        });
        // The partitioner runs there: the build only wants a partitioner
        // built for it (this stand-in has no identity).
        assert_eq!(loaded.board.gaps().count(), 0, "{board}");
        assert!(
            matches!(
                &built,
                Err(bulkhead::Error::Image(
                    bulkhead::ImageError::NoIdentity { .. }
                ))
            ),
            "{board}: {built:?}"
        );
    }
}

#[test]
fn the_committed_boards_carry_their_corrections() {
    let rpi = bsp::board("rpi4b").unwrap();
    assert_eq!(rpi.gic.version, bsp::GicVersion::V2);
    assert_eq!(rpi.console.device, "uart0");
    assert_eq!(rpi.console_compatible.first(), Some(&"arm,pl011"));
    assert_eq!(rpi.ram.len(), 2);
    assert_eq!(rpi.cpu_boot, bsp::CpuBoot::SpinTable);
    assert_eq!(rpi.cpus[3].release_address, Some(0xf0));
    assert_eq!(rpi.gic.distributor.base, 0xff84_1000);
    let imx = bsp::board("imx8mp-evk").unwrap();
    assert_eq!(imx.gic.version, bsp::GicVersion::V3);
    assert_eq!(imx.gic.redistributors.base, 0x3888_0000);
    assert_eq!(imx.counter_hz, 8_000_000);
    let zcu = bsp::board("zcu102").unwrap();
    assert_eq!(zcu.gic.version, bsp::GicVersion::V2);
    assert_eq!(zcu.gaps().count(), 0);
}
