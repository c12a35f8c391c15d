//! Cells' life cycle: which core runs which virtual CPU, starting,
//! stopping and restarting a cell. The PSCI calls that move cores
//! (`crate::devices::psci::runtime`) use the operations here.
//!
//! Each core has a mailbox. A core with nothing to run parks in EL2, in
//! WFI, until another core posts a command and kicks it with the Group 0
//! kick SGI; the same SGI pulls a running core out of its cell (as an FIQ)
//! when its cell stops. Commands carry the cell's generation, which grows
//! at every stop, so a late `CPU_ON` can never revive a stopped cell.
//!
//! Stopping does not rely on the kick alone (a cell could raise its
//! running priority above it): the stopping core also *revokes* the cell's
//! stage 2 (empties its root table and invalidates the VMID's TLB entries on
//! every core), so each of the cell's cores faults into EL2 at its next
//! instruction fetch. A restart puts the root back once every core parked.

use super::console;
use super::dma;
use super::housekeeping;
use super::machine::{self, cell_of, machine, MAX_RUNTIME_CPUS};
use super::sync::SpinLock;
use super::BOARD;
use crate::arch::{self, TrapFrame};
use crate::devices::psci::Status;
use crate::devices::{ivshmem, vgic, vuart, watchdog};
use crate::gic::driver as gic;
use crate::smmu::driver as smmu;
use bsp::ControlPath;
use bulkhead_config::{Cell, FaultPolicy, MAX_CELLS};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Where a core is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
#[repr(u8)]
pub enum CoreState {
    /// Not started by the partitioner yet.
    Offline = 0,
    /// In EL2, waiting in WFI.
    Parked = 1,
    /// A start was posted; the core is on its way into its cell.
    Pending = 2,
    /// Running its cell's virtual CPU.
    Running = 3,
}

impl CoreState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => CoreState::Parked,
            2 => CoreState::Pending,
            3 => CoreState::Running,
            _ => CoreState::Offline,
        }
    }
}

const COMMAND_NONE: u64 = 0;
const COMMAND_START: u64 = 1;
const COMMAND_STOP: u64 = 2;

/// One core's mailbox and state.
struct Core {
    state: AtomicU8,
    /// `generation << 8 | command`.
    command: AtomicU64,
    entry: AtomicU64,
    context: AtomicU64,
    /// The cell generation this core last entered.
    generation: AtomicU32,
}

impl Core {
    const fn new() -> Self {
        Core {
            state: AtomicU8::new(CoreState::Offline as u8),
            command: AtomicU64::new(COMMAND_NONE),
            entry: AtomicU64::new(0),
            context: AtomicU64::new(0),
            generation: AtomicU32::new(0),
        }
    }

    fn state(&self) -> CoreState {
        CoreState::from_u8(self.state.load(Ordering::Acquire))
    }

    fn set_state(&self, state: CoreState) {
        self.state.store(state as u8, Ordering::Release);
    }
}

/// A cell's run-time state.
struct CellState {
    /// Serialises the cell's life-cycle changes and `CPU_ON` posts.
    control: SpinLock<()>,
    /// The root table's entries while the stage 2 is revoked.
    saved_root: SpinLock<[u64; 512]>,
    generation: AtomicU32,
    boots: AtomicU32,
    /// The start number (`boots`) whose first instruction is still to be
    /// logged by the cell's boot core, or 0 once it is.
    first_entry_pending: AtomicU32,
    stage2_root: AtomicU64,
}

impl CellState {
    const fn new() -> Self {
        CellState {
            control: SpinLock::new(()),
            saved_root: SpinLock::new([0; 512]),
            generation: AtomicU32::new(1),
            boots: AtomicU32::new(0),
            first_entry_pending: AtomicU32::new(0),
            stage2_root: AtomicU64::new(0),
        }
    }
}

static CORES: [Core; MAX_RUNTIME_CPUS] = [const { Core::new() }; MAX_RUNTIME_CPUS];
static CELLS: [CellState; MAX_CELLS] = [const { CellState::new() }; MAX_CELLS];

/// Records the root of cell `index`'s stage-2 tables.
pub fn set_stage2_root(index: usize, root: u64) {
    CELLS[index].stage2_root.store(root, Ordering::Release);
}

