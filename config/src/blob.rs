//! The binary config image: how a validated [`System`] travels from the host
//! tool to the partitioner.
//!
//! Layout (all integers little-endian):
//!
//! | offset | size | field                                         |
//! |-------:|-----:|-----------------------------------------------|
//! | 0      | 8    | magic `BLKHDCFG`                              |
//! | 8      | 4    | format version ([`VERSION`])                  |
//! | 12     | 4    | header size ([`HEADER_SIZE`])                 |
//! | 16     | 4    | body length                                   |
//! | 20     | 4    | CRC-32 (IEEE) of the body                     |
//! | 24     | 8    | total length: blob plus the image payloads    |
//! | 32     | …    | body: the system, field by field              |
//!
//! Version 2 added each console's interrupt ([`Console::irq`]). Version 3
//! added each memory region's guest address and sharing
//! ([`MemoryRegion::guest_base`], [`MemoryRegion::shared_with`]) and the
//! set of real-time cells ([`System::realtime`]), after the cells. Version
//! 4 added the shared-memory channels ([`System::channels`]) after the
//! real-time set: for each, its name, base, peers (a count byte, then one
//! cell index byte per peer), common size and output size. Version 5
//! added the latency lab's quantum ([`System::icount_quantum_ns`], 4
//! bytes) after the channels. Version 6 added the cells with direct
//! `WFI` ([`System::direct_wfi`], a cell-set byte) after the quantum.
//! Version 7 added the cells with virtualized interrupts
//! ([`System::virtualized`], a cell-set byte) after that. Version 8 added
//! each cell's watchdog ([`Cell::watchdog`]) after its fault policy: a
//! byte (0 none, 1 one), then its base (8 bytes), timeout in ms (4) and
//! action (1); and [`System::console_input`] (a byte: 0 auto, 1
//! required, 2 off) after the virtualized cells. Version 9 added the cells
//! that accept unconfined DMA ([`System::unconfined_dma`], a cell-set
//! byte) after the console input.
//!
//! Image payloads follow the blob; [`Image::offset`] counts from the blob's
//! first byte. Decoding checks every length and count, so a corrupt or
//! truncated blob yields a [`BlobError`], never a panic.

use crate::model::*;
use bsp::MemRange;
use core::fmt;
use heapless::Vec;

/// First bytes of every config blob.
pub const MAGIC: [u8; 8] = *b"BLKHDCFG";
/// Format version this code reads and writes.
pub const VERSION: u32 = 9;
/// Size of the fixed header.
pub const HEADER_SIZE: usize = 32;

/// Why a blob was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobError {
    /// The magic is missing: no config was appended to the image.
    BadMagic,
    /// The blob was written by an incompatible tool version.
    UnsupportedVersion(u32),
    /// The header's sizes are inconsistent.
    BadHeader,
    /// The body's checksum does not match: the image is corrupt.
    BadChecksum {
        /// Checksum in the header.
        expected: u32,
        /// Checksum of the body as found.
        found: u32,
    },
    /// The body ended in the middle of a field.
    Truncated,
    /// A list is longer than the partitioner's fixed capacity.
    TooMany,
    /// A name is too long or not UTF-8.
    BadName,
    /// An enumeration field holds an unknown value.
    BadEnum,
    /// Bytes were left over after the last field.
    TrailingBytes,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobError::BadMagic => write!(f, "no Bulkhead config found (bad magic)"),
            BlobError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "config format version {v}, this partitioner reads version {VERSION}"
                )
            }
            BlobError::BadHeader => write!(f, "config header sizes are inconsistent"),
            BlobError::BadChecksum { expected, found } => {
                write!(f, "config checksum mismatch: header says {expected:#010x}, body has {found:#010x}")
            }
            BlobError::Truncated => write!(f, "config body is truncated"),
            BlobError::TooMany => {
                write!(f, "config has more entries than this partitioner supports")
            }
            BlobError::BadName => write!(f, "config contains an invalid name"),
            BlobError::BadEnum => write!(f, "config contains an unknown enumeration value"),
            BlobError::TrailingBytes => write!(f, "config body has trailing bytes"),
        }
    }
}

/// CRC-32 as used by Ethernet and zlib (reflected polynomial 0xEDB88320).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The decoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Length of the body that follows the header.
    pub body_length: u32,
    /// Blob plus payloads, in bytes.
    pub total_length: u64,
}

