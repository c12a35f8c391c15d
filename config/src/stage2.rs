//! A cell's stage-2 plan: what its guest-physical space maps, and how many
//! translation tables that takes. The host tool and the partitioner
//! compute it with this one code: `bulkhead check` refuses a config whose
//! plan does not fit (with the YAML place that causes it), and the
//! partitioner builds exactly these mappings, never a part of them.
//!
//! - Each RAM region maps its guest range (`guest_base`, usually its
//!   physical base) to its physical range with the cell's permissions.
//! - Device MMIO is identity-mapped as Device memory in whole pages: the
//!   windows of all the cell's devices are rounded out to pages and
//!   merged, so two windows in one page (virtio-mmio slots) map once and
//!   large windows (flash, PCIe apertures) are one mapping, with 2 MiB
//!   blocks where aligned.
//! - A peer of a channel maps the channel's sections (its state table
//!   read-only, the common section read-write, its own output section
//!   read-write, the others' read-only, never executable) at the
//!   channel's BAR 2 in its virtual PCI window.
//!
//! - On a GICv2, the first 4 KiB page of the CPU interface (`GICC`), as
//!   Device memory at its physical address: each core has its own banked
//!   copy there, through which the cell takes its interrupts directly. The
//!   second page (`GICC_DIR`) traps.
//!
//! Nothing else is mapped: the GIC distributor and redistributors, the
//! emulated console, the virtual PCI configuration space and register
//! pages, other cells' RAM and unassigned devices fault.
//!
//! The tables: stage 2 uses the 4 KiB granule and a 39-bit IPA space
//! ([`IPA_SPACE`]) starting at level 1, one root table per cell; a range
//! is mapped with a 2 MiB block wherever its input and output are both
//! 2 MiB-aligned and 2 MiB remain, else with 4 KiB pages. A cell needs its
//! root, a level-2 table per 1 GiB its mappings touch, and a level-3 table
//! per 2 MiB that holds a page ([`tables_needed`]). All cells draw from
//! one pool of [`CELL_TABLES`].

use crate::model::{Access, Cell, System, MAX_CELL_DEVICES, MAX_CELL_MEMORY, MAX_DEVICE_MMIO};
use crate::rules::page_span;
use crate::{MAX_CHANNELS, MAX_CHANNEL_PEERS};
use bsp::{Board, GicVersion, MemRange};
use heapless::Vec;

/// Guest-physical (IPA) bits of every cell's stage 2.
pub const IPA_BITS: u32 = 39;
/// The IPA space: inputs from 0 to this (exclusive).
pub const IPA_SPACE: u64 = 1 << IPA_BITS;
/// Translation tables the partitioner keeps for all cells' stage 2.
pub const CELL_TABLES: usize = 128;
/// Bytes one 2 MiB block maps.
pub const BLOCK: u64 = 2 << 20;
/// Bytes a level-2 table covers.
const LEVEL2_SPAN: u64 = 1 << 30;
/// Most mappings one cell's plan has: its RAM regions, its device
/// windows, three sections (state table, common, one output) plus one
/// output per further peer for each channel, and a GICv2's CPU interface.
pub const MAX_STAGE2_MAPPINGS: usize = MAX_CELL_MEMORY
    + MAX_CELL_DEVICES * MAX_DEVICE_MMIO
    + MAX_CHANNELS * (2 + MAX_CHANNEL_PEERS)
    + 1;

/// What a mapping maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The cell's RAM, with its access.
    Ram(Access),
    /// Device MMIO, read-write, never executable.
    Device,
    /// A channel section: normal memory, never executable.
    Channel {
        /// Whether the peer may write it.
        writable: bool,
    },
}

/// Where in the config a mapping comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `memory[n]` of the cell.
    Memory(usize),
    /// `devices[n]` of the cell (the first device of a merged range).
    Device(usize),
    /// Channel `n` of the system.
    Channel(usize),
    /// The board's GICv2 CPU interface.
    GicCpuInterface,
}

/// One range of a cell's stage 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First guest-physical address.
    pub input: u64,
    /// First physical address.
    pub output: u64,
    /// Bytes, a multiple of 4 KiB.
    pub size: u64,
    /// What it is.
    pub kind: Kind,
    /// Where it comes from.
    pub source: Source,
}

impl Mapping {
    /// The guest-physical range.
    pub const fn input_range(&self) -> MemRange {
        MemRange::new(self.input, self.size)
    }
}

