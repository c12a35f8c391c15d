//! The IPC device: one ivshmem-v2-style PCI function per shared-memory
//! channel, behind each peer cell's virtual PCI host bridge.
//!
//! A channel is a region of RAM that two or more cells (its *peers*)
//! share, plus doorbell interrupts between them. Each peer sees the
//! channel as PCI function `00:NN.0` of a `pci-host-ecam-generic` bridge
//! in its device tree: stock Linux binds `uio_pci_generic` to it and maps
//! its BARs from user space; bare-metal cells read the fixed BARs. The
//! device follows Jailhouse's ivshmem-v2 specification
//! (`Documentation/ivshmem-v2-specification.md` in Jailhouse), with INTx
//! as its only interrupt (the partitioner emulates no MSI controller). This
//! module is the pure model: configuration space, register file, INTx
//! state and the channel's state table. It never touches hardware; the
//! runtime applies the [`Action`]s it returns. Tested on the host.
//!
//! The numbers (IDs, offsets, the sections of the shared memory) are
//! `bulkhead_abi::ivshmem`, shared with the channel library and the
//! bare-metal cells; this module is their behaviour.
//!
//! # Shared memory
//!
//! Every size is a multiple of 4 KiB, so stage 2 can enforce the
//! permissions ([`Layout::sections`]). The partitioner writes the state
//! table ([`Action::StateChanged`]); no cell can.
//!
//! # Configuration space (spec: "Configuration Space Registers")
//!
//! | Offset | Register | Value |
//! |-------:|:---------|:------|
//! | 00h | Vendor ID | [`VENDOR_ID`] `110Ah` |
//! | 02h | Device ID | [`DEVICE_ID`] `4106h` |
//! | 04h | Command | 0 at reset; writable: Memory Space (1), Bus Master (2), Interrupt Disable (10) |
//! | 06h | Status | Capabilities List (4) always; Interrupt Status (3) while an interrupt is unacknowledged (see *INTx*) |
//! | 08h | Revision ID | 0 |
//! | 09h | Class Code: interface | protocol bits 7:0 |
//! | 0Ah | Class Code: sub-class | protocol bits 15:8 |
//! | 0Bh | Class Code: base class | [`BASE_CLASS`] `FFh` |
//! | 0Eh | Header Type | 0 |
//! | 10h | BAR 0 | registers: 32-bit memory, non-prefetchable, 4 KiB, trapped |
//! | 14h | BAR 1 | not implemented (it would hold the MSI-X table) |
//! | 18h | BAR 2 (+ BAR 3 at 1Ch) | shared memory: 64-bit memory, prefetchable, mapped in stage 2 |
//! | 2Ch | Subsystem Vendor ID | `110Ah` |
//! | 2Eh | Subsystem ID | `4106h` |
//! | 34h | Capabilities Pointer | [`VENDOR_CAPABILITY`] `40h` |
//! | 3Ch | Interrupt Line | scratch byte for software |
//! | 3Dh | Interrupt Pin | 1 (INTA) |
//! | 40h | vendor-specific capability | below |
//! | 58h–FFFh | | read 0, writes ignored |
//!
//! Vendor-specific capability at 40h (spec: "Vendor Specific Capability"):
//!
//! | Offset | Register | Value |
//! |-------:|:---------|:------|
//! | 40h | Capability ID | `09h` |
//! | 41h | Next Capability | 0 (last) |
//! | 42h | Length | [`VENDOR_CAPABILITY_LENGTH`] `18h`: no Base Address register, because the shared memory is BAR 2 |
//! | 43h | Privileged Control | bit 0 read/write: one-shot interrupt mode |
//! | 44h | State Table Size | 32 bits |
//! | 48h | R/W Section Size | 64 bits |
//! | 50h | Output Section Size | 64 bits |
//!
//! # Registers in BAR 0 (spec: "Register Region")
//!
//! Aligned 32-bit accesses only; others are refused ([`Refusal::RegisterWidth`]).
//! Unbacked offsets of the 4 KiB page read 0 and ignore writes.
//!
//! | Offset | Register | Access | Meaning |
//! |-------:|:---------|:-------|:--------|
//! | 00h | ID | RO | this peer's id (its index in [`ChannelDescription::peers`]) |
//! | 04h | Maximum Peers | RO | number of peers |
//! | 08h | Interrupt Control | RW | bit 0: this peer accepts interrupts (0 at reset) |
//! | 0Ch | Doorbell | WO (reads 0) | `peer << 16 \| vector`: interrupt `peer`; INTx has only vector 0 |
//! | 10h | State | RW | this peer's state; a change is copied into the state table and interrupts every other peer |
//!
//! A doorbell reaches the target only if the target is a peer of the
//! channel, the vector is 0 and the target enabled Interrupt Control;
//! otherwise it is refused and counted on the ringing peer
//! ([`Refusal::NoSuchPeer`], [`Refusal::InvalidVector`],
//! [`Refusal::TargetNotEnabled`]). A doorbell to oneself is allowed, as
//! in the spec. While Command.Memory Space is clear, BAR 0 does not
//! decode ([`Refusal::MemoryDisabled`]: reads all ones).
//!
//! # INTx
//!
//! An accepted event (doorbell, or another peer's state change) sets the
//! target's Status.Interrupt Status and, unless the target's Command has
//! Interrupt Disable set, asks the runtime to set the target's SPI
//! pending ([`Action::RaiseIntx`]; the runtime first makes the sender's
//! writes visible). With Interrupt Disable set the event is *held*: the
//! status bit stays set and the SPI is raised when the guest clears
//! Interrupt Disable. Setting Interrupt Disable while the status bit is
//! set acknowledges the event and clears the bit. With one-shot mode on,
//! each accepted event also clears Interrupt Control (spec).
//!
//! This is what `uio_pci_generic` needs: its handler
//! (`pci_check_and_mask_intx`) claims the interrupt only if Interrupt
//! Status is set, and masks it; user space then unmasks through the
//! config file. Deviation from ivshmem-v2: the spec says Interrupt
//! Status is never set, which would make that handler return `IRQ_NONE`
//! for every interrupt until Linux disables the line. Deviation from a
//! strict PCI 2.3 device: ivshmem has no device register that clears the
//! INTx condition, so the guest's masking write is the acknowledgement.
//! Events that arrive while Interrupt Control is clear are not held
//! (spec: they have no effect).
//!
//! # BARs are fixed
//!
//! Both BARs sit where the configuration puts them, and stage 2 maps
//! the shared memory there once, at boot. The sizing protocol works;
//! a write that would move a BAR is ignored and counted
//! ([`Refusal::BarRelocation`]). The cell's device tree must set
//! `linux,pci-probe-only` so that Linux keeps the BARs it finds, and the
//! bridge's `ranges` must cover BAR 0 (below 4 GiB) and the whole of
//! BAR 2 (see [`crate::devices::vpci`]).
//!
//! # For the runtime
//!
//! At boot: build a [`Channel`] from each [`ChannelDescription`], a
//! [`HostBridge`] for each cell ([`HostBridge::for_cell`]), zero each
//! channel's state table, map each peer's [`Layout::sections`] at its
//! BAR 2 address, and leave the ECAM window and every BAR 0 page
//! unmapped. On a trap in the ECAM window, [`HostBridge::route_config`],
//! then [`Channel::config_read`] or [`Channel::config_write`]; on a trap
//! in a BAR 0 page ([`HostBridge::route_register`]),
//! [`Channel::register_read`] or [`Channel::register_write`]. When a
//! cell stops or restarts, [`Channel::reset_peer`] for each of its
//! functions. Apply the returned [`Actions`] in order: the state table
//! write ([`Action::StateChanged`]) while still holding the channel's
//! lock, so that two racing state writes reach the table in the order
//! the model saw them; the SPIs may be set pending after releasing it.
//! A refusal is already counted; log it rate-limited, and let the cell
//! continue (reads of a refused access return the [`Read`] value or all
//! ones, writes are dropped).

#[cfg(target_os = "none")]
pub(crate) mod runtime;

use crate::devices::vpci::{
    self, AccessError, Bar, BarError, Bars, ConfigAccess, Header, HeaderWrite, Identity,
    DEVICES_PER_BUS, HEADER_SIZE,
};
use crate::gic::MAX_INTID;
use bsp::{Board, Intid};
use bulkhead_config::{doorbell_spi, System, MAX_CHANNEL_PEERS, PAGE_SIZE, STATE_TABLE_SIZE};
use heapless::Vec;

pub use bulkhead_abi::ivshmem::{
    capability, register, Sections, BASE_CLASS, DEVICE_ID, INTERRUPT_PIN_A, INTX_VECTORS,
    PROTOCOL_BULKHEAD_CHANNEL, REGISTERS_BAR, REGISTERS_SIZE, SHARED_MEMORY_BAR, SUBSYSTEM_ID,
    SUBSYSTEM_VENDOR_ID, VENDOR_CAPABILITY, VENDOR_CAPABILITY_LENGTH, VENDOR_ID,
};
use register::INT_CONTROL_ENABLE;

/// Most peers of a channel: as many as the config allows. The
/// specification allows more; the partitioner's tables are sized by this.
pub const MAX_PEERS: usize = MAX_CHANNEL_PEERS;

