//! Where the partitioner does its own work while cells run: the one core
//! that takes EL2's interrupts (the board UART's receive interrupt, which
//! carries what the host types; the periodic status), chosen from the
//! config alone, so that the host tool's plan and the partitioner agree.
//!
//! A real-time cell's core is never chosen: its interrupts stay direct and
//! nothing of EL2's ever runs there. The choice, in order:
//!
//! 1. the first core of the first cell whose interrupts are virtualized:
//!    a physical interrupt reaches EL2 there as an IRQ
//!    ([`Delivery::Irq`]), on any GIC;
//! 2. where Group 0 is open to EL2 (`GICD_CTLR.DS = 1`, the `group0-fiq`
//!    control path), the first core of the first cell that is not
//!    real-time: a Group 0 interrupt reaches EL2 there as an FIQ
//!    ([`Delivery::Fiq`]), however the cell's interrupts are delivered;
//! 3. otherwise none: firmware keeps Group 0 and every cell takes its
//!    interrupts directly, so EL2 has no interrupt of its own while cells
//!    run, and there is no console input.

use crate::System;

/// How EL2's interrupts reach the housekeeping core while its cell runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Group 1, an IRQ, which goes to EL2 on a virtualized cell's core
    /// (`HCR_EL2.IMO`).
    Irq,
    /// Group 0, an FIQ, which goes to EL2 on every core (`HCR_EL2.FMO`),
    /// where the GIC has one security state.
    Fiq,
}

/// The core that does EL2's housekeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Housekeeper {
    /// Board CPU index.
    pub cpu: usize,
    /// The cell that runs there (index in [`System::cells`]).
    pub cell: usize,
    /// How EL2's interrupts reach it.
    pub delivery: Delivery,
}

/// What a config without a housekeeping core can do to get one, with
/// Group 0 open to EL2 or not (`group0_open`), as the tool's help says it.
pub const fn how_to_get_one(group0_open: bool) -> &'static str {
    if group0_open {
        "give a cell that is not real-time a core: the partitioner's interrupts go there"
    } else {
        "firmware keeps Group 0 on this board, so the partitioner has interrupts only on \
         the cores of a cell whose interrupts are virtualized: give a cell that is not \
         real-time `interrupts: virtualized`"
    }
}

/// The housekeeping core of `system`, with Group 0 open to EL2 or not
/// (`group0_open`: the board's control path is `group0-fiq`); `None` when
/// no core can take EL2's interrupts (see the module's rules).
pub fn housekeeper(system: &System, group0_open: bool) -> Option<Housekeeper> {
    let first_core = |cell: usize| system.cells.get(cell).and_then(|c| c.cpus.nth(0));
    let virtualized = (0..system.cells.len()).find(|&c| system.virtualized.contains(c));
    if let Some(cell) = virtualized {
        return first_core(cell).map(|cpu| Housekeeper {
            cpu,
            cell,
            delivery: Delivery::Irq,
        });
    }
    if !group0_open {
        return None;
    }
    let best_effort = (0..system.cells.len()).find(|&c| !system.realtime.contains(c))?;
    first_core(best_effort).map(|cpu| Housekeeper {
        cpu,
        cell: best_effort,
        delivery: Delivery::Fiq,
    })
}
