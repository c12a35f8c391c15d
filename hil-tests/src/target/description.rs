//! Targets described in YAML (`hil-tests/targets/*.yaml`): the emulated
//! board with its QEMU options, or a real board on a serial port with its
//! power and U-Boot commands, plus the latency budget that runs on it must
//! meet. Both kinds become a [`Target`] that hands the session one byte
//! stream.
//!
//! ```yaml
//! name: qemu-icount
//! qemu:                 # or `serial:` (see board-serial.yaml)
//!   cpu: cortex-a72
//!   cntfrq: 1000000000  # 1 tick = 1 instruction under icount
//!   smp: 1
//!   icount: true
//! latency_budget:       # icount only
//!   max_ticks: { timer_busy: 8, timer_wfi: 8, sgi: 600 }
//!   max_overhead_ratio: { timer_busy: 1.5 }
//!   max_load_factor: 2.0  # real-time lab: loaded worst / idle worst
//! ```
//!
//! Every mistake is reported with the file, line and column, and a fix.

use super::{QemuTarget, SerialTarget, Target};
use crate::HarnessError;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The measurements a latency budget may name (see [`crate::latency`]).
pub const MEASUREMENTS: [&str; 3] = ["timer_busy", "timer_wfi", "sgi"];

/// The counter frequency at which, under icount, one tick is one
/// instruction.
pub const ONE_TICK_PER_INSTRUCTION: u64 = 1_000_000_000;

/// Standard baud rates a serial target may use.
const BAUD_RATES: [u32; 9] = [
    9_600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600, 1_500_000,
];

/// QEMU options that the `qemu:` fields set; `extra_args` must not repeat
/// them.
const OWNED_QEMU_OPTIONS: [&str; 9] = [
    "-M", "-machine", "-cpu", "-smp", "-m", "-icount", "-kernel", "-bios", "-serial",
];

/// A mistake in a target file.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
pub struct TargetFileError {
    /// The file (or the name given to [`TargetDescription::parse`]).
    pub file: String,
    /// 1-based line; 0 when unknown.
    pub line: u64,
    /// 1-based column; 0 when unknown.
    pub column: u64,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// A validated target file.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetDescription {
    /// The target's name (`qemu-icount`).
    pub name: String,
    /// Where it was read from, if from a file.
    pub path: Option<PathBuf>,
    /// A free-text description.
    pub description: Option<String>,
    /// Emulated or real.
    pub kind: TargetKind,
    /// Bounds the runs on this target must meet (empty: none).
    pub latency_budget: LatencyBudget,
}

/// Where the byte stream comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetKind {
    /// QEMU's virt machine.
    Qemu(QemuSettings),
    /// A real board on a serial port.
    Serial(SerialSettings),
}

/// The `qemu:` section.
#[derive(Clone, Debug, PartialEq)]
pub struct QemuSettings {
    /// The QEMU executable.
    pub binary: String,
    /// `-cpu`.
    pub cpu: String,
    /// The generic timer's frequency in Hz, if set.
    pub cntfrq: Option<u64>,
    /// `-smp`.
    pub smp: u32,
    /// `-m`.
    pub memory: String,
    /// `-icount shift=0,sleep=off`.
    pub icount: bool,
    /// More arguments, appended.
    pub extra_args: Vec<String>,
}

/// The `serial:` section.
#[derive(Clone, Debug, PartialEq)]
pub struct SerialSettings {
    /// The tty device (`/dev/ttyUSB0`).
    pub device: PathBuf,
    /// Baud rate.
    pub baud: u32,
    /// Shell command that power-cycles the board.
    pub power_cycle: Option<String>,
    /// Shell command that switches it off at the end.
    pub power_off: Option<String>,
    /// How to boot an image from the U-Boot prompt, if the board has one.
    pub uboot: Option<UbootSettings>,
}

/// The `serial.uboot:` section.
#[derive(Clone, Debug, PartialEq)]
pub struct UbootSettings {
    /// The prompt (`=>`).
    pub prompt: String,
    /// Commands that boot the Bulkhead image.
    pub commands: Vec<String>,
    /// Commands that boot the bare probe image (the native baseline);
    /// empty when the board has no native run.
    pub native_commands: Vec<String>,
    /// Where the harness copies the run's images (a TFTP server's root),
    /// if anywhere.
    pub tftp_dir: Option<PathBuf>,
    /// How long each command may take, in seconds.
    pub command_timeout_s: u64,
}

