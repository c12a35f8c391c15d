//! The errors of the channel library: one [`Error`] for every operation,
//! with the detail of a bad configuration in [`ConfigError`] and of bad
//! shared memory in [`Corruption`].
//!
//! The fault model: [`Error::Corrupt`] means the *peer* broke the protocol
//! (or crashed half-way through writing); the local side stays safe and
//! can keep going. [`Error::Config`] and [`Error::Access`] mean the *local*
//! layout is wrong, which no retry fixes.
#![forbid(unsafe_code)]

use core::fmt;

use crate::region::PeerId;
use crate::shm::AccessError;

/// Everything a channel operation can fail with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The ring is full: the peer has not consumed enough messages yet.
    Full,
    /// No message is waiting.
    Empty,
    /// The wait timed out.
    Timeout,
    /// The peer's endpoint is not ready: not opened yet, re-initialising, or
    /// its ring is still bound to an earlier life of this endpoint.
    PeerNotReady,
    /// A message of `len` bytes does not fit a slot payload of `max` bytes.
    TooLong {
        /// The message length.
        len: usize,
        /// The payload capacity of a slot.
        max: usize,
    },
    /// The next message has `needed` bytes, the buffer only `capacity`; the
    /// message stays in the ring.
    BufferTooSmall {
        /// The length of the waiting message.
        needed: usize,
        /// The length of the buffer that was passed.
        capacity: usize,
    },
    /// A typed message could not be decoded (it has been consumed).
    Decode(DecodeError),
    /// The peer's shared memory breaks the protocol.
    Corrupt(Corruption),
    /// The local layout or configuration is invalid.
    Config(ConfigError),
    /// A shared-memory access fell outside its region.
    Access(AccessError),
    /// The doorbell backend failed, with a backend-specific code (an `errno`
    /// on Linux).
    Doorbell(i32),
}

impl Error {
    /// Whether waiting (on the doorbell) may make the operation succeed:
    /// the ring is full or empty, or the peer is not ready yet.
    pub const fn is_transient(&self) -> bool {
        matches!(self, Error::Full | Error::Empty | Error::PeerNotReady)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Full => f.write_str("the ring is full"),
            Error::Empty => f.write_str("no message is waiting"),
            Error::Timeout => f.write_str("the wait timed out"),
            Error::PeerNotReady => f.write_str("the peer's endpoint is not ready"),
            Error::TooLong { len, max } => write!(
                f,
                "a message of {len} bytes does not fit a slot payload of {max} bytes"
            ),
            Error::BufferTooSmall { needed, capacity } => write!(
                f,
                "the next message has {needed} bytes, the buffer only {capacity}"
            ),
            Error::Decode(error) => write!(f, "cannot decode the message: {error}"),
            Error::Corrupt(corruption) => {
                write!(f, "the peer's shared memory is corrupt: {corruption}")
            }
            Error::Config(error) => write!(f, "invalid channel configuration: {error}"),
            Error::Access(error) => write!(f, "shared-memory access refused: {error}"),
            Error::Doorbell(code) => write!(f, "the doorbell backend failed (code {code})"),
        }
    }
}

impl core::error::Error for Error {}

impl From<AccessError> for Error {
    fn from(error: AccessError) -> Self {
        Error::Access(error)
    }
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Error::Config(error)
    }
}

impl From<Corruption> for Error {
    fn from(corruption: Corruption) -> Self {
        Error::Corrupt(corruption)
    }
}

impl From<DecodeError> for Error {
    fn from(error: DecodeError) -> Self {
        Error::Decode(error)
    }
}

/// What is wrong with the peer's shared memory. Every value read from a
/// peer's output section is checked; a failed check ends up here instead of
/// in a panic or an out-of-bounds access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The endpoint header has magic `0x{0:08x}`, not the channel magic.
    BadMagic(u32),
    /// The endpoint header has layout version {0}, which this library does
    /// not speak.
    BadVersion(u32),
    /// The endpoint header says it belongs to peer {owner} talking to peer
    /// {remote}, not to the expected pair.
    PeerMismatch {
        /// The owner recorded in the header.
        owner: u32,
        /// The remote peer recorded in the header.
        remote: u32,
    },
    /// The ring geometry in the header is invalid or does not fit the
    /// peer's output section.
    BadGeometry {
        /// The slot size recorded in the header.
        slot_size: u32,
        /// The slot count recorded in the header.
        slot_count: u32,
    },
    /// The producer index is more than a ring ahead of (or behind) the
    /// consumer index.
    ProducerIndex {
        /// The consumer index (local).
        head: u32,
        /// The producer index (read from the peer).
        tail: u32,
    },
    /// The consumer index read from the peer is ahead of the producer index
    /// or more than a ring behind it.
    ConsumerIndex {
        /// The consumer index (read from the peer).
        head: u32,
        /// The producer index (local).
        tail: u32,
    },
    /// A slot holds a message of {len} bytes, longer than the slot payload
    /// of {max} bytes (the message has been skipped).
    BadLength {
        /// The length word of the slot.
        len: u32,
        /// The payload capacity of the slot.
        max: usize,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::BadMagic(magic) => {
                write!(f, "endpoint magic 0x{magic:08x} is not the channel magic")
            }
            Corruption::BadVersion(version) => {
                write!(f, "endpoint layout version {version} is not supported")
            }
            Corruption::PeerMismatch { owner, remote } => write!(
                f,
                "endpoint belongs to peer {owner} talking to peer {remote}, not to this pair"
            ),
            Corruption::BadGeometry {
                slot_size,
                slot_count,
            } => write!(
                f,
                "ring of {slot_count} slots of {slot_size} bytes is invalid or does not fit"
            ),
            Corruption::ProducerIndex { head, tail } => write!(
                f,
                "producer index {tail} is not within one ring of consumer index {head}"
            ),
            Corruption::ConsumerIndex { head, tail } => write!(
                f,
                "consumer index {head} is not within one ring behind producer index {tail}"
            ),
            Corruption::BadLength { len, max } => write!(
                f,
                "message of {len} bytes is longer than the slot payload of {max} bytes"
            ),
        }
    }
}

