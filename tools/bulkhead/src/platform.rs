//! `bulkhead platform from-dtb`: a board description (the YAML that
//! `bsp/build.rs` compiles into `bsp::Board` values) read from a real device
//! tree.
//!
//! What is read, and from where:
//! - **CPUs**: `/cpus/cpu@…` nodes of `device_type = "cpu"`; the MPIDR is
//!   `reg`. The L2 cluster is the `next-level-cache` the cores share or,
//!   without one, the `cpu-map` cluster.
//! - **Memory**: `device_type = "memory"` nodes (size-0 placeholders that
//!   firmware fills in are reported in `notes`); `/reserved-memory` children.
//! - **GIC**: the `arm,gic-v3` or GICv2-family (`arm,gic-400`, …) node:
//!   `reg` gives distributor, redistributor region(s) (`#redistributor-regions`)
//!   or the GICv2 CPU/hypervisor/virtual CPU interfaces; its own `interrupts`
//!   give the maintenance interrupt.
//! - **Timer**: the `arm,armv8-timer` node's four (or five) PPIs.
//! - **Devices**: every enabled node (buses with `ranges` aside) with a
//!   `reg` that translates, through
//!   each parent's `ranges`, to CPU physical addresses (nodes on I2C, SPI,
//!   MDIO buses do not). Interrupts are resolved through `interrupt-parent`
//!   (or `interrupts-extended`) and `interrupt-map`; ones that end at another
//!   controller are listed in the device's `notes`. PCI host bridges also
//!   get their outbound `ranges` windows as MMIO and their `interrupt-map`
//!   INTx targets as interrupts.
//!
//! - **IOMMUs**: every node with `#iommu-cells` (Arm SMMUs: `arm,smmu-v3`,
//!   `arm,mmu-500`, `arm,smmu-v2`, …), disabled ones too: the partitioner,
//!   not a cell, owns them, so they are listed apart from the devices and
//!   no cell can be given one. A device's `iommus` gives its stream IDs
//!   (the first cell of each specifier); a PCI host bridge's `iommu-map`
//!   gives the stream IDs of the requester IDs behind it.
//!
//! # Device names
//!
//! 1. The node name without the unit address, lower case, with anything but
//!    `a-z`, `0-9` and `-` turned into `-` (`virtio_mmio@a000000` →
//!    `virtio-mmio`).
//! 2. Nodes named after their part number instead of their class (QEMU's
//!    `pl011`, `pl031`, `pl061`) get the device-tree specification's generic
//!    name for that part (`serial`, `rtc`, `gpio`).
//! 3. Serial ports (`serial`, `uart`) are `uartN`: N from the `serialN`
//!    alias, else the lowest free number in address order.
//! 4. Any other name used by more than one device gets an index by address
//!    order (`virtio-mmio0` … `virtio-mmio31`); a unique name stays bare
//!    (`rtc`).
//!
//! # DMA
//!
//! A device is marked `dma: true` when it is `dma-coherent`, sits behind an
//! IOMMU (`iommus`), is a DMA controller (`#dma-cells`), or its class is
//! one that masters the bus (Ethernet, USB, MMC/SDHCI, PCI, SATA, UFS, GPU,
//! video codecs, crypto engines). Device trees do not say it otherwise.
//! It is also `dma_coherent: true` when the node says `dma-coherent`: only
//! then does a cell's generated tree call the device coherent.
//!
//! # Clocks
//!
//! A device's `clocks` are its `clock-names`. The clock controller stays
//! with the board (no cell owns it), so a cell's tree gives each clock as a
//! fixed clock, at the rate the hand-made section's `clock_rates` states.

mod interrupts;
mod render;
mod tree;

pub use interrupts::Trigger;
pub use render::{generated_part, intid_name, render, with_hand_made, HAND_MADE_MARKER};

use interrupts::{gic_version, Resolved, Resolver};
use std::collections::{BTreeMap, BTreeSet};
use tree::Tree;

/// Why a device tree cannot be described.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlatformError {
    /// The file is not a readable flattened device tree.
    #[error("not a readable device tree blob: {0}")]
    #[diagnostic(
        code(bulkhead::platform::bad_dtb),
        help("pass a compiled .dtb (dtc -I dts -O dtb), not a .dts source")
    )]
    BadDtb(String),
    /// No GIC node.
    #[error("the device tree has no GIC (no arm,gic-v3 or GICv2-family interrupt controller)")]
    #[diagnostic(
        code(bulkhead::platform::no_gic),
        help("Bulkhead runs on arm64 boards with an Arm GIC only")
    )]
    NoGic,
    /// No CPU node with a usable `reg`.
    #[error("the device tree lists no CPU with an MPIDR (`reg` under /cpus)")]
    #[diagnostic(code(bulkhead::platform::no_cpus))]
    NoCpus,
}

