//! System tests on a real SoC model: the NXP i.MX 8M Plus EVK in QEMU 10
//! (`-M imx8mp-evk`), with the GIC's security extensions on as TF-A runs
//! it on the real board. The partitioner is built for `imx8mp-evk` (its
//! console is the i.MX UART2, its counter runs at 8 MHz), finds Group 0
//! kept by the firmware and takes the `revoke-stage2` control path.
//!
//! These need the images `cargo xtask build` makes; run them through
//! `cargo xtask test`. Logs land in `target/hil/<test name>/`.

use hil_tests::{artifacts, HarnessError, Pattern};
use std::time::Duration;

mod common;

/// The partitioner boots on the i.MX 8M Plus, prints its summary, starts
/// a cell's second CPU through emulated PSCI, restarts a cell on
/// `SYSTEM_RESET`, and gets back the cores of a cell whose second CPU
/// masks every interrupt (spinning or in WFI) through a reset, a fault
/// and `SYSTEM_OFF`, while the other cell beats on.
#[test]
fn cells_start_restart_and_stop_on_the_imx8mp() -> Result<(), HarnessError> {
    let mut session = artifacts::boot(
        "imx8mp-heartbeat",
        "imx8mp_cells_start_restart_and_stop",
        Duration::from_secs(120),
    );
    session.expect_all(
        [
            ("partitioner", Pattern::from("partitioner on imx8mp-evk: 4 CPUs, counter 8000000 Hz")),
            ("partitioner", Pattern::from("cell sensor: cpus 0b11 (2 vCPUs), entry 0x50000000, on fault: stop")),
            ("partitioner", Pattern::from("cell sensor:   console: emulated PL011 at 0x30890000")),
            ("partitioner", Pattern::from("cell wedge: cpus 0b1100 (2 vCPUs), entry 0x60000000, on fault: restart")),
            ("partitioner", Pattern::from("GIC: firmware keeps Group 0 (DS = 0), control path revoke-stage2")),
            ("partitioner", Pattern::from("3 of 3 secondary cores online")),
            ("sensor", Pattern::from("heartbeat cell: boot 0, vcpu 0, x0 = 0x3")),
            ("sensor", Pattern::from("vcpu 1 up, context 0xc0ffee01")),
            ("sensor", Pattern::from("cpu_on(vcpu 1) = 0, now off again (affinity_info = 1)")),
            ("sensor", Pattern::from("requesting SYSTEM_RESET")),
            ("partitioner", Pattern::from("cell sensor: SYSTEM_RESET, restarting")),
            ("sensor", Pattern::from("heartbeat cell: boot 1, vcpu 0, x0 = 0x3")),
            ("wedge", Pattern::from("boot 0: SYSTEM_RESET with vcpu 1 spinning")),
            ("wedge", Pattern::from("boot 1: SYSTEM_RESET with vcpu 1 in WFI")),
            ("wedge", Pattern::from("boot 2: faulting with vcpu 1 spinning")),
            ("partitioner", Pattern::from("cell wedge faulted on cpu 2: stage-2 fault: read (translation fault) at IPA 0x40000000")),
            ("wedge", Pattern::from("boot 3: SYSTEM_OFF with vcpu 1 in WFI")),
            ("partitioner", Pattern::from("cell wedge: SYSTEM_OFF, stopped")),
        ],
        Duration::from_secs(90),
    )?;
    session.skip_to_end("sensor");
    session.expect(
        "sensor",
        Pattern::regex(r"^heartbeat \d+$"),
        Duration::from_secs(30),
    )?;
    common::wedge_cores_came_back(&session);
    Ok(())
}

/// Debian's unmodified generic kernel boots in a cell on the i.MX 8M Plus
/// with the device tree the host tool generated for the board: PSCI, both
/// virtual CPUs on the board's redistributors, the emulated PL011 at
/// UART2's address, its timer interrupts taken directly;
/// `poweroff` stops that cell alone (`common::debian_kernel_boots`).
#[test]
fn debian_kernel_boots_in_a_cell_on_the_imx8mp() -> Result<(), HarnessError> {
    let mut session = artifacts::boot(
        "imx8mp-linux",
        "imx8mp_debian_kernel_boots_in_a_cell",
        Duration::from_secs(180),
    );
    common::debian_kernel_boots(
        &mut session,
        common::GuestGic::V3 {
            redistributors: [0x3888_0000, 0x388a_0000],
        },
    )
}

/// The restart scenario of `foundation` on the i.MX 8M Plus: the intruder
/// faults on the sensor's RAM, on the watchdog (which no cell has) and on
/// another core's redistributor, and is restarted after each; its calls
/// get NOT_SUPPORTED; the sensor resets itself; the steady cell beats
/// through all of it.
#[test]
fn faults_restart_only_the_faulting_cell_on_the_imx8mp() -> Result<(), HarnessError> {
    let session = artifacts::boot(
        "imx8mp-restart",
        "imx8mp_faults_restart_only_the_faulting_cell",
        Duration::from_secs(120),
    );
    common::faults_restart_only_the_faulting_cell(
        session,
        &common::RestartScenario {
            unassigned_mmio: 0x3028_0000,
            gic_target: common::GicTarget::Redistributor(0x3888_0000),
        },
    )
}

