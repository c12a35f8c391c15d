//! Ping-pong between two threads over an in-memory ivshmem region: a rough
//! measure of the round-trip time of the protocol itself (no hypervisor,
//! no real interrupts).
//!
//! ```sh
//! cargo run --release -p bulkhead-channel --example pingpong -- 100000
//! ```

use std::time::{Duration, Instant};

use bulkhead_channel::mem::{two_peer_geometry, MemoryLink};
use bulkhead_channel::{Channel, ChannelConfig, DecodeError, Error, Message, PeerId};

/// A ping (or its pong): a sequence number and a send time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ping {
    sequence: u32,
    sent_ns: u64,
}

impl Message for Ping {
    const SIZE: usize = 12;

    fn encode(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.sequence.to_le_bytes());
        out[4..].copy_from_slice(&self.sent_ns.to_le_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Ping {
            sequence: u32::decode(&bytes[..4])?,
            sent_ns: u64::decode(&bytes[4..])?,
        })
    }
}

const TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> Result<(), Error> {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(10_000);
    let link = MemoryLink::new(two_peer_geometry(4096))?;
    let (left, right) = (PeerId(0), PeerId(1));
    let config = |peer| ChannelConfig {
        slot_size: 64,
        slot_count: 8,
        ..ChannelConfig::new(peer)
    };

    let mut pinger = Channel::open(&link.region(left)?, config(right), link.doorbell(left)?)?;
    let start = Instant::now();
    let worst = std::thread::scope(|scope| -> Result<Duration, Error> {
        scope.spawn(|| -> Result<(), Error> {
            let mut ponger =
                Channel::open(&link.region(right)?, config(left), link.doorbell(right)?)?;
            for _ in 0..rounds {
                let ping: Ping = ponger.recv_message(TIMEOUT)?;
                ponger.send_message(&ping, TIMEOUT)?;
            }
            Ok(())
        });
        let mut worst = Duration::ZERO;
        for sequence in 0..rounds {
            let sent = Instant::now();
            let ping = Ping {
                sequence,
                sent_ns: start.elapsed().as_nanos() as u64,
            };
            pinger.send_message(&ping, TIMEOUT)?;
            let pong: Ping = pinger.recv_message(TIMEOUT)?;
            assert_eq!(pong, ping);
            worst = worst.max(sent.elapsed());
        }
        Ok(worst)
    })?;
    let elapsed = start.elapsed();
    println!(
        "{rounds} round trips in {elapsed:.2?}: {:.2?} on average, {worst:.2?} at worst",
        elapsed / rounds.max(1)
    );
    Ok(())
}
