//! The partitioner's SMMUv3 driver: at boot it takes the board's SMMU
//! ([`init`]) with every stream aborting, and as a cell starts and stops
//! it opens and closes the streams of the cell's devices
//! ([`open_streams`], [`close_streams`]). The SMMU's event interrupt goes
//! to the housekeeping core, where [`take_faults`] reads the faults of
//! devices, for the caller to log and to stop their cells by their
//! `on_fault` policy.
//!
//! The stream table is linear, [`STREAMS`] entries: stream IDs at and
//! above it (PCI functions beyond bus 0) have no entry and are aborted.
//! The command queue is waited on synchronously: each change ends with a
//! `CMD_SYNC`, and the queue drains before the call returns.

use super::{
    cfgi_all, cfgi_ste, cmdq_error, ste_stage2, sync, tlbi_nsnh_all, tlbi_vmall, unsupported,
    Command, Event, QueueIndex, Registers, Ste, CR0, CR1, CR2, GBPA, GERROR_CMDQ_ERR, IDR0, IDR1,
    IRQ_CTRL, QUEUE_OVERFLOW, STE_ABORT, STRTAB_BASE_CFG,
};
use crate::arch;
use crate::runtime::sync::{wait_until, SpinLock};
use bsp::{Board, Intid};
use bulkhead_config::{dma, System, MAX_CELLS};
use core::sync::atomic::{AtomicU64, Ordering};
use tock_registers::interfaces::{Readable, Writeable};

/// log2 of the stream table's entries (stream IDs 0..256, PCI bus 0),
/// one definition with the host tool's plan.
const STREAMS_LOG2: u32 = dma::STREAM_TABLE_LOG2;
/// Entries of the stream table.
pub const STREAMS: usize = 1 << STREAMS_LOG2;
/// log2 of the command queue's entries.
const CMDQ_LOG2: u32 = 5;
/// log2 of the event queue's entries.
const EVENTQ_LOG2: u32 = 5;
/// Events one [`take_faults`] reads at most: one queue full.
pub const EVENTS_PER_TURN: usize = 1 << EVENTQ_LOG2;
/// No cell owns the stream.
const NO_CELL: u8 = u8::MAX;

/// The stream table: aligned to its size, as `SMMU_STRTAB_BASE` requires.
#[repr(C, align(16384))]
struct StreamTable([Ste; STREAMS]);

/// The command queue: aligned to its size.
#[repr(C, align(512))]
struct CommandQueue([Command; 1 << CMDQ_LOG2]);

/// The event queue: aligned to its size.
#[repr(C, align(1024))]
struct EventQueue([[u64; 4]; 1 << EVENTQ_LOG2]);

struct Smmu {
    /// Its registers; null until [`init`] took it.
    registers: *const Registers,
    /// Whether its accesses to tables and queues snoop the CPUs' caches
    /// (`SMMU_IDR0.COHACC`); if not, every entry written is cleaned to
    /// the point of coherency first.
    coherent: bool,
    /// Producer index of the command queue (the SMMU's copy is written
    /// with it).
    command_prod: u32,
    table: StreamTable,
    commands: CommandQueue,
    events: EventQueue,
    /// The cell that owns each stream ([`NO_CELL`] for none).
    owner: [u8; STREAMS],
}

// SAFETY: `registers` points at the SMMU's MMIO, mapped at EL2 for the
// partitioner's life; the lock around `Smmu` serialises every access.
unsafe impl Send for Smmu {}

/// All zeros until [`init`] (which writes every entry and owner before it
/// sets `registers`; nothing reads them while `registers` is null), so
/// that its 48 KiB sit in `.bss`, not in the boot image.
static SMMU: SpinLock<Smmu> = SpinLock::new(Smmu {
    registers: core::ptr::null(),
    coherent: false,
    command_prod: 0,
    table: StreamTable([[0; 8]; STREAMS]),
    commands: CommandQueue([[0; 2]; 1 << CMDQ_LOG2]),
    events: EventQueue([[0; 4]; 1 << EVENTQ_LOG2]),
    owner: [0; STREAMS],
});

