//! Cells' DMA at run time: the board's SMMU taken at boot
//! ([`take_smmu`]), and the faults of cells' devices, which arrive as the
//! SMMU's event interrupt on the housekeeping core ([`serve_faults`]).
//! A device fault is logged like a CPU's stage-2 fault (cell, stream,
//! address, read or write) and then its cell's `on_fault` policy applies,
//! as for a fault of the cell's own CPUs. Its streams abort from the stop
//! on, silently, until the cell starts again, and the PCI functions of
//! its host bridges stop mastering DMA ([`stop_pci_functions`]).

use super::cell::{self, OwnStop, StopReason};
use super::machine::{cell_of, is_running, machine, Machine};
use super::BOARD;
use crate::arch;
use crate::smmu::driver::{self as smmu, Fault, STREAMS};
use bsp::Board;
use bulkhead_config::dma;
use bulkhead_config::housekeeping::Housekeeper;
use bulkhead_config::{Cell, FaultPolicy, MAX_CELLS};
use core::sync::atomic::{AtomicU64, Ordering};

/// Takes the board's SMMU, if it has one, and logs which streams each
/// cell's devices have. Returns false if a cell owns a device behind an
/// SMMU that could not be taken: then no cell may start.
pub fn take_smmu(machine: &Machine, housekeeper: Option<Housekeeper>) -> bool {
    let board = machine.board;
    let any_confined = machine
        .system
        .cells
        .iter()
        .any(|c| dma::cell_streams(board, c).next().is_some());
    match smmu::init(board, &machine.system) {
        Ok(false) => return true,
        Ok(true) => {}
        Err(e) => {
            defmt::error!("SMMU: cannot be taken: {}", defmt::Debug2Format(&e));
            return !any_confined;
        }
    }
    defmt::info!(
        "SMMU: on, {=usize} stream table entries; every stream aborts but those of cells' devices",
        STREAMS
    );
    for cell in machine.system.cells.iter() {
        for s in dma::cell_streams(board, cell) {
            let name = cell.devices.get(s.device).map_or("?", |d| d.name.as_str());
            match s.in_table() {
                None => defmt::warn!(
                    "cell {=str}: DMA of {=str}: streams {=u32:#x}..={=u32:#x} lie beyond the stream table and abort",
                    cell.name.as_str(),
                    name,
                    s.first,
                    s.last()
                ),
                Some(held) if held.count < s.count => defmt::info!(
                    "cell {=str}: DMA of {=str} confined to the cell: streams {=u32:#x}..={=u32:#x}; {=u32:#x}..={=u32:#x} lie beyond the stream table and abort",
                    cell.name.as_str(),
                    name,
                    held.first,
                    held.last(),
                    held.last() + 1,
                    s.last()
                ),
                Some(_) => defmt::info!(
                    "cell {=str}: DMA of {=str} confined to the cell: streams {=u32:#x}..={=u32:#x}",
                    cell.name.as_str(),
                    name,
                    s.first,
                    s.last()
                ),
            }
        }
    }
    match (any_confined, housekeeper) {
        (true, None) => {
            defmt::warn!("SMMU: faults are blocked but not reported (no core takes EL2 interrupts)")
        }
        (_, Some(h)) => defmt::info!("SMMU: faults reported on cpu {=usize}", h.cpu),
        _ => {}
    }
    true
}

/// Routes the SMMU's interrupts to the housekeeping core `keeper`, as it
/// comes online. They are edge-triggered pulses (QEMU, and the
/// architecture's wired interrupts).
pub fn route_faults(board: &Board, keeper: Housekeeper) {
    for intid in smmu::interrupts() {
        if intid != 0 {
            crate::gic::driver::set_edge_triggered(board, intid);
            crate::gic::driver::route_el2_spi(board, intid, keeper.cpu, keeper.delivery);
        }
    }
}

