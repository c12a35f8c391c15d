//! Residue test cell: nothing one life of a cell leaves in its CPU's
//! registers may be seen by its next life. On its first boot the cell
//! reads every EL1/EL0 register it can observe (translation, exception,
//! thread ID, timer, debug, PMU, GIC CPU interface, FP/SIMD), keeps the
//! values where a restart does not reload them (`.noinit`), writes a
//! different value into each, and asks for `SYSTEM_RESET`. On its second
//! boot it reads them all again and reports every register whose value
//! differs from the first boot's, then switches itself off.
//!
//! Output:
//! - `residue: boot 0: <n> registers read, <m> changed by dirtying`
//! - `residue: <register> ignores the write` (each one the CPU keeps)
//! - `residue: <register> was <first> at the first boot, is <now>` (each)
//! - `residue: boot 1: <n> registers compared, <k> differ`
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use baremetal_cells::{count_boot, println, system_off, system_reset};
    use core::arch::asm;

    /// Reads every listed system register into an array, and writes each
    /// one's dirty value: `name => dirty value`.
    macro_rules! registers {
        ($($name:literal => $dirty:expr),* $(,)?) => {
            /// The system registers, in the order of [`read_sysregs`].
            const SYSREG_NAMES: &[&str] = &[$($name),*];

            /// Reads every register of [`SYSREG_NAMES`].
            fn read_sysregs(values: &mut [u64]) {
                let mut i = 0;
                $(
                    let value: u64;
                    // SAFETY: reading a system register the cell may read;
                    // no memory effect.
                    unsafe { asm!(concat!("mrs {}, ", $name), out(reg) value, options(nomem, nostack)) };
                    values[i] = value;
                    i += 1;
                )*
                let _ = i;
            }

            /// Writes each register's dirty value.
            fn dirty_sysregs() {
                $(
                    let value: u64 = $dirty;
                    // SAFETY: a value that stops nothing the cell relies
                    // on (MMU off, timers masked, counters stopped); no
                    // memory effect.
                    unsafe { asm!(concat!("msr ", $name, ", {}"), "isb", in(reg) value, options(nomem, nostack)) };
                )*
            }
        };
    }

    registers! {
        "tcr_el1" => 0x10,
        "ttbr0_el1" => 0x1000,
        "ttbr1_el1" => 0x2000,
        "mair_el1" => 0xff44_0400,
        "vbar_el1" => 0x800,
        "contextidr_el1" => 0x42,
        "tpidr_el0" => 0x1111,
        "tpidrro_el0" => 0x2222,
        "tpidr_el1" => 0x3333,
        "sp_el0" => 0x4000,
        "elr_el1" => 0x1234,
        "spsr_el1" => 0x3c5,
        "esr_el1" => 0x5,
        "far_el1" => 0x6,
        "par_el1" => 0x800,
        "csselr_el1" => 0x2,
        "cntv_cval_el0" => 12345,
        "cntv_ctl_el0" => 0b11,
        "cntp_cval_el0" => 23456,
        "cntp_ctl_el0" => 0b11,
        "cntkctl_el1" => 0x3,
        "mdscr_el1" => 1 << 15,
        "dbgbvr0_el1" => 0x1000,
        "dbgbcr0_el1" => 0x1e6,
        "dbgwvr0_el1" => 0x2000,
        "dbgwcr0_el1" => 0x1ffe,
        "pmcr_el0" => 1 << 3 | 1 << 6,
        "pmcntenset_el0" => 0x8000_0001,
        "pmintenset_el1" => 0x8000_0001,
        "pmuserenr_el0" => 0x1,
        "pmselr_el0" => 0x1,
        "pmccfiltr_el0" => 1 << 31,
        "pmccntr_el0" => 0x1234,
        "pmevtyper0_el0" => 0x11,
        "pmevcntr0_el0" => 0x55,
        "icc_ctlr_el1" => 1 << 1,
        "icc_bpr1_el1" => 4,
        "icc_pmr_el1" => 0x80,
        "icc_ap1r0_el1" => 1 << 31,
        "icc_igrpen1_el1" => group1_enable() ^ 1,
        "cpacr_el1" => 0b11 << 20,
    }

    /// `ICC_IGRPEN1_EL1` as the cell found it (1 or 0 depending on the
    /// control path).
    fn group1_enable() -> u64 {
        let value: u64;
        // SAFETY: reading ICC_IGRPEN1_EL1; no memory effect.
        unsafe { asm!("mrs {}, icc_igrpen1_el1", out(reg) value, options(nomem, nostack)) };
        value & 1
    }

    /// The OS lock's status (`OSLSR_EL1`, read-only); the lock is dirtied
    /// through `OSLAR_EL1`.
    const OSLSR: &str = "oslsr_el1 (OS lock)";
    /// FP/SIMD control and status, then the 32 vector registers' halves.
    const FP_NAMES: &[&str] = &["fpcr", "fpsr"];
    /// Registers of the FP/SIMD file (V0 to V31), each as two halves.
    const VECTORS: usize = 32;
    /// Everything compared.
    const TOTAL: usize = SYSREG_NAMES.len() + 1 + FP_NAMES.len() + 2 * VECTORS;

    /// Every value, in the order of [`name`].
    fn read_all() -> [u64; TOTAL] {
        let mut values = [0u64; TOTAL];
        let n = SYSREG_NAMES.len();
        read_sysregs(&mut values[..n]);
        let oslsr: u64;
        // SAFETY: reading OSLSR_EL1; no memory effect.
        unsafe { asm!("mrs {}, oslsr_el1", out(reg) oslsr, options(nomem, nostack)) };
        values[n] = oslsr;
        // FP/SIMD needs CPACR_EL1.FPEN (read above, first); the compare
        // of the next boot reads CPACR before setting it again.
        read_fp(&mut values[n + 1..]);
        values
    }

    /// Enables FP/SIMD at EL1 and reads its control, status and vectors.
    fn read_fp(values: &mut [u64]) {
        let (fpcr, fpsr): (u64, u64);
        // SAFETY: CPACR_EL1.FPEN = 0b11 lets EL1 use FP/SIMD; then reads
        // of its registers, no memory effect.
        unsafe {
            asm!(
                "msr cpacr_el1, {fpen}",
                "isb",
                ".arch_extension fp",
                "mrs {fpcr}, fpcr",
                "mrs {fpsr}, fpsr",
                fpen = in(reg) 0b11u64 << 20,
                fpcr = out(reg) fpcr,
                fpsr = out(reg) fpsr,
                options(nomem, nostack)
            )
        };
        values[0] = fpcr;
        values[1] = fpsr;
        macro_rules! vectors {
            ($($n:literal),*) => {
                $(
                    let (low, high): (u64, u64);
                    // SAFETY: reads of a vector register; no memory effect.
                    unsafe {
                        asm!(
                            ".arch_extension simd",
                            concat!("mov {low}, v", $n, ".d[0]"),
                            concat!("mov {high}, v", $n, ".d[1]"),
                            low = out(reg) low,
                            high = out(reg) high,
                            options(nomem, nostack)
                        )
                    };
                    values[2 + 2 * $n] = low;
                    values[3 + 2 * $n] = high;
                )*
            };
        }
        vectors!(
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
            24, 25, 26, 27, 28, 29, 30, 31
        );
    }

    /// Writes a value unlike its reset value into every register.
    fn dirty_all() {
        dirty_sysregs();
        // SAFETY: unlocks the OS lock, sets FP rounding and flags and a
        // distinct pattern in every vector register (CPACR_EL1 enables
        // FP/SIMD above); no memory effect.
        unsafe {
            asm!(
                "msr oslar_el1, xzr",
                ".arch_extension fp",
                ".arch_extension simd",
                "msr fpcr, {fpcr}",
                "msr fpsr, {fpsr}",
                "movi v0.16b, #1", "movi v1.16b, #2", "movi v2.16b, #3", "movi v3.16b, #4",
                "movi v4.16b, #5", "movi v5.16b, #6", "movi v6.16b, #7", "movi v7.16b, #8",
                "movi v8.16b, #9", "movi v9.16b, #10", "movi v10.16b, #11", "movi v11.16b, #12",
                "movi v12.16b, #13", "movi v13.16b, #14", "movi v14.16b, #15", "movi v15.16b, #16",
                "movi v16.16b, #17", "movi v17.16b, #18", "movi v18.16b, #19", "movi v19.16b, #20",
                "movi v20.16b, #21", "movi v21.16b, #22", "movi v22.16b, #23", "movi v23.16b, #24",
                "movi v24.16b, #25", "movi v25.16b, #26", "movi v26.16b, #27", "movi v27.16b, #28",
                "movi v28.16b, #29", "movi v29.16b, #30", "movi v30.16b, #31", "movi v31.16b, #32",
                "isb",
                fpcr = in(reg) 1u64 << 22,
                fpsr = in(reg) 0x1fu64,
                options(nomem, nostack)
            )
        };
    }

    /// The name of value `i` of [`read_all`]: a register's, or a vector
    /// register's number and which half.
    fn name(i: usize) -> Result<&'static str, (usize, &'static str)> {
        let n = SYSREG_NAMES.len();
        if i < n {
            return Ok(SYSREG_NAMES[i]);
        }
        if i == n {
            return Ok(OSLSR);
        }
        let fp = i - n - 1;
        if fp < FP_NAMES.len() {
            return Ok(FP_NAMES[fp]);
        }
        let v = fp - FP_NAMES.len();
        Err((v / 2, if v.is_multiple_of(2) { "low" } else { "high" }))
    }

    #[repr(C)]
    struct FirstBoot {
        magic: u64,
        values: [u64; TOTAL],
    }

    const MAGIC: u64 = 0x7e51_d0e0_0000_0001;

    struct NoInit(core::cell::UnsafeCell<FirstBoot>);

    // SAFETY: only virtual CPU 0 of this one-CPU cell touches it.
    unsafe impl Sync for NoInit {}

    /// Kept in `.noinit`, which a restart does not reload.
    #[unsafe(link_section = ".noinit")]
    static FIRST_BOOT: NoInit = NoInit(core::cell::UnsafeCell::new(FirstBoot {
        magic: 0,
        values: [0; TOTAL],
    }));

    #[unsafe(no_mangle)]
    fn cell_main(_boot_argument: u64) -> ! {
        // Read before anything else runs on this core.
        let now = read_all();
        let boot = count_boot();
        // SAFETY: this cell has one CPU; nothing else touches the record.
        let first = unsafe { &mut *FIRST_BOOT.0.get() };
        match boot {
            0 => {
                first.values = now;
                first.magic = MAGIC;
                dirty_all();
                let dirty = read_all();
                let changed = (0..TOTAL).filter(|&i| dirty[i] != now[i]).count();
                for i in (0..TOTAL).filter(|&i| dirty[i] == now[i]) {
                    match name(i) {
                        Ok(register) => println!("residue: {register} ignores the write"),
                        Err((v, half)) => println!("residue: v{v} ({half}) ignores the write"),
                    }
                }
                println!("residue: boot 0: {TOTAL} registers read, {changed} changed by dirtying");
                system_reset()
            }
            1 if first.magic == MAGIC => {
                let mut differ = 0;
                for (i, (&is, &was)) in now.iter().zip(&first.values).enumerate() {
                    if is != was {
                        differ += 1;
                        match name(i) {
                            Ok(register) => println!(
                                "residue: {register} was {was:#x} at the first boot, is {is:#x}"
                            ),
                            Err((v, half)) => println!(
                                "residue: v{v} ({half}) was {was:#x} at the first boot, is {is:#x}"
                            ),
                        }
                    }
                }
                println!("residue: boot 1: {TOTAL} registers compared, {differ} differ");
                system_off()
            }
            _ => {
                println!("residue: boot {boot} without a first boot's record");
                system_off()
            }
        }
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        baremetal_cells::halt()
    }
}

baremetal_cells::host_main!();