/// Why a cell's plan cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// A mapping is not whole pages (the rules refuse such a config).
    NotPages {
        /// Where it comes from.
        source: Source,
    },
    /// A mapping's end lies beyond the IPA space.
    BeyondIpaSpace {
        /// Where it comes from.
        source: Source,
        /// Its guest-physical end.
        end: u64,
    },
}

/// The plan of cell `index` of `system` on `board`, RAM first, then the
/// merged device ranges, a GICv2's CPU interface, then channel sections.
pub fn plan(
    system: &System,
    board: &Board,
    index: usize,
) -> Result<Vec<Mapping, MAX_STAGE2_MAPPINGS>, PlanError> {
    let mut mappings: Vec<Mapping, MAX_STAGE2_MAPPINGS> = Vec::new();
    let Some(cell) = system.cells.get(index) else {
        return Ok(mappings);
    };
    let mut add = |m: Mapping| -> Result<(), PlanError> {
        let end = m.input.saturating_add(m.size);
        if !m.input.is_multiple_of(crate::PAGE_SIZE)
            || !m.output.is_multiple_of(crate::PAGE_SIZE)
            || !m.size.is_multiple_of(crate::PAGE_SIZE)
        {
            return Err(PlanError::NotPages { source: m.source });
        }
        if end > IPA_SPACE {
            return Err(PlanError::BeyondIpaSpace {
                source: m.source,
                end,
            });
        }
        // The capacity covers every source (see MAX_STAGE2_MAPPINGS).
        let _ = mappings.push(m);
        Ok(())
    };
    for (n, region) in cell.memory.iter().enumerate() {
        add(Mapping {
            input: region.guest_base,
            output: region.range.base,
            size: region.range.size,
            kind: Kind::Ram(region.access),
            source: Source::Memory(n),
        })?;
    }
    for (range, device) in device_ranges(cell).iter() {
        add(Mapping {
            input: range.base,
            output: range.base,
            size: range.size,
            kind: Kind::Device,
            source: Source::Device(*device),
        })?;
    }
    let gic = board.gic;
    if let (GicVersion::V2, Some(gicc)) = (gic.version, gic.cpu_interface) {
        match gic.virtual_cpu_interface {
            // A virtualized cell sees the virtual CPU interface where the
            // CPU interface is, both pages (GICV_DIR is in the second).
            Some(gicv) if system.virtualized.contains(index) => {
                for page in [0, 1] {
                    let (input, output) = if page == 0 {
                        (gicc.base, gicv.base)
                    } else {
                        (
                            gicc.base + crate::PAGE_SIZE,
                            bsp::Gic::gicv2_second_page(gicv),
                        )
                    };
                    add(Mapping {
                        input,
                        output,
                        size: crate::PAGE_SIZE,
                        kind: Kind::Device,
                        source: Source::GicCpuInterface,
                    })?;
                }
            }
            // A direct cell reaches its core's own CPU interface, the
            // first page; GICC_DIR (the second) traps.
            _ => add(Mapping {
                input: gicc.base,
                output: gicc.base,
                size: crate::PAGE_SIZE,
                kind: Kind::Device,
                source: Source::GicCpuInterface,
            })?,
        }
    }
    if let Some(pci) = board.virtual_pci {
        for (c, channel) in system.channels.iter().enumerate() {
            let Some(peer) = channel.peer_of(index) else {
                continue;
            };
            let bar = pci.shared_memory_base(c);
            let sections = [(channel.state_table(), false), (channel.common(), true)]
                .into_iter()
                .chain((0..channel.peers.len()).map(|q| (channel.output(q), q == peer)));
            for (section, writable) in sections.filter(|(s, _)| s.size != 0) {
                add(Mapping {
                    input: bar.saturating_add(section.base.saturating_sub(channel.base)),
                    output: section.base,
                    size: section.size,
                    kind: Kind::Channel { writable },
                    source: Source::Channel(c),
                })?;
            }
        }
    }
    Ok(mappings)
}