/// The SMMU's event and global-error interrupts, once [`init`] took it
/// (0: none).
static INTERRUPTS: AtomicU64 = AtomicU64::new(0);

/// Why the SMMU could not be taken or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// It cannot confine the way the partitioner does it.
    Unsupported(&'static str),
    /// A register write was not acknowledged.
    NoAck(&'static str),
    /// The command queue stopped at a command (`SMMU_CMDQ_CONS.ERR`).
    Command(u32),
}

impl Smmu {
    fn registers(&self) -> Option<&'static Registers> {
        // SAFETY: non-null only once `init` set it to the SMMU's MMIO
        // window, which the EL2 tables map as device memory for good.
        unsafe { self.registers.as_ref() }
    }

    fn publish(&self, start: *const u8, len: usize) {
        if !self.coherent {
            arch::clean_to_coherency(start as u64, len as u64);
        }
        arch::device_barrier();
    }

    /// Runs `commands` and a `CMD_SYNC`, and waits until the SMMU has
    /// consumed them all.
    fn run(&mut self, commands: &[Command]) -> Result<(), Error> {
        let Some(regs) = self.registers() else {
            return Ok(());
        };
        let q = QueueIndex::new(CMDQ_LOG2);
        for command in commands.iter().chain([sync()].iter()) {
            if !wait_until(|| !q.is_full(self.command_prod, regs.cmdq_cons.get())) {
                return Err(Error::NoAck("command queue full"));
            }
            let slot = q.slot(self.command_prod);
            self.commands.0[slot] = *command;
            self.publish(self.commands.0[slot].as_ptr().cast(), 16);
            self.command_prod = q.next(self.command_prod);
            regs.cmdq_prod.set(self.command_prod);
        }
        let drained = wait_until(|| {
            (regs.gerror.get() ^ regs.gerrorn.get()) & GERROR_CMDQ_ERR != 0
                || q.is_empty(self.command_prod, regs.cmdq_cons.get())
        });
        if (regs.gerror.get() ^ regs.gerrorn.get()) & GERROR_CMDQ_ERR != 0 {
            return Err(Error::Command(cmdq_error(regs.cmdq_cons.get())));
        }
        if drained {
            Ok(())
        } else {
            Err(Error::NoAck("CMD_SYNC"))
        }
    }

    fn write_ste(&mut self, sid: usize, ste: Ste) {
        let entry = &mut self.table.0[sid];
        // Dword 0 (with V and Config) last: the SMMU may read the entry
        // at any time, and must never see half of it.
        entry[1..].copy_from_slice(&ste[1..]);
        arch::device_barrier();
        entry[0] = ste[0];
        let start = entry.as_ptr().cast();
        self.publish(start, 64);
    }

    fn set_cr0(&self, regs: &Registers, value: u32) -> Result<(), Error> {
        regs.cr0.set(value);
        if wait_until(|| regs.cr0ack.get() == value) {
            Ok(())
        } else {
            Err(Error::NoAck("SMMU_CR0"))
        }
    }
}

