//! Cells' trapped GIC accesses, applied to the hardware for the interrupts
//! they own (see [`super`] for the decoding and the rules).

use super::{
    config_mask, decode_distributor, decode_redistributor, decode_sgi, icc, route_target,
    squeeze_priority, unsqueeze_priority, v2, virtual_distributor_type, virtual_redistributor_type,
    BitRegister, Ownership, Register, SgiRoutes,
};
use crate::arch;
use crate::gic::driver as gic;
use crate::gic::{gicc, gicd, gicr, irouter_affinity, GICD_CTLR, KICK_SGI};
use crate::runtime::machine::{self, Machine, MAX_RUNTIME_CPUS};
use crate::runtime::sync::Once;
use bsp::{Board, Intid, MemRange};
use bulkhead_config::{Cell, MAX_CELLS};
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

/// Every core's SGI routes, computed once at boot.
static SGI_ROUTES: Once<[SgiRoutes; MAX_RUNTIME_CPUS]> = Once::new();
/// Every cell's interrupt ownership, computed once at boot.
static OWNERSHIP: Once<[Ownership; MAX_CELLS]> = Once::new();

/// Computes every cell's interrupt ownership and every core's SGI routes
/// from the config; the boot core calls this once, before any cell runs,
/// so that no trap recomputes them.
pub fn compute_interrupt_tables(machine: &Machine) {
    let mut owned = [Ownership::NONE; MAX_CELLS];
    for (index, slot) in owned
        .iter_mut()
        .enumerate()
        .take(machine.system.cells.len())
    {
        *slot = Ownership::for_cell_in(&machine.system, index, machine.board);
    }
    let _ = OWNERSHIP.set(owned);
    let mut routes = [SgiRoutes::NONE; MAX_RUNTIME_CPUS];
    for c in &machine.system.cells {
        let mpidrs = || {
            c.cpus
                .iter()
                .filter_map(|cpu| machine.board.cpus.get(cpu))
                .map(|cpu| cpu.mpidr)
        };
        for (vcpu, cpu) in c.cpus.iter().enumerate() {
            if let Some(slot) = routes.get_mut(cpu) {
                *slot = SgiRoutes::new(vcpu, mpidrs());
            }
        }
    }
    let _ = SGI_ROUTES.set(routes);
}

/// What cell `index` owns (nothing before boot has computed it).
fn ownership(index: usize) -> &'static Ownership {
    OWNERSHIP
        .get()
        .and_then(|o| o.get(index))
        .unwrap_or(&Ownership::NONE)
}

/// The SGI routes of `cpu` (none before boot has computed them).
pub fn sgi_routes(cpu: usize) -> &'static SgiRoutes {
    SGI_ROUTES
        .get()
        .and_then(|r| r.get(cpu))
        .unwrap_or(&SgiRoutes::NONE)
}

/// Each cell's view of `GICD_CTLR` (it never reaches the hardware).
static DISTRIBUTOR_CONTROL: [AtomicU32; MAX_CELLS] = [const { AtomicU32::new(0) }; MAX_CELLS];
/// Each core's guest priority mask, as the cell wrote it.
static PRIORITY_MASK: [AtomicU8; MAX_RUNTIME_CPUS] = [const { AtomicU8::new(0) }; MAX_RUNTIME_CPUS];

/// Puts this core (`cpu`)'s CPU interface at its reset state for a
/// virtual CPU of cell `index` that starts (`gic::reset_for_cell`), with
/// the priority mask at 0 as the cell sees it (all of its interrupts
/// masked), squeezed on the hardware like every mask a cell writes, which
/// still lets the partitioner's own interrupts through. On a GICv2 also
/// the core's banked interrupts the cell owns (its PPIs and SGIs), which
/// no other core can reach.
pub fn reset_cpu_interface(machine: &Machine, index: usize, cpu: usize) {
    if let Some(mask) = PRIORITY_MASK.get(cpu) {
        mask.store(0, Ordering::Relaxed);
    }
    gic::reset_for_cell(machine.board, cpu, squeeze_priority(0));
    if machine.board.gic.version == bsp::GicVersion::V2 {
        gic::reset_private_v2(machine.board, ownership(index).word(0));
    }
}

