//! The GIC as a cell sees it: which interrupts it owns, and what each
//! trapped distributor, redistributor or CPU-interface access means (a
//! GICv3's here, what a GICv2's distributor has instead in [`v2`]).
//!
//! Cells take their interrupts directly on the physical CPU interface (no
//! exits), but never write the distributor or a redistributor themselves:
//! stage 2 does not map them, every access traps, and the runtime applies it
//! to the hardware only for the interrupts the cell owns. This module is the
//! pure part of that: ownership masks, register decoding, priority and
//! affinity translation. It compiles and is tested on the host.
//!
//! Register offsets are the GIC's register map, [`crate::gic`], which the
//! partitioner's own driver uses too; the decoding here says what a
//! trapped access at one of them means for a cell. The run-time half,
//! which applies it to the hardware, is `runtime.rs` (board only).

use crate::gic::{gicd, gicr, GICD_TYPER, GICR_TYPER, KICK_SGI, MAX_INTID};
use bsp::{Board, Intid};
use bulkhead_config::{doorbell_spi, Cell, System};

pub mod lists;
#[cfg(target_os = "none")]
pub(crate) mod runtime;
pub mod v2;
#[cfg(target_os = "none")]
pub(crate) mod virtual_interface;

/// The partitioner's own SGIs and PPIs on every core, one bit per INTID
/// (0-31): the kick, EL2's timer and the GIC maintenance interrupt. No
/// cell owns them; on a virtualized cell's core they are never listed.
pub const fn partitioners_private(board: &Board) -> u32 {
    /// `intid`'s bit, none for an INTID past 31 (not a private one).
    const fn bit(intid: Intid) -> u32 {
        match 1u32.checked_shl(intid) {
            Some(bit) => bit,
            None => 0,
        }
    }
    bit(KICK_SGI) | bit(board.timer.hypervisor) | bit(board.gic.maintenance_irq)
}

/// Whether `intid` is one of the partitioner's own interrupts: its SGIs
/// and PPIs ([`partitioners_private`]) and the board UART's, which carries
/// the host's input. No cell owns them (the rules keep the console's
/// device out of every cell), and on a virtualized cell's core they are
/// never listed.
pub const fn is_partitioners(board: &Board, intid: Intid) -> bool {
    match 1u32.checked_shl(intid) {
        Some(bit) => partitioners_private(board) & bit != 0,
        None => intid == board.console.irq,
    }
}

/// Which interrupts a cell may configure: one bit per INTID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ownership {
    words: [u32; 32],
}

impl Ownership {
    /// No interrupt at all.
    pub const NONE: Ownership = Ownership { words: [0; 32] };

    /// What `cell` owns on `board`: every SGI but the kick, every PPI but
    /// the partitioner's (its timer and the GIC maintenance interrupt), and
    /// the SPIs of its devices and of its emulated console.
    pub fn for_cell(cell: &Cell, board: &Board) -> Ownership {
        let mut owned = Ownership::NONE;
        owned.words[0] = !partitioners_private(board);
        for &intid in cell.devices.iter().flat_map(|d| d.irqs.iter()) {
            owned.insert(intid);
        }
        if let Some(console) = cell.console {
            owned.insert(console.irq);
        }
        owned
    }

    /// What cell `index` of `system` owns on `board`: what
    /// [`for_cell`](Self::for_cell) gives, and the doorbell SPI of each
    /// channel it is a peer of (its INTx, which the partitioner raises
    /// and the cell takes directly).
    pub fn for_cell_in(system: &System, index: usize, board: &Board) -> Ownership {
        let Some(cell) = system.cells.get(index) else {
            return Ownership::NONE;
        };
        let mut owned = Ownership::for_cell(cell, board);
        for (c, channel) in system.channels.iter().enumerate() {
            if let Some(doorbell) = channel
                .peer_of(index)
                .and_then(|peer| doorbell_spi(board.spare_spis, c, peer))
            {
                owned.insert(doorbell);
            }
        }
        owned
    }

