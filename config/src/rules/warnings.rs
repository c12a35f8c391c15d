//! The advice: legal partitionings that are probably not what the author
//! wants (a real-time cell sharing an L2 cluster, a cell on cores of two
//! types, a device whose clocks have no known rate).

use super::{CellField, Concern, Location, Warning};
use crate::model::*;
#[cfg(feature = "std")]
use crate::yaml::{explain::Explainer, Diagnostic};
use bsp::Board;

/// Gives the advice for `system` on `board`, calling `report` for each
/// warning, in config order. Returns the number of warnings.
///
/// A real-time cell (in [`System::realtime`]) gets one warning for each
/// other cell that has a core in an L2 cluster of its own cores. Boards
/// whose description does not know the clusters get none. A cell whose
/// cores are of different types (big.LITTLE: a Cortex-A73 and a
/// Cortex-A53) gets one: its virtual CPUs would run at different speeds.
/// A device given to a cell whose clocks have no rate in the board
/// description gets one.
pub fn warnings(system: &System, board: &Board, mut report: impl FnMut(Warning)) -> usize {
    let cluster = |cpu: usize| board.cpus.get(cpu).and_then(|c| c.cluster);
    let mut count = 0;
    for (i, cell) in system.cells.iter().enumerate() {
        let core_type = |cpu: usize| board.cpus.get(cpu).map(|c| c.compatible);
        // CPUs the board does not have are the rules' business.
        let first = cell.cpus.iter().find(|&cpu| core_type(cpu).is_some());
        if let Some((cpu, other_cpu)) = first.and_then(|cpu| {
            cell.cpus
                .iter()
                .find(|&o| core_type(o).is_some_and(|t| Some(t) != core_type(cpu)))
                .map(|o| (cpu, o))
        }) {
            count += 1;
            report(Warning {
                location: Location::Cell {
                    cell: i,
                    field: CellField::Cpus,
                },
                concern: Concern::MixedCoreTypes { cpu, other_cpu },
            });
        }
        for (n, grant) in cell.devices.iter().enumerate() {
            let Some(device) = board.device(&grant.name) else {
                continue;
            };
            let mut unknown = device.clocks.iter().filter(|c| c.hz.is_none());
            if let Some(first) = unknown.next() {
                count += 1;
                report(Warning {
                    location: Location::Cell {
                        cell: i,
                        field: CellField::Device(n),
                    },
                    concern: Concern::ClockWithoutRate {
                        device: n,
                        clock: first.name,
                        count: 1 + unknown.count(),
                    },
                });
            }
        }
        if !system.realtime.contains(i) {
            continue;
        }
        for (other_cell, other) in system.cells.iter().enumerate() {
            if other_cell == i {
                continue;
            }
            let shared = cell.cpus.iter().find_map(|cpu| {
                let mine = cluster(cpu)?;
                other
                    .cpus
                    .iter()
                    .find(|&o| o != cpu && cluster(o) == Some(mine))
                    .map(|other_cpu| (cpu, other_cpu, mine))
            });
            if let Some((cpu, other_cpu, cluster)) = shared {
                count += 1;
                report(Warning {
                    location: Location::Cell {
                        cell: i,
                        field: CellField::Realtime,
                    },
                    concern: Concern::SharedCluster {
                        cpu,
                        other_cell,
                        other_cpu,
                        cluster,
                    },
                });
            }
        }
    }
    count
}

/// Tells `warning` at its YAML value.
#[cfg(feature = "std")]
pub(crate) fn explain(x: &Explainer<'_>, warning: Warning) -> Diagnostic {
    let board = x.board;
    let system = x.system;
    let concern = warning.concern;
    let Location::Cell { cell, .. } = warning.location else {
        return x
            .diagnostic(concern.code(), "", format!("{concern:?}"))
            .warning();
    };
    match warning.concern {
        Concern::SharedCluster {
            cpu,
            other_cell,
            other_cpu,
            cluster,
        } => {
            let this = x.cell_name(cell);
            let other = x.cell_name(other_cell);
            let in_cluster: Vec<String> = board
                .cpus
                .iter()
                .enumerate()
                .filter(|(_, c)| c.cluster == Some(cluster))
                .map(|(n, _)| n.to_string())
                .collect();
            let free: Vec<String> = board
                .cpus
                .iter()
                .enumerate()
                .filter(|&(n, c)| {
                    c.cluster != Some(cluster)
                        && c.cluster.is_some()
                        && !system.cells.iter().any(|o| o.cpus.contains(n))
                })
                .map(|(n, _)| n.to_string())
                .collect();
            let why = format!(
                "cores of one L2 cluster share its cache, so {other} can evict {this}'s \
                 cache lines and delay it"
            );
            let mut help = if in_cluster.len() == board.cpus.len() {
                format!(
                    "{why}; every CPU of board {} is in cluster {cluster}, so only running \
                     {this} alone avoids it",
                    board.name
                )
            } else {
                format!(
                    "{why}; give the cells CPUs of different clusters (cluster {cluster} is \
                     CPUs {})",
                    in_cluster.join(", ")
                )
            };
            if !free.is_empty() {
                help = format!("{help}; free CPUs in other clusters: {}", free.join(", "));
            }
            x.diagnostic(
                concern.code(),
                &format!("cells[{cell}].realtime"),
                format!(
                    "real-time cell {this} shares L2 cluster {cluster} with cell {other} \
                     (its CPU {cpu}, their CPU {other_cpu})"
                ),
            )
            .label("real-time")
            .also(
                x.span(&x.cpu_path(other_cell, other_cpu)),
                format!("CPU {other_cpu} of {other}, in cluster {cluster}"),
            )
            .help(help)
            .warning()
        }
        Concern::MixedCoreTypes { cpu, other_cpu } => {
            let this = x.cell_name(cell);
            let type_of = |n: usize| board.cpus.get(n).map_or("?", |c| c.compatible);
            x.diagnostic(
                concern.code(),
                &x.cpu_path(cell, other_cpu),
                format!(
                    "cell {this} runs on cores of two types: CPU {cpu} is {}, CPU {other_cpu} {}",
                    type_of(cpu),
                    type_of(other_cpu)
                ),
            )
            .label("another core type")
            .also(x.span(&x.cpu_path(cell, cpu)), type_of(cpu).to_string())
            .help(
                "its virtual CPUs would run at different speeds, which a real-time cell's \
                 budget and most schedulers do not expect; give the cell cores of one type",
            )
            .warning()
        }
        Concern::ClockWithoutRate {
            device,
            clock: _,
            count: _,
        } => {
            let this = x.cell_name(cell);
            let name = system.cells[cell]
                .devices
                .get(device)
                .map_or("", |g| g.name.as_str());
            let missing: Vec<&str> = board
                .device(name)
                .map(|d| {
                    d.clocks
                        .iter()
                        .filter(|c| c.hz.is_none())
                        .map(|c| c.name)
                        .collect()
                })
                .unwrap_or_default();
            x.diagnostic(
                concern.code(),
                &format!("cells[{cell}].devices[{device}]"),
                format!(
                    "device `{name}` of cell {this} has clocks whose rate board {} does not state: {}",
                    board.name,
                    missing.join(", ")
                ),
            )
            .label("clocks without a rate")
            .help(
                "no cell owns the clock controller, so a generated device tree gives each \
                 clock as a fixed clock of the rate the boot firmware leaves it at; without \
                 a rate the tree leaves the clock out and the cell's driver may not probe. \
                 Add the rates under hand_made.clock_rates in the board description",
            )
            .warning()
        }
    }
}
