//! Cadence UART (Xilinx Zynq and ZynqMP, `cdns,uart-r1p12`,
//! `xlnx,xuartps`), polled transmit and receive.
//!
//! Register and field names follow the Zynq UltraScale+ Device Register
//! Reference (module UART).

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! [u32,
    /// Control register.
    pub CONTROL [
        /// Transmitter disable.
        TXDIS OFFSET(5) NUMBITS(1) [],
        /// Transmitter enable.
        TXEN OFFSET(4) NUMBITS(1) [],
        /// Receiver disable.
        RXDIS OFFSET(3) NUMBITS(1) [],
        /// Receiver enable.
        RXEN OFFSET(2) NUMBITS(1) []
    ],
    /// Mode register.
    pub MODE [
        /// Parity: 0b100 = none.
        PAR OFFSET(3) NUMBITS(3) [
            None = 0b100
        ],
        /// Character length: 0b00 = 8 bits.
        CHRL OFFSET(1) NUMBITS(2) [
            Bits8 = 0b00
        ]
    ],
    /// Channel status register.
    pub CHANNEL_STS [
        /// Transmitter state machine active.
        TACTIVE OFFSET(11) NUMBITS(1) [],
        /// Transmit FIFO full.
        TFUL OFFSET(4) NUMBITS(1) [],
        /// Transmit FIFO empty.
        TEMPTY OFFSET(3) NUMBITS(1) [],
        /// Receive FIFO empty.
        REMPTY OFFSET(1) NUMBITS(1) []
    ],
    /// Transmit and receive FIFO.
    pub TX_RX_FIFO [
        /// One character.
        FIFO OFFSET(0) NUMBITS(8) []
    ]
];

register_structs! {
    /// The Cadence UART register block.
    pub Registers {
        (0x00 => pub control: ReadWrite<u32, CONTROL::Register>),
        (0x04 => pub mode: ReadWrite<u32, MODE::Register>),
        (0x08 => pub intrpt_en: ReadWrite<u32>),
        (0x0c => pub intrpt_dis: ReadWrite<u32>),
        (0x10 => pub intrpt_mask: ReadOnly<u32>),
        (0x14 => pub chnl_int_sts: ReadWrite<u32>),
        (0x18 => pub baud_rate_gen: ReadWrite<u32>),
        (0x1c => pub rcvr_timeout: ReadWrite<u32>),
        (0x20 => pub rcvr_fifo_trigger_level: ReadWrite<u32>),
        (0x24 => pub modem_ctrl: ReadWrite<u32>),
        (0x28 => pub modem_sts: ReadWrite<u32>),
        (0x2c => pub channel_sts: ReadOnly<u32, CHANNEL_STS::Register>),
        (0x30 => pub tx_rx_fifo: ReadWrite<u32, TX_RX_FIFO::Register>),
        (0x34 => @END),
    }
}

/// The receive interrupts, in `intrpt_en` and `chnl_int_sts`: the FIFO
/// trigger (`RTRIG`, bit 0) and the receive timeout (`TIMEOUT`, bit 8).
const RECEIVE_INTERRUPTS: u32 = 1 << 0 | 1 << 8;

/// A Cadence UART driven by polling.
pub struct CadenceUart {
    registers: &'static Registers,
}

impl CadenceUart {
    /// Wraps the UART at `base`.
    ///
    /// # Safety
    /// `base` must be the address of a Cadence UART register block, mapped
    /// as device memory for the lifetime of the program, and nothing else
    /// may drive this UART concurrently.
    pub unsafe fn new(base: usize) -> Self {
        // SAFETY: the caller guarantees `base` points at a live register
        // block.
        let registers = unsafe { &*(base as *const Registers) };
        Self { registers }
    }

    /// Enables the transmitter and receiver, 8 data bits, no parity. The
    /// baud rate is left as firmware set it.
    pub fn enable(&self) {
        self.registers
            .mode
            .write(MODE::CHRL::Bits8 + MODE::PAR::None);
        self.registers
            .control
            .write(CONTROL::TXEN::SET + CONTROL::RXEN::SET);
    }

    /// Raises the UART's interrupt while received data waits: the receive
    /// FIFO's trigger at one character, and the receive timeout.
    pub fn enable_receive_interrupt(&self) {
        self.registers.rcvr_fifo_trigger_level.set(1);
        self.registers.rcvr_timeout.set(10);
        self.registers.intrpt_en.set(RECEIVE_INTERRUPTS);
    }

    /// Clears the receive interrupts (write one to clear); call before
    /// draining the FIFO, so that data arriving meanwhile raises them again.
    pub fn clear_receive_interrupt(&self) {
        self.registers.chnl_int_sts.set(RECEIVE_INTERRUPTS);
    }

    /// Sends one byte, waiting while the transmit FIFO is full.
    pub fn write_byte(&self, byte: u8) {
        while self.registers.channel_sts.is_set(CHANNEL_STS::TFUL) {
            core::hint::spin_loop();
        }
        self.registers
            .tx_rx_fifo
            .write(TX_RX_FIFO::FIFO.val(byte as u32));
    }

    /// Returns a received byte, if one is waiting.
    pub fn read_byte(&self) -> Option<u8> {
        if self.registers.channel_sts.is_set(CHANNEL_STS::REMPTY) {
            return None;
        }
        Some(self.registers.tx_rx_fifo.read(TX_RX_FIFO::FIFO) as u8)
    }

    /// Waits until every queued byte has left the transmitter.
    pub fn flush(&self) {
        while !self.registers.channel_sts.is_set(CHANNEL_STS::TEMPTY)
            || self.registers.channel_sts.is_set(CHANNEL_STS::TACTIVE)
        {
            core::hint::spin_loop();
        }
    }
}
