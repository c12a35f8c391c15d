//! Channels: a lock-free single-producer/single-consumer ring each way
//! between two peers, in the endpoint blocks of [`crate::layout`].
//!
//! The producer half ([`Sender`]) writes only its own endpoint block (ring
//! header, slots, producer index) and reads the consumer's index from the
//! peer's block. The consumer half ([`Receiver`]) writes only its cursor
//! and heartbeat in its own block and reads the peer's ring. [`Channel`]
//! is both halves and a [`Doorbell`].
//!
//! Everything read from the peer's block is checked before use; see the
//! crate documentation for the protocol and what a hostile peer can and
//! cannot do.
#![forbid(unsafe_code)]

use core::sync::atomic::{fence, Ordering};
use core::time::Duration;

use crate::doorbell::{block_on, Doorbell};
use crate::error::{ConfigError, Corruption, DecodeError, Error};
use crate::layout::{
    check_ring, endpoint_size, BOUND_EPOCH, EPOCH, FIRST_INDEX, FIRST_MESSAGE_INDEX, HEARTBEAT,
    MAGIC, MAGIC_OFFSET, OWNER, REMOTE, RX_EPOCH, RX_HEAD, SLOTS, SLOT_COUNT, SLOT_SIZE, STATE,
    TAIL, VERSION, VERSION_OFFSET,
};
use crate::message::{Message, MAX_MESSAGE_SIZE};
use crate::region::{PeerId, PeerState, Region, CACHE_LINE};
use crate::ring::occupancy;
use crate::shm::{
    ReadOnlyHeader, ReadOnlyRegion, ReadOnlySlots, SharedHeader, SharedRegion, SharedSlots, WORD,
};

const READY: u32 = PeerState::Ready.raw();

/// Where a channel's endpoint blocks are and how big the local TX ring is.
/// Both peers must agree on the offsets (the partitioning config fixes
/// them); each side picks its own TX ring geometry, which the other reads
/// from the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelConfig {
    /// The peer at the other end.
    pub remote_peer: PeerId,
    /// Offset of the local endpoint block in the local output section
    /// (a multiple of 64).
    pub local_offset: usize,
    /// Offset of the peer's endpoint block in the peer's output section
    /// (a multiple of 64).
    pub remote_offset: usize,
    /// Bytes per slot of the local TX ring, the 8-byte slot header
    /// included: a multiple of 8, at least 16. Messages carry up to
    /// `slot_size - 8` bytes.
    pub slot_size: u32,
    /// Slots of the local TX ring: a power of two.
    pub slot_count: u32,
    /// The doorbell vector used to interrupt the peer.
    pub vector: u16,
}

impl ChannelConfig {
    /// A channel to `remote_peer` with both endpoint blocks at the start of
    /// their output sections, 8 slots of 256 bytes (a block of 2304 bytes),
    /// vector 0.
    pub const fn new(remote_peer: PeerId) -> Self {
        ChannelConfig {
            remote_peer,
            local_offset: 0,
            remote_offset: 0,
            slot_size: 256,
            slot_count: 8,
            vector: 0,
        }
    }

    /// The size of the local endpoint block (see [`endpoint_size`]).
    pub const fn endpoint_size(&self) -> Option<usize> {
        endpoint_size(self.slot_size, self.slot_count)
    }
}

/// What [`Receiver::peer_liveness`] concludes about the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The hypervisor's state table does not show the peer as ready: it is
    /// reset, stopped, or still starting.
    Down(PeerState),
    /// The peer is ready but its heartbeat has not moved for longer than
    /// the allowed silence.
    Silent {
        /// How long the heartbeat has stood still, at least.
        for_at_least: Duration,
    },
    /// The peer is ready and its heartbeat moved within the allowed silence.
    Alive,
}

/// What both halves know about the link: the two endpoint blocks and who
/// is at each end.
#[derive(Clone, Copy, Debug)]
struct Link<'a> {
    /// The local endpoint block, exactly its size.
    local: SharedRegion<'a>,
    /// The peer's endpoint block, from its offset to the end of the peer's
    /// output section (its real size is known only from its header).
    remote: ReadOnlyRegion<'a>,
    /// The fixed part of `local`.
    local_header: SharedHeader<'a>,
    /// The fixed part of `remote`.
    remote_header: ReadOnlyHeader<'a>,
    local_peer: PeerId,
    remote_peer: PeerId,
    /// The local endpoint's epoch.
    epoch: u32,
    vector: u16,
}