/// Posts `command` to `cpu`'s mailbox and kicks the core. On the
/// `group0-fiq` path the kick is a Group 0 SGI, an FIQ at EL2 wherever the
/// core is. On `revoke-stage2` it is a Group 1 SGI, masked on a core while
/// it runs a cell ([`try_enter`]) and unmasked here: it wakes a parked
/// core, and a core in a cell only to make it fetch an instruction, which
/// faults because the caller revoked the cell's stage 2 first
/// ([`stop_cell`]); only parked cores and cores of a stopping cell are
/// ever kicked. Then an `SEV`: a core of a cell that waits in EL2 for its
/// cell's interrupts ([`wait_in_el2`]) with the kick blocked waits for
/// events instead.
fn post(cpu: usize, generation: u32, command: u64) {
    CORES[cpu]
        .command
        .store((generation as u64) << 8 | command, Ordering::Release);
    gic::send_kick(BOARD, cpu);
    arch::send_event();
}

fn post_start(cpu: usize, generation: u32, entry: u64, context: u64) {
    let core = &CORES[cpu];
    core.entry.store(entry, Ordering::Relaxed);
    core.context.store(context, Ordering::Relaxed);
    post(cpu, generation, COMMAND_START);
}

/// Marks this core online and parks it; the housekeeping core takes the
/// console's input interrupt.
pub fn core_online(cpu: usize) -> ! {
    if let Some(keeper) = housekeeping::housekeeper().filter(|h| h.cpu == cpu) {
        console::route_input(BOARD, keeper);
        dma::route_faults(BOARD, keeper);
    }
    // A start may already have been posted (and the state set to Pending)
    // while this core was booting: only leave Offline.
    let _ = CORES[cpu].state.compare_exchange(
        CoreState::Offline as u8,
        CoreState::Parked as u8,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    park(cpu)
}

/// The idle loop: wait for a command, run the virtual CPU it names.
pub fn park(cpu: usize) -> ! {
    // A virtualized cell's physical interrupts that it had listed but
    // not ended are ended here, while the interface is still in EOI mode
    // 1; the list registers are emptied.
    if vgic::virtual_interface::is_virtualized(cpu) {
        vgic::virtual_interface::leave(BOARD, cpu);
    }
    // Take the interface back from the cell that may have left it masked,
    // with active priorities (which block the kick on either path: the
    // running priority is shared by both groups) or in EOI mode 1, and
    // let only the partitioner's priorities through.
    gic::take_interface(BOARD, cpu);
    // The housekeeping core goes on serving the other cells' watchdogs.
    if housekeeping::is_housekeeper(cpu) {
        housekeeping::start_timer(cpu);
    }
    loop {
        match take_command(cpu) {
            Some((generation, COMMAND_START)) => try_enter(cpu, generation),
            Some(_) => CORES[cpu].set_state(CoreState::Parked),
            None => {
                arch::wait_for_interrupt();
                drain_kicks(false);
            }
        }
    }
}

fn take_command(cpu: usize) -> Option<(u32, u64)> {
    match CORES[cpu].command.swap(COMMAND_NONE, Ordering::AcqRel) {
        COMMAND_NONE => None,
        word => Some(((word >> 8) as u32, word & 0xff)),
    }
}

/// Acknowledges the pending interrupts of the partitioner on this core,
/// which is `running` its cell or parked, and serves each
/// ([`serve`]): kicks, the lab quantum's timer, the housekeeping core's
/// timer and console input. On `revoke-stage2` they are Group 1 and only
/// parked cores and virtualized cells' cores take them. Returns a
/// watchdog expiry of the running cell, for the caller to act on.
fn drain_kicks(running: bool) -> Option<OwnStop> {
    let cpu = arch::cpu_index();
    let mut expiry = None;
    if gic::control_path() == ControlPath::RevokeStage2 {
        while let Some(acknowledged) = gic::acknowledge(BOARD) {
            expiry = expiry.or(serve(cpu, acknowledged, running));
            gic::end(BOARD, acknowledged);
        }
        return expiry;
    }
    expiry = expiry.or(drain_group0(cpu, running));
    // A parked core lets only the partitioner's priorities through, in
    // either group: the Group 1 interrupts of a housekeeping core whose
    // virtualized cell stopped arrive here. While a cell runs, Group 1 is
    // the cell's.
    if !running {
        while let Some(acknowledged) = gic::acknowledge(BOARD) {
            serve(cpu, acknowledged, false);
            gic::end(BOARD, acknowledged);
        }
    }
    expiry
}

/// Acknowledges and serves the partitioner's pending Group 0 interrupts
/// on core `cpu` (the `group0-fiq` path); returns a watchdog expiry of
/// its running cell, as [`serve`].
fn drain_group0(cpu: usize, running: bool) -> Option<OwnStop> {
    let mut expiry = None;
    while let Some(intid) = arch::acknowledge_group0() {
        expiry = expiry.or(serve(cpu, intid, running));
        arch::end_group0(intid);
    }
    expiry
}

/// A stop of a core's own running cell that the partitioner's interrupt
/// work decided on (a watchdog expiry, a fault of its device's DMA), for
/// the core to carry out once it has ended the interrupt.
pub type OwnStop = (StopReason, FaultPolicy);

/// Serves interrupt `intid` of the partitioner's own, acknowledged on
/// core `cpu` while it ran its cell (`in_cell`) or was parked: the board
/// UART's (console input), the SMMU's (faults of cells' devices), EL2's
/// timer (the lab quantum, or the housekeeping core's status and
/// watchdogs). Returns a stop of the core's own running cell, for the
/// caller to act on once it has ended the interrupt.
fn serve(cpu: usize, intid: u32, in_cell: bool) -> Option<OwnStop> {
    if intid == BOARD.console.irq {
        console::receive();
    }
    if smmu::interrupts().contains(&intid) {
        return dma::serve_faults(cpu, in_cell);
    }
    if intid != BOARD.timer.hypervisor {
        return None;
    }
    match QUANTUM_TICKS.load(Ordering::Relaxed) {
        ticks if ticks > 0 && in_cell => {
            arch::arm_el2_timer(ticks);
            housekeeping::status_if_due(cpu);
        }
        0 if housekeeping::is_housekeeper(cpu) => {
            return housekeeping::tick(cpu, in_cell)
                .map(|(_, action)| (StopReason::Watchdog, action))
        }
        _ => arch::stop_el2_timer(),
    }
    None
}

/// Carries out a stop of core `cpu`'s own cell ([`serve`]).
fn expire(cpu: usize, stop: Option<OwnStop>) {
    if let Some((reason, action)) = stop {
        stop_cell(cpu, reason, action == FaultPolicy::Restart);
    }
}

/// How much of an image [`load_images`] copies between two looks at the
/// lab quantum: one 4 KiB page, some 1 200 instructions (a reload copies
/// about 3 bytes per instruction), well within the shortest quantum
/// (1 us). With chunks longer than the quantum (64 KiB, some 20 us) the
/// real-time cell's cyclictest saw its latency climb by 2 us a period for
/// the 20 ms of a reload, to 51 us and more.
const LOAD_CHUNK: u64 = 4 * 1024;

/// Re-arms the lab quantum during long EL2 work on a core of cell `index`
/// (reloading its images), where the quantum's interrupt stays masked: a
/// new deadline every chunk still ends QEMU's turn on this core, as it
/// does while the cell runs. Nothing without a quantum, or for a
/// real-time cell.
fn keep_quantum(index: usize) {
    let ticks = QUANTUM_TICKS.load(Ordering::Relaxed);
    if ticks > 0 && !machine().system.realtime.contains(index) {
        arch::arm_el2_timer(ticks);
    }
}

/// The latency lab's quantum ([`System::icount_quantum_ns`]) in counter
/// ticks; 0 for none.
static QUANTUM_TICKS: AtomicU32 = AtomicU32::new(0);

/// Starts the lab quantum on this core, if the config asks for one and
/// cell `index` is not real-time: EL2's timer then ends QEMU's turn on
/// this core every quantum (docs/hil.md). It costs the cell one short
/// FIQ per quantum; a real-time cell never gets it.
fn start_quantum(index: usize) {
    let m = machine();
    let ns = m.system.icount_quantum_ns;
    // The quantum's timer is a Group 0 interrupt of EL2's; as Group 1 it
    // would go to the cell (docs/hil.md: the lab runs on DS = 1).
    if ns == 0 || m.system.realtime.contains(index) || gic::control_path() != ControlPath::Group0Fiq
    {
        return;
    }
    let hz = arch::counter_frequency(m.board.counter_hz);
    let ticks = (u64::from(ns) * hz / 1_000_000_000).clamp(1, i32::MAX as u64) as u32;
    QUANTUM_TICKS.store(ticks, Ordering::Relaxed);
    if gic::enable_el2_timer(m.board, arch::mpidr()) {
        arch::arm_el2_timer(ticks);
    }
}

/// Enters the cell for a start command, unless it is stale.
fn try_enter(cpu: usize, generation: u32) {
    let Some((index, cell)) = cell_of(cpu) else {
        CORES[cpu].set_state(CoreState::Parked);
        return;
    };
    let state = &CELLS[index];
    if !machine::is_running(index) || state.generation.load(Ordering::Acquire) != generation {
        CORES[cpu].set_state(CoreState::Parked);
        return;
    }
    let vcpu = cell.cpus.position(cpu).unwrap_or(0);
    let entry = CORES[cpu].entry.load(Ordering::Relaxed);
    let context = CORES[cpu].context.load(Ordering::Relaxed);
    CORES[cpu].generation.store(generation, Ordering::Release);
    CORES[cpu].set_state(CoreState::Running);
    gic::keep_kick_from_cell(BOARD, cpu);
    // On the group0-fiq path the kick that carried this start is an FIQ
    // still pending here, which would exit the cell the moment it runs:
    // taken now, with anything else of the partitioner's that waits.
    if gic::control_path() == ControlPath::Group0Fiq {
        drain_group0(cpu, false);
    }
    arch::prepare_vcpu(state.stage2_root.load(Ordering::Acquire), vmid(index), vcpu);
    vgic::runtime::reset_cpu_interface(machine(), index, cpu);
    if machine().system.virtualized.contains(index) {
        vgic::virtual_interface::mark(BOARD, cpu);
        gic::enable_el2_irq(BOARD, arch::mpidr(), BOARD.gic.maintenance_irq);
        vgic::virtual_interface::enter(BOARD);
    }
    arch::trap_wfi(traps_wfi(index));
    start_quantum(index);
    if housekeeping::is_housekeeper(cpu) {
        housekeeping::start_timer(cpu);
    }
    // Boot times: the counter just before the eret to the first
    // instruction of this start of the cell (the log line itself, a few
    // hundred instructions, comes after the reading).
    let start = state.first_entry_pending.swap(0, Ordering::AcqRel);
    if start != 0 {
        defmt::info!(
            "cell {=str} (start {=u32}): first instruction at counter {=u64}",
            cell.name.as_str(),
            start,
            arch::counter()
        );
    }
    arch::enter_guest(&TrapFrame::boot(entry, context))
}

/// VMID of cell `index` (0 is never used by a cell).
fn vmid(index: usize) -> u16 {
    index as u16 + 1
}

/// Copies cell `index`'s images from the boot image into its RAM.
fn load_images(index: usize, cell: &Cell) {
    let m = machine();
    for image in &cell.images {
        let source = m.blob_base + image.offset;
        // The image's address is the cell's; the rules checked at boot that
        // it lies inside one of the cell's regions, which says where that
        // is in the board's RAM.
        let Some(destination) = cell.physical(&image.destination()) else {
            defmt::error!(
                "cell {=str}: image at {=u64:#x} is outside the cell's memory; not loaded",
                cell.name.as_str(),
                image.load_address
            );
            continue;
        };
        // In chunks, so that the lab quantum keeps ticking through a long
        // copy (see `keep_quantum`).
        let mut done = 0;
        while done < destination.size {
            let chunk = (destination.size - done).min(LOAD_CHUNK);
            // SAFETY: the config was checked at boot: each image lies
            // inside the boot image (which EL2 maps read-only) and
            // `destination` inside the cell's RAM, outside any region
            // shared with another cell (and EL2 maps that RAM read-write),
            // and the cell's cores are parked, so nothing else touches the
            // destination; `done + chunk` stays within both.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    (source + done) as *const u8,
                    (destination.base + done) as *mut u8,
                    chunk as usize,
                );
            }
            arch::clean_to_coherency(destination.base + done, chunk);
            keep_quantum(index);
            done += chunk;
        }
        arch::invalidate_instruction_caches();
    }
    CELLS[index].boots.fetch_add(1, Ordering::Relaxed);
}

