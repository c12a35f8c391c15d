//! IPC channels: names, peers, doorbells and memory; and the virtual PCI
//! windows through which the peers see their channels.

#[cfg(feature = "std")]
use super::names::name_help;
use super::page_span;
use super::{
    channel_bar_size, channel_region, check_in_free_ram, is_valid_name, CellField, ChannelField,
    Location, Problem,
};
use crate::model::*;
#[cfg(feature = "std")]
use crate::yaml::{
    explain::Explainer,
    show::{hex_range, human_size, sanitize, virtual_pci_windows},
    Diagnostic,
};
use bsp::{Board, VirtualPci};

/// Channel `c`: its name, peers and doorbells, and its memory against
/// the board, the cells and the channels before it.
pub(super) fn check(
    system: &System,
    board: &Board,
    c: usize,
    channel: &Channel,
    emit: &mut impl FnMut(Location, Problem),
) {
    let at = |channel, field| Location::Channel { channel, field };
    if !is_valid_name(&channel.name) {
        emit(at(c, ChannelField::Name), Problem::BadName);
    }
    if let Some(other) = system.channels[..c]
        .iter()
        .position(|o| o.name == channel.name)
    {
        emit(
            at(c, ChannelField::Name),
            Problem::ChannelNameTaken { other },
        );
    }
    if channel.peers.len() < 2 {
        emit(at(c, ChannelField::Peers), Problem::TooFewPeers);
    }
    for (k, &cell) in channel.peers.iter().enumerate() {
        let loc = at(c, ChannelField::Peer(k));
        if cell as usize >= system.cells.len() {
            emit(loc, Problem::NoSuchPeerCell);
        } else if let Some(first) = channel.peers[..k].iter().position(|&p| p == cell) {
            emit(loc, Problem::PeerTwice { first });
        }
    }
    if let Some(peer) =
        (0..channel.peers.len()).find(|&peer| doorbell_spi(board.spare_spis, c, peer).is_none())
    {
        let spare = doorbell_spare_number(c, peer).unwrap_or(usize::MAX);
        emit(
            at(c, ChannelField::Peers),
            Problem::NoDoorbellSpi { peer, spare },
        );
    }
    match &board.virtual_pci {
        None => emit(at(c, ChannelField::Name), Problem::NoVirtualPci),
        Some(pci) if c >= pci.devices() => emit(
            at(c, ChannelField::Name),
            Problem::NoVirtualPciDevice {
                devices: pci.devices(),
            },
        ),
        Some(pci) => {
            let bar_size = channel_bar_size(channel);
            if bar_size.is_some_and(|size| size > pci.memory_slot) {
                emit(
                    at(c, ChannelField::OutputSize),
                    Problem::ChannelTooLarge {
                        bar_size: bar_size.unwrap_or(u64::MAX),
                        slot: pci.memory_slot,
                    },
                );
            }
        }
    }
    if !channel.base.is_multiple_of(PAGE_SIZE) {
        emit(at(c, ChannelField::Base), Problem::Unaligned);
    }
    if !channel.common_size.is_multiple_of(PAGE_SIZE) {
        emit(at(c, ChannelField::CommonSize), Problem::Unaligned);
    }
    if channel.output_size == 0 {
        emit(at(c, ChannelField::OutputSize), Problem::Empty);
    } else if !channel.output_size.is_multiple_of(PAGE_SIZE) {
        emit(at(c, ChannelField::OutputSize), Problem::Unaligned);
    }
    let loc = at(c, ChannelField::Base);
    let Some(range) = channel_region(channel) else {
        // Unaligned or empty, reported above; or past the end of the
        // address space.
        let pages = [channel.base, channel.common_size, channel.output_size]
            .iter()
            .all(|v| v.is_multiple_of(PAGE_SIZE));
        if pages && channel.output_size != 0 {
            emit(loc, Problem::NotRam);
        }
        return;
    };
    check_in_free_ram(&range, board, loc, emit);
    for (cell, other) in system.cells.iter().enumerate() {
        if let Some(region) = other.memory.iter().position(|m| m.range.overlaps(&range)) {
            emit(loc, Problem::ChannelOverlapsMemory { cell, region });
        }
    }
    if let Some(other) = system.channels[..c]
        .iter()
        .position(|o| channel_region(o).is_some_and(|r| r.overlaps(&range)))
    {
        emit(loc, Problem::ChannelOverlap { other });
    }
}

/// The virtual PCI windows a peer cell sees its channels through: nothing
/// of the cell's own may be there.
pub(super) fn check_virtual_pci_windows(
    system: &System,
    pci: &VirtualPci,
    emit: &mut impl FnMut(Location, Problem),
) {
    for (i, cell) in system.cells.iter().enumerate() {
        let Some(channel) = system
            .channels
            .iter()
            .position(|ch| ch.peer_of(i).is_some())
        else {
            continue;
        };
        let at = |field| Location::Cell { cell: i, field };
        for (r, region) in cell.memory.iter().enumerate() {
            if pci.overlaps(&region.guest_range()) {
                emit(
                    at(CellField::Memory(r)),
                    Problem::MemoryInVirtualPci { channel },
                );
            }
        }
        for (d, device) in cell.devices.iter().enumerate() {
            if device.mmio.iter().any(|w| pci.overlaps(&page_span(w))) {
                emit(
                    at(CellField::Device(d)),
                    Problem::DeviceInVirtualPci { channel },
                );
            }
        }
    }
}

