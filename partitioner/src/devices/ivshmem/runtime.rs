//! Channels at run time: each channel's ivshmem-v2 model, each peer
//! cell's virtual PCI host bridge, the trapped accesses that reach them,
//! and the state table writes and doorbell interrupts they cause (the
//! models are [`super`] and [`crate::devices::vpci`]; the guest's view is
//! in `docs/ipc.md`).
//!
//! Built once at boot from the validated config. The ECAM window and the
//! register pages are not mapped in any stage 2, so a peer's accesses
//! trap here; a cell that is no peer of any channel is not served and
//! faults. The shared memory itself is mapped (`bulkhead_config::stage2::plan`)
//! and never traps.
//!
//! Locks: one per channel (its model; the state table is written under
//! it) and one per cell's bridge (configuration accesses only). The
//! register routes are fixed at boot and read without a lock, so a
//! doorbell is one trap: decode, route, model, `DSB`, `GICD_ISPENDR`,
//! return.

use crate::arch;
use crate::devices::ivshmem::{self, Action, Actions, ChannelDescription, ConfigRoute, HostBridge};
use crate::gic::driver as gic;
use crate::runtime::machine::{self, Machine, MAX_RUNTIME_CPUS};
use crate::runtime::sync::{Once, SpinLock};
use bsp::VirtualPci;
use bulkhead_config::{Cell, MAX_CELLS, MAX_CHANNELS};

/// Each channel's model, by index in the config.
static CHANNELS: [SpinLock<Option<ivshmem::Channel>>; MAX_CHANNELS] =
    [const { SpinLock::new(None) }; MAX_CHANNELS];
/// Each cell's virtual PCI bridge; `None` for a cell that is no peer.
static BRIDGES: [SpinLock<Option<HostBridge>>; MAX_CELLS] =
    [const { SpinLock::new(None) }; MAX_CELLS];
/// What the trap path needs without taking a lock.
static ROUTES: Once<Routes> = Once::new();

/// The register pages of one cell: for each page of the register window
/// (device number), the channel and the cell's peer id in it.
#[derive(Clone, Copy)]
struct CellRoutes {
    /// Whether the cell has a bridge (is a peer of at least one channel).
    bridge: bool,
    registers: [Option<(u8, u8)>; MAX_CHANNELS],
}

struct Routes {
    /// The board's windows (`None`: no channels at all).
    pci: Option<VirtualPci>,
    /// The cell each core runs, for the doorbell's short path.
    core_cells: [Option<u8>; MAX_RUNTIME_CPUS],
    cells: [CellRoutes; MAX_CELLS],
    /// Physical address of each channel's state table.
    state_tables: [u64; MAX_CHANNELS],
}

const NO_ROUTES: CellRoutes = CellRoutes {
    bridge: false,
    registers: [None; MAX_CHANNELS],
};

