//! Binary-point check cell: writes every value 0 to 7 into
//! `ICC_BPR1_EL1` and after each one sleeps in `WFI` until its virtual
//! timer fires. On QEMU 7.2 some of these writes followed by `WFI` made
//! QEMU abort (`icc_gprio_mask: Assertion 'bpr > 0' failed`), taking
//! every cell down with it; QEMU 10.0.2, the lab's, clamps the value and
//! carries on. The system test keeps it that way.
//!
//! Its boot argument (`x0`) is the `RD_base` of its CPU's redistributor.
//!
//! Output: `bpr <n> (reads <m>): woke with intid 27` for each value, then
//! `bprcheck: done`, then `SYSTEM_OFF`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use cell_rt::{counter, counter_frequency, gic, println, timer};
    use core::arch::asm;

    /// The EL1 virtual timer's PPI.
    const VIRTUAL_TIMER: u32 = 27;

    #[unsafe(no_mangle)]
    fn cell_main(redistributor: u64) -> ! {
        gic::init_cpu_interface();
        for bpr in 0u64..=7 {
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
            cell_rt::wait_for_interrupt();
            let intid = gic::acknowledge();
            gic::end(intid);
            timer::stop();
            println!("bpr {bpr} (reads {back}): woke with intid {intid}");
        }
        println!("bprcheck: done");
        cell_rt::system_off()
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        cell_rt::halt()
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("This is a bare-metal Bulkhead test cell. Build it with `cargo xtask build`.");
    std::process::exit(2);
}
