//! Each cell's emulated console at run time: the PL011 model's state per
//! cell, and the line buffer that sends what the cell writes to the host
//! as that cell's console stream.

use super::VirtualPl011;
use crate::runtime::console::LineBuffer;
use crate::runtime::machine::cell_of;
use crate::runtime::sync::SpinLock;
use bulkhead_config::MAX_CELLS;

static CONSOLES: [SpinLock<(VirtualPl011, LineBuffer)>; MAX_CELLS] =
    [const { SpinLock::new((VirtualPl011::new(), LineBuffer::new())) }; MAX_CELLS];

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
            if let Some(byte) = uart.write(offset, value) {
                line.push(bulkhead_wire::cell_stream(index), byte);
            }
            0
        }
        None => uart.read(offset),
    }
}

/// Sends what cell `index` wrote since its last complete line (it stops).
pub fn flush(index: usize) {
    if let Some(console) = CONSOLES.get(index) {
        console.lock().1.flush(bulkhead_wire::cell_stream(index));
    }
}
