//! The translation table builder, shared by the partitioner's own EL2
//! tables and every cell's stage 2: it maps ranges with the largest blocks
//! that alignment allows (up to a chosen level) and refuses overlaps.
//!
//! Tables use the 4 KiB granule with a 39-bit input address space, so the
//! walk starts at level 1 (1 GiB per entry), then level 2 (2 MiB blocks)
//! and level 3 (4 KiB pages).

use crate::arch::paging::{
    is_table, is_valid, DescriptorFormat, MemoryType, Permissions, ADDRESS_MASK,
};

/// Entries per table.
pub const ENTRIES: usize = 512;
/// Size of the input address space covered by a root table.
pub const INPUT_SPACE: u64 = 1 << 39;
/// The level a walk starts at.
pub const ROOT_LEVEL: u8 = 1;

/// One translation table.
#[repr(C, align(4096))]
#[derive(Clone)]
pub struct Table(pub [u64; ENTRIES]);

impl Table {
    /// An all-invalid table.
    pub const EMPTY: Table = Table([0; ENTRIES]);
}

/// Where tables come from. On the target, physical address and pointer are
/// the same (the partitioner maps its RAM one to one); host tests use a
/// vector.
pub trait TableAlloc {
    /// A new zeroed table, by physical address.
    fn alloc(&mut self) -> Option<u64>;
    /// The table at physical address `pa` (one this allocator returned).
    fn table(&mut self, pa: u64) -> Option<&mut Table>;
}

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No table left in the pool.
    OutOfTables,
    /// Part of the range is mapped already.
    Overlap {
        /// First input address found mapped.
        address: u64,
    },
    /// The range is not page-aligned or leaves the input address space.
    BadRange,
}

/// One range to map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First input address (VA for EL2, IPA for stage 2).
    pub input: u64,
    /// First output (physical) address.
    pub output: u64,
    /// Length in bytes (a multiple of 4 KiB).
    pub size: u64,
    /// Memory type.
    pub memory: MemoryType,
    /// Permissions.
    pub permissions: Permissions,
}

/// Leaves written by [`map`], by size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapStats {
    /// 2 MiB blocks.
    pub blocks_2m: usize,
    /// 4 KiB pages.
    pub pages_4k: usize,
}

/// Bytes covered by one entry at `level`.
pub const fn level_size(level: u8) -> u64 {
    1 << (12 + 9 * (3 - level as u32))
}

fn index(address: u64, level: u8) -> usize {
    ((address >> (12 + 9 * (3 - level as u32))) & 0x1ff) as usize
}

const PAGE: u64 = 4096;

/// Maps `mapping` into the tables rooted at `root`, with blocks no larger
/// than 2 MiB. Returns what it wrote; on error, entries written before the
/// error stay (callers discard the whole table set).
pub fn map<F: DescriptorFormat>(
    alloc: &mut impl TableAlloc,
    root: u64,
    mapping: &Mapping,
) -> Result<MapStats, MapError> {
    let Mapping {
        input,
        output,
        size,
        memory,
        permissions,
    } = *mapping;
    let end = input.checked_add(size).ok_or(MapError::BadRange)?;
    if input % PAGE != 0 || output % PAGE != 0 || size % PAGE != 0 || end > INPUT_SPACE {
        return Err(MapError::BadRange);
    }
    let mut stats = MapStats::default();
    let mut offset = 0;
    while offset < size {
        let (va, pa) = (input + offset, output + offset);
        let block = level_size(2);
        let level = if va % block == 0 && pa % block == 0 && size - offset >= block {
            2
        } else {
            3
        };
        set_leaf::<F>(
            alloc,
            root,
            va,
            F::leaf(pa, level, memory, permissions),
            level,
        )?;
        match level {
            2 => stats.blocks_2m += 1,
            _ => stats.pages_4k += 1,
        }
        offset += level_size(level);
    }
    Ok(stats)
}

fn set_leaf<F: DescriptorFormat>(
    alloc: &mut impl TableAlloc,
    root: u64,
    va: u64,
    leaf: u64,
    leaf_level: u8,
) -> Result<(), MapError> {
    let mut table_pa = root;
    for level in ROOT_LEVEL..leaf_level {
        let i = index(va, level);
        let entry = alloc.table(table_pa).ok_or(MapError::OutOfTables)?.0[i];
        table_pa = if !is_valid(entry) {
            let next = alloc.alloc().ok_or(MapError::OutOfTables)?;
            alloc.table(table_pa).ok_or(MapError::OutOfTables)?.0[i] = F::table(next);
            next
        } else if is_table(entry, level) {
            entry & ADDRESS_MASK
        } else {
            return Err(MapError::Overlap { address: va });
        };
    }
    let slot = &mut alloc.table(table_pa).ok_or(MapError::OutOfTables)?.0[index(va, leaf_level)];
    if is_valid(*slot) {
        return Err(MapError::Overlap { address: va });
    }
    *slot = leaf;
    Ok(())
}

/// Walks the tables for `address`: the leaf descriptor and its level, if
/// mapped.
pub fn lookup(alloc: &mut impl TableAlloc, root: u64, address: u64) -> Option<(u64, u8)> {
    let mut table_pa = root;
    for level in ROOT_LEVEL..=3 {
        let entry = alloc.table(table_pa)?.0[index(address, level)];
        if !is_valid(entry) {
            return None;
        }
        if !is_table(entry, level) {
            return Some((entry, level));
        }
        table_pa = entry & ADDRESS_MASK;
    }
    None
}

