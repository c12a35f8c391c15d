//! The GIC as hardware: the distributor and redistributor register map of
//! the GICv3 (GICv3 architecture specification, IHI 0069, chapter 12) and
//! what the GICv2 (IHI 0048) has instead (`GICD_ITARGETSR`, `GICD_SGIR`,
//! the memory-mapped CPU interface [`gicc`]), defined once for the
//! partitioner's own driver (`driver.rs`, which runs on the board) and for
//! the virtual GIC's decoder (`crate::devices::vgic`, which names what a
//! cell's trapped access touches). The GICv3 CPU interface is system
//! registers, in `crate::arch`.
//!
//! Offsets are `u64`, as a trapped access's offset is; the typed register
//! blocks (`Distributor`, `RedistributorControl`, `RedistributorSgi`,
//! `CpuInterface`) are laid out from the same constants.

use bsp::Intid;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

#[cfg(target_os = "none")]
pub(crate) mod driver;

/// The SGI the partitioner uses to kick a core into EL2. Cells never own
/// it (`crate::devices::vgic::Ownership`).
pub const KICK_SGI: Intid = 15;
/// INTIDs the distributor implements at most (1020 and up are special).
pub const MAX_INTID: Intid = 1020;

/// A core's affinity as `GICD_IROUTER<n>` holds it: MPIDR's Aff0-2 (bits
/// 0-23) and Aff3 (bits 32-39) in the same places, the routing-mode bit
/// (31) and MPIDR's other bits clear. The same mask reads a core's MPIDR
/// back out of an IROUTER value.
pub const fn irouter_affinity(mpidr: u64) -> u64 {
    mpidr & 0xff_00ff_ffff
}

/// A core's affinity as `GICR_TYPER.Affinity` (bits 32-63 of the register)
/// holds it: Aff3.Aff2.Aff1.Aff0, packed into 32 bits.
pub const fn redistributor_affinity(mpidr: u64) -> u64 {
    (mpidr & 0xff_ffff) | ((mpidr >> 32) & 0xff) << 24
}

/// Distributor register offsets (`GICD_*`). Ranges are half-open: a
/// register array runs from its constant to the next one named `*_END`.
pub mod gicd {
    /// `GICD_CTLR`.
    pub const CTLR: u64 = 0x0000;
    /// `GICD_TYPER`.
    pub const TYPER: u64 = 0x0004;
    /// `GICD_IIDR`.
    pub const IIDR: u64 = 0x0008;
    /// `GICD_TYPER2`.
    pub const TYPER2: u64 = 0x000c;
    /// `GICD_IGROUPR<n>`: one bit per interrupt.
    pub const IGROUPR: u64 = 0x0080;
    /// `GICD_ISENABLER<n>`.
    pub const ISENABLER: u64 = 0x0100;
    /// `GICD_ICENABLER<n>`.
    pub const ICENABLER: u64 = 0x0180;
    /// `GICD_ISPENDR<n>`.
    pub const ISPENDR: u64 = 0x0200;
    /// `GICD_ICPENDR<n>`.
    pub const ICPENDR: u64 = 0x0280;
    /// `GICD_ISACTIVER<n>`.
    pub const ISACTIVER: u64 = 0x0300;
    /// `GICD_ICACTIVER<n>`.
    pub const ICACTIVER: u64 = 0x0380;
    /// End of the one-bit-per-interrupt arrays above.
    pub const BITS_END: u64 = 0x0400;
    /// `GICD_IPRIORITYR<n>`: one byte per interrupt.
    pub const IPRIORITYR: u64 = 0x0400;
    /// End of `GICD_IPRIORITYR` (INTIDs up to 1019).
    pub const IPRIORITYR_END: u64 = 0x07fc;
    /// `GICD_ITARGETSR<n>`: one byte per interrupt, a mask of CPU
    /// interface numbers (GICv2; unused with GICv3's affinity routing).
    pub const ITARGETSR: u64 = 0x0800;
    /// `GICD_ICFGR<n>`: two bits per interrupt.
    pub const ICFGR: u64 = 0x0c00;
    /// `GICD_IGRPMODR<n>`: one bit per interrupt.
    pub const IGRPMODR: u64 = 0x0d00;
    /// End of `GICD_IGRPMODR`.
    pub const IGRPMODR_END: u64 = 0x0d80;
    /// `GICD_IROUTER<n>`: 64 bits per SPI, `IROUTER + 8 * intid`.
    pub const IROUTER: u64 = 0x6000;
    /// End of `GICD_IROUTER` (INTIDs up to 1019).
    pub const IROUTER_END: u64 = 0x7fe0;
    /// The identification registers (`GICD_PIDR*`, `GICD_CIDR*`).
    pub const ID_REGISTERS: u64 = 0xffd0;
    /// Bytes of the distributor's frame.
    pub const SIZE: u64 = 0x1_0000;

