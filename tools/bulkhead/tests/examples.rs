//! Every example config under `config/examples/` passes `bulkhead check`
//! (with stand-in images for the files it names) and the plan it prints
//! shows each of its cells.

mod common;

use common::{fake_file, paths, scratch_dir};
use std::path::PathBuf;
use std::process::Command;

#[test]
fn every_example_passes_check_and_prints_its_plan() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let images = scratch_dir();
        for file in paths(&text) {
            std::fs::write(images.join(&file), fake_file(&file)).unwrap();
        }
        let output = Command::new(env!("CARGO_BIN_EXE_bulkhead"))
            .arg("check")
            .arg(&path)
            .arg("--image-dir")
            .arg(&images)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", path.display());
        let cells = bulkhead_config::yaml::cell_names(&path)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert!(!cells.is_empty(), "{}", path.display());
        for cell in cells {
            assert!(
                stdout.contains(&cell),
                "{}: the plan does not show cell {cell}:\n{stdout}",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 5,
        "only {checked} examples found in {}",
        examples.display()
    );
}
