//! The register model of the emulated PL011 every cell gets as its console.
//!
//! Writes to the data register become console output; the other registers
//! hold what the guest wrote so that drivers that read back configuration
//! (Linux's `amba-pl011`, earlycon) are satisfied. The transmit FIFO is
//! always empty: output leaves at once through the partitioner's console
//! multiplexer. The receive FIFO holds what the host typed for the cell
//! ([`VirtualPl011::receive`]), [`RX_CAPACITY`] bytes; more is dropped.
//!
//! Interrupts: the receive interrupt (`RX`, and `RT` with it) is raised
//! while the FIFO holds data, the transmit interrupt always (the FIFO is
//! always empty); `UARTMIS` is that under `UARTIMSC`. The partitioner
//! raises the console's SPI (sets it pending) whenever the masked state
//! is set after input arrives or becomes set after a guest write (see
//! [`VirtualPl011::write`]); Linux's driver reads `UARTMIS` until it is
//! clear, so once per batch is enough.

#[cfg(target_os = "none")]
pub(crate) mod runtime;

use bsp::drivers::pl011::{PCELL_ID, PERIPH_ID};
use heapless::Deque;

/// Bytes of input the emulated receive FIFO holds (a PL011's own holds
/// 32): a line typed at once, or pasted, fits.
pub const RX_CAPACITY: usize = 256;

/// Register offsets (PL011 TRM, table 3-1).
mod offset {
    pub const DR: u64 = 0x000;
    pub const RSR_ECR: u64 = 0x004;
    pub const FR: u64 = 0x018;
    pub const ILPR: u64 = 0x020;
    pub const IBRD: u64 = 0x024;
    pub const FBRD: u64 = 0x028;
    pub const LCR_H: u64 = 0x02c;
    pub const CR: u64 = 0x030;
    pub const IFLS: u64 = 0x034;
    pub const IMSC: u64 = 0x038;
    pub const RIS: u64 = 0x03c;
    pub const MIS: u64 = 0x040;
    pub const ICR: u64 = 0x044;
    pub const DMACR: u64 = 0x048;
    pub const PERIPH_ID0: u64 = 0xfe0;
    pub const PCELL_ID0: u64 = 0xff0;
}

/// `UARTFR`: transmit FIFO empty.
const FR_TXFE: u32 = 1 << 7;
/// `UARTFR`: receive FIFO full.
const FR_RXFF: u32 = 1 << 6;
/// `UARTFR`: receive FIFO empty.
const FR_RXFE: u32 = 1 << 4;
/// `UARTRIS`: receive timeout interrupt.
const INT_RT: u32 = 1 << 6;
/// `UARTRIS`: transmit interrupt (the FIFO is always below its level).
const INT_TX: u32 = 1 << 5;
/// `UARTRIS`: receive interrupt.
const INT_RX: u32 = 1 << 4;

/// One cell's emulated PL011.
#[derive(Clone, Debug)]
pub struct VirtualPl011 {
    ilpr: u32,
    ibrd: u32,
    fbrd: u32,
    lcr_h: u32,
    cr: u32,
    ifls: u32,
    imsc: u32,
    dmacr: u32,
    rx: Deque<u8, RX_CAPACITY>,
}

impl Default for VirtualPl011 {
    fn default() -> Self {
        Self::new()
    }
}

impl VirtualPl011 {
    /// The reset state (PL011 TRM reset values).
    pub const fn new() -> Self {
        VirtualPl011 {
            ilpr: 0,
            ibrd: 0,
            fbrd: 0,
            lcr_h: 0,
            cr: 0x300,
            ifls: 0x12,
            imsc: 0,
            dmacr: 0,
            rx: Deque::new(),
        }
    }

    /// The raw interrupt state (`UARTRIS`).
    fn raw_interrupts(&self) -> u32 {
        if self.rx.is_empty() {
            INT_TX
        } else {
            INT_TX | INT_RX | INT_RT
        }
    }

    /// Whether the UART's interrupt output is asserted (`UARTMIS` not 0).
    pub fn interrupt_asserted(&self) -> bool {
        self.raw_interrupts() & self.imsc != 0
    }

    /// Input for the guest: as much of `bytes` as the receive FIFO takes.
    /// Returns how many it took.
    pub fn receive(&mut self, bytes: &[u8]) -> usize {
        bytes
            .iter()
            .take_while(|&&byte| self.rx.push_back(byte).is_ok())
            .count()
    }

