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
