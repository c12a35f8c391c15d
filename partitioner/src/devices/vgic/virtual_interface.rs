//! Virtualized delivery at run time (board only, GICv3): what EL2 does
//! with a physical interrupt on a core of a cell whose interrupts are
//! virtualized ([`super::lists`] holds the rules it follows).

use super::lists::{self, Waiting};
use super::{is_partitioners, unsqueeze_priority};
use crate::arch;
use crate::gic::MAX_INTID;
use crate::runtime::machine::MAX_RUNTIME_CPUS;
use crate::runtime::sync::SpinLock;
use bsp::{Board, Intid, FIRST_PPI};

/// What each core's cell has that waits for a list register. Only its own
/// core touches it; the lock is never contended.
static WAITING: [SpinLock<Waiting>; MAX_RUNTIME_CPUS] =
    [const { SpinLock::new(Waiting::new()) }; MAX_RUNTIME_CPUS];

/// What an interrupt that reached EL2 on a virtualized core was.
pub enum Taken {
    /// The cell's: listed for it (or waiting for a list register).
    Cell,
    /// The partitioner's own (the kick, its timer, the console UART's; see
    /// [`is_partitioners`]): acknowledged, for the
    /// caller to handle and end ([`crate::gic::driver::end`]).
    Partitioner(u32),
    /// Nothing (spurious).
    Nothing,
}

/// Handles physical interrupt `intid`, which brought core `cpu` to EL2
/// and was acknowledged there at running priority `running`
/// (`boot.S`'s `virtual_irq` lists the common case itself): lists it for
/// the cell, unless it is the partitioner's own.
pub fn take(board: &Board, cpu: usize, intid: Intid, running: u8) -> Taken {
    if intid >= MAX_INTID {
        return Taken::Nothing;
    }
    if intid == board.gic.maintenance_irq {
        arch::drop_priority(intid);
        arch::deactivate_interrupt(intid);
        refill(cpu);
        return Taken::Cell;
    }
    if is_partitioners(board, intid) {
        return Taken::Partitioner(intid);
    }
    arch::drop_priority(intid);
    if intid < FIRST_PPI {
        // An SGI is listed as a purely virtual interrupt: done with on
        // the GIC at once.
        arch::deactivate_interrupt(intid);
    }
    list(cpu, intid, unsqueeze_priority(running));
    Taken::Cell
}

/// Lists `intid` at `priority` for core `cpu`'s cell: in an empty list
/// register, or onto a listed SGI of the same INTID that the cell still
/// handles, or else waiting for the underflow maintenance interrupt.
fn list(cpu: usize, intid: Intid, priority: u8) {
    let count = arch::list_registers();
    let empty = arch::empty_list_registers();
    // Only an SGI can be listed already (a PPI or SPI stays active on the
    // GIC until the cell ends it, and cannot come again before), and only
    // in a list register that is not empty.
    if intid < FIRST_PPI {
        let mut occupied = lists::occupied(empty, count);
        while occupied != 0 {
            let n = occupied.trailing_zeros() as usize;
            occupied &= occupied - 1;
            let value = arch::read_list_register(n);
            if lists::decode(value).is_some_and(|l| l.intid == intid) {
                arch::write_list_register(n, lists::with_pending(value));
                return;
            }
        }
    }
    match lists::first_empty(empty, count) {
        Some(n) => arch::write_list_register(n, lists::entry(intid, priority)),
        None => {
            if let Some(waiting) = WAITING.get(cpu) {
                waiting.lock().insert(intid, priority);
                arch::set_underflow_interrupt(true);
            }
        }
    }
}

/// Lists what waits on core `cpu` while list registers are free; the
/// underflow interrupt stays on while anything still waits.
fn refill(cpu: usize) {
    let Some(waiting) = WAITING.get(cpu) else {
        return;
    };
    let count = arch::list_registers();
    let mut waiting = waiting.lock();
    while lists::first_empty(arch::empty_list_registers(), count).is_some() {
        let Some((intid, priority)) = waiting.take_first() else {
            break;
        };
        list(cpu, intid, priority);
    }
    arch::set_underflow_interrupt(!waiting.is_empty());
}

/// Core `cpu` leaves its virtualized cell: every physical interrupt the
/// cell had listed or waiting is deactivated (the cell will never end
/// it), and the list registers are emptied.
pub fn leave(cpu: usize) {
    for n in 0..arch::list_registers() {
        if let Some(physical) = lists::decode(arch::read_list_register(n)).and_then(|l| l.physical)
        {
            arch::deactivate_interrupt(physical);
        }
        arch::write_list_register(n, 0);
    }
    if let Some(waiting) = WAITING.get(cpu) {
        let mut waiting = waiting.lock();
        while let Some((intid, _)) = waiting.take_first() {
            if intid >= FIRST_PPI {
                arch::deactivate_interrupt(intid);
            }
        }
    }
    arch::set_underflow_interrupt(false);
}
