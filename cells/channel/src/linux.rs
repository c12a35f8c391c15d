//! The Linux backend (feature `linux`): an ivshmem-v2 device bound to a
//! UIO driver, seen from user space.
//!
//! - The layout comes from PCI configuration space
//!   (`/sys/class/uio/uioN/device/config`: the vendor capability's section
//!   sizes) and from the registers (ID, Maximum Peers).
//! - The BARs are mapped through `/sys/class/uio/uioN/device/resourceN`:
//!   the registers (BAR 0 by default) read-write, the shared memory (BAR 2
//!   by default) read-only except the common section and the local output
//!   section, so that a stray write faults here instead of in the
//!   hypervisor.
//! - Interrupts are waited for with poll(2) on `/dev/uioN` (one open file
//!   per [`UioDoorbell`], so that doorbells do not steal each other's
//!   events), then re-armed as the driver needs ([`Rearm`]).
//!
//! Reading the capabilities in configuration space past byte 64 and
//! mapping BARs need root (or the matching file permissions).
#![forbid(unsafe_code)]

extern crate std;

use core::cell::Cell;
use core::marker::PhantomData;
use core::time::Duration;
use std::borrow::ToOwned;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;
use std::vec::Vec;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::OFlags;

use crate::doorbell::{Doorbell, Wakeup};
use crate::error::{ConfigError, Error};
use crate::ivshmem::Registers;
use crate::region::{Geometry, PeerId, PeerState, Region};
use crate::shm::{Mapping, RegisterMapping};
use bulkhead_abi::ivshmem::{self, capability};
use bulkhead_abi::pci;

/// How interrupts are re-enabled after each one, which depends on the UIO
/// driver bound to the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rearm {
    /// `uio_pci_generic`: its interrupt handler masks INTx by setting the
    /// Interrupt Disable bit (10) of the PCI Command register, and it has
    /// no `irqcontrol`, so writing to `/dev/uioN` fails (`ENOSYS`). User
    /// space clears the bit through the sysfs `config` file.
    PciCommand,
    /// `uio_ivshmem` (Jailhouse's driver): it puts the device in one-shot
    /// mode, where each delivery clears Interrupt Control bit 0; user space
    /// sets it again through the register BAR.
    InterruptControl,
}

/// Which UIO device to open and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UioConfig {
    /// `N` of `/dev/uioN`.
    pub device: u32,
    /// The BAR of the register region (ivshmem-v2: BAR 0).
    pub register_bar: u8,
    /// The BAR of the shared memory (ivshmem-v2: BAR 2).
    pub shared_memory_bar: u8,
    /// How to re-arm interrupts.
    pub rearm: Rearm,
    /// Refuse a device whose vendor and device IDs are not ivshmem-v2's.
    pub check_ids: bool,
    /// Where the UIO class lives (`/sys/class/uio`).
    pub class_dir: PathBuf,
    /// Where the device nodes live (`/dev`).
    pub dev_dir: PathBuf,
}

impl UioConfig {
    /// `/dev/uio{device}` bound to `uio_pci_generic`, registers in BAR 0,
    /// shared memory in BAR 2.
    pub fn new(device: u32) -> Self {
        UioConfig {
            device,
            register_bar: 0,
            shared_memory_bar: 2,
            rearm: Rearm::PciCommand,
            check_ids: true,
            class_dir: PathBuf::from("/sys/class/uio"),
            dev_dir: PathBuf::from("/dev"),
        }
    }

    fn device_dir(&self) -> PathBuf {
        self.class_dir
            .join(std::format!("uio{}", self.device))
            .join("device")
    }

    fn events_path(&self) -> PathBuf {
        self.dev_dir.join(std::format!("uio{}", self.device))
    }
}

/// Why a UIO device could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UioError {
    /// Cannot access a file of the device.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The device is not an ivshmem-v2 device.
    #[error("{} is not an ivshmem-v2 device (vendor {vendor:04x}, device {device:04x})", path.display())]
    NotIvshmem {
        /// The configuration space file.
        path: PathBuf,
        /// Its vendor ID.
        vendor: u16,
        /// Its device ID.
        device: u16,
    },
    /// The configuration space has no ivshmem vendor capability (reading
    /// the capabilities needs root).
    #[error("{} has no ivshmem vendor capability (reading PCI capabilities needs root)", path.display())]
    NoVendorCapability {
        /// The configuration space file.
        path: PathBuf,
    },
    /// The register BAR is smaller than the register block.
    #[error("BAR {bar} is too small for the ivshmem registers")]
    RegisterBarTooSmall {
        /// The BAR.
        bar: u8,
    },
    /// The ID register does not hold a 16-bit peer ID.
    #[error("the ID register holds {0}, not a 16-bit peer ID")]
    BadId(u32),
    /// The shared memory BAR is smaller than the layout.
    #[error("BAR {bar} has {size} bytes, the ivshmem layout needs {needed}")]
    SharedMemoryBarTooSmall {
        /// The BAR.
        bar: u8,
        /// Its size.
        size: u64,
        /// The size of the layout.
        needed: usize,
    },
    /// The common section or the local output section is not page-aligned,
    /// so it cannot be mapped writable on its own.
    #[error("the writable sections are not page-aligned (page size {page_size})")]
    NotPageAligned {
        /// The system's page size.
        page_size: usize,
    },
    /// The layout the device reports is invalid.
    #[error("invalid ivshmem layout: {0}")]
    Layout(Error),
}