    /// GICv2: `GICD_SGIR`, the SGI a write sends.
    pub const V2_SGIR: u64 = 0x0f00;
    /// GICv2: `GICD_CPENDSGIR<n>`, an SGI's pending state per source CPU.
    pub const V2_CPENDSGIR: u64 = 0x0f10;
    /// GICv2: `GICD_SPENDSGIR<n>`.
    pub const V2_SPENDSGIR: u64 = 0x0f20;
    /// GICv2: the identification registers (`GICD_PIDR*`, `GICD_CIDR*`).
    pub const V2_ID_REGISTERS: u64 = 0x0fd0;
    /// GICv2: `GICD_PIDR2`, whose bits 7:4 are the architecture revision.
    pub const V2_PIDR2: u64 = 0x0fe8;
    /// GICv2: bytes of the distributor's frame.
    pub const V2_SIZE: u64 = 0x1000;
}

/// Redistributor register offsets (`GICR_*`), from `RD_base`. The SGI
/// frame's interrupt registers sit at the distributor's offsets
/// ([`gicd`]) from [`SGI_FRAME`](gicr::SGI_FRAME), for INTIDs 0–31.
pub mod gicr {
    /// `GICR_CTLR`.
    pub const CTLR: u64 = 0x0000;
    /// `GICR_IIDR`.
    pub const IIDR: u64 = 0x0004;
    /// `GICR_TYPER` (64 bits).
    pub const TYPER: u64 = 0x0008;
    /// `GICR_STATUSR`.
    pub const STATUSR: u64 = 0x0010;
    /// `GICR_WAKER`.
    pub const WAKER: u64 = 0x0014;
    /// End of the control registers the partitioner uses.
    pub const CONTROL_END: u64 = 0x0018;
    /// The identification registers (`GICR_PIDR*`, `GICR_CIDR*`).
    pub const ID_REGISTERS: u64 = 0xffd0;
    /// `SGI_base`: the second 64 KiB frame.
    pub const SGI_FRAME: u64 = 0x1_0000;
    /// Bytes of one frame.
    pub const FRAME_SIZE: u64 = 0x1_0000;
}

/// GICv2 CPU interface register offsets (`GICC_*`), memory-mapped, one
/// banked copy per core at the same address. The first 4 KiB page holds
/// everything a kernel uses to take interrupts; `GICC_DIR` is alone in
/// the second.
pub mod gicc {
    /// `GICC_CTLR`.
    pub const CTLR: u64 = 0x0000;
    /// `GICC_PMR`: the priority mask.
    pub const PMR: u64 = 0x0004;
    /// `GICC_BPR`: the binary point.
    pub const BPR: u64 = 0x0008;
    /// `GICC_IAR`: acknowledge (the INTID, and an SGI's source CPU).
    pub const IAR: u64 = 0x000c;
    /// `GICC_EOIR`: end of interrupt.
    pub const EOIR: u64 = 0x0010;
    /// `GICC_RPR`: the running priority.
    pub const RPR: u64 = 0x0014;
    /// `GICC_APR0`: active priorities.
    pub const APR0: u64 = 0x00d0;
    /// `GICC_IIDR`.
    pub const IIDR: u64 = 0x00fc;
    /// The first page ends here: what a cell's stage 2 maps.
    pub const PAGE: u64 = 0x1000;
    /// `GICC_DIR`: deactivate, in the second page.
    pub const DIR: u64 = 0x1000;
    /// Bytes of the interface (two pages).
    pub const SIZE: u64 = 0x2000;
}

