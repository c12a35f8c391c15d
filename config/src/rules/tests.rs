use super::*;
use bsp::qemu_virt::BOARD;
use heapless::Vec;

fn region(base: u64, size: u64, access: Access) -> MemoryRegion {
    MemoryRegion {
        range: MemRange::new(base, size),
        guest_base: base,
        access,
        shared_with: CellSet::EMPTY,
    }
}

fn cell(n: &str, cpus: u64, base: u64) -> Cell {
    let mut memory = Vec::new();
    memory
        .push(region(base, 0x100_0000, Access::ReadWriteExecute))
        .unwrap();
    let mut images = Vec::new();
    images
        .push(Image {
            kind: ImageKind::Kernel,
            offset: 0x1000,
            size: 0x2000,
            load_address: base,
        })
        .unwrap();
    Cell {
        name: name(n).unwrap(),
        cpus: CpuSet::from_bits(cpus),
        memory,
        devices: Vec::new(),
        console: Some(Console {
            base: 0x0900_0000,
            irq: 96,
        }),
        images,
        entry: base,
        boot_argument: 0,
        on_fault: FaultPolicy::Stop,
        watchdog: None,
    }
}

fn system(cells: &[Cell]) -> System {
    System {
        board: name("qemu-virt").unwrap(),
        cells: cells.iter().cloned().collect(),
        realtime: CellSet::EMPTY,
        direct_wfi: CellSet::EMPTY,
        virtualized: CellSet::EMPTY,
        // Every cell may own unconfined DMA masters (the virtio-mmio
        // slots of most tests): `unconfined_dma_is_refused_unless_accepted`
        // tests the rule.
        unconfined_dma: CellSet::from_bits(0xff),
        channels: Vec::new(),
        icount_quantum_ns: 0,
        console_input: ConsoleInput::Auto,
    }
}

fn findings(s: &System) -> std::vec::Vec<Finding> {
    let mut v = std::vec::Vec::new();
    check(s, &BOARD, |f| v.push(f));
    v
}

fn device(n: &str) -> DeviceGrant {
    grant(&BOARD, n)
}

/// Device `n` of `board`, as a config gives it.
fn grant(board: &bsp::Board, n: &str) -> DeviceGrant {
    let d = board.device(n).unwrap();
    DeviceGrant {
        name: name(n).unwrap(),
        mmio: d.mmio.iter().copied().collect(),
        irqs: d.irqs.iter().copied().collect(),
    }
}

#[test]
fn a_good_system_has_no_findings() {
    let s = system(&[cell("a", 0b11, 0x5000_0000), cell("b", 0b1100, 0x6000_0000)]);
    assert_eq!(findings(&s), []);
}

#[test]
fn shared_cpu_is_reported_on_the_second_cell() {
    let s = system(&[cell("a", 0b11, 0x5000_0000), cell("b", 0b110, 0x6000_0000)]);
    let f = findings(&s);
    assert_eq!(
        f,
        [Finding {
            location: Location::Cell {
                cell: 1,
                field: CellField::Cpu(1)
            },
            problem: Problem::CpuTaken { other: 0 }
        }]
    );
}

#[test]
fn overlapping_memory_and_hypervisor_ram() {
    let s = system(&[
        cell("a", 1, 0x5000_0000),
        cell("b", 2, 0x5080_0000),
        cell("c", 4, 0x4800_0000),
    ]);
    let problems: std::vec::Vec<_> = findings(&s).iter().map(|f| f.problem).collect();
    assert!(problems.contains(&Problem::MemoryOverlap {
        other_cell: 0,
        other_region: 0
    }));
    assert!(problems.contains(&Problem::HypervisorRam {
        reserved: BOARD.hypervisor_ram
    }));
}

#[test]
fn unaligned_empty_and_not_ram() {
    let mut c = cell("a", 1, 0x5000_0000);
    c.memory
        .push(region(0x6000_0800, 0x1000, Access::ReadWrite))
        .unwrap();
    c.memory
        .push(region(0x6100_0000, 0, Access::ReadWrite))
        .unwrap();
    c.memory
        .push(region(0x2000_0000, 0x1000, Access::ReadWrite))
        .unwrap();
    let problems: std::vec::Vec<_> = findings(&system(&[c])).iter().map(|f| f.problem).collect();
    assert_eq!(
        problems,
        [Problem::Unaligned, Problem::Empty, Problem::NotRam]
    );
}

#[test]
fn devices_are_exclusive() {
    let mut a = cell("a", 1, 0x5000_0000);
    let mut b = cell("b", 2, 0x6000_0000);
    a.devices.push(device("virtio-mmio31")).unwrap();
    b.devices.push(device("virtio-mmio31")).unwrap();
    b.devices.push(device("virtio-mmio30")).unwrap();
    b.devices.push(device("uart0")).unwrap();
    let problems: std::vec::Vec<_> = findings(&system(&[a, b]))
        .iter()
        .map(|f| f.problem)
        .collect();
    assert_eq!(
        problems,
        [
            Problem::DeviceTaken { other: 0 },
            Problem::DevicePageShared {
                other_cell: 0,
                other_device: 0
            },
            Problem::DeviceReserved
        ]
    );
}

