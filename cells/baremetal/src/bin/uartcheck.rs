//! UART check: runs alone on a board, with no partitioner, and drives the
//! board's console UART with the partitioner's own driver
//! (`bsp::drivers::Uart`, chosen by the console's `compatible`). It prints
//! one line, then echoes every line it receives. The system tests boot it
//! on QEMU's models of the SoCs whose UARTs QEMU has (the Cadence UART of
//! the ZCU102, the i.MX UART of the i.MX 8M Plus, the PL011 of the
//! Raspberry Pi 4), so that each driver sends and receives on a real
//! model of its hardware. It runs on CPU 0 only (the others stay where
//! firmware keeps them) and relocates itself, so `cargo xtask` gives its
//! image a `text_offset` that keeps it clear of the firmware's stub at
//! the base of RAM.
//!
//! The console is a physical UART here, not the partitioner's emulated
//! PL011, so this program never uses `println!`. Each line it prints ends
//! with a NUL, the delimiter of Bulkhead's console format, so that a
//! reader of that format (the test harness, `bulkhead console`) takes the
//! line at once instead of waiting for the next byte.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod check {
    use bsp::drivers::Uart;
    use core::fmt::Write;

    /// Longest line echoed; longer lines are echoed in pieces.
    const LINE: usize = 64;

    struct Out<'a>(&'a Uart);

    impl Write for Out<'_> {
        fn write_str(&mut self, text: &str) -> core::fmt::Result {
            text.bytes().for_each(|b| self.0.write_byte(b));
            Ok(())
        }
    }

    #[unsafe(no_mangle)]
    fn cell_main(_boot_argument: u64) -> ! {
        let Some(board) = bsp::board(baremetal_cells::board::NAME) else {
            baremetal_cells::halt()
        };
        // SAFETY: this program runs alone on the board, with the MMU off
        // (device memory everywhere), and is the only driver of the UART.
        let Some(uart) = (unsafe { Uart::for_console(board) }) else {
            baremetal_cells::halt()
        };
        uart.enable();
        let kind = board.console_kind().map_or("?", |k| k.name());
        let mut out = Out(&uart);
        let _ = write!(
            out,
            "uart check on {}: {} at {:#x}\r\n\0",
            board.name, kind, board.console.mmio.base
        );
        let mut line = [0u8; LINE];
        let mut length = 0;
        loop {
            let Some(byte) = uart.read_byte() else {
                core::hint::spin_loop();
                continue;
            };
            let end = byte == b'\n' || byte == b'\r';
            if !end {
                line[length] = byte;
                length += 1;
            }
            if (end && length > 0) || length == LINE {
                let text = core::str::from_utf8(&line[..length]).unwrap_or("(not UTF-8)");
                let _ = write!(out, "echo: {text}\r\n\0");
                length = 0;
            }
        }
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        baremetal_cells::halt()
    }
}

baremetal_cells::host_main!();
