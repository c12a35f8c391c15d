//! Scenarios that several system tests run, on different boards.
#![allow(dead_code)]

use hil_tests::{HarnessError, Pattern, Session};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The board addresses the restart scenario's intruder uses (besides the
/// sensor's RAM at `0x5000_0000`, the same in every restart config).
pub struct RestartScenario {
    /// The device no cell has, which the intruder reads (its boot
    /// argument's lower half).
    pub unassigned_mmio: u64,
    /// The part of the GIC the intruder writes, which faults.
    pub gic_target: GicTarget,
}

/// The part of the GIC no cell may write, which the intruder tries.
pub enum GicTarget {
    /// A GICv3's redistributor of CPU 0, at this address (the partitioner
    /// emulates redistributors, so it names the fault itself).
    Redistributor(u64),
    /// A GICv2's hypervisor interface (`GICH`), at this address, which no
    /// stage 2 maps.
    HypervisorInterface(u64),
}

/// The restart configs (`qemu-restart.yaml`, `imx8mp-restart.yaml`): with
/// `on_fault: restart`, the intruder is restarted after every fault and
/// tries every attack; the sensor resets itself once; the steady cell
/// beats through all of it without a missed or repeated beat.
pub fn faults_restart_only_the_faulting_cell(
    mut session: Session,
    board: &RestartScenario,
) -> Result<(), HarnessError> {
    let unassigned = format!(
        r"cell intruder faulted on cpu 2: stage-2 fault: read \(translation fault\) at IPA {:#x}, .*level \d\)",
        board.unassigned_mmio
    );
    let reading_unassigned = format!(
        "intruder: reading unassigned MMIO at {:#x}",
        board.unassigned_mmio
    );
    let (writing_gic, gic_fault) = match board.gic_target {
        GicTarget::Redistributor(address) => (
            format!("intruder: writing CPU 0's redistributor at {address:#x}"),
            Pattern::from("cell intruder faulted on cpu 2: access to another core's redistributor"),
        ),
        GicTarget::HypervisorInterface(address) => (
            format!("intruder: writing the GIC's hypervisor interface at {address:#x}"),
            Pattern::regex(&format!(
                r"cell intruder faulted on cpu 2: stage-2 fault: write \(translation fault\) at IPA {address:#x}"
            )),
        ),
    };
    session.expect_all(
        [
            ("partitioner", Pattern::regex(r"cell intruder faulted on cpu 2: stage-2 fault: read \(translation fault\) at IPA 0x50000000")),
            ("partitioner", Pattern::from("cell intruder: restarting; other cells continue")),
            ("partitioner", Pattern::regex(r"cell intruder faulted on cpu 2: stage-2 fault: write \(translation fault\) at IPA 0x50000000")),
            ("partitioner", Pattern::regex(&unassigned)),
            ("partitioner", gic_fault),
            // 16 warnings of boot 4's 20 bogus calls, then silence.
            ("partitioner", Pattern::from("cell intruder: further warnings suppressed")),
            // L2CTLR_EL1 traps (HCR_EL2.TIDCP): the read comes first.
            ("partitioner", Pattern::from("cell intruder faulted on cpu 2: system register it may not use: read of S3_1_C11_C0_2")),
            ("partitioner", Pattern::from("cell intruder: unknown firmware call 0xc2000bad on cpu 2, returned NOT_SUPPORTED")),
            ("partitioner", Pattern::from("cell intruder: HVC #0x42 on cpu 2 is not a Bulkhead call, returned NOT_SUPPORTED")),
            ("intruder", Pattern::from("intruder cell: boot 0")),
            ("intruder", Pattern::from("intruder cell: boot 1")),
            ("intruder", Pattern::from("intruder: writing another cell's RAM at 0x50000000")),
            ("intruder", Pattern::from("intruder cell: boot 2")),
            ("intruder", Pattern::from(reading_unassigned.as_str())),
            ("intruder", Pattern::from("intruder cell: boot 3")),
            ("intruder", Pattern::from("intruder: enabled the sensor's SPI 79? enable reads 0x0 (ignored)")),
            ("intruder", Pattern::from("intruder: sent itself the kick SGI 15 (dropped)")),
            ("intruder", Pattern::from(writing_gic.as_str())),
            ("intruder", Pattern::from("intruder cell: boot 4")),
            ("intruder", Pattern::from("intruder: made 20 unknown firmware calls")),
            ("intruder", Pattern::from("intruder: writing L2CTLR_EL1 (its cluster's L2 control)")),
            ("intruder", Pattern::from("intruder cell: boot 5")),
            ("intruder", Pattern::from("intruder: unknown SMC returned -1")),
            ("intruder", Pattern::from("intruder: HVC #0x42 returned -1")),
            ("intruder", Pattern::from("heartbeat 5")),
            ("intruder", Pattern::from("intruder: SYSTEM_OFF")),
            ("partitioner", Pattern::from("cell intruder: SYSTEM_OFF, stopped")),
            ("sensor", Pattern::from("requesting SYSTEM_RESET")),
            ("sensor", Pattern::from("heartbeat cell: boot 1")),
        ],
        Duration::from_secs(60),
    )?;
    // Let the steady cell beat a little longer, then check its whole life.
    let steady = steady_cell_beat_on(&mut session)?;
    let beats: Vec<u64> = steady
        .iter()
        .filter_map(|l| l.strip_prefix("heartbeat ")?.parse().ok())
        .collect();
    assert!(
        beats.len() >= 10,
        "the steady cell beat only {} times: {steady:#?}",
        beats.len()
    );
    let expected: Vec<u64> = (1..=beats.len() as u64).collect();
    assert_eq!(beats, expected, "the steady cell missed or repeated beats");
    let intruder = session.lines("intruder");
    assert!(
        !intruder.iter().any(|l| l.contains("ISOLATION BROKEN")),
        "the intruder got through: {intruder:#?}"
    );
    Ok(())
}