/// LS1046A's DUART: uart0 (the console) and uart1 sit in one 4 KiB
/// page at 0x21c0500 and 0x21c0600 and share SPI 54. Modelled on QEMU
/// virt by moving the console next to virtio-mmio31.
#[test]
fn a_device_in_the_consoles_page_or_on_its_interrupt_is_refused() {
    let mut board = BOARD;
    let uart1 = BOARD.device("virtio-mmio31").unwrap();
    board.console.mmio = MemRange::new(uart1.mmio[0].base - 0x100, 0x100);
    board.console.irq = uart1.irqs[0];
    let mut a = cell("a", 1, 0x5000_0000);
    a.devices.push(device("virtio-mmio31")).unwrap();
    let mut problems = std::vec::Vec::new();
    check(&system(&[a]), &board, |f| problems.push(f.problem));
    assert_eq!(
        problems,
        [
            Problem::ConsolePageShared,
            Problem::ConsoleIrqShared { irq: uart1.irqs[0] }
        ]
    );
    assert_eq!(
        Problem::ConsolePageShared.code(),
        "config::console_page_shared"
    );
}

#[test]
fn devices_must_be_the_boards() {
    let mut a = cell("a", 1, 0x5000_0000);
    let mut forged = device("virtio-mmio31");
    forged.mmio[0] = MemRange::new(0x0800_0000, 0x1_0000);
    a.devices.push(forged).unwrap();
    let mut unknown = device("rtc");
    unknown.name = name("nope").unwrap();
    a.devices.push(unknown).unwrap();
    let problems: std::vec::Vec<_> = findings(&system(&[a])).iter().map(|f| f.problem).collect();
    assert_eq!(problems, [Problem::DeviceMismatch, Problem::NoSuchDevice]);
}

#[test]
fn shared_irq_is_reported() {
    let mut a = cell("a", 1, 0x5000_0000);
    let mut b = cell("b", 2, 0x6000_0000);
    a.devices.push(device("virtio-mmio0")).unwrap();
    // A board whose RTC shares virtio-mmio0's interrupt line.
    const SHARED: &[u32] = &[48];
    let mut devices = BOARD.devices.to_vec();
    let rtc = devices.iter_mut().find(|d| d.name == "rtc").unwrap();
    rtc.irqs = SHARED;
    let devices: &'static [bsp::Device] = devices.leak();
    let board = bsp::Board { devices, ..BOARD };
    let mut d = device("rtc");
    d.irqs[0] = 48;
    b.devices.push(d).unwrap();
    let mut problems = std::vec::Vec::new();
    check(&system(&[a, b]), &board, |f| problems.push(f.problem));
    assert_eq!(problems, [Problem::IrqTaken { irq: 48, other: 0 }]);
}

#[test]
fn images_must_fit_and_entry_must_be_in_kernel() {
    let mut a = cell("a", 1, 0x5000_0000);
    a.images[0].size = 0x100_0001;
    a.entry = 0x5800_0000;
    let problems: std::vec::Vec<_> = findings(&system(&[a])).iter().map(|f| f.problem).collect();
    assert_eq!(
        problems,
        [Problem::ImageOutsideRam, Problem::EntryOutsideKernel]
    );
}

#[test]
fn names_cpus_and_board() {
    let mut s = system(&[cell("A", 0, 0x5000_0000), cell("A", 1 << 9, 0x6000_0000)]);
    s.board = name("rpi4").unwrap();
    let problems: std::vec::Vec<_> = findings(&s).iter().map(|f| f.problem).collect();
    assert_eq!(
        problems,
        [
            Problem::WrongBoard,
            Problem::BadName,
            Problem::NoCpus,
            Problem::BadName,
            Problem::DuplicateName { other: 0 },
            Problem::NoSuchCpu { board_cpus: 4 }
        ]
    );
    assert_eq!(
        findings(&System {
            board: name("qemu-virt").unwrap(),
            cells: Vec::new(),
            realtime: CellSet::EMPTY,
            direct_wfi: CellSet::EMPTY,
            virtualized: CellSet::EMPTY,
            unconfined_dma: CellSet::EMPTY,
            channels: Vec::new(),
            icount_quantum_ns: 0,
            console_input: ConsoleInput::Auto,
        })
        .len(),
        1
    );
}

fn problems(s: &System) -> std::vec::Vec<(Location, Problem)> {
    findings(s)
        .iter()
        .map(|f| (f.location, f.problem))
        .collect()
}

