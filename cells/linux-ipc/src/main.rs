//! `bulkhead-ipc`: the gateway's two sides of a Bulkhead channel, run in
//! Linux cells over `uio_pci_generic`, with interrupts (poll on
//! `/dev/uioN`), never polling the shared memory in a loop.
//!
//! - `control` (the real-time cell): a control loop that publishes a sample
//!   every period (1 kHz by default) and takes back the setpoints the
//!   other side computes; once a second it prints the rates both ways and
//!   the round trip from a sample's publication to its setpoint's arrival.
//! - `gateway` (the container cell, in a container): waits for samples,
//!   computes a setpoint for each (a PI controller on the sampled value)
//!   and sends it back; once a second it prints its rates.
//! - `pingpong`: N round trips between an `initiator` and an `echo`, with
//!   their round-trip statistics, for tests and benchmarks.
//! - `counter`: prints the generic timer's counter and frequency, for the
//!   boot-time figures of the init scripts (needs no channel).
//!
//! Each side finds its channel as the first UIO device with the ivshmem
//! IDs, unless `--uio N` says which.
// Unsafe code only in `counter` (two `mrs`), which allows it for itself.
#![deny(unsafe_code)]

mod counter;

use bulkhead_channel::linux::{UioConfig, UioDevice};
use bulkhead_channel::{
    Channel, ChannelConfig, DecodeError, Doorbell, Error, Message, PeerId, PeerState,
};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Command line.
#[derive(Parser, Debug)]
#[command(version, about = "Bulkhead channel programs for Linux cells")]
struct Cli {
    /// `N` of `/dev/uioN`; default: the first UIO device that is an
    /// ivshmem-v2 function.
    #[arg(long, global = true)]
    uio: Option<u32>,
    /// Seconds between two reports of `control` and `gateway` (their
    /// rates are per second all the same).
    #[arg(long, global = true, default_value_t = 1)]
    report_every: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the virtual counter (CNTVCT_EL0) and its frequency
    /// (CNTFRQ_EL0): `N (F Hz)`.
    Counter,
    /// The real-time side: publish samples, receive setpoints.
    Control {
        /// Samples per second.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Stop after this many seconds (default: never).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// The container side: turn each sample into a setpoint.
    Gateway {
        /// Stop after this many seconds (default: never).
        #[arg(long)]
        seconds: Option<u64>,
        /// While this file exists, flood the channel: after each
        /// setpoint, fill the ring with filler messages (a load for the
        /// latency lab, docs/hil.md).
        #[arg(long)]
        flood_while: Option<std::path::PathBuf>,
    },
    /// Round trips between two peers.
    Pingpong {
        /// Which end this is.
        #[arg(value_enum)]
        role: Role,
        /// How many round trips (the initiator's count; the echo answers
        /// until the initiator stops).
        #[arg(long, default_value_t = 1000)]
        rounds: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Role {
    Initiator,
    Echo,
}

/// How long a blocking send or receive waits before it reports.
const PATIENCE: Duration = Duration::from_secs(1);

/// A measured value, sent by the control loop.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    sequence: u32,
    /// When it was published, in ns on the sender's monotonic clock.
    sent_ns: u64,
    value: f32,
}

/// The sequence number of a filler setpoint, which answers no sample (a
/// gateway's flood); the control loop counts it and times nothing.
const FILLER: u32 = u32::MAX;

/// The answer to a sample: the setpoint for it, and the sample's identity
/// so the sender can time the round trip.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Setpoint {
    sequence: u32,
    sample_sent_ns: u64,
    setpoint: f32,
}

fn encode_triple(out: &mut [u8], sequence: u32, ns: u64, value: f32) {
    out[..4].copy_from_slice(&sequence.to_le_bytes());
    out[4..12].copy_from_slice(&ns.to_le_bytes());
    out[12..16].copy_from_slice(&value.to_bits().to_le_bytes());
}

fn decode_triple(bytes: &[u8]) -> Result<(u32, u64, f32), DecodeError> {
    Ok((
        u32::decode(&bytes[..4])?,
        u64::decode(&bytes[4..12])?,
        f32::from_bits(u32::decode(&bytes[12..16])?),
    ))
}

impl Message for Sample {
    const SIZE: usize = 16;