/// `GICD_CTLR` bits a cell sees: RWP never set, ARE and DS always set.
const CTLR_ALWAYS: u32 = GICD_CTLR::ARE::SET.value | GICD_CTLR::DS::SET.value;
/// `GICD_CTLR` bits a cell writes: the two group enables.
const CTLR_ENABLES: u32 = GICD_CTLR::EnableGrp0::SET.value | GICD_CTLR::EnableGrp1::SET.value;

/// Whether `address` is in the board's GIC as cells trap on it: the
/// distributor and the redistributors (GICv3), or the distributor and the
/// CPU interface past its first page (GICv2, whose first page a cell's
/// stage 2 maps).
pub fn is_gic(machine: &Machine, address: u64) -> bool {
    let gic = machine.board.gic;
    gic.distributor.contains(address)
        || gic.redistributors.contains(address)
        || trapped_cpu_interface(machine).is_some_and(|r| r.contains(address))
}

/// The part of a GICv2's CPU interface that traps: all but its first page.
fn trapped_cpu_interface(machine: &Machine) -> Option<MemRange> {
    let window = machine.board.gic.cpu_interface?;
    let size = window.size.checked_sub(gicc::PAGE)?;
    Some(MemRange::new(window.base + gicc::PAGE, size))
}

/// A trapped load or store of `size` bytes at `address` in the GIC by
/// cell `index`. Returns the value for a load, `Some(0)` for a store, or
/// `None` when the cell touched a redistributor that is not one of its
/// own cores' (a fault).
pub fn mmio_access(
    machine: &Machine,
    index: usize,
    cell: &Cell,
    address: u64,
    size: u8,
    write: Option<u64>,
) -> Option<u64> {
    let gic = machine.board.gic;
    let owned = ownership(index);
    if gic.distributor.contains(address) {
        let offset = address - gic.distributor.base;
        if gic.version == bsp::GicVersion::V2 {
            return Some(distributor_v2(
                machine, index, cell, owned, address, offset, size, write,
            ));
        }
        return Some(distributor(
            machine, index, cell, owned, address, offset, size, write,
        ));
    }
    if let Some(window) = gic.cpu_interface.filter(|w| w.contains(address)) {
        return Some(cpu_interface_v2(
            machine.board,
            owned,
            address - window.base,
            write,
        ));
    }
    let offset_in_range = address - gic.redistributors.base;
    let frame = (offset_in_range / gic.redistributor_stride) as usize;
    let vcpu = cell.cpus.position(frame)?;
    let last_in_run = !cell.cpus.contains(frame + 1);
    let offset = offset_in_range % gic.redistributor_stride;
    Some(redistributor(
        owned,
        vcpu,
        last_in_run,
        address,
        offset,
        size,
        write,
    ))
}

#[allow(clippy::too_many_arguments)]
fn distributor(
    machine: &Machine,
    index: usize,
    cell: &Cell,
    owned: &Ownership,
    address: u64,
    offset: u64,
    size: u8,
    write: Option<u64>,
) -> u64 {
    match decode_distributor(offset) {
        Register::DistributorControl => virtual_control(index, write, CTLR_ENABLES, CTLR_ALWAYS),
        Register::DistributorType if write.is_none() => {
            virtual_distributor_type(gic_read(address, 4) as u32) as u64
        }
        Register::Route { intid, upper } => {
            route(machine, cell, owned, address, intid, upper, size, write)
        }
        other => banked(owned, other, address, size, write),
    }
}

