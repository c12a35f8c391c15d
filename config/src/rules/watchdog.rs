//! A cell's watchdog (`watchdog: { timeout_ms, action, base }`): an
//! emulated SP805 page in the cell's address space, a timeout the
//! emulation can count, and a core where the partitioner takes its own
//! timer interrupt while cells run, which is what notices an expiry
//! ([`crate::housekeeping`]).

use super::{CellField, CellUnderCheck, Location, Problem};
#[cfg(feature = "std")]
use crate::yaml::{explain::Explainer, show::hex_range, Diagnostic};
use crate::{housekeeping, Watchdog, PAGE_SIZE};
use bsp::ControlPath;

/// Cell `i`'s watchdog, if it has one.
pub(super) fn check_cell(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let Some(watchdog) = c.cell.watchdog else {
        return;
    };
    let at = c.at(CellField::Watchdog);
    if !(Watchdog::MIN_TIMEOUT_MS..=Watchdog::MAX_TIMEOUT_MS).contains(&watchdog.timeout_ms) {
        emit(at, Problem::WatchdogTimeout);
    }
    let window = watchdog.window();
    let board = c.board;
    let taken = !watchdog.base.is_multiple_of(PAGE_SIZE)
        || window.base.checked_add(PAGE_SIZE).is_none()
        || c.maps_over(&window, None)
        || c.cell.console.is_some_and(|k| k.window().overlaps(&window))
        || board.gic.windows().any(|w| w.overlaps(&window))
        || board.virtual_pci.is_some_and(|p| {
            [p.ecam, p.registers, p.memory]
                .iter()
                .any(|w| w.overlaps(&window))
        });
    if taken {
        emit(at, Problem::WatchdogPlace);
    }
    let group0_open = board.gic.control_path == ControlPath::Group0Fiq;
    if housekeeping::housekeeper(c.system, group0_open).is_none() {
        emit(at, Problem::WatchdogWithoutHousekeeper);
    }
    if c.system.icount_quantum_ns != 0 {
        emit(at, Problem::WatchdogInLatencyLab);
    }
}

/// Tells a problem with cell `cell`'s `watchdog`.
#[cfg(feature = "std")]
pub(crate) fn explain(x: &Explainer<'_>, cell: usize, problem: Problem) -> Option<Diagnostic> {
    let this = x.cell_name(cell);
    let path = format!("cells[{cell}].watchdog");
    let watchdog = x.system.cells.get(cell).and_then(|c| c.watchdog);
    Some(match problem {
        Problem::WatchdogTimeout => x
            .diagnostic(
                problem.code(),
                &format!("{path}.timeout_ms"),
                format!(
                    "cell {this}'s watchdog timeout must be {} to {} ms",
                    Watchdog::MIN_TIMEOUT_MS,
                    Watchdog::MAX_TIMEOUT_MS
                ),
            )
            .label("out of range")
            .help("an SP805 at its 24 MHz clock counts at most some 357 s"),
        Problem::WatchdogPlace => x
            .diagnostic(
                problem.code(),
                &path,
                format!(
                    "cell {this}'s watchdog at {} is not a free 4 KiB page of its address space",
                    watchdog.map_or_else(String::new, |w| hex_range(&w.window()))
                ),
            )
            .label("taken or unaligned")
            .help(
                "give `base:` a page-aligned address outside the cell's memory, its devices, \
                 its console, the GIC and the virtual PCI windows",
            ),
        Problem::WatchdogWithoutHousekeeper => x
            .diagnostic(
                problem.code(),
                &path,
                format!(
                    "cell {this}'s watchdog needs a core where the partitioner takes interrupts \
                     of its own, and board {} has none in this config",
                    x.board.name
                ),
            )
            .label("nothing would notice it expire")
            .help(housekeeping::how_to_get_one(
                x.board.gic.control_path == ControlPath::Group0Fiq,
            )),
        Problem::WatchdogInLatencyLab => x
            .diagnostic(
                problem.code(),
                &path,
                format!("cell {this} has a watchdog in the latency lab"),
            )
            .label("the lab's quantum has the partitioner's timer")
            .help("drop `qemu.icount_quantum` or the watchdog"),
        _ => x.unexplained(&path, problem),
    })
}
