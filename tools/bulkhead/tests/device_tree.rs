//! Generated cell device trees, read back with the `fdt` crate: every node
//! and property the cell needs, nothing it does not own, the same bytes on
//! every run, and a tree `dtc` reads without complaint.

use bsp::{MemRange, FIRST_PPI, FIRST_SPI};
use bulkhead::{build, dtb, BuildOptions};
use bulkhead_config::yaml::Loaded;
use bulkhead_config::{Cell, CpuSet, ImageKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("bulkhead-dtb-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An arm64 Image header with `image_size`, then `len - 64` bytes.
fn arm64_image(image_size: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0x5a; len];
    bytes[..64].fill(0);
    bytes[16..24].copy_from_slice(&image_size.to_le_bytes());
    bytes[56..60].copy_from_slice(b"ARM\x64");
    bytes
}

/// Two cells on non-contiguous CPUs: `linux` with a console, an initrd and
/// the default tree address; `quiet` without console, with its own address
/// and command line.
const CONFIG: &str = r#"version: 1
board: qemu-virt
cells:
  - name: linux
    cpus: [1, 3]
    memory:
      - { base: 0x50000000, size: 64M }
      - { base: 0x58000000, size: 16M, access: rw }
    dma: unconfined
    devices: [virtio-mmio0, rtc, fw-cfg]
    kernel: { path: kernel.bin }
    initrd: { path: initrd.bin, load_address: 0x52000000 }
    device_tree: {}
  - name: quiet
    cpus: [0, 2]
    memory:
      - { base: 0x60000000, size: 16M }
    dma: unconfined
    devices: [virtio-mmio31, gpio]
    console: none
    kernel: { path: kernel.bin }
    device_tree: { load_address: 0x60f00000 }
    bootargs: "loglevel=0 panic=-1"
"#;

/// Writes `config` and its images into a scratch directory.
fn config_dir(config: &str) -> PathBuf {
    let dir = scratch_dir("config");
    std::fs::write(dir.join("kernel.bin"), arm64_image(0x1_0000, 4096)).unwrap();
    std::fs::write(dir.join("initrd.bin"), vec![1u8; 5000]).unwrap();
    std::fs::write(dir.join("cells.yaml"), config).unwrap();
    dir
}

fn load(config: &str) -> Loaded {
    let dir = config_dir(config);
    bulkhead::check(&dir.join("cells.yaml"), &[]).unwrap()
}

/// The generated tree of cell `cell`.
fn tree_bytes(loaded: &Loaded, cell: usize) -> Vec<u8> {
    let image = loaded.system.cells[cell]
        .images
        .iter()
        .position(|i| i.kind == ImageKind::DeviceTree)
        .expect("a device tree image");
    let payload = loaded.payload(cell, image).unwrap();
    assert!(payload.generated);
    payload.bytes.clone()
}

/// A device tree read back with the `fdt` crate: each node's full path and
/// its raw properties.
struct Tree(BTreeMap<String, BTreeMap<String, Vec<u8>>>);

impl Tree {
    fn parse(bytes: &[u8]) -> Tree {
        let fdt = fdt::Fdt::new_unaligned_fallible(bytes).expect("a valid FDT header");
        let root = fdt.root().expect("a root node");
        let mut tree = Tree(BTreeMap::new());
        tree.add(fdt::nodes::AsNode::as_node(&root), "/".into());
        tree
    }

    fn add<'a, P: fdt::parsing::ParserWithMode<'a>>(
        &mut self,
        node: fdt::nodes::Node<'a, P>,
        path: String,
    ) {
        let node = node.fallible();
        let mut properties = BTreeMap::new();
        for property in node.properties().unwrap().iter() {
            let property = property.unwrap();
            let old = properties.insert(property.name.to_string(), property.value.to_vec());
            assert!(old.is_none(), "{path}: {} twice", property.name);
        }
        assert!(
            self.0.insert(path.clone(), properties).is_none(),
            "{path} twice"
        );
        for child in node.children().unwrap().iter() {
            let child = child.unwrap();
            let name = child.name().unwrap().to_string();
            let child_path = if path == "/" {
                format!("/{name}")
            } else {
                format!("{path}/{name}")
            };
            self.add(child, child_path);
        }
    }

    fn paths(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    fn property(&self, path: &str, name: &str) -> Option<&[u8]> {
        self.0.get(path)?.get(name).map(Vec::as_slice)
    }

    fn has(&self, path: &str, name: &str) -> bool {
        self.property(path, name).is_some()
    }

    fn u32s(&self, path: &str, name: &str) -> Vec<u32> {
        let bytes = self
            .property(path, name)
            .unwrap_or_else(|| panic!("{path}: no {name}"));
        assert_eq!(bytes.len() % 4, 0, "{path}: {name}");
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }

    fn u32(&self, path: &str, name: &str) -> u32 {
        let cells = self.u32s(path, name);
        assert_eq!(cells.len(), 1, "{path}: {name}");
        cells[0]
    }

    fn u64(&self, path: &str, name: &str) -> u64 {
        match self.u32s(path, name)[..] {
            [high, low] => (u64::from(high) << 32) | u64::from(low),
            _ => panic!("{path}: {name} is not one 64-bit number"),
        }
    }

    fn strings(&self, path: &str, name: &str) -> Vec<String> {
        let bytes = self
            .property(path, name)
            .unwrap_or_else(|| panic!("{path}: no {name}"));
        assert_eq!(
            bytes.last(),
            Some(&0),
            "{path}: {name} is not NUL-terminated"
        );
        bytes[..bytes.len() - 1]
            .split(|&b| b == 0)
            .map(|s| String::from_utf8(s.to_vec()).unwrap())
            .collect()
    }

    fn string(&self, path: &str, name: &str) -> String {
        let strings = self.strings(path, name);
        assert_eq!(strings.len(), 1, "{path}: {name}");
        strings[0].clone()
    }

    /// `reg` with two address and two size cells.
    fn reg(&self, path: &str) -> Vec<MemRange> {
        self.u32s(path, "reg")
            .chunks_exact(4)
            .map(|c| {
                MemRange::new(
                    (u64::from(c[0]) << 32) | u64::from(c[1]),
                    (u64::from(c[2]) << 32) | u64::from(c[3]),
                )
            })
            .collect()
    }

    /// Every GIC interrupt specifier `<type number flags>` of the tree, as
    /// `(INTID, flags)`.
    fn interrupts(&self) -> Vec<(String, u32, u32)> {
        let mut all = Vec::new();
        for path in self.0.keys() {
            if !self.has(path, "interrupts") {
                continue;
            }
            for spec in self.u32s(path, "interrupts").chunks(3) {
                let [kind, number, flags] = spec else {
                    panic!("{path}: interrupts is not in triples");
                };
                let intid = match kind {
                    0 => FIRST_SPI + number,
                    1 => FIRST_PPI + number,
                    _ => panic!("{path}: interrupt type {kind}"),
                };
                all.push((path.clone(), intid, *flags));
            }
        }
        all
    }
}

const STRIDE: u64 = 0x2_0000;
const REDISTRIBUTORS: u64 = 0x080a_0000;

fn frame(cpu: u64) -> MemRange {
    MemRange::new(REDISTRIBUTORS + cpu * STRIDE, STRIDE)
}

#[test]
fn the_tree_describes_what_the_cell_owns() {
    let loaded = load(CONFIG);
    let cell = &loaded.system.cells[0];
    let t = Tree::parse(&tree_bytes(&loaded, 0));

    assert_eq!(
        t.paths(),
        [
            "/",
            "/apb-pclk",
            "/chosen",
            "/clock-rtc-apb_pclk",
            "/cpus",
            "/cpus/cpu@0",
            "/cpus/cpu@1",
            "/fw-cfg@9020000",
            "/interrupt-controller@8000000",
            "/memory@50000000",
            "/memory@58000000",
            "/pl011@9000000",
            "/psci",
            "/rtc@9010000",
            "/timer",
            "/virtio-mmio@a000000",
        ]
    );

    // Root.
    assert_eq!(t.u32("/", "#address-cells"), 2);
    assert_eq!(t.u32("/", "#size-cells"), 2);
    let model = t.string("/", "model");
    assert!(
        model.contains("Bulkhead") && model.contains("linux"),
        "{model}"
    );
    assert_eq!(
        t.strings("/", "compatible"),
        ["bulkhead,cell-linux", "bulkhead,cell"]
    );
    let gic = "/interrupt-controller@8000000";
    assert_eq!(t.u32("/", "interrupt-parent"), t.u32(gic, "phandle"));

    // Memory: each region of the cell.
    assert_eq!(t.string("/memory@50000000", "device_type"), "memory");
    assert_eq!(
        t.reg("/memory@50000000"),
        [MemRange::new(0x5000_0000, 64 << 20)]
    );
    assert_eq!(t.string("/memory@58000000", "device_type"), "memory");
    assert_eq!(
        t.reg("/memory@58000000"),
        [MemRange::new(0x5800_0000, 16 << 20)]
    );

    // CPUs: virtual MPIDRs 0 and 1, started through PSCI.
    assert_eq!(t.u32("/cpus", "#address-cells"), 1);
    assert_eq!(t.u32("/cpus", "#size-cells"), 0);
    for vcpu in 0..2 {
        let path = format!("/cpus/cpu@{vcpu}");
        assert_eq!(t.u32(&path, "reg"), vcpu);
        assert_eq!(t.string(&path, "device_type"), "cpu");
        assert_eq!(t.string(&path, "enable-method"), "psci");
        assert_eq!(t.string(&path, "compatible"), "arm,cortex-a72");
    }
    assert_eq!(
        t.strings("/psci", "compatible"),
        ["arm,psci-1.0", "arm,psci-0.2"]
    );
    assert_eq!(t.string("/psci", "method"), "smc");

    // GIC: the distributor, then the frames of CPUs 1 and 3 as two regions.
    assert_eq!(t.string(gic, "compatible"), "arm,gic-v3");
    assert_eq!(t.u32(gic, "#interrupt-cells"), 3);
    assert_eq!(t.property(gic, "interrupt-controller"), Some(&[][..]));
    assert_eq!(
        t.reg(gic),
        [MemRange::new(0x0800_0000, 0x1_0000), frame(1), frame(3)]
    );
    assert_eq!(t.u32(gic, "#redistributor-regions"), 2);
    assert_eq!(t.u32s(gic, "interrupts"), [1, 9, 4]);

    // Timer: secure physical, physical, virtual, hypervisor PPIs.
    assert_eq!(t.string("/timer", "compatible"), "arm,armv8-timer");
    assert_eq!(
        t.u32s("/timer", "interrupts"),
        [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]
    );
    assert!(t.has("/timer", "always-on"));

    // Chosen: default command line, the console, the initrd.
    assert_eq!(
        t.string("/chosen", "bootargs"),
        "console=ttyAMA0 earlycon=pl011,mmio32,0x9000000"
    );
    assert_eq!(t.string("/chosen", "stdout-path"), "/pl011@9000000");
    assert_eq!(t.u64("/chosen", "linux,initrd-start"), 0x5200_0000);
    assert_eq!(t.u64("/chosen", "linux,initrd-end"), 0x5200_0000 + 5000);

    // Console: one page, the first spare SPI (cell 0), two clocks.
    let console = "/pl011@9000000";
    assert_eq!(
        t.strings(console, "compatible"),
        ["arm,pl011", "arm,primecell"]
    );
    assert_eq!(t.reg(console), [MemRange::new(0x0900_0000, 0x1000)]);
    assert_eq!(cell.console.unwrap().irq, 96);
    assert_eq!(t.u32s(console, "interrupts"), [0, 96 - 32, 4]);
    let clock = t.u32("/apb-pclk", "phandle");
    assert_eq!(t.u32s(console, "clocks"), [clock, clock]);
    assert_eq!(t.strings(console, "clock-names"), ["uartclk", "apb_pclk"]);
    assert_eq!(t.string("/apb-pclk", "compatible"), "fixed-clock");
    assert_eq!(t.u32("/apb-pclk", "#clock-cells"), 0);
    assert_eq!(t.u32("/apb-pclk", "clock-frequency"), 24_000_000);
    assert_ne!(clock, t.u32(gic, "phandle"));

    // Devices, as the board describes them.
    let virtio = "/virtio-mmio@a000000";
    assert_eq!(t.strings(virtio, "compatible"), ["virtio,mmio"]);
    assert_eq!(t.reg(virtio), [MemRange::new(0x0a00_0000, 0x200)]);
    assert_eq!(t.u32s(virtio, "interrupts"), [0, 16, 1]);
    assert!(t.has(virtio, "dma-coherent"));
    let rtc = "/rtc@9010000";
    assert_eq!(t.strings(rtc, "compatible"), ["arm,pl031", "arm,primecell"]);
    assert_eq!(t.reg(rtc), [MemRange::new(0x0901_0000, 0x1000)]);
    assert_eq!(t.u32s(rtc, "interrupts"), [0, 2, 4]);
    assert!(!t.has(rtc, "dma-coherent"));
    // Its clock, a fixed clock at the rate the board states.
    let rtc_clock = "/clock-rtc-apb_pclk";
    assert_eq!(t.string(rtc_clock, "compatible"), "fixed-clock");
    assert_eq!(t.u32(rtc_clock, "clock-frequency"), 24_000_000);
    assert_eq!(t.u32s(rtc, "clocks"), [t.u32(rtc_clock, "phandle")]);
    assert_eq!(t.strings(rtc, "clock-names"), ["apb_pclk"]);
    let fw_cfg = "/fw-cfg@9020000";
    assert_eq!(t.string(fw_cfg, "compatible"), "qemu,fw-cfg-mmio");
    assert_eq!(t.reg(fw_cfg), [MemRange::new(0x0902_0000, 0x18)]);
    assert!(!t.has(fw_cfg, "interrupts"));
    assert!(t.has(fw_cfg, "dma-coherent"));

    // The fdt crate's own view agrees on the essentials.
    let bytes = tree_bytes(&loaded, 0);
    let fdt = fdt::Fdt::new_unaligned(&bytes).unwrap();
    assert_eq!(
        fdt.root().chosen().bootargs(),
        Some("console=ttyAMA0 earlycon=pl011,mmio32,0x9000000")
    );
    assert_eq!(fdt.root().cpus().iter().count(), 2);

    // The tree is the cell's device tree image, and x0 points at it.
    let image = cell.images[2];
    assert_eq!(image.kind, ImageKind::DeviceTree);
    assert_eq!(image.size, bytes.len() as u64);
    // 64 MiB from 0x5000_0000: the last 2 MiB window starts at 0x53e0_0000.
    assert_eq!(image.load_address, 0x53e0_0000);
    assert_eq!(cell.boot_argument, 0x53e0_0000);
}

#[test]
fn a_cell_without_console_gets_no_uart() {
    let loaded = load(CONFIG);
    let t = Tree::parse(&tree_bytes(&loaded, 1));
    assert_eq!(
        t.paths(),
        [
            "/",
            "/chosen",
            "/clock-gpio-apb_pclk",
            "/cpus",
            "/cpus/cpu@0",
            "/cpus/cpu@1",
            "/gpio@9030000",
            "/interrupt-controller@8000000",
            "/memory@60000000",
            "/psci",
            "/timer",
            "/virtio-mmio@a003e00",
        ]
    );
    assert_eq!(t.string("/chosen", "bootargs"), "loglevel=0 panic=-1");
    assert!(!t.has("/chosen", "stdout-path"));
    assert!(!t.has("/chosen", "linux,initrd-start"));
    assert_eq!(
        t.strings("/", "compatible"),
        ["bulkhead,cell-quiet", "bulkhead,cell"]
    );
    let gic = "/interrupt-controller@8000000";
    assert_eq!(
        t.reg(gic),
        [MemRange::new(0x0800_0000, 0x1_0000), frame(0), frame(2)]
    );
    assert_eq!(t.u32(gic, "#redistributor-regions"), 2);
    assert_eq!(t.u32s("/virtio-mmio@a003e00", "interrupts"), [0, 47, 1]);
    assert_eq!(t.u32s("/gpio@9030000", "interrupts"), [0, 7, 4]);
    let cell = &loaded.system.cells[1];
    assert_eq!(cell.images[1].load_address, 0x60f0_0000);
    assert_eq!(cell.boot_argument, 0x60f0_0000);
}

/// Everything a cell owns: its RAM, its devices' MMIO, its console page,
/// the GIC distributor and its own CPUs' redistributor frames; its
/// devices', console's, timer's and GIC maintenance interrupts.
fn owned(loaded: &Loaded, cell: &Cell) -> (Vec<MemRange>, Vec<u32>) {
    let board = loaded.board;
    let mut ranges: Vec<MemRange> = cell.memory.iter().map(|m| m.guest_range()).collect();
    ranges.extend(cell.devices.iter().flat_map(|d| d.mmio.iter().copied()));
    ranges.extend(cell.console.map(|c| c.window()));
    ranges.push(board.gic.distributor);
    ranges.extend(cell.cpus.iter().map(|c| frame(c as u64)));
    let mut irqs: Vec<u32> = cell.devices.iter().flat_map(|d| d.irqs.clone()).collect();
    irqs.extend(cell.console.map(|c| c.irq));
    let timer = board.timer;
    irqs.extend([
        timer.secure_physical_timer,
        timer.physical_timer,
        timer.virtual_timer,
        timer.hypervisor,
        board.gic.maintenance_irq,
    ]);
    (ranges, irqs)
}

#[test]
fn the_tree_holds_nothing_the_cell_does_not_own() {
    let loaded = load(CONFIG);
    let board = loaded.board;
    for (index, cell) in loaded.system.cells.iter().enumerate() {
        let t = Tree::parse(&tree_bytes(&loaded, index));
        let (ranges, irqs) = owned(&loaded, cell);
        let mut regs = Vec::new();
        for path in t.paths() {
            if path.starts_with("/cpus/") || !t.has(path, "reg") {
                continue;
            }
            for r in t.reg(path) {
                // Merged redistributor runs are covered frame by frame.
                let covered = ranges.iter().any(|o| o.covers(&r))
                    || (0..r.size / STRIDE).all(|k| {
                        let f = MemRange::new(r.base + k * STRIDE, STRIDE);
                        ranges.iter().any(|o| o.covers(&f))
                    });
                assert!(covered, "{}: {path} reaches {r:x?}", cell.name);
                regs.push(r);
            }
        }
        for (path, intid, _) in t.interrupts() {
            assert!(
                irqs.contains(&intid),
                "{}: {path} names interrupt {intid}",
                cell.name
            );
        }
        // Nothing of the other cells: memory, CPUs, devices, console SPI.
        for other in loaded.system.cells.iter().filter(|c| c.name != cell.name) {
            for m in &other.memory {
                assert!(regs.iter().all(|r| !r.overlaps(&m.range)));
            }
            for cpu in other.cpus.iter() {
                assert!(regs.iter().all(|r| !r.overlaps(&frame(cpu as u64))));
            }
            for irq in other.devices.iter().flat_map(|d| d.irqs.iter()) {
                assert!(t.interrupts().iter().all(|(_, i, _)| i != irq));
            }
        }
        // No board device the cell was not given (the console UART is the
        // emulated one, at the board console's address).
        for device in board.devices {
            if cell.devices.iter().any(|d| d.name.as_str() == device.name)
                || device.name == board.console.device
            {
                continue;
            }
            for window in device.mmio {
                assert!(
                    regs.iter().all(|r| !r.overlaps(window)),
                    "{}: {} appears",
                    cell.name,
                    device.name
                );
            }
        }
        let cpus = t
            .paths()
            .iter()
            .filter(|p| p.starts_with("/cpus/cpu@"))
            .count();
        assert_eq!(cpus, cell.cpus.len());
        let memories = t
            .paths()
            .iter()
            .filter(|p| p.starts_with("/memory@"))
            .count();
        assert_eq!(memories, cell.memory.len());
    }
}

#[test]
fn redistributor_regions_follow_the_cpus() {
    let board = &bsp::qemu_virt::BOARD;
    let regions = |bits| dtb::redistributor_regions(board, CpuSet::from_bits(bits));
    assert_eq!(regions(0b1111), [MemRange::new(REDISTRIBUTORS, 4 * STRIDE)]);
    assert_eq!(regions(0b1010), [frame(1), frame(3)]);
    assert_eq!(
        regions(0b1101),
        [frame(0), MemRange::new(frame(2).base, 2 * STRIDE)]
    );
    assert_eq!(regions(0b0100), [frame(2)]);

    // Contiguous CPUs give one region in the tree.
    let loaded = load(CONFIG);
    let mut cell = loaded.system.cells[0].clone();
    cell.cpus = CpuSet::from_bits(0b0110);
    let t = Tree::parse(&dtb::generate(board, &cell, "").unwrap());
    let gic = "/interrupt-controller@8000000";
    assert_eq!(
        t.reg(gic),
        [
            MemRange::new(0x0800_0000, 0x1_0000),
            MemRange::new(frame(1).base, 2 * STRIDE)
        ]
    );
    assert_eq!(t.u32(gic, "#redistributor-regions"), 1);
    assert!(!t.has("/chosen", "bootargs"));
}

/// `moved` sees its RAM at guest address 0 and shares a region with `peer`.
const MOVED: &str = r#"version: 1
board: qemu-virt
cells:
  - name: moved
    cpus: [0]
    memory:
      - { base: 0x50000000, size: 16M, guest_base: 0x0 }
      - { base: 0x70000000, size: 2M, access: rw, shared_with: [peer] }
    devices: [rtc]
    kernel: { path: kernel.bin }
    initrd: { path: initrd.bin, load_address: 0x200000 }
    device_tree: {}
  - name: peer
    cpus: [1]
    memory:
      - { base: 0x60000000, size: 16M }
      - { base: 0x70000000, size: 2M, shared_with: [moved] }
    kernel: { path: kernel.bin }
    device_tree: {}
"#;

#[test]
fn the_tree_uses_guest_addresses_and_reserves_shared_regions() {
    let loaded = load(MOVED);
    let cell = &loaded.system.cells[0];
    assert_eq!(cell.images[0].load_address, 0);
    assert_eq!(cell.boot_argument, 0xe0_0000);
    let t = Tree::parse(&tree_bytes(&loaded, 0));
    let paths = t.paths();
    for path in [
        "/memory@0",
        "/memory@70000000",
        "/reserved-memory",
        "/reserved-memory/shared-memory@70000000",
    ] {
        assert!(paths.contains(&path), "{path} missing: {paths:?}");
    }
    assert_eq!(t.reg("/memory@0"), [MemRange::new(0, 16 << 20)]);
    assert_eq!(t.u64("/chosen", "linux,initrd-start"), 0x20_0000);
    let shared = "/reserved-memory/shared-memory@70000000";
    assert_eq!(t.reg(shared), [MemRange::new(0x7000_0000, 2 << 20)]);
    assert_eq!(
        t.strings(shared, "compatible"),
        [dtb::SHARED_MEMORY_COMPATIBLE]
    );
    assert_eq!(t.property("/reserved-memory", "ranges"), Some(&[][..]));

    let dir = scratch_dir("dtc-moved");
    for (index, cell) in loaded.system.cells.iter().enumerate() {
        let file = dir.join(format!("{}.dtb", cell.name));
        std::fs::write(&file, tree_bytes(&loaded, index)).unwrap();
        let output = Command::new("dtc")
            .args(["-I", "dtb", "-O", "dts"])
            .arg(&file)
            .output()
            .expect("dtc (install it with `cargo xtask setup`)");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stderr.trim().is_empty(),
            "dtc on {}:\n{stderr}",
            cell.name
        );
    }
}

#[test]
fn generation_is_deterministic() {
    let first = load(CONFIG);
    let second = load(CONFIG);
    for cell in 0..2 {
        assert_eq!(tree_bytes(&first, cell), tree_bytes(&second, cell));
    }
    let cell = &first.system.cells[0];
    let again = dtb::generate(
        first.board,
        cell,
        "console=ttyAMA0 earlycon=pl011,mmio32,0x9000000",
    )
    .unwrap();
    assert_eq!(again, tree_bytes(&first, 0));
}

#[test]
fn dtc_reads_every_generated_tree_without_warnings() {
    let loaded = load(CONFIG);
    let dir = scratch_dir("dtc");
    for (index, cell) in loaded.system.cells.iter().enumerate() {
        let file = dir.join(format!("{}.dtb", cell.name));
        std::fs::write(&file, tree_bytes(&loaded, index)).unwrap();
        let output = match Command::new("dtc")
            .args(["-I", "dtb", "-O", "dts"])
            .arg(&file)
            .output()
        {
            Ok(output) => output,
            Err(e) => panic!(
                "cannot run `dtc` ({e}): the device-tree compiler is needed to check generated \
                 trees; install it with `cargo xtask setup` (package device-tree-compiler)"
            ),
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        let dts = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "dtc failed on {}:\n{stderr}",
            cell.name
        );
        assert!(
            stderr.trim().is_empty(),
            "dtc warns about the tree of {}:\n{stderr}\n{dts}",
            cell.name
        );
        assert!(dts.contains("interrupt-controller@8000000"), "{dts}");
    }
}

#[test]
fn build_writes_each_generated_tree() {
    let dir = config_dir(CONFIG);
    let partitioner = dir.join("partitioner.img");
    std::fs::write(
        &partitioner,
        common::partitioner_for("qemu-virt", arm64_image(0x2_0000, 0x1000)),
    )
    .unwrap();
    let out = dir.join("out");
    let built = build(&BuildOptions {
        config: dir.join("cells.yaml"),
        image_dirs: Vec::new(),
        partitioner,
        out_dir: out.clone(),
    })
    .unwrap();
    assert_eq!(
        built.device_tree_paths,
        [out.join("linux.dtb"), out.join("quiet.dtb")]
    );
    for (index, name) in ["linux", "quiet"].iter().enumerate() {
        let written = std::fs::read(out.join(format!("{name}.dtb"))).unwrap();
        assert_eq!(written, tree_bytes(&built.loaded, index));
        // The same bytes travel in the boot image, at the image's offset.
        let cell = &built.loaded.system.cells[index];
        let image = cell
            .images
            .iter()
            .find(|i| i.kind == ImageKind::DeviceTree)
            .unwrap();
        let at = (built.image.blob_offset + image.offset) as usize;
        assert_eq!(
            &built.image.bytes[at..at + written.len()],
            written.as_slice()
        );
    }
    let plan = std::fs::read_to_string(out.join("plan.txt")).unwrap();
    assert!(plan.contains("linux.dtb"), "{plan}");
}

#[test]
fn the_example_config_is_unchanged_by_generation() {
    // A config without generated trees loads the same with and without the
    // generator.
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/examples/qemu-heartbeat.yaml");
    let dir = scratch_dir("example");
    std::fs::write(dir.join("heartbeat.bin"), arm64_image(0x1_0000, 3000)).unwrap();
    std::fs::write(dir.join("intruder.bin"), arm64_image(0x1_0000, 3000)).unwrap();
    let with = bulkhead::check(&example, std::slice::from_ref(&dir)).unwrap();
    let without = bulkhead_config::yaml::load(&example, &[dir]).unwrap();
    assert_eq!(with.system, without.system);
    assert!(with.payloads.iter().all(|p| !p.generated));
}

/// A real-time cell's command line gets the tuning for its measuring cores
/// added, and keeps what it sets itself.
#[test]
fn realtime_cells_get_an_rt_command_line() {
    let config = CONFIG
        .replace(
            "    device_tree: {}\n",
            "    device_tree: {}\n    realtime: true\n",
        )
        .replace(
            "bootargs: \"loglevel=0 panic=-1\"",
            "bootargs: \"loglevel=0 nohz_full=1\"\n    realtime: true",
        );
    let loaded = load(&config);
    let linux = Tree::parse(&tree_bytes(&loaded, 0));
    assert_eq!(
        linux.string("/chosen", "bootargs"),
        "console=ttyAMA0 earlycon=pl011,mmio32,0x9000000 isolcpus=1 nohz_full=1 rcu_nocbs=1 irqaffinity=0"
    );
    let quiet = Tree::parse(&tree_bytes(&loaded, 1));
    assert_eq!(
        quiet.string("/chosen", "bootargs"),
        "loglevel=0 nohz_full=1 isolcpus=1 rcu_nocbs=1 irqaffinity=0"
    );
}

/// Two peers of two channels and a cell that is no peer.
const CHANNELS: &str = r#"version: 1
board: qemu-virt
cells:
  - name: ping
    cpus: [0]
    memory: [{ base: 0x50000000, size: 16M }]
    kernel: { path: kernel.bin }
    device_tree: {}
  - name: outsider
    cpus: [1]
    memory: [{ base: 0x51000000, size: 16M }]
    kernel: { path: kernel.bin }
    device_tree: {}
  - name: pong
    cpus: [2]
    memory: [{ base: 0x52000000, size: 16M }]
    kernel: { path: kernel.bin }
    device_tree: {}
channels:
  - name: link
    peers: [ping, pong]
    base: 0x60000000
    common_size: 4K
    output_size: 16K
  - name: back
    peers: [pong, ping]
    base: 0x60100000
    output_size: 4K
"#;

#[test]
fn peers_of_channels_get_a_virtual_pci_bridge() {
    let loaded = load(CHANNELS);
    let pci = loaded.board.virtual_pci.unwrap();
    let node = format!("/pcie@{:x}", pci.ecam.base);
    assert_eq!(node, "/pcie@3f000000");
    // ping is peer 0 of `link` (device 0) and peer 1 of `back` (device 1);
    // pong is peer 1 of `link` and peer 0 of `back`. Doorbells: first
    // spare SPI (96) + 8 + 4 * channel + peer.
    for (cell, doorbells) in [(0, [104, 109]), (2, [105, 108])] {
        let t = Tree::parse(&tree_bytes(&loaded, cell));
        assert_eq!(t.string(&node, "compatible"), "pci-host-ecam-generic");
        assert_eq!(t.string(&node, "device_type"), "pci");
        assert_eq!(t.u32(&node, "#address-cells"), 3);
        assert_eq!(t.u32(&node, "#size-cells"), 2);
        assert_eq!(t.u32(&node, "#interrupt-cells"), 1);
        assert_eq!(t.u32s(&node, "bus-range"), [0, 0]);
        assert_eq!(t.reg(&node), [MemRange::new(0x3f00_0000, 0x10_0000)]);
        assert_eq!(
            t.u32s(&node, "ranges"),
            [
                0x0200_0000,
                0,
                0x1000_0000,
                0,
                0x1000_0000,
                0,
                0x10_0000,
                0x4300_0000,
                0,
                0x2000_0000,
                0,
                0x2000_0000,
                0,
                0x800_0000,
            ]
        );
        assert_eq!(t.u32(&node, "linux,pci-probe-only"), 1);
        assert_eq!(t.u32("/chosen", "linux,pci-probe-only"), 1);
        assert!(t.has(&node, "dma-coherent"));
        assert_eq!(t.u32s(&node, "interrupt-map-mask"), [0xf800, 0, 0, 7]);
        let gic = 1;
        let map: Vec<u32> = [(0u32, doorbells[0]), (1, doorbells[1])]
            .iter()
            .flat_map(|&(device, intid)| [device << 11, 0, 0, 1, gic, 0, intid - FIRST_SPI, 1])
            .collect();
        assert_eq!(t.u32s(&node, "interrupt-map"), map, "cell {cell}");
    }
    // The cell that is no peer has no bridge and no probe-only flag.
    let t = Tree::parse(&tree_bytes(&loaded, 1));
    assert!(!t.paths().iter().any(|p| p.starts_with("/pcie")));
    assert!(!t.has("/chosen", "linux,pci-probe-only"));

    // dtc reads the trees of the peers without a warning (its PCI checks
    // include the node name, bus-range, ranges and interrupt-map).
    let dir = scratch_dir("dtc-pci");
    for (index, cell) in loaded.system.cells.iter().enumerate() {
        let file = dir.join(format!("{}.dtb", cell.name));
        std::fs::write(&file, tree_bytes(&loaded, index)).unwrap();
        let output = Command::new("dtc")
            .args(["-I", "dtb", "-O", "dts"])
            .arg(&file)
            .output()
            .expect("dtc (install it with `cargo xtask setup`)");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stderr.trim().is_empty(),
            "dtc on {}:\n{stderr}",
            cell.name
        );
    }
}

