//! Exits from cells, counted per core and per cause: what a cell's core
//! spent at EL2 instead of in the cell. A direct cell's real-time core
//! should show none; a virtualized cell's cores one `irq` per interrupt.
//!
//! Each core counts its own exits only (a plain load and store, no
//! atomic read-modify-write); any core may read them for the status
//! line. `boot.S`'s `virtual_irq` counts `irq` itself (`exit_counts`,
//! row `cpu`, column [`Cause::Irq`] = 0).

use super::machine::MAX_RUNTIME_CPUS;
use core::sync::atomic::{AtomicU32, Ordering};

/// Why a cell's core went to EL2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Cause {
    /// A physical interrupt of a virtualized cell's core (listed or the
    /// partitioner's own). Column 0: `boot.S` counts it.
    Irq = 0,
    /// An SGI the cell sent (`ICC_SGI1R_EL1`).
    Sgi,
    /// A channel doorbell the cell rang.
    Doorbell,
    /// An emulated device register: the GIC's, the console, the virtual
    /// PCI bridge.
    Mmio,
    /// A firmware or hypervisor call (`SMC`, `HVC`).
    Call,
    /// A trapped `WFI`.
    Wfi,
    /// A trapped system register.
    Register,
    /// Anything else: faults, the kick's FIQ.
    Other,
}

/// How many causes there are (the columns of a core's row).
const CAUSES: usize = 8;

// `boot.S` counts IRQs at row `cpu << 5`, column 0.
const _: () = assert!(Cause::Irq as usize == 0 && CAUSES * 4 == 32);

/// The counts, a row per core. The row is 32 bytes: `boot.S` relies on it.
#[unsafe(export_name = "exit_counts")]
static EXITS: [[AtomicU32; CAUSES]; MAX_RUNTIME_CPUS] =
    [const { [const { AtomicU32::new(0) }; CAUSES] }; MAX_RUNTIME_CPUS];

/// Counts an exit of core `cpu` (the calling core) for `cause`.
#[inline(always)]
pub fn count(cpu: usize, cause: Cause) {
    if let Some(counter) = EXITS.get(cpu).map(|row| &row[cause as usize]) {
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }
}

/// Core `cpu`'s counts, by [`Cause`] in order.
pub fn of(cpu: usize) -> [u32; CAUSES] {
    let mut counts = [0; CAUSES];
    if let Some(row) = EXITS.get(cpu) {
        for (count, counter) in counts.iter_mut().zip(row) {
            *count = counter.load(Ordering::Relaxed);
        }
    }
    counts
}

/// Logs every core's counts that are not all zero, as one line each,
/// and a line for the cores with none.
pub fn log(cpus: usize) {
    let mut quiet: u32 = 0;
    for cpu in 0..cpus.min(MAX_RUNTIME_CPUS) {
        let [irq, sgi, doorbell, mmio, call, wfi, register, other] = of(cpu);
        if [irq, sgi, doorbell, mmio, call, wfi, register, other] == [0; CAUSES] {
            quiet |= 1 << cpu;
            continue;
        }
        defmt::info!(
            "exits on cpu {=usize}: irq {=u32}, sgi {=u32}, doorbell {=u32}, mmio {=u32}, call {=u32}, wfi {=u32}, register {=u32}, other {=u32}",
            cpu,
            irq,
            sgi,
            doorbell,
            mmio,
            call,
            wfi,
            register,
            other
        );
    }
    defmt::info!("exits: none on cpus {=u32:#b}", quiet);
}
