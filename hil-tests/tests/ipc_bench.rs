//! The IPC lab as a system test: the channel benchmarks of
//! `configs/qemu-ipc-lab.yaml` run on `targets/qemu-icount.yaml` (with two
//! CPUs, one per cell) and on the free-running `targets/qemu.yaml`, and
//! every figure comes back complete. Only facts
//! are checked: every sample arrived, the echoer counted every message and
//! byte, every figure is there and not zero. The figures themselves are
//! printed, never judged.
//!
//! Needs the lab's build (`cargo xtask build --config
//! hil-tests/configs/qemu-ipc-lab.yaml`, or `cargo xtask test`) in
//! `BULKHEAD_ARTIFACTS`. Logs land in `target/hil/ipc-bench/`.

use hil_tests::ipc_bench::{run_ipc_bench, IpcBenchRun, CONFIG_STEM, MESSAGE_SIZES};
use hil_tests::latency::ScenarioOptions;
use hil_tests::session::default_log_root;
use hil_tests::TargetDescription;
use std::path::PathBuf;
use std::time::Duration;

/// Runs the lab on the target file `name` and checks the facts; returns
/// the run for target-specific checks.
fn run_on(name: &str) -> IpcBenchRun {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = TargetDescription::load(&crate_dir.join("targets").join(name))
        .unwrap_or_else(|error| panic!("{error}"));
    let options = ScenarioOptions {
        log_root: default_log_root().join("ipc-bench"),
        run_prefix: "run".to_string(),
        deadline: Duration::from_secs(120),
    };
    let run = run_ipc_bench(
        &target,
        &hil_tests::artifacts::dir().join(CONFIG_STEM),
        &options,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let bench = &run.bench;
    eprintln!(
        "{} ({}), {:.1} s, logs in {}:\n{}",
        run.target,
        run.command,
        run.took.as_secs_f64(),
        run.log_dir.display(),
        bench.summary_text()
    );
    assert!(bench.counter_hz.is_some_and(|hz| hz > 0));
    for (label, histogram, samples) in [
        ("one way", &bench.oneway, 200),
        ("round trip", &bench.roundtrip, 1000),
    ] {
        assert_eq!(
            histogram.samples() + histogram.lost,
            samples,
            "{label}: every sample is accounted for"
        );
    }
    // The initiator prints a figure only once the echoer's count and
    // checksum matched what it sent; the parser checks bytes = messages ×
    // size.
    let sizes: Vec<u64> = bench.throughput.iter().map(|t| t.message_size).collect();
    assert_eq!(sizes, MESSAGE_SIZES);
    for figure in &bench.throughput {
        assert_eq!(figure.bytes, 1 << 20, "{figure:?}");
        assert_eq!(figure.messages, (1 << 20) / figure.message_size);
        assert!(figure.ticks > 0 && figure.memcpy_ticks > 0, "{figure:?}");
    }
    run
}

/// Under icount (one CPU in the target file, two for the lab): every
/// sample arrives, and nothing takes zero instructions.
#[test]
fn channel_benchmarks_complete_under_icount() {
    let run = run_on("qemu-icount.yaml");
    let bench = &run.bench;
    assert!(run.deterministic, "qemu-icount counts instructions");
    assert_eq!(bench.counter_hz, Some(1_000_000_000));
    for (label, histogram) in [("one way", &bench.oneway), ("round trip", &bench.roundtrip)] {
        assert_eq!(histogram.lost, 0, "{label}: every sample arrives");
        let stats = histogram.stats().expect("samples");
        assert!(stats.min > 0, "{label}: {stats:?}");
    }
}

/// On the free-running reference machine the figures are the host's; the
/// bench still completes, every message and byte counted. A sample may be
/// lost there (the host can hold a vCPU back for longer than the bench
/// waits), so it is only accounted for.
#[test]
fn channel_benchmarks_complete_free_running() {
    let run = run_on("qemu.yaml");
    assert!(!run.deterministic);
}
