//! The ivshmem-v2 shared memory region: its [`Geometry`] (state table,
//! common read/write section, one output section per peer) and the
//! [`Region`] a peer sees, which hands out writable views only of what that
//! peer may write.
#![forbid(unsafe_code)]

use core::fmt;
use core::ops::Range;
use core::sync::atomic::AtomicU32;

use crate::error::{ConfigError, Error};
use crate::shm::{ReadOnlyRegion, SharedRegion, WORD};
use bulkhead_abi::ivshmem::Sections;

/// The cache line the layout aligns to.
pub const CACHE_LINE: usize = 64;

/// A peer of an ivshmem link, `0..max_peers` (ivshmem-v2 allows 65536).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u16);

impl PeerId {
    /// The peer number as an index.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A peer's state, as its State register sets it and the state table shows
/// it. ivshmem-v2 fixes only 0 (the hypervisor writes it when a peer is
/// reset or disconnected); Bulkhead's channel protocol adds 1 and 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerState {
    /// 0: reset, stopped or never started.
    Reset,
    /// 1: the peer is setting up its endpoints.
    Init,
    /// 2: the peer's endpoints are open; it takes part in the protocol.
    Ready,
    /// Any other value (a peer speaking another protocol, or garbage).
    Other(u32),
}

impl PeerState {
    /// The state a raw word stands for.
    pub const fn from_raw(raw: u32) -> Self {
        match raw {
            0 => PeerState::Reset,
            1 => PeerState::Init,
            2 => PeerState::Ready,
            other => PeerState::Other(other),
        }
    }

    /// The raw word of this state.
    pub const fn raw(self) -> u32 {
        match self {
            PeerState::Reset => 0,
            PeerState::Init => 1,
            PeerState::Ready => 2,
            PeerState::Other(other) => other,
        }
    }
}

/// Where the sections of an ivshmem-v2 region are. The hypervisor reports
/// the sizes (PCI vendor capability and Maximum Peers register); the
/// sections follow each other from the region's base:
///
/// ```text
/// 0                                  state table (u32 per peer, read-only)
/// state_table_size                   common read/write section
/// + common_section_size              output section of peer 0
/// + output_section_size * p          output section of peer p
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Number of peers of the link, 2..=65536.
    pub max_peers: u32,
    /// Size of the state table in bytes (at least 4 per peer).
    pub state_table_size: usize,
    /// Size of the common read/write section (may be 0).
    pub common_section_size: usize,
    /// Size of each peer's output section.
    pub output_section_size: usize,
}

impl Geometry {
    /// Checks the sizes: a word per peer in the state table, cache-line
    /// multiples everywhere, non-empty output sections, a total that fits
    /// the address space.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(2..=65_536).contains(&self.max_peers) {
            return Err(ConfigError::PeerCount(self.max_peers));
        }
        let needed = self.max_peers as usize * WORD;
        if self.state_table_size < needed {
            return Err(ConfigError::StateTableTooSmall {
                size: self.state_table_size,
                needed,
            });
        }
        let aligned = |size: usize| size.is_multiple_of(CACHE_LINE);
        if !aligned(self.state_table_size)
            || !aligned(self.common_section_size)
            || !aligned(self.output_section_size)
        {
            return Err(ConfigError::SectionAlignment);
        }
        if self.output_section_size == 0 {
            return Err(ConfigError::NoOutputSections);
        }
        if self.size().is_none() {
            return Err(ConfigError::RegionTooSmall {
                size: 0,
                needed: None,
            });
        }
        Ok(())
    }

    /// The section sizes as the interface defines their arithmetic.
    fn sections(&self) -> Sections {
        Sections {
            state_table: self.state_table_size as u64,
            read_write: self.common_section_size as u64,
            output: self.output_section_size as u64,
        }
    }

    /// The size of the whole region, if it fits the address space.
    pub fn size(&self) -> Option<usize> {
        let size = self.sections().size(u64::from(self.max_peers))?;
        usize::try_from(size).ok()
    }

    /// The bytes of the common read/write section (the geometry must be
    /// valid; an invalid one gets a clamped range).
    pub fn common_section_range(&self) -> Range<usize> {
        self.state_table_size
            ..self
                .state_table_size
                .saturating_add(self.common_section_size)
    }

    /// The bytes of `peer`'s output section (the geometry must be valid).
    pub fn output_section_range(&self, peer: PeerId) -> Result<Range<usize>, ConfigError> {
        if u32::from(peer.0) >= self.max_peers {
            return Err(ConfigError::NoSuchPeer(peer));
        }
        let start = self
            .sections()
            .output_offset(u64::from(peer.0))
            .and_then(|start| usize::try_from(start).ok());
        match start.and_then(|start| Some(start..start.checked_add(self.output_section_size)?)) {
            Some(range) => Ok(range),
            None => Err(ConfigError::RegionTooSmall {
                size: 0,
                needed: None,
            }),
        }
    }
}

/// An ivshmem-v2 region as one peer sees it. Writable views exist only for
/// the common section and the local output section; the state table and
/// the other peers' output sections are read-only.
#[derive(Clone, Copy, Debug)]
pub struct Region<'a> {
    memory: ReadOnlyRegion<'a>,
    common: SharedRegion<'a>,
    own: SharedRegion<'a>,
    geometry: Geometry,
    local_peer: PeerId,
}

