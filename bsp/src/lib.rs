//! Board support for Bulkhead: each board is one `const` [`Board`] value, plus
//! the few drivers the partitioner needs to run on it.
//!
//! The same description is read by the host tool (to validate a config before
//! anything boots) and compiled into the partitioner (to drive the board). A
//! board is data, never code: each board is a YAML file in `bsp/boards/`,
//! written by `bulkhead platform from-dtb` from the board's device tree plus
//! a hand-made section for what a device tree cannot say. `build.rs` turns
//! every file into a module with one `const BOARD` (`bsp::qemu_virt::BOARD`);
//! adding a board means adding a file, not touching the partitioner.
#![cfg_attr(not(test), no_std)]

pub mod drivers;

include!(concat!(env!("OUT_DIR"), "/boards.rs"));

/// A physical address range `[base, base + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRange {
    /// First byte of the range.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl MemRange {
    /// Builds a range from its base and size.
    pub const fn new(base: u64, size: u64) -> Self {
        Self { base, size }
    }

    /// One past the last byte (saturating, so a range at the top of the
    /// address space does not wrap).
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    /// Whether `address` lies inside the range.
    pub const fn contains(&self, address: u64) -> bool {
        address >= self.base && address < self.end()
    }

    /// Whether the whole of `other` lies inside this range.
    pub const fn covers(&self, other: &MemRange) -> bool {
        other.base >= self.base && other.end() <= self.end()
    }

    /// Whether the two ranges share at least one byte.
    pub const fn overlaps(&self, other: &MemRange) -> bool {
        self.size != 0 && other.size != 0 && self.base < other.end() && other.base < self.end()
    }
}

/// A GIC interrupt ID (INTID): SGIs are 0..16, PPIs 16..32, SPIs 32..1020.
pub type Intid = u32;

/// A run of consecutive INTIDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntidRange {
    /// First INTID of the run.
    pub first: Intid,
    /// Number of INTIDs.
    pub count: u32,
}

impl IntidRange {
    /// Whether `intid` is in the run.
    pub const fn contains(&self, intid: Intid) -> bool {
        intid >= self.first && intid - self.first < self.count
    }
}

/// The SPIs wired to nothing that the partitioner raises for emulated
/// devices: runs of INTIDs, in ascending order, taken as one numbered
/// sequence ([`nth`](Self::nth)). Most boards have one run above every
/// device's interrupt; a SoC whose GIC has few lines left may add runs
/// from the middle (ZynqMP's PL-to-PS lines, free unless the FPGA design
/// drives them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpareSpis(pub &'static [IntidRange]);

impl SpareSpis {
    /// The `n`th spare SPI, counting through the runs in order; `None`
    /// past the last.
    pub fn nth(&self, n: usize) -> Option<Intid> {
        let mut n = u32::try_from(n).ok()?;
        for run in self.0 {
            if n < run.count {
                return Some(run.first + n);
            }
            n -= run.count;
        }
        None
    }

    /// How many spare SPIs there are.
    pub fn count(&self) -> u32 {
        self.0.iter().map(|r| r.count).sum()
    }

    /// Whether `intid` is a spare SPI.
    pub fn contains(&self, intid: Intid) -> bool {
        self.0.iter().any(|r| r.contains(intid))
    }

    /// The runs, in order.
    pub const fn runs(&self) -> &'static [IntidRange] {
        self.0
    }
}

/// First SPI INTID; `SPI n` in a device tree is INTID `32 + n`.
pub const FIRST_SPI: Intid = 32;
/// First PPI INTID; `PPI n` in a device tree is INTID `16 + n`.
pub const FIRST_PPI: Intid = 16;

/// One CPU core of the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// The core's `MPIDR_EL1` affinity fields (Aff3..Aff0), as PSCI expects.
    pub mpidr: u64,
    /// Which L2 cluster the core belongs to (cores with equal numbers share
    /// a cache), when the board description knows it.
    pub cluster: Option<u8>,
    /// Device-tree `compatible` of the core (`arm,cortex-a72`).
    pub compatible: &'static str,
    /// Where the boot firmware's spin table waits for this core's entry
    /// address (`cpu-release-addr`), on a board whose cores start that way.
    pub release_address: Option<u64>,
}

