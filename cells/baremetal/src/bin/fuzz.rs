//! Hostile-guest fuzzer cell: runs hostile operations drawn from a
//! pseudo-random stream, forever, so that the partitioner's containment is
//! exercised far beyond the scripted attacks of the intruder cell.
//!
//! The stream is deterministic: life `L` of the cell (its boot count, which
//! survives restarts, plus the first life asked for) with seed `S` (the
//! low half of the boot argument, `x0`; the high half is the `RD_base` of
//! its first CPU's redistributor, whose low 16 bits, always 0 in an
//! `RD_base`, give the first life: to replay life `L`, put `L` there)
//! always gives the same operations. Before each operation the cell prints it,
//! `fuzz L.I <operation>`, so any failure replays from `(S, L, I)`. Each
//! life starts with `fuzz: seed S life L`.
//!
//! Classes of operations (weights in [`Class::pick`]):
//! - loads and stores in its own scratch RAM: every width, unaligned,
//!   exclusives, pairs, SIMD, `DC ZVA`, prefetches;
//! - loads and stores where it has nothing: other cells' RAM, the
//!   partitioner's, unassigned MMIO, another core's redistributor, beyond
//!   the IPA space (each a stage-2 fault: the partitioner restarts the
//!   cell, and the next life goes on);
//! - the emulated devices: GIC distributor and own redistributor
//!   registers (read and written), console registers (read only: the
//!   cell's output must go on);
//! - system registers, read and written with random values, in either
//!   direction: the GIC CPU interface (`ICC_*`; `ICC_BPR1_EL1` only with
//!   values 0 to 7 and `ICC_EOIR1_EL1` only with INTIDs below 256, for two
//!   QEMU bugs, see `giccheck.rs`), the PMU, debug,
//!   timers, thread IDs, EL2 registers (UNDEF at EL1), and
//!   implementation-defined ones and `ACTLR_EL1` (which trap: a fault);
//! - `SMC`/`HVC` with random function IDs and arguments, PSCI abuse
//!   (`CPU_ON` of its second CPU at random entry points, `AFFINITY_INFO`,
//!   `SYSTEM_RESET`), never `SYSTEM_OFF` or `CPU_OFF` of itself;
//! - cache and TLB maintenance: by address, by set/way, I-cache, TLBI,
//!   address translation;
//! - WFI storms (with its GIC put back in a state that lets the timer
//!   wake it) and WFE storms (on the event stream).
//!
//! Its own EL1 exceptions (an unaligned access to Device memory, an
//! `UNDEF`ined register) are taken by its vectors, which count them and
//! skip the instruction. Every 256 operations it prints
//! `fuzz: L.I ok, <n> EL1 exceptions`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod cell {
    use baremetal_cells::{count_boot, counter, counter_frequency, gic, hvc, println, smc, timer};
    use core::arch::{asm, global_asm};
    use core::sync::atomic::{AtomicU64, Ordering};

    /// The other cells' RAM and the partitioner's, in the fuzz config.
    const FOREIGN_RAM: [u64; 3] = [0x4000_0000, 0x4800_0000, 0x6000_0000];
    /// MMIO no cell has (QEMU virt's RTC and fw-cfg), and far beyond the
    /// IPA space.
    const UNASSIGNED: [u64; 3] = [0x0901_0000, 0x0902_0000, 0x80_0000_0000];
    /// Bytes of the scratch area at the end of the cell's 16 MiB.
    const SCRATCH_SIZE: u64 = 4 << 20;
    /// Offset of the scratch area from the image's base.
    const SCRATCH_OFFSET: u64 = 12 << 20;
    /// RD_base stride of the GICv3 redistributors.
    const REDISTRIBUTOR_STRIDE: u64 = 0x2_0000;

    unsafe extern "C" {
        static __image_start: u8;
    }

    /// EL1 exceptions taken (and skipped) in this life.
    static EL1_EXCEPTIONS: AtomicU64 = AtomicU64::new(0);

    // EL1 vectors: a synchronous exception or SError at EL1 is counted and
    // the instruction skipped (ELR_EL1 + 4); an IRQ is acknowledged and
    // ended (the WFI storms' timer), everything else is returned from.
    global_asm!(
        ".section .text.fuzz_vectors, \"ax\"",
        ".balign 0x800",
        ".global fuzz_vectors",
        "fuzz_vectors:",
        ".rept 4",
        ".balign 0x80",
        "b fuzz_skip",
        ".endr",
        ".balign 0x80",
        "b fuzz_skip", // current EL, SPx: sync
        ".balign 0x80",
        "b fuzz_irq", // IRQ
        ".balign 0x80",
        "eret", // FIQ
        ".balign 0x80",
        "b fuzz_serror", // SError
        ".rept 8",
        ".balign 0x80",
        "b fuzz_skip",
        ".endr",
        "fuzz_skip:",
        "stp x0, x1, [sp, #-16]!",
        "mrs x0, elr_el1",
        "add x0, x0, #4",
        "msr elr_el1, x0",
        "adrp x0, {count}",
        "add x0, x0, :lo12:{count}",
        "ldr x1, [x0]",
        "add x1, x1, #1",
        "str x1, [x0]",
        "ldp x0, x1, [sp], #16",
        "eret",
        "fuzz_serror:",
        "stp x0, x1, [sp, #-16]!",
        "adrp x0, {count}",
        "add x0, x0, :lo12:{count}",
        "ldr x1, [x0]",
        "add x1, x1, #1",
        "str x1, [x0]",
        "ldp x0, x1, [sp], #16",
        "eret",
        "fuzz_irq:",
        "stp x0, x1, [sp, #-16]!",
        "mrs x0, icc_iar1_el1",
        "cmp x0, #1020",
        "b.hs 1f",
        "msr icc_eoir1_el1, x0",
        "1:",
        "msr cntv_ctl_el0, xzr",
        "ldp x0, x1, [sp], #16",
        "eret",
        count = sym EL1_EXCEPTIONS,
    );

    unsafe extern "C" {
        static fuzz_vectors: u8;
    }

    /// xorshift64*: small, fast, and the same on every run.
    struct Rng(u64);

    impl Rng {
        fn new(seed: u64, life: u64) -> Self {
            // splitmix64 of the pair, never 0.
            let mut z = seed ^ life.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            Rng((z ^ (z >> 31)) | 1)
        }

        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len() as u64) as usize]
        }
    }

    /// The classes of operations.
    #[derive(Clone, Copy)]
    enum Class {
        OwnMemory,
        ForeignMemory,
        EmulatedDevice,
        SystemRegister,
        FirmwareCall,
        Maintenance,
        WaitStorm,
        ControlBits,
    }

    impl Class {
        /// Weights out of 1000: the classes that end a life (foreign
        /// memory, implementation-defined registers, SYSTEM_RESET) rare
        /// enough that a life runs many operations.
        fn pick(rng: &mut Rng) -> Class {
            match rng.below(1000) {
                0..300 => Class::OwnMemory,
                300..306 => Class::ForeignMemory,
                306..430 => Class::EmulatedDevice,
                430..680 => Class::SystemRegister,
                680..780 => Class::FirmwareCall,
                780..900 => Class::Maintenance,
                900..940 => Class::WaitStorm,
                _ => Class::ControlBits,
            }
        }
    }

    fn image_base() -> u64 {
        &raw const __image_start as u64
    }

    fn scratch(rng: &mut Rng) -> u64 {
        image_base() + SCRATCH_OFFSET + rng.below(SCRATCH_SIZE - 64)
    }

    /// A load or store of kind `kind` at `address` (may fault).
    fn access(kind: u64, address: u64, value: u64) {
        /// One hostile instruction.
        macro_rules! hostile {
            ($($t:tt)*) => {
                // SAFETY: deliberately anywhere: the scratch area is the
                // cell's own and nothing lives there; elsewhere the
                // partitioner must stop the access (a stage-2 fault) or
                // the cell's own vectors take it (an alignment fault). The
                // asm touches no Rust object.
                unsafe { asm!($($t)*) }
            };
        }
        match kind {
            0 => hostile!("ldrb {v:w}, [{a}]", a = in(reg) address, v = out(reg) _),
            1 => hostile!("strb {v:w}, [{a}]", a = in(reg) address, v = in(reg) value),
            2 => hostile!("ldr {v:w}, [{a}]", a = in(reg) address, v = out(reg) _),
            3 => hostile!("str {v:w}, [{a}]", a = in(reg) address, v = in(reg) value),
            4 => hostile!("ldr {v}, [{a}]", a = in(reg) address, v = out(reg) _),
            5 => hostile!("str {v}, [{a}]", a = in(reg) address, v = in(reg) value),
            6 => hostile!("ldxr {v}, [{a}]", "stxr {s:w}, {v}, [{a}]", "clrex",
                a = in(reg) address, v = out(reg) _, s = out(reg) _),
            7 => {
                hostile!("ldp {v}, {w}, [{a}]", a = in(reg) address, v = out(reg) _, w = out(reg) _)
            }
            8 => hostile!("stp {v}, {v}, [{a}]", a = in(reg) address, v = in(reg) value),
            9 => {
                hostile!(".arch_extension simd", "ld1 {{v0.16b}}, [{a}]", a = in(reg) address, out("v0") _)
            }
            10 => hostile!(".arch_extension simd", "dup v1.2d, {v}", "st1 {{v1.16b}}, [{a}]",
                a = in(reg) address, v = in(reg) value, out("v1") _),
            11 => hostile!("dc zva, {a}", a = in(reg) address),
            12 => hostile!("prfm pldl1keep, [{a}]", a = in(reg) address),
            _ => hostile!("ldar {v}, [{a}]", a = in(reg) address, v = out(reg) _),
        }
    }

    const ACCESS_NAMES: [&str; 14] = [
        "ldrb",
        "strb",
        "ldr w",
        "str w",
        "ldr x",
        "str x",
        "ldxr/stxr",
        "ldp",
        "stp",
        "ld1 q",
        "st1 q",
        "dc zva",
        "prfm",
        "ldar",
    ];

    /// Reads or writes (with `value`) the system register `n` of the
    /// fuzzed list, by its encoding (`S<op0>_<op1>_C<n>_C<m>_<op2>`), so
    /// that write-only registers can be read and read-only ones written:
    /// the hostile direction is part of the test.
    fn sysreg(n: u64, write: bool, value: u64) {
        macro_rules! reg {
            ($name:literal) => {
                // SAFETY: a system register access at EL1: it reaches the
                // hardware, traps to the partitioner, or is UNDEF (the
                // vectors skip it). No Rust object is touched.
                unsafe {
                    if write {
                        asm!(concat!("msr ", $name, ", {}"), "isb", in(reg) value)
                    } else {
                        asm!(concat!("mrs {}, ", $name), out(reg) _)
                    }
                }
            };
        }
        match n {
            0 => reg!("s3_0_c4_c6_0"),
            1 => reg!("s3_0_c12_c12_3"),
            2 => reg!("s3_0_c12_c12_4"),
            3 => reg!("s3_0_c12_c12_7"),
            4 => reg!("s3_0_c12_c9_0"),
            5 => reg!("s3_0_c12_c11_5"),
            6 => reg!("s3_0_c12_c11_1"),
            7 => reg!("s3_0_c12_c12_1"),
            8 => reg!("s3_0_c12_c11_3"),
            9 => reg!("s3_0_c12_c12_2"),
            10 => reg!("pmcr_el0"),
            11 => reg!("pmcntenset_el0"),
            12 => reg!("pmccntr_el0"),
            13 => reg!("pmselr_el0"),
            14 => reg!("pmxevtyper_el0"),
            15 => reg!("pmuserenr_el0"),
            16 => reg!("pmintenset_el1"),
            17 => reg!("mdscr_el1"),
            18 => reg!("dbgbcr0_el1"),
            19 => reg!("dbgbvr0_el1"),
            20 => reg!("dbgwcr0_el1"),
            21 => reg!("dbgwvr0_el1"),
            22 => reg!("s2_0_c1_c0_4"),
            23 => reg!("cntv_cval_el0"),
            24 => reg!("cntp_ctl_el0"),
            25 => reg!("cntkctl_el1"),
            26 => reg!("tpidr_el1"),
            27 => reg!("contextidr_el1"),
            28 => reg!("s3_1_c15_c2_0"),
            29 => reg!("s3_1_c11_c0_2"),
            30 => reg!("s3_0_c1_c0_1"),
            31 => reg!("s3_0_c12_c12_5"),
            32 => reg!("s3_4_c14_c0_3"),
            _ => reg!("s3_4_c1_c1_0"),
        }
    }

    const SYSREG_NAMES: [&str; 34] = [
        "icc_pmr_el1",
        "icc_bpr1_el1",
        "icc_ctlr_el1",
        "icc_igrpen1_el1",
        "icc_ap1r0_el1",
        "icc_sgi1r_el1",
        "icc_dir_el1",
        "icc_eoir1_el1",
        "icc_rpr_el1",
        "icc_hppir1_el1",
        "pmcr_el0",
        "pmcntenset_el0",
        "pmccntr_el0",
        "pmselr_el0",
        "pmxevtyper_el0",
        "pmuserenr_el0",
        "pmintenset_el1",
        "mdscr_el1",
        "dbgbcr0_el1",
        "dbgbvr0_el1",
        "dbgwcr0_el1",
        "dbgwvr0_el1",
        "oslar_el1",
        "cntv_cval_el0",
        "cntp_ctl_el0",
        "cntkctl_el1",
        "tpidr_el1",
        "contextidr_el1",
        "cpuactlr_el1 (s3_1_c15_c2_0)",
        "l2ctlr_el1 (s3_1_c11_c0_2)",
        "actlr_el1",
        "icc_sre_el1",
        "cntvoff_el2",
        "hcr_el2",
    ];

    /// Registers the fuzzer leaves alone or writes only sometimes: the
    /// implementation-defined ones and ACTLR_EL1 trap (a fault that ends
    /// the life); EL2 ones are UNDEF at EL1.
    fn rare(n: u64) -> bool {
        (28..=30).contains(&n)
    }

    /// One cache or TLB maintenance operation.
    fn maintenance(kind: u64, address: u64, value: u64) {
        /// One maintenance instruction.
        macro_rules! maintain {
            ($($t:tt)*) => {
                // SAFETY: maintenance by address on the cell's scratch
                // area or by set/way with any value (upgraded to clean and
                // invalidate under stage 2), and the cell's own TLB
                // entries; no Rust object.
                unsafe { asm!($($t)*) }
            };
        }
        match kind {
            0 => maintain!("dc civac, {}", in(reg) address),
            1 => maintain!("dc cvac, {}", in(reg) address),
            2 => maintain!("dc ivac, {}", in(reg) address),
            3 => maintain!("dc isw, {}", in(reg) value),
            4 => maintain!("dc cisw, {}", in(reg) value),
            5 => maintain!("ic iallu", "dsb nsh", "isb"),
            6 => maintain!("ic ialluis", "dsb ish", "isb"),
            7 => maintain!("tlbi vmalle1", "dsb nsh", "isb"),
            8 => maintain!("tlbi vmalle1is", "dsb ish", "isb"),
            9 => maintain!("tlbi vae1is, {}", "dsb ish", in(reg) value),
            10 => {
                maintain!("at s1e1r, {}", "isb", "mrs {p}, par_el1", in(reg) value, p = out(reg) _)
            }
            _ => maintain!("dsb sy", "isb"),
        }
    }

    const MAINTENANCE_NAMES: [&str; 12] = [
        "dc civac",
        "dc cvac",
        "dc ivac",
        "dc isw",
        "dc cisw",
        "ic iallu",
        "ic ialluis",
        "tlbi vmalle1",
        "tlbi vmalle1is",
        "tlbi vae1is",
        "at s1e1r",
        "dsb/isb",
    ];

    /// The GIC back in a state where the virtual timer can wake the cell:
    /// Group 1 on, mask open, EOI mode 0, nothing active (in the CPU
    /// interface, and none of its private interrupts in the redistributor:
    /// an earlier write to `GICR_ISACTIVER0` can leave the timer's PPI
    /// active, which would never be signalled again).
    fn sane_gic(redistributor: u64) {
        gic::init_cpu_interface();
        gic::write32(redistributor as usize + 0x1_0380, u32::MAX);
        // SAFETY: this core's CPU interface; no Rust object.
        unsafe {
            asm!(
                "msr icc_ctlr_el1, xzr",
                "msr icc_ap1r0_el1, xzr",
                "msr icc_igrpen1_el1, {one}",
                "msr icc_pmr_el1, {open}",
                "isb",
                one = in(reg) 1u64,
                open = in(reg) 0xffu64,
            )
        };
        for _ in 0..64 {
            if gic::running_priority() == 0xff {
                break;
            }
            let intid = gic::acknowledge();
            gic::end(if intid < 1020 { intid } else { 0 });
        }
    }

    /// One operation of the stream.
    fn operation(rng: &mut Rng, life: u64, index: u64, redistributor: u64) {
        let value = rng.next();
        match Class::pick(rng) {
            Class::OwnMemory => {
                let kind = rng.below(ACCESS_NAMES.len() as u64);
                let address = scratch(rng);
                println!(
                    "fuzz {life}.{index} own {} {address:#x}",
                    ACCESS_NAMES[kind as usize]
                );
                access(kind, address, value);
            }
            Class::ForeignMemory => {
                let kind = rng.below(ACCESS_NAMES.len() as u64);
                let address = match rng.below(4) {
                    0 => *rng.pick(&FOREIGN_RAM) + rng.below(1 << 20),
                    1 => *rng.pick(&UNASSIGNED) + rng.below(0x100),
                    2 => redistributor ^ REDISTRIBUTOR_STRIDE,
                    _ => rng.next() & 0xffff_ffff_fff8,
                };
                println!(
                    "fuzz {life}.{index} foreign {} {address:#x}",
                    ACCESS_NAMES[kind as usize]
                );
                access(kind, address, value);
            }
            Class::EmulatedDevice => {
                let (name, address, kinds) = match rng.below(3) {
                    0 => (
                        "distributor",
                        baremetal_cells::board::GIC_DISTRIBUTOR as u64 + (rng.below(0x1_0000) & !3),
                        &[2u64, 3, 4, 5][..],
                    ),
                    1 => (
                        "redistributor",
                        redistributor + (rng.below(0x2_0000) & !3),
                        &[2u64, 3, 4, 5][..],
                    ),
                    // Reads only: a write could switch the console off,
                    // and the cell's output is how a failure replays.
                    _ => (
                        "console",
                        baremetal_cells::CONSOLE_BASE as u64 + (rng.below(0x1000) & !3),
                        &[2u64, 4][..],
                    ),
                };
                let kind = *rng.pick(kinds);
                println!(
                    "fuzz {life}.{index} {name} {} {address:#x}",
                    ACCESS_NAMES[kind as usize]
                );
                access(kind, address, value);
            }
            Class::SystemRegister => {
                let mut n = rng.below(SYSREG_NAMES.len() as u64);
                if rare(n) && rng.below(8) != 0 {
                    n = 8;
                }
                let write = rng.below(2) == 0;
                // ICC_BPR1_EL1 gets its three bits only: QEMU stores a
                // larger value clamped but not masked, and aborts on binary
                // point 0 (a QEMU bug, `giccheck.rs`); real GICs mask.
                // ICC_EOIR1_EL1 gets INTIDs below 256 only: QEMU crashes on
                // an EOI of an INTID far out of range while a priority is
                // active (another QEMU bug, `giccheck.rs`).
                let value = match n {
                    1 => value & 7,
                    7 => value & 0xff,
                    _ => value,
                };
                println!(
                    "fuzz {life}.{index} {} {} {value:#x}",
                    if write { "msr" } else { "mrs" },
                    SYSREG_NAMES[n as usize]
                );
                sysreg(n, write, value);
            }
            Class::FirmwareCall => {
                use baremetal_cells::psci::{
                    PSCI_AFFINITY_INFO_64, PSCI_CPU_DEFAULT_SUSPEND_64, PSCI_CPU_OFF,
                    PSCI_CPU_ON_64, PSCI_CPU_SUSPEND_32, PSCI_CPU_SUSPEND_64, PSCI_FEATURES,
                    PSCI_MIGRATE_INFO_TYPE, PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET, PSCI_VERSION,
                };
                const PSCI: [u32; 8] = [
                    PSCI_VERSION,
                    PSCI_FEATURES,
                    PSCI_CPU_ON_64,
                    PSCI_AFFINITY_INFO_64,
                    PSCI_SYSTEM_RESET,
                    PSCI_CPU_SUSPEND_64,
                    PSCI_MIGRATE_INFO_TYPE,
                    PSCI_CPU_DEFAULT_SUSPEND_64,
                ];
                let function = match rng.below(3) {
                    0 => *rng.pick(&PSCI),
                    // Any function of the PSCI range.
                    1 => PSCI_VERSION | rng.below(0x40) as u32,
                    _ => rng.next() as u32,
                };
                // Never SYSTEM_OFF (the cell would stay off), CPU_OFF of
                // itself or CPU_SUSPEND (nothing else runs it), and
                // SYSTEM_RESET only now and then.
                let function = match function {
                    PSCI_SYSTEM_OFF | PSCI_CPU_OFF | PSCI_CPU_SUSPEND_64 | PSCI_CPU_SUSPEND_32 => {
                        PSCI_VERSION
                    }
                    PSCI_SYSTEM_RESET if rng.below(8) != 0 => PSCI_VERSION,
                    f => f,
                };
                let (a1, a2) = (rng.next() % 4, rng.next());
                if rng.below(2) == 0 {
                    println!("fuzz {life}.{index} smc {function:#x} {a1:#x} {a2:#x}");
                    smc(function, a1, a2, 0);
                } else {
                    println!("fuzz {life}.{index} hvc #0 {function:#x} {a1:#x}");
                    hvc::<0>(function, a1);
                }
            }
            Class::Maintenance => {
                let kind = rng.below(MAINTENANCE_NAMES.len() as u64);
                let address = scratch(rng);
                println!(
                    "fuzz {life}.{index} {} {address:#x} {value:#x}",
                    MAINTENANCE_NAMES[kind as usize]
                );
                maintenance(kind, address, value);
            }
            Class::WaitStorm => {
                let count = 1 + rng.below(32);
                if rng.below(2) == 0 {
                    println!("fuzz {life}.{index} wfi storm x{count}");
                    sane_gic(redistributor);
                    gic::enable_private(redistributor as usize, 27, 0x80);
                    for _ in 0..count {
                        timer::arm(counter() + counter_frequency() / 20_000);
                        // SAFETY: WFI with IRQs masked (a pending one still
                        // ends it, and none is lost between arming and
                        // sleeping), then unmasked for a moment: the vector
                        // acknowledges and ends the timer's.
                        unsafe { asm!("wfi", "msr daifclr, #2", "isb", "msr daifset, #2") };
                    }
                    timer::stop();
                } else {
                    println!("fuzz {life}.{index} wfe storm x{count}");
                    // SAFETY: the event stream on the virtual counter (bit
                    // 4 of 2^EVNTI ticks), then WFEs; no Rust object.
                    unsafe { asm!("msr cntkctl_el1, {}", "isb", in(reg) 0b0100_0100u64) };
                    for _ in 0..count {
                        // SAFETY: waits for an event; no Rust object.
                        unsafe { asm!("wfe") };
                    }
                }
            }
            Class::ControlBits => {
                // SCTLR_EL1: C (2), A (1), SA (3), I (12), never M (0).
                const BITS: u64 = 1 << 1 | 1 << 2 | 1 << 3 | 1 << 12;
                let flip = value & BITS;
                println!("fuzz {life}.{index} sctlr_el1 ^= {flip:#x}");
                // SAFETY: cache enables and alignment checks of the cell
                // itself; the MMU stays off. No Rust object.
                unsafe {
                    asm!("mrs {t}, sctlr_el1", "eor {t}, {t}, {f}", "msr sctlr_el1, {t}", "isb",
                        t = out(reg) _, f = in(reg) flip)
                };
            }
        }
    }

    #[unsafe(no_mangle)]
    fn cell_main(boot_argument: u64) -> ! {
        let seed = boot_argument & 0xffff_ffff;
        // RD_base is 64 KiB-aligned: the low 16 bits of the high half say
        // which life to start from, for replaying a failure.
        let redistributor = (boot_argument >> 32) & !0xffff;
        let first_life = (boot_argument >> 32) & 0xffff;
        let life = count_boot() + first_life;
        // SAFETY: this image's vectors; FP/SIMD on for the SIMD accesses.
        unsafe {
            asm!(
                "msr vbar_el1, {v}",
                "msr cpacr_el1, {fpen}",
                "isb",
                v = in(reg) &raw const fuzz_vectors as u64,
                fpen = in(reg) 0b11u64 << 20,
            )
        };
        gic::init_cpu_interface();
        EL1_EXCEPTIONS.store(0, Ordering::Relaxed);
        println!("fuzz: seed {seed:#x} life {life}");
        let mut rng = Rng::new(seed, life);
        let mut index = 0u64;
        loop {
            operation(&mut rng, life, index, redistributor);
            index += 1;
            if index.is_multiple_of(256) {
                println!(
                    "fuzz: {life}.{index} ok, {} EL1 exceptions",
                    EL1_EXCEPTIONS.load(Ordering::Relaxed)
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