/// The cell's device windows as whole pages, merged where they overlap or
/// touch, in address order, each with the first device it comes from.
fn device_ranges(cell: &Cell) -> Vec<(MemRange, usize), { MAX_CELL_DEVICES * MAX_DEVICE_MMIO }> {
    let mut spans: Vec<(MemRange, usize), { MAX_CELL_DEVICES * MAX_DEVICE_MMIO }> = Vec::new();
    for (d, device) in cell.devices.iter().enumerate() {
        for window in &device.mmio {
            let _ = spans.push((page_span(window), d));
        }
    }
    spans.sort_unstable_by_key(|(r, _)| r.base);
    let mut merged: Vec<(MemRange, usize), { MAX_CELL_DEVICES * MAX_DEVICE_MMIO }> = Vec::new();
    for (span, d) in spans {
        if let Some((last, _)) = merged.last_mut() {
            if span.base <= last.end() {
                let end = last.end().max(span.end());
                *last = MemRange::new(last.base, end - last.base);
                continue;
            }
        }
        let _ = merged.push((span, d));
    }
    merged
}

/// Intervals of table indices (first, last), inclusive.
type Intervals = Vec<(u64, u64), { 2 * MAX_STAGE2_MAPPINGS }>;

/// Translation tables `mappings` need: a root, a level-2 table per 1 GiB
/// they touch, a level-3 table per 2 MiB that holds a 4 KiB page. The
/// rule for pages and blocks is the partitioner's (`mm::map`).
pub fn tables_needed(mappings: &[Mapping]) -> usize {
    let mut level2 = Intervals::new();
    let mut level3 = Intervals::new();
    for m in mappings.iter().filter(|m| m.size != 0) {
        let last = m.input + m.size - 1;
        let _ = level2.push((m.input / LEVEL2_SPAN, last / LEVEL2_SPAN));
        let (first_block, last_block) = (m.input / BLOCK, last / BLOCK);
        if (m.input ^ m.output) % BLOCK != 0 {
            // Never a block: pages all along.
            let _ = level3.push((first_block, last_block));
            continue;
        }
        // Pages before the first 2 MiB boundary, and after the last one
        // that a whole block still fits before the end.
        let end = m.input + m.size;
        let blocks_start = m.input.next_multiple_of(BLOCK);
        let blocks_end = end - end % BLOCK;
        if blocks_start >= blocks_end {
            let _ = level3.push((first_block, last_block));
            continue;
        }
        if m.input % BLOCK != 0 {
            let _ = level3.push((first_block, first_block));
        }
        if end % BLOCK != 0 {
            let _ = level3.push((last_block, last_block));
        }
    }
    1 + union_size(&mut level2) + union_size(&mut level3)
}

/// How many indices the intervals cover together.
fn union_size(intervals: &mut Intervals) -> usize {
    intervals.sort_unstable();
    let mut count = 0u64;
    let mut covered: Option<(u64, u64)> = None;
    for &(first, last) in intervals.iter() {
        covered = match covered {
            Some((a, b)) if first <= b.saturating_add(1) => Some((a, b.max(last))),
            Some((a, b)) => {
                count += b - a + 1;
                Some((first, last))
            }
            None => Some((first, last)),
        };
    }
    if let Some((a, b)) = covered {
        count += b - a + 1;
    }
    count as usize
}

/// The mapping of `mappings` that needs the most tables on its own, for
/// saying where a plan that does not fit comes from.
pub fn largest_need(mappings: &[Mapping]) -> Option<&Mapping> {
    mappings
        .iter()
        .max_by_key(|m| tables_needed(core::slice::from_ref(*m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ram(input: u64, output: u64, size: u64) -> Mapping {
        Mapping {
            input,
            output,
            size,
            kind: Kind::Ram(Access::ReadWrite),
            source: Source::Memory(0),
        }
    }

    #[test]
    fn tables_follow_blocks_and_pages() {
        // 16 MiB aligned: root + one level-2 table, blocks only.
        assert_eq!(tables_needed(&[ram(0x5000_0000, 0x5000_0000, 16 << 20)]), 2);
        // A page before a boundary, a block, two pages after: two level-3
        // tables.
        assert_eq!(
            tables_needed(&[ram(0x501f_f000, 0x501f_f000, 0x1000 + (2 << 20) + 0x2000)]),
            4
        );
        // 512 MiB whose guest and physical addresses differ by 1 MiB:
        // pages all along, one level-3 table per 2 MiB.
        assert_eq!(
            tables_needed(&[ram(0x5010_0000, 0x6000_0000, 512 << 20)]),
            1 + 1 + 257
        );
        // Two pages of one 2 MiB region share their level-3 table.
        assert_eq!(
            tables_needed(&[
                ram(0x0a00_2000, 0x0a00_2000, 0x1000),
                ram(0x0a00_3000, 0x0a00_3000, 0x1000)
            ]),
            3
        );
        assert_eq!(tables_needed(&[]), 1);
    }
}
