//! A cell's stage-2 plan: which ranges of guest-physical space map to what,
//! derived from its validated config. Each RAM region maps its guest range
//! (`guest_base`, usually equal to its physical base) to its physical range
//! with the cell's permissions; device MMIO is identity-mapped as Device
//! memory, rounded out to whole pages. A peer of a channel maps the
//! channel's sections at the channel's BAR 2 in its virtual PCI window
//! ([`channel_mappings`]). Nothing else is mapped: the emulated console,
//! the virtual PCI configuration space and register pages, other cells'
//! RAM (except regions shared with this cell) and unassigned devices
//! fault.

use crate::arch::paging::{MemoryType, Permissions};
use crate::ivshmem;
use crate::mm::{map, MapError, MapStats, Mapping, TableAlloc};
use bsp::Board;
use config::rules::page_span;
use config::{
    Access, Cell, System, MAX_CELL_DEVICES, MAX_CELL_MEMORY, MAX_CHANNELS, MAX_CHANNEL_PEERS,
    MAX_DEVICE_MMIO,
};
use heapless::Vec;

/// Most mappings one cell can need.
pub const MAX_MAPPINGS: usize = MAX_CELL_MEMORY + MAX_CELL_DEVICES * MAX_DEVICE_MMIO;
/// Most channel sections one cell maps: a state table, a common section
/// and an output section per peer, for every channel.
pub const MAX_CHANNEL_MAPPINGS: usize = MAX_CHANNELS * (2 + MAX_CHANNEL_PEERS);

fn permissions(access: Access) -> Permissions {
    match access {
        Access::ReadWriteExecute => Permissions::RWX,
        Access::ReadWrite => Permissions::RW,
        Access::ReadOnly => Permissions::RO,
    }
}

/// The mappings of `cell`'s stage 2, RAM first. Device windows that share a
/// page (two virtio-mmio slots of one cell) are mapped once.
pub fn stage2_mappings(cell: &Cell) -> Vec<Mapping, MAX_MAPPINGS> {
    let mut mappings: Vec<Mapping, MAX_MAPPINGS> = Vec::new();
    for region in &cell.memory {
        let _ = mappings.push(Mapping {
            input: region.guest_base,
            output: region.range.base,
            size: region.range.size,
            memory: MemoryType::Normal,
            permissions: permissions(region.access),
        });
    }
    for window in cell.devices.iter().flat_map(|d| d.mmio.iter()) {
        let pages = page_span(window);
        let mut start = pages.base;
        while start < pages.end() {
            let mapped = mappings
                .iter()
                .any(|m| start >= m.input && start < m.input + m.size);
            if !mapped {
                let _ = mappings.push(Mapping {
                    input: start,
                    output: start,
                    size: 4096,
                    memory: MemoryType::Device,
                    permissions: Permissions::RW,
                });
            }
            start += 4096;
        }
    }
    mappings
}

/// The sections of every channel cell `index` of `system` is a peer of,
/// as that peer may access them (see [`ivshmem::Layout::sections`]): the
/// state table read-only, the common section read-write, its own output
/// section read-write and the other peers' read-only, each at its offset
/// in the channel's BAR 2 and never executable. Empty on a board without
/// virtual PCI.
pub fn channel_mappings(
    system: &System,
    board: &Board,
    index: usize,
) -> Vec<Mapping, MAX_CHANNEL_MAPPINGS> {
    let mut mappings = Vec::new();
    for (c, channel) in system.channels.iter().enumerate() {
        let Some(peer) = channel.peer_of(index) else {
            continue;
        };
        let Some(description) = ivshmem::describe(system, board, c) else {
            continue;
        };
        let (Ok(layout), Some(me)) = (description.layout(), description.peers.get(peer)) else {
            continue;
        };
        for section in layout.sections(peer) {
            let _ = mappings.push(Mapping {
                input: me.shared_memory_base.saturating_add(section.offset),
                output: channel.base.saturating_add(section.offset),
                size: section.size,
                memory: MemoryType::Normal,
                permissions: if section.writable {
                    Permissions::RW
                } else {
                    Permissions::RO
                },
            });
        }
    }
    mappings
}

/// Builds `cell`'s stage-2 tables under `root`: its own mappings and
/// `channels` (from [`channel_mappings`]).
pub fn build_stage2(
    cell: &Cell,
    channels: &[Mapping],
    alloc: &mut impl TableAlloc,
    root: u64,
) -> Result<MapStats, (Mapping, MapError)> {
    let mut total = MapStats::default();
    for m in stage2_mappings(cell).iter().chain(channels) {
        let m = *m;
        let stats = map::<crate::arch::paging::Stage2>(alloc, root, &m).map_err(|e| (m, e))?;
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
    use config::{
        name, CellSet, Console, CpuSet, DeviceGrant, FaultPolicy, Image, ImageKind, MemoryRegion,
    };

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
        }
    }

    #[test]
    fn plan_maps_ram_devices_and_nothing_else() {
        let cell = cell();
        let plan = stage2_mappings(&cell);
        // RAM, shared RO region, one page for both virtio slots, the RTC page.
        assert_eq!(plan.len(), 4);
        assert_eq!(plan[2].input, 0x0a00_3000);
        assert_eq!(plan[2].memory, MemoryType::Device);

        let mut pool = Pool(std::vec::Vec::new());
        let root = pool.alloc().unwrap();
        let stats = build_stage2(&cell, &[], &mut pool, root).unwrap();
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
        use config::{Channel, System};
        let mut a = cell();
        a.devices.clear();
        let system = System {
            board: name("qemu-virt").unwrap(),
            cells: [a.clone(), a.clone(), a].into_iter().collect(),
            realtime: CellSet::EMPTY,
            direct_wfi: CellSet::EMPTY,
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
        };
        // Cell 0 is peer 1 of `link` (device 0, BAR 2 at 0x2000_0000) and
        // no peer of `other`.
        let plan = channel_mappings(&system, &BOARD, 0);
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
        assert_eq!(channel_mappings(&system, &BOARD, 2).len(), 4 + 3);

        let mut pool = Pool(std::vec::Vec::new());
        let root = pool.alloc().unwrap();
        build_stage2(&system.cells[0], &plan, &mut pool, root).unwrap();
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
        let plan = stage2_mappings(&cell);
        assert_eq!((plan[0].input, plan[0].output), (0, 0x5000_0000));
        assert_eq!((plan[1].input, plan[1].output), (0x4000_0000, 0x7000_0000));

        let mut pool = Pool(std::vec::Vec::new());
        let root = pool.alloc().unwrap();
        let stats = build_stage2(&cell, &[], &mut pool, root).unwrap();
        assert_eq!(stats.blocks_2m, 8, "both sides 2 MiB aligned: blocks");
        assert_eq!(translate(&mut pool, root, 0x0080_1234), Some(0x5080_1234));
        assert_eq!(translate(&mut pool, root, 0x4000_2000), Some(0x7000_2000));
        // The physical addresses are not the cell's any more.
        assert_eq!(translate(&mut pool, root, 0x5000_0000), None);
        assert_eq!(translate(&mut pool, root, 0x7000_0000), None);
        // Devices stay identity-mapped.
        assert_eq!(translate(&mut pool, root, 0x0a00_3e00), Some(0x0a00_3e00));
    }
}
