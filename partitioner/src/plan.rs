//! A cell's stage 2 as the partitioner builds it: the plan that
//! [`bulkhead_config::stage2`] computes (the same one `bulkhead check` verified:
//! RAM, merged device pages, channel sections, within the IPA space and
//! the table pool), turned into descriptor attributes and written with
//! [`crate::mm::map`]. Nothing else is mapped: the emulated console, the
//! virtual PCI configuration space and register pages, other cells' RAM
//! (except regions shared with this cell) and unassigned devices fault.

use crate::arch::paging::{MemoryType, Permissions};
use crate::mm::{map, MapError, MapStats, Mapping, TableAlloc};
use bsp::Board;
use bulkhead_config::stage2::{self, Kind, PlanError};
use bulkhead_config::{Access, System};

fn permissions(access: Access) -> Permissions {
    match access {
        Access::ReadWriteExecute => Permissions::RWX,
        Access::ReadWrite => Permissions::RW,
        Access::ReadOnly => Permissions::RO,
    }
}

/// The descriptor attributes of a planned mapping.
pub fn mapping(planned: &stage2::Mapping) -> Mapping {
    let (memory, permissions) = match planned.kind {
        Kind::Ram(access) => (MemoryType::Normal, permissions(access)),
        Kind::Device => (MemoryType::Device, Permissions::RW),
        Kind::Channel { writable: true } => (MemoryType::Normal, Permissions::RW),
        Kind::Channel { writable: false } => (MemoryType::Normal, Permissions::RO),
    };
    Mapping {
        input: planned.input,
        output: planned.output,
        size: planned.size,
        memory,
        permissions,
    }
}

/// Why a cell's stage 2 could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The plan itself is refused (the rules refuse such a config first).
    Plan(PlanError),
    /// Writing a mapping failed.
    Map(Mapping, MapError),
}