/// Cell `index`'s virtual `GICD_CTLR`: it keeps the `enables` bits a
/// cell writes, and reads with the `always` bits set.
fn virtual_control(index: usize, write: Option<u64>, enables: u32, always: u32) -> u64 {
    match write {
        Some(value) => {
            DISTRIBUTOR_CONTROL[index].store(value as u32 & enables, Ordering::Relaxed);
            0
        }
        None => (DISTRIBUTOR_CONTROL[index].load(Ordering::Relaxed) | always) as u64,
    }
}

/// A cell's access to a GICv2 distributor, from its core `cpu`
/// (`arch::cpu_index`): the trap runs on the core that made it, so the
/// banked registers of INTIDs 0-31 are that core's.
#[allow(clippy::too_many_arguments)]
fn distributor_v2(
    machine: &Machine,
    index: usize,
    cell: &Cell,
    owned: &Ownership,
    address: u64,
    offset: u64,
    size: u8,
    write: Option<u64>,
) -> u64 {
    let cpu = arch::cpu_index();
    match v2::decode_distributor(offset) {
        // The two group enables, nothing more.
        Register::DistributorControl => virtual_control(index, write, 0b11, 0),
        Register::DistributorType if write.is_none() => {
            v2::virtual_distributor_type(gic_read(address, 4) as u32, cell.cpus.len()) as u64
        }
        // The cell's interrupts are in the one group it sees.
        Register::Bits {
            kind: BitRegister::Group,
            ..
        } => 0,
        Register::Targets { first } => targets_v2(cell, owned, cpu, address, first, size, write),
        Register::SoftwareInterrupt => {
            if let Some(value) = write {
                let me = cell.cpus.position(cpu).unwrap_or(0);
                let request = v2::decode_sgir(value as u32, me, cell.cpus.len());
                if request.intid != KICK_SGI {
                    let interfaces = interfaces(cell);
                    let physical = (0..8)
                        .filter(|v| request.targets & (1 << v) != 0)
                        .fold(0, |mask, v| mask | interfaces[v]);
                    gic::send_sgi_v2(machine.board, request.intid, physical);
                }
            }
            0
        }
        other => banked(owned, other, address, size, write),
    }
}

/// The CPU interface mask of each of `cell`'s virtual CPUs (up to 8, the
/// most a GICv2 has).
fn interfaces(cell: &Cell) -> [u8; 8] {
    let mut masks = [0; 8];
    for (slot, cpu) in masks.iter_mut().zip(cell.cpus.iter()) {
        *slot = gic::interface_of(cpu);
    }
    masks
}

/// `GICD_ITARGETSR` bytes from INTID `first`: for SGIs and PPIs the
/// reading core's own virtual CPU (read-only); for the cell's SPIs its
/// virtual CPUs, translated to and from CPU interfaces; nothing of other
/// cells'.
fn targets_v2(
    cell: &Cell,
    owned: &Ownership,
    cpu: usize,
    address: u64,
    first: Intid,
    size: u8,
    write: Option<u64>,
) -> u64 {
    let interfaces = interfaces(cell);
    let interfaces = &interfaces[..cell.cpus.len().min(8)];
    let me = cell.cpus.position(cpu).unwrap_or(0);
    (0..u32::from(size.min(4))).fold(0, |value, byte| {
        let intid = first + byte;
        let at = address + u64::from(byte);
        let shown = if intid < 32 {
            1u8 << me.min(7)
        } else if !owned.owns(intid) {
            0
        } else if let Some(written) = write {
            let mask = (written >> (8 * byte)) as u8;
            gic_write(at, 1, u64::from(v2::physical_targets(mask, interfaces)));
            0
        } else {
            v2::virtual_targets(gic_read(at, 1) as u8, interfaces)
        };
        value | u64::from(shown) << (8 * byte)
    })
}

