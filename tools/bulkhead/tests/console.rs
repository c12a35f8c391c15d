//! `bulkhead console` against a pseudo-terminal (a board's serial port as
//! the tool sees it) and a Unix socket (QEMU's socket chardev as the tool
//! sees it): the multiplexed streams come out as lines with their names.

use bulkhead_wire::{cell_stream, encode_frame, MAX_FRAME};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn heartbeat_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/examples/qemu-heartbeat.yaml")
}

/// What a board prints: a bootloader line, then frames of the two cells of
/// the heartbeat example (`sensor` is stream 1, `intruder` stream 2).
fn board_output() -> Vec<u8> {
    let mut bytes = b"U-Boot 2023.01\r\n\0".to_vec();
    let mut frame = [0u8; MAX_FRAME];
    for (stream, text) in [
        (cell_stream(0), &b"heartbeat 1\n"[..]),
        (cell_stream(1), b"intruder cell: boot 0\n"),
        (cell_stream(0), b"heartbeat 2\n"),
    ] {
        let n = encode_frame(stream, text, &mut frame);
        bytes.extend_from_slice(&frame[..n]);
    }
    bytes
}

/// Runs `bulkhead console TARGET --config … ARGS`, feeding the target with
/// `feed` once the tool runs; kills it after 20 s whatever happens.
fn console(target: &Path, args: &[&str], feed: impl FnOnce()) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_bulkhead"))
        .arg("console")
        .arg(target)
        .arg("--config")
        .arg(heartbeat_config())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    // The tool opens the port (and flushes what was pending) first.
    std::thread::sleep(Duration::from_millis(700));
    feed();
    let output = child.wait_with_output().unwrap();
    drop(watchdog);
    output
}

fn assert_shows_every_stream(output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for line in [
        "[raw] U-Boot 2023.01",
        "[sensor] heartbeat 1",
        "[intruder] intruder cell: boot 0",
        "[sensor] heartbeat 2",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no `{line}` in:\n{stdout}\n{stderr}"
        );
    }
}

#[test]
fn shows_a_serial_port_stream_by_stream() {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let controller: OwnedFd = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&controller).unwrap();
    unlockpt(&controller).unwrap();
    let port = PathBuf::from(ptsname(&controller, Vec::new()).unwrap().to_str().unwrap());
    let mut board = std::fs::File::from(controller);
    let output = console(&port, &["--seconds", "3"], || {
        board.write_all(&board_output()).unwrap();
    });
    assert_shows_every_stream(&output);
}

#[test]
fn shows_a_socket_until_it_hangs_up() {
    let dir = std::env::temp_dir().join(format!("bulkhead-console-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("console.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        stream.write_all(&board_output()).unwrap();
        // Hanging up ends the console before its 15 s.
    });
    let started = std::time::Instant::now();
    let output = console(&path, &["--seconds", "15"], || {});
    server.join().unwrap();
    assert_shows_every_stream(&output);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the console did not end when the socket hung up"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
