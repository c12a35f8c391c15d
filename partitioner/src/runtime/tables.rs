//! The pool of translation tables and the two kinds of table sets built
//! from it at boot: the partitioner's own EL2 map and each cell's stage 2.
//! Tables are built once; nothing is mapped or unmapped at run time.

use crate::arch::paging::{El2Stage1, MemoryType, Permissions};
use crate::arch::{self};
use crate::mm::{map, MapError, Mapping, Table, TableAlloc};
use bsp::{Board, MemRange};
use bulkhead_config::System;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

/// Tables the partitioner's own EL2 map may use (it needs some 15 on the
/// boards described: a root, a level-2 table per GiB of RAM and devices,
/// level-3 tables at the image's section edges and for MMIO).
const EL2_TABLES: usize = 32;
/// Tables available for the EL2 map and every cell's stage 2: the cells'
/// share is the one `bulkhead check` plans with.
const POOL_TABLES: usize = EL2_TABLES + bulkhead_config::stage2::CELL_TABLES;

struct Pool(UnsafeCell<[Table; POOL_TABLES]>);

// SAFETY: the pool is only handed out by `allocator()` on the boot core,
// before any other core runs, and afterwards only read by the MMUs.
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([const { Table::EMPTY }; POOL_TABLES]));
static NEXT: AtomicU64 = AtomicU64::new(0);
static EL2_ROOT: AtomicU64 = AtomicU64::new(0);

/// Hands out pool tables. Tables are identity-mapped, so a table's
/// physical address is its address.
struct Allocator;

impl TableAlloc for Allocator {
    fn alloc(&mut self) -> Option<u64> {
        // Plain load and store (no read-modify-write): this also runs with
        // the MMU off, on the boot core only.
        let next = NEXT.load(Ordering::Relaxed) as usize;
        if next >= POOL_TABLES {
            return None;
        }
        NEXT.store(next as u64 + 1, Ordering::Relaxed);
        Some(POOL.0.get() as u64 + (next * core::mem::size_of::<Table>()) as u64)
    }

    fn table(&mut self, pa: u64) -> Option<&mut Table> {
        let base = POOL.0.get() as u64;
        let index = pa.checked_sub(base)? as usize / core::mem::size_of::<Table>();
        if index >= NEXT.load(Ordering::Relaxed) as usize {
            return None;
        }
        // SAFETY: `index` names a table this allocator handed out; only the
        // boot core builds tables, so no other reference to it is live.
        Some(unsafe { &mut (*POOL.0.get())[index] })
    }
}

fn identity(range: MemRange, memory: MemoryType, permissions: Permissions) -> Mapping {
    Mapping {
        input: range.base,
        output: range.base,
        size: range.size,
        memory,
        permissions,
    }
}

fn page_align(r: MemRange) -> MemRange {
    bulkhead_config::rules::page_span(&r)
}

fn map_or_halt(root: u64, mapping: &Mapping) {
    if let Err(e) = map::<El2Stage1>(&mut Allocator, root, mapping) {
        // The console is not up yet: nothing to report to.
        let _: MapError = e;
        arch::halt()
    }
}

/// Builds the partitioner's identity map: its image with W^X sections,
/// the rest of its RAM (the boot image's payloads) read-only, other RAM
/// read-write and never executable, and the MMIO it drives.
pub fn build_el2_tables(board: &Board) -> u64 {
    let Some(root) = Allocator.alloc() else {
        arch::halt()
    };
    let image = MemRange::new(arch::image_start(), arch::image_end() - arch::image_start());
    let hv = board.hypervisor_ram;
    let normal = MemoryType::Normal;
    let text = MemRange::new(image.base, arch::text_end() - image.base);
    let rodata = MemRange::new(text.end(), arch::rodata_end() - text.end());
    let data = MemRange::new(rodata.end(), image.end() - rodata.end());
    map_or_halt(
        root,
        &identity(
            MemRange::new(hv.base, image.base - hv.base),
            normal,
            Permissions::RO,
        ),
    );
    map_or_halt(root, &identity(text, normal, Permissions::RX));
    map_or_halt(root, &identity(rodata, normal, Permissions::RO));
    map_or_halt(root, &identity(data, normal, Permissions::RW));
    map_or_halt(
        root,
        &identity(
            MemRange::new(image.end(), hv.end() - image.end()),
            normal,
            Permissions::RO,
        ),
    );
    for ram in board.ram {
        // RAM below and above the partitioner's own.
        let below = MemRange::new(ram.base, hv.base.saturating_sub(ram.base).min(ram.size));
        let above_start = hv.end().max(ram.base);
        let above = MemRange::new(above_start, ram.end().saturating_sub(above_start));
        for r in [below, above] {
            if r.size > 0 {
                map_or_halt(root, &identity(r, normal, Permissions::RW));
            }
        }
    }
    let device = MemoryType::Device;
    map_or_halt(
        root,
        &identity(page_align(board.console.mmio), device, Permissions::RW),
    );
    // The distributor, and the redistributors (GICv3) or the CPU
    // interface (GICv2).
    for window in board.gic.windows() {
        map_or_halt(root, &identity(page_align(window), device, Permissions::RW));
    }
    // The SMMUv3's registers (`crate::smmu`): the partitioner's alone.
    if let Some(iommu) = bulkhead_config::dma::driven_smmu(board) {
        for window in iommu.mmio {
            map_or_halt(
                root,
                &identity(page_align(*window), device, Permissions::RW),
            );
        }
    }
    // The configuration space of every DMA-capable ECAM PCI host bridge
    // (`crate::pci`): the partitioner turns off its functions' bus
    // mastering when their cell stops.
    for window in board
        .devices
        .iter()
        .filter_map(bulkhead_config::dma::dma_ecam)
    {
        map_or_halt(root, &identity(page_align(window), device, Permissions::RW));
    }
    // A GICv2's virtual interface control (GICH), for cells whose
    // interrupts are virtualized. No cell maps it.
    if let Some(window) = board.gic.hypervisor_interface {
        map_or_halt(root, &identity(page_align(window), device, Permissions::RW));
    }
    root
}

/// Builds the stage-2 tables of cell `index` of `system`; returns their
/// root.
pub fn build_stage2(system: &System, board: &Board, index: usize) -> Result<u64, ()> {
    let cell = system.cells.get(index).ok_or(())?;
    let root = Allocator.alloc().ok_or(())?;
    match crate::plan::build_stage2(system, board, index, &mut Allocator, root) {
        Ok(stats) => {
            defmt::info!(
                "cell {=str}: stage 2 at {=u64:#x}: {=usize} x 2 MiB blocks, {=usize} x 4 KiB pages",
                cell.name.as_str(),
                root,
                stats.blocks_2m,
                stats.pages_4k
            );
            Ok(root)
        }
        Err(e) => {
            defmt::error!(
                "cell {=str}: cannot build its stage 2: {}",
                cell.name.as_str(),
                defmt::Debug2Format(&e)
            );
            Err(())
        }
    }
}

/// Makes the EL2 tables visible to cores that start with caches off.
pub fn publish_for_secondaries(root: u64) {
    EL2_ROOT.store(root, Ordering::Release);
    let pool = POOL.0.get() as u64;
    arch::clean_for_execution(pool, core::mem::size_of::<[Table; POOL_TABLES]>() as u64);
    arch::clean_for_execution(&EL2_ROOT as *const AtomicU64 as u64, 8);
}

/// The EL2 root the boot core published.
pub fn published_root() -> u64 {
    EL2_ROOT.load(Ordering::Acquire)
}