/// One peer of a channel, as the integrator fills it from the validated
/// config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerDescription {
    /// The peer's cell (index in the config).
    pub cell: usize,
    /// The function's device number on that cell's bridge (0–31).
    pub device: u8,
    /// The SPI that is the function's INTA in that cell.
    pub intid: Intid,
    /// Where BAR 0 (the trapped register page) is in the cell's
    /// guest-physical space: 4 KiB aligned, below 4 GiB.
    pub registers_base: u64,
    /// Where BAR 2 (the shared memory) is in the cell's guest-physical
    /// space: aligned to [`Layout::bar_size`].
    pub shared_memory_base: u64,
}

/// A channel's static description. The peer id of a peer is its index in
/// [`peers`](Self::peers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelDescription {
    /// The protocol type the class code reports (spec: "Protocols";
    /// `4000h`–`7FFFh` are user-defined).
    pub protocol: u16,
    /// Bytes of the state table: at least 4 per peer, whole pages.
    pub state_table_size: u32,
    /// Bytes of the read/write section: whole pages, may be 0.
    pub rw_section_size: u64,
    /// Bytes of each peer's output section: whole pages, may be 0.
    pub output_section_size: u64,
    /// The peers, in peer id order.
    pub peers: Vec<PeerDescription, MAX_PEERS>,
}

/// Why a channel description cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// A channel needs at least two peers.
    TooFewPeers,
    /// Peer `peer`'s cell is already a peer of this channel.
    PeersNotDistinct {
        /// The second peer of the same cell.
        peer: usize,
    },
    /// Peer `peer`'s device number is not 0–31.
    DeviceOutOfRange {
        /// The peer.
        peer: usize,
    },
    /// Peer `peer`'s interrupt is not an SPI (32–1019).
    NotAnSpi {
        /// The peer.
        peer: usize,
    },
    /// The state table must hold 4 bytes per peer.
    StateTableTooSmall,
    /// Section sizes must be whole 4 KiB pages.
    NotPageMultiple,
    /// The shared memory does not fit the address space.
    TooLarge,
    /// Peer `peer`'s register BAR cannot be placed there.
    Registers {
        /// The peer.
        peer: usize,
        /// What is wrong.
        error: BarError,
    },
    /// Peer `peer`'s shared-memory BAR cannot be placed there.
    SharedMemory {
        /// The peer.
        peer: usize,
        /// What is wrong.
        error: BarError,
    },
}

/// A problem of one channel, or between channels, on a cell's bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BridgeError {
    /// Channel `channel`'s description is invalid.
    Channel {
        /// The channel.
        channel: usize,
        /// What is wrong.
        error: LayoutError,
    },
    /// Two functions of the cell claim device number `device`.
    DeviceTaken {
        /// The device number.
        device: u8,
    },
    /// Two functions of the cell put their registers at the same page.
    RegistersOverlap {
        /// The device number of the second.
        device: u8,
    },
}

/// The layout of a channel's shared memory, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    peers: usize,
    sections: Sections,
    size: u64,
    bar_size: u64,
}

/// One part of the shared memory as one peer may access it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// Offset from the shared memory's base.
    pub offset: u64,
    /// Bytes.
    pub size: u64,
    /// Whether the peer may write it.
    pub writable: bool,
}

impl Layout {
    /// Bytes of shared memory the sections use.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// Bytes of BAR 2: [`size`](Self::size) rounded up to a power of two.
    /// The cell's guest-physical space must keep all of it free; only the
    /// sections are mapped.
    pub const fn bar_size(&self) -> u64 {
        self.bar_size
    }

    /// Offset of peer `peer`'s entry in the state table.
    pub const fn state_entry_offset(peer: usize) -> u64 {
        Sections::state_entry(peer as u64)
    }

    /// Offset of the read/write section.
    pub const fn rw_section_offset(&self) -> u64 {
        self.sections.read_write_offset()
    }

    /// Offset of peer `peer`'s output section (peers of the channel only:
    /// [`ChannelDescription::layout`] checked that all of them fit).
    pub const fn output_section_offset(&self, peer: usize) -> u64 {
        match self.sections.output_offset(peer as u64) {
            Some(offset) => offset,
            None => self.size,
        }
    }

    /// The non-empty sections, with what peer `peer` may do in each: the
    /// state table read-only, the read/write section writable, its own
    /// output section writable and the others' read-only.
    pub fn sections(&self, peer: usize) -> impl Iterator<Item = Section> + '_ {
        let state_table = Section {
            offset: 0,
            size: self.sections.state_table,
            writable: false,
        };
        let rw = Section {
            offset: self.rw_section_offset(),
            size: self.sections.read_write,
            writable: true,
        };
        let outputs = (0..self.peers).map(move |q| Section {
            offset: self.output_section_offset(q),
            size: self.sections.output,
            writable: q == peer,
        });
        [state_table, rw]
            .into_iter()
            .chain(outputs)
            .filter(|s| s.size != 0)
    }
}

impl ChannelDescription {
    /// Checks the description and computes the layout of its shared
    /// memory.
    pub fn layout(&self) -> Result<Layout, LayoutError> {
        let peers = self.peers.len();
        if peers < 2 {
            return Err(LayoutError::TooFewPeers);
        }
        for (i, p) in self.peers.iter().enumerate() {
            if self.peers[..i].iter().any(|q| q.cell == p.cell) {
                return Err(LayoutError::PeersNotDistinct { peer: i });
            }
            if p.device as usize >= DEVICES_PER_BUS {
                return Err(LayoutError::DeviceOutOfRange { peer: i });
            }
            if !(32..MAX_INTID).contains(&p.intid) {
                return Err(LayoutError::NotAnSpi { peer: i });
            }
        }
        let sections = Sections {
            state_table: u64::from(self.state_table_size),
            read_write: self.rw_section_size,
            output: self.output_section_size,
        };
        if sections.state_table < Sections::state_entry(peers as u64) {
            return Err(LayoutError::StateTableTooSmall);
        }
        if [sections.state_table, sections.read_write, sections.output]
            .iter()
            .any(|s| !s.is_multiple_of(PAGE_SIZE))
        {
            return Err(LayoutError::NotPageMultiple);
        }
        let size = sections.size(peers as u64).ok_or(LayoutError::TooLarge)?;
        let bar_size = size
            .checked_next_power_of_two()
            .ok_or(LayoutError::TooLarge)?;
        let layout = Layout {
            peers,
            sections,
            size,
            bar_size,
        };
        for (peer, p) in self.peers.iter().enumerate() {
            bars(p, &layout).map_err(|(registers, error)| {
                if registers {
                    LayoutError::Registers { peer, error }
                } else {
                    LayoutError::SharedMemory { peer, error }
                }
            })?;
        }
        Ok(layout)
    }
}

/// A peer's two BARs; the error says which one is wrong (`true`: the
/// registers).
fn bars(peer: &PeerDescription, layout: &Layout) -> Result<Bars, (bool, BarError)> {
    let registers = Bar::new(peer.registers_base, REGISTERS_SIZE, false, false)
        .and_then(|bar| Bars::NONE.with(REGISTERS_BAR, bar))
        .map_err(|e| (true, e))?;
    Bar::new(peer.shared_memory_base, layout.bar_size, true, true)
        .and_then(|bar| registers.with(SHARED_MEMORY_BAR, bar))
        .map_err(|e| (false, e))
}

/// The identity every function reports; the class code carries the
/// channel's protocol.
const fn identity(protocol: u16) -> Identity {
    Identity {
        vendor_id: VENDOR_ID,
        device_id: DEVICE_ID,
        revision_id: 0,
        base_class: BASE_CLASS,
        sub_class: (protocol >> 8) as u8,
        programming_interface: protocol as u8,
        subsystem_vendor_id: SUBSYSTEM_VENDOR_ID,
        subsystem_id: SUBSYSTEM_ID,
        interrupt_pin: INTERRUPT_PIN_A,
        capabilities_pointer: VENDOR_CAPABILITY as u8,
    }
}

/// Why the model refused a guest's access. Reads return all ones (for
/// configuration space and a disabled BAR 0) or 0 (other register
/// accesses); writes have no effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A configuration access not 1, 2 or 4 bytes wide.
    ConfigWidth,
    /// A configuration access not naturally aligned.
    ConfigUnaligned,
    /// An access outside the ECAM window or the register page.
    OutsideWindow,
    /// A configuration write to a function that does not exist.
    AbsentFunction,
    /// A BAR write that would move the BAR; it stays where it is.
    BarRelocation,
    /// A register access that is not an aligned 32-bit access.
    RegisterWidth,
    /// A register access while Command.Memory Space is clear.
    MemoryDisabled,
    /// A write to a read-only register (ID, Maximum Peers).
    ReadOnlyRegister,
    /// A doorbell to a peer id the channel does not have.
    NoSuchPeer,
    /// A doorbell with a vector other than 0 (INTx has one vector).
    InvalidVector,
    /// A doorbell to a peer that has not enabled Interrupt Control.
    TargetNotEnabled,
}

