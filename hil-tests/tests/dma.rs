//! DMA isolation system tests (docs/dma.md): on QEMU 10's `virt` with its
//! SMMUv3 (board `qemu-virt-smmu`), a cell that owns the PCI host bridge
//! programs QEMU's `edu` DMA engine. The device reaches the cell's RAM by
//! the addresses the cell sees, and nothing else: each attack it is turned
//! to is a DMA fault, logged with the device's stream, the address and
//! the direction, and the cell's `on_fault: restart` applies, while a
//! canary cell's RAM (one of the targets) stays intact. A transfer left in
//! the device when the cell resets itself does not land in its next boot:
//! the partitioner turned the device's bus mastering off, and reset the
//! function next to it that has Function Level Reset (QEMU's `igb`).
//!
//! These need the images `cargo xtask build` makes; run them through
//! `cargo xtask test`. Logs of every run land in `target/hil/<run>/`.

use hil_tests::{artifacts, HarnessError, Pattern};
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(20);

/// What each boot of the `dma` cell has its device do, and the fault the
/// partitioner must log for it.
const ATTACKS: [(&str, &str); 3] = [
    (
        "dma: device writes another cell's RAM at 0x50100000",
        "cell dma: DMA fault: stream 0x10 write at IPA 0x50100000 (F_TRANSLATION (address not mapped))",
    ),
    (
        "dma: device reads the partitioner's RAM at 0x40080000",
        "cell dma: DMA fault: stream 0x10 read at IPA 0x40080000 (F_TRANSLATION (address not mapped))",
    ),
    (
        "dma: device reads beyond the cell's space at 0x8000000000",
        "cell dma: DMA fault: stream 0x10 read at IPA 0x8000000000 (F_TRANSLATION (address not mapped))",
    ),
];

/// The SMMU confines the bridge's streams to the `dma` cell: a round trip
/// through the device by the cell's (not identity-mapped) addresses
/// works at every boot, each attack is a logged DMA fault followed by a
/// restart, and the canary, whose RAM the first attack targets, never
/// sees a corrupted word.
#[test]
fn a_device_reaches_its_cells_memory_and_nothing_else() -> Result<(), HarnessError> {
    let mut session = artifacts::boot(
        "smmu-dma",
        "a_device_reaches_its_cells_memory_and_nothing_else",
        Duration::from_secs(90),
    );
    session.expect_all(
        [
            (
                "partitioner",
                "SMMU: on, 256 stream table entries; every stream aborts but those of cells' devices",
            ),
            (
                "partitioner",
                "cell dma: DMA of pcie confined to the cell: streams 0x0..=0xff; \
                 0x100..=0xffff lie beyond the stream table and abort",
            ),
            ("partitioner", "SMMU: faults reported on cpu 0"),
        ],
        BOOT,
    )?;
    let round_trip = Pattern::regex(
        r"^dma: round trip through the device ok \(128 bytes, 0x48[0-9a-f]{6} -> device -> 0x48[0-9a-f]{6}\)$",
    );
    for (boot, (attack, fault)) in ATTACKS.iter().enumerate() {
        session.expect_all(
            [
                ("dma", Pattern::from(format!("dma cell: boot {boot}"))),
                (
                    "dma",
                    Pattern::from(
                        "dma: edu at 00:02.0 (stream 0x10), id 0x10000ed, BAR 0 at 0x10000000",
                    ),
                ),
                ("dma", round_trip.clone()),
                ("dma", Pattern::from(*attack)),
                ("partitioner", Pattern::from(*fault)),
                (
                    "partitioner",
                    Pattern::from("cell dma: DMA fault: restarting; other cells continue"),
                ),
            ],
            STEP,
        )?;
    }
    // Boot 3 leaves a transfer in the device and resets itself; the
    // partitioner turns the device's bus mastering off as the cell stops,
    // and boot 4 sees nothing land before it turns it on again.
    let functions_stopped = Pattern::from(
        "cell dma: PCI functions at ECAM 0x3f000000: bus mastering and decoding off in 3 (1 had bus mastering on), 1 reset (FLR)",
    );
    session.expect_all(
        [
            ("dma", Pattern::from("dma cell: boot 3")),
            ("dma", round_trip.clone()),
            (
                "dma",
                Pattern::from("dma: igb at 00:03.0, BAR 0 set to 0x10100000"),
            ),
            (
                "dma",
                Pattern::regex(
                    r"^dma: device writes the cell's RAM at 0x48[0-9a-f]{6} in 100 ms; SYSTEM_RESET now$",
                ),
            ),
            ("partitioner", functions_stopped.clone()),
            (
                "partitioner",
                Pattern::from("cell dma: SYSTEM_RESET, restarting"),
            ),
        ],
        STEP,
    )?;
    session.expect_all(
        [
            ("dma", Pattern::from("dma cell: boot 4")),
            (
                "dma",
                Pattern::from("dma: the previous boot's transfer did not land (500 ms)"),
            ),
            (
                "dma",
                Pattern::from(
                    "dma: igb was reset while the cell was down (BAR 0 was 0x10100000, reads 0)",
                ),
            ),
            ("dma", round_trip),
            ("partitioner", functions_stopped),
            (
                "partitioner",
                Pattern::from("cell dma: SYSTEM_OFF, stopped"),
            ),
        ],
        STEP,
    )?;
    // The canary beats on after all of it, every word intact.
    session.skip_to_end("canary");
    for _ in 0..3 {
        session.expect("canary", Pattern::regex(r"^canary: beat \d+ ok"), STEP)?;
    }
    let dma = session.lines("dma");
    assert!(
        !dma.iter()
            .any(|l| l.contains("BROKEN")
                || l.contains("NOT STOPPED")
                || l.contains("FAILED")
                || l.contains("LANDED")
                || l.contains("NOT RESET")),
        "the device got through, the cell was not stopped, or a stopped boot's DMA landed: {dma:#?}"
    );
    let canary = session.lines("canary");
    assert!(
        !canary.iter().any(|l| l.contains("CORRUPTED")),
        "the device wrote the canary's RAM: {canary:#?}"
    );
    let partitioner = session.lines("partitioner");
    assert!(
        !partitioner
            .iter()
            .any(|l| l.contains("SMMU: event") || l.contains("SMMU: global error")),
        "the SMMU reported something other than the device's faults: {partitioner:#?}"
    );
    Ok(())
}
