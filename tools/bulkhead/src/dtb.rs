//! Device trees that Bulkhead generates for its cells.
//!
//! A cell whose config says `device_tree: {}` (or gives only a
//! `load_address`) gets a flattened device tree written here, with
//! `vm_fdt::FdtWriter`, from the converted cell and the board description.
//! The tree describes what the cell owns, and nothing else:
//!
//! | node | contents |
//! |---|---|
//! | `/` | `#address-cells = 2`, `#size-cells = 2`, `model`, `compatible`, `interrupt-parent` = the GIC |
//! | `/chosen` | `bootargs`, `stdout-path` (the console), `linux,initrd-start/-end` (guest addresses) |
//! | `/memory@BASE` | one per memory region of the cell, at the address the cell sees it (`guest_base`) |
//! | `/reserved-memory/shared-memory@BASE` | each region shared with other cells, `compatible = "bulkhead,shared-memory"`, so the kernel does not allocate from it |
//! | `/cpus/cpu@N` | one per virtual CPU, `reg = N` (virtual MPIDRs `0..n-1`), PSCI |
//! | `/psci` | PSCI 1.0 / 0.2 over SMC (the partitioner emulates it) |
//! | `/interrupt-controller@GICD` | GICv3: the distributor and the redistributor frames of the cell's own CPUs; GICv2: the distributor and the CPU interface (the board's `compatible`, such as `arm,gic-400`) |
//! | `/timer` | the architected timer's PPIs |
//! | `/apb-pclk`, `/pl011@BASE` | the virtual console, with its spare SPI and a fixed 24 MHz clock |
//! | `/watchdog@BASE` | the cell's watchdog (`arm,sp805`) on that clock, with `timeout-sec` |
//! | `/clock-DEVICE-NAME` | each input clock of a device given to the cell whose rate the board states: a `fixed-clock` (the board's clock controller belongs to no cell) |
//! | `/NAME@BASE` | each device given to the cell, as the board describes it: all its `compatible` strings, its MMIO, interrupts and clocks, `dma-coherent` when the board's tree says so |
//! | `/pcie@ECAM` | for a peer of a channel: the virtual PCI host bridge (`pci-host-ecam-generic`) with one ivshmem-v2 function per channel (device number = the channel's index), its INTA mapped to the peer's doorbell SPI; `linux,pci-probe-only` there and in `/chosen` |
//!
//! Phandles are fixed ([`GIC_PHANDLE`], [`CLOCK_PHANDLE`], then the
//! devices' clocks from [`FIRST_DEVICE_CLOCK_PHANDLE`]) and nodes are
//! written in one fixed order, so the same config always gives the same
//! bytes.

use bsp::{Board, GicVersion, Intid, MemRange, Trigger, VirtualPci, FIRST_PPI, FIRST_SPI};
use bulkhead_config::yaml::TreeRequest;
use bulkhead_config::{doorbell_spi, Cell, Channel, CpuSet, ImageKind, Watchdog};
use vm_fdt::FdtWriter;

/// Bytes of a GICv2 distributor's registers.
const GICV2_DISTRIBUTOR_SIZE: u64 = 0x1000;
/// Bytes of a GICv2 CPU interface's registers (`GICC_DIR` is in the
/// second page).
const GICV2_CPU_INTERFACE_SIZE: u64 = 0x2000;

