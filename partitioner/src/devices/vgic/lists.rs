//! Virtualized interrupt delivery (`interrupts: virtualized`), the pure
//! part: a GICv3 list register's layout (`ICH_LR<n>_EL2`), and the
//! interrupts of a core that wait for a free list register.
//!
//! A virtualized cell's core runs with `HCR_EL2.IMO` set: every physical
//! interrupt of the core goes to EL2, which acknowledges it, drops its
//! priority and lists it for the cell's virtual CPU interface. A PPI or an
//! SPI is listed with the hardware bit, so the cell's own EOI deactivates
//! the physical interrupt with no second exit; an SGI is deactivated at
//! EL2 at once and listed as a purely virtual interrupt. When every list
//! register is taken, the interrupt waits in [`Waiting`] and the
//! underflow maintenance interrupt brings the partitioner back to list it
//! when list registers free up. Nothing is lost: a hardware interrupt
//! stays active on the GIC until the cell ends it, so it cannot come again
//! before it was listed; an SGI that comes again while it waits is the
//! same pending SGI.

use bsp::{Intid, FIRST_PPI};

/// The state bits of a list register: pending.
const PENDING: u64 = 1 << 62;
/// The state bits of a list register: active.
const ACTIVE: u64 = 1 << 63;
/// The hardware bit: the virtual interrupt's deactivation deactivates
/// physical interrupt `pINTID`.
const HW: u64 = 1 << 61;
/// Group 1.
const GROUP1: u64 = 1 << 60;
/// Where the priority is.
const PRIORITY_SHIFT: u32 = 48;
/// Where the physical INTID is (with [`HW`]).
const PINTID_SHIFT: u32 = 32;
/// The physical INTID's width.
const PINTID_MASK: u64 = 0x1fff;

/// A list register's value for `intid`, pending, at `priority` (as the
/// cell wrote it), in Group 1; with the hardware bit for every PPI and
/// SPI.
pub const fn entry(intid: Intid, priority: u8) -> u64 {
    let common = PENDING | GROUP1 | (priority as u64) << PRIORITY_SHIFT | intid as u64;
    if intid >= FIRST_PPI {
        common | HW | (intid as u64 & PINTID_MASK) << PINTID_SHIFT
    } else {
        common
    }
}

/// What a list register holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The virtual INTID.
    pub intid: Intid,
    /// Pending (and maybe active too).
    pub pending: bool,
    /// Active (and maybe pending too).
    pub active: bool,
    /// The physical interrupt the cell's EOI deactivates, with the
    /// hardware bit.
    pub physical: Option<Intid>,
}

/// Decodes list register value `value`; `None` for an empty one.
pub const fn decode(value: u64) -> Option<Listed> {
    let pending = value & PENDING != 0;
    let active = value & ACTIVE != 0;
    if !pending && !active {
        return None;
    }
    Some(Listed {
        intid: value as u32,
        pending,
        active,
        physical: if value & HW != 0 {
            Some(((value >> PINTID_SHIFT) & PINTID_MASK) as u32)
        } else {
            None
        },
    })
}

/// `value` made pending again (an SGI that came again while the cell
/// still handles it: pending and active).
pub const fn with_pending(value: u64) -> u64 {
    value | PENDING
}

/// The INTIDs a GIC can have, for [`Waiting`].
const INTIDS: usize = 1024;

/// The interrupts of one core that wait for a free list register, with
/// the priority each is listed at.
#[derive(Clone, Debug)]
pub struct Waiting {
    words: [u32; INTIDS / 32],
    priority: [u8; INTIDS],
}

impl Waiting {
    /// None waiting.
    pub const fn new() -> Self {
        Waiting {
            words: [0; INTIDS / 32],
            priority: [0; INTIDS],
        }
    }

