//! Every exception a cell causes lands here: the short paths of a cell's
//! IPIs and doorbells first, then the general synchronous trap handler,
//! which hands each trap to the device that owns it
//! (`crate::devices::*`), and the fault reports that apply a cell's
//! `on_fault` policy.

use super::cell::{self, StopReason};
use super::exits::{self, Cause};
use super::machine::{self, cell_of, guest_warning_allowed};
use crate::arch::esr::{ec_name, DataAbort, RawSyndrome, Syndrome, Transfer};
use crate::arch::{self, ExceptionKind, TrapFrame};
use crate::devices::psci::{self, Call};
use crate::devices::{ivshmem, vgic, vuart, watchdog};
use bulkhead_config::FaultPolicy;

/// Every exception from a cell lands here.
#[unsafe(no_mangle)]
extern "C" fn handle_lower_exception(frame: &mut TrapFrame, kind: u64) {
    let cpu = arch::cpu_index();
    // The short paths for a cell's IPIs and doorbells: nothing but the
    // syndrome is read, the routes were computed at boot.
    if kind == 0 {
        let esr = arch::exception_syndrome();
        if let Some(register) = vgic::sgi1r_write_register(esr) {
            exits::count(cpu, Cause::Sgi);
            let value = frame.reg(register);
            for write in vgic::runtime::sgi_routes(cpu).physical_writes(value) {
                arch::write_sgi1r(write);
            }
            frame.elr = frame.elr.wrapping_add(4);
            return;
        }
        if let Some(register) = crate::arch::esr::word_store_register(esr) {
            let value = frame.reg(register) as u32;
            if ivshmem::runtime::ring(cpu, arch::syndrome().ipa(), value) {
                exits::count(cpu, Cause::Doorbell);
                frame.elr = frame.elr.wrapping_add(4);
                return;
            }
        }
    }
    let kind = ExceptionKind::from_vector(kind);
    if kind != ExceptionKind::Synchronous {
        exits::count(cpu, Cause::Other);
    }
    match kind {
        ExceptionKind::Fiq => cell::kicked(cpu),
        ExceptionKind::Synchronous => synchronous(cpu, frame),
        // IRQs come through `handle_lower_irq`.
        ExceptionKind::Irq => defmt::warn!("cpu {=usize}: unexpected IRQ at EL2", cpu),
        ExceptionKind::SError => fault(cpu, frame, "SError", arch::syndrome()),
        ExceptionKind::Aarch32 => fault(cpu, frame, "AArch32 exception", arch::syndrome()),
    }
}

/// An IRQ from a cell that `boot.S`'s `virtual_irq` did not list itself:
/// `intid` as it acknowledged it, at running priority `running`, or ~0
/// when the core is not a virtualized cell's (nothing acknowledged).
#[unsafe(no_mangle)]
extern "C" fn handle_lower_irq(_frame: &mut TrapFrame, intid: u64, running: u64) {
    cell::interrupted(arch::cpu_index(), intid, running);
}

/// Which [`Cause`] a synchronous trap counts as.
fn exit_cause(syndrome: &Syndrome) -> Cause {
    match syndrome {
        Syndrome::Hvc(_) | Syndrome::Smc(_) => Cause::Call,
        Syndrome::DataAbort(_) => Cause::Mmio,
        Syndrome::Wfi => Cause::Wfi,
        Syndrome::SysReg(_) => Cause::Register,
        _ => Cause::Other,
    }
}

