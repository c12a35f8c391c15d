//! PSCI calls of cells, carried out: each call maps to an operation of
//! the cells' life cycle (`crate::runtime::cell`) on the calling cell's
//! own cores. A virtual CPU is named by its virtual MPIDR (Aff0 = its
//! index in the cell).

use super::{AffinityState, Call, Status, MIGRATE_NOT_REQUIRED, VERSION_1_1};
use crate::arch;
use crate::runtime::cell::{self, CoreState, StopReason};
use crate::runtime::machine::{cell_of, guest_warning_allowed};
use bulkhead_config::Cell;

/// Emulates a PSCI call made by `cpu`'s cell. Returns the value for `x0`.
pub fn emulate(cpu: usize, call: Call) -> u64 {
    let Some((index, cell)) = cell_of(cpu) else {
        return Status::Denied.to_register();
    };
    match call {
        Call::Version => VERSION_1_1,
        Call::SmcccVersion => VERSION_1_1,
        Call::Features(function) => {
            if Call::is_supported(function) {
                Status::Success.to_register()
            } else {
                Status::NotSupported.to_register()
            }
        }
        Call::MigrateInfoType => MIGRATE_NOT_REQUIRED,
        Call::CpuSuspend => {
            arch::wait_for_interrupt();
            Status::Success.to_register()
        }
        Call::CpuOff => cell::cpu_off(cpu),
        Call::CpuOn {
            target,
            entry,
            context,
        } => match virtual_to_physical(cell, target) {
            Some(target) => cell::cpu_on(cpu, index, target, entry, context).to_register(),
            None => Status::InvalidParameters.to_register(),
        },
        Call::AffinityInfo {
            target,
            lowest_level,
        } => {
            if lowest_level != 0 {
                return Status::InvalidParameters.to_register();
            }
            match virtual_to_physical(cell, target) {
                None => Status::InvalidParameters.to_register(),
                Some(target) => match cell::core_state(target) {
                    CoreState::Running => AffinityState::On as u64,
                    CoreState::Pending => AffinityState::OnPending as u64,
                    CoreState::Parked | CoreState::Offline => AffinityState::Off as u64,
                },
            }
        }
        Call::SystemOff => cell::stop_cell(cpu, StopReason::SystemOff, false),
        Call::SystemReset => cell::stop_cell(cpu, StopReason::SystemReset, true),
        Call::Unknown(function) => {
            if guest_warning_allowed(index, cell.name.as_str()) {
                defmt::warn!(
                    "cell {=str}: unknown firmware call {=u32:#010x} on cpu {=usize}, returned NOT_SUPPORTED",
                    cell.name.as_str(),
                    function,
                    cpu
                );
            }
            Status::NotSupported.to_register()
        }
    }
}

/// The physical CPU behind a cell's virtual MPIDR (Aff0 = virtual CPU).
fn virtual_to_physical(cell: &Cell, mpidr: u64) -> Option<usize> {
    if mpidr & bsp::MPIDR_AFFINITY_MASK & !0xff != 0 {
        return None;
    }
    cell.cpus.nth((mpidr & 0xff) as usize)
}