/// What is wrong with the local layout or channel configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The peer count {0} is outside 2..=65536.
    PeerCount(u32),
    /// The state table of {size} bytes cannot hold a word per peer
    /// ({needed} bytes).
    StateTableTooSmall {
        /// The state table size.
        size: usize,
        /// The size one word per peer needs.
        needed: usize,
    },
    /// A section size is not a multiple of the 64-byte cache line.
    SectionAlignment,
    /// The output sections are empty: there is nowhere to put a channel.
    NoOutputSections,
    /// The layout needs {needed} bytes, the region has {size}.
    RegionTooSmall {
        /// The region size.
        size: usize,
        /// The size the layout needs (`None`: more than the address space).
        needed: Option<usize>,
    },
    /// The region's base address is not 4-byte aligned.
    Misaligned,
    /// Peer {0} does not exist in this region.
    NoSuchPeer(PeerId),
    /// A channel must connect two different peers.
    SamePeer,
    /// An endpoint offset is not a multiple of the 64-byte cache line.
    EndpointAlignment,
    /// The endpoint block does not fit in its output section.
    EndpointOutOfSection {
        /// The offset of the endpoint block in the section.
        offset: usize,
        /// The size of the block (`None`: more than the address space).
        size: Option<usize>,
        /// The size of the output section.
        section: usize,
    },
    /// The slot size {0} is not a multiple of 8 of at least 16 bytes.
    SlotSize(u32),
    /// The slot count {0} is not a power of two up to 2^31.
    SlotCount(u32),
    /// The writable parts of a mapping are not exactly the common section
    /// and the local output section.
    Permissions,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::PeerCount(count) => {
                write!(f, "the peer count {count} is outside 2..=65536")
            }
            ConfigError::StateTableTooSmall { size, needed } => write!(
                f,
                "the state table of {size} bytes cannot hold a word per peer ({needed} bytes)"
            ),
            ConfigError::SectionAlignment => {
                f.write_str("a section size is not a multiple of the 64-byte cache line")
            }
            ConfigError::NoOutputSections => f.write_str("the output sections are empty"),
            ConfigError::RegionTooSmall {
                size,
                needed: Some(needed),
            } => write!(f, "the layout needs {needed} bytes, the region has {size}"),
            ConfigError::RegionTooSmall { size, needed: None } => write!(
                f,
                "the layout needs more than the address space, the region has {size} bytes"
            ),
            ConfigError::Misaligned => f.write_str("the region's base is not 4-byte aligned"),
            ConfigError::NoSuchPeer(peer) => write!(f, "peer {peer} does not exist"),
            ConfigError::SamePeer => f.write_str("a channel must connect two different peers"),
            ConfigError::EndpointAlignment => {
                f.write_str("an endpoint offset is not a multiple of the 64-byte cache line")
            }
            ConfigError::EndpointOutOfSection {
                offset,
                size,
                section,
            } => match size {
                Some(size) => write!(
                    f,
                    "the endpoint block of {size} bytes at offset {offset} does not fit \
                     in the output section of {section} bytes"
                ),
                None => write!(f, "the endpoint block at offset {offset} is too large"),
            },
            ConfigError::SlotSize(size) => write!(
                f,
                "the slot size {size} is not a multiple of 8 of at least 16 bytes"
            ),
            ConfigError::SlotCount(count) => write!(
                f,
                "the slot count {count} is not a power of two up to 2^31"
            ),
            ConfigError::Permissions => f.write_str(
                "the writable parts of the mapping are not the common section and the local output section",
            ),
        }
    }
}

/// Why a typed message could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message has {found} bytes, the type encodes to {expected}.
    Length {
        /// The encoded size of the type.
        expected: usize,
        /// The length of the message received.
        found: usize,
    },
    /// The bytes are not a valid value of the type: {0}.
    Invalid(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Length { expected, found } => write!(
                f,
                "the message has {found} bytes, the type encodes to {expected}"
            ),
            DecodeError::Invalid(why) => write!(f, "invalid value: {why}"),
        }
    }
}

impl core::error::Error for DecodeError {}
impl core::error::Error for Corruption {}
impl core::error::Error for ConfigError {}