/// GICv2 virtual interface control register offsets (`GICH_*`, GIC
/// architecture specification, table 5-1).
pub mod gich {
    /// `GICH_HCR`: enable (bit 0), underflow maintenance interrupt (bit 1).
    pub const HCR: u64 = 0x000;
    /// `GICH_VTR`: the number of list registers, less one (bits 5:0).
    pub const VTR: u64 = 0x004;
    /// `GICH_VMCR`: the virtual CPU interface's control, as a guest sees it.
    pub const VMCR: u64 = 0x008;
    /// `GICH_ELRSR0`: empty list registers 0-31.
    pub const ELRSR0: u64 = 0x030;
    /// `GICH_APR`: the virtual active priorities.
    pub const APR: u64 = 0x0f0;
    /// `GICH_LR0`, then one word per list register.
    pub const LR0: u64 = 0x100;
    /// Bytes of the block.
    pub const SIZE: u64 = 0x200;
}

register_structs! {
    /// A GICv2's virtual interface control (`GICH`): this core's banked
    /// copy.
    pub(crate) HypervisorInterface {
        (gich::HCR as usize => pub(crate) hcr: ReadWrite<u32>),
        (gich::VTR as usize => pub(crate) vtr: ReadOnly<u32>),
        (gich::VMCR as usize => pub(crate) vmcr: ReadWrite<u32>),
        (gich::VMCR as usize + 4 => _reserved0),
        (gich::ELRSR0 as usize => pub(crate) elrsr: [ReadOnly<u32>; 2]),
        (gich::ELRSR0 as usize + 8 => _reserved1),
        (gich::APR as usize => pub(crate) apr: ReadWrite<u32>),
        (gich::APR as usize + 4 => _reserved2),
        (gich::LR0 as usize => pub(crate) lr: [ReadWrite<u32>; 64]),
        (gich::SIZE as usize => @END),
    }
}

register_bitfields! [u32,
    /// GICv2 `GICC_CTLR` as the Non-secure side uses it: the layout
    /// without the security extensions, where the Non-secure view puts
    /// its one group's enable and EOI mode in the same bits 0 and 9.
    pub(crate) GICC_CTLR [
        /// EOI mode of the group in bit 0: 1 = `GICC_EOIR` only drops the
        /// priority, `GICC_DIR` deactivates.
        EOImode OFFSET(9) NUMBITS(1) [],
        /// Group 0 signalled as FIQ (one security state only).
        FIQEn OFFSET(3) NUMBITS(1) [],
        /// Group 1 enable (one security state only).
        EnableGrp1 OFFSET(1) NUMBITS(1) [],
        /// Enable of the group the Non-secure side uses: Group 0 with one
        /// security state, Group 1 in the Non-secure view.
        Enable OFFSET(0) NUMBITS(1) []
    ],
    /// GICv2 `GICD_SGIR`.
    pub(crate) GICD_SGIR [
        /// 0: the CPUs in `CPUTargetList`; 1: all but the writer; 2: the
        /// writer only.
        TargetListFilter OFFSET(24) NUMBITS(2) [],
        /// One bit per CPU interface number.
        CPUTargetList OFFSET(16) NUMBITS(8) [],
        /// The SGI's INTID.
        SGIINTID OFFSET(0) NUMBITS(4) []
    ],
    /// GICv2 `GICD_TYPER`.
    pub(crate) GICD_TYPER_V2 [
        /// The security extensions are implemented.
        SecurityExtn OFFSET(10) NUMBITS(1) [],
        /// CPU interfaces minus one.
        CPUNumber OFFSET(5) NUMBITS(3) [],
        /// `32 * (ITLinesNumber + 1)` INTIDs.
        ITLinesNumber OFFSET(0) NUMBITS(5) []
    ]
];

register_structs! {
    /// A GICv2 CPU interface: this core's banked copy.
    pub(crate) CpuInterface {
        (gicc::CTLR as usize => pub(crate) ctlr: ReadWrite<u32, GICC_CTLR::Register>),
        (gicc::PMR as usize => pub(crate) pmr: ReadWrite<u32>),
        (gicc::BPR as usize => pub(crate) bpr: ReadWrite<u32>),
        (gicc::IAR as usize => pub(crate) iar: ReadOnly<u32>),
        (gicc::EOIR as usize => pub(crate) eoir: WriteOnly<u32>),
        (gicc::RPR as usize => pub(crate) rpr: ReadOnly<u32>),
        (gicc::RPR as usize + 4 => _reserved0),
        (gicc::APR0 as usize => pub(crate) apr0: ReadWrite<u32>),
        (gicc::APR0 as usize + 4 => _reserved1),
        (gicc::SIZE as usize => @END),
    }
}

