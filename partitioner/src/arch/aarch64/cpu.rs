//! Instructions and system registers at EL2, for the bare-metal target.

use super::sysreg::{
    CPTR, CPTR_EL2, ICC_EOIR0, ICC_IAR0, ICC_IAR0_EL1, ICC_IGRPEN0, ICC_IGRPEN0_EL1, ICC_PMR,
    ICC_PMR_EL1, ICC_SGI0R, ICC_SGIR_EL1,
};
use super::{esr::RawSyndrome, TrapFrame, CPU_STACK_SIZE};
use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::*;
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use tock_registers::interfaces::{Readable, Writeable};

global_asm!(include_str!("boot.S"));

extern "C" {
    fn spin_table_entry();
    #[link_name = "enter_guest"]
    fn enter_guest_asm(frame: *const TrapFrame, stack_top: usize) -> !;
    static __image_start: u8;
    static __image_end: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __stacks_start: u8;
    static __stacks_end: u8;
    static __bss_start: u8;
    fn secondary_entry();
}

/// The board CPU index of the core [`release_from_spin_table`] releases,
/// read by `spin_table_entry` with the MMU off.
#[unsafe(export_name = "spin_table_cpu")]
static SPIN_TABLE_CPU: AtomicU64 = AtomicU64::new(0);

/// Releases board CPU `cpu` from the boot firmware's spin table, which
/// waits at `release_address` for an entry address (Linux's arm64 boot
/// protocol): the core starts at `spin_table_entry`, with its MMU off, and
/// goes on as a core started by PSCI `CPU_ON`. One core at a time: wait
/// until it is up before releasing the next.
pub fn release_from_spin_table(release_address: u64, cpu: usize) {
    SPIN_TABLE_CPU.store(cpu as u64, Ordering::Relaxed);
    clean_to_coherency(SPIN_TABLE_CPU.as_ptr() as u64, 8);
    // SAFETY: the board description names this address as where the
    // firmware's loop for this core waits; it is RAM, mapped at EL2, and
    // nothing else uses it while the core waits.
    unsafe {
        core::ptr::write_volatile(
            release_address as *mut u64,
            spin_table_entry as *const () as u64,
        )
    };
    clean_to_coherency(release_address, 8);
    send_event();
}

/// Address of the first byte of the partitioner image.
pub fn image_start() -> u64 {
    &raw const __image_start as u64
}

/// End of the partitioner's footprint, where the boot image's config blob
/// starts.
pub fn image_end() -> u64 {
    &raw const __image_end as u64
}

/// End of the executable code.
pub fn text_end() -> u64 {
    &raw const __text_end as u64
}

/// End of the read-only data.
pub fn rodata_end() -> u64 {
    &raw const __rodata_end as u64
}

/// Physical address secondary cores start at (for PSCI `CPU_ON`).
pub fn secondary_entry_point() -> u64 {
    secondary_entry as *const () as u64
}

/// The secondary cores' stacks, as a range.
pub fn secondary_stacks() -> (u64, u64) {
    let start = &raw const __stacks_start as u64;
    (start, &raw const __stacks_end as u64 - start)
}

/// From `.bss` to the end of the image (tables, stacks, boot stack).
pub fn zeroed_part_of_image() -> (u64, u64) {
    let start = &raw const __bss_start as u64;
    (start, image_end() - start)
}

/// Top of CPU `cpu`'s EL2 stack.
pub fn stack_top(cpu: usize) -> usize {
    let base = &raw const __stacks_start as usize;
    base + (cpu + 1) * CPU_STACK_SIZE
}

/// This core's `MPIDR_EL1` affinity value.
pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & bsp::MPIDR_AFFINITY_MASK
}

/// Records this core's index (in `TPIDR_EL2`).
pub fn set_cpu_index(cpu: usize) {
    TPIDR_EL2.set(cpu as u64);
}

/// This core's index, as [`set_cpu_index`] recorded it.
pub fn cpu_index() -> usize {
    TPIDR_EL2.get() as usize
}

/// The physical counter.
pub fn counter() -> u64 {
    CNTPCT_EL0.get()
}

/// Stops EL2's own physical timer.
pub fn stop_el2_timer() {
    CNTHP_CTL_EL2.write(CNTHP_CTL_EL2::ENABLE::CLEAR + CNTHP_CTL_EL2::IMASK::SET);
    barrier::isb(barrier::SY);
}

/// The counter's frequency in Hz, or `fallback` when firmware left it 0.
pub fn counter_frequency(fallback: u64) -> u64 {
    match CNTFRQ_EL0.get() {
        0 => fallback,
        f => f,
    }
}

/// Waits for an interrupt (wakes on a pending interrupt even when masked).
pub fn wait_for_interrupt() {
    aarch64_cpu::asm::wfi();
}

