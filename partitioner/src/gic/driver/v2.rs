//! The GICv2 (GIC-400) as the partitioner drives it: one distributor with
//! the registers of INTIDs 0-31 banked per core, and a memory-mapped CPU
//! interface per core ([`CpuInterface`]), which cells reach directly.
//!
//! Everything runs in the one group the Non-secure side has: Group 0 when
//! the GIC has one security state (which is what Linux uses there, with
//! `GICC_CTLR.FIQEn` clear, so it is signalled as IRQ), Group 1 when it has
//! two (firmware, or QEMU booting a kernel in Non-secure state, puts every
//! interrupt there; Non-secure writes to `GICD_IGROUPR` are ignored). Either
//! way the Non-secure `GICC_CTLR` enables it with bit 0, and the control
//! path is always `revoke-stage2`: a cell owns its core's CPU interface,
//! including whether Group 0 is an FIQ, so EL2 has no interrupt of its own
//! that a cell cannot mask (docs/architecture.md, "GICv2").
//!
//! SGIs cannot be disabled on a GIC-400 (their enable bits read as one),
//! so the kick is kept away from a running cell by the core itself, which
//! drops any kick still pending before it enters its cell; while the cell
//! runs, only a stop kicks its cores, after revoking its stage 2.

use super::super::{
    CpuInterface, Distributor, HypervisorInterface, GICC_CTLR, GICD_SGIR, GICD_TYPER_V2, KICK_SGI,
};
use super::{distributor, CELL_PRIORITY, EL2_PRIORITY, KICK_PRIORITY};
use crate::devices::vgic::lists;
use crate::runtime::machine::MAX_RUNTIME_CPUS;
use bsp::Board;
use core::sync::atomic::{AtomicU8, Ordering};
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

/// The running priority of an idle CPU interface.
const IDLE_PRIORITY: u32 = 0xff;

/// Each core's CPU interface number, as a one-bit mask (what
/// `GICD_ITARGETSR` and `GICD_SGIR` name), learnt by the core itself.
static INTERFACE: [AtomicU8; MAX_RUNTIME_CPUS] = [const { AtomicU8::new(0) }; MAX_RUNTIME_CPUS];

/// `GICC_BPR` of each core as it came out of reset, for cells to start
/// with.
static PRISTINE_BPR: [AtomicU8; MAX_RUNTIME_CPUS] = [const { AtomicU8::new(0) }; MAX_RUNTIME_CPUS];

/// This core's CPU interface.
fn cpu_interface(board: &Board) -> Option<&'static CpuInterface> {
    let window = board.gic.cpu_interface?;
    // SAFETY: the board's GICC window is mapped as device memory at EL2;
    // each core sees its own banked copy at the same address.
    Some(unsafe { &*(window.base as *const CpuInterface) })
}

/// The CPU interface mask of board CPU `cpu` (0 until that core has run
/// [`init_cpu`]).
pub fn interface_of(cpu: usize) -> u8 {
    INTERFACE
        .get(cpu)
        .map_or(0, |mask| mask.load(Ordering::Relaxed))
}

/// Sets up the distributor: every SPI disabled, at a cell priority, routed
/// nowhere, and in the Non-secure side's group; both groups enabled.
pub fn init_distributor(board: &Board) {
    let gicd = distributor(board);
    gicd.ctlr.set(0);
    let one_security_state = !two_security_states(gicd);
    let registers = interrupt_registers(gicd);
    for n in 1..registers {
        gicd.icenabler[n].set(u32::MAX);
        if one_security_state {
            gicd.igroupr[n].set(0);
        }
    }
    for intid in 32..(registers * 32).min(1020) {
        gicd.ipriorityr[intid].set(CELL_PRIORITY);
        gicd.itargetsr[intid].set(0);
    }
    // Bit 0 enables Group 0 (one security state) or, in the Non-secure
    // view, Group 1; bit 1 is Group 1 with one security state and ignored
    // otherwise.
    gicd.ctlr.set(0b11);
}

