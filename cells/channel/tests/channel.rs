//! Channels between two endpoints on one in-memory region: the protocol
//! with well-behaved peers (sending, receiving, full and empty rings, the
//! index wrap, restarts, liveness), on one thread and on two.

use std::time::{Duration, Instant};

use bulkhead_channel::layout::{self, FIRST_MESSAGE_INDEX};
use bulkhead_channel::mem::{two_peer_geometry, MemoryDoorbell, MemoryLink};
use bulkhead_channel::{
    Channel, ChannelConfig, ConfigError, DecodeError, Doorbell, Error, Liveness, PeerId, PeerState,
    Wakeup,
};

const A: PeerId = PeerId(0);
const B: PeerId = PeerId(1);
const SHORT: Duration = Duration::from_millis(20);
const LONG: Duration = Duration::from_secs(10);

fn link() -> MemoryLink {
    MemoryLink::new(two_peer_geometry(8192)).unwrap()
}

/// Four slots of 32 bytes (24 bytes of payload).
fn small(peer: PeerId) -> ChannelConfig {
    ChannelConfig {
        slot_size: 32,
        slot_count: 4,
        ..ChannelConfig::new(peer)
    }
}

fn open(link: &MemoryLink, local: PeerId, config: ChannelConfig) -> Channel<'_, MemoryDoorbell> {
    Channel::open(
        &link.region(local).unwrap(),
        config,
        link.doorbell(local).unwrap(),
    )
    .unwrap()
}

/// Both ends, A then B, with small rings.
fn pair(link: &MemoryLink) -> (Channel<'_, MemoryDoorbell>, Channel<'_, MemoryDoorbell>) {
    (open(link, A, small(B)), open(link, B, small(A)))
}

fn recv_vec(channel: &mut Channel<'_, MemoryDoorbell>) -> Result<Vec<u8>, Error> {
    let mut buffer = [0u8; 256];
    let len = channel.try_recv(&mut buffer)?;
    Ok(buffer[..len].to_vec())
}

/// The word at `offset` of `peer`'s endpoint block (at offset 0 of its
/// output section).
fn block_word(link: &MemoryLink, peer: PeerId, offset: usize) -> u32 {
    let base = link.geometry().output_section_range(peer).unwrap().start;
    link.memory().load_u32(base + offset).unwrap()
}

#[test]
fn messages_travel_both_ways() {
    let link = link();
    let (mut a, mut b) = pair(&link);
    a.try_send(b"hello").unwrap();
    a.try_send(b"").unwrap();
    b.try_send(b"world!").unwrap();
    assert_eq!(recv_vec(&mut b).unwrap(), b"hello");
    assert_eq!(recv_vec(&mut b).unwrap(), b"");
    assert_eq!(recv_vec(&mut b), Err(Error::Empty));
    assert_eq!(recv_vec(&mut a).unwrap(), b"world!");
    assert_eq!(recv_vec(&mut a), Err(Error::Empty));
    assert_eq!(a.peer_capacity(), Some(24));
    assert_eq!(a.capacity(), 24);
}

#[test]
fn the_endpoint_block_is_laid_out_as_documented() {
    let link = link();
    let (a, _b) = pair(&link);
    let expected = [
        (layout::MAGIC_OFFSET, u32::from_le_bytes(*b"BHCH")),
        (layout::VERSION_OFFSET, 2),
        (layout::STATE, 2),
        (layout::EPOCH, a.epoch()),
        (layout::OWNER, 0),
        (layout::REMOTE, 1),
        (layout::SLOT_SIZE, 32),
        (layout::SLOT_COUNT, 4),
        (layout::FIRST_INDEX, FIRST_MESSAGE_INDEX),
        (layout::BOUND_EPOCH, 0),
        (layout::TAIL, FIRST_MESSAGE_INDEX),
        (layout::RX_EPOCH, 0),
        (layout::HEARTBEAT, 0),
    ];
    for (offset, value) in expected {
        assert_eq!(block_word(&link, A, offset), value, "offset {offset:#x}");
    }
    assert_ne!(a.epoch(), 0);
}

