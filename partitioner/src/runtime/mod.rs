//! The partitioner at run time on the board: boot, traps, faults.

mod cell;
mod console;
mod gic;
mod ipc;
mod sync;
mod tables;
mod vgic;

use crate::arch::esr::{ec_name, DataAbort, RawSyndrome, Syndrome, Transfer};
use crate::arch::{self, ExceptionKind, TrapFrame};
use crate::psci::Call;
use bsp::MemRange;
use cell::{Machine, StopReason};
use config::blob;
use config::FaultPolicy;
use core::sync::atomic::{AtomicUsize, Ordering};

include!(concat!(env!("OUT_DIR"), "/board.rs"));

/// Which board this image is for, where `bulkhead build` finds it
/// (`config::identity`; the image header's `res2` points here).
#[used]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".rodata.identity")]
static BULKHEAD_IDENTITY: config::identity::Record =
    config::identity::Record::new(BOARD.name, LOAD_ADDRESS);

static CORES_ONLINE: AtomicUsize = AtomicUsize::new(0);

/// First Rust code on the boot core, with the MMU off. `entry_counter` is
/// the physical counter as the partitioner's first instructions read it.
#[unsafe(no_mangle)]
extern "C" fn primary_main(_device_tree: u64, entry_counter: u64) -> ! {
    let root = tables::build_el2_tables(BOARD);
    let (zeroed, len) = arch::zeroed_part_of_image();
    // SAFETY: the MMU and caches are still off.
    unsafe { arch::invalidate_before_caches_on(zeroed, len) };
    // SAFETY: the tables identity-map the partitioner image, its stacks,
    // the board's RAM and the MMIO the partitioner uses.
    unsafe { arch::enable_el2_mmu(root) };
    let counter_hz = arch::counter_frequency(BOARD.counter_hz);
    console::init(BOARD, counter_hz);
    let Some(me) = BOARD.cpu_index(arch::mpidr()) else {
        defmt::error!(
            "boot core {=u64:#x} is not in the board description",
            arch::mpidr()
        );
        arch::halt()
    };
    arch::set_cpu_index(me);
    defmt::info!(
        "Bulkhead {=str} partitioner on {=str}: {=usize} CPUs, counter {=u64} Hz",
        env!("CARGO_PKG_VERSION"),
        BOARD.name,
        BOARD.cpus.len(),
        counter_hz
    );
    defmt::info!("boot: partitioner entry at counter {=u64}", entry_counter);
    let machine = match load_config() {
        Ok(m) => cell::install(m),
        Err(()) => {
            defmt::error!("no valid config: refusing to start any cell");
            arch::halt()
        }
    };
    print_summary(machine);
    if ipc::init(machine).is_err() {
        defmt::error!("channels could not be set up: refusing to start any cell");
        arch::halt()
    }
    vgic::compute_interrupt_tables(machine);
    arch::configure_el2_for_cells();
    let path = gic::init_distributor(BOARD);
    defmt::info!(
        "GIC: {=str}, control path {=str}",
        match path {
            bsp::ControlPath::Group0Fiq => "one security state (DS = 1)",
            _ => "firmware keeps Group 0 (DS = 0)",
        },
        path.name()
    );
    if !gic::init_redistributor(BOARD, arch::mpidr()) {
        defmt::error!("no redistributor for the boot core");
        arch::halt()
    }
    for (index, c) in machine.system.cells.iter().enumerate() {
        match tables::build_stage2(&machine.system, machine.board, index) {
            Ok(root) => cell::set_stage2_root(index, root),
            Err(()) => {
                defmt::error!(
                    "cell {=str}: stage-2 tables could not be built",
                    c.name.as_str()
                );
                arch::halt()
            }
        }
    }
    tables::publish_for_secondaries(root);
    let (stacks, len) = arch::secondary_stacks();
    arch::clean_for_secondary(stacks, len);
    start_secondaries(me);
    for index in 0..machine.system.cells.len() {
        cell::start_cell(index);
    }
    CORES_ONLINE.fetch_add(1, Ordering::AcqRel);
    cell::core_online(me)
}

