//! Roles 1 to 3: the ping-pong initiator and echoer, and the outsider.

use crate::device::{
    config_read, header, open, other, wait_for_peer, CellDoorbell, Device, DOORBELL_ENTRY, ECAM,
    RUNG, TIMEOUT,
};
use baremetal_cells::{counter, counter_frequency, delay_ms, println};
use bulkhead_abi::ivshmem::register;
use bulkhead_abi::pci::offset;
use bulkhead_channel::{Channel, ChannelConfig, DecodeError, Error, Message, PeerId};
use core::sync::atomic::Ordering::Relaxed;
use core::time::Duration;

/// Round trips per round.
pub(crate) const ROUND_TRIPS: u32 = 1000;

/// Doorbells to itself the initiator times.
pub(crate) const SELF_DOORBELLS: usize = 100;

/// The pingpong roles' rings.
pub(crate) const PINGPONG_RING: ChannelConfig = ChannelConfig {
    slot_size: 64,
    slot_count: 8,
    ..ChannelConfig::new(PeerId(0))
};

/// One ping, echoed as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ping {
    sequence: u32,
    round: u32,
}

impl Message for Ping {
    const SIZE: usize = 8;

    fn encode(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.sequence.to_le_bytes());
        out[4..].copy_from_slice(&self.round.to_le_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Ping {
            sequence: u32::decode(&bytes[..4])?,
            round: u32::decode(&bytes[4..])?,
        })
    }
}

pub(crate) fn initiator(device: &Device) {
    let hz = counter_frequency();
    // A peer the channel does not have: the partitioner refuses it.
    device.registers.ring(PeerId(9), 0);
    println!("pingpong: rang peer 9, which the channel does not have");
    measure_self_doorbells(device);

    let remote = other(device.id);
    let Some(mut channel) = open(device, remote, PINGPONG_RING) else {
        return;
    };
    match wait_for_peer(&channel, true, Duration::from_secs(10)) {
        Some(_) => println!("pingpong: peer {} is ready", remote.0),
        None => {
            println!("pingpong: peer {} never became ready", remote.0);
            return;
        }
    }
    if !round(&mut channel, 1, hz) {
        return;
    }
    match wait_for_peer(&channel, false, Duration::from_secs(30)) {
        Some(state) => println!(
            "pingpong: peer {} is down (state {})",
            remote.0,
            state.raw()
        ),
        None => {
            println!("pingpong: peer {} never went down", remote.0);
            return;
        }
    }
    match wait_for_peer(&channel, true, Duration::from_secs(30)) {
        Some(_) => println!("pingpong: peer {} is up again", remote.0),
        None => {
            println!("pingpong: peer {} never came back", remote.0);
            return;
        }
    }
    if round(&mut channel, 2, hz) {
        println!("pingpong: done");
    }
}

/// One round of [`ROUND_TRIPS`] pings; prints the round-trip times.
pub(crate) fn round(channel: &mut Channel<'_, CellDoorbell>, number: u32, hz: u64) -> bool {
    let (mut min, mut max, mut sum) = (u64::MAX, 0, 0u64);
    for sequence in 0..ROUND_TRIPS {
        let ping = Ping {
            sequence,
            round: number,
        };
        let start = counter();
        let echo = channel
            .send_message(&ping, TIMEOUT)
            .and_then(|()| channel.recv_message::<Ping>(TIMEOUT));
        let ticks = counter() - start;
        match echo {
            Ok(echo) if echo == ping => {}
            Ok(echo) => {
                println!("pingpong: round {number}: sent {ping:?}, got {echo:?}: FAILED");
                return false;
            }
            Err(e) => {
                println!("pingpong: round {number}: message {sequence}: {e}: FAILED");
                return false;
            }
        }
        min = min.min(ticks);
        max = max.max(ticks);
        sum += ticks;
    }
    println!(
        "pingpong: round {number}: {ROUND_TRIPS} round trips ok, min {min}, avg {}, max {max} ticks ({} ns avg at {hz} Hz)",
        sum / u64::from(ROUND_TRIPS),
        sum * 1_000_000_000 / u64::from(ROUND_TRIPS) / hz
    );
    true
}

