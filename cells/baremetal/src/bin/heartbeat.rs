//! Heartbeat test cell: prints a numbered heartbeat from virtual CPU 0,
//! exercises PSCI (`CPU_ON`, `AFFINITY_INFO`, `CPU_OFF` on its other
//! virtual CPUs) and, when its boot argument (`x0`, the config's
//! `boot_argument`) is a number N > 0, asks for `SYSTEM_RESET` after N beats
//! on its first boot only, to show that a cell restarts alone. What is
//! typed into its console comes back a line at a time (`heard: LINE`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use baremetal_cells::{
        affinity_info, count_boot, cpu_off, cpu_on, delay_ms, println, smc, system_reset, vcpu,
    };

    /// Time between two heartbeats, in milliseconds.
    const PERIOD_MS: u64 = 200;

    #[unsafe(no_mangle)]
    fn cell_main(boot_argument: u64) -> ! {
        let boot = count_boot();
        println!(
            "heartbeat cell: boot {boot}, vcpu {}, x0 = {boot_argument:#x}",
            vcpu()
        );
        let version = smc(baremetal_cells::psci::PSCI_VERSION, 0, 0, 0);
        println!("psci version {}.{}", version >> 16, version & 0xffff);
        let cpu_on = smc(
            baremetal_cells::psci::PSCI_FEATURES,
            baremetal_cells::psci::PSCI_CPU_ON_64 as u64,
            0,
            0,
        );
        let unknown = smc(baremetal_cells::psci::PSCI_FEATURES, 0x8400_0042, 0, 0);
        println!("psci features: CPU_ON {cpu_on}, 0x84000042 {unknown}");
        start_other_vcpus();
        let mut beat = 0;
        let mut typed = Typed::new();
        loop {
            delay_ms(PERIOD_MS);
            beat += 1;
            println!("heartbeat {beat}");
            typed.take();
            if boot == 0 && beat == boot_argument {
                println!("requesting SYSTEM_RESET");
                system_reset();
            }
        }
    }

    /// A line typed into the console, up to its Enter.
    struct Typed {
        line: [u8; 64],
        len: usize,
    }

    impl Typed {
        const fn new() -> Self {
            Typed {
                line: [0; 64],
                len: 0,
            }
        }

        /// Takes what was typed; prints each complete line.
        fn take(&mut self) {
            while let Some(byte) = baremetal_cells::read_console_byte() {
                match byte {
                    b'\r' | b'\n' => {
                        let line = core::str::from_utf8(&self.line[..self.len]).unwrap_or("?");
                        println!("heard: {line}");
                        self.len = 0;
                    }
                    _ if self.len < self.line.len() => {
                        self.line[self.len] = byte;
                        self.len += 1;
                    }
                    _ => {}
                }
            }
        }
    }

    /// Starts virtual CPUs 1, 2, … one at a time until PSCI says there are
    /// no more; each says hello and turns itself off again.
    fn start_other_vcpus() {
        for target in 1..8u64 {
            let result = cpu_on(target, 0xc0ffee00 + target);
            if result != 0 {
                println!("cpu_on(vcpu {target}) = {result}");
                break;
            }
            // Stay quiet (the console is shared) and wait, bounded, until it
            // has turned itself off.
            let mut waited = 0;
            while affinity_info(target) != 1 && waited < 2000 {
                delay_ms(1);
                waited += 1;
            }
            println!(
                "cpu_on(vcpu {target}) = {result}, now off again (affinity_info = {})",
                affinity_info(target)
            );
        }
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(vcpu: usize, context: u64) -> ! {
        println!("vcpu {vcpu} up, context {context:#x}");
        cpu_off()
    }
}

baremetal_cells::host_main!();
