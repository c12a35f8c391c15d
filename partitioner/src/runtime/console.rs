//! The physical console: the partitioner owns the board UART and
//! multiplexes its own `defmt` log and every cell's console onto it, one
//! [`wire`](bulkhead_wire) frame at a time, so that no two streams ever
//! interleave bytes. In the other direction, the host's frames carry what
//! a person types into a cell's console: the UART's receive interrupt goes
//! to the housekeeping core ([`bulkhead_config::housekeeping`]), which
//! hands each frame's bytes to that cell's emulated UART.

use super::sync::SpinLock;
use bsp::drivers::Uart;
use bulkhead_config::housekeeping::Housekeeper;
use bulkhead_wire::{encode_frame, FrameReader, LOG_STREAM, MAX_FRAME, MAX_PAYLOAD};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use heapless::Vec;

static UART: SpinLock<Option<Uart>> = SpinLock::new(None);
static TICKS_PER_MICROSECOND: AtomicU64 = AtomicU64::new(1);

/// Takes over the board's UART, with the driver its kind needs. Call once,
/// with the MMU on. Without a driver (which the build refuses) there is no
/// console.
pub fn init(board: &bsp::Board, counter_hz: u64) {
    // SAFETY: the board description names the UART the partitioner owns;
    // its page is mapped as device memory at EL2 and no cell maps it.
    let Some(uart) = (unsafe { Uart::for_console(board) }) else {
        return;
    };
    uart.enable();
    // A lone delimiter ends whatever firmware printed before us, so that the
    // host's decoder starts clean at our first frame.
    uart.write_byte(0);
    *UART.lock() = Some(uart);
    TICKS_PER_MICROSECOND.store((counter_hz / 1_000_000).max(1), Ordering::Relaxed);
}

/// Turns the board UART's receive interrupt on, for `housekeeper`'s core,
/// where [`receive`] drains it ([`route_input`] routes it there once
/// that core is up); without one there is no console input. Call once,
/// after [`init`], with the distributor set up.
pub fn start_input(board: &bsp::Board, housekeeper: Option<Housekeeper>) {
    let off = super::machine::try_machine()
        .is_some_and(|m| m.system.console_input == bulkhead_config::ConsoleInput::Off);
    if off {
        defmt::info!("console input: off (console_input: off)");
        return;
    }
    let Some(housekeeper) = housekeeper else {
        defmt::info!(
            "console input: none (no core takes EL2 interrupts: firmware keeps Group 0 and no cell is virtualized, or every cell is real-time)"
        );
        return;
    };
    {
        let uart = UART.lock();
        let Some(uart) = uart.as_ref() else { return };
        uart.enable_receive_interrupt();
    }
    INPUT_ON.store(true, Ordering::Relaxed);
    defmt::info!(
        "console input: UART interrupt {=u32} to cpu {=usize} ({=str})",
        board.console.irq,
        housekeeper.cpu,
        match housekeeper.delivery {
            bulkhead_config::housekeeping::Delivery::Irq => "IRQ, virtualized cell",
            bulkhead_config::housekeeping::Delivery::Fiq => "FIQ, Group 0",
        }
    );
}

/// Whether console input is on ([`start_input`]).
static INPUT_ON: AtomicBool = AtomicBool::new(false);

/// Routes the board UART's receive interrupt to this core, the
/// housekeeping core `housekeeper`, as it comes online (a GICv2 routes to
/// a CPU interface number, which the core learns as it sets up its part
/// of the GIC).
pub fn route_input(board: &bsp::Board, housekeeper: Housekeeper) {
    if INPUT_ON.load(Ordering::Relaxed) {
        crate::gic::driver::route_el2_spi(
            board,
            board.console.irq,
            housekeeper.cpu,
            housekeeper.delivery,
        );
    }
}

/// The host's frames as they arrive.
static INPUT: SpinLock<FrameReader> = SpinLock::new(FrameReader::new());

/// Bytes taken from the UART per turn, so that the UART is not held while
/// a cell's console takes them (the cell's own output needs it).
const RECEIVE_BATCH: usize = 64;