    /// Adds `intid` (ignored when out of range).
    pub fn insert(&mut self, intid: Intid) {
        if intid < MAX_INTID {
            self.words[(intid / 32) as usize] |= 1 << (intid % 32);
        }
    }

    /// Whether the cell owns `intid`.
    pub fn owns(&self, intid: Intid) -> bool {
        intid < MAX_INTID && self.words[(intid / 32) as usize] & (1 << (intid % 32)) != 0
    }

    /// The ownership bits of INTIDs `32 * n .. 32 * n + 32`.
    pub fn word(&self, n: usize) -> u32 {
        self.words.get(n).copied().unwrap_or(0)
    }

    /// The owned SPIs.
    pub fn spis(&self) -> impl Iterator<Item = Intid> + '_ {
        (32..MAX_INTID).filter(|&i| self.owns(i))
    }
}

/// A guest priority moved into the lower half of the priority range, so
/// that no cell interrupt can ever block the partitioner's (priority 0).
pub const fn squeeze_priority(priority: u8) -> u8 {
    0x80 | (priority >> 1)
}

/// The guest's view of a squeezed physical priority.
pub const fn unsqueeze_priority(priority: u8) -> u8 {
    (priority & 0x7f) << 1
}

/// The kind of a one-bit-per-interrupt register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitRegister {
    /// `IGROUPR`: cells' interrupts are always Group 1.
    Group,
    /// `ISENABLER`.
    SetEnable,
    /// `ICENABLER`.
    ClearEnable,
    /// `ISPENDR`.
    SetPending,
    /// `ICPENDR`.
    ClearPending,
    /// `ISACTIVER`.
    SetActive,
    /// `ICACTIVER`.
    ClearActive,
    /// `IGRPMODR`: RAZ/WI with one security state.
    GroupModifier,
}

/// A decoded distributor or redistributor register access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Register {
    /// `GICD_CTLR` (per cell, virtual).
    DistributorControl,
    /// A read-only identification or type register, passed through.
    Identification,
    /// `GICD_TYPER`: passed through without LPI support.
    DistributorType,
    /// One bit per interrupt, for INTIDs from `first`.
    Bits {
        /// Which register.
        kind: BitRegister,
        /// INTID of bit 0.
        first: Intid,
    },
    /// `IPRIORITYR`: one byte per interrupt, from `first`.
    Priority {
        /// INTID of byte 0 of the access.
        first: Intid,
    },
    /// `ICFGR`: two bits per interrupt, for INTIDs from `first`.
    Config {
        /// INTID of bits 1:0.
        first: Intid,
    },
    /// `GICD_IROUTER<n>`, or its upper half.
    Route {
        /// The SPI.
        intid: Intid,
        /// Whether the access is to bits 63:32 alone.
        upper: bool,
    },
    /// `GICR_TYPER`, or its upper half (virtualised affinity).
    RedistributorType {
        /// Whether the access is to bits 63:32 alone.
        upper: bool,
    },
    /// `GICR_WAKER`: the partitioner keeps the redistributor awake.
    Waker,
    /// GICv2 `GICD_ITARGETSR`: one byte per interrupt, from `first`.
    Targets {
        /// INTID of byte 0 of the access.
        first: Intid,
    },
    /// GICv2 `GICD_SGIR`.
    SoftwareInterrupt,
    /// Anything else: reads as zero, writes ignored.
    Ignored,
}

/// Decodes an access at `offset` in the distributor.
pub fn decode_distributor(offset: u64) -> Register {
    match offset {
        gicd::CTLR => Register::DistributorControl,
        gicd::TYPER => Register::DistributorType,
        gicd::IIDR | gicd::TYPER2 | gicd::ID_REGISTERS..gicd::SIZE => Register::Identification,
        gicd::IGROUPR..gicd::IGRPMODR_END => decode_banked(offset),
        // SPIs only: the routes of INTIDs 0–31 are reserved.
        FIRST_SPI_ROUTE..gicd::IROUTER_END => Register::Route {
            intid: ((offset - gicd::IROUTER) / 8) as Intid,
            upper: offset % 8 == 4,
        },
        _ => Register::Ignored,
    }
}

