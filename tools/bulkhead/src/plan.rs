//! The partitioning plan as a readable table: what each cell gets, each
//! shared-memory channel, and the board's RAM from the partitioner's
//! reserved range to the last gap.

use crate::BootImage;
use bsp::MemRange;
use bulkhead_config::dma;
use bulkhead_config::yaml::{human_size, Loaded, PciModel, QemuBackend};
use bulkhead_config::{doorbell_spi, Access, CellSet, Channel, FaultPolicy, ImageKind, System};
use std::fmt::Write;

/// Left-aligned columns, two spaces apart. The last cell of a row may run
/// past its column, so it does not widen the column.
fn table(rows: &[Vec<String>], indent: &str) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter(|r| r.len() > c + 1)
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = indent.to_string();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn range(r: &MemRange) -> String {
    format!("{:#010x}..{:#010x}", r.base, r.end())
}

fn access(a: Access) -> &'static str {
    match a {
        Access::ReadWriteExecute => "rwx",
        Access::ReadWrite => "rw",
        Access::ReadOnly => "ro",
    }
}

fn kind(k: ImageKind) -> &'static str {
    match k {
        ImageKind::Kernel => "kernel",
        ImageKind::Initrd => "initrd",
        ImageKind::DeviceTree => "device tree",
    }
}

/// `n` things: `1 channel`, `2 channels`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// The plan of a checked config: each cell's resources, each channel, then
/// the board's memory map.
pub fn plan(loaded: &Loaded) -> String {
    let system = &loaded.system;
    let board = loaded.board;
    let mut out = String::new();
    let channels = if system.channels.is_empty() {
        String::new()
    } else {
        format!(", {}", count(system.channels.len(), "channel"))
    };
    let _ = writeln!(
        out,
        "Plan for {} on board {} ({} CPUs, {} cells{channels})",
        loaded.path.display(),
        board.name,
        board.cpus.len(),
        system.cells.len()
    );
    for (i, cell) in system.cells.iter().enumerate() {
        let _ = writeln!(out, "\ncell {i}: {}", cell.name);
        let mut rows: Vec<Vec<String>> = Vec::new();
        let cpus: Vec<String> = cell
            .cpus
            .iter()
            .enumerate()
            .map(|(v, p)| format!("CPU {p} -> vCPU {v}"))
            .collect();
        rows.push(vec!["CPUs".into(), cpus.join(", ")]);
        for (n, m) in cell.memory.iter().enumerate() {
            let mut notes = vec![access(m.access).to_string()];
            if !m.is_identity() {
                notes.push(format!("seen at {}", range(&m.guest_range())));
            }
            if m.is_shared() {
                notes.push(format!("shared with {}", cell_names(system, m.shared_with)));
            }
            rows.push(vec![
                if n == 0 {
                    "memory".into()
                } else {
                    String::new()
                },
                range(&m.range),
                human_size(m.range.size),
                notes.join(", "),
            ]);
        }
        if cell.devices.is_empty() {
            rows.push(vec!["devices".into(), "none".into()]);
        }
        for (n, d) in cell.devices.iter().enumerate() {
            let mmio: Vec<String> = d.mmio.iter().map(range).collect();
            let irqs: Vec<String> = d.irqs.iter().map(|i| i.to_string()).collect();
            rows.push(vec![
                if n == 0 {
                    "devices".into()
                } else {
                    String::new()
                },
                d.name.to_string(),
                format!("MMIO {}", mmio.join(", ")),
                if irqs.is_empty() {
                    "no IRQ".into()
                } else {
                    format!("IRQ {}", irqs.join(", "))
                },
                qemu_backend(loaded, d.name.as_str()),
            ]);
        }
        if let Some(row) = dma_row(loaded, i) {
            rows.push(row);
        }
        rows.push(vec![
            "console".into(),
            match cell.console {
                Some(c) => format!("virtual PL011 at {:#010x}, IRQ {}", c.base, c.irq),
                None => "none".into(),
            },
        ]);
        let peer_of: Vec<String> = system
            .channels
            .iter()
            .filter_map(|ch| Some(format!("{} (peer {})", ch.name, ch.peer_of(i)?)))
            .collect();
        if !peer_of.is_empty() {
            rows.push(vec!["channels".into(), peer_of.join(", ")]);
        }
        for (n, image) in cell.images.iter().enumerate() {
            let payload = loaded.payload(i, n);
            let file = payload
                .and_then(|p| p.path.file_name())
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let footprint = payload.map_or(image.size, |p| p.footprint);
            let size = if footprint != image.size {
                format!(
                    "{} (+bss: {})",
                    human_size(image.size),
                    human_size(footprint)
                )
            } else {
                human_size(image.size)
            };
            rows.push(vec![
                if n == 0 {
                    "images".into()
                } else {
                    String::new()
                },
                kind(image.kind).into(),
                format!("load {:#010x}", image.load_address),
                size,
                file,
            ]);
        }
        rows.push(vec![
            "entry".into(),
            format!("{:#010x}", cell.entry),
            format!("x0 = {:#x}", cell.boot_argument),
        ]);
        if system.realtime.contains(i) {
            rows.push(vec!["real-time".into(), "yes".into()]);
        }
        rows.push(if system.virtualized.contains(i) {
            vec![
                "IRQs".into(),
                "virtualized".into(),
                "through the list registers: one exit each".into(),
            ]
        } else {
            vec![
                "IRQs".into(),
                "direct".into(),
                "on the physical CPU interface: no exit".into(),
            ]
        });
        if system.direct_wfi.contains(i) {
            rows.push(vec![
                "WFI".into(),
                "direct".into(),
                "not stoppable while it blocks its own GIC and sleeps".into(),
            ]);
        }
        rows.push(vec!["on fault".into(), policy(cell.on_fault).into()]);
        if let Some(watchdog) = cell.watchdog {
            rows.push(vec![
                "watchdog".into(),
                format!("SP805 at {:#010x}", watchdog.base),
                format!("{} ms", watchdog.timeout_ms),
                format!("then {}", policy(watchdog.action)),
            ]);
        }
        out.push_str(&table(&rows, "  "));
    }
    out.push('\n');
    out.push_str(&housekeeping_plan(loaded));
    for (c, channel) in system.channels.iter().enumerate() {
        out.push('\n');
        out.push_str(&channel_plan(loaded, c, channel));
    }
    out.push('\n');
    out.push_str(&memory_map(loaded));
    out
}