/// The GIC a Linux cell finds.
pub enum GuestGic {
    /// A GICv3, with its first two cores' redistributors at these
    /// addresses.
    V3 {
        /// `RD_base` of the cell's CPU 0 and CPU 1.
        redistributors: [u64; 2],
    },
    /// A GICv2 (the kernel prints no addresses for it).
    V2,
}

/// The `linux` configs (`qemu-linux.yaml`, `imx8mp-linux.yaml`): Debian's
/// kernel boots on both cores of its cell, finds them at their
/// redistributors (`redistributors`: the board's first two), reaches
/// userspace, sees two CPUs and its own RAM only, takes its timer
/// interrupts directly (both cores count them), and its `poweroff` stops
/// only its own cell, while the bare-metal `beacon` beats on.
pub fn debian_kernel_boots(session: &mut Session, gic: GuestGic) -> Result<(), HarnessError> {
    // How the kernel finds its GIC, and the name of its chip in
    // /proc/interrupts.
    let (found, chip) = match gic {
        GuestGic::V3 { redistributors } => (
            [0, 1].map(|cpu| {
                format!(
                    "GICv3: CPU{cpu}: found redistributor {cpu} region 0:{:#018x}",
                    redistributors[cpu]
                )
            }),
            "GICv3",
        ),
        GuestGic::V2 => (
            [
                "Root IRQ handler: gic_handle_irq".to_string(),
                "arch_timer: cp15 timer(s) running at".to_string(),
            ],
            "GIC-0",
        ),
    };
    let timer = format!(r"^\s*\d+:\s+[1-9]\d*\s+[1-9]\d*\s+{chip}\s+27 Level\s+arch_timer$");
    let step = Duration::from_secs(90);
    session.expect_all(
        [
            (
                "linux",
                Pattern::from("Booting Linux on physical CPU 0x0000000000"),
            ),
            (
                "linux",
                Pattern::from("psci: PSCIv1.1 detected in firmware."),
            ),
            ("linux", Pattern::from(found[0].as_str())),
            ("linux", Pattern::from(found[1].as_str())),
            (
                "linux",
                Pattern::from("CPU1: Booted secondary processor 0x0000000001"),
            ),
            ("linux", Pattern::from("bulkhead-guest: userspace up")),
            (
                "linux",
                Pattern::regex(r"^bulkhead-guest: uname: Linux 6\.\S+-arm64 aarch64$"),
            ),
            ("linux", Pattern::from("bulkhead-guest: nproc: 2")),
            (
                "linux",
                Pattern::regex(r"^bulkhead-guest: MemTotal: +\d+ kB$"),
            ),
            (
                "linux",
                Pattern::from("bulkhead-guest: device-tree cpus: 2"),
            ),
            ("linux", Pattern::regex(&timer)),
            ("linux", Pattern::from("bulkhead-guest: powering off")),
            (
                "partitioner",
                Pattern::from("cell linux: SYSTEM_OFF, stopped"),
            ),
            ("beacon", Pattern::from("heartbeat 1")),
        ],
        step,
    )?;
    // The kernel's RAM is the cell's 256 MiB (less what the kernel keeps).
    let memory = session
        .lines("linux")
        .into_iter()
        .find_map(|l| {
            l.strip_prefix("bulkhead-guest: MemTotal:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    let kib: u64 = memory.trim_end_matches(" kB").trim().parse().unwrap_or(0);
    assert!(
        (128 * 1024..=256 * 1024).contains(&kib),
        "MemTotal {memory} is not the cell's 256 MiB"
    );
    // The bare-metal cell keeps beating after Linux switched itself off.
    session.skip_to_end("beacon");
    session.expect("beacon", Pattern::regex(r"^heartbeat \d+$"), step)?;
    Ok(())
}

/// After the wedge cell's scenario (`cells/baremetal/src/bin/wedge.rs`):
/// the partitioner got every core back (no "did not leave"), the cell's
/// second CPU started at every boot and nothing broke isolation.
pub fn wedge_cores_came_back(session: &Session) {
    let log = session.lines("partitioner");
    assert!(
        !log.iter().any(|l| l.contains("did not leave")),
        "a core stayed in its cell: {log:#?}"
    );
    let wedge = session.lines("wedge");
    assert!(
        !wedge
            .iter()
            .any(|l| l.contains("ISOLATION BROKEN") || l.contains("cpu_on")),
        "the wedge cell's second CPU did not start every time: {wedge:#?}"
    );
}

/// Lets the `steady` cell beat once more after all that happened, checks
/// that it was never restarted, and returns its lines.
pub fn steady_cell_beat_on(session: &mut Session) -> Result<Vec<String>, HarnessError> {
    session.skip_to_end("steady");
    session.expect(
        "steady",
        Pattern::regex(r"^heartbeat \d+$"),
        Duration::from_secs(30),
    )?;
    let steady = session.lines("steady");
    let boots = steady
        .iter()
        .filter(|l| l.starts_with("heartbeat cell: boot"))
        .count();
    assert_eq!(boots, 1, "the steady cell was restarted: {steady:#?}");
    Ok(steady)
}

/// Both gateway kernels boot to userspace and the container starts (about
/// 20 s on a fast host).
pub const GATEWAY_BOOT: Duration = Duration::from_secs(90);
/// One cyclictest round (5 s) plus slack.
pub const CYCLICTEST_ROUND: Duration = Duration::from_secs(30);
/// The containers cell's status period (5 s) plus slack.
pub const STATUS_PERIOD: Duration = Duration::from_secs(20);
/// The EL1 virtual timer's PPI, which Linux at EL1 uses.
pub const VIRTUAL_TIMER_PPI: u32 = 27;

/// A gateway config (`qemu-gateway.yaml`, `imx8mp-evk-gateway.yaml`,
/// `zcu102-gateway.yaml`) as
/// its cells see it. On every board, `control` has CPUs 0-1 and RAM at
/// `0x5000_0000`, `containers` CPUs 2-3, each 512 MiB of RAM, and both are
/// peers of one channel.
pub struct Gateway {
    /// Where the containers cell's RAM starts (`0x7000_0000` where the
    /// board has RAM there).
    pub containers_ram: u64,
    /// How the containers cell's initramfs reports its root (a regular
    /// expression), before `, switching to /sbin/init`.
    pub switch_root: &'static str,
    /// The containers cell's `root:` line: `<device> <fstype>`.
    pub root: &'static str,
    /// What the control cell sees.
    pub control: CellView,
    /// What the containers cell sees.
    pub containers: CellView,
}

/// The board's first spare SPI (INTID), which the partitioner gives cell
/// 0's console; cell n's is the next n-th (bsp/boards/qemu-virt.yaml,
/// `spare_spis`).
pub const FIRST_SPARE_SPI: u32 = 96;
/// The doorbell SPI of peer 0 of the first channel: the board's spare SPIs
/// after the 8 consoles' (config `doorbell_spi`).
pub const FIRST_DOORBELL_SPI: u32 = FIRST_SPARE_SPI + 8;

/// `config/examples/qemu-gateway.yaml` as its cells see it (and its
/// variants with the same devices: `qemu-gateway-virtualized.yaml`).
pub const QEMU_GATEWAY: Gateway = Gateway {
    containers_ram: 0x7000_0000,
    switch_root: "root /dev/vda ext4",
    root: "/dev/vda ext4",
    // Each cell is a peer of the channel `plant`: a virtual PCI host
    // bridge, and its doorbell SPI (the first spare SPIs after the
    // consoles': 104 for peer 0, 105 for peer 1).
    control: CellView {
        nodes: &[
            "apb-pclk",
            "chosen",
            "cpus",
            "interrupt-controller@8000000",
            "memory@50000000",
            "pl011@9000000",
            "psci",
            "timer",
            "pcie@3f000000",
        ],
        interrupts: &[FIRST_SPARE_SPI, FIRST_DOORBELL_SPI],
    },
    containers: CellView {
        nodes: &[
            "apb-pclk",
            "chosen",
            "cpus",
            "interrupt-controller@8000000",
            "memory@70000000",
            "pl011@9000000",
            "psci",
            "timer",
            "pcie@3f000000",
            "virtio-mmio@a002e00",
            "virtio-mmio@a003e00",
            "watchdog@9001000",
        ],
        // The network card (SPI 39), the disk (SPI 47), the
        // console, the doorbell.
        interrupts: &[71, 79, FIRST_SPARE_SPI + 1, FIRST_DOORBELL_SPI + 1],
    },
};

/// What a cell sees of the board.
pub struct CellView {
    /// The top-level nodes of its device tree.
    pub nodes: &'static [&'static str],
    /// Its GIC interrupts (INTIDs) in `/proc/interrupts`, besides the
    /// virtual timer's.
    pub interrupts: &'static [u32],
}

/// `session`, checked to be one of a gateway config's (cells `control`
/// and `containers`).
pub fn gateway_session(session: Session) -> Session {
    assert!(
        session.streams().iter().any(|s| s == "control")
            && session.streams().iter().any(|s| s == "containers"),
        "the gateway's cells are control and containers"
    );
    session
}

/// The text after `bulkhead-guest: <key>: ` in the first such line of
/// `stream`.
pub fn reported(session: &Session, stream: &str, key: &str) -> String {
    let prefix = format!("bulkhead-guest: {key}: ");
    session
        .lines(stream)
        .iter()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_else(|| panic!("{stream} reported no `{key}:` line"))
}

/// The GIC interrupts (INTIDs) a cell's `/proc/interrupts` lists, from its
/// `interrupt: <irq> <chip> <intid> <trigger> <name>` lines whose chip is
/// the GIC (`GICv3`; `GIC-0` on a GIC-400 under Linux at EL1).
pub fn gic_interrupts(session: &Session, stream: &str) -> BTreeSet<u32> {
    session
        .lines(stream)
        .iter()
        .filter_map(|l| l.strip_prefix("bulkhead-guest: interrupt: "))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace().skip(1);
            (words.next().is_some_and(|chip| chip.starts_with("GIC")))
                .then(|| words.next()?.parse().ok())
                .flatten()
        })
        .collect()
}

