//! The endpoint block: what one side of a channel keeps in its own output
//! section. Offsets are from the start of the block, which sits at a
//! cache-line-aligned offset of the owner's output section; words are
//! little-endian `u32` (both sides are AArch64).
//!
//! | Offset  | Field         | Meaning                                                      |
//! |--------:|:--------------|:-------------------------------------------------------------|
//! | `0x000` | `MAGIC`       | [`MAGIC`], `"BHCH"`                                          |
//! | `0x004` | `VERSION`     | [`VERSION`]                                                  |
//! | `0x008` | `STATE`       | endpoint state: 0 reset, 1 init, 2 ready                     |
//! | `0x00c` | `EPOCH`       | this life of the endpoint, never 0, new on every open         |
//! | `0x010` | `OWNER`       | the owner's peer ID                                          |
//! | `0x014` | `REMOTE`      | the peer ID at the other end                                 |
//! | `0x018` | `SLOT_SIZE`   | bytes per slot of the TX ring, slot header included          |
//! | `0x01c` | `SLOT_COUNT`  | slots of the TX ring, a power of two                          |
//! | `0x020` | `FIRST_INDEX` | index of the ring's first message                            |
//! | `0x024` | `BOUND_EPOCH` | consumer epoch the ring is bound to (0: not yet)              |
//! | `0x040` | `TAIL`        | producer index: messages published (own cache line)          |
//! | `0x080` | `RX_EPOCH`    | producer epoch the RX cursor follows (0: none)               |
//! | `0x084` | `RX_HEAD`     | consumer index into the peer's ring (own cache line)         |
//! | `0x0c0` | `HEARTBEAT`   | bumped by the owner while it lives (own cache line)           |
//! | `0x100` | slots         | `SLOT_COUNT` × `SLOT_SIZE`; a slot is a header + payload      |
//!
//! Bytes `0x028..0x040` are reserved and zero. A slot is an 8-byte header,
//! the `u32` length then a reserved `u32` (ignored), followed by `SLOT_SIZE - 8`
//! bytes of payload. Slot sizes are multiples of 8, so every payload starts
//! 8-byte aligned and is copied in 64-bit words (layout version 2; version
//! 1 had a 4-byte header and 4-byte aligned payloads).
#![forbid(unsafe_code)]

use crate::error::ConfigError;
use crate::region::CACHE_LINE;

/// The endpoint magic: `"BHCH"` in memory order.
pub const MAGIC: u32 = u32::from_le_bytes(*b"BHCH");
/// The layout version this library writes and reads.
pub const VERSION: u32 = 2;

/// Offset of the magic word.
pub const MAGIC_OFFSET: usize = 0x000;
/// Offset of the layout version.
pub const VERSION_OFFSET: usize = 0x004;
/// Offset of the endpoint state (a [`PeerState`](crate::PeerState) value).
pub const STATE: usize = 0x008;
/// Offset of the endpoint epoch.
pub const EPOCH: usize = 0x00c;
/// Offset of the owner's peer ID.
pub const OWNER: usize = 0x010;
/// Offset of the remote peer ID.
pub const REMOTE: usize = 0x014;
/// Offset of the TX ring's slot size.
pub const SLOT_SIZE: usize = 0x018;
/// Offset of the TX ring's slot count.
pub const SLOT_COUNT: usize = 0x01c;
/// Offset of the index of the TX ring's first message.
pub const FIRST_INDEX: usize = 0x020;
/// Offset of the consumer epoch the TX ring is bound to.
pub const BOUND_EPOCH: usize = 0x024;
/// Offset of the producer index (own cache line).
pub const TAIL: usize = 0x040;
/// Offset of the producer epoch the RX cursor follows (own cache line,
/// shared with `RX_HEAD`: both written by the owner as consumer).
pub const RX_EPOCH: usize = 0x080;
/// Offset of the consumer index into the peer's ring.
pub const RX_HEAD: usize = 0x084;
/// Offset of the heartbeat counter (own cache line).
pub const HEARTBEAT: usize = 0x0c0;
/// Offset of the first slot; also the size of the fixed part of the block.
pub const SLOTS: usize = 0x100;