/// Reads and checks the header at the start of `bytes`.
pub fn read_header(bytes: &[u8]) -> Result<Header, BlobError> {
    let mut r = Reader { bytes, at: 0 };
    let magic = r.take(8).map_err(|_| BlobError::BadMagic)?;
    if magic != MAGIC {
        return Err(BlobError::BadMagic);
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(BlobError::UnsupportedVersion(version));
    }
    let header_size = r.u32()?;
    let body_length = r.u32()?;
    let _crc = r.u32()?;
    let total_length = r.u64()?;
    if header_size as usize != HEADER_SIZE
        || (HEADER_SIZE as u64 + body_length as u64) > total_length
    {
        return Err(BlobError::BadHeader);
    }
    Ok(Header {
        body_length,
        total_length,
    })
}

/// Decodes a whole blob (header and body; payloads are not touched).
pub fn decode(bytes: &[u8]) -> Result<System, BlobError> {
    let header = read_header(bytes)?;
    let end = HEADER_SIZE + header.body_length as usize;
    let body = bytes.get(HEADER_SIZE..end).ok_or(BlobError::Truncated)?;
    let expected = u32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    let found = crc32(body);
    if expected != found {
        return Err(BlobError::BadChecksum { expected, found });
    }
    let mut r = Reader { bytes: body, at: 0 };
    let system = r.system()?;
    if r.at != body.len() {
        return Err(BlobError::TrailingBytes);
    }
    Ok(system)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BlobError> {
        let end = self.at.checked_add(n).ok_or(BlobError::Truncated)?;
        let slice = self.bytes.get(self.at..end).ok_or(BlobError::Truncated)?;
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, BlobError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, BlobError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, BlobError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn name(&mut self) -> Result<Name, BlobError> {
        let len = self.u8()? as usize;
        let s = core::str::from_utf8(self.take(len)?).map_err(|_| BlobError::BadName)?;
        name(s).ok_or(BlobError::BadName)
    }

    fn range(&mut self) -> Result<MemRange, BlobError> {
        Ok(MemRange::new(self.u64()?, self.u64()?))
    }

    /// Reads a count byte, then that many items.
    fn list<T, const N: usize>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, BlobError>,
    ) -> Result<Vec<T, N>, BlobError> {
        let count = self.u8()? as usize;
        let mut v = Vec::new();
        for _ in 0..count {
            let x = item(self)?;
            v.push(x).map_err(|_| BlobError::TooMany)?;
        }
        Ok(v)
    }

    fn system(&mut self) -> Result<System, BlobError> {
        let board = self.name()?;
        let cells = self.list(Self::cell)?;
        let realtime = CellSet::from_bits(self.u8()?);
        let channels = self.list(|r| {
            Ok(Channel {
                name: r.name()?,
                base: r.u64()?,
                peers: r.list(Self::u8)?,
                common_size: r.u64()?,
                output_size: r.u64()?,
            })
        })?;
        let icount_quantum_ns = self.u32()?;
        let direct_wfi = CellSet::from_bits(self.u8()?);
        let virtualized = CellSet::from_bits(self.u8()?);
        let console_input = match self.u8()? {
            0 => ConsoleInput::Auto,
            1 => ConsoleInput::Required,
            2 => ConsoleInput::Off,
            _ => return Err(BlobError::BadEnum),
        };
        let unconfined_dma = CellSet::from_bits(self.u8()?);
        Ok(System {
            board,
            cells,
            realtime,
            direct_wfi,
            virtualized,
            unconfined_dma,
            channels,
            icount_quantum_ns,
            console_input,
        })
    }

    fn cell(&mut self) -> Result<Cell, BlobError> {
        let name = self.name()?;
        let cpus = CpuSet::from_bits(self.u64()?);
        let memory = self.list(|r| {
            let range = r.range()?;
            let guest_base = r.u64()?;
            let access = match r.u8()? {
                0 => Access::ReadWriteExecute,
                1 => Access::ReadWrite,
                2 => Access::ReadOnly,
                _ => return Err(BlobError::BadEnum),
            };
            let shared_with = CellSet::from_bits(r.u8()?);
            Ok(MemoryRegion {
                range,
                guest_base,
                access,
                shared_with,
            })
        })?;
        let devices = self.list(|r| {
            let name = r.name()?;
            let mmio = r.list(Self::range)?;
            let irqs = r.list(Self::u32)?;
            Ok(DeviceGrant { name, mmio, irqs })
        })?;
        let console = match self.u8()? {
            0 => None,
            1 => Some(Console {
                base: self.u64()?,
                irq: self.u32()?,
            }),
            _ => return Err(BlobError::BadEnum),
        };
        let images = self.list(|r| {
            let kind = match r.u8()? {
                0 => ImageKind::Kernel,
                1 => ImageKind::Initrd,
                2 => ImageKind::DeviceTree,
                _ => return Err(BlobError::BadEnum),
            };
            Ok(Image {
                kind,
                offset: r.u64()?,
                size: r.u64()?,
                load_address: r.u64()?,
            })
        })?;
        let entry = self.u64()?;
        let boot_argument = self.u64()?;
        let on_fault = self.policy()?;
        let watchdog = match self.u8()? {
            0 => None,
            1 => Some(Watchdog {
                base: self.u64()?,
                timeout_ms: self.u32()?,
                action: self.policy()?,
            }),
            _ => return Err(BlobError::BadEnum),
        };
        Ok(Cell {
            name,
            cpus,
            memory,
            devices,
            console,
            images,
            entry,
            boot_argument,
            on_fault,
            watchdog,
        })
    }

    fn policy(&mut self) -> Result<FaultPolicy, BlobError> {
        match self.u8()? {
            0 => Ok(FaultPolicy::Stop),
            1 => Ok(FaultPolicy::Restart),
            _ => Err(BlobError::BadEnum),
        }
    }
}

