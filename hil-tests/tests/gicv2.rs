//! System tests on a GICv2: QEMU's `virt` with `gic-version=2` (board
//! `qemu-virt-gicv2`), everything else as on the reference machine. The
//! partitioner drives the GIC's memory-mapped CPU interface, maps each
//! core's own page of it into its cell (direct delivery), emulates the
//! distributor with `GICD_ITARGETSR` and `GICD_SGIR`, and regains cores by
//! stage-2 revocation.
//!
//! These need the images `cargo xtask build` makes; run them through
//! `cargo xtask test`. Logs land in `target/hil/<test name>/`.

use hil_tests::{artifacts, HarnessError, Pattern, QemuTarget};
use std::time::Duration;

mod common;

/// The restart scenario of `foundation` on a GICv2: the partitioner
/// boots there and says which GIC it drives; the sensor starts its second
/// CPU and resets itself; the intruder faults on the sensor's RAM, on the
/// RTC (which no cell has) and on the GIC's hypervisor interface, and is
/// restarted after each; its kick SGI is dropped and the sensor's SPI stays
/// the sensor's; the steady cell beats through all of it.
#[test]
fn faults_restart_only_the_faulting_cell_on_a_gicv2() -> Result<(), HarnessError> {
    restart_scenario(
        &VIRT,
        "gicv2_faults_restart_only_the_faulting_cell",
        |target| target,
    )
}

/// The same on a GICv2 with two security states (`secure=on`), as under
/// firmware on a real board: everything the Non-secure side sees is Group
/// 1, and `GICC_CTLR` has its Non-secure layout.
#[test]
fn faults_restart_only_the_faulting_cell_on_a_gicv2_with_two_security_states(
) -> Result<(), HarnessError> {
    const SECURE: bsp::QemuModel = bsp::QemuModel {
        machine: "virt,secure=on,virtualization=on,gic-version=2",
        console_serial: 0,
        args: &["-cpu", "cortex-a72"],
    };
    restart_scenario(
        &VIRT,
        "gicv2_secure_faults_restart_only_the_faulting_cell",
        |target| target.soc(SECURE),
    )
}

/// A GICv2 with one CPU interface, whose `GICD_ITARGETSR` registers read
/// as zero: the partitioner still finds its core's interface (number 0),
/// starts the cell there and restarts it when it asks. (QEMU's `virt`
/// with one CPU stands for such a SoC; the board description's other
/// three cores are missing, which the partitioner reports and goes on.)
#[test]
fn a_cell_runs_and_restarts_on_a_uniprocessor_gicv2() -> Result<(), HarnessError> {
    let mut session = artifacts::boot_with(
        "gicv2-uniprocessor",
        "gicv2_a_cell_runs_and_restarts_on_a_uniprocessor",
        Duration::from_secs(60),
        |target| target.smp(1),
    );
    session.expect_all(
        [
            (
                "partitioner",
                Pattern::from("GIC: GICv2, control path revoke-stage2"),
            ),
            (
                "partitioner",
                Pattern::from("0 of 0 secondary cores online"),
            ),
            ("sensor", Pattern::from("heartbeat cell: boot 0, vcpu 0")),
            ("sensor", Pattern::from("requesting SYSTEM_RESET")),
            (
                "partitioner",
                Pattern::from("cell sensor: SYSTEM_RESET, restarting"),
            ),
            ("sensor", Pattern::from("heartbeat cell: boot 1, vcpu 0")),
        ],
        Duration::from_secs(30),
    )?;
    session.expect(
        "sensor",
        Pattern::regex(r"^heartbeat \d+$"),
        Duration::from_secs(10),
    )?;
    let log = session.lines("partitioner");
    assert!(
        log.iter()
            .any(|l| l.contains("firmware CPU_ON of cpu 3 failed")),
        "the missing cores are reported: {log:#?}"
    );
    assert!(
        !log.iter()
            .any(|l| l.contains("faulted") || l.contains("ERROR")),
        "{log:#?}"
    );
    Ok(())
}

/// The same on QEMU's model of the AMD/Xilinx ZCU102 (ZynqMP, GIC-400,
/// Cadence UART, RAM from 0, the partitioner's at 1 GiB).
#[test]
fn faults_restart_only_the_faulting_cell_on_the_zcu102() -> Result<(), HarnessError> {
    restart_scenario(
        &Board {
            config: "zcu102-restart",
            name: "zcu102",
            unassigned_mmio: 0xffa6_0000,
            hypervisor_interface: 0xf904_0000,
        },
        "zcu102_faults_restart_only_the_faulting_cell",
        |target| target,
    )
}