/// Cells `a` and `b` with a 2 MiB region at 0x7000_0000 each, shared
/// with the other as `a_shares` and `b_shares` say.
fn sharing(a_shares: u8, b_shares: u8) -> System {
    let mut a = cell("a", 1, 0x5000_0000);
    let mut b = cell("b", 2, 0x6000_0000);
    let mut shared = region(0x7000_0000, 0x20_0000, Access::ReadWrite);
    shared.shared_with = CellSet::from_bits(a_shares);
    a.memory.push(shared).unwrap();
    shared.shared_with = CellSet::from_bits(b_shares);
    b.memory.push(shared).unwrap();
    system(&[a, b])
}

#[test]
fn a_region_declared_shared_on_both_sides_is_fine() {
    assert_eq!(findings(&sharing(0b10, 0b01)), []);
}

#[test]
fn a_region_shared_without_either_side_saying_so_overlaps() {
    assert_eq!(
        problems(&sharing(0, 0)),
        [(
            Location::Cell {
                cell: 1,
                field: CellField::Memory(1)
            },
            Problem::MemoryOverlap {
                other_cell: 0,
                other_region: 1
            }
        )]
    );
}

#[test]
fn sharing_must_be_declared_back() {
    // `a` shares with `b`; `b` maps the range but does not say so.
    assert_eq!(
        problems(&sharing(0b10, 0)),
        [(
            Location::Cell {
                cell: 0,
                field: CellField::SharedWith { region: 1, cell: 1 }
            },
            Problem::SharingNotDeclared {
                other_region: Some(1)
            }
        )]
    );
    // `b` does not map the range at all.
    let mut s = sharing(0b10, 0);
    s.cells[1].memory.pop();
    assert_eq!(
        problems(&s),
        [(
            Location::Cell {
                cell: 0,
                field: CellField::SharedWith { region: 1, cell: 1 }
            },
            Problem::SharingNotDeclared { other_region: None }
        )]
    );
}

#[test]
fn shared_regions_must_be_the_same_range() {
    let mut s = sharing(0b10, 0b01);
    s.cells[1].memory[1].range.size = 0x10_0000;
    s.cells[1].memory[1].guest_base = 0x7000_0000;
    assert_eq!(
        problems(&s),
        [(
            Location::Cell {
                cell: 1,
                field: CellField::Memory(1)
            },
            Problem::MemoryOverlap {
                other_cell: 0,
                other_region: 1
            }
        )]
    );
}

#[test]
fn sharing_with_oneself_or_nobody() {
    let s = sharing(0b1000_0011, 0b01);
    let p: std::vec::Vec<_> = findings(&s).iter().map(|f| f.problem).collect();
    assert_eq!(p, [Problem::SharedWithSelf, Problem::NoSuchCell]);
}

#[test]
fn images_stay_out_of_shared_regions() {
    let mut s = sharing(0b10, 0b01);
    s.cells[0].images[0].load_address = 0x7000_0000;
    s.cells[0].entry = 0x7000_0000;
    assert_eq!(
        problems(&s),
        [(
            Location::Cell {
                cell: 0,
                field: CellField::Image(0)
            },
            Problem::ImageInSharedRegion { region: 1 }
        )]
    );
}

#[test]
fn guest_addresses_are_checked_in_the_cells_space() {
    // RAM at 0x5000_0000 seen at 0: the image, the entry and the console
    // are guest addresses.
    let mut a = cell("a", 1, 0);
    a.memory[0].range.base = 0x5000_0000;
    assert_eq!(findings(&system(&[a.clone()])), []);
    assert_eq!(
        a.physical(&MemRange::new(0x1000, 0x2000)),
        Some(MemRange::new(0x5000_1000, 0x2000))
    );
    assert_eq!(a.physical(&MemRange::new(0xff_f000, 0x2000)), None);

    // Two regions at one guest address; one over a device, the console
    // page and the GIC; one past the IPA space; one unaligned.
    let mut b = cell("b", 2, 0x6000_0000);
    b.devices.push(device("rtc")).unwrap();
    let mut over = region(0x6100_0000, 0x1000, Access::ReadWrite);
    over.guest_base = 0x6000_0000;
    b.memory.push(over).unwrap();
    let mut low = region(0x6200_0000, 0x200_0000, Access::ReadWrite);
    low.guest_base = 0x0800_0000;
    b.memory.push(low).unwrap();
    let mut high = region(0x6400_0000, 0x1000, Access::ReadWrite);
    high.guest_base = GUEST_ADDRESS_LIMIT;
    b.memory.push(high).unwrap();
    let mut odd = region(0x6500_0000, 0x1000, Access::ReadWrite);
    odd.guest_base = 0x10_0800;
    b.memory.push(odd).unwrap();
    let p: std::vec::Vec<_> = findings(&system(&[b])).iter().map(|f| f.problem).collect();
    assert_eq!(
        p,
        [
            Problem::Unaligned,
            Problem::GuestOverlap { other_region: 0 },
            Problem::GuestDeviceOverlap { device: 0 },
            Problem::GuestGicOverlap,
            Problem::GuestOutOfRange,
            Problem::ConsoleOverlap,
        ]
    );
}

