//! How a cell's interrupts reach it (`interrupts: direct | virtualized`).
//!
//! A real-time cell takes its interrupts directly: its latency is the
//! hardware's, and the partitioner never runs on its cores. Virtualized
//! delivery needs the GIC's virtualization extensions: a GICv3's virtual
//! CPU interface, or a GICv2's `GICH` and `GICV` frames, which the board
//! description must give.

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
    let gic = c.board.gic;
    let frames = gic.hypervisor_interface.is_some() && gic.virtual_cpu_interface.is_some();
    if gic.version == GicVersion::V2 && !frames {
        emit(
            c.at(CellField::Interrupts),
            Problem::VirtualizedWithoutVirtualInterface,
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
        Problem::VirtualizedWithoutVirtualInterface => x
            .diagnostic(
                problem.code(),
                &path,
                format!(
                    "board {} has a GICv2 whose description gives no virtual interface \
                     (GICH and GICV): virtualized interrupts need it",
                    x.board.name
                ),
            )
            .label("no virtual interface")
            .help(
                "use `interrupts: direct` on this board, or add the GIC's `hypervisor_interface` \
                 and `virtual_cpu_interface` to its description (the device tree's GIC node \
                 `reg` entries 3 and 4)",
            ),
        _ => x.unexplained(&path, problem),
    })
}
