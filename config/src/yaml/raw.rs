//! The serde form of the YAML file: exactly what a user writes, unchecked.
//!
//! Every struct denies unknown fields, so a misspelt key is an error rather
//! than a silently ignored setting. The doc comments here are also the
//! descriptions in the JSON Schema (`bulkhead schema`).

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

/// A whole config file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Bulkhead partitioning")]
pub struct RawSystem {
    /// Format version of the file; must be 1.
    pub version: Integer,
    /// The board's name, e.g. `qemu-virt`.
    pub board: String,
    /// The cells (partitions), in boot order.
    pub cells: Vec<RawCell>,
    /// Shared-memory channels between cells (ivshmem-v2 style), at most 8.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<RawChannel>,
    /// Whether what is typed on the serial line reaches the cells'
    /// consoles: `auto` (where a core can take the partitioner's
    /// interrupts; the plan says which), `required` (refused where none
    /// can) or `off` (the partitioner never reads the line: a console that
    /// only shows).
    #[serde(default, skip_serializing_if = "RawConsoleInput::is_auto")]
    pub console_input: RawConsoleInput,
    /// Only for QEMU's `virt` board: what QEMU attaches behind the cells'
    /// virtio-mmio slots when `cargo xtask demo` or the system tests run
    /// this config. The partitioner never sees it; on a real board the
    /// devices are real.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu: Option<RawQemu>,
}

/// Whether typing reaches the cells' consoles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawConsoleInput {
    /// Where the board and the config let the partitioner take the UART's
    /// interrupt.
    #[default]
    Auto,
    /// Always: a config where no core can take it is refused.
    Required,
    /// Never: the partitioner does not read the serial line.
    Off,
}

impl RawConsoleInput {
    fn is_auto(&self) -> bool {
        *self == RawConsoleInput::Auto
    }
}

/// A shared-memory channel: one region of RAM, outside every cell's
/// `memory`, that 2 to 4 cells (its peers) map, plus a doorbell interrupt
/// for each peer. From `base`: a 4 KiB state table (read-only for every
/// peer; the partitioner writes each peer's state there), the common
/// section (`common_size` bytes, read-write for every peer), then one
/// output section of `output_size` bytes per peer, in peer id order
/// (read-write for its peer, read-only for the others).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// Unique among the channels: 1 to 32 characters of `a-z`, `0-9`, `-`
    /// and `_`.
    pub name: String,
    /// The cells that share the channel, by name, each once; 2 to 4. A
    /// cell's position in the list is its peer id (0, 1, ...).
    pub peers: Vec<String>,
    /// Physical start address of the channel's memory; a multiple of 4
    /// KiB, in the board's RAM, outside the partitioner's RAM, every
    /// cell's memory and every other channel.
    pub base: Integer,
    /// Length of the common section that every peer may read and write; a
    /// multiple of 4 KiB. Default: 0 (none).
    #[serde(default, skip_serializing_if = "Size::is_zero")]
    pub common_size: Size,
    /// Length of each peer's output section, which only that peer may
    /// write; a non-zero multiple of 4 KiB, e.g. `64K`.
    pub output_size: Size,
}

/// The emulated devices of a config run in QEMU.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawQemu {
    /// One entry per virtio-mmio slot that gets a device. The slot must be
    /// given to a cell (its `devices`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<RawQemuDevice>,
    /// For the latency lab under `-icount` only (docs/hil.md): a
    /// scheduling quantum, from 1us to 100ms. The partitioner then
    /// interrupts the CPUs of every cell that is not `realtime` this
    /// often, so that QEMU, which runs one CPU at a time under icount,
    /// gives a real-time CPU its turn within about that long. Default:
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icount_quantum: Option<Latency>,
}

/// A QEMU device behind one virtio-mmio slot (give exactly one of `disk`
/// and `network`), or behind a PCI host bridge (`edu`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawQemuDevice {
    /// The board device (slot), e.g. `virtio-mmio31`.
    pub device: String,
    /// A virtio block device backed by this raw disk image, looked up like
    /// a kernel. QEMU runs it with `snapshot=on`: the cell may write, but
    /// the file never changes, and each run starts from the same disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<PathBuf>,
    /// A virtio network device on a QEMU network back end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<RawNetwork>,
    /// QEMU's educational PCI device, a DMA engine a cell can program, in
    /// this slot (1 to 31) of bus 0 of the PCI host bridge `device` (e.g.
    /// `pcie`): for the DMA isolation tests (docs/dma.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edu: Option<u8>,
    /// QEMU's `igb` network function (PCI Express, with Function Level
    /// Reset), without a network back end, in this slot (1 to 31) of bus
    /// 0 of the PCI host bridge `device`: for the DMA tests, a function
    /// the partitioner resets when its cell stops (docs/dma.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub igb: Option<u8>,
}

