//! Channel system tests: two bare-metal cells exchange messages over a
//! shared-memory channel, woken by doorbell interrupts that the
//! partitioner raises, and nothing else can reach the channel.
//!
//! They boot `hil-tests/configs/qemu-channels.yaml` (cells `ping`, `pong`
//! and `outsider`, all running `pingpong.bin`; see
//! `cells/baremetal/src/bin/pingpong.rs`). Run them through `cargo xtask
//! test`, which builds the images and sets `BULKHEAD_ARTIFACTS` and
//! `BULKHEAD_PARTITIONER_ELF`. Logs of every run land in
//! `target/hil/<run name>/`.

use hil_tests::{artifacts, HarnessError, Pattern, Session};
use std::time::Duration;

/// Boots the channels partitioning as run `run`, killed after 90 s.
fn start(run: &str) -> Session {
    artifacts::boot("qemu-channels", run, Duration::from_secs(90))
}

const STEP: Duration = Duration::from_secs(45);

/// The round-trip figures of a `pingpong: round N: …` line.
fn figures(line: &str) -> (u64, u64, u64) {
    let number = |key: &str| -> u64 {
        line.split(key)
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no `{key}` figure in {line:?}"))
    };
    (number("min "), number("avg "), number("max "))
}

/// Both peers find the ivshmem-v2 function on their virtual PCI bus, the
/// initiator's bogus doorbell is refused and logged, its doorbells to
/// itself arrive, and 1000 pings are echoed with interrupts. Then the
/// echoer writes into the initiator's output section: a stage-2
/// permission fault that restarts only the echoer. The initiator sees it
/// go down (state 0) and come back, and a second round of 1000 round
/// trips goes through.
#[test]
fn peers_exchange_messages_and_survive_a_restart() -> Result<(), HarnessError> {
    let mut session = start("channels_ping_pong");
    session.expect_all(
        [
            ("partitioner", Pattern::from("channel link: memory 0x60000000..0x6000a000, device 00:00.0, BAR 0 at 0x10000000, BAR 2 at 0x20000000 (64 KiB)")),
            ("partitioner", Pattern::from("channel link:   peer 0: cell ping, doorbell SPI 104")),
            ("partitioner", Pattern::from("channel link:   peer 1: cell pong, doorbell SPI 105")),
            // Stage 2: RAM in blocks; the state table, the common section
            // and the two 16 KiB output sections in pages.
            ("partitioner", Pattern::from("cell ping: stage 2 at")),
            ("ping", Pattern::from("pingpong: 00:00.0 is 110a:4106 class ff4000")),
            ("ping", Pattern::from("pingpong: registers at 0x10000000, shared memory at 0x20000000: state table 0x1000, common 0x1000, 2 x output 0x4000; I am peer 0")),
            ("ping", Pattern::from("pingpong: doorbell interrupt is SPI 104")),
            ("pong", Pattern::from("I am peer 1")),
            ("pong", Pattern::from("pingpong: doorbell interrupt is SPI 105")),
            ("partitioner", Pattern::from("cell ping: channel link: refused doorbell to a peer the channel does not have")),
            ("ping", Pattern::from("pingpong: doorbell to itself: 100 of 100 delivered")),
            ("ping", Pattern::from("pingpong: peer 1 is ready")),
        ],
        STEP,
    )?;
    let first = session.expect(
        "ping",
        Pattern::regex(r"^pingpong: round 1: 1000 round trips ok, min \d+, avg \d+, max \d+ ticks"),
        STEP,
    )?;
    session.expect_all(
        [
            ("pong", Pattern::from("pingpong: echoed 1000 messages")),
            ("pong", Pattern::from("pingpong: writing peer 0's output section at 0x20002000")),
            ("partitioner", Pattern::regex(
                r"cell pong faulted on cpu 1: stage-2 fault: write \(permission fault\) at IPA 0x20002000, PC 0x510[0-9a-f]{5}, ESR 0x93[0-9a-f]{6} \(EC 0x24: data abort from a lower EL, level 3\)",
            )),
            ("partitioner", Pattern::from("cell pong: restarting; other cells continue")),
            ("ping", Pattern::from("pingpong: peer 1 is down (state 0)")),
            ("partitioner", Pattern::from("cell pong: starting (boot #2)")),
            ("pong", Pattern::from("pingpong: echoer, boot 1")),
            ("ping", Pattern::from("pingpong: peer 1 is up again")),
        ],
        STEP,
    )?;
    let second = session.expect(
        "ping",
        Pattern::regex(r"^pingpong: round 2: 1000 round trips ok, min \d+, avg \d+, max \d+ ticks"),
        STEP,
    )?;
    session.expect("ping", "pingpong: done", STEP)?;
    for line in [&first, &second] {
        let (min, avg, max) = figures(line);
        assert!(0 < min && min <= avg && avg <= max, "{line}");
        eprintln!("{line}");
    }
    for (stream, lines) in [
        ("ping", session.lines("ping")),
        ("pong", session.lines("pong")),
    ] {
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("ISOLATION BROKEN") || l.contains("FAILED")),
            "{stream}: {lines:#?}"
        );
    }
    // The initiator never faulted and was never restarted.
    let log = session.lines("partitioner");
    assert!(
        !log.iter().any(|l| l.contains("cell ping faulted")),
        "{log:#?}"
    );
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("cell ping: starting"))
            .count(),
        1
    );
    Ok(())
}