/// A physical address range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    /// First byte.
    pub base: u64,
    /// Length.
    pub size: u64,
}

/// One core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// Node path.
    pub node: String,
    /// MPIDR affinity value.
    pub mpidr: u64,
    /// L2 cluster index, when known.
    pub cluster: Option<u32>,
    /// First `compatible` string.
    pub compatible: String,
    /// `enable-method`.
    pub enable_method: Option<String>,
    /// `cpu-release-addr` of a core started by spin table: where the boot
    /// firmware's loop waits for an entry address.
    pub release_address: Option<u64>,
}

/// A reserved-memory region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reserved {
    /// Node path.
    pub node: String,
    /// The range.
    pub range: Range,
    /// Whether `no-map` is set.
    pub no_map: bool,
}

/// The interrupt controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gic {
    /// Node path.
    pub node: String,
    /// First `compatible` string.
    pub compatible: String,
    /// Architecture version: 2 (GIC-400 and older) or 3.
    pub version: u8,
    /// GICD.
    pub distributor: Option<Range>,
    /// GICR regions (GICv3).
    pub redistributors: Vec<Range>,
    /// `redistributor-stride`, when given.
    pub redistributor_stride: Option<u64>,
    /// GICC.
    pub cpu_interface: Option<Range>,
    /// GICH.
    pub hypervisor_interface: Option<Range>,
    /// GICV.
    pub virtual_cpu_interface: Option<Range>,
    /// The maintenance interrupt, when the node gives one.
    pub maintenance_irq: Option<u32>,
    /// The SPIs (INTIDs) any node uses, enabled or not, in ascending
    /// order: what a hand-picked spare SPI must stay clear of.
    pub spis_used: Vec<u32>,
}

/// The generic timer's PPIs, as INTIDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timer {
    /// Node path.
    pub node: String,
    /// Secure EL1 physical timer.
    pub secure_physical: Option<u32>,
    /// Non-secure EL1 physical timer.
    pub physical: Option<u32>,
    /// EL1 virtual timer.
    pub virtual_timer: Option<u32>,
    /// EL2 physical timer.
    pub hypervisor: Option<u32>,
    /// EL2 virtual timer (optional fifth entry).
    pub hypervisor_virtual: Option<u32>,
}

/// A device cells can be given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Name by the rule in the module documentation.
    pub name: String,
    /// Node path.
    pub node: String,
    /// `compatible` strings, most specific first (empty when none).
    pub compatible: Vec<String>,
    /// MMIO windows, CPU physical.
    pub mmio: Vec<Range>,
    /// GIC interrupts (INTIDs).
    pub irqs: Vec<u32>,
    /// Trigger of each entry of `irqs`.
    pub triggers: Vec<Trigger>,
    /// Its input clocks, by `clock-names` (empty when it names none).
    pub clocks: Vec<String>,
    /// Whether the device masters DMA.
    pub dma: bool,
    /// Whether its DMA is cache-coherent (`dma-coherent`).
    pub dma_coherent: bool,
    /// The IOMMU its DMA goes through (`iommus`, `iommu-map`), by name.
    pub iommu: Option<String>,
    /// Its stream IDs at that IOMMU (`iommus`).
    pub streams: Vec<u32>,
    /// A PCI host bridge's requester IDs to stream IDs (`iommu-map`).
    pub stream_map: Vec<StreamMap>,
    /// What could not be resolved, and other remarks.
    pub notes: Vec<String>,
}

/// One `iommu-map` entry, and an IOMMU's kind: the board model's own
/// types, so that the tool and the partitioner read them alike.
pub use bsp::{IommuKind, StreamMap};

/// An IOMMU: the partitioner's, never a cell's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iommu {
    /// `smmu` (`smmu0`, `smmu1`, … with several), `iommu` for other kinds.
    pub name: String,
    /// Node path.
    pub node: String,
    /// `compatible` strings.
    pub compatible: Vec<String>,
    /// Which kind.
    pub kind: IommuKind,
    /// Its registers, CPU physical.
    pub mmio: Vec<Range>,
    /// Its interrupts (INTIDs), in device-tree order.
    pub irqs: Vec<u32>,
    /// `#iommu-cells`.
    pub cells: u32,
    /// Whether the node is enabled (a disabled one is still there: Linux
    /// boards often leave the SMMU off).
    pub enabled: bool,
}