/// How the board's firmware starts secondary cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuBoot {
    /// PSCI `CPU_ON` through SMC.
    PsciSmc,
    /// PSCI through HVC (firmware expects a hypervisor below: not usable
    /// by a partitioner at EL2).
    PsciHvc,
    /// Spin tables (`cpu-release-addr`, [`Cpu::release_address`]): no
    /// PSCI firmware; the partitioner then never issues an SMC.
    SpinTable,
    /// Mixed or unknown.
    Unknown,
}

/// Architecture version of the interrupt controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicVersion {
    /// GICv2 (GIC-400 and older): memory-mapped CPU interface, no
    /// redistributors.
    V2,
    /// GICv3 or later.
    V3,
}

/// How an interrupt line is signalled, as the device tree gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Rising edge.
    EdgeRising,
    /// Falling edge.
    EdgeFalling,
    /// Active-high level.
    LevelHigh,
    /// Active-low level.
    LevelLow,
    /// Not given.
    Unspecified,
}

impl Trigger {
    /// Decodes the low four bits of a GIC interrupt specifier's flags cell.
    pub const fn from_flags(flags: u32) -> Self {
        match flags & 0xf {
            1 => Trigger::EdgeRising,
            2 => Trigger::EdgeFalling,
            4 => Trigger::LevelHigh,
            8 => Trigger::LevelLow,
            _ => Trigger::Unspecified,
        }
    }

    /// The spelling used in board descriptions.
    pub const fn as_str(self) -> &'static str {
        match self {
            Trigger::EdgeRising => "edge-rising",
            Trigger::EdgeFalling => "edge-falling",
            Trigger::LevelHigh => "level-high",
            Trigger::LevelLow => "level-low",
            Trigger::Unspecified => "unspecified",
        }
    }
}

/// The UART the partitioner owns and multiplexes every console onto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uart {
    /// Name of the matching entry in [`Board::devices`].
    pub device: &'static str,
    /// MMIO window of the UART.
    pub mmio: MemRange,
    /// The UART's interrupt.
    pub irq: Intid,
    /// 8250-class UARTs: register `n` is at byte offset `n << reg_shift`
    /// (device tree `reg-shift`; 0 for other UARTs).
    pub reg_shift: u8,
    /// 8250-class UARTs: bytes per register access, 1 or 4 (device tree
    /// `reg-io-width`).
    pub reg_io_width: u8,
}

/// The register interface of a UART, as its device-tree `compatible` says;
/// each has a driver in [`drivers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UartKind {
    /// Arm PL011 (QEMU `virt`, Raspberry Pi 4's uart0).
    Pl011,
    /// NXP i.MX UART (i.MX 6/7/8M).
    Imx,
    /// 8250/16550 class (TI K3, Rockchip's DesignWare, the Raspberry Pi
    /// mini-UART), with [`Uart::reg_shift`] and [`Uart::reg_io_width`].
    Ns16550,
    /// Cadence UART (Xilinx Zynq, ZynqMP).
    Cadence,
}

impl UartKind {
    /// The driver for a UART with device-tree `compatible`, if there is
    /// one.
    pub fn from_compatible(compatible: &str) -> Option<UartKind> {
        match compatible {
            "arm,pl011" | "arm,sbsa-uart" => Some(UartKind::Pl011),
            "ns16550"
            | "ns16550a"
            | "ns8250"
            | "snps,dw-apb-uart"
            | "ti,am654-uart"
            | "brcm,bcm2835-aux-uart" => Some(UartKind::Ns16550),
            "cdns,uart-r1p12" | "cdns,uart-r1p8" | "xlnx,xuartps" | "xlnx,zynqmp-uart" => {
                Some(UartKind::Cadence)
            }
            c if c.starts_with("fsl,imx") && c.ends_with("-uart") => Some(UartKind::Imx),
            _ => None,
        }
    }

    /// A short name, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            UartKind::Pl011 => "PL011",
            UartKind::Imx => "i.MX UART",
            UartKind::Ns16550 => "8250/16550",
            UartKind::Cadence => "Cadence UART",
        }
    }
}