#[test]
fn dma_capable_devices_need_identity_mapped_ram() {
    let mut a = cell("a", 1, 0x5000_0000);
    a.devices.push(device("rtc")).unwrap();
    let mut moved = region(0x5800_0000, 0x1000, Access::ReadWrite);
    moved.guest_base = 0x5900_0000;
    a.memory.push(moved).unwrap();
    // The RTC does not master DMA.
    assert_eq!(findings(&system(&[a.clone()])), []);
    a.devices.push(device("virtio-mmio31")).unwrap();
    assert_eq!(
        problems(&system(&[a])),
        [(
            Location::Cell {
                cell: 0,
                field: CellField::Memory(1)
            },
            Problem::DmaNeedsIdentity { device: 1 }
        )]
    );
}

/// On a board whose SMMUv3 confines the PCI host bridge's DMA, the
/// bridge's cell may see its RAM anywhere: the device sees the same
/// guest-physical addresses through the SMMU. Its streams are the
/// bridge's whole `iommu-map`.
#[test]
fn smmu_confined_devices_do_not_need_identity_mapped_ram() {
    let board = &bsp::qemu_virt_smmu::BOARD;
    let pcie = board.device("pcie").unwrap();
    assert_eq!(
        crate::dma::confinement(board, pcie),
        crate::dma::Confinement::Smmu
    );
    let mut a = cell("a", 1, 0x5000_0000);
    let mut moved = region(0x5800_0000, 0x1000, Access::ReadWrite);
    moved.guest_base = 0x4800_0000;
    a.memory.push(moved).unwrap();
    a.devices.push(grant(board, "pcie")).unwrap();
    let mut s = system(&[a.clone()]);
    s.board = name(board.name).unwrap();
    let mut found = std::vec::Vec::new();
    check(&s, board, |f| found.push(f.problem));
    assert_eq!(found, []);
    let streams: std::vec::Vec<_> = crate::dma::cell_streams(board, &a).collect();
    assert_eq!(
        streams,
        [crate::dma::Streams {
            device: 0,
            first: 0,
            count: 0x1_0000
        }]
    );
    assert!(streams[0].contains(0x10) && !streams[0].contains(0x1_0000));
    // On qemu-virt, virtio-mmio has no IOMMU in front of it.
    let virtio = BOARD.device("virtio-mmio31").unwrap();
    assert_eq!(
        crate::dma::confinement(&BOARD, virtio),
        crate::dma::Confinement::None
    );
    assert_eq!(
        crate::dma::confinement(&BOARD, BOARD.device("rtc").unwrap()),
        crate::dma::Confinement::NoDma
    );
}

/// A DMA master no SMMU confines is refused unless its cell accepts it
/// (`dma: unconfined`).
#[test]
fn unconfined_dma_is_refused_unless_accepted() {
    let mut a = cell("a", 1, 0x5000_0000);
    a.devices.push(device("virtio-mmio31")).unwrap();
    a.devices.push(device("rtc")).unwrap();
    let mut s = system(&[a]);
    assert_eq!(findings(&s), []);
    s.unconfined_dma = CellSet::EMPTY;
    assert_eq!(
        problems(&s),
        [(
            Location::Cell {
                cell: 0,
                field: CellField::Device(0)
            },
            Problem::UnconfinedDma
        )]
    );
}

/// On the SMMU board, the bridge's faults need a core that takes the
/// partitioner's interrupts: with only a real-time cell there is none.
#[test]
fn confined_dma_needs_a_housekeeping_core() {
    let board = &bsp::qemu_virt_smmu::BOARD;
    let mut a = cell("a", 1, 0x5000_0000);
    a.devices.push(grant(board, "pcie")).unwrap();
    let mut s = system(&[a]);
    s.board = name(board.name).unwrap();
    s.realtime.insert(0);
    let mut found = std::vec::Vec::new();
    check(&s, board, |f| found.push(f.problem));
    assert!(found.contains(&Problem::DmaWithoutHousekeeper), "{found:?}");
    s.realtime = CellSet::EMPTY;
    found.clear();
    check(&s, board, |f| found.push(f.problem));
    assert!(
        !found.contains(&Problem::DmaWithoutHousekeeper),
        "{found:?}"
    );
}

