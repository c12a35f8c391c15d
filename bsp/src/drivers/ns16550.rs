//! 8250/16550-class UART, polled transmit and receive: TI K3 (AM62x,
//! AM65x), Rockchip's DesignWare UART, the Raspberry Pi mini-UART and many
//! more.
//!
//! Register and field names follow the TI PC16550D data sheet. Boards
//! place the eight byte-wide registers `1 << reg_shift` bytes apart and
//! may require 32-bit accesses (device tree `reg-shift`, `reg-io-width`),
//! so the registers are reached through [`RegisterAccess`] rather than a
//! fixed `register_structs!` layout; [`Mmio`] is the hardware's, and the
//! tests drive the same code against a register-level model of the chip.

use tock_registers::register_bitfields;
use tock_registers::LocalRegisterCopy;

register_bitfields! [u8,
    /// Line status register.
    pub LSR [
        /// Transmitter empty: holding register and shift register.
        TEMT OFFSET(6) NUMBITS(1) [],
        /// Transmitter holding register (or FIFO) empty.
        THRE OFFSET(5) NUMBITS(1) [],
        /// Data ready.
        DR OFFSET(0) NUMBITS(1) []
    ],
    /// Line control register.
    pub LCR [
        /// Divisor latch access: registers 0 and 1 are the baud divisor.
        DLAB OFFSET(7) NUMBITS(1) [],
        /// Parity enable.
        PEN OFFSET(3) NUMBITS(1) [],
        /// Stop bits: 0 = one.
        STB OFFSET(2) NUMBITS(1) [],
        /// Word length select.
        WLS OFFSET(0) NUMBITS(2) [
            Bits8 = 0b11
        ]
    ],
    /// FIFO control register (write-only; reads give the IIR).
    pub FCR [
        /// Clear the transmit FIFO.
        XMIT_FIFO_RESET OFFSET(2) NUMBITS(1) [],
        /// Clear the receive FIFO.
        RCVR_FIFO_RESET OFFSET(1) NUMBITS(1) [],
        /// Enable both FIFOs.
        FIFO_ENABLE OFFSET(0) NUMBITS(1) []
    ]
];

/// The registers by index (byte offset `index << reg_shift`).
pub mod index {
    /// Receiver buffer (read) and transmitter holding (write); divisor
    /// latch low with `LCR.DLAB`.
    pub const RBR_THR: usize = 0;
    /// Interrupt enable; divisor latch high with `LCR.DLAB`.
    pub const IER: usize = 1;
    /// FIFO control (write), interrupt identification (read).
    pub const FCR: usize = 2;
    /// Line control.
    pub const LCR: usize = 3;
    /// Line status.
    pub const LSR: usize = 5;
}

/// How the driver reaches register `index`.
pub trait RegisterAccess {
    /// Reads register `index`.
    fn read(&self, index: usize) -> u8;
    /// Writes register `index`.
    fn write(&self, index: usize, value: u8);
}

/// Memory-mapped registers, `1 << reg_shift` bytes apart, accessed
/// `reg_io_width` bytes (1 or 4) at a time.
pub struct Mmio {
    base: usize,
    reg_shift: u8,
    reg_io_width: u8,
}

impl RegisterAccess for Mmio {
    fn read(&self, index: usize) -> u8 {
        let address = self.base + (index << self.reg_shift);
        if self.reg_io_width == 4 {
            // SAFETY: `Ns16550::new`'s contract: a live register block.
            unsafe { core::ptr::read_volatile(address as *const u32) as u8 }
        } else {
            // SAFETY: as above.
            unsafe { core::ptr::read_volatile(address as *const u8) }
        }
    }

    fn write(&self, index: usize, value: u8) {
        let address = self.base + (index << self.reg_shift);
        if self.reg_io_width == 4 {
            // SAFETY: `Ns16550::new`'s contract: a live register block.
            unsafe { core::ptr::write_volatile(address as *mut u32, value as u32) }
        } else {
            // SAFETY: as above.
            unsafe { core::ptr::write_volatile(address as *mut u8, value) }
        }
    }
}