impl Refusal {
    /// Every reason, in counter order.
    pub const ALL: [Refusal; 11] = [
        Refusal::ConfigWidth,
        Refusal::ConfigUnaligned,
        Refusal::OutsideWindow,
        Refusal::AbsentFunction,
        Refusal::BarRelocation,
        Refusal::RegisterWidth,
        Refusal::MemoryDisabled,
        Refusal::ReadOnlyRegister,
        Refusal::NoSuchPeer,
        Refusal::InvalidVector,
        Refusal::TargetNotEnabled,
    ];
}

impl Refusal {
    /// A short name, for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Refusal::ConfigWidth => "configuration access not 1, 2 or 4 bytes",
            Refusal::ConfigUnaligned => "unaligned configuration access",
            Refusal::OutsideWindow => "access outside the window",
            Refusal::AbsentFunction => "configuration write to an absent function",
            Refusal::BarRelocation => "BAR relocation",
            Refusal::RegisterWidth => "register access not an aligned 32-bit access",
            Refusal::MemoryDisabled => "register access with Memory Space disabled",
            Refusal::ReadOnlyRegister => "write to a read-only register",
            Refusal::NoSuchPeer => "doorbell to a peer the channel does not have",
            Refusal::InvalidVector => "doorbell to a vector other than 0",
            Refusal::TargetNotEnabled => "doorbell to a peer that has not enabled interrupts",
        }
    }
}

impl From<AccessError> for Refusal {
    fn from(error: AccessError) -> Refusal {
        match error {
            AccessError::Width => Refusal::ConfigWidth,
            AccessError::Unaligned => Refusal::ConfigUnaligned,
            AccessError::OutOfRange => Refusal::OutsideWindow,
        }
    }
}

/// How many accesses were refused, by reason (saturating).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefusalCounts {
    counts: [u32; Refusal::ALL.len()],
}

impl RefusalCounts {
    /// No refusal yet.
    pub const ZERO: RefusalCounts = RefusalCounts {
        counts: [0; Refusal::ALL.len()],
    };

    /// Counts one refusal.
    pub fn record(&mut self, reason: Refusal) {
        if let Some(count) = self.counts.get_mut(reason as usize) {
            *count = count.saturating_add(1);
        }
    }

    /// Refusals for `reason`.
    pub fn get(&self, reason: Refusal) -> u32 {
        self.counts.get(reason as usize).copied().unwrap_or(0)
    }

    /// All refusals.
    pub fn total(&self) -> u32 {
        self.counts.iter().fold(0, |a, &c| a.saturating_add(c))
    }

    /// The reasons with a non-zero count.
    pub fn iter(&self) -> impl Iterator<Item = (Refusal, u32)> + '_ {
        Refusal::ALL
            .iter()
            .map(|&r| (r, self.get(r)))
            .filter(|&(_, n)| n != 0)
    }
}

/// What the runtime must do after an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Set SPI `intid` pending: peer `peer`'s INTx in cell `cell`. Make
    /// the sender's earlier writes visible first (`DSB`).
    RaiseIntx {
        /// The target cell.
        cell: usize,
        /// The SPI.
        intid: Intid,
        /// The target's peer id.
        peer: usize,
    },
    /// Write `new_state` (a little-endian `u32`) to the channel's state
    /// table at [`Layout::state_entry_offset`]`(peer)`, under the
    /// channel's lock and before raising the interrupts that follow.
    StateChanged {
        /// The peer whose state changed.
        peer: usize,
        /// Its new state.
        new_state: u32,
    },
    /// The access was refused (already counted); worth a rate-limited
    /// warning.
    Refused(Refusal),
}

/// Most actions one access can cause: a state change and an interrupt to
/// each other peer.
pub const MAX_ACTIONS: usize = MAX_PEERS + 1;

/// The actions of one access, in the order to apply them. Empty means
/// nothing to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actions(Vec<Action, MAX_ACTIONS>);

impl Actions {
    /// No action.
    pub const fn new() -> Actions {
        Actions(Vec::new())
    }

    fn push(&mut self, action: Action) {
        // Capacity covers the worst case (see `MAX_ACTIONS`).
        let _ = self.0.push(action);
    }

    /// The actions.
    pub fn as_slice(&self) -> &[Action] {
        &self.0
    }

    /// Iterates over the actions.
    pub fn iter(&self) -> core::slice::Iter<'_, Action> {
        self.0.iter()
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many actions.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl<'a> IntoIterator for &'a Actions {
    type Item = &'a Action;
    type IntoIter = core::slice::Iter<'a, Action>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The result of a register read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// The value to return, truncated by the runtime to the access size.
    pub value: u64,
    /// Why the access was refused, if it was (already counted).
    pub refused: Option<Refusal>,
}

/// One peer's function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Endpoint {
    header: Header,
    int_control: u32,
    one_shot: bool,
    refusals: RefusalCounts,
}

/// A channel at run time: every peer's function and the state table.
/// The runtime keeps one per channel, under a lock of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    description: ChannelDescription,
    layout: Layout,
    endpoints: [Endpoint; MAX_PEERS],
    state_table: [u32; MAX_PEERS],
}

impl Channel {
    /// The channel in its reset state: every function reset, every state 0.
    pub fn new(description: ChannelDescription) -> Result<Channel, LayoutError> {
        let layout = description.layout()?;
        let blank = Endpoint {
            header: Header::new(identity(description.protocol), Bars::NONE),
            int_control: 0,
            one_shot: false,
            refusals: RefusalCounts::ZERO,
        };
        let mut endpoints = [blank; MAX_PEERS];
        for (endpoint, peer) in endpoints.iter_mut().zip(description.peers.iter()) {
            // `layout()` checked the BARs.
            let bars = bars(peer, &layout).unwrap_or(Bars::NONE);
            endpoint.header = Header::new(identity(description.protocol), bars);
        }
        Ok(Channel {
            description,
            layout,
            endpoints,
            state_table: [0; MAX_PEERS],
        })
    }

    /// The description the channel was built from.
    pub fn description(&self) -> &ChannelDescription {
        &self.description
    }

    /// The shared memory's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Number of peers.
    pub fn peers(&self) -> usize {
        self.description.peers.len()
    }

    /// The state table as the peers see it (one entry per peer).
    pub fn state_table(&self) -> &[u32] {
        &self.state_table[..self.peers()]
    }

    /// Peer `peer`'s Status.Interrupt Status.
    pub fn interrupt_status(&self, peer: usize) -> bool {
        self.endpoint(peer)
            .is_some_and(|e| e.header.interrupt_status())
    }

    /// Whether peer `peer` masked INTx (Command.Interrupt Disable).
    pub fn intx_masked(&self, peer: usize) -> bool {
        self.endpoint(peer)
            .is_some_and(|e| e.header.intx_disabled())
    }

    /// Whether peer `peer` accepts interrupts (Interrupt Control).
    pub fn interrupts_enabled(&self, peer: usize) -> bool {
        self.endpoint(peer)
            .is_some_and(|e| e.int_control & INT_CONTROL_ENABLE != 0)
    }

    /// Peer `peer`'s function header (command, BARs, identity).
    pub fn header(&self, peer: usize) -> Option<&Header> {
        self.endpoint(peer).map(|e| &e.header)
    }

    /// The refusals caused by peer `peer`.
    pub fn refusals(&self, peer: usize) -> RefusalCounts {
        self.endpoint(peer)
            .map(|e| e.refusals)
            .unwrap_or(RefusalCounts::ZERO)
    }

    fn endpoint(&self, peer: usize) -> Option<&Endpoint> {
        self.endpoints[..self.peers()].get(peer)
    }

    /// A configuration read by peer `peer`'s cell of its function.
    pub fn config_read(&self, peer: usize, access: ConfigAccess) -> u32 {
        match self.endpoint(peer) {
            Some(endpoint) => access.extract(self.config_dword(endpoint, access.dword())),
            None => access.width().mask(),
        }
    }

    fn config_dword(&self, endpoint: &Endpoint, dword: u16) -> u32 {
        let d = &self.description;
        let cap = |offset: u16| VENDOR_CAPABILITY + offset;
        match dword {
            _ if dword < HEADER_SIZE => endpoint.header.read_dword(dword),
            _ if dword == cap(capability::ID) => {
                (endpoint.one_shot as u32) << 24
                    | (VENDOR_CAPABILITY_LENGTH as u32) << 16
                    | vpci::CAPABILITY_ID_VENDOR as u32
            }
            _ if dword == cap(capability::STATE_TABLE_SIZE) => d.state_table_size,
            _ if dword == cap(capability::RW_SECTION_SIZE) => d.rw_section_size as u32,
            _ if dword == cap(capability::RW_SECTION_SIZE) + 4 => (d.rw_section_size >> 32) as u32,
            _ if dword == cap(capability::OUTPUT_SECTION_SIZE) => d.output_section_size as u32,
            _ if dword == cap(capability::OUTPUT_SECTION_SIZE) + 4 => {
                (d.output_section_size >> 32) as u32
            }
            _ => 0,
        }
    }

