//! A cell's devices: the board's, one cell each, in pages and on
//! interrupts of their own.

use super::{page_span, CellField, CellUnderCheck, Location, Problem};
#[cfg(feature = "std")]
use crate::yaml::{explain::Explainer, show::hex_range, Diagnostic};
use crate::{dma, housekeeping};
use bsp::ControlPath;

/// Cell `i` of the config: its devices and their interrupts.
pub(super) fn check_cell(c: &CellUnderCheck<'_>, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck {
        system,
        board,
        i,
        cell,
    } = c;
    for (d, device) in cell.devices.iter().enumerate() {
        let loc = c.at(CellField::Device(d));
        if device.name.as_str() == board.console.device {
            emit(loc, Problem::DeviceReserved);
            continue;
        }
        match board.device(&device.name) {
            None => {
                emit(loc, Problem::NoSuchDevice);
                continue;
            }
            Some(known)
                if known.mmio != device.mmio.as_slice() || known.irqs != device.irqs.as_slice() =>
            {
                emit(loc, Problem::DeviceMismatch);
                continue;
            }
            Some(_) => {}
        }
        if let Some(other) = system.cells[..i]
            .iter()
            .position(|c| c.devices.iter().any(|o| o.name == device.name))
        {
            emit(loc, Problem::DeviceTaken { other });
            continue;
        }
        let console_page = page_span(&board.console.mmio);
        if device
            .mmio
            .iter()
            .any(|window| page_span(window).overlaps(&console_page))
        {
            emit(loc, Problem::ConsolePageShared);
        }
        let mut iommu_windows = board.iommus.iter().flat_map(|i| i.mmio.iter());
        if iommu_windows.any(|r| {
            device
                .mmio
                .iter()
                .any(|w| page_span(w).overlaps(&page_span(r)))
        }) {
            emit(loc, Problem::IommuPageShared);
        }
        if device.irqs.contains(&board.console.irq) {
            emit(
                loc,
                Problem::ConsoleIrqShared {
                    irq: board.console.irq,
                },
            );
        }
        'pages: for (other_cell, c) in system.cells[..i].iter().enumerate() {
            for (other_device, o) in c.devices.iter().enumerate() {
                let shares = device
                    .mmio
                    .iter()
                    .any(|a| o.mmio.iter().any(|b| page_span(a).overlaps(&page_span(b))));
                if shares && o.name != device.name {
                    emit(
                        loc,
                        Problem::DevicePageShared {
                            other_cell,
                            other_device,
                        },
                    );
                    break 'pages;
                }
            }
        }
        for &irq in &device.irqs {
            if let Some(other) = system.cells[..i].iter().position(|c| c.owns_irq(irq)) {
                emit(loc, Problem::IrqTaken { irq, other });
            }
        }
        check_dma(c, d, emit);
    }
}

/// Device `d` of the cell, if it masters DMA: confined by the SMMU, on
/// streams of its own, with a core to take the SMMU's faults; or owned by
/// a cell that accepts unconfined DMA.
fn check_dma(c: &CellUnderCheck<'_>, d: usize, emit: &mut impl FnMut(Location, Problem)) {
    let &CellUnderCheck {
        system,
        board,
        i,
        cell,
    } = c;
    let loc = c.at(CellField::Device(d));
    let Some(known) = cell.devices.get(d).and_then(|g| board.device(&g.name)) else {
        return;
    };
    match dma::confinement(board, known) {
        dma::Confinement::NoDma => {}
        dma::Confinement::None => {
            if !system.unconfined_dma.contains(i) {
                emit(loc, Problem::UnconfinedDma);
            }
        }
        dma::Confinement::Smmu => {
            let group0_open = board.gic.control_path == ControlPath::Group0Fiq;
            if housekeeping::housekeeper(system, group0_open).is_none() {
                emit(loc, Problem::DmaWithoutHousekeeper);
            }
            let mine = dma::cell_streams(board, cell).filter(|s| s.device == d);
            for s in mine {
                let clash = system.cells[..i].iter().enumerate().find_map(|(o, other)| {
                    dma::cell_streams(board, other)
                        .find(|t| t.overlaps(&s))
                        .map(|t| (o, t.device))
                });
                if let Some((other_cell, other_device)) = clash {
                    emit(
                        loc,
                        Problem::StreamTaken {
                            other_cell,
                            other_device,
                        },
                    );
                    break;
                }
            }
        }
    }
}