/// Phandle of the interrupt controller in every generated tree.
pub const GIC_PHANDLE: u32 = 1;
/// Phandle of the console's fixed clock.
pub const CLOCK_PHANDLE: u32 = 2;
/// Phandle of the first fixed clock of the cell's devices; the others
/// follow in tree order.
pub const FIRST_DEVICE_CLOCK_PHANDLE: u32 = 3;
/// Frequency of the emulated devices' fixed clock (`apb-pclk`): what QEMU
/// gives its PL011s. The emulated UART has no baud rate, so any value
/// works for it (Linux's PL011 driver only needs the clocks to exist); the
/// emulated SP805 counts at it ([`Watchdog::CLOCK_HZ`]).
pub const CONSOLE_CLOCK_HZ: u32 = Watchdog::CLOCK_HZ as u32;
/// `compatible` of a shared memory region's `/reserved-memory` node.
pub const SHARED_MEMORY_COMPATIBLE: &str = "bulkhead,shared-memory";
/// `compatible` of a CPU whose board description names none.
pub const DEFAULT_CPU_COMPATIBLE: &str = "arm,armv8";

/// Interrupt specifier type of an SPI (first cell of a GIC interrupt).
const GIC_SPI: u32 = 0;
/// Interrupt specifier type of a PPI.
const GIC_PPI: u32 = 1;
/// Interrupt flags: rising edge.
const IRQ_TYPE_EDGE_RISING: u32 = 1;
/// Interrupt flags: active-high level.
const IRQ_TYPE_LEVEL_HIGH: u32 = 4;
/// `ranges` space code of 32-bit memory, non-prefetchable (PCI bus
/// binding, IEEE 1275: `phys.hi` = `npt000ss bbbbbbbb dddddfff rrrrrrrr`).
const PCI_SPACE_MEMORY32: u32 = 0x0200_0000;
/// `ranges` space code of 64-bit memory, prefetchable.
const PCI_SPACE_MEMORY64_PREFETCHABLE: u32 = 0x4300_0000;
/// `interrupt-map-mask`: the device number of `phys.hi` and the pin.
const PCI_INTERRUPT_MAP_MASK: [u32; 4] = [0xf800, 0, 0, 7];
/// Interrupt pin INTA, as `interrupt-map` child specifiers name it.
const PCI_INTA: u32 = 1;

/// Why a cell's tree cannot be generated.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DtbError {
    /// The board's GIC lacks what the cell's GIC node describes: a GICv3's
    /// redistributor stride, or a GICv2's CPU interface.
    #[error(
        "board {board}'s GIC cannot be described: a GICv3 needs a redistributor stride, \
         a GICv2 a CPU interface"
    )]
    NoDescribableGic {
        /// The board.
        board: &'static str,
    },
    /// A device of the cell is not on the board.
    #[error("board {board} has no device `{device}`")]
    NoSuchDevice {
        /// The board.
        board: &'static str,
        /// The device.
        device: String,
    },
    /// An interrupt is neither a PPI nor an SPI, so a GIC interrupt
    /// specifier cannot name it.
    #[error("interrupt {intid} of {owner} is neither a PPI nor an SPI")]
    NotPpiOrSpi {
        /// What the interrupt belongs to.
        owner: String,
        /// The interrupt.
        intid: Intid,
    },
    /// The writer refused a node or property, e.g. `bootargs` with a NUL
    /// character.
    #[error("{what}: {reason}")]
    Writer {
        /// The node or property being written.
        what: String,
        /// The writer's reason.
        reason: vm_fdt::Error,
    },
}

/// Writes the device tree of the cell in `request` (the signature
/// [`bulkhead_config::yaml::load_with`] expects of a generator).
pub fn generator(request: &TreeRequest<'_>) -> Result<Vec<u8>, String> {
    let functions = pci_functions(request.board, request.index, request.channels);
    generate_with_channels(request.board, request.cell, &functions, request.bootargs)
        .map_err(|e| e.to_string())
}

/// One ivshmem-v2 function on a cell's virtual PCI bridge, as its device
/// tree describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciFunction {
    /// The device number on bus 0: the channel's index in the config.
    pub device: u8,
    /// The function's INTA: the cell's doorbell SPI in the channel.
    pub intid: Intid,
}