/// A cell's access to the trapped part of a GICv2 CPU interface: writes
/// to `GICC_DIR` deactivate the cell's own interrupts only, through the
/// real `GICC_DIR` (where the board has it: 64 KiB in on the ZynqMP,
/// whose 4 KiB page after the first is an alias of the first);
/// everything else reads as zero and ignores writes.
fn cpu_interface_v2(board: &Board, owned: &Ownership, offset: u64, write: Option<u64>) -> u64 {
    if let (gicc::DIR, Some(value)) = (offset, write) {
        if owned.owns((value & 0x3ff) as Intid) {
            gic::v2::deactivate(board, value as u32);
        }
    }
    0
}

fn redistributor(
    owned: &Ownership,
    vcpu: usize,
    last_in_run: bool,
    address: u64,
    offset: u64,
    size: u8,
    write: Option<u64>,
) -> u64 {
    match decode_redistributor(offset) {
        Register::RedistributorType { upper } if write.is_none() => {
            let base = address - gicr::TYPER - if upper { 4 } else { 0 };
            let physical = gic_read(base, 8);
            let value = virtual_redistributor_type(physical, vcpu, last_in_run);
            match (upper, size) {
                (true, _) => value >> 32,
                (false, 8) => value,
                (false, _) => value & 0xffff_ffff,
            }
        }
        // Awake, always: the partitioner woke it and keeps it so.
        Register::Waker => 0,
        other => banked(owned, other, address, size, write),
    }
}

/// The registers the distributor and the SGI frames share.
fn banked(
    owned: &Ownership,
    register: Register,
    address: u64,
    size: u8,
    write: Option<u64>,
) -> u64 {
    match (register, write) {
        (Register::Identification, None) => gic_read(address, size.min(4)),
        (Register::Bits { kind, first }, _) if size == 4 => {
            let mask = owned.word((first / 32) as usize);
            bits(kind, mask, address, write)
        }
        (Register::Priority { first }, Some(value)) => {
            for byte in 0..u32::from(size.min(8)) {
                if owned.owns(first + byte) {
                    let priority = (value >> (8 * byte)) as u8;
                    gic_write(address + byte as u64, 1, squeeze_priority(priority) as u64);
                }
            }
            0
        }
        (Register::Priority { first }, None) => {
            (0..u32::from(size.min(8))).fold(0, |value, byte| {
                let priority = if owned.owns(first + byte) {
                    unsqueeze_priority(gic_read(address + byte as u64, 1) as u8)
                } else {
                    0
                };
                value | (priority as u64) << (8 * byte)
            })
        }
        (Register::Config { first }, _) if size == 4 => {
            let mask = config_mask(owned, first);
            let physical = gic_read(address, 4) as u32;
            match write {
                Some(value) => {
                    gic_write(
                        address,
                        4,
                        ((physical & !mask) | (value as u32 & mask)) as u64,
                    );
                    0
                }
                None => (physical & mask) as u64,
            }
        }
        // Everything else reads as zero and ignores writes.
        _ => 0,
    }
}

fn bits(kind: BitRegister, mask: u32, address: u64, write: Option<u64>) -> u64 {
    match (kind, write) {
        // Cells' interrupts are Group 1, always; there is no group modifier.
        (BitRegister::Group, None) => mask as u64,
        (BitRegister::Group | BitRegister::GroupModifier, _) => 0,
        (_, Some(value)) => {
            let value = value as u32 & mask;
            if value != 0 {
                gic_write(address, 4, value as u64);
            }
            0
        }
        (_, None) => gic_read(address, 4) & mask as u64,
    }
}

