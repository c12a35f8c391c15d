//! The consistency rules of a partitioning, checked on the model.
//!
//! The host tool runs them after it has turned YAML into a [`System`] and
//! reports each [`Finding`] at its place in the file; the partitioner runs
//! them again on the decoded blob and refuses to start on any finding. Each
//! rule is checked once, here.

use crate::model::*;
use bsp::{Board, Intid, MemRange};
use core::fmt;

/// Where in the system a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The `board` field.
    Board,
    /// The `cells` list as a whole.
    Cells,
    /// A field of cell `cell` (index in `cells`).
    Cell {
        /// Index of the cell.
        cell: usize,
        /// Which field of the cell.
        field: CellField,
    },
}

/// A field of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellField {
    /// `name`.
    Name,
    /// `cpus` as a whole.
    Cpus,
    /// The entry for physical CPU `n` in `cpus`.
    Cpu(usize),
    /// `memory[n]`.
    Memory(usize),
    /// `devices[n]`.
    Device(usize),
    /// `images[n]` (kernel, initrd, device tree in model order).
    Image(usize),
    /// `entry`.
    Entry,
    /// `console`.
    Console,
}

/// What is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The config is for another board.
    WrongBoard,
    /// No cells at all.
    NoCells,
    /// Two cells have the same name; `other` is the first one.
    DuplicateName {
        /// Index of the cell that has the name first.
        other: usize,
    },
    /// A cell name is empty or has characters other than `[a-z0-9_-]`.
    BadName,
    /// The cell has no CPU.
    NoCpus,
    /// The CPU index is not on the board.
    NoSuchCpu {
        /// Number of CPUs the board has.
        board_cpus: usize,
    },
    /// The CPU belongs to another cell already.
    CpuTaken {
        /// Index of the cell that has it first.
        other: usize,
    },
    /// A base address or size is not a multiple of 4 KiB.
    Unaligned,
    /// A region has size zero.
    Empty,
    /// A memory region is not in the board's RAM.
    NotRam,
    /// A memory region overlaps the partitioner's own RAM.
    HypervisorRam {
        /// The partitioner's range.
        reserved: MemRange,
    },
    /// Two memory regions overlap.
    MemoryOverlap {
        /// Cell of the other region.
        other_cell: usize,
        /// Index of the other region in that cell.
        other_region: usize,
    },
    /// A device is given to two cells.
    DeviceTaken {
        /// Cell that has it first.
        other: usize,
    },
    /// The partitioner keeps this device for itself.
    DeviceReserved,
    /// The board has no device of that name.
    NoSuchDevice,
    /// The device's MMIO windows or interrupts are not the board's (a
    /// hand-made or corrupted config).
    DeviceMismatch,
    /// A device's MMIO shares a 4 KiB page with a device of another cell,
    /// so stage 2 cannot separate them.
    DevicePageShared {
        /// Cell of the other device.
        other_cell: usize,
        /// Index of the other device in that cell.
        other_device: usize,
    },
    /// An interrupt is owned by two cells.
    IrqTaken {
        /// The interrupt.
        irq: Intid,
        /// Cell that owns it first.
        other: usize,
    },
    /// An image does not fit in any of the cell's memory regions.
    ImageOutsideRam,
    /// Two images of a cell overlap.
    ImageOverlap {
        /// Index of the other image.
        other: usize,
    },
    /// The entry point is not inside a kernel image.
    EntryOutsideKernel,
    /// The console window overlaps the cell's RAM or a device.
    ConsoleOverlap,
}

