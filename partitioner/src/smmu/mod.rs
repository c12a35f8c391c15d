//! The SMMUv3 as hardware (Arm IHI 0070, "SMMU architecture version 3"):
//! the register map, the stream table entry, the commands and the event
//! record, as far as the partitioner uses them. It uses the SMMU for one
//! thing: to confine the DMA of devices given to cells. Every stream ID
//! of such a device gets a stage-2-only stream table entry that points at
//! its cell's stage-2 tables, the very tables its CPUs use, under the
//! cell's VMID; so the device sees exactly the cell's guest-physical
//! space. Every other stream ID aborts. The partitioner's own driver,
//! which runs on the board, is `driver.rs`; what is here is pure data and
//! is tested on the host.
//!
//! Stage 1 is never used, so a cell cannot give its device any other view
//! of memory, and the SMMU's registers are the partitioner's alone (the
//! board lists it apart from the devices a cell may own).

use tock_registers::registers::{ReadOnly, ReadWrite};
use tock_registers::{register_bitfields, register_structs};

#[cfg(target_os = "none")]
pub(crate) mod driver;

register_bitfields! {u32,
    /// `SMMU_IDR0`: what the SMMU implements.
    pub(crate) IDR0 [
        /// Stage 2 translation.
        S2P OFFSET(0) NUMBITS(1) [],
        /// Translation table formats: 2 = AArch64, 3 = both.
        TTF OFFSET(2) NUMBITS(2) [],
        /// Coherent access to tables and queues.
        COHACC OFFSET(4) NUMBITS(1) [],
        /// 16-bit VMIDs.
        VMID16 OFFSET(18) NUMBITS(1) [],
    ],
    /// `SMMU_IDR1`: sizes.
    pub(crate) IDR1 [
        /// Stream ID bits.
        SIDSIZE OFFSET(0) NUMBITS(6) [],
        /// Largest event queue (log2 of entries).
        EVENTQS OFFSET(16) NUMBITS(5) [],
        /// Largest command queue (log2 of entries).
        CMDQS OFFSET(21) NUMBITS(5) [],
    ],
    /// `SMMU_IDR5`: output address size and granules.
    pub(crate) IDR5 [
        /// Output address size: 0 = 32 bits, 1 = 36, 2 = 40, 3 = 42, 4 = 44,
        /// 5 = 48, 6 = 52.
        OAS OFFSET(0) NUMBITS(3) [],
        /// 4 KiB translation granule.
        GRAN4K OFFSET(4) NUMBITS(1) [],
    ],
    /// `SMMU_CR0` (and `SMMU_CR0ACK`, which reports it taken).
    pub(crate) CR0 [
        /// Translation on: streams follow their table entries.
        SMMUEN OFFSET(0) NUMBITS(1) [],
        /// The event queue is written.
        EVENTQEN OFFSET(2) NUMBITS(1) [],
        /// The command queue is read.
        CMDQEN OFFSET(3) NUMBITS(1) [],
    ],
    /// `SMMU_CR1`: cacheability and shareability of the SMMU's accesses to
    /// the stream table (`TABLE_*`) and the queues (`QUEUE_*`).
    pub(crate) CR1 [
        QUEUE_IC OFFSET(0) NUMBITS(2) [],
        QUEUE_OC OFFSET(2) NUMBITS(2) [],
        QUEUE_SH OFFSET(4) NUMBITS(2) [],
        TABLE_IC OFFSET(6) NUMBITS(2) [],
        TABLE_OC OFFSET(8) NUMBITS(2) [],
        TABLE_SH OFFSET(10) NUMBITS(2) [],
    ],
    /// `SMMU_CR2`.
    pub(crate) CR2 [
        /// Record an event for a stream ID beyond the stream table.
        RECINVSID OFFSET(1) NUMBITS(1) [],
    ],
    /// `SMMU_GBPA`: what streams do while translation is off.
    pub(crate) GBPA [
        /// Abort every transaction (instead of letting it through).
        ABORT OFFSET(20) NUMBITS(1) [],
        /// Set to make the write take effect; reads 1 until it has.
        UPDATE OFFSET(31) NUMBITS(1) [],
    ],
    /// `SMMU_IRQ_CTRL` (and `SMMU_IRQ_CTRLACK`).
    pub(crate) IRQ_CTRL [
        GERROR_IRQEN OFFSET(0) NUMBITS(1) [],
        EVENTQ_IRQEN OFFSET(2) NUMBITS(1) [],
    ],
    /// `SMMU_STRTAB_BASE_CFG`.
    pub(crate) STRTAB_BASE_CFG [
        /// log2 of the number of entries of a linear table.
        LOG2SIZE OFFSET(0) NUMBITS(6) [],
        /// 0: linear, 1: two-level.
        FMT OFFSET(16) NUMBITS(2) [],
    ],
}

