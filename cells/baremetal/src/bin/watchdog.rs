//! Watchdog test cell: pets its watchdog (the SP805 at its boot argument,
//! `x0`) the way Linux's `sp805_wdt` does, five times, 200 ms apart, then
//! masks every interrupt and spins. Nothing but the partitioner can end
//! that: it must notice that the cell stopped petting and apply the
//! config's `watchdog.action` (restart: the next boot says so, and does
//! the same again).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use baremetal_cells::{count_boot, delay_ms, disable_irqs, println};

    /// SP805 registers (TRM, table 3-1).
    const LOAD: usize = 0x000;
    const VALUE: usize = 0x004;
    const CONTROL: usize = 0x008;
    const INTCLR: usize = 0x00c;
    const LOCK: usize = 0xc00;
    const UNLOCK_KEY: u32 = 0x1acc_e551;
    /// Pets before it stops petting.
    const PETS: u32 = 5;

    fn write(base: usize, offset: usize, value: u32) {
        // SAFETY: the cell's emulated watchdog page (its config's
        // `watchdog.base`, passed as the boot argument).
        unsafe { core::ptr::write_volatile((base + offset) as *mut u32, value) };
    }

    fn read(base: usize, offset: usize) -> u32 {
        // SAFETY: as for `write`.
        unsafe { core::ptr::read_volatile((base + offset) as *const u32) }
    }

    #[unsafe(no_mangle)]
    fn cell_main(boot_argument: u64) -> ! {
        let boot = count_boot();
        let base = boot_argument as usize;
        println!(
            "watchdog cell: boot {boot}, watchdog at {base:#x}, control {:#x}, load {}",
            read(base, CONTROL),
            read(base, LOAD)
        );
        for pet in 1..=PETS {
            delay_ms(200);
            let left = read(base, VALUE);
            write(base, LOCK, UNLOCK_KEY);
            write(base, LOAD, read(base, LOAD));
            write(base, INTCLR, 0);
            write(base, LOCK, 0);
            println!("watchdog cell: pet {pet} ({left} ticks were left)");
        }
        println!("watchdog cell: masking interrupts and spinning");
        disable_irqs();
        loop {
            core::hint::spin_loop();
        }
    }

    /// The cell has one virtual CPU; another would only turn itself off.
    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        baremetal_cells::cpu_off()
    }
}

baremetal_cells::host_main!();
