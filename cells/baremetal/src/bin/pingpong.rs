//! Ping-pong test cell: two instances exchange messages over a Bulkhead
//! channel with `bulkhead-channel`, woken by doorbell interrupts (never by
//! polling), and a third shows that a cell that is no peer cannot reach
//! the channel's device.
//!
//! The boot argument (`x0`) is `RD_base | role`: the `RD_base` of the
//! cell's redistributor (for its timer PPI; 128 KiB aligned, so the low
//! bits are free) and the role in the low four bits:
//!
//! - **1, initiator.** Finds the device on the virtual PCI bus, rings a
//!   peer the channel does not have (refused by the partitioner), measures
//!   doorbells to itself, opens the channel, waits for the echoer, then
//!   sends [`ROUND_TRIPS`] pings and waits for each echo, timing each round
//!   trip on the virtual counter. Then it watches the echoer go down
//!   (state 0) and come back (state 2), and does a second round.
//! - **2, echoer.** Echoes every message, byte for byte (so a Linux
//!   cell's `bulkhead-ipc pingpong initiator` can be the other end). On
//!   its first boot, after
//!   [`ROUND_TRIPS`] echoes, it writes into the initiator's output section,
//!   which it may only read: a stage-2 permission fault; with
//!   `on_fault: restart` it comes back and echoes again.
//! - **3, outsider.** No peer of any channel: on successive boots (with
//!   `on_fault: restart`) it reads the ECAM window, writes a doorbell
//!   register, reads the shared memory; each is a fault.
//! - **4, bench initiator.** Measures the channel (see [Benchmarks](#benchmarks)).
//! - **5, bench echoer.** Its peer for the benchmarks; never faults.
//!
//! # Benchmarks
//!
//! Roles 4 and 5 (`hil-tests/configs/qemu-ipc-lab.yaml`) use a ring of
//! 8 slots of 4 KiB + 8 bytes each way, and take three measurements,
//! all on the virtual counter (the same in both cells: `CNTVOFF_EL2` is
//! 0), one at a time, so that the two never overlap:
//!
//! 1. **One way** ([`ONEWAY_SAMPLES`]): the initiator reads the counter
//!    right before it sends a small message, and its doorbell reads it
//!    again right before the store to the Doorbell register
//!    ([`LAST_RING`]); the echoer, idle in WFI with IRQs masked, wakes on
//!    the doorbell interrupt and reads the counter first, before it
//!    acknowledges the interrupt and runs its handler
//!    ([`poll_irq`](cell_rt::poll_irq),
//!    [`DOORBELL_ENTRY`]), and answers with that reading. Two figures:
//!    `oneway`, from before `send` to the handler, and `notify`, from the
//!    Doorbell store to the handler (the notification alone). Taking the
//!    interrupt this way, from thread context right after WFI, costs no
//!    exception entry, register save or `eret`: the figures end at the
//!    same point as at an IRQ vector. A sample the echoer did not take
//!    from WFI (it was still busy) is sent again; one whose interrupt
//!    never came is lost.
//! 2. **Round trip** ([`ROUND_TRIPS`] 8-byte messages): from before the
//!    send to after the receive of the echo.
//! 3. **Throughput** ([`STREAM_BYTES`] in messages of each of
//!    [`STREAM_SIZES`] bytes): the initiator sends as fast as the ring
//!    allows (the library's `send` waits for room), the echoer copies each
//!    message into a local buffer and sums its words; its final answer
//!    (count and sum) ends the timing, and the initiator checks both. Then
//!    the initiator times a plain copy of as many bytes, message by
//!    message, between two buffers on its stack: the memcpy baseline.
//!
//! Output of the initiator, one figure a line (parsed by
//! `hil-tests/src/ipc_bench.rs`; histograms as the probe prints them:
//! `value:count` pairs in ticks, eight a line, values ascending, `lost:N`
//! last, then a summary line to check them against):
//!
//! ```text
//! bench: counter 1000000000 Hz
//! bench: hist oneway 635:199 1055:1 lost:0
//! bench: oneway latency: 200 samples, min 635, avg 637, max 1055 ticks
//! bench: hist notify 532:199 928:1 lost:0
//! bench: notify latency: 200 samples, min 532, avg 533, max 928 ticks
//! bench: hist roundtrip 1564:1000 lost:0
//! bench: roundtrip latency: 1000 samples, min 1564, avg 1564, max 1564 ticks
//! bench: throughput 64 B: 16384 messages, 1048576 bytes in 13235339 ticks; memcpy of the same bytes in 1097731 ticks
//! bench: throughput 1024 B: 1024 messages, 1048576 bytes in 1355659 ticks; memcpy of the same bytes in 560131 ticks
//! bench: throughput 4096 B: 256 messages, 1048576 bytes in 782155 ticks; memcpy of the same bytes in 533251 ticks
//! bench: done
//! ```
//!
//! A measurement that fails prints a line with `FAILED` instead of its
//! figures, and the bench stops.
//!
//! Addresses: the ECAM window is the board's `virtual_pci.ecam`
//! (`bsp/boards/<board>.yaml`, as `cell_rt::board`); the channel is device 0 (the first
//! channel of the config), and everything else comes from its
//! configuration space, as a driver would read it: BAR 0 (registers),
//! BAR 2 (shared memory), the vendor capability (section sizes), the ID
//! register (peer id). The doorbell SPI follows `bulkhead_config::doorbell_spi`.
//!
//! The cell runs with its MMU off (all data accesses are Device memory);
//! the channel library only makes aligned 32-bit accesses and no atomic
//! read-modify-writes, and neither does this file.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use bulkhead_abi::ivshmem::{capability as vendor, register, REGISTERS_BAR, SHARED_MEMORY_BAR};
    use bulkhead_abi::pci::{self, offset};
    use bulkhead_channel::ivshmem::Registers;
    use bulkhead_channel::{
        Channel, ChannelConfig, DecodeError, Doorbell, Error, Geometry, Message, PeerId, PeerState,
        Region, Wakeup,
    };
    use cell_rt::gic;
    use cell_rt::{
        count_boot, counter, counter_frequency, delay_ms, disable_irqs, enable_irqs,
        install_irq_handler, poll_irq, println, timer, wait_for_interrupt,
    };
    use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
    use core::time::Duration;

    /// Bus 0 of the virtual PCI host bridge: the board's
    /// `virtual_pci.ecam`.
    const ECAM: usize = cell_rt::board::VIRTUAL_PCI_ECAM;
    /// The channel's device number: its index in the config's `channels`.
    const DEVICE: u8 = 0;
    /// Channel 0's peer 0's doorbell; peer p has `FIRST_DOORBELL + p`
    /// (`bulkhead_config::doorbell_spi`, from the board's spare SPIs).
    const FIRST_DOORBELL: u32 = cell_rt::board::FIRST_DOORBELL;
    const VIRTUAL_TIMER: u32 = cell_rt::board::VIRTUAL_TIMER;
    /// Round trips per round.
    const ROUND_TRIPS: u32 = 1000;
    /// Doorbells to itself the initiator times.
    const SELF_DOORBELLS: usize = 100;
    const TIMEOUT: Duration = Duration::from_secs(2);

    const ROLE_INITIATOR: u64 = 1;
    const ROLE_ECHOER: u64 = 2;
    const ROLE_OUTSIDER: u64 = 3;
    const ROLE_BENCH_INITIATOR: u64 = 4;
    const ROLE_BENCH_ECHOER: u64 = 5;

    /// One-way samples of the bench.
    const ONEWAY_SAMPLES: usize = 200;
    /// Sends of a one-way sample the echoer was too busy to take from WFI
    /// before the sample counts as lost.
    const ONEWAY_ATTEMPTS: u32 = 5;
    /// The initiator's pause before each one-way sample, in microseconds,
    /// so that the echoer is back in WFI (it answered the previous one).
    const ONEWAY_PAUSE_US: u64 = 50;
    /// Bytes per throughput measurement.
    const STREAM_BYTES: usize = 1 << 20;
    /// Message sizes of the throughput measurements.
    const STREAM_SIZES: [usize; 3] = [64, 1024, 4096];
    /// The largest bench message.
    const BENCH_MESSAGE: usize = 4096;
    /// The bench's rings: 8 slots of a 4 KiB message and its 8-byte slot
    /// header (33 KiB with the block header, in a 64 KiB output section).
    const BENCH_RING: ChannelConfig = ChannelConfig {
        slot_size: BENCH_MESSAGE as u32 + 8,
        slot_count: 8,
        ..ChannelConfig::new(PeerId(0))
    };
    /// The pingpong roles' rings.
    const PINGPONG_RING: ChannelConfig = ChannelConfig {
        slot_size: 64,
        slot_count: 8,
        ..ChannelConfig::new(PeerId(0))
    };
    /// A sample whose interrupt or answer never came.
    const LOST: u64 = u64::MAX;
    /// A sample that is kept in a histogram as this or less (the rest are
    /// lost): samples are `u32`, to keep 1000 of them small on the stack.
    const LOST_SAMPLE: u32 = u32::MAX;
    /// A one-way answer: the message was already there when the echoer
    /// looked, so it was not idle in WFI.
    const NOT_IDLE: u64 = u64::MAX - 1;

    /// Bench message kinds, the first word of every control message
    /// (little-endian `u32` words throughout).
    mod kind {
        /// `[ONEWAY, sequence, sent_at low, sent_at high]`.
        pub const ONEWAY: u32 = 0xbe_0001;
        /// `[ONEWAY_RESULT, sequence, vector counter low, high]` (or
        /// [`LOST`] or [`NOT_IDLE`] in its place).
        pub const ONEWAY_RESULT: u32 = 0xbe_0002;
        /// `[ROUND_TRIP, sequence]`, echoed as it is.
        pub const ROUND_TRIP: u32 = 0xbe_0003;
        /// `[STREAM_START, message size, message count]`: the next
        /// messages are the stream's payload.
        pub const STREAM_START: u32 = 0xbe_0004;
        /// `[STREAM_DONE, messages received, checksum low, checksum high]`.
        pub const STREAM_DONE: u32 = 0xbe_0005;
    }

    /// A register of the type 0 header, as [`config_read`] takes it.
    const fn header(offset: u16) -> usize {
        offset as usize
    }

    /// Set by the interrupt handler when the doorbell SPI fired; cleared
    /// by [`CellDoorbell::wait`] (plain loads and stores: the MMU is off).
    static RUNG: AtomicBool = AtomicBool::new(false);
    /// The doorbell SPI of this cell.
    static DOORBELL_SPI: AtomicU64 = AtomicU64::new(0);
    /// The counter when the last doorbell interrupt was found: at the IRQ
    /// vector, or right after WFI when [`CellDoorbell::wait`] takes it
    /// with [`poll_irq`] (0: none yet).
    static DOORBELL_ENTRY: AtomicU64 = AtomicU64::new(0);
    /// Set when the doorbell waits in WFI (the bench echoer clears it
    /// before each receive, to tell a message it waited for from one
    /// already there).
    static WAITED: AtomicBool = AtomicBool::new(false);
    /// The counter right before this cell's last store to a Doorbell
    /// register.
    static LAST_RING: AtomicU64 = AtomicU64::new(0);

    fn on_irq(intid: u32, entry_counter: u64) {
        if u64::from(intid) == DOORBELL_SPI.load(Relaxed) {
            DOORBELL_ENTRY.store(entry_counter, Relaxed);
            RUNG.store(true, Relaxed);
        } else if intid == VIRTUAL_TIMER {
            timer::stop();
        }
    }

    fn config_read(offset: usize) -> u32 {
        let address = ECAM + pci::config_space(0, DEVICE, 0) as usize + offset;
        // SAFETY: a 32-bit read of the cell's virtual PCI configuration
        // space, which the partitioner emulates (it traps).
        unsafe { core::ptr::read_volatile(address as *const u32) }
    }

    fn config_write(offset: usize, value: u32) {
        let address = ECAM + pci::config_space(0, DEVICE, 0) as usize + offset;
        // SAFETY: as for `config_read`.
        unsafe { core::ptr::write_volatile(address as *mut u32, value) }
    }

    /// In 64-bit arithmetic (a 128-bit division is a library call of a
    /// hundred instructions, on every blocking call): `CNTFRQ_EL0` holds a
    /// 32-bit frequency, so `(ticks % hz) * 10^9` stays below 2^63.
    fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
        let hz = hz.clamp(1, u64::from(u32::MAX));
        let nanos = (ticks % hz) * 1_000_000_000 / hz;
        Duration::new(ticks / hz, nanos as u32)
    }

    /// The inverse of [`ticks_to_duration`], saturating.
    fn duration_to_ticks(duration: Duration, hz: u64) -> u64 {
        let hz = hz.clamp(1, u64::from(u32::MAX));
        let fraction = u64::from(duration.subsec_nanos()) * hz / 1_000_000_000;
        duration
            .as_secs()
            .saturating_mul(hz)
            .saturating_add(fraction)
    }

    /// Rings through the register page; waits in WFI for the doorbell SPI
    /// with the virtual timer as the timeout.
    struct CellDoorbell {
        registers: &'static Registers,
        hz: u64,
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

    /// One ping, echoed as it is.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Ping {
        sequence: u32,
        round: u32,
    }

    impl Message for Ping {
        const SIZE: usize = 8;

        fn encode(&self, out: &mut [u8]) {
            out[..4].copy_from_slice(&self.sequence.to_le_bytes());
            out[4..].copy_from_slice(&self.round.to_le_bytes());
        }

        fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
            Ok(Ping {
                sequence: u32::decode(&bytes[..4])?,
                round: u32::decode(&bytes[4..])?,
            })
        }
    }

    /// What the device's configuration space says.
    struct Device {
        registers: &'static Registers,
        shared_memory: usize,
        geometry: Geometry,
        id: PeerId,
    }

    /// Finds the channel's function, enables its memory decoding and
    /// reads where it is and how it is laid out.
    fn probe_device() -> Option<Device> {
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
        while capability != 0
            && config_read(capability) & 0xff != u32::from(pci::CAPABILITY_ID_VENDOR)
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
    fn enable_interrupts(device: &Device, redistributor: usize) {
        let doorbell = FIRST_DOORBELL + u32::from(device.id.0);
        DOORBELL_SPI.store(doorbell.into(), Relaxed);
        install_irq_handler(on_irq);
        gic::init_cpu_interface();
        gic::enable_private(redistributor, VIRTUAL_TIMER, 0x80);
        gic::enable_spi(doorbell, 0x80);
        device.registers.enable_interrupts();
        enable_irqs();
        println!("pingpong: doorbell interrupt is SPI {doorbell}");
    }

    #[unsafe(no_mangle)]
    fn cell_main(boot_argument: u64) -> ! {
        let boot = count_boot();
        let role = boot_argument & 0xf;
        let redistributor = (boot_argument & !0xf) as usize;
        match role {
            ROLE_INITIATOR | ROLE_ECHOER => {
                let name = if role == ROLE_INITIATOR {
                    "initiator"
                } else {
                    "echoer"
                };
                println!("pingpong: {name}, boot {boot}");
                match probe_device() {
                    Some(device) => {
                        enable_interrupts(&device, redistributor);
                        if role == ROLE_INITIATOR {
                            initiator(&device)
                        } else {
                            echoer(&device, boot)
                        }
                    }
                    None => println!("pingpong: no channel"),
                }
            }
            ROLE_BENCH_INITIATOR | ROLE_BENCH_ECHOER => {
                let initiator = role == ROLE_BENCH_INITIATOR;
                let name = if initiator { "initiator" } else { "echoer" };
                println!("pingpong: bench {name}, boot {boot}");
                match probe_device() {
                    Some(device) => {
                        enable_interrupts(&device, redistributor);
                        if initiator {
                            bench_initiator(&device)
                        } else {
                            bench_echoer(&device)
                        }
                    }
                    None => println!("pingpong: no channel"),
                }
            }
            ROLE_OUTSIDER => outsider(boot),
            _ => println!("pingpong: unknown role {role} (x0 = {boot_argument:#x})"),
        }
        cell_rt::halt()
    }

    fn region(device: &Device) -> Option<Region<'static>> {
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

    fn open(
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
    fn other(id: PeerId) -> PeerId {
        PeerId(if id.0 == 0 { 1 } else { 0 })
    }

    /// Waits (on the doorbell) until the peer's state is or is not
    /// `Ready`, as `ready` says, for at most `limit`. Returns the state.
    fn wait_for_peer(
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

    fn initiator(device: &Device) {
        let hz = counter_frequency();
        // A peer the channel does not have: the partitioner refuses it.
        device.registers.ring(PeerId(9), 0);
        println!("pingpong: rang peer 9, which the channel does not have");
        measure_self_doorbells(device);

        let remote = other(device.id);
        let Some(mut channel) = open(device, remote, PINGPONG_RING) else {
            return;
        };
        match wait_for_peer(&channel, true, Duration::from_secs(10)) {
            Some(_) => println!("pingpong: peer {} is ready", remote.0),
            None => {
                println!("pingpong: peer {} never became ready", remote.0);
                return;
            }
        }
        if !round(&mut channel, 1, hz) {
            return;
        }
        match wait_for_peer(&channel, false, Duration::from_secs(30)) {
            Some(state) => println!(
                "pingpong: peer {} is down (state {})",
                remote.0,
                state.raw()
            ),
            None => {
                println!("pingpong: peer {} never went down", remote.0);
                return;
            }
        }
        match wait_for_peer(&channel, true, Duration::from_secs(30)) {
            Some(_) => println!("pingpong: peer {} is up again", remote.0),
            None => {
                println!("pingpong: peer {} never came back", remote.0);
                return;
            }
        }
        if round(&mut channel, 2, hz) {
            println!("pingpong: done");
        }
    }

    /// One round of [`ROUND_TRIPS`] pings; prints the round-trip times.
    fn round(channel: &mut Channel<'_, CellDoorbell>, number: u32, hz: u64) -> bool {
        let (mut min, mut max, mut sum) = (u64::MAX, 0, 0u64);
        for sequence in 0..ROUND_TRIPS {
            let ping = Ping {
                sequence,
                round: number,
            };
            let start = counter();
            let echo = channel
                .send_message(&ping, TIMEOUT)
                .and_then(|()| channel.recv_message::<Ping>(TIMEOUT));
            let ticks = counter() - start;
            match echo {
                Ok(echo) if echo == ping => {}
                Ok(echo) => {
                    println!("pingpong: round {number}: sent {ping:?}, got {echo:?}: FAILED");
                    return false;
                }
                Err(e) => {
                    println!("pingpong: round {number}: message {sequence}: {e}: FAILED");
                    return false;
                }
            }
            min = min.min(ticks);
            max = max.max(ticks);
            sum += ticks;
        }
        println!(
            "pingpong: round {number}: {ROUND_TRIPS} round trips ok, min {min}, avg {}, max {max} ticks ({} ns avg at {hz} Hz)",
            sum / u64::from(ROUND_TRIPS),
            sum * 1_000_000_000 / u64::from(ROUND_TRIPS) / hz
        );
        true
    }

    /// Rings its own doorbell and times the trap plus the interrupt: from
    /// just before the store to the register page to the first
    /// instructions of the IRQ vector.
    fn measure_self_doorbells(device: &Device) {
        let hz = counter_frequency();
        let (mut min, mut max, mut sum, mut lost) = (u64::MAX, 0, 0u64, 0);
        for _ in 0..SELF_DOORBELLS {
            DOORBELL_ENTRY.store(0, Relaxed);
            let before = counter();
            device.registers.ring(device.id, 0);
            let give_up = before + hz / 10;
            while DOORBELL_ENTRY.load(Relaxed) == 0 && counter() < give_up {}
            let entry = DOORBELL_ENTRY.load(Relaxed);
            if entry == 0 {
                lost += 1;
                continue;
            }
            let ticks = entry.wrapping_sub(before);
            min = min.min(ticks);
            max = max.max(ticks);
            sum += ticks;
        }
        RUNG.store(false, Relaxed);
        let got = (SELF_DOORBELLS - lost) as u64;
        println!(
            "pingpong: doorbell to itself: {got} of {SELF_DOORBELLS} delivered, min {}, avg {}, max {max} ticks",
            if got == 0 { 0 } else { min },
            sum.checked_div(got).unwrap_or(0)
        );
    }

    fn echoer(device: &Device, boot: u64) {
        if boot > 0 {
            // Give the initiator time to see this peer down before it
            // comes back (the restart itself takes milliseconds).
            delay_ms(50);
        }
        let remote = other(device.id);
        let Some(mut channel) = open(device, remote, PINGPONG_RING) else {
            return;
        };
        println!("pingpong: echoer ready");
        let mut echoed = 0u32;
        // Echoes the bytes as they came, whatever their type: a Linux
        // peer's `bulkhead-ipc pingpong` sends its own messages.
        let mut message = [0u8; 60];
        loop {
            let length = match channel.recv(&mut message, TIMEOUT) {
                Ok(length) => length,
                Err(Error::Timeout) => continue,
                Err(e) => {
                    println!("pingpong: receive: {e}");
                    continue;
                }
            };
            if let Err(e) = channel.send(&message[..length], TIMEOUT) {
                println!("pingpong: send: {e}");
                continue;
            }
            echoed += 1;
            if echoed.is_multiple_of(ROUND_TRIPS) {
                println!("pingpong: echoed {echoed} messages");
                if boot == 0 {
                    write_peer_output(device, remote);
                }
            }
        }
    }

    /// Writes into the other peer's output section, which this peer may
    /// only read: the partitioner stops (or restarts) this cell.
    fn write_peer_output(device: &Device, remote: PeerId) {
        let Ok(range) = device.geometry.output_section_range(remote) else {
            return;
        };
        let address = device.shared_memory + range.start;
        println!(
            "pingpong: writing peer {}'s output section at {address:#x}",
            remote.0
        );
        // SAFETY: deliberately wrong: the page is mapped read-only for
        // this cell, so the store faults into the partitioner.
        unsafe { core::ptr::write_volatile(address as *mut u32, 0xdead_beef) };
        println!("pingpong: wrote it: ISOLATION BROKEN");
    }

    /// A cell that is no peer of any channel tries the bridge's windows,
    /// one per boot.
    fn outsider(boot: u64) {
        println!("outsider: boot {boot}");
        /// BAR 0 of device 0 (`virtual_pci.registers`) and its Doorbell.
        const DOORBELL: usize = cell_rt::board::VIRTUAL_PCI_REGISTERS + register::DOORBELL as usize;
        /// BAR 2 of device 0 (`virtual_pci.memory`).
        const SHARED_MEMORY: usize = cell_rt::board::VIRTUAL_PCI_MEMORY;
        match boot {
            0 => {
                println!("outsider: reading the virtual PCI ECAM at {ECAM:#x}");
                let id = config_read(header(offset::VENDOR_ID));
                println!("outsider: read {id:#x}: ISOLATION BROKEN");
            }
            1 => {
                println!("outsider: ringing peer 0 through {DOORBELL:#x}");
                // SAFETY: deliberately wrong: the partitioner must stop it.
                unsafe { core::ptr::write_volatile(DOORBELL as *mut u32, 0) };
                println!("outsider: rang it: ISOLATION BROKEN");
            }
            2 => {
                println!("outsider: reading the channel's memory at {SHARED_MEMORY:#x}");
                // SAFETY: deliberately wrong: the partitioner must stop it.
                let value = unsafe { core::ptr::read_volatile(SHARED_MEMORY as *const u32) };
                println!("outsider: read {value:#x}: ISOLATION BROKEN");
            }
            _ => println!("outsider: done"),
        }
    }

    // ---- benchmarks (roles 4 and 5) ------------------------------------

    /// The `u32` word `index` of a message (0 if the message is shorter).
    fn word(bytes: &[u8], index: usize) -> u32 {
        match bytes.get(4 * index..4 * index + 4) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => 0,
        }
    }

    /// A message of `N` words.
    fn words<const N: usize>(values: [u32; N]) -> [[u8; 4]; N] {
        values.map(u32::to_le_bytes)
    }

    /// Words `index` and `index + 1` as one `u64`.
    fn word64(bytes: &[u8], index: usize) -> u64 {
        u64::from(word(bytes, index + 1)) << 32 | u64::from(word(bytes, index))
    }

    /// The low and high words of `value`.
    fn halves(value: u64) -> [u32; 2] {
        [value as u32, (value >> 32) as u32]
    }

    /// A message buffer on a word boundary, as a program that cares about
    /// throughput keeps it: the channel then copies whole words.
    #[repr(C, align(8))]
    struct Aligned([u8; BENCH_MESSAGE]);

    /// The stream checksum: the wrapping sum of each message's first and
    /// last little-endian `u32` words (both carry the message's number),
    /// added to `sum`. O(1) per message, so that the figure is the
    /// channel's and not a checksum loop's; the copies themselves are
    /// checked by the library's tests.
    fn checksum(sum: u64, bytes: &[u8]) -> u64 {
        let word = |w: &[u8]| u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        match bytes.len() {
            0..4 => sum,
            n => sum
                .wrapping_add(word(&bytes[..4]))
                .wrapping_add(word(&bytes[n - 4..])),
        }
    }

    /// Writes the message number into the first and the last word.
    fn number_message(message: &mut [u8], number: u32) {
        let n = message.len();
        message[..4].copy_from_slice(&number.to_le_bytes());
        message[n - 4..].copy_from_slice(&number.to_le_bytes());
    }

    fn bench_initiator(device: &Device) {
        let hz = counter_frequency();
        let remote = other(device.id);
        let Some(mut channel) = open(device, remote, BENCH_RING) else {
            return;
        };
        if wait_for_peer(&channel, true, Duration::from_secs(10)).is_none() {
            println!("bench: peer {} never became ready: FAILED", remote.0);
            return;
        }
        println!("bench: counter {hz} Hz");
        if !bench_oneway(&mut channel, hz) || !bench_round_trips(&mut channel) {
            return;
        }
        for size in STREAM_SIZES {
            if !bench_throughput(&mut channel, size) {
                return;
            }
        }
        println!("bench: done");
    }

    /// One-way notification: counter before the send → the echoer's
    /// doorbell handler, which the echoer sends back.
    #[inline(never)]
    fn bench_oneway(channel: &mut Channel<'_, CellDoorbell>, hz: u64) -> bool {
        let mut samples = [LOST_SAMPLE; ONEWAY_SAMPLES];
        let mut notify = [LOST_SAMPLE; ONEWAY_SAMPLES];
        let mut resent = 0u32;
        let mut reply = [0u8; 16];
        let pause = hz * ONEWAY_PAUSE_US / 1_000_000;
        for ((sequence, sample), notified) in (0u32..).zip(samples.iter_mut()).zip(&mut notify) {
            for _ in 0..ONEWAY_ATTEMPTS {
                let resume = counter() + pause;
                while counter() < resume {
                    core::hint::spin_loop();
                }
                let sent_at = counter();
                let [low, high] = halves(sent_at);
                let message = words([kind::ONEWAY, sequence, low, high]);
                if let Err(e) = channel.send(message.as_flattened(), TIMEOUT) {
                    println!("bench: oneway sample {sequence}: send: {e}: FAILED");
                    return false;
                }
                let rung_at = LAST_RING.load(Relaxed);
                // Answers to earlier, timed-out samples are skipped.
                let value = loop {
                    match channel.recv(&mut reply, TIMEOUT) {
                        Ok(16) if word(&reply, 0) == kind::ONEWAY_RESULT => {
                            if word(&reply, 1) == sequence {
                                break word64(&reply, 2);
                            }
                        }
                        Ok(_) => {}
                        Err(Error::Timeout) => break LOST,
                        Err(e) => {
                            println!("bench: oneway sample {sequence}: receive: {e}: FAILED");
                            return false;
                        }
                    }
                };
                if value == LOST {
                    break;
                }
                if value != NOT_IDLE {
                    *sample = sample_of(value.wrapping_sub(sent_at));
                    *notified = sample_of(value.wrapping_sub(rung_at));
                    break;
                }
                resent += 1;
            }
        }
        if resent > 0 {
            println!("bench: oneway: {resent} samples sent again (the echoer was not idle)");
        }
        report_histogram("oneway", &mut samples);
        report_histogram("notify", &mut notify);
        true
    }

    /// Round trips of an 8-byte message.
    #[inline(never)]
    fn bench_round_trips(channel: &mut Channel<'_, CellDoorbell>) -> bool {
        let mut samples = [LOST_SAMPLE; ROUND_TRIPS as usize];
        let mut echo = [0u8; 16];
        for (sequence, sample) in (0u32..).zip(samples.iter_mut()) {
            let message = words([kind::ROUND_TRIP, sequence]);
            let message = message.as_flattened();
            let start = counter();
            if let Err(e) = channel.send(message, TIMEOUT) {
                println!("bench: round trip {sequence}: send: {e}: FAILED");
                return false;
            }
            loop {
                match channel.recv(&mut echo, TIMEOUT) {
                    // Word compares: a library memcmp would cost the
                    // measured path some 50 instructions.
                    Ok(8) if word(&echo, 0) == kind::ROUND_TRIP && word(&echo, 1) == sequence => {
                        *sample = sample_of(counter() - start);
                        break;
                    }
                    // An echo of an earlier, timed-out round trip.
                    Ok(_) => {}
                    Err(Error::Timeout) => break,
                    Err(e) => {
                        println!("bench: round trip {sequence}: receive: {e}: FAILED");
                        return false;
                    }
                }
            }
        }
        report_histogram("roundtrip", &mut samples);
        true
    }

    /// Streams [`STREAM_BYTES`] in messages of `size` bytes, checks the
    /// echoer's count and checksum, then times the memcpy baseline.
    #[inline(never)]
    fn bench_throughput(channel: &mut Channel<'_, CellDoorbell>, size: usize) -> bool {
        let count = STREAM_BYTES / size;
        let mut message = Aligned([0u8; BENCH_MESSAGE]);
        let message = &mut message.0;
        for (index, byte) in message.iter_mut().enumerate() {
            *byte = (index * 7 + size) as u8;
        }
        let message = &mut message[..size];
        let start_message = words([kind::STREAM_START, size as u32, count as u32]);
        if let Err(e) = channel.send(start_message.as_flattened(), TIMEOUT) {
            println!("bench: throughput {size} B: start: {e}: FAILED");
            return false;
        }
        // Each message carries its number in its first and last words.
        let start = counter();
        for number in 0..count as u32 {
            number_message(message, number);
            if let Err(e) = channel.send(message, TIMEOUT) {
                println!("bench: throughput {size} B: message {number}: {e}: FAILED");
                return false;
            }
        }
        let mut reply = [0u8; 16];
        let answer = channel.recv(&mut reply, TIMEOUT);
        let ticks = counter() - start;
        match answer {
            Ok(16) if word(&reply, 0) == kind::STREAM_DONE => {}
            Ok(length) => {
                println!(
                    "bench: throughput {size} B: unexpected answer of {length} bytes, kind {:#x}: FAILED",
                    word(&reply, 0)
                );
                return false;
            }
            Err(e) => {
                println!("bench: throughput {size} B: no answer: {e}: FAILED");
                return false;
            }
        }
        let mut expected = 0u64;
        for number in 0..count as u32 {
            number_message(message, number);
            expected = checksum(expected, message);
        }
        let (received, sum) = (word(&reply, 1) as usize, word64(&reply, 2));
        if (received, sum) != (count, expected) {
            println!(
                "bench: throughput {size} B: the echoer got {received} messages, checksum {sum:#x}; sent {count}, checksum {expected:#x}: FAILED"
            );
            return false;
        }

        // The baseline: the same bytes, message by message, RAM to RAM.
        let mut copy = Aligned([0u8; BENCH_MESSAGE]);
        let copy = &mut copy.0[..size];
        let source = core::hint::black_box(&*message);
        let start = counter();
        for _ in 0..count {
            copy.copy_from_slice(source);
            core::hint::black_box(&mut *copy);
        }
        let memcpy_ticks = counter() - start;
        println!(
            "bench: throughput {size} B: {count} messages, {} bytes in {ticks} ticks; memcpy of the same bytes in {memcpy_ticks} ticks",
            count * size
        );
        true
    }

    /// A sample of `ticks`; [`LOST`] (and anything as large) is lost.
    fn sample_of(ticks: u64) -> u32 {
        u32::try_from(ticks).unwrap_or(LOST_SAMPLE)
    }

    /// Prints `samples` as the probe prints its histograms
    /// (`bench: hist <name> value:count … lost:N`, then a summary line).
    fn report_histogram(name: &str, samples: &mut [u32]) {
        samples.sort_unstable();
        let lost = samples.iter().filter(|&&v| v == LOST_SAMPLE).count();
        let kept = &samples[..samples.len() - lost];
        cell_rt::hist::print_histogram("bench", name, kept, lost);
        let (min, max) = match kept {
            [first, .., last] => (*first, *last),
            [only] => (*only, *only),
            [] => (0, 0),
        };
        let sum: u64 = kept.iter().map(|&v| u64::from(v)).sum();
        let average = sum.checked_div(kept.len() as u64).unwrap_or(0);
        println!(
            "bench: {name} latency: {} samples, min {min}, avg {average}, max {max} ticks",
            samples.len()
        );
    }

    /// Answers the bench initiator: one-way samples with the latency it
    /// saw, round trips with an echo, streams with their count and
    /// checksum. Never faults, never stops.
    #[inline(never)]
    fn bench_echoer(device: &Device) {
        let remote = other(device.id);
        let Some(mut channel) = open(device, remote, BENCH_RING) else {
            return;
        };
        println!("bench: echoer ready");
        let mut buffer = Aligned([0u8; BENCH_MESSAGE]);
        let buffer = &mut buffer.0;
        loop {
            // A message already there when the echoer looks was not
            // taken from WFI; otherwise the doorbell's handler records
            // when it arrived.
            DOORBELL_ENTRY.store(0, Relaxed);
            WAITED.store(false, Relaxed);
            let length = match channel.recv(buffer, TIMEOUT) {
                Ok(length) => length,
                Err(Error::Timeout) => continue,
                Err(e) => {
                    println!("bench: receive: {e}");
                    continue;
                }
            };
            let idle = WAITED.load(Relaxed);
            let entry = DOORBELL_ENTRY.load(Relaxed);
            let message = &buffer[..length];
            let answer = match word(message, 0) {
                kind::ONEWAY => {
                    let ticks = if !idle {
                        NOT_IDLE
                    } else if entry == 0 {
                        LOST
                    } else {
                        entry
                    };
                    let [low, high] = halves(ticks);
                    channel.send(
                        words([kind::ONEWAY_RESULT, word(message, 1), low, high]).as_flattened(),
                        TIMEOUT,
                    )
                }
                kind::ROUND_TRIP => channel.send(message, TIMEOUT),
                kind::STREAM_START => {
                    let (size, count) = (word(message, 1), word(message, 2));
                    let (received, sum) = receive_stream(&mut channel, count, buffer);
                    let [low, high] = halves(sum);
                    if received != count {
                        println!("bench: stream of {count} x {size} B: got {received} messages");
                    }
                    channel.send(
                        words([kind::STREAM_DONE, received, low, high]).as_flattened(),
                        TIMEOUT,
                    )
                }
                other => {
                    println!("bench: unknown message kind {other:#x} ({length} bytes)");
                    Ok(())
                }
            };
            if let Err(e) = answer {
                println!("bench: send: {e}");
            }
        }
    }

    /// Receives `count` stream messages into a local buffer and sums their
    /// words; returns how many came and the sum.
    #[inline(never)]
    fn receive_stream(
        channel: &mut Channel<'_, CellDoorbell>,
        count: u32,
        buffer: &mut [u8],
    ) -> (u32, u64) {
        let mut sum = 0u64;
        for received in 0..count {
            match channel.recv(buffer, TIMEOUT) {
                Ok(length) => sum = checksum(sum, &buffer[..length]),
                Err(e) => {
                    println!("bench: stream message {received}: {e}");
                    return (received, sum);
                }
            }
        }
        (count, sum)
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        cell_rt::cpu_off()
    }
}

cell_rt::host_main!();
