//! Interrupt latency probe: measures how long the EL1 virtual timer's
//! interrupt takes from its deadline to the first instructions of the IRQ
//! vector, busy and in WFI (entered with IRQs masked, as an OS idles: the
//! interrupt ends the WFI and is taken when the probe unmasks IRQs), and
//! how long an SGI to itself takes from the write of `ICC_SGI1R_EL1` to
//! the vector. It also checks that the GIC, as the cell sees it, lets it
//! configure its own interrupts and nobody else's, and that an SGI to
//! itself arrives.
//!
//! `x0` (the config's `boot_argument`) is the `RD_base` of its
//! redistributor. The same binary also runs natively at EL1 (QEMU without
//! virtualization, for the baseline): then `x0` is the firmware's device
//! tree and the probe uses CPU 0's redistributor and sets up what the
//! partitioner would have (wake-up, Group 1); under Bulkhead those writes
//! are ignored. Natively it powers the machine off when it is done.
//!
//! Each measurement first takes [`WARM_UP`] samples and drops them: the
//! first interrupts run through cold caches, TLBs and branch predictors
//! (and, in QEMU, through code not yet translated), which says nothing
//! about the steady state an RT task lives in. Then it records
//! [`SAMPLES`].
//!
//! Output, one line each (the host harness parses them, see
//! `hil-tests/src/latency.rs`):
//!
//! ```text
//! probe: warm-up: 20 samples of each measurement dropped
//! probe: hist busy 4:198 5:2          raw samples as value:count pairs,
//! probe: hist busy 9:1 lost:0         eight pairs a line, values ascending
//! probe: timer latency (busy): 200 samples, min 4, avg 4, max 9 ticks
//! ```
//!
//! for `busy`, `wfi` and `sgi`, then `probe: done`. `lost:N` counts
//! samples whose interrupt never came (within 100 ms).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use baremetal_cells::gic::{self, DISTRIBUTOR};
    use baremetal_cells::{
        counter, counter_frequency, disable_irqs, enable_irqs, install_irq_handler, println, timer,
        wait_for_interrupt,
    };
    use core::arch::asm;
    use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

    const VIRTUAL_TIMER: u32 = 27;
    const TEST_SGI: u32 = 3;
    /// An SPI the probe does not own (another cell's virtio slot).
    const FOREIGN_SPI: u32 = 79;
    /// Samples recorded per measurement.
    const SAMPLES: usize = 200;
    /// Samples taken and dropped before them, per measurement.
    const WARM_UP: usize = 20;
    /// A sample whose interrupt never came.
    const LOST: u64 = u64::MAX;

    static DEADLINE: AtomicU64 = AtomicU64::new(0);
    static LATENCY: AtomicU64 = AtomicU64::new(LOST);
    static SGIS: AtomicU64 = AtomicU64::new(0);
    /// The counter at the IRQ vector of the last SGI (0: none yet).
    static SGI_ENTRY: AtomicU64 = AtomicU64::new(0);

    // Plain loads and stores only: the cell runs with its MMU off.
    fn on_irq(intid: u32, entry_counter: u64) {
        match intid {
            VIRTUAL_TIMER => {
                timer::stop();
                LATENCY.store(entry_counter.wrapping_sub(DEADLINE.load(Relaxed)), Relaxed);
            }
            TEST_SGI => {
                SGIS.store(SGIS.load(Relaxed) + 1, Relaxed);
                SGI_ENTRY.store(entry_counter, Relaxed);
            }
            _ => {}
        }
    }

    /// Sends SGI `intid` to virtual CPU 0 (this one) and returns the
    /// counter read right before the write of `ICC_SGI1R_EL1`.
    fn send_sgi_to_self_timed(intid: u32) -> u64 {
        let value = (intid as u64) << 24 | 1;
        let before: u64;
        // SAFETY: SGI generation to this CPU and a counter read; no memory
        // effect besides the barrier.
        unsafe {
            asm!(
                "dsb ish",
                "isb",
                "mrs {before}, cntvct_el0",
                "msr icc_sgi1r_el1, {value}",
                "isb",
                before = out(reg) before,
                value = in(reg) value,
                options(nostack)
            )
        };
        before
    }

    /// Waits in WFI until the timer's handler has run (or, checked at each
    /// wake-up, until `give_up`), the way an OS idles: IRQs masked from the
    /// check to the WFI. A pending IRQ still ends the WFI and is taken as
    /// soon as IRQs are unmasked again. With IRQs open, a timer interrupt
    /// taken between the check and the WFI (a vCPU that runs late, past its
    /// deadline) would leave the core asleep for good, as nothing else
    /// interrupts it.
    fn wait_in_wfi_for_timer(give_up: u64) {
        loop {
            disable_irqs();
            if LATENCY.load(Relaxed) != LOST || counter() >= give_up {
                break;
            }
            wait_for_interrupt();
            enable_irqs();
        }
        enable_irqs();
    }

    /// Samples of one measurement, sorted and printed.
    struct Samples {
        values: [u64; SAMPLES],
    }

    impl Samples {
        const fn new() -> Self {
            Samples {
                values: [LOST; SAMPLES],
            }
        }

        /// Prints the histogram lines and the summary line.
        fn report(&mut self, mode: &str, title: &str) {
            // Insertion sort: 200 values, no heap.
            for i in 1..SAMPLES {
                let mut j = i;
                while j > 0 && self.values[j - 1] > self.values[j] {
                    self.values.swap(j - 1, j);
                    j -= 1;
                }
            }
            let lost = self.values.iter().filter(|&&v| v == LOST).count();
            let kept = &self.values[..SAMPLES - lost];
            baremetal_cells::hist::print_histogram("probe", mode, kept, lost);

            let hz = counter_frequency();
            let min = self.values[0];
            let max = self.values[SAMPLES - 1];
            let sum: u64 = self.values.iter().map(|&v| v.min(hz)).sum();
            println!(
                "probe: {title}: {SAMPLES} samples, min {min}, avg {}, max {max} ticks",
                sum / SAMPLES as u64
            );
        }
    }

    /// One timer sample: deadline → IRQ vector, the deadline a millisecond
    /// ahead, the CPU busy-waiting or in WFI ([`LOST`] if it never came).
    fn timer_sample(hz: u64, wait_in_wfi: bool) -> u64 {
        LATENCY.store(LOST, Relaxed);
        let deadline = counter() + hz / 1000;
        DEADLINE.store(deadline, Relaxed);
        timer::arm(deadline);
        let give_up = deadline + hz / 10;
        if wait_in_wfi {
            wait_in_wfi_for_timer(give_up);
        } else {
            while LATENCY.load(Relaxed) == LOST && counter() < give_up {}
        }
        timer::stop();
        LATENCY.load(Relaxed)
    }

    /// One SGI sample: `ICC_SGI1R_EL1` write → IRQ vector ([`LOST`] if it
    /// never came).
    fn sgi_sample(hz: u64) -> u64 {
        SGI_ENTRY.store(0, Relaxed);
        let before = send_sgi_to_self_timed(TEST_SGI);
        let give_up = before + hz / 10;
        while SGI_ENTRY.load(Relaxed) == 0 && counter() < give_up {}
        match SGI_ENTRY.load(Relaxed) {
            0 => LOST,
            entry => entry.wrapping_sub(before),
        }
    }

    /// The board's first redistributor (CPU 0), for native runs.
    const NATIVE_REDISTRIBUTOR: usize = baremetal_cells::board::GIC_REDISTRIBUTORS;
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

        // On the stack (4.8 KiB of the 16 KiB a virtual CPU has).
        let (mut busy, mut wfi, mut sgi) = (Samples::new(), Samples::new(), Samples::new());
        println!("probe: warm-up: {WARM_UP} samples of each measurement dropped");
        for (samples, wait_in_wfi) in [(&mut busy, false), (&mut wfi, true)] {
            for _ in 0..WARM_UP {
                timer_sample(hz, wait_in_wfi);
            }
            for sample in samples.values.iter_mut() {
                *sample = timer_sample(hz, wait_in_wfi);
            }
        }
        for _ in 0..WARM_UP {
            sgi_sample(hz);
        }
        for sample in sgi.values.iter_mut() {
            *sample = sgi_sample(hz);
        }
        busy.report("busy", "timer latency (busy)");
        wfi.report("wfi", "timer latency (wfi)");
        sgi.report("sgi", "SGI latency");
        println!("probe: done");
        if native {
            // QEMU's own PSCI (HVC at EL1 without EL2): quit the emulator.
            baremetal_cells::hvc::<0>(baremetal_cells::psci::PSCI_SYSTEM_OFF, 0);
        }
        baremetal_cells::halt()
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        baremetal_cells::cpu_off()
    }
}

baremetal_cells::host_main!();
