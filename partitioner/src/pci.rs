//! Physical PCI functions behind a generic ECAM host bridge that a cell
//! owns (`bulkhead_config::dma::cell_pci_ecams`). When the cell stops,
//! the partitioner turns off every function's bus mastering and its
//! memory and I/O decoding, as a reset leaves them, and resets each
//! function that supports Function Level Reset ([`stop_functions`]).
//! A transfer the stopped cell started or queued then no longer reaches
//! memory, whether an SMMU confines the bridge or not; a reset function
//! has dropped it, and one without FLR holds it until the cell's next
//! incarnation turns bus mastering on again. The new incarnation enables
//! what it uses, as after a reset (Linux enables the bridges on the way
//! to a device it enables; a bare-metal cell must do the same), but not
//! before [`RESET_WAIT_MS`] have passed since the resets.
//!
//! The walk is generic over [`ConfigSpace`], so that the host tests run
//! it on a simulated bus; [`Ecam`] is the bridge's window as the
//! partitioner maps it.

use bsp::MemRange;
use bulkhead_abi::pci::{
    command, config_space, express, header_type, offset, status, CAPABILITY_ID_EXPRESS,
    DEVICES_PER_BUS, ECAM_BUS_SIZE, FUNCTIONS_PER_DEVICE, HEADER_SIZE, NOT_READY, NO_FUNCTION,
};

/// The Command bits a stop clears: bus mastering, and memory and I/O
/// decoding.
pub const STOPPED_BITS: u16 = command::BUS_MASTER | command::MEMORY_SPACE | command::IO_SPACE;

/// The most buses an ECAM window holds.
const MAX_BUSES: u64 = 256;

/// How long a function may not be accessed after its Function Level
/// Reset began (PCI Express Base Specification, 6.6.2: 100 ms).
pub const RESET_WAIT_MS: u64 = 100;

/// The most capabilities a conventional configuration space holds (192
/// bytes of 4-byte entries): a longer list loops.
const MAX_CAPABILITIES: usize = 48;

/// How many times Transactions Pending is read before a reset: requests
/// still in flight when the function resets may complete into the next
/// incarnation's (PCI Express Base Specification, 6.6.2). A function
/// whose requests never complete is reset anyway.
const PENDING_POLLS: usize = 1000;

/// 16-bit access to the configuration space of one bridge's functions,
/// by a register's offset in its ECAM window ([`config_space`] plus the
/// register).
pub trait ConfigSpace {
    /// Reads the 16-bit register at `at`.
    fn read16(&mut self, at: u64) -> u16;
    /// Writes the 16-bit register at `at`.
    fn write16(&mut self, at: u64, value: u16);
}

/// What [`stop_functions`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Functions found (the host bridge's own included).
    pub functions: u32,
    /// Of them, those that had bus mastering on.
    pub were_mastering: u32,
    /// Of them, those reset by Function Level Reset: none may be accessed
    /// for [`RESET_WAIT_MS`].
    pub reset: u32,
    /// Functions that answered "not ready yet" (in a reset the cell
    /// started): left alone, not counted in `functions`.
    pub not_ready: u32,
}

