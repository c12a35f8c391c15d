//! Virtualized delivery at run time (board only): what EL2 does with a
//! physical interrupt on a core of a cell whose interrupts are
//! virtualized ([`super::lists`] holds the rules it follows). A GICv3's
//! virtual interface is system registers (`arch`); a GICv2's is
//! memory-mapped (`GICH`, `gic::driver::v2`), its list registers read and
//! written in the GICv3 layout ([`super::lists::v2`]), so everything here
//! is the same for both.

use super::lists::{self, Waiting};
use super::{is_partitioners, partitioners_private, unsqueeze_priority};
use crate::arch;
use crate::gic::driver::v2;
use crate::gic::MAX_INTID;
use crate::runtime::machine::MAX_RUNTIME_CPUS;
use crate::runtime::sync::SpinLock;
use bsp::{Board, GicVersion, Intid, FIRST_PPI};
use core::sync::atomic::{AtomicU32, Ordering};

/// One bit per core (its index) of a virtualized cell on a GICv2, whose
/// IRQs reach EL2 unacknowledged (`boot.S`'s `virtual_irq` knows only
/// the GICv3's system registers): [`acknowledge_v2`] takes them.
static MEMORY_MAPPED: AtomicU32 = AtomicU32::new(0);

/// Marks core `cpu` as running a cell whose interrupts are virtualized
/// (on a GICv3, with the partitioner's own PPIs and SPI for `boot.S`:
/// [`is_partitioners`]).
pub fn mark(board: &Board, cpu: usize) {
    match board.gic.version {
        GicVersion::V3 => {
            arch::mark_virtualized_core(cpu, partitioners_private(board), board.console.irq)
        }
        GicVersion::V2 => {
            MEMORY_MAPPED.fetch_or(1 << (cpu % 32), Ordering::Release);
        }
    }
}

/// Whether core `cpu` runs a cell whose interrupts are virtualized.
pub fn is_virtualized(cpu: usize) -> bool {
    arch::is_virtualized_core(cpu) || is_memory_mapped(cpu)
}

/// Whether core `cpu` runs a virtualized cell on a GICv2.
pub fn is_memory_mapped(cpu: usize) -> bool {
    MEMORY_MAPPED.load(Ordering::Acquire) & 1 << (cpu % 32) != 0
}

/// Turns the virtual interface on for this core's cell and sends its
/// physical IRQs to EL2.
pub fn enter(board: &Board) {
    match board.gic.version {
        GicVersion::V3 => arch::virtualize_interrupts(),
        GicVersion::V2 => {
            v2::virtualize(board);
            arch::route_irqs_to_el2();
        }
    }
}

/// On a GICv2: acknowledges the next physical interrupt that reached EL2
/// (`GICC_IAR`, an SGI's source CPU with it) and the running priority it
/// brought, for [`take`].
pub fn acknowledge_v2(board: &Board) -> Option<(u32, u8)> {
    let iar = v2::acknowledge(board)?;
    Some((iar, v2::running_priority(board)))
}

/// The GIC's virtual interface and physical CPU interface, whichever the
/// board has.
mod hw {
    use super::*;

    pub fn list_registers(board: &Board) -> usize {
        match board.gic.version {
            GicVersion::V3 => arch::list_registers(),
            GicVersion::V2 => v2::list_registers(board),
        }
    }

    pub fn empty_list_registers(board: &Board) -> u64 {
        match board.gic.version {
            GicVersion::V3 => arch::empty_list_registers(),
            GicVersion::V2 => v2::empty_list_registers(board),
        }
    }

    pub fn read_list_register(board: &Board, n: usize) -> u64 {
        match board.gic.version {
            GicVersion::V3 => arch::read_list_register(n),
            GicVersion::V2 => v2::read_list_register(board, n),
        }
    }

    pub fn write_list_register(board: &Board, n: usize, value: u64) {
        match board.gic.version {
            GicVersion::V3 => arch::write_list_register(n, value),
            GicVersion::V2 => v2::write_list_register(board, n, value),
        }
    }

    pub fn set_underflow_interrupt(board: &Board, on: bool) {
        match board.gic.version {
            GicVersion::V3 => arch::set_underflow_interrupt(on),
            GicVersion::V2 => v2::set_underflow_interrupt(board, on),
        }
    }