/// Everything read from one device tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// Board name (`board:` in configs).
    pub name: String,
    /// The DTB's file name.
    pub source: String,
    /// Root `model`.
    pub model: String,
    /// Root `compatible`.
    pub compatible: Vec<String>,
    /// How secondary cores are started: `psci-smc`, `psci-hvc`,
    /// `spin-table` or `unknown`.
    pub cpu_boot: String,
    /// Where `Cpu::cluster` came from: `next-level-cache`, `cpu-map` or `none`.
    pub cluster_source: String,
    /// Cores, in `/cpus` order.
    pub cpus: Vec<Cpu>,
    /// RAM.
    pub memory: Vec<Range>,
    /// Reserved memory.
    pub reserved_memory: Vec<Reserved>,
    /// The GIC.
    pub gic: Gic,
    /// The generic timer.
    pub timer: Option<Timer>,
    /// The console device's name (from `/chosen` `stdout-path`).
    pub console: Option<String>,
    /// What `stdout-path` said.
    pub stdout_path: Option<String>,
    /// The console node's `reg-shift` and `reg-io-width` (8250-class
    /// UARTs), when it has either.
    pub console_access: Option<ConsoleAccess>,
    /// Devices, by address.
    pub devices: Vec<Device>,
    /// IOMMUs, by address.
    pub iommus: Vec<Iommu>,
    /// Board-level remarks.
    pub notes: Vec<String>,
}

/// Subtrees that are not devices.
fn skipped_subtree(tree: &Tree, node: usize) -> bool {
    let n = &tree.nodes[node];
    matches!(
        n.name.as_str(),
        "cpus" | "reserved-memory" | "chosen" | "aliases" | "__symbols__" | "__overrides__"
    ) || n.string("device_type").as_deref() == Some("memory")
        || n.has("interrupt-controller") && gic_version(&n.strings("compatible")).is_some()
        || n.has("#iommu-cells")
}

fn is_pci_bus(tree: &Tree, node: usize) -> bool {
    let n = &tree.nodes[node];
    matches!(n.string("device_type").as_deref(), Some("pci" | "pciex"))
}

/// Generic names for nodes named after their part number.
const PART_CLASSES: &[(&str, &str)] = &[
    ("arm,pl011", "serial"),
    ("arm,sbsa-uart", "serial"),
    ("arm,pl031", "rtc"),
    ("arm,pl061", "gpio"),
    ("arm,pl022", "spi"),
    ("arm,pl330", "dma-controller"),
    ("arm,sp805", "watchdog"),
    ("arm,sp804", "timer"),
];

/// Device classes that master the bus.
const DMA_CLASSES: &[&str] = &[
    "ethernet",
    "usb",
    "mmc",
    "sdhci",
    "pcie",
    "pci",
    "dma-controller",
    "dma",
    "sata",
    "ufs",
    "gpu",
    "video-codec",
    "vpu",
    "crypto",
];

