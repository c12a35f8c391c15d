//! Decoding of the exception syndrome (`ESR_EL2`, with `FAR_EL2` and
//! `HPFAR_EL2`) into what happened, in the Arm ARM's terms.

/// Exception classes (`ESR_ELx.EC`) the partitioner distinguishes.
pub mod ec {
    /// Unknown reason.
    pub const UNKNOWN: u8 = 0x00;
    /// WFI or WFE.
    pub const WFX: u8 = 0x01;
    /// Illegal execution state.
    pub const ILLEGAL_STATE: u8 = 0x0e;
    /// HVC from AArch64.
    pub const HVC64: u8 = 0x16;
    /// SMC from AArch64.
    pub const SMC64: u8 = 0x17;
    /// MSR, MRS or system instruction from AArch64.
    pub const SYSREG64: u8 = 0x18;
    /// Instruction abort from a lower exception level.
    pub const INSTRUCTION_ABORT_LOWER: u8 = 0x20;
    /// Instruction abort at the same exception level.
    pub const INSTRUCTION_ABORT_SAME: u8 = 0x21;
    /// PC alignment fault.
    pub const PC_ALIGNMENT: u8 = 0x22;
    /// Data abort from a lower exception level.
    pub const DATA_ABORT_LOWER: u8 = 0x24;
    /// Data abort at the same exception level.
    pub const DATA_ABORT_SAME: u8 = 0x25;
    /// SP alignment fault.
    pub const SP_ALIGNMENT: u8 = 0x26;
    /// SError.
    pub const SERROR: u8 = 0x2f;
    /// BRK instruction.
    pub const BRK: u8 = 0x3c;
}

/// A short description of an exception class, for fault reports.
pub fn ec_name(ec: u8) -> &'static str {
    match ec {
        ec::UNKNOWN => "unknown reason",
        ec::WFX => "WFI/WFE",
        ec::ILLEGAL_STATE => "illegal execution state",
        ec::HVC64 => "HVC",
        ec::SMC64 => "SMC",
        ec::SYSREG64 => "system register access",
        ec::INSTRUCTION_ABORT_LOWER => "instruction abort from a lower EL",
        ec::INSTRUCTION_ABORT_SAME => "instruction abort at EL2",
        ec::PC_ALIGNMENT => "PC alignment fault",
        ec::DATA_ABORT_LOWER => "data abort from a lower EL",
        ec::DATA_ABORT_SAME => "data abort at EL2",
        ec::SP_ALIGNMENT => "SP alignment fault",
        ec::SERROR => "SError",
        ec::BRK => "BRK",
        _ => "unhandled exception class",
    }
}

/// The fault status code of an abort (`DFSC`/`IFSC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultStatus {
    /// Address size fault at a level.
    AddressSize(u8),
    /// Translation fault at a level: nothing is mapped there.
    Translation(u8),
    /// Access flag fault at a level.
    AccessFlag(u8),
    /// Permission fault at a level: mapped, but not for this access.
    Permission(u8),
    /// Synchronous external abort.
    External,
    /// Alignment fault.
    Alignment,
    /// Any other code.
    Other(u8),
}

impl FaultStatus {
    /// Decodes a 6-bit fault status code.
    pub fn from_code(code: u8) -> Self {
        let level = code & 0b11;
        match code & 0b11_1100 {
            0b00_0000 => FaultStatus::AddressSize(level),
            0b00_0100 => FaultStatus::Translation(level),
            0b00_1000 => FaultStatus::AccessFlag(level),
            0b00_1100 => FaultStatus::Permission(level),
            _ if code == 0b01_0000 => FaultStatus::External,
            _ if code == 0b10_0001 => FaultStatus::Alignment,
            _ => FaultStatus::Other(code),
        }
    }

    /// A short description, for fault reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultStatus::AddressSize(_) => "address size fault",
            FaultStatus::Translation(_) => "translation fault",
            FaultStatus::AccessFlag(_) => "access flag fault",
            FaultStatus::Permission(_) => "permission fault",
            FaultStatus::External => "external abort",
            FaultStatus::Alignment => "alignment fault",
            FaultStatus::Other(_) => "other fault",
        }
    }

    /// The translation table level, where the code has one.
    pub fn level(self) -> Option<u8> {
        match self {
            FaultStatus::AddressSize(l)
            | FaultStatus::Translation(l)
            | FaultStatus::AccessFlag(l)
            | FaultStatus::Permission(l) => Some(l),
            _ => None,
        }
    }
}

/// The register transfer of a data abort with a valid instruction syndrome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Access size in bytes (1, 2, 4 or 8).
    pub size: u8,
    /// The general-purpose register (`SRT`; 31 is the zero register).
    pub register: u8,
    /// Whether a load sign-extends (`SSE`).
    pub sign_extend: bool,
    /// Whether the register is 64-bit (`SF`).
    pub sixty_four: bool,
}