/// Loads cell `index` and posts the start of its virtual CPU 0. Used at
/// boot and on restart; the caller guarantees the cell's cores are parked.
pub fn start_cell(index: usize) {
    let cell = &machine().system.cells[index];
    let Some(boot_cpu) = cell.cpus.nth(0) else {
        return;
    };
    load_images(index, cell);
    let root = CELLS[index].stage2_root.load(Ordering::Acquire);
    if let Err(e) = smmu::open_streams(index, vmid(index), root) {
        defmt::error!(
            "cell {=str}: SMMU: its devices' streams could not be opened (their DMA aborts): {}",
            cell.name.as_str(),
            defmt::Debug2Format(&e)
        );
    }
    // Its functions' resets must be over before it runs (their streams
    // may open before: a function in reset masters nothing).
    dma::wait_for_pci_resets(index, || keep_quantum(index));
    vuart::runtime::reset(index);
    watchdog::runtime::arm(index);
    vgic::runtime::reset_cell_interrupts(machine(), index, cell);
    let state = &CELLS[index];
    let _control = state.control.lock();
    let generation = state.generation.load(Ordering::Acquire);
    machine::mark_running(index);
    CORES[boot_cpu].set_state(CoreState::Pending);
    let boots = state.boots.load(Ordering::Relaxed);
    state.first_entry_pending.store(boots, Ordering::Release);
    defmt::info!(
        "cell {=str}: starting (boot #{=u32}) at {=u64:#x} on cpu {=usize}",
        cell.name.as_str(),
        boots,
        cell.entry,
        boot_cpu
    );
    post_start(boot_cpu, generation, cell.entry, cell.boot_argument);
}

