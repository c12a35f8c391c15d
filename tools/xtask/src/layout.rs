//! Where things are: the workspace root, the target directory and the
//! artifacts `cargo xtask build` writes.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The Rust target of the partitioner and the cells.
pub const TARGET: &str = "aarch64-unknown-none-softfloat";

/// The Rust target of our programs in Linux cells: static binaries (musl),
/// linked with rust-lld, so no cross C toolchain is needed.
pub const LINUX_TARGET: &str = "aarch64-unknown-linux-musl";

pub use bsp::BOARD_ENV;

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

    /// `target/bulkhead/images/<board>`: the partitioner (`partitioner.img`)
    /// and the bare-metal cells built for `board`.
    pub fn board_images(&self, board: &str) -> PathBuf {
        self.images().join(board)
    }

    /// Cargo's target directory for `board`'s partitioner and cells: one
    /// per board, so that building for one board does not undo another's.
    fn board_target(&self, board: &str) -> PathBuf {
        self.target.join("boards").join(board)
    }

    /// A `cargo` command that builds (or, with `subcommand` `clippy`,
    /// checks) the aarch64 crates for `board`: the partitioner and the
    /// bare-metal cells, release profile.
    pub fn board_build(&self, subcommand: &str, board: &str) -> std::process::Command {
        let mut command = crate::process::cargo(&self.root);
        command
            .arg(subcommand)
            .args(["--release", "--target", TARGET])
            .args(["-p", "partitioner", "-p", "baremetal-cells"])
            .arg("--target-dir")
            .arg(self.board_target(board))
            .env(BOARD_ENV, board);
        command
    }

    /// A `cargo build` of the bare-metal cells alone for `board`, release
    /// profile: for boards the partitioner does not run on yet, whose
    /// cells still test drivers natively.
    pub fn board_cells_build(&self, board: &str) -> std::process::Command {
        let mut command = crate::process::cargo(&self.root);
        command
            .args(["build", "--release", "--target", TARGET])
            .args(["-p", "baremetal-cells"])
            .arg("--target-dir")
            .arg(self.board_target(board))
            .env(BOARD_ENV, board);
        command
    }

    /// The release ELF of aarch64 binary `binary` built for `board`.
    pub fn board_elf(&self, board: &str, binary: &str) -> PathBuf {
        self.board_target(board)
            .join(TARGET)
            .join("release")
            .join(binary)
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
