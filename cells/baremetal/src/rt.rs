//! The runtime proper (bare-metal target only).

use core::arch::{asm, global_asm};
use core::fmt;

global_asm!(include_str!("entry.S"));

extern "Rust" {
    fn cell_main(boot_argument: u64) -> !;
    fn cell_secondary(vcpu: usize, context: u64) -> !;
}

extern "C" {
    fn cell_secondary_entry();
    static cell_vectors: u8;
}

#[unsafe(no_mangle)]
extern "C" fn cell_rt_primary(boot_argument: u64) -> ! {
    // SAFETY: the binary defines `cell_main` with this signature.
    unsafe { cell_main(boot_argument) }
}

#[unsafe(no_mangle)]
extern "C" fn cell_rt_secondary(context: u64) -> ! {
    // SAFETY: only cells that start other virtual CPUs pass
    // `secondary_entry()` to CPU_ON, and those define `cell_secondary`.
    unsafe { cell_secondary(vcpu(), context) }
}

/// Where a virtual CPU started with [`cpu_on`] begins.
pub fn secondary_entry() -> u64 {
    cell_secondary_entry as *const () as u64
}

/// This virtual CPU's number (`MPIDR_EL1.Aff0`, as the partitioner set it).
pub fn vcpu() -> usize {
    let mpidr: u64;
    // SAFETY: reading MPIDR_EL1 has no side effects.
    unsafe { asm!("mrs {}, mpidr_el1", out(reg) mpidr, options(nomem, nostack)) };
    (mpidr & 0xff) as usize
}

/// The console: the PL011 the partitioner emulates at this guest-physical
/// address (the board console's address on QEMU virt).
pub const CONSOLE_BASE: usize = 0x0900_0000;
const UARTDR: usize = 0x000;
const UARTFR: usize = 0x018;
const UARTFR_TXFF: u32 = 1 << 5;

/// Writes to the cell console.
pub struct Console;

impl Console {
    /// Sends one byte, waiting while the transmit FIFO is full.
    pub fn write_byte(&mut self, byte: u8) {
        let flags = (CONSOLE_BASE + UARTFR) as *const u32;
        // SAFETY: the console registers are the cell's (emulated) PL011;
        // 32-bit accesses to them have no effect on memory.
        while unsafe { core::ptr::read_volatile(flags) } & UARTFR_TXFF != 0 {}
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile((CONSOLE_BASE + UARTDR) as *mut u32, byte as u32) };
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
        Ok(())
    }
}

/// Prints a formatted line on the cell console.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::Console, $($arg)*);
    }};
}

/// A PSCI or SMCCC call through `SMC #0`, as the generated device trees
/// announce (`method = "smc"`).
pub fn smc(function: u32, a1: u64, a2: u64, a3: u64) -> i64 {
    let mut x0 = function as u64;
    // SAFETY: the SMC Calling Convention preserves everything but x0..x17;
    // the partitioner only writes x0.
    unsafe {
        asm!("smc #0", inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _, options(nostack));
    }
    x0 as i64
}

/// A call through `HVC #imm`.
pub fn hvc<const IMM: u16>(function: u32, a1: u64) -> i64 {
    let mut x0 = function as u64;
    // SAFETY: as for `smc`.
    unsafe {
        asm!("hvc #{imm}", imm = const IMM, inout("x0") x0, inout("x1") a1 => _, out("x2") _, out("x3") _,
            options(nostack));
    }
    x0 as i64
}

/// PSCI function IDs used by the test cells.
pub mod psci {
    /// `PSCI_VERSION`.
    pub const VERSION: u32 = 0x8400_0000;
    /// `PSCI_FEATURES`.
    pub const FEATURES: u32 = 0x8400_000a;
    /// `CPU_OFF`.
    pub const CPU_OFF: u32 = 0x8400_0002;
    /// `CPU_ON` (64-bit).
    pub const CPU_ON: u32 = 0xc400_0003;
    /// `AFFINITY_INFO` (64-bit).
    pub const AFFINITY_INFO: u32 = 0xc400_0004;
    /// `SYSTEM_OFF`.
    pub const SYSTEM_OFF: u32 = 0x8400_0008;
    /// `SYSTEM_RESET`.
    pub const SYSTEM_RESET: u32 = 0x8400_0009;
}