/// A cell with a watchdog gets an `arm,sp805` node at its page, on the
/// fixed clock the partitioner's emulation counts at, with the config's
/// timeout; a cell without a console still gets that clock.
#[test]
fn a_watchdog_is_an_sp805_on_the_fixed_clock() {
    let config = r#"version: 1
board: qemu-virt
cells:
  - name: dog
    cpus: [0]
    memory: [{ base: 0x50000000, size: 64M }]
    console: none
    kernel: { path: kernel.bin }
    device_tree: {}
    watchdog: { base: 0x09001000, timeout_ms: 2500, action: stop }
"#;
    let loaded = load(config);
    let t = Tree::parse(&tree_bytes(&loaded, 0));
    let node = "/watchdog@9001000";
    assert!(t.paths().contains(&node), "{:?}", t.paths());
    assert_eq!(
        t.strings(node, "compatible"),
        ["arm,sp805", "arm,primecell"]
    );
    assert_eq!(t.reg(node), [MemRange::new(0x0900_1000, 0x1000)]);
    let clock = t.u32("/apb-pclk", "phandle");
    assert_eq!(t.u32s(node, "clocks"), [clock, clock]);
    assert_eq!(t.strings(node, "clock-names"), ["wdog_clk", "apb_pclk"]);
    assert_eq!(
        u64::from(t.u32("/apb-pclk", "clock-frequency")),
        bulkhead_config::Watchdog::CLOCK_HZ
    );
    // 2.5 s, rounded up to whole seconds.
    assert_eq!(t.u32(node, "timeout-sec"), 3);
    assert!(!t.has(node, "interrupts"));
}