/// Builds every channel's model and every peer's bridge, zeroes the
/// channels' memory (state table included: every peer starts in state 0)
/// and prints what each cell sees. The boot core calls this once, before
/// any cell runs. Fails (with a message) only on a config the rules
/// should have refused.
pub fn init(machine: &Machine) -> Result<(), ()> {
    let system = &machine.system;
    let mut routes = Routes {
        pci: None,
        core_cells: [None; MAX_RUNTIME_CPUS],
        cells: [NO_ROUTES; MAX_CELLS],
        state_tables: [0; MAX_CHANNELS],
    };
    if system.channels.is_empty() {
        let _ = ROUTES.set(routes);
        return Ok(());
    }
    let Some(pci) = machine.board.virtual_pci else {
        defmt::error!("config: channels on a board without virtual PCI windows");
        return Err(());
    };
    routes.pci = Some(pci);
    let mut descriptions: heapless::Vec<ChannelDescription, MAX_CHANNELS> = heapless::Vec::new();
    for (c, channel) in system.channels.iter().enumerate() {
        let Some(description) = ivshmem::describe(system, machine.board, c) else {
            defmt::error!("channel {=str}: cannot be described", channel.name.as_str());
            return Err(());
        };
        let model = ivshmem::Channel::new(description.clone()).map_err(|e| {
            defmt::error!(
                "channel {=str}: {}",
                channel.name.as_str(),
                defmt::Debug2Format(&e)
            );
        })?;
        let bar = model.layout().bar_size();
        *CHANNELS[c].lock() = Some(model);
        let _ = descriptions.push(description);
        let range = channel.range();
        // SAFETY: the rules checked at boot that the channel's memory lies
        // in the board's RAM, outside the partitioner's and every cell's,
        // which EL2 maps read-write; no cell runs yet.
        unsafe { core::ptr::write_bytes(range.base as *mut u8, 0, range.size as usize) };
        arch::clean_to_coherency(range.base, range.size);
        routes.state_tables[c] = channel.state_table().base;
        defmt::info!(
            "channel {=str}: memory {=u64:#x}..{=u64:#x}, device 00:{=usize:02x}.0, BAR 0 at {=u64:#x}, BAR 2 at {=u64:#x} ({=u64} KiB)",
            channel.name.as_str(),
            range.base,
            range.end(),
            c,
            pci.registers_base(c),
            pci.shared_memory_base(c),
            bar / 1024
        );
        for (peer, &index) in channel.peers.iter().enumerate() {
            let name = system
                .cells
                .get(index as usize)
                .map_or("?", |c| c.name.as_str());
            // Every peer has one: the rules refuse a channel without.
            let doorbell =
                bulkhead_config::doorbell_spi(machine.board.spare_spis, c, peer).unwrap_or(0);
            defmt::info!(
                "channel {=str}:   peer {=usize}: cell {=str}, doorbell SPI {=u32}",
                channel.name.as_str(),
                peer,
                name,
                doorbell
            );
        }
    }
    for (index, slot) in BRIDGES.iter().enumerate().take(system.cells.len()) {
        if !system.channels.iter().any(|c| c.peer_of(index).is_some()) {
            continue;
        }
        let bridge = HostBridge::for_cell(index, &descriptions).map_err(|e| {
            defmt::error!(
                "cell {=usize}: virtual PCI bridge: {}",
                index,
                defmt::Debug2Format(&e)
            );
        })?;
        for cpu in system.cells[index].cpus.iter() {
            if let Some(slot) = routes.core_cells.get_mut(cpu) {
                *slot = Some(index as u8);
            }
        }
        let cell = &mut routes.cells[index];
        cell.bridge = true;
        for (_, function) in bridge.functions() {
            let page = function
                .registers_base
                .checked_sub(pci.registers.base)
                .map(|offset| offset / VirtualPci::REGISTERS_SIZE);
            if let Some(slot) = page.and_then(|p| cell.registers.get_mut(p as usize)) {
                *slot = Some((function.channel as u8, function.peer as u8));
            }
        }
        *slot.lock() = Some(bridge);
    }
    let _ = ROUTES.set(routes);
    Ok(())
}

/// Whether a data abort of cell `index` at `ipa` is an access to its
/// virtual PCI bridge (the ECAM window or the register window). A cell
/// that is no peer of any channel has no bridge: its accesses there are
/// faults.
pub fn claims(index: usize, ipa: u64) -> bool {
    let Some(routes) = ROUTES.get() else {
        return false;
    };
    let Some(pci) = routes.pci else {
        return false;
    };
    (pci.ecam.contains(ipa) || pci.registers.contains(ipa))
        && routes.cells.get(index).is_some_and(|c| c.bridge)
}