/// A stage-2 data abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataAbort {
    /// The faulting intermediate physical address (guest physical).
    pub ipa: u64,
    /// The faulting virtual address (`FAR_EL2`).
    pub far: u64,
    /// Whether the access was a write (`WnR`).
    pub write: bool,
    /// The transfer, when the syndrome is valid (`ISV`); loads and stores
    /// of one general-purpose register only.
    pub transfer: Option<Transfer>,
    /// Why it faulted.
    pub status: FaultStatus,
    /// Whether it faulted during a stage-1 table walk (`S1PTW`).
    pub stage1_walk: bool,
}

/// A trapped system register access (EC 0x18).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysRegAccess {
    /// `Op0:Op1:CRn:CRm:Op2` packed as in `MRS`/`MSR` encodings.
    pub encoding: u32,
    /// The general-purpose register.
    pub register: u8,
    /// Whether it was a read (`MRS`).
    pub read: bool,
}

/// What made a guest exit to EL2, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syndrome {
    /// A data abort from the guest.
    DataAbort(DataAbort),
    /// An instruction abort from the guest.
    InstructionAbort {
        /// Faulting IPA.
        ipa: u64,
        /// Faulting virtual address.
        far: u64,
        /// Why.
        status: FaultStatus,
    },
    /// `HVC #imm`.
    Hvc(u16),
    /// `SMC #imm`.
    Smc(u16),
    /// A trapped `MSR`/`MRS`.
    SysReg(SysRegAccess),
    /// A trapped `WFI` (`HCR_EL2.TWI`).
    Wfi,
    /// Anything else, by exception class.
    Other(u8),
}

/// The register of a trapped 32-bit store with a valid instruction
/// syndrome to an unmapped guest-physical page (a stage-2 translation
/// fault), if `esr` is one: what a doorbell write looks like, for the
/// partitioner's short path. ISS fields (Arm ARM, ESR_EL2, EC 0x24): ISV
/// (24), SAS (23:22) = word, SRT (20:16), S1PTW (7) clear, WnR (6) set,
/// DFSC (5:0) a translation fault at any level.
pub fn word_store_register(esr: u64) -> Option<u8> {
    const ISV: u64 = 1 << 24;
    const SAS: u64 = 0b11 << 22;
    const SAS_WORD: u64 = 0b10 << 22;
    const S1PTW: u64 = 1 << 7;
    const WNR: u64 = 1 << 6;
    const DFSC_KIND: u64 = 0b11_1100;
    const DFSC_TRANSLATION: u64 = 0b00_0100;
    let iss = esr & 0x1ff_ffff;
    let store = ((esr >> 26) & 0x3f) as u8 == ec::DATA_ABORT_LOWER
        && iss & ISV != 0
        && iss & SAS == SAS_WORD
        && iss & (S1PTW | WNR) == WNR
        && iss & DFSC_KIND == DFSC_TRANSLATION;
    store.then_some(((iss >> 16) & 0x1f) as u8)
}

/// The raw syndrome registers of one exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawSyndrome {
    /// `ESR_EL2`.
    pub esr: u64,
    /// `FAR_EL2`.
    pub far: u64,
    /// `HPFAR_EL2`.
    pub hpfar: u64,
}

impl RawSyndrome {
    /// The exception class.
    pub fn ec(&self) -> u8 {
        ((self.esr >> 26) & 0x3f) as u8
    }

    fn iss(&self) -> u32 {
        (self.esr & 0x1ff_ffff) as u32
    }

    /// The faulting IPA, from `HPFAR_EL2.FIPA` and the page offset in
    /// `FAR_EL2`.
    pub fn ipa(&self) -> u64 {
        ((self.hpfar >> 4) & 0xfff_ffff_ffff) << 12 | (self.far & 0xfff)
    }