/// One violated rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Where.
    pub location: Location,
    /// What.
    pub problem: Problem,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::WrongBoard => write!(f, "the config is for another board"),
            Problem::NoCells => write!(f, "there are no cells"),
            Problem::DuplicateName { other } => {
                write!(f, "the name is already used by cell #{other}")
            }
            Problem::BadName => write!(
                f,
                "names must be 1 to 32 characters of a-z, 0-9, '-' and '_'"
            ),
            Problem::NoCpus => write!(f, "the cell has no CPU"),
            Problem::NoSuchCpu { board_cpus } => {
                write!(
                    f,
                    "the board has CPUs 0 to {}",
                    board_cpus.saturating_sub(1)
                )
            }
            Problem::CpuTaken { other } => write!(f, "the CPU already belongs to cell #{other}"),
            Problem::Unaligned => {
                write!(f, "addresses and sizes must be multiples of 4 KiB (0x1000)")
            }
            Problem::Empty => write!(f, "the size is zero"),
            Problem::NotRam => write!(f, "the region is not in the board's RAM"),
            Problem::HypervisorRam { reserved } => write!(
                f,
                "the region overlaps the partitioner's RAM {:#x}..{:#x}",
                reserved.base,
                reserved.end()
            ),
            Problem::MemoryOverlap {
                other_cell,
                other_region,
            } => {
                write!(
                    f,
                    "the region overlaps memory[{other_region}] of cell #{other_cell}"
                )
            }
            Problem::DeviceTaken { other } => {
                write!(f, "the device is already given to cell #{other}")
            }
            Problem::DeviceReserved => {
                write!(f, "the partitioner keeps this device (the board console)")
            }
            Problem::NoSuchDevice => write!(f, "the board has no device of that name"),
            Problem::DeviceMismatch => write!(
                f,
                "the device's MMIO windows or interrupts differ from the board description"
            ),
            Problem::DevicePageShared {
                other_cell,
                other_device,
            } => write!(
                f,
                "the device shares a 4 KiB page with devices[{other_device}] of cell #{other_cell}"
            ),
            Problem::IrqTaken { irq, other } => {
                write!(f, "interrupt {irq} is already owned by cell #{other}")
            }
            Problem::ImageOutsideRam => write!(f, "the image does not fit in the cell's memory"),
            Problem::ImageOverlap { other } => write!(f, "the image overlaps image #{other}"),
            Problem::EntryOutsideKernel => {
                write!(f, "the entry point is not inside the kernel image")
            }
            Problem::ConsoleOverlap => write!(
                f,
                "the console window overlaps the cell's memory or devices"
            ),
        }
    }
}

/// Whether `name` is a valid cell or channel name.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn aligned(r: &MemRange) -> bool {
    r.base.is_multiple_of(PAGE_SIZE) && r.size.is_multiple_of(PAGE_SIZE)
}

/// The 4 KiB pages a range touches, as a page-aligned range.
pub fn page_span(r: &MemRange) -> MemRange {
    let base = r.base & !(PAGE_SIZE - 1);
    let end = r.end().saturating_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    MemRange::new(base, end - base)
}