/// The functions cell `index` sees on its virtual PCI bridge: one per
/// channel it is a peer of, in channel order. None on a board without
/// virtual PCI, and none for a channel without a doorbell for the cell:
/// the rules refuse both.
pub fn pci_functions(board: &Board, index: usize, channels: &[Channel]) -> Vec<PciFunction> {
    if board.virtual_pci.is_none() {
        return Vec::new();
    }
    channels
        .iter()
        .enumerate()
        .filter_map(|(c, channel)| {
            let peer = channel.peer_of(index)?;
            Some(PciFunction {
                device: u8::try_from(c).ok()?,
                intid: doorbell_spi(board.spare_spis, c, peer)?,
            })
        })
        .collect()
}

/// Writes the device tree of `cell` on `board`, with `bootargs` as
/// `/chosen/bootargs` (none when empty), for a cell that is no peer of a
/// channel (see [`generate_with_channels`]).
pub fn generate(board: &Board, cell: &Cell, bootargs: &str) -> Result<Vec<u8>, DtbError> {
    generate_with_channels(board, cell, &[], bootargs)
}

/// Writes the device tree of `cell` on `board`, with `bootargs` as
/// `/chosen/bootargs` (none when empty) and, when `functions` is not
/// empty, the virtual PCI host bridge with those functions.
///
/// The cell's images give `linux,initrd-start/-end` (its initrd, if any);
/// any device tree image among them is ignored.
pub fn generate_with_channels(
    board: &Board,
    cell: &Cell,
    functions: &[PciFunction],
    bootargs: &str,
) -> Result<Vec<u8>, DtbError> {
    let pci = board.virtual_pci.filter(|_| !functions.is_empty());
    let describable = match board.gic.version {
        GicVersion::V3 => board.gic.redistributor_stride != 0,
        GicVersion::V2 => board.gic.cpu_interface.is_some(),
    };
    if !describable {
        return Err(DtbError::NoDescribableGic { board: board.name });
    }
    let mut w = Writer(FdtWriter::new().map_err(|reason| DtbError::Writer {
        what: "header".into(),
        reason,
    })?);
    let root = w.begin("")?;
    w.u32("#address-cells", 2)?;
    w.u32("#size-cells", 2)?;
    w.string(
        "model",
        &format!("Bulkhead cell {} on {}", cell.name, board.name),
    )?;
    w.strings(
        "compatible",
        &[&format!("bulkhead,cell-{}", cell.name), "bulkhead,cell"],
    )?;
    w.u32("interrupt-parent", GIC_PHANDLE)?;

    let console_path = cell.console.map(|c| format!("/pl011@{:x}", c.base));
    let chosen = w.begin("chosen")?;
    if !bootargs.is_empty() {
        w.string("bootargs", bootargs)?;
    }
    if let Some(path) = &console_path {
        w.string("stdout-path", path)?;
    }
    if let Some(initrd) = cell.images.iter().find(|i| i.kind == ImageKind::Initrd) {
        let range = initrd.destination();
        w.u64("linux,initrd-start", range.base)?;
        w.u64("linux,initrd-end", range.end())?;
    }
    if pci.is_some() {
        // Keep the BARs where the partitioner put them (Linux 6.1 reads
        // this in /chosen; newer kernels also on the bridge node).
        w.u32("linux,pci-probe-only", 1)?;
    }
    w.end(chosen)?;

    for region in &cell.memory {
        let range = region.guest_range();
        let node = w.begin(&format!("memory@{:x}", range.base))?;
        w.string("device_type", "memory")?;
        w.reg(&[range])?;
        w.end(node)?;
    }
    if cell.memory.iter().any(|m| m.is_shared()) {
        // Shared regions are RAM the kernel must not allocate from: other
        // cells use them too. A driver finds them by `compatible`.
        let reserved = w.begin("reserved-memory")?;
        w.u32("#address-cells", 2)?;
        w.u32("#size-cells", 2)?;
        w.null("ranges")?;
        for region in cell.memory.iter().filter(|m| m.is_shared()) {
            let range = region.guest_range();
            let node = w.begin(&format!("shared-memory@{:x}", range.base))?;
            w.string("compatible", SHARED_MEMORY_COMPATIBLE)?;
            w.reg(&[range])?;
            w.end(node)?;
        }
        w.end(reserved)?;
    }

    let cpus = w.begin("cpus")?;
    w.u32("#address-cells", 1)?;
    w.u32("#size-cells", 0)?;
    for (vcpu, cpu) in cell.cpus.iter().enumerate() {
        let compatible = board
            .cpus
            .get(cpu)
            .map(|c| c.compatible)
            .filter(|c| !c.is_empty())
            .unwrap_or(DEFAULT_CPU_COMPATIBLE);
        let node = w.begin(&format!("cpu@{vcpu:x}"))?;
        w.string("device_type", "cpu")?;
        w.string("compatible", compatible)?;
        w.u32("reg", vcpu as u32)?;
        w.string("enable-method", "psci")?;
        w.end(node)?;
    }
    w.end(cpus)?;

    let psci = w.begin("psci")?;
    w.strings("compatible", &["arm,psci-1.0", "arm,psci-0.2"])?;
    w.string("method", "smc")?;
    w.end(psci)?;

    let gic = &board.gic;
    let node = w.begin(&format!("interrupt-controller@{:x}", gic.distributor.base))?;
    w.u32("#interrupt-cells", 3)?;
    // No children (no ITS): an interrupt controller still needs
    // `#address-cells` for `interrupt-map` users, and 0 says "none".
    w.u32("#address-cells", 0)?;
    w.null("interrupt-controller")?;
    match (gic.version, gic.cpu_interface) {
        (GicVersion::V2, Some(cpu_interface)) => {
            // The distributor (emulated) and the CPU interface, whose
            // first page is the cell's core's own; no virtualization
            // interfaces, so no maintenance interrupt.
            w.string("compatible", gic.compatible)?;
            w.reg(&[
                MemRange::new(gic.distributor.base, GICV2_DISTRIBUTOR_SIZE),
                MemRange::new(cpu_interface.base, GICV2_CPU_INTERFACE_SIZE),
            ])?;
        }
        _ => {
            let regions = redistributor_regions(board, cell.cpus);
            w.string("compatible", "arm,gic-v3")?;
            let mut reg = vec![gic.distributor];
            reg.extend(&regions);
            w.reg(&reg)?;
            w.u32("#redistributor-regions", regions.len() as u32)?;
            let maintenance = ppi(gic.maintenance_irq, "the GIC (maintenance)")?;
            w.u32s("interrupts", &maintenance)?;
        }
    }
    w.phandle(GIC_PHANDLE)?;
    w.end(node)?;

    let timer = &board.timer;
    // The binding lists the secure physical timer first. A board whose
    // description has no usable secure timer PPI gets the non-secure
    // physical timer in its place: a cell never uses the secure timer, and
    // Linux only needs the entry to be present.
    let secure = if is_ppi(timer.secure_physical_timer) {
        timer.secure_physical_timer
    } else {
        timer.physical_timer
    };
    let mut interrupts = Vec::new();
    for intid in [
        secure,
        timer.physical_timer,
        timer.virtual_timer,
        timer.hypervisor,
    ] {
        interrupts.extend(ppi(intid, "the timer")?);
    }
    let node = w.begin("timer")?;
    w.string("compatible", "arm,armv8-timer")?;
    w.u32s("interrupts", &interrupts)?;
    w.null("always-on")?;
    w.end(node)?;

    if cell.console.is_some() || cell.watchdog.is_some() {
        let clock = w.begin("apb-pclk")?;
        w.string("compatible", "fixed-clock")?;
        w.u32("#clock-cells", 0)?;
        w.u32("clock-frequency", CONSOLE_CLOCK_HZ)?;
        w.string("clock-output-names", "clk24mhz")?;
        w.phandle(CLOCK_PHANDLE)?;
        w.end(clock)?;
    }

    if let Some(watchdog) = cell.watchdog {
        // Linux's sp805_wdt counts on the first clock, the AMBA bus wants
        // apb_pclk; no interrupt (the driver takes none).
        let node = w.begin(&format!("watchdog@{:x}", watchdog.base))?;
        w.strings("compatible", &["arm,sp805", "arm,primecell"])?;
        w.reg(&[watchdog.window()])?;
        w.u32s("clocks", &[CLOCK_PHANDLE, CLOCK_PHANDLE])?;
        w.strings("clock-names", &["wdog_clk", "apb_pclk"])?;
        w.u32("timeout-sec", watchdog.timeout_ms.div_ceil(1000))?;
        w.end(node)?;
    }

    if let Some(console) = cell.console {
        let node = w.begin(&format!("pl011@{:x}", console.base))?;
        w.strings("compatible", &["arm,pl011", "arm,primecell"])?;
        w.reg(&[console.window()])?;
        // Level: the partitioner sets it pending once per batch of input
        // or unmasking (devices/vuart); acknowledging it clears that.
        // (Level, not edge: a board whose GIC lacks the spare SPI, as
        // QEMU's raspi4b lacks INTID 224 and up, ignores the cell's
        // configuration write, and Linux refuses an edge it cannot set.)
        let irq = interrupt(console.irq, Trigger::LevelHigh, "the console")?;
        w.u32s("interrupts", &irq)?;
        w.u32s("clocks", &[CLOCK_PHANDLE, CLOCK_PHANDLE])?;
        w.strings("clock-names", &["uartclk", "apb_pclk"])?;
        w.end(node)?;
    }

    let mut next_clock = FIRST_DEVICE_CLOCK_PHANDLE;
    for (index, grant) in cell.devices.iter().enumerate() {
        let device = board
            .device(&grant.name)
            .ok_or_else(|| DtbError::NoSuchDevice {
                board: board.name,
                device: grant.name.to_string(),
            })?;
        let owner = format!("`{}`", device.name);
        // Its clocks, as fixed clocks of the rates the board states (a
        // clock without one is left out: the board check warns).
        let mut clocks = Vec::new();
        for clock in device.clocks {
            let Some(hz) = clock.hz else { continue };
            let node = w.begin(&format!("clock-{}-{}", device.name, clock.name))?;
            w.string("compatible", "fixed-clock")?;
            w.u32("#clock-cells", 0)?;
            w.u32("clock-frequency", hz)?;
            w.string(
                "clock-output-names",
                &format!("{}_{}", device.name, clock.name),
            )?;
            w.phandle(next_clock)?;
            w.end(node)?;
            clocks.push((next_clock, clock.name));
            next_clock += 1;
        }
        let node = w.begin(&device_node_name(device.name, grant.mmio.first(), index))?;
        w.strings("compatible", device.compatible)?;
        if !grant.mmio.is_empty() {
            w.reg(&grant.mmio)?;
        }
        let mut interrupts = Vec::new();
        for (n, &intid) in grant.irqs.iter().enumerate() {
            let trigger = device
                .triggers
                .get(n)
                .copied()
                .unwrap_or(Trigger::Unspecified);
            interrupts.extend(interrupt(intid, trigger, &owner)?);
        }
        if !interrupts.is_empty() {
            w.u32s("interrupts", &interrupts)?;
        }
        if !clocks.is_empty() {
            let phandles: Vec<u32> = clocks.iter().map(|c| c.0).collect();
            let names: Vec<&str> = clocks.iter().map(|c| c.1).collect();
            w.u32s("clocks", &phandles)?;
            w.strings("clock-names", &names)?;
        }
        if device.dma_coherent {
            w.null("dma-coherent")?;
        }
        w.end(node)?;
    }

    if let Some(pci) = pci {
        virtual_pci_node(&mut w, &pci, functions)?;
    }

    w.end(root)?;
    w.0.finish().map_err(|reason| DtbError::Writer {
        what: "the tree".into(),
        reason,
    })
}

