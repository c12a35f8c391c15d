//! A cell's CPUs: on the board, and each in one cell only.

use super::{CellField, CellUnderCheck, Location, Problem};
#[cfg(feature = "std")]
use crate::yaml::{explain::Explainer, Diagnostic};
#[cfg(feature = "std")]
use bsp::Board;

/// Cell `i` of the config: its CPUs: on the board, and no other cell's.
pub(super) fn check_cell(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck {
        system,
        board,
        i,
        cell,
    } = c;
    if cell.cpus.is_empty() {
        emit(c.at(CellField::Cpus), Problem::NoCpus);
    }
    for cpu in cell.cpus.iter() {
        if cpu >= board.cpus.len() {
            emit(
                c.at(CellField::Cpu(cpu)),
                Problem::NoSuchCpu {
                    board_cpus: board.cpus.len(),
                },
            );
        } else if let Some(other) = system.cells[..i].iter().position(|c| c.cpus.contains(cpu)) {
            emit(c.at(CellField::Cpu(cpu)), Problem::CpuTaken { other });
        }
    }
}

/// Tells a problem with the CPUs of cell `cell`.
#[cfg(feature = "std")]
pub(crate) fn explain(
    x: &Explainer<'_>,
    cell: usize,
    field: CellField,
    problem: Problem,
) -> Option<Diagnostic> {
    let board = x.board;
    Some(match (field, problem) {
        (CellField::Cpus, Problem::NoCpus) => {
            if !x.raw.cells.get(cell)?.cpus.is_empty() {
                // Every listed CPU was rejected and reported.
                return None;
            }
            x.diagnostic(
                problem.code(),
                &format!("cells[{cell}].cpus"),
                "the cell has no CPU",
            )
            .label("empty")
            .help(format!(
                "list at least one of the board's CPUs 0 to {}",
                board.cpus.len().saturating_sub(1)
            ))
        }
        (CellField::Cpu(cpu), Problem::NoSuchCpu { .. }) => {
            no_such_cpu(x.spans, board, &x.cpu_path(cell, cpu), cpu as u64)
        }
        (CellField::Cpu(cpu), Problem::CpuTaken { other }) => {
            let used = x
                .system
                .cells
                .iter()
                .fold(0u64, |acc, c| acc | c.cpus.bits());
            let free: Vec<String> = (0..board.cpus.len())
                .filter(|&c| c < 64 && used & (1 << c) == 0)
                .map(|c| c.to_string())
                .collect();
            let help = if free.is_empty() {
                "a CPU runs one cell only, and every CPU of the board is taken; remove it here"
                    .to_string()
            } else {
                format!("a CPU runs one cell only; free CPUs: {}", free.join(", "))
            };
            x.diagnostic(
                problem.code(),
                &x.cpu_path(cell, cpu),
                format!("CPU {cpu} already belongs to {}", x.other_cell(cell, other)),
            )
            .label("taken")
            .also(
                x.span(&x.cpu_path(other, cpu)),
                format!("given to {} here", x.cell_name(other)),
            )
            .help(help)
        }
        _ => x.unexplained(&x.cell_field_path(cell, field), problem),
    })
}

/// CPU `cpu`, at `path`, is not on `board`. The conversion finds a number
/// too large for a cell's CPU set; the rules, one past the board's CPUs.
#[cfg(feature = "std")]
pub(crate) fn no_such_cpu(
    spans: crate::yaml::Spans<'_>,
    board: &Board,
    path: &str,
    cpu: u64,
) -> Diagnostic {
    let last = board.cpus.len().saturating_sub(1);
    spans
        .diagnostic(
            Problem::NoSuchCpu {
                board_cpus: board.cpus.len(),
            }
            .code(),
            path,
            format!(
                "CPU {cpu} is not on board {}, which has CPUs 0 to {last}",
                board.name
            ),
        )
        .label("no such CPU")
        .help(format!("use CPU numbers from 0 to {last}"))
}

/// CPU `cpu` is listed at `path` and, before, at `first`: a cell's CPUs
/// are a set, so the model cannot hold this and the conversion finds it.
#[cfg(feature = "std")]
pub(crate) fn listed_twice(
    spans: crate::yaml::Spans<'_>,
    path: &str,
    first: &str,
    cpu: u64,
) -> Diagnostic {
    spans
        .diagnostic(
            "config::cpu_listed_twice",
            path,
            format!("CPU {cpu} is listed twice in this cell"),
        )
        .label("second time")
        .also(spans.span(first), "first time")
        .help("remove one of them; each CPU runs one virtual CPU")
}
