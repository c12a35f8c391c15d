//! The loader must never panic: not on arbitrary text, not on mangled
//! versions of a good config, not on arbitrary well-typed configs. Whatever
//! it accepts must also pass the partitioner's own check after a trip
//! through the blob.

mod common;

use bulkhead_config::yaml::raw::*;
use bulkhead_config::yaml::{self};
use bulkhead_config::{blob, rules, PAGE_SIZE};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn images() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(common::image_dir)
}

const EXAMPLE: &str = include_str!("../examples/qemu-heartbeat.yaml");

/// Loads `source` and, when it is accepted, checks what the partitioner
/// would see.
fn load(source: &str) {
    let path = images().join("config.yaml");
    // A stand-in for the tool's generator: the tree's size follows the cell.
    let generator = |request: &yaml::TreeRequest<'_>| {
        Ok(vec![
            0xd0;
            64 + 16 * request.cell.memory.len()
                + request.bootargs.len()
        ])
    };
    match yaml::load_source_with(source, &path, &[], Some(&generator)) {
        Ok(loaded) => {
            let encoded = loaded.blob();
            let decoded = blob::decode(&encoded).expect("blob decodes");
            assert_eq!(decoded, loaded.system);
            assert_eq!(rules::check(&decoded, loaded.board, |_| {}), 0);
            assert_eq!(
                rules::warnings(&decoded, loaded.board, |_| {}),
                loaded.warnings.len()
            );
            for p in &loaded.payloads {
                let image = &loaded.system.cells[p.cell].images[p.image];
                assert_eq!(image.offset % PAGE_SIZE, 0);
                assert!(image.offset + image.size <= loaded.total_length);
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty());
            for d in diagnostics.iter() {
                assert!(d.line >= 1);
            }
            // Rendering is slow in debug builds; a few per case suffice.
            for d in diagnostics.iter().take(2) {
                let _ = d.render();
            }
        }
    }
}

fn address() -> impl Strategy<Value = Integer> {
    prop_oneof![
        (0u64..0x20).prop_map(|n| Integer(0x4000_0000 + n * 0x80_0000)),
        (0u64..0x10_0000).prop_map(|n| Integer(0x5000_0000 + n * 0x800)),
        any::<u64>().prop_map(Integer),
    ]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![
        Just(Size(16 << 20)),
        Just(Size(0)),
        Just(Size(0x1800)),
        (1u64..64).prop_map(|n| Size(n << 20)),
        any::<u64>().prop_map(Size),
    ]
}

/// Names for `shared_with`: the example's cells, short names that the
/// cell strategy may produce, and anything.
fn cell_reference() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("sensor".to_string()),
        Just("intruder".to_string()),
        "[a-c]",
        "[A-Za-z0-9 !_-]{0,12}",
    ]
}

fn memory() -> impl Strategy<Value = RawMemory> {
    (
        address(),
        size(),
        prop_oneof![
            Just(RawAccess::Rwx),
            Just(RawAccess::Rw),
            Just(RawAccess::Ro)
        ],
        proptest::option::of(prop_oneof![
            (0u64..0x40).prop_map(|n| Integer(n << 21)),
            address(),
        ]),
        proptest::collection::vec(cell_reference(), 0..3),
    )
        .prop_map(|(base, size, access, guest_base, shared_with)| RawMemory {
            base,
            size,
            access,
            guest_base,
            shared_with,
        })
}

fn file() -> impl Strategy<Value = PathBuf> {
    prop_oneof![
        Just("heartbeat.bin"),
        Just("intruder.bin"),
        Just("big.bin"),
        Just("initrd.bin"),
        Just("missing.bin"),
        Just(""),
    ]
    .prop_map(PathBuf::from)
}

fn image() -> impl Strategy<Value = RawImage> {
    (file(), address()).prop_map(|(path, load_address)| RawImage { path, load_address })
}

fn device_tree() -> impl Strategy<Value = RawDeviceTree> {
    (
        proptest::option::of(file()),
        proptest::option::of(address()),
    )
        .prop_map(|(path, load_address)| RawDeviceTree { path, load_address })
}

