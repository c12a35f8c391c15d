//! A cell's memory: in the board's RAM, its own or declared shared, and
//! where the cell sees it.

use super::{aligned, check_in_free_ram, page_span, CellField, CellUnderCheck, Location, Problem};
use crate::dma;
use crate::model::*;
#[cfg(feature = "std")]
use crate::yaml::{explain::Explainer, show::hex_range, Diagnostic};

/// Cell `i` of the config: its memory's physical ranges, against the
/// board and the other cells, and what it shares.
pub(super) fn check_cell(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck {
        system,
        board,
        i,
        cell,
    } = c;
    for (r, region) in cell.memory.iter().enumerate() {
        let loc = c.at(CellField::Memory(r));
        let range = region.range;
        if range.size == 0 {
            emit(loc, Problem::Empty);
            continue;
        }
        if !aligned(&range) || !region.guest_base.is_multiple_of(PAGE_SIZE) {
            emit(loc, Problem::Unaligned);
        }
        check_in_free_ram(&range, board, loc, emit);
        let earlier = system.cells[..=i]
            .iter()
            .enumerate()
            .flat_map(|(c, other)| {
                let limit = if c == i { r } else { other.memory.len() };
                other.memory[..limit]
                    .iter()
                    .enumerate()
                    .map(move |(o, m)| (c, o, m))
            });
        for (other_cell, other_region, m) in earlier {
            // One range mapped by two cells is a shared region when
            // either side says so; a side that does not say so back is
            // reported at the other's `shared_with` entry below.
            let shared = other_cell != i
                && m.range == range
                && (region.shared_with.contains(other_cell) || m.shared_with.contains(i));
            if m.range.overlaps(&range) && !shared {
                emit(
                    loc,
                    Problem::MemoryOverlap {
                        other_cell,
                        other_region,
                    },
                );
            }
        }
        for other in (0..MAX_CELLS).filter(|&c| region.shared_with.contains(c)) {
            let loc = c.at(CellField::SharedWith {
                region: r,
                cell: other,
            });
            if other == i {
                emit(loc, Problem::SharedWithSelf);
                continue;
            }
            let Some(other_cell) = system.cells.get(other) else {
                emit(loc, Problem::NoSuchCell);
                continue;
            };
            let same = other_cell.memory.iter().position(|m| m.range == range);
            match same {
                Some(k) if other_cell.memory[k].shared_with.contains(i) => {}
                Some(k) => emit(
                    loc,
                    Problem::SharingNotDeclared {
                        other_region: Some(k),
                    },
                ),
                // Both sides share, but the ranges differ: that is
                // the overlap reported above.
                None if other_cell
                    .memory
                    .iter()
                    .any(|m| m.range.overlaps(&range) && m.shared_with.contains(i)) => {}
                None => emit(loc, Problem::SharingNotDeclared { other_region: None }),
            }
        }
    }
}

/// Cell `i` of the config: its memory as the cell sees it.
pub(super) fn check_cell_guest(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck { board, cell, .. } = c;
    // A device whose DMA the SMMU confines sees the cell's guest-physical
    // space, like its CPUs; any other DMA master sees physical addresses.
    let dma_device = cell.devices.iter().position(|d| {
        board
            .device(&d.name)
            .is_some_and(|known| dma::confinement(board, known) == dma::Confinement::None)
    });
    for (r, region) in cell.memory.iter().enumerate() {
        let loc = c.at(CellField::Memory(r));
        if region.range.size == 0 {
            continue;
        }
        let guest = region.guest_range();
        if region
            .guest_base
            .checked_add(region.range.size)
            .is_none_or(|end| end > GUEST_ADDRESS_LIMIT)
        {
            emit(loc, Problem::GuestOutOfRange);
        }
        // Regions whose physical ranges overlap are reported above.
        if let Some(other_region) = cell.memory[..r]
            .iter()
            .position(|m| m.guest_range().overlaps(&guest) && !m.range.overlaps(&region.range))
        {
            emit(loc, Problem::GuestOverlap { other_region });
        }
        if let Some(device) = cell.devices.iter().position(|d| {
            d.mmio
                .iter()
                .any(|window| page_span(window).overlaps(&guest))
        }) {
            emit(loc, Problem::GuestDeviceOverlap { device });
        }
        if board.gic.windows().any(|w| guest.overlaps(&w)) {
            emit(loc, Problem::GuestGicOverlap);
        }
        if let (false, Some(device)) = (region.is_identity(), dma_device) {
            emit(loc, Problem::DmaNeedsIdentity { device });
        }
    }
}