register_bitfields! [u32,
    /// `GICD_CTLR` (with one security state, or the Non-secure view).
    pub(crate) GICD_CTLR [
        /// Register Write Pending.
        RWP OFFSET(31) NUMBITS(1) [],
        /// Disable Security: one security state.
        DS OFFSET(6) NUMBITS(1) [],
        /// Affinity Routing Enable (`ARE_NS` in the Non-secure view).
        ARE OFFSET(4) NUMBITS(1) [],
        /// Group 1 enable (`EnableGrp1A` in the Non-secure view).
        EnableGrp1 OFFSET(1) NUMBITS(1) [],
        /// Group 0 enable (`EnableGrp1` in the Non-secure view).
        EnableGrp0 OFFSET(0) NUMBITS(1) []
    ],
    /// `GICD_TYPER`.
    pub(crate) GICD_TYPER [
        /// Direct Virtual LPI injection.
        DVIS OFFSET(18) NUMBITS(1) [],
        /// LPIs supported.
        LPIS OFFSET(17) NUMBITS(1) [],
        /// Message-based SPIs supported.
        MBIS OFFSET(16) NUMBITS(1) [],
        /// `32 * (ITLinesNumber + 1)` INTIDs.
        ITLinesNumber OFFSET(0) NUMBITS(5) []
    ],
    /// `GICR_CTLR`.
    pub(crate) GICR_CTLR [
        /// Register Write Pending.
        RWP OFFSET(3) NUMBITS(1) []
    ],
    /// `GICR_WAKER`.
    pub(crate) GICR_WAKER [
        /// The redistributor's interface to the core is quiescent.
        ChildrenAsleep OFFSET(2) NUMBITS(1) [],
        /// The core is asleep.
        ProcessorSleep OFFSET(1) NUMBITS(1) []
    ]
];

register_bitfields! [u64,
    /// `GICR_TYPER`.
    pub(crate) GICR_TYPER [
        /// The core's affinity: Aff3.Aff2.Aff1.Aff0.
        Affinity OFFSET(32) NUMBITS(32) [],
        /// Processor Number.
        ProcessorNumber OFFSET(8) NUMBITS(16) [],
        /// The last redistributor of a contiguous region.
        Last OFFSET(4) NUMBITS(1) [],
        /// Direct LPI injection.
        DirectLPI OFFSET(3) NUMBITS(1) [],
        /// Virtual LPIs.
        VLPIS OFFSET(1) NUMBITS(1) [],
        /// Physical LPIs.
        PLPIS OFFSET(0) NUMBITS(1) []
    ]
];

register_structs! {
    /// The distributor's registers the partitioner programs.
    pub(crate) Distributor {
        (gicd::CTLR as usize => pub(crate) ctlr: ReadWrite<u32, GICD_CTLR::Register>),
        (gicd::TYPER as usize => pub(crate) typer: ReadOnly<u32, GICD_TYPER::Register>),
        (gicd::IIDR as usize => _reserved0),
        (gicd::IGROUPR as usize => pub(crate) igroupr: [ReadWrite<u32>; 32]),
        (gicd::ISENABLER as usize => pub(crate) isenabler: [ReadWrite<u32>; 32]),
        (gicd::ICENABLER as usize => pub(crate) icenabler: [ReadWrite<u32>; 32]),
        (gicd::ISPENDR as usize => pub(crate) ispendr: [ReadWrite<u32>; 32]),
        (gicd::ICPENDR as usize => pub(crate) icpendr: [ReadWrite<u32>; 32]),
        (gicd::ISACTIVER as usize => _reserved1),
        (gicd::ICACTIVER as usize => pub(crate) icactiver: [ReadWrite<u32>; 32]),
        (gicd::IPRIORITYR as usize => pub(crate) ipriorityr: [ReadWrite<u8>; 1024]),
        (gicd::ITARGETSR as usize => pub(crate) itargetsr: [ReadWrite<u8>; 1024]),
        (gicd::ICFGR as usize => pub(crate) icfgr: [ReadWrite<u32>; 64]),
        (gicd::IGRPMODR as usize => _reserved3),
        (gicd::V2_SGIR as usize => pub(crate) sgir: WriteOnly<u32, GICD_SGIR::Register>),
        (gicd::V2_SGIR as usize + 4 => _reserved4),
        (gicd::V2_CPENDSGIR as usize => pub(crate) cpendsgir: [ReadWrite<u32>; 4]),
        (gicd::V2_SPENDSGIR as usize => _reserved5),
        (gicd::IROUTER as usize => pub(crate) irouter: [ReadWrite<u64>; 1020]),
        (gicd::IROUTER_END as usize => _reserved6),
        (gicd::SIZE as usize => @END),
    }
}

