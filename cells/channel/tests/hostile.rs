//! A hostile or crashed peer: whatever it writes into its own output
//! section (and the consumer index it publishes), this side must not
//! panic, hang, return a message longer than a slot's payload, or write
//! outside its own endpoint block.

use std::time::{Duration, Instant};

use bulkhead_channel::layout::{self, FIRST_MESSAGE_INDEX};
use bulkhead_channel::mem::{two_peer_geometry, MemoryDoorbell, MemoryLink};
use bulkhead_channel::{Channel, ChannelConfig, Corruption, Error, PeerId};
use proptest::prelude::*;

const A: PeerId = PeerId(0);
const B: PeerId = PeerId(1);
const SECTION: usize = 4096;
const TIMEOUT: Duration = Duration::from_millis(2);

fn config(peer: PeerId) -> ChannelConfig {
    ChannelConfig {
        slot_size: 64,
        slot_count: 8,
        ..ChannelConfig::new(peer)
    }
}

fn open(link: &MemoryLink, local: PeerId) -> Channel<'_, MemoryDoorbell> {
    let remote = PeerId(1 - local.0);
    Channel::open(
        &link.region(local).unwrap(),
        config(remote),
        link.doorbell(local).unwrap(),
    )
    .unwrap()
}

/// Byte offset of `peer`'s endpoint block in the region.
fn block(link: &MemoryLink, peer: PeerId) -> usize {
    link.geometry().output_section_range(peer).unwrap().start
}

/// Drains the receiver as a victim would, checking every outcome: no
/// message longer than the attached ring's slot payload (or the peer's
/// whole output section), a bounded number of rounds, and a blocking
/// receive that returns on time.
fn drain_checked(victim: &mut Channel<'_, MemoryDoorbell>) -> Result<(), TestCaseError> {
    drain(victim)?;
    let mut buffer = vec![0u8; 2 * SECTION];
    let start = Instant::now();
    let result = victim.recv(&mut buffer, TIMEOUT);
    prop_assert!(
        start.elapsed() < Duration::from_secs(5),
        "recv took {:?}",
        start.elapsed()
    );
    if let Ok(len) = result {
        prop_assert!(len <= victim.peer_capacity().unwrap_or(0));
    }
    Ok(())
}