#[test]
fn a_full_ring_refuses_and_an_empty_one_says_so() {
    let link = link();
    let (mut a, mut b) = pair(&link);
    assert_eq!(recv_vec(&mut b), Err(Error::Empty));
    for n in 0..4u8 {
        a.try_send(&[n]).unwrap();
    }
    assert_eq!(a.try_send(&[4]), Err(Error::Full));
    assert_eq!(a.send(&[4], SHORT), Err(Error::Timeout));
    assert_eq!(recv_vec(&mut b).unwrap(), [0]);
    a.try_send(&[4]).unwrap();
    assert_eq!(a.try_send(&[5]), Err(Error::Full));
    for n in 1..5u8 {
        assert_eq!(recv_vec(&mut b).unwrap(), [n]);
    }
    assert_eq!(recv_vec(&mut b), Err(Error::Empty));
}

#[test]
fn indices_wrap_around_u32() {
    let link = link();
    let (mut a, mut b) = pair(&link);
    // The ring starts 256 messages before the wrap; go well past it, with
    // the ring alternately full and empty.
    let mut sent = 0u32;
    let mut received = 0u32;
    while received < 1000 {
        while a.try_send(&sent.to_le_bytes()).is_ok() {
            sent += 1;
        }
        while let Ok(message) = recv_vec(&mut b) {
            assert_eq!(message, received.to_le_bytes());
            received += 1;
        }
    }
    assert_eq!(sent, received);
    let tail = block_word(&link, A, layout::TAIL);
    assert_eq!(tail, FIRST_MESSAGE_INDEX.wrapping_add(sent));
    assert!(tail < 1000, "the producer index wrapped: {tail}");
    assert_eq!(block_word(&link, B, layout::RX_HEAD), tail);
}

#[test]
fn message_size_limits() {
    let link = link();
    let (mut a, mut b) = pair(&link);
    assert_eq!(
        a.try_send(&[0; 25]),
        Err(Error::TooLong { len: 25, max: 24 })
    );
    a.try_send(&[7; 24]).unwrap();
    let mut short = [0u8; 10];
    assert_eq!(
        b.try_recv(&mut short),
        Err(Error::BufferTooSmall {
            needed: 24,
            capacity: 10
        })
    );
    // The message stayed.
    assert_eq!(recv_vec(&mut b).unwrap(), [7; 24]);
}

#[test]
fn typed_messages() {
    let link = link();
    let (mut a, mut b) = pair(&link);
    a.try_send_message(&0xdead_beefu32).unwrap();
    a.try_send_message(&[1u8, 2, 3]).unwrap();
    a.try_send_message(&7u16).unwrap();
    assert_eq!(b.try_recv_message::<u32>(), Ok(0xdead_beef));
    assert_eq!(b.recv_message::<[u8; 3]>(SHORT), Ok([1, 2, 3]));
    // A message of the wrong size is consumed and reported.
    assert_eq!(
        b.try_recv_message::<u64>(),
        Err(Error::Decode(DecodeError::Length {
            expected: 8,
            found: 2
        }))
    );
    assert_eq!(b.try_recv_message::<u64>(), Err(Error::Empty));
}

#[test]
fn blocking_calls_time_out() {
    let link = link();
    let (mut a, mut b) = pair(&link);
    let mut buffer = [0; 64];
    let start = Instant::now();
    assert_eq!(b.recv(&mut buffer, SHORT), Err(Error::Timeout));
    let waited = start.elapsed();
    assert!(waited >= SHORT && waited < LONG, "waited {waited:?}");
    a.try_send(b"x").unwrap();
    assert_eq!(b.recv(&mut buffer, SHORT), Ok(1));
    assert_eq!(b.recv(&mut buffer, Duration::ZERO), Err(Error::Timeout));
}

#[test]
fn a_peer_that_is_not_open_yet() {
    let link = link();
    let mut a = open(&link, A, small(B));
    assert_eq!(recv_vec(&mut a), Err(Error::PeerNotReady));
    // Messages wait in the ring for the consumer to come.
    a.try_send(b"early").unwrap();
    let mut b = open(&link, B, small(A));
    assert_eq!(recv_vec(&mut b).unwrap(), b"early");
    assert_eq!(recv_vec(&mut a), Err(Error::Empty));
}

#[test]
fn a_restarted_producer_starts_over() {
    let link = link();
    let (a, mut b) = pair(&link);
    let first = a.epoch();
    let mut a = a;
    a.try_send(b"old 1").unwrap();
    a.try_send(b"old 2").unwrap();
    assert_eq!(recv_vec(&mut b).unwrap(), b"old 1");
    drop(a);
    let mut a = open(&link, A, small(B));
    assert_ne!(a.epoch(), first);
    // The old life's unread message is gone with it.
    assert_eq!(recv_vec(&mut b), Err(Error::Empty));
    a.try_send(b"new").unwrap();
    assert_eq!(recv_vec(&mut b).unwrap(), b"new");
    assert_eq!(recv_vec(&mut b), Err(Error::Empty));
}