/// Rings its own doorbell and times the trap plus the interrupt: from
/// just before the store to the register page to the first
/// instructions of the IRQ vector.
pub(crate) fn measure_self_doorbells(device: &Device) {
    let hz = counter_frequency();
    let (mut min, mut max, mut sum, mut lost) = (u64::MAX, 0, 0u64, 0);
    for _ in 0..SELF_DOORBELLS {
        DOORBELL_ENTRY.store(0, Relaxed);
        let before = counter();
        device.registers.ring(device.id, 0);
        let give_up = before + hz / 10;
        while DOORBELL_ENTRY.load(Relaxed) == 0 && counter() < give_up {}
        let entry = DOORBELL_ENTRY.load(Relaxed);
        if entry == 0 {
            lost += 1;
            continue;
        }
        let ticks = entry.wrapping_sub(before);
        min = min.min(ticks);
        max = max.max(ticks);
        sum += ticks;
    }
    RUNG.store(false, Relaxed);
    let got = (SELF_DOORBELLS - lost) as u64;
    println!(
        "pingpong: doorbell to itself: {got} of {SELF_DOORBELLS} delivered, min {}, avg {}, max {max} ticks",
        if got == 0 { 0 } else { min },
        sum.checked_div(got).unwrap_or(0)
    );
}

pub(crate) fn echoer(device: &Device, boot: u64) {
    if boot > 0 {
        // Give the initiator time to see this peer down before it
        // comes back (the restart itself takes milliseconds).
        delay_ms(50);
    }
    let remote = other(device.id);
    let Some(mut channel) = open(device, remote, PINGPONG_RING) else {
        return;
    };
    println!("pingpong: echoer ready");
    let mut echoed = 0u32;
    // Echoes the bytes as they came, whatever their type: a Linux
    // peer's `bulkhead-ipc pingpong` sends its own messages.
    let mut message = [0u8; 60];
    loop {
        let length = match channel.recv(&mut message, TIMEOUT) {
            Ok(length) => length,
            Err(Error::Timeout) => continue,
            Err(e) => {
                println!("pingpong: receive: {e}");
                continue;
            }
        };
        if let Err(e) = channel.send(&message[..length], TIMEOUT) {
            println!("pingpong: send: {e}");
            continue;
        }
        echoed += 1;
        if echoed.is_multiple_of(ROUND_TRIPS) {
            println!("pingpong: echoed {echoed} messages");
            if boot == 0 {
                write_peer_output(device, remote);
            }
        }
    }
}

/// Writes into the other peer's output section, which this peer may
/// only read: the partitioner stops (or restarts) this cell.
pub(crate) fn write_peer_output(device: &Device, remote: PeerId) {
    let Ok(range) = device.geometry.output_section_range(remote) else {
        return;
    };
    let address = device.shared_memory + range.start;
    println!(
        "pingpong: writing peer {}'s output section at {address:#x}",
        remote.0
    );
    // SAFETY: deliberately wrong: the page is mapped read-only for
    // this cell, so the store faults into the partitioner.
    unsafe { core::ptr::write_volatile(address as *mut u32, 0xdead_beef) };
    println!("pingpong: wrote it: ISOLATION BROKEN");
}

/// A cell that is no peer of any channel tries the bridge's windows,
/// one per boot.
pub(crate) fn outsider(boot: u64) {
    println!("outsider: boot {boot}");
    /// BAR 0 of device 0 (`virtual_pci.registers`) and its Doorbell.
    const DOORBELL: usize =
        baremetal_cells::board::VIRTUAL_PCI_REGISTERS + register::DOORBELL as usize;
    /// BAR 2 of device 0 (`virtual_pci.memory`).
    const SHARED_MEMORY: usize = baremetal_cells::board::VIRTUAL_PCI_MEMORY;
    match boot {
        0 => {
            println!("outsider: reading the virtual PCI ECAM at {ECAM:#x}");
            let id = config_read(header(offset::VENDOR_ID));
            println!("outsider: read {id:#x}: ISOLATION BROKEN");
        }
        1 => {
            println!("outsider: ringing peer 0 through {DOORBELL:#x}");
            // SAFETY: deliberately wrong: the partitioner must stop it.
            unsafe { core::ptr::write_volatile(DOORBELL as *mut u32, 0) };
            println!("outsider: rang it: ISOLATION BROKEN");
        }
        2 => {
            println!("outsider: reading the channel's memory at {SHARED_MEMORY:#x}");
            // SAFETY: deliberately wrong: the partitioner must stop it.
            let value = unsafe { core::ptr::read_volatile(SHARED_MEMORY as *const u32) };
            println!("outsider: read {value:#x}: ISOLATION BROKEN");
        }
        _ => println!("outsider: done"),
    }
}
