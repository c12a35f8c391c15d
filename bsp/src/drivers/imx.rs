//! NXP i.MX UART (i.MX 6/7/8M, `fsl,imx*-uart`), polled transmit and
//! receive.
//!
//! Register and field names follow the i.MX 8M Plus Applications
//! Processor Reference Manual, chapter "Universal Asynchronous
//! Receiver/Transmitter (UART)".

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! [u32,
    /// Receiver register.
    pub URXD [
        /// A valid character is in `RX_DATA`.
        CHARRDY OFFSET(15) NUMBITS(1) [],
        /// The received character.
        RX_DATA OFFSET(0) NUMBITS(8) []
    ],
    /// Transmitter register.
    pub UTXD [
        /// The character to send.
        TX_DATA OFFSET(0) NUMBITS(8) []
    ],
    /// Control register 1.
    pub UCR1 [
        /// Receiver ready interrupt enable.
        RRDYEN OFFSET(9) NUMBITS(1) [],
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    /// Control register 2.
    pub UCR2 [
        /// Ignore the RTS pin.
        IRTS OFFSET(14) NUMBITS(1) [],
        /// Word size: 1 = 8 bits.
        WS OFFSET(5) NUMBITS(1) [],
        /// Transmitter enable.
        TXEN OFFSET(2) NUMBITS(1) [],
        /// Receiver enable.
        RXEN OFFSET(1) NUMBITS(1) [],
        /// Software reset, active low: 1 = not in reset.
        SRST OFFSET(0) NUMBITS(1) []
    ],
    /// Status register 2.
    pub USR2 [
        /// Transmitter complete: FIFO and shift register empty.
        TXDC OFFSET(3) NUMBITS(1) [],
        /// Receive data ready.
        RDR OFFSET(0) NUMBITS(1) []
    ],
    /// Test register.
    pub UTS [
        /// Transmit FIFO empty.
        TXEMPTY OFFSET(6) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXEMPTY OFFSET(5) NUMBITS(1) [],
        /// Transmit FIFO full.
        TXFULL OFFSET(4) NUMBITS(1) []
    ]
];

register_structs! {
    /// The i.MX UART register block.
    pub Registers {
        (0x00 => pub urxd: ReadOnly<u32, URXD::Register>),
        (0x04 => _reserved0),
        (0x40 => pub utxd: WriteOnly<u32, UTXD::Register>),
        (0x44 => _reserved1),
        (0x80 => pub ucr1: ReadWrite<u32, UCR1::Register>),
        (0x84 => pub ucr2: ReadWrite<u32, UCR2::Register>),
        (0x88 => pub ucr3: ReadWrite<u32>),
        (0x8c => pub ucr4: ReadWrite<u32>),
        (0x90 => pub ufcr: ReadWrite<u32>),
        (0x94 => pub usr1: ReadWrite<u32>),
        (0x98 => pub usr2: ReadWrite<u32, USR2::Register>),
        (0x9c => pub uesc: ReadWrite<u32>),
        (0xa0 => pub utim: ReadWrite<u32>),
        (0xa4 => pub ubir: ReadWrite<u32>),
        (0xa8 => pub ubmr: ReadWrite<u32>),
        (0xac => pub ubrc: ReadOnly<u32>),
        (0xb0 => pub onems: ReadWrite<u32>),
        (0xb4 => pub uts: ReadWrite<u32, UTS::Register>),
        (0xb8 => pub umcr: ReadWrite<u32>),
        (0xbc => @END),
    }
}

/// An i.MX UART driven by polling.
pub struct ImxUart {
    registers: &'static Registers,
}

impl ImxUart {
    /// Wraps the UART at `base`.
    ///
    /// # Safety
    /// `base` must be the address of an i.MX UART register block, mapped
    /// as device memory for the lifetime of the program, and nothing else
    /// may drive this UART concurrently.
    pub unsafe fn new(base: usize) -> Self {
        // SAFETY: the caller guarantees `base` points at a live register
        // block.
        let registers = unsafe { &*(base as *const Registers) };
        Self { registers }
    }

    /// Enables the UART, its transmitter and receiver, 8 data bits, out of
    /// reset. The baud rate and FIFO thresholds are left as firmware set
    /// them.
    pub fn enable(&self) {
        self.registers.ucr1.modify(UCR1::UARTEN::SET);
        self.registers.ucr2.modify(
            UCR2::SRST::SET + UCR2::RXEN::SET + UCR2::TXEN::SET + UCR2::WS::SET + UCR2::IRTS::SET,
        );
    }

    /// Raises the UART's interrupt while a received character waits: the
    /// receiver-ready interrupt, with the receive FIFO's trigger level
    /// (`UFCR.RXTL`) at one character. The rest of `UFCR` (the reference
    /// clock divider among it) stays as firmware set it.
    pub fn enable_receive_interrupt(&self) {
        const RXTL: u32 = 0x3f;
        let ufcr = self.registers.ufcr.get();
        self.registers.ufcr.set(ufcr & !RXTL | 1);
        self.registers.ucr1.modify(UCR1::RRDYEN::SET);
    }

    /// Nothing to clear: the receiver-ready interrupt follows the FIFO.
    pub fn clear_receive_interrupt(&self) {}

    /// Sends one byte, waiting while the transmit FIFO is full.
    pub fn write_byte(&self, byte: u8) {
        while self.registers.uts.is_set(UTS::TXFULL) {
            core::hint::spin_loop();
        }
        self.registers.utxd.write(UTXD::TX_DATA.val(byte as u32));
    }

    /// Returns a received byte, if one is waiting.
    pub fn read_byte(&self) -> Option<u8> {
        if !self.registers.usr2.is_set(USR2::RDR) {
            return None;
        }
        Some(self.registers.urxd.read(URXD::RX_DATA) as u8)
    }

    /// Waits until every queued byte has left the transmitter.
    pub fn flush(&self) {
        while !self.registers.usr2.is_set(USR2::TXDC) {
            core::hint::spin_loop();
        }
    }
}
