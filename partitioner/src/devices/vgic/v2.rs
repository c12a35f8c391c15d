//! What a cell's trapped access to a GICv2 distributor means: the
//! register map differs from the GICv3's in its routing (`GICD_ITARGETSR`,
//! a byte per interrupt naming CPU interfaces, instead of `GICD_IROUTER`)
//! and in its SGIs (`GICD_SGIR` instead of a system register); the
//! interrupt registers themselves are the same, with those of INTIDs 0-31
//! banked per core in the distributor instead of in redistributors.
//!
//! The cell names its virtual CPUs (bit n of a target mask = virtual CPU
//! n); the partitioner translates to the CPU interface numbers of the
//! cell's cores and back, so a cell can neither see nor reach another
//! cell's cores.

use super::{Register, SgiRequest};
use crate::gic::{gicd, GICD_TYPER_V2};
use bsp::Intid;

/// Decodes an access at `offset` in a GICv2 distributor.
pub fn decode_distributor(offset: u64) -> Register {
    match offset {
        gicd::CTLR => Register::DistributorControl,
        gicd::TYPER => Register::DistributorType,
        gicd::IIDR | gicd::V2_ID_REGISTERS..gicd::V2_SIZE => Register::Identification,
        gicd::ITARGETSR..gicd::ICFGR => Register::Targets {
            first: (offset - gicd::ITARGETSR) as Intid,
        },
        // The interrupt registers, as on a GICv3 (there is no IGRPMODR).
        gicd::IGROUPR..gicd::IGRPMODR => super::decode_banked(offset),
        gicd::V2_SGIR => Register::SoftwareInterrupt,
        _ => Register::Ignored,
    }
}

/// `GICD_TYPER` as a cell with `vcpus` virtual CPUs sees it: that many CPU
/// interfaces, no security extensions (the cell sees one group), no
/// lockable SPIs.
pub fn virtual_distributor_type(physical: u32, vcpus: usize) -> u32 {
    let lines = physical & GICD_TYPER_V2::ITLinesNumber::SET.value;
    let cpus = (vcpus.clamp(1, 8) - 1) as u32;
    lines | GICD_TYPER_V2::CPUNumber.val(cpus).value
}

/// The physical `GICD_ITARGETSR` byte for a cell's `virtual_mask` (bit n =
/// virtual CPU n), given each virtual CPU's interface mask
/// (`interfaces[n]`). A mask that names none of the cell's CPUs goes to
/// its virtual CPU 0, as the GICv3 routes do.
pub fn physical_targets(virtual_mask: u8, interfaces: &[u8]) -> u8 {
    let physical = interfaces
        .iter()
        .enumerate()
        .filter(|&(vcpu, _)| vcpu < 8 && virtual_mask & (1 << vcpu) != 0)
        .fold(0, |mask, (_, &interface)| mask | interface);
    match physical {
        0 => interfaces.first().copied().unwrap_or(0),
        mask => mask,
    }
}

/// The virtual mask a cell sees for a physical `GICD_ITARGETSR` byte:
/// its CPUs among the targets, nothing of other cells'.
pub fn virtual_targets(physical: u8, interfaces: &[u8]) -> u8 {
    interfaces
        .iter()
        .enumerate()
        .filter(|&(vcpu, &interface)| vcpu < 8 && interface != 0 && physical & interface != 0)
        .fold(0, |mask, (vcpu, _)| mask | 1 << vcpu)
}

/// Decodes a cell's `GICD_SGIR` write from virtual CPU `me` of `vcpus`:
/// the SGI and the virtual CPUs it goes to ("all but self" means the
/// cell's other CPUs; the reserved filter sends nothing).
pub fn decode_sgir(value: u32, me: usize, vcpus: usize) -> SgiRequest {
    let all = if vcpus >= 8 {
        0xff
    } else {
        (1u16 << vcpus) - 1
    };
    let targets = match (value >> 24) & 0b11 {
        0 => (value >> 16) as u16 & 0xff & all,
        1 => all & !(1 << me),
        2 => 1 << me & all,
        _ => 0,
    };
    SgiRequest {
        intid: value & 0xf,
        targets,
    }
}

#[cfg(test)]
mod tests {
    use super::super::BitRegister;
    use super::*;

    #[test]
    fn the_map_differs_from_a_gicv3_in_routes_and_sgis() {
        assert_eq!(decode_distributor(0x808), Register::Targets { first: 8 });
        assert_eq!(decode_distributor(0xf00), Register::SoftwareInterrupt);
        assert_eq!(decode_distributor(0xf10), Register::Ignored);
        assert_eq!(decode_distributor(0xfe8), Register::Identification);
        assert_eq!(
            decode_distributor(0x104),
            Register::Bits {
                kind: BitRegister::SetEnable,
                first: 32
            }
        );
        assert_eq!(decode_distributor(0x420), Register::Priority { first: 32 });
        assert_eq!(decode_distributor(0xc08), Register::Config { first: 32 });
        // No IROUTER, no IGRPMODR.
        assert_eq!(decode_distributor(0x6100), Register::Ignored);
        assert_eq!(decode_distributor(0xd00), Register::Ignored);
    }

    #[test]
    fn the_type_shows_the_cells_cpus_and_one_group() {
        // 4 interfaces, security extensions, 256 SPIs.
        let physical = 3 << 5 | 1 << 10 | 8;
        assert_eq!(virtual_distributor_type(physical, 2), 1 << 5 | 8);
        assert_eq!(virtual_distributor_type(physical, 1), 8);
    }

    #[test]
    fn targets_translate_both_ways_and_stay_in_the_cell() {
        // The cell has physical cores 2 and 3.
        let interfaces = [1 << 2, 1 << 3];
        assert_eq!(physical_targets(0b10, &interfaces), 1 << 3);
        assert_eq!(physical_targets(0b11, &interfaces), 0b1100);
        // Another cell's CPU, or none: the cell's first.
        assert_eq!(physical_targets(0b100, &interfaces), 1 << 2);
        assert_eq!(physical_targets(0, &interfaces), 1 << 2);
        assert_eq!(virtual_targets(0b1100, &interfaces), 0b11);
        // Cores 0 and 1 are not the cell's: invisible.
        assert_eq!(virtual_targets(0b0011, &interfaces), 0);
        assert_eq!(virtual_targets(0b1001, &interfaces), 0b10);
    }

    #[test]
    fn sgis_go_to_the_cells_own_cpus() {
        // SGI 3 to the list {1, 5}, from virtual CPU 0 of 2.
        let request = decode_sgir(0b10_0010 << 16 | 3, 0, 2);
        assert_eq!(request.intid, 3);
        assert_eq!(request.targets, 0b10);
        assert_eq!(decode_sgir(1 << 24 | 1, 1, 3).targets, 0b101);
        assert_eq!(decode_sgir(2 << 24 | 1, 1, 3).targets, 0b010);
        assert_eq!(decode_sgir(3 << 24 | 0xff << 16, 0, 2).targets, 0);
    }
}