/// `GICD_IROUTER` of the first SPI.
const FIRST_SPI_ROUTE: u64 = gicd::IROUTER + 8 * 32;

/// `SGI_base` as an offset from `RD_base`, and its end.
const SGI_FRAME_END: u64 = gicr::SGI_FRAME + gicr::FRAME_SIZE;

/// Decodes an access at `offset` in a redistributor's two 64 KiB frames
/// (`RD_base` then `SGI_base`).
pub fn decode_redistributor(offset: u64) -> Register {
    match offset {
        gicr::TYPER => Register::RedistributorType { upper: false },
        UPPER_TYPER => Register::RedistributorType { upper: true },
        gicr::WAKER => Register::Waker,
        gicr::IIDR | gicr::ID_REGISTERS..gicr::FRAME_SIZE => Register::Identification,
        // SGI_base: only the registers of INTIDs 0..31.
        gicr::SGI_FRAME..SGI_FRAME_END => match decode_banked(offset - gicr::SGI_FRAME) {
            Register::Bits { first: 0, kind } => Register::Bits { kind, first: 0 },
            Register::Priority { first } if first < 32 => Register::Priority { first },
            Register::Config { first } if first < 32 => Register::Config { first },
            _ => Register::Ignored,
        },
        _ => Register::Ignored,
    }
}

/// Bits 63:32 of `GICR_TYPER`.
const UPPER_TYPER: u64 = gicr::TYPER + 4;

/// The interrupt registers shared by the distributor and the SGI frame.
fn decode_banked(offset: u64) -> Register {
    let bits = |kind, start: u64| Register::Bits {
        kind,
        first: ((offset - start) / 4 * 32) as Intid,
    };
    match offset {
        gicd::IGROUPR..gicd::ISENABLER => bits(BitRegister::Group, gicd::IGROUPR),
        gicd::ISENABLER..gicd::ICENABLER => bits(BitRegister::SetEnable, gicd::ISENABLER),
        gicd::ICENABLER..gicd::ISPENDR => bits(BitRegister::ClearEnable, gicd::ICENABLER),
        gicd::ISPENDR..gicd::ICPENDR => bits(BitRegister::SetPending, gicd::ISPENDR),
        gicd::ICPENDR..gicd::ISACTIVER => bits(BitRegister::ClearPending, gicd::ICPENDR),
        gicd::ISACTIVER..gicd::ICACTIVER => bits(BitRegister::SetActive, gicd::ISACTIVER),
        gicd::ICACTIVER..gicd::BITS_END => bits(BitRegister::ClearActive, gicd::ICACTIVER),
        gicd::IPRIORITYR..gicd::IPRIORITYR_END => Register::Priority {
            first: (offset - gicd::IPRIORITYR) as Intid,
        },
        gicd::ICFGR..gicd::IGRPMODR => Register::Config {
            first: ((offset - gicd::ICFGR) / 4 * 16) as Intid,
        },
        gicd::IGRPMODR..gicd::IGRPMODR_END => bits(BitRegister::GroupModifier, gicd::IGRPMODR),
        _ => Register::Ignored,
    }
}

/// The mask of `ICFGR` bits (two per interrupt) a cell owns in the word
/// whose first interrupt is `first`.
pub fn config_mask(owned: &Ownership, first: Intid) -> u32 {
    (0..16)
        .filter(|i| owned.owns(first + i))
        .fold(0, |mask, i| mask | 0b11 << (2 * i))
}