/// The cell's virtual PCI host bridge: ECAM of bus 0, the register BAR
/// window (32-bit, non-prefetchable) and the shared-memory BAR window
/// (64-bit, prefetchable) identity-mapped from PCI to CPU addresses, and
/// each function's INTA mapped to its doorbell SPI (rising edge: the
/// partitioner sets it pending once per event).
fn virtual_pci_node(
    w: &mut Writer,
    pci: &VirtualPci,
    functions: &[PciFunction],
) -> Result<(), DtbError> {
    let node = w.begin(&format!("pcie@{:x}", pci.ecam.base))?;
    w.string("compatible", "pci-host-ecam-generic")?;
    w.string("device_type", "pci")?;
    w.u32("#address-cells", 3)?;
    w.u32("#size-cells", 2)?;
    w.u32("#interrupt-cells", 1)?;
    w.u32s("bus-range", &[0, 0])?;
    w.reg(&[pci.ecam])?;
    let mut ranges = Vec::new();
    for (space, window) in [
        (PCI_SPACE_MEMORY32, pci.registers),
        (PCI_SPACE_MEMORY64_PREFETCHABLE, pci.memory),
    ] {
        let (high, low) = split(window.base);
        let (size_high, size_low) = split(window.size);
        // PCI address (3 cells), CPU address (2), size (2).
        ranges.extend([space, high, low, high, low, size_high, size_low]);
    }
    w.u32s("ranges", &ranges)?;
    w.u32("linux,pci-probe-only", 1)?;
    w.null("dma-coherent")?;
    w.u32s("interrupt-map-mask", &PCI_INTERRUPT_MAP_MASK)?;
    let mut map = Vec::new();
    for function in functions {
        let spi = interrupt(function.intid, Trigger::EdgeRising, "a channel's doorbell")?;
        // Child unit address (device number in phys.hi) and pin, then the
        // GIC (no address cells) and its specifier.
        map.extend([
            u32::from(function.device) << 11,
            0,
            0,
            PCI_INTA,
            GIC_PHANDLE,
        ]);
        map.extend(spi);
    }
    w.u32s("interrupt-map", &map)?;
    w.end(node)
}