/// Whether the cell about to run on this core has its `WFI` trapped
/// (`HCR_EL2.TWI`).
pub fn trap_wfi(trap: bool) {
    HCR_EL2.modify(if trap {
        HCR_EL2::TWI::SET
    } else {
        HCR_EL2::TWI::CLEAR
    });
}

/// Waits for an event (`WFE`): an `SEV` from any core, or anything that
/// would end a `WFI`. (QEMU's TCG treats it as a yield and returns.)
pub fn wait_for_event() {
    aarch64_cpu::asm::wfe();
}

/// Signals an event to every core (`SEV`), after every store before it:
/// a core in [`wait_for_event`] wakes, and one about to wait does not
/// sleep (the event is latched).
pub fn send_event() {
    barrier::dsb(barrier::ISH);
    aarch64_cpu::asm::sev();
}

/// Whether the GIC signals an IRQ or an FIQ to this core now
/// (`ISR_EL1`, which at EL2 shows the physical interface), whatever
/// PSTATE masks.
pub fn interrupt_signalled() -> bool {
    use super::sysreg::{ISR, ISR_EL1};
    ISR.matches_any(&[ISR_EL1::I::SET, ISR_EL1::F::SET])
}

/// Whether the CPU interface, as the cell left it, would signal an
/// interrupt of `priority` (as the distributor's priorities are written):
/// no active priority at or above it and, for Group 1 (`group1`), the
/// group enabled. A cell blocks the partitioner's kick by writing its
/// active priorities (`ICC_AP1R<n>_EL1`) or, on `revoke-stage2`,
/// disabling Group 1; its priority mask cannot (those writes trap).
pub fn could_signal(priority: u8, group1: bool) -> bool {
    use super::sysreg::{ICC_IGRPEN1, ICC_IGRPEN1_EL1};
    running_priority() > priority && (!group1 || ICC_IGRPEN1.is_set(ICC_IGRPEN1_EL1::Enable))
}

/// Whether the core has the GIC system-register interface (GICv3 and
/// later: `ID_AA64PFR0_EL1.GIC`, bits 27:24, which `aarch64-cpu` does not
/// name). Without it every `ICC_*` and `ICH_*` access is undefined.
pub fn gic_system_registers() -> bool {
    (ID_AA64PFR0_EL1.get() >> 24) & 0xf != 0
}

/// Physical address bits the core implements (from `ID_AA64MMFR0_EL1`).
fn pa_range() -> u64 {
    ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange).min(0b010)
}

/// The stage-2 translation control every core uses for cells
/// (`VTCR_EL2`): a 39-bit guest-physical space (T0SZ 25) walked from level
/// 1 with 4 KiB pages, tables in inner-shareable write-back memory, and
/// the output size the core implements, at most 40 bits. The SMMU
/// translates cells' devices through the same tables with the same value
/// (`crate::smmu`).
pub fn stage2_vtcr() -> u64 {
    (VTCR_EL2::T0SZ.val(25)
        + VTCR_EL2::SL0::Granule4KBLevel1
        + VTCR_EL2::IRGN0::NormalWBRAWA
        + VTCR_EL2::ORGN0::NormalWBRAWA
        + VTCR_EL2::SH0::Inner
        + VTCR_EL2::TG0::Granule4KB
        + VTCR_EL2::PS.val(pa_range())
        + VTCR_EL2::RES1::SET)
        .value
}

/// The output size code (`VTCR_EL2.PS`) of [`stage2_vtcr`].
pub fn stage2_output_size() -> u32 {
    pa_range() as u32
}

/// Orders this core's memory writes before what follows, a device's
/// register write included (`DSB SY`): a table or queue entry is written
/// before the device is told of it.
pub fn device_barrier() {
    barrier::dsb(barrier::SY);
}

