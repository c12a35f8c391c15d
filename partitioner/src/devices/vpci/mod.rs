//! The generic half of a virtual PCI host bridge: decoding a trapped ECAM
//! access, and the type 0 configuration header every emulated function
//! shares (identity, command and status, fixed BARs, interrupt line and
//! pin).
//!
//! A cell sees the bridge as a `pci-host-ecam-generic` node in its device
//! tree. The ECAM window is not mapped in stage 2, so every configuration
//! access traps and is decoded here. Which function sits behind which
//! device number, and what its device-specific registers mean, is the
//! business of the device model ([`crate::devices::ivshmem`]); this module knows
//! nothing about it. Pure logic, tested on the host.
//!
//! # ECAM
//!
//! PCI Express Base Specification, "Enhanced Configuration Access
//! Mechanism": one 4 KiB configuration space per function, at
//! `bulkhead_abi::pci::config_space` (the numbers of this interface are in
//! `bulkhead_abi::pci`, shared with the cells; this module is its
//! behaviour).
//!
//! Accesses are 1, 2 or 4 bytes wide and naturally aligned (Linux's
//! `pci_generic_config_read`/`write` issue exactly these). Anything else
//! is an [`AccessError`]; the caller reads all ones and ignores the write.
//!
//! # Type 0 header (PCI Local Bus Specification 3.0, 6.1)
//!
//! | Offset | Register | Here |
//! |-------:|:---------|:-----|
//! | 00h | Vendor ID, Device ID | [`Identity`] |
//! | 04h | Command | writable: Memory Space (1), Bus Master (2), Interrupt Disable (10, when the function has a pin) |
//! | 06h | Status | Interrupt Status (3) set by the device model, Capabilities List (4) when there are capabilities; no error bit is ever set, so the write-1-to-clear bits read 0 |
//! | 08h | Revision ID, Class Code | [`Identity`] |
//! | 0Ch | Cache Line Size, Latency Timer, Header Type, BIST | 0 (single-function type 0), writes ignored |
//! | 10h–24h | BAR 0–5 | [`Bars`]: fixed addresses, sizing protocol honoured |
//! | 28h | CardBus CIS | 0 |
//! | 2Ch | Subsystem Vendor ID, Subsystem ID | [`Identity`] |
//! | 30h | Expansion ROM BAR | 0, writes ignored: no ROM |
//! | 34h | Capabilities Pointer | [`Identity`] |
//! | 3Ch | Interrupt Line | read/write scratch byte for software |
//! | 3Dh | Interrupt Pin | [`Identity`]: 1 = INTA |
//! | 3Eh | Min_Gnt, Max_Lat | 0 |
//!
//! # Why the BARs are fixed
//!
//! The partitioner maps a function's memory into the cell's stage 2 once,
//! at boot, and traps its register BAR at one address. A BAR is therefore
//! read-only at the address the configuration gave it: writing all ones
//! to a BAR's address bits starts the sizing protocol (the next read
//! returns the size mask), any other write ends it, and a write that
//! would move the BAR is ignored and reported as
//! [`HeaderWrite::BarRelocation`]. Guests must not reassign BARs:
//! the cell's device tree sets `linux,pci-probe-only` (in `/chosen`,
//! which Linux 6.1's `pci-host-generic` reads, and in the host bridge
//! node, which newer kernels read), so Linux claims the BARs it finds
//! instead of assigning new ones; the bridge's `ranges` must cover them.
//! Honouring relocation instead would mean remapping stage 2 at run time
//! on a guest's request, which a static partitioner avoids.

pub use bulkhead_abi::pci::{
    bar as bar_bits, command, offset, status, BARS, CAPABILITY_ID_VENDOR, CONFIG_SPACE_SIZE,
    DEVICES_PER_BUS, ECAM_BUS_SIZE, HEADER_SIZE,
};

