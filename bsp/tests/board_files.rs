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

const ZCU102: &str = include_str!("../boards/zcu102.yaml");

/// The ZCU102's file with its spare SPIs replaced by `runs`; generated.
fn zcu102_with_spare(runs: &str) -> Result<String, String> {
    let start = ZCU102.find("  spare_spis:\n").unwrap();
    let end = ZCU102[start..].find("  counter_hz:").unwrap() + start;
    let text = format!(
        "{}  spare_spis: {runs}\n{}",
        &ZCU102[..start],
        &ZCU102[end..]
    );
    let board: BoardFile = serde_saphyr::from_str(&text).map_err(|e| e.to_string())?;
    generate(&board)
}

#[test]
fn spare_spis_are_runs_clear_of_every_node() {
    let code = zcu102_with_spare("[{ first: 121, count: 8 }, { first: 188, count: 4 }]").unwrap();
    assert!(
        code.contains(
            "SpareSpis(&[IntidRange { first: 121, count: 8 }, IntidRange { first: 188, count: 4 }])"
        ),
        "{code}"
    );
    // INTID 187 is the ZynqMP's last used one (a disabled node's too).
    let error = zcu102_with_spare("[{ first: 186, count: 6 }]").unwrap_err();
    assert!(error.contains("meets INTIDs 187..=187"), "{error}");
    // GEM3's interrupt.
    let error = zcu102_with_spare("[{ first: 94, count: 2 }]").unwrap_err();
    assert!(error.contains("meets INTIDs 95..=95"), "{error}");
    let error =
        zcu102_with_spare("[{ first: 188, count: 4 }, { first: 121, count: 8 }]").unwrap_err();
    assert!(error.contains("ascending order"), "{error}");
    let error = zcu102_with_spare("[{ first: 20, count: 4 }]").unwrap_err();
    assert!(error.contains("ascending order, from INTID 32"), "{error}");
    let error = zcu102_with_spare("[]").unwrap_err();
    assert!(error.contains("no run"), "{error}");
}