impl Link<'_> {
    #[inline(always)]
    fn ring_peer(&self, doorbell: &impl Doorbell) -> Result<(), Error> {
        doorbell.ring(self.remote_peer, self.vector)
    }
}

/// A fresh epoch: not 0, not `previous`, and none of the values the peer
/// may still remember for this endpoint, so that the peer notices the new
/// life. At most four rounds.
fn next_epoch(previous: u32, remembered: [u32; 2]) -> u32 {
    let mut epoch = previous;
    loop {
        epoch = epoch.wrapping_add(1);
        if epoch != 0 && epoch != previous && !remembered.contains(&epoch) {
            return epoch;
        }
    }
}

/// Sets up the local endpoint block for `config` and returns the link.
fn open_link<'a>(region: &Region<'a>, config: &ChannelConfig) -> Result<Link<'a>, Error> {
    let local_peer = region.local_peer();
    if config.remote_peer == local_peer {
        return Err(ConfigError::SamePeer.into());
    }
    check_ring(config.slot_size, config.slot_count)?;
    if !config.local_offset.is_multiple_of(CACHE_LINE)
        || !config.remote_offset.is_multiple_of(CACHE_LINE)
    {
        return Err(ConfigError::EndpointAlignment.into());
    }
    let own = region.own_output_section();
    let size = config.endpoint_size();
    let local = match size {
        Some(size)
            if config
                .local_offset
                .checked_add(size)
                .is_some_and(|end| end <= own.len()) =>
        {
            own.subregion(config.local_offset, size)?
        }
        _ => {
            return Err(ConfigError::EndpointOutOfSection {
                offset: config.local_offset,
                size,
                section: own.len(),
            }
            .into())
        }
    };
    let section = region.output_section(config.remote_peer)?;
    let remote_fits = config
        .remote_offset
        .checked_add(SLOTS)
        .is_some_and(|end| end <= section.len());
    if !remote_fits {
        return Err(ConfigError::EndpointOutOfSection {
            offset: config.remote_offset,
            size: Some(SLOTS),
            section: section.len(),
        }
        .into());
    }
    let remote = section.subregion(config.remote_offset, section.len() - config.remote_offset)?;

    let epoch = next_epoch(
        local.load_u32(EPOCH)?,
        [remote.load_u32(RX_EPOCH)?, remote.load_u32(BOUND_EPOCH)?],
    );
    // Seqlock-style: INIT first, then (after a release fence) the rest, the
    // epoch last, then READY. A reader that sees any of the new words sees
    // INIT or the new epoch on its second look.
    local.store_u32(STATE, PeerState::Init.raw())?;
    fence(Ordering::Release);
    for offset in (0..SLOTS).step_by(WORD).filter(|&offset| offset != STATE) {
        local.store_u32(offset, 0)?;
    }
    let fields = [
        (MAGIC_OFFSET, MAGIC),
        (VERSION_OFFSET, VERSION),
        (OWNER, u32::from(local_peer.0)),
        (REMOTE, u32::from(config.remote_peer.0)),
        (SLOT_SIZE, config.slot_size),
        (SLOT_COUNT, config.slot_count),
        (FIRST_INDEX, FIRST_MESSAGE_INDEX),
        (TAIL, FIRST_MESSAGE_INDEX),
        (EPOCH, epoch),
    ];
    for (offset, value) in fields {
        local.store_u32(offset, value)?;
    }
    local.store_u32_release(STATE, READY)?;
    Ok(Link {
        local,
        remote,
        local_header: local.header()?,
        remote_header: remote.header()?,
        local_peer,
        remote_peer: config.remote_peer,
        epoch,
        vector: config.vector,
    })
}

/// Fails to compile for a message type larger than [`MAX_MESSAGE_SIZE`].
const fn assert_fits<M: Message>() {
    const {
        assert!(
            M::SIZE <= MAX_MESSAGE_SIZE,
            "Message::SIZE exceeds MAX_MESSAGE_SIZE"
        )
    };
}