/// A device in the page of the IOMMU's registers would hand them to its
/// cell: on a board (made up from the SMMU board) whose SMMU shares the
/// RTC's page, the RTC is refused.
#[test]
fn a_device_in_the_iommus_page_is_refused() {
    let real = bsp::qemu_virt_smmu::BOARD;
    let rtc = real.device("rtc").unwrap().mmio[0];
    let mut smmu = real.iommus[0];
    smmu.mmio = std::vec![MemRange::new(rtc.base + 0x800, 0x100)].leak();
    let mut board = real;
    board.iommus = std::vec![smmu].leak();
    let mut a = cell("a", 1, 0x5000_0000);
    a.devices.push(grant(&board, "rtc")).unwrap();
    let mut s = system(&[a]);
    s.board = name(board.name).unwrap();
    let mut found = std::vec::Vec::new();
    check(&s, &board, |f| found.push(f.problem));
    assert_eq!(found, [Problem::IommuPageShared]);
    let mut found = std::vec::Vec::new();
    check(&s, &real, |f| found.push(f.problem));
    assert_eq!(found, []);
}

#[test]
fn streams_overlap_when_they_share_an_id() {
    use crate::dma::Streams;
    let s = |first, count| Streams {
        device: 0,
        first,
        count,
    };
    assert!(s(0, 0x100).overlaps(&s(0xff, 1)));
    assert!(!s(0, 0x100).overlaps(&s(0x100, 4)));
    assert!(!s(0, 0).overlaps(&s(0, 4)));
    assert!(!s(u32::MAX, 1).overlaps(&s(0, u32::MAX)));
    assert!(s(u32::MAX, 1).overlaps(&s(u32::MAX, 1)));
    // The partitioner's stream table holds stream IDs 0..256.
    assert_eq!(s(0, 0x1_0000).in_table(), Some(s(0, 0x100)));
    assert_eq!(s(0x10, 1).in_table(), Some(s(0x10, 1)));
    assert_eq!(s(0x100, 4).in_table(), None);
    assert_eq!(s(0, 0x1_0000).last(), 0xffff);
}

/// Cells `a` (0x5000_0000) and `b` (0x6000_0000) and a channel
/// between them at 0x7000_0000: 4 KiB state table, 4 KiB common
/// section, two 64 KiB output sections.
fn with_channel() -> System {
    let mut s = system(&[cell("a", 1, 0x5000_0000), cell("b", 2, 0x6000_0000)]);
    s.channels
        .push(channel("link", 0x7000_0000, &[0, 1]))
        .unwrap();
    s
}

fn channel(n: &str, base: u64, peers: &[u8]) -> Channel {
    Channel {
        name: name(n).unwrap(),
        base,
        peers: Vec::from_slice(peers).unwrap(),
        common_size: 0x1000,
        output_size: 0x1_0000,
    }
}

fn at_channel(channel: usize, field: ChannelField) -> Location {
    Location::Channel { channel, field }
}

#[test]
fn a_channel_between_two_cells_is_fine() {
    let s = with_channel();
    assert_eq!(findings(&s), []);
    let link = &s.channels[0];
    assert_eq!(
        channel_region(link),
        Some(MemRange::new(0x7000_0000, 0x2_2000))
    );
    assert_eq!(link.peer_of(1), Some(1));
    assert_eq!(link.peer_of(2), None);
}

#[test]
fn a_channel_needs_two_distinct_existing_peers() {
    let mut s = with_channel();
    s.channels[0].peers = Vec::from_slice(&[1]).unwrap();
    assert_eq!(
        problems(&s),
        [(at_channel(0, ChannelField::Peers), Problem::TooFewPeers)]
    );
    s.channels[0].peers = Vec::from_slice(&[0, 1, 0, 7]).unwrap();
    assert_eq!(
        problems(&s),
        [
            (
                at_channel(0, ChannelField::Peer(2)),
                Problem::PeerTwice { first: 0 }
            ),
            (
                at_channel(0, ChannelField::Peer(3)),
                Problem::NoSuchPeerCell
            ),
        ]
    );
}

#[test]
fn channel_names_are_checked_and_unique() {
    let mut s = with_channel();
    s.channels
        .push(channel("link", 0x7100_0000, &[1, 0]))
        .unwrap();
    s.channels
        .push(channel("Bad!", 0x7200_0000, &[0, 1]))
        .unwrap();
    assert_eq!(
        problems(&s),
        [
            (
                at_channel(1, ChannelField::Name),
                Problem::ChannelNameTaken { other: 0 }
            ),
            (at_channel(2, ChannelField::Name), Problem::BadName),
        ]
    );
}

#[test]
fn a_channel_layout_is_whole_pages_with_output_sections() {
    let mut s = with_channel();
    s.channels[0].base += 0x800;
    s.channels[0].common_size = 0x800;
    s.channels[0].output_size = 0x1800;
    assert_eq!(
        problems(&s),
        [
            (at_channel(0, ChannelField::Base), Problem::Unaligned),
            (at_channel(0, ChannelField::CommonSize), Problem::Unaligned),
            (at_channel(0, ChannelField::OutputSize), Problem::Unaligned),
        ]
    );
    let mut s = with_channel();
    s.channels[0].output_size = 0;
    s.channels[0].common_size = 0;
    assert_eq!(
        problems(&s),
        [(at_channel(0, ChannelField::OutputSize), Problem::Empty)]
    );
    // A layout that wraps around the address space is nowhere in RAM.
    let mut s = with_channel();
    s.channels[0].output_size = 1 << 63;
    assert_eq!(
        problems(&s),
        [(at_channel(0, ChannelField::Base), Problem::NotRam)]
    );
}