    /// Decodes the syndrome.
    pub fn decode(&self) -> Syndrome {
        let iss = self.iss();
        match self.ec() {
            ec::DATA_ABORT_LOWER => {
                let valid = iss & (1 << 24) != 0;
                let transfer = valid.then(|| Transfer {
                    size: 1 << ((iss >> 22) & 0b11),
                    register: ((iss >> 16) & 0x1f) as u8,
                    sign_extend: iss & (1 << 21) != 0,
                    sixty_four: iss & (1 << 15) != 0,
                });
                Syndrome::DataAbort(DataAbort {
                    ipa: self.ipa(),
                    far: self.far,
                    write: iss & (1 << 6) != 0,
                    transfer,
                    status: FaultStatus::from_code((iss & 0x3f) as u8),
                    stage1_walk: iss & (1 << 7) != 0,
                })
            }
            ec::INSTRUCTION_ABORT_LOWER => Syndrome::InstructionAbort {
                ipa: self.ipa(),
                far: self.far,
                status: FaultStatus::from_code((iss & 0x3f) as u8),
            },
            // ISS.TI (bits 1:0) = 0b00: WFI (not WFE, WFIT or WFET).
            ec::WFX if iss & 0b11 == 0 => Syndrome::Wfi,
            ec::HVC64 => Syndrome::Hvc(iss as u16),
            ec::SMC64 => Syndrome::Smc(iss as u16),
            ec::SYSREG64 => {
                let op0 = (iss >> 20) & 0b11;
                let op2 = (iss >> 17) & 0b111;
                let op1 = (iss >> 14) & 0b111;
                let crn = (iss >> 10) & 0b1111;
                let crm = (iss >> 1) & 0b1111;
                Syndrome::SysReg(SysRegAccess {
                    encoding: op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2,
                    register: ((iss >> 5) & 0x1f) as u8,
                    read: iss & 1 != 0,
                })
            }
            other => Syndrome::Other(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_stores_to_unmapped_pages_are_recognised() {
        // str w3, [x1]: ISV, SAS = word, SRT = 3, WnR, level-1 translation fault.
        let store = 0x24 << 26 | 1 << 25 | 1 << 24 | 0b10 << 22 | 3 << 16 | 1 << 6 | 0b000101;
        assert_eq!(word_store_register(store), Some(3));
        // The same as a load, a halfword, a 64-bit store, a permission
        // fault, a stage-1 walk, without syndrome, or another class.
        for other in [
            store & !(1 << 6),
            store & !(0b11 << 22) | 0b01 << 22,
            store | 0b11 << 22,
            store & !0x3f | 0b001111,
            store | 1 << 7,
            store & !(1 << 24),
            store & !(0x3f << 26) | 0x20 << 26,
        ] {
            assert_eq!(word_store_register(other), None, "{other:#x}");
        }
        // Register 31 is the zero register; `TrapFrame::reg` reads it as 0.
        assert_eq!(word_store_register(store | 0x1f << 16), Some(31));
    }

    #[test]
    fn wfi_is_told_from_the_other_wait_instructions() {
        let wait = |ti: u64| RawSyndrome {
            esr: (ec::WFX as u64) << 26 | 1 << 25 | ti,
            far: 0,
            hpfar: 0,
        };
        assert_eq!(wait(0b00).decode(), Syndrome::Wfi);
        for ti in [0b01, 0b10, 0b11] {
            assert_eq!(wait(ti).decode(), Syndrome::Other(ec::WFX));
        }
    }

    #[test]
    fn stage2_translation_fault_on_a_load() {
        // LDR w1, [x0] at IPA 0x5000_1004, translation fault at level 2.
        let raw = RawSyndrome {
            esr: 0x9381_0006,
            far: 0x5000_1004,
            hpfar: 0x5000_1000 >> 8,
        };
        let Syndrome::DataAbort(abort) = raw.decode() else {
            panic!()
        };
        assert_eq!(abort.ipa, 0x5000_1004);
        assert!(!abort.write);
        assert_eq!(abort.status, FaultStatus::Translation(2));
        assert_eq!(
            abort.transfer,
            Some(Transfer {
                size: 4,
                register: 1,
                sign_extend: false,
                sixty_four: false
            })
        );
    }

    #[test]
    fn store_byte_and_permission_fault() {
        // STRB w3, [x2]: ISV, SAS=0, SRT=3, WnR, permission fault level 3.
        let esr =
            (ec::DATA_ABORT_LOWER as u64) << 26 | 1 << 25 | 1 << 24 | 3 << 16 | 1 << 6 | 0b00_1111;
        let raw = RawSyndrome {
            esr,
            far: 0x0900_0000,
            hpfar: 0x0900_0000 >> 8,
        };
        let Syndrome::DataAbort(abort) = raw.decode() else {
            panic!()
        };
        assert!(abort.write);
        assert_eq!(abort.transfer.unwrap().size, 1);
        assert_eq!(abort.transfer.unwrap().register, 3);
        assert_eq!(abort.status, FaultStatus::Permission(3));
    }

    #[test]
    fn calls_and_sysregs() {
        assert_eq!(
            RawSyndrome {
                esr: 0x5e00_0000,
                far: 0,
                hpfar: 0
            }
            .decode(),
            Syndrome::Smc(0)
        );
        assert_eq!(
            RawSyndrome {
                esr: 0x5a00_0007,
                far: 0,
                hpfar: 0
            }
            .decode(),
            Syndrome::Hvc(7)
        );
        // MSR ICC_SGI1R_EL1, x5: op0=3 op1=0 CRn=12 CRm=11 op2=5, write.
        let iss: u64 = 3 << 20 | 5 << 17 | 12 << 10 | 5 << 5 | 11 << 1;
        let raw = RawSyndrome {
            esr: (ec::SYSREG64 as u64) << 26 | 1 << 25 | iss,
            far: 0,
            hpfar: 0,
        };
        let Syndrome::SysReg(access) = raw.decode() else {
            panic!()
        };
        assert_eq!(access.register, 5);
        assert!(!access.read);
        assert_eq!(access.encoding, 3 << 14 | 12 << 7 | 11 << 3 | 5);
    }
}