/// Bytes of a slot's header: the `u32` length, then a reserved `u32`, so
/// that the payload starts 8-byte aligned.
pub const SLOT_HEADER: usize = 8;
/// Slot sizes are multiples of this, so that every slot's payload starts
/// 8-byte aligned.
pub const SLOT_ALIGN: u32 = 8;
/// The smallest slot: a header and 8 bytes of payload.
pub const MIN_SLOT_SIZE: u32 = 16;
/// The most slots a ring may have: indices are free-running `u32`, so
/// "used" (`tail - head`) must stay unambiguous.
pub const MAX_SLOT_COUNT: u32 = 1 << 31;

/// The index of every ring's first message: 256 messages before `u32`
/// wraps, so that every channel crosses the wrap early in its life, where
/// tests and demos exercise it (Linux starts `jiffies` the same way).
pub const FIRST_MESSAGE_INDEX: u32 = 0u32.wrapping_sub(256);

/// Checks a ring geometry: slots a multiple of [`SLOT_ALIGN`] of at least
/// [`MIN_SLOT_SIZE`] bytes, a power-of-two count up to [`MAX_SLOT_COUNT`].
pub const fn check_ring(slot_size: u32, slot_count: u32) -> Result<(), ConfigError> {
    if slot_size < MIN_SLOT_SIZE || !slot_size.is_multiple_of(SLOT_ALIGN) {
        return Err(ConfigError::SlotSize(slot_size));
    }
    if !slot_count.is_power_of_two() || slot_count > MAX_SLOT_COUNT {
        return Err(ConfigError::SlotCount(slot_count));
    }
    Ok(())
}

/// The size of an endpoint block whose TX ring has `slot_count` slots of
/// `slot_size` bytes, rounded up to a cache line; `None` if it overflows.
/// What a layout planner reserves in the output section.
pub const fn endpoint_size(slot_size: u32, slot_count: u32) -> Option<usize> {
    let Some(slots) = (slot_size as usize).checked_mul(slot_count as usize) else {
        return None;
    };
    let Some(size) = slots.checked_add(SLOTS) else {
        return None;
    };
    size.checked_next_multiple_of(CACHE_LINE)
}

/// The payload capacity of a slot of `slot_size` bytes.
pub const fn payload_capacity(slot_size: u32) -> usize {
    (slot_size as usize).saturating_sub(SLOT_HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_sit_on_their_own_cache_lines() {
        let lines =
            [MAGIC_OFFSET, TAIL, RX_EPOCH, HEARTBEAT, SLOTS].map(|offset| offset / CACHE_LINE);
        assert_eq!(lines, [0, 1, 2, 3, 4]);
        assert_eq!(RX_HEAD / CACHE_LINE, RX_EPOCH / CACHE_LINE);
        const { assert!(BOUND_EPOCH < TAIL) };
    }

    #[test]
    fn magic_reads_bhch() {
        assert_eq!(MAGIC.to_le_bytes(), *b"BHCH");
    }

    #[test]
    fn endpoint_sizes() {
        assert_eq!(endpoint_size(64, 16), Some(0x100 + 1024));
        assert_eq!(endpoint_size(16, 1), Some(0x140));
        assert_eq!(
            endpoint_size(u32::MAX, MAX_SLOT_COUNT).is_some(),
            usize::BITS >= 64
        );
    }

    #[test]
    fn ring_geometry_checks() {
        assert_eq!(check_ring(16, 1), Ok(()));
        assert_eq!(check_ring(8, 1), Err(ConfigError::SlotSize(8)));
        assert_eq!(check_ring(10, 1), Err(ConfigError::SlotSize(10)));
        assert_eq!(check_ring(20, 1), Err(ConfigError::SlotSize(20)));
        assert_eq!(check_ring(64, 0), Err(ConfigError::SlotCount(0)));
        assert_eq!(check_ring(64, 3), Err(ConfigError::SlotCount(3)));
        assert_eq!(check_ring(64, 1 << 31), Ok(()));
    }
}