/// Drains the board UART (its receive interrupt, on the housekeeping
/// core): each complete frame on a cell's stream becomes input for that
/// cell's console (`devices::vuart`). Frames for other streams, and bytes
/// that are not frames, are dropped.
pub fn receive() {
    let mut reader = INPUT.lock();
    loop {
        let mut batch = [0u8; RECEIVE_BATCH];
        let mut len = 0;
        {
            let uart = UART.lock();
            let Some(uart) = uart.as_ref() else { return };
            uart.clear_receive_interrupt();
            while len < RECEIVE_BATCH {
                match uart.read_byte() {
                    Some(byte) => {
                        batch[len] = byte;
                        len += 1;
                    }
                    None => break,
                }
            }
        }
        for &byte in &batch[..len] {
            if let Some((stream, payload)) = reader.push(byte) {
                deliver(stream, payload);
            }
        }
        if len < RECEIVE_BATCH {
            return;
        }
    }
}

/// Hands one input frame to the console of the cell its stream names.
fn deliver(stream: u8, payload: &[u8]) {
    let Some(index) = (stream as usize).checked_sub(1) else {
        return;
    };
    let Some(cell) = super::machine::try_machine().and_then(|m| m.system.cells.get(index)) else {
        return;
    };
    if cell.console.is_none() {
        return;
    }
    let dropped = crate::devices::vuart::runtime::receive(index, payload);
    if dropped > 0 {
        defmt::warn!(
            "cell {=str}: console input full, {=usize} bytes dropped",
            cell.name.as_str(),
            dropped
        );
    }
}

/// Sends `payload` on `stream`, split into frames as needed.
pub fn send(stream: u8, payload: &[u8]) {
    let mut frame = [0u8; MAX_FRAME];
    let uart = UART.lock();
    let Some(uart) = uart.as_ref() else { return };
    for chunk in payload.chunks(MAX_PAYLOAD) {
        let n = encode_frame(stream, chunk, &mut frame);
        frame[..n].iter().for_each(|&b| uart.write_byte(b));
    }
}

/// Microseconds since the counter started, for log timestamps.
pub fn uptime_us() -> u64 {
    crate::arch::counter() / TICKS_PER_MICROSECOND.load(Ordering::Relaxed)
}

/// Output of one stream, sent a line at a time.
pub struct LineBuffer {
    bytes: Vec<u8, MAX_PAYLOAD>,
}

impl LineBuffer {
    /// An empty buffer.
    pub const fn new() -> Self {
        LineBuffer { bytes: Vec::new() }
    }

    /// Adds a byte; sends the line on `stream` at a newline or when the
    /// frame is full.
    pub fn push(&mut self, stream: u8, byte: u8) {
        // Never fails: the buffer is flushed whenever it becomes full.
        let _ = self.bytes.push(byte);
        if byte == b'\n' || self.bytes.is_full() {
            self.flush(stream);
        }
    }

    /// Sends whatever is buffered on `stream`.
    pub fn flush(&mut self, stream: u8) {
        if !self.bytes.is_empty() {
            send(stream, &self.bytes);
            self.bytes.clear();
        }
    }
}

/// The `defmt` transport: a log frame is collected between `acquire` and
/// `release` and sent on [`LOG_STREAM`].
#[defmt::global_logger]
struct Logger;

static LOG_TAKEN: AtomicBool = AtomicBool::new(false);
static LOG_BUFFER: SpinLock<LineBuffer> = SpinLock::new(LineBuffer::new());

// SAFETY: `acquire` excludes other cores with LOG_TAKEN until `release`;
// EL2 never takes an exception while logging, so there is no re-entry.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        while LOG_TAKEN
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
    }

    unsafe fn flush() {
        LOG_BUFFER.lock().flush(LOG_STREAM);
    }

    unsafe fn release() {
        LOG_BUFFER.lock().flush(LOG_STREAM);
        LOG_TAKEN.store(false, Ordering::Release);
    }

    unsafe fn write(bytes: &[u8]) {
        let mut buffer = LOG_BUFFER.lock();
        for &b in bytes {
            let _ = buffer.bytes.push(b);
            if buffer.bytes.is_full() {
                buffer.flush(LOG_STREAM);
            }
        }
    }
}

defmt::timestamp!("{=u64:us}", uptime_us());