/// Starts virtual CPU `vcpu` at [`secondary_entry`] with `context`.
pub fn cpu_on(vcpu: u64, context: u64) -> i64 {
    smc(psci::CPU_ON, vcpu, secondary_entry(), context)
}

/// `AFFINITY_INFO` of virtual CPU `vcpu`: 0 on, 1 off, 2 pending.
pub fn affinity_info(vcpu: u64) -> i64 {
    smc(psci::AFFINITY_INFO, vcpu, 0, 0)
}

/// Stops this virtual CPU.
pub fn cpu_off() -> ! {
    smc(psci::CPU_OFF, 0, 0, 0);
    halt()
}

/// Asks for the cell to be switched off.
pub fn system_off() -> ! {
    smc(psci::SYSTEM_OFF, 0, 0, 0);
    halt()
}

/// Asks for the cell to be restarted.
pub fn system_reset() -> ! {
    smc(psci::SYSTEM_RESET, 0, 0, 0);
    halt()
}

/// Waits for an interrupt (wakes even while IRQs are masked).
pub fn wait_for_interrupt() {
    // SAFETY: WFI has no memory effect of its own. Not `nomem`: interrupt
    // handlers may run around it and change memory, so the compiler must
    // not move loads or stores across it.
    unsafe { asm!("wfi", options(nostack)) };
}

/// Waits for interrupts forever.
pub fn halt() -> ! {
    loop {
        // SAFETY: WFI has no memory effect.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}

/// The virtual counter.
pub fn counter() -> u64 {
    let v: u64;
    // SAFETY: reading the counter has no side effects.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// The counter frequency in Hz.
pub fn counter_frequency() -> u64 {
    let v: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) v, options(nomem, nostack)) };
    v.max(1)
}

/// Busy-waits `ms` milliseconds on the virtual counter.
pub fn delay_ms(ms: u64) {
    let end = counter() + counter_frequency() / 1000 * ms;
    while counter() < end {
        core::hint::spin_loop();
    }
}

#[repr(C)]
struct BootRecord {
    magic: u64,
    boots: u64,
}

const BOOT_MAGIC: u64 = 0xb01d_face_cafe_0001;

/// Kept in `.noinit`, which the partitioner does not reload when the cell
/// restarts, so the count survives `SYSTEM_RESET`.
#[unsafe(link_section = ".noinit")]
static BOOT_RECORD: NoInit = NoInit(core::cell::UnsafeCell::new(BootRecord {
    magic: 0,
    boots: 0,
}));

struct NoInit(core::cell::UnsafeCell<BootRecord>);

// SAFETY: only virtual CPU 0 touches the record (see `count_boot`).
unsafe impl Sync for NoInit {}

/// How many times this cell booted before this boot (0 on the first).
/// Call once, on virtual CPU 0.
pub fn count_boot() -> u64 {
    // SAFETY: only virtual CPU 0 calls this, once per boot, before it
    // starts other virtual CPUs; nothing else touches the record.
    let record = unsafe { &mut *BOOT_RECORD.0.get() };
    if record.magic != BOOT_MAGIC {
        record.magic = BOOT_MAGIC;
        record.boots = 0;
    }
    let previous = record.boots;
    record.boots = previous + 1;
    previous
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("cell panic: {}", info);
    halt()
}

/// An interrupt handler: gets the acknowledged INTID and the virtual
/// counter read by the first instructions of the IRQ vector.
pub type IrqHandler = fn(u32, u64);