/// Why a cell stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The cell called `SYSTEM_OFF`.
    SystemOff,
    /// The cell called `SYSTEM_RESET`.
    SystemReset,
    /// The cell faulted (already logged).
    Fault,
    /// The cell's watchdog expired (already logged).
    Watchdog,
    /// A device of the cell's made a DMA access outside the cell (already
    /// logged).
    DmaFault,
}

/// Stops the calling core's cell: its stage 2 is revoked, its other cores
/// are kicked out and park, its console is flushed. With `restart`, the
/// cell is then loaded and started again once all its cores have parked.
/// Never returns to the cell.
pub fn stop_cell(cpu: usize, reason: StopReason, restart: bool) -> ! {
    let Some((index, cell)) = cell_of(cpu) else {
        park(cpu)
    };
    CORES[cpu].set_state(CoreState::Parked);
    if !take_out(index, cell, Some(cpu)) {
        park(cpu);
    }
    finish_stop(index, cell, cpu, reason, restart);
    park(cpu)
}

/// Stops cell `index` from a core that is not running it (the
/// housekeeping core, for the cell's watchdog): as [`stop_cell`], every
/// core of the cell kicked out, and with `restart` its images loaded and
/// the cell started again, here; then the caller carries on.
pub fn stop_from_outside(index: usize, reason: StopReason, restart: bool) {
    let Some(cell) = machine().system.cells.get(index) else {
        return;
    };
    if take_out(index, cell, None) {
        finish_stop(index, cell, usize::MAX, reason, restart);
    }
}