    /// A configuration write by peer `peer`'s cell to its function.
    pub fn config_write(&mut self, peer: usize, access: ConfigAccess, value: u32) -> Actions {
        let mut actions = Actions::new();
        if peer >= self.peers() {
            return actions;
        }
        let endpoint = &mut self.endpoints[peer];
        if access.register() < HEADER_SIZE {
            match endpoint.header.write(access, value) {
                HeaderWrite::Command { old, new } => {
                    self.command_changed(peer, old, new, &mut actions)
                }
                HeaderWrite::BarRelocation { .. } => {
                    self.refuse(peer, Refusal::BarRelocation, &mut actions)
                }
                HeaderWrite::Done => {}
            }
        } else if access.dword() == VENDOR_CAPABILITY {
            let privileged_control = 0xff << (8 * capability::PRIVILEGED_CONTROL);
            if access.byte_mask() & privileged_control != 0 {
                let merged = access.merge(0, value);
                endpoint.one_shot = merged >> (8 * capability::PRIVILEGED_CONTROL) & 1 != 0;
            }
        }
        actions
    }

    /// Applies the INTx side of a Command change: unmasking delivers a
    /// held interrupt, masking acknowledges a delivered one.
    fn command_changed(&mut self, peer: usize, old: u16, new: u16, actions: &mut Actions) {
        let disable = vpci::command::INTERRUPT_DISABLE;
        let endpoint = &mut self.endpoints[peer];
        if !endpoint.header.interrupt_status() {
            return;
        }
        if old & disable == 0 && new & disable != 0 {
            endpoint.header.set_interrupt_status(false);
        } else if old & disable != 0 && new & disable == 0 {
            self.raise(peer, actions);
        }
    }

    /// A read of `bytes` bytes at `offset` in peer `peer`'s BAR 0.
    pub fn register_read(&mut self, peer: usize, offset: u64, bytes: usize) -> Read {
        let refused = |refusal| Read {
            value: if refusal == Refusal::MemoryDisabled {
                u64::MAX
            } else {
                0
            },
            refused: Some(refusal),
        };
        if peer >= self.peers() {
            return refused(Refusal::NoSuchPeer);
        }
        if let Err(refusal) = self.check_register_access(peer, offset, bytes) {
            self.endpoints[peer].refusals.record(refusal);
            return refused(refusal);
        }
        let value = match offset {
            register::ID => peer as u32,
            register::MAX_PEERS => self.peers() as u32,
            register::INT_CONTROL => self.endpoints[peer].int_control,
            register::STATE => self.state_table[peer],
            _ => 0,
        };
        Read {
            value: value as u64,
            refused: None,
        }
    }

    /// A write of `value` (`bytes` bytes) at `offset` in peer `peer`'s BAR 0.
    pub fn register_write(
        &mut self,
        peer: usize,
        offset: u64,
        bytes: usize,
        value: u64,
    ) -> Actions {
        let mut actions = Actions::new();
        self.register_write_into(peer, offset, bytes, value, &mut actions);
        actions
    }

    /// [`register_write`](Self::register_write), adding the actions to
    /// `actions` (which the caller keeps: the doorbell's trap path avoids
    /// copying them).
    pub fn register_write_into(
        &mut self,
        peer: usize,
        offset: u64,
        bytes: usize,
        value: u64,
        actions: &mut Actions,
    ) {
        if peer >= self.peers() {
            actions.push(Action::Refused(Refusal::NoSuchPeer));
            return;
        }
        if let Err(refusal) = self.check_register_access(peer, offset, bytes) {
            self.refuse(peer, refusal, actions);
            return;
        }
        let value = value as u32;
        match offset {
            register::ID | register::MAX_PEERS => {
                self.refuse(peer, Refusal::ReadOnlyRegister, actions)
            }
            register::INT_CONTROL => self.endpoints[peer].int_control = value & INT_CONTROL_ENABLE,
            register::DOORBELL => {
                let (target, vector) = register::doorbell_target(value);
                let target = usize::from(target);
                let outcome = if u32::from(vector) >= INTX_VECTORS {
                    Err(Refusal::InvalidVector)
                } else if target >= self.peers() {
                    Err(Refusal::NoSuchPeer)
                } else {
                    self.signal(target, actions)
                };
                if let Err(refusal) = outcome {
                    self.refuse(peer, refusal, actions);
                }
            }
            register::STATE => self.set_state(peer, value, actions),
            _ => {}
        }
    }

    fn check_register_access(&self, peer: usize, offset: u64, bytes: usize) -> Result<(), Refusal> {
        if offset >= REGISTERS_SIZE {
            Err(Refusal::OutsideWindow)
        } else if !self.endpoints[peer].header.memory_enabled() {
            Err(Refusal::MemoryDisabled)
        } else if bytes != 4 || !offset.is_multiple_of(4) {
            Err(Refusal::RegisterWidth)
        } else {
            Ok(())
        }
    }

    /// Resets peer `peer`'s function (its cell stopped or restarts): the
    /// header, Interrupt Control and one-shot mode go back to reset, and
    /// its state becomes 0, which the other peers are told about.
    pub fn reset_peer(&mut self, peer: usize) -> Actions {
        let mut actions = Actions::new();
        if peer >= self.peers() {
            return actions;
        }
        let endpoint = &mut self.endpoints[peer];
        endpoint.header.reset();
        endpoint.int_control = 0;
        endpoint.one_shot = false;
        self.set_state(peer, 0, &mut actions);
        actions
    }

    /// Peer `peer` sets its state: mirrored into the table, and on a
    /// change every other peer is interrupted.
    fn set_state(&mut self, peer: usize, new_state: u32, actions: &mut Actions) {
        if self.state_table[peer] == new_state {
            return;
        }
        self.state_table[peer] = new_state;
        actions.push(Action::StateChanged { peer, new_state });
        for other in (0..self.peers()).filter(|&q| q != peer) {
            // A peer that does not accept interrupts just misses this one;
            // it sees the state table when it looks.
            let _ = self.signal(other, actions);
        }
    }

    /// Delivers an event to peer `target`, if it accepts interrupts.
    fn signal(&mut self, target: usize, actions: &mut Actions) -> Result<(), Refusal> {
        let endpoint = &mut self.endpoints[target];
        if endpoint.int_control & INT_CONTROL_ENABLE == 0 {
            return Err(Refusal::TargetNotEnabled);
        }
        if endpoint.one_shot {
            endpoint.int_control = 0;
        }
        endpoint.header.set_interrupt_status(true);
        if !endpoint.header.intx_disabled() {
            self.raise(target, actions);
        }
        Ok(())
    }

    fn raise(&self, target: usize, actions: &mut Actions) {
        let peer = &self.description.peers[target];
        actions.push(Action::RaiseIntx {
            cell: peer.cell,
            intid: peer.intid,
            peer: target,
        });
    }

    fn refuse(&mut self, peer: usize, refusal: Refusal, actions: &mut Actions) {
        self.endpoints[peer].refusals.record(refusal);
        actions.push(Action::Refused(refusal));
    }
}

/// The description of channel `channel` of a validated `system` on
/// `board`: its function is device number `channel` on every peer's
/// bridge, with BAR 0 and BAR 2 at that device's place in the board's
/// virtual PCI windows and the peer's doorbell SPI as INTA. `None` when
/// the board has no virtual PCI windows or the channel does not exist.
pub fn describe(system: &System, board: &Board, channel: usize) -> Option<ChannelDescription> {
    let pci = board.virtual_pci?;
    let c = system.channels.get(channel)?;
    let device = u8::try_from(channel).ok()?;
    let mut peers = Vec::new();
    for (peer, &cell) in c.peers.iter().enumerate() {
        peers
            .push(PeerDescription {
                cell: cell as usize,
                device,
                intid: doorbell_spi(board.spare_spis, channel, peer)?,
                registers_base: pci.registers_base(channel),
                shared_memory_base: pci.shared_memory_base(channel),
            })
            .ok()?;
    }
    Some(ChannelDescription {
        protocol: PROTOCOL_BULKHEAD_CHANNEL,
        state_table_size: STATE_TABLE_SIZE as u32,
        rw_section_size: c.common_size,
        output_section_size: c.output_size,
        peers,
    })
}

/// A function on a cell's bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    /// The channel (index in the list the bridge was built from).
    pub channel: usize,
    /// The cell's peer id in it.
    pub peer: usize,
    /// Where BAR 0 is in the cell.
    pub registers_base: u64,
    /// Where BAR 2 is in the cell.
    pub shared_memory_base: u64,
    /// The function's INTA.
    pub intid: Intid,
}

/// Where a configuration access goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigRoute {
    /// To `channel`'s function of peer `peer`.
    Function {
        /// The channel.
        channel: usize,
        /// The peer.
        peer: usize,
        /// The access in the function's configuration space.
        access: ConfigAccess,
    },
    /// A read of a function that does not exist: all ones.
    Absent,
    /// Refused (already counted): reads all ones, writes ignored.
    Refused(Refusal),
}

/// Where a register access goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterRoute {
    /// The channel.
    pub channel: usize,
    /// The peer.
    pub peer: usize,
    /// Offset in the register page.
    pub offset: u64,
}

/// One cell's virtual PCI host bridge: bus 0 only, one function per
/// channel the cell is a peer of, at the device number the channel gives.
/// The runtime keeps one per cell, next to the cell's other state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostBridge {
    cell: usize,
    slots: [Option<Function>; DEVICES_PER_BUS],
    refusals: RefusalCounts,
}

