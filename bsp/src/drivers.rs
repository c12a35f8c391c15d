//! Drivers for the board devices the partitioner itself uses: the console
//! UARTs, one per [`UartKind`], and [`Uart`], which picks the board's.

// The register macros generate items without doc comments.
#[allow(missing_docs)]
pub mod cadence;
#[allow(missing_docs)]
pub mod imx;
#[allow(missing_docs)]
pub mod ns16550;
#[allow(missing_docs)]
pub mod pl011;

use crate::{Board, UartKind};

/// The board's console UART, with the driver its [`UartKind`] needs.
pub enum Uart {
    /// Arm PL011.
    Pl011(pl011::Pl011),
    /// NXP i.MX UART.
    Imx(imx::ImxUart),
    /// 8250/16550 class.
    Ns16550(ns16550::Ns16550),
    /// Cadence UART.
    Cadence(cadence::CadenceUart),
}

impl Uart {
    /// The driver for `board`'s console, or `None` when the board's
    /// console has no driver ([`crate::Gap::ConsoleWithoutDriver`]).
    ///
    /// # Safety
    /// `board.console.mmio` must be mapped as device memory for the
    /// lifetime of the program, and nothing else may drive the UART.
    pub unsafe fn for_console(board: &Board) -> Option<Uart> {
        let base = board.console.mmio.base as usize;
        let console = &board.console;
        // SAFETY (each arm): the caller's contract, for the UART kind the
        // board description names.
        Some(match board.console_kind()? {
            // SAFETY: see above.
            UartKind::Pl011 => Uart::Pl011(unsafe { pl011::Pl011::new(base) }),
            // SAFETY: see above.
            UartKind::Imx => Uart::Imx(unsafe { imx::ImxUart::new(base) }),
            // SAFETY: see above.
            UartKind::Ns16550 => Uart::Ns16550(unsafe {
                ns16550::Ns16550::new(base, console.reg_shift, console.reg_io_width)
            }),
            // SAFETY: see above.
            UartKind::Cadence => Uart::Cadence(unsafe { cadence::CadenceUart::new(base) }),
        })
    }

    /// Enables transmit and receive, leaving the baud rate as firmware
    /// set it.
    pub fn enable(&self) {
        match self {
            Uart::Pl011(u) => u.enable(),
            Uart::Imx(u) => u.enable(),
            Uart::Ns16550(u) => u.enable(),
            Uart::Cadence(u) => u.enable(),
        }
    }

    /// Raises the UART's interrupt ([`crate::Uart::irq`]) while received
    /// data waits.
    pub fn enable_receive_interrupt(&self) {
        match self {
            Uart::Pl011(u) => u.enable_receive_interrupt(),
            Uart::Imx(u) => u.enable_receive_interrupt(),
            Uart::Ns16550(u) => u.enable_receive_interrupt(),
            Uart::Cadence(u) => u.enable_receive_interrupt(),
        }
    }

    /// Clears the receive interrupt where the UART latches it; call before
    /// draining with [`read_byte`](Self::read_byte).
    pub fn clear_receive_interrupt(&self) {
        match self {
            Uart::Pl011(u) => u.clear_receive_interrupt(),
            Uart::Imx(u) => u.clear_receive_interrupt(),
            Uart::Ns16550(u) => u.clear_receive_interrupt(),
            Uart::Cadence(u) => u.clear_receive_interrupt(),
        }
    }

    /// Sends one byte, waiting while the transmitter is full.
    pub fn write_byte(&self, byte: u8) {
        match self {
            Uart::Pl011(u) => u.write_byte(byte),
            Uart::Imx(u) => u.write_byte(byte),
            Uart::Ns16550(u) => u.write_byte(byte),
            Uart::Cadence(u) => u.write_byte(byte),
        }
    }

    /// Returns a received byte, if one is waiting.
    pub fn read_byte(&self) -> Option<u8> {
        match self {
            Uart::Pl011(u) => u.read_byte(),
            Uart::Imx(u) => u.read_byte(),
            Uart::Ns16550(u) => u.read_byte(),
            Uart::Cadence(u) => u.read_byte(),
        }
    }

    /// Waits until every queued byte has left the transmitter.
    pub fn flush(&self) {
        match self {
            Uart::Pl011(u) => u.flush(),
            Uart::Imx(u) => u.flush(),
            Uart::Ns16550(u) => u.flush(),
            Uart::Cadence(u) => u.flush(),
        }
    }
}

// SAFETY: the registers are MMIO reachable from every core;
// `Uart::for_console`'s contract makes the owner serialise access,
// wherever it runs.
unsafe impl Send for Uart {}

impl embedded_io::ErrorType for Uart {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for &byte in buf {
            self.write_byte(byte);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Uart::flush(self);
        Ok(())
    }
}
