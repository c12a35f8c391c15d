//! The GIC as the partitioner sets it up and uses it: the distributor,
//! each core's redistributor (GICv3) or banked registers and CPU interface
//! (GICv2, in [`v2`]), the kick, and the control path that follows from
//! what the GIC reports: with one security state (`GICD_CTLR.DS = 1`) on a
//! GICv3, Group 0, signalled as FIQ to EL2, is the partitioner's and Group
//! 1 belongs to cells; when firmware keeps Group 0 (`DS = 0`), and on every
//! GICv2, the partitioner's kick is in the cells' group and stops rely on
//! stage-2 revocation (docs/architecture.md, "the control path"). The
//! registers are the map in [`super`]; which GIC a board has is its
//! description's, checked at boot ([`version_mismatch`]).

pub(crate) mod v2;

pub use v2::{interface_of, reset_private as reset_private_v2, send_sgi as send_sgi_v2};

use crate::runtime::sync::wait_until;
use bsp::{Board, ControlPath, GicVersion, Intid};
use bulkhead_config::housekeeping::Delivery;
use core::sync::atomic::{AtomicU8, Ordering};
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

use super::{
    gicd, gicr, Distributor, RedistributorControl, RedistributorSgi, GICD_CTLR, GICD_TYPER,
    GICR_CTLR, GICR_TYPER, GICR_WAKER, KICK_SGI,
};

/// Priority of the partitioner's own interrupts (the highest).
const EL2_PRIORITY: u8 = 0x00;
/// Priority of the kick SGI.
pub const KICK_PRIORITY: u8 = EL2_PRIORITY;
/// Default priority of cell interrupts (lower half).
const CELL_PRIORITY: u8 = 0xa0;
/// The priority mask of a core that waits at EL2 on the `revoke-stage2`
/// path: only the partitioner's interrupts (the upper half) get through,
/// never a cell's (squeezed into the lower half, see
/// [`crate::devices::vgic::squeeze_priority`]).
pub const EL2_ONLY_MASK: u8 = crate::devices::vgic::squeeze_priority(0);

/// The control path [`init_distributor`] chose (a [`ControlPath`] as u8).
static CONTROL_PATH: AtomicU8 = AtomicU8::new(ControlPath::Group0Fiq as u8);

/// How the partitioner regains cores that run cells, as chosen at boot
/// from what the GIC reports.
pub fn control_path() -> ControlPath {
    match CONTROL_PATH.load(Ordering::Relaxed) {
        x if x == ControlPath::RevokeStage2 as u8 => ControlPath::RevokeStage2,
        _ => ControlPath::Group0Fiq,
    }
}

fn distributor(board: &Board) -> &'static Distributor {
    // SAFETY: the board's GICD window is mapped as device memory at EL2 and
    // the partitioner is its only writer.
    unsafe { &*(board.gic.distributor.base as *const Distributor) }
}

/// Why the GIC this core finds is not the one the board description
/// (built into this partitioner) names: a partitioner built for another
/// board, or a QEMU machine with another `gic-version`.
pub fn version_mismatch(board: &Board) -> Option<&'static str> {
    match board.gic.version {
        GicVersion::V3 if !crate::arch::gic_system_registers() => Some(
            "the board has a GICv3, but this CPU has no GIC system-register interface \
             (ID_AA64PFR0_EL1.GIC = 0): the machine's GIC is a GICv2, so this partitioner \
             is built for another board (QEMU: -M virt,gic-version=3)",
        ),
        GicVersion::V3 => None,
        GicVersion::V2 => {
            // SAFETY: the GICD window is mapped as device memory at EL2;
            // GICD_PIDR2 is in its first 4 KiB on every GIC and reading it
            // has no side effect.
            let pidr2 = unsafe {
                core::ptr::read_volatile(
                    (board.gic.distributor.base + gicd::V2_PIDR2) as *const u32,
                )
            };
            (pidr2 >> 4 & 0xf != 2).then_some(
                "the board has a GICv2, but the distributor's GICD_PIDR2 does not say \
                 architecture version 2: this partitioner is built for another board \
                 (QEMU: -M virt,gic-version=2)",
            )
        }
    }
}