/// The high and low 32 bits of `value`.
fn split(value: u64) -> (u32, u32) {
    ((value >> 32) as u32, value as u32)
}

/// The GICv3 redistributor frames of the physical CPUs in `cpus`, in
/// virtual-CPU order, merged into one region per run of adjacent frames.
/// The frame of physical CPU `i` is `redistributors.base + i * stride`,
/// `stride` bytes long.
pub fn redistributor_regions(board: &Board, cpus: CpuSet) -> Vec<MemRange> {
    let gic = &board.gic;
    let stride = gic.redistributor_stride;
    let mut regions: Vec<MemRange> = Vec::new();
    for cpu in cpus.iter() {
        let base = gic
            .redistributors
            .base
            .saturating_add(stride.saturating_mul(cpu as u64));
        match regions.last_mut() {
            Some(last) if last.end() == base => last.size += stride,
            _ => regions.push(MemRange::new(base, stride)),
        }
    }
    regions
}

/// The node name of a device: its config name without trailing digits
/// (`virtio-mmio31` → `virtio-mmio`), characters a node name may not hold
/// replaced by `-`, then `@` and its first MMIO window's base. A device
/// without MMIO gets its index instead (`name-3`), to stay unique.
fn device_node_name(name: &str, first_mmio: Option<&MemRange>, index: usize) -> String {
    let stem: String = name
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ",._+-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(31)
        .collect();
    let stem = if stem.is_empty() { "device" } else { &stem };
    match first_mmio {
        Some(window) => format!("{stem}@{:x}", window.base),
        None => format!("{stem}-{index}"),
    }
}