    /// `ack` is what acknowledging returned (a GICv2's `GICC_IAR`
    /// carries an SGI's source CPU).
    pub fn drop_priority(board: &Board, ack: u32) {
        match board.gic.version {
            GicVersion::V3 => arch::drop_priority(ack),
            GicVersion::V2 => v2::drop_priority(board, ack),
        }
    }

    pub fn deactivate(board: &Board, ack: u32) {
        match board.gic.version {
            GicVersion::V3 => arch::deactivate_interrupt(ack),
            GicVersion::V2 => v2::deactivate(board, ack),
        }
    }
}

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

/// Handles the physical interrupt acknowledged as `ack` (its INTID; on a
/// GICv2 the whole `GICC_IAR`), which brought core `cpu` to EL2 at running
/// priority `running` (`boot.S`'s `virtual_irq` lists the common case
/// itself on a GICv3): lists it for the cell, unless it is the
/// partitioner's own.
pub fn take(board: &Board, cpu: usize, ack: u32, running: u8) -> Taken {
    let intid = match board.gic.version {
        GicVersion::V3 => ack,
        GicVersion::V2 => ack & 0x3ff,
    };
    if intid >= MAX_INTID {
        return Taken::Nothing;
    }
    if intid == board.gic.maintenance_irq {
        hw::drop_priority(board, ack);
        hw::deactivate(board, ack);
        refill(board, cpu);
        return Taken::Cell;
    }
    if is_partitioners(board, intid) {
        return Taken::Partitioner(ack);
    }
    hw::drop_priority(board, ack);
    if intid < FIRST_PPI {
        // An SGI is listed as a purely virtual interrupt: done with on
        // the GIC at once.
        hw::deactivate(board, ack);
    }
    list(board, cpu, intid, unsqueeze_priority(running));
    Taken::Cell
}

/// Lists `intid` at `priority` for core `cpu`'s cell: in an empty list
/// register, or onto a listed SGI of the same INTID that the cell still
/// handles, or else waiting for the underflow maintenance interrupt.
fn list(board: &Board, cpu: usize, intid: Intid, priority: u8) {
    let count = hw::list_registers(board);
    let empty = hw::empty_list_registers(board);
    // Only an SGI can be listed already (a PPI or SPI stays active on the
    // GIC until the cell ends it, and cannot come again before), and only
    // in a list register that is not empty.
    if intid < FIRST_PPI {
        let mut occupied = lists::occupied(empty, count);
        while occupied != 0 {
            let n = occupied.trailing_zeros() as usize;
            occupied &= occupied - 1;
            let value = hw::read_list_register(board, n);
            if lists::decode(value).is_some_and(|l| l.intid == intid) {
                hw::write_list_register(board, n, lists::with_pending(value));
                return;
            }
        }
    }
    match lists::first_empty(empty, count) {
        Some(n) => hw::write_list_register(board, n, lists::entry(intid, priority)),
        None => {
            if let Some(waiting) = WAITING.get(cpu) {
                waiting.lock().insert(intid, priority);
                hw::set_underflow_interrupt(board, true);
            }
        }
    }
}

/// Lists what waits on core `cpu` while list registers are free; the
/// underflow interrupt stays on while anything still waits.
fn refill(board: &Board, cpu: usize) {
    let Some(waiting) = WAITING.get(cpu) else {
        return;
    };
    let count = hw::list_registers(board);
    let mut waiting = waiting.lock();
    while lists::first_empty(hw::empty_list_registers(board), count).is_some() {
        let Some((intid, priority)) = waiting.take_first() else {
            break;
        };
        list(board, cpu, intid, priority);
    }
    hw::set_underflow_interrupt(board, !waiting.is_empty());
}

/// Core `cpu` leaves its virtualized cell: every physical interrupt the
/// cell had listed or waiting is deactivated (the cell will never end
/// it), and the list registers are emptied.
pub fn leave(board: &Board, cpu: usize) {
    for n in 0..hw::list_registers(board) {
        if let Some(physical) =
            lists::decode(hw::read_list_register(board, n)).and_then(|l| l.physical)
        {
            hw::deactivate(board, physical);
        }
        hw::write_list_register(board, n, 0);
    }
    if let Some(waiting) = WAITING.get(cpu) {
        let mut waiting = waiting.lock();
        while let Some((intid, _)) = waiting.take_first() {
            if intid >= FIRST_PPI {
                hw::deactivate(board, intid);
            }
        }
    }
    hw::set_underflow_interrupt(board, false);
    if board.gic.version == GicVersion::V2 {
        v2::devirtualize(board);
    }
}