/// Takes cell `index` out of its cores: marks it stopped, revokes its
/// stage 2 and posts the stop to each of its cores but `caller` (the
/// core of the cell that stops it, which leaves by itself). Returns false
/// when another stop of the cell came first and acts instead.
fn take_out(index: usize, cell: &Cell, caller: Option<usize>) -> bool {
    let state = &CELLS[index];
    let _control = state.control.lock();
    // Only the first of several simultaneous stops acts.
    if !machine::mark_stopped(index) {
        return false;
    }
    watchdog::runtime::disarm(index);
    let generation = state.generation.fetch_add(1, Ordering::AcqRel) + 1;
    revoke_stage2(index);
    if let Err(e) = smmu::close_streams(index, vmid(index)) {
        defmt::error!(
            "cell {=str}: SMMU: its devices' streams could not be closed: {}",
            cell.name.as_str(),
            defmt::Debug2Format(&e)
        );
    }
    dma::stop_pci_functions(BOARD, index, cell);
    for other in cell.cpus.iter().filter(|&c| Some(c) != caller) {
        post(other, generation, COMMAND_STOP);
    }
    true
}

/// The rest of a stop of cell `index` by core `me` (`usize::MAX` from
/// outside the cell): its channels and console told, the stop logged, and
/// with `restart`, once every other core of the cell has parked, the
/// cell loaded and started again.
fn finish_stop(index: usize, cell: &Cell, me: usize, reason: StopReason, restart: bool) {
    // Its channels see it go: state 0, and an interrupt for each other
    // peer that accepts one.
    ivshmem::runtime::reset_cell(machine(), index);
    vuart::runtime::flush(index);
    let action = if restart { "restarting" } else { "stopped" };
    let name = cell.name.as_str();
    match reason {
        StopReason::SystemOff => defmt::info!("cell {=str}: SYSTEM_OFF, {=str}", name, action),
        StopReason::SystemReset => defmt::info!("cell {=str}: SYSTEM_RESET, {=str}", name, action),
        StopReason::Fault => {
            defmt::warn!("cell {=str}: {=str}; other cells continue", name, action)
        }
        StopReason::Watchdog => {
            defmt::warn!(
                "cell {=str}: watchdog: {=str}; other cells continue",
                name,
                action
            )
        }
        StopReason::DmaFault => {
            defmt::warn!(
                "cell {=str}: DMA fault: {=str}; other cells continue",
                name,
                action
            )
        }
    }
    if restart {
        if all_parked(cell, me) {
            restore_stage2(index);
            start_cell(index);
        } else {
            defmt::error!(
                "cell {=str}: a core did not leave the cell; it stays stopped",
                name
            );
        }
    }
}

