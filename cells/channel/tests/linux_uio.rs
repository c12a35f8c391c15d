//! The Linux backend against a fake sysfs: regular files stand in for the
//! configuration space, the BARs and `/dev/uioN` (mmap and poll work on
//! them too). Two fake devices share one "BAR 2" file, so a channel runs
//! between them through the backend's own mappings.
#![cfg(target_os = "linux")]

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bulkhead_abi::{ivshmem, pci};

/// Where the Command and Status registers are in the config file.
const COMMAND: usize = pci::offset::COMMAND as usize;
const STATUS: usize = pci::offset::STATUS as usize;
use bulkhead_channel::layout;
use bulkhead_channel::linux::{Rearm, UioConfig, UioDevice, UioError};
use bulkhead_channel::{Channel, ChannelConfig, Doorbell, Geometry, PeerId, PeerState, Wakeup};

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("bulkhead-channel-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Sections are multiples of 64 KiB, the largest page size of arm64
/// Linux, so that the backend can map them on any host.
const PAGE: usize = 64 * 1024;

fn geometry() -> Geometry {
    Geometry {
        max_peers: 2,
        state_table_size: PAGE,
        common_section_size: PAGE,
        output_section_size: 2 * PAGE,
    }
}

/// A configuration space: ivshmem IDs, INTx disabled, the vendor
/// capability at 0x40 with `geometry`'s sizes.
fn config_space(geometry: &Geometry, vendor: u16) -> Vec<u8> {
    let mut config = vec![0u8; 256];
    config[0..2].copy_from_slice(&vendor.to_le_bytes());
    config[2..4].copy_from_slice(&ivshmem::DEVICE_ID.to_le_bytes());
    let command: u16 = pci::command::MEMORY_SPACE | pci::command::INTERRUPT_DISABLE;
    config[COMMAND..COMMAND + 2].copy_from_slice(&command.to_le_bytes());
    config[STATUS..STATUS + 2].copy_from_slice(&pci::status::CAPABILITIES_LIST.to_le_bytes());
    config[usize::from(pci::offset::CAPABILITIES_POINTER)] = 0x40;
    config[0x40] = pci::CAPABILITY_ID_VENDOR;
    config[0x42] = 0x18;
    config[0x44..0x48].copy_from_slice(&(geometry.state_table_size as u32).to_le_bytes());
    config[0x48..0x50].copy_from_slice(&(geometry.common_section_size as u64).to_le_bytes());
    config[0x50..0x58].copy_from_slice(&(geometry.output_section_size as u64).to_le_bytes());
    config
}

/// Makes fake device `uio{index}` with peer ID `id`, sharing `memory` as
/// its BAR 2.
fn fake_device(root: &Path, index: u32, id: u32, config: &[u8], memory: &Path) -> UioConfig {
    let device = root.join(format!("class/uio{index}/device"));
    fs::create_dir_all(&device).unwrap();
    fs::create_dir_all(root.join("dev")).unwrap();
    fs::write(device.join("config"), config).unwrap();
    let mut registers = vec![0u8; 4096];
    registers[0..4].copy_from_slice(&id.to_le_bytes());
    registers[4..8].copy_from_slice(&2u32.to_le_bytes());
    fs::write(device.join("resource0"), registers).unwrap();
    std::os::unix::fs::symlink(memory, device.join("resource2")).unwrap();
    fs::write(root.join(format!("dev/uio{index}")), 0u32.to_le_bytes()).unwrap();
    UioConfig {
        class_dir: root.join("class"),
        dev_dir: root.join("dev"),
        ..UioConfig::new(index)
    }
}

fn read_u32(path: &Path, offset: usize) -> u32 {
    let mut word = [0u8; 4];
    fs::File::open(path)
        .unwrap()
        .read_exact_at(&mut word, offset as u64)
        .unwrap();
    u32::from_le_bytes(word)
}

fn command(config: &UioConfig) -> u16 {
    let path = config
        .class_dir
        .join(format!("uio{}/device/config", config.device));
    read_u32(&path, COMMAND) as u16
}

#[test]
fn two_devices_talk_through_the_backend() {
    let scratch = Scratch::new("uio-talk");
    let geometry = geometry();
    let memory = scratch.0.join("bar2");
    fs::write(
        &memory,
        vec![0u8; geometry.size().unwrap() + geometry.output_section_size],
    )
    .unwrap();
    let config = config_space(&geometry, ivshmem::VENDOR_ID);
    let zero = fake_device(&scratch.0, 0, 0, &config, &memory);
    let one = UioConfig {
        rearm: Rearm::InterruptControl,
        ..fake_device(&scratch.0, 1, 1, &config, &memory)
    };

    let device0 = UioDevice::open(&zero).unwrap();
    let device1 = UioDevice::open(&one).unwrap();
    assert_eq!(device0.id(), PeerId(0));
    assert_eq!(device1.id(), PeerId(1));
    assert_eq!(device1.geometry(), geometry);
    assert_eq!(device1.pci_info().vendor, ivshmem::VENDOR_ID);
    // Opening enabled interrupts in the device and in the PCI command word.
    assert_eq!(device0.registers().max_peers(), 2);
    assert_eq!(command(&zero) & pci::command::INTERRUPT_DISABLE, 0);
    assert_eq!(command(&zero) & 0x0002, 0x0002, "other command bits kept");
    let registers0 = scratch.0.join("class/uio0/device/resource0");
    assert_eq!(read_u32(&registers0, 0x08), 1, "Interrupt Control enabled");

    let region0 = device0.region().unwrap();
    let region1 = device1.region().unwrap();
    let config0 = ChannelConfig {
        vector: 3,
        ..ChannelConfig::new(PeerId(1))
    };
    let mut channel0 = Channel::open(&region0, config0, device0.doorbell().unwrap()).unwrap();
    let mut channel1 = Channel::open(
        &region1,
        ChannelConfig::new(PeerId(0)),
        device1.doorbell().unwrap(),
    )
    .unwrap();
    // Opening rang peer 1 on vector 3 through peer 0's Doorbell register.
    assert_eq!(read_u32(&registers0, 0x0c), 1 << 16 | 3);

    channel0.try_send(b"over the BAR").unwrap();
    let mut buffer = [0u8; 64];
    let len = channel1.recv(&mut buffer, Duration::from_secs(1)).unwrap();
    assert_eq!(&buffer[..len], b"over the BAR");
    channel1
        .send_message(&42u32, Duration::from_secs(1))
        .unwrap();
    assert_eq!(channel0.recv_message::<u32>(Duration::from_secs(1)), Ok(42));

    // The endpoint block landed in the shared file, in peer 1's section.
    let section1 = geometry.output_section_range(PeerId(1)).unwrap().start;
    assert_eq!(
        read_u32(&memory, section1 + layout::MAGIC_OFFSET),
        layout::MAGIC
    );
    assert_eq!(read_u32(&memory, section1 + layout::OWNER), 1);

    device1.set_state(PeerState::Ready);
    let registers1 = scratch.0.join("class/uio1/device/resource0");
    assert_eq!(read_u32(&registers1, 0x10), 2);
    // The state table is the hypervisor's; here nobody fills it in.
    assert_eq!(channel0.peer_state(), Ok(PeerState::Reset));
    drop((channel0, channel1));

    // A wait consumes the event and re-arms: the command word for
    // uio_pci_generic, Interrupt Control for one-shot mode.
    let config_path = scratch.0.join("class/uio0/device/config");
    fs::File::options()
        .write(true)
        .open(&config_path)
        .unwrap()
        .write_all_at(
            &(pci::command::MEMORY_SPACE | pci::command::INTERRUPT_DISABLE).to_le_bytes(),
            COMMAND as u64,
        )
        .unwrap();
    let doorbell0 = device0.doorbell().unwrap();
    assert_eq!(
        doorbell0.wait(Duration::from_millis(10)),
        Ok(Wakeup::Interrupt)
    );
    assert_eq!(command(&zero) & pci::command::INTERRUPT_DISABLE, 0);
    device1.registers().disable_interrupts();
    assert_eq!(read_u32(&registers1, 0x08), 0);
    let doorbell1 = device1.doorbell().unwrap();
    assert_eq!(
        doorbell1.wait(Duration::from_millis(10)),
        Ok(Wakeup::Interrupt)
    );
    assert_eq!(read_u32(&registers1, 0x08), 1);
}

#[test]
fn devices_that_do_not_fit_are_refused() {
    let scratch = Scratch::new("uio-refuse");
    let geometry = geometry();
    let memory = scratch.0.join("bar2");
    fs::write(&memory, vec![0u8; geometry.size().unwrap()]).unwrap();

    let config = config_space(&geometry, 0x1af4);
    let wrong_vendor = fake_device(&scratch.0, 0, 0, &config, &memory);
    assert!(matches!(
        UioDevice::open(&wrong_vendor),
        Err(UioError::NotIvshmem { vendor: 0x1af4, .. })
    ));
    let unchecked = UioConfig {
        check_ids: false,
        ..wrong_vendor
    };
    assert!(UioDevice::open(&unchecked).is_ok());

    let config = config_space(&geometry, ivshmem::VENDOR_ID);
    let unprivileged = fake_device(&scratch.0, 1, 0, &config[..64], &memory);
    assert!(matches!(
        UioDevice::open(&unprivileged),
        Err(UioError::NoVendorCapability { .. })
    ));

    let small = scratch.0.join("small");
    fs::write(&small, vec![0u8; geometry.size().unwrap() - 4096]).unwrap();
    let too_small = fake_device(&scratch.0, 2, 0, &config, &small);
    assert!(matches!(
        UioDevice::open(&too_small),
        Err(UioError::SharedMemoryBarTooSmall { bar: 2, .. })
    ));

    let missing = UioConfig {
        device: 9,
        ..too_small
    };
    assert!(matches!(
        UioDevice::open(&missing),
        Err(UioError::Io { .. })
    ));
}
