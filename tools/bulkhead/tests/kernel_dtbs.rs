//! `bulkhead platform from-dtb` on the board device trees Debian's arm64
//! kernel package ships: the committed board files are reproduced, and a
//! spread of other vendors' boards read sanely.
//!
//! `cargo xtask test` fetches and unpacks the package and passes the DTB
//! directory in `BULKHEAD_KERNEL_DTBS`. Without it these tests fail: they
//! never skip.

use bulkhead::platform::{self, generated_part, render, Platform};
use std::path::{Path, PathBuf};

fn dtb_dir() -> PathBuf {
    let dir = std::env::var_os("BULKHEAD_KERNEL_DTBS").unwrap_or_else(|| {
        panic!(
            "BULKHEAD_KERNEL_DTBS is not set: run these tests through `cargo xtask test`, \
             which unpacks Debian's linux-image-arm64 into ~/.cache/bulkhead/root/ and sets it \
             to the package's usr/lib/linux-image-*/ directory"
        )
    });
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("broadcom").is_dir(),
        "BULKHEAD_KERNEL_DTBS={} holds no broadcom/ DTBs",
        dir.display()
    );
    dir
}

fn read(relative: &str, name: &str) -> Platform {
    let path = dtb_dir().join(relative);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let source = Path::new(relative).file_name().unwrap().to_string_lossy();
    platform::from_dtb(&bytes, name, &source).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn committed_boards_are_reproduced() {
    let boards = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bsp/boards");
    for (dtb, name) in [
        ("broadcom/bcm2711-rpi-4-b.dtb", "rpi4b"),
        ("freescale/imx8mp-evk.dtb", "imx8mp-evk"),
        ("xilinx/zynqmp-zcu102-rev1.0.dtb", "zcu102"),
    ] {
        let file = boards.join(format!("{name}.yaml"));
        let committed = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            render(&read(dtb, name)),
            generated_part(&committed),
            "{} differs from a fresh `bulkhead platform from-dtb {dtb} --name {name}`; \
             regenerate it with `-o {}` (the hand-made section is kept)",
            file.display(),
            file.display()
        );
        assert!(
            bsp::board(name).is_some(),
            "{name} is not compiled into bsp"
        );
    }
}

/// The ZCU102's SMMU-500 is disabled in Debian's tree (Linux leaves it
/// off), but it is there for the partitioner: listed with its registers,
/// and the devices behind it with their stream IDs (`iommus`).
#[test]
fn the_zcu102_smmu_and_its_streams_are_read() {
    let zcu102 = read("xilinx/zynqmp-zcu102-rev1.0.dtb", "zcu102");
    let [smmu] = &zcu102.iommus[..] else {
        panic!("one IOMMU expected: {:#?}", zcu102.iommus);
    };
    assert_eq!(
        (smmu.kind, smmu.mmio[0].base, smmu.enabled),
        (platform::IommuKind::SmmuV2, 0xfd80_0000, false)
    );
    assert_eq!(smmu.irqs, [187], "one line for all its context banks");
    let ethernet = zcu102
        .devices
        .iter()
        .find(|d| d.name == "ethernet")
        .unwrap();
    assert_eq!(ethernet.iommu.as_deref(), Some("smmu"));
    assert_eq!(ethernet.streams, [0x877]);
    let behind = zcu102.devices.iter().filter(|d| d.iommu.is_some()).count();
    assert!(behind >= 10, "{behind} devices behind the SMMU");
    let board = bsp::board("zcu102").unwrap();
    assert_eq!(board.iommus.len(), 1);
    assert_eq!(
        board
            .devices
            .iter()
            .find(|d| d.name == "ethernet")
            .unwrap()
            .streams,
        [0x877]
    );
}

