//! Roles 4 and 5: the channel benchmarks (see the crate documentation).

use crate::device::{
    open, other, wait_for_peer, CellDoorbell, Device, DOORBELL_ENTRY, LAST_RING, TIMEOUT, WAITED,
};
use crate::roles::ROUND_TRIPS;
use baremetal_cells::{counter, counter_frequency, println};
use bulkhead_channel::{Channel, ChannelConfig, Error, PeerId};
use core::sync::atomic::Ordering::Relaxed;
use core::time::Duration;

/// One-way samples of the bench.
pub(crate) const ONEWAY_SAMPLES: usize = 200;

/// Sends of a one-way sample the echoer was too busy to take from WFI
/// before the sample counts as lost.
pub(crate) const ONEWAY_ATTEMPTS: u32 = 5;

/// The initiator's pause before each one-way sample, in microseconds,
/// so that the echoer is back in WFI (it answered the previous one).
pub(crate) const ONEWAY_PAUSE_US: u64 = 50;

/// Bytes per throughput measurement.
pub(crate) const STREAM_BYTES: usize = 1 << 20;

/// Message sizes of the throughput measurements.
pub(crate) const STREAM_SIZES: [usize; 3] = [64, 1024, 4096];

/// The largest bench message.
pub(crate) const BENCH_MESSAGE: usize = 4096;

/// The bench's rings: 8 slots of a 4 KiB message and its 8-byte slot
/// header (33 KiB with the block header, in a 64 KiB output section).
pub(crate) const BENCH_RING: ChannelConfig = ChannelConfig {
    slot_size: BENCH_MESSAGE as u32 + 8,
    slot_count: 8,
    ..ChannelConfig::new(PeerId(0))
};

/// A sample whose interrupt or answer never came.
pub(crate) const LOST: u64 = u64::MAX;

/// A sample that is kept in a histogram as this or less (the rest are
/// lost): samples are `u32`, to keep 1000 of them small on the stack.
pub(crate) const LOST_SAMPLE: u32 = u32::MAX;

/// A one-way answer: the message was already there when the echoer
/// looked, so it was not idle in WFI.
pub(crate) const NOT_IDLE: u64 = u64::MAX - 1;

/// Bench message kinds, the first word of every control message
/// (little-endian `u32` words throughout).
pub(crate) mod kind {
    /// `[ONEWAY, sequence, sent_at low, sent_at high]`.
    pub const ONEWAY: u32 = 0xbe_0001;
    /// `[ONEWAY_RESULT, sequence, vector counter low, high]` (or
    /// [`LOST`] or [`NOT_IDLE`] in its place).
    pub const ONEWAY_RESULT: u32 = 0xbe_0002;
    /// `[ROUND_TRIP, sequence]`, echoed as it is.
    pub const ROUND_TRIP: u32 = 0xbe_0003;
    /// `[STREAM_START, message size, message count]`: the next
    /// messages are the stream's payload.
    pub const STREAM_START: u32 = 0xbe_0004;
    /// `[STREAM_DONE, messages received, checksum low, checksum high]`.
    pub const STREAM_DONE: u32 = 0xbe_0005;
}

