//! A cell's images (kernel, initrd, device tree), its entry point and
//! its virtual console.

use super::{CellField, CellUnderCheck, Location, Problem};
use crate::model::*;
#[cfg(feature = "std")]
use crate::yaml::{
    explain::Explainer,
    show::{hex_range, human_size},
    Diagnostic,
};

/// Cell `i` of the config: its images, entry and console.
pub(super) fn check_cell(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck { board, cell, .. } = c;
    for (m, image) in cell.images.iter().enumerate() {
        let loc = c.at(CellField::Image(m));
        let dest = image.destination();
        if !cell.memory.iter().any(|r| r.guest_range().covers(&dest)) {
            emit(loc, Problem::ImageOutsideRam);
        } else if let Some(region) = cell
            .memory
            .iter()
            .position(|r| r.is_shared() && r.guest_range().overlaps(&dest))
        {
            emit(loc, Problem::ImageInSharedRegion { region });
        }
        if let Some(other) = cell.images[..m]
            .iter()
            .position(|o| o.destination().overlaps(&dest))
        {
            emit(loc, Problem::ImageOverlap { other });
        }
    }
    let entry_ok = cell
        .images
        .iter()
        .any(|im| im.kind == ImageKind::Kernel && im.destination().contains(cell.entry));
    if !entry_ok {
        emit(c.at(CellField::Entry), Problem::EntryOutsideKernel);
    }
    if let Some(console) = cell.console {
        let window = console.window();
        let clash =
            console.base % PAGE_SIZE != 0 || c.maps_over(&window, Some(board.console.device));
        if clash {
            emit(c.at(CellField::Console), Problem::ConsoleOverlap);
        }
    }
}

/// Tells a problem with the images, entry point or console of cell `cell`.
#[cfg(feature = "std")]
pub(crate) fn explain(
    x: &Explainer<'_>,
    cell: usize,
    field: CellField,
    problem: Problem,
) -> Option<Diagnostic> {
    let system = x.system;
    let model = x.footprints.cells.get(cell)?;
    let trace = x.traces.get(cell)?;
    Some(match (field, problem) {
        (CellField::Image(m), problem) => {
            if trace.quiet_images {
                return None;
            }
            let t = trace.images.get(m)?;
            let image = model.images.get(m)?;
            let path = x.image_path(cell, m);
            let dest = image.destination();
            let described = format!(
                "the {} ({}, {}{})",
                t.kind_name,
                hex_range(&dest),
                human_size(dest.size),
                match &t.file {
                    Some((_, bytes)) if bytes.len() as u64 != t.footprint => " including bss",
                    _ => "",
                }
            );
            match problem {
                Problem::ImageOutsideRam => {
                    let regions: Vec<String> = model
                        .memory
                        .iter()
                        .map(|m| hex_range(&m.guest_range()))
                        .collect();
                    x.diagnostic(
                        problem.code(),
                        &path,
                        format!("{described} does not fit in the cell's memory"),
                    )
                    .label("does not fit")
                    .help(format!(
                        "the cell's memory is {}; enlarge a region or move `load_address`",
                        if regions.is_empty() {
                            "empty".to_string()
                        } else {
                            regions.join(", ")
                        }
                    ))
                }
                Problem::ImageInSharedRegion { region } => {
                    let shared = model.memory.get(region)?;
                    let others: Vec<String> =
                        shared.shared_with.iter().map(|c| x.cell_name(c)).collect();
                    x.diagnostic(
                        problem.code(),
                        &path,
                        format!(
                            "{described} lies in memory[{}] ({}), which is shared with {}",
                            x.memory_index(cell, region),
                            hex_range(&shared.guest_range()),
                            others.join(", ")
                        ),
                    )
                    .label("in a shared region")
                    .help(
                        "the partitioner copies a cell's images again at every restart, \
                         which would overwrite what the other cells keep there; \
                         load it into a region of this cell alone",
                    )
                }
                Problem::ImageOverlap { other } => {
                    let other_trace = trace.images.get(other)?;
                    let other_image = model.images.get(other)?;
                    x.diagnostic(
                        problem.code(),
                        &path,
                        format!(
                            "{described} overlaps the {} ({})",
                            other_trace.kind_name,
                            hex_range(&other_image.destination())
                        ),
                    )
                    .label("overlaps")
                    .also(
                        x.span(&x.image_path(cell, other)),
                        format!("the {}", other_trace.kind_name),
                    )
                    .help("move one `load_address` so that the images do not overlap")
                }
                _ => x.unexplained(&path, problem),
            }
        }
        (CellField::Entry, Problem::EntryOutsideKernel) => {
            if trace.quiet_images {
                return None;
            }
            let kernel = system.cells.get(cell)?.images.first()?.destination();
            let footprint = model.images.first()?.destination();
            let explicit = x.raw.cells.get(cell)?.entry.is_some();
            let path = if explicit {
                format!("cells[{cell}].entry")
            } else {
                format!("cells[{cell}].kernel.path")
            };
            let help = if kernel.size == 0 {
                "the kernel file is empty".to_string()
            } else if footprint.contains(model.entry) {
                format!(
                    "{:#x} is in the kernel's bss (the zeroed memory after the file's {} bytes); \
                     point `entry` into {}",
                    model.entry,
                    kernel.size,
                    hex_range(&kernel)
                )
            } else if explicit {
                format!(
                    "point `entry` into {}, or remove it to start at the kernel's load address",
                    hex_range(&kernel)
                )
            } else {
                "set `entry` to an address inside the kernel".to_string()
            };
            x.diagnostic(
                problem.code(),
                &path,
                format!(
                    "entry point {:#x} is not inside the kernel ({})",
                    model.entry,
                    hex_range(&kernel)
                ),
            )
            .label("outside the kernel")
            .help(help)
        }
        (CellField::Console, Problem::ConsoleOverlap) => x
            .diagnostic(
                problem.code(),
                &format!("cells[{cell}].console"),
                format!(
                    "the virtual console at {:#x} overlaps the cell's memory or devices",
                    model.console.map_or(0, |c| c.base)
                ),
            )
            .help("move the memory or devices away from the console page, or set `console: none`"),
        _ => x.unexplained(&x.cell_field_path(cell, field), problem),
    })
}
