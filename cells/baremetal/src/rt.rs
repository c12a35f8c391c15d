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

/// Asks for the cell to be restarted.
pub fn system_reset() -> ! {
    smc(psci::SYSTEM_RESET, 0, 0, 0);
    halt()
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