register_structs! {
    /// A redistributor's control frame (`RD_base`).
    pub(crate) RedistributorControl {
        (gicr::CTLR as usize => pub(crate) ctlr: ReadWrite<u32, GICR_CTLR::Register>),
        (gicr::IIDR as usize => pub(crate) iidr: ReadOnly<u32>),
        (gicr::TYPER as usize => pub(crate) typer: ReadOnly<u64, GICR_TYPER::Register>),
        (gicr::STATUSR as usize => pub(crate) statusr: ReadWrite<u32>),
        (gicr::WAKER as usize => pub(crate) waker: ReadWrite<u32, GICR_WAKER::Register>),
        (gicr::CONTROL_END as usize => _reserved0),
        (gicr::FRAME_SIZE as usize => @END),
    }
}

register_structs! {
    /// A redistributor's SGI frame (`SGI_base`): the registers of INTIDs
    /// 0–31, at the distributor's offsets.
    pub(crate) RedistributorSgi {
        (0x0000 => _reserved0),
        (gicd::IGROUPR as usize => pub(crate) igroupr0: ReadWrite<u32>),
        (gicd::IGROUPR as usize + 4 => _reserved1),
        (gicd::ISENABLER as usize => pub(crate) isenabler0: ReadWrite<u32>),
        (gicd::ISENABLER as usize + 4 => _reserved2),
        (gicd::ICENABLER as usize => pub(crate) icenabler0: ReadWrite<u32>),
        (gicd::ICENABLER as usize + 4 => _reserved3),
        (gicd::ICPENDR as usize => pub(crate) icpendr0: ReadWrite<u32>),
        (gicd::ICPENDR as usize + 4 => _reserved4),
        (gicd::ICACTIVER as usize => pub(crate) icactiver0: ReadWrite<u32>),
        (gicd::ICACTIVER as usize + 4 => _reserved5),
        (gicd::IPRIORITYR as usize => pub(crate) ipriorityr: [ReadWrite<u8>; 32]),
        (gicd::IPRIORITYR as usize + 32 => _reserved6),
        (gicr::FRAME_SIZE as usize => @END),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_blocks_follow_the_map() {
        assert_eq!(core::mem::size_of::<Distributor>() as u64, gicd::SIZE);
        assert_eq!(
            core::mem::offset_of!(Distributor, icfgr) as u64,
            gicd::ICFGR
        );
        assert_eq!(
            core::mem::offset_of!(RedistributorSgi, icactiver0) as u64,
            gicd::ICACTIVER
        );
        assert_eq!(GICD_CTLR::ARE::SET.value, 1 << 4);
        assert_eq!(GICR_TYPER::Affinity::SET.value, 0xffff_ffff << 32);
    }

    #[test]
    fn affinities_from_an_mpidr() {
        // Aff3 = 0x12, U and MT set, bit 31 RES1, Aff2.Aff1.Aff0 = 3.2.1.
        let mpidr = 0x12_c103_0201;
        assert_eq!(irouter_affinity(mpidr), 0x12_0003_0201);
        assert_eq!(redistributor_affinity(mpidr), 0x1203_0201);
        // An IROUTER value with the routing-mode bit reads back as the core.
        assert_eq!(irouter_affinity(0x8000_0001), 1);
    }
}