/// The width of a configuration access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// 8 bits.
    Byte,
    /// 16 bits.
    Half,
    /// 32 bits.
    Word,
}

impl Width {
    /// The width of an access of `bytes` bytes, if configuration space
    /// allows it.
    pub const fn from_bytes(bytes: usize) -> Option<Width> {
        match bytes {
            1 => Some(Width::Byte),
            2 => Some(Width::Half),
            4 => Some(Width::Word),
            _ => None,
        }
    }

    /// Bytes of the access.
    pub const fn bytes(self) -> u16 {
        match self {
            Width::Byte => 1,
            Width::Half => 2,
            Width::Word => 4,
        }
    }

    /// The value mask of the access.
    pub const fn mask(self) -> u32 {
        match self {
            Width::Byte => 0xff,
            Width::Half => 0xffff,
            Width::Word => 0xffff_ffff,
        }
    }
}

/// Why a configuration access cannot be carried out. Reads return all
/// ones, writes are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// The access is not 1, 2 or 4 bytes wide.
    Width,
    /// The access is not naturally aligned.
    Unaligned,
    /// The offset is beyond the largest ECAM window (256 buses).
    OutOfRange,
}

/// A valid access to one function's configuration space: naturally
/// aligned, 1, 2 or 4 bytes, inside the 4 KiB space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigAccess {
    register: u16,
    width: Width,
}

impl ConfigAccess {
    /// Checks an access of `bytes` bytes at byte offset `register`.
    pub fn new(register: u64, bytes: usize) -> Result<ConfigAccess, AccessError> {
        let width = Width::from_bytes(bytes).ok_or(AccessError::Width)?;
        if register >= CONFIG_SPACE_SIZE {
            return Err(AccessError::OutOfRange);
        }
        if !register.is_multiple_of(bytes as u64) {
            return Err(AccessError::Unaligned);
        }
        Ok(ConfigAccess {
            register: register as u16,
            width,
        })
    }

    /// The byte offset of the access.
    pub const fn register(&self) -> u16 {
        self.register
    }

    /// The width of the access.
    pub const fn width(&self) -> Width {
        self.width
    }

    /// The byte offset of the 32-bit register the access falls in.
    pub const fn dword(&self) -> u16 {
        self.register & !3
    }

    const fn shift(&self) -> u32 {
        (self.register % 4) as u32 * 8
    }

    /// The bytes of the 32-bit register the access touches, as a mask.
    pub const fn byte_mask(&self) -> u32 {
        self.width.mask() << self.shift()
    }

    /// The value a read returns, given the 32-bit register it falls in.
    pub const fn extract(&self, dword: u32) -> u32 {
        (dword >> self.shift()) & self.width.mask()
    }

    /// The 32-bit register after a write of `value`, given its current
    /// contents `old`: the bytes the access does not touch keep `old`.
    pub const fn merge(&self, old: u32, value: u32) -> u32 {
        let mask = self.byte_mask();
        (old & !mask) | ((value << self.shift()) & mask)
    }
}

/// Bus, device and function numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bdf {
    /// Bus number.
    pub bus: u8,
    /// Device number (0–31).
    pub device: u8,
    /// Function number (0–7).
    pub function: u8,
}

/// A decoded ECAM access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcamAccess {
    /// The function addressed.
    pub bdf: Bdf,
    /// The access inside its configuration space.
    pub access: ConfigAccess,
}

/// Decodes an access of `bytes` bytes at `offset` in an ECAM window whose
/// first bus is bus 0.
pub fn decode_ecam(offset: u64, bytes: usize) -> Result<EcamAccess, AccessError> {
    if offset >> 28 != 0 {
        return Err(AccessError::OutOfRange);
    }
    let access = ConfigAccess::new(offset & (CONFIG_SPACE_SIZE - 1), bytes)?;
    Ok(EcamAccess {
        bdf: Bdf {
            bus: (offset >> 20) as u8,
            device: ((offset >> 15) & 0x1f) as u8,
            function: ((offset >> 12) & 0x7) as u8,
        },
        access,
    })
}

