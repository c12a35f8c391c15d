//! The little the harness needs from a Bulkhead YAML config, read through
//! the config crate's own model (`bulkhead_config::yaml::parse`, which
//! checks the structure but reads no images): the cell names in order
//! (cell `n`'s console is wire stream `n + 1`), a cell's
//! `latency_budget`, and how many CPUs the cells use.

use crate::HarnessError;
use bulkhead_config::yaml::{self, raw::RawSystem};
use std::path::Path;

/// The config at `path`, parsed.
fn parse(path: &Path) -> Result<RawSystem, HarnessError> {
    yaml::parse(path).map_err(|error| HarnessError::Config {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

/// Cell names, in the order of the `cells:` list of the config file at
/// `path`.
pub fn cell_names(path: &Path) -> Result<Vec<String>, HarnessError> {
    Ok(parse(path)?
        .cells
        .into_iter()
        .map(|cell| cell.name)
        .collect())
}

/// The `latency_budget` of cell `cell` in the config file at `path`, in
/// ns: `None` when the cell has none.
pub fn latency_budget(path: &Path, cell: &str) -> Result<Option<u64>, HarnessError> {
    budget_of(path, &parse(path)?, cell)
}

/// The `latency_budget` (ns) of the probe in a latency lab config: its
/// first cell, by the labs' convention. `None` when it has none (or the
/// config has no cells).
pub fn probe_cell_budget(path: &Path) -> Result<Option<u64>, HarnessError> {
    let system = parse(path)?;
    match system.cells.first() {
        Some(probe) => budget_of(path, &system, &probe.name),
        None => Ok(None),
    }
}

/// [`latency_budget`] of an already parsed config.
fn budget_of(path: &Path, system: &RawSystem, cell: &str) -> Result<Option<u64>, HarnessError> {
    let Some(entry) = system.cells.iter().find(|c| c.name == cell) else {
        return Err(HarnessError::Config {
            path: path.to_path_buf(),
            message: format!("no cell called `{cell}`"),
        });
    };
    Ok(entry.latency_budget.map(|budget| budget.0))
}

/// The CPUs of cell `cell` in the config file at `path`.
pub fn cell_cpus(path: &Path, cell: &str) -> Result<Vec<usize>, HarnessError> {
    let system = parse(path)?;
    let Some(entry) = system.cells.iter().find(|c| c.name == cell) else {
        return Err(HarnessError::Config {
            path: path.to_path_buf(),
            message: format!("no cell called `{cell}`"),
        });
    };
    Ok(entry
        .cpus
        .iter()
        .filter_map(|cpu| usize::try_from(cpu.0).ok())
        .collect())
}

/// How many CPUs the board must have for the config file at `path`: the
/// highest CPU index any cell names, plus one (at least 1).
pub fn cpus_used(path: &Path) -> Result<u32, HarnessError> {
    let system = parse(path)?;
    let highest = system
        .cells
        .iter()
        .flat_map(|cell| cell.cpus.iter().map(|cpu| cpu.0))
        .max()
        .unwrap_or(0);
    u32::try_from(highest.saturating_add(1)).map_err(|_| HarnessError::Config {
        path: path.to_path_buf(),
        message: format!("CPU {highest} is out of range"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
    }

    #[test]
    fn reads_cell_names_in_order() {
        assert_eq!(
            cell_names(&repo("config/examples/qemu-gateway.yaml")).unwrap(),
            vec!["control".to_string(), "containers".to_string()]
        );
    }

    #[test]
    fn reads_a_cells_latency_budget() {
        let lab = repo("hil-tests/configs/qemu-latency-lab.yaml");
        let probe = cell_names(&lab).unwrap()[0].clone();
        assert!(latency_budget(&lab, &probe).unwrap().is_some());
        assert_eq!(
            probe_cell_budget(&lab).unwrap(),
            latency_budget(&lab, &probe).unwrap()
        );
        assert!(latency_budget(&lab, "nobody").is_err());
    }

    #[test]
    fn a_config_that_does_not_parse_is_an_error() {
        assert!(cell_names(Path::new("/nonexistent/config.yaml")).is_err());
    }

    #[test]
    fn a_config_needs_its_highest_cpu_plus_one() {
        assert_eq!(
            cpus_used(&repo("config/examples/qemu-gateway.yaml")).unwrap(),
            4
        );
        assert_eq!(
            cpus_used(&repo("hil-tests/configs/qemu-latency-lab.yaml")).unwrap(),
            1
        );
    }
}