impl HostBridge {
    /// The bridge of cell `cell`, given every channel of the system.
    pub fn for_cell(
        cell: usize,
        channels: &[ChannelDescription],
    ) -> Result<HostBridge, BridgeError> {
        let mut bridge = HostBridge {
            cell,
            slots: [None; DEVICES_PER_BUS],
            refusals: RefusalCounts::ZERO,
        };
        for (channel, description) in channels.iter().enumerate() {
            description
                .layout()
                .map_err(|error| BridgeError::Channel { channel, error })?;
            for (peer, p) in description.peers.iter().enumerate() {
                if p.cell != cell {
                    continue;
                }
                if bridge
                    .functions()
                    .any(|(_, f)| f.registers_base == p.registers_base)
                {
                    return Err(BridgeError::RegistersOverlap { device: p.device });
                }
                // `layout()` checked the device number.
                let Some(slot) = bridge.slots.get_mut(p.device as usize) else {
                    continue;
                };
                if slot.is_some() {
                    return Err(BridgeError::DeviceTaken { device: p.device });
                }
                *slot = Some(Function {
                    channel,
                    peer,
                    registers_base: p.registers_base,
                    shared_memory_base: p.shared_memory_base,
                    intid: p.intid,
                });
            }
        }
        Ok(bridge)
    }

    /// The cell.
    pub fn cell(&self) -> usize {
        self.cell
    }