fn cell() -> impl Strategy<Value = RawCell> {
    let name = prop_oneof!["[a-c]", "[a-z]{1,8}", "[A-Za-z0-9 !_-]{0,40}"];
    let device = prop_oneof![
        (0u32..32).prop_map(|n| format!("virtio-mmio{n}")),
        Just("uart0".to_string()),
        Just("rtc".to_string()),
        "[a-z-]{1,12}",
    ];
    (
        (
            name,
            proptest::collection::vec(
                prop_oneof![(0u64..5).prop_map(Integer), any::<u64>().prop_map(Integer)],
                0..6,
            ),
            proptest::collection::vec(memory(), 0..(bulkhead_config::MAX_CELL_MEMORY + 2)),
            proptest::collection::vec(device, 0..4),
            prop_oneof![Just(RawConsole::Virtual), Just(RawConsole::None)],
        ),
        (
            (file(), proptest::option::of(address()))
                .prop_map(|(path, load_address)| RawKernel { path, load_address }),
            proptest::option::of(image()),
            proptest::option::of(device_tree()),
            proptest::option::of("[a-z =,.]{0,20}"),
            proptest::option::of(address()),
            proptest::option::of(address()),
            prop_oneof![Just(RawFaultPolicy::Stop), Just(RawFaultPolicy::Restart)],
            proptest::bool::ANY,
        ),
    )
        .prop_map(
            |(
                (name, cpus, memory, devices, console),
                (kernel, initrd, device_tree, bootargs, entry, boot_argument, on_fault, realtime),
            )| RawCell {
                name,
                cpus,
                memory,
                devices,
                console,
                kernel,
                initrd,
                device_tree,
                bootargs,
                entry,
                boot_argument,
                on_fault,
                realtime,
                latency_budget: None,
                wfi: if realtime {
                    RawWfi::Direct
                } else {
                    RawWfi::Trapped
                },
                // Also the refused combination (real-time, virtualized)
                // half of the time.
                interrupts: if boot_argument.is_some() {
                    RawInterrupts::Virtualized
                } else {
                    RawInterrupts::Direct
                },
                // Unconfined DMA accepted half of the time.
                dma: if on_fault == RawFaultPolicy::Restart {
                    RawDma::Unconfined
                } else {
                    RawDma::Confined
                },
                // A watchdog when there is an entry: its timeout in and out
                // of range, at the boot argument's address or the default.
                watchdog: entry.map(|entry| RawWatchdog {
                    timeout_ms: Integer(entry.0 % 400_000),
                    action: on_fault,
                    base: boot_argument,
                }),
            },
        )
}

fn channel() -> impl Strategy<Value = RawChannel> {
    (
        prop_oneof!["[a-c]", "[A-Za-z0-9 !_-]{0,40}"],
        proptest::collection::vec(
            cell_reference(),
            0..(bulkhead_config::MAX_CHANNEL_PEERS + 2),
        ),
        address(),
        size(),
        size(),
    )
        .prop_map(|(name, peers, base, common_size, output_size)| RawChannel {
            name,
            peers,
            base,
            common_size,
            output_size,
        })
}

fn system() -> impl Strategy<Value = RawSystem> {
    (
        prop_oneof![9 => Just(Integer(1)), 1 => any::<u64>().prop_map(Integer)],
        prop_oneof![9 => Just("qemu-virt".to_string()), 1 => "[a-z-]{0,12}"],
        proptest::collection::vec(cell(), 0..(bulkhead_config::MAX_CELLS + 2)),
        proptest::collection::vec(channel(), 0..3),
    )
        .prop_map(|(version, board, cells, channels)| RawSystem {
            qemu: None,
            // Required half of the time: refused where no core takes it.
            console_input: if channels.is_empty() {
                RawConsoleInput::Required
            } else {
                RawConsoleInput::Auto
            },
            version,
            board,
            cells,
            channels,
        })
}

/// How the two cells of [`mostly_valid`] map a region at 0x7000_0000.
#[derive(Clone, Copy, Debug)]
enum Sharing {
    /// Neither maps it.
    None,
    /// Both map it and name each other: valid.
    Both,
    /// Both map it, only the first names the other: invalid.
    OneSided,
}

