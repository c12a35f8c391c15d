//! Each cell's watchdog at run time: its SP805 state, armed when the cell
//! starts and dropped when it stops, petted through the cell's trapped
//! accesses on its own cores, and looked at by the housekeeping core
//! (`runtime::housekeeping`), whose timer fires at the earliest deadline.
//! Nothing of it ever runs on a core of another cell.

use super::Sp805;
use crate::arch;
use crate::runtime::machine::{cell_of, try_machine};
use crate::runtime::sync::SpinLock;
use bulkhead_config::MAX_CELLS;

/// Each cell's watchdog while the cell runs.
static WATCHDOGS: [SpinLock<Option<Sp805>>; MAX_CELLS] = [const { SpinLock::new(None) }; MAX_CELLS];

fn counter_hz() -> u64 {
    let board_hz = try_machine().map_or(0, |m| m.board.counter_hz);
    arch::counter_frequency(board_hz)
}

/// Emulates one access of `cpu`'s cell to its watchdog at `offset`.
/// Returns the value read, for loads.
pub fn access(cpu: usize, offset: u64, write: Option<u32>) -> u32 {
    let Some((index, _)) = cell_of(cpu) else {
        return 0;
    };
    let Some(slot) = WATCHDOGS.get(index) else {
        return 0;
    };
    let (now, hz) = (arch::counter(), counter_hz());
    let mut slot = slot.lock();
    let Some(watchdog) = slot.as_mut() else {
        return 0;
    };
    match write {
        Some(value) => {
            watchdog.write(offset, value, now, hz);
            0
        }
        None => watchdog.read(offset, now, hz),
    }
}

/// Arms cell `index`'s watchdog, if its config gives it one, for a start
/// of the cell: counting its timeout from now.
pub fn arm(index: usize) {
    let Some(timeout_ms) = try_machine()
        .and_then(|m| m.system.cells.get(index))
        .and_then(|c| c.watchdog)
        .map(|w| w.timeout_ms)
    else {
        return;
    };
    if let Some(slot) = WATCHDOGS.get(index) {
        *slot.lock() = Some(Sp805::armed(timeout_ms, arch::counter()));
    }
}

/// Drops cell `index`'s watchdog: the cell stops.
pub fn disarm(index: usize) {
    if let Some(slot) = WATCHDOGS.get(index) {
        *slot.lock() = None;
    }
}

/// The earliest moment (counter value) a running cell's watchdog resets it.
pub fn next_deadline() -> Option<u64> {
    let hz = counter_hz();
    WATCHDOGS
        .iter()
        .filter_map(|slot| slot.lock().as_ref().and_then(|w| w.reset_deadline(hz)))
        .min()
}

/// A watchdog that expired.
pub struct Expired {
    /// The cell.
    pub cell: usize,
    /// Counter value of its last pet.
    pub last_pet: u64,
    /// Its timeout as the cell last set it, in ms.
    pub timeout_ms: u64,
}

/// A cell whose watchdog expired by counter value `now`; its watchdog is
/// dropped (the caller stops the cell).
pub fn take_expired(now: u64) -> Option<Expired> {
    let hz = counter_hz();
    WATCHDOGS.iter().enumerate().find_map(|(cell, slot)| {
        let mut slot = slot.lock();
        let watchdog = slot.as_ref()?;
        let expired = watchdog.reset_deadline(hz).is_some_and(|d| now >= d);
        let found = Expired {
            cell,
            last_pet: watchdog.last_pet(),
            timeout_ms: watchdog.timeout_ms(),
        };
        expired.then(|| {
            *slot = None;
            found
        })
    })
}