#[allow(clippy::too_many_arguments)]
fn route(
    machine: &Machine,
    cell: &Cell,
    owned: &Ownership,
    address: u64,
    intid: u32,
    upper: bool,
    size: u8,
    write: Option<u64>,
) -> u64 {
    if !owned.owns(intid) || upper {
        // Aff3 is always 0 for a cell; other cells' routes are invisible.
        return 0;
    }
    match write {
        Some(value) => {
            let vcpu = route_target(value, cell.cpus.len());
            if let Some(mpidr) = cell
                .cpus
                .nth(vcpu)
                .and_then(|cpu| machine.board.cpus.get(cpu))
                .map(|c| c.mpidr)
            {
                let affinity = irouter_affinity(mpidr);
                gic_write(address, 8, affinity);
            }
            0
        }
        None => {
            let physical = gic_read(address, 8);
            let mpidr = irouter_affinity(physical);
            let vcpu = machine
                .board
                .cpu_index(mpidr)
                .and_then(|cpu| cell.cpus.position(cpu))
                .unwrap_or(0) as u64;
            if size == 8 {
                vcpu
            } else {
                vcpu & 0xffff_ffff
            }
        }
    }
}

/// Puts every interrupt `cell` owns back to its reset state before the cell
/// (re)starts: disabled, not pending, not active, a default priority, SPIs
/// routed to its first CPU. Its cores must be parked.
pub fn reset_cell_interrupts(machine: &Machine, index: usize, cell: &Cell) {
    let gic = machine.board.gic;
    let owned = ownership(index);
    let Some(boot_mpidr) = cell
        .cpus
        .nth(0)
        .and_then(|c| machine.board.cpus.get(c))
        .map(|c| c.mpidr)
    else {
        return;
    };
    let distributor = gic.distributor.base;
    for n in 1..32u64 {
        let mask = owned.word(n as usize) as u64;
        if mask != 0 {
            for clear in [gicd::ICENABLER, gicd::ICPENDR, gicd::ICACTIVER] {
                gic_write(distributor + clear + 4 * n, 4, mask);
            }
        }
    }
    let affinity = irouter_affinity(boot_mpidr);
    let first_interface = cell.cpus.nth(0).map_or(0, gic::interface_of);
    for intid in owned.spis() {
        gic_write(
            distributor + gicd::IPRIORITYR + intid as u64,
            1,
            squeeze_priority(0xa0) as u64,
        );
        match gic.version {
            bsp::GicVersion::V2 => gic_write(
                distributor + gicd::ITARGETSR + intid as u64,
                1,
                first_interface.into(),
            ),
            bsp::GicVersion::V3 => {
                gic_write(distributor + gicd::IROUTER + 8 * intid as u64, 8, affinity)
            }
        }
    }
    // A channel's doorbell is set pending once per event: edge-triggered.
    for (c, channel) in machine.system.channels.iter().enumerate() {
        let doorbell = channel
            .peer_of(index)
            .and_then(|peer| bulkhead_config::doorbell_spi(machine.board.spare_spis, c, peer));
        if let Some(doorbell) = doorbell {
            gic::set_edge_triggered(machine.board, doorbell);
        }
    }
    // A GICv2's INTIDs 0-31 are banked in the distributor, where only
    // their own core reaches them: each core resets them as its virtual
    // CPU starts (`reset_cpu_interface`).
    if gic.version == bsp::GicVersion::V2 {
        return;
    }
    let private = owned.word(0) as u64;
    for cpu in cell.cpus.iter() {
        let sgi = gic.redistributors.base + cpu as u64 * gic.redistributor_stride + gicr::SGI_FRAME;
        for clear in [gicd::ICENABLER, gicd::ICPENDR, gicd::ICACTIVER] {
            gic_write(sgi + clear, 4, private);
        }
    }
}

