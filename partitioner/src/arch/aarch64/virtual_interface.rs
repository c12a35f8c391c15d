//! The GICv3 virtual CPU interface at EL2, for cells whose interrupts are
//! virtualized (`interrupts: virtualized`): `HCR_EL2.IMO`, the list
//! registers and the virtual interface's control
//! (`crate::devices::vgic::lists` says what goes into them).

use super::sysreg::{
    ICC_CTLR, ICC_CTLR_EL1, ICC_IAR0_EL1, ICC_IGRPEN1, ICC_IGRPEN1_EL1, ICH_AP1R0, ICH_ELRSR,
    ICH_HCR, ICH_HCR_EL2, ICH_VMCR, ICH_VTR, ICH_VTR_EL2,
};
use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::*;
use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering};
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

/// One bit per core (its index) of a cell whose interrupts are
/// virtualized: `boot.S`'s `virtual_irq` lists their interrupts.
#[unsafe(export_name = "virtualized_cores")]
static VIRTUALIZED_CORES: AtomicU32 = AtomicU32::new(0);

/// One bit per private interrupt (0-31) that is the partitioner's own
/// (`devices::vgic::partitioners_private`): `virtual_irq` never lists them.
#[unsafe(export_name = "partitioner_ppis")]
static PARTITIONER_PPIS: AtomicU32 = AtomicU32::new(0);

/// The one SPI that is the partitioner's own (the board UART's, which
/// carries the host's input; `devices::vgic::is_partitioners`):
/// `virtual_irq` never lists it.
#[unsafe(export_name = "partitioner_spi")]
static PARTITIONER_SPI: AtomicU32 = AtomicU32::new(u32::MAX);

/// Marks core `cpu` as running a cell whose interrupts are virtualized,
/// `ppis` (one bit per INTID below 32) and SPI `spi` as the partitioner's
/// own. A core's cell never changes, so neither does the bit.
pub fn mark_virtualized_core(cpu: usize, ppis: u32, spi: u32) {
    PARTITIONER_PPIS.store(ppis, Ordering::Relaxed);
    PARTITIONER_SPI.store(spi, Ordering::Relaxed);
    VIRTUALIZED_CORES.fetch_or(1 << (cpu % 32), Ordering::Release);
}

/// Whether core `cpu` runs a cell whose interrupts are virtualized.
pub fn is_virtualized_core(cpu: usize) -> bool {
    VIRTUALIZED_CORES.load(Ordering::Acquire) & 1 << (cpu % 32) != 0
}

/// Sets this core up for a cell whose interrupts are virtualized (a
/// direct cell's set-up is `configure_el2_for_cells`'s, and a core's cell
/// never changes): every physical IRQ goes to EL2 (`HCR_EL2.IMO`); EL1's
/// `ICC_*` accesses reach the virtual CPU interface, which is on, empty
/// and as after reset; the physical interface is EL2's, in EOI mode 1
/// (EL2 drops an interrupt's priority, the cell's EOI of the listed
/// interrupt deactivates it), with Group 1 on and nothing masked.
pub fn virtualize_interrupts() {
    ICH_HCR.write(ICH_HCR_EL2::En::SET);
    ICH_VMCR.set(0);
    ICH_AP1R0.set(0);
    for n in 0..list_registers() {
        write_list_register(n, 0);
    }
    ICC_CTLR.modify(ICC_CTLR_EL1::EOImode::SET);
    super::set_priority_mask(0xff);
    ICC_IGRPEN1.write(ICC_IGRPEN1_EL1::Enable::SET);
    HCR_EL2.modify(HCR_EL2::IMO::EnableVirtualIRQ);
    barrier::isb(barrier::SY);
}

/// Sends every physical IRQ of this core to EL2 (`HCR_EL2.IMO`), for a
/// cell whose interrupts are virtualized on a GICv2, whose virtual
/// interface is memory-mapped (`gic::driver::v2::virtualize`).
pub fn route_irqs_to_el2() {
    HCR_EL2.modify(HCR_EL2::IMO::EnableVirtualIRQ);
    barrier::isb(barrier::SY);
}

/// How many list registers the core has.
pub fn list_registers() -> usize {
    ICH_VTR.read(ICH_VTR_EL2::ListRegs) as usize + 1
}

/// Which list registers hold no interrupt (bit `n` for register `n`).
pub fn empty_list_registers() -> u64 {
    ICH_ELRSR.get()
}

/// Turns the underflow maintenance interrupt on or off: on while
/// interrupts wait for a list register.
pub fn set_underflow_interrupt(on: bool) {
    ICH_HCR.modify(if on {
        ICH_HCR_EL2::UIE::SET
    } else {
        ICH_HCR_EL2::UIE::CLEAR
    });
}

/// Drops the priority of physical interrupt `intid` (EOI mode 1: it stays
/// active until deactivated).
pub fn drop_priority(intid: u32) {
    super::sysreg::ICC_EOIR1.write(ICC_IAR0_EL1::INTID.val(intid as u64));
}

macro_rules! list_register {
    ($n:expr, $value:expr, $( $i:literal )*) => {
        match $n {
            $(
                $i => match $value {
                    // SAFETY: list registers only shape the virtual
                    // interrupts EL1 sees; no memory effect.
                    Some(value) => unsafe {
                        asm!(concat!("msr ich_lr", $i, "_el2, {}"), in(reg) value, options(nomem, nostack));
                        0
                    },
                    None => {
                        let value: u64;
                        // SAFETY: reading a list register has no side effect.
                        unsafe {
                            asm!(concat!("mrs {}, ich_lr", $i, "_el2"), out(reg) value, options(nomem, nostack))
                        };
                        value
                    }
                },
            )*
            _ => 0,
        }
    };
}

/// List register `n` (0 for one the core does not have).
pub fn read_list_register(n: usize) -> u64 {
    list_register!(n, None::<u64>, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
}

/// Writes list register `n` (nothing for one the core does not have).
pub fn write_list_register(n: usize, value: u64) {
    list_register!(n, Some(value), 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
}