/// Takes the board's SMMUv3, if it has one: global bypass off, every
/// stream aborted, the queues on, its interrupts on, translation on.
/// Streams open as their cells start ([`open_streams`]). Returns whether
/// there is one; an SMMU that cannot be taken is an error, and then no
/// cell with a device behind it may start.
pub fn init(board: &Board, system: &System) -> Result<bool, Error> {
    let Some(iommu) = dma::driven_smmu(board) else {
        return Ok(false);
    };
    let mut smmu = SMMU.lock();
    // SAFETY: the EL2 tables map the board's IOMMU windows as device
    // memory (`runtime::tables`); only this driver touches them.
    let regs = unsafe { &*(iommu.mmio[0].base as *const Registers) };
    if let Some(why) = unsupported(regs.idr0.get(), regs.idr5.get(), arch::stage2_output_size()) {
        return Err(Error::Unsupported(why));
    }
    if regs.idr1.read(IDR1::CMDQS) < CMDQ_LOG2 || regs.idr1.read(IDR1::EVENTQS) < EVENTQ_LOG2 {
        return Err(Error::Unsupported("its queues are too small"));
    }
    smmu.coherent = regs.idr0.is_set(IDR0::COHACC);
    // Abort, never bypass, whatever comes while translation is off.
    regs.gbpa.write(GBPA::ABORT::SET + GBPA::UPDATE::SET);
    if !wait_until(|| !regs.gbpa.is_set(GBPA::UPDATE)) {
        return Err(Error::NoAck("SMMU_GBPA"));
    }
    smmu.set_cr0(regs, 0)?;
    let (cache, share) = if smmu.coherent { (1, 3) } else { (0, 0) };
    regs.cr1.write(
        CR1::QUEUE_IC.val(cache)
            + CR1::QUEUE_OC.val(cache)
            + CR1::QUEUE_SH.val(share)
            + CR1::TABLE_IC.val(cache)
            + CR1::TABLE_OC.val(cache)
            + CR1::TABLE_SH.val(share),
    );
    regs.cr2.write(CR2::RECINVSID::SET);
    for sid in 0..STREAMS {
        smmu.write_ste(sid, STE_ABORT);
    }
    smmu.owner = [NO_CELL; STREAMS];
    for (index, cell) in system.cells.iter().enumerate().take(MAX_CELLS) {
        for streams in dma::cell_streams(board, cell).filter_map(|s| s.in_table()) {
            for sid in streams.first..=streams.last() {
                if let Some(owner) = smmu.owner.get_mut(sid as usize) {
                    *owner = index as u8;
                }
            }
        }
    }
    let table = smmu.table.0.as_ptr() as u64;
    // Read-allocate hint (bit 62) on the table and the command queue,
    // write-allocate on the event queue.
    const ALLOCATE: u64 = 1 << 62;
    regs.strtab_base.set(table | ALLOCATE);
    regs.strtab_base_cfg
        .write(STRTAB_BASE_CFG::FMT.val(0) + STRTAB_BASE_CFG::LOG2SIZE.val(STREAMS_LOG2));
    regs.cmdq_base
        .set(smmu.commands.0.as_ptr() as u64 | ALLOCATE | u64::from(CMDQ_LOG2));
    regs.cmdq_prod.set(0);
    smmu.command_prod = 0;
    smmu.set_cr0(regs, CR0::CMDQEN::SET.value)?;
    smmu.registers = regs as *const Registers;
    smmu.run(&[cfgi_all(), tlbi_nsnh_all()])?;
    regs.eventq_base
        .set(smmu.events.0.as_ptr() as u64 | ALLOCATE | u64::from(EVENTQ_LOG2));
    regs.eventq_prod.set(0);
    regs.eventq_cons.set(0);
    smmu.set_cr0(regs, CR0::CMDQEN::SET.value | CR0::EVENTQEN::SET.value)?;
    let irqs = (IRQ_CTRL::EVENTQ_IRQEN::SET + IRQ_CTRL::GERROR_IRQEN::SET).value;
    regs.irq_ctrl.set(irqs);
    if !wait_until(|| regs.irq_ctrlack.get() == irqs) {
        return Err(Error::NoAck("SMMU_IRQ_CTRL"));
    }
    smmu.set_cr0(
        regs,
        CR0::CMDQEN::SET.value | CR0::EVENTQEN::SET.value | CR0::SMMUEN::SET.value,
    )?;
    // The DT lists eventq, priq, cmdq-sync, gerror.
    let event = iommu.irqs.first().copied().unwrap_or(0);
    let gerror = iommu.irqs.get(3).copied().unwrap_or(0);
    INTERRUPTS.store(
        u64::from(event) | u64::from(gerror) << 32,
        Ordering::Relaxed,
    );
    Ok(true)
}

/// The SMMU's interrupts the housekeeping core takes: its event queue's
/// and its global errors' (0 where the board has none).
pub fn interrupts() -> [Intid; 2] {
    let both = INTERRUPTS.load(Ordering::Relaxed);
    [both as u32, (both >> 32) as u32]
}