    fn encode(&self, out: &mut [u8]) {
        encode_triple(out, self.sequence, self.sent_ns, self.value);
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (sequence, sent_ns, value) = decode_triple(bytes)?;
        Ok(Sample {
            sequence,
            sent_ns,
            value,
        })
    }
}

impl Message for Setpoint {
    const SIZE: usize = 16;

    fn encode(&self, out: &mut [u8]) {
        encode_triple(out, self.sequence, self.sample_sent_ns, self.setpoint);
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (sequence, sample_sent_ns, setpoint) = decode_triple(bytes)?;
        Ok(Setpoint {
            sequence,
            sample_sent_ns,
            setpoint,
        })
    }
}

/// Round-trip statistics in microseconds.
#[derive(Default)]
struct Trips {
    count: u64,
    min_us: u64,
    max_us: u64,
    total_us: u64,
}

impl Trips {
    fn add(&mut self, us: u64) {
        self.min_us = if self.count == 0 {
            us
        } else {
            self.min_us.min(us)
        };
        self.max_us = self.max_us.max(us);
        self.total_us += us;
        self.count += 1;
    }

    fn describe(&self) -> String {
        if self.count == 0 {
            return "no round trips".to_string();
        }
        format!(
            "round trip min {} us, avg {} us, max {} us",
            self.min_us,
            self.total_us / self.count,
            self.max_us
        )
    }
}

/// The first UIO device whose PCI function is ivshmem (its vendor ID).
fn find_uio() -> Option<u32> {
    let mut found: Vec<u32> = std::fs::read_dir("/sys/class/uio")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("uio")?.parse().ok())
        .filter(|n| {
            let vendor = Path::new("/sys/class/uio")
                .join(format!("uio{n}"))
                .join("device/vendor");
            std::fs::read_to_string(vendor)
                .is_ok_and(|v| v.trim() == format!("{:#06x}", bulkhead_abi::ivshmem::VENDOR_ID))
        })
        .collect();
    found.sort_unstable();
    found.first().copied()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Counter = cli.command {
        return match counter::read() {
            Some((count, hertz)) => {
                println!("{}", counter::describe(count, hertz));
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("bulkhead-ipc: no generic timer counter on this architecture");
                ExitCode::FAILURE
            }
        };
    }
    let Some(uio) = cli.uio.or_else(find_uio) else {
        eprintln!(
            "bulkhead-ipc: no ivshmem UIO device: is the cell a peer of a channel, and is \
             uio_pci_generic bound to it (echo '110a 4106' > /sys/bus/pci/drivers/uio_pci_generic/new_id)?"
        );
        return ExitCode::FAILURE;
    };
    let device = match UioDevice::open(&UioConfig::new(uio)) {
        Ok(device) => device,
        Err(error) => {
            eprintln!("bulkhead-ipc: /dev/uio{uio}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let report = Duration::from_secs(cli.report_every.max(1));
    match run(&device, &cli.command, report) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bulkhead-ipc: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    device: &UioDevice,
    command: &Command,
    report: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let me = device.id();
    let peers = device.geometry().max_peers;
    // Two peers: the other one is the channel's remote end.
    let remote = PeerId(if me.0 == 0 { 1 } else { 0 });
    println!(
        "bulkhead-ipc: /dev/uio: peer {} of {peers}, talking to peer {}",
        me.0, remote.0
    );
    device.set_state(PeerState::Init);
    let region = device.region()?;
    let config = ChannelConfig {
        slot_size: 64,
        slot_count: 64,
        ..ChannelConfig::new(remote)
    };
    let mut channel = Channel::open(&region, config, device.doorbell()?)?;
    device.set_state(PeerState::Ready);
    match *command {
        Command::Control { rate, seconds } => control(&mut channel, rate, seconds, report)?,
        Command::Gateway {
            seconds,
            ref flood_while,
        } => gateway(&mut channel, seconds, flood_while.as_deref(), report)?,
        Command::Pingpong { role, rounds } => pingpong(&mut channel, role, rounds)?,
        // Needs no channel: `main` answers it before opening one.
        Command::Counter => {}
    }
    Ok(())
}

fn nanos(origin: Instant) -> u64 {
    origin.elapsed().as_nanos() as u64
}

/// Publishes a sample every `1 / rate` s and drains the setpoints that
/// came back, never blocking on the peer: a full ring drops the sample
/// (counted), so the loop keeps its period whatever the other cell does.
fn control<D: Doorbell>(
    channel: &mut Channel<'_, D>,
    rate: u32,
    seconds: Option<u64>,
    report: Duration,
) -> Result<(), Error> {
    let period = Duration::from_nanos(1_000_000_000 / u64::from(rate.max(1)));
    let origin = Instant::now();
    let stop = seconds.map(|s| origin + Duration::from_secs(s));
    let mut next = origin + period;
    let mut report_at = origin + report;
    let (mut sent, mut back, mut dropped, mut filler) = (0u64, 0u64, 0u64, 0u64);
    let mut trips = Trips::default();
    let mut sequence = 0u32;
    loop {
        let now = Instant::now();
        if stop.is_some_and(|stop| now >= stop) {
            return Ok(());
        }
        if now >= report_at {
            let seconds = report.as_secs().max(1);
            let flood = if filler > 0 {
                format!(", {} filler/s", filler / seconds)
            } else {
                String::new()
            };
            println!(
                "bulkhead-ipc: control: {} samples/s sent, {} setpoints/s back, {}, {} dropped/s, peer {}{flood}",
                sent / seconds,
                back / seconds,
                trips.describe(),
                dropped / seconds,
                if channel.peer_state() == Ok(PeerState::Ready) {
                    "up"
                } else {
                    "down"
                }
            );
            (sent, back, dropped, filler) = (0, 0, 0, 0);
            trips = Trips::default();
            report_at += report;
        }
        let value = (sequence as f32 * 0.01).sin();
        let sample = Sample {
            sequence,
            sent_ns: nanos(origin),
            value,
        };
        match channel.try_send_message(&sample) {
            Ok(()) => sent += 1,
            Err(Error::Full | Error::PeerNotReady) => dropped += 1,
            Err(error) => return Err(error),
        }
        sequence = sequence.wrapping_add(1);
        loop {
            match channel.try_recv_message::<Setpoint>() {
                Ok(setpoint) if setpoint.sequence == FILLER => filler += 1,
                Ok(setpoint) => {
                    back += 1;
                    trips.add(nanos(origin).saturating_sub(setpoint.sample_sent_ns) / 1000);
                }
                Err(Error::Empty | Error::PeerNotReady) => break,
                Err(Error::Decode(_)) => continue,
                Err(error) => return Err(error),
            }
        }
        let _ = channel.heartbeat();
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        next += period;
    }
}

/// Answers each sample with a setpoint from a PI controller that steers
/// the sampled value to 0. While `flood_while` names a file that exists,
/// it then also fills the ring with [`FILLER`] setpoints.
fn gateway<D: Doorbell>(
    channel: &mut Channel<'_, D>,
    seconds: Option<u64>,
    flood_while: Option<&std::path::Path>,
    report: Duration,
) -> Result<(), Error> {
    let origin = Instant::now();
    let stop = seconds.map(|s| origin + Duration::from_secs(s));
    let mut report_at = origin + report;
    let (mut received, mut answered, mut flooded, mut timeouts) = (0u64, 0u64, 0u64, 0u64);
    let mut integral = 0.0f32;
    loop {
        let now = Instant::now();
        if stop.is_some_and(|stop| now >= stop) {
            return Ok(());
        }
        if now >= report_at {
            let seconds = report.as_secs().max(1);
            let mut extra = String::new();
            if flooded > 0 {
                extra += &format!(", {} filler/s out", flooded / seconds);
            }
            if timeouts > 0 {
                extra += &format!(", {timeouts} waits timed out");
            }
            println!(
                "bulkhead-ipc: gateway: {} samples/s in, {} setpoints/s out{extra}",
                received / seconds,
                answered / seconds
            );
            (received, answered, flooded, timeouts) = (0, 0, 0, 0);
            report_at += report;
        }
        let _ = channel.heartbeat();
        let sample: Sample = match channel.recv_message(PATIENCE) {
            Ok(sample) => sample,
            Err(Error::Timeout) => {
                timeouts += 1;
                continue;
            }
            Err(Error::PeerNotReady | Error::Decode(_)) => continue,
            Err(error) => return Err(error),
        };
        received += 1;
        integral = (integral + sample.value * 0.001).clamp(-10.0, 10.0);
        let setpoint = Setpoint {
            sequence: sample.sequence,
            sample_sent_ns: sample.sent_ns,
            setpoint: -(0.5 * sample.value + 2.0 * integral),
        };
        match channel.send_message(&setpoint, PATIENCE) {
            Ok(()) => answered += 1,
            Err(Error::Timeout | Error::Full | Error::PeerNotReady) => {}
            Err(error) => return Err(error),
        }
        if flood_while.is_some_and(|file| file.exists()) {
            let filler = Setpoint {
                sequence: FILLER,
                sample_sent_ns: 0,
                setpoint: 0.0,
            };
            while channel.try_send_message(&filler).is_ok() {
                flooded += 1;
            }
        }
    }
}

/// `rounds` round trips from the initiator, each waiting on the doorbell.
fn pingpong<D: Doorbell>(
    channel: &mut Channel<'_, D>,
    role: Role,
    rounds: u32,
) -> Result<(), Error> {
    let origin = Instant::now();
    let mut trips = Trips::default();
    let mut answered = 0u32;
    let mut sequence = 0u32;
    while sequence < rounds || role == Role::Echo {
        match role {
            Role::Initiator => {
                let sample = Sample {
                    sequence,
                    sent_ns: nanos(origin),
                    value: 0.0,
                };
                match channel.send_message(&sample, PATIENCE) {
                    Ok(()) => {}
                    Err(Error::Timeout | Error::PeerNotReady) => continue,
                    Err(error) => return Err(error),
                }
                match channel.recv_message::<Setpoint>(PATIENCE * 5) {
                    Ok(answer) if answer.sequence == sequence => {
                        trips.add(nanos(origin).saturating_sub(answer.sample_sent_ns) / 1000);
                        sequence += 1;
                    }
                    Ok(_) | Err(Error::Decode(_)) => {}
                    Err(error) => return Err(error),
                }
            }
            Role::Echo => {
                let sample: Sample = match channel.recv_message(PATIENCE) {
                    Ok(sample) => sample,
                    Err(Error::Timeout | Error::PeerNotReady | Error::Decode(_)) => continue,
                    Err(error) => return Err(error),
                };
                let answer = Setpoint {
                    sequence: sample.sequence,
                    sample_sent_ns: sample.sent_ns,
                    setpoint: 0.0,
                };
                channel.send_message(&answer, PATIENCE)?;
                answered += 1;
                if answered.is_multiple_of(1000) {
                    println!("bulkhead-ipc: echo: {answered} answered");
                }
            }
        }
    }
    println!(
        "bulkhead-ipc: pingpong: {rounds} round trips ok, {}",
        trips.describe()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let sample = Sample {
            sequence: 7,
            sent_ns: 123_456_789,
            value: -1.5,
        };
        let mut bytes = [0u8; 16];
        sample.encode(&mut bytes);
        assert_eq!(Sample::decode(&bytes), Ok(sample));
        let setpoint = Setpoint {
            sequence: 7,
            sample_sent_ns: 5,
            setpoint: 0.25,
        };
        setpoint.encode(&mut bytes);
        assert_eq!(Setpoint::decode(&bytes), Ok(setpoint));
    }

    #[test]
    fn trips_summarise() {
        let mut trips = Trips::default();
        assert_eq!(trips.describe(), "no round trips");
        for us in [30, 10, 20] {
            trips.add(us);
        }
        assert_eq!(
            trips.describe(),
            "round trip min 10 us, avg 20 us, max 30 us"
        );
    }
}