/// Empties cell `index`'s stage-2 root table (keeping a copy) and drops
/// the VMID's translations on every core. Runs on a core of that cell, so
/// `VTTBR_EL2` holds the cell's VMID.
fn revoke_stage2(index: usize) {
    let root = CELLS[index].stage2_root.load(Ordering::Acquire) as *mut [u64; 512];
    let mut saved = CELLS[index].saved_root.lock();
    // SAFETY: the root is a pool table that only this cell's stage 2 uses;
    // the control lock serialises revocation and restoration, and the
    // hardware walker only reads it.
    let table = unsafe { &mut *root };
    *saved = *table;
    table.fill(0);
    arch::invalidate_guest_translations(vmid(index));
}

/// Puts back the root entries [`revoke_stage2`] removed.
fn restore_stage2(index: usize) {
    let root = CELLS[index].stage2_root.load(Ordering::Acquire) as *mut [u64; 512];
    let saved = CELLS[index].saved_root.lock();
    // SAFETY: as in `revoke_stage2`; every core of the cell is parked.
    let table = unsafe { &mut *root };
    *table = *saved;
    arch::invalidate_guest_translations(vmid(index));
}

/// Waits until every other core of `cell` has left it. Revocation makes
/// each of them fault into EL2 at its next instruction, so this takes
/// microseconds; the one-second bound only guards against a broken core.
fn all_parked(cell: &Cell, me: usize) -> bool {
    let hz = arch::counter_frequency(machine().board.counter_hz);
    let deadline = arch::counter() + hz;
    cell.cpus.iter().filter(|&c| c != me).all(|cpu| loop {
        match CORES[cpu].state() {
            CoreState::Parked | CoreState::Offline => break true,
            _ if arch::counter() > deadline => break false,
            _ => core::hint::spin_loop(),
        }
    })
}

/// Leaves a cell that is being stopped: the core parks; the stopping core
/// sees it and carries on.
pub fn leave(cpu: usize) -> ! {
    CORES[cpu].set_state(CoreState::Parked);
    park(cpu)
}

/// The cell executed `WFI` on `cpu` (it traps): the core waits here in its
/// stead, until an interrupt is signalled to it (the caller then returns
/// to the cell, after the `WFI`) or a command arrives (the core leaves the
/// cell). Its own wait is a `WFI` while the kick could wake it; when the
/// cell has blocked the kick (an active priority at the top, or Group 1
/// disabled on `revoke-stage2`) it is a loop of `WFE`, which
/// [`post`]'s `SEV` ends. So no GIC state a cell can set keeps its core
/// from a stop. The price: one exit per `WFI` of the cell
/// (docs/architecture.md).
pub fn wait_in_el2(cpu: usize) {
    loop {
        if CORES[cpu].command.load(Ordering::Acquire) != COMMAND_NONE {
            leave(cpu);
        }
        if arch::interrupt_signalled() {
            return;
        }
        if gic::could_signal_kick(BOARD) {
            arch::wait_for_interrupt();
        } else {
            arch::wait_for_event();
        }
    }
}

