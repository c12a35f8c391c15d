//! A cell's stage-2 plan: which ranges of guest-physical space map to what,
//! derived from its validated config. Each RAM region maps its guest range
//! (`guest_base`, usually equal to its physical base) to its physical range
//! with the cell's permissions; device MMIO is identity-mapped as Device
//! memory, rounded out to whole pages. Nothing else is mapped: the emulated
//! console, other cells' RAM (except regions shared with this cell) and
//! unassigned devices fault.

use crate::arch::paging::{MemoryType, Permissions};
use crate::mm::{map, MapError, MapStats, Mapping, TableAlloc};
use config::rules::page_span;
use config::{Access, Cell, MAX_CELL_DEVICES, MAX_CELL_MEMORY, MAX_DEVICE_MMIO};
use heapless::Vec;

/// Most mappings one cell can need.
pub const MAX_MAPPINGS: usize = MAX_CELL_MEMORY + MAX_CELL_DEVICES * MAX_DEVICE_MMIO;

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

/// Builds `cell`'s stage-2 tables under `root`.
pub fn build_stage2(
    cell: &Cell,
    alloc: &mut impl TableAlloc,
    root: u64,
) -> Result<MapStats, (Mapping, MapError)> {
    let mut total = MapStats::default();
    for m in stage2_mappings(cell) {
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
        let stats = build_stage2(&cell, &mut pool, root).unwrap();
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
        let stats = build_stage2(&cell, &mut pool, root).unwrap();
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