/// A QEMU network back end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawNetwork {
    /// QEMU's user-mode network (10.0.2.0/24, DHCP, outgoing connections
    /// through the host); needs no privileges.
    User,
}

/// One cell: a partition with its own CPUs, memory, devices and software.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCell {
    /// Unique name: 1 to 32 characters of `a-z`, `0-9`, `-` and `_`.
    pub name: String,
    /// Physical CPU indices of the board. The lowest one boots the cell as
    /// its virtual CPU 0, the next is virtual CPU 1, and so on.
    pub cpus: Vec<Integer>,
    /// RAM regions of the cell. The cell sees each at its physical address
    /// unless the region gives `guest_base`.
    pub memory: Vec<RawMemory>,
    /// Names of board devices passed through to the cell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// The cell's console.
    #[serde(default)]
    pub console: RawConsole,
    /// The program the cell runs.
    pub kernel: RawKernel,
    /// An initial RAM file system, loaded next to the kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initrd: Option<RawImage>,
    /// A flattened device tree for the cell's kernel: a file of yours
    /// (`{ path: FILE, load_address: ADDRESS }`), or, without `path`, one
    /// that `bulkhead` generates from what the cell owns (`{}`, or
    /// `{ load_address: ADDRESS }`).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "RawDeviceTree")]
    pub device_tree: Option<RawDeviceTree>,
    /// The kernel command line of a generated device tree
    /// (`/chosen/bootargs`). Default: `console=ttyAMA0
    /// earlycon=pl011,mmio32,CONSOLE_BASE` when the cell has a virtual
    /// console, else none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootargs: Option<String>,
    /// Address where virtual CPU 0 starts; must lie inside the kernel.
    /// Default: the kernel's load address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Integer>,
    /// Value of register `x0` at entry. Default: the device tree's load
    /// address when there is one, else 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_argument: Option<Integer>,
    /// What happens when the cell faults.
    #[serde(default)]
    pub on_fault: RawFaultPolicy,
    /// Whether the cell has deadlines to meet. The tool then warns when
    /// another cell's CPUs share an L2 cluster (and so its cache) with this
    /// cell's, where the board description says which CPUs do.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub realtime: bool,
    /// The worst interrupt latency the cell may see, as a duration with a
    /// unit: `20us`, `1.5ms`, `800ns`. The hardware-in-the-loop suite
    /// (docs/hil.md) fails a latency scenario of this cell whose worst
    /// case exceeds it. The partitioner does not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_budget: Option<Latency>,
    /// How the cell's idle CPUs wait for its interrupts.
    #[serde(default)]
    pub wfi: RawWfi,
    /// How the cell's interrupts reach it.
    #[serde(default)]
    pub interrupts: RawInterrupts,
    /// Whether the cell may own devices that master DMA no SMMU confines
    /// (`unconfined`): such a device can read and write any physical
    /// address, other cells' and the partitioner's included, so the cell
    /// is trusted not to program it so (docs/dma.md). Default `confined`:
    /// a cell that owns such a device is refused.
    #[serde(default)]
    pub dma: RawDma,
    /// A watchdog for the cell: an emulated Arm SP805 (`arm,sp805` in a
    /// generated device tree, Linux's `sp805_wdt`), armed when the cell
    /// starts. When the cell stops petting it for `timeout_ms`, the
    /// partitioner applies `action`. Needs a core where the partitioner
    /// takes interrupts of its own (docs/architecture.md, "Housekeeping").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchdog: Option<RawWatchdog>,
}

/// A cell's watchdog.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWatchdog {
    /// How long the cell may go without petting it, in milliseconds, from
    /// 100 to 300000: the timeout it starts with (so a cell that hangs
    /// while it boots is caught too), and the one its device tree suggests
    /// (`timeout-sec`, rounded up). The cell may set another.
    pub timeout_ms: Integer,
    /// What happens to the cell when it expires: `restart` (reload its
    /// images and start it again) or `stop` (park its CPUs).
    pub action: RawFaultPolicy,
    /// Where the cell sees the SP805 (one 4 KiB page, guest-physical).
    /// Default: the page after the cell's console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Integer>,
}

