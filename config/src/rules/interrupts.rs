//! How a cell's interrupts reach it (`interrupts: direct | virtualized`).
//!
//! A real-time cell takes its interrupts directly: its latency is the
//! hardware's, and the partitioner never runs on its cores. Virtualized
//! delivery (the list registers of the GIC's virtual CPU interface) is
//! built for a GICv3's system-register interface; a GICv2's memory-mapped
//! one (`GICH`/`GICV`) is not yet.

use super::{CellField, CellUnderCheck, Location, Problem};
#[cfg(feature = "std")]
use crate::yaml::{explain::Explainer, Diagnostic};
use bsp::GicVersion;

/// Cell `i`: virtualized only where it may be and where it can be.
pub(super) fn check_cell(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    if !c.system.virtualized.contains(c.i) {
        return;
    }
    if c.system.realtime.contains(c.i) {
        emit(c.at(CellField::Interrupts), Problem::RealtimeVirtualized);
    }
    if c.board.gic.version != GicVersion::V3 {
        emit(
            c.at(CellField::Interrupts),
            Problem::VirtualizedWithoutGicV3,
        );
    }
}

/// Tells a problem with cell `cell`'s `interrupts`.
#[cfg(feature = "std")]
pub(crate) fn explain(x: &Explainer<'_>, cell: usize, problem: Problem) -> Option<Diagnostic> {
    let this = x.cell_name(cell);
    let path = format!("cells[{cell}].interrupts");
    Some(match problem {
        Problem::RealtimeVirtualized => x
            .diagnostic(
                problem.code(),
                &path,
                format!("cell {this} is real-time, so its interrupts must be direct"),
            )
            .label("not for a real-time cell")
            .help(
                "a virtualized interrupt exits to the partitioner on its way to the cell; \
                 drop `interrupts: virtualized` (or `realtime: true`)",
            ),
        Problem::VirtualizedWithoutGicV3 => x
            .diagnostic(
                problem.code(),
                &path,
                format!(
                    "board {} has a GICv2: virtualized interrupts need a GICv3 for now",
                    x.board.name
                ),
            )
            .label("GICv3 only")
            .help(
                "use `interrupts: direct` on this board; the GICv2's list registers \
                 (GICH) are not driven yet",
            ),
        _ => x.unexplained(&path, problem),
    })
}
