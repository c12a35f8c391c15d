//! The channel's PCI function as a driver finds it (configuration space,
//! BARs, the vendor capability), its doorbell interrupt, and the doorbell
//! the channel library waits on.

use baremetal_cells::gic;
use baremetal_cells::{
    counter, counter_frequency, disable_irqs, enable_irqs, install_irq_handler, poll_irq, println,
    timer, wait_for_interrupt,
};
use bulkhead_abi::ivshmem::{capability as vendor, REGISTERS_BAR, SHARED_MEMORY_BAR};
use bulkhead_abi::pci::{self, offset};
use bulkhead_channel::ivshmem::Registers;
use bulkhead_channel::{
    Channel, ChannelConfig, Doorbell, Error, Geometry, PeerId, PeerState, Region, Wakeup,
};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use core::time::Duration;

/// Bus 0 of the virtual PCI host bridge: the board's
/// `virtual_pci.ecam`.
pub(crate) const ECAM: usize = baremetal_cells::board::VIRTUAL_PCI_ECAM;

/// The channel's device number: its index in the config's `channels`.
pub(crate) const DEVICE: u8 = 0;

/// Channel 0's doorbells, by peer id (`bulkhead_config::doorbell_spi`,
/// from the board's spare SPIs).
pub(crate) const DOORBELLS: &[u32] = &baremetal_cells::board::DOORBELLS;

pub(crate) const VIRTUAL_TIMER: u32 = baremetal_cells::board::VIRTUAL_TIMER;

pub(crate) const TIMEOUT: Duration = Duration::from_secs(2);

/// A register of the type 0 header, as [`config_read`] takes it.
pub(crate) const fn header(offset: u16) -> usize {
    offset as usize
}

/// Set by the interrupt handler when the doorbell SPI fired; cleared
/// by [`CellDoorbell::wait`] (plain loads and stores: the MMU is off).
pub(crate) static RUNG: AtomicBool = AtomicBool::new(false);

/// The doorbell SPI of this cell.
pub(crate) static DOORBELL_SPI: AtomicU64 = AtomicU64::new(0);

/// The counter when the last doorbell interrupt was found: at the IRQ
/// vector, or right after WFI when [`CellDoorbell::wait`] takes it
/// with [`poll_irq`] (0: none yet).
pub(crate) static DOORBELL_ENTRY: AtomicU64 = AtomicU64::new(0);

/// Set when the doorbell waits in WFI (the bench echoer clears it
/// before each receive, to tell a message it waited for from one
/// already there).
pub(crate) static WAITED: AtomicBool = AtomicBool::new(false);

/// The counter right before this cell's last store to a Doorbell
/// register.
pub(crate) static LAST_RING: AtomicU64 = AtomicU64::new(0);

pub(crate) fn on_irq(intid: u32, entry_counter: u64) {
    if u64::from(intid) == DOORBELL_SPI.load(Relaxed) {
        DOORBELL_ENTRY.store(entry_counter, Relaxed);
        RUNG.store(true, Relaxed);
    } else if intid == VIRTUAL_TIMER {
        timer::stop();
    }
}

pub(crate) fn config_read(offset: usize) -> u32 {
    let address = ECAM + pci::config_space(0, DEVICE, 0) as usize + offset;
    // SAFETY: a 32-bit read of the cell's virtual PCI configuration
    // space, which the partitioner emulates (it traps).
    unsafe { core::ptr::read_volatile(address as *const u32) }
}

pub(crate) fn config_write(offset: usize, value: u32) {
    let address = ECAM + pci::config_space(0, DEVICE, 0) as usize + offset;
    // SAFETY: as for `config_read`.
    unsafe { core::ptr::write_volatile(address as *mut u32, value) }
}