/// Bounds on a run's figures, by measurement name ([`MEASUREMENTS`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyBudget {
    /// The largest sample Bulkhead may show, in ticks.
    pub max_ticks: BTreeMap<String, u64>,
    /// The largest ratio Bulkhead p99 / native p99.
    pub max_overhead_ratio: BTreeMap<String, f64>,
    /// The largest factor by which the real-time cell's worst case may
    /// grow when its neighbour is loaded or crashes, against the idle
    /// neighbour (the real-time lab, [`crate::rt_lab`]).
    pub max_load_factor: Option<f64>,
}

impl LatencyBudget {
    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.max_ticks.is_empty()
            && self.max_overhead_ratio.is_empty()
            && self.max_load_factor.is_none()
    }
}

// ---- the YAML as written ------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    qemu: Option<Spanned<RawQemu>>,
    #[serde(default)]
    serial: Option<Spanned<RawSerial>>,
    #[serde(default)]
    latency_budget: Option<Spanned<RawBudget>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQemu {
    #[serde(default)]
    binary: Option<String>,
    #[serde(default)]
    cpu: Option<String>,
    #[serde(default)]
    cntfrq: Option<Spanned<u64>>,
    #[serde(default)]
    smp: Option<Spanned<u32>>,
    #[serde(default)]
    memory: Option<Spanned<String>>,
    #[serde(default)]
    icount: bool,
    #[serde(default)]
    extra_args: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSerial {
    device: Spanned<String>,
    baud: Spanned<u32>,
    #[serde(default)]
    power_cycle: Option<String>,
    #[serde(default)]
    power_off: Option<String>,
    #[serde(default)]
    uboot: Option<Spanned<RawUboot>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUboot {
    #[serde(default)]
    prompt: Option<Spanned<String>>,
    commands: Spanned<Vec<String>>,
    #[serde(default)]
    native_commands: Vec<String>,
    #[serde(default)]
    tftp_dir: Option<Spanned<String>>,
    #[serde(default)]
    command_timeout_s: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    #[serde(default)]
    max_ticks: BTreeMap<String, Spanned<u64>>,
    #[serde(default)]
    max_overhead_ratio: BTreeMap<String, Spanned<f64>>,
    #[serde(default)]
    max_load_factor: Option<Spanned<f64>>,
}

/// Builds errors for one file.
struct Errors<'a> {
    file: &'a str,
}

impl Errors<'_> {
    fn at<T>(
        &self,
        spanned: &Spanned<T>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> TargetFileError {
        let hint = hint.into();
        TargetFileError {
            file: self.file.to_string(),
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
            message: message.into(),
            hint: (!hint.is_empty()).then_some(hint),
        }
    }

    fn top(&self, message: impl Into<String>, hint: impl Into<String>) -> TargetFileError {
        TargetFileError {
            file: self.file.to_string(),
            line: 1,
            column: 1,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

impl TargetDescription {
    /// Reads and validates the target file at `path`.
    pub fn load(path: &Path) -> Result<Self, TargetFileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| TargetFileError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read the target file: {error}"),
            hint: Some("the target files are in hil-tests/targets/".to_string()),
        })?;
        let mut description = Self::parse(&text, &file)?;
        description.path = Some(path.to_path_buf());
        Ok(description)
    }

    /// Validates target-file text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, TargetFileError> {
        let errors = Errors { file };
        let options = serde_saphyr::options! { with_snippet: false };
        let raw: RawTarget =
            serde_saphyr::from_str_with_options(text, options).map_err(|error| {
                let error = error.without_snippet();
                let (line, column) = error.location().map_or((0, 0), |l| (l.line(), l.column()));
                let message = error.to_string();
                // The library's text may repeat the position; keep the gist.
                let message = message
                    .split_once(" at line ")
                    .map_or(message.as_str(), |(gist, _)| gist)
                    .to_string();
                TargetFileError {
                    file: file.to_string(),
                    line,
                    column,
                    message,
                    hint: Some(
                        "see docs/hil.md for the fields of a target file, and \
                         hil-tests/targets/ for examples"
                            .to_string(),
                    ),
                }
            })?;

        let name = raw.name.value.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(errors.at(
                &raw.name,
                format!("`{name}` is not a usable target name"),
                "use letters, digits, `-`, `_` and `.` (it names the report and log directories)",
            ));
        }

        let kind = match (raw.qemu, raw.serial) {
            (Some(qemu), None) => TargetKind::Qemu(qemu_settings(&errors, qemu)?),
            (None, Some(serial)) => TargetKind::Serial(serial_settings(&errors, serial)?),
            (None, None) => {
                return Err(errors.top(
                    "the target has neither a `qemu:` nor a `serial:` section",
                    "add `qemu:` for the emulated board or `serial:` for a real one",
                ))
            }
            (Some(_), Some(serial)) => {
                return Err(errors.at(
                    &serial,
                    "a target is either emulated or real, not both",
                    "keep `qemu:` or `serial:`, and put the other in its own target file",
                ))
            }
        };

        let latency_budget = match raw.latency_budget {
            None => LatencyBudget::default(),
            Some(budget) => latency_budget(&errors, &kind, budget)?,
        };

        Ok(TargetDescription {
            name: name.to_string(),
            path: None,
            description: raw.description,
            kind,
            latency_budget,
        })
    }

    /// Whether figures on this target are exact instruction counts
    /// (QEMU with icount and one tick per instruction), so that budgets
    /// in ticks can be checked.
    pub fn is_deterministic(&self) -> bool {
        match &self.kind {
            TargetKind::Qemu(qemu) => qemu.icount && qemu.cntfrq == Some(ONE_TICK_PER_INSTRUCTION),
            TargetKind::Serial(_) => false,
        }
    }

    /// "qemu" or "serial".
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            TargetKind::Qemu(_) => "qemu",
            TargetKind::Serial(_) => "serial",
        }
    }

    /// The target that boots the Bulkhead boot image `image`. For a
    /// serial board, the image goes where its U-Boot commands fetch it
    /// ([`UbootSettings::tftp_dir`]); see [`crate::latency::boot`].
    pub fn bulkhead_target(&self, image: &Path) -> Box<dyn Target> {
        match &self.kind {
            TargetKind::Qemu(qemu) => Box::new(qemu_target(qemu, image).virtualization(true)),
            TargetKind::Serial(serial) => Box::new(serial_target(serial)),
        }
    }

    /// The QEMU machine of this target booting what `bulkhead build` wrote
    /// into `build_dir` (its boot image and `qemu.args`), with at least as
    /// many CPUs as the build's config uses; `None` on a serial board.
    pub fn qemu_for_build(&self, build_dir: &Path) -> Result<Option<QemuTarget>, HarnessError> {
        let TargetKind::Qemu(qemu) = &self.kind else {
            return Ok(None);
        };
        let cpus = crate::config::cpus_used(&build_dir.join("config.yaml"))?;
        let target = with_settings(qemu, QemuTarget::for_build(build_dir)?);
        Ok(Some(target.smp(qemu.smp.max(cpus))))
    }

    /// Starts a session that boots what `bulkhead build` wrote into
    /// `build_dir`: in QEMU ([`Self::qemu_for_build`]), or on a board
    /// through its U-Boot commands, with the boot image, FIT image and
    /// boot script copied where they fetch them ([`crate::latency::boot`]).
    /// Returns the session and the target's one-line description.
    pub fn start_build(
        &self,
        build_dir: &Path,
        options: crate::SessionOptions,
    ) -> Result<(crate::Session, String), HarnessError> {
        let target: Box<dyn Target> = match self.qemu_for_build(build_dir)? {
            Some(qemu) => Box::new(qemu),
            None => self.bulkhead_target(&build_dir.join("bulkhead.img")),
        };
        let mut session = crate::Session::start(target.as_ref(), options)?;
        if let TargetKind::Serial(SerialSettings {
            uboot: Some(uboot), ..
        }) = &self.kind
        {
            let files: Vec<PathBuf> = ["bulkhead.img", "bulkhead.itb", "boot.scr"]
                .iter()
                .map(|name| build_dir.join(name))
                .filter(|path| path.is_file())
                .collect();
            let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            crate::latency::boot(&mut session, uboot, &uboot.commands, &files)?;
        }
        Ok((session, target.describe()))
    }

    /// The target that runs the bare image `image` natively (without
    /// Bulkhead), or `None` if this target has no way to (a board without
    /// `native_commands`).
    pub fn native_target(&self, image: &Path) -> Option<Box<dyn Target>> {
        match &self.kind {
            TargetKind::Qemu(qemu) => {
                Some(Box::new(qemu_target(qemu, image).virtualization(false)))
            }
            TargetKind::Serial(serial) => {
                let native = serial
                    .uboot
                    .as_ref()
                    .is_some_and(|uboot| !uboot.native_commands.is_empty());
                native.then(|| Box::new(serial_target(serial)) as Box<dyn Target>)
            }
        }
    }
}

