//! The reference board in emulation: QEMU `virt` with CPU 0 entering the
//! boot image at EL2 (or boot firmware such as U-Boot, which then boots
//! it).
//!
//! The board's PL011 is a socket chardev: the harness listens on an
//! abstract Unix socket of its own before it starts QEMU, and QEMU connects
//! to it as it starts, before the guest runs its first instruction. The
//! harness then reads one byte stream, the serial line, exactly as it reads
//! a board's `/dev/ttyUSB0` (see `serial.rs`): nothing on QEMU's stdout or
//! stdin is part of it, and QEMU's own messages go to its log.

use super::{Link, Target, TargetProcess};
use crate::HarnessError;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long QEMU may take to connect to the console socket. It connects
/// while it parses its command line, well before the guest starts; only a
/// QEMU that failed to start takes longer (and then exits, which ends the
/// wait sooner).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable that gives the machines of
/// [`QemuTarget::for_build`] the GIC's security extensions (`on`): the
/// system-test suite's second pass, on the control path of real boards
/// (see [`QemuTarget::secure`]).
pub const SECURE_ENV: &str = "BULKHEAD_QEMU_SECURE";

/// Whether [`SECURE_ENV`] asks for the GIC's security extensions.
pub fn secure_from_env() -> bool {
    std::env::var_os(SECURE_ENV).is_some_and(|value| value == "on")
}

/// A QEMU `virt` machine booting one raw image with `-kernel`.
///
/// The defaults are the lab's reference configuration: GICv3,
/// virtualization extensions on (so the image starts at EL2), 4
/// Cortex-A72 cores, 2 GiB of RAM, the PL011 and nothing else.
#[derive(Clone, Debug)]
pub struct QemuTarget {
    binary: OsString,
    boot: Boot,
    cpu: String,
    cntfrq: Option<u64>,
    virtualization: bool,
    secure: bool,
    soc: Option<bsp::QemuModel>,
    smp: u32,
    memory: String,
    icount: bool,
    extra: Vec<OsString>,
}

/// What QEMU starts at reset.
#[derive(Clone, Debug)]
enum Boot {
    /// `-kernel`: a raw arm64 Image, entered directly.
    Kernel(PathBuf),
    /// `-bios`: boot firmware in the flash at address 0, which finds its
    /// own way to the boot image (a disk among the extra arguments).
    Firmware(PathBuf),
}

impl QemuTarget {
    /// The reference machine booting `kernel` (a raw arm64 Image, loaded at
    /// 0x4008_0000 and entered with x0 = the DTB).
    pub fn new(kernel: impl Into<PathBuf>) -> Self {
        Self::booting(Boot::Kernel(kernel.into()))
    }