/// The output address `address` translates to, if mapped.
pub fn translate(alloc: &mut impl TableAlloc, root: u64, address: u64) -> Option<u64> {
    let (entry, level) = lookup(alloc, root, address)?;
    let size = level_size(level);
    Some((entry & ADDRESS_MASK & !(size - 1)) | (address & (size - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::paging::Stage2;

    /// A pool of host tables with made-up physical addresses.
    struct Pool {
        tables: Vec<Table>,
        limit: usize,
    }

    const POOL_BASE: u64 = 0x4010_0000;

    impl Pool {
        fn new(limit: usize) -> Self {
            Pool {
                tables: Vec::new(),
                limit,
            }
        }
        fn root(&mut self) -> u64 {
            self.alloc().unwrap()
        }
    }

    impl TableAlloc for Pool {
        fn alloc(&mut self) -> Option<u64> {
            if self.tables.len() == self.limit {
                return None;
            }
            self.tables.push(Table::EMPTY);
            Some(POOL_BASE + (self.tables.len() as u64 - 1) * 4096)
        }
        fn table(&mut self, pa: u64) -> Option<&mut Table> {
            self.tables.get_mut(((pa - POOL_BASE) / 4096) as usize)
        }
    }

    fn ram(input: u64, size: u64) -> Mapping {
        Mapping {
            input,
            output: input,
            size,
            memory: MemoryType::Normal,
            permissions: Permissions::RWX,
        }
    }

    #[test]
    fn aligned_ram_uses_2m_blocks() {
        let mut pool = Pool::new(16);
        let root = pool.root();
        let stats = map::<Stage2>(&mut pool, root, &ram(0x5000_0000, 16 << 20)).unwrap();
        assert_eq!(
            stats,
            MapStats {
                blocks_2m: 8,
                pages_4k: 0
            }
        );
        assert_eq!(pool.tables.len(), 2, "root and one level-2 table");
        assert_eq!(lookup(&mut pool, root, 0x5012_3456).unwrap().1, 2);
        assert_eq!(translate(&mut pool, root, 0x50ff_fffc), Some(0x50ff_fffc));
        assert_eq!(translate(&mut pool, root, 0x5100_0000), None);
        assert_eq!(translate(&mut pool, root, 0x4fff_f000), None);
    }

    #[test]
    fn unaligned_edges_use_pages() {
        let mut pool = Pool::new(16);
        let root = pool.root();
        // 4 KiB before a 2 MiB boundary, 2 MiB, then 8 KiB.
        let stats = map::<Stage2>(
            &mut pool,
            root,
            &ram(0x501f_f000, 0x1000 + (2 << 20) + 0x2000),
        )
        .unwrap();
        assert_eq!(
            stats,
            MapStats {
                blocks_2m: 1,
                pages_4k: 3
            }
        );
        for address in [0x501f_f000, 0x5020_0000, 0x503f_ffff, 0x5040_1fff] {
            assert_eq!(
                translate(&mut pool, root, address),
                Some(address),
                "{address:#x}"
            );
        }
        assert_eq!(translate(&mut pool, root, 0x5040_2000), None);
        assert_eq!(translate(&mut pool, root, 0x501f_efff), None);
    }

    #[test]
    fn device_pages_translate_with_offset() {
        let mut pool = Pool::new(16);
        let root = pool.root();
        let m = Mapping {
            input: 0x0a00_3000,
            output: 0x0a00_3000,
            size: 0x1000,
            memory: MemoryType::Device,
            permissions: Permissions::RW,
        };
        map::<Stage2>(&mut pool, root, &m).unwrap();
        assert_eq!(translate(&mut pool, root, 0x0a00_3e10), Some(0x0a00_3e10));
        assert_eq!(translate(&mut pool, root, 0x0a00_2e10), None);
    }

    #[test]
    fn overlaps_are_refused() {
        let mut pool = Pool::new(16);
        let root = pool.root();
        map::<Stage2>(&mut pool, root, &ram(0x5000_0000, 2 << 20)).unwrap();
        assert_eq!(
            map::<Stage2>(&mut pool, root, &ram(0x501f_f000, 0x1000)),
            Err(MapError::Overlap {
                address: 0x501f_f000
            })
        );
        map::<Stage2>(&mut pool, root, &ram(0x5040_0000, 0x1000)).unwrap();
        assert_eq!(
            map::<Stage2>(&mut pool, root, &ram(0x5040_0000, 2 << 20)),
            Err(MapError::Overlap {
                address: 0x5040_0000
            })
        );
    }

    #[test]
    fn bad_ranges_and_exhaustion() {
        let mut pool = Pool::new(2);
        let root = pool.root();
        assert_eq!(
            map::<Stage2>(&mut pool, root, &ram(0x5000_0800, 0x1000)),
            Err(MapError::BadRange)
        );
        assert_eq!(
            map::<Stage2>(&mut pool, root, &ram(INPUT_SPACE - 0x1000, 0x2000)),
            Err(MapError::BadRange)
        );
        assert_eq!(
            map::<Stage2>(&mut pool, root, &ram(u64::MAX - 0xfff, 0x1000)),
            Err(MapError::BadRange)
        );
        // One level-2 table fits, a level-3 table does not.
        assert_eq!(
            map::<Stage2>(&mut pool, root, &ram(0x5000_1000, 0x1000)),
            Err(MapError::OutOfTables)
        );
    }
}