/// How a cell's interrupts reach it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawInterrupts {
    /// The cell takes its interrupts on the physical GIC CPU interface,
    /// with no exit: native latency. The partitioner never runs on the
    /// cell's cores unless the cell traps or is stopped.
    #[default]
    Direct,
    /// Every physical interrupt of the cell's cores goes to the
    /// partitioner, which passes the cell's own to it through the GIC's
    /// list registers (the virtual CPU interface): one exit per
    /// interrupt, and the partitioner can run its own housekeeping on the
    /// cell's cores. Needs the GIC's virtual interface (every GICv3, a
    /// GICv2 whose description gives `GICH` and `GICV`); never for a
    /// `realtime` cell.
    Virtualized,
}

/// Whether a cell's devices' DMA must be confined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawDma {
    /// Every device of the cell that masters DMA is behind an SMMU the
    /// partitioner drives.
    #[default]
    Confined,
    /// The cell may own DMA masters no SMMU confines; its RAM stays
    /// identity-mapped.
    Unconfined,
}

/// How a cell's `WFI` instructions run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawWfi {
    /// `WFI` traps and the partitioner waits in the cell's stead: a stop
    /// or restart always reaches the CPU, whatever the cell did to its
    /// GIC CPU interface. Costs some 46 instructions of wake-up latency
    /// from idle.
    #[default]
    Trapped,
    /// `WFI` runs on the hardware: wake-up from idle at native latency,
    /// but a cell that blocks its own GIC CPU interface and then waits in
    /// `WFI` cannot be stopped until the board resets.
    Direct,
}

/// A RAM region.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMemory {
    /// Physical start address; a multiple of 4 KiB.
    pub base: Integer,
    /// Length; a multiple of 4 KiB. An integer or a string with a `K`, `M`
    /// or `G` suffix (KiB, MiB, GiB), e.g. `16M`.
    pub size: Size,
    /// The cell's permissions.
    #[serde(default)]
    pub access: RawAccess,
    /// Where the cell sees the region: its guest-physical (intermediate
    /// physical) address, a multiple of 4 KiB. Default: `base` (identity
    /// mapping). A cell that owns a DMA-capable device must keep the
    /// default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_base: Option<Integer>,
    /// Names of other cells that map the same region. Each of them must
    /// have a region with the same `base` and `size` that names this cell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<String>,
}

/// Access rights to a memory region.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawAccess {
    /// Read, write and execute (ordinary RAM).
    #[default]
    Rwx,
    /// Read and write, never execute.
    Rw,
    /// Read only.
    Ro,
}

/// The console of a cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawConsole {
    /// An emulated PL011 UART at the address of the board's console. The
    /// partitioner prefixes its output with the cell's name.
    #[default]
    Virtual,
    /// No console.
    None,
}

/// What the partitioner does when a cell faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawFaultPolicy {
    /// Park the cell's CPUs until the board restarts; other cells go on.
    #[default]
    Stop,
    /// Reload the cell's images and start it again.
    Restart,
}

/// The kernel image of a cell.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawKernel {
    /// The file: relative to the config file's directory, else searched in
    /// the `--image-dir` directories.
    pub path: PathBuf,
    /// Where the kernel is copied. Default: the base of the cell's first
    /// memory region plus the arm64 Image header's `text_offset` (0 when the
    /// file has no Image header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_address: Option<Integer>,
}

/// An initrd image.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    /// The file: relative to the config file's directory, else searched in
    /// the `--image-dir` directories.
    pub path: PathBuf,
    /// Where the image is copied, inside the cell's memory.
    pub load_address: Integer,
}

/// The device tree of a cell.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDeviceTree {
    /// A `.dtb` file, looked up like the kernel. Without it, `bulkhead`
    /// generates the tree: memory, CPUs, PSCI, GIC, timer, console and the
    /// cell's devices, and nothing else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Where the tree is copied, inside the cell's memory. Required with
    /// `path`. Default for a generated tree: the highest 2 MiB-aligned
    /// address that leaves 2 MiB before the end of the cell's first memory
    /// region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_address: Option<Integer>,
}

/// An optional field that, when written, must not be empty: a bare
/// `device_tree:` (YAML null) would otherwise silently mean "no device
/// tree".
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(deserializer)?
        .map(Some)
        .ok_or_else(|| {
            de::Error::custom(
                "the field is empty; write `{}` to have the device tree generated, \
                 `{ path: FILE, load_address: ADDRESS }` for your own, or remove the field",
            )
        })
}