fn policy(policy: FaultPolicy) -> &'static str {
    match policy {
        FaultPolicy::Stop => "stop",
        FaultPolicy::Restart => "restart",
    }
}

/// Where the partitioner takes interrupts of its own while cells run (its
/// timer for the status and the watchdogs, the board UART's for console
/// input), as the board's firmware is expected to leave the GIC.
fn housekeeping_plan(loaded: &Loaded) -> String {
    let system = &loaded.system;
    let group0_open = loaded.board.gic.control_path == bsp::ControlPath::Group0Fiq;
    let input = if system.console_input == bulkhead_config::ConsoleInput::Off {
        "no console input (console_input: off)"
    } else {
        "console input"
    };
    match bulkhead_config::housekeeping::housekeeper(system, group0_open) {
        Some(keeper) => {
            let how = match keeper.delivery {
                bulkhead_config::housekeeping::Delivery::Irq => {
                    "IRQs, its interrupts are virtualized"
                }
                bulkhead_config::housekeeping::Delivery::Fiq => "Group 0 FIQs",
            };
            format!(
                "housekeeping: CPU {} (cell {}, {how}): the partitioner's timer \
                 (status, watchdogs), {input}\n",
                keeper.cpu, system.cells[keeper.cell].name
            )
        }
        None => "housekeeping: none: no console input, no watchdog (firmware keeps Group 0 \
                 and no cell is virtualized, or every cell is real-time)\n"
            .to_string(),
    }
}