/// Turns on the EL2 MMU and caches with the tables at `root`.
///
/// # Safety
/// `root` must hold tables that map this code, its stack and all data the
/// partitioner uses, identity-mapped, with the descriptor format of
/// [`super::paging::El2Stage1`].
pub unsafe fn enable_el2_mmu(root: u64) {
    MAIR_EL2.write(
        MAIR_EL2::Attr0_Device::nonGathering_nonReordering_EarlyWriteAck
            + MAIR_EL2::Attr1_Normal_Outer::WriteBack_NonTransient_ReadWriteAlloc
            + MAIR_EL2::Attr1_Normal_Inner::WriteBack_NonTransient_ReadWriteAlloc,
    );
    // TCR_EL2 bits 31 and 23 are RES1 when E2H is 0.
    let tcr = TCR_EL2::T0SZ.val(25)
        + TCR_EL2::TG0::KiB_4
        + TCR_EL2::SH0::Inner
        + TCR_EL2::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
        + TCR_EL2::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
        + TCR_EL2::PS.val(pa_range());
    TCR_EL2.set(tcr.value | 1 << 31 | 1 << 23);
    TTBR0_EL2.set_baddr(root);
    barrier::dsb(barrier::ISH);
    // SAFETY: invalidating EL2 TLB entries has no memory effect.
    unsafe { asm!("tlbi alle2", "dsb nsh", "isb", options(nostack)) };
    // The whole register: RES1 bits (E2H = 0), MMU, caches, SP alignment
    // check; little-endian, no WXN, no alignment faults.
    const SCTLR_EL2_RES1: u64 = 0x30c5_0830;
    SCTLR_EL2.set(
        SCTLR_EL2_RES1
            | (SCTLR_EL2::M::Enable
                + SCTLR_EL2::C::Cacheable
                + SCTLR_EL2::I::Cacheable
                + SCTLR_EL2::SA::Enable)
                .value,
    );
    barrier::isb(barrier::SY);
}

/// Configures this core's traps and timers for running a cell:
/// `HCR_EL2 = RW | VM | FMO | TSC | TIDCP | TACR | TWI`, with IMO clear so
/// the cell's interrupts go straight to EL1. `WFI` traps (unless
/// [`trap_wfi`] turns it off for a cell), so that a core waiting for its
/// cell's interrupts waits in EL2, where a stop reaches it whatever the
/// cell did to its CPU interface. Cells' own TLB and barrier
/// operations are not widened (no FB/BSU), so they do not disturb other
/// cells' cores; implementation-defined registers and `ACTLR_EL1` trap (they
/// can reach caches shared with other cells). FP is not trapped; EL1 keeps
/// both timers; stage 2 uses a 39-bit IPA space starting at level 1.
pub fn configure_el2_for_cells(gic_system_registers: bool) {
    let fiq_to_el2 = if gic_system_registers {
        HCR_EL2::FMO::EnableVirtualFIQ
    } else {
        HCR_EL2::FMO::DisableVirtualFIQ
    };
    HCR_EL2.write(
        HCR_EL2::RW::EL1IsAarch64
            + HCR_EL2::VM::Enable
            + fiq_to_el2
            + HCR_EL2::TSC::EnableTrapEl1SmcToEl2
            + HCR_EL2::TIDCP::SET
            + HCR_EL2::TACR::SET
            + HCR_EL2::TWI::SET,
    );
    super::sysreg::ACTLR.set(0);
    if gic_system_registers {
        // Cells' accesses to the CPU-interface registers common to both
        // groups trap (the virtual interface itself stays off), so that
        // their priority mask and EOI mode reach the physical interface,
        // checked.
        super::sysreg::ICH_HCR.write(super::sysreg::ICH_HCR_EL2::TC::SET);
    }
    // All PMU counters to EL1, no debug or PMU traps.
    let counters = super::sysreg::PMCR.read(super::sysreg::PMCR_EL0::N);
    super::sysreg::MDCR.write(super::sysreg::MDCR_EL2::HPMN.val(counters));
    CPTR.write(CPTR_EL2::RES1::Value);
    CNTHCTL_EL2.write(CNTHCTL_EL2::EL1PCEN::SET + CNTHCTL_EL2::EL1PCTEN::SET);
    CNTVOFF_EL2.set(0);
    VTCR_EL2.set(stage2_vtcr());
    super::sysreg::VPIDR.set(MIDR_EL1.get());
    barrier::isb(barrier::SY);
}

/// Prepares this core's EL1 state for a cell's virtual CPU `vcpu`: its
/// stage-2 tables, its virtual MPIDR, and EL1 registers back at their reset
/// values (MMU off, timers off), with no TLB entries left from a previous
/// run. The GIC CPU interface is reset apart (`gic::driver::reset_for_cell`).
pub fn prepare_vcpu(stage2_root: u64, vmid: u16, vcpu: usize) {
    VTTBR_EL2.write(VTTBR_EL2::VMID.val(vmid as u64));
    VTTBR_EL2.set_baddr(stage2_root);
    // Virtual MPIDR: bit 31 RES1, Aff0 = virtual CPU number.
    VMPIDR_EL2.set(1 << 31 | vcpu as u64);
    // SCTLR_EL1 reset value: MMU and caches off, RES1 bits set.
    SCTLR_EL1.set(0x30d0_0800);
    reset_el1_state();
    barrier::isb(barrier::SY);
    // SAFETY: invalidates this VMID's stage-1 and stage-2 TLB entries on
    // this core; no memory effect.
    unsafe { asm!("tlbi vmalls12e1", "dsb nsh", "isb", options(nostack)) };
}