fn sanitize(name: &str) -> String {
    name.to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn class_name(tree: &Tree, node: usize) -> String {
    let n = &tree.nodes[node];
    let base = sanitize(&n.name);
    for compatible in n.strings("compatible") {
        if let Some((_, class)) = PART_CLASSES.iter().find(|(c, _)| *c == compatible) {
            let part = compatible.split(',').nth(1).unwrap_or_default();
            if base == part {
                return class.to_string();
            }
        }
    }
    base
}

/// Longest device name a config accepts.
const MAX_NAME: usize = 32;

/// Reads `dtb` and describes the board as `name`; `source` is the file
/// name recorded in the description.
pub fn from_dtb(dtb: &[u8], name: &str, source: &str) -> Result<Platform, PlatformError> {
    let tree = Tree::parse(dtb)?;
    let root = &tree.nodes[0];
    let mut notes = Vec::new();

    // The GIC: the first enabled GIC-family interrupt controller.
    let gic_node = (0..tree.nodes.len())
        .find(|&i| {
            let n = &tree.nodes[i];
            n.has("interrupt-controller")
                && gic_version(&n.strings("compatible")).is_some()
                && tree.enabled_with_ancestors(i)
        })
        .ok_or(PlatformError::NoGic)?;
    let resolver = Resolver::new(&tree, gic_node);
    let gic = describe_gic(&tree, &resolver, gic_node, &mut notes);

    let (cpus, cluster_source) = describe_cpus(&tree, &mut notes);
    if cpus.is_empty() {
        return Err(PlatformError::NoCpus);
    }
    let cpu_boot = cpu_boot(&tree, &cpus);

    // Memory.
    let mut memory = Vec::new();
    for i in 0..tree.nodes.len() {
        let n = &tree.nodes[i];
        if n.string("device_type").as_deref() != Some("memory") || !n.enabled() {
            continue;
        }
        let (ranges, _) = tree.reg(i);
        for (base, size) in ranges {
            if size == 0 {
                notes.push(format!(
                    "{} has a size-0 range at {base:#x}: a placeholder that firmware fills in at boot",
                    n.path
                ));
            } else {
                memory.push(Range { base, size });
            }
        }
    }
    memory.sort();
    if memory.is_empty() {
        notes.push(String::from(
            "no memory node with a size: the board's RAM must be given by hand",
        ));
    }
    let mut reserved_memory = Vec::new();
    if let Some(rm) = tree.by_path("/reserved-memory") {
        for &child in &tree.nodes[rm].children {
            let c = &tree.nodes[child];
            if !c.enabled() {
                continue;
            }
            let (ranges, _) = tree.reg(child);
            for (base, size) in ranges.into_iter().filter(|(_, s)| *s != 0) {
                reserved_memory.push(Reserved {
                    node: c.path.clone(),
                    range: Range { base, size },
                    no_map: c.has("no-map"),
                });
            }
            if tree.reg(child).0.is_empty() && c.has("size") {
                notes.push(format!(
                    "{} is a dynamically placed reserved region (size only)",
                    c.path
                ));
            }
        }
    }
    reserved_memory.sort_by_key(|r| r.range);

    let timer = describe_timer(&tree, &resolver, &mut notes);
    let iommus = describe_iommus(&tree, &resolver);
    let devices = describe_devices(&tree, &resolver, &iommus, &mut notes);

    // Console.
    let chosen = tree.by_path("/chosen");
    let stdout_path = chosen.and_then(|c| {
        let n = &tree.nodes[c];
        n.string("stdout-path")
            .or_else(|| n.string("linux,stdout-path"))
    });
    let console_node = stdout_path.as_deref().and_then(|s| {
        let target = s.split(':').next().unwrap_or_default();
        if target.starts_with('/') {
            tree.by_path(target)
        } else {
            tree.alias(target)
        }
    });
    let console = console_node.and_then(|node| {
        let path = &tree.nodes[node].path;
        devices
            .iter()
            .find(|d| &d.node == path)
            .map(|d| d.name.clone())
    });
    let console_access = console_node.filter(|_| console.is_some()).and_then(|node| {
        let n = &tree.nodes[node];
        let (shift, width) = (n.u32("reg-shift"), n.u32("reg-io-width"));
        (shift.is_some() || width.is_some()).then(|| ConsoleAccess {
            reg_shift: shift.unwrap_or(0),
            reg_io_width: width.unwrap_or(1),
        })
    });
    match (&stdout_path, &console) {
        (None, _) => notes.push(String::from("no /chosen stdout-path: no console named")),
        (Some(s), None) => notes.push(format!(
            "stdout-path {s:?} does not name an enabled MMIO device"
        )),
        _ => {}
    }

    Ok(Platform {
        name: name.to_string(),
        source: source.to_string(),
        model: root.string("model").unwrap_or_default(),
        compatible: root.strings("compatible"),
        cpu_boot,
        cluster_source,
        cpus,
        memory,
        reserved_memory,
        gic,
        timer,
        console,
        stdout_path,
        console_access,
        devices,
        iommus,
        notes,
    })
}

/// How an 8250-class console's registers are reached (device tree
/// `reg-shift` and `reg-io-width`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleAccess {
    /// Register `n` is at byte offset `n << reg_shift` (default 0).
    pub reg_shift: u32,
    /// Bytes per access: 1 or 4 (default 1).
    pub reg_io_width: u32,
}

fn range((base, size): (u64, u64)) -> Range {
    Range { base, size }
}

fn describe_gic(tree: &Tree, resolver: &Resolver, node: usize, notes: &mut Vec<String>) -> Gic {
    let n = &tree.nodes[node];
    let compatible = n.strings("compatible");
    let version = gic_version(&compatible).unwrap_or(3);
    let (regs, _) = tree.reg(node);
    let mut regs = regs.into_iter().map(range);
    let distributor = regs.next();
    let mut redistributors = Vec::new();
    if version == 3 {
        let count = n.u32("#redistributor-regions").unwrap_or(1);
        for _ in 0..count {
            redistributors.extend(regs.next());
        }
    }
    let cpu_interface = regs.next();
    let hypervisor_interface = regs.next();
    let virtual_cpu_interface = regs.next();
    let maintenance_irq = resolver
        .node_interrupts(node)
        .into_iter()
        .find_map(|r| match r {
            Resolved::Gic { intid, .. } => Some(intid),
            _ => None,
        });
    if maintenance_irq.is_none() {
        notes.push(format!(
            "{} gives no maintenance interrupt (`interrupts`)",
            n.path
        ));
    }
    if version == 2 {
        notes.push(format!(
            "{} ({}) is a GICv2: no redistributors, no system-register CPU interface",
            n.path,
            compatible.first().cloned().unwrap_or_default()
        ));
    }
    // Every SPI any node uses, enabled or not, so hand-picked spare SPIs
    // stay clear of disabled devices too.
    let spis_used: std::collections::BTreeSet<u32> = (0..tree.nodes.len())
        .flat_map(|i| {
            let mut all = resolver.node_interrupts(i);
            if tree.nodes[i].has("interrupt-map") {
                all.extend(resolver.map_targets(i));
            }
            all
        })
        .filter_map(|r| match r {
            Resolved::Gic { intid, .. } if intid >= bsp::FIRST_SPI => Some(intid),
            _ => None,
        })
        .collect();
    Gic {
        node: n.path.clone(),
        compatible: compatible.first().cloned().unwrap_or_default(),
        version,
        distributor,
        redistributors,
        redistributor_stride: n
            .cells("redistributor-stride")
            .map(|c| tree::join(&c) as u64),
        cpu_interface,
        hypervisor_interface,
        virtual_cpu_interface,
        maintenance_irq,
        spis_used: spis_used.into_iter().collect(),
    }
}

