//! Bulkhead's system-test harness: boot a target, read its one serial line,
//! split it into the partitioner's log and every cell's console, and wait
//! for lines with deadlines.
//!
//! The pieces, from the wire up:
//!
//! - [`target`]: where the bytes come from. [`QemuTarget`] boots a boot
//!   image in `qemu-system-aarch64`; [`SerialTarget`] reads a real board
//!   behind a USB serial adapter through the same [`Target`] trait.
//! - [`demux`]: a pure, synchronous decoder from bytes to lines. It splits
//!   the line on `0x00`, classifies each chunk with [`bulkhead_wire::decode_chunk`]
//!   and routes stream 0 to the `defmt` decoder ([`defmt_log`]), cell
//!   streams to per-cell line buffers, and everything else to `raw`.
//! - [`session`]: a running target. A reader thread feeds the demultiplexer
//!   and writes every stream to `target/hil/<run>/<stream>.log`; tests call
//!   [`Session::expect`] and friends. A watchdog enforces a hard deadline,
//!   and dropping the session (also while a test panics) kills the target.
//!
//! On top of that, the latency lab:
//!
//! - [`target::description`]: targets described in YAML
//!   (`hil-tests/targets/*.yaml`), QEMU or a board on a serial port, with
//!   their latency budget;
//! - [`latency`]: the probe scenario (native and as a Bulkhead cell) and
//!   the parsing of the probe's samples;
//! - [`ipc_bench`]: the channel benchmarks of the IPC lab and the parsing
//!   of their figures;
//! - [`report`]: statistics, the budget check, `report.json` and
//!   `report.html`.
//!
//! And boot times: [`boot_times`] reads the counter values the partitioner
//! logs at its entry and at each cell's first instruction, and those Linux
//! cells read in user space.
//!
//! And typing: [`keyboard`] sends what a person types to a cell's console
//! (input frames the partitioner hands to the cell's emulated UART), with
//! the key sequences that choose the cell.
//!
//! Stream names are `partitioner`, the cell names from the YAML config
//! (see [`cell_names`]) and `raw`.
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod artifacts;
pub mod boot_times;
pub mod config;
pub mod console;
pub mod defmt_log;
pub mod demux;
pub mod error;
pub mod ipc_bench;
pub mod keyboard;
pub mod latency;
pub mod pattern;
pub mod report;
pub mod rt_lab;
pub mod session;
pub mod soak;
pub mod target;

pub use config::cell_names;
pub use error::{HarnessError, Snapshot};
pub use pattern::Pattern;
pub use session::{Session, SessionOptions};
pub use target::{QemuTarget, SerialTarget, SocketTarget, Target, TargetDescription};

/// Name of the stream that carries the partitioner's decoded `defmt` log.
pub const PARTITIONER_STREAM: &str = "partitioner";
/// Name of the stream that carries everything that was not a Bulkhead frame.
pub const RAW_STREAM: &str = "raw";