/// Serves the SMMU's interrupt on core `cpu`, which ran its cell
/// (`in_cell`) or was parked: logs each fault, and stops (or restarts)
/// each cell a device fault is of, by its `on_fault`. A stop of `cpu`'s
/// own running cell is returned for the caller to carry out.
pub fn serve_faults(cpu: usize, in_cell: bool) -> Option<OwnStop> {
    let found = smmu::take_faults();
    if found.lost {
        defmt::warn!("SMMU: its event queue was full; events were lost");
    }
    if found.global_errors != 0 {
        defmt::error!("SMMU: global error {=u32:#x}", found.global_errors);
    }
    let cells = &machine().system.cells;
    let own = cell_of(cpu).map(|(index, _)| index).filter(|_| in_cell);
    let mut own_stop = None;
    // Each cell acted on once per turn; its first fault logged in full.
    let mut seen = [0u32; MAX_CELLS];
    for Fault { event, cell } in found.events.iter().copied() {
        let Some(index) = cell.filter(|_| event.is_device_fault()) else {
            defmt::error!(
                "SMMU: event {=u8:#x} ({=str}) of stream {=u32:#x}, address {=u64:#x}",
                event.kind,
                event.name(),
                event.stream,
                event.address
            );
            continue;
        };
        let Some(c) = cells.get(index) else {
            continue;
        };
        seen[index] += 1;
        if seen[index] > 1 {
            continue;
        }
        defmt::error!(
            "cell {=str}: DMA fault: stream {=u32:#x} {=str} at IPA {=u64:#x} ({=str})",
            c.name.as_str(),
            event.stream,
            if event.read { "read" } else { "write" },
            event.address,
            event.name()
        );
        let restart = c.on_fault == FaultPolicy::Restart;
        if own == Some(index) {
            own_stop = Some((StopReason::DmaFault, c.on_fault));
        } else if is_running(index) {
            cell::stop_from_outside(index, StopReason::DmaFault, restart);
        }
    }
    for (index, &count) in seen.iter().enumerate() {
        if count > 1 {
            if let Some(c) = cells.get(index) {
                defmt::warn!(
                    "cell {=str}: {=u32} more DMA faults",
                    c.name.as_str(),
                    count - 1
                );
            }
        }
    }
    own_stop
}

/// When the Function Level Resets of each cell's PCI functions began (the
/// counter), or 0 when none is under way.
static RESETS_BEGAN: [AtomicU64; MAX_CELLS] = [const { AtomicU64::new(0) }; MAX_CELLS];

/// Turns off bus mastering and decoding of every PCI function behind the
/// generic ECAM host bridges of cell `index` (`crate::pci`), resets those
/// with Function Level Reset, and logs how many there were. Called as the
/// cell stops, once its stage 2 is revoked (its cores no longer reach the
/// bridges) and its streams are closed, so before it can start again: a
/// transfer its devices still had under way does not land in its next
/// incarnation. That waits for the resets ([`wait_for_pci_resets`]).
pub fn stop_pci_functions(board: &Board, index: usize, cell: &Cell) {
    for window in dma::cell_pci_ecams(board, cell) {
        // SAFETY: `build_el2_tables` maps every DMA-capable ECAM bridge
        // of the board as device memory; the cell that owns this one is
        // out of its cores, and no one else writes its functions.
        let mut ecam = unsafe { crate::pci::Ecam::new(window) };
        let buses = ecam.buses();
        let stopped = crate::pci::stop_functions(&mut ecam, buses);
        if stopped.reset > 0 {
            if let Some(began) = RESETS_BEGAN.get(index) {
                began.store(arch::counter().max(1), Ordering::Release);
            }
        }
        defmt::info!(
            "cell {=str}: PCI functions at ECAM {=u64:#x}: bus mastering and decoding off in {=u32} ({=u32} had bus mastering on), {=u32} reset (FLR)",
            cell.name.as_str(),
            window.base,
            stopped.functions,
            stopped.were_mastering,
            stopped.reset
        );
        if stopped.not_ready > 0 {
            defmt::warn!(
                "cell {=str}: {=u32} PCI functions at ECAM {=u64:#x} were not ready (in a reset of the cell's) and were left alone",
                cell.name.as_str(),
                stopped.not_ready,
                window.base
            );
        }
    }
}

/// Before cell `index` starts again: waits out what is left of the
/// [`crate::pci::RESET_WAIT_MS`] its functions' resets need, if any began
/// when it stopped (loading its images usually took longer), calling
/// `meanwhile` every few microseconds (the lab quantum's re-arm).
pub fn wait_for_pci_resets(index: usize, mut meanwhile: impl FnMut()) {
    let Some(began) = RESETS_BEGAN.get(index).map(|b| b.swap(0, Ordering::AcqRel)) else {
        return;
    };
    if began == 0 {
        return;
    }
    let hz = arch::counter_frequency(BOARD.counter_hz);
    let end = began.saturating_add(hz.saturating_mul(crate::pci::RESET_WAIT_MS) / 1000);
    let slice = (hz / 1_000_000).max(1);
    loop {
        let now = arch::counter();
        if now >= end {
            break;
        }
        meanwhile();
        let until = now.saturating_add(slice).min(end);
        while arch::counter() < until {
            core::hint::spin_loop();
        }
    }
}