#[test]
fn other_vendors_boards_read_sanely() {
    let boards = [
        "rockchip/rk3399-rockpro64.dtb",
        "rockchip/rk3568-evb1-v10.dtb",
        "allwinner/sun50i-a64-pine64-plus.dtb",
        "amlogic/meson-g12b-odroid-n2.dtb",
        "freescale/fsl-ls1046a-rdb.dtb",
        "freescale/imx8mq-evk.dtb",
        "xilinx/zynqmp-zcu104-revC.dtb",
        "marvell/armada-8040-mcbin.dtb",
        "marvell/armada-3720-espressobin.dtb",
        "qcom/apq8016-sbc.dtb",
        "qcom/sdm845-db845c.dtb",
        "ti/k3-am654-base-board.dtb",
        "hisilicon/hi3660-hikey960.dtb",
        "arm/juno.dtb",
    ];
    for dtb in boards {
        let p = read(dtb, "board");
        assert!(!p.cpus.is_empty(), "{dtb}: no CPU");
        assert!(
            p.cpus.iter().all(|c| c.mpidr & !0xff_00ff_ffff == 0),
            "{dtb}: MPIDR outside the affinity fields"
        );
        for (i, a) in p.cpus.iter().enumerate() {
            assert!(
                p.cpus[i + 1..].iter().all(|b| b.mpidr != a.mpidr),
                "{dtb}: two CPUs with MPIDR {:#x}",
                a.mpidr
            );
        }
        assert!(
            !p.memory.is_empty() || p.notes.iter().any(|n| n.contains("no memory node")),
            "{dtb}: neither memory nor a note saying there is none"
        );
        assert!(matches!(p.gic.version, 2 | 3), "{dtb}");
        assert!(
            p.gic.distributor.is_some(),
            "{dtb}: GIC without distributor"
        );
        if p.gic.version == 3 {
            assert!(
                !p.gic.redistributors.is_empty(),
                "{dtb}: GICv3 without GICR"
            );
        }
        let timer = p
            .timer
            .as_ref()
            .unwrap_or_else(|| panic!("{dtb}: no timer"));
        for ppi in [timer.physical, timer.virtual_timer, timer.hypervisor] {
            assert!(
                ppi.is_some_and(|i| (16..32).contains(&i)),
                "{dtb}: timer {ppi:?}"
            );
        }
        assert!(
            p.devices.len() > 5,
            "{dtb}: only {} devices",
            p.devices.len()
        );
        for (i, d) in p.devices.iter().enumerate() {
            assert!(!d.mmio.is_empty(), "{dtb}: {}", d.name);
            assert!(
                d.name.len() <= 32 && !d.name.is_empty(),
                "{dtb}: {}",
                d.name
            );
            assert!(
                p.devices[i + 1..].iter().all(|o| o.name != d.name),
                "{dtb}: {} twice",
                d.name
            );
            assert_eq!(d.irqs.len(), d.triggers.len());
            assert!(
                d.irqs.iter().all(|&i| i >= 16),
                "{dtb}: {} has an SGI",
                d.name
            );
        }
        // Every device's MMIO is outside RAM.
        for d in &p.devices {
            for r in &d.mmio {
                assert!(
                    !p.memory
                        .iter()
                        .any(|m| r.base >= m.base && r.base - m.base < m.size),
                    "{dtb}: {} at {:#x} is inside RAM",
                    d.name,
                    r.base
                );
            }
        }
        // The text parses back as the format bsp reads (a YAML mapping).
        assert!(render(&p).contains("\ndevices:\n"));
    }
}

#[test]
fn a_board_without_a_gic_is_refused_clearly() {
    let path = dtb_dir().join("broadcom/bcm2837-rpi-3-b.dtb");
    let error = platform::from_dtb(&std::fs::read(path).unwrap(), "rpi3", "x.dtb").unwrap_err();
    assert!(matches!(error, platform::PlatformError::NoGic), "{error}");
}

/// DTBs across vendors for [`every_board_of_the_corpus_reads_completely`]:
/// GICv2 and GICv3, PSCI and spin tables, stacked and cascaded interrupt
/// controllers, big.LITTLE.
const CORPUS: &[&str] = &[
    "broadcom/bcm2711-rpi-4-b.dtb",
    "freescale/imx8mp-evk.dtb",
    "freescale/imx8mq-evk.dtb",
    "freescale/imx8mm-evk.dtb",
    "freescale/fsl-ls1046a-rdb.dtb",
    "xilinx/zynqmp-zcu102-rev1.0.dtb",
    "xilinx/zynqmp-zcu104-revC.dtb",
    "nvidia/tegra210-p3450-0000.dtb",
    "nvidia/tegra210-p2371-2180.dtb",
    "amlogic/meson-g12b-odroid-n2.dtb",
    "amlogic/meson-sm1-odroid-c4.dtb",
    "allwinner/sun50i-a64-pine64-plus.dtb",
    "allwinner/sun50i-h6-pine-h64.dtb",
    "rockchip/rk3399-rockpro64.dtb",
    "rockchip/rk3568-evb1-v10.dtb",
    "rockchip/rk3328-rock64.dtb",
    "marvell/armada-8040-mcbin.dtb",
    "marvell/armada-3720-espressobin.dtb",
    "ti/k3-am654-base-board.dtb",
    "ti/k3-j721e-common-proc-board.dtb",
    "qcom/apq8016-sbc.dtb",
    "hisilicon/hi3660-hikey960.dtb",
    "renesas/r8a774a1-hihope-rzg2m.dtb",
    "arm/juno.dtb",
];

