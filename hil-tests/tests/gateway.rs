//! The gateway layout (`config/examples/qemu-gateway.yaml`, the default
//! of `cargo xtask build` and `demo`): Debian's PREEMPT_RT kernel in the
//! `control` cell on CPUs 0-1 and its generic kernel in the `containers`
//! cell on CPUs 2-3, booting at the same time on one board. The containers
//! cell boots from an ext4 disk on virtio-blk, gets an address on virtio-net
//! and runs an OCI container with crun under cgroup limits. Run through
//! `cargo xtask test`, which fetches the kernels, busybox, rt-tests and crun
//! and builds the images.
//!
//! Two Linux kernels on four emulated cores are slow on a 2-core CI host,
//! and nothing here looks at latency figures (without QEMU's `-icount` they
//! measure the host): cyclictest must run and produce samples, no more.

use hil_tests::{artifacts, HarnessError, Pattern, Session};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Hard limit for the default layout's QEMU run.
const DEADLINE: Duration = Duration::from_secs(150);
/// Both kernels boot to userspace and the container starts (about 20 s on
/// a fast host).
const BOOT: Duration = Duration::from_secs(90);
/// One cyclictest round (5 s) plus slack.
const ROUND: Duration = Duration::from_secs(30);
/// The containers cell's status period (5 s) plus slack.
const STATUS: Duration = Duration::from_secs(20);

/// The board's first spare SPI (INTID), which the partitioner gives cell
/// 0's console; cell n's is the next n-th (bsp/boards/qemu-virt.yaml,
/// `spare_spis`).
const FIRST_SPARE_SPI: u32 = 96;
/// The doorbell SPI of peer 0 of the first channel: the board's spare SPIs
/// after the 8 consoles' (config `doorbell_spi`).
const FIRST_DOORBELL_SPI: u32 = FIRST_SPARE_SPI + 8;
/// The EL1 virtual timer's PPI, which Linux at EL1 uses.
const VIRTUAL_TIMER_PPI: u32 = 27;

fn start(config: &str, run: &str, deadline: Duration) -> Session {
    let session = artifacts::boot(config, run, deadline);
    assert!(
        session.streams().iter().any(|s| s == "control")
            && session.streams().iter().any(|s| s == "containers"),
        "the gateway's cells are control and containers"
    );
    session
}

/// The text after `bulkhead-guest: <key>: ` in the first such line of
/// `stream`.
fn reported(session: &Session, stream: &str, key: &str) -> String {
    let prefix = format!("bulkhead-guest: {key}: ");
    session
        .lines(stream)
        .iter()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_else(|| panic!("{stream} reported no `{key}:` line"))
}

/// The GIC interrupts (INTIDs) a cell's `/proc/interrupts` lists, from its
/// `interrupt: <irq> GICv3 <intid> <trigger> <name>` lines.
fn gic_interrupts(session: &Session, stream: &str) -> BTreeSet<u32> {
    session
        .lines(stream)
        .iter()
        .filter_map(|l| l.strip_prefix("bulkhead-guest: interrupt: "))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace().skip(1);
            (words.next() == Some("GICv3"))
                .then(|| words.next()?.parse().ok())
                .flatten()
        })
        .collect()
}

/// Neither cell faulted, and the partitioner warned about nothing.
fn assert_no_partitioner_problems(session: &Session) {
    let problems: Vec<String> = session
        .lines("partitioner")
        .into_iter()
        .filter(|l| l.contains(" WARN ]") || l.contains(" ERROR ]") || l.contains("faulted"))
        .collect();
    assert!(problems.is_empty(), "partitioner problems: {problems:#?}");
}