fn describe_cpus(tree: &Tree, notes: &mut Vec<String>) -> (Vec<Cpu>, String) {
    let Some(cpus_node) = tree.by_path("/cpus") else {
        return (Vec::new(), String::from("none"));
    };
    let mut cpus = Vec::new();
    let mut nodes = Vec::new();
    let mut caches = Vec::new();
    for &child in &tree.nodes[cpus_node].children {
        let c = &tree.nodes[child];
        if c.string("device_type").as_deref() != Some("cpu") {
            continue;
        }
        if !c.enabled() {
            notes.push(format!("{} is disabled and not listed", c.path));
            continue;
        }
        let Some(reg) = tree.raw_reg(child).first().map(|(a, _)| tree::join(a)) else {
            notes.push(format!("{} has no reg and is not listed", c.path));
            continue;
        };
        let reg = reg as u64 & 0xff_00ff_ffff;
        caches.push(c.u32("next-level-cache"));
        nodes.push(child);
        cpus.push(Cpu {
            node: c.path.clone(),
            mpidr: reg,
            cluster: None,
            compatible: c.string("compatible").unwrap_or_default(),
            enable_method: c
                .string("enable-method")
                .or_else(|| tree.nodes[cpus_node].string("enable-method")),
            release_address: c
                .cells("cpu-release-addr")
                .filter(|cells| (1..=2).contains(&cells.len()))
                .map(|cells| tree::join(&cells) as u64),
        });
    }
    // L2 sharing: the cpu-map's clusters (what the kernel's topology
    // uses, and right on big.LITTLE parts whose caches are described
    // per core), else the shared next-level cache.
    if let Some(map) = tree.by_path("/cpus/cpu-map") {
        if cpu_map_clusters(tree, map, &nodes, &mut cpus) {
            return (cpus, String::from("cpu-map"));
        }
        for cpu in &mut cpus {
            cpu.cluster = None;
        }
    }
    if !cpus.is_empty() && caches.iter().all(Option::is_some) {
        let mut seen = Vec::new();
        for (cpu, cache) in cpus.iter_mut().zip(&caches) {
            let index = seen.iter().position(|c| c == cache).unwrap_or_else(|| {
                seen.push(*cache);
                seen.len() - 1
            });
            cpu.cluster = Some(index as u32);
        }
        return (cpus, String::from("next-level-cache"));
    }
    (cpus, String::from("none"))
}

/// Clusters from `/cpus/cpu-map` (node `map`): each node named `cluster*`
/// that holds cores is one, numbered depth-first in file order. Returns
/// whether every core got one.
fn cpu_map_clusters(tree: &Tree, map: usize, nodes: &[usize], cpus: &mut [Cpu]) -> bool {
    let mut clusters = 0u32;
    let mut stack = vec![map];
    // Depth-first in file order; each node named cluster* that holds cores
    // is one cluster.
    let mut order = Vec::new();
    while let Some(at) = stack.pop() {
        order.push(at);
        for &c in tree.nodes[at].children.iter().rev() {
            stack.push(c);
        }
    }
    for at in order {
        let n = &tree.nodes[at];
        if !n.name.starts_with("cluster") {
            continue;
        }
        let mut found = false;
        let mut inner = vec![at];
        while let Some(x) = inner.pop() {
            for &c in &tree.nodes[x].children {
                let child = &tree.nodes[c];
                if child.name.starts_with("cluster") {
                    continue;
                }
                if let Some(cpu) = child.u32("cpu").and_then(|h| tree.by_phandle(h)) {
                    if let Some(i) = nodes.iter().position(|&n| n == cpu) {
                        cpus[i].cluster = Some(clusters);
                        found = true;
                    }
                }
                inner.push(c);
            }
        }
        if found {
            clusters += 1;
        }
    }
    cpus.iter().all(|c| c.cluster.is_some())
}