/// Puts this core's GICv3 Group 1 CPU interface, which a cell reaches
/// directly (`IMO = 0`), at the state a starting virtual CPU finds: no
/// active priority, enable, EOI mode or binary point from a previous run.
/// `group1_enabled` is what the cell finds in `ICC_IGRPEN1_EL1`.
pub fn reset_gic_cpu_interface(group1_enabled: bool) {
    super::sysreg::ICC_AP1R0.set(0);
    set_gic_eoi_mode_split(false);
    super::sysreg::ICC_BPR1.set(u64::from(
        PRISTINE_BPR1[cpu_index() % PRISTINE_BPR1.len()].load(Ordering::Relaxed),
    ));
    super::sysreg::ICC_IGRPEN1
        .write(super::sysreg::ICC_IGRPEN1_EL1::Enable.val(group1_enabled.into()));
    barrier::isb(barrier::SY);
}

/// `ICC_BPR1_EL1` of each core as it came out of reset, before any cell
/// ran ([`note_pristine_state`]); its reset value is the implementation's.
static PRISTINE_BPR1: [AtomicU8; 8] = [const { AtomicU8::new(0) }; 8];

/// Notes what this core's registers with implementation-defined reset
/// values hold before any cell has run, for [`prepare_vcpu`] to restore.
pub fn note_pristine_state() {
    let bpr = super::sysreg::ICC_BPR1.get() as u8;
    PRISTINE_BPR1[cpu_index() % PRISTINE_BPR1.len()].store(bpr, Ordering::Relaxed);
}

/// Puts back the reset state of everything a cell can observe at EL1 and
/// EL0 on this core besides the GIC CPU interface (which
/// [`prepare_vcpu`] resets): the translation and exception registers, the
/// thread IDs and stack pointers, the timers, the debug registers (OS
/// lock set, as after a cold reset), the PMU (counters stopped, cleared,
/// disabled, no overflow interrupt) and FP/SIMD (`FPCR`, `FPSR`, `V0` to
/// `V31` zero). A restarted cell finds what its first boot found, so
/// nothing of its previous life leaks into the next.
fn reset_el1_state() {
    // SAFETY: EL1/EL0 state of the cell about to run on this core; EL2's
    // own execution depends on none of it, and no memory is touched.
    unsafe {
        asm!(
            "msr tcr_el1, xzr",
            "msr ttbr0_el1, xzr",
            "msr ttbr1_el1, xzr",
            "msr mair_el1, xzr",
            "msr amair_el1, xzr",
            "msr vbar_el1, xzr",
            "msr contextidr_el1, xzr",
            "msr cpacr_el1, xzr",
            "msr tpidr_el0, xzr",
            "msr tpidrro_el0, xzr",
            "msr tpidr_el1, xzr",
            "msr sp_el0, xzr",
            "msr sp_el1, xzr",
            "msr elr_el1, xzr",
            "msr spsr_el1, xzr",
            "msr esr_el1, xzr",
            "msr far_el1, xzr",
            "msr afsr0_el1, xzr",
            "msr afsr1_el1, xzr",
            "msr par_el1, xzr",
            "msr csselr_el1, xzr",
            "msr cntv_ctl_el0, xzr",
            "msr cntv_cval_el0, xzr",
            "msr cntp_ctl_el0, xzr",
            "msr cntp_cval_el0, xzr",
            "msr cntkctl_el1, xzr",
            "msr mdscr_el1, xzr",
            "msr osdlr_el1, xzr",
            options(nomem, nostack)
        )
    };
    reset_debug_registers();
    reset_pmu();
    reset_fp();
}

/// Disables and clears every breakpoint and watchpoint
/// (`ID_AA64DFR0_EL1.BRPs`/`WRPs` + 1 of each) and sets the OS lock.
fn reset_debug_registers() {
    let dfr0 = ID_AA64DFR0_EL1.get();
    let breakpoints = ((dfr0 >> 12) & 0xf) + 1;
    let watchpoints = ((dfr0 >> 20) & 0xf) + 1;
    macro_rules! clear {
        ($count:expr, $($n:literal),*) => {
            $(
                if $n < $count {
                    // SAFETY: debug register pair `n` exists (n < count);
                    // clearing it disables it. No memory effect.
                    unsafe {
                        asm!(
                            concat!("msr dbgbcr", $n, "_el1, xzr"),
                            concat!("msr dbgbvr", $n, "_el1, xzr"),
                            options(nomem, nostack)
                        )
                    };
                }
            )*
        };
    }
    macro_rules! clear_watch {
        ($count:expr, $($n:literal),*) => {
            $(
                if $n < $count {
                    // SAFETY: as for the breakpoints.
                    unsafe {
                        asm!(
                            concat!("msr dbgwcr", $n, "_el1, xzr"),
                            concat!("msr dbgwvr", $n, "_el1, xzr"),
                            options(nomem, nostack)
                        )
                    };
                }
            )*
        };
    }
    clear!(
        breakpoints,
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
        15
    );
    clear_watch!(
        watchpoints,
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
        15
    );
    // SAFETY: OS lock set, claim tags cleared: the cold-reset state of the
    // debug interface; no memory effect.
    unsafe {
        asm!(
            "msr oslar_el1, {one}",
            "msr dbgclaimclr_el1, {all}",
            one = in(reg) 1u64,
            all = in(reg) 0xffu64,
            options(nomem, nostack)
        )
    };
}