/// The non-blocking part of [`drain_checked`].
fn drain(victim: &mut Channel<'_, MemoryDoorbell>) -> Result<(), TestCaseError> {
    let mut buffer = vec![0u8; 2 * SECTION];
    for _ in 0..64 {
        match victim.try_recv(&mut buffer) {
            Ok(len) => {
                let capacity = victim.peer_capacity();
                prop_assert!(capacity.is_some(), "a message without an attached ring");
                prop_assert!(len <= capacity.unwrap(), "{len} > {capacity:?}");
                prop_assert!(len < SECTION);
            }
            Err(Error::Empty | Error::PeerNotReady | Error::Corrupt(_)) => {}
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
        let _ = victim.try_recv_message::<u64>();
    }
    Ok(())
}

/// Fills every word of the region outside `peer`'s endpoint block with a
/// pattern, except the fixed part of the other endpoint block (which must
/// stay well-formed for the test to mean something).
fn paint_outside(link: &MemoryLink, peer: PeerId, block_len: usize) {
    let memory = link.memory();
    let own = block(link, peer)..block(link, peer) + block_len;
    let other = PeerId(1 - peer.0);
    let header = block(link, other)..block(link, other) + layout::SLOTS;
    for offset in (0..memory.len()).step_by(4) {
        if !own.contains(&offset) && !header.contains(&offset) {
            memory
                .store_u32(offset, 0x5a5a_0000 ^ offset as u32)
                .unwrap();
        }
    }
}

/// Every word of the region outside `peer`'s endpoint block.
fn outside(link: &MemoryLink, peer: PeerId, block_len: usize) -> Vec<(usize, u32)> {
    let memory = link.memory();
    let own = block(link, peer)..block(link, peer) + block_len;
    (0..memory.len())
        .step_by(4)
        .filter(|offset| !own.contains(offset))
        .map(|offset| (offset, memory.load_u32(offset).unwrap()))
        .collect()
}

/// Words of an endpoint block worth hitting: the header, the indices and
/// the length words of the slots.
fn interesting_offset() -> impl Strategy<Value = usize> {
    prop_oneof![
        (0usize..layout::SLOTS / 4).prop_map(|word| word * 4),
        (0usize..8).prop_map(|slot| layout::SLOTS + slot * 64),
        (0usize..SECTION / 4).prop_map(|word| word * 4),
    ]
}

/// Values worth writing: small numbers, indices near the ring's, extremes.
fn interesting_value() -> impl Strategy<Value = u32> {
    prop_oneof![
        0u32..16,
        (0u32..32).prop_map(|delta| FIRST_MESSAGE_INDEX.wrapping_add(delta)),
        (0u32..32).prop_map(|delta| u32::MAX - delta),
        Just(layout::MAGIC),
        Just(2),
        any::<u32>(),
    ]
}

/// Garbage words from a seed (xorshift), biased towards the values that
/// reach deep into the checks: small numbers, indices near the ring's,
/// extremes.
struct Garbage(u64);

impl Garbage {
    fn word(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let low = self.0 as u32 % 32;
        match (self.0 >> 40) % 6 {
            0 => low,
            1 => FIRST_MESSAGE_INDEX.wrapping_add(low),
            2 => u32::MAX - low,
            3 => 2,
            4 => 64,
            _ => (self.0 >> 8) as u32,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The producer (A) sends, then scribbles over its own endpoint block;
    /// the consumer (B) keeps receiving.
    #[test]
    fn a_corrupted_ring_never_hurts_the_reader(
        sent in 0usize..10,
        received in 0usize..4,
        writes in prop::collection::vec((interesting_offset(), interesting_value()), 1..24),
    ) {
        let link = MemoryLink::new(two_peer_geometry(SECTION)).unwrap();
        let mut producer = open(&link, A);
        let mut victim = open(&link, B);
        for n in 0..sent {
            let _ = producer.try_send(&vec![n as u8; n * 7 % 57]);
        }
        for _ in 0..received {
            let _ = victim.try_recv_message::<u64>();
        }
        let memory = link.memory();
        let base = block(&link, A);
        for (offset, value) in writes {
            memory.store_u32(base + offset, value).unwrap();
            drain(&mut victim)?;
        }
        drain_checked(&mut victim)?;
    }

    /// The whole of the producer's output section is garbage from the
    /// start, ready flag and all.
    #[test]
    fn a_garbage_section_never_hurts_the_reader(seed in any::<u64>(), epoch in 1u32..4) {
        let link = MemoryLink::new(two_peer_geometry(SECTION)).unwrap();
        let mut victim = open(&link, B);
        let memory = link.memory();
        let base = block(&link, A);
        let mut garbage = Garbage(seed | 1);
        for offset in (0..SECTION).step_by(4) {
            memory.store_u32(base + offset, garbage.word()).unwrap();
        }
        memory.store_u32(base + layout::STATE, 2).unwrap();
        memory.store_u32(base + layout::EPOCH, epoch).unwrap();
        drain_checked(&mut victim)?;
        // Now with a valid-looking header around the garbage.
        for (offset, value) in [
            (layout::MAGIC_OFFSET, layout::MAGIC),
            (layout::VERSION_OFFSET, layout::VERSION),
            (layout::OWNER, 0),
            (layout::REMOTE, 1),
            (layout::BOUND_EPOCH, 0),
        ] {
            memory.store_u32(base + offset, value).unwrap();
        }
        memory.store_u32(base + layout::EPOCH, epoch + 1).unwrap();
        drain_checked(&mut victim)?;
        // And with a sound ring whose slots hold the garbage: every slot's
        // length word is checked against the payload.
        let first = garbage.word();
        for (offset, value) in [
            (layout::SLOT_SIZE, 64),
            (layout::SLOT_COUNT, 8),
            (layout::FIRST_INDEX, first),
            (layout::TAIL, first.wrapping_add(8)),
        ] {
            memory.store_u32(base + offset, value).unwrap();
        }
        memory.store_u32(base + layout::EPOCH, epoch + 2).unwrap();
        drain_checked(&mut victim)?;
        prop_assert_eq!(victim.peer_capacity(), Some(56));
    }

    /// The consumer (B) publishes any cursor and state it likes; the
    /// producer (A) never writes outside its own endpoint block and never
    /// panics.
    #[test]
    fn a_corrupted_consumer_cannot_steer_the_producer(
        writes in prop::collection::vec(
            (prop::sample::select(vec![
                layout::STATE, layout::EPOCH, layout::RX_EPOCH, layout::RX_HEAD,
            ]), interesting_value()),
            1..16,
        ),
        consumed in 0usize..8,
    ) {
        let link = MemoryLink::new(two_peer_geometry(SECTION)).unwrap();
        let mut producer = open(&link, A);
        let mut consumer = open(&link, B);
        let block_len = config(B).endpoint_size().unwrap();
        for n in 0..8u8 {
            let _ = producer.try_send(&[n; 56]);
        }
        for _ in 0..consumed {
            let _ = consumer.try_recv(&mut [0; 64]);
        }
        paint_outside(&link, A, block_len);
        let memory = link.memory();
        let base = block(&link, B);
        for (offset, value) in writes {
            memory.store_u32(base + offset, value).unwrap();
            let before = outside(&link, A, block_len);
            for n in 0..20u8 {
                match producer.try_send(&[n; 56]) {
                    Ok(()) | Err(Error::Full | Error::PeerNotReady | Error::Corrupt(_)) => {}
                    Err(other) => prop_assert!(false, "unexpected error {other:?}"),
                }
            }
            prop_assert!(outside(&link, A, block_len) == before, "the producer wrote outside its block");
        }
        let before = outside(&link, A, block_len);
        let start = Instant::now();
        let _ = producer.send(&[1; 56], TIMEOUT);
        prop_assert!(start.elapsed() < Duration::from_secs(5));
        prop_assert!(outside(&link, A, block_len) == before, "the producer wrote outside its block");
    }
}

/// The same, spelled out: consumer indices that would put the producer's
/// next slot anywhere but in its ring are refused, and nothing outside the
/// producer's block changes.
#[test]
fn a_bogus_consumer_index_is_refused_and_writes_stay_in_the_block() {
    let link = MemoryLink::new(two_peer_geometry(SECTION)).unwrap();
    let mut producer = open(&link, A);
    let mut consumer = open(&link, B);
    let block_len = config(B).endpoint_size().unwrap();
    producer.try_send(b"first").unwrap();
    consumer.try_recv(&mut [0; 64]).unwrap();
    producer.try_send(b"bind").unwrap();
    paint_outside(&link, A, block_len);
    let tail = FIRST_MESSAGE_INDEX.wrapping_add(2);
    let memory = link.memory();
    let head_word = block(&link, B) + layout::RX_HEAD;
    for head in [
        tail.wrapping_add(1),
        tail.wrapping_sub(9),
        tail.wrapping_sub(1 << 31),
        u32::MAX,
        0,
    ] {
        memory.store_u32(head_word, head).unwrap();
        let before = outside(&link, A, block_len);
        assert_eq!(
            producer.try_send(b"x"),
            Err(Error::Corrupt(Corruption::ConsumerIndex { head, tail })),
            "head {head}"
        );
        assert_eq!(outside(&link, A, block_len), before);
    }
    // A head exactly a ring behind is a full ring, not an error.
    memory.store_u32(head_word, tail.wrapping_sub(8)).unwrap();
    let before = outside(&link, A, block_len);
    assert_eq!(producer.try_send(b"x"), Err(Error::Full));
    assert_eq!(outside(&link, A, block_len), before);
}

/// Specific corruptions and the errors they give.
#[test]
fn corruptions_are_named() {
    let link = MemoryLink::new(two_peer_geometry(SECTION)).unwrap();
    let mut producer = open(&link, A);
    let mut victim = open(&link, B);
    producer.try_send(b"hello").unwrap();
    let memory = link.memory();
    let base = block(&link, A);
    let mut buffer = [0u8; 256];

    // A length word beyond the slot payload: skipped and reported.
    let slot = base + layout::SLOTS;
    memory.store_u32(slot, 57).unwrap();
    assert_eq!(
        victim.try_recv(&mut buffer),
        Err(Error::Corrupt(Corruption::BadLength { len: 57, max: 56 }))
    );
    assert_eq!(victim.try_recv(&mut buffer), Err(Error::Empty));

    // A producer index more than a ring ahead.
    let tail = memory.load_u32(base + layout::TAIL).unwrap();
    memory
        .store_u32(base + layout::TAIL, tail.wrapping_add(9))
        .unwrap();
    assert_eq!(
        victim.try_recv(&mut buffer),
        Err(Error::Corrupt(Corruption::ProducerIndex {
            head: tail,
            tail: tail.wrapping_add(9)
        }))
    );
    memory.store_u32(base + layout::TAIL, tail).unwrap();

    // Header damage shows when the reader (re)attaches: a new epoch.
    let reattach = |offset: usize, value: u32| {
        memory.store_u32(base + offset, value).unwrap();
        let epoch = memory.load_u32(base + layout::EPOCH).unwrap();
        memory.store_u32(base + layout::EPOCH, epoch + 1).unwrap();
    };
    reattach(layout::MAGIC_OFFSET, 0x1234);
    assert_eq!(
        victim.try_recv(&mut buffer),
        Err(Error::Corrupt(Corruption::BadMagic(0x1234)))
    );
    reattach(layout::MAGIC_OFFSET, layout::MAGIC);
    reattach(layout::VERSION_OFFSET, 9);
    assert_eq!(
        victim.try_recv(&mut buffer),
        Err(Error::Corrupt(Corruption::BadVersion(9)))
    );
    reattach(layout::VERSION_OFFSET, layout::VERSION);
    reattach(layout::REMOTE, 7);
    assert_eq!(
        victim.try_recv(&mut buffer),
        Err(Error::Corrupt(Corruption::PeerMismatch {
            owner: 0,
            remote: 7
        }))
    );
    reattach(layout::REMOTE, 1);
    reattach(layout::SLOT_COUNT, 128);
    assert_eq!(
        victim.try_recv(&mut buffer),
        Err(Error::Corrupt(Corruption::BadGeometry {
            slot_size: 64,
            slot_count: 128
        })),
        "128 slots of 64 bytes do not fit a 4 KiB section"
    );
    reattach(layout::SLOT_COUNT, 6);
    assert_eq!(
        victim.try_recv(&mut buffer),
        Err(Error::Corrupt(Corruption::BadGeometry {
            slot_size: 64,
            slot_count: 6
        }))
    );
    reattach(layout::SLOT_COUNT, 8);
    reattach(layout::STATE, 1);
    assert_eq!(victim.try_recv(&mut buffer), Err(Error::PeerNotReady));
}