/// Configures this core's banked interrupts and CPU interface: its PPIs
/// disabled, everything in the Non-secure side's group at a cell priority
/// but the kick, which is at the top; the interface enabled, EOI mode 0,
/// nothing masked. Learns the core's CPU interface number. Returns false
/// when the board has no CPU interface or the core has no number.
pub fn init_cpu(board: &Board, cpu: usize) -> bool {
    let gicd = distributor(board);
    let Some(gicc) = cpu_interface(board) else {
        return false;
    };
    // PPIs only: a GIC-400's SGIs are always enabled.
    gicd.icenabler[0].set(0xffff_0000);
    if !two_security_states(gicd) {
        gicd.igroupr[0].set(0);
    }
    for intid in 0..32 {
        gicd.ipriorityr[intid].set(CELL_PRIORITY);
    }
    gicd.ipriorityr[KICK_SGI as usize].set(KICK_PRIORITY);
    // The banked ITARGETSR0..7 read as this core's own interface, except
    // on a GIC with one CPU interface, where every ITARGETSR is RAZ/WI and
    // the one interface is number 0.
    let mask = match gicd.itargetsr[0].get() {
        0 if cpu_interfaces(gicd) == 1 => 1,
        mask => mask,
    };
    if let Some(slot) = INTERFACE.get(cpu) {
        slot.store(mask, Ordering::Relaxed);
    }
    if let Some(slot) = PRISTINE_BPR.get(cpu) {
        slot.store(gicc.bpr.get() as u8, Ordering::Relaxed);
    }
    gicc.pmr.set(0xff);
    gicc.ctlr.write(GICC_CTLR::Enable::SET);
    mask != 0
}

/// Sends the kick SGI to board CPU `cpu`.
pub fn send_kick(board: &Board, cpu: usize) {
    crate::arch::complete_memory_accesses();
    distributor(board).sgir.write(
        GICD_SGIR::TargetListFilter.val(0)
            + GICD_SGIR::CPUTargetList.val(u32::from(interface_of(cpu)))
            + GICD_SGIR::SGIINTID.val(KICK_SGI),
    );
}

/// Sends SGI `intid` to the CPU interfaces in `targets`.
pub fn send_sgi(board: &Board, intid: u32, targets: u8) {
    if targets == 0 {
        return;
    }
    crate::arch::complete_memory_accesses();
    distributor(board).sgir.write(
        GICD_SGIR::TargetListFilter.val(0)
            + GICD_SGIR::CPUTargetList.val(u32::from(targets))
            + GICD_SGIR::SGIINTID.val(intid),
    );
}

/// Drops every kick pending on this core, from any source, before it
/// enters a cell (a start's kick can land after the core found the
/// command in its mailbox).
pub fn drop_pending_kicks(board: &Board) {
    let register = (KICK_SGI / 4) as usize;
    let byte = KICK_SGI % 4;
    distributor(board).cpendsgir[register].set(0xff << (8 * byte));
}

/// Takes this core's CPU interface back from a cell that left it: no
/// active priority (dropped in EOI mode 1, as on GICv3: the Non-secure
/// view of the active priorities is not reliably writable), the kick not
/// active, EOI mode 0, the group enabled and the priority mask at `mask`.
pub fn take_interface(board: &Board, mask: u8) {
    let Some(gicc) = cpu_interface(board) else {
        return;
    };
    gicc.ctlr.modify(GICC_CTLR::EOImode::SET);
    for _ in 0..128 {
        if gicc.rpr.get() & 0xff == IDLE_PRIORITY {
            break;
        }
        // Any INTID of the group: in EOI mode 1 the write only drops the
        // highest active priority.
        gicc.eoir.set(0);
    }
    distributor(board).icactiver[0].set(1 << KICK_SGI);
    gicc.pmr.set(u32::from(mask));
    gicc.ctlr.write(GICC_CTLR::Enable::SET);
}

/// Acknowledges the highest-priority pending interrupt the mask lets
/// through: the whole `GICC_IAR` value (an SGI's source CPU with its
/// INTID), which ending it needs back.
pub fn acknowledge(board: &Board) -> Option<u32> {
    let iar = cpu_interface(board)?.iar.get();
    (iar & 0x3ff < 1020).then_some(iar)
}

/// Ends an interrupt [`acknowledge`] returned, whatever EOI mode the
/// interface is in.
pub fn end(board: &Board, iar: u32) {
    if let Some(gicc) = cpu_interface(board) {
        gicc.eoir.set(iar);
        if gicc.ctlr.is_set(GICC_CTLR::EOImode) {
            deactivate(board, iar);
        }
    }
}