fn synchronous(cpu: usize, frame: &mut TrapFrame) {
    let raw = arch::syndrome();
    let syndrome = raw.decode();
    exits::count(cpu, exit_cause(&syndrome));
    match syndrome {
        Syndrome::Hvc(imm) | Syndrome::Smc(imm) => {
            if raw.ec() == arch::esr::ec::SMC64 {
                // The preferred return address of a trapped SMC is the SMC.
                frame.elr = frame.elr.wrapping_add(4);
            }
            frame.x[0] = if imm == 0 {
                let call = Call::decode(&[frame.x[0], frame.x[1], frame.x[2], frame.x[3]]);
                psci::runtime::emulate(cpu, call)
            } else {
                let (index, name) = cell_of(cpu)
                    .map(|(i, c)| (i, c.name.as_str()))
                    .unwrap_or((0, "?"));
                if guest_warning_allowed(index, name) {
                    defmt::warn!(
                    "cell {=str}: {=str} #{=u16:#x} on cpu {=usize} is not a Bulkhead call, returned NOT_SUPPORTED",
                    name,
                    ec_name(raw.ec()),
                    imm,
                    cpu
                );
                }
                psci::Status::NotSupported.to_register()
            };
        }
        Syndrome::DataAbort(abort) if claims_virtual_pci(cpu, &abort) => {
            emulate_virtual_pci(cpu, frame, raw, &abort)
        }
        Syndrome::DataAbort(abort) if is_console(cpu, &abort) => emulate_register_page(
            cpu,
            frame,
            raw,
            &abort,
            "unemulatable console access",
            vuart::runtime::access,
        ),
        Syndrome::DataAbort(abort) if is_watchdog(cpu, &abort) => emulate_register_page(
            cpu,
            frame,
            raw,
            &abort,
            "unemulatable watchdog access",
            watchdog::runtime::access,
        ),
        Syndrome::DataAbort(abort)
            if machine::try_machine().is_some_and(|m| vgic::runtime::is_gic(m, abort.ipa)) =>
        {
            emulate_gic(cpu, frame, raw, &abort)
        }
        Syndrome::Wfi => {
            cell::wait_in_el2(cpu);
            frame.elr = frame.elr.wrapping_add(4);
        }
        Syndrome::SysReg(access) => {
            let handled =
                machine::try_machine()
                    .zip(cell_of(cpu))
                    .and_then(|(machine, (index, c))| {
                        let write = (!access.read).then(|| frame.reg(access.register));
                        vgic::runtime::sysreg_access(machine, index, c, cpu, access.encoding, write)
                    });
            match handled {
                Some(value) => {
                    if access.read {
                        frame.set_reg(access.register, value);
                    }
                    frame.elr = frame.elr.wrapping_add(4);
                }
                None => fault(cpu, frame, "system register it may not use", raw),
            }
        }
        _ => fault(cpu, frame, "stage-2 fault", raw),
    }
}

fn claims_virtual_pci(cpu: usize, abort: &DataAbort) -> bool {
    cell_of(cpu).is_some_and(|(index, _)| ivshmem::runtime::claims(index, abort.ipa))
}

/// Emulates a cell's load or store to its virtual PCI bridge: the ECAM
/// window or a channel's register page (a doorbell).
fn emulate_virtual_pci(cpu: usize, frame: &mut TrapFrame, raw: RawSyndrome, abort: &DataAbort) {
    let (Some(transfer), Some(machine), Some((index, c))) =
        (abort.transfer, machine::try_machine(), cell_of(cpu))
    else {
        return fault(cpu, frame, "unemulatable virtual PCI access", raw);
    };
    let write = abort.write.then(|| {
        let value = frame.reg(transfer.register);
        match transfer.size {
            8 => value,
            size => value & ((1 << (8 * u32::from(size))) - 1),
        }
    });
    match ivshmem::runtime::access(machine, index, c, abort.ipa, transfer.size, write) {
        Some(value) => {
            if !abort.write {
                frame.set_reg(transfer.register, extend(value, &transfer));
            }
            frame.elr = frame.elr.wrapping_add(4);
        }
        None => fault(
            cpu,
            frame,
            "access to the register page of a channel the cell is no peer of",
            raw,
        ),
    }
}

fn is_console(cpu: usize, abort: &DataAbort) -> bool {
    cell_of(cpu)
        .and_then(|(_, c)| c.console)
        .is_some_and(|console| console.window().contains(abort.ipa))
}

fn is_watchdog(cpu: usize, abort: &DataAbort) -> bool {
    cell_of(cpu)
        .and_then(|(_, c)| c.watchdog)
        .is_some_and(|watchdog| watchdog.window().contains(abort.ipa))
}

/// Emulates a load or store of `cpu`'s cell to the page of one of its
/// emulated 32-bit register devices (its console, its watchdog), which
/// `access(cpu, offset, written value)` carries out, returning the value
/// read. An access it cannot emulate faults the cell as `unemulatable`
/// says.
fn emulate_register_page(
    cpu: usize,
    frame: &mut TrapFrame,
    raw: RawSyndrome,
    abort: &DataAbort,
    unemulatable: &'static str,
    access: fn(usize, u64, Option<u32>) -> u32,
) {
    let Some(transfer) = abort.transfer else {
        // Pair loads, writeback and the like cannot be emulated.
        return fault(cpu, frame, unemulatable, raw);
    };
    let offset = abort.ipa & 0xfff;
    if abort.write {
        let value = frame.reg(transfer.register) as u32;
        access(cpu, offset, Some(value));
    } else {
        let value = u64::from(access(cpu, offset, None));
        frame.set_reg(transfer.register, extend(value, &transfer));
    }
    frame.elr = frame.elr.wrapping_add(4);
}