    /// A guest read of the register at `offset` (word accesses; narrower
    /// reads see the low bytes). Reading the data register takes a byte
    /// from the receive FIFO.
    pub fn read(&mut self, offset: u64) -> u32 {
        match offset {
            offset::DR => self.rx.pop_front().map_or(0, u32::from),
            offset::RSR_ECR | offset::ICR => 0,
            offset::FR => {
                let receive = if self.rx.is_empty() {
                    FR_RXFE
                } else if self.rx.is_full() {
                    FR_RXFF
                } else {
                    0
                };
                FR_TXFE | receive
            }
            offset::ILPR => self.ilpr,
            offset::IBRD => self.ibrd,
            offset::FBRD => self.fbrd,
            offset::LCR_H => self.lcr_h,
            offset::CR => self.cr,
            offset::IFLS => self.ifls,
            offset::IMSC => self.imsc,
            offset::RIS => self.raw_interrupts(),
            offset::MIS => self.raw_interrupts() & self.imsc,
            offset::DMACR => self.dmacr,
            o @ offset::PERIPH_ID0..=0xfec => {
                PERIPH_ID[((o - offset::PERIPH_ID0) / 4) as usize] as u32
            }
            o @ offset::PCELL_ID0..=0xffc => {
                PCELL_ID[((o - offset::PCELL_ID0) / 4) as usize] as u32
            }
            _ => 0,
        }
    }

    /// A guest write of `value` to the register at `offset`. Returns the
    /// byte to transmit, for writes to the data register. (Whether the
    /// write raised the interrupt, unmasking data that waits, is
    /// [`interrupt_asserted`](Self::interrupt_asserted) after it against
    /// before.)
    pub fn write(&mut self, offset: u64, value: u32) -> Option<u8> {
        match offset {
            offset::DR => return Some(value as u8),
            offset::ILPR => self.ilpr = value & 0xff,
            offset::IBRD => self.ibrd = value & 0xffff,
            offset::FBRD => self.fbrd = value & 0x3f,
            offset::LCR_H => self.lcr_h = value & 0xff,
            offset::CR => self.cr = value & 0xff87,
            offset::IFLS => self.ifls = value & 0x3f,
            offset::IMSC => self.imsc = value & 0x7ff,
            offset::DMACR => self.dmacr = value & 0x7,
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transmit_and_flags() {
        let mut uart = VirtualPl011::new();
        assert_eq!(uart.write(0, b'A' as u32 | 0x100), Some(b'A'));
        assert_eq!(uart.read(0x18) & FR_TXFE, FR_TXFE);
        assert_eq!(uart.write(0x30, 0x301), None);
        assert_eq!(uart.read(0x30), 0x301);
    }

    #[test]
    fn receive_fifo_and_its_interrupt() {
        let mut uart = VirtualPl011::new();
        assert_eq!(uart.read(0x18) & FR_RXFE, FR_RXFE);
        assert_eq!(uart.read(0x3c), INT_TX);
        // Linux's driver unmasks receive and receive timeout.
        uart.write(0x38, INT_RX | INT_RT);
        assert!(!uart.interrupt_asserted());
        assert_eq!(uart.receive(b"ls\r"), 3);
        assert!(uart.interrupt_asserted());
        assert_eq!(uart.read(0x40), INT_RX | INT_RT);
        let mut typed = std::vec::Vec::new();
        while uart.read(0x18) & FR_RXFE == 0 {
            typed.push(uart.read(0) as u8);
        }
        assert_eq!(typed, b"ls\r");
        assert_eq!(uart.read(0x40), 0);
        assert!(!uart.interrupt_asserted());
        // A full FIFO takes no more, and says so.
        assert_eq!(uart.receive(&[b'x'; RX_CAPACITY + 10]), RX_CAPACITY);
        assert_eq!(uart.read(0x18) & (FR_RXFF | FR_RXFE), FR_RXFF);
        // Masked, the data waits without an interrupt until unmasked.
        uart.write(0x38, 0);
        assert!(!uart.interrupt_asserted());
        uart.write(0x38, INT_RX);
        assert!(uart.interrupt_asserted());
    }

    #[test]
    fn primecell_ids() {
        let mut uart = VirtualPl011::new();
        let id: [u32; 4] = core::array::from_fn(|i| uart.read(0xfe0 + 4 * i as u64));
        assert_eq!(id, [0x11, 0x10, 0x34, 0x00]);
        assert_eq!(uart.read(0xffc), 0xb1);
        assert_eq!(uart.read(0x7f0), 0);
    }
}
