//! GIC CPU-interface check cell, and the minimal reproducer of two QEMU
//! bugs that let a cell take the whole emulated board down (no partitioner
//! can stop them: the cell's Group 1 CPU-interface writes reach QEMU's
//! model directly, without a trap, for direct interrupt delivery).
//!
//! It writes every value 0 to 7 into `ICC_BPR1_EL1` and after each one
//! sleeps in `WFI` until its virtual timer fires: QEMU clamps those to its
//! minimum and carries on, which the system test checks.
//!
//! Its boot argument (`x0`): bits 63..32 the `RD_base` of its CPU's
//! redistributor; bit 0 and bit 1 each ask for one of the QEMU bugs
//! (`hil-tests/configs/qemu-gic-bug.yaml`, run by hand, docs/hil.md):
//!
//! - bit 1, first: with a priority active, `ICC_EOIR1_EL1` of an INTID far
//!   out of range (0x292aaa). QEMU 10.0.2 crashes with SIGSEGV.
//! - bit 0, after the eight values: `ICC_BPR1_EL1 = 8`. QEMU (7.2 and
//!   10.0.2, `icc_bpr_write`) clamps the value to its minimum *before*
//!   keeping its low three bits, so 8 is stored as binary point 0, and the
//!   next priority computation aborts (`icc_gprio_mask: Assertion 'bpr >
//!   0' failed`). Real GICs keep the three bits.
//!
//! The hostile-guest fuzzer avoids exactly these: it writes `ICC_BPR1_EL1`
//! only with values 0 to 7 and `ICC_EOIR1_EL1` only with INTIDs below 256.
//!
//! Output: `bpr <n> (reads <m>): woke with intid 27` for each value, then
//! `giccheck: done` (then `SYSTEM_OFF`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use baremetal_cells::{counter, counter_frequency, gic, println, timer};
    use core::arch::asm;

    /// The EL1 virtual timer's PPI.
    const VIRTUAL_TIMER: u32 = 27;

    #[unsafe(no_mangle)]
    fn cell_main(boot_argument: u64) -> ! {
        let redistributor = boot_argument >> 32;
        let values = if boot_argument & 1 != 0 {
            0u64..=8
        } else {
            0u64..=7
        };
        gic::init_cpu_interface();
        if boot_argument & 2 != 0 {
            println!("giccheck: an active priority, then EOI of INTID 0x292aaa (QEMU crashes)");
            for _ in 0..64 {
                // SAFETY: this core's CPU interface; no memory effect.
                unsafe {
                    asm!(
                        "msr icc_ap1r0_el1, {ap}",
                        "isb",
                        "msr icc_eoir1_el1, {intid}",
                        "isb",
                        ap = in(reg) 1u64,
                        intid = in(reg) 0x0029_2aaau64,
                        options(nomem, nostack)
                    )
                };
            }
            println!("giccheck: QEMU survived the out-of-range EOI");
        }
        for bpr in values {
            if bpr == 8 {
                println!("giccheck: writing 8 (QEMU stores it as 0 and aborts at the next priority check)");
            }
            let back: u64;
            // SAFETY: this core's binary point; no memory effect.
            unsafe {
                asm!(
                    "msr icc_bpr1_el1, {bpr}",
                    "isb",
                    "mrs {back}, icc_bpr1_el1",
                    bpr = in(reg) bpr,
                    back = out(reg) back,
                    options(nomem, nostack)
                )
            };
            gic::enable_private(redistributor as usize, VIRTUAL_TIMER, 0x80);
            timer::arm(counter() + counter_frequency() / 1000);
            baremetal_cells::wait_for_interrupt();
            let intid = gic::acknowledge();
            gic::end(intid);
            timer::stop();
            println!("bpr {bpr} (reads {back}): woke with intid {intid}");
        }
        println!("giccheck: done");
        baremetal_cells::system_off()
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        baremetal_cells::halt()
    }
}

baremetal_cells::host_main!();