/// Emulates a cell's load or store to the GIC distributor or one of its
/// redistributors.
fn emulate_gic(cpu: usize, frame: &mut TrapFrame, raw: RawSyndrome, abort: &DataAbort) {
    let (Some(transfer), Some(machine), Some((index, c))) =
        (abort.transfer, machine::try_machine(), cell_of(cpu))
    else {
        return fault(cpu, frame, "unemulatable GIC access", raw);
    };
    let write = abort.write.then(|| frame.reg(transfer.register));
    match vgic::runtime::mmio_access(machine, index, c, abort.ipa, transfer.size, write) {
        Some(value) => {
            if !abort.write {
                frame.set_reg(transfer.register, extend(value, &transfer));
            }
            frame.elr = frame.elr.wrapping_add(4);
        }
        None => fault(cpu, frame, "access to another core's redistributor", raw),
    }
}

/// The value a load of `transfer`'s size and signedness puts in its
/// register.
fn extend(value: u64, transfer: &Transfer) -> u64 {
    let bits = u32::from(transfer.size) * 8;
    if bits >= 64 {
        return value;
    }
    let truncated = value & ((1 << bits) - 1);
    if !transfer.sign_extend {
        return truncated;
    }
    let shift = 64 - bits;
    let extended = ((truncated << shift) as i64 >> shift) as u64;
    if transfer.sixty_four {
        extended
    } else {
        extended & 0xffff_ffff
    }
}

/// Reports a fault of `cpu`'s cell and applies the cell's fault policy.
/// A fault of a cell that is being stopped is its revoked stage 2 doing
/// its job: the core just parks.
fn fault(cpu: usize, frame: &TrapFrame, what: &str, raw: RawSyndrome) {
    let Some((index, c)) = cell_of(cpu) else {
        defmt::error!(
            "cpu {=usize}: exception with no cell, ESR {=u64:#x}",
            cpu,
            raw.esr
        );
        arch::halt()
    };
    if !machine::is_running(index) {
        cell::leave(cpu);
    }
    let ec = raw.ec();
    match raw.decode() {
        Syndrome::DataAbort(a) => defmt::error!(
            "cell {=str} faulted on cpu {=usize}: {=str}: {=str} ({=str}) at IPA {=u64:#x}, PC {=u64:#x}, ESR {=u64:#x} (EC {=u8:#x}: {=str}, level {=u8})",
            c.name.as_str(),
            cpu,
            what,
            if a.write { "write" } else { "read" },
            a.status.name(),
            a.ipa,
            frame.elr,
            raw.esr,
            ec,
            ec_name(ec),
            a.status.level().unwrap_or(0)
        ),
        Syndrome::InstructionAbort { ipa, status, .. } => defmt::error!(
            "cell {=str} faulted on cpu {=usize}: {=str}: instruction fetch ({=str}) at IPA {=u64:#x}, PC {=u64:#x}, ESR {=u64:#x} (EC {=u8:#x}: {=str})",
            c.name.as_str(),
            cpu,
            what,
            status.name(),
            ipa,
            frame.elr,
            raw.esr,
            ec,
            ec_name(ec)
        ),
        Syndrome::SysReg(access) => {
            let e = access.encoding;
            defmt::error!(
                "cell {=str} faulted on cpu {=usize}: {=str}: {=str} of S{=u32}_{=u32}_C{=u32}_C{=u32}_{=u32}, PC {=u64:#x}, ESR {=u64:#x} (EC {=u8:#x}: {=str})",
                c.name.as_str(),
                cpu,
                what,
                if access.read { "read" } else { "write" },
                e >> 14 & 0b11,
                e >> 11 & 0b111,
                e >> 7 & 0b1111,
                e >> 3 & 0b1111,
                e & 0b111,
                frame.elr,
                raw.esr,
                ec,
                ec_name(ec)
            )
        }
        _ => defmt::error!(
            "cell {=str} faulted on cpu {=usize}: unhandled trap, PC {=u64:#x}, ESR {=u64:#x} (EC {=u8:#x}: {=str})",
            c.name.as_str(),
            cpu,
            frame.elr,
            raw.esr,
            ec,
            ec_name(ec)
        ),
    }
    let restart = c.on_fault == FaultPolicy::Restart;
    cell::stop_cell(cpu, StopReason::Fault, restart)
}
