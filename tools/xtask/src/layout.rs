//! Where things are: the workspace root, the target directory and the
//! artifacts `cargo xtask build` writes.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The Rust target of the partitioner and the cells.
pub const TARGET: &str = "aarch64-unknown-none-softfloat";

/// The Rust target of our programs in Linux cells: static binaries (musl),
/// linked with rust-lld, so no cross C toolchain is needed.
pub const LINUX_TARGET: &str = "aarch64-unknown-linux-musl";

/// `cargo` arguments that select the bare-metal cells, release profile.
/// The partitioner is built per board ([`Layout::partitioner_build`]).
pub const CELL_CRATES: [&str; 5] = ["--release", "--target", TARGET, "-p", "baremetal-cells"];

/// The environment variable that names the board the partitioner is built
/// for (read by `partitioner/build.rs`).
pub const BOARD_ENV: &str = "BULKHEAD_BOARD";

/// Paths of the workspace.
pub struct Layout {
    /// The workspace root.
    pub root: PathBuf,
    /// Cargo's target directory.
    pub target: PathBuf,
}

impl Layout {
    /// The layout of the workspace this xtask was built from.
    pub fn new() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .context("cannot find the workspace root")?;
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => root.join(dir),
            None => root.join("target"),
        };
        Ok(Layout { root, target })
    }

    /// `target/bulkhead`: images and boot images.
    pub fn artifacts(&self) -> PathBuf {
        self.target.join("bulkhead")
    }

    /// `target/bulkhead/images`: the flat partitioner and cell images.
    pub fn images(&self) -> PathBuf {
        self.artifacts().join("images")
    }

    /// The release ELF of a bare-metal cell.
    pub fn elf(&self, binary: &str) -> PathBuf {
        self.target.join(TARGET).join("release").join(binary)
    }

    /// Cargo's target directory for the partitioner of `board`: one per
    /// board, so that building for one board does not undo another's.
    fn partitioner_target(&self, board: &str) -> PathBuf {
        self.target.join("boards").join(board)
    }

    /// A `cargo` command (without the subcommand's own arguments) that
    /// builds or checks the partitioner for `board`, release profile:
    /// append `build` or `clippy` first.
    pub fn partitioner_build(&self, subcommand: &str, board: &str) -> std::process::Command {
        let mut command = crate::process::cargo(&self.root);
        command
            .arg(subcommand)
            .args(["--release", "--target", TARGET, "-p", "partitioner"])
            .arg("--target-dir")
            .arg(self.partitioner_target(board))
            .env(BOARD_ENV, board);
        command
    }

    /// The release ELF of the partitioner for `board`.
    pub fn partitioner_elf(&self, board: &str) -> PathBuf {
        self.partitioner_target(board)
            .join(TARGET)
            .join("release")
            .join("partitioner")
    }

    /// The flat image of the partitioner for `board`.
    pub fn partitioner_image(&self, board: &str) -> PathBuf {
        self.images().join(format!("partitioner-{board}.img"))
    }

    /// A user-given path: relative to the current directory, as a shell
    /// would take it.
    pub fn user_path(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        let from_cwd = std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf());
        if from_cwd.exists() {
            from_cwd
        } else {
            // Defaults are written relative to the workspace root.
            self.root.join(path)
        }
    }
}