/// The `u32` word `index` of a message (0 if the message is shorter).
pub(crate) fn word(bytes: &[u8], index: usize) -> u32 {
    match bytes.get(4 * index..4 * index + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// A message of `N` words.
pub(crate) fn words<const N: usize>(values: [u32; N]) -> [[u8; 4]; N] {
    values.map(u32::to_le_bytes)
}

/// Words `index` and `index + 1` as one `u64`.
pub(crate) fn word64(bytes: &[u8], index: usize) -> u64 {
    u64::from(word(bytes, index + 1)) << 32 | u64::from(word(bytes, index))
}

/// The low and high words of `value`.
pub(crate) fn halves(value: u64) -> [u32; 2] {
    [value as u32, (value >> 32) as u32]
}

/// A message buffer on a word boundary, as a program that cares about
/// throughput keeps it: the channel then copies whole words.
#[repr(C, align(8))]
pub(crate) struct Aligned([u8; BENCH_MESSAGE]);

/// The stream checksum: the wrapping sum of each message's first and
/// last little-endian `u32` words (both carry the message's number),
/// added to `sum`. O(1) per message, so that the figure is the
/// channel's and not a checksum loop's; the copies themselves are
/// checked by the library's tests.
pub(crate) fn checksum(sum: u64, bytes: &[u8]) -> u64 {
    let word = |w: &[u8]| u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    match bytes.len() {
        0..4 => sum,
        n => sum
            .wrapping_add(word(&bytes[..4]))
            .wrapping_add(word(&bytes[n - 4..])),
    }
}

/// Writes the message number into the first and the last word.
pub(crate) fn number_message(message: &mut [u8], number: u32) {
    let n = message.len();
    message[..4].copy_from_slice(&number.to_le_bytes());
    message[n - 4..].copy_from_slice(&number.to_le_bytes());
}

pub(crate) fn bench_initiator(device: &Device) {
    let hz = counter_frequency();
    let remote = other(device.id);
    let Some(mut channel) = open(device, remote, BENCH_RING) else {
        return;
    };
    if wait_for_peer(&channel, true, Duration::from_secs(10)).is_none() {
        println!("bench: peer {} never became ready: FAILED", remote.0);
        return;
    }
    println!("bench: counter {hz} Hz");
    if !bench_oneway(&mut channel, hz) || !bench_round_trips(&mut channel) {
        return;
    }
    for size in STREAM_SIZES {
        if !bench_throughput(&mut channel, size) {
            return;
        }
    }
    println!("bench: done");
}

/// One-way notification: counter before the send → the echoer's
/// doorbell handler, which the echoer sends back.
#[inline(never)]
pub(crate) fn bench_oneway(channel: &mut Channel<'_, CellDoorbell>, hz: u64) -> bool {
    let mut samples = [LOST_SAMPLE; ONEWAY_SAMPLES];
    let mut notify = [LOST_SAMPLE; ONEWAY_SAMPLES];
    let mut resent = 0u32;
    let mut reply = [0u8; 16];
    let pause = hz * ONEWAY_PAUSE_US / 1_000_000;
    for ((sequence, sample), notified) in (0u32..).zip(samples.iter_mut()).zip(&mut notify) {
        for _ in 0..ONEWAY_ATTEMPTS {
            let resume = counter() + pause;
            while counter() < resume {
                core::hint::spin_loop();
            }
            let sent_at = counter();
            let [low, high] = halves(sent_at);
            let message = words([kind::ONEWAY, sequence, low, high]);
            if let Err(e) = channel.send(message.as_flattened(), TIMEOUT) {
                println!("bench: oneway sample {sequence}: send: {e}: FAILED");
                return false;
            }
            let rung_at = LAST_RING.load(Relaxed);
            // Answers to earlier, timed-out samples are skipped.
            let value = loop {
                match channel.recv(&mut reply, TIMEOUT) {
                    Ok(16) if word(&reply, 0) == kind::ONEWAY_RESULT => {
                        if word(&reply, 1) == sequence {
                            break word64(&reply, 2);
                        }
                    }
                    Ok(_) => {}
                    Err(Error::Timeout) => break LOST,
                    Err(e) => {
                        println!("bench: oneway sample {sequence}: receive: {e}: FAILED");
                        return false;
                    }
                }
            };
            if value == LOST {
                break;
            }
            if value != NOT_IDLE {
                *sample = sample_of(value.wrapping_sub(sent_at));
                *notified = sample_of(value.wrapping_sub(rung_at));
                break;
            }
            resent += 1;
        }
    }
    if resent > 0 {
        println!("bench: oneway: {resent} samples sent again (the echoer was not idle)");
    }
    report_histogram("oneway", &mut samples);
    report_histogram("notify", &mut notify);
    true
}

/// Round trips of an 8-byte message.
#[inline(never)]
pub(crate) fn bench_round_trips(channel: &mut Channel<'_, CellDoorbell>) -> bool {
    let mut samples = [LOST_SAMPLE; ROUND_TRIPS as usize];
    let mut echo = [0u8; 16];
    for (sequence, sample) in (0u32..).zip(samples.iter_mut()) {
        let message = words([kind::ROUND_TRIP, sequence]);
        let message = message.as_flattened();
        let start = counter();
        if let Err(e) = channel.send(message, TIMEOUT) {
            println!("bench: round trip {sequence}: send: {e}: FAILED");
            return false;
        }
        loop {
            match channel.recv(&mut echo, TIMEOUT) {
                // Word compares: a library memcmp would cost the
                // measured path some 50 instructions.
                Ok(8) if word(&echo, 0) == kind::ROUND_TRIP && word(&echo, 1) == sequence => {
                    *sample = sample_of(counter() - start);
                    break;
                }
                // An echo of an earlier, timed-out round trip.
                Ok(_) => {}
                Err(Error::Timeout) => break,
                Err(e) => {
                    println!("bench: round trip {sequence}: receive: {e}: FAILED");
                    return false;
                }
            }
        }
    }
    report_histogram("roundtrip", &mut samples);
    true
}

/// Streams [`STREAM_BYTES`] in messages of `size` bytes, checks the
/// echoer's count and checksum, then times the memcpy baseline.
#[inline(never)]
pub(crate) fn bench_throughput(channel: &mut Channel<'_, CellDoorbell>, size: usize) -> bool {
    let count = STREAM_BYTES / size;
    let mut message = Aligned([0u8; BENCH_MESSAGE]);
    let message = &mut message.0;
    for (index, byte) in message.iter_mut().enumerate() {
        *byte = (index * 7 + size) as u8;
    }
    let message = &mut message[..size];
    let start_message = words([kind::STREAM_START, size as u32, count as u32]);
    if let Err(e) = channel.send(start_message.as_flattened(), TIMEOUT) {
        println!("bench: throughput {size} B: start: {e}: FAILED");
        return false;
    }
    // Each message carries its number in its first and last words.
    let start = counter();
    for number in 0..count as u32 {
        number_message(message, number);
        if let Err(e) = channel.send(message, TIMEOUT) {
            println!("bench: throughput {size} B: message {number}: {e}: FAILED");
            return false;
        }
    }
    let mut reply = [0u8; 16];
    let answer = channel.recv(&mut reply, TIMEOUT);
    let ticks = counter() - start;
    match answer {
        Ok(16) if word(&reply, 0) == kind::STREAM_DONE => {}
        Ok(length) => {
            println!(
                "bench: throughput {size} B: unexpected answer of {length} bytes, kind {:#x}: FAILED",
                word(&reply, 0)
            );
            return false;
        }
        Err(e) => {
            println!("bench: throughput {size} B: no answer: {e}: FAILED");
            return false;
        }
    }
    let mut expected = 0u64;
    for number in 0..count as u32 {
        number_message(message, number);
        expected = checksum(expected, message);
    }
    let (received, sum) = (word(&reply, 1) as usize, word64(&reply, 2));
    if (received, sum) != (count, expected) {
        println!(
            "bench: throughput {size} B: the echoer got {received} messages, checksum {sum:#x}; sent {count}, checksum {expected:#x}: FAILED"
        );
        return false;
    }

    // The baseline: the same bytes, message by message, RAM to RAM.
    let mut copy = Aligned([0u8; BENCH_MESSAGE]);
    let copy = &mut copy.0[..size];
    let source = core::hint::black_box(&*message);
    let start = counter();
    for _ in 0..count {
        copy.copy_from_slice(source);
        core::hint::black_box(&mut *copy);
    }
    let memcpy_ticks = counter() - start;
    println!(
        "bench: throughput {size} B: {count} messages, {} bytes in {ticks} ticks; memcpy of the same bytes in {memcpy_ticks} ticks",
        count * size
    );
    true
}

/// A sample of `ticks`; [`LOST`] (and anything as large) is lost.
pub(crate) fn sample_of(ticks: u64) -> u32 {
    u32::try_from(ticks).unwrap_or(LOST_SAMPLE)
}

/// Prints `samples` as the probe prints its histograms
/// (`bench: hist <name> value:count … lost:N`, then a summary line).
pub(crate) fn report_histogram(name: &str, samples: &mut [u32]) {
    samples.sort_unstable();
    let lost = samples.iter().filter(|&&v| v == LOST_SAMPLE).count();
    let kept = &samples[..samples.len() - lost];
    baremetal_cells::hist::print_histogram("bench", name, kept, lost);
    let (min, max) = match kept {
        [first, .., last] => (*first, *last),
        [only] => (*only, *only),
        [] => (0, 0),
    };
    let sum: u64 = kept.iter().map(|&v| u64::from(v)).sum();
    let average = sum.checked_div(kept.len() as u64).unwrap_or(0);
    println!(
        "bench: {name} latency: {} samples, min {min}, avg {average}, max {max} ticks",
        samples.len()
    );
}

/// Answers the bench initiator: one-way samples with the latency it
/// saw, round trips with an echo, streams with their count and
/// checksum. Never faults, never stops.
#[inline(never)]
pub(crate) fn bench_echoer(device: &Device) {
    let remote = other(device.id);
    let Some(mut channel) = open(device, remote, BENCH_RING) else {
        return;
    };
    println!("bench: echoer ready");
    let mut buffer = Aligned([0u8; BENCH_MESSAGE]);
    let buffer = &mut buffer.0;
    loop {
        // A message already there when the echoer looks was not
        // taken from WFI; otherwise the doorbell's handler records
        // when it arrived.
        DOORBELL_ENTRY.store(0, Relaxed);
        WAITED.store(false, Relaxed);
        let length = match channel.recv(buffer, TIMEOUT) {
            Ok(length) => length,
            Err(Error::Timeout) => continue,
            Err(e) => {
                println!("bench: receive: {e}");
                continue;
            }
        };
        let idle = WAITED.load(Relaxed);
        let entry = DOORBELL_ENTRY.load(Relaxed);
        let message = &buffer[..length];
        let answer = match word(message, 0) {
            kind::ONEWAY => {
                let ticks = if !idle {
                    NOT_IDLE
                } else if entry == 0 {
                    LOST
                } else {
                    entry
                };
                let [low, high] = halves(ticks);
                channel.send(
                    words([kind::ONEWAY_RESULT, word(message, 1), low, high]).as_flattened(),
                    TIMEOUT,
                )
            }
            kind::ROUND_TRIP => channel.send(message, TIMEOUT),
            kind::STREAM_START => {
                let (size, count) = (word(message, 1), word(message, 2));
                let (received, sum) = receive_stream(&mut channel, count, buffer);
                let [low, high] = halves(sum);
                if received != count {
                    println!("bench: stream of {count} x {size} B: got {received} messages");
                }
                channel.send(
                    words([kind::STREAM_DONE, received, low, high]).as_flattened(),
                    TIMEOUT,
                )
            }
            other => {
                println!("bench: unknown message kind {other:#x} ({length} bytes)");
                Ok(())
            }
        };
        if let Err(e) = answer {
            println!("bench: send: {e}");
        }
    }
}

/// Receives `count` stream messages into a local buffer and sums their
/// words; returns how many came and the sum.
#[inline(never)]
pub(crate) fn receive_stream(
    channel: &mut Channel<'_, CellDoorbell>,
    count: u32,
    buffer: &mut [u8],
) -> (u32, u64) {
    let mut sum = 0u64;
    for received in 0..count {
        match channel.recv(buffer, TIMEOUT) {
            Ok(length) => sum = checksum(sum, &buffer[..length]),
            Err(e) => {
                println!("bench: stream message {received}: {e}");
                return (received, sum);
            }
        }
    }
    (count, sum)
}