fn cpu_boot(tree: &Tree, cpus: &[Cpu]) -> String {
    let psci_method = (0..tree.nodes.len())
        .find(|&i| {
            let n = &tree.nodes[i];
            n.strings("compatible")
                .iter()
                .any(|c| c.starts_with("arm,psci"))
                && n.enabled()
        })
        .and_then(|i| tree.nodes[i].string("method"));
    let methods: BTreeSet<&str> = cpus
        .iter()
        .filter_map(|c| c.enable_method.as_deref())
        .collect();
    match (methods.iter().next(), psci_method.as_deref()) {
        (Some(&"psci"), Some("smc")) if methods.len() == 1 => String::from("psci-smc"),
        (Some(&"psci"), Some("hvc")) if methods.len() == 1 => String::from("psci-hvc"),
        (Some(&"spin-table"), _) if methods.len() == 1 => String::from("spin-table"),
        _ => String::from("unknown"),
    }
}

fn describe_timer(tree: &Tree, resolver: &Resolver, notes: &mut Vec<String>) -> Option<Timer> {
    let node = (0..tree.nodes.len()).find(|&i| {
        let n = &tree.nodes[i];
        n.strings("compatible")
            .iter()
            .any(|c| c == "arm,armv8-timer" || c == "arm,armv7-timer")
            && n.enabled()
    });
    let Some(node) = node else {
        notes.push(String::from("no arm,armv8-timer node"));
        return None;
    };
    let ppis: Vec<Option<u32>> = resolver
        .node_interrupts(node)
        .into_iter()
        .map(|r| match r {
            Resolved::Gic { intid, .. } => Some(intid),
            _ => None,
        })
        .collect();
    let at = |i: usize| ppis.get(i).copied().flatten();
    Some(Timer {
        node: tree.nodes[node].path.clone(),
        secure_physical: at(0),
        physical: at(1),
        virtual_timer: at(2),
        hypervisor: at(3),
        hypervisor_virtual: at(4),
    })
}

fn describe_devices(
    tree: &Tree,
    resolver: &Resolver,
    iommus: &[Iommu],
    notes: &mut Vec<String>,
) -> Vec<Device> {
    let mut devices: Vec<(usize, String, Device)> = Vec::new();
    let mut unreachable = 0;
    let mut stack = vec![0usize];
    while let Some(at) = stack.pop() {
        for &child in tree.nodes[at].children.iter().rev() {
            if skipped_subtree(tree, child) || !tree.nodes[child].enabled() {
                continue;
            }
            stack.push(child);
        }
        if at == 0 || !tree.nodes[at].has("reg") {
            continue;
        }
        let parent = tree.nodes[at].parent.unwrap_or(0);
        if is_pci_bus(tree, parent) {
            continue;
        }
        // A bus whose `reg` is its whole window (`simple-bus`, i.MX AIPS
        // `bus@…`) is not a device; its children are.
        let bus_node = &tree.nodes[at];
        if bus_node.has("ranges")
            && !is_pci_bus(tree, at)
            && (bus_node
                .strings("compatible")
                .iter()
                .any(|c| c == "simple-bus")
                || bus_node.name == "bus")
        {
            continue;
        }
        let (mmio, failed) = tree.reg(at);
        if mmio.is_empty() {
            if failed > 0 {
                unreachable += 1;
            }
            continue;
        }
        let n = &tree.nodes[at];
        let mut device = Device {
            name: String::new(),
            node: n.path.clone(),
            compatible: n.strings("compatible"),
            mmio: mmio.into_iter().map(range).collect(),
            irqs: Vec::new(),
            triggers: Vec::new(),
            clocks: n.strings("clock-names"),
            dma: false,
            dma_coherent: n.has("dma-coherent"),
            iommu: None,
            streams: Vec::new(),
            stream_map: Vec::new(),
            notes: Vec::new(),
        };
        if n.has("clocks") && device.clocks.is_empty() {
            device.notes.push(String::from(
                "it has clocks but no clock-names; a cell's tree gives it none",
            ));
        }
        if failed > 0 {
            device.notes.push(format!(
                "{failed} reg entries do not translate to CPU addresses"
            ));
        }
        // The node's own interrupts keep their order and repeats: drivers
        // take them by index (ZynqMP's GEM lists its one line once per
        // queue, and the driver wants as many entries as queues).
        for r in resolver.node_interrupts(at) {
            match r {
                Resolved::Gic { intid, trigger, via } => {
                    device.irqs.push(intid);
                    device.triggers.push(trigger);
                    if let Some(nexus) = via {
                        device
                            .notes
                            .push(format!("INTID {intid} is routed by the interrupt-map of {nexus}"));
                    }
                }
                Resolved::Other {
                    controller,
                    specifier,
                } => device.notes.push(format!(
                    "an interrupt goes to {} (not the GIC), specifier {}; the cell needs that controller too",
                    tree.nodes[controller].path,
                    interrupts::specifier_text(&specifier)
                )),
                Resolved::Unresolved(why) => device
                    .notes
                    .push(format!("an interrupt could not be resolved: {why}")),
            }
        }
        if is_pci_bus(tree, at) {
            let windows = tree.outbound_windows(at);
            if !windows.is_empty() {
                device.notes.push(format!(
                    "mmio[{}..] are the bridge's outbound windows (`ranges`), where BARs live",
                    device.mmio.len()
                ));
                device.mmio.extend(windows.into_iter().map(range));
            }
        }
        if n.has("interrupt-map") {
            let before = device.irqs.len();
            // An interrupt-map names each target once per child and pin.
            for r in resolver.map_targets(at) {
                if let Resolved::Gic { intid, trigger, .. } = r {
                    if !device.irqs.contains(&intid) {
                        device.irqs.push(intid);
                        device.triggers.push(trigger);
                    }
                }
            }
            if device.irqs.len() > before {
                device.notes.push(format!(
                    "irqs[{before}..] are the targets of its interrupt-map (legacy INTx of devices behind it)"
                ));
            }
        }
        if n.has("msi-map") || n.has("msi-parent") {
            device.notes.push(String::from(
                "MSIs go to an msi-controller (msi-map/msi-parent), not listed here",
            ));
        }
        let class = class_name(tree, at);
        device.dma = n.has("dma-coherent")
            || n.has("iommus")
            || n.has("#dma-cells")
            || DMA_CLASSES.contains(&class.as_str());
        attach_streams(tree, at, iommus, &mut device);
        devices.push((at, class, device));
    }
    if unreachable > 0 {
        notes.push(format!(
            "{unreachable} enabled nodes with `reg` are not memory-mapped (they sit on I2C, SPI, MDIO or similar buses) and are not listed"
        ));
    }
    devices.sort_by(|a, b| a.2.mmio[0].cmp(&b.2.mmio[0]).then(a.2.node.cmp(&b.2.node)));
    name_devices(tree, &mut devices);
    devices.into_iter().map(|(_, _, d)| d).collect()
}