/// No cell faulted, and the partitioner warned about nothing.
pub fn assert_no_partitioner_problems(session: &Session) {
    let problems: Vec<String> = session
        .lines("partitioner")
        .into_iter()
        .filter(|l| l.contains(" WARN ]") || l.contains(" ERROR ]") || l.contains("faulted"))
        .collect();
    assert!(problems.is_empty(), "partitioner problems: {problems:#?}");
}

/// The gateway scenario: both cells boot at the same time and reach
/// userspace, each on its own two cores. The control cell runs the
/// PREEMPT_RT kernel with its measuring core isolated by the command line
/// the tool generated, and cyclictest completes rounds there. The
/// containers cell switches to its root file system, gets an address by
/// DHCP on the network card it owns, starts the container, and a limit
/// change takes effect while the container runs. The channel carries the
/// control loop both ways. Each cell sees only what the config gives it.
pub fn gateway_cells_run_side_by_side(
    session: &mut Session,
    gateway: &Gateway,
) -> Result<(), HarnessError> {
    let started = Instant::now();
    session.expect_all(
        [
            (
                "partitioner",
                Pattern::from("cell control: starting (boot #1) at 0x50000000 on cpu 0"),
            ),
            (
                "partitioner",
                Pattern::from(format!(
                    "cell containers: starting (boot #1) at {:#x} on cpu 2",
                    gateway.containers_ram
                )),
            ),
            (
                "control",
                Pattern::from("Booting Linux on physical CPU 0x0000000000"),
            ),
            (
                "control",
                Pattern::from("CPU1: Booted secondary processor 0x0000000001"),
            ),
            ("control", Pattern::from("bulkhead-guest: userspace up")),
            (
                "control",
                Pattern::regex(r"^bulkhead-guest: uname: Linux \S+ 6\.\S+-rt-arm64 #1 SMP PREEMPT_RT .* aarch64 GNU/Linux$"),
            ),
            ("control", Pattern::from("bulkhead-guest: cpus online: 0-1")),
            ("control", Pattern::from("bulkhead-guest: isolated cpus: 1")),
            ("control", Pattern::from("bulkhead-guest: nohz_full cpus: 1")),
            (
                "control",
                Pattern::regex(r"^bulkhead-guest: ipc: bulkhead-ipc \d+\.\d+\.\d+$"),
            ),
            (
                "containers",
                Pattern::from("Booting Linux on physical CPU 0x0000000000"),
            ),
            (
                "containers",
                Pattern::from("CPU1: Booted secondary processor 0x0000000001"),
            ),
            (
                "containers",
                Pattern::regex(&format!("^bulkhead-guest: initramfs: {}, switching to /sbin/init$", gateway.switch_root)),
            ),
            ("containers", Pattern::from("bulkhead-guest: userspace up")),
            (
                "containers",
                Pattern::regex(r"^bulkhead-guest: uname: Linux \S+ 6\.\S+-arm64 #1 SMP .* aarch64 GNU/Linux$"),
            ),
            ("containers", Pattern::from("bulkhead-guest: nproc: 2")),
            (
                "containers",
                Pattern::from(format!("bulkhead-guest: root: {}", gateway.root)),
            ),
            (
                "containers",
                Pattern::regex(r"^bulkhead-guest: ipc: bulkhead-ipc \d+\.\d+\.\d+$"),
            ),
            (
                "containers",
                Pattern::from("bulkhead-guest: network: eth0 10.0.2.15/24"),
            ),
            (
                "containers",
                Pattern::regex(r"^bulkhead-guest: container hello: running after [\d.]+ s, pid \d+$"),
            ),
        ],
        GATEWAY_BOOT,
    )?;
    let generic_uname = reported(session, "containers", "uname");
    assert!(
        !generic_uname.contains("PREEMPT_RT") && !generic_uname.contains("-rt-"),
        "the containers cell runs the generic kernel: {generic_uname}"
    );

    // The limit change: cgroup v2 takes the new CPU quota and memory limit
    // while the container runs, the container sees them, and its CPU use
    // drops to the new quota (20 % of a CPU; CFS bandwidth control caps it,
    // whatever the host's speed).
    let change = session.expect(
        "containers",
        Pattern::regex(
            r"^bulkhead-guest: limit change: cpu\.max 50000 100000 -> 20000 100000, usage (\d+)% -> (\d+)% of a CPU; memory\.max 67108864 -> 33554432$",
        ),
        CYCLICTEST_ROUND,
    )?;
    let usage = regex::Regex::new(r"usage (\d+)% -> (\d+)%")
        .expect("a valid expression")
        .captures(&change)
        .map(|c| {
            (
                c[1].parse::<u32>().unwrap_or(0),
                c[2].parse::<u32>().unwrap_or(0),
            )
        });
    let Some((before, after)) = usage else {
        panic!("no usage figures in {change}");
    };
    assert!(
        after <= 25 && after < before,
        "the container's CPU use follows its quota: {before}% at 50%, {after}% at 20% ({change})"
    );
    session.expect(
        "containers",
        Pattern::regex(r"^container: busy \d+: cpu\.max 20000 100000, memory\.max 33554432$"),
        STATUS_PERIOD,
    )?;
    // The container's own first lines (printed while the init script
    // waited for it, so in any order with the script's).
    let containers = session.lines("containers");
    for line in [
        "container: hostname: hello",
        "container: cpu.max: 50000 100000",
        "container: memory.max: 67108864",
    ] {
        assert!(
            containers.iter().any(|l| l == line),
            "the container printed `{line}`"
        );
    }

    // Isolation, seen from inside: each cell's RAM, device tree and
    // interrupts are its own and nothing else.
    for (cell, view) in [
        ("control", &gateway.control),
        ("containers", &gateway.containers),
    ] {
        let kib: u64 = reported(session, cell, "MemTotal")
            .trim_end_matches(" kB")
            .parse()
            .unwrap_or(0);
        assert!(
            (400 * 1024..=512 * 1024).contains(&kib),
            "{cell} has 512 MiB of RAM, less what its kernel keeps: {kib} kB"
        );
        let mut nodes = view.nodes.to_vec();
        nodes.sort();
        assert_eq!(
            reported(session, cell, "device tree"),
            nodes.join(" "),
            "{cell}'s device tree holds only what it owns"
        );
        let mut expected: BTreeSet<u32> = view.interrupts.iter().copied().collect();
        expected.insert(VIRTUAL_TIMER_PPI);
        assert_eq!(
            gic_interrupts(session, cell),
            expected,
            "{cell}'s /proc/interrupts lists only its own interrupts"
        );
    }

    // The IPC demo: the control loop's samples reach the gateway container
    // through the channel and its setpoints come back, woken by doorbell
    // interrupts (uio_pci_generic). Rates and round trips are shown; the
    // test asks only that messages flow both ways.
    let control_ipc = session.expect(
        "control",
        Pattern::regex(
            r"^bulkhead-ipc: control: \d+ samples/s sent, [1-9]\d* setpoints/s back, round trip min \d+ us, avg \d+ us, max \d+ us, \d+ dropped/s, peer up$",
        ),
        CYCLICTEST_ROUND,
    )?;
    let gateway_ipc = session.expect(
        "containers",
        Pattern::regex(r"^bulkhead-ipc: gateway: [1-9]\d* samples/s in, [1-9]\d* setpoints/s out$"),
        CYCLICTEST_ROUND,
    )?;
    println!("ipc (host-dependent, informational): {control_ipc} / {gateway_ipc}");
    assert!(
        session
            .lines("control")
            .iter()
            .any(|l| l == "bulkhead-guest: channel: /dev/uio0 is PCI 0000:00:00.0"),
        "the control cell sees the channel as a PCI function"
    );
    assert!(
        session
            .lines("containers")
            .iter()
            .any(|l| l == "bulkhead-guest: container gateway: started on /dev/uio0"),
        "the gateway container started"
    );

    // cyclictest ran on the isolated core and printed the summary of its
    // one thread; the figures themselves are not checked.
    let summary = session.expect(
        "control",
        Pattern::regex(
            r"^bulkhead-guest: cyclictest round \d+: T: 0 \(\s*\d+\) P:90 I:1000 C:\s*[1-9]\d* Min:\s*\d+ Act:\s*\d+ Avg:\s*\d+ Max:\s*\d+$",
        ),
        CYCLICTEST_ROUND,
    )?;
    println!("cyclictest (host-dependent, informational): {summary}");

    // Both go on: the containers cell reports, the control cell measures.
    session.skip_to_end("containers");
    session.skip_to_end("control");
    session.expect_all(
        [
            (
                "containers",
                Pattern::regex(r"^bulkhead-guest: status \d+: up "),
            ),
            (
                "control",
                Pattern::regex(r"^bulkhead-guest: cyclictest round \d+: T: 0 .* Max:\s*\d+$"),
            ),
        ],
        CYCLICTEST_ROUND.max(STATUS_PERIOD),
    )?;

    assert_no_partitioner_problems(session);
    for cell in ["control", "containers"] {
        let failures: Vec<String> = session
            .lines(cell)
            .into_iter()
            .filter(|l| {
                l.contains("Kernel panic")
                    || l.contains("failed (exit status")
                    || l.contains("not running after")
                    || l.contains("crun update failed")
                    || l.contains("modprobe")
            })
            .collect();
        assert!(failures.is_empty(), "{cell}: {failures:#?}");
    }
    println!(
        "gateway: both cells up, container limits changed, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Logs into the shell on Linux cell `cell`'s console as a person does in
/// `cargo xtask demo` (Enter, then a command), runs a command there and
/// reads its answer: what is typed travels as input frames to the
/// partitioner, which hands it to the cell's emulated UART and raises its
/// interrupt. The cell's init offers the shell once it says so (`console:
/// press Enter for a shell`); keys typed before the console is opened are
/// dropped by Linux, so the Enter and the command are typed again until
/// the answer comes. Returns the answer line.
pub fn log_into_shell(session: &mut Session, cell: &str) -> Result<String, HarnessError> {
    const OFFERED: &str = "bulkhead-guest: console: press Enter for a shell";
    if !session.lines(cell).iter().any(|l| l == OFFERED) {
        session.expect(cell, Pattern::from(OFFERED), GATEWAY_BOOT)?;
    }
    // The answer is computed in the cell, so the echo of the command
    // cannot match it.
    let command = "echo \"shell: $((6 * 7)) on cpus $(cat /sys/devices/system/cpu/online)\"";
    let answer = Pattern::regex(r"^shell: 42 on cpus [0-9,-]+$");
    let mut last = None;
    for _ in 0..10 {
        session.type_into(cell, &format!("\r{command}\r"))?;
        match session.expect(cell, answer.clone(), Duration::from_secs(3)) {
            Ok(line) => return Ok(line),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| unreachable!("ten tries were made")))
}

/// The partitioner said where the board UART's receive interrupt (INTID
/// `uart`: 33 on QEMU virt) goes: `to` is the end of its line, `cpu N
/// (IRQ, virtualized cell)` or `cpu N (FIQ, Group 0)`.
pub fn assert_console_input(session: &Session, uart: u32, to: &str) {
    let wanted = format!("console input: UART interrupt {uart} to {to}");
    let log = session.lines("partitioner");
    assert!(
        log.iter().any(|l| l.ends_with(&wanted)),
        "no `{wanted}` in {log:#?}"
    );
}

/// Types a line into the bare-metal heartbeat cell `cell` and reads it
/// back (`heard: LINE`): the board UART's receive interrupt reached the
/// partitioner on the housekeeping core, which handed the line to the
/// cell's emulated UART.
pub fn heartbeat_hears(session: &mut Session, cell: &str) -> Result<(), HarnessError> {
    let line = "hello from the host";
    session.type_into(cell, &format!("{line}\r"))?;
    session.expect(
        cell,
        Pattern::from(format!("heard: {line}")),
        Duration::from_secs(10),
    )?;
    Ok(())
}

/// The end of a gateway scenario whose containers cell is virtualized and
/// has a watchdog: the partitioner takes the board UART's interrupt as
/// `console_input` (the end of its boot line) says, and a person logs
/// into both shells. Then the containers cell's watchdog daemon (its
/// init's, 10 s) is killed from its shell: nothing pets the watchdog, and
/// the partitioner restarts the cell ten seconds after the last pet,
/// alone, while the control cell measures on, on its first boot.
pub fn typing_and_the_watchdog(
    session: &mut Session,
    gateway: &Gateway,
    console_input: &str,
) -> Result<(), HarnessError> {
    let log = session.lines("partitioner");
    assert!(log.iter().any(|l| l.ends_with(console_input)), "{log:#?}");
    for cell in ["containers", "control"] {
        let answer = log_into_shell(session, cell)?;
        assert!(answer.ends_with("on cpus 0-1"), "{cell}: {answer}");
    }
    let containers = session.lines("containers");
    assert!(
        containers.iter().any(|l| l
            .starts_with("bulkhead-guest: watchdog: /dev/watchdog petted by pid ")
            && l.ends_with(", timeout 10 s")),
        "{containers:#?}"
    );
    session.type_into("containers", "kill -9 $(pidof watchdog)\r")?;
    let restarted = format!(
        "cell containers: starting (boot #2) at {:#x} on cpu 2",
        gateway.containers_ram
    );
    session.expect_all(
        [
            (
                "partitioner",
                Pattern::regex(
                    r"^.*cell containers: watchdog expired, not petted for 1\d{4} ms \(timeout 10000 ms\)$",
                ),
            ),
            (
                "partitioner",
                Pattern::from("cell containers: watchdog: restarting; other cells continue"),
            ),
            ("partitioner", Pattern::from(restarted)),
            ("containers", Pattern::from("bulkhead-guest: userspace up")),
        ],
        Duration::from_secs(120),
    )?;
    session.skip_to_end("control");
    session.expect(
        "control",
        Pattern::regex(r"^bulkhead-guest: cyclictest round \d+: T: 0 .* Max:\s*\d+$"),
        CYCLICTEST_ROUND,
    )?;
    let partitioner = session.lines("partitioner");
    assert!(
        !partitioner
            .iter()
            .any(|l| l.contains("cell control:") && l.contains("boot #2")),
        "the control cell was never restarted: {partitioner:#?}"
    );
    Ok(())
}