/// Checks `system` against `board`, calling `report` for every finding, in
/// config order. Returns the number of findings.
pub fn check(system: &System, board: &Board, mut report: impl FnMut(Finding)) -> usize {
    let mut count = 0;
    let mut emit = |location, problem| {
        count += 1;
        report(Finding { location, problem });
    };
    if system.board.as_str() != board.name {
        emit(Location::Board, Problem::WrongBoard);
    }
    if system.cells.is_empty() {
        emit(Location::Cells, Problem::NoCells);
    }
    let at = |cell, field| Location::Cell { cell, field };
    for (i, cell) in system.cells.iter().enumerate() {
        if !is_valid_name(&cell.name) {
            emit(at(i, CellField::Name), Problem::BadName);
        }
        if let Some(other) = system.cells[..i].iter().position(|c| c.name == cell.name) {
            emit(at(i, CellField::Name), Problem::DuplicateName { other });
        }
        // CPUs.
        if cell.cpus.is_empty() {
            emit(at(i, CellField::Cpus), Problem::NoCpus);
        }
        for cpu in cell.cpus.iter() {
            if cpu >= board.cpus.len() {
                emit(
                    at(i, CellField::Cpu(cpu)),
                    Problem::NoSuchCpu {
                        board_cpus: board.cpus.len(),
                    },
                );
            } else if let Some(other) = system.cells[..i].iter().position(|c| c.cpus.contains(cpu))
            {
                emit(at(i, CellField::Cpu(cpu)), Problem::CpuTaken { other });
            }
        }
        // Memory.
        for (r, region) in cell.memory.iter().enumerate() {
            let loc = at(i, CellField::Memory(r));
            let range = region.range;
            if range.size == 0 {
                emit(loc, Problem::Empty);
                continue;
            }
            if !aligned(&range) {
                emit(loc, Problem::Unaligned);
            }
            if !board.is_ram(&range) {
                emit(loc, Problem::NotRam);
            }
            if range.overlaps(&board.hypervisor_ram) {
                emit(
                    loc,
                    Problem::HypervisorRam {
                        reserved: board.hypervisor_ram,
                    },
                );
            }
            let earlier = system.cells[..=i]
                .iter()
                .enumerate()
                .flat_map(|(c, other)| {
                    let limit = if c == i { r } else { other.memory.len() };
                    other.memory[..limit]
                        .iter()
                        .enumerate()
                        .map(move |(o, m)| (c, o, m))
                });
            for (other_cell, other_region, m) in earlier {
                if m.range.overlaps(&range) {
                    emit(
                        loc,
                        Problem::MemoryOverlap {
                            other_cell,
                            other_region,
                        },
                    );
                }
            }
        }
        // Devices and their interrupts.
        for (d, device) in cell.devices.iter().enumerate() {
            let loc = at(i, CellField::Device(d));
            if device.name.as_str() == board.console.device {
                emit(loc, Problem::DeviceReserved);
                continue;
            }
            match board.device(&device.name) {
                None => {
                    emit(loc, Problem::NoSuchDevice);
                    continue;
                }
                Some(known)
                    if known.mmio != device.mmio.as_slice()
                        || known.irqs != device.irqs.as_slice() =>
                {
                    emit(loc, Problem::DeviceMismatch);
                    continue;
                }
                Some(_) => {}
            }
            if let Some(other) = system.cells[..i]
                .iter()
                .position(|c| c.devices.iter().any(|o| o.name == device.name))
            {
                emit(loc, Problem::DeviceTaken { other });
                continue;
            }
            'pages: for (other_cell, c) in system.cells[..i].iter().enumerate() {
                for (other_device, o) in c.devices.iter().enumerate() {
                    let shares = device
                        .mmio
                        .iter()
                        .any(|a| o.mmio.iter().any(|b| page_span(a).overlaps(&page_span(b))));
                    if shares && o.name != device.name {
                        emit(
                            loc,
                            Problem::DevicePageShared {
                                other_cell,
                                other_device,
                            },
                        );
                        break 'pages;
                    }
                }
            }
            for &irq in &device.irqs {
                if let Some(other) = system.cells[..i].iter().position(|c| c.owns_irq(irq)) {
                    emit(loc, Problem::IrqTaken { irq, other });
                }
            }
        }
        // Images and entry.
        for (m, image) in cell.images.iter().enumerate() {
            let loc = at(i, CellField::Image(m));
            let dest = image.destination();
            if !cell.memory.iter().any(|r| r.range.covers(&dest)) {
                emit(loc, Problem::ImageOutsideRam);
            }
            if let Some(other) = cell.images[..m]
                .iter()
                .position(|o| o.destination().overlaps(&dest))
            {
                emit(loc, Problem::ImageOverlap { other });
            }
        }
        let entry_ok = cell
            .images
            .iter()
            .any(|im| im.kind == ImageKind::Kernel && im.destination().contains(cell.entry));
        if !entry_ok {
            emit(at(i, CellField::Entry), Problem::EntryOutsideKernel);
        }
        if let Some(console) = cell.console {
            let window = console.window();
            let clash = console.base % PAGE_SIZE != 0
                || cell.memory.iter().any(|m| m.range.overlaps(&window))
                || cell
                    .devices
                    .iter()
                    .filter(|d| d.name.as_str() != board.console.device)
                    .any(|d| d.mmio.iter().any(|r| page_span(r).overlaps(&window)));
            if clash {
                emit(at(i, CellField::Console), Problem::ConsoleOverlap);
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use bsp::qemu_virt::BOARD;
    use heapless::Vec;

    fn cell(n: &str, cpus: u64, base: u64) -> Cell {
        let mut memory = Vec::new();
        memory
            .push(MemoryRegion {
                range: MemRange::new(base, 0x100_0000),
                access: Access::ReadWriteExecute,
            })
            .unwrap();
        let mut images = Vec::new();
        images
            .push(Image {
                kind: ImageKind::Kernel,
                offset: 0x1000,
                size: 0x2000,
                load_address: base,
            })
            .unwrap();
        Cell {
            name: name(n).unwrap(),
            cpus: CpuSet::from_bits(cpus),
            memory,
            devices: Vec::new(),
            console: Some(Console {
                base: 0x0900_0000,
                irq: 96,
            }),
            images,
            entry: base,
            boot_argument: 0,
            on_fault: FaultPolicy::Stop,
        }
    }

    fn system(cells: &[Cell]) -> System {
        System {
            board: name("qemu-virt").unwrap(),
            cells: cells.iter().cloned().collect(),
        }
    }

    fn findings(s: &System) -> std::vec::Vec<Finding> {
        let mut v = std::vec::Vec::new();
        check(s, &BOARD, |f| v.push(f));
        v
    }

    fn device(n: &str) -> DeviceGrant {
        let d = BOARD.device(n).unwrap();
        DeviceGrant {
            name: name(n).unwrap(),
            mmio: d.mmio.iter().copied().collect(),
            irqs: d.irqs.iter().copied().collect(),
        }
    }

    #[test]
    fn a_good_system_has_no_findings() {
        let s = system(&[cell("a", 0b11, 0x5000_0000), cell("b", 0b1100, 0x6000_0000)]);
        assert_eq!(findings(&s), []);
    }

    #[test]
    fn shared_cpu_is_reported_on_the_second_cell() {
        let s = system(&[cell("a", 0b11, 0x5000_0000), cell("b", 0b110, 0x6000_0000)]);
        let f = findings(&s);
        assert_eq!(
            f,
            [Finding {
                location: Location::Cell {
                    cell: 1,
                    field: CellField::Cpu(1)
                },
                problem: Problem::CpuTaken { other: 0 }
            }]
        );
    }

    #[test]
    fn overlapping_memory_and_hypervisor_ram() {
        let s = system(&[
            cell("a", 1, 0x5000_0000),
            cell("b", 2, 0x5080_0000),
            cell("c", 4, 0x4800_0000),
        ]);
        let problems: std::vec::Vec<_> = findings(&s).iter().map(|f| f.problem).collect();
        assert!(problems.contains(&Problem::MemoryOverlap {
            other_cell: 0,
            other_region: 0
        }));
        assert!(problems.contains(&Problem::HypervisorRam {
            reserved: BOARD.hypervisor_ram
        }));
    }

    #[test]
    fn unaligned_empty_and_not_ram() {
        let mut c = cell("a", 1, 0x5000_0000);
        c.memory
            .push(MemoryRegion {
                range: MemRange::new(0x6000_0800, 0x1000),
                access: Access::ReadWrite,
            })
            .unwrap();
        c.memory
            .push(MemoryRegion {
                range: MemRange::new(0x6100_0000, 0),
                access: Access::ReadWrite,
            })
            .unwrap();
        c.memory
            .push(MemoryRegion {
                range: MemRange::new(0x2000_0000, 0x1000),
                access: Access::ReadWrite,
            })
            .unwrap();
        let problems: std::vec::Vec<_> =
            findings(&system(&[c])).iter().map(|f| f.problem).collect();
        assert_eq!(
            problems,
            [Problem::Unaligned, Problem::Empty, Problem::NotRam]
        );
    }

    #[test]
    fn devices_are_exclusive() {
        let mut a = cell("a", 1, 0x5000_0000);
        let mut b = cell("b", 2, 0x6000_0000);
        a.devices.push(device("virtio-mmio31")).unwrap();
        b.devices.push(device("virtio-mmio31")).unwrap();
        b.devices.push(device("virtio-mmio30")).unwrap();
        b.devices.push(device("uart0")).unwrap();
        let problems: std::vec::Vec<_> = findings(&system(&[a, b]))
            .iter()
            .map(|f| f.problem)
            .collect();
        assert_eq!(
            problems,
            [
                Problem::DeviceTaken { other: 0 },
                Problem::DevicePageShared {
                    other_cell: 0,
                    other_device: 0
                },
                Problem::DeviceReserved
            ]
        );
    }

    #[test]
    fn devices_must_be_the_boards() {
        let mut a = cell("a", 1, 0x5000_0000);
        let mut forged = device("virtio-mmio31");
        forged.mmio[0] = MemRange::new(0x0800_0000, 0x1_0000);
        a.devices.push(forged).unwrap();
        let mut unknown = device("rtc");
        unknown.name = name("nope").unwrap();
        a.devices.push(unknown).unwrap();
        let problems: std::vec::Vec<_> =
            findings(&system(&[a])).iter().map(|f| f.problem).collect();
        assert_eq!(problems, [Problem::DeviceMismatch, Problem::NoSuchDevice]);
    }

    #[test]
    fn shared_irq_is_reported() {
        let mut a = cell("a", 1, 0x5000_0000);
        let mut b = cell("b", 2, 0x6000_0000);
        a.devices.push(device("virtio-mmio0")).unwrap();
        // A board whose RTC shares virtio-mmio0's interrupt line.
        const SHARED: &[u32] = &[48];
        let mut devices = BOARD.devices.to_vec();
        let rtc = devices.iter_mut().find(|d| d.name == "rtc").unwrap();
        rtc.irqs = SHARED;
        let devices: &'static [bsp::Device] = devices.leak();
        let board = bsp::Board { devices, ..BOARD };
        let mut d = device("rtc");
        d.irqs[0] = 48;
        b.devices.push(d).unwrap();
        let mut problems = std::vec::Vec::new();
        check(&system(&[a, b]), &board, |f| problems.push(f.problem));
        assert_eq!(problems, [Problem::IrqTaken { irq: 48, other: 0 }]);
    }

    #[test]
    fn images_must_fit_and_entry_must_be_in_kernel() {
        let mut a = cell("a", 1, 0x5000_0000);
        a.images[0].size = 0x100_0001;
        a.entry = 0x5800_0000;
        let problems: std::vec::Vec<_> =
            findings(&system(&[a])).iter().map(|f| f.problem).collect();
        assert_eq!(
            problems,
            [Problem::ImageOutsideRam, Problem::EntryOutsideKernel]
        );
    }

    #[test]
    fn names_cpus_and_board() {
        let mut s = system(&[cell("A", 0, 0x5000_0000), cell("A", 1 << 9, 0x6000_0000)]);
        s.board = name("rpi4").unwrap();
        let problems: std::vec::Vec<_> = findings(&s).iter().map(|f| f.problem).collect();
        assert_eq!(
            problems,
            [
                Problem::WrongBoard,
                Problem::BadName,
                Problem::NoCpus,
                Problem::BadName,
                Problem::DuplicateName { other: 0 },
                Problem::NoSuchCpu { board_cpus: 4 }
            ]
        );
        assert_eq!(
            findings(&System {
                board: name("qemu-virt").unwrap(),
                cells: Vec::new()
            })
            .len(),
            1
        );
    }
}
