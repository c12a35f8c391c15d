//! Canary cell: fills a region of its RAM with a pattern that depends on
//! each word's address and checks all of it at every beat, so that any
//! write by another cell (or by the partitioner on its behalf) into this
//! cell's memory shows. Runs beside the fuzzer.
//!
//! Output every beat (200 ms):
//! `canary: beat <n> ok, <words> words at counter <c>` or, for each bad
//! word (at most 8 a beat), `canary: CORRUPTED at <address>: <found>, expected <pattern>`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use baremetal_cells::{counter, delay_ms, println};

    /// Bytes checked, from 1 MiB into the cell's RAM (its image and stack
    /// stay below).
    const CHECKED: u64 = 1 << 20;
    const OFFSET: u64 = 1 << 20;
    /// Time between two beats.
    const PERIOD_MS: u64 = 200;

    unsafe extern "C" {
        static __image_start: u8;
    }

    fn pattern(address: u64) -> u64 {
        (address ^ 0xa5a5_5a5a_c3c3_3c3c).rotate_left((address >> 3) as u32 % 64)
    }

    #[unsafe(no_mangle)]
    fn cell_main(_boot_argument: u64) -> ! {
        let base = &raw const __image_start as u64 + OFFSET;
        let words = CHECKED / 8;
        for w in 0..words {
            let address = base + 8 * w;
            // SAFETY: the region lies in this cell's own RAM, above its
            // image and stack; nothing else of the cell uses it.
            unsafe { core::ptr::write_volatile(address as *mut u64, pattern(address)) };
        }
        println!("canary: {words} words at {base:#x} filled");
        let mut beat = 0u64;
        loop {
            delay_ms(PERIOD_MS);
            beat += 1;
            let mut bad = 0;
            for w in 0..words {
                let address = base + 8 * w;
                // SAFETY: as above.
                let found = unsafe { core::ptr::read_volatile(address as *const u64) };
                if found != pattern(address) {
                    bad += 1;
                    if bad <= 8 {
                        println!(
                            "canary: CORRUPTED at {address:#x}: {found:#x}, expected {:#x}",
                            pattern(address)
                        );
                    }
                }
            }
            if bad == 0 {
                println!(
                    "canary: beat {beat} ok, {words} words at counter {}",
                    counter()
                );
            }
        }
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        baremetal_cells::halt()
    }
}

baremetal_cells::host_main!();