/// Turns off bus mastering and decoding ([`STOPPED_BITS`]) of every
/// function on the first `buses` buses of `config`, then starts a
/// Function Level Reset of each that has one. Functions 1 to 7 of a
/// device are looked at only if its function 0 says it has them.
pub fn stop_functions(config: &mut impl ConfigSpace, buses: u64) -> Stopped {
    let mut stopped = Stopped::default();
    for bus in 0..buses.min(MAX_BUSES) {
        for device in 0..DEVICES_PER_BUS as u8 {
            for function in 0..FUNCTIONS_PER_DEVICE {
                // `bus` < 256: it fits.
                let base = config_space(bus as u8, device, function);
                let at = |register: u16| base + u64::from(register);
                match config.read16(at(offset::VENDOR_ID)) {
                    NO_FUNCTION if function == 0 => break,
                    NO_FUNCTION => continue,
                    // Its other registers may retry for as long as it is
                    // not ready: a read could hang here.
                    NOT_READY => {
                        stopped.not_ready += 1;
                        if function == 0 {
                            break;
                        }
                        continue;
                    }
                    _ => {}
                }
                stopped.functions += 1;
                let before = config.read16(at(offset::COMMAND));
                if before & command::BUS_MASTER != 0 {
                    stopped.were_mastering += 1;
                }
                if before & STOPPED_BITS != 0 {
                    config.write16(at(offset::COMMAND), before & !STOPPED_BITS);
                    // Read back: the write has reached the function.
                    config.read16(at(offset::COMMAND));
                }
                // Header Type is the low byte of the half-word at 0x0e.
                let header = config.read16(at(offset::HEADER_TYPE)) as u8;
                if let Some(cap) = express_capability(config, base) {
                    let capabilities = cap + u64::from(express::DEVICE_CAPABILITIES) + 2;
                    if config.read16(capabilities) & express::FLR_CAPABLE_HIGH != 0 {
                        let pending = cap + u64::from(express::DEVICE_STATUS);
                        for _ in 0..PENDING_POLLS {
                            if config.read16(pending) & express::TRANSACTIONS_PENDING == 0 {
                                break;
                            }
                        }
                        let control = cap + u64::from(express::DEVICE_CONTROL);
                        let value = config.read16(control);
                        config.write16(control, value | express::INITIATE_FLR);
                        stopped.reset += 1;
                    }
                }
                if function == 0 && header & header_type::MULTI_FUNCTION == 0 {
                    break;
                }
            }
        }
    }
    stopped
}

/// The offset of the PCI Express capability of the function whose
/// configuration space starts at `base`, if it has one. A list that
/// points into the header, or loops, ends the search.
fn express_capability(config: &mut impl ConfigSpace, base: u64) -> Option<u64> {
    if config.read16(base + u64::from(offset::STATUS)) & status::CAPABILITIES_LIST == 0 {
        return None;
    }
    let mut pointer = config.read16(base + u64::from(offset::CAPABILITIES_POINTER)) & 0xfc;
    for _ in 0..MAX_CAPABILITIES {
        if pointer < HEADER_SIZE {
            return None;
        }
        let header = config.read16(base + u64::from(pointer));
        if header as u8 == CAPABILITY_ID_EXPRESS {
            return Some(base + u64::from(pointer));
        }
        pointer = (header >> 8) & 0xfc;
    }
    None
}

/// A generic ECAM host bridge's configuration space, identity-mapped at
/// EL2 as device memory.
pub struct Ecam {
    window: MemRange,
}

impl Ecam {
    /// # Safety
    /// `window` must be the configuration space of a generic ECAM host
    /// bridge, identity-mapped at EL2 as device memory, and no one else
    /// may be writing its functions' Command registers meanwhile.
    pub const unsafe fn new(window: MemRange) -> Self {
        Self { window }
    }

    /// The buses the window holds.
    pub const fn buses(&self) -> u64 {
        self.window.size / ECAM_BUS_SIZE
    }

    /// The address of the 16-bit register at `at`, if it lies in the
    /// window.
    fn address(&self, at: u64) -> Option<usize> {
        (at & 1 == 0 && at.checked_add(2)? <= self.window.size)
            .then(|| (self.window.base + at) as usize)
    }
}

impl ConfigSpace for Ecam {
    fn read16(&mut self, at: u64) -> u16 {
        match self.address(at) {
            // SAFETY: an aligned half-word inside the window, which
            // `new`'s caller vouched is mapped configuration space.
            Some(address) => unsafe { core::ptr::read_volatile(address as *const u16) },
            None => NO_FUNCTION,
        }
    }

