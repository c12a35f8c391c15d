//! Boot times of the default gateway (`config/examples/qemu-gateway.yaml`)
//! under deterministic time: the build boots on the icount target
//! (`targets/qemu-icount.yaml`, one counter tick per instruction) with the
//! four CPUs its cells use, and the test reads, on the generic counter, the
//! partitioner's entry, each cell's first instruction and each Linux
//! cell's userspace ([`hil_tests::boot_times`]).
//!
//! Only the facts that hold whatever the timing are checked (every cell
//! starts, after the partitioner's entry, and reaches userspace after its
//! first instruction); the figures are printed and written to
//! `target/hil/gateway_boot_times_under_icount/boot-times.json`. Needs the
//! images of `cargo xtask build` (`BULKHEAD_ARTIFACTS`) and the
//! partitioner ELF to decode its log (`BULKHEAD_PARTITIONER_ELF`).

use hil_tests::boot_times::{self, BootTimes};
use hil_tests::{artifacts, HarnessError, Pattern, SessionOptions, TargetDescription};
use std::path::PathBuf;
use std::time::Duration;

/// The default layout's cells: both run Linux.
const CELLS: [&str; 2] = ["control", "containers"];
/// Hard limit for the run: two kernels on four emulated cores, which
/// icount runs one at a time.
const DEADLINE: Duration = Duration::from_secs(420);
/// Both cells in userspace.
const BOOT: Duration = Duration::from_secs(400);

#[test]
fn gateway_boot_times_under_icount() -> Result<(), HarnessError> {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = TargetDescription::load(&crate_dir.join("targets/qemu-icount.yaml"))
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        target.is_deterministic(),
        "the icount target counts one tick per instruction"
    );
    let Some(elf) = artifacts::partitioner_elf() else {
        panic!(
            "BULKHEAD_PARTITIONER_ELF is not set: the partitioner's counter readings are in \
             its defmt log, which only the ELF decodes"
        );
    };
    let build_dir = artifacts::dir().join("qemu-gateway");
    let options = SessionOptions::new("gateway_boot_times_under_icount")
        .deadline(DEADLINE)
        .partitioner_elf(elf);
    let (mut session, _) = boot_times::boot(&target, &build_dir, options)?;
    session.expect_all(
        CELLS.map(|cell| {
            (
                cell,
                Pattern::regex(r"^bulkhead-guest: boot: userspace at counter \d+ \(\d+ Hz\)$"),
            )
        }),
        BOOT,
    )?;
    let times = BootTimes::from_session(&session, &CELLS).unwrap_or_else(|error| panic!("{error}"));
    eprintln!("{times}");
    let json = session.run_dir().join("boot-times.json");
    let text = serde_json::to_string_pretty(&times).unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(&json, text).unwrap_or_else(|error| panic!("{}: {error}", json.display()));

    assert_eq!(
        times.counter_hz, 1_000_000_000,
        "the icount target's cntfrq"
    );
    times
        .check(&CELLS, &CELLS)
        .unwrap_or_else(|error| panic!("{error}\n{times}"));
    // One start each: nothing faulted or restarted during the boot.
    assert_eq!(times.cells.len(), CELLS.len(), "{times}");
    Ok(())
}