/// The streams of cell `index` (VMID `vmid`) translate through its stage
/// 2 at `root`: called as the cell starts, its images loaded.
pub fn open_streams(index: usize, vmid: u16, root: u64) -> Result<(), Error> {
    let ste = ste_stage2(vmid, arch::stage2_vtcr(), root);
    change_streams(index, vmid, ste)
}

/// The streams of cell `index` (VMID `vmid`) abort, with no event, and
/// nothing of its translations stays cached: called as the cell stops,
/// after its stage 2 is revoked.
pub fn close_streams(index: usize, vmid: u16) -> Result<(), Error> {
    change_streams(index, vmid, STE_ABORT)
}

fn change_streams(index: usize, vmid: u16, ste: Ste) -> Result<(), Error> {
    let mut smmu = SMMU.lock();
    if smmu.registers.is_null() {
        return Ok(());
    }
    let mut commands: heapless::Vec<Command, { 1 << CMDQ_LOG2 }> = heapless::Vec::new();
    for sid in 0..STREAMS {
        if smmu.owner[sid] != index as u8 {
            continue;
        }
        smmu.write_ste(sid, ste);
        if commands.push(cfgi_ste(sid as u32)).is_err() {
            smmu.run(&commands)?;
            commands.clear();
            let _ = commands.push(cfgi_ste(sid as u32));
        }
    }
    let _ = commands.push(tlbi_vmall(vmid));
    smmu.run(&commands)
}

/// A fault the SMMU reported, with the cell that owns its stream.
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    /// What the event record says.
    pub event: Event,
    /// The owning cell's index, if a cell owns the stream.
    pub cell: Option<usize>,
}

/// What one look at the event queue found.
pub struct Faults {
    /// The events read, oldest first.
    pub events: heapless::Vec<Fault, EVENTS_PER_TURN>,
    /// Whether the SMMU lost events, the queue having been full.
    pub lost: bool,
    /// Global errors that became active (`SMMU_GERROR` bits), now
    /// acknowledged.
    pub global_errors: u32,
}

/// Reads what the SMMU reported (its event interrupt, on the housekeeping
/// core): the events in its queue, whether it lost any, and its global
/// errors, acknowledged. The caller logs them and stops the cells
/// (without this driver's lock held: a stop closes the cell's streams).
pub fn take_faults() -> Faults {
    let mut found = Faults {
        events: heapless::Vec::new(),
        lost: false,
        global_errors: 0,
    };
    let smmu = SMMU.lock();
    let Some(regs) = smmu.registers() else {
        return found;
    };
    let q = QueueIndex::new(EVENTQ_LOG2);
    let prod = regs.eventq_prod.get();
    let acknowledged = regs.eventq_cons.get();
    let mut cons = acknowledged;
    while !q.is_empty(prod, cons) {
        let slot = q.slot(cons);
        if !smmu.coherent {
            let record = smmu.events.0[slot].as_ptr() as u64;
            arch::clean_to_coherency(record, 32);
        }
        // SAFETY: the record lies in this driver's event queue, which the
        // SMMU wrote before it moved the producer index past it; a
        // volatile read sees what it wrote.
        let record = unsafe { core::ptr::read_volatile(&smmu.events.0[slot]) };
        let event = Event::decode(&record);
        let cell = smmu
            .owner
            .get(event.stream as usize)
            .filter(|&&owner| owner != NO_CELL)
            .map(|&owner| owner as usize);
        let _ = found.events.push(Fault { event, cell });
        cons = q.next(cons);
    }
    found.lost = (prod ^ acknowledged) & QUEUE_OVERFLOW != 0;
    // Consumed, and the overflow (if any) acknowledged.
    regs.eventq_cons
        .set((cons & !QUEUE_OVERFLOW) | (prod & QUEUE_OVERFLOW));
    let active = regs.gerror.get() ^ regs.gerrorn.get();
    if active != 0 {
        regs.gerrorn.set(regs.gerrorn.get() ^ active);
    }
    found.global_errors = active;
    found
}