/// The same on QEMU's model of the Raspberry Pi 4 Model B (BCM2711,
/// GIC-400 with its security extensions on, PL011 console), where no PSCI
/// firmware runs: the partitioner releases its cores from the spin table
/// the boot stub keeps, and never issues an SMC.
#[test]
fn faults_restart_only_the_faulting_cell_on_the_raspberry_pi_4() -> Result<(), HarnessError> {
    restart_scenario(
        &Board {
            config: "rpi4b-restart",
            name: "rpi4b",
            unassigned_mmio: 0xfe10_0000,
            hypervisor_interface: 0xff84_4000,
        },
        "rpi4b_faults_restart_only_the_faulting_cell",
        |target| target,
    )
}

/// Debian's unmodified generic kernel boots in a cell on a GICv2, with the
/// device tree the host tool generated (`arm,cortex-a15-gic`: the
/// emulated distributor and the CPU interface), takes its timer
/// interrupts directly on both cores, and `poweroff` stops that cell
/// alone (`common::debian_kernel_boots`).
#[test]
fn debian_kernel_boots_in_a_cell_on_a_gicv2() -> Result<(), HarnessError> {
    let mut session = artifacts::boot(
        "gicv2-linux",
        "gicv2_debian_kernel_boots_in_a_cell",
        Duration::from_secs(180),
    );
    common::debian_kernel_boots(&mut session, common::GuestGic::V2)
}

/// Debian's unmodified kernel in a cell on the ZCU102 model, next to a
/// bare-metal heartbeat (`common::debian_kernel_boots`).
#[test]
fn debian_kernel_boots_in_a_cell_on_the_zcu102() -> Result<(), HarnessError> {
    let mut session = artifacts::boot(
        "zcu102-linux",
        "zcu102_debian_kernel_boots_in_a_cell",
        Duration::from_secs(180),
    );
    common::debian_kernel_boots(&mut session, common::GuestGic::V2)
}

/// `config/examples/zcu102-gateway.yaml` as its cells see it.
const ZCU102_GATEWAY: common::Gateway = common::Gateway {
    containers_ram: 0x1000_0000,
    switch_root: r"root in RAM \(tmpfs, \d+ MiB\)",
    root: "tmpfs tmpfs",
    control: common::CellView {
        nodes: &[
            "apb-pclk",
            "chosen",
            "clock-uart1-pclk",
            "clock-uart1-uart_clk",
            "cpus",
            "interrupt-controller@f9010000",
            "memory@50000000",
            "pcie@bff00000",
            "pl011@ff000000",
            "psci",
            "timer",
            "uart@ff010000",
        ],
        // The UART's own interrupt (SPI 22) is requested when its
        // port is opened, which nothing does.
        interrupts: &[121, 136],
    },
    containers: common::CellView {
        nodes: &[
            "apb-pclk",
            "chosen",
            "clock-ethernet-hclk",
            "clock-ethernet-pclk",
            "clock-ethernet-rx_clk",
            "clock-ethernet-tsu_clk",
            "clock-ethernet-tx_clk",
            "cpus",
            "ethernet@ff0e0000",
            "interrupt-controller@f9010000",
            "memory@10000000",
            "pcie@bff00000",
            "pl011@ff000000",
            "psci",
            "timer",
            "watchdog@ff001000",
        ],
        // GEM3's (SPI 63, once per queue: one line), the console,
        // the doorbell.
        interrupts: &[95, 122, 137],
    },
};

/// The gateway scenario (`common::gateway_cells_run_side_by_side`) of
/// `config/examples/zcu102-gateway.yaml` on the ZCU102 model, GIC-400
/// with its security extensions on: the PREEMPT_RT cell owns the second
/// PS UART; the containers cell has its root file system in RAM and owns
/// GEM3, whose driver (macb) runs on the clocks the generated tree gives
/// it and gets a DHCP lease through QEMU's user network. The channel's
/// doorbells are PL-to-PS fabric lines, spare SPIs from the middle of the
/// GIC's range. The containers cell's interrupts are virtualized through
/// the GIC-400's list registers; a person logs into both shells, and the
/// containers cell's watchdog restarts it when its daemon is killed.
#[test]
fn rt_and_container_cells_run_side_by_side_on_the_zcu102() -> Result<(), HarnessError> {
    let mut session = common::gateway_session(artifacts::boot(
        "zcu102-gateway",
        "zcu102_rt_and_container_cells_run_side_by_side",
        Duration::from_secs(240),
    ));
    // The board's spare SPIs are INTID 121..128, 136..143 and 188..191:
    // the consoles' come first (121 for cell 0, 122 for cell 1), the
    // doorbells after the eight consoles' (136 for peer 0, 137 for peer 1).
    common::gateway_cells_run_side_by_side(&mut session, &ZCU102_GATEWAY)?;
    // The containers cell's interrupts are virtualized, through the
    // GIC-400's list registers (GICH; its virtual CPU interface GICV
    // where the cell's GICC is): all of the above ran on them. The board
    // UART's interrupt (SPI 21) goes to the partitioner on its first
    // core, and typing reaches both shells.
    common::typing_and_the_watchdog(
        &mut session,
        &ZCU102_GATEWAY,
        "console input: UART interrupt 53 to cpu 2 (IRQ, virtualized cell)",
    )
}

