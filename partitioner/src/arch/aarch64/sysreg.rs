//! System registers that `aarch64-cpu` does not provide: the GICv3 CPU
//! interface used at EL2 and `CPTR_EL2`. Field names follow the Arm ARM.

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;

register_bitfields! {u64,
    /// Architectural Feature Trap Register (EL2), with `HCR_EL2.E2H == 0`.
    pub CPTR_EL2 [
        /// Trap `CPACR_EL1` accesses.
        TCPAC OFFSET(31) NUMBITS(1) [],
        /// Trap FP and Advanced SIMD.
        TFP OFFSET(10) NUMBITS(1) [],
        /// Reserved, RES1 (bits 13:12 and 9:0).
        RES1 OFFSET(0) NUMBITS(14) [Value = 0x33ff]
    ],
    /// Interrupt Controller Software Generated Interrupt Group 0/1 Register.
    pub ICC_SGIR_EL1 [
        /// Aff3 of the targets.
        Aff3 OFFSET(48) NUMBITS(8) [],
        /// Interrupt Routing Mode: 0 = the target list.
        IRM OFFSET(40) NUMBITS(1) [],
        /// Aff2 of the targets.
        Aff2 OFFSET(32) NUMBITS(8) [],
        /// The SGI's INTID.
        INTID OFFSET(24) NUMBITS(4) [],
        /// Aff1 of the targets.
        Aff1 OFFSET(16) NUMBITS(8) [],
        /// One bit per target with Aff0 = bit number.
        TargetList OFFSET(0) NUMBITS(16) []
    ],
    /// Interrupt Controller Interrupt Group 0 Enable register.
    pub ICC_IGRPEN0_EL1 [
        /// Enables Group 0 interrupts.
        Enable OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupt Controller Interrupt Acknowledge Register 0 (and EOIR0,
    /// IAR1, EOIR1, which share the layout).
    pub ICC_IAR0_EL1 [
        /// The INTID.
        INTID OFFSET(0) NUMBITS(24) []
    ],
    /// Virtualization Processor ID Register: what EL1 reads as `MIDR_EL1`.
    pub VPIDR_EL2 [
        /// The whole value.
        Value OFFSET(0) NUMBITS(32) []
    ],
    /// Auxiliary Control Register (EL2): lower-EL access to
    /// implementation-defined registers. Written as 0.
    pub ACTLR_EL2 [
        /// The whole value.
        Value OFFSET(0) NUMBITS(64) []
    ],
    /// Monitor Debug Configuration Register (EL2).
    pub MDCR_EL2 [
        /// Event counters EL1 and EL0 may use.
        HPMN OFFSET(0) NUMBITS(5) []
    ],
    /// Performance Monitors Control Register.
    pub PMCR_EL0 [
        /// Number of event counters implemented.
        N OFFSET(11) NUMBITS(5) []
    ],
    /// Interrupt Controller Active Priorities Group 1 Register 0.
    pub ICC_AP1R0_EL1 [
        /// The whole value.
        Value OFFSET(0) NUMBITS(32) []
    ],
    /// Interrupt Controller Control Register (EL1), as EL2 writes it.
    pub ICC_CTLR_EL1 [
        /// Priority bits implemented, minus one (read-only).
        PRIbits OFFSET(8) NUMBITS(3) [],
        /// EOI mode: 0 = EOIR both drops priority and deactivates.
        EOImode OFFSET(1) NUMBITS(1) []
    ],
    /// Interrupt Controller Running Priority Register.
    pub ICC_RPR_EL1 [
        /// The running priority.
        Priority OFFSET(0) NUMBITS(8) []
    ],
    /// Interrupt Controller Deactivate Interrupt Register.
    pub ICC_DIR_EL1 [
        /// The interrupt to deactivate.
        INTID OFFSET(0) NUMBITS(24) []
    ],
    /// Interrupt Controller Hyp Control Register.
    pub ICH_HCR_EL2 [
        /// Trap EL1 accesses to the CPU-interface registers common to
        /// both groups (`ICC_CTLR/DIR/PMR/RPR/SGI*`).
        TC OFFSET(10) NUMBITS(1) [],
        /// Maintenance interrupt when at most one list register holds an
        /// interrupt (underflow).
        UIE OFFSET(1) NUMBITS(1) [],
        /// The virtual CPU interface is on.
        En OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupt Controller VGIC Type Register.
    pub ICH_VTR_EL2 [
        /// List registers implemented, minus one.
        ListRegs OFFSET(0) NUMBITS(5) []
    ],
    /// Interrupt Controller Virtual Machine Control Register: the
    /// virtual CPU interface's state as EL1 sees it (`ICV_*`).
    pub ICH_VMCR_EL2 [
        /// The whole value.
        Value OFFSET(0) NUMBITS(64) []
    ],
    /// Interrupt Controller Empty List Register Status Register.
    pub ICH_ELRSR_EL2 [
        /// Bit `n`: list register `n` holds no interrupt.
        Empty OFFSET(0) NUMBITS(16) []
    ],
    /// Interrupt Controller Hyp Active Priorities Group 1 Register 0.
    pub ICH_AP1R0_EL2 [
        /// The whole value.
        Value OFFSET(0) NUMBITS(32) []
    ],
    /// Interrupt Controller Interrupt Group 1 Enable register.
    pub ICC_IGRPEN1_EL1 [
        /// Enables Group 1 interrupts.
        Enable OFFSET(0) NUMBITS(1) []
    ],
    /// Counter-timer Physical Timer CompareValue register (EL2).
    pub CNTHP_CVAL_EL2 [
        /// The counter value EL2's physical timer fires at.
        CompareValue OFFSET(0) NUMBITS(64) []
    ],
    /// Counter-timer Physical Timer TimerValue register (EL2).
    pub CNTHP_TVAL_EL2 [
        /// Ticks until EL2's physical timer fires (signed, 32 bits).
        TimerValue OFFSET(0) NUMBITS(32) []
    ],
    /// Interrupt Controller Binary Point Register 1.
    pub ICC_BPR1_EL1 [
        /// The binary point.
        BinaryPoint OFFSET(0) NUMBITS(3) []
    ],
    /// Interrupt Status Register: the interrupts signalled to the core
    /// (at EL2, the physical ones).
    pub ISR_EL1 [
        /// An IRQ is signalled.
        I OFFSET(7) NUMBITS(1) [],
        /// An FIQ is signalled.
        F OFFSET(6) NUMBITS(1) []
    ],
    /// Interrupt Controller Interrupt Priority Mask Register.
    pub ICC_PMR_EL1 [
        /// Priority mask.
        Priority OFFSET(0) NUMBITS(8) []
    ]
}

macro_rules! sysreg {
    ($name:ident, $field:ident, $asm:literal, read) => {
        #[doc = concat!("`", $asm, "`.")]
        pub struct $name;
        impl Readable for $name {
            type T = u64;
            type R = $field::Register;
            #[inline]
            fn get(&self) -> u64 {
                let value;
                // SAFETY: reading this register has no side effect that
                // Rust's memory model can observe.
                unsafe { core::arch::asm!(concat!("mrs {}, ", $asm), out(reg) value, options(nomem, nostack)) };
                value
            }
        }
    };
    ($name:ident, $field:ident, $asm:literal, write) => {
        #[doc = concat!("`", $asm, "`.")]
        pub struct $name;
        sysreg!(@write $name, $field, $asm);
    };
    ($name:ident, $field:ident, $asm:literal, read_write) => {
        sysreg!($name, $field, $asm, read);
        sysreg!(@write $name, $field, $asm);
    };
    (@write $name:ident, $field:ident, $asm:literal) => {
        impl Writeable for $name {
            type T = u64;
            type R = $field::Register;
            #[inline]
            fn set(&self, value: u64) {
                // SAFETY: the register affects interrupt delivery and
                // traps only, never memory Rust relies on.
                unsafe { core::arch::asm!(concat!("msr ", $asm, ", {}"), in(reg) value, options(nomem, nostack)) };
            }
        }
    };
}

sysreg!(VpidrEl2, VPIDR_EL2, "vpidr_el2", write);
sysreg!(ActlrEl2, ACTLR_EL2, "actlr_el2", write);
sysreg!(MdcrEl2, MDCR_EL2, "mdcr_el2", write);
sysreg!(PmcrEl0, PMCR_EL0, "pmcr_el0", read);
sysreg!(IccAp1r0El1, ICC_AP1R0_EL1, "icc_ap1r0_el1", write);
sysreg!(IccCtlrEl1, ICC_CTLR_EL1, "icc_ctlr_el1", read_write);
sysreg!(IccRprEl1, ICC_RPR_EL1, "icc_rpr_el1", read);
sysreg!(IccDirEl1, ICC_DIR_EL1, "icc_dir_el1", write);
sysreg!(IccSgi1rEl1, ICC_SGIR_EL1, "icc_sgi1r_el1", write);
sysreg!(IchHcrEl2, ICH_HCR_EL2, "ich_hcr_el2", read_write);
sysreg!(IchVtrEl2, ICH_VTR_EL2, "ich_vtr_el2", read);
sysreg!(IchVmcrEl2, ICH_VMCR_EL2, "ich_vmcr_el2", write);
sysreg!(IchElrsrEl2, ICH_ELRSR_EL2, "ich_elrsr_el2", read);
sysreg!(IchAp1r0El2, ICH_AP1R0_EL2, "ich_ap1r0_el2", write);
sysreg!(
    IccIgrpen1El1,
    ICC_IGRPEN1_EL1,
    "icc_igrpen1_el1",
    read_write
);
sysreg!(IsrEl1, ISR_EL1, "isr_el1", read);
sysreg!(IccBpr1El1, ICC_BPR1_EL1, "icc_bpr1_el1", read_write);
sysreg!(CptrEl2, CPTR_EL2, "cptr_el2", read_write);
sysreg!(IccSgi0rEl1, ICC_SGIR_EL1, "icc_sgi0r_el1", write);
sysreg!(
    IccIgrpen0El1,
    ICC_IGRPEN0_EL1,
    "icc_igrpen0_el1",
    read_write
);
sysreg!(IccIar0El1, ICC_IAR0_EL1, "icc_iar0_el1", read);
sysreg!(IccEoir0El1, ICC_IAR0_EL1, "icc_eoir0_el1", write);
sysreg!(IccIar1El1, ICC_IAR0_EL1, "icc_iar1_el1", read);
sysreg!(IccEoir1El1, ICC_IAR0_EL1, "icc_eoir1_el1", write);
sysreg!(IccPmrEl1, ICC_PMR_EL1, "icc_pmr_el1", read_write);
sysreg!(CnthpTvalEl2, CNTHP_TVAL_EL2, "cnthp_tval_el2", write);
sysreg!(CnthpCvalEl2, CNTHP_CVAL_EL2, "cnthp_cval_el2", write);

/// `ACTLR_EL2`.
pub const ACTLR: ActlrEl2 = ActlrEl2;
/// `MDCR_EL2`.
pub const MDCR: MdcrEl2 = MdcrEl2;
/// `PMCR_EL0`.
pub const PMCR: PmcrEl0 = PmcrEl0;
/// `ICC_AP1R0_EL1`.
pub const ICC_AP1R0: IccAp1r0El1 = IccAp1r0El1;
/// `ICC_CTLR_EL1`.
pub const ICC_CTLR: IccCtlrEl1 = IccCtlrEl1;
/// `ICC_RPR_EL1`.
pub const ICC_RPR: IccRprEl1 = IccRprEl1;
/// `ICC_DIR_EL1`.
pub const ICC_DIR: IccDirEl1 = IccDirEl1;
/// `ICC_SGI1R_EL1`.
pub const ICC_SGI1R: IccSgi1rEl1 = IccSgi1rEl1;
/// `ICH_HCR_EL2`.
pub const ICH_HCR: IchHcrEl2 = IchHcrEl2;
/// `ICH_VTR_EL2`.
pub const ICH_VTR: IchVtrEl2 = IchVtrEl2;
/// `ICH_VMCR_EL2`.
pub const ICH_VMCR: IchVmcrEl2 = IchVmcrEl2;
/// `ICH_ELRSR_EL2`.
pub const ICH_ELRSR: IchElrsrEl2 = IchElrsrEl2;
/// `ICH_AP1R0_EL2`.
pub const ICH_AP1R0: IchAp1r0El2 = IchAp1r0El2;
/// `ICC_IGRPEN1_EL1`.
pub const ICC_IGRPEN1: IccIgrpen1El1 = IccIgrpen1El1;
/// `ISR_EL1`.
pub const ISR: IsrEl1 = IsrEl1;
/// `ICC_BPR1_EL1`.
pub const ICC_BPR1: IccBpr1El1 = IccBpr1El1;
/// `VPIDR_EL2`.
pub const VPIDR: VpidrEl2 = VpidrEl2;
/// `CPTR_EL2`.
pub const CPTR: CptrEl2 = CptrEl2;
/// `ICC_SGI0R_EL1`.
pub const ICC_SGI0R: IccSgi0rEl1 = IccSgi0rEl1;
/// `ICC_IGRPEN0_EL1`.
pub const ICC_IGRPEN0: IccIgrpen0El1 = IccIgrpen0El1;
/// `ICC_IAR0_EL1`.
pub const ICC_IAR0: IccIar0El1 = IccIar0El1;
/// `ICC_EOIR0_EL1`.
pub const ICC_EOIR0: IccEoir0El1 = IccEoir0El1;
/// `ICC_IAR1_EL1` (its INTID field has the layout of `ICC_IAR0_EL1`).
pub const ICC_IAR1: IccIar1El1 = IccIar1El1;
/// `ICC_EOIR1_EL1`.
pub const ICC_EOIR1: IccEoir1El1 = IccEoir1El1;
/// `ICC_PMR_EL1`.
pub const ICC_PMR: IccPmrEl1 = IccPmrEl1;
/// `CNTHP_TVAL_EL2`.
pub const CNTHP_TVAL: CnthpTvalEl2 = CnthpTvalEl2;
/// `CNTHP_CVAL_EL2`.
pub const CNTHP_CVAL: CnthpCvalEl2 = CnthpCvalEl2;
