//! Each cell's emulated console at run time: the PL011 model's state per
//! cell, the line buffer that sends what the cell writes to the host as
//! that cell's console stream, and the input the host typed for it.
//!
//! The cell that last got input has the keyboard: its output is sent as
//! it comes, so that a shell's prompt and the echo of what is typed show
//! at once; every other cell's is sent a line at a time.

use super::VirtualPl011;
use crate::gic::driver as gic;
use crate::runtime::console::LineBuffer;
use crate::runtime::machine::{cell_of, try_machine};
use crate::runtime::sync::SpinLock;
use bulkhead_config::MAX_CELLS;
use core::sync::atomic::{AtomicUsize, Ordering};

static CONSOLES: [SpinLock<(VirtualPl011, LineBuffer)>; MAX_CELLS] =
    [const { SpinLock::new((VirtualPl011::new(), LineBuffer::new())) }; MAX_CELLS];

/// The cell that has the keyboard (`usize::MAX`: none yet).
static FOCUS: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Emulates one access of `cpu`'s cell to its console at `offset`.
/// Returns the value read, for loads.
pub fn access(cpu: usize, offset: u64, write: Option<u32>) -> u32 {
    let Some((index, _)) = cell_of(cpu) else {
        return 0;
    };
    let Some(console) = CONSOLES.get(index) else {
        return 0;
    };
    let mut console = console.lock();
    let (uart, line) = &mut *console;
    match write {
        Some(value) => {
            let was_asserted = uart.interrupt_asserted();
            if let Some(byte) = uart.write(offset, value) {
                let stream = bulkhead_wire::cell_stream(index);
                line.push(stream, byte);
                if FOCUS.load(Ordering::Relaxed) == index {
                    line.flush(stream);
                }
            }
            if !was_asserted && uart.interrupt_asserted() {
                raise(index);
            }
            0
        }
        None => uart.read(offset),
    }
}

/// Input from the host for cell `index`, which now has the keyboard.
/// Returns how many bytes its receive FIFO had no room for (dropped).
pub fn receive(index: usize, bytes: &[u8]) -> usize {
    let Some(console) = CONSOLES.get(index) else {
        return bytes.len();
    };
    let previous = FOCUS.swap(index, Ordering::Relaxed);
    if previous != index {
        flush(previous);
    }
    let mut console = console.lock();
    let (uart, line) = &mut *console;
    // What the cell wrote since its last line end (a prompt) goes out now.
    line.flush(bulkhead_wire::cell_stream(index));
    let taken = uart.receive(bytes);
    if uart.interrupt_asserted() {
        raise(index);
    }
    bytes.len() - taken
}

/// Sets the console interrupt of cell `index` pending (`GICD_ISPENDR`:
/// acknowledging it clears that again, level or edge). The cell takes it
/// like any of its interrupts: directly, or through a list register when
/// its interrupts are virtualized.
fn raise(index: usize) {
    let Some(m) = try_machine() else { return };
    if let Some(console) = m.system.cells.get(index).and_then(|c| c.console) {
        gic::set_spi_pending(m.board, console.irq);
    }
}

/// Sends what cell `index` wrote since its last complete line (it stops).
pub fn flush(index: usize) {
    if let Some(console) = CONSOLES.get(index) {
        console.lock().1.flush(bulkhead_wire::cell_stream(index));
    }
}

/// Puts cell `index`'s console back to its reset state, for a start of
/// the cell: no configuration, no input left from before.
pub fn reset(index: usize) {
    if let Some(console) = CONSOLES.get(index) {
        console.lock().0 = VirtualPl011::new();
    }
}
