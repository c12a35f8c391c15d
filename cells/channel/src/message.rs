//! Typed messages: a fixed-size, hand-written encoding ([`Message`]), no
//! serde. Integers are little-endian; a message type with several fields
//! encodes them one after the other.
//!
//! ```
//! use bulkhead_channel::{DecodeError, Message};
//!
//! /// A sensor reading.
//! struct Reading {
//!     sensor: u16,
//!     millivolts: i32,
//! }
//!
//! impl Message for Reading {
//!     const SIZE: usize = 6;
//!
//!     fn encode(&self, out: &mut [u8]) {
//!         out[..2].copy_from_slice(&self.sensor.to_le_bytes());
//!         out[2..].copy_from_slice(&self.millivolts.to_le_bytes());
//!     }
//!
//!     fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
//!         Ok(Reading {
//!             sensor: u16::decode(&bytes[..2])?,
//!             millivolts: i32::decode(&bytes[2..])?,
//!         })
//!     }
//! }
//! ```
#![forbid(unsafe_code)]

use crate::error::DecodeError;

/// The largest encoded size of a typed message: typed sends and receives
/// encode through a buffer of this size on the stack.
pub const MAX_MESSAGE_SIZE: usize = 4096;

/// A type sent over a channel as exactly [`Message::SIZE`] bytes.
pub trait Message: Sized {
    /// The encoded size in bytes, at most [`MAX_MESSAGE_SIZE`] and at most
    /// the channel's slot payload.
    const SIZE: usize;

    /// Writes `self` into `out`, which is exactly `SIZE` bytes long.
    fn encode(&self, out: &mut [u8]);

    /// Reads a value from `bytes`, which is exactly `SIZE` bytes long. The
    /// bytes come from another cell: check them, do not panic on them.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

/// The bytes as an array of `N`, or the length error.
fn exact<const N: usize>(bytes: &[u8]) -> Result<[u8; N], DecodeError> {
    bytes.try_into().map_err(|_| DecodeError::Length {
        expected: N,
        found: bytes.len(),
    })
}

macro_rules! little_endian_messages {
    ($($int:ty),*) => {$(
        impl Message for $int {
            const SIZE: usize = core::mem::size_of::<$int>();

            fn encode(&self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }

            fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
                Ok(<$int>::from_le_bytes(exact(bytes)?))
            }
        }
    )*};
}

little_endian_messages!(u8, u16, u32, u64, i8, i16, i32, i64);

impl<const N: usize> Message for [u8; N] {
    const SIZE: usize = N;

    fn encode(&self, out: &mut [u8]) {
        out.copy_from_slice(self);
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        exact(bytes)
    }
}

impl Message for bool {
    const SIZE: usize = 1;

    fn encode(&self, out: &mut [u8]) {
        out[0] = u8::from(*self);
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        match exact::<1>(bytes)? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(DecodeError::Invalid("a bool is 0 or 1")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<M: Message + PartialEq + core::fmt::Debug>(value: M) {
        let mut buffer = [0u8; MAX_MESSAGE_SIZE];
        value.encode(&mut buffer[..M::SIZE]);
        assert_eq!(M::decode(&buffer[..M::SIZE]), Ok(value));
    }

    #[test]
    fn primitives_round_trip() {
        round_trip(0xa5u8);
        round_trip(0xbeefu16);
        round_trip(0xdead_beefu32);
        round_trip(u64::MAX - 7);
        round_trip(-5i8);
        round_trip(i16::MIN);
        round_trip(-123_456i32);
        round_trip(i64::MIN + 1);
        round_trip(*b"hello");
        round_trip(true);
        round_trip(false);
    }

    #[test]
    fn integers_are_little_endian() {
        let mut out = [0u8; 4];
        0x0102_0304u32.encode(&mut out);
        assert_eq!(out, [4, 3, 2, 1]);
    }

    #[test]
    fn wrong_lengths_and_values_are_errors() {
        assert_eq!(
            u32::decode(&[1, 2, 3]),
            Err(DecodeError::Length {
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            bool::decode(&[2]),
            Err(DecodeError::Invalid("a bool is 0 or 1"))
        );
    }
}
