//! The console UART drivers on QEMU's models of real SoCs: `uartcheck`
//! (`cells/baremetal/src/bin/uartcheck.rs`) runs alone on each board QEMU
//! models, drives the board's console with the partitioner's own driver
//! (`bsp::drivers::Uart`), prints a line and echoes what it receives. So
//! the Cadence UART (ZCU102), the i.MX UART (i.MX 8M Plus) and the PL011
//! (Raspberry Pi 4; QEMU virt's in every other system test) each send and
//! receive on a model of their hardware. The 8250 has no AArch64 model in
//! QEMU: its driver is tested against a register-level model in `bsp`.

use hil_tests::{artifacts, Pattern, QemuTarget, Session, SessionOptions};
use std::time::Duration;

#[test]
fn each_uart_driver_sends_and_receives_on_its_soc_model() {
    let boards: Vec<_> = bsp::BOARDS.iter().filter(|b| b.qemu.is_some()).collect();
    assert!(boards.len() >= 3, "boards with a QEMU model: {boards:?}");
    for board in boards {
        let Some(model) = board.qemu else { continue };
        let image = artifacts::dir()
            .join("images")
            .join(board.name)
            .join("uartcheck.bin");
        let target = QemuTarget::new(&image).soc(model);
        let mut session = Session::start(
            &target,
            SessionOptions::new(&format!("uart-{}", board.name)).deadline(Duration::from_secs(60)),
        )
        .unwrap_or_else(|error| panic!("{}: {error}", board.name));
        let kind = board.console_kind().map(|k| k.name()).unwrap_or("?");
        let greeting = format!(
            "uart check on {}: {kind} at {:#x}",
            board.name, board.console.mmio.base
        );
        session
            .expect(
                "raw",
                Pattern::from(greeting.as_str()),
                Duration::from_secs(30),
            )
            .unwrap_or_else(|error| panic!("{}: {error}", board.name));
        session.send(b"ping from the host\r").unwrap();
        session
            .expect(
                "raw",
                Pattern::from("echo: ping from the host"),
                Duration::from_secs(30),
            )
            .unwrap_or_else(|error| panic!("{}: {error}", board.name));
    }
}