/// Stops, clears and disables every PMU counter, with no overflow
/// interrupt and no EL0 access, when the core has a PMU.
fn reset_pmu() {
    let version = (ID_AA64DFR0_EL1.get() >> 8) & 0xf;
    if version == 0 || version == 0xf {
        return;
    }
    let counters = super::sysreg::PMCR.read(super::sysreg::PMCR_EL0::N);
    // SAFETY: PMU state of the cell about to run; no memory effect.
    unsafe {
        asm!(
            // E = 0 (stopped), P and C: event and cycle counters to zero.
            "msr pmcr_el0, {reset}",
            "msr pmcntenclr_el0, {all}",
            "msr pmintenclr_el1, {all}",
            "msr pmovsclr_el0, {all}",
            "msr pmuserenr_el0, xzr",
            "msr pmccfiltr_el0, xzr",
            reset = in(reg) 0b110u64,
            all = in(reg) u64::from(u32::MAX),
            options(nomem, nostack)
        )
    };
    for n in 0..counters {
        // SAFETY: counter `n` exists (n < PMCR_EL0.N); its event type goes
        // back to 0. No memory effect.
        unsafe {
            asm!(
                "msr pmselr_el0, {n}",
                "isb",
                "msr pmxevtyper_el0, xzr",
                n = in(reg) n,
                options(nomem, nostack)
            )
        };
    }
    // SAFETY: as above.
    unsafe { asm!("msr pmselr_el0, xzr", options(nomem, nostack)) };
}

/// Zeroes the FP/SIMD registers and their control and status.
fn reset_fp() {
    // SAFETY: FP/SIMD state of the cell about to run (EL2, built without
    // FP, never uses it; CPTR_EL2 does not trap it); no memory effect.
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "msr fpcr, xzr",
            "msr fpsr, xzr",
            "movi v0.2d, #0",
            "movi v1.2d, #0",
            "movi v2.2d, #0",
            "movi v3.2d, #0",
            "movi v4.2d, #0",
            "movi v5.2d, #0",
            "movi v6.2d, #0",
            "movi v7.2d, #0",
            "movi v8.2d, #0",
            "movi v9.2d, #0",
            "movi v10.2d, #0",
            "movi v11.2d, #0",
            "movi v12.2d, #0",
            "movi v13.2d, #0",
            "movi v14.2d, #0",
            "movi v15.2d, #0",
            "movi v16.2d, #0",
            "movi v17.2d, #0",
            "movi v18.2d, #0",
            "movi v19.2d, #0",
            "movi v20.2d, #0",
            "movi v21.2d, #0",
            "movi v22.2d, #0",
            "movi v23.2d, #0",
            "movi v24.2d, #0",
            "movi v25.2d, #0",
            "movi v26.2d, #0",
            "movi v27.2d, #0",
            "movi v28.2d, #0",
            "movi v29.2d, #0",
            "movi v30.2d, #0",
            "movi v31.2d, #0",
            options(nomem, nostack)
        )
    };
}

/// Enters the guest context `frame` on this core, resetting the EL2 stack.
pub fn enter_guest(frame: &TrapFrame) -> ! {
    let top = stack_top(cpu_index());
    // SAFETY: `top` is this core's own stack; the frame is copied onto it
    // before the old stack (which may hold `frame`) is reused, and nothing
    // on the old stack is needed again because this never returns.
    unsafe { enter_guest_asm(frame, top) }
}

/// The syndrome registers of the current exception.
pub fn syndrome() -> RawSyndrome {
    RawSyndrome {
        esr: ESR_EL2.get(),
        far: FAR_EL2.get(),
        hpfar: HPFAR_EL2.get(),
    }
}

/// An SMC to the firmware (SMC Calling Convention), for PSCI.
pub fn firmware_call(function: u32, a1: u64, a2: u64, a3: u64) -> u64 {
    let mut x0 = function as u64;
    // SAFETY: the SMCCC preserves x4..x17 and the stack; x0..x3 are results.
    unsafe {
        asm!("smc #0", inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
            clobber_abi("C"), options(nostack));
    }
    x0
}

