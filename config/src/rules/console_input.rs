//! Whether typing reaches the cells' consoles (`console_input:`): the
//! partitioner takes the board UART's receive interrupt on the
//! housekeeping core ([`crate::housekeeping`]), so a config that requires
//! input needs one.

use super::{Location, Problem};
#[cfg(feature = "std")]
use crate::yaml::{explain::Explainer, Diagnostic};
use crate::{housekeeping, ConsoleInput, System};
use bsp::{Board, ControlPath};

/// `console_input: required` where no core can take the UART's interrupt.
pub(super) fn check(system: &System, board: &Board, emit: &mut impl FnMut(Location, Problem)) {
    let group0_open = board.gic.control_path == ControlPath::Group0Fiq;
    if system.console_input == ConsoleInput::Required
        && housekeeping::housekeeper(system, group0_open).is_none()
    {
        emit(
            Location::ConsoleInput,
            Problem::ConsoleInputWithoutHousekeeper,
        );
    }
}

/// Tells a problem with `console_input`.
#[cfg(feature = "std")]
pub(crate) fn explain(x: &Explainer<'_>, problem: Problem) -> Option<Diagnostic> {
    Some(match problem {
        Problem::ConsoleInputWithoutHousekeeper => x
            .diagnostic(
                problem.code(),
                "console_input",
                format!(
                    "console input needs a core where the partitioner takes interrupts of its \
                     own, and board {} has none in this config",
                    x.board.name
                ),
            )
            .label("nothing would read the serial line")
            .help(housekeeping::how_to_get_one(
                x.board.gic.control_path == ControlPath::Group0Fiq,
            )),
        _ => x.unexplained("console_input", problem),
    })
}