/// How the partitioner regains control of a core that runs a cell. A board
/// file names the path its firmware is expected to allow; the partitioner
/// checks at boot what the GIC really reports (`GICD_CTLR.DS`) and takes
/// [`ControlPath::Group0Fiq`] when Group 0 is open to it,
/// [`ControlPath::RevokeStage2`] otherwise (docs/architecture.md, "the
/// control path").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlPath {
    /// The GIC is in single-security-state mode (`GICD_CTLR.DS = 1`), so
    /// Group 0 interrupts arrive at EL2 as FIQs (QEMU `virt`).
    Group0Fiq,
    /// Firmware keeps Group 0 for the secure world (`GICD_CTLR.DS = 0`) but
    /// implements SDEI, which could hand a core to an EL2 event handler.
    /// Not used: the partitioner takes [`ControlPath::RevokeStage2`], which
    /// needs nothing from firmware.
    Sdei,
    /// Firmware keeps Group 0 for the secure world and offers nothing else:
    /// the partitioner empties the cell's stage 2, broadcasts a TLB
    /// invalidate for its VMID and kicks its cores with a Group 1 SGI, so
    /// that each faults into EL2 at its next instruction fetch.
    RevokeStage2,
}

impl ControlPath {
    /// The name used in board descriptions (`control_path:`).
    pub const fn name(self) -> &'static str {
        match self {
            ControlPath::Group0Fiq => "group0-fiq",
            ControlPath::Sdei => "sdei",
            ControlPath::RevokeStage2 => "revoke-stage2",
        }
    }
}

/// The GIC of the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gic {
    /// GICv2 or GICv3.
    pub version: GicVersion,
    /// Device-tree `compatible` (`arm,gic-v3`, `arm,gic-400`).
    pub compatible: &'static str,
    /// Distributor (GICD) window.
    pub distributor: MemRange,
    /// All redistributor (GICR) frames, one `redistributor_stride` apart,
    /// in the order of [`Board::cpus`].
    pub redistributors: MemRange,
    /// Every redistributor region (`#redistributor-regions`); the first
    /// is [`Gic::redistributors`]. Empty on GICv2.
    pub redistributor_regions: &'static [MemRange],
    /// Distance between two cores' redistributors (0x20000 on GICv3; 0 on
    /// GICv2).
    pub redistributor_stride: u64,
    /// GICv2 CPU interface (GICC), or a GICv3's legacy one.
    pub cpu_interface: Option<MemRange>,
    /// GICv2 virtual interface control (GICH).
    pub hypervisor_interface: Option<MemRange>,
    /// GICv2 virtual CPU interface (GICV).
    pub virtual_cpu_interface: Option<MemRange>,
    /// The virtual-interface maintenance interrupt.
    pub maintenance_irq: Intid,
    /// How EL2 gets its own interrupts while a cell runs.
    pub control_path: ControlPath,
}

impl Gic {
    /// Where the second 4 KiB page of a GICv2 register frame (`GICC`,
    /// `GICV`: `GICC_DIR` and `GICV_DIR` are there) starts, in `window`.
    /// Some SoCs alias each 4 KiB page over 64 KiB (ZynqMP): their
    /// device tree then gives the frame 128 KiB, and the second page is
    /// 64 KiB in, as Linux's GIC driver reads it; elsewhere it follows the
    /// first.
    pub const fn gicv2_second_page(window: MemRange) -> u64 {
        if window.size == 0x2_0000 {
            window.base + 0x1_0000
        } else {
            window.base + 0x1000
        }
    }

    /// The GIC's register windows the partitioner uses, which it maps at
    /// EL2 and a cell must not put memory over: the distributor, the
    /// redistributors (GICv3) and the CPU interface (GICv2). The
    /// hypervisor and virtual CPU interfaces of a GICv2 are not among
    /// them: nothing maps them.
    pub fn windows(&self) -> impl Iterator<Item = MemRange> {
        [
            Some(self.distributor),
            Some(self.redistributors).filter(|r| r.size > 0),
            self.cpu_interface,
        ]
        .into_iter()
        .flatten()
    }
}

/// The architected generic timer's interrupts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    /// EL2 physical timer (used by the partitioner).
    pub hypervisor: Intid,
    /// EL1 virtual timer (owned by the cell on each of its cores).
    pub virtual_timer: Intid,
    /// EL1 physical timer.
    pub physical_timer: Intid,
    /// Secure EL1 physical timer (owned by the secure world).
    pub secure_physical_timer: Intid,
}

