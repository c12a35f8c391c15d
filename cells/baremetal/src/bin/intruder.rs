//! Intruder test cell: reads its own device to show that assigned MMIO
//! works, beats a few times, then misbehaves. Which attack it makes
//! depends on how often it has booted (the count survives restarts), so a
//! cell with `on_fault: restart` goes through all of them in turn:
//!
//! 0. read another cell's RAM;
//! 1. write another cell's RAM;
//! 2. read MMIO that is not assigned to it;
//! 3. go for the GIC: enable an SPI it does not own (ignored), send itself
//!    the partitioner's kick SGI (dropped), then write the redistributor
//!    of a core that is not its own (GICv3) or the GIC's hypervisor
//!    interface (GICv2): a fault;
//! 4. make 20 firmware calls the partitioner does not know (it logs 16
//!    and then says it suppresses the rest), then write `L2CTLR_EL1`, the
//!    implementation-defined control of the L2 cache its cluster shares
//!    with other cells' cores (trapped by `HCR_EL2.TIDCP`: a fault);
//! 5. make firmware calls the partitioner does not know (logged again:
//!    the limit counts per start), beat a while, then switch itself off
//!    with `SYSTEM_OFF` (for good: no restart).
//!
//! Its boot argument (`x0`) names the MMIO it uses, so that one cell
//! serves every board: bits 63..32 hold the address of the device the
//! config gives it (0: none), bits 31..0 the address of a device that no
//! cell has. The other cell's RAM is `0x5000_0000` in the test configs.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use baremetal_cells::{count_boot, delay_ms, gic, hvc, println, smc};

    /// RAM of the `sensor` cell in the example configs.
    const VICTIM_RAM: usize = 0x5000_0000;
    /// The board's distributor and CPU 0's redistributor (`RD_base`).
    const GICD: usize = baremetal_cells::board::GIC_DISTRIBUTOR;
    const CPU0_REDISTRIBUTOR: usize = baremetal_cells::board::GIC_REDISTRIBUTORS;
    /// A GICv2's virtual interface control (0 on a GICv3).
    const GICH: usize = baremetal_cells::board::GIC_HYPERVISOR_INTERFACE;
    /// An SPI the intruder does not own (the sensor's virtio-mmio31 on
    /// QEMU virt, no device's on the i.MX 8M Plus).
    const SENSOR_SPI: u32 = 79;

    #[unsafe(no_mangle)]
    fn cell_main(boot_argument: u64) -> ! {
        let boot = count_boot();
        println!("intruder cell: boot {boot}");
        let own_device = (boot_argument >> 32) as usize;
        let unassigned_mmio = (boot_argument & 0xffff_ffff) as usize;
        if own_device != 0 {
            // SAFETY: the boot argument names the device the config gives
            // this cell.
            let magic = unsafe { core::ptr::read_volatile(own_device as *const u32) };
            println!("intruder: own device at {own_device:#x} reads magic {magic:#x}");
        }
        for beat in 1..=3 {
            delay_ms(200);
            println!("heartbeat {beat}");
        }
        match boot % 6 {
            0 => {
                println!("intruder: reading another cell's RAM at {VICTIM_RAM:#x}");
                // SAFETY: deliberately wrong: the partitioner must stop it.
                let value = unsafe { core::ptr::read_volatile(VICTIM_RAM as *const u32) };
                println!("intruder: read {value:#x}: ISOLATION BROKEN");
            }
            1 => {
                println!("intruder: writing another cell's RAM at {VICTIM_RAM:#x}");
                // SAFETY: deliberately wrong: the partitioner must stop it.
                unsafe { core::ptr::write_volatile(VICTIM_RAM as *mut u32, 0xdead_beef) };
                println!("intruder: wrote: ISOLATION BROKEN");
            }
            2 => {
                println!("intruder: reading unassigned MMIO at {unassigned_mmio:#x}");
                // SAFETY: deliberately wrong: the partitioner must stop it.
                let value = unsafe { core::ptr::read_volatile(unassigned_mmio as *const u32) };
                println!("intruder: read {value:#x}: ISOLATION BROKEN");
            }
            3 => {
                let word = GICD + 0x100 + 4 * (SENSOR_SPI as usize / 32);
                gic::write32(word, 1 << (SENSOR_SPI % 32));
                println!(
                    "intruder: enabled the sensor's SPI {SENSOR_SPI}? enable reads {:#x} (ignored)",
                    gic::read32(word)
                );
                gic::send_sgi(15, 1);
                println!("intruder: sent itself the kick SGI 15 (dropped)");
                if GICH != 0 {
                    // GICv2: the interface that controls virtual
                    // interrupts, which no cell may reach.
                    println!("intruder: writing the GIC's hypervisor interface at {GICH:#x}");
                    gic::write32(GICH, u32::MAX);
                } else {
                    println!("intruder: writing CPU 0's redistributor at {CPU0_REDISTRIBUTOR:#x}");
                    gic::write32(CPU0_REDISTRIBUTOR + 0x1_0180, u32::MAX);
                }
                println!("intruder: wrote it: ISOLATION BROKEN");
            }
            4 => {
                for _ in 0..20 {
                    smc(0xc200_0bad, 0, 0, 0);
                }
                println!("intruder: made 20 unknown firmware calls");
                println!("intruder: writing L2CTLR_EL1 (its cluster's L2 control)");
                // SAFETY: deliberately wrong: an implementation-defined
                // register of the shared L2; the partitioner must stop it.
                unsafe {
                    core::arch::asm!(
                        "mrs {v}, s3_1_c11_c0_2",
                        "msr s3_1_c11_c0_2, {v}",
                        v = out(reg) _,
                        options(nomem, nostack)
                    )
                };
                println!("intruder: wrote L2CTLR_EL1: ISOLATION BROKEN");
            }
            _ => {
                let unknown = smc(0xc200_0bad, 0, 0, 0);
                println!("intruder: unknown SMC returned {unknown}");
                let bogus = hvc::<0x42>(baremetal_cells::psci::PSCI_VERSION, 0);
                println!("intruder: HVC #0x42 returned {bogus}");
            }
        }
        let mut beat = 3;
        loop {
            delay_ms(200);
            beat += 1;
            println!("heartbeat {beat}");
            if boot % 6 == 5 && beat == 8 {
                println!("intruder: SYSTEM_OFF");
                baremetal_cells::system_off();
            }
        }
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        baremetal_cells::cpu_off()
    }
}

baremetal_cells::host_main!();