/// Runs `f` on `len` zeroed bytes of a stack buffer no larger than needed
/// (`len` at most [`MAX_MESSAGE_SIZE`]). Zeroing a whole
/// [`MAX_MESSAGE_SIZE`] buffer for every small typed message would cost
/// more than the rest of the send: hundreds of stores, on memory that a
/// bare-metal cell with its MMU off sees as Device memory. `len` is a
/// `Message::SIZE`, so the branch is decided at compile time.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    const SMALL: usize = 64;
    const MEDIUM: usize = 512;
    if len <= SMALL {
        f(&mut [0; SMALL][..len])
    } else if len <= MEDIUM {
        f(&mut [0; MEDIUM][..len])
    } else {
        f(&mut [0; MAX_MESSAGE_SIZE][..len])
    }
}

/// The producer half: the local TX ring.
#[derive(Debug)]
pub struct Sender<'a> {
    link: Link<'a>,
    /// The local ring's slots.
    slots: SharedSlots<'a>,
    slot_count: u32,
    /// The producer index. The local copy is the authority; the shared word
    /// only publishes it.
    tail: u32,
    /// The consumer epoch the ring is bound to, 0 for none.
    bound: u32,
}

impl<'a> Sender<'a> {
    fn new(link: Link<'a>, config: &ChannelConfig) -> Result<Self, Error> {
        Ok(Sender {
            link,
            slots: SharedSlots::new(&link.local, SLOTS, config.slot_size, config.slot_count)?,
            slot_count: config.slot_count,
            tail: FIRST_MESSAGE_INDEX,
            bound: 0,
        })
    }

    /// The largest message this side can send, in bytes.
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// The number of slots of the TX ring.
    pub fn slot_count(&self) -> u32 {
        self.slot_count
    }

    /// Publishes `bytes` as the next message without ringing the peer (to
    /// batch several messages behind one doorbell; see [`Sender::notify`]).
    #[inline(always)]
    pub fn publish(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let max = self.capacity();
        if bytes.len() > max {
            return Err(Error::TooLong {
                len: bytes.len(),
                max,
            });
        }
        let head = self.consumer_index()?;
        let used =
            occupancy(self.tail, head, self.slot_count).ok_or(Corruption::ConsumerIndex {
                head,
                tail: self.tail,
            })?;
        if used >= self.slot_count {
            return Err(Error::Full);
        }
        // The slot comes from the local index only: whatever the peer
        // wrote, it lies inside the local ring.
        self.slots.write(self.tail, bytes);
        self.tail = self.tail.wrapping_add(1);
        self.link.local_header.store_release::<TAIL>(self.tail);
        Ok(())
    }

    /// Rings the peer's doorbell.
    #[inline(always)]
    pub fn notify(&self, doorbell: &impl Doorbell) -> Result<(), Error> {
        self.link.ring_peer(doorbell)
    }

    /// Sends `bytes` and rings the peer; `Err(Full)` if the ring is full.
    #[inline(always)]
    pub fn try_send(&mut self, bytes: &[u8], doorbell: &impl Doorbell) -> Result<(), Error> {
        self.publish(bytes)?;
        self.notify(doorbell)
    }

    /// Sends `bytes`, waiting up to `timeout` for room in the ring.
    pub fn send(
        &mut self,
        bytes: &[u8],
        timeout: Duration,
        doorbell: &impl Doorbell,
    ) -> Result<(), Error> {
        // A send usually finds room at once: that attempt is made here, so
        // that the waiting loop (and its deadline arithmetic) stays out of
        // the common path.
        match self.try_send(bytes, doorbell) {
            Ok(()) => Ok(()),
            Err(error) if error.is_transient() => {
                block_on(doorbell, timeout, || self.try_send(bytes, doorbell))
            }
            Err(error) => Err(error),
        }
    }

    /// Sends a typed message; `Err(Full)` if the ring is full.
    pub fn try_send_message<M: Message>(
        &mut self,
        message: &M,
        doorbell: &impl Doorbell,
    ) -> Result<(), Error> {
        assert_fits::<M>();
        with_scratch(M::SIZE, |bytes| {
            message.encode(bytes);
            self.try_send(bytes, doorbell)
        })
    }

    /// Sends a typed message, waiting up to `timeout` for room.
    pub fn send_message<M: Message>(
        &mut self,
        message: &M,
        timeout: Duration,
        doorbell: &impl Doorbell,
    ) -> Result<(), Error> {
        assert_fits::<M>();
        with_scratch(M::SIZE, |bytes| {
            message.encode(bytes);
            self.send(bytes, timeout, doorbell)
        })
    }