/// Decodes and checks the config blob that follows the image.
fn load_config() -> Result<Machine, ()> {
    let base = arch::image_end();
    let available = BOARD.hypervisor_ram.end().saturating_sub(base);
    // SAFETY: [image_end, hypervisor RAM end) is mapped read-only at EL2
    // and nothing writes it.
    let window = unsafe { core::slice::from_raw_parts(base as *const u8, available as usize) };
    let header = blob::read_header(window).map_err(|e| {
        defmt::error!("config at {=u64:#x}: {}", base, defmt::Display2Format(&e));
    })?;
    if header.total_length > available {
        defmt::error!(
            "config says the boot image is {=u64} bytes past the partitioner, only {=u64} fit",
            header.total_length,
            available
        );
        return Err(());
    }
    let system = blob::decode(window).map_err(|e| {
        defmt::error!("config at {=u64:#x}: {}", base, defmt::Display2Format(&e));
    })?;
    let findings = config::rules::check(&system, BOARD, |f| {
        defmt::error!(
            "config: {} at {}",
            defmt::Display2Format(&f.problem),
            defmt::Debug2Format(&f.location)
        );
    });
    let payloads = MemRange::new(base, header.total_length);
    let images_inside = system
        .cells
        .iter()
        .flat_map(|c| c.images.iter())
        .all(|image| {
            image
                .offset
                .checked_add(image.size)
                .is_some_and(|end| end <= payloads.size)
        });
    if !images_inside {
        defmt::error!("config: an image lies outside the boot image");
        return Err(());
    }
    if findings > 0
        || system
            .cells
            .iter()
            .any(|c| c.cpus.iter().any(|cpu| cpu >= cell::MAX_RUNTIME_CPUS))
    {
        return Err(());
    }
    Ok(Machine {
        board: BOARD,
        system,
        blob_base: base,
        blob_total: header.total_length,
    })
}

fn print_summary(machine: &Machine) {
    let system = &machine.system;
    for ram in BOARD.ram {
        defmt::info!("board RAM {=u64:#x}..{=u64:#x}", ram.base, ram.end());
    }
    defmt::info!(
        "partitioner RAM {=u64:#x}..{=u64:#x}, image {=u64:#x}..{=u64:#x}, config + images {=u64} KiB",
        BOARD.hypervisor_ram.base,
        BOARD.hypervisor_ram.end(),
        arch::image_start(),
        arch::image_end(),
        machine.blob_total / 1024
    );
    defmt::info!("{=usize} cells", system.cells.len());
    for (index, c) in system.cells.iter().enumerate() {
        let policy = match c.on_fault {
            FaultPolicy::Stop => "stop",
            FaultPolicy::Restart => "restart",
        };
        let wfi = if system.direct_wfi.contains(index) {
            "direct"
        } else {
            "trapped"
        };
        defmt::info!(
            "cell {=str}: cpus {=u64:#b} ({=usize} vCPUs), entry {=u64:#x}, on fault: {=str}, WFI {=str}",
            c.name.as_str(),
            c.cpus.bits(),
            c.cpus.len(),
            c.entry,
            policy,
            wfi
        );
        for m in &c.memory {
            defmt::info!(
                "cell {=str}:   memory {=u64:#x}..{=u64:#x} ({=u64} KiB)",
                c.name.as_str(),
                m.range.base,
                m.range.end(),
                m.range.size / 1024
            );
        }
        for d in &c.devices {
            for w in &d.mmio {
                defmt::info!(
                    "cell {=str}:   device {=str} at {=u64:#x} irqs {}",
                    c.name.as_str(),
                    d.name.as_str(),
                    w.base,
                    d.irqs.as_slice()
                );
            }
        }
        if let Some(console) = c.console {
            defmt::info!(
                "cell {=str}:   console: emulated PL011 at {=u64:#x}",
                c.name.as_str(),
                console.base
            );
        }
    }
}

