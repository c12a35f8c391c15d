//! `bulkhead-channel`: message channels between cells, in the shared memory
//! of an ivshmem-v2 device.
//!
//! Bulkhead gives cells that talk to each other a shared-memory region laid
//! out as Jailhouse's ivshmem-v2 specifies, plus a doorbell to interrupt a
//! peer. This crate is the cell's side: lock-free single-producer,
//! single-consumer rings that respect the region's permissions, typed
//! messages, blocking with timeouts, and peer liveness.
//!
//! # Design principles
//!
//! 1. **Write only what you own.** Each side writes only its own output
//!    section (which the other peers can only read). A one-way ring is
//!    split accordingly: the producer's output section holds the ring
//!    (header, slots, producer index); the consumer's holds its read index
//!    and its heartbeat. A bidirectional [`Channel`] is one ring each way.
//!    The types enforce it: the other peers' sections are only ever
//!    [`ReadOnlyRegion`]s.
//! 2. **Trust nothing you read.** A peer may crash half-way through a
//!    write or be hostile. Every index, length and header field read from
//!    it is checked before use. It can corrupt the messages it sends, and
//!    stop sending; it can never make this side panic, loop forever, or
//!    access memory outside the region.
//! 3. **One small unsafe module.** Only [`shm`] turns addresses into views
//!    (`unsafe`, with a `// SAFETY:` note on each block); every other
//!    module is `#![forbid(unsafe_code)]` and goes through those
//!    bounds-checked views.
//! 4. **`no_std` first.** The core needs neither heap nor OS; backends plug
//!    in through the [`Doorbell`] trait.
//!
//! # The region
//!
//! An ivshmem-v2 region ([`Geometry`], [`Region`]) is, from its base:
//!
//! | Offset                                     | Section                 | Local access |
//! |:-------------------------------------------|:------------------------|:-------------|
//! | `0`                                        | state table, `u32`/peer | read         |
//! | `S = state_table_size`                     | common read/write       | read/write   |
//! | `S + common_section_size + p × output_size`| output section of peer `p` | read/write if `p` is local, else read |
//!
//! The state table holds each peer's State register as the hypervisor
//! mirrors it: 0 when a peer is reset or gone (ivshmem-v2), and by this
//! protocol 1 (init) while it opens its endpoints and 2 (ready) once they
//! are open ([`PeerState`]).
//!
//! # The endpoint block
//!
//! Each side of a channel has one endpoint block in its own output section,
//! at an offset both sides are configured with ([`ChannelConfig`]). Offsets
//! from the block's start; `u32` little-endian words; indices each on
//! their own 64-byte cache line ([`layout`]):
//!
//! | Offset  | Field         | Written        | Meaning                                   |
//! |--------:|:--------------|:---------------|:------------------------------------------|
//! | `0x000` | `MAGIC`       | at open        | `"BHCH"` (`0x48434842`)                   |
//! | `0x004` | `VERSION`     | at open        | layout version, 2                         |
//! | `0x008` | `STATE`       | at open        | 0 reset, 1 init, 2 ready                  |
//! | `0x00c` | `EPOCH`       | at open        | this life of the endpoint, never 0        |
//! | `0x010` | `OWNER`       | at open        | owner's peer ID                           |
//! | `0x014` | `REMOTE`      | at open        | the other end's peer ID                   |
//! | `0x018` | `SLOT_SIZE`   | at open        | bytes per TX slot (multiple of 8), header included |
//! | `0x01c` | `SLOT_COUNT`  | at open        | TX slots, a power of two                  |
//! | `0x020` | `FIRST_INDEX` | at open        | index of the TX ring's first message      |
//! | `0x024` | `BOUND_EPOCH` | as producer    | consumer epoch the TX ring serves (0: any)|
//! | `0x040` | `TAIL`        | as producer    | producer index (messages published)       |
//! | `0x080` | `RX_EPOCH`    | as consumer    | producer epoch the RX cursor follows      |
//! | `0x084` | `RX_HEAD`     | as consumer    | consumer index into the peer's ring       |
//! | `0x0c0` | `HEARTBEAT`   | as consumer    | bumped while the owner lives              |
//! | `0x100` | slots         | as producer    | `SLOT_COUNT` × (`u32` length, reserved `u32`, payload) |
//!
//! [`endpoint_size`] gives a block's size for a ring geometry.
//!
//! # The protocol
//!
//! - **Indices** are free-running `u32` counters; message `i` sits in slot
//!   `i mod SLOT_COUNT`. `TAIL - RX_HEAD` (wrapping) is the number of
//!   messages in the ring and must be at most `SLOT_COUNT`; anything else
//!   is corruption. Rings start at `FIRST_INDEX` = 2³² − 256, so every
//!   channel crosses the wrap after 256 messages.
//! - **Send**: check for room against the consumer's `RX_HEAD`, write the
//!   slot (length, payload), publish `TAIL` with release ordering, ring the
//!   peer's doorbell. The slot comes from the local `TAIL` copy only.
//! - **Receive**: read `TAIL` with acquire ordering, check it, check the
//!   slot's length against the slot payload, copy out, publish `RX_HEAD`.
//!   If the ring was full, ring the producer, who may be waiting for room
//!   (a `SeqCst` fence on both sides makes sure one of them sees the
//!   other's update).
//! - **Opening** writes `STATE` = 1, the header and indices, a new `EPOCH`,
//!   then `STATE` = 2, and rings the peer. Readers check `STATE`/`EPOCH`
//!   before and after reading the header (a seqlock), so they never use a
//!   half-written one.
//! - **Restarts.** A consumer attaches to a producer's ring when it sees a
//!   new producer epoch: it checks the header, sets `RX_HEAD` to
//!   `FIRST_INDEX`, then publishes `RX_EPOCH`. The producer counts room
//!   against `RX_HEAD` only while `RX_EPOCH` is its epoch, and binds its
//!   ring to that consumer's epoch (`BOUND_EPOCH`). When the bound
//!   consumer restarts (new epoch), the producer drops the unread messages
//!   and starts the ring over, unbound; the consumer's new life waits
//!   (`PeerNotReady`) until then. So a restarted producer's old messages
//!   are never delivered, and a restarted consumer does not get messages
//!   meant for its previous life — except those it consumed before the
//!   producer bound the ring (between its first attach and the producer's
//!   next send), which it may see again.
//! - **Liveness**: each side bumps its `HEARTBEAT`; the peer's state table
//!   entry says whether it is up at all ([`Liveness`]).
//!
//! # The API
//!
//! - [`Region`]: the region as one peer sees it ([`Region::new`] over
//!   memory the program owns, [`Region::from_raw_parts`] over an address).
//! - [`Channel::open`] with a [`ChannelConfig`] and a [`Doorbell`]; then
//!   [`Channel::try_send`] (`Err(Full)` at once) or [`Channel::send`]
//!   (waits up to a timeout), [`Channel::try_recv`] (`Err(Empty)`) or
//!   [`Channel::recv`] (waits up to a timeout), their typed variants for a
//!   [`Message`], [`Channel::heartbeat`] and [`Channel::peer_liveness`].
//!   [`Channel::split`] gives the [`Sender`] and [`Receiver`] halves.
//! - Backends: `mem` (feature `std`: threads in one process), `linux`
//!   (feature `linux`: UIO), and bare-metal cells, which build a
//!   [`Region`] from their configured address and implement [`Doorbell`]
//!   on [`ivshmem::Registers`] and their own interrupt handler and timer.
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use bulkhead_channel::mem::{two_peer_geometry, MemoryLink};
//! use bulkhead_channel::{Channel, ChannelConfig, PeerId};
//! use core::time::Duration;
//!
//! let link = MemoryLink::new(two_peer_geometry(4096)).unwrap();
//! let (a, b) = (PeerId(0), PeerId(1));
//! let mut left = Channel::open(&link.region(a)?, ChannelConfig::new(b), link.doorbell(a)?)?;
//! let mut right = Channel::open(&link.region(b)?, ChannelConfig::new(a), link.doorbell(b)?)?;
//!
//! left.try_send(b"ping")?;
//! let mut buffer = [0; 64];
//! let len = right.recv(&mut buffer, Duration::from_millis(100))?;
//! assert_eq!(&buffer[..len], b"ping");
//! # }
//! # Ok::<(), bulkhead_channel::Error>(())
//! ```
//!
//! A bare-metal cell supplies the addresses from its configuration and a
//! doorbell built on its own interrupt handler and timer:
//!
//! ```no_run
//! use core::sync::atomic::{AtomicBool, Ordering};
//! use core::time::Duration;
//! use bulkhead_channel::ivshmem::Registers;
//! use bulkhead_channel::{
//!     Channel, ChannelConfig, Doorbell, Error, Geometry, PeerId, PeerState, Region, Wakeup,
//! };
//!
//! /// Set by the cell's handler of the ivshmem interrupt.
//! static RUNG: AtomicBool = AtomicBool::new(false);
//!
//! /// Stands for the cell's clock (CNTVCT_EL0 / CNTFRQ_EL0).
//! fn generic_timer() -> Duration {
//!     Duration::ZERO
//! }
//!
//! struct CellDoorbell {
//!     registers: &'static Registers,
//! }
//!
//! impl Doorbell for CellDoorbell {
//!     fn ring(&self, peer: PeerId, vector: u16) -> Result<(), Error> {
//!         self.registers.ring(peer, vector);
//!         Ok(())
//!     }
//!
//!     fn wait(&self, timeout: Duration) -> Result<Wakeup, Error> {
//!         let deadline = self.now() + timeout;
//!         while self.now() < deadline {
//!             if RUNG.swap(false, Ordering::Acquire) {
//!                 return Ok(Wakeup::Interrupt);
//!             }
//!             core::hint::spin_loop(); // a real cell sleeps in WFI, timer armed
//!         }
//!         Ok(Wakeup::Timeout)
//!     }
//!
//!     fn now(&self) -> Duration {
//!         generic_timer()
//!     }
//! }
//!
//! // SAFETY: the cell's configuration maps the ivshmem registers there as
//! // device memory, for the cell's whole life.
//! let registers = unsafe { Registers::at(0x1000_0000) };
//! let geometry = Geometry {
//!     max_peers: registers.max_peers(),
//!     state_table_size: 0x1000,
//!     common_section_size: 0,
//!     output_section_size: 0x4000,
//! };
//! // SAFETY: the configuration maps the region there for the cell's whole
//! // life: readable, with the local output section writable.
//! let region = unsafe {
//!     Region::from_raw_parts(0x2000_0000 as *mut u8, 0x9000, geometry, PeerId(1))
//! }?;
//! registers.enable_interrupts();
//! let doorbell = CellDoorbell { registers };
//! let mut channel = Channel::open(&region, ChannelConfig::new(PeerId(0)), doorbell)?;
//! registers.set_state(PeerState::Ready);
//! channel.send(b"hello", Duration::from_millis(10))?;
//! # Ok::<(), Error>(())
//! ```
//!
//! # Safety contract
//!
//! Whoever builds a view from an address (the [`shm`] constructors) promises
//! that the memory is mapped, aligned and permitted as described there for
//! the view's lifetime, and that inside the program it is only reached
//! through atomics. Given that, the safe API cannot cause undefined
//! behaviour whatever the peers write: every shared access is an aligned
//! 32-bit atomic load or store at a checked offset, read-only memory only
//! sees relaxed loads, and no read-modify-write atomics are used (the
//! memory may be mapped uncached).
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]

mod channel;
mod doorbell;
mod error;
pub mod ivshmem;
pub mod layout;
#[cfg(all(feature = "linux", target_os = "linux"))]
pub mod linux;
#[cfg(feature = "std")]
pub mod mem;
mod message;
mod region;
pub mod ring;
pub mod shm;

pub use channel::{Channel, ChannelConfig, Liveness, Receiver, Sender};
pub use doorbell::{Doorbell, Wakeup};
pub use error::{ConfigError, Corruption, DecodeError, Error};
pub use layout::endpoint_size;
pub use message::{Message, MAX_MESSAGE_SIZE};
pub use region::{Geometry, PeerId, PeerState, Region, CACHE_LINE};
pub use shm::{AccessError, ReadOnlyRegion, SharedRegion};