#[test]
fn a_restarted_consumer_gets_only_new_messages() {
    let link = link();
    let (mut a, mut b) = pair(&link);
    a.try_send(b"one").unwrap();
    assert_eq!(recv_vec(&mut b).unwrap(), b"one");
    // The producer sees the consumer attached and binds its ring to it.
    a.try_send(b"two").unwrap();
    a.try_send(b"three").unwrap();
    drop(b);
    let mut b = open(&link, B, small(A));
    // The ring still serves the previous life until the producer notices.
    assert_eq!(recv_vec(&mut b), Err(Error::PeerNotReady));
    a.try_send(b"four").unwrap();
    assert_eq!(recv_vec(&mut b).unwrap(), b"four");
    assert_eq!(recv_vec(&mut b), Err(Error::Empty));
}

#[test]
fn peer_state_and_liveness() {
    let link = link();
    let (mut a, mut b) = pair(&link);
    let silence = Duration::from_millis(30);
    assert_eq!(a.peer_state(), Ok(PeerState::Reset));
    assert_eq!(
        a.peer_liveness(silence),
        Ok(Liveness::Down(PeerState::Reset))
    );
    link.set_state(B, PeerState::Init).unwrap();
    assert_eq!(
        a.peer_liveness(silence),
        Ok(Liveness::Down(PeerState::Init))
    );
    link.set_state(B, PeerState::Ready).unwrap();
    assert_eq!(a.peer_state(), Ok(PeerState::Ready));
    assert_eq!(a.peer_liveness(silence), Ok(Liveness::Alive));
    b.heartbeat().unwrap();
    assert_eq!(a.peer_liveness(silence), Ok(Liveness::Alive));
    std::thread::sleep(silence * 2);
    match a.peer_liveness(silence) {
        Ok(Liveness::Silent { for_at_least }) => assert!(for_at_least > silence),
        other => panic!("expected silence, got {other:?}"),
    }
    b.heartbeat().unwrap();
    assert_eq!(a.peer_liveness(silence), Ok(Liveness::Alive));
    assert_eq!(block_word(&link, B, layout::HEARTBEAT), 2);
    link.set_state(B, PeerState::Reset).unwrap();
    assert_eq!(
        a.peer_liveness(silence),
        Ok(Liveness::Down(PeerState::Reset))
    );
}

#[test]
fn a_state_change_interrupts_the_other_peers() {
    let link = link();
    let doorbell = link.doorbell(A).unwrap();
    assert_eq!(doorbell.wait(Duration::ZERO), Ok(Wakeup::Timeout));
    link.set_state(B, PeerState::Ready).unwrap();
    assert_eq!(doorbell.wait(SHORT), Ok(Wakeup::Interrupt));
    // Latched once, reported once; writing the same state again is quiet.
    link.set_state(B, PeerState::Ready).unwrap();
    assert_eq!(doorbell.wait(Duration::ZERO), Ok(Wakeup::Timeout));
}

#[test]
fn bad_configurations_are_refused() {
    let link = link();
    let region = link.region(A).unwrap();
    let doorbell = || link.doorbell(A).unwrap();
    let attempt = |config| Channel::open(&region, config, doorbell()).map(|_| ());
    assert_eq!(attempt(small(A)), Err(Error::Config(ConfigError::SamePeer)));
    assert_eq!(
        attempt(small(PeerId(2))),
        Err(Error::Config(ConfigError::NoSuchPeer(PeerId(2))))
    );
    assert_eq!(
        attempt(ChannelConfig {
            local_offset: 32,
            ..small(B)
        }),
        Err(Error::Config(ConfigError::EndpointAlignment))
    );
    assert_eq!(
        attempt(ChannelConfig {
            slot_count: 3,
            ..small(B)
        }),
        Err(Error::Config(ConfigError::SlotCount(3)))
    );
    assert_eq!(
        attempt(ChannelConfig {
            slot_size: 30,
            ..small(B)
        }),
        Err(Error::Config(ConfigError::SlotSize(30)))
    );
    assert_eq!(
        attempt(ChannelConfig {
            slot_size: 1024,
            slot_count: 8,
            ..small(B)
        }),
        Err(Error::Config(ConfigError::EndpointOutOfSection {
            offset: 0,
            size: Some(0x100 + 8192),
            section: 8192
        }))
    );
    assert_eq!(
        attempt(ChannelConfig {
            remote_offset: 8192,
            ..small(B)
        }),
        Err(Error::Config(ConfigError::EndpointOutOfSection {
            offset: 8192,
            size: Some(0x100),
            section: 8192
        }))
    );
}