/// Whether cell `index`'s `WFI` traps: unless it asked for `wfi: direct`,
/// or its interrupts are virtualized (its cores then wake on the physical
/// interrupts, which all go to EL2, the kick included, and on the
/// virtual ones the partitioner lists, which a wait at EL2 would miss).
pub fn traps_wfi(index: usize) -> bool {
    let system = &machine().system;
    !system.direct_wfi.contains(index) && !system.virtualized.contains(index)
}

/// A physical interrupt reached EL2 on a core of a virtualized cell
/// (`HCR_EL2.IMO`). On a GICv3, `boot.S` acknowledged it (`intid`, at
/// running priority `running`) but did not list it; on a GICv2 it is
/// acknowledged here, as long as any is pending. The cell's are listed
/// for it; the partitioner's are served, and the kick makes the core
/// leave the cell when a command waits, like [`kicked`]. On any other
/// core it was not acknowledged.
pub fn interrupted(cpu: usize, intid: u64, running: u64) {
    use vgic::virtual_interface as vif;
    if vif::is_memory_mapped(cpu) {
        super::exits::count(cpu, super::exits::Cause::Irq);
        while let Some((iar, running)) = vif::acknowledge_v2(BOARD) {
            take_listed(cpu, iar, running);
        }
        return;
    }
    if !arch::is_virtualized_core(cpu) {
        // Every other cell takes its interrupts at EL1 (HCR_EL2.IMO = 0);
        // none should reach EL2. Leave it and carry on.
        defmt::warn!("cpu {=usize}: unexpected IRQ at EL2", cpu);
        return;
    }
    take_listed(cpu, u32::try_from(intid).unwrap_or(u32::MAX), running as u8);
}

/// Lists or serves interrupt `ack` (as acknowledged) on core `cpu` of a
/// virtualized cell ([`interrupted`]).
fn take_listed(cpu: usize, ack: u32, running: u8) {
    use vgic::virtual_interface::{take, Taken};
    match take(BOARD, cpu, ack, running) {
        Taken::Cell | Taken::Nothing => {}
        Taken::Partitioner(ack) => {
            // A GICv2's `GICC_IAR` carries a source CPU only for SGIs,
            // which `serve` has nothing to do with: `ack` compares as the
            // INTID, as in `drain_kicks`.
            let expiry = serve(cpu, ack, true);
            gic::end(BOARD, ack);
            expire(cpu, expiry);
            if CORES[cpu].command.load(Ordering::Acquire) != COMMAND_NONE {
                CORES[cpu].set_state(CoreState::Parked);
                park(cpu);
            }
        }
    }
}

/// The kick SGI arrived while this core ran its cell: any command makes
/// it leave the cell; the park loop then carries the command out.
pub fn kicked(cpu: usize) {
    let expiry = drain_kicks(true);
    expire(cpu, expiry);
    if CORES[cpu].command.load(Ordering::Acquire) != COMMAND_NONE {
        CORES[cpu].set_state(CoreState::Parked);
        park(cpu);
    }
}

/// `CPU_ON` by `cpu`, a core of cell `index`, of the cell's core
/// `target`, to start at `entry` with `context` in `x0`.
pub fn cpu_on(cpu: usize, index: usize, target: usize, entry: u64, context: u64) -> Status {
    let state = &CELLS[index];
    let _control = state.control.lock();
    let generation = state.generation.load(Ordering::Acquire);
    // A core of a stopping cell, or of a previous incarnation, may not
    // start anything.
    if !machine::is_running(index) || CORES[cpu].generation.load(Ordering::Acquire) != generation {
        return Status::Denied;
    }
    match CORES[target].state.compare_exchange(
        CoreState::Parked as u8,
        CoreState::Pending as u8,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => {
            post_start(target, generation, entry, context);
            Status::Success
        }
        Err(s) if s == CoreState::Pending as u8 => Status::OnPending,
        Err(s) if s == CoreState::Offline as u8 => Status::InvalidParameters,
        Err(_) => Status::AlreadyOn,
    }
}

/// `CPU_OFF` by `cpu`: it parks.
pub fn cpu_off(cpu: usize) -> ! {
    CORES[cpu].set_state(CoreState::Parked);
    park(cpu)
}

/// Where core `cpu` is.
pub fn core_state(cpu: usize) -> CoreState {
    CORES[cpu].state()
}
