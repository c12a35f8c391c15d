//! The partitioner's own work while cells run, on the one housekeeping
//! core ([`bulkhead_config::housekeeping`]: never a real-time cell's):
//! EL2's timer there fires for the periodic status (every core's exit
//! counts, every [`STATUS_PERIOD_S`] seconds) and at the earliest watchdog
//! deadline of any cell, and the board UART's receive interrupt
//! (`console::receive`) arrives there too. The timer keeps running while
//! the core is parked (its own cell stopped), so the other cells'
//! watchdogs are still served.
//!
//! In the latency lab the quantum has EL2's timer on every core that is
//! not real-time, and the rules refuse a watchdog there; the status still
//! comes, from the quantum's ticks on the housekeeping core
//! ([`status_if_due`]).

use super::cell::{self, StopReason};
use super::exits;
use super::machine::{cell_of, machine};
use super::BOARD;
use crate::arch;
use crate::devices::watchdog;
use crate::gic::driver as gic;
use bsp::ControlPath;
use bulkhead_config::housekeeping::{self, Delivery, Housekeeper};
use bulkhead_config::{FaultPolicy, Watchdog};
use core::sync::atomic::{AtomicU64, Ordering};

/// How often the housekeeping core logs the exit counts, in counter
/// seconds.
pub const STATUS_PERIOD_S: u64 = 10;

/// Counter value at which the next status is due (0: not started).
static STATUS_DUE: AtomicU64 = AtomicU64::new(0);

/// The core that takes EL2's own interrupts while cells run, chosen as
/// the host tool's plan shows it, with the control path the GIC allowed
/// at boot.
pub fn housekeeper() -> Option<Housekeeper> {
    housekeeping::housekeeper(
        &machine().system,
        gic::control_path() == ControlPath::Group0Fiq,
    )
}

/// Whether core `cpu` runs EL2's timer: the housekeeping core, outside
/// the latency lab.
pub fn is_housekeeper(cpu: usize) -> bool {
    machine().system.icount_quantum_ns == 0 && housekeeper().is_some_and(|h| h.cpu == cpu)
}

/// Starts EL2's timer on this core, the housekeeping core `cpu`, as it
/// enters its cell or parks: its interrupt in the group that reaches EL2
/// here, armed for the next status or watchdog deadline.
pub fn start_timer(cpu: usize) {
    let Some(keeper) = housekeeper().filter(|h| h.cpu == cpu) else {
        return;
    };
    match keeper.delivery {
        Delivery::Irq => gic::enable_el2_irq(BOARD, arch::mpidr(), BOARD.timer.hypervisor),
        Delivery::Fiq => {
            gic::enable_el2_timer(BOARD, arch::mpidr());
        }
    }
    if STATUS_DUE.load(Ordering::Relaxed) == 0 {
        status(arch::counter());
    }
    arm_next();
}

/// The next status after counter value `now`.
fn status_after(now: u64) -> u64 {
    let hz = arch::counter_frequency(BOARD.counter_hz);
    now.saturating_add(STATUS_PERIOD_S.saturating_mul(hz))
}

/// Arms EL2's timer for the earliest of the next status and the
/// watchdogs' deadlines. With watchdogs in the config it also fires at
/// least every [`Watchdog::MIN_TIMEOUT_MS`]: a watchdog armed or
/// shortened since (a cell starting, a cell setting a shorter timeout) is
/// seen in time, for it expires no sooner than that.
fn arm_next() {
    let now = arch::counter();
    let status = STATUS_DUE.load(Ordering::Relaxed);
    let mut due = watchdog::runtime::next_deadline().map_or(status, |w| w.min(status));
    if machine().system.cells.iter().any(|c| c.watchdog.is_some()) {
        let hz = arch::counter_frequency(BOARD.counter_hz);
        let poll = hz.saturating_mul(u64::from(Watchdog::MIN_TIMEOUT_MS)) / 1000;
        due = due.min(now.saturating_add(poll));
    }
    arch::arm_el2_timer_at(due);
}

/// Logs the periodic status if it is due, on the housekeeping core `cpu`
/// (nothing on any other core): for the latency lab, whose quantum ticks
/// there instead of the housekeeping timer.
pub fn status_if_due(cpu: usize) {
    // Every quantum tick of every core comes here: the counter first, the
    // housekeeping core only once a status may be due.
    let now = arch::counter();
    let due = STATUS_DUE.load(Ordering::Relaxed);
    if (due != 0 && now < due) || housekeeper().is_none_or(|h| h.cpu != cpu) {
        return;
    }
    status(now);
}

/// Logs the status at counter value `now` if it is due, and schedules
/// the next; only schedules the first.
fn status(now: u64) {
    match STATUS_DUE.load(Ordering::Relaxed) {
        0 => {}
        due if now >= due => exits::log(BOARD.cpus.len()),
        _ => return,
    }
    STATUS_DUE.store(status_after(now), Ordering::Relaxed);
}

/// EL2's timer fired on the housekeeping core `cpu`, which was running
/// its cell (`in_cell`) or parked: the status if due, and every watchdog
/// that expired, each logged with how long its cell went unpetted. Another
/// cell is stopped (and restarted) from here; an expiry of `cpu`'s own
/// running cell is returned, for the caller to act on once it has ended
/// the interrupt (`stop_cell` does not return).
pub fn tick(cpu: usize, in_cell: bool) -> Option<(usize, FaultPolicy)> {
    let now = arch::counter();
    status(now);
    let own = cell_of(cpu).map(|(index, _)| index).filter(|_| in_cell);
    let mut own_expiry = None;
    let hz = arch::counter_frequency(BOARD.counter_hz).max(1);
    while let Some(expired) = watchdog::runtime::take_expired(now) {
        let index = expired.cell;
        let Some(cell) = machine().system.cells.get(index) else {
            continue;
        };
        let Some(config) = cell.watchdog else {
            continue;
        };
        let quiet_ms = now.saturating_sub(expired.last_pet).saturating_mul(1000) / hz;
        defmt::warn!(
            "cell {=str}: watchdog expired, not petted for {=u64} ms (timeout {=u64} ms)",
            cell.name.as_str(),
            quiet_ms,
            expired.timeout_ms
        );
        if own == Some(index) {
            own_expiry = Some((index, config.action));
        } else {
            cell::stop_from_outside(
                index,
                StopReason::Watchdog,
                config.action == FaultPolicy::Restart,
            );
        }
    }
    arm_next();
    own_expiry
}