#[test]
fn several_channels_share_an_output_section() {
    let link = MemoryLink::new(bulkhead_channel::Geometry {
        max_peers: 3,
        state_table_size: 64,
        common_section_size: 0,
        output_section_size: 8192,
    })
    .unwrap();
    let c = PeerId(2);
    let at = |peer, local_offset, remote_offset| ChannelConfig {
        local_offset,
        remote_offset,
        ..small(peer)
    };
    // A keeps its endpoint for B at 0 and for C at 1024; B and C keep
    // theirs for A at 0.
    let mut ab = open(&link, A, at(B, 0, 0));
    let mut ac = open(&link, A, at(c, 1024, 0));
    let mut ba = open(&link, B, at(A, 0, 0));
    let mut ca = open(&link, c, at(A, 0, 1024));
    ab.try_send(b"to b").unwrap();
    ac.try_send(b"to c").unwrap();
    assert_eq!(recv_vec(&mut ba).unwrap(), b"to b");
    assert_eq!(recv_vec(&mut ca).unwrap(), b"to c");
    ca.try_send(b"from c").unwrap();
    assert_eq!(recv_vec(&mut ac).unwrap(), b"from c");
    assert_eq!(recv_vec(&mut ab), Err(Error::Empty));
}

#[test]
fn two_threads_stream_in_order() {
    const COUNT: u32 = 20_000;
    let link = link();
    let (mut a, mut b) = pair(&link);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for n in 0..COUNT {
                a.send_message(&n, LONG).unwrap();
            }
            // Wait for the consumer's acknowledgement of the last one.
            assert_eq!(a.recv_message::<u32>(LONG), Ok(COUNT - 1));
        });
        for n in 0..COUNT {
            assert_eq!(b.recv_message::<u32>(LONG), Ok(n));
        }
        b.send_message(&(COUNT - 1), LONG).unwrap();
    });
}

#[test]
fn two_threads_echo_with_split_halves() {
    const COUNT: u64 = 5_000;
    let link = link();
    let (a, b) = pair(&link);
    let (mut a_tx, mut a_rx, rx_bell) = a.split();
    // One waiter per doorbell: the sending thread takes its own.
    let tx_bell = link.doorbell(A).unwrap();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut b = b;
            for _ in 0..COUNT {
                let n: u64 = b.recv_message(LONG).unwrap();
                b.send_message(&(n * 2), LONG).unwrap();
            }
        });
        // The sender and the receiver of A on different threads.
        scope.spawn(move || {
            for n in 0..COUNT {
                a_tx.send_message(&n, LONG, &tx_bell).unwrap();
            }
        });
        for n in 0..COUNT {
            assert_eq!(a_rx.recv_message::<u64>(LONG, &rx_bell), Ok(n * 2));
        }
    });
}

/// A doorbell that always claims an interrupt: a peer ringing without
/// pause.
struct Storm(MemoryDoorbell);

impl Doorbell for Storm {
    fn ring(&self, peer: PeerId, vector: u16) -> Result<(), Error> {
        self.0.ring(peer, vector)
    }

    fn wait(&self, _timeout: Duration) -> Result<Wakeup, Error> {
        Ok(Wakeup::Interrupt)
    }

    fn now(&self) -> Duration {
        self.0.now()
    }
}

#[test]
fn a_doorbell_storm_does_not_keep_recv_waiting() {
    let link = link();
    let region = link.region(A).unwrap();
    let mut a = Channel::open(&region, small(B), Storm(link.doorbell(A).unwrap())).unwrap();
    let _b = open(&link, B, small(A));
    let mut buffer = [0; 64];
    let start = Instant::now();
    assert_eq!(a.recv(&mut buffer, SHORT), Err(Error::Timeout));
    assert!(start.elapsed() < LONG);
}