#[test]
fn channel_memory_is_the_channels_own() {
    let mut s = with_channel();
    // Past the end of RAM, over the partitioner, over cell b's memory,
    // over the first channel.
    s.channels
        .push(channel("high", 0xbfff_f000, &[0, 1]))
        .unwrap();
    s.channels
        .push(channel("low", 0x4fff_f000, &[0, 1]))
        .unwrap();
    s.channels
        .push(channel("twin", 0x7001_0000, &[1, 0]))
        .unwrap();
    s.channels[2].output_size = 0x40_0000;
    assert_eq!(
        problems(&s),
        [
            (at_channel(1, ChannelField::Base), Problem::NotRam),
            (
                at_channel(2, ChannelField::Base),
                Problem::HypervisorRam {
                    reserved: BOARD.hypervisor_ram
                }
            ),
            (
                at_channel(2, ChannelField::Base),
                Problem::ChannelOverlapsMemory { cell: 0, region: 0 }
            ),
            (
                at_channel(3, ChannelField::Base),
                Problem::ChannelOverlap { other: 0 }
            ),
        ]
    );
    let mut s = with_channel();
    s.channels[0].base = 0x6080_0000;
    assert_eq!(
        problems(&s),
        [(
            at_channel(0, ChannelField::Base),
            Problem::ChannelOverlapsMemory { cell: 1, region: 0 }
        )]
    );
}

#[test]
fn doorbells_follow_the_consoles_in_the_spare_spis() {
    let spare = BOARD.spare_spis;
    let first = spare.runs()[0].first;
    assert_eq!(doorbell_spi(spare, 0, 0), Some(first + MAX_CELLS as u32));
    assert_eq!(
        doorbell_spi(spare, 1, 3),
        Some(first + (MAX_CELLS + MAX_CHANNEL_PEERS + 3) as u32)
    );
    // The last doorbell of the largest system fits qemu-virt.
    let last = doorbell_spi(spare, MAX_CHANNELS - 1, MAX_CHANNEL_PEERS - 1);
    assert!(last.is_some_and(|intid| spare.contains(intid)));
    // Far out of range, there is none (no wrapping).
    assert_eq!(doorbell_spi(spare, usize::MAX, 1), None);

    // Runs count on from one to the next: eight consoles in the first,
    // the doorbells in the second.
    let split = bsp::SpareSpis(&[
        bsp::IntidRange {
            first: 121,
            count: 8,
        },
        bsp::IntidRange {
            first: 136,
            count: 8,
        },
    ]);
    assert_eq!(console_spi(split, 7), Some(128));
    assert_eq!(doorbell_spi(split, 0, 0), Some(136));
    assert_eq!(doorbell_spi(split, 1, 3), Some(143));
    assert_eq!(doorbell_spi(split, 2, 0), None);

    // A board with ten spare SPIs: the consoles take eight, the first
    // channel's peers 0 and 1 get the other two, its peer 2 none.
    let mut s = with_channel();
    let mut b = cell("c", 4, 0x6800_0000);
    b.console = None;
    s.cells.push(b).unwrap();
    let small = bsp::Board {
        spare_spis: bsp::SpareSpis(&[bsp::IntidRange {
            first: 96,
            count: 10,
        }]),
        ..BOARD
    };
    let mut found = std::vec::Vec::new();
    check(&s, &small, |f| found.push(f));
    assert_eq!(found, []);
    s.channels[0].peers.push(2).unwrap();
    let mut found = std::vec::Vec::new();
    check(&s, &small, |f| found.push((f.location, f.problem)));
    assert_eq!(
        found,
        [(
            at_channel(0, ChannelField::Peers),
            Problem::NoDoorbellSpi { peer: 2, spare: 10 }
        )]
    );
}