/// What the PCI configuration space says about an ivshmem-v2 device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciInfo {
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// The protocol type (Class Code interface and sub-class bytes).
    pub protocol: u16,
    /// State table size.
    pub state_table_size: u32,
    /// Common read/write section size.
    pub common_section_size: u64,
    /// Output section size.
    pub output_section_size: u64,
}

fn bytes_at<const N: usize>(config: &[u8], offset: usize) -> Option<[u8; N]> {
    config.get(offset..offset.checked_add(N)?)?.try_into().ok()
}

fn u16_at(config: &[u8], offset: usize) -> Option<u16> {
    bytes_at(config, offset).map(u16::from_le_bytes)
}

fn u32_at(config: &[u8], offset: usize) -> Option<u32> {
    bytes_at(config, offset).map(u32::from_le_bytes)
}

fn u64_at(config: &[u8], offset: usize) -> Option<u64> {
    bytes_at(config, offset).map(u64::from_le_bytes)
}

/// The offset of the ivshmem vendor capability, walking the capability
/// list (bounded: a looping list ends the walk).
fn vendor_capability(config: &[u8]) -> Option<usize> {
    let status = u16_at(config, usize::from(pci::offset::STATUS))?;
    if status & pci::status::CAPABILITIES_LIST == 0 {
        return None;
    }
    let mut pointer =
        usize::from(*config.get(usize::from(pci::offset::CAPABILITIES_POINTER))? & !3);
    // At most 48 capabilities fit after the 64-byte header.
    for _ in 0..48 {
        if pointer < usize::from(pci::HEADER_SIZE) {
            return None;
        }
        if *config.get(pointer)? == pci::CAPABILITY_ID_VENDOR {
            return Some(pointer);
        }
        pointer = usize::from(*config.get(pointer + 1)? & !3);
    }
    None
}

/// Reads the IDs, the protocol and the section sizes from the bytes of a
/// configuration space; `None` if there is no complete vendor capability.
pub fn parse_config_space(config: &[u8]) -> Option<PciInfo> {
    let vendor = vendor_capability(config)?;
    Some(PciInfo {
        vendor: u16_at(config, usize::from(pci::offset::VENDOR_ID))?,
        device: u16_at(config, usize::from(pci::offset::DEVICE_ID))?,
        protocol: u16::from_le_bytes([
            *config.get(usize::from(pci::offset::PROGRAMMING_INTERFACE))?,
            *config.get(usize::from(pci::offset::SUB_CLASS))?,
        ]),
        state_table_size: u32_at(config, vendor + usize::from(capability::STATE_TABLE_SIZE))?,
        common_section_size: u64_at(config, vendor + usize::from(capability::RW_SECTION_SIZE))?,
        output_section_size: u64_at(
            config,
            vendor + usize::from(capability::OUTPUT_SECTION_SIZE),
        )?,
    })
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> UioError + '_ {
    move |source| UioError::Io {
        path: path.to_owned(),
        source,
    }
}

fn open_read_write(path: &Path, flags: OFlags) -> Result<File, UioError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(io_error(path))
}

fn file_len(file: &File, path: &Path) -> Result<u64, UioError> {
    Ok(file.metadata().map_err(io_error(path))?.len())
}

fn to_usize(value: u64) -> Result<usize, UioError> {
    usize::try_from(value).map_err(|_| {
        UioError::Layout(
            ConfigError::RegionTooSmall {
                size: 0,
                needed: None,
            }
            .into(),
        )
    })
}

/// An ivshmem-v2 device opened through UIO: both BARs mapped, interrupts
/// enabled.
#[derive(Debug)]
pub struct UioDevice {
    config: UioConfig,
    config_space: File,
    info: PciInfo,
    registers: RegisterMapping,
    shared_memory: Mapping,
    geometry: Geometry,
    id: PeerId,
}