/// `GICR_TYPER` as a cell's virtual CPU `vcpu` sees it: the affinity and
/// processor number are virtual, LPIs are not offered, and `Last` is set
/// when the next frame in memory is not the cell's (`last_in_run`): the
/// cell's device tree describes one redistributor region per run of
/// adjacent cores, and a walk must stop at the end of each.
pub fn virtual_redistributor_type(physical: u64, vcpu: usize, last_in_run: bool) -> u64 {
    let hidden = GICR_TYPER::Affinity::SET
        + GICR_TYPER::ProcessorNumber::SET
        + GICR_TYPER::Last::SET
        + GICR_TYPER::DirectLPI::SET
        + GICR_TYPER::VLPIS::SET
        + GICR_TYPER::PLPIS::SET;
    let mut value = physical & !hidden.value;
    value |= GICR_TYPER::Affinity.val(vcpu as u64 & 0xff).value
        | GICR_TYPER::ProcessorNumber.val(vcpu as u64).value;
    if last_in_run {
        value |= GICR_TYPER::Last::SET.value;
    }
    value
}

/// `GICD_TYPER` without LPIs or message-based SPIs.
pub fn virtual_distributor_type(physical: u32) -> u32 {
    physical & !(GICD_TYPER::LPIS::SET + GICD_TYPER::MBIS::SET + GICD_TYPER::DVIS::SET).value
}

/// `GICD_IROUTER.Interrupt_Routing_Mode`: any participating core.
pub const IROUTER_ANY: u64 = 1 << 31;

/// The virtual CPU an `IROUTER` value written by a cell names: Aff0, with
/// the other affinity levels zero. "Any core" (1 of N) and names of CPUs
/// the cell does not have go to its virtual CPU 0.
pub fn route_target(value: u64, vcpus: usize) -> usize {
    let aff0 = (value & 0xff) as usize;
    let higher = value & 0xff_00ff_ff00;
    if value & IROUTER_ANY != 0 || higher != 0 || aff0 >= vcpus {
        0
    } else {
        aff0
    }
}

/// GIC CPU-interface system registers a cell's accesses to trap
/// (`ICH_HCR_EL2.TC`, and SGI generation with `HCR_EL2.FMO`), by their
/// `Op0:Op1:CRn:CRm:Op2` encoding as [`crate::arch::esr::SysRegAccess`]
/// packs it.
pub mod icc {
    const fn encode(op0: u32, op1: u32, crn: u32, crm: u32, op2: u32) -> u32 {
        op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2
    }
    /// `ICC_PMR_EL1`.
    pub const PMR: u32 = encode(3, 0, 4, 6, 0);
    /// `ICC_DIR_EL1`.
    pub const DIR: u32 = encode(3, 0, 12, 11, 1);
    /// `ICC_RPR_EL1`.
    pub const RPR: u32 = encode(3, 0, 12, 11, 3);
    /// `ICC_SGI1R_EL1`.
    pub const SGI1R: u32 = encode(3, 0, 12, 11, 5);
    /// `ICC_ASGI1R_EL1`.
    pub const ASGI1R: u32 = encode(3, 0, 12, 11, 6);
    /// `ICC_SGI0R_EL1`.
    pub const SGI0R: u32 = encode(3, 0, 12, 11, 7);
    /// `ICC_CTLR_EL1`.
    pub const CTLR: u32 = encode(3, 0, 12, 12, 4);
}

/// A decoded `ICC_SGI1R_EL1` write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SgiRequest {
    /// The SGI.
    pub intid: Intid,
    /// Virtual CPUs to interrupt (bit n = virtual CPU n).
    pub targets: u16,
}

/// Decodes a cell's `ICC_SGI1R_EL1` write from virtual CPU `me` of
/// `vcpus`. Targets outside the cell (other affinity levels, CPUs it does
/// not have) are dropped; "all but self" means the cell's other CPUs.
pub fn decode_sgi(value: u64, me: usize, vcpus: usize) -> SgiRequest {
    let intid = ((value >> 24) & 0xf) as Intid;
    let all = if vcpus >= 16 {
        u16::MAX
    } else {
        (1u16 << vcpus) - 1
    };
    let targets = if value & (1 << 40) != 0 {
        all & !(1 << me)
    } else {
        let higher_affinity = value & (0xff << 48 | 0xff << 32 | 0xff << 16);
        if higher_affinity != 0 {
            0
        } else {
            (value & 0xffff) as u16 & all
        }
    };
    SgiRequest { intid, targets }
}