register_structs! {
    /// The SMMUv3's registers: page 0, and page 1 (at 64 KiB) for the
    /// event queue's indices.
    pub(crate) Registers {
        (0x00 => pub(crate) idr0: ReadOnly<u32, IDR0::Register>),
        (0x04 => pub(crate) idr1: ReadOnly<u32, IDR1::Register>),
        (0x08 => _reserved0),
        (0x14 => pub(crate) idr5: ReadOnly<u32, IDR5::Register>),
        (0x18 => _reserved1),
        (0x20 => pub(crate) cr0: ReadWrite<u32, CR0::Register>),
        (0x24 => pub(crate) cr0ack: ReadOnly<u32, CR0::Register>),
        (0x28 => pub(crate) cr1: ReadWrite<u32, CR1::Register>),
        (0x2c => pub(crate) cr2: ReadWrite<u32, CR2::Register>),
        (0x30 => _reserved2),
        (0x44 => pub(crate) gbpa: ReadWrite<u32, GBPA::Register>),
        (0x48 => _reserved3),
        (0x50 => pub(crate) irq_ctrl: ReadWrite<u32, IRQ_CTRL::Register>),
        (0x54 => pub(crate) irq_ctrlack: ReadOnly<u32, IRQ_CTRL::Register>),
        (0x58 => _reserved4),
        /// `SMMU_GERROR`: global errors, each active while its bit differs
        /// from `SMMU_GERRORN`'s.
        (0x60 => pub(crate) gerror: ReadOnly<u32>),
        (0x64 => pub(crate) gerrorn: ReadWrite<u32>),
        (0x68 => _reserved5),
        (0x80 => pub(crate) strtab_base: ReadWrite<u64>),
        (0x88 => pub(crate) strtab_base_cfg: ReadWrite<u32, STRTAB_BASE_CFG::Register>),
        (0x8c => _reserved6),
        /// `SMMU_CMDQ_BASE`: address and log2 of the number of entries.
        (0x90 => pub(crate) cmdq_base: ReadWrite<u64>),
        (0x98 => pub(crate) cmdq_prod: ReadWrite<u32>),
        (0x9c => pub(crate) cmdq_cons: ReadOnly<u32>),
        /// `SMMU_EVENTQ_BASE`: as the command queue's.
        (0xa0 => pub(crate) eventq_base: ReadWrite<u64>),
        (0xa8 => _reserved7),
        (0x100a8 => pub(crate) eventq_prod: ReadWrite<u32>),
        (0x100ac => pub(crate) eventq_cons: ReadWrite<u32>),
        (0x100b0 => @END),
    }
}

/// `SMMU_GERROR.CMDQ_ERR`: the command queue stopped at a bad command.
pub const GERROR_CMDQ_ERR: u32 = 1 << 0;
/// `SMMU_CMDQ_CONS.ERR`, bits 30:24: why the command queue stopped.
pub const fn cmdq_error(cons: u32) -> u32 {
    (cons >> 24) & 0x7f
}
/// `SMMU_EVENTQ_PROD.OVFLG`: events were lost (the queue was full); the
/// consumer acknowledges by copying it to `SMMU_EVENTQ_CONS.OVACKFLG`.
pub const QUEUE_OVERFLOW: u32 = 1 << 31;

/// Output address size codes of `SMMU_IDR5.OAS` and `VTCR_EL2.PS`, in
/// bits.
pub const fn address_bits(code: u32) -> u32 {
    match code {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        5 => 48,
        _ => 52,
    }
}

/// Why an SMMU with these ID registers cannot confine cells' DMA the way
/// the partitioner does it (stage 2, AArch64 tables, 4 KiB pages, an
/// output size at least the CPUs' stage-2 output size `stage2_ps`, a
/// `VTCR_EL2.PS` code), or `None` if it can.
pub fn unsupported(idr0: u32, idr5: u32, stage2_ps: u32) -> Option<&'static str> {
    if idr0 & 1 == 0 {
        return Some("no stage-2 translation (SMMU_IDR0.S2P = 0)");
    }
    if (idr0 >> 2) & 0b11 & 0b10 == 0 {
        return Some("no AArch64 translation tables (SMMU_IDR0.TTF)");
    }
    if (idr5 >> 4) & 1 == 0 {
        return Some("no 4 KiB granule (SMMU_IDR5.GRAN4K = 0)");
    }
    if address_bits(idr5 & 0b111) < address_bits(stage2_ps) {
        return Some("its output address size (SMMU_IDR5.OAS) is below the CPUs' stage 2's");
    }
    None
}

/// A stream table entry: eight doublewords.
pub type Ste = [u64; 8];

/// The entry of a stream that no cell owns: valid, `Config` = abort. A
/// transaction on it is terminated with an abort and no event.
pub const STE_ABORT: Ste = [1, 0, 0, 0, 0, 0, 0, 0];