/// An 8250/16550-class UART driven by polling.
pub struct Ns16550<A = Mmio> {
    registers: A,
}

impl Ns16550<Mmio> {
    /// Wraps the UART at `base` whose registers are `1 << reg_shift` bytes
    /// apart and accessed `reg_io_width` bytes wide (4, or else 1).
    ///
    /// # Safety
    /// `base` must be the address of an 8250-class register block with
    /// that layout, mapped as device memory for the lifetime of the
    /// program, and nothing else may drive this UART concurrently.
    pub unsafe fn new(base: usize, reg_shift: u8, reg_io_width: u8) -> Self {
        Self::with_access(Mmio {
            base,
            reg_shift,
            reg_io_width,
        })
    }
}

impl<A: RegisterAccess> Ns16550<A> {
    /// The driver over `registers`.
    pub fn with_access(registers: A) -> Self {
        Self { registers }
    }

    fn line_status(&self) -> LocalRegisterCopy<u8, LSR::Register> {
        LocalRegisterCopy::new(self.registers.read(index::LSR))
    }

    /// 8 data bits, no parity, one stop bit, FIFOs on and cleared,
    /// interrupts off (polled). The baud divisor is left as firmware set
    /// it: `LCR.DLAB` ends clear, so registers 0 and 1 are data and IER.
    pub fn enable(&self) {
        let mut lcr: LocalRegisterCopy<u8, LCR::Register> = LocalRegisterCopy::new(0);
        lcr.write(LCR::WLS::Bits8 + LCR::STB::CLEAR + LCR::PEN::CLEAR + LCR::DLAB::CLEAR);
        self.registers.write(index::LCR, lcr.get());
        self.registers.write(index::IER, 0);
        let mut fcr: LocalRegisterCopy<u8, FCR::Register> = LocalRegisterCopy::new(0);
        fcr.write(FCR::FIFO_ENABLE::SET + FCR::RCVR_FIFO_RESET::SET + FCR::XMIT_FIFO_RESET::SET);
        self.registers.write(index::FCR, fcr.get());
    }

    /// Raises the UART's interrupt while received data waits
    /// (`IER.ERBFI`).
    pub fn enable_receive_interrupt(&self) {
        self.registers.write(index::IER, 1);
    }

    /// Nothing to clear: the received-data interrupt follows the FIFO.
    pub fn clear_receive_interrupt(&self) {}

    /// Sends one byte, waiting until the transmitter can take it.
    pub fn write_byte(&self, byte: u8) {
        while !self.line_status().is_set(LSR::THRE) {
            core::hint::spin_loop();
        }
        self.registers.write(index::RBR_THR, byte);
    }

    /// Returns a received byte, if one is waiting.
    pub fn read_byte(&self) -> Option<u8> {
        self.line_status()
            .is_set(LSR::DR)
            .then(|| self.registers.read(index::RBR_THR))
    }

