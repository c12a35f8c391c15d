//! A board file (`bsp/boards/<name>.yaml`) as `build.rs` reads it, and
//! the Rust `const Board` it becomes. A module of its own so that
//! `tests/board_files.rs` can check the rules it applies (the hand-made
//! section's provenance, its corrections) on made-up files.

use serde::Deserialize;
use std::fmt::Write;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardFile {
    format: u32,
    pub name: String,
    source: String,
    model: String,
    compatible: Vec<String>,
    cpu_boot: String,
    #[allow(dead_code)]
    cluster_source: String,
    cpus: Vec<CpuFile>,
    memory: Vec<RangeFile>,
    reserved_memory: Vec<ReservedFile>,
    gic: GicFile,
    timer: Option<TimerFile>,
    console: Option<String>,
    console_access: Option<ConsoleAccessFile>,
    devices: Vec<DeviceFile>,
    #[serde(default)]
    iommus: Vec<IommuFile>,
    notes: Vec<String>,
    hand_made: Option<HandMade>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IommuFile {
    name: String,
    node: String,
    #[allow(dead_code)]
    compatible: Vec<String>,
    kind: String,
    mmio: Vec<RangeFile>,
    irqs: Vec<u32>,
    #[allow(dead_code)]
    cells: u32,
    #[allow(dead_code)]
    enabled: bool,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct StreamMapFile {
    rid_base: u32,
    sid_base: u32,
    length: u32,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct ConsoleAccessFile {
    reg_shift: u8,
    reg_io_width: u8,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct RangeFile {
    base: u64,
    size: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReservedFile {
    base: u64,
    size: u64,
    #[allow(dead_code)]
    no_map: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CpuFile {
    mpidr: u64,
    cluster: Option<u8>,
    compatible: String,
    #[allow(dead_code)]
    enable_method: Option<String>,
    #[serde(default)]
    release_address: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GicFile {
    #[allow(dead_code)]
    node: String,
    compatible: String,
    version: u8,
    distributor: Option<RangeFile>,
    redistributors: Vec<RangeFile>,
    redistributor_stride: Option<u64>,
    cpu_interface: Option<RangeFile>,
    hypervisor_interface: Option<RangeFile>,
    virtual_cpu_interface: Option<RangeFile>,
    maintenance_irq: Option<u32>,
    /// The SPIs any node uses, enabled or not, as runs: `"47, 49-50"`
    /// (written by `bulkhead platform from-dtb`).
    #[serde(default)]
    spis_used: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimerFile {
    #[allow(dead_code)]
    node: String,
    secure_physical: Option<u32>,
    physical: Option<u32>,
    #[serde(rename = "virtual")]
    virtual_timer: Option<u32>,
    hypervisor: Option<u32>,
    #[allow(dead_code)]
    hypervisor_virtual: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceFile {
    name: String,
    node: String,
    compatible: Vec<String>,
    mmio: Vec<RangeFile>,
    irqs: Vec<u32>,
    triggers: Vec<String>,
    #[serde(default)]
    clocks: Vec<String>,
    dma: bool,
    #[serde(default)]
    dma_coherent: bool,
    #[serde(default)]
    iommu: Option<String>,
    #[serde(default)]
    streams: Vec<u32>,
    #[serde(default)]
    stream_map: Vec<StreamMapFile>,
    #[serde(default)]
    #[allow(dead_code)]
    notes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpisFile {
    first: u32,
    count: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QemuFile {
    machine: String,
    console_serial: u8,
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VirtualPciFile {
    ecam: RangeFile,
    registers: RangeFile,
    memory: RangeFile,
    memory_slot: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandMade {
    hypervisor_ram: Option<RangeFile>,
    /// How the cores start, where the tree does not say (or says wrong):
    /// `psci-smc` or `spin-table`.
    cpu_boot: Option<String>,
    /// Each core's spin-table release address, in `cpus` order, where the
    /// tree has no `cpu-release-addr`.
    release_addresses: Option<Vec<u64>>,
    /// Runs of SPIs nothing drives, in ascending order.
    spare_spis: Option<Vec<SpisFile>>,
    counter_hz: Option<u64>,
    control_path: Option<String>,
    console: Option<String>,
    console_access: Option<ConsoleAccessFile>,
    memory: Option<Vec<RangeFile>>,
    maintenance_irq: Option<u32>,
    redistributor_stride: Option<u64>,
    virtual_pci: Option<VirtualPciFile>,
    /// Device name -> clock name -> Hz.
    #[serde(default)]
    clock_rates: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>>,
    qemu: Option<QemuFile>,
    #[serde(default)]
    provenance: std::collections::BTreeMap<String, String>,
}

fn range(r: &RangeFile) -> String {
    format!("MemRange::new({:#x}, {:#x})", r.base, r.size)
}

fn ranges(rs: &[RangeFile]) -> String {
    let items: Vec<String> = rs.iter().map(range).collect();
    format!("&[{}]", items.join(", "))
}

fn opt_range(r: &Option<RangeFile>) -> String {
    match r {
        Some(r) => format!("Some({})", range(r)),
        None => String::from("None"),
    }
}

fn trigger(t: &str) -> Result<&'static str, String> {
    Ok(match t {
        "edge-rising" => "Trigger::EdgeRising",
        "edge-falling" => "Trigger::EdgeFalling",
        "level-high" => "Trigger::LevelHigh",
        "level-low" => "Trigger::LevelLow",
        "unspecified" => "Trigger::Unspecified",
        other => return Err(format!("unknown trigger `{other}`")),
    })
}

/// The Rust module for one board file.
pub fn generate(b: &BoardFile) -> Result<String, String> {
    if b.format != 1 {
        return Err(format!("format {} (this build reads format 1)", b.format));
    }
    let h = b.hand_made.as_ref().ok_or(
        "no hand_made section: add hypervisor_ram, spare_spis, counter_hz and control_path",
    )?;
    let need = |key: &str, present: bool| -> Result<(), String> {
        if present && !h.provenance.contains_key(key) {
            return Err(format!(
                "hand_made.{key} has no provenance: add `provenance: {{ {key}: \"where it came from\" }}`"
            ));
        }
        Ok(())
    };
    need("hypervisor_ram", h.hypervisor_ram.is_some())?;
    need("cpu_boot", h.cpu_boot.is_some())?;
    need("release_addresses", h.release_addresses.is_some())?;
    if let Some(boot) = h.cpu_boot.as_deref() {
        if !matches!(boot, "psci-smc" | "spin-table") {
            return Err(format!(
                "hand_made.cpu_boot `{boot}`: the partitioner starts cores with psci-smc or spin-table"
            ));
        }
    }
    if let Some(addresses) = &h.release_addresses {
        if addresses.len() != b.cpus.len() {
            return Err(format!(
                "hand_made.release_addresses has {} entries for {} cpus",
                addresses.len(),
                b.cpus.len()
            ));
        }
    }
    need("spare_spis", h.spare_spis.is_some())?;
    need("counter_hz", h.counter_hz.is_some())?;
    need("control_path", h.control_path.is_some())?;
    need("console", h.console.is_some())?;
    need("console_access", h.console_access.is_some())?;
    need("memory", h.memory.is_some())?;
    need("maintenance_irq", h.maintenance_irq.is_some())?;
    need("redistributor_stride", h.redistributor_stride.is_some())?;
    need("virtual_pci", h.virtual_pci.is_some())?;
    need("qemu", h.qemu.is_some())?;
    need("clock_rates", !h.clock_rates.is_empty())?;
    for (device, rates) in &h.clock_rates {
        let Some(d) = b.devices.iter().find(|d| &d.name == device) else {
            return Err(format!("hand_made.clock_rates: no device `{device}`"));
        };
        for (clock, hz) in rates {
            if !d.clocks.contains(clock) {
                return Err(format!(
                    "hand_made.clock_rates.{device}: `{device}` has no clock `{clock}` (its clocks: {})",
                    d.clocks.join(", ")
                ));
            }
            if *hz == 0 {
                return Err(format!("hand_made.clock_rates.{device}.{clock}: 0 Hz"));
            }
        }
    }
    let qemu = match &h.qemu {
        None => String::from("None"),
        Some(q) => format!(
            "Some(QemuModel {{ machine: {:?}, console_serial: {}, args: &{:?} }})",
            q.machine, q.console_serial, q.args
        ),
    };
    let virtual_pci = match &h.virtual_pci {
        None => String::from("None"),
        Some(v) => {
            if v.ecam.size != 1 << 20 || v.ecam.base % (1 << 20) != 0 {
                return Err("virtual_pci.ecam must be 1 MiB (bus 0), 1 MiB aligned".into());
            }
            if v.registers.base % 0x1000 != 0
                || v.registers.size % 0x1000 != 0
                || v.registers.base + v.registers.size > 1 << 32
            {
                return Err("virtual_pci.registers must be whole pages below 4 GiB".into());
            }
            if !v.memory_slot.is_power_of_two()
                || v.memory_slot < 0x1000
                || v.memory.base % v.memory_slot != 0
                || v.memory.size % v.memory_slot != 0
            {
                return Err(
                    "virtual_pci.memory_slot must be a power of two of at least 4 KiB that divides virtual_pci.memory (base and size)"
                        .into(),
                );
            }
            let windows = [&v.ecam, &v.registers, &v.memory];
            for (i, a) in windows.iter().enumerate() {
                for b in &windows[i + 1..] {
                    if a.base < b.base + b.size && b.base < a.base + a.size {
                        return Err("virtual_pci windows overlap each other".into());
                    }
                }
            }
            format!(
                "Some(VirtualPci {{ ecam: {}, registers: {}, memory: {}, memory_slot: {:#x} }})",
                range(&v.ecam),
                range(&v.registers),
                range(&v.memory),
                v.memory_slot
            )
        }
    };
    let missing = |what: &str| format!("{what} is missing: set hand_made.{what}");
    let hypervisor_ram = h
        .hypervisor_ram
        .as_ref()
        .ok_or_else(|| missing("hypervisor_ram"))?;
    let spare = h.spare_spis.as_ref().ok_or_else(|| missing("spare_spis"))?;
    let counter_hz = h.counter_hz.ok_or_else(|| missing("counter_hz"))?;
    let control_path = match h.control_path.as_deref() {
        Some("group0-fiq") => "ControlPath::Group0Fiq",
        Some("sdei") => "ControlPath::Sdei",
        Some("revoke-stage2") => "ControlPath::RevokeStage2",
        Some(other) => return Err(format!("unknown control_path `{other}`")),
        None => return Err(missing("control_path")),
    };
    let memory = h.memory.as_deref().unwrap_or(&b.memory);
    if memory.is_empty() {
        return Err(missing("memory"));
    }
    let console_name = h
        .console
        .as_ref()
        .or(b.console.as_ref())
        .ok_or_else(|| missing("console"))?;
    let console = b
        .devices
        .iter()
        .find(|d| &d.name == console_name)
        .ok_or_else(|| format!("the console `{console_name}` is not a device of the board"))?;
    let console_irq = *console
        .irqs
        .first()
        .ok_or_else(|| format!("the console `{console_name}` has no GIC interrupt"))?;
    let g = &b.gic;
    let maintenance = h
        .maintenance_irq
        .or(g.maintenance_irq)
        .ok_or_else(|| missing("maintenance_irq"))?;
    let version = match g.version {
        2 => "GicVersion::V2",
        3 => "GicVersion::V3",
        v => return Err(format!("GIC version {v}")),
    };
    let distributor = g.distributor.ok_or("the GIC has no distributor")?;
    let redistributors = g
        .redistributors
        .first()
        .map_or_else(|| String::from("MemRange::new(0, 0)"), range);
    let stride = h.redistributor_stride.or(g.redistributor_stride).unwrap_or(
        // GICv3 without VLPI frames: RD_base + SGI_base, 64 KiB each.
        if g.version == 3 { 0x2_0000 } else { 0 },
    );
    let t = b.timer.as_ref().ok_or("no timer")?;
    let timer = |v: Option<u32>, what: &str| v.ok_or(format!("timer.{what} is missing"));
    check_spare_spis(spare, &parse_runs(&g.spis_used)?, &b.devices)?;

    let mut o = String::new();
    let module = b.name.replace('-', "_");
    let _ = writeln!(
        o,
        "#[doc = {:?}]",
        format!(
            "{} (`board: {}`), from `bsp/boards/{}.yaml` (generated from {}).",
            b.model, b.name, b.name, b.source
        )
    );
    let _ = writeln!(o, "pub mod {module} {{");
    let _ = writeln!(o, "    #[allow(unused_imports)]");
    let _ = writeln!(o, "    use crate::*;");
    let _ = writeln!(o, "    /// The board description.");
    let _ = writeln!(o, "    pub const BOARD: Board = Board {{");
    let _ = writeln!(o, "        name: {:?},", b.name);
    let _ = writeln!(o, "        model: {:?},", b.model);
    let _ = writeln!(
        o,
        "        compatible: {:?},",
        b.compatible.first().map_or("", |s| s)
    );
    let cpu_boot = match h.cpu_boot.as_deref().unwrap_or(b.cpu_boot.as_str()) {
        "psci-smc" => "CpuBoot::PsciSmc",
        "psci-hvc" => "CpuBoot::PsciHvc",
        "spin-table" => "CpuBoot::SpinTable",
        _ => "CpuBoot::Unknown",
    };
    let _ = writeln!(o, "        cpu_boot: {cpu_boot},");
    let _ = writeln!(o, "        cpus: &[");
    for (n, c) in b.cpus.iter().enumerate() {
        let release_address = h
            .release_addresses
            .as_ref()
            .and_then(|a| a.get(n).copied())
            .or(c.release_address);
        let _ = writeln!(
            o,
            "            Cpu {{ mpidr: {:#x}, cluster: {:?}, compatible: {:?}, release_address: {:?} }},",
            c.mpidr, c.cluster, c.compatible, release_address
        );
    }
    let _ = writeln!(o, "        ],");
    let _ = writeln!(o, "        ram: {},", ranges(memory));
    let reserved: Vec<RangeFile> = b
        .reserved_memory
        .iter()
        .map(|r| RangeFile {
            base: r.base,
            size: r.size,
        })
        .collect();
    let _ = writeln!(o, "        reserved_memory: {},", ranges(&reserved));
    let _ = writeln!(o, "        hypervisor_ram: {},", range(hypervisor_ram));
    let access = h
        .console_access
        .or(b.console_access)
        .unwrap_or(ConsoleAccessFile {
            reg_shift: 0,
            reg_io_width: 1,
        });
    if !matches!(access.reg_io_width, 1 | 4) || access.reg_shift > 4 {
        return Err(format!(
            "console_access: reg_io_width {} / reg_shift {} is not supported (width 1 or 4, shift 0..=4)",
            access.reg_io_width, access.reg_shift
        ));
    }
    let _ = writeln!(
        o,
        "        console: Uart {{ device: {:?}, mmio: {}, irq: {console_irq}, reg_shift: {}, reg_io_width: {} }},",
        console.name,
        range(
            console
                .mmio
                .first()
                .ok_or("the console has no MMIO window")?
        ),
        access.reg_shift,
        access.reg_io_width
    );
    let _ = writeln!(o, "        console_compatible: &{:?},", console.compatible);
    let _ = writeln!(o, "        gic: Gic {{");
    let _ = writeln!(o, "            version: {version},");
    let _ = writeln!(o, "            compatible: {:?},", g.compatible);
    let _ = writeln!(o, "            distributor: {},", range(&distributor));
    let _ = writeln!(o, "            redistributors: {redistributors},");
    let _ = writeln!(
        o,
        "            redistributor_regions: {},",
        ranges(&g.redistributors)
    );
    let _ = writeln!(o, "            redistributor_stride: {stride:#x},");
    let _ = writeln!(
        o,
        "            cpu_interface: {},",
        opt_range(&g.cpu_interface)
    );
    let _ = writeln!(
        o,
        "            hypervisor_interface: {},",
        opt_range(&g.hypervisor_interface)
    );
    let _ = writeln!(
        o,
        "            virtual_cpu_interface: {},",
        opt_range(&g.virtual_cpu_interface)
    );
    let _ = writeln!(o, "            maintenance_irq: {maintenance},");
    let _ = writeln!(o, "            control_path: {control_path},");
    let _ = writeln!(o, "        }},");
    let _ = writeln!(
        o,
        "        timer: Timer {{ hypervisor: {}, virtual_timer: {}, physical_timer: {}, secure_physical_timer: {} }},",
        timer(t.hypervisor, "hypervisor")?,
        timer(t.virtual_timer, "virtual")?,
        timer(t.physical, "physical")?,
        timer(t.secure_physical, "secure_physical")?
    );
    let _ = writeln!(o, "        devices: &[");
    for d in &b.devices {
        if d.irqs.len() != d.triggers.len() {
            return Err(format!(
                "device {}: irqs and triggers differ in length",
                d.name
            ));
        }
        let triggers = d
            .triggers
            .iter()
            .map(|t| trigger(t))
            .collect::<Result<Vec<_>, _>>()?;
        let rates = h.clock_rates.get(&d.name);
        let clocks: Vec<String> = d
            .clocks
            .iter()
            .map(|name| {
                format!(
                    "Clock {{ name: {name:?}, hz: {:?} }}",
                    rates.and_then(|r| r.get(name))
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "            Device {{ name: {:?}, node: {:?}, compatible: &{:?}, mmio: {}, irqs: &{:?}, triggers: &[{}], clocks: &[{}], dma: {}, dma_coherent: {}, iommu: {:?}, streams: &{:?}, stream_map: &[{}] }},",
            d.name,
            d.node,
            d.compatible,
            ranges(&d.mmio),
            d.irqs,
            triggers.join(", "),
            clocks.join(", "),
            d.dma,
            d.dma_coherent,
            d.iommu,
            d.streams,
            d.stream_map
                .iter()
                .map(|m| format!(
                    "StreamMap {{ rid_base: {}, sid_base: {}, length: {} }}",
                    m.rid_base, m.sid_base, m.length
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(o, "        ],");
    let _ = writeln!(o, "        iommus: &[");
    for i in &b.iommus {
        let kind = match i.kind.as_str() {
            "smmu-v3" => "IommuKind::SmmuV3",
            "smmu-v2" => "IommuKind::SmmuV2",
            "other" => "IommuKind::Other",
            other => return Err(format!("iommu {}: unknown kind `{other}`", i.name)),
        };
        let _ = writeln!(
            o,
            "            Iommu {{ name: {:?}, node: {:?}, kind: {kind}, mmio: {}, irqs: &{:?} }},",
            i.name,
            i.node,
            ranges(&i.mmio),
            i.irqs
        );
    }
    for d in &b.devices {
        if let Some(name) = &d.iommu {
            if !b.iommus.iter().any(|i| &i.name == name) {
                return Err(format!("device {}: no iommu named `{name}`", d.name));
            }
        }
    }
    let _ = writeln!(o, "        ],");
    let runs: Vec<String> = spare
        .iter()
        .map(|r| format!("IntidRange {{ first: {}, count: {} }}", r.first, r.count))
        .collect();
    let _ = writeln!(o, "        spare_spis: SpareSpis(&[{}]),", runs.join(", "));
    let _ = writeln!(o, "        counter_hz: {counter_hz},");
    let _ = writeln!(o, "        virtual_pci: {virtual_pci},");
    let _ = writeln!(o, "        qemu: {qemu},");
    let _ = writeln!(o, "        notes: &{:?},", b.notes);
    let _ = writeln!(o, "    }};");
    let _ = writeln!(o, "}}");
    Ok(o)
}

/// The INTIDs of `gic.spis_used`: runs such as `"47, 49-50, 53"`.
fn parse_runs(text: &str) -> Result<Vec<(u32, u32)>, String> {
    let bad = |part: &str| format!("gic.spis_used: `{part}` is neither an INTID nor a run `a-b`");
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (first, last) = part.split_once('-').unwrap_or((part, part));
            let first: u32 = first.trim().parse().map_err(|_| bad(part))?;
            let last: u32 = last.trim().parse().map_err(|_| bad(part))?;
            if last < first {
                return Err(bad(part));
            }
            Ok((first, last))
        })
        .collect()
}

/// The spare SPIs are SPIs, in ascending runs that do not overlap, and
/// clear of every interrupt a node of the tree uses (`used`, enabled or
/// not) and of the listed devices' (which a correction may have added).
fn check_spare_spis(
    spare: &[SpisFile],
    used: &[(u32, u32)],
    devices: &[DeviceFile],
) -> Result<(), String> {
    if spare.is_empty() {
        return Err(String::from("spare_spis lists no run"));
    }
    let mut next_free = 32;
    for run in spare {
        let last = run
            .first
            .checked_add(run.count)
            .and_then(|end| end.checked_sub(1))
            .filter(|_| run.count > 0)
            .ok_or_else(|| format!("spare_spis: the run at {} is empty or too long", run.first))?;
        if run.first < next_free {
            return Err(format!(
                "spare_spis: the run at {} is not an SPI after the previous run (runs go in \
                 ascending order, from INTID 32)",
                run.first
            ));
        }
        if let Some(&(a, b)) = used.iter().find(|&&(a, b)| a <= last && run.first <= b) {
            return Err(format!(
                "spare_spis: the run {}..={last} meets INTIDs {a}..={b}, which a node uses \
                 (gic.spis_used)",
                run.first
            ));
        }
        if let Some(d) = devices
            .iter()
            .find(|d| d.irqs.iter().any(|&i| (run.first..=last).contains(&i)))
        {
            return Err(format!(
                "spare_spis: the run {}..={last} holds an interrupt of device `{}`",
                run.first, d.name
            ));
        }
        next_free = last + 1;
    }
    Ok(())
}