    /// Lets `intid` wait, at `priority`; again is once.
    pub fn insert(&mut self, intid: Intid, priority: u8) {
        let i = intid as usize;
        if let (Some(word), Some(slot)) = (self.words.get_mut(i / 32), self.priority.get_mut(i)) {
            *word |= 1 << (i % 32);
            *slot = priority;
        }
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Takes the waiting interrupt of highest priority (lowest value; the
    /// lowest INTID among equals), with its priority.
    pub fn take_first(&mut self) -> Option<(Intid, u8)> {
        let mut best: Option<(usize, u8)> = None;
        for (w, &word) in self.words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let i = w * 32 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let priority = self.priority[i];
                if best.is_none_or(|(_, p)| priority < p) {
                    best = Some((i, priority));
                }
            }
        }
        let (i, priority) = best?;
        self.words[i / 32] &= !(1 << (i % 32));
        Some((i as Intid, priority))
    }
}

impl Default for Waiting {
    fn default() -> Self {
        Self::new()
    }
}

/// The bits of the first `count` list registers.
const fn implemented(count: usize) -> u64 {
    if count >= 64 {
        u64::MAX
    } else {
        (1 << count) - 1
    }
}

/// The first empty list register among the first `count`, from
/// `ICH_ELRSR_EL2` (`empty`: bit `n` set when list register `n` holds no
/// interrupt).
pub const fn first_empty(empty: u64, count: usize) -> Option<usize> {
    let usable = empty & implemented(count);
    if usable == 0 {
        None
    } else {
        Some(usable.trailing_zeros() as usize)
    }
}

/// The list registers among the first `count` that hold an interrupt
/// (bit `n` for register `n`), from `ICH_ELRSR_EL2`.
pub const fn occupied(empty: u64, count: usize) -> u64 {
    !empty & implemented(count)
}

/// A GICv2's list registers (`GICH_LR<n>`, 32 bits) hold the same as a
/// GICv3's in other places: [`to_v2`] and [`from_v2`] translate, so that
/// everything above works on the GICv3 layout. The priority keeps its top
/// five bits (what a GIC-400's virtual interface implements); the group
/// is 0, the one a Linux guest enables on a GICv2's virtual CPU interface
/// (`GICV_CTLR` bit 0).
pub mod v2 {
    /// `GICH_LR`: the hardware bit.
    const HW: u32 = 1 << 31;
    /// `GICH_LR`: where the state (pending 1, active 2) is.
    const STATE_SHIFT: u32 = 28;
    /// `GICH_LR`: where the priority's top five bits are.
    const PRIORITY_SHIFT: u32 = 23;
    /// `GICH_LR`: where the physical INTID is (with [`HW`]).
    const PHYSICAL_SHIFT: u32 = 10;
    /// The 10-bit INTIDs of a GICv2.
    const INTID_MASK: u32 = 0x3ff;

    /// The GICv2 list register value for GICv3 layout `value`.
    pub const fn to_v2(value: u64) -> u32 {
        let state = ((value >> 62) & 0b11) as u32;
        let priority = ((value >> 48) & 0xff) as u32 >> 3;
        let mut lr = state << STATE_SHIFT | priority << PRIORITY_SHIFT | value as u32 & INTID_MASK;
        if value & super::HW != 0 {
            let physical = ((value >> super::PINTID_SHIFT) as u32) & INTID_MASK;
            lr |= HW | physical << PHYSICAL_SHIFT;
        }
        lr
    }