/// Tells a problem with the memory of cell `cell`.
#[cfg(feature = "std")]
pub(crate) fn explain(
    x: &Explainer<'_>,
    cell: usize,
    field: CellField,
    problem: Problem,
) -> Option<Diagnostic> {
    match field {
        CellField::Memory(r) => explain_region(x, cell, r, problem),
        CellField::SharedWith {
            region,
            cell: other,
        } => explain_sharing(x, cell, region, other, problem),
        _ => Some(x.unexplained(&x.cell_field_path(cell, field), problem)),
    }
}

/// Tells a problem with region `r` of cell `cell`.
#[cfg(feature = "std")]
fn explain_region(
    x: &Explainer<'_>,
    cell: usize,
    r: usize,
    problem: Problem,
) -> Option<Diagnostic> {
    let board = x.board;
    let system = x.system;
    let model = x.footprints.cells.get(cell)?;
    let of = |other: usize| x.other_cell(cell, other);
    let path = x.memory_path(cell, r);
    let region = *model.memory.get(r)?;
    let range = region.range;
    let guest = region.guest_range();
    let guest_path = x.guest_path(cell, r);
    Some(match problem {
        Problem::Unaligned => {
            let (field, value) = if range.base % PAGE_SIZE != 0 {
                ("base", range.base)
            } else if range.size % PAGE_SIZE != 0 {
                ("size", range.size)
            } else {
                ("guest_base", region.guest_base)
            };
            x.unaligned(&path, field, value)
        }
        Problem::Empty => x
            .diagnostic(
                problem.code(),
                &format!("{path}.size"),
                "the region's size is zero",
            )
            .help("give a size of at least 4K, or remove the region"),
        Problem::NotRam => x
            .diagnostic(
                problem.code(),
                &format!("{path}.base"),
                format!("region {} is not in the board's RAM", hex_range(&range)),
            )
            .label(hex_range(&range))
            .help(format!(
                "board {} has RAM at {}; the partitioner keeps {}",
                board.name,
                x.board_ram(),
                hex_range(&board.hypervisor_ram)
            )),
        Problem::HypervisorRam { reserved } => x.in_hypervisor_ram(
            problem,
            &format!("{path}.base"),
            "region",
            &range,
            &reserved,
        ),
        Problem::MemoryOverlap {
            other_cell,
            other_region,
        } => {
            let other = system.cells.get(other_cell)?.memory.get(other_region)?;
            let mutual = other_cell != cell
                && region.shared_with.contains(other_cell)
                && other.shared_with.contains(cell);
            let help = if mutual {
                format!(
                    "a shared region must have the same `base` and `size` in both \
                     cells; make this one {}, like memory[{}]",
                    hex_range(&other.range),
                    x.memory_index(other_cell, other_region)
                )
            } else if other_cell == cell {
                x.with_free_ram(
                    "the regions of a cell must not overlap; merge them".to_string(),
                    range.size,
                )
            } else {
                x.with_free_ram(
                    format!(
                        "cells share RAM only through a region with the same `base` and \
                         `size` in both, each naming the other in `shared_with` \
                         (here `shared_with: [{}]`)",
                        x.raw.cells.get(other_cell).map_or("?", |c| c.name.as_str())
                    ),
                    range.size,
                )
            };
            x.overlaps_region(
                problem,
                &format!("{path}.base"),
                "region",
                &range,
                (other_cell, other_region),
                &of(other_cell),
            )?
            .help(help)
        }
        Problem::GuestOverlap { other_region } => {
            let other = model.memory.get(other_region)?.guest_range();
            x.diagnostic(
                problem.code(),
                &guest_path,
                format!(
                    "the cell sees this region at {}, which overlaps memory[{}] ({})",
                    hex_range(&guest),
                    x.memory_index(cell, other_region),
                    hex_range(&other)
                ),
            )
            .label(hex_range(&guest))
            .also(
                x.span(&x.guest_path(cell, other_region)),
                format!("seen at {}", hex_range(&other)),
            )
            .help("give the regions `guest_base`s that do not overlap")
        }
        Problem::GuestDeviceOverlap { device } => {
            let grant = model.devices.get(device)?;
            let pages: Vec<String> = grant
                .mmio
                .iter()
                .map(|w| hex_range(&page_span(w)))
                .collect();
            x.diagnostic(
                problem.code(),
                &guest_path,
                format!(
                    "the cell sees this region at {}, over the MMIO of its device `{}` ({})",
                    hex_range(&guest),
                    grant.name,
                    pages.join(", ")
                ),
            )
            .label(hex_range(&guest))
            .also(x.span(&x.device_path(cell, device)), "the device")
            .help("move `guest_base` away from the cell's devices")
        }
        Problem::GuestGicOverlap => x
            .diagnostic(
                problem.code(),
                &guest_path,
                format!(
                    "the cell sees this region at {}, over the GIC ({})",
                    hex_range(&guest),
                    board
                        .gic
                        .windows()
                        .map(|w| hex_range(&w))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            )
            .label(hex_range(&guest))
            .help(
                "the partitioner emulates the GIC at the board's addresses; \
                 move `guest_base` away from them",
            ),
        Problem::GuestOutOfRange => x
            .diagnostic(
                problem.code(),
                &guest_path,
                format!(
                    "the cell would see this region at {:#x}, past the end of its \
                     {GUEST_ADDRESS_LIMIT:#x}-byte (39-bit) address space",
                    region.guest_base
                ),
            )
            .help(format!(
                "choose a `guest_base` at most {:#x}",
                GUEST_ADDRESS_LIMIT.saturating_sub(range.size)
            )),
        Problem::DmaNeedsIdentity { device } => {
            let device_name = model.devices.get(device)?.name.clone();
            x.diagnostic(
                problem.code(),
                &guest_path,
                format!(
                    "the cell sees this region at {:#x} instead of its physical address \
                     {:#x}, but it owns `{device_name}`, which masters DMA",
                    region.guest_base, range.base
                ),
            )
            .label("not identity-mapped")
            .also(x.span(&x.device_path(cell, device)), "DMA-capable device")
            .help(format!(
                "remove `guest_base` (identity mapping) or drop the DMA-capable \
                 device `{device_name}`, since no SMMU the partitioner drives \
                 translates for it, so the device would use guest addresses as \
                 physical ones"
            ))
        }
        _ => x.unexplained(&path, problem),
    })
}

/// Tells a problem with the entry of region `r` of cell `cell` that says
/// it is shared with cell `other`.
#[cfg(feature = "std")]
fn explain_sharing(
    x: &Explainer<'_>,
    cell: usize,
    r: usize,
    other: usize,
    problem: Problem,
) -> Option<Diagnostic> {
    let model = x.footprints.cells.get(cell)?;
    let this = x.cell_name(cell);
    let path = x.shared_with_path(cell, r, other);
    let range = model.memory.get(r)?.range;
    Some(match problem {
        Problem::SharedWithSelf => x
            .diagnostic(
                problem.code(),
                &path,
                format!("{this} shares a region with itself"),
            )
            .label("this cell")
            .help("name the other cells that map this region; remove this entry"),
        Problem::SharingNotDeclared { other_region } => {
            let other_name = x.cell_name(other);
            let mine = x.raw.cells.get(cell).map_or("?", |c| c.name.as_str());
            let mut d = x.diagnostic(
                problem.code(),
                &path,
                format!(
                    "region {} is shared with cell {other_name}, which does not share it back",
                    hex_range(&range)
                ),
            );
            d = match other_region {
                Some(k) => {
                    let other_path = x.memory_path(other, k);
                    let has_list = x
                        .raw
                        .cells
                        .get(other)
                        .and_then(|c| c.memory.get(x.memory_index(other, k)))
                        .is_some_and(|raw| !raw.shared_with.is_empty());
                    let fix = if has_list {
                        format!(
                            "add `{mine}` to `shared_with` of the matching region of cell {other_name} ({})",
                            other_path.rsplit('.').next().unwrap_or("")
                        )
                    } else {
                        format!(
                            "add `shared_with: [{mine}]` to the matching region of cell {other_name} ({})",
                            other_path.rsplit('.').next().unwrap_or("")
                        )
                    };
                    d.label("not shared back")
                        .also(
                            x.span(&format!("{other_path}.base")),
                            format!("the same range in cell {other_name}"),
                        )
                        .help(format!("{fix}; sharing is declared on both sides"))
                }
                None => d.label("not shared back").help(format!(
                    "cell {other_name} has no region {}; give it one with the same \
                     `base` and `size` and `shared_with: [{mine}]`, or remove {other_name} here",
                    hex_range(&range)
                )),
            };
            d
        }
        _ => x.unexplained(&path, problem),
    })
}