/// Smallest data cache line, from `CTR_EL0.DminLine`.
fn dcache_line() -> u64 {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    4 << ((ctr >> 16) & 0xf)
}

/// Cleans and invalidates `[start, start + len)` to the point of coherency.
fn clean_invalidate(start: u64, len: u64) {
    let line = dcache_line();
    let mut at = start & !(line - 1);
    while at < start.saturating_add(len) {
        // SAFETY: clean+invalidate by address keeps memory's contents.
        unsafe { asm!("dc civac, {}", in(reg) at, options(nostack)) };
        at += line;
    }
    barrier::dsb(barrier::ISH);
}

/// Makes `[start, start + len)` visible to a core that reads it with its
/// MMU or caches off (cells start that way): clean and invalidate to the
/// point of coherency, then drop stale instructions on every core.
pub fn clean_for_execution(start: u64, len: u64) {
    clean_invalidate(start, len);
    invalidate_instruction_caches();
}

/// Invalidates every instruction cache of the inner shareable domain, for
/// code that was written and cleaned to coherency
/// ([`clean_to_coherency`]).
pub fn invalidate_instruction_caches() {
    // SAFETY: invalidating instruction caches has no memory effect.
    unsafe { asm!("ic ialluis", "dsb ish", "isb", options(nostack)) };
}

/// Makes what EL2 wrote through its cacheable map at
/// `[start, start + len)` visible to observers that read it uncached (a
/// cell whose MMU is off, a Linux cell's device mapping of a PCI BAR):
/// clean and invalidate to the point of coherency.
pub fn clean_to_coherency(start: u64, len: u64) {
    clean_invalidate(start, len);
}

/// Waits until every memory access this core made before is complete
/// (`DSB SY`): a cell's writes to shared memory are visible before the
/// doorbell interrupt that announces them.
pub fn complete_memory_accesses() {
    barrier::dsb(barrier::SY);
}

/// Makes memory that the boot core wrote with its caches on safe to use
/// for a core that starts with caches off and turns them on later (its
/// stack, the tables it walks).
pub fn clean_for_secondary(start: u64, len: u64) {
    clean_invalidate(start, len);
}

/// Discards cache lines over `[start, start + len)` before the boot core
/// turns its caches on, so that what it wrote with caches off (zeroed
/// `.bss`, the first tables) is not hidden behind stale lines.
///
/// # Safety
/// Only with the MMU and data cache off: then no dirty line holds data
/// that the invalidation could lose.
pub unsafe fn invalidate_before_caches_on(start: u64, len: u64) {
    let line = dcache_line();
    let mut at = start & !(line - 1);
    while at < start.saturating_add(len) {
        // SAFETY: with caches off every write went to memory; dropping
        // lines loses nothing (the caller's contract).
        unsafe { asm!("dc ivac, {}", in(reg) at, options(nostack)) };
        at += line;
    }
    barrier::dsb(barrier::SY);
}

/// Drops every stage-1 and stage-2 translation of VMID `vmid` on all
/// cores (after its tables changed). The TLB instruction works on the
/// VMID in `VTTBR_EL2`, so this core's is set to `vmid` for it and put
/// back: the caller may be a core of another cell (the housekeeping core
/// stopping a cell whose watchdog expired), and no guest runs on it while
/// EL2 does this.
pub fn invalidate_guest_translations(vmid: u16) {
    let own = VTTBR_EL2.get();
    VTTBR_EL2.write(VTTBR_EL2::VMID.val(u64::from(vmid)));
    barrier::isb(barrier::SY);
    // SAFETY: TLB maintenance has no effect on memory contents.
    unsafe {
        asm!(
            "dsb ishst",
            "tlbi vmalls12e1is",
            "dsb ish",
            options(nostack)
        )
    };
    VTTBR_EL2.set(own);
    barrier::isb(barrier::SY);
}

/// Whether EL2 must convert priority masks to the Non-secure view itself
/// (see [`gic_cpu_interface_init`]).
static SHIFT_PRIORITY_MASK: AtomicBool = AtomicBool::new(false);