/// Starts every other core through the firmware and waits (bounded) until
/// they are parked, so that cells can `CPU_ON` them at once.
fn start_secondaries(me: usize) {
    let entry = arch::secondary_entry_point();
    let mut started = 0;
    for (cpu, c) in BOARD.cpus.iter().enumerate().filter(|(i, _)| *i != me) {
        let result =
            arch::firmware_call(smccc::psci::PSCI_CPU_ON_64, c.mpidr, entry, cpu as u64) as i64;
        if result == 0 {
            started += 1;
        } else {
            defmt::warn!(
                "firmware CPU_ON of cpu {=usize} failed: {=i64}",
                cpu,
                result
            );
        }
    }
    let hz = arch::counter_frequency(BOARD.counter_hz);
    let deadline = arch::counter() + hz;
    while CORES_ONLINE.load(Ordering::Acquire) < started && arch::counter() < deadline {
        core::hint::spin_loop();
    }
    defmt::info!(
        "{=usize} of {=usize} secondary cores online",
        CORES_ONLINE.load(Ordering::Acquire),
        started
    );
}

/// First Rust code on a secondary core, with the MMU off.
#[unsafe(no_mangle)]
extern "C" fn secondary_main(cpu: u64) -> ! {
    let cpu = cpu as usize;
    // SAFETY: the boot core published complete tables before CPU_ON.
    unsafe { arch::enable_el2_mmu(tables::published_root()) };
    arch::set_cpu_index(cpu);
    arch::configure_el2_for_cells();
    if !gic::init_redistributor(BOARD, arch::mpidr()) {
        defmt::error!("cpu {=usize}: no redistributor", cpu);
        arch::halt()
    }
    CORES_ONLINE.fetch_add(1, Ordering::AcqRel);
    cell::core_online(cpu)
}

/// Every exception from a cell lands here.
#[unsafe(no_mangle)]
extern "C" fn handle_lower_exception(frame: &mut TrapFrame, kind: u64) {
    let cpu = arch::cpu_index();
    // The short paths for a cell's IPIs and doorbells: nothing but the
    // syndrome is read, the routes were computed at boot.
    if kind == 0 {
        let esr = arch::exception_syndrome();
        if let Some(register) = crate::vgic::sgi1r_write_register(esr) {
            let value = frame.reg(register);
            for write in vgic::sgi_routes(cpu).physical_writes(value) {
                arch::write_sgi1r(write);
            }
            frame.elr = frame.elr.wrapping_add(4);
            return;
        }
        if let Some(register) = crate::arch::esr::word_store_register(esr) {
            let value = frame.reg(register) as u32;
            if ipc::ring(cpu, arch::syndrome().ipa(), value) {
                frame.elr = frame.elr.wrapping_add(4);
                return;
            }
        }
    }
    match ExceptionKind::from_vector(kind) {
        ExceptionKind::Fiq => cell::kicked(cpu),
        ExceptionKind::Synchronous => synchronous(cpu, frame),
        ExceptionKind::Irq => {
            // Cells' interrupts go to EL1 (HCR_EL2.IMO = 0); none should
            // reach EL2. Drop it and carry on.
            defmt::warn!("cpu {=usize}: unexpected IRQ at EL2", cpu);
        }
        ExceptionKind::SError => fault(cpu, frame, "SError", arch::syndrome()),
        ExceptionKind::Aarch32 => fault(cpu, frame, "AArch32 exception", arch::syndrome()),
    }
}