/// In 64-bit arithmetic (a 128-bit division is a library call of a
/// hundred instructions, on every blocking call): `CNTFRQ_EL0` holds a
/// 32-bit frequency, so `(ticks % hz) * 10^9` stays below 2^63.
pub(crate) fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
    let hz = hz.clamp(1, u64::from(u32::MAX));
    let nanos = (ticks % hz) * 1_000_000_000 / hz;
    Duration::new(ticks / hz, nanos as u32)
}

/// The inverse of [`ticks_to_duration`], saturating.
pub(crate) fn duration_to_ticks(duration: Duration, hz: u64) -> u64 {
    let hz = hz.clamp(1, u64::from(u32::MAX));
    let fraction = u64::from(duration.subsec_nanos()) * hz / 1_000_000_000;
    duration
        .as_secs()
        .saturating_mul(hz)
        .saturating_add(fraction)
}

/// Rings through the register page; waits in WFI for the doorbell SPI
/// with the virtual timer as the timeout.
pub(crate) struct CellDoorbell {
    pub(crate) registers: &'static Registers,
    pub(crate) hz: u64,
}

impl Doorbell for CellDoorbell {
    fn ring(&self, peer: PeerId, vector: u16) -> Result<(), Error> {
        LAST_RING.store(counter(), Relaxed);
        self.registers.ring(peer, vector);
        Ok(())
    }

    fn wait(&self, timeout: Duration) -> Result<Wakeup, Error> {
        let deadline = counter().saturating_add(duration_to_ticks(timeout, self.hz));
        // Masked throughout: an interrupt after the check still ends
        // the WFI, and `poll_irq` then takes it without an exception.
        disable_irqs();
        let wakeup = loop {
            if RUNG.load(Relaxed) {
                RUNG.store(false, Relaxed);
                break Wakeup::Interrupt;
            }
            if counter() >= deadline {
                break Wakeup::Timeout;
            }
            timer::arm(deadline);
            WAITED.store(true, Relaxed);
            wait_for_interrupt();
            poll_irq();
            timer::stop();
        };
        enable_irqs();
        Ok(wakeup)
    }

    fn now(&self) -> Duration {
        ticks_to_duration(counter(), self.hz)
    }
}

/// What the device's configuration space says.
pub(crate) struct Device {
    /// The register page (BAR 0).
    pub(crate) registers: &'static Registers,
    /// Where the shared memory is (BAR 2).
    pub(crate) shared_memory: usize,
    /// How the shared memory is laid out (the vendor capability).
    pub(crate) geometry: Geometry,
    /// This cell's peer id (the ID register).
    pub(crate) id: PeerId,
}

/// Finds the channel's function, enables its memory decoding and
/// reads where it is and how it is laid out.
pub(crate) fn probe_device() -> Option<Device> {
    let id = config_read(header(offset::VENDOR_ID));
    if id == u32::MAX {
        println!("pingpong: no device at 00:{DEVICE:02x}.0");
        return None;
    }
    let class = config_read(header(offset::REVISION_ID)) >> 8;
    println!(
        "pingpong: 00:{DEVICE:02x}.0 is {:04x}:{:04x} class {class:06x}",
        id & 0xffff,
        id >> 16
    );
    config_write(
        header(offset::COMMAND),
        u32::from(pci::command::MEMORY_SPACE),
    );
    let bar = |n: usize| config_read(header(offset::bar(n)));
    let registers_base = (bar(REGISTERS_BAR) & pci::bar::ADDRESS_MASK) as usize;
    let shared_memory = ((bar(SHARED_MEMORY_BAR + 1) as u64) << 32
        | (bar(SHARED_MEMORY_BAR) & pci::bar::ADDRESS_MASK) as u64)
        as usize;
    let mut capability = (config_read(header(offset::CAPABILITIES_POINTER)) & 0xfc) as usize;
    while capability != 0 && config_read(capability) & 0xff != u32::from(pci::CAPABILITY_ID_VENDOR)
    {
        capability = ((config_read(capability) >> 8) & 0xfc) as usize;
    }
    if capability == 0 {
        println!("pingpong: the device has no vendor capability");
        return None;
    }
    let size64 = |at: usize| (config_read(at + 4) as u64) << 32 | config_read(at) as u64;
    // SAFETY: BAR 0 is the device's register page, which the
    // partitioner emulates (every access traps) for the cell's life.
    let registers = unsafe { Registers::at(registers_base) };
    let geometry = Geometry {
        max_peers: registers.max_peers(),
        state_table_size: config_read(capability + header(vendor::STATE_TABLE_SIZE)) as usize,
        common_section_size: size64(capability + header(vendor::RW_SECTION_SIZE)) as usize,
        output_section_size: size64(capability + header(vendor::OUTPUT_SECTION_SIZE)) as usize,
    };
    let id = registers.peer_id()?;
    println!(
        "pingpong: registers at {registers_base:#x}, shared memory at {shared_memory:#x}: state table {:#x}, common {:#x}, {} x output {:#x}; I am peer {}",
        geometry.state_table_size,
        geometry.common_section_size,
        geometry.max_peers,
        geometry.output_section_size,
        id.0
    );
    Some(Device {
        registers,
        shared_memory,
        geometry,
        id,
    })
}