    /// The reference machine booting what `bulkhead build` wrote into
    /// `dir`: the boot image `bulkhead.img`, with the devices of the
    /// config's `qemu` section from `qemu.args` (one argument per line;
    /// a missing file means none), and the GIC's security extensions when
    /// [`SECURE_ENV`] is `on`.
    pub fn for_build(dir: &Path) -> Result<Self, HarnessError> {
        let args_file = dir.join("qemu.args");
        let args = match std::fs::read_to_string(&args_file) {
            Ok(text) => text
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(HarnessError::Io {
                    context: format!("reading {}", args_file.display()),
                    source,
                })
            }
        };
        // The machine of the config's board: QEMU's model of the SoC, or
        // the reference `virt` when the board has none.
        let board = bulkhead_config::yaml::parse(&dir.join("config.yaml"))
            .ok()
            .and_then(|raw| bsp::board(&raw.board));
        let target = Self::new(dir.join("bulkhead.img"));
        let target = match board.and_then(|b| b.qemu) {
            Some(model) => target.soc(model),
            None => target.secure(secure_from_env()),
        };
        Ok(target.args(args))
    }

    /// The reference machine starting boot firmware with `-bios` instead of
    /// a kernel: Debian's U-Boot for QEMU (`u-boot-qemu`), say. With
    /// virtualization on, the firmware starts at EL2. Give it a boot
    /// medium with [`args`](Self::args) (a `-drive` and a `-device`).
    pub fn firmware(firmware: impl Into<PathBuf>) -> Self {
        Self::booting(Boot::Firmware(firmware.into()))
    }

    fn booting(boot: Boot) -> Self {
        QemuTarget {
            binary: "qemu-system-aarch64".into(),
            boot,
            cpu: "cortex-a72".to_string(),
            cntfrq: None,
            virtualization: true,
            secure: false,
            soc: None,
            smp: 4,
            memory: "2G".to_string(),
            icount: false,
            extra: Vec::new(),
        }
    }

    /// Uses another QEMU executable.
    pub fn binary(mut self, binary: impl Into<OsString>) -> Self {
        self.binary = binary.into();
        self
    }

    /// Number of CPUs (`-smp`).
    pub fn smp(mut self, cpus: u32) -> Self {
        self.smp = cpus;
        self
    }

    /// RAM size (`-m`), e.g. `"2G"`.
    pub fn memory(mut self, size: &str) -> Self {
        self.memory = size.to_string();
        self
    }

    /// CPU model (`-cpu`). Avoid plain `max`: its pointer-auth emulation
    /// is 5 to 8 times slower.
    pub fn cpu(mut self, model: &str) -> Self {
        self.cpu = model.to_string();
        self
    }

    /// Generic timer frequency in Hz (the CPU's `cntfrq` property).
    pub fn cntfrq(mut self, hertz: u64) -> Self {
        self.cntfrq = Some(hertz);
        self
    }

    /// Whether the CPUs implement EL2 (`virtualization=on`, the default).
    /// Without it the image starts at EL1 and QEMU answers PSCI calls made
    /// with HVC: the native baseline of a bare-metal cell.
    pub fn virtualization(mut self, on: bool) -> Self {
        self.virtualization = on;
        self
    }

    /// Whether the machine has the security extensions (`secure=on`): an
    /// EL3, and a GIC with two security states (`GICD_CTLR.DS = 0`) whose
    /// Group 0 the Non-secure world cannot use, as under TF-A on real
    /// boards. A `-kernel` image still starts in Non-secure EL2, with
    /// every interrupt in Non-secure Group 1 and PSCI over SMC.
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// QEMU's model of a real SoC instead of `virt` (from the board
    /// description): its own CPUs (no `-cpu`), its console on serial port
    /// `model.console_serial`, and the model's arguments.
    pub fn soc(mut self, model: bsp::QemuModel) -> Self {
        self.soc = Some(model);
        self
    }

    /// Deterministic time: `-icount shift=0,sleep=off`. With
    /// `cntfrq(1_000_000_000)` one counter tick is one instruction.
    pub fn icount(mut self, on: bool) -> Self {
        self.icount = on;
        self
    }

    /// Appends one extra argument (a `-device loader,…`, `-d int`, …).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.extra.push(arg.as_ref().to_os_string());
        self
    }

    /// Appends extra arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.extra
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// The arguments to start this machine by hand (without the
    /// executable), the PL011 on the terminal (`-serial stdio`). The
    /// harness starts it with [`Console::Socket`] instead; the run's
    /// `qemu.cmdline` has that exact line.
    pub fn command_line(&self) -> Vec<OsString> {
        self.command_line_with(&Console::Stdio)
    }

    /// The arguments QEMU is started with (without the executable), the
    /// PL011 on `console`.
    fn command_line_with(&self, console: &Console) -> Vec<OsString> {
        let mut cpu = self.cpu.clone();
        if let Some(hertz) = self.cntfrq {
            cpu.push_str(&format!(",cntfrq={hertz}"));
        }
        let machine = match &self.soc {
            Some(model) => model.machine.to_string(),
            None => format!(
                "virt{}{},gic-version=3",
                if self.secure { ",secure=on" } else { "" },
                if self.virtualization {
                    ",virtualization=on"
                } else {
                    ""
                }
            ),
        };
        let mut args: Vec<OsString> = ["-M", &machine].iter().map(OsString::from).collect();
        if self.soc.is_none() {
            args.extend(["-cpu".into(), cpu.into()]);
        }
        args.extend(
            [
                "-smp",
                &self.smp.to_string(),
                "-m",
                &self.memory,
                // No default NIC, drives or monitor; the board's PL011 stays
                // and `-serial` connects it.
                "-nodefaults",
                "-display",
                "none",
                "-monitor",
                "none",
            ]
            .iter()
            .map(OsString::from),
        );
        if let Some(model) = &self.soc {
            args.extend(["-audio".into(), "none".into()]);
            args.extend(model.args.iter().map(OsString::from));
            // The UARTs before the console get nothing.
            for _ in 0..model.console_serial {
                args.extend(["-serial".into(), "null".into()]);
            }
        }
        match console {
            Console::Stdio => args.extend(["-serial".into(), "stdio".into()]),
            Console::Socket(name) => args.extend([
                "-chardev".into(),
                format!("socket,id=console,path={name},abstract=on").into(),
                "-serial".into(),
                "chardev:console".into(),
            ]),
        }
        if self.icount {
            args.push("-icount".into());
            args.push("shift=0,sleep=off".into());
        }
        let (option, file) = match &self.boot {
            Boot::Kernel(kernel) => ("-kernel", kernel),
            Boot::Firmware(firmware) => ("-bios", firmware),
        };
        args.push(option.into());
        args.push(file.clone().into_os_string());
        args.extend(self.extra.iter().cloned());
        args
    }

    /// The full command line as one shell-like string, for logs.
    fn command_text(&self, console: &Console) -> String {
        std::iter::once(&self.binary)
            .chain(self.command_line_with(console).iter())
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Target for QemuTarget {
    fn describe(&self) -> String {
        format!("QEMU: {}", self.command_text(&Console::Stdio))
    }

    fn start(&self, run_dir: &Path) -> Result<Link, HarnessError> {
        let start_error = |source: io::Error, hint: &str| HarnessError::Start {
            what: self.command_text(&Console::Stdio),
            source,
            hint: hint.to_string(),
        };
        let (file, what, hint) = match &self.boot {
            Boot::Kernel(kernel) => (
                kernel,
                "boot image",
                "\nhint: build it with `cargo xtask build`",
            ),
            Boot::Firmware(firmware) => (
                firmware,
                "boot firmware",
                "\nhint: `cargo xtask setup` installs U-Boot for QEMU (Debian package u-boot-qemu)",
            ),
        };
        if !file.is_file() {
            return Err(start_error(
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no {what} at {}", file.display()),
                ),
                hint,
            ));
        }
        let io_error = |context: String| {
            move |source| HarnessError::Io {
                context: context.clone(),
                source,
            }
        };
        let (listener, console) = ConsoleSocket::listen()
            .map_err(io_error("cannot listen on the console socket".to_string()))?;
        let command_file = run_dir.join("qemu.cmdline");
        std::fs::write(&command_file, self.command_text(&console) + "\n")
            .map_err(io_error(format!("cannot write {}", command_file.display())))?;
        let log_file = run_dir.join("qemu.stderr.log");
        let log = File::create(&log_file)
            .map_err(io_error(format!("cannot create {}", log_file.display())))?;
        let stdout = log
            .try_clone()
            .map_err(io_error(format!("cannot duplicate {}", log_file.display())))?;

        let mut command = Command::new(&self.binary);
        command
            .args(self.command_line_with(&console))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log)
            // Its own process group: a Ctrl-C in the terminal reaches the
            // harness, which then stops QEMU, rather than both at once.
            .process_group(0);
        let parent = rustix::process::getpid();
        // SAFETY: the closure runs in the forked child before exec and only
        // makes two raw system calls (prctl, getppid) through rustix: it
        // allocates nothing and takes no lock, so it is async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                // If the thread that started QEMU dies (the test process was
                // killed, aborted or timed out), QEMU dies with it.
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))?;
                if rustix::process::getppid() != Some(parent) {
                    // The parent died before the death signal was armed.
                    return Err(rustix::io::Errno::SRCH.into());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|source| {
            let hint = if source.kind() == io::ErrorKind::NotFound {
                "\nhint: install QEMU with `cargo xtask setup` (Debian package qemu-system-arm)"
            } else {
                ""
            };
            start_error(source, hint)
        })?;
        let mut process = QemuProcess { child };
        let stream = match listener.accept(&mut process) {
            Ok(stream) => stream,
            Err(source) => {
                let _ = process.kill();
                let _ = process.reap();
                return Err(HarnessError::Start {
                    what: self.command_text(&console),
                    source,
                    hint: format!("\nhint: QEMU's messages are in {}", log_file.display()),
                });
            }
        };
        let input = stream
            .try_clone()
            .map_err(io_error("cannot duplicate the console socket".to_string()))?;
        Ok(Link {
            console: Box::new(stream),
            input: Some(Box::new(input)),
            process: Box::new(process),
        })
    }
}