/// The trapped-instruction syndrome of an `MSR ICC_SGI1R_EL1, Xt`
/// (EC 0x18): Op0 = 3, Op2 = 5, Op1 = 0, CRn = 12, CRm = 11, write.
const SGI1R_WRITE_ISS: u64 = 3 << 20 | 5 << 17 | 12 << 10 | 11 << 1;
/// `Rt` in that syndrome.
const ISS_RT: u64 = 0x1f << 5;

/// The register of a trapped `ICC_SGI1R_EL1` write, if `esr` is one: the
/// partitioner's short path for cells' IPIs.
pub fn sgi1r_write_register(esr: u64) -> Option<u8> {
    let ec = (esr >> 26) & 0x3f;
    let iss = esr & 0x1ff_ffff;
    (ec == 0x18 && iss & !ISS_RT == SGI1R_WRITE_ISS).then_some(((iss & ISS_RT) >> 5) as u8)
}

/// The target fields of an `ICC_SGI1R_EL1` value that interrupts exactly
/// the core with affinity `mpidr` (INTID left 0).
pub const fn sgi1r_target(mpidr: u64) -> u64 {
    ((mpidr >> 32) & 0xff) << 48
        | ((mpidr >> 16) & 0xff) << 32
        | ((mpidr >> 8) & 0xff) << 16
        | 1 << (mpidr & 0xf)
}

/// One core's view of its cell for SGIs, computed once at boot: which
/// virtual CPU it is and the physical target of each of the cell's virtual
/// CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SgiRoutes {
    me: u8,
    count: u8,
    targets: [u64; 16],
}

impl SgiRoutes {
    /// A core without a cell: every SGI is dropped.
    pub const NONE: SgiRoutes = SgiRoutes {
        me: 0,
        count: 0,
        targets: [0; 16],
    };

    /// Routes for virtual CPU `me` of a cell whose virtual CPUs have the
    /// physical affinities `mpidrs` (at most 16 are used).
    pub fn new(me: usize, mpidrs: impl Iterator<Item = u64>) -> Self {
        let mut routes = SgiRoutes {
            me: me as u8,
            ..SgiRoutes::NONE
        };
        for (slot, mpidr) in routes.targets.iter_mut().zip(mpidrs) {
            *slot = sgi1r_target(mpidr);
            routes.count += 1;
        }
        routes
    }