/// A device a cell can be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    /// Unique name, used in configs (`devices: [virtio-mmio31]`).
    pub name: &'static str,
    /// The device-tree node it was read from.
    pub node: &'static str,
    /// Device-tree `compatible` strings, most specific first.
    pub compatible: &'static [&'static str],
    /// MMIO windows.
    pub mmio: &'static [MemRange],
    /// Interrupts (INTIDs).
    pub irqs: &'static [Intid],
    /// Trigger of each entry of `irqs`.
    pub triggers: &'static [Trigger],
    /// Its input clocks (`clock-names`), in device-tree order.
    pub clocks: &'static [Clock],
    /// Whether the device masters DMA (then its cell's RAM must be
    /// identity-mapped unless an IOMMU translates for it).
    pub dma: bool,
    /// Whether its DMA is cache-coherent (`dma-coherent` in the board's
    /// device tree).
    pub dma_coherent: bool,
    /// The IOMMU its DMA goes through (an [`Iommu`]'s name), if the device
    /// tree names one (`iommus`, `iommu-map`).
    pub iommu: Option<&'static str>,
    /// Its stream IDs at that IOMMU.
    pub streams: &'static [u32],
    /// A PCI host bridge's requester IDs to stream IDs.
    pub stream_map: &'static [StreamMap],
}

/// Requester IDs `rid_base..rid_base + length` behind a PCI host bridge
/// are stream IDs `sid_base..` at its IOMMU (`iommu-map`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamMap {
    /// First PCI requester ID (bus << 8 | device << 3 | function).
    pub rid_base: u32,
    /// Its stream ID.
    pub sid_base: u32,
    /// How many.
    pub length: u32,
}

/// What kind of IOMMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IommuKind {
    /// An Arm SMMUv3.
    SmmuV3,
    /// An Arm SMMUv1/v2 (MMU-500 and kin).
    SmmuV2,
    /// Another vendor's.
    Other,
}

impl IommuKind {
    /// The kind a device-tree node's `compatible` strings name.
    pub fn from_compatible<'a>(compatible: impl IntoIterator<Item = &'a str> + Clone) -> Self {
        let is = |names: &[&str]| compatible.clone().into_iter().any(|c| names.contains(&c));
        if is(&["arm,smmu-v3"]) {
            IommuKind::SmmuV3
        } else if is(&[
            "arm,mmu-500",
            "arm,smmu-v2",
            "arm,smmu-v1",
            "arm,mmu-400",
            "arm,mmu-401",
        ]) {
            IommuKind::SmmuV2
        } else {
            IommuKind::Other
        }
    }

    /// Its name in board files (`kind: smmu-v3`).
    pub fn as_str(self) -> &'static str {
        match self {
            IommuKind::SmmuV3 => "smmu-v3",
            IommuKind::SmmuV2 => "smmu-v2",
            IommuKind::Other => "other",
        }
    }
}

/// An IOMMU of the board. The partitioner owns it: it is never one of a
/// cell's devices, and its registers are never mapped into a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iommu {
    /// Its name (`smmu`).
    pub name: &'static str,
    /// The device-tree node it was read from.
    pub node: &'static str,
    /// Which kind.
    pub kind: IommuKind,
    /// Its registers.
    pub mmio: &'static [MemRange],
    /// Its interrupts (INTIDs), in device-tree order.
    pub irqs: &'static [Intid],
}

/// An input clock of a [`Device`]. The board's clock controller belongs to
/// no cell: a cell's device tree gives the clock as a fixed clock of
/// `hz`, the rate the boot firmware leaves it at (from the board file's
/// `hand_made.clock_rates`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Its `clock-names` entry.
    pub name: &'static str,
    /// Its rate, when the board description states one.
    pub hz: Option<u32>,
}

/// The guest-physical windows of the virtual PCI host bridge
/// (`pci-host-ecam-generic`) that the partitioner emulates in every cell
/// that is a peer of a shared-memory channel. The windows are addresses
/// in each cell's own IPA space, not physical ones: nothing of the board
/// is behind them, so the board's own devices that sit there (QEMU
/// virt's real PCIe windows) cannot be given to such a cell.
///
/// Device number `n` on the bridge's bus 0 is channel `n` of the config.
/// Its register BAR (BAR 0) is the `n`-th 4 KiB page of
/// [`registers`](Self::registers), its shared-memory BAR (BAR 2) starts
/// at `memory.base + n * memory_slot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtualPci {
    /// The ECAM window of bus 0 (1 MiB): configuration space, trapped.
    pub ecam: MemRange,
    /// The 32-bit, non-prefetchable window of the register BARs: one
    /// trapped 4 KiB page per device number.
    pub registers: MemRange,
    /// The window of the shared-memory BARs (64-bit, prefetchable).
    pub memory: MemRange,
    /// Bytes of [`memory`](Self::memory) per device number: a power of
    /// two, the largest BAR 2 a channel may have.
    pub memory_slot: u64,
}

