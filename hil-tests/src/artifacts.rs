//! What `cargo xtask build` leaves for the system tests: the boot image of
//! each config in `target/bulkhead/<config stem>/` (with a copy of the
//! config, from which the console streams are named) and the partitioner
//! ELF that decodes the log. `cargo xtask test` points the tests at them
//! through `BULKHEAD_ARTIFACTS` and `BULKHEAD_PARTITIONER_ELF`.

use crate::{cell_names, QemuTarget, Session, SessionOptions};
use std::path::PathBuf;
use std::time::Duration;

/// `target/bulkhead`. Panics with the fix when the tests were not started
/// by `cargo xtask test`.
pub fn dir() -> PathBuf {
    match std::env::var_os("BULKHEAD_ARTIFACTS") {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "BULKHEAD_ARTIFACTS is not set: run the system tests through `cargo xtask test` \
             (it builds the images and points the tests at them)"
        ),
    }
}

/// The partitioner ELF, for decoding its log, when given.
pub fn partitioner_elf() -> Option<PathBuf> {
    std::env::var_os("BULKHEAD_PARTITIONER_ELF").map(PathBuf::from)
}

/// The ELF that decodes the partitioner's log in the build of config
/// `config` (the stem of its YAML file): the one the build left beside
/// the image (the partitioner of the config's board), else the one
/// [`partitioner_elf`] names.
pub fn partitioner_elf_of(config: &str) -> Option<PathBuf> {
    let beside = dir().join(config).join("partitioner.elf");
    beside.is_file().then_some(beside).or_else(partitioner_elf)
}

/// Boots the boot image built for config `config` (the stem of its YAML
/// file) in QEMU as run `run`, killed after `deadline` whatever happens.
/// The partitioner's log is decoded with the ELF the build left beside the
/// image (`partitioner.elf`: the partitioner of the config's board), or the
/// one [`partitioner_elf`] names.
pub fn boot(config: &str, run: &str, deadline: Duration) -> Session {
    boot_with(config, run, deadline, |target| target)
}

/// [`boot`], on the machine `machine` makes of the config's own: another
/// QEMU model, say, to show what the partitioner does on a board it was
/// not built for.
pub fn boot_with(
    config: &str,
    run: &str,
    deadline: Duration,
    machine: impl FnOnce(QemuTarget) -> QemuTarget,
) -> Session {
    let dir = dir().join(config);
    let cells = cell_names(&dir.join("config.yaml")).unwrap_or_else(|error| panic!("{error}"));
    let mut options = SessionOptions::new(run).cells(cells).deadline(deadline);
    if let Some(elf) = partitioner_elf_of(config) {
        options = options.partitioner_elf(elf);
    }
    let target = machine(QemuTarget::for_build(&dir).unwrap_or_else(|error| panic!("{error}")));
    Session::start(&target, options).unwrap_or_else(|error| panic!("{error}"))
}