/// What a function is, as its header reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Vendor ID.
    pub vendor_id: u16,
    /// Device ID.
    pub device_id: u16,
    /// Revision ID.
    pub revision_id: u8,
    /// Class Code: base class.
    pub base_class: u8,
    /// Class Code: sub-class.
    pub sub_class: u8,
    /// Class Code: programming interface.
    pub programming_interface: u8,
    /// Subsystem Vendor ID.
    pub subsystem_vendor_id: u16,
    /// Subsystem ID.
    pub subsystem_id: u16,
    /// Interrupt Pin: 0 for none, 1–4 for INTA–INTD.
    pub interrupt_pin: u8,
    /// Offset of the first capability, 0 for none.
    pub capabilities_pointer: u8,
}

/// Why a BAR cannot be described.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarError {
    /// A BAR's size must be a power of two and at least 16 bytes.
    Size,
    /// A BAR's base must be aligned to its size.
    Alignment,
    /// A 32-bit BAR must lie below 4 GiB.
    Above4GiB,
    /// BARs are numbered 0–5; a 64-bit BAR takes two and cannot be BAR 5.
    Index,
    /// The BAR (or the upper half of a 64-bit BAR) is already in use.
    Taken,
}

/// One memory BAR at a fixed address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    base: u64,
    size: u64,
    memory64: bool,
    prefetchable: bool,
}

impl Bar {
    /// A memory BAR of `size` bytes at `base`, 64-bit (two registers) or
    /// 32-bit, prefetchable or not.
    pub fn new(base: u64, size: u64, memory64: bool, prefetchable: bool) -> Result<Bar, BarError> {
        if !size.is_power_of_two() || size < 16 {
            return Err(BarError::Size);
        }
        if !base.is_multiple_of(size) {
            return Err(BarError::Alignment);
        }
        if !memory64 && base.checked_add(size).is_none_or(|end| end > 1 << 32) {
            return Err(BarError::Above4GiB);
        }
        Ok(Bar {
            base,
            size,
            memory64,
            prefetchable,
        })
    }

    /// Where the BAR is.
    pub const fn base(&self) -> u64 {
        self.base
    }

    /// How large it is.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// The type bits of the lower register: memory, 32 or 64-bit,
    /// prefetchable.
    const fn flags(&self) -> u32 {
        (if self.memory64 {
            bar_bits::MEMORY_64
        } else {
            0
        }) | (if self.prefetchable {
            bar_bits::PREFETCHABLE
        } else {
            0
        })
    }

    /// The address bits of the lower (`upper = false`) or upper register
    /// that a real BAR of this size would let software write.
    const fn writable(&self, upper: bool) -> u32 {
        let address = !(self.size - 1);
        if upper {
            (address >> 32) as u32
        } else {
            address as u32 & bar_bits::ADDRESS_MASK
        }
    }
}

/// What a BAR register holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BarSlot {
    /// No BAR: reads 0, writes ignored, so sizing finds nothing.
    None,
    /// A 32-bit BAR, or the lower half of a 64-bit one.
    Lower(Bar),
    /// The upper half of a 64-bit BAR.
    Upper(Bar),
}

/// A function's six BAR registers, at fixed addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bars {
    slots: [BarSlot; BARS],
    /// Whether the last write to each register started the sizing
    /// protocol (all address bits ones).
    sizing: [bool; BARS],
}

impl Bars {
    /// No BAR at all.
    pub const NONE: Bars = Bars {
        slots: [BarSlot::None; BARS],
        sizing: [false; BARS],
    };