/// The entry of a stream that cell with VMID `vmid` owns: stage 2 only,
/// through the tables at `root`, translated as `VTCR_EL2` value `vtcr`
/// says (the CPUs' own: the SMMU's `S2T0SZ`..`S2PS` fields are
/// `VTCR_EL2[18:0]`), AArch64 tables, faults recorded as events.
pub const fn ste_stage2(vmid: u16, vtcr: u64, root: u64) -> Ste {
    /// `Config` = 0b110: stage 1 bypass, stage 2 translate; and `V`.
    const CONFIG_S2_VALID: u64 = 0b110 << 1 | 1;
    /// `S2AA64`: AArch64 stage-2 tables.
    const S2AA64: u64 = 1 << 51;
    /// `S2PTW`: stage-1 table walks to Device memory fault (none here, a
    /// safe default).
    const S2PTW: u64 = 1 << 54;
    /// `S2R`: record faults as events.
    const S2R: u64 = 1 << 58;
    [
        CONFIG_S2_VALID,
        0,
        vmid as u64 | (vtcr & 0x7_ffff) << 32 | S2AA64 | S2PTW | S2R,
        root & 0x000f_ffff_ffff_fff0,
        0,
        0,
        0,
        0,
    ]
}

/// A command: two doublewords.
pub type Command = [u64; 2];

/// `CMD_CFGI_STE`: forget what is cached of stream `sid`'s entry.
pub const fn cfgi_ste(sid: u32) -> Command {
    // Leaf = 1: only the entry itself changed.
    [0x03 | (sid as u64) << 32, 1]
}

/// `CMD_CFGI_ALL`: forget every cached stream table entry.
pub const fn cfgi_all() -> Command {
    // Range = 31: all stream IDs.
    [0x04, 31]
}

/// `CMD_TLBI_S12_VMALL`: forget every translation of VMID `vmid`.
pub const fn tlbi_vmall(vmid: u16) -> Command {
    [0x28 | (vmid as u64) << 32, 0]
}

/// `CMD_TLBI_NSNH_ALL`: forget every non-secure, non-hypervisor
/// translation.
pub const fn tlbi_nsnh_all() -> Command {
    [0x30, 0]
}

/// `CMD_SYNC`: completes once every command before it has; no
/// interrupt, no write (the driver waits for the queue to drain).
pub const fn sync() -> Command {
    [0x46, 0]
}

/// A queue's producer or consumer index: the entry number in its low
/// `log2` bits and a wrap bit above them, which tells a full queue
/// (indices equal, wrap bits differ) from an empty one (both equal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueIndex {
    log2: u32,
}

impl QueueIndex {
    /// The index arithmetic of a queue of `1 << log2` entries.
    pub const fn new(log2: u32) -> Self {
        Self { log2 }
    }

    const fn mask(self) -> u32 {
        (2 << self.log2) - 1
    }

    /// The entry number of index `i`.
    pub const fn slot(self, i: u32) -> usize {
        (i & ((1 << self.log2) - 1)) as usize
    }

    /// The index after `i` (entry and wrap bit; other bits of `i` are
    /// dropped).
    pub const fn next(self, i: u32) -> u32 {
        (i + 1) & self.mask()
    }

    /// Whether a queue with these indices holds nothing.
    pub const fn is_empty(self, prod: u32, cons: u32) -> bool {
        prod & self.mask() == cons & self.mask()
    }

    /// Whether a queue with these indices has no free entry.
    pub const fn is_full(self, prod: u32, cons: u32) -> bool {
        (prod ^ cons) & self.mask() == 1 << self.log2
    }
}

/// What an event record tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The event type (`F_TRANSLATION` = 0x10, and so on).
    pub kind: u8,
    /// The stream whose transaction it was.
    pub stream: u32,
    /// The address the device used (its cell's guest-physical address).
    pub address: u64,
    /// A read (the device fetched memory) rather than a write.
    pub read: bool,
}

impl Event {
    /// Decodes a 32-byte event record.
    pub const fn decode(record: &[u64; 4]) -> Self {
        Self {
            kind: record[0] as u8,
            stream: (record[0] >> 32) as u32,
            address: record[2],
            read: record[1] >> 35 & 1 == 1,
        }
    }