impl<'a> Region<'a> {
    /// The region in `memory` (its first `geometry.size()` bytes), seen by
    /// `local_peer`. For memory mapped from elsewhere, see
    /// [`Region::from_raw_parts`].
    pub fn new(
        memory: &'a [AtomicU32],
        geometry: Geometry,
        local_peer: PeerId,
    ) -> Result<Self, Error> {
        geometry.validate()?;
        let all = SharedRegion::new(memory);
        let needed = geometry.size();
        if needed.is_none_or(|needed| needed > all.len()) {
            return Err(ConfigError::RegionTooSmall {
                size: all.len(),
                needed,
            }
            .into());
        }
        let own_range = geometry.output_section_range(local_peer)?;
        let common_range = geometry.common_section_range();
        Ok(Region {
            memory: all.read_only(),
            common: all.subregion(common_range.start, common_range.len())?,
            own: all.subregion(own_range.start, own_range.len())?,
            geometry,
            local_peer,
        })
    }

    /// The layout of the region.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The peer this view belongs to.
    pub fn local_peer(&self) -> PeerId {
        self.local_peer
    }

    /// The state table: one word per peer, read-only.
    pub fn state_table(&self) -> Result<ReadOnlyRegion<'a>, Error> {
        Ok(self
            .memory
            .subregion(0, self.geometry.max_peers as usize * WORD)?)
    }

    /// `peer`'s entry in the state table.
    pub fn peer_state(&self, peer: PeerId) -> Result<PeerState, Error> {
        if u32::from(peer.0) >= self.geometry.max_peers {
            return Err(ConfigError::NoSuchPeer(peer).into());
        }
        let raw = self.memory.load_u32_acquire(peer.index() * WORD)?;
        Ok(PeerState::from_raw(raw))
    }

    /// The common read/write section, writable by every peer.
    pub fn common_section(&self) -> SharedRegion<'a> {
        self.common
    }

    /// The local output section, writable by this peer only.
    pub fn own_output_section(&self) -> SharedRegion<'a> {
        self.own
    }

    /// `peer`'s output section, read-only (also for the local peer).
    pub fn output_section(&self, peer: PeerId) -> Result<ReadOnlyRegion<'a>, Error> {
        let range = self.geometry.output_section_range(peer)?;
        Ok(self.memory.subregion(range.start, range.len())?)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    fn geometry() -> Geometry {
        Geometry {
            max_peers: 3,
            state_table_size: 64,
            common_section_size: 128,
            output_section_size: 256,
        }
    }

    #[test]
    fn sections_follow_each_other() {
        let geometry = geometry();
        assert_eq!(geometry.size(), Some(64 + 128 + 3 * 256));
        assert_eq!(geometry.common_section_range(), 64..192);
        assert_eq!(geometry.output_section_range(PeerId(0)), Ok(192..448));
        assert_eq!(geometry.output_section_range(PeerId(2)), Ok(704..960));
        assert_eq!(
            geometry.output_section_range(PeerId(3)),
            Err(ConfigError::NoSuchPeer(PeerId(3)))
        );
    }

    #[test]
    fn bad_geometries_are_refused() {
        let base = geometry();
        let cases = [
            (
                Geometry {
                    max_peers: 1,
                    ..base
                },
                ConfigError::PeerCount(1),
            ),
            (
                Geometry {
                    max_peers: 17,
                    ..base
                },
                ConfigError::StateTableTooSmall {
                    size: 64,
                    needed: 68,
                },
            ),
            (
                Geometry {
                    common_section_size: 100,
                    ..base
                },
                ConfigError::SectionAlignment,
            ),
            (
                Geometry {
                    output_section_size: 0,
                    ..base
                },
                ConfigError::NoOutputSections,
            ),
            (
                Geometry {
                    max_peers: 65_536,
                    state_table_size: 65_536 * 4,
                    output_section_size: (usize::MAX / 2) & !63,
                    ..base
                },
                ConfigError::RegionTooSmall {
                    size: 0,
                    needed: None,
                },
            ),
        ];
        for (geometry, error) in cases {
            assert_eq!(geometry.validate(), Err(error), "{geometry:?}");
        }
    }

    #[test]
    fn a_region_too_small_for_its_geometry_is_refused() {
        let memory: Vec<AtomicU32> = (0..100).map(|_| AtomicU32::new(0)).collect();
        let error = Region::new(&memory, geometry(), PeerId(0)).unwrap_err();
        assert_eq!(
            error,
            Error::Config(ConfigError::RegionTooSmall {
                size: 400,
                needed: Some(960)
            })
        );
    }

    #[test]
    fn views_cover_the_right_sections() {
        let memory: Vec<AtomicU32> = (0..240).map(|_| AtomicU32::new(0)).collect();
        let region = Region::new(&memory, geometry(), PeerId(1)).unwrap();
        let base = memory.as_ptr() as usize;
        assert_eq!(region.common_section().address(), base + 64);
        assert_eq!(region.common_section().len(), 128);
        assert_eq!(region.own_output_section().address(), base + 192 + 256);
        assert_eq!(region.own_output_section().len(), 256);
        assert_eq!(
            region.output_section(PeerId(2)).unwrap().address(),
            base + 704
        );
        assert_eq!(region.state_table().unwrap().len(), 12);
        memory[2].store(2, core::sync::atomic::Ordering::Relaxed);
        assert_eq!(region.peer_state(PeerId(2)), Ok(PeerState::Ready));
        assert_eq!(region.peer_state(PeerId(0)), Ok(PeerState::Reset));
        assert!(region.peer_state(PeerId(3)).is_err());
    }

    #[test]
    fn peer_states_round_trip() {
        for raw in [0, 1, 2, 3, u32::MAX] {
            assert_eq!(PeerState::from_raw(raw).raw(), raw);
        }
    }
}