/// One channel: its peers with their doorbells and what each may write,
/// then its memory, section by section, with who may do what.
fn channel_plan(loaded: &Loaded, c: usize, channel: &Channel) -> String {
    let system = &loaded.system;
    let peer_name = |peer: usize| {
        channel
            .peers
            .get(peer)
            .and_then(|&cell| system.cells.get(cell as usize))
            .map_or("?", |cell| cell.name.as_str())
    };
    let peers = 0..channel.peers.len();
    let range_of = channel.range();
    let mut out = format!(
        "channel {c}: {} ({}, {})\n",
        channel.name,
        range(&range_of),
        human_size(range_of.size)
    );
    let mut rows: Vec<Vec<String>> = Vec::new();
    for peer in peers.clone() {
        let mut writes = Vec::new();
        if channel.common_size != 0 {
            writes.push("common".to_string());
        }
        writes.push(format!("output {peer}"));
        let mut reads = vec!["state table".to_string()];
        reads.extend(
            peers
                .clone()
                .filter(|&other| other != peer)
                .map(|other| format!("output {other}")),
        );
        rows.push(vec![
            format!("peer {peer}"),
            peer_name(peer).to_string(),
            match doorbell_spi(loaded.board.spare_spis, c, peer) {
                Some(intid) => format!("doorbell IRQ {intid}"),
                None => String::from("no doorbell IRQ"),
            },
            format!("rw: {}; ro: {}", writes.join(", "), reads.join(", ")),
        ]);
    }
    out.push_str(&table(&rows, "  "));
    if let Some(pci) = loaded.board.virtual_pci {
        let bar = bulkhead_config::rules::channel_bar_size(channel).unwrap_or(0);
        out.push_str(&format!(
            "  each peer sees PCI device 00:{c:02x}.0 (ivshmem-v2): ECAM {:#010x}, BAR 0 (registers) {:#010x}, BAR 2 (memory) {:#010x} ({})\n",
            pci.ecam.base + ((c as u64) << 15),
            pci.registers_base(c),
            pci.shared_memory_base(c),
            human_size(bar)
        ));
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    rows.push(vec![
        "state table".into(),
        range(&channel.state_table()),
        human_size(channel.state_table().size),
        "read-only for every peer; the partitioner writes each peer's state".into(),
    ]);
    if channel.common_size == 0 {
        rows.push(vec!["common".into(), "none".into()]);
    } else {
        rows.push(vec![
            "common".into(),
            range(&channel.common()),
            human_size(channel.common_size),
            "read-write for every peer".into(),
        ]);
    }
    for peer in peers.clone() {
        let others: Vec<&str> = peers
            .clone()
            .filter(|&other| other != peer)
            .map(peer_name)
            .collect();
        rows.push(vec![
            format!("output {peer}"),
            range(&channel.output(peer)),
            human_size(channel.output_size),
            format!(
                "read-write for {}, read-only for {}",
                peer_name(peer),
                others.join(", ")
            ),
        ]);
    }
    out.push_str(&table(&rows, "  "));
    out
}

/// The word that marks a cell whose devices' DMA nothing confines;
/// [`highlight`] shows it in red on a terminal.
pub const UNCONFINED: &str = "UNCONFINED";

/// How the DMA of cell `i`'s devices is kept within the cell, if it owns
/// any device that masters DMA: through the SMMU (with the stream IDs),
/// or not at all (`dma: unconfined`).
fn dma_row(loaded: &Loaded, i: usize) -> Option<Vec<String>> {
    let board = loaded.board;
    let cell = loaded.system.cells.get(i)?;
    let mut confined = Vec::new();
    let mut unconfined = Vec::new();
    for (n, d) in cell.devices.iter().enumerate() {
        let Some(known) = board.device(&d.name) else {
            continue;
        };
        match dma::confinement(board, known) {
            dma::Confinement::NoDma => {}
            dma::Confinement::None => unconfined.push(d.name.to_string()),
            dma::Confinement::Smmu => {
                let streams: Vec<String> = dma::cell_streams(board, cell)
                    .filter(|s| s.device == n)
                    .map(|s| match s.in_table() {
                        Some(held) if held.count == s.count => {
                            format!("{:#x}..={:#x}", s.first, s.last())
                        }
                        Some(held) => format!(
                            "{:#x}..={:#x}, {:#x}..={:#x} blocked: beyond the stream table",
                            held.first,
                            held.last(),
                            held.last() + 1,
                            s.last()
                        ),
                        None => format!(
                            "{:#x}..={:#x} blocked: beyond the stream table",
                            s.first,
                            s.last()
                        ),
                    })
                    .collect();
                confined.push(format!("{} (streams {})", d.name, streams.join(", ")));
            }
        }
    }
    let mut parts = Vec::new();
    if !confined.is_empty() {
        let smmu = dma::driven_smmu(board).map_or("the SMMU", |i| i.name);
        parts.push(format!("confined by {smmu}: {}", confined.join(", ")));
    }
    if !unconfined.is_empty() {
        parts.push(format!(
            "{UNCONFINED}: {} can reach any physical address (dma: unconfined)",
            unconfined.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| vec!["DMA".into(), parts.join("; ")])
}

/// `plan` for a terminal: [`UNCONFINED`] in bold red.
pub fn highlight(plan: &str) -> String {
    plan.replace(UNCONFINED, &format!("\x1b[1;31m{UNCONFINED}\x1b[0m"))
}

/// What QEMU attaches behind device `device`, from the config's `qemu`
/// section; empty when nothing is.
fn qemu_backend(loaded: &Loaded, device: &str) -> String {
    match loaded.qemu.iter().find(|q| q.device == device) {
        Some(q) => match &q.backend {
            QemuBackend::Disk(path) => format!(
                "in QEMU: disk {}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ),
            QemuBackend::UserNetwork => "in QEMU: user network".into(),
            QemuBackend::PciFunction {
                model: PciModel::Edu,
                slot,
            } => format!("in QEMU: edu DMA engine in slot {slot}"),
            QemuBackend::PciFunction {
                model: PciModel::Igb,
                slot,
            } => format!("in QEMU: igb network function (FLR) in slot {slot}, no network"),
        },
        None => String::new(),
    }
}

/// The names of the cells in `cells`, comma-separated.
fn cell_names(system: &System, cells: CellSet) -> String {
    let names: Vec<&str> = cells
        .iter()
        .filter_map(|c| system.cells.get(c))
        .map(|c| c.name.as_str())
        .collect();
    names.join(", ")
}

/// The board's RAM, sorted by address: the partitioner's range, each cell
/// region, each channel and the free gaps. A region that cells share is
/// one row that names each of them; so is a channel, with its peers.
pub fn memory_map(loaded: &Loaded) -> String {
    let board = loaded.board;
    let mut used: Vec<(MemRange, String)> = vec![(
        board.hypervisor_ram,
        "partitioner (reserved: code, tables, boot image)".into(),
    )];
    let mut shared: Vec<(MemRange, Vec<String>)> = Vec::new();
    for cell in &loaded.system.cells {
        for (n, m) in cell.memory.iter().enumerate() {
            let owner = format!("{} memory[{n}] {}", cell.name, access(m.access));
            if !m.is_shared() {
                used.push((m.range, owner));
                continue;
            }
            match shared.iter_mut().find(|(r, _)| *r == m.range) {
                Some((_, owners)) => owners.push(owner),
                None => shared.push((m.range, vec![owner])),
            }
        }
    }
    for (r, owners) in shared {
        used.push((r, format!("shared: {}", owners.join(", "))));
    }
    for channel in &loaded.system.channels {
        let peers: Vec<&str> = channel
            .peers
            .iter()
            .filter_map(|&cell| loaded.system.cells.get(cell as usize))
            .map(|cell| cell.name.as_str())
            .collect();
        used.push((
            channel.range(),
            format!("channel {} ({})", channel.name, peers.join(", ")),
        ));
    }
    used.sort_by_key(|(r, _)| r.base);
    let mut out = String::from("memory map\n");
    for ram in board.ram {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut cursor = ram.base;
        let row = |r: MemRange, what: String| vec![range(&r), human_size(r.size), what];
        for (r, what) in used.iter().filter(|(r, _)| ram.overlaps(r)) {
            if r.base > cursor {
                rows.push(row(MemRange::new(cursor, r.base - cursor), "free".into()));
            }
            rows.push(row(*r, what.clone()));
            cursor = cursor.max(r.end());
        }
        if ram.end() > cursor {
            rows.push(row(
                MemRange::new(cursor, ram.end() - cursor),
                "free".into(),
            ));
        }
        let _ = writeln!(out, "  RAM {} ({})", range(ram), human_size(ram.size));
        out.push_str(&table(&rows, "    "));
    }
    out
}

/// Where everything sits in an assembled boot image.
pub fn boot_image_layout(loaded: &Loaded, image: &BootImage) -> String {
    let mut rows: Vec<Vec<String>> = vec![vec![
        format!("{:#010x}", 0),
        human_size(image.blob_offset),
        "partitioner (padded to its image_size)".into(),
    ]];
    rows.push(vec![
        format!("{:#010x}", image.blob_offset),
        human_size(image.blob.len() as u64),
        "config blob".into(),
    ]);
    for p in &loaded.payloads {
        let Some(cell) = loaded.system.cells.get(p.cell) else {
            continue;
        };
        let Some(im) = cell.images.get(p.image) else {
            continue;
        };
        rows.push(vec![
            format!("{:#010x}", image.blob_offset + im.offset),
            human_size(im.size),
            format!("{} {} ({})", cell.name, kind(im.kind), p.path.display()),
        ]);
    }
    format!(
        "boot image: {} bytes, loaded at {:#010x}, header image_size {:#x}\n{}",
        image.bytes.len(),
        image.load_address,
        image.image_size,
        table(&rows, "  ")
    )
}