/// Sets up the distributor: on a GICv3 affinity routing, both groups
/// enabled, every SPI disabled, in Group 1 at a cell priority; and chooses
/// the control path. (A GICv2: [`v2::init_distributor`], and always
/// [`ControlPath::RevokeStage2`].) With one security state (`GICD_CTLR.DS = 1`, which a Non-secure
/// read only sees in that case) it is [`ControlPath::Group0Fiq`]; with two,
/// the secure world owns Group 0, this Non-secure code cannot change
/// interrupt groups (`IGROUPR` writes are ignored, everything it sees is
/// Group 1) and it is [`ControlPath::RevokeStage2`], whatever the board
/// file expected.
pub fn init_distributor(board: &Board) -> ControlPath {
    if board.gic.version == GicVersion::V2 {
        v2::init_distributor(board);
        CONTROL_PATH.store(ControlPath::RevokeStage2 as u8, Ordering::Relaxed);
        return ControlPath::RevokeStage2;
    }
    let gicd = distributor(board);
    let path = if gicd.ctlr.is_set(GICD_CTLR::DS) {
        ControlPath::Group0Fiq
    } else {
        ControlPath::RevokeStage2
    };
    CONTROL_PATH.store(path as u8, Ordering::Relaxed);
    gicd.ctlr
        .modify(GICD_CTLR::EnableGrp0::CLEAR + GICD_CTLR::EnableGrp1::CLEAR);
    wait_until(|| !gicd.ctlr.is_set(GICD_CTLR::RWP));
    // ITLinesNumber + 1 registers of 32 interrupts; INTIDs 1020..1023 are
    // special and left alone by the hardware.
    let registers = (gicd.typer.read(GICD_TYPER::ITLinesNumber) as usize + 1).min(32);
    for n in 1..registers {
        gicd.icenabler[n].set(u32::MAX);
        gicd.igroupr[n].set(u32::MAX);
    }
    for intid in 32..(registers * 32).min(1020) {
        gicd.ipriorityr[intid].set(CELL_PRIORITY);
    }
    // With DS = 0 the Non-secure view of these bits is ARE_NS,
    // EnableGrp1A and EnableGrp1: the same three writes.
    gicd.ctlr
        .write(GICD_CTLR::ARE::SET + GICD_CTLR::EnableGrp1::SET + GICD_CTLR::EnableGrp0::SET);
    wait_until(|| !gicd.ctlr.is_set(GICD_CTLR::RWP));
    path
}

/// Sets SPI `intid` pending (`GICD_ISPENDR`): how the partitioner raises
/// the interrupt of an emulated device (a channel's doorbell). The SPI is
/// Group 1 and routed to a core of the cell that owns it, which takes it
/// directly. Anything that is not an SPI is ignored.
pub fn set_spi_pending(board: &Board, intid: u32) {
    if !(32..1020).contains(&intid) {
        return;
    }
    let gicd = distributor(board);
    if let Some(register) = gicd.ispendr.get((intid / 32) as usize) {
        // Write-one-to-set: the other bits are not touched.
        register.set(1 << (intid % 32));
    }
}