    /// The consumer index to count free slots against. Follows the
    /// consumer's lives: binds the ring to the consumer that attached,
    /// drops it when that consumer goes away.
    #[inline(always)]
    fn consumer_index(&mut self) -> Result<u32, Error> {
        // Pairs with the consumer's fence after it moves its index: either
        // this side sees the new index, or the consumer sees our last
        // producer index and rings us when it frees a full ring.
        fence(Ordering::SeqCst);
        // A seqlock read: the four words, then (after the fence) the state
        // and epoch again. If they did not change, the cursor words belong
        // to that life: a consumer re-opening writes INIT, then (after a
        // release fence) zeroes its cursor, and only then a new epoch.
        let remote_header = self.link.remote_header;
        let state = remote_header.load::<STATE>();
        let epoch = remote_header.load::<EPOCH>();
        let rx_epoch = remote_header.load::<RX_EPOCH>();
        let rx_head = remote_header.load::<RX_HEAD>();
        fence(Ordering::Acquire);
        let stable =
            remote_header.load::<STATE>() == state && remote_header.load::<EPOCH>() == epoch;
        if stable
            && state == READY
            && epoch == self.bound
            && self.bound != 0
            && rx_epoch == self.link.epoch
        {
            // The bound consumer, attached to this life of the ring.
            return Ok(rx_head);
        }
        self.consumer_changed(stable, state, epoch, rx_epoch, rx_head)
    }

    /// [`Sender::consumer_index`] when the consumer is not the bound one
    /// in a steady state: binds the ring to a consumer that attached,
    /// resets it when the bound one went away.
    #[cold]
    #[inline(never)]
    fn consumer_changed(
        &mut self,
        stable: bool,
        state: u32,
        epoch: u32,
        rx_epoch: u32,
        rx_head: u32,
    ) -> Result<u32, Error> {
        if !stable {
            return Err(Error::PeerNotReady);
        }
        let ready = state == READY && epoch != 0;
        if self.bound != 0 && (!ready || epoch != self.bound) {
            // The consumer this ring was bound to is gone (restarting or
            // restarted): its unread messages go with it.
            self.reset_ring()?;
        }
        if ready && rx_epoch == self.link.epoch {
            if self.bound == 0 {
                self.bound = epoch;
                self.link.local_header.store::<BOUND_EPOCH>(epoch);
            }
            Ok(rx_head)
        } else if self.bound != 0 {
            // The bound consumer is half-way through an update.
            Err(Error::PeerNotReady)
        } else {
            // Nobody has attached yet: a consumer that does starts at the
            // ring's first message.
            Ok(FIRST_MESSAGE_INDEX)
        }
    }

    /// Empties the ring and unbinds it.
    fn reset_ring(&mut self) -> Result<(), Error> {
        self.tail = FIRST_MESSAGE_INDEX;
        self.bound = 0;
        self.link.local_header.store::<TAIL>(self.tail);
        self.link.local_header.store_release::<BOUND_EPOCH>(0);
        Ok(())
    }
}

/// The peer's ring as the consumer last checked it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Attachment {
    /// The producer's epoch.
    epoch: u32,
    slot_count: u32,
}

/// The consumer half: reads the peer's ring, keeps the local cursor and
/// heartbeat, watches the peer's liveness.
#[derive(Debug)]
pub struct Receiver<'a> {
    link: Link<'a>,
    state_table: ReadOnlyRegion<'a>,
    attached: Option<Attachment>,
    /// The producer's ring while `attached` (checked against its block when
    /// attaching); a stand-in before.
    slots: ReadOnlySlots<'a>,
    /// The consumer index. The local copy is the authority.
    head: u32,
    heartbeat: u32,
    /// The peer's heartbeat when last seen to change, and when that was.
    last_beat: Option<(u32, Duration)>,
}

impl<'a> Receiver<'a> {
    fn new(link: Link<'a>, state_table: ReadOnlyRegion<'a>) -> Self {
        Receiver {
            link,
            state_table,
            attached: None,
            slots: ReadOnlySlots::none(),
            head: FIRST_MESSAGE_INDEX,
            heartbeat: 0,
            last_beat: None,
        }
    }

    /// The largest message the peer can send, once it has been seen.
    pub fn peer_capacity(&self) -> Option<usize> {
        self.attached.map(|_| self.slots.capacity())
    }