/// Both cells boot at the same time and reach userspace, each on its own
/// two cores. The control cell runs the PREEMPT_RT kernel with its
/// measuring core isolated by the command line the tool generated, and
/// cyclictest completes rounds there. The containers cell boots from its
/// virtio disk, gets an address on its virtio network, starts the
/// container, and a limit change takes effect while the container runs.
/// Each cell sees only what the config gives it.
#[test]
fn rt_and_container_cells_run_side_by_side() -> Result<(), HarnessError> {
    let started = Instant::now();
    let mut session = start(
        "qemu-gateway",
        "rt_and_container_cells_run_side_by_side",
        DEADLINE,
    );
    session.expect_all(
        [
            (
                "partitioner",
                Pattern::from("cell control: starting (boot #1) at 0x50000000 on cpu 0"),
            ),
            (
                "partitioner",
                Pattern::from("cell containers: starting (boot #1) at 0x70000000 on cpu 2"),
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
                Pattern::from("bulkhead-guest: initramfs: root /dev/vda ext4, switching to /sbin/init"),
            ),
            ("containers", Pattern::from("bulkhead-guest: userspace up")),
            (
                "containers",
                Pattern::regex(r"^bulkhead-guest: uname: Linux \S+ 6\.\S+-arm64 #1 SMP .* aarch64 GNU/Linux$"),
            ),
            ("containers", Pattern::from("bulkhead-guest: nproc: 2")),
            ("containers", Pattern::from("bulkhead-guest: root: /dev/vda ext4")),
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
        BOOT,
    )?;
    let generic_uname = reported(&session, "containers", "uname");
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
        ROUND,
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
        STATUS,
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
    // Each cell is a peer of the channel `plant`: a virtual PCI host
    // bridge, and its doorbell SPI (the first spare SPIs after the
    // consoles': 104 for peer 0, 105 for peer 1).
    for (cell, memory_node, extra_nodes, spis) in [
        (
            "control",
            "memory@50000000",
            &["pcie@3f000000"][..],
            &[FIRST_SPARE_SPI, FIRST_DOORBELL_SPI][..],
        ),
        (
            "containers",
            "memory@70000000",
            &[
                "pcie@3f000000",
                "virtio-mmio@a002e00",
                "virtio-mmio@a003e00",
            ][..],
            // The network card (SPI 39), the disk (SPI 47), the console,
            // the doorbell.
            &[71, 79, FIRST_SPARE_SPI + 1, FIRST_DOORBELL_SPI + 1][..],
        ),
    ] {
        let kib: u64 = reported(&session, cell, "MemTotal")
            .trim_end_matches(" kB")
            .parse()
            .unwrap_or(0);
        assert!(
            (400 * 1024..=512 * 1024).contains(&kib),
            "{cell} has 512 MiB of RAM, less what its kernel keeps: {kib} kB"
        );
        let mut nodes = vec![
            "apb-pclk",
            "chosen",
            "cpus",
            "interrupt-controller@8000000",
            memory_node,
            "pl011@9000000",
            "psci",
            "timer",
        ];
        nodes.extend(extra_nodes);
        nodes.sort();
        assert_eq!(
            reported(&session, cell, "device tree"),
            nodes.join(" "),
            "{cell}'s device tree holds only what it owns"
        );
        let mut expected: BTreeSet<u32> = spis.iter().copied().collect();
        expected.insert(VIRTUAL_TIMER_PPI);
        assert_eq!(
            gic_interrupts(&session, cell),
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
        ROUND,
    )?;
    let gateway_ipc = session.expect(
        "containers",
        Pattern::regex(r"^bulkhead-ipc: gateway: [1-9]\d* samples/s in, [1-9]\d* setpoints/s out$"),
        ROUND,
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
        ROUND,
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
        ROUND.max(STATUS),
    )?;

    assert_no_partitioner_problems(&session);
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

/// The containers cell misbehaves while the control cell measures
/// (`hil-tests/configs/qemu-gateway-faults.yaml`): cyclictest completes a
/// round while the containers cell runs CPU, memory and disk load; the
/// containers kernel crashes (`echo c > /proc/sysrq-trigger`) and resets
/// its own cell; then it reads the control cell's RAM through `/dev/mem`
/// as root, which faults it without a byte leaking, and it restarts. The
/// control cell is never restarted and keeps measuring throughout.
#[test]
fn container_cell_crashes_and_faults_while_rt_cell_measures() -> Result<(), HarnessError> {
    let started = Instant::now();
    let mut session = start(
        "qemu-gateway-faults",
        "container_cell_crashes_and_faults_while_rt_cell_measures",
        Duration::from_secs(300),
    );
    session.expect_all(
        [
            ("control", Pattern::from("bulkhead-guest: userspace up")),
            ("containers", Pattern::from("bulkhead-guest: userspace up")),
            (
                "containers",
                Pattern::from("bulkhead-guest: scenario: faults"),
            ),
            ("containers", Pattern::from("bulkhead-guest: load: started")),
        ],
        BOOT,
    )?;

    // A cyclictest round that starts after the load did and ends before
    // it stops: the real-time cell measured under load.
    session.skip_to_end("control");
    session.expect(
        "control",
        Pattern::regex(r"^bulkhead-guest: cyclictest round \d+: "),
        ROUND,
    )?;
    let loaded = session.expect(
        "control",
        Pattern::regex(
            r"^bulkhead-guest: cyclictest round \d+: T: 0 \(\s*\d+\) P:90 I:1000 C:\s*[1-9]\d* .*Max:\s*\d+$",
        ),
        ROUND,
    )?;
    let load_over = session
        .lines("containers")
        .iter()
        .any(|l| l == "bulkhead-guest: load: stopped");
    assert!(
        !load_over,
        "the cyclictest round ended while the containers cell was still loaded"
    );
    println!("cyclictest under load (host-dependent, informational): {loaded}");

    session.expect_all(
        [
            ("containers", Pattern::from("bulkhead-guest: load: stopped")),
            (
                "containers",
                Pattern::from("bulkhead-guest: crash: echo c > /proc/sysrq-trigger"),
            ),
            (
                "containers",
                Pattern::from("Kernel panic - not syncing: sysrq triggered crash"),
            ),
            (
                "partitioner",
                Pattern::from("cell containers: SYSTEM_RESET, restarting"),
            ),
            (
                "partitioner",
                Pattern::from("cell containers: starting (boot #2) at 0x70000000 on cpu 2"),
            ),
            (
                "containers",
                Pattern::from("bulkhead-guest: after crash: back up (boot 2)"),
            ),
            (
                "containers",
                Pattern::from("bulkhead-guest: devmem: reading 0x50000000 (control cell RAM)"),
            ),
            (
                "partitioner",
                Pattern::regex(
                    r"cell containers faulted on cpu [23]: stage-2 fault: read \(translation fault\) at IPA 0x50000000, ",
                ),
            ),
            (
                "partitioner",
                Pattern::from("cell containers: restarting; other cells continue"),
            ),
            (
                "partitioner",
                Pattern::from("cell containers: starting (boot #3) at 0x70000000 on cpu 2"),
            ),
            (
                "containers",
                Pattern::from("bulkhead-guest: after fault: back up (boot 3)"),
            ),
        ],
        Duration::from_secs(180),
    )?;

    // The channel resumes: the control loop saw its peer go down and come
    // back, and setpoints flow again to the control cell's first life.
    session.skip_to_end("control");
    session.expect(
        "control",
        Pattern::regex(
            r"^bulkhead-ipc: control: \d+ samples/s sent, [1-9]\d* setpoints/s back, .*, peer up$",
        ),
        ROUND,
    )?;

    let saw_down = session
        .lines("control")
        .iter()
        .any(|l| l.starts_with("bulkhead-ipc: control: ") && l.ends_with(", peer down"));
    assert!(
        saw_down,
        "the control loop saw its channel peer down while the containers cell restarted"
    );

    // The control cell is still measuring, on its first boot.
    session.skip_to_end("control");
    session.expect(
        "control",
        Pattern::regex(r"^bulkhead-guest: cyclictest round \d+: T: 0 .* Max:\s*\d+$"),
        ROUND,
    )?;
    let partitioner = session.lines("partitioner");
    assert!(
        !partitioner
            .iter()
            .any(|l| l.contains("cell control:")
                && (l.contains("restarting") || l.contains("boot #2"))),
        "the control cell was never restarted: {partitioner:#?}"
    );
    assert!(
        !partitioner
            .iter()
            .any(|l| l.contains("cell control faulted")),
        "the control cell never faulted"
    );
    let leaked: Vec<String> = session
        .lines("containers")
        .into_iter()
        .filter(|l| l.contains("devmem: read returned"))
        .collect();
    assert!(
        leaked.is_empty(),
        "/dev/mem read another cell's RAM: {leaked:?}"
    );
    println!(
        "gateway faults: load, crash, reset, fault, restart in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
