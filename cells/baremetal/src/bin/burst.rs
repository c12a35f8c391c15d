//! Burst test cell: with its interrupts masked, sends itself eight SGIs
//! at once (more than QEMU's GICv3 has list registers: four), then takes
//! them, once every 200 ms, and prints how many of the eight arrived. In a
//! cell whose interrupts are virtualized the partitioner lists four and
//! keeps the others waiting until the cell has ended enough to make room
//! (the underflow maintenance interrupt): none may be lost. Its boot
//! argument (`x0`) is its core's redistributor (`RD_base`).
//!
//! On its first boot, after three bursts, it leaves six other SGIs (8 to
//! 13) and its virtual timer's interrupt pending (listed or waiting) and
//! asks for `SYSTEM_RESET`. Each boot first reports what it finds pending
//! at start, and every burst counts SGIs 8 to 13 too: nothing may be left
//! from the previous run, neither listed nor waiting. Its timer must fire
//! (its physical interrupt may not be left active).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use baremetal_cells::board::VIRTUAL_TIMER;
    use baremetal_cells::{
        count_boot, counter, counter_frequency, delay_ms, disable_irqs, enable_irqs, gic,
        install_irq_handler, println, system_reset, timer, vcpu,
    };
    use core::sync::atomic::{AtomicU32, Ordering};

    /// The SGIs sent in one burst: INTID 0 to 7.
    const SGIS: u32 = 8;

    /// One bit per SGI taken in the current burst.
    static TAKEN: AtomicU32 = AtomicU32::new(0);
    /// SGIs taken more than once in a burst.
    static REPEATS: AtomicU32 = AtomicU32::new(0);
    /// Virtual timer interrupts taken.
    static TICKS: AtomicU32 = AtomicU32::new(0);
    /// The SGIs left pending before a reset: 8 to 13.
    const LEFT: core::ops::Range<u32> = 8..14;
    /// SGIs 8 to 13 taken since boot.
    static OTHERS: AtomicU32 = AtomicU32::new(0);

    fn on_irq(intid: u32, _counter: u64) {
        if intid == VIRTUAL_TIMER {
            timer::stop();
            TICKS.fetch_add(1, Ordering::Relaxed);
        } else if LEFT.contains(&intid) {
            OTHERS.fetch_add(1, Ordering::Relaxed);
        } else if intid < SGIS {
            let bit = 1 << intid;
            if TAKEN.fetch_or(bit, Ordering::Relaxed) & bit != 0 {
                REPEATS.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    #[unsafe(no_mangle)]
    fn cell_main(boot_argument: u64) -> ! {
        let boot = count_boot();
        let redistributor = boot_argument as usize;
        println!(
            "burst cell: boot {boot}, vcpu {}, redistributor {redistributor:#x}",
            vcpu()
        );
        install_irq_handler(on_irq);
        gic::init_cpu_interface();
        for sgi in (0..SGIS).chain(LEFT) {
            gic::enable_private(redistributor, sgi, 0x80);
        }
        gic::enable_private(redistributor, VIRTUAL_TIMER, 0x80);
        // Whatever a previous run left pending would come now.
        enable_irqs();
        delay_ms(20);
        disable_irqs();
        println!(
            "burst cell: {} SGIs and {} timer interrupts pending at start",
            TAKEN.load(Ordering::Relaxed).count_ones() + OTHERS.load(Ordering::Relaxed),
            TICKS.load(Ordering::Relaxed)
        );
        timer::arm(counter() + counter_frequency() / 1000);
        enable_irqs();
        delay_ms(20);
        disable_irqs();
        println!(
            "burst cell: timer fired {} times",
            TICKS.load(Ordering::Relaxed)
        );
        let me = 1 << vcpu();
        let mut burst = 0;
        loop {
            if boot == 0 && burst == 3 {
                // Leave everything pending: listed, or waiting for a list
                // register.
                for sgi in LEFT {
                    gic::send_sgi(sgi, me);
                }
                timer::arm(counter());
                delay_ms(1);
                println!("requesting SYSTEM_RESET with SGIs 8-13 and the timer pending");
                system_reset();
            }
            burst += 1;
            TAKEN.store(0, Ordering::Relaxed);
            REPEATS.store(0, Ordering::Relaxed);
            disable_irqs();
            for sgi in 0..SGIS {
                gic::send_sgi(sgi, me);
            }
            // Every SGI is pending (or listed) by now; take them.
            delay_ms(1);
            enable_irqs();
            delay_ms(20);
            disable_irqs();
            let taken = TAKEN.load(Ordering::Relaxed).count_ones();
            println!(
                "burst {burst}: {taken} of {SGIS} SGIs taken, {} twice, {} others since boot",
                REPEATS.load(Ordering::Relaxed),
                OTHERS.load(Ordering::Relaxed)
            );
            delay_ms(200);
        }
    }

    /// The cell has one virtual CPU; another would only turn itself off.
    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        baremetal_cells::cpu_off()
    }
}

baremetal_cells::host_main!();