fn qemu_target(qemu: &QemuSettings, image: &Path) -> QemuTarget {
    with_settings(qemu, QemuTarget::new(image))
}

/// `target` with the machine `qemu` describes.
fn with_settings(qemu: &QemuSettings, target: QemuTarget) -> QemuTarget {
    let mut target = target
        .binary(&qemu.binary)
        .cpu(&qemu.cpu)
        .smp(qemu.smp)
        .memory(&qemu.memory)
        .icount(qemu.icount)
        .args(&qemu.extra_args);
    if let Some(hertz) = qemu.cntfrq {
        target = target.cntfrq(hertz);
    }
    target
}

fn serial_target(serial: &SerialSettings) -> SerialTarget {
    let mut target = SerialTarget::new(&serial.device, serial.baud);
    if let Some(command) = &serial.power_cycle {
        target = target.power_cycle(command);
    }
    if let Some(command) = &serial.power_off {
        target = target.power_off(command);
    }
    target
}

fn qemu_settings(errors: &Errors, qemu: Spanned<RawQemu>) -> Result<QemuSettings, TargetFileError> {
    let raw = qemu.value;
    let smp = match raw.smp {
        Some(smp) if !(1..=4).contains(&smp.value) => {
            return Err(errors.at(
                &smp,
                format!("smp {} is out of range", smp.value),
                "the qemu-virt board description has 4 CPUs: use 1 to 4 (1 in the latency lab)",
            ))
        }
        Some(smp) => smp.value,
        None => 4,
    };
    if let Some(cntfrq) = &raw.cntfrq {
        if cntfrq.value == 0 {
            return Err(errors.at(
                cntfrq,
                "cntfrq 0 stops the generic timer",
                "use 1000000000 (one tick per instruction under icount) or leave it out",
            ));
        }
    }
    let memory = match raw.memory {
        Some(memory) => {
            let text = memory.value.trim();
            let digits = text.trim_end_matches(['M', 'G']);
            if digits.is_empty()
                || digits.len() == text.len()
                || !digits.chars().all(|c| c.is_ascii_digit())
            {
                return Err(errors.at(
                    &memory,
                    format!("`{text}` is not a memory size"),
                    "write a number of megabytes or gigabytes, such as 512M or 2G",
                ));
            }
            text.to_string()
        }
        None => "2G".to_string(),
    };
    for argument in &raw.extra_args {
        if OWNED_QEMU_OPTIONS.contains(&argument.value.as_str()) {
            return Err(errors.at(
                argument,
                format!("`{}` is set by the target's own fields", argument.value),
                "use `cpu`, `cntfrq`, `smp`, `memory` and `icount`; the harness chooses \
                 the machine, the image and the serial line",
            ));
        }
    }
    Ok(QemuSettings {
        binary: raw
            .binary
            .unwrap_or_else(|| "qemu-system-aarch64".to_string()),
        cpu: raw.cpu.unwrap_or_else(|| "cortex-a72".to_string()),
        cntfrq: raw.cntfrq.map(|c| c.value),
        smp,
        memory,
        icount: raw.icount,
        extra_args: raw.extra_args.into_iter().map(|a| a.value).collect(),
    })
}

