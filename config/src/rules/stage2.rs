//! Each cell's stage 2: inside the IPA space the partitioner gives cells,
//! and all cells' translation tables inside its pool. Checked on the plan
//! the partitioner builds ([`crate::stage2`]).

use super::{CellField, ChannelField, Finding, Location, Problem};
use crate::model::*;
#[cfg(feature = "std")]
use crate::yaml::{explain::Explainer, Diagnostic};
use bsp::Board;

/// The stage-2 plan of every cell: within the IPA space, and all cells'
/// tables within the partitioner's pool (reported once, at the cell where
/// the pool runs out, on its mapping that needs the most tables).
pub(super) fn check(system: &System, board: &Board, mut report: impl FnMut(Finding)) -> usize {
    let mut count = 0;
    let mut emit = |location, problem| {
        count += 1;
        report(Finding { location, problem });
    };
    let mut total = 0;
    for i in 0..system.cells.len() {
        let location = |source| match source {
            crate::stage2::Source::Memory(n) => Location::Cell {
                cell: i,
                field: CellField::Memory(n),
            },
            crate::stage2::Source::Device(n) => Location::Cell {
                cell: i,
                field: CellField::Device(n),
            },
            crate::stage2::Source::Channel(channel) => Location::Channel {
                channel,
                field: ChannelField::Base,
            },
            // The board's, at an address below any IPA limit a board has.
            crate::stage2::Source::GicCpuInterface => Location::Board,
        };
        match crate::stage2::plan(system, board, i) {
            Err(crate::stage2::PlanError::BeyondIpaSpace { source, end }) => {
                emit(location(source), Problem::BeyondIpaSpace { end })
            }
            // Reported by the rules above; cannot happen here.
            Err(crate::stage2::PlanError::NotPages { .. }) => {}
            Ok(plan) => {
                let needed = crate::stage2::tables_needed(&plan);
                total += needed;
                if total > crate::stage2::CELL_TABLES {
                    if let Some(worst) = crate::stage2::largest_need(&plan) {
                        emit(
                            location(worst.source),
                            Problem::TooManyTables {
                                cell_tables: needed,
                                total,
                                available: crate::stage2::CELL_TABLES,
                            },
                        );
                    }
                    // Reported once, where the pool runs out.
                    break;
                }
            }
        }
    }
    count
}

/// Tells a stage-2 problem, at the memory region, device or channel whose
/// mapping is at fault.
#[cfg(feature = "std")]
pub(crate) fn explain(x: &Explainer<'_>, location: Location, problem: Problem) -> Diagnostic {
    let path = match location {
        Location::Cell {
            cell,
            field: field @ (CellField::Memory(_) | CellField::Device(_)),
        } => x.cell_field_path(cell, field),
        Location::Cell { cell, .. } => format!("cells[{cell}]"),
        Location::Channel { channel, field } => x.channel_field_path(channel, field),
        Location::Board | Location::Cells | Location::ConsoleInput => String::new(),
    };
    let (message, help) = match problem {
        Problem::BeyondIpaSpace { end } => (
            format!(
                "its stage-2 mapping ends at {end:#x}, beyond the {} GiB of guest-physical \
                 space cells have",
                crate::stage2::IPA_SPACE >> 30
            ),
            format!(
                "cells see {} bits of guest-physical space (stage 2 starts at level 1); \
                 give the cell devices and `guest_base` addresses below {:#x}",
                crate::stage2::IPA_BITS,
                crate::stage2::IPA_SPACE
            ),
        ),
        Problem::TooManyTables {
            cell_tables,
            total,
            available,
        } => (
            format!(
                "the cell's stage 2 needs {cell_tables} translation tables, which brings all \
                 cells to {total} of the partitioner's {available}"
            ),
            String::from(
                "stage 2 maps 2 MiB blocks where a range's guest and physical addresses are \
                 both 2 MiB-aligned, else 4 KiB pages, 512 to a table: give `guest_base` the \
                 same offset from a 2 MiB boundary as `base`, align regions to 2 MiB, or map \
                 less",
            ),
        ),
        _ => return x.unexplained(&path, problem),
    };
    x.diagnostic(problem.code(), &path, message)
        .label("does not fit the cell's stage 2")
        .help(help)
}