/// A cell that is no peer of any channel has no virtual PCI bridge: its
/// read of the ECAM window, its write to a doorbell register and its read
/// of a channel's shared memory are all stage-2 faults, and the peers go
/// on undisturbed.
#[test]
fn a_cell_that_is_no_peer_cannot_reach_the_channel() -> Result<(), HarnessError> {
    let mut session = start("channels_outsider");
    session.expect_all(
        [
            ("outsider", Pattern::from("outsider: reading the virtual PCI ECAM at 0x3f000000")),
            ("partitioner", Pattern::regex(
                r"cell outsider faulted on cpu 2: stage-2 fault: read \(translation fault\) at IPA 0x3f000000, .*\(EC 0x24: data abort from a lower EL, level \d\)",
            )),
            ("outsider", Pattern::from("outsider: ringing peer 0 through 0x1000000c")),
            ("partitioner", Pattern::regex(
                r"cell outsider faulted on cpu 2: stage-2 fault: write \(translation fault\) at IPA 0x1000000c, ",
            )),
            ("outsider", Pattern::from("outsider: reading the channel's memory at 0x20000000")),
            ("partitioner", Pattern::regex(
                r"cell outsider faulted on cpu 2: stage-2 fault: read \(translation fault\) at IPA 0x20000000, ",
            )),
            ("outsider", Pattern::from("outsider: done")),
            ("ping", Pattern::regex(r"^pingpong: round 1: 1000 round trips ok")),
        ],
        STEP,
    )?;
    let outsider = session.lines("outsider");
    assert!(
        !outsider.iter().any(|l| l.contains("ISOLATION BROKEN")),
        "the outsider got through: {outsider:#?}"
    );
    // The outsider's doorbell reached nobody: no refusal was counted for
    // it either, the access never got to the channel's model.
    let log = session.lines("partitioner");
    assert!(
        !log.iter().any(|l| l.starts_with("cell outsider: channel")),
        "{log:#?}"
    );
    Ok(())
}

/// A Linux cell and a bare-metal cell on one channel
/// (`hil-tests/configs/qemu-channel-linux.yaml`): Debian's PREEMPT_RT
/// kernel binds `uio_pci_generic` to the channel's PCI function, and
/// `bulkhead-ipc pingpong initiator` makes 500 round trips with the
/// bare-metal echoer, each side woken by the other's doorbell.
#[test]
fn linux_and_bare_metal_peers_exchange_messages() -> Result<(), HarnessError> {
    let mut session = artifacts::boot(
        "qemu-channel-linux",
        "channels_linux_and_bare_metal",
        Duration::from_secs(150),
    );
    session.expect_all(
        [
            ("echo", Pattern::from("pingpong: echoer ready")),
            ("linux", Pattern::from("bulkhead-guest: userspace up")),
            (
                "linux",
                Pattern::from("bulkhead-guest: channel: /dev/uio0 is PCI 0000:00:00.0"),
            ),
            (
                "linux",
                Pattern::from("bulkhead-ipc: /dev/uio: peer 0 of 2, talking to peer 1"),
            ),
        ],
        Duration::from_secs(90),
    )?;
    let done = session.expect(
        "linux",
        Pattern::regex(
            r"^bulkhead-ipc: pingpong: 500 round trips ok, round trip min \d+ us, avg \d+ us, max \d+ us$",
        ),
        STEP,
    )?;
    println!("linux <-> bare metal (host-dependent, informational): {done}");
    let faults: Vec<String> = session
        .lines("partitioner")
        .into_iter()
        .filter(|l| l.contains("faulted") || l.contains(" ERROR ]"))
        .collect();
    assert!(faults.is_empty(), "no cell faulted: {faults:#?}");
    Ok(())
}