fn serial_settings(
    errors: &Errors,
    serial: Spanned<RawSerial>,
) -> Result<SerialSettings, TargetFileError> {
    let raw = serial.value;
    if !raw.device.value.starts_with('/') {
        return Err(errors.at(
            &raw.device,
            format!("`{}` is not a device path", raw.device.value),
            "give the full path of the serial port, such as /dev/ttyUSB0 or \
             /dev/serial/by-id/usb-FTDI_…",
        ));
    }
    if !BAUD_RATES.contains(&raw.baud.value) {
        let rates: Vec<String> = BAUD_RATES.iter().map(u32::to_string).collect();
        return Err(errors.at(
            &raw.baud,
            format!("{} is not a standard baud rate", raw.baud.value),
            format!("use one of {} (most boards: 115200)", rates.join(", ")),
        ));
    }
    let uboot = match raw.uboot {
        None => None,
        Some(uboot) => {
            let raw = uboot.value;
            let prompt = match raw.prompt {
                Some(prompt) if prompt.value.trim().is_empty() => {
                    return Err(errors.at(
                        &prompt,
                        "the U-Boot prompt is empty",
                        "U-Boot's default prompt is `=>`",
                    ))
                }
                Some(prompt) => prompt.value.trim().to_string(),
                None => "=>".to_string(),
            };
            if raw.commands.value.is_empty()
                || raw.commands.value.iter().any(|c| c.trim().is_empty())
            {
                return Err(errors.at(
                    &raw.commands,
                    "`commands` must list the U-Boot commands that boot Bulkhead, none empty",
                    "for example: `tftpboot ${loadaddr} bulkhead.itb` then `bootm ${loadaddr}`",
                ));
            }
            if let Some(dir) = &raw.tftp_dir {
                if !dir.value.starts_with('/') {
                    return Err(errors.at(
                        dir,
                        format!("`{}` is not an absolute directory", dir.value),
                        "give the TFTP server's root, such as /srv/tftp",
                    ));
                }
            }
            let timeout = match raw.command_timeout_s {
                Some(timeout) if timeout.value == 0 => {
                    return Err(errors.at(
                        &timeout,
                        "a command timeout of 0 s leaves no time to run anything",
                        "leave it out for 60 s",
                    ))
                }
                Some(timeout) => timeout.value,
                None => 60,
            };
            Some(UbootSettings {
                prompt,
                commands: raw.commands.value,
                native_commands: raw.native_commands,
                tftp_dir: raw.tftp_dir.map(|dir| PathBuf::from(dir.value)),
                command_timeout_s: timeout,
            })
        }
    };
    Ok(SerialSettings {
        device: PathBuf::from(raw.device.value),
        baud: raw.baud.value,
        power_cycle: raw.power_cycle,
        power_off: raw.power_off,
        uboot,
    })
}