/// Tells a problem with channel `channel`.
#[cfg(feature = "std")]
pub(crate) fn explain(
    x: &Explainer<'_>,
    channel: usize,
    field: ChannelField,
    problem: Problem,
) -> Option<Diagnostic> {
    let board = x.board;
    let system = x.system;
    let trace = x.channel_traces.get(channel)?;
    let model = system.channels.get(channel)?;
    let raw = x.raw.channels.get(channel)?;
    let at = |field: &str| format!("channels[{channel}].{field}");
    let this = format!("`{}`", sanitize(&raw.name));
    let peer_path = |peer: usize| x.channel_field_path(channel, ChannelField::Peer(peer));
    let range = model.range();
    Some(match (field, problem) {
        (ChannelField::Name, Problem::BadName) => {
            if trace.name_replaced {
                return None;
            }
            x.diagnostic(
                problem.code(),
                &at("name"),
                format!("{this} is not a valid channel name"),
            )
            .label("invalid name")
            .help(name_help(&raw.name))
        }
        (ChannelField::Name, Problem::ChannelNameTaken { other }) => {
            if trace.name_replaced {
                return None;
            }
            x.diagnostic(
                problem.code(),
                &at("name"),
                format!("channels[{other}] is already called {this}"),
            )
            .label("second channel with this name")
            .also(
                x.span(&format!("channels[{other}].name")),
                "first used here",
            )
            .help("give every channel a unique name")
        }
        (ChannelField::Peers, Problem::TooFewPeers) => {
            if raw.peers.len() >= 2 {
                // Peers were left out for reasons reported already.
                return None;
            }
            let peers = match raw.peers.len() {
                0 => "no peers".to_string(),
                _ => "1 peer".to_string(),
            };
            x.diagnostic(
                problem.code(),
                &at("peers"),
                format!(
                    "channel {this} has {peers}; a channel connects 2 to {MAX_CHANNEL_PEERS} cells"
                ),
            )
            .label("too few peers")
            .help(
                "list every cell that shares the channel, such as `peers: [control, containers]`; \
                 a cell's position in the list is its peer id",
            )
        }
        (ChannelField::Peers, Problem::NoDoorbellSpi { peer, spare }) => {
            let count = board.spare_spis.count();
            let help = if count as usize <= MAX_CELLS {
                format!(
                    "the cells' consoles keep the first {MAX_CELLS} spare SPIs, so board {} \
                     has none left for doorbells and cannot have channels",
                    board.name
                )
            } else {
                format!(
                    "the cells' consoles keep the first {MAX_CELLS} spare SPIs and each \
                     channel the next {MAX_CHANNEL_PEERS} (one per peer id); use fewer \
                     channels or peers on this board"
                )
            };
            x.diagnostic(
                problem.code(),
                &peer_path(peer),
                format!(
                    "peer {peer} of channel {this} needs spare SPI #{spare} as its doorbell, \
                     but board {} has {count} spare SPIs ({})",
                    board.name,
                    spare_runs(board)
                ),
            )
            .label("no doorbell")
            .help(help)
        }
        (ChannelField::Name, Problem::NoVirtualPci) => {
            let able: Vec<&str> = bsp::BOARDS
                .iter()
                .filter(|b| b.virtual_pci.is_some())
                .map(|b| b.name)
                .collect();
            x.diagnostic(
                problem.code(),
                &at("name"),
                format!(
                    "board {} has no virtual PCI host bridge for channel {this}",
                    board.name
                ),
            )
            .label("no virtual PCI")
            .help(format!(
                "cells reach a channel through a virtual PCI device, which needs \
                  `virtual_pci` in the board description; boards that have it: {}",
                able.join(", ")
            ))
        }
        (ChannelField::Name, Problem::NoVirtualPciDevice { devices }) => x
            .diagnostic(
                problem.code(),
                &at("name"),
                format!(
                    "channel {this} would be device {channel} of the virtual PCI bridge, \
                      which has room for {devices} devices on board {}",
                    board.name
                ),
            )
            .label("no device number")
            .help(format!(
                "a channel's index is its device number; use at most {devices} channels"
            )),
        (ChannelField::OutputSize, Problem::ChannelTooLarge { bar_size, slot }) => x
            .diagnostic(
                problem.code(),
                &at("output_size"),
                format!(
                    "channel {this} takes {} ({} peers), a BAR of {}, but the virtual PCI \
                      bridge of board {} gives each channel {}",
                    human_size(range.size),
                    model.peers.len(),
                    human_size(bar_size),
                    board.name,
                    human_size(slot)
                ),
            )
            .label("too large")
            .help(format!(
                "4 KiB + common_size + peers x output_size, rounded up to a power of two, \
                  must be at most {}; make `output_size` or `common_size` smaller",
                human_size(slot)
            )),
        (ChannelField::Base, Problem::Unaligned) => {
            x.unaligned(&format!("channels[{channel}]"), "base", model.base)
        }
        (ChannelField::CommonSize, Problem::Unaligned) => x.unaligned(
            &format!("channels[{channel}]"),
            "common_size",
            model.common_size,
        ),
        (ChannelField::OutputSize, Problem::Unaligned) => x.unaligned(
            &format!("channels[{channel}]"),
            "output_size",
            model.output_size,
        ),
        (ChannelField::OutputSize, Problem::Empty) => x
            .diagnostic(
                problem.code(),
                &at("output_size"),
                "the output section size is zero",
            )
            .label("empty")
            .help("give each peer an output section of at least 4K, such as `output_size: 64K`"),
        (ChannelField::Base, Problem::NotRam) => x
            .diagnostic(
                problem.code(),
                &at("base"),
                format!(
                    "channel memory {} ({}) is not in the board's RAM",
                    hex_range(&range),
                    human_size(range.size)
                ),
            )
            .label(hex_range(&range))
            .help(format!(
                "board {} has RAM at {}; the channel needs a 4 KiB state table, \
                 `common_size` and `output_size` for each of its {} peers",
                board.name,
                x.board_ram(),
                model.peers.len()
            )),
        (ChannelField::Base, Problem::HypervisorRam { reserved }) => {
            x.in_hypervisor_ram(problem, &at("base"), "channel memory", &range, &reserved)
        }
        (ChannelField::Base, Problem::ChannelOverlapsMemory { cell, region }) => {
            let owner = format!("cell {}", x.cell_name(cell));
            let help = x.with_free_ram(
                "a channel's memory belongs to the channel alone: its peers map it as the \
                 channel, not through `memory`; move `base` or the region"
                    .to_string(),
                range.size,
            );
            x.overlaps_region(
                problem,
                &at("base"),
                "channel memory",
                &range,
                (cell, region),
                &owner,
            )?
            .help(help)
        }
        (ChannelField::Base, Problem::ChannelOverlap { other }) => {
            let other_range = system.channels.get(other)?.range();
            let other_name = x.raw.channels.get(other).map_or("?", |c| c.name.as_str());
            let help = x.with_free_ram(
                "every channel has memory of its own; move `base`".to_string(),
                range.size,
            );
            x.diagnostic(
                problem.code(),
                &at("base"),
                format!(
                    "channel memory {} overlaps channel `{}` ({})",
                    hex_range(&range),
                    sanitize(other_name),
                    hex_range(&other_range)
                ),
            )
            .label(hex_range(&range))
            .also(
                x.span(&format!("channels[{other}].base")),
                format!("channel `{}`", sanitize(other_name)),
            )
            .help(help)
        }
        _ => x.unexplained(&x.channel_field_path(channel, field), problem),
    })
}