    /// Waits until every queued byte has left the transmitter.
    pub fn flush(&self) {
        while !self.line_status().is_set(LSR::TEMT) {
            core::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::RefCell;
    use std::collections::VecDeque;
    use std::vec::Vec;

    /// A 16550 at the register level: an LCR with DLAB banking, a
    /// divisor latch, a transmit holding register that takes one byte
    /// and sends it on the next status read, a receive FIFO.
    #[derive(Default)]
    struct Model {
        state: RefCell<State>,
    }

    #[derive(Default)]
    struct State {
        lcr: u8,
        ier: u8,
        divisor: u16,
        holding: Option<u8>,
        sent: Vec<u8>,
        received: VecDeque<u8>,
        overruns: usize,
        fifo_enabled: bool,
    }

    impl RegisterAccess for Model {
        fn read(&self, index: usize) -> u8 {
            let mut s = self.state.borrow_mut();
            let dlab = s.lcr & 0x80 != 0;
            match index {
                index::RBR_THR if dlab => s.divisor as u8,
                index::RBR_THR => s.received.pop_front().unwrap_or(0),
                index::IER if dlab => (s.divisor >> 8) as u8,
                index::IER => s.ier,
                index::LCR => s.lcr,
                index::LSR => {
                    // The line moves one byte per look at the status.
                    let shifting = s.holding.take();
                    if let Some(byte) = shifting {
                        s.sent.push(byte);
                    }
                    let ready = u8::from(!s.received.is_empty());
                    let empty = if s.holding.is_none() { 0x60 } else { 0 };
                    // Report "busy" right after a byte moved, like a real
                    // shift register, so that the driver must wait.
                    if shifting.is_some() {
                        ready
                    } else {
                        ready | empty
                    }
                }
                _ => 0,
            }
        }

        fn write(&self, index: usize, value: u8) {
            let mut s = self.state.borrow_mut();
            let dlab = s.lcr & 0x80 != 0;
            match index {
                index::RBR_THR if dlab => s.divisor = (s.divisor & 0xff00) | value as u16,
                index::RBR_THR => {
                    let overrun = s.holding.replace(value).is_some();
                    s.overruns += usize::from(overrun);
                }
                index::IER if dlab => s.divisor = (s.divisor & 0xff) | (value as u16) << 8,
                index::IER => s.ier = value,
                index::FCR => s.fifo_enabled = value & 1 != 0,
                index::LCR => s.lcr = value,
                _ => {}
            }
        }
    }

    fn model_with_firmware_divisor() -> Model {
        let model = Model::default();
        // Firmware set 115200 baud on a 48 MHz clock (divisor 26) and
        // left DLAB set.
        model.write(index::LCR, 0x80);
        model.write(index::RBR_THR, 26);
        model.write(index::IER, 0);
        model
    }

    #[test]
    fn sends_every_byte_in_order_without_overrun() {
        let uart = Ns16550::with_access(model_with_firmware_divisor());
        uart.enable();
        for &byte in b"Bulkhead\n\0\xff" {
            uart.write_byte(byte);
        }
        uart.flush();
        let s = uart.registers.state.borrow();
        assert_eq!(s.sent, b"Bulkhead\n\0\xff");
        assert_eq!(s.overruns, 0);
        assert_eq!(s.divisor, 26, "the baud divisor was changed");
        assert_eq!(s.lcr, 0x03, "8N1 with DLAB clear");
        assert_eq!(s.ier, 0, "polled: no interrupts");
        assert!(s.fifo_enabled);
    }

    #[test]
    fn receives_what_is_waiting() {
        let uart = Ns16550::with_access(model_with_firmware_divisor());
        uart.enable();
        assert_eq!(uart.read_byte(), None);
        uart.registers.state.borrow_mut().received.extend(b"ok");
        assert_eq!(uart.read_byte(), Some(b'o'));
        assert_eq!(uart.read_byte(), Some(b'k'));
        assert_eq!(uart.read_byte(), None);
    }

    #[test]
    fn memory_mapped_layouts_follow_reg_shift_and_width() {
        // A register block in host memory: LSR reads "transmitter empty".
        for (shift, width) in [(0u8, 1u8), (2, 4), (2, 1)] {
            let mut block = [0u32; 16];
            let base = block.as_mut_ptr() as usize;
            let lsr = base + (index::LSR << shift);
            // SAFETY: inside `block`, aligned for the access width.
            unsafe { core::ptr::write_volatile(lsr as *mut u8, 0x60) };
            // SAFETY: `block` outlives the driver and nothing else uses it.
            let uart = unsafe { Ns16550::new(base, shift, width) };
            uart.write_byte(b'x');
            let thr = base;
            // SAFETY: as above.
            let written = unsafe { core::ptr::read_volatile(thr as *const u8) };
            assert_eq!(written, b'x', "shift {shift}, width {width}");
            let lcr = base + (index::LCR << shift);
            uart.enable();
            // SAFETY: as above.
            assert_eq!(unsafe { core::ptr::read_volatile(lcr as *const u8) }, 0x03);
        }
    }
}