    /// These BARs with `bar` added as BAR `index` (and `index + 1` for a
    /// 64-bit BAR).
    pub fn with(mut self, index: usize, bar: Bar) -> Result<Bars, BarError> {
        let registers = if bar.memory64 { 2 } else { 1 };
        if index + registers > BARS {
            return Err(BarError::Index);
        }
        if self.slots[index..index + registers]
            .iter()
            .any(|s| *s != BarSlot::None)
        {
            return Err(BarError::Taken);
        }
        self.slots[index] = BarSlot::Lower(bar);
        if bar.memory64 {
            self.slots[index + 1] = BarSlot::Upper(bar);
        }
        Ok(self)
    }

    /// The BAR that starts at register `index`, if any.
    pub fn get(&self, index: usize) -> Option<Bar> {
        match self.slots.get(index) {
            Some(BarSlot::Lower(bar)) => Some(*bar),
            _ => None,
        }
    }

    /// Whether any BAR register is in the middle of the sizing protocol.
    pub fn sizing(&self) -> bool {
        self.sizing.iter().any(|&s| s)
    }

    /// Reads BAR register `index`.
    pub fn read(&self, index: usize) -> u32 {
        let sizing = self.sizing.get(index).copied().unwrap_or(false);
        match self.slots.get(index) {
            Some(BarSlot::Lower(bar)) => {
                let address = if sizing {
                    bar.writable(false)
                } else {
                    bar.base as u32 & bar_bits::ADDRESS_MASK
                };
                address | bar.flags()
            }
            Some(BarSlot::Upper(bar)) if sizing => bar.writable(true),
            Some(BarSlot::Upper(bar)) => (bar.base >> 32) as u32,
            _ => 0,
        }
    }

    /// Writes `value` to BAR register `index`. Returns `false` when the
    /// write would have moved the BAR (it stays where it is).
    pub fn write(&mut self, index: usize, value: u32) -> bool {
        let (writable, current) = match self.slots.get(index) {
            Some(BarSlot::Lower(bar)) => (bar.writable(false), bar.base as u32),
            Some(BarSlot::Upper(bar)) => (bar.writable(true), (bar.base >> 32) as u32),
            _ => return true,
        };
        let sizing = value & writable == writable;
        if let Some(s) = self.sizing.get_mut(index) {
            *s = sizing;
        }
        sizing || value & writable == current & writable
    }

    /// Ends any sizing in progress (function reset).
    pub fn reset(&mut self) {
        self.sizing = [false; BARS];
    }
}

/// What a header write means for the device model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderWrite {
    /// Nothing the device model must act on: a read-only field, the
    /// interrupt line, or a BAR write that kept the BAR where it is.
    Done,
    /// The Command register changed.
    Command {
        /// Its value before.
        old: u16,
        /// Its value now.
        new: u16,
    },
    /// A write to BAR register `index` would have moved the BAR; ignored.
    BarRelocation {
        /// The BAR register written.
        index: usize,
    },
}

/// The type 0 header of one emulated function: its identity and BARs,
/// which the partitioner fixes, and the few bits the guest may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    identity: Identity,
    bars: Bars,
    command: u16,
    interrupt_line: u8,
    interrupt_status: bool,
}

impl Header {
    /// A function's header in its reset state (Command 0: no decoding, no
    /// bus mastering, INTx allowed).
    pub const fn new(identity: Identity, bars: Bars) -> Header {
        Header {
            identity,
            bars,
            command: 0,
            interrupt_line: 0,
            interrupt_status: false,
        }
    }

    /// Back to the reset state.
    pub fn reset(&mut self) {
        self.command = 0;
        self.interrupt_line = 0;
        self.interrupt_status = false;
        self.bars.reset();
    }

    /// The function's identity.
    pub const fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The function's BARs.
    pub const fn bars(&self) -> &Bars {
        &self.bars
    }

    /// The Command register.
    pub const fn command(&self) -> u16 {
        self.command
    }

    /// Whether the function decodes its memory BARs.
    pub const fn memory_enabled(&self) -> bool {
        self.command & command::MEMORY_SPACE != 0
    }

