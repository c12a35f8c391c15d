//! The PSCI interface cells see (Arm DEN 0022, version 1.1), decoded from
//! the registers of a trapped `SMC`/`HVC`. The emulation itself, which moves
//! cores, is in [`crate::cell`]; this module only names things.

/// `PSCI_VERSION`.
pub const PSCI_VERSION: u32 = 0x8400_0000;
/// `CPU_SUSPEND` (32-bit).
pub const CPU_SUSPEND_32: u32 = 0x8400_0001;
/// `CPU_SUSPEND` (64-bit).
pub const CPU_SUSPEND_64: u32 = 0xc400_0001;
/// `CPU_OFF`.
pub const CPU_OFF: u32 = 0x8400_0002;
/// `CPU_ON` (32-bit).
pub const CPU_ON_32: u32 = 0x8400_0003;
/// `CPU_ON` (64-bit).
pub const CPU_ON_64: u32 = 0xc400_0003;
/// `AFFINITY_INFO` (32-bit).
pub const AFFINITY_INFO_32: u32 = 0x8400_0004;
/// `AFFINITY_INFO` (64-bit).
pub const AFFINITY_INFO_64: u32 = 0xc400_0004;
/// `MIGRATE_INFO_TYPE`.
pub const MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
/// `SYSTEM_OFF`.
pub const SYSTEM_OFF: u32 = 0x8400_0008;
/// `SYSTEM_RESET`.
pub const SYSTEM_RESET: u32 = 0x8400_0009;
/// `PSCI_FEATURES`.
pub const PSCI_FEATURES: u32 = 0x8400_000a;
/// `SMCCC_VERSION` (Arm DEN 0028).
pub const SMCCC_VERSION: u32 = 0x8000_0000;

/// The version reported: 1.1.
pub const VERSION_1_1: u64 = 0x0001_0001;
/// `MIGRATE_INFO_TYPE`: no Trusted OS, migration not required.
pub const MIGRATE_NOT_REQUIRED: u64 = 2;

/// PSCI return codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    /// The call succeeded.
    Success = 0,
    /// The function is not implemented (also the answer to unknown calls).
    NotSupported = -1,
    /// An argument is out of range.
    InvalidParameters = -2,
    /// The operation is not allowed.
    Denied = -3,
    /// `CPU_ON` of a core that is on.
    AlreadyOn = -4,
    /// `CPU_ON` of a core that is being turned on.
    OnPending = -5,
}

impl Status {
    /// The value returned in `x0` (sign-extended to 64 bits).
    pub const fn to_register(self) -> u64 {
        self as i32 as i64 as u64
    }
}

/// `AFFINITY_INFO` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffinityState {
    /// At least one core of the affinity instance is on.
    On = 0,
    /// All are off.
    Off = 1,
    /// A core is being turned on.
    OnPending = 2,
}

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
            CPU_SUSPEND_32 | CPU_SUSPEND_64 => Call::CpuSuspend,
            CPU_OFF => Call::CpuOff,
            CPU_ON_32 | CPU_ON_64 => Call::CpuOn {
                target: arg(1),
                entry: arg(2),
                context: arg(3),
            },
            AFFINITY_INFO_32 | AFFINITY_INFO_64 => Call::AffinityInfo {
                target: arg(1),
                lowest_level: arg(2),
            },
            MIGRATE_INFO_TYPE => Call::MigrateInfoType,
            SYSTEM_OFF => Call::SystemOff,
            SYSTEM_RESET => Call::SystemReset,
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
        let on64 = Call::decode(&[CPU_ON_64 as u64, 0x1, 0x5000_1000, 0xffff_ffff_0000_0007]);
        assert_eq!(
            on64,
            Call::CpuOn {
                target: 1,
                entry: 0x5000_1000,
                context: 0xffff_ffff_0000_0007
            }
        );
        let on32 = Call::decode(&[
            CPU_ON_32 as u64,
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
        assert!(Call::is_supported(SYSTEM_RESET));
        assert!(!Call::is_supported(0x8400_0042));
        assert_eq!(Status::NotSupported.to_register(), u64::MAX);
        assert_eq!(Status::InvalidParameters.to_register(), (-2i64) as u64);
    }
}
