//! The in-memory backend (feature `std`): an ivshmem-v2 region in ordinary
//! memory and doorbells between threads, with [`MemoryLink`] playing the
//! hypervisor's part (state table, interrupt delivery). For tests,
//! examples and benchmarks of the protocol on the host.
#![forbid(unsafe_code)]

extern crate std;

use core::cell::Cell;
use core::sync::atomic::AtomicU32;
use core::time::Duration;
use std::boxed::Box;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant;

use crate::doorbell::{Doorbell, Wakeup};
use crate::error::{ConfigError, Error};
use crate::region::{Geometry, PeerId, PeerState, Region, CACHE_LINE};
use crate::shm::{SharedRegion, WORD};

/// One peer's interrupt line: a count of interrupts delivered.
#[derive(Debug, Default)]
struct Line {
    delivered: Mutex<u64>,
    signal: Condvar,
}

impl Line {
    fn raise(&self) {
        let mut delivered = self
            .delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *delivered = delivered.wrapping_add(1);
        self.signal.notify_all();
    }
}

#[derive(Debug)]
struct Lines {
    lines: Box<[Line]>,
    origin: Instant,
}

/// An ivshmem-v2 link in ordinary memory: the region, the interrupt lines
/// and the hypervisor's duties.
#[derive(Debug)]
pub struct MemoryLink {
    /// The backing words; the region starts at `start` so that it is
    /// cache-line aligned.
    words: Box<[AtomicU32]>,
    start: usize,
    geometry: Geometry,
    lines: Arc<Lines>,
}

impl MemoryLink {
    /// A zeroed region for `geometry` (all peers in state 0).
    pub fn new(geometry: Geometry) -> Result<Self, Error> {
        geometry.validate()?;
        let size = geometry.size().ok_or(ConfigError::RegionTooSmall {
            size: 0,
            needed: None,
        })?;
        let count = size / WORD + CACHE_LINE / WORD;
        let words: Box<[AtomicU32]> = (0..count).map(|_| AtomicU32::new(0)).collect();
        let misalignment = words.as_ptr() as usize % CACHE_LINE;
        let start = (CACHE_LINE - misalignment) % CACHE_LINE / WORD;
        let lines = (0..geometry.max_peers).map(|_| Line::default()).collect();
        Ok(MemoryLink {
            words,
            start,
            geometry,
            lines: Arc::new(Lines {
                lines,
                origin: Instant::now(),
            }),
        })
    }

    /// The layout of the region.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The whole region's memory, for tests that play a misbehaving peer or
    /// hypervisor and write anywhere.
    pub fn memory(&self) -> SharedRegion<'_> {
        SharedRegion::new(self.words())
    }

    fn words(&self) -> &[AtomicU32] {
        let len = self.geometry.size().unwrap_or(0) / WORD;
        &self.words[self.start..self.start + len]
    }

    /// The region as `peer` sees it.
    pub fn region(&self, peer: PeerId) -> Result<Region<'_>, Error> {
        Region::new(self.words(), self.geometry, peer)
    }

    /// A doorbell for `peer`.
    pub fn doorbell(&self, peer: PeerId) -> Result<MemoryDoorbell, Error> {
        if u32::from(peer.0) >= self.geometry.max_peers {
            return Err(ConfigError::NoSuchPeer(peer).into());
        }
        let delivered = *self.lines.lines[peer.index()]
            .delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(MemoryDoorbell {
            lines: Arc::clone(&self.lines),
            peer,
            seen: Cell::new(delivered),
        })
    }

    /// What the hypervisor does when `peer` writes its State register:
    /// update its state table entry and, if it changed, interrupt every
    /// other peer.
    pub fn set_state(&self, peer: PeerId, state: PeerState) -> Result<(), Error> {
        if u32::from(peer.0) >= self.geometry.max_peers {
            return Err(ConfigError::NoSuchPeer(peer).into());
        }
        let table = self.memory();
        let offset = peer.index() * WORD;
        if table.load_u32(offset)? == state.raw() {
            return Ok(());
        }
        table.store_u32_release(offset, state.raw())?;
        let others = self.lines.lines.iter().enumerate();
        for (_, line) in others.filter(|&(index, _)| index != peer.index()) {
            line.raise();
        }
        Ok(())
    }
}

/// A peer's doorbell on a [`MemoryLink`]: rings raise the target's line,
/// waits block on the own line. Every doorbell sees every interrupt of its
/// peer; it is not `Sync` because it is one waiter (see [`Doorbell`]):
/// threads that wait at the same time each take their own.
#[derive(Debug)]
pub struct MemoryDoorbell {
    lines: Arc<Lines>,
    peer: PeerId,
    /// Interrupts this doorbell has already reported.
    seen: Cell<u64>,
}

impl MemoryDoorbell {
    /// The peer this doorbell belongs to.
    pub fn peer(&self) -> PeerId {
        self.peer
    }
}

impl Doorbell for MemoryDoorbell {
    fn ring(&self, peer: PeerId, _vector: u16) -> Result<(), Error> {
        // Like ivshmem-v2: ringing a peer that does not exist does nothing.
        if let Some(line) = self.lines.lines.get(peer.index()) {
            line.raise();
        }
        Ok(())
    }

    fn wait(&self, timeout: Duration) -> Result<Wakeup, Error> {
        let line = &self.lines.lines[self.peer.index()];
        let seen = self.seen.get();
        let delivered = line
            .delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (delivered, _) = line
            .signal
            .wait_timeout_while(delivered, timeout, |delivered| *delivered == seen)
            .unwrap_or_else(PoisonError::into_inner);
        if *delivered == seen {
            return Ok(Wakeup::Timeout);
        }
        self.seen.set(*delivered);
        Ok(Wakeup::Interrupt)
    }

    fn now(&self) -> Duration {
        self.lines.origin.elapsed()
    }
}

/// The usual two-peer layout: a 64-byte state table, no common section,
/// `output_section_size` bytes per peer (a multiple of 64).
pub fn two_peer_geometry(output_section_size: usize) -> Geometry {
    Geometry {
        max_peers: 2,
        state_table_size: CACHE_LINE,
        common_section_size: 0,
        output_section_size,
    }
}