/// Deactivates interrupt `iar` (a `GICC_IAR` value) on this core:
/// `GICC_DIR`, at the start of the CPU interface's second page
/// ([`bsp::Gic::gicv2_second_page`]: 64 KiB in where the SoC aliases each
/// page over 64 KiB, as the ZynqMP does).
pub fn deactivate(board: &Board, iar: u32) {
    if let Some(window) = board.gic.cpu_interface {
        let dir = bsp::Gic::gicv2_second_page(window) as *mut u32;
        // SAFETY: GICC_DIR of the board's GICC, mapped as device memory at
        // EL2 (the whole window); each core reaches its own banked copy.
        unsafe { core::ptr::write_volatile(dir, iar) };
    }
}

/// Drops the priority of interrupt `iar` without deactivating it: in EOI
/// mode 1, which a virtualized cell's core runs in at EL2.
pub fn drop_priority(board: &Board, iar: u32) {
    if let Some(gicc) = cpu_interface(board) {
        gicc.eoir.set(iar);
    }
}

/// The running priority of this core's CPU interface, as the
/// distributor's priorities are written (0xff when idle).
pub fn running_priority(board: &Board) -> u8 {
    cpu_interface(board).map_or(0xff, |gicc| gicc.rpr.get() as u8)
}

/// This core's virtual interface control (`GICH`).
fn hypervisor(board: &Board) -> Option<&'static HypervisorInterface> {
    let window = board.gic.hypervisor_interface?;
    // SAFETY: the board's GICH window is mapped as device memory at EL2
    // (and in no cell); each core sees its own banked copy.
    Some(unsafe { &*(window.base as *const HypervisorInterface) })
}

/// How many list registers this core's virtual interface has.
pub fn list_registers(board: &Board) -> usize {
    hypervisor(board).map_or(0, |gich| (gich.vtr.get() & 0x3f) as usize + 1)
}

/// The empty list registers, one bit each (`GICH_ELRSR0/1`).
pub fn empty_list_registers(board: &Board) -> u64 {
    hypervisor(board).map_or(0, |gich| {
        u64::from(gich.elrsr[0].get()) | u64::from(gich.elrsr[1].get()) << 32
    })
}

/// List register `n`, in the GICv3 layout ([`lists::v2`]).
pub fn read_list_register(board: &Board, n: usize) -> u64 {
    hypervisor(board)
        .and_then(|gich| gich.lr.get(n))
        .map_or(0, |lr| lists::v2::from_v2(lr.get()))
}

/// Writes list register `n` from `value` in the GICv3 layout.
pub fn write_list_register(board: &Board, n: usize, value: u64) {
    if let Some(lr) = hypervisor(board).and_then(|gich| gich.lr.get(n)) {
        lr.set(lists::v2::to_v2(value));
    }
}

/// `GICH_HCR.En`.
const HCR_EN: u32 = 1 << 0;
/// `GICH_HCR.UIE`: the maintenance interrupt while at most one list
/// register holds an interrupt.
const HCR_UIE: u32 = 1 << 1;

/// Turns the underflow maintenance interrupt on or off.
pub fn set_underflow_interrupt(board: &Board, on: bool) {
    if let Some(gich) = hypervisor(board) {
        gich.hcr.set(if on { HCR_EN | HCR_UIE } else { HCR_EN });
    }
}

/// Sets this core up for a cell whose interrupts are virtualized (the
/// caller routes IRQs to EL2): the virtual interface on, empty and as
/// after reset; the physical CPU interface EL2's, in EOI mode 1 (EL2 drops
/// an interrupt's priority, the cell's EOI of the listed interrupt
/// deactivates it), nothing masked.
pub fn virtualize(board: &Board) {
    if let Some(gich) = hypervisor(board) {
        gich.vmcr.set(0);
        gich.apr.set(0);
        for lr in gich.lr.iter().take(list_registers(board)) {
            lr.set(0);
        }
        gich.hcr.set(HCR_EN);
    }
    if let Some(gicc) = cpu_interface(board) {
        gicc.pmr.set(0xff);
        gicc.ctlr
            .write(GICC_CTLR::Enable::SET + GICC_CTLR::EOImode::SET);
    }
}

/// Turns this core's virtual interface off (its cell left).
pub fn devirtualize(board: &Board) {
    if let Some(gich) = hypervisor(board) {
        gich.hcr.set(0);
    }
}