/// Debian's unmodified kernel in a cell on the Raspberry Pi 4 model, next
/// to a bare-metal heartbeat: its second CPU comes up through the
/// partitioner's emulated PSCI, though the board has none.
#[test]
fn debian_kernel_boots_in_a_cell_on_the_raspberry_pi_4() -> Result<(), HarnessError> {
    let mut session = artifacts::boot(
        "rpi4b-linux",
        "rpi4b_debian_kernel_boots_in_a_cell",
        Duration::from_secs(180),
    );
    common::debian_kernel_boots(&mut session, common::GuestGic::V2)?;
    // The Linux cell's interrupts are virtualized through the GIC-400's
    // list registers; its first core is the housekeeping core, which
    // takes what is typed for the heartbeat cell beside it, also once
    // the Linux cell has powered off and the core is parked.
    common::assert_console_input(&session, 153, "cpu 0 (IRQ, virtualized cell)");
    common::heartbeat_hears(&mut session, "beacon")
}

/// A cell whose second CPU masks every interrupt and blocks its core's
/// CPU interface through the mapped GICC page (every active priority,
/// the priority mask at 0, the interface disabled), spinning or in WFI,
/// is still stopped and restarted through a reset, a fault and
/// `SYSTEM_OFF`: stage-2 revocation catches the spinning core, the trapped
/// WFI the waiting one; the neighbour beats on.
#[test]
fn a_cell_that_blocks_its_cpu_interface_still_stops_on_a_gicv2() -> Result<(), HarnessError> {
    let mut session = artifacts::boot(
        "gicv2-wedge",
        "gicv2_wedged_cell_stops_and_restarts",
        Duration::from_secs(90),
    );
    session.expect_all(
        [
            (
                "wedge",
                Pattern::from("boot 0: SYSTEM_RESET with vcpu 1 spinning"),
            ),
            (
                "partitioner",
                Pattern::from("cell wedge: SYSTEM_RESET, restarting"),
            ),
            (
                "wedge",
                Pattern::from("vcpu 1: interrupts masked, in WFI with its GIC blocked (boot 1)"),
            ),
            (
                "wedge",
                Pattern::regex(r"^vcpu 1: GIC blocked, running priority 0x[0-9a-f]+$"),
            ),
            (
                "wedge",
                Pattern::from("boot 1: SYSTEM_RESET with vcpu 1 in WFI"),
            ),
            (
                "wedge",
                Pattern::from("boot 2: faulting with vcpu 1 spinning"),
            ),
            (
                "partitioner",
                Pattern::from("cell wedge: restarting; other cells continue"),
            ),
            (
                "wedge",
                Pattern::from("vcpu 1: interrupts masked, in WFI with its GIC blocked (boot 3)"),
            ),
            (
                "wedge",
                Pattern::from("boot 3: SYSTEM_OFF with vcpu 1 in WFI"),
            ),
            (
                "partitioner",
                Pattern::from("cell wedge: SYSTEM_OFF, stopped"),
            ),
        ],
        Duration::from_secs(60),
    )?;
    common::steady_cell_beat_on(&mut session)?;
    common::wedge_cores_came_back(&session);
    Ok(())
}

/// What the restart scenario needs to know of a board.
struct Board {
    /// The config (`hil-tests/configs/<config>.yaml`).
    config: &'static str,
    /// The board's name, as the partitioner says it.
    name: &'static str,
    /// The device no cell has, which the intruder reads.
    unassigned_mmio: u64,
    /// The GIC's hypervisor interface, which the intruder writes.
    hypervisor_interface: u64,
}

const VIRT: Board = Board {
    config: "gicv2-restart",
    name: "qemu-virt-gicv2",
    unassigned_mmio: 0x0901_0000,
    hypervisor_interface: 0x0803_0000,
};

fn restart_scenario(
    board: &Board,
    run: &str,
    machine: impl FnOnce(QemuTarget) -> QemuTarget,
) -> Result<(), HarnessError> {
    let mut session = artifacts::boot_with(board.config, run, Duration::from_secs(120), machine);
    let banner = format!("partitioner on {}: 4 CPUs", board.name);
    session.expect_all(
        [
            ("partitioner", Pattern::from(banner.as_str())),
            (
                "partitioner",
                Pattern::from("GIC: GICv2, control path revoke-stage2"),
            ),
            (
                "partitioner",
                Pattern::from("3 of 3 secondary cores online"),
            ),
            ("sensor", Pattern::from("vcpu 1 up, context 0xc0ffee01")),
        ],
        Duration::from_secs(30),
    )?;
    common::faults_restart_only_the_faulting_cell(
        session,
        &common::RestartScenario {
            unassigned_mmio: board.unassigned_mmio,
            gic_target: common::GicTarget::HypervisorInterface(board.hypervisor_interface),
        },
    )
}