    /// The event type's name in the architecture.
    pub const fn name(&self) -> &'static str {
        match self.kind {
            0x01 => "F_UUT (unsupported upstream transaction)",
            0x02 => "C_BAD_STREAMID (stream beyond the stream table)",
            0x03 => "F_STE_FETCH",
            0x04 => "C_BAD_STE",
            0x07 => "F_TRANSL_FORBIDDEN",
            0x10 => "F_TRANSLATION (address not mapped)",
            0x11 => "F_ADDR_SIZE (address beyond the cell's space)",
            0x12 => "F_ACCESS",
            0x13 => "F_PERMISSION (write to read-only memory)",
            0x20 => "F_CFG_CONFLICT",
            _ => "other",
        }
    }

    /// Whether the device's access was translated for its cell and
    /// refused: an address outside what the cell owns. Other events are
    /// configuration errors of the partitioner's or the hardware's.
    pub const fn is_device_fault(&self) -> bool {
        matches!(self.kind, 0x10..=0x13)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn registers_sit_where_the_architecture_puts_them() {
        assert_eq!(offset_of!(Registers, cr0), 0x20);
        assert_eq!(offset_of!(Registers, gbpa), 0x44);
        assert_eq!(offset_of!(Registers, strtab_base), 0x80);
        assert_eq!(offset_of!(Registers, cmdq_prod), 0x98);
        assert_eq!(offset_of!(Registers, eventq_base), 0xa0);
        assert_eq!(offset_of!(Registers, eventq_prod), 0x1_00a8);
        assert_eq!(offset_of!(Registers, eventq_cons), 0x1_00ac);
    }

    #[test]
    fn a_stage2_entry_carries_the_cells_tables_and_vmid() {
        // The CPUs' VTCR_EL2 of a cell: T0SZ 25, SL0 1, WBWA inner and
        // outer, inner shareable, 4 KiB, 40-bit output (PS 2), RES1 bit 31.
        let vtcr = 25 | 1 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 16 | 1 << 31;
        let ste = ste_stage2(3, vtcr, 0x4012_3000);
        assert_eq!(ste[0], 0xd, "valid, stage 2 only");
        assert_eq!(ste[2] & 0xffff, 3);
        // VTCR[18:0] in bits 50:32: RES1 and anything above is not copied.
        assert_eq!(ste[2] >> 32 & 0x7_ffff, 0x2_3559);
        assert_eq!(ste[2] >> 51 & 1, 1, "AArch64 tables");
        assert_eq!(ste[2] >> 58 & 1, 1, "faults recorded");
        assert_eq!(ste[3], 0x4012_3000);
        assert_eq!(STE_ABORT[0] >> 1 & 0b111, 0, "Config abort");
    }

    #[test]
    fn commands_encode_opcode_and_operands() {
        assert_eq!(cfgi_ste(0x10), [0x10_0000_0003, 1]);
        assert_eq!(tlbi_vmall(2)[0], 0x2_0000_0028);
        assert_eq!(sync()[0] & 0xff, 0x46);
        assert_eq!(cfgi_all()[1], 31);
        assert_eq!(tlbi_nsnh_all()[0], 0x30);
    }

    #[test]
    fn queue_indices_wrap_and_tell_full_from_empty() {
        let q = QueueIndex::new(2);
        assert!(q.is_empty(0, 0));
        let mut prod = 0;
        for _ in 0..4 {
            prod = q.next(prod);
        }
        assert_eq!(prod, 0b100, "wrapped");
        assert_eq!(q.slot(prod), 0);
        assert!(q.is_full(prod, 0) && !q.is_empty(prod, 0));
        assert!(!q.is_full(q.next(0), 0));
        // The overflow flag above the wrap bit is not part of the index.
        assert!(q.is_empty(QUEUE_OVERFLOW | 0b101, 0b101));
        for _ in 0..4 {
            prod = q.next(prod);
        }
        assert_eq!(prod, 0, "wrapped back");
    }

    #[test]
    fn a_translation_fault_record_decodes() {
        // F_TRANSLATION of stream 0x10, a write, at 0x4000_1000, stage 2.
        let record = [0x10_0000_0010, 1 << 39, 0x4000_1000, 0x4000_1000];
        let e = Event::decode(&record);
        assert_eq!(e.kind, 0x10);
        assert_eq!(e.stream, 0x10);
        assert_eq!(e.address, 0x4000_1000);
        assert!(!e.read && e.is_device_fault());
        assert!(e.name().starts_with("F_TRANSLATION"));
        let read = Event::decode(&[0x13, 1 << 35, 0, 0]);
        assert!(read.read && read.is_device_fault());
        assert!(!Event::decode(&[0x04, 0, 0, 0]).is_device_fault());
    }

    #[test]
    fn smmus_that_cannot_confine_are_named() {
        // QEMU 10's: S2P, S1P, TTF AArch64, COHACC...; OAS 44 bits, 4 KiB.
        let (idr0, idr5) = (0x0d44_101b, 0x0000_0074);
        assert_eq!(unsupported(idr0, idr5, 2), None);
        assert!(unsupported(idr0 & !1, idr5, 2).is_some());
        assert!(unsupported(idr0, idr5 & !0x10, 2).is_some());
        assert!(unsupported(idr0, (idr5 & !0b111) | 1, 2).is_some());
    }
}
