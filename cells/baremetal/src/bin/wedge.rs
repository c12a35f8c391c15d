//! Wedge test cell: its second virtual CPU masks every interrupt and never
//! comes back, and the cell must still stop and restart. Virtual CPU 0
//! starts virtual CPU 1, which masks `DAIF` and either spins (even boots)
//! or sits in `WFI` (odd boots) forever. Before its `WFI` it shuts its
//! GIC CPU interface (every active priority set, Group 1 disabled), so
//! that no interrupt, the partitioner's kick included, can wake it. Then
//! virtual CPU 0 ends the boot, depending on how often the cell booted
//! (the count survives restarts):
//!
//! 0. `SYSTEM_RESET` with virtual CPU 1 spinning;
//! 1. `SYSTEM_RESET` with virtual CPU 1 in `WFI`;
//! 2. a fault (a read of memory it was not given; the config says
//!    `on_fault: restart`) with virtual CPU 1 spinning;
//! 3. `SYSTEM_OFF` with virtual CPU 1 in `WFI`: the cell stays off.
//!
//! Each time the partitioner must get virtual CPU 1's core back, whatever
//! the cell did to it: that is what `system tests` check on both control
//! paths (the Group 0 kick, and stage-2 revocation with a Group 1 kick).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use baremetal_cells::{count_boot, cpu_on, delay_ms, println, system_off, system_reset};

    /// How long virtual CPU 1 stays wedged before virtual CPU 0 acts.
    const WEDGED_MS: u64 = 300;
    /// An address outside the cell's RAM in the test config.
    const NOT_MINE: usize = 0x4000_0000;

    #[unsafe(no_mangle)]
    fn cell_main(_boot_argument: u64) -> ! {
        let boot = count_boot();
        println!("wedge cell: boot {boot}");
        let result = cpu_on(1, boot);
        if result != 0 {
            println!("cpu_on(vcpu 1) = {result}");
        }
        delay_ms(WEDGED_MS);
        match boot {
            0 => {
                println!("boot 0: SYSTEM_RESET with vcpu 1 spinning");
                system_reset()
            }
            1 => {
                println!("boot 1: SYSTEM_RESET with vcpu 1 in WFI");
                system_reset()
            }
            2 => {
                println!("boot 2: faulting with vcpu 1 spinning");
                // SAFETY: deliberately outside the cell's memory: the
                // partitioner must stop (and restart) the cell.
                let value = unsafe { core::ptr::read_volatile(NOT_MINE as *const u32) };
                println!("read {value:#x}: ISOLATION BROKEN");
                system_off()
            }
            _ => {
                println!("boot {boot}: SYSTEM_OFF with vcpu 1 in WFI");
                system_off()
            }
        }
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(vcpu: usize, boot: u64) -> ! {
        let spin = boot.is_multiple_of(2);
        println!(
            "vcpu {vcpu}: interrupts masked, {} (boot {boot})",
            if spin {
                "spinning"
            } else {
                "in WFI with its GIC blocked"
            }
        );
        // SAFETY: masking every exception class has no memory effect; the
        // core never unmasks them again.
        unsafe { core::arch::asm!("msr daifset, #0xf", "isb", options(nomem, nostack)) };
        if !spin {
            baremetal_cells::gic::block_interface();
            println!(
                "vcpu {vcpu}: GIC blocked, running priority {:#x}",
                baremetal_cells::gic::running_priority()
            );
        }
        loop {
            if spin {
                core::hint::spin_loop();
            } else {
                baremetal_cells::wait_for_interrupt();
            }
        }
    }
}

baremetal_cells::host_main!();