/// Two bare-metal cells on a shared-memory channel on the i.MX 8M Plus
/// (`imx8mp-channels.yaml`): each finds the ivshmem-v2 function on its
/// virtual PCI bridge at the board's `virtual_pci` windows, doorbells are
/// the board's spare SPIs, 1000 round trips go through, the echoer's
/// write into the initiator's section faults and restarts it alone, and a
/// second round goes through.
#[test]
fn peers_exchange_messages_on_the_imx8mp() -> Result<(), HarnessError> {
    let mut session = artifacts::boot(
        "imx8mp-channels",
        "imx8mp_channels_ping_pong",
        Duration::from_secs(120),
    );
    session.expect_all(
        [
            ("partitioner", Pattern::from("channel link: memory 0x60000000..0x6000a000, device 00:00.0, BAR 0 at 0x2e000000, BAR 2 at 0x20000000 (64 KiB)")),
            ("partitioner", Pattern::from("channel link:   peer 0: cell ping, doorbell SPI 190")),
            ("partitioner", Pattern::from("channel link:   peer 1: cell pong, doorbell SPI 191")),
            ("ping", Pattern::from("pingpong: 00:00.0 is 110a:4106 class ff4000")),
            ("ping", Pattern::from("pingpong: registers at 0x2e000000, shared memory at 0x20000000: state table 0x1000, common 0x1000, 2 x output 0x4000; I am peer 0")),
            ("ping", Pattern::from("pingpong: doorbell to itself: 100 of 100 delivered")),
            ("ping", Pattern::regex(r"^pingpong: round 1: 1000 round trips ok")),
            ("pong", Pattern::from("pingpong: writing peer 0's output section at 0x20002000")),
            ("partitioner", Pattern::regex(r"cell pong faulted on cpu 1: stage-2 fault: write \(permission fault\) at IPA 0x20002000")),
            ("ping", Pattern::from("pingpong: peer 1 is down (state 0)")),
            ("ping", Pattern::from("pingpong: peer 1 is up again")),
            ("ping", Pattern::regex(r"^pingpong: round 2: 1000 round trips ok")),
            ("ping", Pattern::from("pingpong: done")),
        ],
        Duration::from_secs(90),
    )?;
    for stream in ["ping", "pong"] {
        let lines = session.lines(stream);
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("ISOLATION BROKEN") || l.contains("FAILED")),
            "{stream}: {lines:#?}"
        );
    }
    Ok(())
}

/// The gateway scenario (`common::gateway_cells_run_side_by_side`) of
/// `config/examples/imx8mp-evk-gateway.yaml` on the i.MX 8M Plus: the
/// PREEMPT_RT cell owns GPIO bank 5; the containers cell has its root file
/// system in RAM and owns the SoC's FEC, whose driver runs on the clocks
/// the generated tree gives it and gets a DHCP lease through QEMU's user
/// network.
#[test]
fn rt_and_container_cells_run_side_by_side_on_the_imx8mp() -> Result<(), HarnessError> {
    let mut session = common::gateway_session(artifacts::boot(
        "imx8mp-evk-gateway",
        "imx8mp_rt_and_container_cells_run_side_by_side",
        Duration::from_secs(180),
    ));
    // The board's spare SPIs start at 182: the consoles' come first (182
    // for cell 0, 183 for cell 1), the doorbells after the eight consoles'
    // (190 for peer 0, 191 for peer 1).
    common::gateway_cells_run_side_by_side(
        &mut session,
        &common::Gateway {
            containers_ram: 0x7000_0000,
            switch_root: r"root in RAM \(tmpfs, \d+ MiB\)",
            root: "tmpfs tmpfs",
            control: common::CellView {
                nodes: &[
                    "apb-pclk",
                    "chosen",
                    "cpus",
                    "gpio@30240000",
                    "interrupt-controller@38800000",
                    "memory@50000000",
                    "pcie@2ff00000",
                    "pl011@30890000",
                    "psci",
                    "timer",
                ],
                // The GPIO bank's own interrupts (SPI 72, 73) are chained
                // into gpio-mxc's interrupt domain and not listed.
                interrupts: &[182, 190],
            },
            containers: common::CellView {
                nodes: &[
                    "apb-pclk",
                    "chosen",
                    "clock-ethernet0-ahb",
                    "clock-ethernet0-enet_clk_ref",
                    "clock-ethernet0-enet_out",
                    "clock-ethernet0-ipg",
                    "clock-ethernet0-ptp",
                    "cpus",
                    "ethernet@30be0000",
                    "interrupt-controller@38800000",
                    "memory@70000000",
                    "pcie@2ff00000",
                    "pl011@30890000",
                    "psci",
                    "timer",
                ],
                // The FEC's four (SPI 118-121), the console, the doorbell.
                interrupts: &[150, 151, 152, 153, 183, 191],
            },
        },
    )
}