impl UioDevice {
    /// Opens the device `config` names, maps its BARs and enables its
    /// interrupts.
    pub fn open(config: &UioConfig) -> Result<Self, UioError> {
        let device_dir = config.device_dir();
        let config_path = device_dir.join("config");
        let config_space = open_read_write(&config_path, OFlags::empty())?;
        let mut bytes = [0u8; pci::CONVENTIONAL_SIZE as usize];
        let mut read = 0;
        while read < bytes.len() {
            match config_space.read_at(&mut bytes[read..], read as u64) {
                Ok(0) => break,
                Ok(count) => read += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(io_error(&config_path)(error)),
            }
        }
        let info =
            parse_config_space(&bytes[..read]).ok_or_else(|| UioError::NoVendorCapability {
                path: config_path.clone(),
            })?;
        if config.check_ids
            && (info.vendor, info.device) != (ivshmem::VENDOR_ID, ivshmem::DEVICE_ID)
        {
            return Err(UioError::NotIvshmem {
                path: config_path,
                vendor: info.vendor,
                device: info.device,
            });
        }

        let registers_path = device_dir.join(std::format!("resource{}", config.register_bar));
        let registers_file = open_read_write(&registers_path, OFlags::empty())?;
        let registers_len = to_usize(file_len(&registers_file, &registers_path)?)?;
        if registers_len < core::mem::size_of::<Registers>() {
            return Err(UioError::RegisterBarTooSmall {
                bar: config.register_bar,
            });
        }
        let registers = RegisterMapping::new(&registers_file, registers_len)
            .map_err(io_error(&registers_path))?;
        let block = registers.registers();
        let id = block.peer_id().ok_or(UioError::BadId(block.id()))?;
        let geometry = Geometry {
            max_peers: block.max_peers(),
            state_table_size: to_usize(info.state_table_size.into())?,
            common_section_size: to_usize(info.common_section_size)?,
            output_section_size: to_usize(info.output_section_size)?,
        };
        geometry
            .validate()
            .map_err(|error| UioError::Layout(error.into()))?;
        let own = geometry
            .output_section_range(id)
            .map_err(|error| UioError::Layout(error.into()))?;
        let common = geometry.common_section_range();
        let needed = geometry.size().unwrap_or(usize::MAX);

        let page_size = rustix::param::page_size();
        let writable: Vec<_> = [common, own]
            .into_iter()
            .filter(|range| !range.is_empty())
            .collect();
        if writable.iter().any(|range| {
            !range.start.is_multiple_of(page_size) || !range.end.is_multiple_of(page_size)
        }) {
            return Err(UioError::NotPageAligned { page_size });
        }
        let memory_path = device_dir.join(std::format!("resource{}", config.shared_memory_bar));
        let memory_file = open_read_write(&memory_path, OFlags::empty())?;
        let size = file_len(&memory_file, &memory_path)?;
        if size < needed as u64 {
            return Err(UioError::SharedMemoryBarTooSmall {
                bar: config.shared_memory_bar,
                size,
                needed,
            });
        }
        let shared_memory =
            Mapping::new(&memory_file, needed, &writable).map_err(io_error(&memory_path))?;

        let device = UioDevice {
            config: config.clone(),
            config_space,
            info,
            registers,
            shared_memory,
            geometry,
            id,
        };
        device.registers().enable_interrupts();
        device.rearm().map_err(io_error(&config_path))?;
        Ok(device)
    }

    /// The register block.
    pub fn registers(&self) -> &Registers {
        self.registers.registers()
    }

    /// The local peer's ID.
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// The layout of the shared memory.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// What the configuration space says (IDs, protocol, section sizes).
    pub fn pci_info(&self) -> PciInfo {
        self.info
    }

    /// The shared memory region, as the local peer sees it.
    pub fn region(&self) -> Result<Region<'_>, Error> {
        self.shared_memory.region(self.geometry, self.id)
    }

    /// Sets the local state (the State register), which the hypervisor
    /// copies into the state table.
    pub fn set_state(&self, state: PeerState) {
        self.registers().set_state(state);
    }

    /// A doorbell with its own handle on `/dev/uioN`.
    pub fn doorbell(&self) -> Result<UioDoorbell<'_>, UioError> {
        let path = self.config.events_path();
        let events = OpenOptions::new()
            .read(true)
            .custom_flags(OFlags::NONBLOCK.bits() as i32)
            .open(&path)
            .map_err(io_error(&path))?;
        Ok(UioDoorbell {
            device: self,
            events,
            origin: Instant::now(),
            not_sync: PhantomData,
        })
    }

    /// Lets the next interrupt through, as the driver needs.
    fn rearm(&self) -> io::Result<()> {
        match self.config.rearm {
            Rearm::InterruptControl => {
                self.registers().enable_interrupts();
                Ok(())
            }
            Rearm::PciCommand => {
                let mut command = [0u8; 2];
                self.config_space
                    .read_exact_at(&mut command, u64::from(pci::offset::COMMAND))?;
                let command = u16::from_le_bytes(command);
                if command & pci::command::INTERRUPT_DISABLE == 0 {
                    return Ok(());
                }
                let enabled = command & !pci::command::INTERRUPT_DISABLE;
                self.config_space
                    .write_all_at(&enabled.to_le_bytes(), u64::from(pci::offset::COMMAND))
            }
        }
    }
}