/// Builds the stage 2 of cell `index` of `system` under `root`: every
/// mapping of its plan, whole.
pub fn build_stage2(
    system: &System,
    board: &Board,
    index: usize,
    alloc: &mut impl TableAlloc,
    root: u64,
) -> Result<MapStats, BuildError> {
    let plan = stage2::plan(system, board, index).map_err(BuildError::Plan)?;
    let mut total = MapStats::default();
    for planned in &plan {
        let m = mapping(planned);
        let stats = map::<crate::arch::paging::Stage2>(alloc, root, &m)
            .map_err(|e| BuildError::Map(m, e))?;
        total.blocks_2m += stats.blocks_2m;
        total.pages_4k += stats.pages_4k;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::{lookup, translate, Table};
    use bsp::qemu_virt::BOARD;
    use bsp::MemRange;
    use bulkhead_config::{
        name, Cell, CellSet, Console, CpuSet, DeviceGrant, FaultPolicy, Image, ImageKind,
        MemoryRegion,
    };
    use heapless::Vec;

    struct Pool(std::vec::Vec<Table>);

    impl TableAlloc for Pool {
        fn alloc(&mut self) -> Option<u64> {
            self.0.push(Table::EMPTY);
            Some(0x1000_0000 + (self.0.len() as u64 - 1) * 4096)
        }
        fn table(&mut self, pa: u64) -> Option<&mut Table> {
            self.0.get_mut(((pa - 0x1000_0000) / 4096) as usize)
        }
    }

    fn grant(device: &str) -> DeviceGrant {
        let d = BOARD.device(device).unwrap();
        DeviceGrant {
            name: name(device).unwrap(),
            mmio: d.mmio.iter().copied().collect(),
            irqs: d.irqs.iter().copied().collect(),
        }
    }

    fn cell() -> Cell {
        let mut memory = Vec::new();
        let ram = MemoryRegion {
            range: MemRange::new(0x5000_0000, 16 << 20),
            guest_base: 0x5000_0000,
            access: Access::ReadWriteExecute,
            shared_with: CellSet::EMPTY,
        };
        memory.push(ram).unwrap();
        let shared = MemoryRegion {
            range: MemRange::new(0x7000_0000, 0x3000),
            guest_base: 0x7000_0000,
            access: Access::ReadOnly,
            shared_with: CellSet::from_bits(0b10),
        };
        memory.push(shared).unwrap();
        let mut devices = Vec::new();
        devices.push(grant("virtio-mmio31")).unwrap();
        devices.push(grant("virtio-mmio30")).unwrap();
        devices.push(grant("rtc")).unwrap();
        let mut images = Vec::new();
        images
            .push(Image {
                kind: ImageKind::Kernel,
                offset: 0,
                size: 0x1000,
                load_address: 0x5000_0000,
            })
            .unwrap();
        Cell {
            name: name("plc").unwrap(),
            cpus: CpuSet::from_bits(1),
            memory,
            devices,
            console: Some(Console {
                base: 0x0900_0000,
                irq: 96,
            }),
            images,
            entry: 0x5000_0000,
            boot_argument: 0,
            on_fault: FaultPolicy::Stop,
            watchdog: None,
        }
    }

    /// A system of `cells` and no channels.
    fn system(cells: &[Cell]) -> System {
        System {
            board: name("qemu-virt").unwrap(),
            cells: cells.iter().cloned().collect(),
            realtime: CellSet::EMPTY,
            direct_wfi: CellSet::EMPTY,
            virtualized: CellSet::EMPTY,
            unconfined_dma: CellSet::EMPTY,
            channels: Vec::new(),
            icount_quantum_ns: 0,
            console_input: bulkhead_config::ConsoleInput::Auto,
        }
    }

    /// Builds cell `index`'s stage 2 in a fresh pool; checks that it used
    /// exactly the tables the shared plan counted.
    fn built(system: &System, index: usize) -> (Pool, u64, MapStats) {
        let mut pool = Pool(std::vec::Vec::new());
        let root = pool.alloc().unwrap();
        let stats = build_stage2(system, &BOARD, index, &mut pool, root).unwrap();
        let plan = stage2::plan(system, &BOARD, index).unwrap();
        assert_eq!(pool.0.len(), stage2::tables_needed(&plan), "tables counted");
        (pool, root, stats)
    }

    #[test]
    fn plan_maps_ram_devices_and_nothing_else() {
        let system = system(&[cell()]);
        let plan = stage2::plan(&system, &BOARD, 0).unwrap();
        // RAM, shared RO region, then in address order the RTC page and
        // one page for both virtio slots.
        assert_eq!(plan.len(), 4);
        assert_eq!((plan[2].input, plan[3].input), (0x0901_0000, 0x0a00_3000));
        assert_eq!(mapping(&plan[3]).memory, MemoryType::Device);

        let (mut pool, root, stats) = built(&system, 0);
        assert_eq!(
            stats.blocks_2m, 8,
            "16 MiB of aligned RAM is eight 2 MiB blocks"
        );
        assert_eq!(stats.pages_4k, 3 + 2);

        assert_eq!(translate(&mut pool, root, 0x5080_0000), Some(0x5080_0000));
        assert_eq!(translate(&mut pool, root, 0x0a00_3e00), Some(0x0a00_3e00));
        assert_eq!(translate(&mut pool, root, 0x0901_0000), Some(0x0901_0000));
        // Never mapped: the console (emulated), the GIC, the partitioner, other RAM.
        for address in [
            0x0900_0000,
            0x0800_0000,
            0x080a_0000,
            0x4008_0000,
            0x6000_0000,
            0x0a00_2000,
        ] {
            assert_eq!(translate(&mut pool, root, address), None, "{address:#x}");
        }
        // The shared region is read-only and not executable.
        let (ro, _) = lookup(&mut pool, root, 0x7000_1000).unwrap();
        assert_eq!(ro & (0b11 << 6), 1 << 6);
        assert_ne!(ro & (1 << 54), 0);
    }

    #[test]
    fn peers_map_channel_sections_with_their_permissions() {
        use bulkhead_config::{Channel, System};
        let mut a = cell();
        a.devices.clear();
        let system = System {
            board: name("qemu-virt").unwrap(),
            cells: [a.clone(), a.clone(), a].into_iter().collect(),
            realtime: CellSet::EMPTY,
            direct_wfi: CellSet::EMPTY,
            virtualized: CellSet::EMPTY,
            unconfined_dma: CellSet::EMPTY,
            channels: [
                Channel {
                    name: name("link").unwrap(),
                    base: 0x7f00_0000,
                    peers: Vec::from_slice(&[2, 0]).unwrap(),
                    common_size: 0x1000,
                    output_size: 0x4000,
                },
                Channel {
                    name: name("other").unwrap(),
                    base: 0x7f10_0000,
                    peers: Vec::from_slice(&[1, 2]).unwrap(),
                    common_size: 0,
                    output_size: 0x1000,
                },
            ]
            .into_iter()
            .collect(),
            icount_quantum_ns: 0,
            console_input: bulkhead_config::ConsoleInput::Auto,
        };
        // Cell 0 is peer 1 of `link` (device 0, BAR 2 at 0x2000_0000) and
        // no peer of `other`.
        let channel_part = |index| {
            stage2::plan(&system, &BOARD, index)
                .unwrap()
                .iter()
                .filter(|m| matches!(m.kind, Kind::Channel { .. }))
                .map(mapping)
                .collect::<std::vec::Vec<_>>()
        };
        let plan = channel_part(0);
        let rw = |input: u64, output: u64, size: u64, write: bool| Mapping {
            input,
            output,
            size,
            memory: MemoryType::Normal,
            permissions: if write {
                Permissions::RW
            } else {
                Permissions::RO
            },
        };
        assert_eq!(
            plan.as_slice(),
            [
                rw(0x2000_0000, 0x7f00_0000, 0x1000, false),
                rw(0x2000_1000, 0x7f00_1000, 0x1000, true),
                rw(0x2000_2000, 0x7f00_2000, 0x4000, false),
                rw(0x2000_6000, 0x7f00_6000, 0x4000, true),
            ]
        );
        assert_eq!(channel_part(2).len(), 4 + 3);

        let (mut pool, root, _) = built(&system, 0);
        let mut s2ap = |address| lookup(&mut pool, root, address).unwrap().0 >> 6 & 0b11;
        assert_eq!(s2ap(0x2000_0000), 0b01, "state table: read only");
        assert_eq!(s2ap(0x2000_1000), 0b11, "common: read and write");
        assert_eq!(s2ap(0x2000_2000), 0b01, "peer 0's output: read only");
        assert_eq!(s2ap(0x2000_6000), 0b11, "own output: read and write");
        assert_eq!(translate(&mut pool, root, 0x2000_6abc), Some(0x7f00_6abc));
        // Never executable; the rest of the BAR, the ECAM and the register
        // page are not mapped (they trap).
        assert_ne!(lookup(&mut pool, root, 0x2000_1000).unwrap().0 & 1 << 54, 0);
        for address in [0x2000_a000, 0x2100_0000, 0x3f00_0000, 0x1000_0000] {
            assert_eq!(translate(&mut pool, root, address), None, "{address:#x}");
        }
    }

    #[test]
    fn guest_addresses_map_to_physical_ones() {
        let mut cell = cell();
        // RAM seen at 0, the shared page at 0x4000_0000.
        cell.memory[0].guest_base = 0;
        cell.memory[1].guest_base = 0x4000_0000;
        let system = system(&[cell]);
        let plan = stage2::plan(&system, &BOARD, 0).unwrap();
        assert_eq!((plan[0].input, plan[0].output), (0, 0x5000_0000));
        assert_eq!((plan[1].input, plan[1].output), (0x4000_0000, 0x7000_0000));

        let (mut pool, root, stats) = built(&system, 0);
        assert_eq!(stats.blocks_2m, 8, "both sides 2 MiB aligned: blocks");
        assert_eq!(translate(&mut pool, root, 0x0080_1234), Some(0x5080_1234));
        assert_eq!(translate(&mut pool, root, 0x4000_2000), Some(0x7000_2000));
        // The physical addresses are not the cell's any more.
        assert_eq!(translate(&mut pool, root, 0x5000_0000), None);
        assert_eq!(translate(&mut pool, root, 0x7000_0000), None);
        // Devices stay identity-mapped.
        assert_eq!(translate(&mut pool, root, 0x0a00_3e00), Some(0x0a00_3e00));
    }

    #[test]
    fn large_device_windows_are_mapped_whole_with_blocks() {
        // QEMU's flash: two 64 MiB windows, adjacent: one range of 2 MiB
        // blocks, every page of both reachable.
        let mut cell = cell();
        cell.devices.clear();
        cell.devices.push(grant("flash")).unwrap();
        let system = system(&[cell]);
        let plan = stage2::plan(&system, &BOARD, 0).unwrap();
        let devices: std::vec::Vec<_> = plan
            .iter()
            .filter(|m| m.kind == Kind::Device)
            .map(|m| (m.input, m.size))
            .collect();
        assert_eq!(devices, [(0, 128 << 20)]);
        let (mut pool, root, stats) = built(&system, 0);
        assert_eq!(stats.blocks_2m, 8 + 64);
        for address in [0, 0x03ff_f000, 0x0400_0000, 0x07ff_fffc] {
            assert_eq!(
                translate(&mut pool, root, address),
                Some(address),
                "{address:#x}"
            );
        }
    }

    #[test]
    fn misaligned_guest_ram_is_counted_page_by_page() {
        let mut cell = cell();
        cell.devices.clear();
        // Guest and physical addresses 1 MiB apart modulo 2 MiB.
        cell.memory[0].guest_base = 0x0010_0000;
        let system = system(&[cell]);
        let (_, _, stats) = built(&system, 0);
        assert_eq!(stats.blocks_2m, 0);
        assert_eq!(stats.pages_4k, 4096 + 3);
    }
}