/// The short path of a doorbell: a 32-bit store of `value` at `ipa` by
/// the cell that runs on `cpu`, decoded from the syndrome alone by the
/// trap entry. Returns `false` when the store is not a write to the
/// Doorbell register of one of the cell's register pages; the general
/// path then handles (or faults) it.
pub fn ring(cpu: usize, ipa: u64, value: u32) -> bool {
    let Some(routes) = ROUTES.get() else {
        return false;
    };
    let Some(pci) = routes.pci else {
        return false;
    };
    let Some(offset) = ipa
        .checked_sub(pci.registers.base)
        .filter(|&o| o < pci.registers.size)
    else {
        return false;
    };
    if offset % VirtualPci::REGISTERS_SIZE != ivshmem::register::DOORBELL {
        return false;
    }
    let Some(index) = routes.core_cells.get(cpu).copied().flatten() else {
        return false;
    };
    let index = index as usize;
    let page = (offset / VirtualPci::REGISTERS_SIZE) as usize;
    let Some(Some((channel, peer))) = routes.cells.get(index).and_then(|c| c.registers.get(page))
    else {
        return false;
    };
    let (Some(machine), Some(cell)) = (
        machine::try_machine(),
        machine::try_machine().and_then(|m| m.system.cells.get(index)),
    ) else {
        return false;
    };
    register(
        machine,
        routes,
        index,
        cell,
        *channel as usize,
        *peer as usize,
        ivshmem::register::DOORBELL,
        4,
        Some(value.into()),
    )
    .is_some()
}

/// Emulates a load (`write` is `None`) or store of `size` bytes at `ipa`
/// by cell `index`, which [`claims`] said is its bridge's. Returns the
/// value for a load and 0 for a store, or `None` when the access is not
/// one the cell may make (a register page of a channel it is no peer
/// of): a fault of the cell.
pub fn access(
    machine: &Machine,
    index: usize,
    cell: &Cell,
    ipa: u64,
    size: u8,
    write: Option<u64>,
) -> Option<u64> {
    let routes = ROUTES.get()?;
    let pci = routes.pci?;
    let bytes = size as usize;
    if let Some(offset) = ipa.checked_sub(pci.registers.base) {
        if offset < pci.registers.size {
            let page = (offset / VirtualPci::REGISTERS_SIZE) as usize;
            let (channel, peer) = routes.cells.get(index)?.registers.get(page).copied()??;
            let offset = offset % VirtualPci::REGISTERS_SIZE;
            return register(
                machine,
                routes,
                index,
                cell,
                channel as usize,
                peer as usize,
                offset,
                bytes,
                write,
            );
        }
    }
    let offset = ipa.checked_sub(pci.ecam.base)?;
    let route = BRIDGES
        .get(index)?
        .lock()
        .as_mut()?
        .route_config(offset, bytes, write.is_some());
    let all_ones = Some(u64::MAX);
    match route {
        ConfigRoute::Function {
            channel,
            peer,
            access,
        } => {
            let slot = CHANNELS.get(channel)?;
            match write {
                None => {
                    let model = slot.lock();
                    Some(model.as_ref()?.config_read(peer, access) as u64)
                }
                Some(value) => {
                    let actions = {
                        let mut model = slot.lock();
                        if !machine::is_running(index) {
                            // The cell is being stopped: its reset wins.
                            return Some(0);
                        }
                        let actions = model.as_mut()?.config_write(peer, access, value as u32);
                        write_states(routes, channel, &actions);
                        actions
                    };
                    deliver(machine, index, cell, channel, &actions);
                    Some(0)
                }
            }
        }
        ConfigRoute::Absent => all_ones,
        ConfigRoute::Refused(refusal) => {
            warn_refused(index, cell, None, refusal);
            all_ones
        }
    }
}

/// An access to the register page (BAR 0) of peer `peer` of `channel`.
#[allow(clippy::too_many_arguments)]
fn register(
    machine: &Machine,
    routes: &Routes,
    index: usize,
    cell: &Cell,
    channel: usize,
    peer: usize,
    offset: u64,
    bytes: usize,
    write: Option<u64>,
) -> Option<u64> {
    let slot = CHANNELS.get(channel)?;
    match write {
        None => {
            let read = slot.lock().as_mut()?.register_read(peer, offset, bytes);
            if let Some(refusal) = read.refused {
                warn_refused(index, cell, Some(channel), refusal);
            }
            Some(read.value)
        }
        Some(value) => {
            // Filled in place: the trap path copies no actions.
            let mut actions = Actions::new();
            {
                let mut model = slot.lock();
                if !machine::is_running(index) {
                    return Some(0);
                }
                model
                    .as_mut()?
                    .register_write_into(peer, offset, bytes, value, &mut actions);
                write_states(routes, channel, &actions);
            }
            deliver(machine, index, cell, channel, &actions);
            Some(0)
        }
    }
}

