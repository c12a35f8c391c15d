//! The partitioner at run time on the board: boot (here), the machine
//! description ([`machine`]), the cells' life cycle ([`cell`]), the trap
//! handlers ([`traps`]), the console ([`console`]) and the table pool
//! ([`tables`]). The emulated devices' run-time halves are in
//! `crate::devices`.

pub mod cell;
pub mod console;
mod dma;
pub mod exits;
pub mod housekeeping;
pub mod machine;
pub mod sync;
mod tables;
mod traps;

use crate::arch::esr::ec_name;
use crate::arch::{self, TrapFrame};
use crate::devices::{ivshmem, vgic};
use crate::gic::driver as gic;
use bsp::MemRange;
use bulkhead_config::blob;
use bulkhead_config::FaultPolicy;
use core::sync::atomic::{AtomicUsize, Ordering};
use machine::Machine;

include!(concat!(env!("OUT_DIR"), "/board.rs"));

/// Which board this image is for, where `bulkhead build` finds it
/// (`bulkhead_config::identity`; the image header's `res2` points here).
#[used]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".rodata.identity")]
static BULKHEAD_IDENTITY: bulkhead_config::identity::Record =
    bulkhead_config::identity::Record::new(BOARD.name, LOAD_ADDRESS);

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
    if let Some(why) = gic::version_mismatch(BOARD) {
        defmt::error!("GIC: {=str}; refusing to start any cell", why);
        arch::halt()
    }
    let machine = match load_config() {
        Ok(m) => machine::install(m),
        Err(()) => {
            defmt::error!("no valid config: refusing to start any cell");
            arch::halt()
        }
    };
    print_summary(machine);
    if ivshmem::runtime::init(machine).is_err() {
        defmt::error!("channels could not be set up: refusing to start any cell");
        arch::halt()
    }
    vgic::runtime::compute_interrupt_tables(machine);
    arch::configure_el2_for_cells(BOARD.gic.version == bsp::GicVersion::V3);
    let path = gic::init_distributor(BOARD);
    defmt::info!(
        "GIC: {=str}, control path {=str}",
        match (BOARD.gic.version, path) {
            (bsp::GicVersion::V2, _) => "GICv2",
            (_, bsp::ControlPath::Group0Fiq) => "one security state (DS = 1)",
            _ => "firmware keeps Group 0 (DS = 0)",
        },
        path.name()
    );
    if !gic::init_cpu(BOARD, me, arch::mpidr()) {
        defmt::error!("no GIC redistributor or CPU interface for the boot core");
        arch::halt()
    }
    console::start_input(BOARD, housekeeping::housekeeper());
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
    if !dma::take_smmu(machine, housekeeping::housekeeper()) {
        defmt::error!("a cell owns a device behind the SMMU: refusing to start any cell");
        arch::halt()
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
    let findings = bulkhead_config::rules::check(&system, BOARD, |f| {
        defmt::error!(
            "config: {=str} {} at {}",
            f.problem.code(),
            defmt::Debug2Format(&f.problem),
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
            .any(|c| c.cpus.iter().any(|cpu| cpu >= machine::MAX_RUNTIME_CPUS))
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
        let wfi = if cell::traps_wfi(index) {
            "trapped"
        } else {
            "direct"
        };
        let interrupts = if system.virtualized.contains(index) {
            "virtualized"
        } else {
            "direct"
        };
        defmt::info!(
            "cell {=str}: cpus {=u64:#b} ({=usize} vCPUs), entry {=u64:#x}, on fault: {=str}, WFI {=str}, interrupts {=str}",
            c.name.as_str(),
            c.cpus.bits(),
            c.cpus.len(),
            c.entry,
            policy,
            wfi,
            interrupts
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

/// Starts every other core, through PSCI or the boot firmware's spin
/// table as the board says, and waits (bounded) until they are parked, so
/// that cells can `CPU_ON` them at once. Without PSCI firmware the
/// partitioner never issues an SMC.
fn start_secondaries(me: usize) {
    if BOARD.cpu_boot == bsp::CpuBoot::SpinTable {
        return release_secondaries(me);
    }
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

/// Releases every other core from the boot firmware's spin table, one at
/// a time (each reads its index from the same word), waiting (bounded)
/// for each to come up.
fn release_secondaries(me: usize) {
    let hz = arch::counter_frequency(BOARD.counter_hz);
    let mut started = 0;
    for (cpu, c) in BOARD.cpus.iter().enumerate().filter(|(i, _)| *i != me) {
        let Some(release) = c.release_address else {
            defmt::warn!("cpu {=usize} has no spin-table release address", cpu);
            continue;
        };
        let online = CORES_ONLINE.load(Ordering::Acquire);
        arch::release_from_spin_table(release, cpu);
        let deadline = arch::counter() + hz / 4;
        while CORES_ONLINE.load(Ordering::Acquire) == online && arch::counter() < deadline {
            core::hint::spin_loop();
        }
        if CORES_ONLINE.load(Ordering::Acquire) > online {
            started += 1;
        } else {
            defmt::warn!(
                "cpu {=usize} did not come out of the spin table at {=u64:#x}",
                cpu,
                release
            );
        }
    }
    defmt::info!(
        "{=usize} of {=usize} secondary cores online (spin table)",
        started,
        BOARD.cpus.len() - 1
    );
}

/// First Rust code on a secondary core, with the MMU off.
#[unsafe(no_mangle)]
extern "C" fn secondary_main(cpu: u64) -> ! {
    let cpu = cpu as usize;
    // SAFETY: the boot core published complete tables before CPU_ON.
    unsafe { arch::enable_el2_mmu(tables::published_root()) };
    arch::set_cpu_index(cpu);
    arch::configure_el2_for_cells(BOARD.gic.version == bsp::GicVersion::V3);
    if !gic::init_cpu(BOARD, cpu, arch::mpidr()) {
        defmt::error!("cpu {=usize}: no GIC redistributor or CPU interface", cpu);
        arch::halt()
    }
    CORES_ONLINE.fetch_add(1, Ordering::AcqRel);
    cell::core_online(cpu)
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