    /// Receives the next message into `buf` and returns its length.
    /// `Err(Empty)` if there is none, `Err(BufferTooSmall)` (and the message
    /// stays) if it does not fit.
    #[inline(always)]
    pub fn try_recv(&mut self, buf: &mut [u8], doorbell: &impl Doorbell) -> Result<usize, Error> {
        let (ring, len) = self.peek(doorbell)?;
        let Some(out) = buf.get_mut(..len) else {
            return Err(Error::BufferTooSmall {
                needed: len,
                capacity: buf.len(),
            });
        };
        self.slots.read(self.head, out);
        self.check_producer(ring)?;
        self.advance(ring, doorbell)?;
        Ok(len)
    }

    /// Receives the next message into `buf`, waiting up to `timeout`.
    pub fn recv(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
        doorbell: &impl Doorbell,
    ) -> Result<usize, Error> {
        block_on(doorbell, timeout, || self.try_recv(buf, doorbell))
    }

    /// Receives a typed message. A message of the wrong size is consumed
    /// and reported as [`Error::Decode`].
    pub fn try_recv_message<M: Message>(&mut self, doorbell: &impl Doorbell) -> Result<M, Error> {
        assert_fits::<M>();
        let (ring, len) = self.peek(doorbell)?;
        let result = if len == M::SIZE {
            // The outer `?`: a torn read returns at once, not consumed.
            with_scratch(M::SIZE, |bytes| {
                self.slots.read(self.head, bytes);
                self.check_producer(ring)?;
                Ok::<_, Error>(M::decode(bytes).map_err(Error::from))
            })?
        } else {
            Err(DecodeError::Length {
                expected: M::SIZE,
                found: len,
            }
            .into())
        };
        self.advance(ring, doorbell)?;
        result
    }

    /// Receives a typed message, waiting up to `timeout`.
    pub fn recv_message<M: Message>(
        &mut self,
        timeout: Duration,
        doorbell: &impl Doorbell,
    ) -> Result<M, Error> {
        block_on(doorbell, timeout, || self.try_recv_message(doorbell))
    }

    /// Bumps the local heartbeat, which the peer watches.
    pub fn heartbeat(&mut self) -> Result<(), Error> {
        self.heartbeat = self.heartbeat.wrapping_add(1);
        self.link.local_header.store::<HEARTBEAT>(self.heartbeat);
        Ok(())
    }

    /// The peer's entry in the hypervisor's state table.
    pub fn peer_state(&self) -> Result<PeerState, Error> {
        let raw = self
            .state_table
            .load_u32_acquire(self.link.remote_peer.index() * WORD)?;
        Ok(PeerState::from_raw(raw))
    }

    /// Whether the peer is alive at time `now` (the doorbell's clock): ready
    /// in the state table, and its heartbeat moved within `max_silence`
    /// (measured between calls of this method, so call it regularly).
    pub fn peer_liveness(
        &mut self,
        now: Duration,
        max_silence: Duration,
    ) -> Result<Liveness, Error> {
        let state = self.peer_state()?;
        if state != PeerState::Ready {
            self.last_beat = None;
            return Ok(Liveness::Down(state));
        }
        let beat = self.link.remote_header.load::<HEARTBEAT>();
        match self.last_beat {
            Some((last, since)) if last == beat => {
                let silence = now.saturating_sub(since);
                if silence > max_silence {
                    Ok(Liveness::Silent {
                        for_at_least: silence,
                    })
                } else {
                    Ok(Liveness::Alive)
                }
            }
            _ => {
                self.last_beat = Some((beat, now));
                Ok(Liveness::Alive)
            }
        }
    }

    /// The ring of the peer's current life, checked; attaches to it first
    /// if it is new.
    #[inline(always)]
    fn attach(&mut self) -> Result<Attachment, Error> {
        let remote_header = self.link.remote_header;
        let state = remote_header.load::<STATE>();
        let epoch = remote_header.load::<EPOCH>();
        fence(Ordering::Acquire);
        if state != READY || epoch == 0 {
            self.attached = None;
            return Err(Error::PeerNotReady);
        }
        match self.attached {
            Some(ring) if ring.epoch == epoch => Ok(ring),
            _ => self.attach_new(epoch),
        }
    }