/// Tells a problem of a peer of a channel: its memory or a device in the
/// virtual PCI windows where it sees the channel.
#[cfg(feature = "std")]
pub(crate) fn explain_peer(
    x: &Explainer<'_>,
    cell: usize,
    field: CellField,
    problem: Problem,
) -> Option<Diagnostic> {
    let board = x.board;
    let model = x.footprints.cells.get(cell)?;
    Some(match (field, problem) {
        (CellField::Memory(r), Problem::MemoryInVirtualPci { channel }) => {
            let guest = model.memory.get(r)?.guest_range();
            let guest_path = x.guest_path(cell, r);
            let windows = virtual_pci_windows(board);
            x.diagnostic(
                problem.code(),
                &guest_path,
                format!(
                    "the cell sees this region at {}, over the virtual PCI windows \
                      where it sees channel {} ({windows})",
                    hex_range(&guest),
                    x.channel_name(channel)
                ),
            )
            .label(hex_range(&guest))
            .help(
                "a peer of a channel sees the channel's device there; \
                  move `guest_base` (or `base`) away from those windows",
            )
        }
        (CellField::Device(n), Problem::DeviceInVirtualPci { channel }) => {
            let path = x.device_path(cell, n);
            let device_name = model.devices.get(n)?.name.as_str();
            let windows = virtual_pci_windows(board);
            x.diagnostic(
                problem.code(),
                &path,
                format!(
                    "`{device_name}` overlaps the virtual PCI windows where this cell \
                      sees channel {} ({windows})",
                    x.channel_name(channel)
                ),
            )
            .label("in the virtual PCI windows")
            .help(format!(
                "a peer of a channel sees the channel as a PCI device there, so it cannot \
                  own `{device_name}`; give the device to a cell that is no peer, or remove it"
            ))
        }
        _ => x.unexplained(&x.cell_field_path(cell, field), problem),
    })
}

/// The board's spare SPIs as text: `96 to 159`, or `121 to 128, 136 to 143`.
#[cfg(feature = "std")]
fn spare_runs(board: &bsp::Board) -> std::string::String {
    let runs: std::vec::Vec<std::string::String> = board
        .spare_spis
        .runs()
        .iter()
        .map(|r| format!("{} to {}", r.first, r.first + r.count.saturating_sub(1)))
        .collect();
    runs.join(", ")
}
