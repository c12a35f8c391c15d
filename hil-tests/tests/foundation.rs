//! Foundation system tests: boot real Bulkhead images in QEMU and check
//! that the partitioner and its cells come up.
//!
//! These need the images `cargo xtask build` makes; run them through
//! `cargo xtask test`, which sets `BULKHEAD_ARTIFACTS` and
//! `BULKHEAD_PARTITIONER_ELF`. Logs of every run land in
//! `target/hil/<test name>/`.

use hil_tests::{cell_names, HarnessError, QemuTarget, Session, SessionOptions};
use std::path::PathBuf;
use std::time::Duration;

/// `target/bulkhead`, where `cargo xtask build` puts the boot images.
fn artifacts() -> PathBuf {
    match std::env::var_os("BULKHEAD_ARTIFACTS") {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "BULKHEAD_ARTIFACTS is not set: run the system tests through `cargo xtask test` \
             (it builds the images and points the tests at them)"
        ),
    }
}

/// Boots the boot image built for the config called `config` (the stem of
/// its YAML file) in QEMU, as run `run`.
fn start(config: &str, run: &str) -> Session {
    let dir = artifacts().join(config);
    // xtask copies the config next to the image; fall back to the example.
    let mut yaml = dir.join("config.yaml");
    if !yaml.is_file() {
        yaml = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../config/examples")
            .join(format!("{config}.yaml"));
    }
    let cells = cell_names(&yaml).unwrap_or_else(|error| panic!("{error}"));
    let mut options = SessionOptions::new(run)
        .cells(cells)
        .deadline(Duration::from_secs(90));
    if let Some(elf) = std::env::var_os("BULKHEAD_PARTITIONER_ELF") {
        options = options.partitioner_elf(elf);
    }
    let target = QemuTarget::new(dir.join("bulkhead.img"));
    Session::start(&target, options).unwrap_or_else(|error| panic!("{error}"))
}

/// The partitioner starts, prints its summary, and runs both cells of the
/// heartbeat partitioning.
#[test]
fn boots_and_prints_summary() -> Result<(), HarnessError> {
    let mut session = start("qemu-heartbeat", "boots_and_prints_summary");
    session.expect("partitioner", "Bulkhead", Duration::from_secs(20))?;
    session.expect_all(
        [("sensor", "heartbeat"), ("intruder", "heartbeat")],
        Duration::from_secs(30),
    )?;
    Ok(())
}