#[test]
fn channels_need_a_virtual_pci_bridge_that_fits_them() {
    let s = with_channel();
    let bare = bsp::Board {
        virtual_pci: None,
        ..BOARD
    };
    let mut found = std::vec::Vec::new();
    check(&s, &bare, |f| found.push((f.location, f.problem)));
    assert_eq!(
        found,
        [(at_channel(0, ChannelField::Name), Problem::NoVirtualPci)]
    );

    // 4 KiB + 4 KiB + 2 x 16 MiB needs a 64 MiB BAR; a slot is 16 MiB.
    let mut s = with_channel();
    s.channels[0].output_size = 16 << 20;
    s.channels[0].base = 0x7100_0000;
    assert_eq!(channel_bar_size(&s.channels[0]), Some(64 << 20));
    assert_eq!(
        problems(&s),
        [(
            at_channel(0, ChannelField::OutputSize),
            Problem::ChannelTooLarge {
                bar_size: 64 << 20,
                slot: 16 << 20
            }
        )]
    );

    // Room for one device only: the second channel has no slot.
    let mut s = with_channel();
    s.channels
        .push(channel("more", 0x7100_0000, &[1, 0]))
        .unwrap();
    let pci = BOARD.virtual_pci.unwrap();
    let one = bsp::Board {
        virtual_pci: Some(bsp::VirtualPci {
            registers: MemRange::new(pci.registers.base, 0x1000),
            ..pci
        }),
        ..BOARD
    };
    let mut found = std::vec::Vec::new();
    check(&s, &one, |f| found.push((f.location, f.problem)));
    assert_eq!(
        found,
        [(
            at_channel(1, ChannelField::Name),
            Problem::NoVirtualPciDevice { devices: 1 }
        )]
    );
}

#[test]
fn peers_keep_their_memory_and_devices_out_of_the_virtual_pci_windows() {
    let mut s = with_channel();
    s.cells[1].devices.push(device("pcie")).unwrap();
    s.cells[0].memory[0].guest_base = 0x2000_0000;
    s.cells[0].images[0].load_address = 0x2000_0000;
    s.cells[0].entry = 0x2000_0000;
    assert_eq!(
        problems(&s),
        [
            (
                Location::Cell {
                    cell: 0,
                    field: CellField::Memory(0)
                },
                Problem::MemoryInVirtualPci { channel: 0 }
            ),
            (
                Location::Cell {
                    cell: 1,
                    field: CellField::Device(0)
                },
                Problem::DeviceInVirtualPci { channel: 0 }
            ),
        ]
    );
    // A cell that is no peer may have them.
    s.channels[0].peers = Vec::from_slice(&[1, 2]).unwrap();
    let mut c = cell("c", 4, 0x6800_0000);
    c.console = None;
    s.cells.push(c).unwrap();
    s.cells[1].devices.clear();
    assert_eq!(problems(&s), []);
}

fn advice(s: &System, board: &bsp::Board) -> std::vec::Vec<Warning> {
    let mut v = std::vec::Vec::new();
    assert_eq!(warnings(s, board, |w| v.push(w)), v.len());
    v
}

#[test]
fn a_realtime_cell_in_a_shared_cluster_is_warned_about() {
    let mut s = system(&[cell("rt", 0b1, 0x5000_0000), cell("b", 0b110, 0x6000_0000)]);
    assert_eq!(advice(&s, &BOARD), []);
    s.realtime = CellSet::from_bits(0b1);
    assert_eq!(
        advice(&s, &BOARD),
        [Warning {
            location: Location::Cell {
                cell: 0,
                field: CellField::Realtime
            },
            concern: Concern::SharedCluster {
                cpu: 0,
                other_cell: 1,
                other_cpu: 1,
                cluster: 0
            }
        }]
    );
    // A warning is not a finding: the partitioner boots it.
    assert_eq!(findings(&s), []);
}

#[test]
fn clusters_decide_and_unknown_clusters_say_nothing() {
    const SPLIT: [bsp::Cpu; 4] = {
        let c = BOARD.cpus;
        [
            c[0],
            c[1],
            bsp::Cpu {
                cluster: Some(1),
                ..c[2]
            },
            bsp::Cpu {
                cluster: Some(1),
                ..c[3]
            },
        ]
    };
    const UNKNOWN: [bsp::Cpu; 4] = {
        let c = BOARD.cpus;
        [
            bsp::Cpu {
                cluster: None,
                ..c[0]
            },
            bsp::Cpu {
                cluster: None,
                ..c[1]
            },
            bsp::Cpu {
                cluster: None,
                ..c[2]
            },
            bsp::Cpu {
                cluster: None,
                ..c[3]
            },
        ]
    };
    let mut s = system(&[
        cell("rt", 0b11, 0x5000_0000),
        cell("b", 0b1100, 0x6000_0000),
    ]);
    s.realtime = CellSet::from_bits(0b1);
    let split = bsp::Board {
        cpus: &SPLIT,
        ..BOARD
    };
    assert_eq!(advice(&s, &split), []);
    let unknown = bsp::Board {
        cpus: &UNKNOWN,
        ..BOARD
    };
    assert_eq!(advice(&s, &unknown), []);
    assert_eq!(advice(&s, &BOARD).len(), 1);
}

