//! Interrupt latency probe: measures how long the EL1 virtual timer's
//! interrupt takes from its deadline to the first instructions of the IRQ
//! vector, busy and in WFI. It also checks that the GIC, as the cell sees
//! it, lets it configure its own interrupts and nobody else's, and that an
//! SGI to itself arrives.
//!
//! `x0` (the config's `boot_argument`) is the `RD_base` of its
//! redistributor. The same binary also runs natively at EL1 (QEMU without
//! virtualization, for the baseline): then `x0` is the firmware's device
//! tree and the probe uses CPU 0's redistributor and sets up what the
//! partitioner would have (wake-up, Group 1); under Bulkhead those writes
//! are ignored.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use cell_rt::gic::{self, DISTRIBUTOR};
    use cell_rt::{counter, counter_frequency, enable_irqs, install_irq_handler, println, timer};
    use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

    const VIRTUAL_TIMER: u32 = 27;
    const TEST_SGI: u32 = 3;
    /// An SPI the probe does not own (another cell's virtio slot).
    const FOREIGN_SPI: u32 = 79;
    const SAMPLES: u64 = 200;

    static DEADLINE: AtomicU64 = AtomicU64::new(0);
    static LATENCY: AtomicU64 = AtomicU64::new(u64::MAX);
    static SGIS: AtomicU64 = AtomicU64::new(0);

    // Plain loads and stores only: the cell runs with its MMU off.
    fn on_irq(intid: u32, entry_counter: u64) {
        match intid {
            VIRTUAL_TIMER => {
                timer::stop();
                LATENCY.store(entry_counter.wrapping_sub(DEADLINE.load(Relaxed)), Relaxed);
            }
            TEST_SGI => SGIS.store(SGIS.load(Relaxed) + 1, Relaxed),
            _ => {}
        }
    }

    /// QEMU virt's first redistributor (CPU 0), for native runs.
    const NATIVE_REDISTRIBUTOR: usize = 0x080a_0000;
    const FDT_MAGIC: u32 = 0xd00d_feed;

    #[unsafe(no_mangle)]
    fn cell_main(boot_argument: u64) -> ! {
        // SAFETY: a read of the first word x0 points at, which is either a
        // redistributor register or the firmware's device tree in RAM.
        let first_word = unsafe { core::ptr::read_volatile(boot_argument as *const u32) };
        let native = u32::from_be(first_word) == FDT_MAGIC;
        let rd = if native {
            NATIVE_REDISTRIBUTOR
        } else {
            boot_argument as usize
        };
        if native {
            // What the partitioner does for a cell: wake the redistributor,
            // put the private interrupts in Group 1.
            gic::write32(rd + 0x14, 0);
            gic::write32(rd + 0x1_0080, u32::MAX);
        }
        let hz = counter_frequency();
        let mode = if native { "native" } else { "cell" };
        println!("probe ({mode}): redistributor at {rd:#x}, counter {hz} Hz");
        install_irq_handler(on_irq);
        gic::init_cpu_interface();
        gic::enable_private(rd, VIRTUAL_TIMER, 0x80);
        gic::enable_private(rd, TEST_SGI, 0x80);
        let own = gic::read32(rd + 0x1_0100);
        println!("probe: own private interrupts enabled: {own:#010x}");

        // Another cell's SPI: writes must be ignored, reads show nothing.
        let spi_word = DISTRIBUTOR + 0x100 + 4 * (FOREIGN_SPI as usize / 32);
        gic::write32(spi_word, 1 << (FOREIGN_SPI % 32));
        gic::write8(DISTRIBUTOR + 0x400 + FOREIGN_SPI as usize, 0x00);
        println!(
            "probe: foreign SPI {FOREIGN_SPI}: enable reads {:#x}, priority reads {:#x}",
            gic::read32(spi_word),
            gic::read8(DISTRIBUTOR + 0x400 + FOREIGN_SPI as usize)
        );

        enable_irqs();
        gic::send_sgi(TEST_SGI, 1);
        let start = counter();
        while SGIS.load(Relaxed) == 0 && counter() - start < hz / 10 {}
        println!(
            "probe: SGI {TEST_SGI} to self delivered {} time(s)",
            SGIS.load(Relaxed)
        );

        let period = hz / 1000;
        for (mode, wait_in_wfi) in [("busy", false), ("wfi", true)] {
            let (mut min, mut max, mut sum) = (u64::MAX, 0, 0);
            for _ in 0..SAMPLES {
                LATENCY.store(u64::MAX, Relaxed);
                let deadline = counter() + period;
                DEADLINE.store(deadline, Relaxed);
                timer::arm(deadline);
                let give_up = deadline + hz / 10;
                while LATENCY.load(Relaxed) == u64::MAX && counter() < give_up {
                    if wait_in_wfi {
                        cell_rt::wait_for_interrupt();
                    }
                }
                let latency = LATENCY.load(Relaxed);
                min = min.min(latency);
                max = max.max(latency);
                sum += latency.min(hz);
            }
            println!(
                "probe: timer latency ({mode}): {SAMPLES} samples, min {min}, avg {}, max {max} ticks",
                sum / SAMPLES
            );
        }
        println!("probe: done");
        cell_rt::halt()
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        cell_rt::cpu_off()
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("This is a bare-metal Bulkhead test cell. Build it with `cargo xtask build`.");
    std::process::exit(2);
}
