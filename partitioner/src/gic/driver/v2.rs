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

use super::super::{CpuInterface, Distributor, GICC_CTLR, GICD_SGIR, GICD_TYPER_V2, KICK_SGI};
use super::{distributor, CELL_PRIORITY, KICK_PRIORITY};
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
            gicc.dir.set(iar);
        }
    }
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