fn latency_budget(
    errors: &Errors,
    kind: &TargetKind,
    budget: Spanned<RawBudget>,
) -> Result<LatencyBudget, TargetFileError> {
    match kind {
        TargetKind::Qemu(qemu) if qemu.icount && qemu.cntfrq == Some(ONE_TICK_PER_INSTRUCTION) => {}
        TargetKind::Qemu(qemu) if qemu.icount => {
            return Err(errors.at(
                &budget,
                "a latency budget in ticks needs one tick per instruction",
                "set `qemu.cntfrq: 1000000000`",
            ))
        }
        _ => {
            return Err(errors.at(
                &budget,
                "latency budgets are bounds on instruction counts and only hold under icount",
                "set `qemu.icount: true` and `qemu.cntfrq: 1000000000`, or remove \
                 `latency_budget` (figures from a real board or a free-running QEMU \
                 are reported, not judged)",
            ))
        }
    }
    let known = || {
        format!(
            "the measurements are {}",
            MEASUREMENTS.map(|m| format!("`{m}`")).join(", ")
        )
    };
    let mut result = LatencyBudget::default();
    for (name, ticks) in budget.value.max_ticks {
        if !MEASUREMENTS.contains(&name.as_str()) {
            return Err(errors.at(&ticks, format!("unknown measurement `{name}`"), known()));
        }
        if ticks.value == 0 {
            return Err(errors.at(
                &ticks,
                "a budget of 0 ticks can never be met",
                "measure once with `cargo xtask hil` and leave some headroom",
            ));
        }
        result.max_ticks.insert(name, ticks.value);
    }
    for (name, ratio) in budget.value.max_overhead_ratio {
        if !MEASUREMENTS.contains(&name.as_str()) {
            return Err(errors.at(&ratio, format!("unknown measurement `{name}`"), known()));
        }
        if !(ratio.value.is_finite() && ratio.value >= 1.0) {
            return Err(errors.at(
                &ratio,
                format!("overhead ratio {} is not a bound", ratio.value),
                "a ratio is Bulkhead p99 / native p99: 1.0 means no overhead at all",
            ));
        }
        result.max_overhead_ratio.insert(name, ratio.value);
    }
    if let Some(factor) = budget.value.max_load_factor {
        if !(factor.value.is_finite() && factor.value >= 1.0) {
            return Err(errors.at(
                &factor,
                format!("load factor {} is not a bound", factor.value),
                "a factor is the worst case with the neighbour loaded over the worst case \
                 with it idle: 1.0 means no change at all",
            ));
        }
        result.max_load_factor = Some(factor.value);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_of_a_minimal_qemu_target() {
        let target = TargetDescription::parse("name: q\nqemu: {}\n", "t.yaml").unwrap();
        let TargetKind::Qemu(qemu) = &target.kind else {
            panic!("not qemu")
        };
        assert_eq!(qemu.smp, 4);
        assert_eq!(qemu.memory, "2G");
        assert_eq!(qemu.cpu, "cortex-a72");
        assert!(!target.is_deterministic());
        assert!(target.latency_budget.is_empty());
    }
}