/// Makes SPI `intid`, an interrupt of a board device the partitioner
/// drives itself (its console UART), EL2's: at the partitioner's priority,
/// in Group 0 (an FIQ at EL2) or Group 1 (an IRQ, which reaches EL2 on a
/// virtualized cell's core) as `delivery` says, routed to board CPU `cpu`
/// and enabled (on a GICv2, in the one group there is, an IRQ). No cell
/// owns it: the rules keep the console's device out of every cell.
pub fn route_el2_spi(board: &Board, intid: Intid, cpu: usize, delivery: Delivery) {
    let index = intid as usize;
    if !(32..1020).contains(&index) {
        return;
    }
    if board.gic.version == GicVersion::V2 {
        return v2::route_el2_spi(board, intid, cpu);
    }
    let gicd = distributor(board);
    let (word, bit) = (index / 32, 1u32 << (intid % 32));
    gicd.icenabler[word].set(bit);
    wait_until(|| !gicd.ctlr.is_set(GICD_CTLR::RWP));
    let groups = gicd.igroupr[word].get();
    gicd.igroupr[word].set(match delivery {
        Delivery::Fiq => groups & !bit,
        Delivery::Irq => groups | bit,
    });
    gicd.ipriorityr[index].set(EL2_PRIORITY);
    gicd.irouter[index].set(super::irouter_affinity(mpidr_of(board, cpu)));
    gicd.isenabler[word].set(bit);
}

/// Makes SPI `intid` edge-triggered (`GICD_ICFGR`), so that each time
/// the partitioner sets it pending is one interrupt. Call while no cell
/// that owns an interrupt of the same register can write it (its cores
/// parked); anything that is not an SPI is ignored.
pub fn set_edge_triggered(board: &Board, intid: u32) {
    if !(32..1020).contains(&intid) {
        return;
    }
    let gicd = distributor(board);
    if let Some(register) = gicd.icfgr.get((intid / 16) as usize) {
        // Int_config[1] of the interrupt's two bits: 1 = edge.
        register.set(register.get() | 0b10 << (2 * (intid % 16)));
    }
}

/// Finds the redistributor of the core with affinity `mpidr`.
fn redistributor(
    board: &Board,
    mpidr: u64,
) -> Option<(&'static RedistributorControl, &'static RedistributorSgi)> {
    let gic = board.gic;
    let affinity = super::redistributor_affinity(mpidr);
    let mut base = gic.redistributors.base;
    while base < gic.redistributors.end() {
        // SAFETY: the redistributor range is mapped as device memory at
        // EL2; each frame pair is 2 × 64 KiB inside it.
        let control = unsafe { &*(base as *const RedistributorControl) };
        if control.typer.read(GICR_TYPER::Affinity) == affinity {
            // SAFETY: as above; the SGI frame follows the control frame.
            let sgi = unsafe { &*((base + gicr::SGI_FRAME) as *const RedistributorSgi) };
            return Some((control, sgi));
        }
        if control.typer.is_set(GICR_TYPER::Last) {
            break;
        }
        base += gic.redistributor_stride;
    }
    None
}

/// Makes EL2's own timer PPI on this core the partitioner's: Group 0 at
/// the top priority, enabled. Cells never own it ([`crate::devices::vgic::Ownership`]).
/// Returns false when the core has no redistributor.
pub fn enable_el2_timer(board: &Board, mpidr: u64) -> bool {
    let Some((_, sgi)) = redistributor(board, mpidr) else {
        return false;
    };
    let bit = 1 << board.timer.hypervisor;
    sgi.igroupr0.set(sgi.igroupr0.get() & !bit);
    sgi.ipriorityr[board.timer.hypervisor as usize].set(EL2_PRIORITY);
    sgi.isenabler0.set(bit);
    true
}

/// Makes PPI `intid` on this core the partitioner's, for a virtualized
/// cell's core (the GIC maintenance interrupt, EL2's timer): Group 1 (an
/// IRQ, which goes to EL2 there) at the partitioner's priority, enabled.
/// Cells never own them ([`crate::devices::vgic::Ownership`]).
pub fn enable_el2_irq(board: &Board, mpidr: u64, intid: Intid) {
    if board.gic.version == GicVersion::V2 {
        // Banked in the distributor: this core's own copy.
        return v2::enable_el2_private(board, intid);
    }
    if let Some((_, sgi)) = redistributor(board, mpidr) {
        let bit = 1 << intid;
        sgi.igroupr0.set(sgi.igroupr0.get() | bit);
        sgi.ipriorityr[intid as usize].set(EL2_PRIORITY);
        sgi.isenabler0.set(bit);
    }
}