/// A non-negative integer: a YAML integer (decimal or `0x` hex) or a string
/// holding one, where `_` may separate digits (`0x5000_0000`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Integer(pub u64);

/// A size in bytes: an integer, or a string with a `K`, `M` or `G` suffix
/// (powers of 1024), e.g. `16M`, `512K`, `1G`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(pub u64);

/// A duration in nanoseconds, written with a unit: `ns`, `us` (or `µs`),
/// `ms` or `s`, e.g. `20us`, `1.5ms`. Never 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Latency(pub u64);

impl Size {
    /// Whether the size is 0.
    pub const fn is_zero(&self) -> bool {
        self.0 == 0
    }
}

/// Parses an integer written as decimal, `0x` hex, `0o` octal or `0b`
/// binary (as YAML writes integers), with optional `_` separators between
/// digits.
pub fn parse_integer(text: &str) -> Option<u64> {
    let text = text.trim();
    let prefixed = |lower: &str, upper: &str| {
        text.strip_prefix(lower)
            .or_else(|| text.strip_prefix(upper))
    };
    let (digits, radix) = if let Some(hex) = prefixed("0x", "0X") {
        (hex, 16)
    } else if let Some(octal) = prefixed("0o", "0O") {
        (octal, 8)
    } else if let Some(binary) = prefixed("0b", "0B") {
        (binary, 2)
    } else {
        (text, 10)
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
}

/// Parses a size: an integer (see [`parse_integer`]) optionally followed by
/// `K`, `M` or `G` (also `KiB`, `MiB`, `GiB`), each a power of 1024.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let units: [(&str, u32); 6] = [
        ("KiB", 10),
        ("MiB", 20),
        ("GiB", 30),
        ("K", 10),
        ("M", 20),
        ("G", 30),
    ];
    for (suffix, shift) in units {
        if let Some(number) = text.strip_suffix(suffix) {
            // `0x1G` would be ambiguous with hex digits for other suffixes; only
            // accept decimal numbers before a suffix.
            let number = number.trim_end();
            if number.starts_with("0x") || number.starts_with("0X") {
                return None;
            }
            return parse_integer(number)?.checked_mul(1 << shift);
        }
    }
    parse_integer(text)
}

/// Parses a duration with a unit (see [`Latency`]) to nanoseconds: a
/// decimal number, at most three decimals below the unit's nanosecond
/// resolution, then `ns`, `us`, `µs`, `ms` or `s`. `None` for 0, for a
/// missing unit and for anything that does not fit in 64 bits.
pub fn parse_latency(text: &str) -> Option<u64> {
    let text = text.trim();
    let units: [(&str, u32); 5] = [("ns", 0), ("us", 3), ("µs", 3), ("ms", 6), ("s", 9)];
    let (number, exponent) = units
        .iter()
        .find_map(|&(unit, exponent)| Some((text.strip_suffix(unit)?.trim_end(), exponent)))?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits_ok(whole) || !digits_ok(fraction) {
        return None;
    }
    if fraction.len() > exponent as usize {
        return None;
    }
    let scale = 10u64.pow(exponent);
    let fraction_ns = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u64>().ok()? * 10u64.pow(exponent - fraction.len() as u32)
    };
    let nanoseconds = whole
        .parse::<u64>()
        .ok()?
        .checked_mul(scale)?
        .checked_add(fraction_ns)?;
    (nanoseconds > 0).then_some(nanoseconds)
}

const INTEGER_EXPECTED: &str = "a non-negative integer (decimal, 0x hex, 0o octal or 0b binary)";
const SIZE_EXPECTED: &str = "a size: an integer or a number with a K, M or G suffix, like 16M";
const LATENCY_EXPECTED: &str =
    "a duration above 0 with a unit (ns, us, ms or s), like 20us or 1.5ms";

struct NumberVisitor {
    expected: &'static str,
    parse: fn(&str) -> Option<u64>,
}