    /// First contact with the producer's life `epoch` (or the producer
    /// restarted): reads and checks its header, makes sure it did not
    /// change under us, then moves the cursor to the ring's first message.
    #[cold]
    #[inline(never)]
    fn attach_new(&mut self, epoch: u32) -> Result<Attachment, Error> {
        let remote_header = self.link.remote_header;
        self.attached = None;
        let magic = remote_header.load::<MAGIC_OFFSET>();
        let version = remote_header.load::<VERSION_OFFSET>();
        let owner = remote_header.load::<OWNER>();
        let remote_id = remote_header.load::<REMOTE>();
        let slot_size = remote_header.load::<SLOT_SIZE>();
        let slot_count = remote_header.load::<SLOT_COUNT>();
        let first_index = remote_header.load::<FIRST_INDEX>();
        let bound = remote_header.load::<BOUND_EPOCH>();
        fence(Ordering::Acquire);
        if remote_header.load::<STATE>() != READY || remote_header.load::<EPOCH>() != epoch {
            return Err(Error::PeerNotReady);
        }
        if magic != MAGIC {
            return Err(Corruption::BadMagic(magic).into());
        }
        if version != VERSION {
            return Err(Corruption::BadVersion(version).into());
        }
        if owner != u32::from(self.link.remote_peer.0)
            || remote_id != u32::from(self.link.local_peer.0)
        {
            return Err(Corruption::PeerMismatch {
                owner,
                remote: remote_id,
            }
            .into());
        }
        let Ok(slots) = ReadOnlySlots::new(&self.link.remote, SLOTS, slot_size, slot_count) else {
            return Err(Corruption::BadGeometry {
                slot_size,
                slot_count,
            }
            .into());
        };
        if bound != 0 && bound != self.link.epoch {
            // Still bound to an earlier life of this endpoint: the producer
            // resets it on its next send.
            return Err(Error::PeerNotReady);
        }
        self.head = first_index;
        let local_header = self.link.local_header;
        local_header.store::<RX_HEAD>(self.head);
        local_header.store_release::<RX_EPOCH>(epoch);
        let ring = Attachment { epoch, slot_count };
        self.slots = slots;
        self.attached = Some(ring);
        Ok(ring)
    }

    /// The next message, at the head: the ring and the message's length,
    /// checked against the slot. A message too long for its slot is
    /// skipped and reported.
    #[inline(always)]
    fn peek(&mut self, doorbell: &impl Doorbell) -> Result<(Attachment, usize), Error> {
        let ring = self.attach()?;
        let remote_header = self.link.remote_header;
        let tail = remote_header.load_acquire::<TAIL>();
        let head = self.head;
        let used = occupancy(tail, head, ring.slot_count)
            .ok_or(Corruption::ProducerIndex { head, tail })?;
        if used == 0 {
            return Err(Error::Empty);
        }
        let len = self.slots.length(head);
        let max = self.slots.capacity();
        if len as usize > max {
            self.advance(ring, doorbell)?;
            return Err(Corruption::BadLength { len, max }.into());
        }
        Ok((ring, len as usize))
    }

    /// Whether the producer is still the life the message was read from;
    /// if not, what was read may be torn and is dropped.
    #[inline(always)]
    fn check_producer(&mut self, ring: Attachment) -> Result<(), Error> {
        fence(Ordering::Acquire);
        let remote_header = self.link.remote_header;
        if remote_header.load::<STATE>() != READY || remote_header.load::<EPOCH>() != ring.epoch {
            self.attached = None;
            return Err(Error::PeerNotReady);
        }
        Ok(())
    }

    /// Consumes the message at the head; rings the producer if the ring was
    /// full, since it may be waiting for room.
    #[inline(always)]
    fn advance(&mut self, ring: Attachment, doorbell: &impl Doorbell) -> Result<(), Error> {
        let consumed = self.head;
        self.head = consumed.wrapping_add(1);
        self.link.local_header.store_release::<RX_HEAD>(self.head);
        // Pairs with the producer's fence before it reads our index.
        fence(Ordering::SeqCst);
        let tail = self.link.remote_header.load::<TAIL>();
        if tail.wrapping_sub(consumed) >= ring.slot_count {
            self.link.ring_peer(doorbell)?;
        }
        Ok(())
    }
}