    /// The physical `ICC_SGI1R_EL1` writes a cell's `value` stands for, in
    /// virtual CPU order. The kick SGI is never forwarded.
    pub fn physical_writes(&self, value: u64) -> impl Iterator<Item = u64> + '_ {
        let request = decode_sgi(value, self.me as usize, self.count as usize);
        let mut targets = if request.intid == KICK_SGI {
            0
        } else {
            request.targets
        };
        core::iter::from_fn(move || {
            if targets == 0 {
                return None;
            }
            let vcpu = targets.trailing_zeros() as usize;
            targets &= targets - 1;
            Some(self.targets[vcpu] | (request.intid as u64) << 24)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bsp::qemu_virt::BOARD;
    use bulkhead_config::{name, CpuSet, DeviceGrant, FaultPolicy};
    use heapless::Vec;

    fn cell_with(devices: &[&str]) -> Cell {
        let devices = devices
            .iter()
            .map(|n| {
                let d = BOARD.device(n).unwrap();
                DeviceGrant {
                    name: name(n).unwrap(),
                    mmio: d.mmio.iter().copied().collect(),
                    irqs: d.irqs.iter().copied().collect(),
                }
            })
            .collect();
        Cell {
            name: name("c").unwrap(),
            cpus: CpuSet::from_bits(0b1100),
            memory: Vec::new(),
            devices,
            console: None,
            images: Vec::new(),
            entry: 0,
            boot_argument: 0,
            on_fault: FaultPolicy::Stop,
            watchdog: None,
        }
    }

    #[test]
    fn ownership_keeps_the_partitioners_interrupts() {
        let owned = Ownership::for_cell(&cell_with(&["virtio-mmio31"]), &BOARD);
        assert!(owned.owns(0) && owned.owns(14));
        assert!(!owned.owns(KICK_SGI));
        assert!(!owned.owns(BOARD.timer.hypervisor));
        assert!(!owned.owns(BOARD.gic.maintenance_irq));
        assert!(owned.owns(BOARD.timer.virtual_timer));
        assert!(owned.owns(79) && !owned.owns(78) && !owned.owns(33));
        assert_eq!(owned.spis().collect::<std::vec::Vec<_>>(), [79]);
        assert_eq!(owned.word(2), 1 << 15);
        assert!(!owned.owns(5000));
    }

    #[test]
    fn peers_own_their_doorbells_and_nothing_else_of_a_channel() {
        let channel = bulkhead_config::Channel {
            name: name("link").unwrap(),
            base: 0x7000_0000,
            peers: Vec::from_slice(&[2, 0]).unwrap(),
            common_size: 0,
            output_size: 0x1000,
        };
        let system = System {
            board: name("qemu-virt").unwrap(),
            cells: [
                cell_with(&[]),
                cell_with(&[]),
                cell_with(&["virtio-mmio31"]),
            ]
            .into_iter()
            .collect(),
            realtime: bulkhead_config::CellSet::EMPTY,
            direct_wfi: bulkhead_config::CellSet::EMPTY,
            virtualized: bulkhead_config::CellSet::EMPTY,
            unconfined_dma: bulkhead_config::CellSet::EMPTY,
            channels: [channel.clone(), channel].into_iter().collect(),
            icount_quantum_ns: 0,
            console_input: bulkhead_config::ConsoleInput::Auto,
        };
        // Cell 2 is peer 0 of both channels (104, 108), cell 0 peer 1
        // (105, 109), cell 1 no peer.
        let spis = |index| {
            Ownership::for_cell_in(&system, index, &BOARD)
                .spis()
                .collect::<std::vec::Vec<_>>()
        };
        assert_eq!(spis(2), [79, 104, 108]);
        assert_eq!(spis(0), [105, 109]);
        assert!(spis(1).is_empty());
        assert_eq!(Ownership::for_cell_in(&system, 3, &BOARD), Ownership::NONE);
    }

    #[test]
    fn priorities_stay_in_the_lower_half() {
        assert_eq!(squeeze_priority(0), 0x80);
        assert_eq!(squeeze_priority(0xa0), 0xd0);
        assert_eq!(squeeze_priority(0xff), 0xff);
        assert_eq!(unsqueeze_priority(0xd0), 0xa0);
        for p in 0..=255u8 {
            assert!(squeeze_priority(p) >= 0x80);
        }
    }

    #[test]
    fn distributor_decoding() {
        assert_eq!(decode_distributor(0), Register::DistributorControl);
        assert_eq!(
            decode_distributor(0x0104),
            Register::Bits {
                kind: BitRegister::SetEnable,
                first: 32
            }
        );
        assert_eq!(
            decode_distributor(0x0188),
            Register::Bits {
                kind: BitRegister::ClearEnable,
                first: 64
            }
        );
        assert_eq!(
            decode_distributor(0x0400 + 79),
            Register::Priority { first: 79 }
        );
        assert_eq!(
            decode_distributor(0x0c00 + 4 * 4),
            Register::Config { first: 64 }
        );
        assert_eq!(
            decode_distributor(0x6000 + 8 * 79),
            Register::Route {
                intid: 79,
                upper: false
            }
        );
        assert_eq!(
            decode_distributor(0x6000 + 8 * 79 + 4),
            Register::Route {
                intid: 79,
                upper: true
            }
        );
        assert_eq!(decode_distributor(0xffe8), Register::Identification);
        assert_eq!(decode_distributor(0x0f00), Register::Ignored);
        assert_eq!(decode_distributor(0x10_0000), Register::Ignored);
    }

    #[test]
    fn redistributor_decoding() {
        assert_eq!(
            decode_redistributor(0x0008),
            Register::RedistributorType { upper: false }
        );
        assert_eq!(decode_redistributor(0x0014), Register::Waker);
        assert_eq!(
            decode_redistributor(0x1_0100),
            Register::Bits {
                kind: BitRegister::SetEnable,
                first: 0
            }
        );
        assert_eq!(decode_redistributor(0x1_0104), Register::Ignored);
        assert_eq!(
            decode_redistributor(0x1_0400 + 27),
            Register::Priority { first: 27 }
        );
        assert_eq!(decode_redistributor(0x1_0420), Register::Ignored);
        assert_eq!(
            decode_redistributor(0x1_0c04),
            Register::Config { first: 16 }
        );
        assert_eq!(decode_redistributor(0x0070), Register::Ignored);
    }

    #[test]
    fn config_masks() {
        let owned = Ownership::for_cell(&cell_with(&[]), &BOARD);
        // PPIs 16..31 without 25 (maintenance) and 26 (EL2 timer).
        assert_eq!(config_mask(&owned, 16), !(0b1111 << 18));
        assert_eq!(config_mask(&owned, 32), 0);
    }

    #[test]
    fn redistributor_type_is_virtual() {
        // Physical CPU 2 of 4: affinity 2, processor 2, not last, PLPIS.
        let physical = 2u64 << 32 | 2 << 8 | 1;
        assert_eq!(virtual_redistributor_type(physical, 0, false), 0);
        assert_eq!(
            virtual_redistributor_type(physical, 1, true),
            1 << 32 | 1 << 8 | 1 << 4
        );
    }

    #[test]
    fn the_sgi_short_path() {
        // MSR ICC_SGI1R_EL1, x7 as a trapped syndrome.
        let esr = 0x18u64 << 26 | 1 << 25 | SGI1R_WRITE_ISS | 7 << 5;
        assert_eq!(sgi1r_write_register(esr), Some(7));
        assert_eq!(sgi1r_write_register(esr | 1), None, "a read is not a send");
        assert_eq!(
            sgi1r_write_register(0x18u64 << 26 | (3 << 20 | 4 << 10 | 6 << 1)),
            None
        );
        // A cell on physical CPUs 2 and 3: virtual CPU 0 sends SGI 5 to 1.
        let routes = SgiRoutes::new(0, [2u64, 3].into_iter());
        let writes: std::vec::Vec<u64> = routes.physical_writes(5 << 24 | 0b10).collect();
        assert_eq!(writes, [5 << 24 | 1 << 3]);
        // "All but self" from virtual CPU 1, and the kick is never sent.
        let routes = SgiRoutes::new(1, [2u64, 3].into_iter());
        assert_eq!(
            routes
                .physical_writes(1 << 40 | 2 << 24)
                .collect::<std::vec::Vec<_>>(),
            [2 << 24 | 1 << 2]
        );
        assert_eq!(routes.physical_writes(15 << 24 | 0b11).count(), 0);
        assert_eq!(SgiRoutes::NONE.physical_writes(2 << 24 | 1).count(), 0);
    }

    #[test]
    fn routes_and_sgis_stay_in_the_cell() {
        assert_eq!(route_target(1, 2), 1);
        assert_eq!(route_target(2, 2), 0);
        assert_eq!(route_target(1 << 8 | 1, 2), 0);
        assert_eq!(route_target(IROUTER_ANY | 1, 2), 0);

        let to_vcpu1 = 3u64 << 24 | 0b10;
        assert_eq!(
            decode_sgi(to_vcpu1, 0, 2),
            SgiRequest {
                intid: 3,
                targets: 0b10
            }
        );
        // Targets the cell does not have are dropped.
        assert_eq!(decode_sgi(1 << 24 | 0b1100, 0, 2).targets, 0);
        assert_eq!(decode_sgi(1 << 24 | 1 << 16 | 1, 0, 2).targets, 0);
        // "All but self".
        assert_eq!(decode_sgi(1 << 40 | 5 << 24, 1, 4).targets, 0b1101);
    }
}
