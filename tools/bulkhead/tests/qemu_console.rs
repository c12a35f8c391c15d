//! `bulkhead console` on a real target: QEMU booting the heartbeat example
//! with its console on a socket chardev, as a developer would run it by
//! hand. The partitioner's `defmt` log is decoded with the ELF the build
//! left beside the boot image, found from the config alone.

use bulkhead::console::{run, ConsoleOptions};
use hil_tests::{artifacts, QemuTarget};
use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn shows_a_qemu_socket_with_the_partitioners_log_decoded() {
    shows_the_consoles_of("qemu-heartbeat", "qemu-virt");
}

/// The same on QEMU's model of the ZCU102 (its console is a Cadence UART
/// the partitioner drives; the cells see an emulated PL011 there).
#[test]
fn shows_the_consoles_of_a_zcu102() {
    shows_the_consoles_of("zcu102-restart", "zcu102");
}

/// The same on QEMU's model of the Raspberry Pi 4 (PL011 uart0).
#[test]
fn shows_the_consoles_of_a_raspberry_pi_4() {
    shows_the_consoles_of("rpi4b-restart", "rpi4b");
}

/// Boots the build of config `config` (for board `board`) with its
/// console on a socket and reads it with `bulkhead console`.
fn shows_the_consoles_of(config: &str, board: &str) {
    let dir = artifacts::dir().join(config);
    let socket =
        std::env::temp_dir().join(format!("bulkhead-console-{config}-{}", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    // The reference machine's command line, its console on a socket that
    // QEMU serves (and waits on, so that nothing is printed before the
    // console connects).
    let mut args: Vec<OsString> = QemuTarget::for_build(&dir).unwrap().command_line();
    let serial = args
        .iter()
        .position(|a| a == "stdio")
        .expect("-serial stdio");
    args[serial] = "chardev:console".into();
    args.extend([
        "-chardev".into(),
        format!(
            "socket,id=console,path={},server=on,wait=on",
            socket.display()
        )
        .into(),
    ]);
    let mut qemu = Command::new("qemu-system-aarch64")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("qemu-system-aarch64");
    let appeared = Instant::now();
    while !socket.exists() && appeared.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (lines, received) = mpsc::channel();
    let options = ConsoleOptions {
        target: socket.clone(),
        config: dir.join("config.yaml"),
        elf: None,
        baud: 115_200,
        duration: Some(Duration::from_secs(6)),
    };
    let result = run(
        &options,
        move |stream, line| {
            let _ = lines.send(format!("[{stream}] {line}"));
        },
        None,
    );
    let _ = qemu.kill();
    let _ = qemu.wait();
    let _ = std::fs::remove_file(&socket);
    result.expect("the console runs");
    let shown: Vec<String> = received.try_iter().collect();
    let banner = format!("Bulkhead 0.1.0 partitioner on {board}: 4 CPUs");
    for wanted in [
        banner.as_str(),
        "[sensor] heartbeat 1",
        "[intruder] intruder cell: boot 0",
    ] {
        assert!(
            shown.iter().any(|l| l.contains(wanted)),
            "no `{wanted}` in {shown:#?}"
        );
    }
    assert!(
        shown
            .iter()
            .any(|l| l.starts_with("[partitioner]") && l.contains(&banner)),
        "the partitioner's log was not decoded: {shown:#?}"
    );
}