static IRQ_HANDLER: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Installs the EL1 vectors and `handler` for IRQs (IRQs stay masked
/// until [`enable_irqs`]).
pub fn install_irq_handler(handler: IrqHandler) {
    // Plain store: the cell runs with its MMU off (no exclusives).
    IRQ_HANDLER.store(handler as usize, core::sync::atomic::Ordering::Relaxed);
    let vectors = &raw const cell_vectors as u64;
    // SAFETY: VBAR_EL1 points at this image's vector table, which handles
    // every exception.
    unsafe { asm!("msr vbar_el1, {}", "isb", in(reg) vectors, options(nostack)) };
}

/// Unmasks IRQs at EL1.
pub fn enable_irqs() {
    // SAFETY: clearing PSTATE.I only lets the installed handler run. Not
    // `nomem`: the handler may change memory from here on, so the
    // compiler must not move loads or stores across it.
    unsafe { asm!("msr daifclr, #2", options(nostack)) };
}

/// Masks IRQs at EL1. A pending IRQ still ends a WFI, so "mask, check,
/// WFI, unmask" waits without missing an interrupt that arrives between
/// the check and the WFI.
pub fn disable_irqs() {
    // SAFETY: setting PSTATE.I only defers interrupts. Not `nomem`: a
    // check after it must read memory after it, when no handler can run.
    unsafe { asm!("msr daifset, #2", options(nostack)) };
}

/// Runs the installed handler for `intid` (acknowledged) and ends it;
/// spurious INTIDs (1020 and up) are neither handled nor ended.
#[inline(always)]
fn dispatch(intid: u32, entry_counter: u64) {
    if intid < 1020 {
        let handler = IRQ_HANDLER.load(core::sync::atomic::Ordering::Relaxed);
        if handler != 0 {
            // SAFETY: only `install_irq_handler` stores here, from an
            // `IrqHandler`.
            let handler: IrqHandler = unsafe { core::mem::transmute::<usize, IrqHandler>(handler) };
            handler(intid, entry_counter);
        }
        gic::end(intid);
    }
}

#[unsafe(no_mangle)]
extern "C" fn cell_rt_irq(entry_counter: u64) {
    dispatch(gic::acknowledge(), entry_counter);
}

/// Handles the highest-priority pending interrupt, if any, without taking
/// an exception: acknowledges it, runs the installed handler (with the
/// counter read when it was found) and ends it. Call with IRQs masked,
/// typically right after [`wait_for_interrupt`] (a pending IRQ ends a WFI
/// even while masked): the wake-up then costs no exception entry, no
/// register save and no `eret`. Another pending interrupt stays pending
/// (and ends the next WFI at once). Returns whether one was handled.
pub fn poll_irq() -> bool {
    let entry_counter = counter();
    let intid = gic::acknowledge();
    dispatch(intid, entry_counter);
    intid < 1020
}

#[unsafe(no_mangle)]
extern "C" fn cell_rt_unexpected(esr: u64, elr: u64) -> ! {
    println!("unexpected exception: ESR {esr:#x} at {elr:#x}");
    halt()
}

/// The GICv3 as a cell uses it: memory-mapped distributor and
/// redistributor (which the partitioner emulates), system-register CPU
/// interface (physical, except the priority mask and EOI mode).
pub mod gic {
    use core::arch::asm;

    /// QEMU virt's distributor.
    pub const DISTRIBUTOR: usize = 0x0800_0000;

    /// Writes a 32-bit GIC register.
    pub fn write32(address: usize, value: u32) {
        // SAFETY: a device register of the cell's (emulated) GIC.
        unsafe { core::ptr::write_volatile(address as *mut u32, value) };
    }

    /// Reads a 32-bit GIC register.
    pub fn read32(address: usize) -> u32 {
        // SAFETY: as for `write32`.
        unsafe { core::ptr::read_volatile(address as *const u32) }
    }

    /// Writes a byte-wide GIC register (priorities).
    pub fn write8(address: usize, value: u8) {
        // SAFETY: as for `write32`.
        unsafe { core::ptr::write_volatile(address as *mut u8, value) };
    }

    /// Reads a byte-wide GIC register.
    pub fn read8(address: usize) -> u8 {
        // SAFETY: as for `write32`.
        unsafe { core::ptr::read_volatile(address as *const u8) }
    }

    /// Enables the distributor (Group 1) and this CPU's interface, with
    /// the priority mask wide open.
    pub fn init_cpu_interface() {
        write32(DISTRIBUTOR, 1 << 1 | 1 << 4);
        // SAFETY: GIC CPU-interface set-up for this core; no memory effect.
        unsafe {
            asm!(
                "mrs {t}, icc_sre_el1",
                "orr {t}, {t}, #1",
                "msr icc_sre_el1, {t}",
                "isb",
                "msr icc_pmr_el1, {pmr}",
                "msr icc_igrpen1_el1, {one}",
                "isb",
                t = out(reg) _,
                pmr = in(reg) 0xffu64,
                one = in(reg) 1u64,
                options(nostack)
            )
        };
    }

    /// Enables private interrupt `intid` (SGI or PPI) at `priority` in the
    /// redistributor whose `RD_base` is `redistributor`.
    pub fn enable_private(redistributor: usize, intid: u32, priority: u8) {
        let sgi = redistributor + 0x1_0000;
        write8(sgi + 0x400 + intid as usize, priority);
        write32(sgi + 0x100, 1 << intid);
    }

    /// Enables shared peripheral interrupt `intid` at `priority` in the
    /// distributor (the partitioner applies it if the cell owns the SPI).
    pub fn enable_spi(intid: u32, priority: u8) {
        write8(DISTRIBUTOR + 0x400 + intid as usize, priority);
        write32(
            DISTRIBUTOR + 0x100 + 4 * (intid as usize / 32),
            1 << (intid % 32),
        );
    }

    /// Acknowledges the highest-priority pending Group 1 interrupt.
    pub fn acknowledge() -> u32 {
        let intid: u64;
        // SAFETY: reading IAR1 acknowledges an interrupt; no memory effect.
        unsafe { asm!("mrs {}, icc_iar1_el1", out(reg) intid, options(nomem, nostack)) };
        intid as u32
    }

    /// Ends an interrupt.
    pub fn end(intid: u32) {
        // SAFETY: EOIR1 ends the interrupt; no memory effect.
        unsafe {
            asm!("msr icc_eoir1_el1, {}", "isb", in(reg) intid as u64, options(nomem, nostack))
        };
    }

    /// Sends SGI `intid` to the cell's virtual CPUs in `targets` (bit n =
    /// virtual CPU n).
    pub fn send_sgi(intid: u32, targets: u16) {
        let value = (intid as u64) << 24 | targets as u64;
        // SAFETY: SGI generation; no memory effect.
        unsafe { asm!("dsb ish", "msr icc_sgi1r_el1, {}", "isb", in(reg) value, options(nostack)) };
    }

    /// The running priority (`ICC_RPR_EL1`).
    pub fn running_priority() -> u64 {
        let v: u64;
        // SAFETY: reading RPR has no side effects.
        unsafe { asm!("mrs {}, icc_rpr_el1", out(reg) v, options(nomem, nostack)) };
        v
    }
}

/// The EL1 virtual timer.
pub mod timer {
    use core::arch::asm;

    /// Arms the virtual timer to fire when the virtual counter reaches
    /// `deadline`.
    pub fn arm(deadline: u64) {
        // SAFETY: timer registers of this core; no memory effect.
        unsafe {
            asm!("msr cntv_cval_el0, {}", "msr cntv_ctl_el0, {}", "isb", in(reg) deadline, in(reg) 1u64,
                options(nomem, nostack))
        };
    }

    /// Stops the virtual timer (and its interrupt).
    pub fn stop() {
        // SAFETY: as for `arm`.
        unsafe { asm!("msr cntv_ctl_el0, {}", "isb", in(reg) 0u64, options(nomem, nostack)) };
    }
}