/// Resets cell `index`'s function in every channel it is a peer of (the
/// cell stops or restarts): its state becomes 0 in the state table and
/// the other peers are interrupted. Call once the cell is marked
/// stopped, so that none of its own trapped accesses still in flight
/// can undo the reset.
pub fn reset_cell(machine: &Machine, index: usize) {
    let Some(routes) = ROUTES.get() else {
        return;
    };
    let Some(cell) = machine.system.cells.get(index) else {
        return;
    };
    for (c, channel) in machine.system.channels.iter().enumerate() {
        let Some(peer) = channel.peer_of(index) else {
            continue;
        };
        let actions = {
            let mut model = CHANNELS[c].lock();
            let Some(model) = model.as_mut() else {
                continue;
            };
            let actions = model.reset_peer(peer);
            write_states(routes, c, &actions);
            actions
        };
        deliver(machine, index, cell, c, &actions);
    }
}

/// Mirrors the state changes among `actions` into `channel`'s state
/// table. The caller holds the channel's lock, so the table sees the
/// changes in the model's order.
fn write_states(routes: &Routes, channel: usize, actions: &Actions) {
    let Some(&table) = routes.state_tables.get(channel) else {
        return;
    };
    for action in actions {
        if let Action::StateChanged { peer, new_state } = *action {
            if peer >= ivshmem::MAX_PEERS {
                continue;
            }
            let entry = table + ivshmem::Layout::state_entry_offset(peer);
            // SAFETY: the state table is the first page of the channel's
            // memory, which lies in the board's RAM outside every cell's
            // and the partitioner's (checked at boot) and which EL2 maps
            // read-write; `peer` is below MAX_PEERS, so the 4-byte entry is
            // inside the page. Peers map the page read-only: EL2 is its
            // only writer, under the channel's lock.
            unsafe { core::ptr::write_volatile(entry as *mut u32, new_state.to_le()) };
            arch::clean_to_coherency(entry, 4);
        }
    }
}

/// Raises the interrupts among `actions` (after making the ringing
/// cell's writes visible) and logs the refusals, rate-limited per cell.
fn deliver(machine: &Machine, index: usize, cell: &Cell, channel: usize, actions: &Actions) {
    let mut barrier_done = false;
    for action in actions {
        match *action {
            Action::RaiseIntx {
                cell: target,
                intid,
                ..
            } => {
                if !barrier_done {
                    arch::complete_memory_accesses();
                    barrier_done = true;
                }
                // A stopped cell's interrupts stay quiet; it is reset
                // (its doorbell cleared) when it starts again.
                if machine::is_running(target) {
                    gic::set_spi_pending(machine.board, intid);
                }
            }
            Action::Refused(refusal) => warn_refused(index, cell, Some(channel), refusal),
            Action::StateChanged { .. } => {}
        }
    }
}

fn warn_refused(index: usize, cell: &Cell, channel: Option<usize>, refusal: ivshmem::Refusal) {
    // A doorbell to a peer that has not enabled its interrupts yet (still
    // booting, or restarting) is ivshmem-v2's normal "not delivered", not a
    // mistake of the sender: counted by the model, never logged.
    if refusal == ivshmem::Refusal::TargetNotEnabled {
        return;
    }
    let name = cell.name.as_str();
    if !machine::guest_warning_allowed(index, name) {
        return;
    }
    let channel_name = channel
        .and_then(|c| machine::try_machine()?.system.channels.get(c))
        .map_or("(configuration space)", |c| c.name.as_str());
    defmt::warn!(
        "cell {=str}: channel {=str}: refused {=str}",
        name,
        channel_name,
        refusal.name()
    );
}
