//! The PSCI interface cells see (Arm DEN 0022, version 1.1), decoded from
//! the registers of a trapped `SMC`/`HVC`. The function IDs and return
//! codes are the `smccc` crate's, the one definition the partitioner and
//! the bare-metal cells share. The emulation itself, which moves cores, is
//! `runtime.rs` (board only); this module only names and decodes.

#[cfg(target_os = "none")]
pub(crate) mod runtime;

use smccc::arch::SMCCC_VERSION;
use smccc::psci::{
    PSCI_AFFINITY_INFO_32, PSCI_AFFINITY_INFO_64, PSCI_CPU_OFF, PSCI_CPU_ON_32, PSCI_CPU_ON_64,
    PSCI_CPU_SUSPEND_32, PSCI_CPU_SUSPEND_64, PSCI_FEATURES, PSCI_MIGRATE_INFO_TYPE,
    PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET, PSCI_VERSION,
};

/// The version reported: 1.1.
pub const VERSION_1_1: u64 = 0x0001_0001;
/// `MIGRATE_INFO_TYPE`: no Trusted OS, migration not required.
pub const MIGRATE_NOT_REQUIRED: u64 = smccc::psci::MigrateType::MigrationNotRequired as u64;

/// PSCI return codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    /// The call succeeded.
    Success = 0,
    /// The function is not implemented (also the answer to unknown calls).
    NotSupported = smccc::psci::error::NOT_SUPPORTED,
    /// An argument is out of range.
    InvalidParameters = smccc::psci::error::INVALID_PARAMETERS,
    /// The operation is not allowed.
    Denied = smccc::psci::error::DENIED,
    /// `CPU_ON` of a core that is on.
    AlreadyOn = smccc::psci::error::ALREADY_ON,
    /// `CPU_ON` of a core that is being turned on.
    OnPending = smccc::psci::error::ON_PENDING,
}

impl Status {
    /// The value returned in `x0` (sign-extended to 64 bits).
    pub const fn to_register(self) -> u64 {
        self as i32 as i64 as u64
    }
}

/// `AFFINITY_INFO` answers.
pub use smccc::psci::AffinityState;

/// A decoded PSCI (or SMCCC) call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `PSCI_VERSION`.
    Version,
    /// `PSCI_FEATURES` of a function ID.
    Features(u32),
    /// `CPU_SUSPEND`: treated as a WFI-like standby.
    CpuSuspend,
    /// `CPU_OFF`.
    CpuOff,
    /// `CPU_ON`.
    CpuOn {
        /// Target virtual MPIDR.
        target: u64,
        /// Entry point (guest physical).
        entry: u64,
        /// Value for the target's `x0`.
        context: u64,
    },
    /// `AFFINITY_INFO`.
    AffinityInfo {
        /// Target virtual MPIDR.
        target: u64,
        /// Lowest affinity level (only 0 is supported).
        lowest_level: u64,
    },
    /// `MIGRATE_INFO_TYPE`.
    MigrateInfoType,
    /// `SYSTEM_OFF`: stop the calling cell.
    SystemOff,
    /// `SYSTEM_RESET`: restart the calling cell.
    SystemReset,
    /// `SMCCC_VERSION`.
    SmcccVersion,
    /// Anything else.
    Unknown(u32),
}

impl Call {
    /// Decodes the call in `x0..x3`.
    pub fn decode(x: &[u64; 4]) -> Call {
        let function = x[0] as u32;
        // SMC32 calls only use the low 32 bits of their arguments.
        let arg = |i: usize| {
            if function & 0x4000_0000 == 0 {
                x[i] & 0xffff_ffff
            } else {
                x[i]
            }
        };
        match function {
            PSCI_VERSION => Call::Version,
            PSCI_FEATURES => Call::Features(x[1] as u32),
            PSCI_CPU_SUSPEND_32 | PSCI_CPU_SUSPEND_64 => Call::CpuSuspend,
            PSCI_CPU_OFF => Call::CpuOff,
            PSCI_CPU_ON_32 | PSCI_CPU_ON_64 => Call::CpuOn {
                target: arg(1),
                entry: arg(2),
                context: arg(3),
            },
            PSCI_AFFINITY_INFO_32 | PSCI_AFFINITY_INFO_64 => Call::AffinityInfo {
                target: arg(1),
                lowest_level: arg(2),
            },
            PSCI_MIGRATE_INFO_TYPE => Call::MigrateInfoType,
            PSCI_SYSTEM_OFF => Call::SystemOff,
            PSCI_SYSTEM_RESET => Call::SystemReset,
            SMCCC_VERSION => Call::SmcccVersion,
            other => Call::Unknown(other),
        }
    }

    /// Whether `PSCI_FEATURES` reports `function` as implemented.
    pub fn is_supported(function: u32) -> bool {
        !matches!(
            Call::decode(&[function as u64, 0, 0, 0]),
            Call::Unknown(_) | Call::SmcccVersion
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_cpu_on_variants() {
        let on64 = Call::decode(&[
            PSCI_CPU_ON_64 as u64,
            0x1,
            0x5000_1000,
            0xffff_ffff_0000_0007,
        ]);
        assert_eq!(
            on64,
            Call::CpuOn {
                target: 1,
                entry: 0x5000_1000,
                context: 0xffff_ffff_0000_0007
            }
        );
        let on32 = Call::decode(&[
            PSCI_CPU_ON_32 as u64,
            0x1,
            0xdead_0000_5000_1000,
            0xffff_ffff_0000_0007,
        ]);
        assert_eq!(
            on32,
            Call::CpuOn {
                target: 1,
                entry: 0x5000_1000,
                context: 7
            }
        );
    }

    #[test]
    fn unknown_and_features() {
        assert_eq!(
            Call::decode(&[0xc200_0042, 0, 0, 0]),
            Call::Unknown(0xc200_0042)
        );
        // Only the low 32 bits name the function.
        assert_eq!(
            Call::decode(&[0xffff_ffff_8400_0000, 0, 0, 0]),
            Call::Version
        );
        assert!(Call::is_supported(PSCI_SYSTEM_RESET));
        assert!(!Call::is_supported(0x8400_0042));
        assert_eq!(Status::NotSupported.to_register(), u64::MAX);
        assert_eq!(Status::InvalidParameters.to_register(), (-2i64) as u64);
    }
}