/// Lets the kick SGI reach the core with affinity `mpidr` (the
/// `revoke-stage2` path): parked cores, and a core whose cell is stopping,
/// just before the kick is sent. Also clears an active state a cell may
/// have left by acknowledging a kick with its interrupts masked.
fn unmask_kick(board: &Board, mpidr: u64) {
    if let Some((_, sgi)) = redistributor(board, mpidr) {
        sgi.icactiver0.set(1 << KICK_SGI);
        sgi.isenabler0.set(1 << KICK_SGI);
    }
}

/// Keeps the kick SGI away from the core with affinity `mpidr` while it
/// runs a cell (the `revoke-stage2` path, where the kick is Group 1 and
/// would reach the cell's own interrupt handler): disabled, and a kick
/// already pending (its own start's, which the core found in its mailbox
/// before the interrupt) dropped. [`unmask_kick`] undoes it when the cell
/// stops.
fn mask_kick(board: &Board, mpidr: u64) {
    if let Some((control, sgi)) = redistributor(board, mpidr) {
        sgi.icenabler0.set(1 << KICK_SGI);
        wait_until(|| !control.ctlr.is_set(GICR_CTLR::RWP));
        sgi.icpendr0.set(1 << KICK_SGI);
    }
}

/// Wakes this core's redistributor and configures its SGIs and PPIs: the
/// kick SGI at the top priority (in Group 0 on the `group0-fiq` path,
/// Group 1 otherwise), everything else Group 1 and disabled until its cell
/// enables it. Returns false when the core has no redistributor.
fn init_redistributor(board: &Board, mpidr: u64) -> bool {
    let Some((control, sgi)) = redistributor(board, mpidr) else {
        return false;
    };
    control.waker.write(GICR_WAKER::ProcessorSleep::CLEAR);
    wait_until(|| !control.waker.is_set(GICR_WAKER::ChildrenAsleep));
    sgi.icenabler0.set(u32::MAX);
    sgi.igroupr0.set(match control_path() {
        ControlPath::Group0Fiq => !(1 << KICK_SGI),
        _ => u32::MAX,
    });
    for intid in 0..32 {
        sgi.ipriorityr[intid].set(CELL_PRIORITY);
    }
    sgi.ipriorityr[KICK_SGI as usize].set(KICK_PRIORITY);
    sgi.isenabler0.set(1 << KICK_SGI);
    crate::arch::gic_cpu_interface_init(control_path() == ControlPath::RevokeStage2);
    true
}

/// Sets up this core's part of the GIC: its redistributor and CPU
/// interface (GICv3) or its banked interrupts and CPU interface (GICv2).
/// `cpu` is the board's CPU index, `mpidr` its affinity. Returns false
/// when the board has none for this core.
#[inline]
pub fn init_cpu(board: &Board, cpu: usize, mpidr: u64) -> bool {
    match board.gic.version {
        GicVersion::V2 => v2::init_cpu(board, cpu),
        GicVersion::V3 => init_redistributor(board, mpidr),
    }
}

/// The board's CPU `cpu`'s affinity (0 for a CPU the board does not
/// have, which no caller names).
fn mpidr_of(board: &Board, cpu: usize) -> u64 {
    board.cpus.get(cpu).map_or(0, |c| c.mpidr)
}