#[cfg(feature = "std")]
mod encode {
    use super::*;

    struct Writer(std::vec::Vec<u8>);

    impl Writer {
        fn policy(&mut self, policy: FaultPolicy) {
            self.u8(match policy {
                FaultPolicy::Stop => 0,
                FaultPolicy::Restart => 1,
            });
        }
        fn u8(&mut self, v: u8) {
            self.0.push(v);
        }
        fn u32(&mut self, v: u32) {
            self.0.extend_from_slice(&v.to_le_bytes());
        }
        fn u64(&mut self, v: u64) {
            self.0.extend_from_slice(&v.to_le_bytes());
        }
        fn name(&mut self, n: &Name) {
            // Names are at most MAX_NAME (32) bytes by type.
            self.u8(n.len() as u8);
            self.0.extend_from_slice(n.as_bytes());
        }
        fn range(&mut self, r: &MemRange) {
            self.u64(r.base);
            self.u64(r.size);
        }
        // Capacities are all below 256 by type, so counts fit a byte.
        fn count(&mut self, n: usize) {
            self.u8(n as u8);
        }
    }

    /// Encodes `system` into a blob whose payloads (the images, at the
    /// offsets the model gives) make the whole `total_length` bytes long.
    pub fn encode(system: &System, total_length: u64) -> std::vec::Vec<u8> {
        let mut w = Writer(std::vec::Vec::new());
        w.name(&system.board);
        w.count(system.cells.len());
        for cell in &system.cells {
            w.name(&cell.name);
            w.u64(cell.cpus.bits());
            w.count(cell.memory.len());
            for m in &cell.memory {
                w.range(&m.range);
                w.u64(m.guest_base);
                w.u8(match m.access {
                    Access::ReadWriteExecute => 0,
                    Access::ReadWrite => 1,
                    Access::ReadOnly => 2,
                });
                w.u8(m.shared_with.bits());
            }
            w.count(cell.devices.len());
            for d in &cell.devices {
                w.name(&d.name);
                w.count(d.mmio.len());
                d.mmio.iter().for_each(|r| w.range(r));
                w.count(d.irqs.len());
                d.irqs.iter().for_each(|&i| w.u32(i));
            }
            match cell.console {
                None => w.u8(0),
                Some(c) => {
                    w.u8(1);
                    w.u64(c.base);
                    w.u32(c.irq);
                }
            }
            w.count(cell.images.len());
            for i in &cell.images {
                w.u8(match i.kind {
                    ImageKind::Kernel => 0,
                    ImageKind::Initrd => 1,
                    ImageKind::DeviceTree => 2,
                });
                w.u64(i.offset);
                w.u64(i.size);
                w.u64(i.load_address);
            }
            w.u64(cell.entry);
            w.u64(cell.boot_argument);
            w.policy(cell.on_fault);
            match &cell.watchdog {
                None => w.u8(0),
                Some(watchdog) => {
                    w.u8(1);
                    w.u64(watchdog.base);
                    w.u32(watchdog.timeout_ms);
                    w.policy(watchdog.action);
                }
            }
        }
        w.u8(system.realtime.bits());
        w.count(system.channels.len());
        for c in &system.channels {
            w.name(&c.name);
            w.u64(c.base);
            w.count(c.peers.len());
            c.peers.iter().for_each(|&p| w.u8(p));
            w.u64(c.common_size);
            w.u64(c.output_size);
        }
        w.u32(system.icount_quantum_ns);
        w.u8(system.direct_wfi.bits());
        w.u8(system.virtualized.bits());
        w.u8(match system.console_input {
            ConsoleInput::Auto => 0,
            ConsoleInput::Required => 1,
            ConsoleInput::Off => 2,
        });
        w.u8(system.unconfined_dma.bits());
        let body = w.0;
        let mut blob = std::vec::Vec::with_capacity(HEADER_SIZE + body.len());
        blob.extend_from_slice(&MAGIC);
        blob.extend_from_slice(&VERSION.to_le_bytes());
        blob.extend_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
        blob.extend_from_slice(&(body.len() as u32).to_le_bytes());
        blob.extend_from_slice(&crc32(&body).to_le_bytes());
        blob.extend_from_slice(&total_length.to_le_bytes());
        blob.extend_from_slice(&body);
        blob
    }