/// Enables the GICv3 CPU interface for EL2's Group 0 interrupts.
///
/// With two security states (`non_secure_view`: `GICD_CTLR.DS = 0`), the
/// distributor stores a priority `p` that Non-secure software writes as
/// `0x80 | p >> 1`. The CPU interface does the same to `ICC_PMR_EL1` only
/// when EL3 routes FIQs to itself (`SCR_EL3.FIQ = 1`, as TF-A does);
/// otherwise (QEMU entering a kernel directly) it stores the mask as
/// written, and masks would no longer compare with priorities as the
/// partitioner means them. The two cases read back differently: the
/// Non-secure view has one priority bit less. Found out here, once, and
/// made up for in [`set_priority_mask`] and [`running_priority`].
pub fn gic_cpu_interface_init(non_secure_view: bool) {
    ICC_SRE_EL2.write(
        ICC_SRE_EL2::SRE::SET
            + ICC_SRE_EL2::DFB::SET
            + ICC_SRE_EL2::DIB::SET
            + ICC_SRE_EL2::ENABLE::SET,
    );
    barrier::isb(barrier::SY);
    // EOImode 0: EOIR0 both drops the priority and deactivates.
    super::sysreg::ICC_CTLR.write(super::sysreg::ICC_CTLR_EL1::EOImode::CLEAR);
    if non_secure_view {
        let bits = super::sysreg::ICC_CTLR.read(super::sysreg::ICC_CTLR_EL1::PRIbits) + 1;
        let implemented = (0xff_u64 << (8 - bits.min(8))) & 0xff;
        ICC_PMR.write(ICC_PMR_EL1::Priority.val(0xff));
        let shifted_by_hardware = ICC_PMR.read(ICC_PMR_EL1::Priority) != implemented;
        SHIFT_PRIORITY_MASK.store(!shifted_by_hardware, Ordering::Relaxed);
    }
    set_priority_mask(0xff);
    ICC_IGRPEN0.write(ICC_IGRPEN0_EL1::Enable::SET);
    barrier::isb(barrier::SY);
    note_pristine_state();
}

/// Arms EL2's own physical timer (`CNTHP`; the board's
/// `timer.hypervisor` PPI) to fire `ticks` counter ticks from now.
pub fn arm_el2_timer(ticks: u32) {
    super::sysreg::CNTHP_TVAL.write(super::sysreg::CNTHP_TVAL_EL2::TimerValue.val(ticks.into()));
    CNTHP_CTL_EL2.write(CNTHP_CTL_EL2::ENABLE::SET + CNTHP_CTL_EL2::IMASK::CLEAR);
    barrier::isb(barrier::SY);
}

/// Arms EL2's own physical timer to fire when the counter reaches
/// `deadline`.
pub fn arm_el2_timer_at(deadline: u64) {
    super::sysreg::CNTHP_CVAL.set(deadline);
    CNTHP_CTL_EL2.write(CNTHP_CTL_EL2::ENABLE::SET + CNTHP_CTL_EL2::IMASK::CLEAR);
    barrier::isb(barrier::SY);
}

/// Acknowledges the highest-priority pending Group 0 interrupt, if any.
pub fn acknowledge_group0() -> Option<u32> {
    let intid = ICC_IAR0.read(ICC_IAR0_EL1::INTID) as u32;
    (intid < 1020).then_some(intid)
}

/// Takes the physical Group 1 CPU interface back from a cell that left
/// this core, for a core that waits at EL2 for kicks (an active priority
/// left by the cell blocks them on either control path, and on
/// `revoke-stage2` so does Group 1 disabled): no active priority left by the cell,
/// EOI mode 0, Group 1 enabled, and the priority mask at `mask`, so that
/// only the partitioner's interrupts (priority below `mask`) are signalled.
///
/// A cell pulled out in the middle of an interrupt handler leaves its
/// priority active. Writing `ICC_AP1R0_EL1` does not clear it here: with
/// two security states the Non-secure view of that register is not
/// writable (QEMU ignores the write). What works everywhere is a priority
/// drop: in EOI mode 1 a write to `ICC_EOIR1_EL1` drops the highest active
/// priority without deactivating anything (the cell's interrupts are
/// deactivated in the GIC when it restarts), so drop until the running
/// priority is idle; there are at most 128 priority levels.
pub fn take_group1_interface(mask: u8) {
    use super::sysreg::{ICC_CTLR, ICC_CTLR_EL1, ICC_EOIR1, ICC_IGRPEN1, ICC_IGRPEN1_EL1};
    ICC_CTLR.write(ICC_CTLR_EL1::EOImode::SET);
    barrier::isb(barrier::SY);
    for _ in 0..128 {
        if running_priority() == IDLE_PRIORITY {
            break;
        }
        // Any valid INTID: in EOI mode 1 the write only drops priority.
        ICC_EOIR1.write(ICC_IAR0_EL1::INTID.val(0));
        barrier::isb(barrier::SY);
    }
    ICC_CTLR.write(ICC_CTLR_EL1::EOImode::CLEAR);
    set_priority_mask(mask);
    ICC_IGRPEN1.write(ICC_IGRPEN1_EL1::Enable::SET);
    barrier::isb(barrier::SY);
}

/// The running priority of an idle CPU interface.
const IDLE_PRIORITY: u8 = 0xff;