/// Every node with `#iommu-cells` whose `reg` translates, enabled or not,
/// by address, named `smmu`/`iommu` (indexed when there are several).
fn describe_iommus(tree: &Tree, resolver: &Resolver) -> Vec<Iommu> {
    let mut iommus: Vec<Iommu> = (0..tree.nodes.len())
        .filter(|&at| tree.nodes[at].has("#iommu-cells"))
        .filter_map(|at| {
            let n = &tree.nodes[at];
            let (mmio, _) = tree.reg(at);
            if mmio.is_empty() {
                return None;
            }
            let compatible = n.strings("compatible");
            // One line per context bank is common (MMU-500): each once.
            let mut irqs: Vec<u32> = Vec::new();
            for r in resolver.node_interrupts(at) {
                if let Resolved::Gic { intid, .. } = r {
                    if !irqs.contains(&intid) {
                        irqs.push(intid);
                    }
                }
            }
            Some(Iommu {
                name: String::new(),
                node: n.path.clone(),
                kind: IommuKind::from_compatible(compatible.iter().map(String::as_str)),
                compatible,
                mmio: mmio.into_iter().map(range).collect(),
                irqs,
                cells: n.u32("#iommu-cells").unwrap_or(0),
                enabled: tree.enabled_with_ancestors(at),
            })
        })
        .collect();
    iommus.sort_by(|a, b| a.mmio[0].cmp(&b.mmio[0]));
    for kind_class in ["smmu", "iommu"] {
        let of_class = |i: &Iommu| (i.kind == IommuKind::Other) == (kind_class == "iommu");
        let count = iommus.iter().filter(|i| of_class(i)).count();
        for (index, iommu) in iommus.iter_mut().filter(|i| of_class(i)).enumerate() {
            iommu.name = if count > 1 {
                format!("{kind_class}{index}")
            } else {
                kind_class.to_string()
            };
        }
    }
    iommus
}

