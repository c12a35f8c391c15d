//! The rules `build.rs` applies to a board file's hand-made section, on
//! made-up variants of a committed file: its corrections take effect, a
//! value without provenance or one the partitioner cannot use is refused.

#[allow(dead_code)]
#[path = "../build/board_file.rs"]
mod board_file;
use board_file::{generate, BoardFile};

const RPI4B: &str = include_str!("../boards/rpi4b.yaml");

/// The Raspberry Pi 4's file as if its tree did not say how its cores
/// start (the LS1046A's case), with `entries` added to its hand-made
/// section and `provenance` to that section's provenance; generated.
fn without_cpu_boot(entries: &str, provenance: &str) -> Result<String, String> {
    let text = RPI4B
        .replace("cpu_boot: spin-table", "cpu_boot: unknown")
        .lines()
        .filter(|l| !l.trim_start().starts_with("release_address:"))
        .collect::<Vec<_>>()
        .join("\n")
        .replacen("hand_made:\n", &format!("hand_made:\n{entries}"), 1)
        .replacen(
            "  provenance:\n",
            &format!("  provenance:\n{provenance}"),
            1,
        );
    let board: BoardFile = serde_saphyr::from_str(&text).map_err(|e| e.to_string())?;
    generate(&board)
}

const SPIN_TABLE: &str = "  cpu_boot: spin-table\n  release_addresses: [0xd8, 0xe0, 0xe8, 0xf0]\n";
const SAID_WHERE: &str = "    cpu_boot: the firmware's spin table\n    \
                          release_addresses: the firmware's spin table\n";

#[test]
fn the_committed_file_has_spin_table_cores() {
    let board: BoardFile = serde_saphyr::from_str(RPI4B).unwrap();
    let code = generate(&board).unwrap();
    assert!(code.contains("cpu_boot: CpuBoot::SpinTable"), "{code}");
    assert!(code.contains("release_address: Some(216)"), "{code}");
    // Without what the tree says, nothing starts the cores.
    let code = without_cpu_boot("", "").unwrap();
    assert!(code.contains("cpu_boot: CpuBoot::Unknown"), "{code}");
    assert!(code.contains("release_address: None"), "{code}");
}

#[test]
fn hand_made_cpu_boot_and_release_addresses_fill_what_the_tree_lacks() {
    let code = without_cpu_boot(SPIN_TABLE, SAID_WHERE).unwrap();
    assert!(code.contains("cpu_boot: CpuBoot::SpinTable"), "{code}");
    assert!(code.contains("release_address: Some(216)"), "{code}");
    assert!(code.contains("release_address: Some(240)"), "{code}");
}

#[test]
fn hand_made_values_need_provenance_and_must_be_usable() {
    let error = without_cpu_boot(SPIN_TABLE, "").unwrap_err();
    assert!(
        error.contains("hand_made.cpu_boot has no provenance"),
        "{error}"
    );
    let error = without_cpu_boot(
        "  cpu_boot: psci-hvc\n",
        "    cpu_boot: a firmware for a hypervisor below\n",
    )
    .unwrap_err();
    assert!(error.contains("`psci-hvc`"), "{error}");
    let error = without_cpu_boot(
        "  release_addresses: [0xd8]\n",
        "    release_addresses: one of four\n",
    )
    .unwrap_err();
    assert!(error.contains("1 entries for 4 cpus"), "{error}");
}