/// Acknowledges the highest-priority pending Group 1 interrupt that the
/// priority mask lets through, if any (`ICC_IAR1_EL1`; at EL2 always the
/// physical interface).
pub fn acknowledge_group1() -> Option<u32> {
    let intid = super::sysreg::ICC_IAR1.read(ICC_IAR0_EL1::INTID) as u32;
    (intid < 1020).then_some(intid)
}

/// Ends (drops priority and deactivates) a Group 1 interrupt, whatever
/// EOI mode the interface is in.
pub fn end_group1(intid: u32) {
    super::sysreg::ICC_EOIR1.write(ICC_IAR0_EL1::INTID.val(intid as u64));
    if gic_eoi_mode_split() {
        deactivate_interrupt(intid);
    }
}

/// Ends (drops priority and deactivates) a Group 0 interrupt, whatever
/// EOI mode a cell chose for the CPU interface.
pub fn end_group0(intid: u32) {
    ICC_EOIR0.write(ICC_IAR0_EL1::INTID.val(intid as u64));
    if gic_eoi_mode_split() {
        deactivate_interrupt(intid);
    }
}

/// Whether EOI only drops the priority (`ICC_CTLR_EL1.EOImode == 1`).
pub fn gic_eoi_mode_split() -> bool {
    super::sysreg::ICC_CTLR.is_set(super::sysreg::ICC_CTLR_EL1::EOImode)
}

/// Sets the physical CPU interface's EOI mode.
pub fn set_gic_eoi_mode_split(split: bool) {
    use super::sysreg::{ICC_CTLR, ICC_CTLR_EL1};
    let value = ICC_CTLR.get() & !(1 << 1);
    ICC_CTLR.set(
        value
            | if split {
                ICC_CTLR_EL1::EOImode::SET.value
            } else {
                0
            },
    );
}

/// Deactivates interrupt `intid` (`ICC_DIR_EL1`).
pub fn deactivate_interrupt(intid: u32) {
    use super::sysreg::{ICC_DIR, ICC_DIR_EL1};
    ICC_DIR.write(ICC_DIR_EL1::INTID.val(intid as u64));
}

/// Sets the physical priority mask, with `priority` as the distributor's
/// priorities are written (see [`gic_cpu_interface_init`]).
pub fn set_priority_mask(priority: u8) {
    let priority = if SHIFT_PRIORITY_MASK.load(Ordering::Relaxed) {
        0x80 | priority >> 1
    } else {
        priority
    };
    ICC_PMR.write(ICC_PMR_EL1::Priority.val(priority as u64));
}

/// The physical running priority, as the distributor's priorities are
/// written (0xff when idle; see [`gic_cpu_interface_init`]).
pub fn running_priority() -> u8 {
    use super::sysreg::{ICC_RPR, ICC_RPR_EL1};
    let running = ICC_RPR.read(ICC_RPR_EL1::Priority) as u8;
    if SHIFT_PRIORITY_MASK.load(Ordering::Relaxed) && running != IDLE_PRIORITY {
        running << 1
    } else {
        running
    }
}

/// `ESR_EL2` alone (the short trap paths need nothing else).
pub fn exception_syndrome() -> u64 {
    ESR_EL2.get()
}

/// Writes a prepared `ICC_SGI1R_EL1` value (see `vgic::SgiRoutes`).
pub fn write_sgi1r(value: u64) {
    barrier::dsb(barrier::ISH);
    super::sysreg::ICC_SGI1R.set(value);
}

/// Sends Group 1 SGI `intid` to the core with affinity `mpidr`.
pub fn send_group1_sgi(intid: u32, mpidr: u64) {
    barrier::dsb(barrier::ISH);
    super::sysreg::ICC_SGI1R.write(sgi_target(intid, mpidr));
    barrier::isb(barrier::SY);
}

fn sgi_target(
    intid: u32,
    mpidr: u64,
) -> tock_registers::fields::FieldValue<u64, ICC_SGIR_EL1::Register> {
    ICC_SGIR_EL1::Aff3.val((mpidr >> 32) & 0xff)
        + ICC_SGIR_EL1::Aff2.val((mpidr >> 16) & 0xff)
        + ICC_SGIR_EL1::Aff1.val((mpidr >> 8) & 0xff)
        + ICC_SGIR_EL1::INTID.val(intid as u64)
        + ICC_SGIR_EL1::TargetList.val(1 << (mpidr & 0xf))
}

/// Sends Group 0 SGI `intid` to the core with affinity `mpidr`.
pub fn send_group0_sgi(intid: u32, mpidr: u64) {
    barrier::dsb(barrier::ISH);
    ICC_SGI0R.write(sgi_target(intid, mpidr));
    barrier::isb(barrier::SY);
}

/// Stops this core for good (interrupts masked, WFI forever).
pub fn halt() -> ! {
    loop {
        aarch64_cpu::asm::wfi();
    }
}