/// Every board of [`CORPUS`]: its GIC, CPUs, memory (or a note that the
/// tree has none, which firmware fills in) and console are found, and
/// every device whose node has interrupts comes out with at least one
/// INTID or a note naming the controller (not the GIC) its interrupts go
/// to.
#[test]
fn every_board_of_the_corpus_reads_completely() {
    let mut failures = Vec::new();
    for &dtb in CORPUS {
        let bytes = std::fs::read(dtb_dir().join(dtb)).unwrap();
        let p = read(dtb, "board");
        let tree = fdt::Fdt::new_unaligned(&bytes).unwrap();
        if !matches!(p.gic.version, 2 | 3) || p.gic.distributor.is_none() {
            failures.push(format!("{dtb}: no GIC distributor"));
        }
        if p.cpus.is_empty() {
            failures.push(format!("{dtb}: no CPU"));
        }
        if p.memory.is_empty() && !p.notes.iter().any(|n| n.contains("memory")) {
            failures.push(format!("{dtb}: no memory and no note"));
        }
        if p.console.is_none() {
            failures.push(format!("{dtb}: no console"));
        }
        for d in &p.devices {
            let node = tree.find_node(&d.node);
            let has_interrupts = node.is_some_and(|n| {
                n.raw_property("interrupts").is_some()
                    || n.raw_property("interrupts-extended").is_some()
            });
            let explained = d
                .notes
                .iter()
                .any(|n| n.contains("(not the GIC)") || n.contains("could not be resolved"));
            if has_interrupts && d.irqs.is_empty() && !explained {
                failures.push(format!(
                    "{dtb}: {} ({}) has interrupts but no INTID",
                    d.name, d.node
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Tegra210 routes its devices' interrupts through a stacked controller
/// (`nvidia,tegra210-ictlr`) to the GIC; they all arrive as INTIDs
/// (before, 65 of its 66 devices came out without interrupts).
#[test]
fn stacked_interrupt_controllers_are_followed_to_the_gic() {
    // Devices behind other controllers (the PMC's wake events, the audio
    // GIC, which is cascaded) keep their notes.
    const ICTLR: &str = "/interrupt-controller@60004000 ";
    let p = read("nvidia/tegra210-p3450-0000.dtb", "board");
    let with_interrupts = p.devices.iter().filter(|d| !d.irqs.is_empty()).count();
    let without: Vec<&str> = p
        .devices
        .iter()
        .filter(|d| d.notes.iter().any(|n| n.contains(ICTLR)))
        .map(|d| d.name.as_str())
        .collect();
    // 31 of its 66 devices have interrupts (the audio hub's and the
    // clock controller's children have none); through the ictlr to the
    // GIC, each one arrives.
    assert!(
        with_interrupts >= 30,
        "only {with_interrupts} devices with interrupts"
    );
    assert!(without.is_empty(), "still behind the ictlr: {without:?}");
}

/// The Odroid-N2's S922X has two clusters (4 Cortex-A73, 2 Cortex-A53):
/// the cpu-map says so, and the cores say which type they are.
#[test]
fn big_little_clusters_come_from_the_cpu_map() {
    let p = read("amlogic/meson-g12b-odroid-n2.dtb", "board");
    let clusters: Vec<Option<u32>> = p.cpus.iter().map(|c| c.cluster).collect();
    let types: Vec<&str> = p.cpus.iter().map(|c| c.compatible.as_str()).collect();
    assert_eq!(p.cluster_source, "cpu-map");
    assert_eq!(
        clusters
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        2,
        "{clusters:?}"
    );
    assert!(
        types.contains(&"arm,cortex-a73") && types.contains(&"arm,cortex-a53"),
        "{types:?}"
    );
}
