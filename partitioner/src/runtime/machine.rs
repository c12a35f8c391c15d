//! What the runtime knows about the system, set once at boot, and the
//! little state every part of it reads: whether a cell runs, and how many
//! more warnings a cell may cause. The cells' life cycle
//! ([`super::cell`]) writes that state; the emulated devices
//! (`crate::devices::*::runtime`) only read it, so they never depend on
//! the life cycle.

use super::sync::Once;
use crate::arch;
use bulkhead_config::{Cell, System, MAX_CELLS};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Most cores the runtime manages (must not exceed `MAX_CPUS` in link.ld).
pub const MAX_RUNTIME_CPUS: usize = 8;

/// What the runtime knows about the system, set once at boot.
pub struct Machine {
    /// The board.
    pub board: &'static bsp::Board,
    /// The validated config.
    pub system: System,
    /// Address of the config blob (image offsets count from here).
    pub blob_base: u64,
    /// Length of blob plus payloads.
    pub blob_total: u64,
}

static MACHINE: Once<Machine> = Once::new();

/// Records the machine description; the boot core calls this once.
pub fn install(machine: Machine) -> &'static Machine {
    match MACHINE.set(machine) {
        Ok(m) => m,
        Err(_) => fatal("machine installed twice"),
    }
}

/// The machine description, once installed.
pub fn try_machine() -> Option<&'static Machine> {
    MACHINE.get()
}

/// The machine description; only for code that runs after boot installed
/// it (a cell runs, or a core parked).
pub fn machine() -> &'static Machine {
    match MACHINE.get() {
        Some(m) => m,
        None => fatal("no machine description"),
    }
}

/// A partitioner bug: logs it and halts this core.
pub fn fatal(what: &str) -> ! {
    defmt::error!("partitioner bug: {=str}; halting this core", what);
    arch::halt()
}

/// The cell that owns physical CPU `cpu`, and its index.
pub fn cell_of(cpu: usize) -> Option<(usize, &'static Cell)> {
    try_machine()?
        .system
        .cells
        .iter()
        .enumerate()
        .find(|(_, c)| c.cpus.contains(cpu))
}

/// Whether each cell runs (between its start and its stop).
static RUNNING: [AtomicBool; MAX_CELLS] = [const { AtomicBool::new(false) }; MAX_CELLS];
/// Guest-caused warnings logged since each cell last started.
static WARNINGS: [AtomicU32; MAX_CELLS] = [const { AtomicU32::new(0) }; MAX_CELLS];

/// Whether cell `index` is running (not stopping or stopped).
pub fn is_running(index: usize) -> bool {
    RUNNING
        .get(index)
        .is_some_and(|r| r.load(Ordering::Acquire))
}

/// Marks cell `index` running, with a fresh warning allowance: a
/// restarted cell's warnings are not silenced by its previous life's.
/// The life cycle calls this under the cell's control lock.
pub fn mark_running(index: usize) {
    if let (Some(running), Some(warnings)) = (RUNNING.get(index), WARNINGS.get(index)) {
        warnings.store(0, Ordering::Relaxed);
        running.store(true, Ordering::Release);
    }
}

/// Marks cell `index` stopped; true for the caller that found it running
/// (of several simultaneous stops, only that one acts).
pub fn mark_stopped(index: usize) -> bool {
    RUNNING.get(index).is_some_and(|r| {
        r.compare_exchange(true, false, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    })
}

/// Whether another warning caused by cell `index` may be logged: the
/// first 16 of each start of the cell are, then one note, then none until
/// it starts again, so a cell cannot flood the shared console with the
/// partitioner's own messages.
pub fn guest_warning_allowed(index: usize, name: &str) -> bool {
    const LIMIT: u32 = 16;
    let Some(warnings) = WARNINGS.get(index) else {
        return false;
    };
    let n = warnings.fetch_add(1, Ordering::Relaxed);
    if n == LIMIT {
        defmt::warn!("cell {=str}: further warnings suppressed", name);
    }
    n < LIMIT
}