/// Both directions between two peers, with the doorbell that connects
/// them.
#[derive(Debug)]
pub struct Channel<'a, D: Doorbell> {
    sender: Sender<'a>,
    receiver: Receiver<'a>,
    doorbell: D,
}

impl<'a, D: Doorbell> Channel<'a, D> {
    /// Opens the local endpoint described by `config` in `region`:
    /// initialises the local endpoint block (a new epoch, an empty TX ring),
    /// then rings the peer so that it notices. The peer may open its end
    /// before or after.
    pub fn open(region: &Region<'a>, config: ChannelConfig, doorbell: D) -> Result<Self, Error> {
        let link = open_link(region, &config)?;
        let channel = Channel {
            sender: Sender::new(link, &config)?,
            receiver: Receiver::new(link, region.state_table()?),
            doorbell,
        };
        link.ring_peer(&channel.doorbell)?;
        Ok(channel)
    }

    /// The largest message this side can send, in bytes.
    pub fn capacity(&self) -> usize {
        self.sender.capacity()
    }

    /// The largest message the peer can send, once it has been seen.
    pub fn peer_capacity(&self) -> Option<usize> {
        self.receiver.peer_capacity()
    }

    /// The local endpoint's epoch (changes every time it is opened).
    pub fn epoch(&self) -> u32 {
        self.sender.link.epoch
    }

    /// The doorbell.
    pub fn doorbell(&self) -> &D {
        &self.doorbell
    }

    /// Sends `bytes`; `Err(Full)` without waiting if the ring is full.
    pub fn try_send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.sender.try_send(bytes, &self.doorbell)
    }

    /// Sends `bytes`, waiting up to `timeout` for room in the ring.
    pub fn send(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), Error> {
        self.sender.send(bytes, timeout, &self.doorbell)
    }

    /// Sends a typed message; `Err(Full)` without waiting.
    pub fn try_send_message<M: Message>(&mut self, message: &M) -> Result<(), Error> {
        self.sender.try_send_message(message, &self.doorbell)
    }

    /// Sends a typed message, waiting up to `timeout` for room.
    pub fn send_message<M: Message>(
        &mut self,
        message: &M,
        timeout: Duration,
    ) -> Result<(), Error> {
        self.sender.send_message(message, timeout, &self.doorbell)
    }

    /// Receives the next message into `buf`; `Err(Empty)` if there is none.
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.receiver.try_recv(buf, &self.doorbell)
    }

    /// Receives the next message into `buf`, waiting up to `timeout`.
    pub fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, Error> {
        self.receiver.recv(buf, timeout, &self.doorbell)
    }

    /// Receives a typed message; `Err(Empty)` if there is none.
    pub fn try_recv_message<M: Message>(&mut self) -> Result<M, Error> {
        self.receiver.try_recv_message(&self.doorbell)
    }

    /// Receives a typed message, waiting up to `timeout`.
    pub fn recv_message<M: Message>(&mut self, timeout: Duration) -> Result<M, Error> {
        self.receiver.recv_message(timeout, &self.doorbell)
    }

    /// Bumps the local heartbeat, which the peer watches.
    pub fn heartbeat(&mut self) -> Result<(), Error> {
        self.receiver.heartbeat()
    }

    /// The peer's entry in the hypervisor's state table.
    pub fn peer_state(&self) -> Result<PeerState, Error> {
        self.receiver.peer_state()
    }

    /// Whether the peer is alive now: ready in the state table and its
    /// heartbeat moved within `max_silence` (see
    /// [`Receiver::peer_liveness`]).
    pub fn peer_liveness(&mut self, max_silence: Duration) -> Result<Liveness, Error> {
        let now = self.doorbell.now();
        self.receiver.peer_liveness(now, max_silence)
    }

    /// The two halves and the doorbell, to use from different places (each
    /// half writes different words of the endpoint block).
    pub fn split(self) -> (Sender<'a>, Receiver<'a>, D) {
        (self.sender, self.receiver, self.doorbell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_epoch_skips_zero_and_remembered_values() {
        assert_eq!(next_epoch(0, [0, 0]), 1);
        assert_eq!(next_epoch(5, [6, 7]), 8);
        assert_eq!(next_epoch(u32::MAX, [0, 1]), 2);
        assert_eq!(next_epoch(u32::MAX - 1, [u32::MAX, 1]), 2);
        assert_eq!(next_epoch(3, [0, 0]), 4);
    }
}