    /// Whether the guest masked INTx (Command.Interrupt Disable).
    pub const fn intx_disabled(&self) -> bool {
        self.command & command::INTERRUPT_DISABLE != 0
    }

    /// Status.Interrupt Status.
    pub const fn interrupt_status(&self) -> bool {
        self.interrupt_status
    }

    /// Sets or clears Status.Interrupt Status (the device model's INTx
    /// condition).
    pub fn set_interrupt_status(&mut self, pending: bool) {
        self.interrupt_status = pending;
    }

    /// The Command bits a guest can change.
    const fn writable_command(&self) -> u16 {
        let intx = if self.identity.interrupt_pin != 0 {
            command::INTERRUPT_DISABLE
        } else {
            0
        };
        command::MEMORY_SPACE | command::BUS_MASTER | intx
    }

    /// The Status register.
    pub const fn status(&self) -> u16 {
        let caps = if self.identity.capabilities_pointer != 0 {
            status::CAPABILITIES_LIST
        } else {
            0
        };
        let intx = if self.interrupt_status {
            status::INTERRUPT_STATUS
        } else {
            0
        };
        caps | intx
    }

    /// Reads the 32-bit header register at byte offset `dword` (a
    /// multiple of 4 below [`HEADER_SIZE`]; anything else reads 0).
    pub fn read_dword(&self, dword: u16) -> u32 {
        let id = &self.identity;
        match dword {
            0x00 => (id.device_id as u32) << 16 | id.vendor_id as u32,
            0x04 => (self.status() as u32) << 16 | self.command as u32,
            0x08 => {
                (id.base_class as u32) << 24
                    | (id.sub_class as u32) << 16
                    | (id.programming_interface as u32) << 8
                    | id.revision_id as u32
            }
            0x10..=0x24 => self.bars.read(((dword - offset::BAR0) / 4) as usize),
            0x2c => (id.subsystem_id as u32) << 16 | id.subsystem_vendor_id as u32,
            0x34 => id.capabilities_pointer as u32,
            0x3c => (id.interrupt_pin as u32) << 8 | self.interrupt_line as u32,
            _ => 0,
        }
    }