impl VirtualPci {
    /// Bytes of one register BAR.
    pub const REGISTERS_SIZE: u64 = 0x1000;

    /// How many device numbers the windows have room for (at most 32, the
    /// devices of one PCI bus).
    pub const fn devices(&self) -> usize {
        let by_registers = self.registers.size / Self::REGISTERS_SIZE;
        let by_memory = match self.memory.size.checked_div(self.memory_slot) {
            Some(n) => n,
            None => 0,
        };
        let n = if by_registers < by_memory {
            by_registers
        } else {
            by_memory
        };
        if n > 32 {
            32
        } else {
            n as usize
        }
    }

    /// Where device `device`'s register BAR is.
    pub const fn registers_base(&self, device: usize) -> u64 {
        self.registers
            .base
            .saturating_add((device as u64).saturating_mul(Self::REGISTERS_SIZE))
    }

    /// Where device `device`'s shared-memory BAR starts.
    pub const fn shared_memory_base(&self, device: usize) -> u64 {
        self.memory
            .base
            .saturating_add((device as u64).saturating_mul(self.memory_slot))
    }

    /// The three windows: ECAM, registers, shared memory.
    pub const fn windows(&self) -> [MemRange; 3] {
        [self.ecam, self.registers, self.memory]
    }

    /// Whether `range` overlaps any of the windows.
    pub const fn overlaps(&self, range: &MemRange) -> bool {
        self.ecam.overlaps(range) || self.registers.overlaps(range) || self.memory.overlaps(range)
    }
}

/// Everything Bulkhead needs to know about one board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// Name used in configs (`board: qemu-virt`).
    pub name: &'static str,
    /// The device tree's `model`.
    pub model: &'static str,
    /// The device tree's first root `compatible`.
    pub compatible: &'static str,
    /// How secondary cores are started.
    pub cpu_boot: CpuBoot,
    /// Cores, indexed by Bulkhead's CPU number.
    pub cpus: &'static [Cpu],
    /// All RAM.
    pub ram: &'static [MemRange],
    /// `/reserved-memory` regions inside RAM (firmware, co-processors).
    pub reserved_memory: &'static [MemRange],
    /// RAM kept by the partitioner: its own image, tables, stacks and the
    /// boot image's payloads. No cell may use it.
    pub hypervisor_ram: MemRange,
    /// The physical console, owned by the partitioner.
    pub console: Uart,
    /// Device-tree `compatible` strings of the console UART, most specific
    /// first.
    pub console_compatible: &'static [&'static str],
    /// The interrupt controller.
    pub gic: Gic,
    /// The generic timer's PPIs.
    pub timer: Timer,
    /// Devices that can be assigned to cells.
    pub devices: &'static [Device],
    /// IOMMUs (Arm SMMUs), the partitioner's.
    pub iommus: &'static [Iommu],
    /// SPIs wired to nothing, which the partitioner raises for emulated
    /// devices (virtual consoles, IPC doorbells).
    pub spare_spis: SpareSpis,
    /// Counter frequency to assume when firmware leaves `CNTFRQ_EL0` at 0.
    pub counter_hz: u64,
    /// Where cells see the virtual PCI host bridge of their channels;
    /// `None` on boards that cannot have channels.
    pub virtual_pci: Option<VirtualPci>,
    /// Remarks from the device tree reading (`notes` of the board file).
    pub notes: &'static [&'static str],
    /// The QEMU machine that models this SoC, for the emulated lab; `None`
    /// for QEMU `virt` (the reference machine, which the lab drives itself)
    /// and for boards QEMU does not model.
    pub qemu: Option<QemuModel>,
}

/// How QEMU models a real board (`hand_made.qemu` of its board file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QemuModel {
    /// The `-M` machine.
    pub machine: &'static str,
    /// Which of the machine's UARTs (0-based, in `-serial` order) is the
    /// board's console.
    pub console_serial: u8,
    /// Further arguments that make the model behave like the real board
    /// under its firmware (the GIC's security extensions, say).
    pub args: &'static [&'static str],
}