/// Tells a problem with a device of cell `cell`.
#[cfg(feature = "std")]
pub(crate) fn explain(
    x: &Explainer<'_>,
    cell: usize,
    field: CellField,
    problem: Problem,
) -> Option<Diagnostic> {
    let board = x.board;
    let system = x.system;
    let model = x.footprints.cells.get(cell)?;
    let of = |other: usize| x.other_cell(cell, other);
    Some(match (field, problem) {
        (CellField::Device(n), problem) => {
            let path = x.device_path(cell, n);
            let device = model.devices.get(n)?;
            let device_name = device.name.as_str();
            let find_device = |other: usize| {
                system
                    .cells
                    .get(other)
                    .and_then(|c| c.devices.iter().position(|d| d.name == device.name))
            };
            match problem {
                Problem::DeviceReserved => x
                    .diagnostic(
                        problem.code(),
                        &path,
                        format!(
                            "`{device_name}` is the board's console, which the partitioner keeps"
                        ),
                    )
                    .label("reserved")
                    .help(
                        "remove it: every cell gets a virtual console (`console: virtual`) \
                         at the same address, multiplexed onto this UART",
                    ),
                Problem::DeviceTaken { other } => {
                    let other_path = find_device(other).map(|d| x.device_path(other, d));
                    let mut d = x
                        .diagnostic(
                            problem.code(),
                            &path,
                            format!("device `{device_name}` is already given to {}", of(other)),
                        )
                        .label("taken")
                        .help("a device belongs to one cell only; remove it from one of them");
                    if let Some(p) = other_path {
                        d = d.also(x.span(&p), format!("given to {} here", x.cell_name(other)));
                    }
                    d
                }
                Problem::DevicePageShared {
                    other_cell,
                    other_device,
                } => {
                    let other = system.cells.get(other_cell)?.devices.get(other_device)?;
                    let page = device.mmio.first().map(page_span);
                    x.diagnostic(
                        problem.code(),
                        &path,
                        format!(
                            "`{device_name}` shares a 4 KiB page{} with `{}` of {}",
                            page.map(|p| format!(" ({})", hex_range(&p))).unwrap_or_default(),
                            other.name,
                            of(other_cell)
                        ),
                    )
                    .label("same page")
                    .also(
                        x.span(&x.device_path(other_cell, other_device)),
                        format!("given to {} here", x.cell_name(other_cell)),
                    )
                    .help(
                        "the partitioner isolates devices with whole 4 KiB pages, so devices in one \
                         page must go to the same cell; give both to one cell, or use a device in another page",
                    )
                }
                Problem::ConsolePageShared => {
                    let console = board.console.mmio;
                    x.diagnostic(
                        problem.code(),
                        &path,
                        format!(
                            "`{device_name}` shares the 4 KiB page {} with the board console `{}` at {:#x}, \
                             which the partitioner owns",
                            hex_range(&page_span(&console)),
                            board.console.device,
                            console.base
                        ),
                    )
                    .label("in the console's page")
                    .help(
                        "stage 2 maps whole 4 KiB pages, so a cell given this device could reach the \
                         console's registers; this board's UARTs share a page, so leave this one to the \
                         partitioner, or give the cell a device in another page",
                    )
                }
                Problem::ConsoleIrqShared { irq } => x
                    .diagnostic(
                        problem.code(),
                        &path,
                        format!(
                            "`{device_name}` shares interrupt {irq} with the board console `{}`, \
                             which the partitioner owns",
                            board.console.device
                        ),
                    )
                    .label("the console's interrupt")
                    .help(
                        "an interrupt has one owner; this board wires the device and its console \
                         to one line, so the device cannot be given to a cell",
                    ),
                Problem::IommuPageShared => x
                    .diagnostic(
                        problem.code(),
                        &path,
                        format!(
                            "`{device_name}` shares a 4 KiB page with the registers of the board's \
                             IOMMU, which the partitioner owns"
                        ),
                    )
                    .label("in the IOMMU's page")
                    .help(
                        "stage 2 maps whole 4 KiB pages, so a cell given this device could program \
                         the IOMMU; leave the device to no cell",
                    ),
                Problem::UnconfinedDma => x
                    .diagnostic(
                        problem.code(),
                        &path,
                        format!(
                            "`{device_name}` masters DMA and no SMMU confines it: it can read and \
                             write any physical address, other cells' memory and the partitioner's included"
                        ),
                    )
                    .label("unconfined DMA")
                    .help(
                        "if you trust this cell not to program the device against others, say so with \
                         `dma: unconfined` in the cell (its RAM must stay identity-mapped); \
                         otherwise leave the device out (docs/dma.md)",
                    ),
                Problem::StreamTaken {
                    other_cell,
                    other_device,
                } => {
                    let other = system.cells.get(other_cell)?.devices.get(other_device)?;
                    x.diagnostic(
                        problem.code(),
                        &path,
                        format!(
                            "`{device_name}` shares stream IDs at the SMMU with `{}` of {}",
                            other.name,
                            of(other_cell)
                        ),
                    )
                    .label("same streams")
                    .also(
                        x.span(&x.device_path(other_cell, other_device)),
                        format!("given to {} here", x.cell_name(other_cell)),
                    )
                    .help(
                        "the SMMU tells devices apart by their stream IDs, so devices that share one \
                         must go to the same cell",
                    )
                }
                Problem::DmaWithoutHousekeeper => x
                    .diagnostic(
                        problem.code(),
                        &path,
                        format!(
                            "the SMMU confines `{device_name}`'s DMA, but no core takes the \
                             partitioner's own interrupts in this config on board {}, so a DMA fault \
                             would be blocked without being reported or stopping the cell",
                            board.name
                        ),
                    )
                    .label("nothing would take its faults")
                    .help(housekeeping::how_to_get_one(
                        board.gic.control_path == ControlPath::Group0Fiq,
                    )),
                Problem::IrqTaken { irq, other } => x
                    .diagnostic(
                        problem.code(),
                        &path,
                        format!(
                            "interrupt {irq} of `{device_name}` is already owned by {}",
                            of(other)
                        ),
                    )
                    .help("devices that share an interrupt must go to the same cell"),
                _ => x.unexplained(&path, problem),
            }
        }
        _ => x.unexplained(&x.cell_field_path(cell, field), problem),
    })
}

/// Device `name` is listed at `path` and, before, at `first`. The
/// conversion finds it, as it resolves the names through the board.
#[cfg(feature = "std")]
pub(crate) fn listed_twice(
    spans: crate::yaml::Spans<'_>,
    path: &str,
    first: &str,
    name: &str,
) -> Diagnostic {
    spans
        .diagnostic(
            "config::device_listed_twice",
            path,
            format!(
                "device `{}` is listed twice in this cell",
                crate::yaml::show::sanitize(name)
            ),
        )
        .label("second time")
        .also(spans.span(first), "first time")
        .help("remove one of them")
}