    /// Applies a guest write of `value` through `access` (which must fall
    /// below [`HEADER_SIZE`]; anything else is ignored).
    pub fn write(&mut self, access: ConfigAccess, value: u32) -> HeaderWrite {
        let dword = access.dword();
        let merged = access.merge(self.read_dword(dword), value);
        let touched = access.byte_mask();
        match dword {
            offset::COMMAND if touched & 0xffff != 0 => {
                let old = self.command;
                let writable = self.writable_command();
                self.command = (old & !writable) | (merged as u16 & writable);
                if self.command == old {
                    HeaderWrite::Done
                } else {
                    HeaderWrite::Command {
                        old,
                        new: self.command,
                    }
                }
            }
            0x10..=0x24 => {
                let index = ((dword - offset::BAR0) / 4) as usize;
                if self.bars.write(index, merged) {
                    HeaderWrite::Done
                } else {
                    HeaderWrite::BarRelocation { index }
                }
            }
            offset::INTERRUPT_LINE if touched & 0xff != 0 => {
                self.interrupt_line = merged as u8;
                HeaderWrite::Done
            }
            _ => HeaderWrite::Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: Identity = Identity {
        vendor_id: 0x1234,
        device_id: 0x5678,
        revision_id: 2,
        base_class: 0xff,
        sub_class: 0x40,
        programming_interface: 0x01,
        subsystem_vendor_id: 0x1234,
        subsystem_id: 0x9abc,
        interrupt_pin: 1,
        capabilities_pointer: 0x40,
    };

    fn header() -> Header {
        let bars = Bars::NONE
            .with(0, Bar::new(0x1000_0000, 0x1000, false, false).unwrap())
            .unwrap()
            .with(2, Bar::new(0x8_0000_0000, 0x20_0000, true, true).unwrap())
            .unwrap();
        Header::new(IDENTITY, bars)
    }

    fn read(h: &Header, register: u64, bytes: usize) -> u32 {
        let a = ConfigAccess::new(register, bytes).unwrap();
        a.extract(h.read_dword(a.dword()))
    }

    fn write(h: &mut Header, register: u64, bytes: usize, value: u32) -> HeaderWrite {
        h.write(ConfigAccess::new(register, bytes).unwrap(), value)
    }

    #[test]
    fn ecam_decoding() {
        let a = decode_ecam(0x3_a0f4, 4).unwrap();
        assert_eq!(
            a.bdf,
            Bdf {
                bus: 0,
                device: 7,
                function: 2
            }
        );
        assert_eq!(a.access.register(), 0x0f4);
        let a = decode_ecam(0x0ff0_0000 | 31 << 15 | 7 << 12 | 0xffe, 2).unwrap();
        assert_eq!((a.bdf.bus, a.bdf.device, a.bdf.function), (0xff, 31, 7));
        assert_eq!(decode_ecam(0x1000_0000, 4), Err(AccessError::OutOfRange));
        assert_eq!(decode_ecam(0x2, 4), Err(AccessError::Unaligned));
        assert_eq!(decode_ecam(0x3, 2), Err(AccessError::Unaligned));
        assert_eq!(decode_ecam(0x0, 8), Err(AccessError::Width));
        assert_eq!(decode_ecam(0x0, 3), Err(AccessError::Width));
        assert_eq!(decode_ecam(0x0, 0), Err(AccessError::Width));
        assert_eq!(decode_ecam(u64::MAX, 1), Err(AccessError::OutOfRange));
    }

    #[test]
    fn byte_lanes() {
        let a = ConfigAccess::new(0x3d, 1).unwrap();
        assert_eq!((a.dword(), a.byte_mask()), (0x3c, 0xff00));
        assert_eq!(a.extract(0x1234_5678), 0x56);
        assert_eq!(a.merge(0x1234_5678, 0xab), 0x1234_ab78);
        let a = ConfigAccess::new(0x06, 2).unwrap();
        assert_eq!(a.extract(0x1234_5678), 0x1234);
        assert_eq!(a.merge(0x1234_5678, 0xffff_abcd), 0xabcd_5678);
    }

    #[test]
    fn identity_reads_back() {
        let h = header();
        assert_eq!(read(&h, 0, 4), 0x5678_1234);
        assert_eq!(read(&h, 2, 2), 0x5678);
        assert_eq!(read(&h, 8, 4), 0xff40_0102);
        assert_eq!(read(&h, 0x0e, 1), 0);
        assert_eq!(read(&h, 0x2c, 4), 0x9abc_1234);
        assert_eq!(read(&h, 0x34, 1), 0x40);
        assert_eq!(read(&h, 0x3d, 1), 1);
        assert_eq!(read(&h, 0x06, 2), status::CAPABILITIES_LIST as u32);
    }

    #[test]
    fn command_keeps_only_writable_bits() {
        let mut h = header();
        assert_eq!(
            write(&mut h, 4, 4, 0xffff_ffff),
            HeaderWrite::Command {
                old: 0,
                new: 0x0406
            }
        );
        assert_eq!(read(&h, 6, 2), status::CAPABILITIES_LIST as u32);
        // The UIO HOWTO's unmask: one byte at offset 5.
        assert!(matches!(
            write(&mut h, 5, 1, 0),
            HeaderWrite::Command { new: 0x0006, .. }
        ));
        assert_eq!(write(&mut h, 4, 1, 0x06), HeaderWrite::Done);
        let no_pin = Header::new(
            Identity {
                interrupt_pin: 0,
                ..IDENTITY
            },
            Bars::NONE,
        );
        let mut no_pin = no_pin;
        write(&mut no_pin, 4, 2, 0xffff);
        assert_eq!(no_pin.command(), 0x0006);
    }

    #[test]
    fn bar_sizing_and_relocation() {
        let mut h = header();
        assert_eq!(read(&h, 0x10, 4), 0x1000_0000);
        assert_eq!(write(&mut h, 0x10, 4, !0), HeaderWrite::Done);
        assert_eq!(read(&h, 0x10, 4), 0xffff_f000);
        assert_eq!(write(&mut h, 0x10, 4, 0x1000_0000), HeaderWrite::Done);
        assert_eq!(read(&h, 0x10, 4), 0x1000_0000);
        // 64-bit prefetchable BAR 2/3 of 2 MiB at 32 GiB.
        assert_eq!(read(&h, 0x18, 4), 0x0000_000c);
        assert_eq!(read(&h, 0x1c, 4), 0x8);
        write(&mut h, 0x18, 4, !0);
        write(&mut h, 0x1c, 4, !0);
        assert!(h.bars().sizing());
        assert_eq!(read(&h, 0x18, 4), 0xffe0_000c);
        assert_eq!(read(&h, 0x1c, 4), 0xffff_ffff);
        write(&mut h, 0x18, 4, 0xc);
        write(&mut h, 0x1c, 4, 0x8);
        assert!(!h.bars().sizing());
        // Absent BARs and the ROM size to nothing.
        for register in [0x14, 0x20, 0x24, 0x30] {
            write(&mut h, register, 4, !0);
            assert_eq!(read(&h, register, 4), 0);
        }
        // Moving is refused.
        assert_eq!(
            write(&mut h, 0x10, 4, 0x2000_0000),
            HeaderWrite::BarRelocation { index: 0 }
        );
        assert_eq!(
            write(&mut h, 0x1f, 1, 0x01),
            HeaderWrite::BarRelocation { index: 3 }
        );
        assert_eq!(read(&h, 0x10, 4), 0x1000_0000);
        assert_eq!(read(&h, 0x1c, 4), 0x8);
        // The flag bits are not address bits.
        assert_eq!(write(&mut h, 0x10, 4, 0x1000_000f), HeaderWrite::Done);
    }

    #[test]
    fn bar_constraints() {
        assert_eq!(Bar::new(0, 0x1800, false, false), Err(BarError::Size));
        assert_eq!(Bar::new(0, 8, false, false), Err(BarError::Size));
        assert_eq!(
            Bar::new(0x800, 0x1000, false, false),
            Err(BarError::Alignment)
        );
        assert_eq!(
            Bar::new(0xffff_f000, 0x2000, false, false),
            Err(BarError::Alignment)
        );
        assert_eq!(
            Bar::new(0x1_0000_0000, 0x1000, false, false),
            Err(BarError::Above4GiB)
        );
        assert!(Bar::new(0xffff_f000, 0x1000, false, false).is_ok());
        let bar64 = Bar::new(0, 0x1000, true, true).unwrap();
        assert_eq!(Bars::NONE.with(5, bar64), Err(BarError::Index));
        assert_eq!(Bars::NONE.with(6, bar64), Err(BarError::Index));
        let bars = Bars::NONE.with(1, bar64).unwrap();
        assert_eq!(bars.with(2, bar64), Err(BarError::Taken));
        assert_eq!(bars.get(1), Some(bar64));
        assert_eq!(bars.get(2), None);
        // A BAR of 8 GiB: the lower register has no address bits.
        let huge = Bars::NONE
            .with(
                0,
                Bar::new(0x2_0000_0000, 0x2_0000_0000, true, true).unwrap(),
            )
            .unwrap();
        let mut h = Header::new(IDENTITY, huge);
        write(&mut h, 0x10, 4, !0);
        write(&mut h, 0x14, 4, !0);
        assert_eq!(read(&h, 0x10, 4), 0xc);
        assert_eq!(read(&h, 0x14, 4), 0xffff_fffe);
    }
}