    /// The GICv3 layout of GICv2 list register value `lr`.
    pub const fn from_v2(lr: u32) -> u64 {
        let state = ((lr >> STATE_SHIFT) & 0b11) as u64;
        let priority = (((lr >> PRIORITY_SHIFT) & 0x1f) << 3) as u64;
        let mut value = state << 62
            | super::GROUP1
            | priority << super::PRIORITY_SHIFT
            | (lr & INTID_MASK) as u64;
        if lr & HW != 0 {
            let physical = ((lr >> PHYSICAL_SHIFT) & INTID_MASK) as u64;
            value |= super::HW | physical << super::PINTID_SHIFT;
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gicv2_list_registers_translate_both_ways() {
        // The virtual timer: pending, hardware, priority 0xa0 (top five
        // bits 0b10100), physical and virtual INTID 27, group 0.
        let timer = v2::to_v2(entry(27, 0xa0));
        assert_eq!(timer, 1 << 31 | 1 << 28 | 0x14 << 23 | 27 << 10 | 27);
        assert_eq!(decode(v2::from_v2(timer)), decode(entry(27, 0xa0)));
        assert_eq!(v2::from_v2(timer), entry(27, 0xa0));
        // An SGI, pending and active: no hardware bit, the state kept.
        let sgi = v2::to_v2(with_pending(entry(1, 0x80) | ACTIVE));
        assert_eq!(sgi, 3 << 28 | 0x10 << 23 | 1);
        assert_eq!(
            decode(v2::from_v2(sgi)),
            Some(Listed {
                intid: 1,
                pending: true,
                active: true,
                physical: None,
            })
        );
        // Empty stays empty.
        assert_eq!(decode(v2::from_v2(0)), None);
        assert_eq!(v2::to_v2(0), 0);
    }

    #[test]
    fn entries_carry_the_hardware_bit_for_ppis_and_spis_only() {
        // The virtual timer (PPI 27) at 0xa0: pending, HW, Group 1.
        let timer = entry(27, 0xa0);
        assert_eq!(timer, 0x7000_0000_0000_0000 | 0xa0 << 48 | 27 << 32 | 27);
        assert_eq!(
            decode(timer),
            Some(Listed {
                intid: 27,
                pending: true,
                active: false,
                physical: Some(27),
            })
        );
        // An SGI is purely virtual.
        let sgi = entry(3, 0x80);
        assert_eq!(sgi & HW, 0);
        assert_eq!(decode(sgi).unwrap().physical, None);
        // An SPI past 1023 keeps its INTID in the low 13 bits.
        assert_eq!(decode(entry(1019, 0)).unwrap().physical, Some(1019));
    }

    #[test]
    fn empty_and_active_registers_decode() {
        assert_eq!(decode(0), None);
        // Still listed while the cell handles it, pending again on a
        // second SGI.
        let active = (entry(2, 0x80) & !PENDING) | ACTIVE;
        let listed = decode(active).unwrap();
        assert!(listed.active && !listed.pending);
        let both = decode(with_pending(active)).unwrap();
        assert!(both.active && both.pending && both.intid == 2);
    }

    #[test]
    fn waiting_interrupts_come_out_by_priority_once_each() {
        let mut waiting = Waiting::new();
        assert!(waiting.is_empty());
        assert_eq!(waiting.take_first(), None);
        waiting.insert(40, 0xa0);
        waiting.insert(27, 0xa0);
        waiting.insert(3, 0x80);
        waiting.insert(40, 0xa0);
        // Out of range: ignored, never a panic.
        waiting.insert(5000, 0);
        assert_eq!(waiting.take_first(), Some((3, 0x80)));
        assert_eq!(waiting.take_first(), Some((27, 0xa0)));
        assert_eq!(waiting.take_first(), Some((40, 0xa0)));
        assert_eq!(waiting.take_first(), None);
        assert!(waiting.is_empty());
    }

    #[test]
    fn the_first_empty_list_register_is_among_those_that_exist() {
        assert_eq!(first_empty(0, 4), None);
        assert_eq!(first_empty(0b0100, 4), Some(2));
        // ELRSR bits past the implemented registers read as zero, but
        // never use them anyway.
        assert_eq!(first_empty(0b1_0000, 4), None);
        assert_eq!(first_empty(u64::MAX, 64), Some(0));
        assert_eq!(occupied(0b0100, 4), 0b1011);
        assert_eq!(occupied(u64::MAX, 4), 0);
    }
}