/// Why the partitioner cannot run on a board yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gap {
    /// The GIC is a GICv2 whose description has no CPU interface
    /// (`GICC`), which the partitioner and cells use.
    GicV2WithoutCpuInterface,
    /// Secondary cores start neither through PSCI over SMC nor through a
    /// spin table whose release address the description gives for every
    /// core.
    NoCpuStart,
    /// The console UART is of a kind the partitioner has no driver for.
    ConsoleWithoutDriver,
    /// The console UART does not start a 4 KiB page (LS1046A's uart0 at
    /// `0x21c0500`): the partitioner maps and emulates it in whole pages.
    ConsoleNotPageAligned,
}

impl Gap {
    /// What it means, for messages.
    pub const fn message(self) -> &'static str {
        match self {
            Gap::GicV2WithoutCpuInterface => {
                "its GIC is a GICv2 whose description has no CPU interface (GICC)"
            }
            Gap::NoCpuStart => {
                "its cores start neither through PSCI over SMC nor through a spin table with a release address for each"
            }
            Gap::ConsoleWithoutDriver => {
                "its console UART has no driver (PL011, i.MX, 8250/16550 and Cadence UARTs have one)"
            }
            Gap::ConsoleNotPageAligned => {
                "its console UART does not start a 4 KiB page, and the partitioner maps and emulates the console in whole pages"
            }
        }
    }
}

impl Board {
    /// Looks a device up by name.
    pub fn device(&self, name: &str) -> Option<&'static Device> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// Index of the core with the given MPIDR affinity value.
    pub fn cpu_index(&self, mpidr: u64) -> Option<usize> {
        let affinity = mpidr & MPIDR_AFFINITY_MASK;
        self.cpus.iter().position(|c| c.mpidr == affinity)
    }

    /// The driver the board's console needs, if there is one.
    pub fn console_kind(&self) -> Option<UartKind> {
        self.console_compatible
            .iter()
            .find_map(|c| UartKind::from_compatible(c))
    }

    /// Whether `range` lies entirely in the board's RAM.
    pub fn is_ram(&self, range: &MemRange) -> bool {
        self.ram.iter().any(|r| r.covers(range))
    }

    /// Whether the partitioner can start the secondary cores: through PSCI
    /// over SMC, or through a spin table with a release address for every
    /// core.
    pub fn cores_can_start(&self) -> bool {
        match self.cpu_boot {
            CpuBoot::PsciSmc => true,
            CpuBoot::SpinTable => self.cpus.iter().all(|c| c.release_address.is_some()),
            CpuBoot::PsciHvc | CpuBoot::Unknown => false,
        }
    }

    /// What keeps the partitioner from running on this board today; empty
    /// for a supported board. The host tool warns about each and refuses to
    /// build a boot image; the partitioner refuses to start.
    pub fn gaps(&self) -> impl Iterator<Item = Gap> {
        [
            (self.gic.version == GicVersion::V2 && self.gic.cpu_interface.is_none())
                .then_some(Gap::GicV2WithoutCpuInterface),
            (!self.cores_can_start()).then_some(Gap::NoCpuStart),
            self.console_kind()
                .is_none()
                .then_some(Gap::ConsoleWithoutDriver),
            (!self.console.mmio.base.is_multiple_of(0x1000)).then_some(Gap::ConsoleNotPageAligned),
        ]
        .into_iter()
        .flatten()
    }
}

/// The affinity fields of `MPIDR_EL1` (Aff3 at 32..40, Aff2..Aff0 at 0..24).
pub const MPIDR_AFFINITY_MASK: u64 = 0xff_00ff_ffff;

/// Looks a board up by its config name.
pub fn board(name: &str) -> Option<&'static Board> {
    BOARDS.iter().copied().find(|b| b.name == name)
}

/// The environment variable that names the board a build is for: the
/// partitioner's and the test cells' build scripts read it (everything
/// board-specific is compiled in), `cargo xtask build` sets it from the
/// config's `board:`.
pub const BOARD_ENV: &str = "BULKHEAD_BOARD";

/// Why a build cannot be for the board [`BOARD_ENV`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildBoardError<'a> {
    /// [`BOARD_ENV`] is not set.
    Unset,
    /// No board has that name.
    Unknown(&'a str),
}