/// A [`Doorbell`] on a UIO device: rings through the Doorbell register,
/// waits with poll(2) on its own `/dev/uioN` handle, so that every
/// doorbell of the device sees every interrupt. Not `Sync`: one waiter per
/// doorbell (see [`Doorbell`]).
#[derive(Debug)]
pub struct UioDoorbell<'d> {
    device: &'d UioDevice,
    events: File,
    origin: Instant,
    not_sync: PhantomData<Cell<()>>,
}

fn os_error(error: io::Error) -> Error {
    Error::Doorbell(error.raw_os_error().unwrap_or(-1))
}

impl Doorbell for UioDoorbell<'_> {
    fn ring(&self, peer: PeerId, vector: u16) -> Result<(), Error> {
        self.device.registers().ring(peer, vector);
        Ok(())
    }

    fn wait(&self, timeout: Duration) -> Result<Wakeup, Error> {
        let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(&self.events, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return Ok(Wakeup::Timeout),
            Ok(_) => {}
            // A signal: a spurious wakeup, the caller checks and waits again.
            Err(rustix::io::Errno::INTR) => return Ok(Wakeup::Interrupt),
            Err(error) => return Err(Error::Doorbell(error.raw_os_error())),
        }
        let revents = fds[0].revents();
        if !revents.contains(PollFlags::IN) {
            // POLLERR/POLLHUP/POLLNVAL: the device went away.
            return Err(Error::Doorbell(rustix::io::Errno::IO.raw_os_error()));
        }
        // Consume the event count (the value itself does not matter);
        // EAGAIN means another reader was faster, which is harmless.
        let mut count = [0u8; 4];
        match (&self.events).read(&mut count) {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(os_error(error)),
        }
        self.device.rearm().map_err(os_error)?;
        Ok(Wakeup::Interrupt)
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration space with capabilities at 0x40 (MSI-X, ID 11h) and
    /// 0x50 (vendor).
    fn config_space() -> [u8; 256] {
        let mut config = [0u8; 256];
        config[0..2].copy_from_slice(&ivshmem::VENDOR_ID.to_le_bytes());
        config[2..4].copy_from_slice(&ivshmem::DEVICE_ID.to_le_bytes());
        let status = usize::from(pci::offset::STATUS);
        config[status..status + 2].copy_from_slice(&pci::status::CAPABILITIES_LIST.to_le_bytes());
        config[usize::from(pci::offset::PROGRAMMING_INTERFACE)] = 0x01;
        config[usize::from(pci::offset::SUB_CLASS)] = 0x40;
        config[0x0b] = 0xff;
        config[usize::from(pci::offset::CAPABILITIES_POINTER)] = 0x40;
        config[0x40] = 0x11;
        config[0x41] = 0x50;
        config[0x50] = pci::CAPABILITY_ID_VENDOR;
        config[0x51] = 0x00;
        config[0x52] = 0x18;
        config[0x54..0x58].copy_from_slice(&0x1000u32.to_le_bytes());
        config[0x58..0x60].copy_from_slice(&0x2000u64.to_le_bytes());
        config[0x60..0x68].copy_from_slice(&0x4000u64.to_le_bytes());
        config
    }

    #[test]
    fn the_vendor_capability_is_found_behind_others() {
        let info = parse_config_space(&config_space()).unwrap();
        assert_eq!(
            info,
            PciInfo {
                vendor: 0x110a,
                device: 0x4106,
                protocol: 0x4001,
                state_table_size: 0x1000,
                common_section_size: 0x2000,
                output_section_size: 0x4000,
            }
        );
    }

    #[test]
    fn missing_truncated_or_looping_capabilities_are_none() {
        let mut config = config_space();
        assert_eq!(parse_config_space(&config[..64]), None, "non-root read");
        assert_eq!(parse_config_space(&config[..0x60]), None, "truncated");
        config[0x41] = 0x40;
        assert_eq!(parse_config_space(&config), None, "loop");
        let mut config = config_space();
        config[usize::from(pci::offset::STATUS)] = 0;
        assert_eq!(parse_config_space(&config), None, "no list");
        let mut config = config_space();
        config[0x41] = 0x10;
        assert_eq!(parse_config_space(&config), None, "pointer into the header");
        config[0x41] = 0xff;
        assert_eq!(parse_config_space(&config), None, "pointer off the end");
    }
}
