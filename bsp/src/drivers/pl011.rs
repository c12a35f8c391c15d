//! Arm PrimeCell PL011 UART, polled transmit and receive.
//!
//! Register names follow the PL011 Technical Reference Manual (DDI 0183).

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! [u32,
    /// Data register.
    pub UARTDR [
        /// Transmit or receive data.
        DATA OFFSET(0) NUMBITS(8) []
    ],
    /// Flag register.
    pub UARTFR [
        /// Transmit FIFO empty.
        TXFE OFFSET(7) NUMBITS(1) [],
        /// Receive FIFO full.
        RXFF OFFSET(6) NUMBITS(1) [],
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    /// Line control register.
    pub UARTLCR_H [
        /// Word length.
        WLEN OFFSET(5) NUMBITS(2) [
            Bits8 = 0b11
        ],
        /// Enable FIFOs.
        FEN OFFSET(4) NUMBITS(1) []
    ],
    /// Control register.
    pub UARTCR [
        /// Receive enable.
        RXE OFFSET(9) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) [],
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupt bits, shared by IMSC, RIS, MIS and ICR.
    pub UARTINT [
        /// Receive timeout.
        RT OFFSET(6) NUMBITS(1) [],
        /// Transmit.
        TX OFFSET(5) NUMBITS(1) [],
        /// Receive.
        RX OFFSET(4) NUMBITS(1) []
    ]
];

register_structs! {
    /// The PL011 register block.
    pub Registers {
        (0x000 => pub uartdr: ReadWrite<u32, UARTDR::Register>),
        (0x004 => pub uartrsr: ReadWrite<u32>),
        (0x008 => _reserved0),
        (0x018 => pub uartfr: ReadOnly<u32, UARTFR::Register>),
        (0x01c => _reserved1),
        (0x020 => pub uartilpr: ReadWrite<u32>),
        (0x024 => pub uartibrd: ReadWrite<u32>),
        (0x028 => pub uartfbrd: ReadWrite<u32>),
        (0x02c => pub uartlcr_h: ReadWrite<u32, UARTLCR_H::Register>),
        (0x030 => pub uartcr: ReadWrite<u32, UARTCR::Register>),
        (0x034 => pub uartifls: ReadWrite<u32>),
        (0x038 => pub uartimsc: ReadWrite<u32, UARTINT::Register>),
        (0x03c => pub uartris: ReadOnly<u32, UARTINT::Register>),
        (0x040 => pub uartmis: ReadOnly<u32, UARTINT::Register>),
        (0x044 => pub uarticr: WriteOnly<u32, UARTINT::Register>),
        (0x048 => pub uartdmacr: ReadWrite<u32>),
        (0x04c => _reserved2),
        (0xfe0 => pub uartperiphid: [ReadOnly<u32>; 4]),
        (0xff0 => pub uartpcellid: [ReadOnly<u32>; 4]),
        (0x1000 => @END),
    }
}

/// The PrimeCell identification a PL011 reports in `UARTPeriphID0..3` and
/// `UARTPCellID0..3` (PL011 r1p5), for drivers that probe by ID.
pub const PERIPH_ID: [u8; 4] = [0x11, 0x10, 0x34, 0x00];
/// See [`PERIPH_ID`].
pub const PCELL_ID: [u8; 4] = [0x0d, 0xf0, 0x05, 0xb1];

/// A PL011 driven by polling.
pub struct Pl011 {
    registers: &'static Registers,
}

impl Pl011 {
    /// Wraps the UART at `base`.
    ///
    /// # Safety
    /// `base` must be the address of a PL011 register block, mapped as
    /// device memory for the lifetime of the program, and nothing else may
    /// drive this UART concurrently.
    pub unsafe fn new(base: usize) -> Self {
        // SAFETY: the caller guarantees `base` points at a live PL011 block.
        let registers = unsafe { &*(base as *const Registers) };
        Self { registers }
    }

    /// Enables transmit and receive, 8 data bits, FIFOs on. The baud rate
    /// is left as firmware set it.
    pub fn enable(&self) {
        self.registers
            .uartlcr_h
            .write(UARTLCR_H::WLEN::Bits8 + UARTLCR_H::FEN::SET);
        self.registers
            .uartcr
            .write(UARTCR::UARTEN::SET + UARTCR::TXE::SET + UARTCR::RXE::SET);
    }

    /// Sends one byte, waiting while the transmit FIFO is full.
    pub fn write_byte(&self, byte: u8) {
        while self.registers.uartfr.is_set(UARTFR::TXFF) {
            core::hint::spin_loop();
        }
        self.registers.uartdr.write(UARTDR::DATA.val(byte as u32));
    }

    /// Raises the UART's interrupt while received data waits: at the
    /// FIFO's trigger level (`UARTIFLS`, as firmware left it), and after
    /// a quiet spell of 32 bit periods for the rest.
    pub fn enable_receive_interrupt(&self) {
        self.registers
            .uartimsc
            .write(UARTINT::RX::SET + UARTINT::RT::SET);
    }

    /// Clears the receive interrupts; call before draining the FIFO, so
    /// that data arriving meanwhile raises them again.
    pub fn clear_receive_interrupt(&self) {
        self.registers
            .uarticr
            .write(UARTINT::RX::SET + UARTINT::RT::SET);
    }

    /// Returns a received byte, if one is waiting.
    pub fn read_byte(&self) -> Option<u8> {
        if self.registers.uartfr.is_set(UARTFR::RXFE) {
            None
        } else {
            Some(self.registers.uartdr.read(UARTDR::DATA) as u8)
        }
    }

    /// Waits until every queued byte has left the shift register.
    pub fn flush(&self) {
        while self.registers.uartfr.is_set(UARTFR::BUSY) {
            core::hint::spin_loop();
        }
    }
}

// SAFETY: the registers are MMIO reachable from every core; `Pl011::new`'s
// contract makes the owner serialise access, wherever it runs.
unsafe impl Send for Pl011 {}

impl embedded_io::ErrorType for Pl011 {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for Pl011 {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for &byte in buf {
            self.write_byte(byte);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Pl011::flush(self);
        Ok(())
    }
}