fn synchronous(cpu: usize, frame: &mut TrapFrame) {
    let raw = arch::syndrome();
    match raw.decode() {
        Syndrome::Hvc(imm) | Syndrome::Smc(imm) => {
            if raw.ec() == arch::esr::ec::SMC64 {
                // The preferred return address of a trapped SMC is the SMC.
                frame.elr = frame.elr.wrapping_add(4);
            }
            frame.x[0] = if imm == 0 {
                let call = Call::decode(&[frame.x[0], frame.x[1], frame.x[2], frame.x[3]]);
                cell::psci(cpu, call)
            } else {
                let (index, name) = cell::current_cell(cpu)
                    .map(|(i, c)| (i, c.name.as_str()))
                    .unwrap_or((0, "?"));
                if cell::guest_warning_allowed(index, name) {
                    defmt::warn!(
                    "cell {=str}: {=str} #{=u16:#x} on cpu {=usize} is not a Bulkhead call, returned NOT_SUPPORTED",
                    name,
                    ec_name(raw.ec()),
                    imm,
                    cpu
                );
                }
                crate::psci::Status::NotSupported.to_register()
            };
        }
        Syndrome::DataAbort(abort) if claims_virtual_pci(cpu, &abort) => {
            emulate_virtual_pci(cpu, frame, raw, &abort)
        }
        Syndrome::DataAbort(abort) if is_console(cpu, &abort) => {
            emulate_console(cpu, frame, raw, &abort)
        }
        Syndrome::DataAbort(abort)
            if cell::try_machine().is_some_and(|m| vgic::is_gic(m, abort.ipa)) =>
        {
            emulate_gic(cpu, frame, raw, &abort)
        }
        Syndrome::Wfi => {
            cell::wait_in_el2(cpu);
            frame.elr = frame.elr.wrapping_add(4);
        }
        Syndrome::SysReg(access) => {
            let handled = cell::try_machine().zip(cell::current_cell(cpu)).and_then(
                |(machine, (index, c))| {
                    let write = (!access.read).then(|| frame.reg(access.register));
                    vgic::sysreg_access(machine, index, c, cpu, access.encoding, write)
                },
            );
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
    cell::current_cell(cpu).is_some_and(|(index, _)| ipc::claims(index, abort.ipa))
}

/// Emulates a cell's load or store to its virtual PCI bridge: the ECAM
/// window or a channel's register page (a doorbell).
fn emulate_virtual_pci(cpu: usize, frame: &mut TrapFrame, raw: RawSyndrome, abort: &DataAbort) {
    let (Some(transfer), Some(machine), Some((index, c))) =
        (abort.transfer, cell::try_machine(), cell::current_cell(cpu))
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
    match ipc::access(machine, index, c, abort.ipa, transfer.size, write) {
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
    cell::current_cell(cpu)
        .and_then(|(_, c)| c.console)
        .is_some_and(|console| console.window().contains(abort.ipa))
}

fn emulate_console(cpu: usize, frame: &mut TrapFrame, raw: RawSyndrome, abort: &DataAbort) {
    let Some(transfer) = abort.transfer else {
        // Pair loads, writeback and the like cannot be emulated.
        return fault(cpu, frame, "unemulatable console access", raw);
    };
    let offset = abort.ipa & 0xfff;
    if abort.write {
        let value = frame.reg(transfer.register) as u32;
        cell::console_access(cpu, offset, Some(value));
    } else {
        let value = cell::console_access(cpu, offset, None) as u64;
        frame.set_reg(transfer.register, extend(value, &transfer));
    }
    frame.elr = frame.elr.wrapping_add(4);
}

/// Emulates a cell's load or store to the GIC distributor or one of its
/// redistributors.
fn emulate_gic(cpu: usize, frame: &mut TrapFrame, raw: RawSyndrome, abort: &DataAbort) {
    let (Some(transfer), Some(machine), Some((index, c))) =
        (abort.transfer, cell::try_machine(), cell::current_cell(cpu))
    else {
        return fault(cpu, frame, "unemulatable GIC access", raw);
    };
    let write = abort.write.then(|| frame.reg(transfer.register));
    match vgic::mmio_access(machine, index, c, abort.ipa, transfer.size, write) {
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
    let Some((index, c)) = cell::current_cell(cpu) else {
        defmt::error!(
            "cpu {=usize}: exception with no cell, ESR {=u64:#x}",
            cpu,
            raw.esr
        );
        arch::halt()
    };
    if !cell::is_running(index) {
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

/// An exception taken at EL2 itself is a partitioner bug: report it and
/// stop this core. Other cores keep running their cells.
#[unsafe(no_mangle)]
extern "C" fn handle_el2_exception(frame: &mut TrapFrame, kind: u64) -> ! {
    let raw = arch::syndrome();
    defmt::error!(
        "partitioner exception {=u64} at EL2 on cpu {=usize}: PC {=u64:#x}, ESR {=u64:#x} ({=str}), FAR {=u64:#x}",
        kind,
        arch::cpu_index(),
        frame.elr,
        raw.esr,
        ec_name(raw.ec()),
        raw.far
    );
    arch::halt()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!(
        "partitioner panic on cpu {=usize}: {}",
        arch::cpu_index(),
        defmt::Display2Format(info)
    );
    arch::halt()
}