/// Where QEMU's PL011 goes.
enum Console {
    /// The terminal QEMU runs in: for people.
    Stdio,
    /// The abstract Unix socket of this name, which QEMU connects to.
    Socket(String),
}

/// The harness's end of the console: an abstract Unix socket (no file to
/// clean up, no path length to mind), named after the process and a
/// counter so that concurrent runs never meet.
struct ConsoleSocket {
    listener: UnixListener,
}

impl ConsoleSocket {
    fn listen() -> io::Result<(Self, Console)> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "bulkhead-hil-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(&name)?)?;
        listener.set_nonblocking(true)?;
        Ok((ConsoleSocket { listener }, Console::Socket(name)))
    }

    /// Waits for QEMU to connect. Fails when QEMU exits first or does not
    /// connect within [`CONNECT_TIMEOUT`].
    fn accept(self, qemu: &mut QemuProcess) -> io::Result<UnixStream> {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false)?;
                    return Ok(stream);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
            if let Some(status) = qemu.try_wait()? {
                return Err(io::Error::other(format!(
                    "QEMU exited ({status}) before it connected its console"
                )));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "QEMU did not connect its console within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A running QEMU.
struct QemuProcess {
    child: Child,
}

impl TargetProcess for QemuProcess {
    fn kill(&mut self) -> io::Result<()> {
        match self.child.try_wait()? {
            Some(_) => Ok(()),
            None => self.child.kill(),
        }
    }

    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    fn reap(&mut self) -> io::Result<()> {
        self.child.wait().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(target: &QemuTarget) -> String {
        target
            .command_line()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn reference_command_line() {
        assert_eq!(
            text(&QemuTarget::new("/b/bulkhead.img")),
            "-M virt,virtualization=on,gic-version=3 -cpu cortex-a72 -smp 4 -m 2G \
             -nodefaults -display none -monitor none -serial stdio -kernel /b/bulkhead.img"
        );
    }

    #[test]
    fn latency_lab_options() {
        let target = QemuTarget::new("x.img")
            .smp(1)
            .cntfrq(1_000_000_000)
            .icount(true)
            .args(["-d", "int"]);
        assert_eq!(
            text(&target),
            "-M virt,virtualization=on,gic-version=3 -cpu cortex-a72,cntfrq=1000000000 \
             -smp 1 -m 2G -nodefaults -display none -monitor none -serial stdio \
             -icount shift=0,sleep=off -kernel x.img -d int"
        );
    }

    #[test]
    fn secure_machine_has_the_security_extensions() {
        let target = QemuTarget::new("x.img").secure(true);
        assert!(text(&target).starts_with("-M virt,secure=on,virtualization=on,gic-version=3 "));
    }

    #[test]
    fn a_soc_model_replaces_virt() {
        let model = bsp::imx8mp_evk::BOARD.qemu.unwrap();
        let target = QemuTarget::new("x.img").soc(model);
        assert_eq!(
            text(&target),
            "-M imx8mp-evk -smp 4 -m 2G -nodefaults -display none -monitor none -audio none \
             -global arm-gicv3.has-security-extensions=on -nic user -serial null -serial stdio -kernel x.img"
        );
    }

    #[test]
    fn native_baseline_has_no_el2() {
        let target = QemuTarget::new("probe.bin").virtualization(false).smp(1);
        assert!(text(&target).starts_with("-M virt,gic-version=3 -cpu cortex-a72 -smp 1 "));
    }

    #[test]
    fn firmware_replaces_the_kernel() {
        let target = QemuTarget::firmware("/u/u-boot.bin")
            .args(["-drive", "if=none,file=disk.img,format=raw,id=boot"]);
        assert_eq!(
            text(&target),
            "-M virt,virtualization=on,gic-version=3 -cpu cortex-a72 -smp 4 -m 2G \
             -nodefaults -display none -monitor none -serial stdio -bios /u/u-boot.bin \
             -drive if=none,file=disk.img,format=raw,id=boot"
        );
        let error = QemuTarget::firmware("/nonexistent/u-boot.bin")
            .start(&std::env::temp_dir())
            .err()
            .expect("must fail");
        assert!(error.to_string().contains("u-boot-qemu"), "{error}");
    }

    #[test]
    fn missing_image_is_a_clear_error() {
        let dir = std::env::temp_dir();
        let error = QemuTarget::new("/nonexistent/bulkhead.img")
            .start(&dir)
            .err()
            .expect("must fail");
        let message = error.to_string();
        assert!(message.contains("no boot image"), "{message}");
        assert!(message.contains("cargo xtask build"), "{message}");
    }
}

/// End-to-end through a real QEMU, with a hand-assembled image that writes
/// plain text and wire frames to the PL011, then powers off through PSCI.
#[cfg(test)]
mod qemu_tests {
    use super::*;
    use crate::{Session, SessionOptions};
    use bulkhead_wire::{cell_stream, encode_frame, MAX_FRAME};
    use std::time::Duration;

    /// `movz x0, #0x0900, lsl #16`: x0 = the PL011 data register.
    const UART_ADDRESS: u32 = 0xd2a1_2000;

    /// Machine code that stores each byte of `output` to the UART data
    /// register, then calls PSCI `SYSTEM_OFF` (and spins if that returns).
    fn image(output: &[u8]) -> Vec<u8> {
        let mut code = vec![UART_ADDRESS];
        for &byte in output {
            code.push(0x5280_0001 | (u32::from(byte) << 5)); // movz w1, #byte
            code.push(0xb900_0001); // str w1, [x0]
        }
        code.push(0x5280_0100); // movz w0, #0x0008
        code.push(0x72b0_8000); // movk w0, #0x8400, lsl #16
        code.push(0xd400_0003); // smc #0
        code.push(0x1400_0000); // b .
        code.iter().flat_map(|word| word.to_le_bytes()).collect()
    }

    /// A scratch directory for these tests, and in it `name`, an image of
    /// `code`.
    fn scratch_image(name: &str, code: &[u8]) -> (PathBuf, PathBuf) {
        let root = std::env::temp_dir().join(format!("bulkhead-qemu-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let kernel = root.join(name);
        std::fs::write(&kernel, code).unwrap();
        (root, kernel)
    }

    /// `b .`: an image that spins.
    const SPIN: [u8; 4] = 0x1400_0000u32.to_le_bytes();

    /// These tests need QEMU; without it they fail (never skip silently).
    fn require_qemu() {
        let found = Command::new("qemu-system-aarch64")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        assert!(
            found,
            "qemu-system-aarch64 is not installed: run `cargo xtask setup`"
        );
    }

    #[test]
    fn boots_an_image_and_routes_its_streams() {
        require_qemu();
        let mut output = b"plain before framing\r\n\0".to_vec();
        let mut frame = [0u8; MAX_FRAME];
        for (stream, text) in [
            (cell_stream(1), &b"intruder: heart"[..]),
            (cell_stream(0), b"sensor: heartbeat 0\r\n"),
            (cell_stream(1), b"beat 0\r\n"),
            (0, &[1, 2, 3]),
        ] {
            let n = encode_frame(stream, text, &mut frame);
            output.extend_from_slice(&frame[..n]);
        }
        let (root, kernel) = scratch_image("probe.bin", &image(&output));

        let mut session = Session::start(
            &QemuTarget::new(&kernel).smp(1).memory("128M"),
            SessionOptions::new("qemu-probe")
                .log_root(&root)
                .cells(vec!["sensor".into(), "intruder".into()])
                .deadline(Duration::from_secs(60)),
        )
        .unwrap();
        let lines = session
            .expect_all(
                [
                    ("raw", "plain before framing"),
                    ("sensor", "heartbeat 0"),
                    ("intruder", "intruder: heartbeat 0"),
                    ("partitioner", "[defmt: no table] 01 02 03"),
                ],
                Duration::from_secs(30),
            )
            .unwrap();
        assert_eq!(lines[1], "sensor: heartbeat 0");
        let status = session.wait_exit(Duration::from_secs(30)).unwrap();
        assert!(status.success(), "{status:?}");
        let command = std::fs::read_to_string(session.run_dir().join("qemu.cmdline")).unwrap();
        assert!(command.contains("-nodefaults"), "{command}");
        assert!(command.contains("-serial chardev:console"), "{command}");
    }

    #[test]
    fn a_qemu_that_fails_to_start_is_a_clear_error() {
        require_qemu();
        let (root, kernel) = scratch_image("unused.bin", &SPIN);
        let started = std::time::Instant::now();
        let error = QemuTarget::new(&kernel)
            .arg("-no-such-option")
            .start(&root)
            .err()
            .expect("must fail");
        let message = error.to_string();
        assert!(
            message.contains("before it connected its console"),
            "{message}"
        );
        assert!(message.contains("qemu.stderr.log"), "{message}");
        assert!(std::fs::read_to_string(root.join("qemu.stderr.log"))
            .unwrap()
            .contains("no-such-option"));
        assert!(
            started.elapsed() < CONNECT_TIMEOUT,
            "it must not wait for the timeout"
        );
    }

    #[test]
    fn the_deadline_kills_a_target_that_never_stops() {
        require_qemu();
        let (root, kernel) = scratch_image("spin.bin", &SPIN);
        let mut session = Session::start(
            &QemuTarget::new(&kernel).smp(1).memory("128M"),
            SessionOptions::new("qemu-spin")
                .log_root(&root)
                .deadline(Duration::from_millis(1500)),
        )
        .unwrap();
        let error = session
            .expect("raw", "never", Duration::from_secs(30))
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("output ended"), "{message}");
        assert!(message.contains("hard deadline"), "{message}");
    }
}
