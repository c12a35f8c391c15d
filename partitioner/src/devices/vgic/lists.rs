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

#[cfg(test)]
mod tests {
    use super::*;

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
