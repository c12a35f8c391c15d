//! The little the harness needs from a Bulkhead YAML config: the cell
//! names, in order, because cell `n`'s console is wire stream `n + 1`.
//!
//! This reads the YAML itself (ignoring every other field) so that the
//! harness does not depend on the full config model.

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
    fn no_cells_is_an_empty_list() {
        assert!(cell_names_from_str("board: qemu-virt\n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_cell_without_name_is_an_error() {
        assert!(cell_names_from_str("cells:\n  - cpus: [1]\n").is_err());
    }
}
