//! DMA-engine test cell: owns a PCI host bridge whose DMA the board's
//! SMMU confines (docs/dma.md), finds QEMU's `edu` device on bus 0,
//! gives it a BAR and bus mastering, and has it copy a buffer of the
//! cell's RAM into the device and back, by the addresses the cell sees
//! (its RAM is not identity-mapped, so only a device that translates
//! through the cell's stage 2 gets it right). Then it turns the device on
//! memory it does not own. Which attack depends on how often it has
//! booted (the count survives restarts), so a cell with `on_fault:
//! restart` goes through all of them in turn:
//!
//! 0. the device writes another cell's RAM (`0x5010_0000`, the canary's
//!    checked words in the test config);
//! 1. the device reads the partitioner's RAM (`0x4008_0000`, its image);
//! 2. the device reads beyond the cell's guest-physical space;
//! 3. a transfer into the cell's own RAM is started, and the cell resets
//!    itself (`SYSTEM_RESET`) before the device carries it out (it takes
//!    100 ms);
//! 4. the new incarnation, before it touches the device, watches where
//!    that transfer was to land for 500 ms; then it does its round trip
//!    and switches itself off with `SYSTEM_OFF` (for good).
//!
//! If QEMU's `igb` is on the bus too (a function with Function Level
//! Reset), boot 3 sets its BAR 0 and boot 4 checks that it reads 0 again:
//! the partitioner reset the function when boot 3 stopped (else `NOT
//! RESET`).
//!
//! Each attack must end in a DMA fault the partitioner logs, and the cell
//! restarted. If the device's transfer completes with the other cell's or
//! the partitioner's data, it prints `ISOLATION BROKEN`; if the transfer
//! of boot 3 lands in boot 4, `PREVIOUS BOOT'S DMA LANDED`.
//!
//! Its boot argument (`x0`): bits 63..32 the bridge's ECAM (bus 0), bits
//! 31..0 the address in the bridge's memory window where it puts the
//! device's BAR 0.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use baremetal_cells::{count_boot, counter, counter_frequency, delay_ms, println};
    use bulkhead_abi::pci::{bar, command, config_space, offset, DEVICES_PER_BUS};
    use core::ptr::{read_volatile, write_volatile};
    use core::sync::atomic::{compiler_fence, Ordering};

    /// QEMU's educational PCI device (`-device edu`).
    const EDU_VENDOR: u16 = 0x1234;
    const EDU_DEVICE: u16 = 0x11e8;
    /// QEMU's `igb` (Intel 82576), a PCI Express function with Function
    /// Level Reset.
    const IGB_VENDOR: u16 = 0x8086;
    const IGB_DEVICE: u16 = 0x10c9;
    /// Where boot 3 puts igb's BAR 0 (128 KiB), past edu's (1 MiB).
    const IGB_BAR_OFFSET: u32 = 0x10_0000;
    /// Its identification register reads 0xRRrr00ed (version, 0xed).
    const EDU_ID: usize = 0x00;
    /// DMA source, destination, length and command registers (64 bits).
    const EDU_DMA_SOURCE: usize = 0x80;
    const EDU_DMA_DESTINATION: usize = 0x88;
    const EDU_DMA_COUNT: usize = 0x90;
    const EDU_DMA_COMMAND: usize = 0x98;
    /// Command bits: start (cleared when done), direction device → RAM.
    const EDU_DMA_START: u64 = 1;
    const EDU_DMA_TO_RAM: u64 = 2;
    /// The device's own 4 KiB buffer, as its DMA registers address it.
    const EDU_BUFFER: u64 = 0x4_0000;

    /// Words copied each way.
    const WORDS: usize = 16;
    /// RAM of the `canary` cell (1 MiB in: its checked words).
    const OTHER_CELL: u64 = 0x5010_0000;
    /// The partitioner's image.
    const PARTITIONER: u64 = 0x4008_0000;
    /// Beyond a 39-bit guest-physical space.
    const BEYOND: u64 = 0x80_0000_0000;

    /// A buffer the device transfers from or to, on the stack (the
    /// cell's RAM, by the address the cell sees it).
    #[repr(C, align(64))]
    struct Buffer([u64; WORDS]);

    fn config_read(ecam: usize, device: u8, reg: u16) -> u32 {
        let address = ecam + config_space(0, device, 0) as usize + (reg & !3) as usize;
        // SAFETY: the bridge's ECAM is given to this cell; config reads
        // have no side effects.
        let word = unsafe { read_volatile(address as *const u32) };
        word >> (8 * (reg & 3))
    }

    fn config_write(ecam: usize, device: u8, reg: u16, value: u32) {
        let address = ecam + config_space(0, device, 0) as usize + reg as usize;
        // SAFETY: the bridge's ECAM is given to this cell.
        unsafe { write_volatile(address as *mut u32, value) };
    }

    /// The device number of function `vendor`:`device` on bus 0.
    fn find(ecam: usize, vendor: u16, device: u16) -> Option<u8> {
        (0..DEVICES_PER_BUS as u8).find(|&d| {
            let id = config_read(ecam, d, offset::VENDOR_ID);
            id as u16 == vendor && (id >> 16) as u16 == device
        })
    }

    struct Edu(usize);

    impl Edu {
        /// Registers below 0x80 are 32 bits wide (the device answers
        /// all-ones to any other size there).
        fn read32(&self, reg: usize) -> u32 {
            // SAFETY: BAR 0 of the device, which this cell placed in its
            // bridge's window.
            unsafe { read_volatile((self.0 + reg) as *const u32) }
        }

        fn read(&self, reg: usize) -> u64 {
            // SAFETY: BAR 0 of the device, which this cell placed in its
            // bridge's window.
            unsafe { read_volatile((self.0 + reg) as *const u64) }
        }

        fn write(&self, reg: usize, value: u64) {
            // SAFETY: as in `read`.
            unsafe { write_volatile((self.0 + reg) as *mut u64, value) }
        }

        /// Starts a transfer of `bytes`, which the device carries out
        /// 100 ms later.
        fn start(&self, source: u64, destination: u64, bytes: u64, to_ram: bool) {
            // The buffers' plain stores before the device reads them, and
            // their reads after it wrote them (with the MMU off, all of
            // the cell's memory is Device memory: the hardware keeps the
            // order the compiler emits).
            compiler_fence(Ordering::SeqCst);
            self.write(EDU_DMA_SOURCE, source);
            self.write(EDU_DMA_DESTINATION, destination);
            self.write(EDU_DMA_COUNT, bytes);
            let direction = if to_ram { EDU_DMA_TO_RAM } else { 0 };
            self.write(EDU_DMA_COMMAND, EDU_DMA_START | direction);
        }

        /// Runs one transfer of `bytes`; returns whether it finished
        /// within two seconds (the device takes 100 ms).
        fn transfer(&self, source: u64, destination: u64, bytes: u64, to_ram: bool) -> bool {
            self.start(source, destination, bytes, to_ram);
            let deadline = counter() + 2 * counter_frequency();
            while self.read(EDU_DMA_COMMAND) & EDU_DMA_START != 0 {
                if counter() > deadline {
                    return false;
                }
                core::hint::spin_loop();
            }
            compiler_fence(Ordering::SeqCst);
            true
        }
    }

    /// Where boot 3's transfer was to land: in `.bss`, so at the same
    /// address in every boot, and zeroed as each boot starts.
    struct Landing(core::cell::UnsafeCell<Buffer>);

    // SAFETY: only virtual CPU 0 runs; the device writes it, the cell
    // reads it with volatile reads.
    unsafe impl Sync for Landing {}

    static LANDING: Landing = Landing(core::cell::UnsafeCell::new(Buffer([0; WORDS])));

    fn pattern(boot: u64, i: usize) -> u64 {
        0x5eed_0000_0000_0000 | boot << 32 | i as u64
    }

    #[unsafe(no_mangle)]
    fn cell_main(boot_argument: u64) -> ! {
        let boot = count_boot();
        let ecam = (boot_argument >> 32) as usize;
        let window = (boot_argument & 0xffff_ffff) as usize;
        println!("dma cell: boot {boot}");
        let igb = find(ecam, IGB_VENDOR, IGB_DEVICE);
        if boot == 4 {
            watch_landing();
            if let Some(igb) = igb {
                check_reset(ecam, igb, window as u32 + IGB_BAR_OFFSET);
            }
        }
        let Some(device) = find(ecam, EDU_VENDOR, EDU_DEVICE) else {
            println!("dma: no edu device on bus 0");
            baremetal_cells::system_off();
        };
        config_write(ecam, device, offset::bar(0), window as u32);
        let enable = u32::from(command::MEMORY_SPACE | command::BUS_MASTER);
        config_write(ecam, device, offset::COMMAND, enable);
        let edu = Edu(window);
        println!(
            "dma: edu at 00:{device:02x}.0 (stream {:#x}), id {:#x}, BAR 0 at {window:#x}",
            u32::from(device) << 3,
            edu.read32(EDU_ID)
        );
        let mut source = Buffer([0; WORDS]);
        for (i, word) in source.0.iter_mut().enumerate() {
            *word = pattern(boot, i);
        }
        let back = Buffer([0; WORDS]);
        let bytes = (WORDS * 8) as u64;
        let (from, to) = (source.0.as_ptr() as u64, back.0.as_ptr() as u64);
        let round_trip = edu.transfer(from, EDU_BUFFER, bytes, false)
            && edu.transfer(EDU_BUFFER, to, bytes, true);
        // SAFETY: `back` is this frame's, and the device is done with it
        // (the transfer finished); a volatile read sees what it wrote.
        let got = unsafe { read_volatile(&back) };
        if round_trip && got.0 == source.0 {
            println!("dma: round trip through the device ok ({bytes} bytes, {from:#x} -> device -> {to:#x})");
        } else {
            println!(
                "dma: round trip FAILED (finished: {round_trip}, first word {:#x})",
                got.0[0]
            );
        }
        match boot {
            0 => {
                println!("dma: device writes another cell's RAM at {OTHER_CELL:#x}");
                edu.transfer(EDU_BUFFER, OTHER_CELL, bytes, true);
            }
            1 => attack_read("the partitioner's RAM", PARTITIONER, &edu, &source),
            2 => attack_read("beyond the cell's space", BEYOND, &edu, &source),
            3 => {
                if let Some(igb) = igb {
                    let bar = window as u32 + IGB_BAR_OFFSET;
                    config_write(ecam, igb, offset::bar(0), bar);
                    let set = config_read(ecam, igb, offset::bar(0)) & bar::ADDRESS_MASK;
                    println!("dma: igb at 00:{igb:02x}.0, BAR 0 set to {set:#x}");
                }
                let landing = LANDING.0.get() as u64;
                println!(
                    "dma: device writes the cell's RAM at {landing:#x} in 100 ms; SYSTEM_RESET now"
                );
                edu.start(EDU_BUFFER, landing, bytes, true);
                baremetal_cells::system_reset();
            }
            _ => {
                println!("dma: SYSTEM_OFF");
                baremetal_cells::system_off();
            }
        }
        // The partitioner stops the cell on the fault; until then, wait.
        delay_ms(5000);
        println!("dma: still running 5 s after the attack: NOT STOPPED");
        baremetal_cells::system_off();
    }

    /// Boot 4, before it touches the device: watches where boot 3's
    /// transfer was to land for 500 ms, long past when the device carries
    /// it out. The partitioner turned the device's bus mastering off when
    /// boot 3 stopped, and nothing has turned it on again.
    fn watch_landing() {
        delay_ms(500);
        // SAFETY: a volatile read of the static the device would have
        // written.
        let landed = unsafe { read_volatile(LANDING.0.get()) };
        if landed.0.iter().any(|&word| word != 0) {
            println!(
                "dma: PREVIOUS BOOT'S DMA LANDED in this one (first word {:#x})",
                landed.0[0]
            );
        } else {
            println!("dma: the previous boot's transfer did not land (500 ms)");
        }
    }

    /// Boot 4: whether igb (device `igb`), whose BAR 0 boot 3 set to
    /// `was`, was reset when boot 3 stopped: a reset clears the BAR.
    fn check_reset(ecam: usize, igb: u8, was: u32) {
        let now = config_read(ecam, igb, offset::bar(0)) & bar::ADDRESS_MASK;
        if now == 0 {
            println!("dma: igb was reset while the cell was down (BAR 0 was {was:#x}, reads 0)");
        } else {
            println!("dma: igb BAR 0 still reads {now:#x}: NOT RESET");
        }
    }

    /// Has the device read `address` into its buffer, then back into a
    /// buffer of this cell's. A blocked read leaves the device's buffer
    /// as the round trip filled it, with the cell's own pattern
    /// (`expected`): anything else came from memory the cell does not own.
    fn attack_read(what: &str, address: u64, edu: &Edu, expected: &Buffer) {
        println!("dma: device reads {what} at {address:#x}");
        let bytes = (WORDS * 8) as u64;
        let buffer = Buffer([0; WORDS]);
        edu.transfer(address, EDU_BUFFER, bytes, false);
        edu.transfer(EDU_BUFFER, buffer.0.as_ptr() as u64, bytes, true);
        // SAFETY: `buffer` is this frame's, and the device is done with it.
        let got = unsafe { read_volatile(&buffer) };
        if got.0 != expected.0 {
            println!("dma: read {:#x} from {what}: ISOLATION BROKEN", got.0[0]);
        }
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        baremetal_cells::cpu_off()
    }
}

baremetal_cells::host_main!();