impl core::fmt::Display for BuildBoardError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BuildBoardError::Unset => {
                write!(f, "this is built for one board: set {BOARD_ENV} to one of ")?
            }
            BuildBoardError::Unknown(name) => {
                write!(f, "{BOARD_ENV}={name}: no such board; the boards are ")?
            }
        }
        for (i, b) in BOARDS.iter().enumerate() {
            write!(f, "{}{}", if i == 0 { "" } else { ", " }, b.name)?;
        }
        f.write_str(" (`cargo xtask build` sets it from the config's `board:`)")
    }
}

/// The board a build is for, from the value of [`BOARD_ENV`] (for build
/// scripts).
pub fn build_board(value: Option<&str>) -> Result<&'static Board, BuildBoardError<'_>> {
    let name = value.ok_or(BuildBoardError::Unset)?;
    board(name).ok_or(BuildBoardError::Unknown(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let a = MemRange::new(0x1000, 0x1000);
        assert!(a.contains(0x1000) && a.contains(0x1fff) && !a.contains(0x2000));
        assert!(a.overlaps(&MemRange::new(0x1fff, 1)));
        assert!(!a.overlaps(&MemRange::new(0x2000, 1)));
        assert!(!a.overlaps(&MemRange::new(0x1000, 0)));
        assert!(MemRange::new(u64::MAX - 1, 10).end() == u64::MAX);
    }

    #[test]
    fn builds_name_their_board() {
        assert_eq!(build_board(Some("qemu-virt")), Ok(&qemu_virt::BOARD));
        let unknown = build_board(Some("nope")).unwrap_err();
        assert!(unknown.to_string().starts_with(
            "BULKHEAD_BOARD=nope: no such board; the boards are imx8mp-evk, qemu-virt-gicv2, qemu-virt-smmu, qemu-virt,"
        ));
        assert!(build_board(None)
            .unwrap_err()
            .to_string()
            .starts_with("this is built for one board: set BULKHEAD_BOARD to one of "));
    }

    #[test]
    fn lookup() {
        let b = board("qemu-virt").unwrap();
        assert_eq!(b.cpu_index(0x8000_0002), Some(2));
        assert!(b.device("virtio-mmio31").is_some());
        assert!(board("nope").is_none());
    }

    #[test]
    fn qemu_virt_matches_the_reference_layout() {
        let b = &qemu_virt::BOARD;
        assert_eq!(b.cpus.len(), 4);
        assert!(b.cpus.iter().all(|c| c.cluster == Some(0)));
        assert_eq!(b.ram, &[MemRange::new(0x4000_0000, 0x8000_0000)]);
        assert_eq!(b.console.device, "uart0");
        assert_eq!(b.console.mmio, MemRange::new(0x0900_0000, 0x1000));
        assert_eq!(b.console.irq, FIRST_SPI + 1);
        assert_eq!(b.console_kind(), Some(UartKind::Pl011));
        assert_eq!(b.gic.distributor, MemRange::new(0x0800_0000, 0x1_0000));
        assert_eq!(b.gic.redistributors, MemRange::new(0x080a_0000, 0xf6_0000));
        assert_eq!(b.gic.redistributor_stride, 0x2_0000);
        assert_eq!(b.gic.maintenance_irq, FIRST_PPI + 9);
        assert_eq!(b.timer.hypervisor, FIRST_PPI + 10);
        assert_eq!(b.timer.virtual_timer, FIRST_PPI + 11);
        assert_eq!(b.timer.physical_timer, FIRST_PPI + 14);
        for name in ["rtc", "gpio", "fw-cfg"] {
            assert!(b.device(name).is_some(), "{name}");
        }
        assert_eq!(b.gaps().count(), 0);
    }

    #[test]
    fn console_drivers_by_compatible() {
        assert_eq!(
            UartKind::from_compatible("fsl,imx8mp-uart"),
            Some(UartKind::Imx)
        );
        assert_eq!(
            UartKind::from_compatible("snps,dw-apb-uart"),
            Some(UartKind::Ns16550)
        );
        assert_eq!(
            UartKind::from_compatible("cdns,uart-r1p12"),
            Some(UartKind::Cadence)
        );
        assert_eq!(UartKind::from_compatible("fsl,imx8mp-gpio"), None);
        assert_eq!(imx8mp_evk::BOARD.console_kind(), Some(UartKind::Imx));
        assert_eq!(imx8mp_evk::BOARD.gaps().count(), 0);
        assert_eq!(zcu102::BOARD.console_kind(), Some(UartKind::Cadence));
        let mut duart = imx8mp_evk::BOARD;
        duart.console.mmio = MemRange::new(0x021c_0500, 0x100);
        assert_eq!(
            duart.gaps().collect::<std::vec::Vec<_>>(),
            [Gap::ConsoleNotPageAligned]
        );
    }

    #[test]
    fn virtio_slots_follow_qemu_layout() {
        let b = &qemu_virt::BOARD;
        for slot in 0..32u64 {
            let d = b.device(&std::format!("virtio-mmio{slot}")).unwrap();
            assert_eq!(d.mmio, &[MemRange::new(0x0a00_0000 + slot * 0x200, 0x200)]);
            assert_eq!(d.irqs, &[FIRST_SPI + 16 + slot as u32]);
            assert!(d.dma);
        }
    }

    #[test]
    fn qemu_virt_has_a_virtual_pci_bridge_in_its_pcie_windows() {
        let pci = qemu_virt::BOARD.virtual_pci.unwrap();
        assert_eq!(pci.ecam, MemRange::new(0x3f00_0000, 0x10_0000));
        assert_eq!(pci.registers_base(0), 0x1000_0000);
        assert_eq!(pci.registers_base(3), 0x1000_3000);
        assert_eq!(pci.shared_memory_base(0), 0x2000_0000);
        assert_eq!(pci.shared_memory_base(2), 0x2200_0000);
        assert_eq!(pci.devices(), 8);
        assert!(pci.memory_slot.is_power_of_two());
        // The windows lie in the real bridge's 32-bit window and its
        // (unused) low ECAM: the `pcie` device overlaps them, RAM does not.
        let pcie = qemu_virt::BOARD.device("pcie").unwrap();
        assert!(pcie.mmio.iter().any(|w| pci.overlaps(w)));
        assert!(qemu_virt::BOARD.ram.iter().all(|r| !pci.overlaps(r)));
        for other in BOARDS.iter().filter(|b| {
            !matches!(
                b.name,
                "qemu-virt" | "qemu-virt-gicv2" | "qemu-virt-smmu" | "imx8mp-evk" | "zcu102"
            )
        }) {
            assert_eq!(other.virtual_pci, None, "{}", other.name);
        }
        // The i.MX 8M Plus's and the ZCU102's windows are where they have
        // no device and no RAM.
        for board in [imx8mp_evk::BOARD, zcu102::BOARD] {
            let windows = board.virtual_pci.unwrap();
            assert!(board
                .devices
                .iter()
                .all(|d| d.mmio.iter().all(|w| !windows.overlaps(w))));
            assert!(board.ram.iter().all(|r| !windows.overlaps(r)));
        }
    }

    #[test]
    fn spare_spis_count_through_their_runs() {
        let spare = SpareSpis(&[
            IntidRange {
                first: 121,
                count: 2,
            },
            IntidRange {
                first: 188,
                count: 1,
            },
        ]);
        assert_eq!(spare.count(), 3);
        assert_eq!(spare.nth(0), Some(121));
        assert_eq!(spare.nth(1), Some(122));
        assert_eq!(spare.nth(2), Some(188));
        assert_eq!(spare.nth(3), None);
        assert_eq!(spare.nth(usize::MAX), None);
        assert!(spare.contains(188) && !spare.contains(123));
    }

    #[test]
    fn every_board_is_consistent() {
        for b in BOARDS {
            for (i, a) in b.devices.iter().enumerate() {
                assert!(
                    b.devices[i + 1..].iter().all(|d| d.name != a.name),
                    "{}: {} twice",
                    b.name,
                    a.name
                );
                assert_eq!(a.irqs.len(), a.triggers.len(), "{}: {}", b.name, a.name);
                for irq in a.irqs {
                    assert!(!b.spare_spis.contains(*irq), "{}: {}", b.name, a.name);
                }
            }
            let console = b.device(b.console.device).unwrap();
            assert_eq!(console.mmio[0], b.console.mmio, "{}", b.name);
            assert!(b.is_ram(&b.hypervisor_ram), "{}", b.name);
            assert!(b.hypervisor_ram.contains(0x4008_0000), "{}", b.name);
            assert!(!b.cpus.is_empty() && b.counter_hz > 0, "{}", b.name);
            assert!(b.spare_spis.runs().iter().all(|r| r.first >= FIRST_SPI));
            assert!(b.spare_spis.count() > 0, "{}", b.name);
            assert_eq!(board(b.name), Some(*b));
        }
    }
}
