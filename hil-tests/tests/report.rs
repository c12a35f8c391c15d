//! The latency report on recorded runs (no QEMU needed): the probe's
//! output as the icount lab and a free-running QEMU printed it
//! (`testdata/latency/`), the statistics, the budget check in both
//! directions, the JSON and HTML files, and the target files in
//! `targets/` with the mistakes the parser must catch; and the whole
//! report with the real-time lab (`testdata/rt-lab/`) and the IPC lab
//! (`testdata/ipc/`) as they ran.

use hil_tests::ipc_bench::IpcBench;
use hil_tests::latency::ProbeOutput;
use hil_tests::report::{
    check_budget, IpcRecord, Provenance, RealtimeRecord, Report, RunRecord, TargetInfo,
    FREE_RUNNING_STATEMENT, ICOUNT_STATEMENT, PACKAGES_FILE,
};
use hil_tests::rt_lab::{parse_timeline, Phase, RtLabOutput};
use hil_tests::target::description::{LatencyBudget, TargetKind};
use hil_tests::TargetDescription;
use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A recorded probe output, parsed.
fn recorded(name: &str) -> ProbeOutput {
    let path = crate_dir().join("testdata/latency").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    ProbeOutput::parse(&lines).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn target(file: &str) -> TargetDescription {
    TargetDescription::load(&crate_dir().join("targets").join(file))
        .unwrap_or_else(|error| panic!("{error}"))
}

/// Provenance with fixed values, so that the report is reproducible.
fn provenance(target: &TargetDescription) -> Provenance {
    Provenance {
        target: TargetInfo::of(target),
        lab_config: Some("hil-tests/configs/qemu-latency-lab.yaml".to_string()),
        qemu_version: Some("QEMU emulator version 7.2.22".to_string()),
        git_revision: Some("0123456789ab".to_string()),
        rustc_version: Some("rustc 1.95.0 (59807616e 2026-04-14)".to_string()),
        guest_packages: vec![
            "linux-image-6.1.0-56-rt-arm64 6.1.192-2".to_string(),
            "rt-tests 2.4-1".to_string(),
        ],
        generated_unix_s: 1_700_000_000,
    }
}

fn icount_runs() -> (RunRecord, RunRecord) {
    (
        RunRecord::new(
            "native",
            "qemu … -kernel probe.bin",
            &recorded("icount-native.log"),
        ),
        RunRecord::new(
            "bulkhead",
            "qemu … -kernel bulkhead.img",
            &recorded("icount-bulkhead.log"),
        ),
    )
}

/// The report of the recorded icount runs under `target`'s budget.
fn icount_report(target: &TargetDescription) -> Report {
    let (native, bulkhead) = icount_runs();
    Report::new(
        provenance(target),
        Some(native),
        bulkhead,
        &target.latency_budget,
    )
}

#[test]
fn report_of_a_recorded_icount_run() {
    let target = target("qemu-icount.yaml");
    let report = icount_report(&target);

    // The figures.
    let row = |name: &str| {
        report
            .comparison
            .iter()
            .find(|row| row.measurement == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    for timer in ["timer_busy", "timer_wfi"] {
        let native = row(timer).native.unwrap();
        let bulkhead = row(timer).bulkhead.unwrap();
        assert_eq!((native.samples, native.lost), (200, 0));
        assert_eq!(
            (native.min, native.p99, native.max),
            (bulkhead.min, bulkhead.p99, bulkhead.max),
            "{timer}: direct delivery costs nothing"
        );
        assert_eq!(row(timer).ratio_p99, Some(1.0));
    }
    let sgi = row("sgi");
    assert_eq!(sgi.native.unwrap().p99, 5);
    assert_eq!(sgi.bulkhead.unwrap().p99, 136);
    assert!((sgi.ratio_avg.unwrap() - 27.2).abs() < 1e-9);

    // The budget of qemu-icount.yaml holds for this recording.
    assert!(report.budget.checked);
    assert!(report.budget.passed, "{:#?}", report.budget);
    assert_eq!(report.budget.checks.len(), 5);
    assert_eq!(report.statement, ICOUNT_STATEMENT);

    // JSON round trip.
    let json = report.to_json();
    assert_eq!(Report::from_json(&json).unwrap(), report);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["format"], 1);
    assert_eq!(value["provenance"]["git_revision"], "0123456789ab");
    assert_eq!(
        value["runs"][1]["measurements"]["sgi"]["histogram"]["counts"]["136"],
        200
    );

    // HTML: self-contained, with what a reader needs.
    let html = report.to_html();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for needed in [
        "not hardware nanoseconds",
        "instruction path lengths in emulation",
        "Budget met",
        "<svg",
        "samples (log)",
        "Bulkhead cell (200 samples)",
        "native: 200 samples at 4",
        "27.20×",
        "qemu-icount",
        "QEMU emulator version 7.2.22",
        "0123456789ab",
        "hil-tests/configs/qemu-latency-lab.yaml",
        "2023-11-14 22:13:20 UTC",
        "took warm-up samples and dropped them",
        "per run: native 20, bulkhead 20.",
    ] {
        assert!(html.contains(needed), "the HTML lacks `{needed}`");
    }
    assert_eq!(
        html.matches("<svg").count(),
        3,
        "one histogram per measurement"
    );
    for external in ["<script", "<link", "src=", "@import", "url("] {
        assert!(!html.contains(external), "the HTML loads `{external}`");
    }

    // Written to disk.
    let dir = std::env::temp_dir().join(format!("bulkhead-report-{}", std::process::id()));
    let (json_path, html_path) = report.write(&dir).unwrap();
    assert_eq!(std::fs::read_to_string(json_path).unwrap(), json);
    assert_eq!(std::fs::read_to_string(html_path).unwrap(), html);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_violated_budget_fails_and_says_why() {
    let (native, bulkhead) = icount_runs();
    let budget = LatencyBudget {
        max_ticks: [("timer_busy".to_string(), 8), ("sgi".to_string(), 100)]
            .into_iter()
            .collect(),
        max_overhead_ratio: [("sgi".to_string(), 2.0), ("timer_wfi".to_string(), 1.5)]
            .into_iter()
            .collect(),
        max_load_factor: None,
    };
    let outcome = check_budget(&budget, true, Some(&native), &bulkhead);
    assert!(outcome.checked);
    assert!(!outcome.passed);
    assert_eq!(outcome.note, "2 of 4 bounds violated");
    let failed: Vec<(&str, &str, &str)> = outcome
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| (c.measurement.as_str(), c.bound.as_str(), c.message.as_str()))
        .collect();
    assert_eq!(
        failed,
        [
            ("sgi", "max_ticks", "max 136 ticks exceeds 100"),
            ("sgi", "max_overhead_ratio", "p99 ratio 27.20 exceeds 2.00"),
        ]
    );

    // Without a native run there is no ratio to hold.
    let outcome = check_budget(&budget, true, None, &bulkhead);
    let ratio = outcome
        .checks
        .iter()
        .find(|c| c.measurement == "timer_wfi" && c.bound == "max_overhead_ratio")
        .unwrap();
    assert!(!ratio.passed && ratio.measured.is_none());

    // A lost interrupt violates any tick bound on its measurement.
    let lost = ProbeOutput::parse(&[
        "probe: hist busy 4:199 lost:1",
        "probe: timer latency (busy): 200 samples, min 4, avg 5000003, max 18446744073709551615 ticks",
    ])
    .unwrap();
    let lost = RunRecord::new("bulkhead", "qemu", &lost);
    let outcome = check_budget(&budget, true, Some(&native), &lost);
    let busy = outcome
        .checks
        .iter()
        .find(|c| c.measurement == "timer_busy")
        .unwrap();
    assert!(!busy.passed);
    assert_eq!(busy.message, "1 interrupt(s) never arrived");

    // The report carries the verdict.
    let target = target("qemu-icount.yaml");
    let report = Report::new(provenance(&target), Some(native), bulkhead, &budget);
    assert!(!report.budget.passed);
    assert!(report.to_html().contains("Budget VIOLATED"));
    assert!(report.summary_text().contains("FAIL sgi max_ticks"));
}

#[test]
fn budgets_are_not_checked_on_free_running_figures() {
    let target = target("qemu.yaml");
    assert!(!target.is_deterministic());
    let native = RunRecord::new("native", "qemu", &recorded("free-running-native.log"));
    let bulkhead = RunRecord::new("bulkhead", "qemu", &recorded("free-running-bulkhead.log"));
    // Even a budget that these figures would blow is not applied.
    let budget = LatencyBudget {
        max_ticks: [("timer_busy".to_string(), 1)].into_iter().collect(),
        max_overhead_ratio: Default::default(),
        max_load_factor: None,
    };
    let outcome = check_budget(&budget, false, Some(&native), &bulkhead);
    assert!(!outcome.checked && outcome.passed);
    assert!(outcome.note.contains("only under icount"));

    let report = Report::new(provenance(&target), Some(native), bulkhead, &budget);
    assert_eq!(report.statement, FREE_RUNNING_STATEMENT);
    let busy = report
        .comparison
        .iter()
        .find(|row| row.measurement == "timer_busy")
        .unwrap();
    let stats = busy.native.unwrap();
    assert!(stats.min <= stats.p99 && stats.p99 <= stats.max);
    let html = report.to_html();
    assert!(html.contains("Budget not checked"));
    assert!(html.contains("counter ticks"));
    // A free-running target's figures are also given in time, at the
    // counter frequency the probe read (62.5 MHz: 16 ns a tick).
    assert_eq!(report.runs[1].counter_hz, Some(62_500_000));
    assert!(html.contains("The same in nanoseconds"));
    let max_ns = format!("<td>{:.0}</td>", stats.max as f64 * 16.0);
    assert!(html.contains(&max_ns), "no {max_ns} in the ns table");
}

#[test]
fn the_target_files_in_the_tree_are_valid() {
    let icount = target("qemu-icount.yaml");
    assert!(icount.is_deterministic());
    let TargetKind::Qemu(qemu) = &icount.kind else {
        panic!("qemu-icount is not a QEMU target")
    };
    assert_eq!(
        (qemu.smp, qemu.cntfrq, qemu.icount),
        (1, Some(1_000_000_000), true)
    );
    assert_eq!(icount.latency_budget.max_ticks["timer_busy"], 8);
    let native = icount.native_target(Path::new("probe.bin")).unwrap();
    let cell = icount.bulkhead_target(Path::new("bulkhead.img"));
    assert!(native.describe().contains("-M virt,gic-version=3 "));
    assert!(cell.describe().contains("virtualization=on"));
    for command in [native.describe(), cell.describe()] {
        assert!(command.contains("-icount shift=0,sleep=off"), "{command}");
        assert!(command.contains("cntfrq=1000000000 -smp 1"), "{command}");
    }

    let qemu = target("qemu.yaml");
    assert!(!qemu.is_deterministic() && qemu.latency_budget.is_empty());

    let board = target("board-serial.yaml");
    let TargetKind::Serial(serial) = &board.kind else {
        panic!("board-serial is not a serial target")
    };
    assert_eq!(serial.device, Path::new("/dev/ttyUSB0"));
    assert_eq!(serial.baud, 115_200);
    assert!(serial.power_cycle.is_some() && serial.power_off.is_some());
    let uboot = serial.uboot.as_ref().unwrap();
    assert_eq!(uboot.prompt, "=>");
    assert_eq!(uboot.commands.last().unwrap(), "bootm ${loadaddr}");
    assert_eq!(uboot.native_commands.len(), 4);
    assert_eq!(uboot.tftp_dir.as_deref(), Some(Path::new("/srv/tftp")));
    assert!(!board.is_deterministic());
    assert!(board
        .bulkhead_target(Path::new("x"))
        .describe()
        .contains("/dev/ttyUSB0 at 115200 baud"));
    assert!(board.native_target(Path::new("probe.bin")).is_some());
}

/// Parses `text` and returns the error's text.
fn error_of(text: &str) -> String {
    match TargetDescription::parse(text, "bad.yaml") {
        Ok(target) => panic!("accepted: {target:#?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn bad_target_files_get_a_located_error_and_a_fix() {
    let cases: &[(&str, &[&str])] = &[
        ("name: x\n", &["bad.yaml:1:1:", "neither a `qemu:` nor a `serial:`"]),
        (
            "name: x\nqemu: {}\nserial:\n  device: /dev/ttyS0\n  baud: 115200\n",
            &["bad.yaml:4:", "either emulated or real"],
        ),
        ("name: x\nqemu:\n  smpp: 1\n", &["bad.yaml:3:", "smpp", "hint:"]),
        ("name: x\nqemu:\n  smp: 9\n", &["bad.yaml:3:8:", "smp 9 is out of range", "4 CPUs"]),
        ("name: x\nqemu:\n  memory: lots\n", &["bad.yaml:3:", "not a memory size", "2G"]),
        (
            "name: x\nqemu:\n  extra_args: [\"-d\", \"int\", \"-icount\", \"shift=1\"]\n",
            &["bad.yaml:3:", "`-icount` is set by the target's own fields"],
        ),
        ("name: two words\nqemu: {}\n", &["bad.yaml:1:7:", "not a usable target name"]),
        (
            "name: x\nqemu: {}\nlatency_budget:\n  max_ticks: { timer_busy: 8 }\n",
            &["bad.yaml:", "only hold under icount", "qemu.icount: true"],
        ),
        (
            "name: x\nqemu:\n  icount: true\nlatency_budget:\n  max_ticks: { timer_busy: 8 }\n",
            &["one tick per instruction", "cntfrq: 1000000000"],
        ),
        (
            "name: x\nqemu: { icount: true, cntfrq: 1000000000 }\nlatency_budget:\n  max_ticks:\n    timer: 8\n",
            &["bad.yaml:5:", "unknown measurement `timer`", "`timer_busy`"],
        ),
        (
            "name: x\nqemu: { icount: true, cntfrq: 1000000000 }\nlatency_budget:\n  max_overhead_ratio:\n    sgi: 0.5\n",
            &["bad.yaml:5:", "overhead ratio 0.5 is not a bound"],
        ),
        (
            "name: x\nqemu: { icount: true, cntfrq: 1000000000 }\nlatency_budget:\n  max_ticks: { sgi: 0 }\n",
            &["a budget of 0 ticks can never be met"],
        ),
        (
            "name: x\nserial:\n  device: ttyUSB0\n  baud: 115200\n",
            &["bad.yaml:3:", "`ttyUSB0` is not a device path", "/dev/serial/by-id/"],
        ),
        (
            "name: x\nserial:\n  device: /dev/ttyUSB0\n  baud: 115201\n",
            &["bad.yaml:4:", "115201 is not a standard baud rate", "115200"],
        ),
        (
            "name: x\nserial:\n  device: /dev/ttyUSB0\n  baud: 115200\n  uboot:\n    commands: []\n",
            &["bad.yaml:6:", "`commands` must list"],
        ),
        (
            "name: x\nserial:\n  device: /dev/ttyUSB0\n  baud: 115200\n  uboot:\n    commands: [boot]\n    tftp_dir: tftp\n",
            &["bad.yaml:7:", "not an absolute directory"],
        ),
        (
            "name: x\nserial:\n  device: /dev/ttyUSB0\n",
            &["bad.yaml:", "baud"],
        ),
        ("name: [x\n", &["bad.yaml:"]),
    ];
    for (text, wanted) in cases {
        let error = error_of(text);
        for part in *wanted {
            assert!(
                error.contains(part),
                "error for\n{text}\nlacks `{part}`:\n{error}"
            );
        }
    }
}

#[test]
fn a_missing_target_file_names_the_file() {
    let error = TargetDescription::load(Path::new("/nonexistent/target.yaml"))
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("/nonexistent/target.yaml:"), "{error}");
    assert!(error.contains("cannot read"), "{error}");
}

/// The whole report of a recorded `cargo xtask hil` on the icount target:
/// the probe, the real-time lab (its consoles in arrival order,
/// `testdata/rt-lab/timeline.txt`, filtered to the lines the lab reads) and
/// the IPC lab (`testdata/ipc/icount-initiator.log`).
#[test]
fn report_with_the_real_time_and_ipc_labs() {
    let target = target("qemu-icount.yaml");
    let mut report = icount_report(&target);
    let text = std::fs::read_to_string(crate_dir().join("testdata/rt-lab/timeline.txt")).unwrap();
    let lab = RtLabOutput::parse(&parse_timeline(&text)).unwrap_or_else(|e| panic!("{e}"));
    let budget = Some(200_000);
    report.add_realtime(
        RealtimeRecord::new(&lab, "control", budget, "qemu … qemu-rt-lab/bulkhead.img")
            .with_core_exits(&lab, &[0]),
        &lab,
        budget,
        target.latency_budget.max_load_factor,
    );
    let text =
        std::fs::read_to_string(crate_dir().join("testdata/ipc/icount-initiator.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    report.ipc = Some(IpcRecord {
        command: "qemu … qemu-ipc-lab/bulkhead.img".to_string(),
        log_dir: "target/hil/ipc-lab-qemu-icount".to_string(),
        bench: IpcBench::parse(&lines).unwrap_or_else(|e| panic!("{e}")),
    });

    // The phases: rounds 2-6 idle, 8-9 loaded, 10-11 across the crash.
    let rt = report.realtime.as_ref().unwrap();
    let phase = |p: Phase| rt.phases.iter().find(|r| r.phase == p).unwrap();
    assert_eq!(phase(Phase::Idle).rounds, 5);
    assert_eq!(phase(Phase::Loaded).rounds, 2);
    assert_eq!(phase(Phase::Crash).rounds, 2);
    assert_eq!(phase(Phase::Idle).stats.unwrap().max, 35);
    assert_eq!(phase(Phase::Loaded).stats.unwrap().max, 41);
    assert_eq!(phase(Phase::Crash).stats.unwrap().max, 28);
    assert_eq!(phase(Phase::Crash).histogram.samples(), 4000);
    // The real-time core's exits at the last status, after the
    // neighbour's restart: none imposed.
    assert_eq!(rt.core_exits.len(), 1);
    assert_eq!((rt.core_exits[0].cpu, rt.core_exits[0].imposed()), (0, 0));
    assert_eq!(rt.core_exits[0].wfi, 49585);

    // Six more bounds, all held: the probe's five and the lab's six (the
    // last: no exit imposed on the real-time core).
    assert_eq!(report.budget.checks.len(), 11, "{:#?}", report.budget);
    assert!(report.budget.passed, "{:#?}", report.budget);
    let crash_factor = report
        .budget
        .checks
        .iter()
        .find(|c| c.measurement == "cyclictest_crash" && c.bound == "max_load_factor")
        .unwrap();
    assert!((crash_factor.measured.unwrap() - 28.0 / 35.0).abs() < 1e-9);

    // The IPC figures and the round trip in notifications.
    let ipc = report.ipc.as_ref().unwrap();
    assert_eq!(ipc.bench.roundtrip.stats().unwrap().avg, 1564.0);
    let ratio = ipc.round_trip_in_notifications().unwrap();
    assert!((ratio - 1564.0 / 533.98).abs() < 0.01, "{ratio}");

    // JSON round trip, and the HTML sections.
    let json = report.to_json();
    assert_eq!(Report::from_json(&json).unwrap(), report);
    let html = report.to_html();
    for needed in [
        "Real-time cell <code>control</code>",
        "containers cell under CPU, memory, disk load and an IPC flood",
        "The cell's <code>latency_budget</code>: 200 us.",
        "cyclictest_crash",
        "max_load_factor",
        "IPC between two bare-metal cells (ticks = instructions)",
        "A round trip takes 2.93 notifications",
        "<td>4096 B</td>",
        "qemu-rt-lab/bulkhead.img",
        "Budget met",
        "rustc 1.95.0",
        "linux-image-6.1.0-56-rt-arm64 6.1.192-2, rt-tests 2.4-1",
    ] {
        assert!(html.contains(needed), "the HTML lacks `{needed}`");
    }
    assert_eq!(
        html.matches("<svg").count(),
        4,
        "one histogram per probe measurement, one for the phases"
    );
    for external in ["<script", "<link", "src=", "@import", "url("] {
        assert!(!html.contains(external), "the HTML loads `{external}`");
    }
    let summary = report.summary_text();
    assert!(summary.contains("real-time cell `control`"), "{summary}");
    assert!(
        summary.contains("round trip = 2.93 x notification"),
        "{summary}"
    );
}

#[test]
fn guest_packages_come_from_the_builds() {
    let root = std::env::temp_dir().join(format!("bulkhead-packages-{}", std::process::id()));
    let (rt, gateway, bare) = (root.join("rt"), root.join("gateway"), root.join("bare"));
    for dir in [&rt, &gateway, &bare] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(
        rt.join(PACKAGES_FILE),
        "rt-tests 2.4-1\nlinux-image-6.1.0-56-rt-arm64 6.1.192-2\n",
    )
    .unwrap();
    std::fs::write(
        gateway.join(PACKAGES_FILE),
        "busybox-static 1:1.35.0-4+deb12u1+b1\nrt-tests 2.4-1\n\n",
    )
    .unwrap();
    let mut provenance = provenance(&target("qemu-icount.yaml"));
    provenance.guest_packages.clear();
    for dir in [&rt, &gateway, &bare] {
        provenance.add_guest_packages(dir).unwrap();
    }
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(
        provenance.guest_packages,
        [
            "busybox-static 1:1.35.0-4+deb12u1+b1",
            "linux-image-6.1.0-56-rt-arm64 6.1.192-2",
            "rt-tests 2.4-1"
        ]
    );
}

#[test]
fn a_cell_latency_budget_bounds_every_probe_measurement() {
    let target = target("qemu-icount.yaml");
    let report_with = |budget_ns: u64| {
        let mut report = icount_report(&target);
        report.add_cell_budget(budget_ns);
        report
    };
    // 1 us: 1000 ticks at 1 GHz; the SGI's 136 are well inside.
    let report = report_with(1000);
    assert!(report.budget.passed, "{:#?}", report.budget);
    let cell: Vec<_> = report
        .budget
        .checks
        .iter()
        .filter(|c| c.bound == "latency_budget_us")
        .map(|c| (c.measurement.as_str(), c.message.as_str()))
        .collect();
    assert_eq!(
        cell,
        [
            ("sgi", "max 0.136 us within 1 us"),
            ("timer_busy", "max 0.004 us within 1 us"),
            ("timer_wfi", "max 0.005 us within 1 us"),
        ]
    );
    // 100 ns: the SGI's trap does not fit, the timers do.
    let report = report_with(100);
    assert!(!report.budget.passed);
    let failed: Vec<_> = report
        .budget
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| (c.measurement.as_str(), c.message.as_str()))
        .collect();
    assert_eq!(failed, [("sgi", "max 0.136 us exceeds 0.1 us")]);
    assert!(report.to_html().contains("max 0.136 us exceeds 0.1 us"));
}

#[test]
fn virtualized_delivery_is_set_against_direct_delivery_and_bao() {
    let target = target("qemu-icount.yaml");
    let mut report = icount_report(&target);
    let virtualized = RunRecord::new(
        "bulkhead",
        "qemu … -kernel bulkhead.img",
        &recorded("icount-virtualized.log"),
    );
    report.add_virtualized(
        "hil-tests/configs/qemu-latency-lab-virtualized.yaml",
        &virtualized,
    );
    let v = report.virtualized.as_ref().unwrap();
    let timer = v
        .rows
        .iter()
        .find(|r| r.measurement == "timer_busy")
        .unwrap();
    assert_eq!(timer.direct.unwrap().max, 4);
    assert_eq!(timer.virtualized.unwrap().max, 53);
    assert_eq!(
        (timer.bao_ticks, timer.target_ticks),
        (Some(203), Some(100))
    );
    let sgi = v.rows.iter().find(|r| r.measurement == "sgi").unwrap();
    assert_eq!(sgi.virtualized.unwrap().max, 293);
    assert_eq!((sgi.bao_ticks, sgi.target_ticks), (Some(780), Some(200)));
    // No bound is checked on it: the verdict is the direct run's.
    assert!(report.budget.passed);
    let text = report.summary_text();
    assert!(
        text.contains("virtualized min/avg/p99/max") && text.contains("53/53.0/53/53"),
        "{text}"
    );
    assert!(report.to_html().contains("<h2>Virtualized delivery</h2>"));
    assert_eq!(Report::from_json(&report.to_json()).unwrap(), report);
}
