//! The board a config is for, that it has cells, and cell names.

use super::{is_valid_name, CellField, CellUnderCheck, Location, Problem};
use crate::model::*;
#[cfg(feature = "std")]
use crate::yaml::{explain::Explainer, Diagnostic};
use bsp::Board;

/// The system as a whole: for this board, with at least one cell.
pub(super) fn check_system(
    system: &System,
    board: &Board,
    emit: &mut impl FnMut(Location, Problem),
) {
    if system.board.as_str() != board.name {
        emit(Location::Board, Problem::WrongBoard);
    }
    if system.cells.is_empty() {
        emit(Location::Cells, Problem::NoCells);
    }
}

/// Cell `i` of the config: its name, unique among the cells.
pub(super) fn check_cell(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck {
        system, i, cell, ..
    } = c;
    if !is_valid_name(&cell.name) {
        emit(c.at(CellField::Name), Problem::BadName);
    }
    if let Some(other) = system.cells[..i].iter().position(|c| c.name == cell.name) {
        emit(c.at(CellField::Name), Problem::DuplicateName { other });
    }
}

/// Tells a problem of the system as a whole.
#[cfg(feature = "std")]
pub(crate) fn explain_system(x: &Explainer<'_>, problem: Problem) -> Option<Diagnostic> {
    Some(match problem {
        Problem::WrongBoard => {
            x.diagnostic(problem.code(), "board", "the config is for another board")
        }
        Problem::NoCells => x
            .diagnostic(problem.code(), "cells", "there are no cells")
            .label("empty")
            .help("add at least one cell, starting with `- name: ...`"),
        _ => x.unexplained("", problem),
    })
}

/// Tells a problem with the name of cell `cell`.
#[cfg(feature = "std")]
pub(crate) fn explain(x: &Explainer<'_>, cell: usize, problem: Problem) -> Option<Diagnostic> {
    if x.traces.get(cell)?.name_replaced {
        // The conversion reported the name and replaced it.
        return None;
    }
    let this = x.cell_name(cell);
    let path = format!("cells[{cell}].name");
    Some(match problem {
        Problem::BadName => x
            .diagnostic(
                problem.code(),
                &path,
                format!("{this} is not a valid cell name"),
            )
            .label("invalid name")
            .help(name_help(&x.raw.cells.get(cell)?.name)),
        Problem::DuplicateName { other } => x
            .diagnostic(
                problem.code(),
                &path,
                format!("cells[{other}] is already called {this}"),
            )
            .label("second cell with this name")
            .also(x.span(&format!("cells[{other}].name")), "first used here")
            .help("give every cell a unique name; it prefixes the cell's console output"),
        _ => x.unexplained(&path, problem),
    })
}

/// How to fix the invalid cell or channel name `raw`: the rule, and a
/// valid name made from it when there is one.
#[cfg(feature = "std")]
pub(crate) fn name_help(raw: &str) -> String {
    let suggestion: String = raw
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => Some(c),
            c if c.is_whitespace() => Some('-'),
            _ => None,
        })
        .take(MAX_NAME)
        .collect();
    let help = "use 1 to 32 characters of a-z, 0-9, '-' and '_'".to_string();
    if is_valid_name(&suggestion) {
        format!("{help}, for example `{suggestion}`")
    } else {
        help
    }
}