/// Makes banked interrupt `intid` (0-31) of this core the partitioner's:
/// at its priority, enabled (a PPI; SGIs are always enabled).
pub fn enable_el2_private(board: &Board, intid: u32) {
    let gicd = distributor(board);
    if let Some(priority) = gicd.ipriorityr.get(intid as usize) {
        priority.set(EL2_PRIORITY);
        gicd.isenabler[0].set(1 << (intid % 32));
    }
}

/// Makes SPI `intid` the partitioner's, routed to board CPU `cpu`: at its
/// priority, enabled.
pub fn route_el2_spi(board: &Board, intid: u32, cpu: usize) {
    let gicd = distributor(board);
    let index = intid as usize;
    let (Some(priority), Some(target)) = (gicd.ipriorityr.get(index), gicd.itargetsr.get(index))
    else {
        return;
    };
    gicd.icenabler[index / 32].set(1 << (intid % 32));
    priority.set(EL2_PRIORITY);
    target.set(interface_of(cpu));
    gicd.isenabler[index / 32].set(1 << (intid % 32));
}

/// Whether the CPU interface, as the cell left it, would signal the kick:
/// the group enabled, and neither the priority mask nor an active priority
/// at or above the kick's. (A cell can set all three: its core's
/// interface page is mapped for it.)
pub fn could_signal_kick(board: &Board) -> bool {
    cpu_interface(board).is_some_and(|gicc| {
        let kick = u32::from(KICK_PRIORITY);
        gicc.ctlr.is_set(GICC_CTLR::Enable)
            && gicc.pmr.get() & 0xff > kick
            && gicc.rpr.get() & 0xff > kick
    })
}

/// Puts this core's CPU interface in the state a starting virtual CPU of
/// a cell finds: the group enabled or not (`enabled`), EOI mode 0, no FIQ,
/// the binary point as after reset, the priority mask at `mask`.
pub fn reset_for_cell(board: &Board, cpu: usize, enabled: bool, mask: u8) {
    if let Some(gicc) = cpu_interface(board) {
        let bpr = PRISTINE_BPR
            .get(cpu)
            .map_or(0, |b| b.load(Ordering::Relaxed));
        gicc.bpr.set(u32::from(bpr));
        gicc.pmr.set(u32::from(mask));
        gicc.ctlr
            .write(GICC_CTLR::Enable.val(enabled.into()) + GICC_CTLR::EOImode::CLEAR);
    }
}

/// Puts the interrupts 0-31 that a cell owns (`owned`, one bit per INTID)
/// on this core back to their reset state for a virtual CPU that starts:
/// disabled (PPIs), not pending, not active, at the default priority.
pub fn reset_private(board: &Board, owned: u32) {
    let gicd = distributor(board);
    gicd.icenabler[0].set(owned & 0xffff_0000);
    gicd.icpendr[0].set(owned & 0xffff_0000);
    gicd.icactiver[0].set(owned);
    for register in 0..4 {
        let sgis = (0..4).fold(0u32, |acc, byte| {
            if owned & 1 << (4 * register + byte) != 0 {
                acc | 0xff << (8 * byte)
            } else {
                acc
            }
        });
        if sgis != 0 {
            gicd.cpendsgir[register as usize].set(sgis);
        }
    }
    for intid in (0..32).filter(|i| owned & 1 << i != 0) {
        gicd.ipriorityr[intid].set(crate::devices::vgic::squeeze_priority(0xa0));
    }
}

/// Whether the GIC has the security extensions (`GICD_TYPER.SecurityExtn`
/// of a GICv2; the shared `Distributor` block types the register as a
/// GICv3's, where the bit is reserved).
fn two_security_states(gicd: &Distributor) -> bool {
    gicd.typer.get() & GICD_TYPER_V2::SecurityExtn::SET.value != 0
}

/// How many CPU interfaces the GIC has (`GICD_TYPER.CPUNumber` + 1).
fn cpu_interfaces(gicd: &Distributor) -> u32 {
    let field = GICD_TYPER_V2::CPUNumber;
    ((gicd.typer.get() >> field.shift) & field.mask) + 1
}

/// Registers of 32 interrupts the distributor implements.
fn interrupt_registers(gicd: &Distributor) -> usize {
    let lines = (gicd.typer.get() & GICD_TYPER_V2::ITLinesNumber::SET.value) as usize;
    (lines + 1).min(32)
}
