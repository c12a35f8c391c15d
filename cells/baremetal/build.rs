//! Builds the test cells for one board, the board named by
//! `BULKHEAD_BOARD` (`cargo xtask build` sets it from the config's
//! `board:`, as for the partitioner): the addresses a cell reaches (its
//! emulated console at the board console's address, the GIC the
//! partitioner emulates) come from that board's description, as
//! `baremetal_cells::board`. Links them as position-independent executables with
//! their own linker script when building for the bare-metal target.

use std::fmt::Write as _;
use std::path::PathBuf;

use bsp::BOARD_ENV;

fn main() {
    println!("cargo:rerun-if-changed=cell.ld");
    println!("cargo:rerun-if-env-changed={BOARD_ENV}");
    if std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default() != "none" {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg-bins=-T{dir}/cell.ld");
    println!("cargo:rustc-link-arg-bins=-pie");
    println!("cargo:rustc-link-arg-bins=--no-dynamic-linker");
    println!("cargo:rustc-link-arg-bins=-znotext");
    let value = std::env::var(BOARD_ENV).ok();
    let board = match bsp::build_board(value.as_deref()) {
        Ok(board) => board,
        Err(error) => {
            println!("cargo::error={error}");
            return;
        }
    };
    let name = board.name;
    let gic = &board.gic;
    let mut source = String::new();
    let _ = write!(
        source,
        "/// The board these cells are built for ({BOARD_ENV}={name}).\n\
         pub const NAME: &str = {name:?};\n\
         /// The cell console: the PL011 the partitioner emulates at the\n\
         /// board console's address.\n\
         pub const CONSOLE_BASE: usize = {:#x};\n\
         /// The GIC distributor (emulated for cells).\n\
         pub const GIC_DISTRIBUTOR: usize = {:#x};\n\
         /// The first core's redistributor (`RD_base`); core `n`'s is\n\
         /// `n * GIC_REDISTRIBUTOR_STRIDE` further.\n\
         pub const GIC_REDISTRIBUTORS: usize = {:#x};\n\
         /// Distance between two cores' redistributors.\n\
         pub const GIC_REDISTRIBUTOR_STRIDE: usize = {:#x};\n\
         /// The GIC's architecture version: 2 (GICv2, memory-mapped CPU\n\
         /// interface, no redistributors) or 3.\n\
         pub const GIC_VERSION: u8 = {};\n\
         /// A GICv2's CPU interface (`GICC`; 0 on a GICv3).\n\
         pub const GIC_CPU_INTERFACE: usize = {:#x};\n\
         /// A GICv2's virtual interface control (`GICH`, which no cell\n\
         /// may reach; 0 when the board has none).\n\
         pub const GIC_HYPERVISOR_INTERFACE: usize = {:#x};\n\
         /// The EL1 virtual timer's PPI.\n\
         pub const VIRTUAL_TIMER: u32 = {};\n\
         /// The doorbell SPIs of channel 0's peers, by peer id\n\
         /// (`bulkhead_config::doorbell_spi`; 0: the board has none).\n\
         pub const DOORBELLS: [u32; {}] = {:?};\n\
         /// The virtual PCI bridge's ECAM, register BARs and shared-memory\n\
         /// BARs (`virtual_pci` of the board; 0: the board has none).\n\
         pub const VIRTUAL_PCI_ECAM: usize = {:#x};\n\
         /// See [`VIRTUAL_PCI_ECAM`].\n\
         pub const VIRTUAL_PCI_REGISTERS: usize = {:#x};\n\
         /// See [`VIRTUAL_PCI_ECAM`].\n\
         pub const VIRTUAL_PCI_MEMORY: usize = {:#x};\n",
        board.console.mmio.base,
        gic.distributor.base,
        gic.redistributors.base,
        gic.redistributor_stride,
        match gic.version {
            bsp::GicVersion::V2 => 2,
            bsp::GicVersion::V3 => 3,
        },
        gic.cpu_interface.map_or(0, |r| r.base),
        gic.hypervisor_interface.map_or(0, |r| r.base),
        board.timer.virtual_timer,
        bulkhead_config::MAX_CHANNEL_PEERS,
        (0..bulkhead_config::MAX_CHANNEL_PEERS)
            .map(|peer| bulkhead_config::doorbell_spi(board.spare_spis, 0, peer).unwrap_or(0))
            .collect::<Vec<_>>(),
        board.virtual_pci.map_or(0, |pci| pci.ecam.base),
        board.virtual_pci.map_or(0, |pci| pci.registers.base),
        board.virtual_pci.map_or(0, |pci| pci.memory.base),
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("board.rs"), source).expect("cannot write board.rs");
}
