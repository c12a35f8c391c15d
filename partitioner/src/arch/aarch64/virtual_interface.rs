//! The GICv3 virtual CPU interface at EL2, for cells whose interrupts are
//! virtualized (`interrupts: virtualized`): `HCR_EL2.IMO`, the list
//! registers and the virtual interface's control
//! (`crate::devices::vgic::lists` says what goes into them).

use super::sysreg::{
    ICC_CTLR, ICC_CTLR_EL1, ICC_IAR0_EL1, ICC_IAR1, ICC_IGRPEN1, ICC_IGRPEN1_EL1, ICH_AP1R0,
    ICH_ELRSR, ICH_HCR, ICH_HCR_EL2, ICH_VMCR, ICH_VTR, ICH_VTR_EL2,
};
use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::*;
use core::arch::asm;
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

/// Sets this core up for a cell whose interrupts are `virtualized` or
/// direct. Virtualized: every physical IRQ goes to EL2 (`HCR_EL2.IMO`);
/// EL1's `ICC_*` accesses reach the virtual CPU interface, which is on,
/// empty and as after reset; the physical interface is EL2's, in EOI
/// mode 1 (EL2 drops an interrupt's priority, the cell's EOI of the
/// listed interrupt deactivates it), with Group 1 on and nothing masked.
/// Direct: IRQs go to EL1, the virtual interface is off, and EL1's
/// accesses to the registers common to both groups trap
/// (`ICH_HCR_EL2.TC`).
pub fn virtualize_interrupts(virtualized: bool) {
    if virtualized {
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
    } else {
        HCR_EL2.modify(HCR_EL2::IMO::DisableVirtualIRQ);
        ICH_HCR.write(ICH_HCR_EL2::TC::SET);
    }
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

/// Acknowledges the highest-priority pending Group 1 interrupt of the
/// physical interface, with its priority (the running priority after
/// the acknowledgement); `None` when there is none (a spurious INTID).
pub fn acknowledge_with_priority() -> Option<(u32, u8)> {
    let intid = ICC_IAR1.read(ICC_IAR0_EL1::INTID) as u32;
    (intid < 1020).then(|| (intid, super::running_priority()))
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