/// Sends the kick SGI to board CPU `cpu`: a Group 0 SGI on the
/// `group0-fiq` path; otherwise an SGI of the cells' group, let through
/// to the core first where the GIC can mask it (GICv3).
#[inline]
pub fn send_kick(board: &Board, cpu: usize) {
    let mpidr = mpidr_of(board, cpu);
    match (board.gic.version, control_path()) {
        (GicVersion::V2, _) => v2::send_kick(board, cpu),
        (GicVersion::V3, ControlPath::Group0Fiq) => crate::arch::send_group0_sgi(KICK_SGI, mpidr),
        (GicVersion::V3, _) => {
            unmask_kick(board, mpidr);
            crate::arch::send_group1_sgi(KICK_SGI, mpidr)
        }
    }
}

/// Keeps the kick away from this core (board CPU `cpu`), which is about
/// to enter a cell, on the `revoke-stage2` path, where the kick is in the
/// cells' group and would reach the cell's own handler: masked (GICv3), and
/// a kick already pending dropped.
#[inline]
pub fn keep_kick_from_cell(board: &Board, cpu: usize) {
    match (board.gic.version, control_path()) {
        (GicVersion::V2, _) => v2::drop_pending_kicks(board),
        (GicVersion::V3, ControlPath::RevokeStage2) => mask_kick(board, mpidr_of(board, cpu)),
        (GicVersion::V3, _) => {}
    }
}

/// Takes this core's CPU interface back from the cell that may have left
/// it masked, with active priorities (which block the kick on either path:
/// the running priority is shared by both groups) or in EOI mode 1, for a
/// core that waits at EL2 for kicks: only the partitioner's priorities get
/// through ([`EL2_ONLY_MASK`]), and the kick is let through to it.
#[inline]
pub fn take_interface(board: &Board, cpu: usize) {
    match board.gic.version {
        GicVersion::V2 => v2::take_interface(board, EL2_ONLY_MASK),
        GicVersion::V3 => {
            crate::arch::take_group1_interface(EL2_ONLY_MASK);
            if control_path() == ControlPath::RevokeStage2 {
                unmask_kick(board, mpidr_of(board, cpu));
            }
        }
    }
}

/// Acknowledges the highest-priority pending interrupt of the cells'
/// group on this core, which at EL2 only the partitioner's get through:
/// the value [`end`] needs back.
#[inline]
pub fn acknowledge(board: &Board) -> Option<u32> {
    match board.gic.version {
        GicVersion::V2 => v2::acknowledge(board),
        GicVersion::V3 => crate::arch::acknowledge_group1(),
    }
}

/// Ends an interrupt [`acknowledge`] returned.
#[inline]
pub fn end(board: &Board, acknowledged: u32) {
    match board.gic.version {
        GicVersion::V2 => v2::end(board, acknowledged),
        GicVersion::V3 => crate::arch::end_group1(acknowledged),
    }
}

/// Whether this core's CPU interface, as its cell left it, would signal
/// the kick (see `cell::wait_in_el2`).
#[inline]
pub fn could_signal_kick(board: &Board) -> bool {
    match board.gic.version {
        GicVersion::V2 => v2::could_signal_kick(board),
        GicVersion::V3 => {
            crate::arch::could_signal(KICK_PRIORITY, control_path() == ControlPath::RevokeStage2)
        }
    }
}

/// Puts this core's CPU interface in the state a starting virtual CPU
/// finds: no active priority, EOI mode 0, the binary point as after reset,
/// the priority mask at `mask` (as the distributor's priorities are
/// written), and the cells' group enabled on the `revoke-stage2` path (so
/// that the kick wakes the core from `WFI` even before the cell sets up
/// its GIC; the mask still holds the cell's own interrupts back).
#[inline]
pub fn reset_for_cell(board: &Board, cpu: usize, mask: u8) {
    let enabled = control_path() == ControlPath::RevokeStage2;
    match board.gic.version {
        GicVersion::V2 => v2::reset_for_cell(board, cpu, enabled, mask),
        GicVersion::V3 => {
            crate::arch::reset_gic_cpu_interface(enabled);
            crate::arch::set_priority_mask(mask);
        }
    }
}