impl<'de> de::Visitor<'de> for NumberVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expected)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| {
            E::custom(format_args!(
                "`{v}` is negative; expected {}",
                self.expected
            ))
        })
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format_args!("`{v}` does not fit in 64 bits")))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| {
            E::custom(format_args!(
                "`{v}` does not fit in 64 bits; expected {}",
                self.expected
            ))
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        if v.fract() == 0.0 {
            // YAML reads `012` (a leading zero) as a float, not an integer.
            return Err(E::custom(format_args!(
                "`{v}` was read as a floating-point number (YAML does so with a leading zero, \
                 as in `012`, an exponent or a point); expected {}: write it without the \
                 leading zero, or as 0x hex or 0o octal",
                self.expected
            )));
        }
        Err(E::custom(format_args!(
            "`{v}` is not a whole number; expected {}",
            self.expected
        )))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        (self.parse)(v).ok_or_else(|| {
            let shown: String = v.chars().take(40).flat_map(char::escape_debug).collect();
            E::custom(format_args!("`{shown}` is not {}", self.expected))
        })
    }
}

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(NumberVisitor {
                expected: INTEGER_EXPECTED,
                parse: parse_integer,
            })
            .map(Integer)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(NumberVisitor {
                expected: SIZE_EXPECTED,
                parse: parse_size,
            })
            .map(Size)
    }
}

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LatencyVisitor;

        impl de::Visitor<'_> for LatencyVisitor {
            type Value = u64;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(LATENCY_EXPECTED)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
                Err(E::custom(format_args!(
                    "`{v}` has no unit; expected {LATENCY_EXPECTED}"
                )))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
                self.visit_u64(v.unsigned_abs())
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
                Err(E::custom(format_args!(
                    "`{v}` has no unit; expected {LATENCY_EXPECTED}"
                )))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
                parse_latency(v).ok_or_else(|| {
                    let shown: String = v.chars().take(40).flat_map(char::escape_debug).collect();
                    E::custom(format_args!("`{shown}` is not {LATENCY_EXPECTED}"))
                })
            }
        }

        deserializer.deserialize_any(LatencyVisitor).map(Latency)
    }
}

impl Serialize for Latency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}ns", self.0))
    }
}

impl JsonSchema for Latency {
    fn schema_name() -> Cow<'static, str> {
        "Latency".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration above 0 with a unit: ns, us (µs), ms or s, e.g. 20us or 1.5ms.",
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]+)? ?(ns|us|µs|ms|s)$"
        })
    }
}

impl Serialize for Integer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl JsonSchema for Integer {
    fn schema_name() -> Cow<'static, str> {
        "Integer".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A non-negative integer: decimal, 0x hex, 0o octal or 0b binary, optionally quoted, `_` may separate digits.",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^(0[xX][0-9a-fA-F](_?[0-9a-fA-F])*|[0-9](_?[0-9])*)$" }
            ]
        })
    }
}

impl JsonSchema for Size {
    fn schema_name() -> Cow<'static, str> {
        "Size".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size in bytes: an integer, or a number with a K, M or G suffix (KiB, MiB, GiB), e.g. 16M.",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^(0[xX][0-9a-fA-F](_?[0-9a-fA-F])*|[0-9](_?[0-9])*( ?(K|M|G|KiB|MiB|GiB))?)$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_integer("0x5000_0000"), Some(0x5000_0000));
        assert_eq!(parse_integer("4096"), Some(4096));
        assert_eq!(parse_integer("0x"), None);
        assert_eq!(parse_integer("_1"), None);
        assert_eq!(parse_integer("0x1_0000_0000_0000_0000"), None);
        assert_eq!(parse_integer("-1"), None);
        assert_eq!(parse_integer("0o1200000000"), Some(0o1200000000));
        assert_eq!(parse_integer("0b1010"), Some(10));
        assert_eq!(parse_integer("0o8"), None);
        assert_eq!(parse_integer("0b2"), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16M"), Some(16 << 20));
        assert_eq!(parse_size("512 KiB"), Some(512 << 10));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("0x1000"), Some(0x1000));
        assert_eq!(parse_size("16X"), None);
        assert_eq!(parse_size("0x10M"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
        assert_eq!(parse_size("17179869184G"), None);
    }

    #[test]
    fn latencies() {
        assert_eq!(parse_latency("20us"), Some(20_000));
        assert_eq!(parse_latency("20 µs"), Some(20_000));
        assert_eq!(parse_latency("1.5ms"), Some(1_500_000));
        assert_eq!(parse_latency("800ns"), Some(800));
        assert_eq!(parse_latency("2s"), Some(2_000_000_000));
        assert_eq!(parse_latency("0us"), None);
        assert_eq!(parse_latency("20"), None);
        assert_eq!(parse_latency("1.2345us"), None);
        assert_eq!(parse_latency("1.5ns"), None);
        assert_eq!(parse_latency("-3us"), None);
        assert_eq!(parse_latency(".5ms"), None);
        assert_eq!(parse_latency("99999999999s"), None);
    }
}
