//! The little the harness needs from a Bulkhead YAML config: the cell
//! names, in order, because cell `n`'s console is wire stream `n + 1`.
//!
//! This reads the YAML itself (ignoring every other field) so that the
//! harness does not depend on the full config model; a cell's
//! `latency_budget` is parsed by the config crate's own parser.

use crate::HarnessError;
use serde::Deserialize;
use std::path::Path;

/// The part of a config file the harness reads.
#[derive(Deserialize)]
struct ConfigNames {
    #[serde(default)]
    cells: Vec<CellName>,
}

/// One entry of `cells:`.
#[derive(Deserialize)]
struct CellName {
    name: String,
    #[serde(default)]
    latency_budget: Option<String>,
}

/// Cell names, in the order of the `cells:` list of the YAML text.
pub fn cell_names_from_str(yaml: &str) -> Result<Vec<String>, String> {
    let config: ConfigNames = serde_saphyr::from_str(yaml).map_err(|error| error.to_string())?;
    Ok(config.cells.into_iter().map(|cell| cell.name).collect())
}

/// Cell names, in the order of the `cells:` list of the config file at
/// `path`.
pub fn cell_names(path: &Path) -> Result<Vec<String>, HarnessError> {
    let text = std::fs::read_to_string(path).map_err(|source| HarnessError::Io {
        context: format!("cannot read config {}", path.display()),
        source,
    })?;
    cell_names_from_str(&text).map_err(|message| HarnessError::Config {
        path: path.to_path_buf(),
        message,
    })
}

/// The `latency_budget` of cell `cell` in the config file at `path`, in
/// ns: `None` when the cell has none.
pub fn latency_budget(path: &Path, cell: &str) -> Result<Option<u64>, HarnessError> {
    let text = std::fs::read_to_string(path).map_err(|source| HarnessError::Io {
        context: format!("cannot read config {}", path.display()),
        source,
    })?;
    let error = |message: String| HarnessError::Config {
        path: path.to_path_buf(),
        message,
    };
    let config: ConfigNames = serde_saphyr::from_str(&text).map_err(|e| error(e.to_string()))?;
    let Some(entry) = config.cells.into_iter().find(|c| c.name == cell) else {
        return Err(error(format!("no cell called `{cell}`")));
    };
    entry
        .latency_budget
        .map(|text| {
            config::yaml::raw::parse_latency(&text)
                .ok_or_else(|| error(format!("cell `{cell}`: `{text}` is not a latency budget")))
        })
        .transpose()
}

/// The `latency_budget` (ns) of the probe in a latency lab config: its
/// first cell, by the labs' convention. `None` when it has none (or the
/// config has no cells).
pub fn probe_cell_budget(path: &Path) -> Result<Option<u64>, HarnessError> {
    match cell_names(path)?.first() {
        Some(probe) => latency_budget(path, probe),
        None => Ok(None),
    }
}

/// The CPUs of a config, as far as the harness reads it.
#[derive(Deserialize)]
struct ConfigCpus {
    #[serde(default)]
    cells: Vec<CellCpus>,
}

/// One entry of `cells:`.
#[derive(Deserialize)]
struct CellCpus {
    #[serde(default)]
    cpus: Vec<u64>,
}

/// How many CPUs the board must have for the config's cells: the highest
/// CPU index any cell names, plus one (at least 1).
pub fn cpus_used_from_str(yaml: &str) -> Result<u32, String> {
    let config: ConfigCpus = serde_saphyr::from_str(yaml).map_err(|error| error.to_string())?;
    let highest = config
        .cells
        .iter()
        .flat_map(|cell| cell.cpus.iter().copied())
        .max()
        .unwrap_or(0);
    u32::try_from(highest + 1).map_err(|_| format!("CPU {highest} is out of range"))
}

/// [`cpus_used_from_str`] of the config file at `path`.
pub fn cpus_used(path: &Path) -> Result<u32, HarnessError> {
    let text = std::fs::read_to_string(path).map_err(|source| HarnessError::Io {
        context: format!("cannot read config {}", path.display()),
        source,
    })?;
    cpus_used_from_str(&text).map_err(|message| HarnessError::Config {
        path: path.to_path_buf(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cell_names_in_order_and_ignores_the_rest() {
        let yaml = "
board: qemu-virt
partitioner:
  cpus: [0]
cells:
  - name: sensor
    cpus: [1]
    memory:
      - { base: 0x50000000, size: 0x100000 }
  - name: intruder
    image: intruder.bin
";
        assert_eq!(
            cell_names_from_str(yaml).unwrap(),
            vec!["sensor".to_string(), "intruder".to_string()]
        );
    }

    #[test]
    fn reads_a_cells_latency_budget() {
        let dir = std::env::temp_dir().join(format!("hil-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.yaml");
        std::fs::write(
            &path,
            "cells:\n  - name: rt\n    latency_budget: 1.5ms\n  - name: it\n",
        )
        .unwrap();
        assert_eq!(latency_budget(&path, "rt").unwrap(), Some(1_500_000));
        assert_eq!(latency_budget(&path, "it").unwrap(), None);
        assert!(latency_budget(&path, "nobody").is_err());
        std::fs::write(&path, "cells:\n  - name: rt\n    latency_budget: soon\n").unwrap();
        assert!(latency_budget(&path, "rt").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_cells_is_an_empty_list() {
        assert!(cell_names_from_str("board: qemu-virt\n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_cell_without_name_is_an_error() {
        assert!(cell_names_from_str("cells:\n  - cpus: [1]\n").is_err());
    }

    #[test]
    fn a_config_needs_its_highest_cpu_plus_one() {
        let gateway = "
cells:
  - name: control
    cpus: [0, 1]
  - name: containers
    cpus: [2, 3]
";
        assert_eq!(cpus_used_from_str(gateway), Ok(4));
        assert_eq!(
            cpus_used_from_str("cells:\n  - name: a\n    cpus: [3]\n"),
            Ok(4)
        );
        assert_eq!(cpus_used_from_str("board: qemu-virt\n"), Ok(1));
        assert!(cpus_used_from_str("cells: 7\n").is_err());
    }
}