/// A trapped CPU-interface system register access by `cpu`'s cell, cell
/// `index`.
/// Returns the value for a read, or `None` when the register is not one
/// the partitioner emulates (the cell faults).
pub fn sysreg_access(
    machine: &Machine,
    index: usize,
    cell: &Cell,
    cpu: usize,
    encoding: u32,
    write: Option<u64>,
) -> Option<u64> {
    match (encoding, write) {
        (icc::PMR, Some(value)) => {
            PRIORITY_MASK[cpu].store(value as u8, Ordering::Relaxed);
            arch::set_priority_mask(squeeze_priority(value as u8));
            Some(0)
        }
        (icc::PMR, None) => Some(PRIORITY_MASK[cpu].load(Ordering::Relaxed) as u64),
        (icc::RPR, None) => {
            let running = arch::running_priority();
            Some(if running == 0xff {
                // Idle.
                0xff
            } else if running >= 0x80 {
                unsqueeze_priority(running) as u64
            } else {
                0
            })
        }
        (icc::DIR, Some(value)) => {
            let intid = (value & 0xff_ffff) as u32;
            if ownership(index).owns(intid) {
                arch::deactivate_interrupt(intid);
            }
            Some(0)
        }
        (icc::CTLR, Some(value)) => {
            arch::set_gic_eoi_mode_split(value & (1 << 1) != 0);
            Some(0)
        }
        (icc::CTLR, None) => Some(if arch::gic_eoi_mode_split() {
            1 << 1
        } else {
            0
        }),
        (icc::SGI1R, Some(value)) => {
            let me = cell.cpus.position(cpu).unwrap_or(0);
            let request = decode_sgi(value, me, cell.cpus.len());
            if request.intid != KICK_SGI {
                for vcpu in (0..16).filter(|v| request.targets & (1 << v) != 0) {
                    if let Some(target) =
                        cell.cpus.nth(vcpu).and_then(|c| machine.board.cpus.get(c))
                    {
                        arch::send_group1_sgi(request.intid, target.mpidr);
                    }
                }
            }
            Some(0)
        }
        // Group 0 and "alternate" SGIs belong to the partitioner: ignored.
        (icc::SGI0R | icc::ASGI1R, Some(_)) => Some(0),
        // Write-only registers read as zero, read-only ones ignore writes.
        (icc::SGI1R | icc::SGI0R | icc::ASGI1R | icc::DIR, None) | (icc::RPR, Some(_)) => Some(0),
        _ => None,
    }
}

/// The GIC window of `size` bytes at `address` (only the board's GIC).
fn in_gic(address: u64, size: u8) -> bool {
    let Some(machine) = machine::try_machine() else {
        return false;
    };
    let range = MemRange::new(address, size as u64);
    machine.board.gic.windows().any(|w| w.covers(&range))
}

fn gic_read(address: u64, size: u8) -> u64 {
    if size == 0 || !in_gic(address, size) || !address.is_multiple_of(size as u64) {
        return 0;
    }
    // The address is an aligned register inside the board's GIC, which
    // EL2 maps as device memory; reads of the registers the decoder lets
    // through have no side effects.
    match size {
        // SAFETY: see above.
        1 => unsafe { core::ptr::read_volatile(address as *const u8) as u64 },
        // SAFETY: as above.
        2 => unsafe { core::ptr::read_volatile(address as *const u16) as u64 },
        // SAFETY: as above.
        4 => unsafe { core::ptr::read_volatile(address as *const u32) as u64 },
        // SAFETY: as above.
        _ => unsafe { core::ptr::read_volatile(address as *const u64) },
    }
}

fn gic_write(address: u64, size: u8, value: u64) {
    if size == 0 || !in_gic(address, size) || !address.is_multiple_of(size as u64) {
        return;
    }
    // As in `gic_read`; the caller filtered the value to the cell's own
    // interrupts.
    match size {
        // SAFETY: see above.
        1 => unsafe { core::ptr::write_volatile(address as *mut u8, value as u8) },
        // SAFETY: as above.
        2 => unsafe { core::ptr::write_volatile(address as *mut u16, value as u16) },
        // SAFETY: as above.
        4 => unsafe { core::ptr::write_volatile(address as *mut u32, value as u32) },
        // SAFETY: as above.
        _ => unsafe { core::ptr::write_volatile(address as *mut u64, value) },
    }
}