    /// Length of the blob [`encode`] produces for `system`.
    pub fn encoded_len(system: &System) -> usize {
        encode(system, u64::MAX).len()
    }
}

#[cfg(feature = "std")]
pub use encode::{encode, encoded_len};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample() -> System {
        let mut cells = Vec::new();
        let mut memory = Vec::new();
        memory
            .push(MemoryRegion {
                range: MemRange::new(0x5000_0000, 0x20_0000),
                guest_base: 0x5000_0000,
                access: Access::ReadWriteExecute,
                shared_with: CellSet::EMPTY,
            })
            .unwrap();
        memory
            .push(MemoryRegion {
                range: MemRange::new(0x7000_0000, 0x1000),
                guest_base: 0x1_0000,
                access: Access::ReadWrite,
                shared_with: CellSet::from_bits(0b10),
            })
            .unwrap();
        let mut devices = Vec::new();
        let mut mmio = Vec::new();
        mmio.push(MemRange::new(0x0a00_3e00, 0x200)).unwrap();
        let mut irqs = Vec::new();
        irqs.push(79).unwrap();
        devices
            .push(DeviceGrant {
                name: name("virtio-mmio31").unwrap(),
                mmio,
                irqs,
            })
            .unwrap();
        let mut images = Vec::new();
        images
            .push(Image {
                kind: ImageKind::Kernel,
                offset: 4096,
                size: 1234,
                load_address: 0x5000_0000,
            })
            .unwrap();
        cells
            .push(Cell {
                name: name("alpha").unwrap(),
                cpus: CpuSet::from_bits(0b110),
                memory,
                devices,
                console: Some(Console {
                    base: 0x0900_0000,
                    irq: 96,
                }),
                images,
                entry: 0x5000_0000,
                boot_argument: 0,
                on_fault: FaultPolicy::Restart,
                watchdog: Some(Watchdog {
                    base: 0x0900_1000,
                    timeout_ms: 2_500,
                    action: FaultPolicy::Stop,
                }),
            })
            .unwrap();
        let mut channels = Vec::new();
        channels
            .push(Channel {
                name: name("telemetry").unwrap(),
                base: 0x7fe0_0000,
                peers: Vec::from_slice(&[0, 1]).unwrap(),
                common_size: 0x1000,
                output_size: 0x1_0000,
            })
            .unwrap();
        channels
            .push(Channel {
                name: name("commands").unwrap(),
                base: 0x7ff0_0000,
                peers: Vec::from_slice(&[1, 0, 2]).unwrap(),
                common_size: 0,
                output_size: 0x2000,
            })
            .unwrap();
        System {
            board: name("qemu-virt").unwrap(),
            cells,
            realtime: CellSet::from_bits(1),
            direct_wfi: CellSet::from_bits(0b10),
            virtualized: CellSet::from_bits(0b10),
            unconfined_dma: CellSet::from_bits(0b100),
            channels,
            icount_quantum_ns: 10_000,
            console_input: ConsoleInput::Off,
        }
    }

    #[test]
    fn crc32_matches_reference_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn round_trip() {
        let s = sample();
        let blob = encode(&s, 8192);
        assert_eq!(decode(&blob).unwrap(), s);
        assert_eq!(read_header(&blob).unwrap().total_length, 8192);
        assert_eq!(encoded_len(&s), blob.len());
    }

    #[test]
    fn guest_addresses_sharing_and_realtime_travel() {
        let decoded = decode(&encode(&sample(), 8192)).unwrap();
        let shared = decoded.cells[0].memory[1];
        assert_eq!(shared.guest_base, 0x1_0000);
        assert_eq!(shared.range.base, 0x7000_0000);
        assert!(shared.shared_with.contains(1) && !shared.shared_with.contains(0));
        assert!(!decoded.cells[0].memory[0].is_shared());
        assert!(decoded.realtime.contains(0));
        assert!(decoded.direct_wfi.contains(1) && !decoded.direct_wfi.contains(0));
        assert!(decoded.virtualized.contains(1) && !decoded.virtualized.contains(0));
        assert!(decoded.unconfined_dma.contains(2) && !decoded.unconfined_dma.contains(1));
    }

    #[test]
    fn channels_travel() {
        let decoded = decode(&encode(&sample(), 8192)).unwrap();
        assert_eq!(decoded.channels.len(), 2);
        let telemetry = &decoded.channels[0];
        assert_eq!(telemetry.name.as_str(), "telemetry");
        assert_eq!(telemetry.peers.as_slice(), [0, 1]);
        assert_eq!(telemetry.range(), MemRange::new(0x7fe0_0000, 0x2_2000));
        let commands = &decoded.channels[1];
        assert_eq!(commands.peers.as_slice(), [1, 0, 2]);
        assert_eq!(commands.common_size, 0);
        assert_eq!(commands.output(2), MemRange::new(0x7ff0_5000, 0x2000));
    }

    #[test]
    fn a_system_without_channels_travels() {
        let mut s = sample();
        s.channels.clear();
        assert_eq!(decode(&encode(&s, 8192)).unwrap(), s);
    }

    #[test]
    fn too_many_channels_or_peers_are_refused() {
        // The channels end the body but for the last 8 bytes: put
        // hand-made ones in a system without any, and fix the header.
        let mut without = sample();
        without.channels.clear();
        without.icount_quantum_ns = 0;
        let blob = encode(&without, 8192);
        let with_channels = |count: u8, peers: &[u8]| {
            let mut body = blob[HEADER_SIZE..].to_vec();
            // Without the quantum (4 bytes), the direct-WFI set (1), the
            // virtualized set (1), the console input (1) and the
            // unconfined-DMA set (1).
            body.truncate(body.len() - 8);
            *body.last_mut().unwrap() = count;
            for _ in 0..count {
                body.extend_from_slice(&[1, b'x']);
                body.extend_from_slice(&0x7fe0_0000u64.to_le_bytes());
                body.push(peers.len() as u8);
                body.extend_from_slice(peers);
                body.extend_from_slice(&0u64.to_le_bytes());
                body.extend_from_slice(&0x1000u64.to_le_bytes());
            }
            body.extend_from_slice(&0u32.to_le_bytes());
            body.extend_from_slice(&[0, 0, 0, 0]);
            let mut b = blob[..HEADER_SIZE].to_vec();
            b[16..20].copy_from_slice(&(body.len() as u32).to_le_bytes());
            b[20..24].copy_from_slice(&crc32(&body).to_le_bytes());
            b.extend_from_slice(&body);
            b
        };
        let fine = decode(&with_channels(MAX_CHANNELS as u8, &[0, 1])).unwrap();
        assert_eq!(fine.channels.len(), MAX_CHANNELS);
        assert_eq!(
            decode(&with_channels(MAX_CHANNELS as u8 + 1, &[0, 1])),
            Err(BlobError::TooMany)
        );
        assert_eq!(
            decode(&with_channels(1, &[0, 1, 2, 3, 4][..MAX_CHANNEL_PEERS + 1])),
            Err(BlobError::TooMany)
        );
    }

    #[test]
    fn blobs_of_older_versions_are_refused() {
        let mut old = encode(&sample(), 8192);
        old[8..12].copy_from_slice(&4u32.to_le_bytes());
        assert_eq!(decode(&old), Err(BlobError::UnsupportedVersion(4)));
    }

    #[test]
    fn corruption_is_detected() {
        let blob = encode(&sample(), 8192);
        let mut bad = blob.clone();
        bad[0] = b'X';
        assert_eq!(decode(&bad), Err(BlobError::BadMagic));
        let mut bad = blob.clone();
        bad[8] = VERSION as u8 + 1;
        assert_eq!(
            decode(&bad),
            Err(BlobError::UnsupportedVersion(VERSION + 1))
        );
        let mut bad = blob.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(decode(&bad), Err(BlobError::BadChecksum { .. })));
        assert_eq!(decode(&blob[..blob.len() - 1]), Err(BlobError::Truncated));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn arbitrary_bodies_with_valid_checksum_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut blob = std::vec::Vec::new();
            blob.extend_from_slice(&MAGIC);
            blob.extend_from_slice(&VERSION.to_le_bytes());
            blob.extend_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
            blob.extend_from_slice(&(body.len() as u32).to_le_bytes());
            blob.extend_from_slice(&crc32(&body).to_le_bytes());
            blob.extend_from_slice(&u64::MAX.to_le_bytes());
            blob.extend_from_slice(&body);
            let _ = decode(&blob);
        }
    }
}