/// The `iommus` (stream IDs) and, on a PCI host bridge, `iommu-map`
/// (requester IDs to stream IDs) of node `at`, the device's, at the
/// IOMMUs of `iommus`.
fn attach_streams(tree: &Tree, at: usize, iommus: &[Iommu], device: &mut Device) {
    let n = &tree.nodes[at];
    let iommu_of = |phandle: u32| {
        let node = tree.by_phandle(phandle)?;
        iommus.iter().find(|i| i.node == tree.nodes[node].path)
    };
    let named = |device: &mut Device, iommu: &Iommu| {
        match &device.iommu {
            None => device.iommu = Some(iommu.name.clone()),
            Some(name) if *name == iommu.name => {}
            Some(_) => device.notes.push(format!(
                "its DMA also goes through {}; only the first IOMMU's streams are listed",
                iommu.name
            )),
        }
        device.iommu.as_deref() == Some(iommu.name.as_str())
    };
    // iommus = <&iommu sid [mask]>, repeated.
    let cells = n.cells("iommus").unwrap_or_default();
    let mut at_cell = 0;
    while at_cell < cells.len() {
        let Some(iommu) = iommu_of(cells[at_cell]) else {
            device.notes.push(String::from(
                "an iommus entry names no IOMMU node with a reg; the rest of it is not read",
            ));
            break;
        };
        let width = iommu.cells as usize;
        let Some(specifier) = cells.get(at_cell + 1..at_cell + 1 + width) else {
            device
                .notes
                .push(String::from("an iommus entry is cut short"));
            break;
        };
        if named(device, iommu) {
            if let Some(&sid) = specifier.first() {
                if !device.streams.contains(&sid) {
                    device.streams.push(sid);
                }
            }
        }
        at_cell += 1 + width;
    }
    // iommu-map = <rid-base &iommu sid-base length>, repeated (one-cell
    // IOMMU specifiers, as every binding that uses it has).
    let map = n.cells("iommu-map").unwrap_or_default();
    for entry in map.chunks(4) {
        let [rid_base, phandle, sid_base, length] = entry[..] else {
            device
                .notes
                .push(String::from("an iommu-map entry is cut short"));
            break;
        };
        let Some(iommu) = iommu_of(phandle) else {
            device.notes.push(String::from(
                "an iommu-map entry names no IOMMU node with a reg",
            ));
            continue;
        };
        if named(device, iommu) {
            device.stream_map.push(StreamMap {
                rid_base,
                sid_base,
                length,
            });
        }
    }
}

/// Applies the naming rule (see the module documentation).
fn name_devices(tree: &Tree, devices: &mut [(usize, String, Device)]) {
    // Serial ports: aliases first, then the lowest free numbers.
    let mut taken = BTreeSet::new();
    let alias_of = |node: usize| -> Option<u32> {
        let aliases = tree.by_path("/aliases")?;
        let a = &tree.nodes[aliases];
        (0..64u32).find(|i| {
            a.string(&format!("serial{i}")).as_deref() == Some(tree.nodes[node].path.as_str())
        })
    };
    let is_serial = |class: &str| class == "serial" || class == "uart";
    for (node, class, device) in devices.iter_mut() {
        if is_serial(class) {
            if let Some(i) = alias_of(*node) {
                if taken.insert(i) {
                    device.name = format!("uart{i}");
                }
            }
        }
    }
    let mut next = 0;
    for (_, class, device) in devices.iter_mut() {
        if is_serial(class) && device.name.is_empty() {
            while taken.contains(&next) {
                next += 1;
            }
            taken.insert(next);
            device.name = format!("uart{next}");
        }
    }
    // Everything else: bare when unique, indexed by address otherwise.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (_, class, device) in devices.iter() {
        if device.name.is_empty() {
            *counts.entry(class.clone()).or_default() += 1;
        }
    }
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (_, class, device) in devices.iter_mut() {
        if !device.name.is_empty() {
            continue;
        }
        device.name = if counts[class.as_str()] > 1 {
            let i = index.entry(class.clone()).or_default();
            *i += 1;
            format!("{class}{}", *i - 1)
        } else {
            class.clone()
        };
    }
    // Keep names short enough for configs and unique.
    let mut used = BTreeSet::new();
    for (_, _, device) in devices.iter_mut() {
        let mut name: String = device.name.chars().take(MAX_NAME).collect();
        let mut n = 2;
        while used.contains(&name) {
            let suffix = format!("-{n}");
            name = device
                .name
                .chars()
                .take(MAX_NAME - suffix.len())
                .collect::<String>()
                + &suffix;
            n += 1;
        }
        used.insert(name.clone());
        device.name = name;
    }
}

/// `bulkhead platform from-dtb`: reads `dtb` and returns the board file's
/// text, keeping the hand-made section of `existing` when that file exists.
pub fn from_dtb_file(
    dtb: &std::path::Path,
    name: Option<&str>,
    existing: Option<&std::path::Path>,
) -> anyhow::Result<String> {
    use anyhow::Context;
    let bytes = std::fs::read(dtb).with_context(|| format!("cannot read {}", dtb.display()))?;
    let stem = dtb
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source = dtb
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let platform = from_dtb(&bytes, name.unwrap_or(&stem), &source)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dtb.display()))?;
    let previous = match existing {
        Some(path) if path.exists() => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        _ => None,
    };
    Ok(with_hand_made(&render(&platform), previous.as_deref()))
}