/// Sets up the GIC for the doorbell SPI and the timer, and the device
/// for interrupts.
pub(crate) fn enable_interrupts(device: &Device, redistributor: usize) {
    let doorbell = DOORBELLS
        .get(usize::from(device.id.0))
        .copied()
        .unwrap_or(0);
    DOORBELL_SPI.store(doorbell.into(), Relaxed);
    install_irq_handler(on_irq);
    gic::init_cpu_interface();
    gic::enable_private(redistributor, VIRTUAL_TIMER, 0x80);
    gic::enable_spi(doorbell, 0x80);
    device.registers.enable_interrupts();
    enable_irqs();
    println!("pingpong: doorbell interrupt is SPI {doorbell}");
}

pub(crate) fn region(device: &Device) -> Option<Region<'static>> {
    let size = device.geometry.size()?;
    // SAFETY: BAR 2 is the channel's shared memory, which the
    // partitioner maps for the cell's life: readable, the common
    // section and this peer's output section writable; this cell
    // reaches it only through the channel library (atomics).
    let region = unsafe {
        Region::from_raw_parts(
            device.shared_memory as *mut u8,
            size,
            device.geometry,
            device.id,
        )
    };
    match region {
        Ok(region) => Some(region),
        Err(e) => {
            println!("pingpong: bad region: {e}");
            None
        }
    }
}

pub(crate) fn open(
    device: &Device,
    remote: PeerId,
    ring: ChannelConfig,
) -> Option<Channel<'static, CellDoorbell>> {
    let region = region(device)?;
    let doorbell = CellDoorbell {
        registers: device.registers,
        hz: counter_frequency(),
    };
    let config = ChannelConfig {
        remote_peer: remote,
        ..ring
    };
    match Channel::open(&region, config, doorbell) {
        Ok(channel) => {
            device.registers.set_state(PeerState::Ready);
            Some(channel)
        }
        Err(e) => {
            println!("pingpong: cannot open the channel: {e}");
            None
        }
    }
}

/// The other peer of a two-peer channel.
pub(crate) fn other(id: PeerId) -> PeerId {
    PeerId(if id.0 == 0 { 1 } else { 0 })
}

/// Waits (on the doorbell) until the peer's state is or is not
/// `Ready`, as `ready` says, for at most `limit`. Returns the state.
pub(crate) fn wait_for_peer(
    channel: &Channel<'_, CellDoorbell>,
    ready: bool,
    limit: Duration,
) -> Option<PeerState> {
    let deadline = channel.doorbell().now() + limit;
    loop {
        let state = channel.peer_state().ok()?;
        if (state == PeerState::Ready) == ready {
            return Some(state);
        }
        let now = channel.doorbell().now();
        if now >= deadline {
            return None;
        }
        let _ = channel.doorbell().wait(deadline - now);
    }
}