#[test]
fn a_cell_on_cores_of_two_types_gets_a_warning() {
    const BIG_LITTLE: [bsp::Cpu; 4] = {
        let c = BOARD.cpus;
        [
            c[0],
            bsp::Cpu {
                compatible: "arm,cortex-a53",
                ..c[1]
            },
            c[2],
            c[3],
        ]
    };
    let board = bsp::Board {
        cpus: &BIG_LITTLE,
        ..BOARD
    };
    let s = system(&[
        cell("mixed", 0b11, 0x5000_0000),
        cell("even", 0b1100, 0x6000_0000),
    ]);
    assert_eq!(
        advice(&s, &board),
        [Warning {
            location: Location::Cell {
                cell: 0,
                field: CellField::Cpus
            },
            concern: Concern::MixedCoreTypes {
                cpu: 0,
                other_cpu: 1
            }
        }]
    );
    assert_eq!(advice(&s, &BOARD), []);
}

#[test]
fn the_housekeeper_is_never_a_realtime_core() {
    use crate::housekeeping::{housekeeper, Delivery, Housekeeper};
    let mut s = system(&[
        cell("control", 0b0011, 0x5000_0000),
        cell("containers", 0b1100, 0x6000_0000),
    ]);
    s.realtime.insert(0);
    // Group 0 open: the best-effort cell's first core, by FIQ.
    let fiq = Housekeeper {
        cpu: 2,
        cell: 1,
        delivery: Delivery::Fiq,
    };
    assert_eq!(housekeeper(&s, true), Some(fiq));
    // Firmware keeps Group 0 and no cell is virtualized: none.
    assert_eq!(housekeeper(&s, false), None);
    // A virtualized cell: its first core, by IRQ, on either path.
    s.virtualized.insert(1);
    let irq = Housekeeper {
        delivery: Delivery::Irq,
        ..fiq
    };
    assert_eq!(housekeeper(&s, false), Some(irq));
    assert_eq!(housekeeper(&s, true), Some(irq));
    // Only real-time cells: none, whatever the GIC allows.
    let mut only_rt = system(&[cell("control", 0b0011, 0x5000_0000)]);
    only_rt.realtime.insert(0);
    assert_eq!(housekeeper(&only_rt, true), None);
}

#[test]
fn a_watchdog_needs_a_free_page_a_timeout_and_a_housekeeper() {
    let dog = |base, timeout_ms| {
        Some(Watchdog {
            base,
            timeout_ms,
            action: FaultPolicy::Restart,
        })
    };
    let mut s = system(&[
        cell("control", 0b0011, 0x5000_0000),
        cell("containers", 0b1100, 0x6000_0000),
    ]);
    s.realtime.insert(0);
    s.cells[0].watchdog = dog(0x0900_1000, 5_000);
    assert!(problems(&s).is_empty(), "{:?}", problems(&s));
    let at = Location::Cell {
        cell: 0,
        field: CellField::Watchdog,
    };
    // Too short, on the cell's RAM, on its console, unaligned.
    for (base, timeout, problem) in [
        (0x0900_1000, 50, Problem::WatchdogTimeout),
        (0x0900_1000, 300_001, Problem::WatchdogTimeout),
        (0x5000_0000, 5_000, Problem::WatchdogPlace),
        (0x0900_0000, 5_000, Problem::WatchdogPlace),
        (0x0900_1800, 5_000, Problem::WatchdogPlace),
    ] {
        s.cells[0].watchdog = dog(base, timeout);
        assert_eq!(problems(&s), [(at, problem)], "{base:#x} {timeout}");
    }
    // Only real-time cells: no core takes the partitioner's interrupts.
    s.cells[0].watchdog = dog(0x0900_1000, 5_000);
    s.realtime.insert(1);
    assert_eq!(problems(&s), [(at, Problem::WatchdogWithoutHousekeeper)]);
    s.realtime = CellSet::EMPTY;
    s.realtime.insert(0);
    s.icount_quantum_ns = 10_000;
    assert_eq!(problems(&s), [(at, Problem::WatchdogInLatencyLab)]);
}

#[test]
fn virtualized_interrupts_need_the_gics_virtual_interface() {
    let mut s = system(&[cell("containers", 0b0001, 0x1000_0000)]);
    s.board = name("rpi4b").unwrap();
    s.cells[0].console = None;
    s.virtualized.insert(0);
    let at = Location::Cell {
        cell: 0,
        field: CellField::Interrupts,
    };
    // The Raspberry Pi 4's GIC-400 has GICH and GICV: fine.
    let board = bsp::rpi4b::BOARD;
    let mut found = std::vec::Vec::new();
    check(&s, &board, |f| found.push(f));
    assert!(!found.iter().any(|f| f.location == at), "{found:?}");
    // Without them in the description: refused.
    let mut without = board;
    without.gic.hypervisor_interface = None;
    let mut found = std::vec::Vec::new();
    check(&s, &without, |f| found.push(f));
    assert!(
        found.contains(&Finding {
            location: at,
            problem: Problem::VirtualizedWithoutVirtualInterface
        }),
        "{found:?}"
    );
}