fn is_ppi(intid: Intid) -> bool {
    (FIRST_PPI..FIRST_SPI).contains(&intid)
}

/// A PPI's specifier: `<1 (intid - 16) 4>`.
fn ppi(intid: Intid, owner: &str) -> Result<[u32; 3], DtbError> {
    if !is_ppi(intid) {
        return Err(DtbError::NotPpiOrSpi {
            owner: owner.into(),
            intid,
        });
    }
    Ok([GIC_PPI, intid - FIRST_PPI, IRQ_TYPE_LEVEL_HIGH])
}

/// A GIC interrupt specifier: `<0 (intid - 32) flags>` for an SPI,
/// `<1 (intid - 16) flags>` for a PPI. The flags follow the board's trigger;
/// the GICv3 binding knows only rising edge and active-high level, so the
/// others (and "unspecified") become level-high.
fn interrupt(intid: Intid, trigger: Trigger, owner: &str) -> Result<[u32; 3], DtbError> {
    let flags = match trigger {
        Trigger::EdgeRising => IRQ_TYPE_EDGE_RISING,
        _ => IRQ_TYPE_LEVEL_HIGH,
    };
    if is_ppi(intid) {
        Ok([GIC_PPI, intid - FIRST_PPI, flags])
    } else if (FIRST_SPI..1020).contains(&intid) {
        Ok([GIC_SPI, intid - FIRST_SPI, flags])
    } else {
        Err(DtbError::NotPpiOrSpi {
            owner: owner.into(),
            intid,
        })
    }
}