    /// The functions, with their device numbers (for the device tree's
    /// `interrupt-map` and the runtime's trap table).
    pub fn functions(&self) -> impl Iterator<Item = (u8, Function)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(device, f)| f.map(|f| (device as u8, f)))
    }

    /// Routes a trapped access of `bytes` bytes at `offset` in the ECAM
    /// window. Bus 0, function 0 of an occupied device number reaches a
    /// channel; other functions read as absent (vendor `FFFFh`), and
    /// writes to them are refused.
    pub fn route_config(&mut self, offset: u64, bytes: usize, write: bool) -> ConfigRoute {
        let decoded = match vpci::decode_ecam(offset, bytes) {
            Ok(decoded) => decoded,
            Err(error) => {
                let refusal = Refusal::from(error);
                self.refusals.record(refusal);
                return ConfigRoute::Refused(refusal);
            }
        };
        let bdf = decoded.bdf;
        let function = if bdf.bus == 0 && bdf.function == 0 {
            self.slots.get(bdf.device as usize).copied().flatten()
        } else {
            None
        };
        match function {
            Some(f) => ConfigRoute::Function {
                channel: f.channel,
                peer: f.peer,
                access: decoded.access,
            },
            None if write => {
                self.refusals.record(Refusal::AbsentFunction);
                ConfigRoute::Refused(Refusal::AbsentFunction)
            }
            None => ConfigRoute::Absent,
        }
    }

    /// Routes a trapped access at guest-physical address `ipa`, if it
    /// falls in one of the bridge's register pages.
    pub fn route_register(&self, ipa: u64) -> Option<RegisterRoute> {
        self.functions().find_map(|(_, f)| {
            let offset = ipa.checked_sub(f.registers_base)?;
            (offset < REGISTERS_SIZE).then_some(RegisterRoute {
                channel: f.channel,
                peer: f.peer,
                offset,
            })
        })
    }

    /// The refusals the bridge itself counted (ECAM decoding, absent
    /// functions).
    pub fn refusals(&self) -> &RefusalCounts {
        &self.refusals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::vpci::{command, status};

    const PAGE: u64 = 0x1000;

    /// Three peers: cells 0, 2 and 5, output sections of one page.
    fn description() -> ChannelDescription {
        let peer = |i: u64, cell: usize| PeerDescription {
            cell,
            device: 3,
            intid: 100 + i as Intid,
            registers_base: 0x1000_0000 + i * PAGE,
            shared_memory_base: 0x2000_0000 + i * 0x10_0000,
        };
        ChannelDescription {
            protocol: 0x4001,
            state_table_size: PAGE as u32,
            rw_section_size: 4 * PAGE,
            output_section_size: PAGE,
            peers: [peer(0, 0), peer(1, 2), peer(2, 5)].into_iter().collect(),
        }
    }

    fn channel() -> Channel {
        Channel::new(description()).unwrap()
    }

    fn cfg_read(ch: &Channel, peer: usize, register: u64, bytes: usize) -> u32 {
        ch.config_read(peer, ConfigAccess::new(register, bytes).unwrap())
    }

    fn cfg_write(
        ch: &mut Channel,
        peer: usize,
        register: u64,
        bytes: usize,
        value: u32,
    ) -> Actions {
        ch.config_write(peer, ConfigAccess::new(register, bytes).unwrap(), value)
    }

    /// What a driver does before it uses the device: memory decoding on,
    /// interrupts accepted.
    fn enable(ch: &mut Channel, peer: usize) {
        cfg_write(ch, peer, 4, 2, command::MEMORY_SPACE as u32);
        assert!(ch
            .register_write(peer, register::INT_CONTROL, 4, 1)
            .is_empty());
    }

    fn raise(ch: &Channel, peer: usize) -> Action {
        let p = ch.description().peers[peer];
        Action::RaiseIntx {
            cell: p.cell,
            intid: p.intid,
            peer,
        }
    }

    fn doorbell(target: u64, vector: u64) -> u64 {
        u64::from(register::doorbell(target as u16, vector as u16))
    }

    #[test]
    fn header_reports_ivshmem_v2() {
        let mut ch = channel();
        assert_eq!(cfg_read(&ch, 1, 0x00, 2), 0x110a);
        assert_eq!(cfg_read(&ch, 1, 0x02, 2), 0x4106);
        assert_eq!(cfg_read(&ch, 1, 0x00, 4), 0x4106_110a);
        // Class: base FFh, protocol 4001h in sub-class and interface.
        assert_eq!(cfg_read(&ch, 1, 0x08, 4), 0xff40_0100);
        assert_eq!(cfg_read(&ch, 1, 0x09, 1), 0x01);
        assert_eq!(cfg_read(&ch, 1, 0x0a, 1), 0x40);
        assert_eq!(cfg_read(&ch, 1, 0x0e, 1), 0);
        assert_eq!(cfg_read(&ch, 1, 0x2c, 4), 0x4106_110a);
        assert_eq!(cfg_read(&ch, 1, 0x3d, 1), 1);
        assert_eq!(cfg_read(&ch, 1, 0x04, 2), 0);
        assert_eq!(cfg_read(&ch, 1, 0x06, 2), status::CAPABILITIES_LIST as u32);
        // BARs at the peer's addresses.
        assert_eq!(cfg_read(&ch, 1, 0x10, 4), 0x1000_1000);
        assert_eq!(cfg_read(&ch, 1, 0x18, 4), 0x2010_000c);
        assert_eq!(cfg_read(&ch, 1, 0x1c, 4), 0);
        assert_eq!(cfg_read(&ch, 2, 0x18, 4), 0x2020_000c);
        // Beyond the capability, and the extended space.
        for register in [0x58, 0x5c, 0xfc, 0x100, 0xffc] {
            assert_eq!(cfg_read(&ch, 1, register, 4), 0);
        }
        // Interrupt Line is scratch.
        cfg_write(&mut ch, 1, 0x3c, 1, 42);
        assert_eq!(cfg_read(&ch, 1, 0x3c, 2), 0x0100 | 42);
    }

    #[test]
    fn bar_sizing() {
        let mut ch = channel();
        // Eight pages of sections: a 32 KiB BAR 2.
        assert_eq!(ch.layout().size(), PAGE + 4 * PAGE + 3 * PAGE);
        assert_eq!(ch.layout().bar_size(), 0x8000);
        for register in [0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x30] {
            let original = cfg_read(&ch, 0, register, 4);
            assert!(cfg_write(&mut ch, 0, register, 4, !0).is_empty());
            let size = cfg_read(&ch, 0, register, 4);
            let expected = match register {
                0x10 => 0xffff_f000,
                0x18 => 0xffff_800c,
                0x1c => 0xffff_ffff,
                _ => 0,
            };
            assert_eq!(size, expected, "register {register:#x}");
            assert!(cfg_write(&mut ch, 0, register, 4, original).is_empty());
            assert_eq!(cfg_read(&ch, 0, register, 4), original);
        }
        // A BAR write that moves it is refused, counted, and has no effect.
        let actions = cfg_write(&mut ch, 0, 0x18, 4, 0x3000_0000);
        assert_eq!(
            actions.as_slice(),
            [Action::Refused(Refusal::BarRelocation)]
        );
        assert_eq!(cfg_read(&ch, 0, 0x18, 4), 0x2000_000c);
        assert_eq!(ch.refusals(0).get(Refusal::BarRelocation), 1);
        assert_eq!(ch.refusals(1).total(), 0);
    }

    #[test]
    fn capability_walk() {
        let mut ch = channel();
        let mut at = cfg_read(&ch, 0, 0x34, 1) as u64;
        let mut seen = 0;
        while at != 0 {
            assert!(at >= 0x40 && at.is_multiple_of(4));
            if cfg_read(&ch, 0, at, 1) == vpci::CAPABILITY_ID_VENDOR as u32 {
                assert_eq!(at, 0x40);
                assert_eq!(cfg_read(&ch, 0, at + 2, 1), 0x18);
                assert_eq!(cfg_read(&ch, 0, at + 3, 1), 0);
                assert_eq!(cfg_read(&ch, 0, at + 4, 4), PAGE as u32);
                assert_eq!(cfg_read(&ch, 0, at + 8, 4), 4 * PAGE as u32);
                assert_eq!(cfg_read(&ch, 0, at + 12, 4), 0);
                assert_eq!(cfg_read(&ch, 0, at + 16, 4), PAGE as u32);
                assert_eq!(cfg_read(&ch, 0, at + 20, 4), 0);
            }
            seen += 1;
            at = cfg_read(&ch, 0, at + 1, 1) as u64;
        }
        assert_eq!(seen, 1);
        // Only the one-shot bit of Privileged Control is writable.
        cfg_write(&mut ch, 0, 0x40, 4, 0xffff_ffff);
        assert_eq!(cfg_read(&ch, 0, 0x40, 4), 0x0118_0009);
        cfg_write(&mut ch, 0, 0x43, 1, 0);
        assert_eq!(cfg_read(&ch, 0, 0x40, 4), 0x0018_0009);
        cfg_write(&mut ch, 0, 0x44, 4, 0);
        assert_eq!(cfg_read(&ch, 0, 0x44, 4), PAGE as u32);
    }

    #[test]
    fn sections_and_permissions() {
        let ch = channel();
        let sections: std::vec::Vec<_> = ch.layout().sections(1).collect();
        let s = |offset, size, writable| Section {
            offset,
            size,
            writable,
        };
        assert_eq!(
            sections,
            [
                s(0, PAGE, false),
                s(PAGE, 4 * PAGE, true),
                s(5 * PAGE, PAGE, false),
                s(6 * PAGE, PAGE, true),
                s(7 * PAGE, PAGE, false),
            ]
        );
        let mut no_outputs = description();
        no_outputs.output_section_size = 0;
        no_outputs.rw_section_size = 0;
        let layout = no_outputs.layout().unwrap();
        assert_eq!(layout.sections(0).count(), 1);
        assert_eq!(layout.bar_size(), PAGE);
    }

    #[test]
    fn registers_read_back() {
        let mut ch = channel();
        enable(&mut ch, 2);
        let read = |ch: &mut Channel, offset| ch.register_read(2, offset, 4).value;
        assert_eq!(read(&mut ch, register::ID), 2);
        assert_eq!(read(&mut ch, register::MAX_PEERS), 3);
        assert_eq!(read(&mut ch, register::INT_CONTROL), 1);
        assert_eq!(read(&mut ch, register::DOORBELL), 0);
        assert_eq!(read(&mut ch, register::STATE), 0);
        assert_eq!(read(&mut ch, 0x14), 0);
        assert_eq!(read(&mut ch, 0xffc), 0);
        ch.register_write(2, register::INT_CONTROL, 4, 0xffff_fffe);
        assert_eq!(read(&mut ch, register::INT_CONTROL), 0);
        // Read-only registers and unbacked offsets.
        let actions = ch.register_write(2, register::ID, 4, 7);
        assert_eq!(
            actions.as_slice(),
            [Action::Refused(Refusal::ReadOnlyRegister)]
        );
        assert!(ch.register_write(2, 0x800, 4, 7).is_empty());
        assert_eq!(read(&mut ch, register::ID), 2);
    }

    #[test]
    fn register_accesses_need_memory_decoding_and_32_bits() {
        let mut ch = channel();
        assert_eq!(
            ch.register_read(0, register::ID, 4),
            Read {
                value: u64::MAX,
                refused: Some(Refusal::MemoryDisabled)
            }
        );
        enable(&mut ch, 0);
        for (offset, bytes) in [(0, 8), (0, 2), (0, 1), (2, 4), (0x11, 4), (0, 0)] {
            assert_eq!(
                ch.register_read(0, offset, bytes).refused,
                Some(Refusal::RegisterWidth)
            );
        }
        let actions = ch.register_write(0, register::DOORBELL, 8, doorbell(1, 0));
        assert_eq!(
            actions.as_slice(),
            [Action::Refused(Refusal::RegisterWidth)]
        );
        assert_eq!(
            ch.register_read(0, REGISTERS_SIZE, 4).refused,
            Some(Refusal::OutsideWindow)
        );
        assert_eq!(ch.refusals(0).get(Refusal::RegisterWidth), 7);
        assert_eq!(ch.refusals(0).get(Refusal::MemoryDisabled), 1);
    }

    #[test]
    fn doorbell_raises_the_targets_intx() {
        let mut ch = channel();
        enable(&mut ch, 0);
        enable(&mut ch, 2);
        let actions = ch.register_write(0, register::DOORBELL, 4, doorbell(2, 0));
        assert_eq!(actions.as_slice(), [raise(&ch, 2)]);
        assert_eq!(
            raise(&ch, 2),
            Action::RaiseIntx {
                cell: 5,
                intid: 102,
                peer: 2
            }
        );
        assert!(ch.interrupt_status(2));
        assert!(!ch.interrupt_status(0));
        assert_eq!(
            cfg_read(&ch, 2, 0x06, 2),
            (status::CAPABILITIES_LIST | status::INTERRUPT_STATUS) as u32
        );
        // Ringing oneself is allowed.
        let actions = ch.register_write(0, register::DOORBELL, 4, doorbell(0, 0));
        assert_eq!(actions.as_slice(), [raise(&ch, 0)]);
        assert_eq!(ch.refusals(0).total(), 0);
    }

    #[test]
    fn doorbells_that_cannot_arrive_are_refused_and_counted() {
        let mut ch = channel();
        enable(&mut ch, 0);
        enable(&mut ch, 1);
        let ring = |ch: &mut Channel, value| ch.register_write(0, register::DOORBELL, 4, value);
        for (value, reason) in [
            (doorbell(3, 0), Refusal::NoSuchPeer),
            (doorbell(0xffff, 0), Refusal::NoSuchPeer),
            (doorbell(1, 1), Refusal::InvalidVector),
            (doorbell(1, 0xffff), Refusal::InvalidVector),
            // Peer 2 has not enabled Interrupt Control.
            (doorbell(2, 0), Refusal::TargetNotEnabled),
        ] {
            assert_eq!(ring(&mut ch, value).as_slice(), [Action::Refused(reason)]);
        }
        let counts = ch.refusals(0);
        assert_eq!(counts.get(Refusal::NoSuchPeer), 2);
        assert_eq!(counts.get(Refusal::InvalidVector), 2);
        assert_eq!(counts.get(Refusal::TargetNotEnabled), 1);
        assert_eq!(counts.total(), 5);
        assert_eq!(counts.iter().count(), 3);
        assert!(!ch.interrupt_status(1) && !ch.interrupt_status(2));
    }

    /// The `uio_pci_generic` cycle: the handler checks Interrupt Status
    /// and masks; user space unmasks through the config file (one byte
    /// at offset 5).
    #[test]
    fn intx_disable_holds_and_releases() {
        let mut ch = channel();
        enable(&mut ch, 0);
        enable(&mut ch, 1);
        let status =
            |ch: &Channel| cfg_read(ch, 1, 0x04, 4) >> 16 & status::INTERRUPT_STATUS as u32;
        let ring = |ch: &mut Channel| ch.register_write(0, register::DOORBELL, 4, doorbell(1, 0));

        assert_eq!(ring(&mut ch).as_slice(), [raise(&ch, 1)]);
        // Handler: status set, so it is ours; mask. That acknowledges it.
        assert_ne!(status(&ch), 0);
        let cmd = cfg_read(&ch, 1, 0x04, 2);
        assert!(cfg_write(&mut ch, 1, 0x04, 2, cmd | command::INTERRUPT_DISABLE as u32).is_empty());
        assert_eq!(status(&ch), 0);
        assert!(ch.intx_masked(1));

        // While masked, a doorbell is held: status set, no interrupt.
        assert!(ring(&mut ch).is_empty());
        assert!(ring(&mut ch).is_empty());
        assert_ne!(status(&ch), 0);

        // User space unmasks: the held interrupt is delivered, once.
        let high = cfg_read(&ch, 1, 0x05, 1) & !0x04;
        assert_eq!(
            cfg_write(&mut ch, 1, 0x05, 1, high).as_slice(),
            [raise(&ch, 1)]
        );
        assert!(!ch.intx_masked(1));
        assert_ne!(status(&ch), 0);
        // Writing the same command again does nothing more.
        assert!(cfg_write(&mut ch, 1, 0x05, 1, high).is_empty());

        // Unmasking with nothing pending delivers nothing.
        cfg_write(&mut ch, 1, 0x05, 1, 0x04);
        assert_eq!(status(&ch), 0);
        assert!(cfg_write(&mut ch, 1, 0x05, 1, 0).is_empty());
        // Memory decoding survived the byte writes.
        assert!(ch.header(1).unwrap().memory_enabled());
    }

    #[test]
    fn one_shot_mode_clears_interrupt_control() {
        let mut ch = channel();
        enable(&mut ch, 0);
        enable(&mut ch, 1);
        cfg_write(&mut ch, 1, 0x43, 1, 1);
        let ring = |ch: &mut Channel| ch.register_write(0, register::DOORBELL, 4, doorbell(1, 0));
        assert_eq!(ring(&mut ch).as_slice(), [raise(&ch, 1)]);
        assert!(!ch.interrupts_enabled(1));
        assert_eq!(
            ring(&mut ch).as_slice(),
            [Action::Refused(Refusal::TargetNotEnabled)]
        );
        ch.register_write(1, register::INT_CONTROL, 4, 1);
        assert_eq!(ring(&mut ch).as_slice(), [raise(&ch, 1)]);
    }

    #[test]
    fn state_write_mirrors_and_raises_the_others() {
        let mut ch = channel();
        for peer in 0..3 {
            enable(&mut ch, peer);
        }
        let actions = ch.register_write(1, register::STATE, 4, 0xdead_beef);
        assert_eq!(
            actions.as_slice(),
            [
                Action::StateChanged {
                    peer: 1,
                    new_state: 0xdead_beef
                },
                raise(&ch, 0),
                raise(&ch, 2),
            ]
        );
        assert_eq!(ch.state_table(), [0, 0xdead_beef, 0]);
        assert_eq!(ch.register_read(1, register::STATE, 4).value, 0xdead_beef);
        assert!(ch.interrupt_status(0) && ch.interrupt_status(2) && !ch.interrupt_status(1));
        // The same state again changes nothing.
        assert!(ch
            .register_write(1, register::STATE, 4, 0xdead_beef)
            .is_empty());
        // A peer that does not accept interrupts misses the event but sees
        // the table; the writer is not blamed.
        ch.register_write(2, register::INT_CONTROL, 4, 0);
        let actions = ch.register_write(1, register::STATE, 4, 2);
        assert_eq!(actions.len(), 2);
        assert_eq!(ch.refusals(1).total(), 0);
        assert_eq!(Layout::state_entry_offset(1), 4);
    }

    #[test]
    fn reset_zeroes_the_state_and_tells_the_others() {
        let mut ch = channel();
        for peer in 0..3 {
            enable(&mut ch, peer);
        }
        ch.register_write(2, register::STATE, 4, 1);
        cfg_write(&mut ch, 2, 0x04, 2, 0x0406);
        let actions = ch.reset_peer(2);
        assert_eq!(
            actions.as_slice(),
            [
                Action::StateChanged {
                    peer: 2,
                    new_state: 0
                },
                raise(&ch, 0),
                raise(&ch, 1),
            ]
        );
        assert_eq!(cfg_read(&ch, 2, 0x04, 2), 0);
        assert!(!ch.interrupts_enabled(2));
        // A reset peer cannot be rung until its driver is back.
        let actions = ch.register_write(0, register::DOORBELL, 4, doorbell(2, 0));
        assert_eq!(
            actions.as_slice(),
            [Action::Refused(Refusal::TargetNotEnabled)]
        );
        // Resetting a peer at state 0 tells nobody.
        assert!(ch.reset_peer(2).is_empty());
        assert!(ch.reset_peer(7).is_empty());
    }

    #[test]
    fn layout_errors() {
        let check = |f: fn(&mut ChannelDescription)| {
            let mut d = description();
            f(&mut d);
            Channel::new(d).err()
        };
        assert_eq!(check(|_| {}), None);
        assert_eq!(
            check(|d| d.peers.truncate(1)),
            Some(LayoutError::TooFewPeers)
        );
        assert_eq!(
            check(|d| d.peers[2].cell = 0),
            Some(LayoutError::PeersNotDistinct { peer: 2 })
        );
        assert_eq!(
            check(|d| d.peers[1].device = 32),
            Some(LayoutError::DeviceOutOfRange { peer: 1 })
        );
        assert_eq!(
            check(|d| d.peers[1].intid = 31),
            Some(LayoutError::NotAnSpi { peer: 1 })
        );
        assert_eq!(
            check(|d| d.peers[1].intid = 1020),
            Some(LayoutError::NotAnSpi { peer: 1 })
        );
        assert_eq!(
            check(|d| d.state_table_size = 0),
            Some(LayoutError::StateTableTooSmall)
        );
        assert_eq!(
            check(|d| d.rw_section_size = 100),
            Some(LayoutError::NotPageMultiple)
        );
        assert_eq!(
            check(|d| d.output_section_size = !0xfff),
            Some(LayoutError::TooLarge)
        );
        assert_eq!(
            check(|d| d.output_section_size = 1 << 62),
            Some(LayoutError::TooLarge)
        );
        assert_eq!(
            check(|d| d.peers[0].registers_base = 0x1_0000_0000),
            Some(LayoutError::Registers {
                peer: 0,
                error: BarError::Above4GiB
            })
        );
        assert_eq!(
            check(|d| d.peers[0].registers_base = 0x1000_0800),
            Some(LayoutError::Registers {
                peer: 0,
                error: BarError::Alignment
            })
        );
        assert_eq!(
            check(|d| d.peers[2].shared_memory_base = 0x2000_4000),
            Some(LayoutError::SharedMemory {
                peer: 2,
                error: BarError::Alignment
            })
        );
    }

    #[test]
    fn config_channels_become_functions_at_their_index() {
        use bsp::qemu_virt::BOARD;
        use bulkhead_config::{name, Channel as ConfigChannel, System};
        let channel = |base: u64, peers: &[u8]| ConfigChannel {
            name: name("c").unwrap(),
            base,
            peers: Vec::from_slice(peers).unwrap(),
            common_size: 0x1000,
            output_size: 0x4000,
        };
        let system = System {
            board: name("qemu-virt").unwrap(),
            cells: Vec::new(),
            realtime: bulkhead_config::CellSet::EMPTY,
            direct_wfi: bulkhead_config::CellSet::EMPTY,
            virtualized: bulkhead_config::CellSet::EMPTY,
            unconfined_dma: bulkhead_config::CellSet::EMPTY,
            channels: [
                channel(0x6000_0000, &[0, 2]),
                channel(0x6010_0000, &[2, 1, 0]),
            ]
            .into_iter()
            .collect(),
            icount_quantum_ns: 0,
            console_input: bulkhead_config::ConsoleInput::Auto,
        };
        let second = describe(&system, &BOARD, 1).unwrap();
        assert_eq!(second.protocol, 0x4000);
        assert_eq!(second.state_table_size, 0x1000);
        assert_eq!(second.peers.len(), 3);
        assert_eq!(
            second.peers[1],
            PeerDescription {
                cell: 1,
                device: 1,
                intid: 96 + 8 + 4 + 1,
                registers_base: 0x1000_1000,
                shared_memory_base: 0x2100_0000,
            }
        );
        // 4 KiB + 4 KiB + 3 x 16 KiB: 56 KiB in a 64 KiB BAR.
        let layout = second.layout().unwrap();
        assert_eq!((layout.size(), layout.bar_size()), (0xe000, 0x1_0000));
        let bridge =
            HostBridge::for_cell(2, &[describe(&system, &BOARD, 0).unwrap(), second]).unwrap();
        let functions: std::vec::Vec<_> = bridge
            .functions()
            .map(|(d, f)| (d, f.channel, f.peer))
            .collect();
        assert_eq!(functions, [(0, 0, 1), (1, 1, 0)]);
        assert_eq!(describe(&system, &BOARD, 2), None);
        let bare = bsp::Board {
            virtual_pci: None,
            ..BOARD
        };
        assert_eq!(describe(&system, &bare, 0), None);
    }

    fn two_channels() -> [ChannelDescription; 2] {
        let first = description();
        let mut second = description();
        for (i, p) in second.peers.iter_mut().enumerate() {
            p.device = 7;
            p.registers_base = 0x1100_0000 + i as u64 * PAGE;
            p.shared_memory_base = 0x3000_0000 + i as u64 * 0x10_0000;
            p.intid = 110 + i as Intid;
        }
        second.peers.swap_remove(0); // cells 5 and 2
        [first, second]
    }

    #[test]
    fn bridge_routes_ecam_and_registers() {
        let channels = two_channels();
        let mut bridge = HostBridge::for_cell(5, &channels).unwrap();
        let functions: std::vec::Vec<_> = bridge
            .functions()
            .map(|(d, f)| (d, f.channel, f.peer))
            .collect();
        assert_eq!(functions, [(3, 0, 2), (7, 1, 0)]);

        let at =
            |device: u64, function: u64, register: u64| device << 15 | function << 12 | register;
        assert_eq!(
            bridge.route_config(at(3, 0, 0), 4, false),
            ConfigRoute::Function {
                channel: 0,
                peer: 2,
                access: ConfigAccess::new(0, 4).unwrap()
            }
        );
        assert!(matches!(
            bridge.route_config(at(7, 0, 0x3c), 1, true),
            ConfigRoute::Function {
                channel: 1,
                peer: 0,
                ..
            }
        ));
        // Absent devices, other functions, other buses: all ones.
        for offset in [
            at(0, 0, 0),
            at(3, 1, 0),
            at(31, 0, 0),
            1 << 20 | at(3, 0, 0),
        ] {
            assert_eq!(bridge.route_config(offset, 4, false), ConfigRoute::Absent);
        }
        assert_eq!(bridge.refusals().total(), 0);
        assert_eq!(
            bridge.route_config(at(0, 0, 4), 2, true),
            ConfigRoute::Refused(Refusal::AbsentFunction)
        );
        assert_eq!(
            bridge.route_config(at(3, 0, 2), 4, false),
            ConfigRoute::Refused(Refusal::ConfigUnaligned)
        );
        assert_eq!(
            bridge.route_config(at(3, 0, 0), 8, false),
            ConfigRoute::Refused(Refusal::ConfigWidth)
        );
        assert_eq!(
            bridge.route_config(1 << 28, 4, false),
            ConfigRoute::Refused(Refusal::OutsideWindow)
        );
        assert_eq!(bridge.refusals().total(), 4);

        assert_eq!(
            bridge.route_register(0x1000_2010),
            Some(RegisterRoute {
                channel: 0,
                peer: 2,
                offset: 0x10
            })
        );
        assert_eq!(
            bridge.route_register(0x1100_2ffc),
            Some(RegisterRoute {
                channel: 1,
                peer: 0,
                offset: 0xffc
            })
        );
        assert_eq!(bridge.route_register(0x1100_0000), None);
        assert_eq!(bridge.route_register(0x1000_3000), None);
        assert_eq!(bridge.route_register(0x1000_1fff), None);

        // Cell 0 is only a peer of the first channel.
        let bridge = HostBridge::for_cell(0, &channels).unwrap();
        assert_eq!(bridge.functions().count(), 1);
        assert_eq!(
            HostBridge::for_cell(4, &channels)
                .unwrap()
                .functions()
                .count(),
            0
        );
    }

    #[test]
    fn bridge_errors() {
        let mut channels = two_channels();
        channels[1].peers[0].device = 3;
        assert_eq!(
            HostBridge::for_cell(5, &channels),
            Err(BridgeError::DeviceTaken { device: 3 })
        );
        let mut channels = two_channels();
        channels[1].peers[0].registers_base = 0x1000_2000;
        assert_eq!(
            HostBridge::for_cell(5, &channels),
            Err(BridgeError::RegistersOverlap { device: 7 })
        );
        let mut channels = two_channels();
        channels[1].peers.truncate(1);
        assert_eq!(
            HostBridge::for_cell(5, &channels),
            Err(BridgeError::Channel {
                channel: 1,
                error: LayoutError::TooFewPeers
            })
        );
    }

    /// A small deterministic generator for the sweeps below (xorshift64*).
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// Mostly interesting values, sometimes anything.
        fn value(&mut self) -> u64 {
            match self.next() % 8 {
                0 => 0,
                1 => u64::MAX,
                2 => 0xffff_ffff,
                3 => ((self.next() % 4) << 16) | (self.next() % 2),
                4 => command::MEMORY_SPACE as u64 | (self.next() % 2) << 10,
                _ => self.next(),
            }
        }

        fn size(&mut self) -> usize {
            [0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 8, 16][(self.next() % 12) as usize]
        }
    }

    /// Invariants that hold whatever a guest did.
    fn check_invariants(ch: &Channel) {
        for peer in 0..ch.peers() {
            let read = |register| cfg_read(ch, peer, register, 4);
            assert_eq!(read(0x00), 0x4106_110a);
            assert_eq!(read(0x08), 0xff40_0100);
            assert_eq!(read(0x34), 0x40);
            assert_eq!(read(0x40) & 0xfeff_ffff, 0x0018_0009);
            // Each BAR reads its fixed address or its size mask.
            let p = ch.description().peers[peer];
            assert!([p.registers_base as u32, 0xffff_f000].contains(&read(0x10)));
            let bar2 = read(0x18);
            let size_mask = !(ch.layout().bar_size() - 1) as u32;
            assert!([p.shared_memory_base as u32 | 0xc, size_mask | 0xc].contains(&bar2));
            assert_eq!(read(0x14), 0);
            assert_eq!(cfg_read(ch, peer, 0x04, 2) & !0x0406, 0);
            assert_eq!(ch.state_table().len(), ch.peers());
        }
    }

    fn check_actions(ch: &Channel, actions: &Actions) {
        assert!(actions.len() <= MAX_ACTIONS);
        for action in actions {
            match *action {
                Action::RaiseIntx { cell, intid, peer } => {
                    let p = ch.description().peers[peer];
                    assert_eq!((cell, intid), (p.cell, p.intid));
                    assert!(ch.interrupt_status(peer) && !ch.intx_masked(peer));
                }
                Action::StateChanged { peer, new_state } => {
                    assert_eq!(ch.state_table()[peer], new_state);
                }
                Action::Refused(_) => {}
            }
        }
    }

    /// Every offset of the first devices' configuration spaces, every
    /// width, arbitrary values: nothing panics and the invariants hold.
    #[test]
    fn ecam_sweep_never_panics() {
        let channels = two_channels();
        let mut models: std::vec::Vec<Channel> = channels
            .iter()
            .cloned()
            .map(|d| Channel::new(d).unwrap())
            .collect();
        let mut bridge = HostBridge::for_cell(2, &channels).unwrap();
        let mut random = Random(0x5eed);
        let mut reached = 0;
        for device in [0u64, 3, 7] {
            for register in 0..0x1004u64 {
                for bytes in [0, 1, 2, 3, 4, 8] {
                    let offset = device << 15 | register;
                    let write = random.next().is_multiple_of(2);
                    match bridge.route_config(offset, bytes, write) {
                        ConfigRoute::Function {
                            channel,
                            peer,
                            access,
                        } => {
                            reached += 1;
                            let ch = &mut models[channel];
                            if write {
                                let actions = ch.config_write(peer, access, random.value() as u32);
                                check_actions(ch, &actions);
                            } else {
                                assert_eq!(
                                    ch.config_read(peer, access) & !access.width().mask(),
                                    0
                                );
                            }
                        }
                        ConfigRoute::Absent => assert!(!write),
                        ConfigRoute::Refused(_) => {}
                    }
                }
            }
        }
        for _ in 0..200_000 {
            let offset = match random.next() % 3 {
                0 => random.next(),
                1 => random.next() % (1 << 28),
                _ => random.next() % (1 << 16),
            };
            let write = random.next().is_multiple_of(2);
            if let ConfigRoute::Function {
                channel,
                peer,
                access,
            } = bridge.route_config(offset, random.size(), write)
            {
                let ch = &mut models[channel];
                if write {
                    let actions = ch.config_write(peer, access, random.value() as u32);
                    check_actions(ch, &actions);
                } else {
                    ch.config_read(peer, access);
                }
            }
        }
        for ch in &models {
            check_invariants(ch);
        }
        // Devices 3 and 7: 1 KiB aligned words, 2 KiB halves, 4 KiB bytes.
        assert_eq!(reached, 2 * (0x1000 / 4 + 0x1000 / 2 + 0x1000));
    }

    /// Arbitrary register and configuration accesses from every peer
    /// (and from peer ids that do not exist), interleaved with resets.
    #[test]
    fn register_sweep_never_panics() {
        let mut ch = channel();
        let mut random = Random(0xb0a7);
        let (mut raised, mut state_changes, mut refused) = (0, 0, 0);
        for round in 0..300_000u32 {
            let peer = (random.next() % 5) as usize;
            let offset = match random.next() % 4 {
                0 => random.next(),
                1 => random.next() % 0x1010,
                _ => random.next() % 6 * 4,
            };
            let actions = match random.next() % 64 {
                0 => ch.reset_peer(peer),
                1..=12 => {
                    // Mostly the Command register: decoding and masking.
                    let register = match random.next() % 4 {
                        0 => random.next() % 0x48,
                        1 => 5,
                        _ => 4,
                    };
                    match ConfigAccess::new(register, random.size()) {
                        Ok(access) => ch.config_write(peer, access, random.value() as u32),
                        Err(_) => Actions::new(),
                    }
                }
                13..=32 => {
                    let read = ch.register_read(peer, offset, random.size());
                    if read.refused.is_none() {
                        assert!(read.value <= u32::MAX as u64);
                    }
                    Actions::new()
                }
                _ => ch.register_write(peer, offset, random.size(), random.value()),
            };
            check_actions(&ch, &actions);
            for action in &actions {
                match action {
                    Action::RaiseIntx { .. } => raised += 1,
                    Action::StateChanged { .. } => state_changes += 1,
                    Action::Refused(_) => refused += 1,
                }
            }
            if round % 1000 == 0 {
                check_invariants(&ch);
            }
        }
        check_invariants(&ch);
        // The sweep reached the interesting paths, not only refusals.
        assert!(
            raised > 100 && state_changes > 1000 && refused > 1000,
            "{raised} {state_changes} {refused}"
        );
        // The state register always matches the table.
        for peer in 0..ch.peers() {
            cfg_write(&mut ch, peer, 4, 2, command::MEMORY_SPACE as u32);
            assert_eq!(
                ch.register_read(peer, register::STATE, 4).value,
                ch.state_table()[peer] as u64
            );
        }
    }
}