    fn write16(&mut self, at: u64, value: u16) {
        if let Some(address) = self.address(at) {
            // SAFETY: as in `read16`; the walk writes only Command (what
            // the function decodes and masters) and Device Control (its
            // reset), of functions whose cell is stopped.
            unsafe { core::ptr::write_volatile(address as *mut u16, value) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A simulated bus: each function's half-word registers by offset
    /// (absent ones read 0), by its configuration-space base.
    #[derive(Default)]
    struct Bus {
        functions: BTreeMap<u64, BTreeMap<u16, u16>>,
        reads: u32,
        /// The bases of the functions whose FLR was started.
        resets: Vec<u64>,
    }

    /// Where the simulated functions' PCI Express capability sits, after
    /// a vendor capability at 0x40.
    const EXPRESS_AT: u16 = 0x50;

    impl Bus {
        fn add(&mut self, bus: u8, device: u8, function: u8, command: u16, header: u8) {
            let base = config_space(bus, device, function);
            let registers = BTreeMap::from([
                (offset::VENDOR_ID, 0x1234),
                (offset::COMMAND, command),
                (offset::HEADER_TYPE, u16::from(header)),
            ]);
            self.functions.insert(base, registers);
        }

        /// Gives a function a capability list: a vendor capability, then
        /// the PCI Express one, whose Device Capabilities say `flr`.
        fn add_express(&mut self, bus: u8, device: u8, function: u8, flr: bool) {
            let f = self
                .functions
                .get_mut(&config_space(bus, device, function))
                .unwrap();
            f.insert(offset::STATUS, status::CAPABILITIES_LIST);
            f.insert(offset::CAPABILITIES_POINTER, 0x40);
            f.insert(0x40, EXPRESS_AT << 8 | 0x09);
            f.insert(EXPRESS_AT, u16::from(CAPABILITY_ID_EXPRESS));
            let high = if flr { express::FLR_CAPABLE_HIGH } else { 0 };
            f.insert(EXPRESS_AT + express::DEVICE_CAPABILITIES + 2, high);
        }

        fn command(&self, bus: u8, device: u8, function: u8) -> u16 {
            self.functions[&config_space(bus, device, function)][&offset::COMMAND]
        }
    }

    impl ConfigSpace for Bus {
        fn read16(&mut self, at: u64) -> u16 {
            self.reads += 1;
            match self.functions.get(&(at & !0xfff)) {
                Some(f) => f.get(&((at & 0xfff) as u16)).copied().unwrap_or(0),
                None => NO_FUNCTION,
            }
        }

        fn write16(&mut self, at: u64, value: u16) {
            let (base, register) = (at & !0xfff, (at & 0xfff) as u16);
            let control = EXPRESS_AT + express::DEVICE_CONTROL;
            assert!(
                register == offset::COMMAND || register == control,
                "only Command and Device Control are written, not {register:#x}"
            );
            if register == control && value & express::INITIATE_FLR != 0 {
                self.resets.push(base);
            }
            if let Some(f) = self.functions.get_mut(&base) {
                f.insert(register, value);
            }
        }
    }

    const ENABLED: u16 = STOPPED_BITS | command::INTERRUPT_DISABLE;

    #[test]
    fn every_function_stops_mastering_and_decoding_and_keeps_its_other_bits() {
        let mut bus = Bus::default();
        bus.add(0, 0, 0, 0, 0); // the host bridge, off
        bus.add(0, 2, 0, ENABLED, 0);
        bus.add(0, 5, 0, command::MEMORY_SPACE, header_type::MULTI_FUNCTION);
        bus.add(0, 5, 3, command::BUS_MASTER, 0);
        bus.add(1, 0, 0, command::BUS_MASTER, 0);
        let stopped = stop_functions(&mut bus, 2);
        assert_eq!(
            stopped,
            Stopped {
                functions: 5,
                were_mastering: 3,
                reset: 0,
                not_ready: 0
            }
        );
        assert_eq!(bus.command(0, 2, 0), command::INTERRUPT_DISABLE);
        assert_eq!(bus.command(0, 5, 0), 0);
        assert_eq!(bus.command(0, 5, 3), 0);
        assert_eq!(bus.command(1, 0, 0), 0);
        assert!(bus.resets.is_empty());
    }

    #[test]
    fn a_function_with_flr_is_reset_after_its_bus_mastering_is_off() {
        let mut bus = Bus::default();
        bus.add(0, 2, 0, ENABLED, 0);
        bus.add_express(0, 2, 0, true);
        bus.add(0, 3, 0, ENABLED, 0);
        bus.add_express(0, 3, 0, false);
        let stopped = stop_functions(&mut bus, 1);
        assert_eq!(stopped.reset, 1);
        assert_eq!(bus.resets, [config_space(0, 2, 0)]);
        assert_eq!(bus.command(0, 2, 0), command::INTERRUPT_DISABLE);
        assert_eq!(bus.command(0, 3, 0), command::INTERRUPT_DISABLE);
    }

    #[test]
    fn a_function_not_ready_is_left_alone_and_pending_transactions_are_awaited_a_while() {
        let mut bus = Bus::default();
        bus.add(0, 1, 0, ENABLED, 0);
        bus.functions
            .get_mut(&config_space(0, 1, 0))
            .unwrap()
            .insert(offset::VENDOR_ID, NOT_READY);
        // Its requests never complete: polled, then reset anyway.
        bus.add(0, 2, 0, ENABLED, 0);
        bus.add_express(0, 2, 0, true);
        bus.functions
            .get_mut(&config_space(0, 2, 0))
            .unwrap()
            .insert(
                EXPRESS_AT + express::DEVICE_STATUS,
                express::TRANSACTIONS_PENDING,
            );
        let stopped = stop_functions(&mut bus, 1);
        assert_eq!(
            (stopped.functions, stopped.not_ready, stopped.reset),
            (1, 1, 1)
        );
        assert_eq!(bus.command(0, 1, 0), ENABLED, "not touched");
        assert!(bus.reads > PENDING_POLLS as u32);
    }

    #[test]
    fn a_looping_or_wild_capability_list_ends_the_search() {
        let mut bus = Bus::default();
        bus.add(0, 1, 0, 0, 0);
        bus.add_express(0, 1, 0, true);
        // The vendor capability points at itself: no PCI Express one.
        let f = bus.functions.get_mut(&config_space(0, 1, 0)).unwrap();
        f.insert(0x40, 0x40 << 8 | 0x09);
        bus.add(0, 2, 0, 0, 0);
        bus.add_express(0, 2, 0, true);
        // Into the header: no capability there.
        let f = bus.functions.get_mut(&config_space(0, 2, 0)).unwrap();
        f.insert(offset::CAPABILITIES_POINTER, 0x10);
        assert_eq!(stop_functions(&mut bus, 1).reset, 0);
    }

    #[test]
    fn functions_beyond_0_of_a_single_function_device_and_buses_beyond_the_window_are_left_alone() {
        let mut bus = Bus::default();
        // Not multi-function: function 1 is not looked at (a device may
        // answer there with function 0's registers).
        bus.add(0, 3, 0, 0, 0);
        bus.add(0, 3, 1, ENABLED, 0);
        bus.add(1, 0, 0, ENABLED, 0);
        let stopped = stop_functions(&mut bus, 1);
        assert_eq!(stopped.functions, 1);
        assert_eq!(bus.command(0, 3, 1), ENABLED);
        assert_eq!(bus.command(1, 0, 0), ENABLED);
        // A full window: 256 buses, the last one walked too; more are
        // not there.
        let mut full = Bus::default();
        full.add(255, 31, 0, ENABLED, 0);
        assert_eq!(stop_functions(&mut full, 4096).functions, 1);
        assert_eq!(full.command(255, 31, 0), command::INTERRUPT_DISABLE);
        // An empty slot costs one read.
        let mut empty = Bus::default();
        stop_functions(&mut empty, 1);
        assert_eq!(empty.reads, DEVICES_PER_BUS as u32);
    }

    #[test]
    fn an_ecam_window_never_reaches_outside_itself() {
        // SAFETY: never dereferenced: every access below lies outside the
        // window or is misaligned.
        let mut ecam = unsafe { Ecam::new(MemRange::new(0x1000_0000, 2 * ECAM_BUS_SIZE)) };
        assert_eq!(ecam.buses(), 2);
        assert_eq!(ecam.read16(2 * ECAM_BUS_SIZE), NO_FUNCTION);
        assert_eq!(ecam.read16(2 * ECAM_BUS_SIZE - 1), NO_FUNCTION);
        assert_eq!(ecam.read16(u64::MAX - 1), NO_FUNCTION);
        ecam.write16(2 * ECAM_BUS_SIZE, 0);
        assert_eq!(ecam.address(2 * ECAM_BUS_SIZE - 2), Some(0x1020_0000 - 2));
    }
}