/// `FdtWriter` with errors that say which node or property failed, and
/// `reg` for two address and two size cells.
struct Writer(FdtWriter);

impl Writer {
    fn wrap<T>(what: &str, result: Result<T, vm_fdt::Error>) -> Result<T, DtbError> {
        result.map_err(|reason| DtbError::Writer {
            what: what.into(),
            reason,
        })
    }

    fn begin(&mut self, name: &str) -> Result<vm_fdt::FdtWriterNode, DtbError> {
        let shown = if name.is_empty() { "/" } else { name };
        Self::wrap(&format!("node {shown}"), self.0.begin_node(name))
    }

    fn end(&mut self, node: vm_fdt::FdtWriterNode) -> Result<(), DtbError> {
        Self::wrap("end of node", self.0.end_node(node))
    }

    fn u32(&mut self, name: &str, value: u32) -> Result<(), DtbError> {
        Self::wrap(name, self.0.property_u32(name, value))
    }

    fn u64(&mut self, name: &str, value: u64) -> Result<(), DtbError> {
        Self::wrap(name, self.0.property_u64(name, value))
    }

    fn u32s(&mut self, name: &str, values: &[u32]) -> Result<(), DtbError> {
        Self::wrap(name, self.0.property_array_u32(name, values))
    }

    fn null(&mut self, name: &str) -> Result<(), DtbError> {
        Self::wrap(name, self.0.property_null(name))
    }

    fn string(&mut self, name: &str, value: &str) -> Result<(), DtbError> {
        Self::wrap(name, self.0.property_string(name, value))
    }

    fn strings(&mut self, name: &str, values: &[&str]) -> Result<(), DtbError> {
        let values = values.iter().map(|s| s.to_string()).collect();
        Self::wrap(name, self.0.property_string_list(name, values))
    }

    fn phandle(&mut self, value: u32) -> Result<(), DtbError> {
        Self::wrap("phandle", self.0.property_phandle(value))
    }

    /// `reg` as (base, size) pairs of two cells each.
    fn reg(&mut self, ranges: &[MemRange]) -> Result<(), DtbError> {
        let cells: Vec<u64> = ranges.iter().flat_map(|r| [r.base, r.size]).collect();
        Self::wrap("reg", self.0.property_array_u64("reg", &cells))
    }
}