/// A config that is valid except for what the strategy changes.
fn mostly_valid() -> impl Strategy<Value = (RawSystem, Sharing)> {
    (
        0u64..4,
        0u64..4,
        proptest::bool::ANY,
        prop_oneof![
            Just(Sharing::None),
            Just(Sharing::Both),
            Just(Sharing::OneSided)
        ],
        proptest::bool::ANY,
        proptest::bool::ANY,
    )
        .prop_map(|(a, b, twin, sharing, realtime, channel)| {
            let mut raw: RawSystem = yaml::parse_source(EXAMPLE, "example").unwrap();
            raw.cells[0].cpus = vec![Integer(a)];
            raw.cells[1].cpus = vec![Integer(b)];
            if twin {
                raw.cells[1].memory[0].base = Integer(0x5000_0000);
            }
            // Real-time cells only ever add warnings.
            raw.cells[0].realtime = realtime;
            // A valid channel changes nothing.
            if channel {
                raw.channels.push(RawChannel {
                    name: "link".to_string(),
                    peers: vec!["intruder".to_string(), "sensor".to_string()],
                    base: Integer(0x7100_0000),
                    common_size: Size(0x1000),
                    output_size: Size(0x1_0000),
                });
            }
            let shared = |with: &str| RawMemory {
                base: Integer(0x7000_0000),
                size: Size(2 << 20),
                access: RawAccess::Rw,
                guest_base: None,
                shared_with: vec![with.to_string()],
            };
            match sharing {
                Sharing::None => {}
                Sharing::Both => {
                    raw.cells[0].memory.push(shared("intruder"));
                    raw.cells[1].memory.push(shared("sensor"));
                }
                Sharing::OneSided => {
                    raw.cells[0].memory.push(shared("intruder"));
                    raw.cells[1].memory.push(RawMemory {
                        shared_with: Vec::new(),
                        ..shared("")
                    });
                }
            }
            (raw, sharing)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        load(&text);
    }

    #[test]
    fn yaml_like_text_never_panics(text in "[a-z0-9_:\\-\\[\\]{},#&*!|>'\" \n\t]{0,300}") {
        load(&text);
    }

    #[test]
    fn mangled_examples_never_panic(at in 0usize..2000, len in 0usize..40, insert in "[\\PC\n]{0,20}") {
        let mut text = EXAMPLE.to_string();
        let mut start = at.min(text.len());
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) { end += 1; }
        text.replace_range(start..end, &insert);
        load(&text);
    }

    #[test]
    fn arbitrary_configs_never_panic(raw in system()) {
        let text = serde_saphyr::to_string(&raw).unwrap();
        load(&text);
    }

    #[test]
    fn near_valid_configs_are_judged_consistently((raw, sharing) in mostly_valid()) {
        let text = serde_saphyr::to_string(&raw).unwrap();
        let path = images().join("config.yaml");
        let result = yaml::load_source(&text, &path, &[]);
        let cpus_clash = raw.cells[0].cpus == raw.cells[1].cpus;
        let memory_clash = raw.cells[1].memory[0].base.0 == 0x5000_0000;
        let sharing_clash = matches!(sharing, Sharing::OneSided);
        prop_assert_eq!(
            result.is_ok(),
            !cpus_clash && !memory_clash && !sharing_clash,
            "{}",
            text
        );
        // qemu-virt has one cluster: a real-time cell always has a warning.
        if let Ok(loaded) = &result {
            prop_assert_eq!(loaded.warnings.len(), usize::from(raw.cells[0].realtime));
            let shared = &loaded.system.cells[0].memory;
            prop_assert_eq!(shared.iter().any(|m| m.is_shared()), matches!(sharing, Sharing::Both));
            prop_assert_eq!(loaded.system.channels.len(), raw.channels.len());
        }
        load(&text);
    }
}

#[test]
fn a_serialized_raw_config_reads_back() {
    let raw: RawSystem = yaml::parse_source(EXAMPLE, "example").unwrap();
    let text = serde_saphyr::to_string(&raw).unwrap();
    assert_eq!(yaml::parse_source(&text, "again").unwrap(), raw);
    assert!(Path::new(images()).join("heartbeat.bin").is_file());

    // With channels; a zero `common_size` is left out and reads back as
    // the default.
    let mut raw = raw;
    for common in [0, 0x1000] {
        raw.channels = vec![RawChannel {
            name: "link".to_string(),
            peers: vec!["sensor".to_string(), "intruder".to_string()],
            base: Integer(0x7000_0000),
            common_size: Size(common),
            output_size: Size(0x1_0000),
        }];
        let text = serde_saphyr::to_string(&raw).unwrap();
        assert_eq!(text.contains("common_size"), common != 0, "{text}");
        assert_eq!(yaml::parse_source(&text, "again").unwrap(), raw);
    }
}
