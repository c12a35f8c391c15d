//! The YAML layer (host only): reads a config file, checks it and turns it
//! into a [`System`], or reports every problem with its line, column, field
//! path and a fix.
//!
//! # The format (version 1)
//!
//! ```yaml
//! version: 1                      # format version; must be 1
//! board: qemu-virt                # a board Bulkhead knows (see `bsp`)
//! cells:                          # 1 to 8 cells
//!   - name: sensor                # [a-z0-9_-]{1,32}, unique
//!     cpus: [0, 1]                # physical CPU indices of the board; lowest = virtual CPU 0
//!     memory:                     # 1 to 8 regions, identity-mapped
//!       - base: 0x50000000        # integers: decimal or 0x hex (`_` may separate digits)
//!         size: 16M               # sizes: integer or string with K/M/G suffix (KiB/MiB/GiB)
//!         access: rwx             # optional: rwx (default) | rw | ro
//!     devices: [virtio-mmio31]    # optional: board device names, each for one cell only
//!     console: virtual            # optional: virtual (default) | none
//!     kernel:
//!       path: heartbeat.bin       # relative to the config file's directory, else searched
//!                                 # in the --image-dir directories
//!       load_address: 0x50000000  # optional; default: base of the first memory region
//!                                 # + the arm64 Image header's text_offset (0 without header)
//!     initrd: { path: ..., load_address: ... }        # optional, load_address required
//!     device_tree: { path: ..., load_address: ... }   # optional, load_address required
//!     entry: 0x50000000           # optional; default: the kernel's load address
//!     boot_argument: 0x0          # optional (x0 at entry); default: the device tree's
//!                                 # load address if there is one, else 0
//!     on_fault: stop              # optional: stop (default) | restart
//! ```
//!
//! `console: virtual` gives the cell an emulated PL011 at the MMIO address of
//! the board's console; the partitioner owns the real UART and prefixes each
//! line with the cell's name.
//!
//! # Checking
//!
//! [`load`] parses the file with `serde-saphyr` into the [`raw`] types
//! (unknown fields, wrong types and malformed YAML stop here, with one
//! diagnostic), resolves device names through the board, reads the image
//! files, and runs [`rules::check`](crate::rules::check) on the result. Every
//! finding is mapped back to the YAML value it concerns, and all of them are
//! reported together as [`Diagnostics`].
//!
//! The "image fits in RAM" rule uses an image's *footprint*: for a kernel
//! with an arm64 Image header, the larger of its file size and the header's
//! `image_size` (bss follows the file); otherwise its file size.
//!
//! # Payload layout
//!
//! The returned [`System`] already has its [`Image::offset`]s: the images
//! follow the config blob in cell order, each starting at a 4 KiB-aligned
//! offset from the blob's first byte, and [`Loaded::total_length`] is the
//! distance from the blob's start to the end of the last image.

mod convert;
mod diagnostic;
pub mod raw;
mod source_map;

pub use convert::human_size;
pub use diagnostic::{Diagnostic, Diagnostics};
pub use source_map::SourceMap;

use crate::model::*;
use bsp::Board;
use miette::NamedSource;
use raw::RawSystem;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The only format version this tool reads.
pub const FORMAT_VERSION: u64 = 1;

/// Alignment of each image payload in the boot image.
pub const PAYLOAD_ALIGN: u64 = PAGE_SIZE;

/// A checked config, ready to be written into a boot image.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The config file.
    pub path: PathBuf,
    /// Its text.
    pub source: String,
    /// The board it is for.
    pub board: &'static Board,
    /// The validated system, with image offsets and file sizes.
    pub system: System,
    /// The image files' contents, in payload order (cell by cell, each
    /// cell's images in model order).
    pub payloads: Vec<Payload>,
    /// Length of the blob plus the payloads: from the blob's first byte to
    /// the end of the last image.
    pub total_length: u64,
}

/// The bytes of one cell image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// Index of the cell.
    pub cell: usize,
    /// Index of the image in the cell's [`Cell::images`].
    pub image: usize,
    /// The file it was read from.
    pub path: PathBuf,
    /// The file's contents.
    pub bytes: Vec<u8>,
    /// Memory the image occupies in the cell once loaded (bss included).
    pub footprint: u64,
}

impl Loaded {
    /// The config blob for [`Loaded::system`], whose header records
    /// [`Loaded::total_length`].
    pub fn blob(&self) -> Vec<u8> {
        crate::blob::encode(&self.system, self.total_length)
    }

    /// The payload of image `image` of cell `cell`.
    pub fn payload(&self, cell: usize, image: usize) -> Option<&Payload> {
        self.payloads
            .iter()
            .find(|p| p.cell == cell && p.image == image)
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    /// The config file could not be read.
    #[error("cannot read {}", path.display())]
    #[diagnostic(code(config::read))]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The config has problems, each reported with its place in the file.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(Diagnostics),
}

impl From<Diagnostics> for LoadError {
    fn from(diagnostics: Diagnostics) -> Self {
        LoadError::Invalid(diagnostics)
    }
}

/// Reads, checks and converts the config at `path`. Image files are looked
/// up relative to the config's directory, then in `image_dirs` in order.
pub fn load(path: &Path, image_dirs: &[PathBuf]) -> Result<Loaded, LoadError> {
    let source = read(path)?;
    Ok(load_source(&source, path, image_dirs)?)
}

/// Like [`load`], with the config's text given: `path` names the file in
/// reports and anchors relative image paths.
pub fn load_source(
    source: &str,
    path: &Path,
    image_dirs: &[PathBuf],
) -> Result<Loaded, Diagnostics> {
    let file = path.display().to_string();
    let named = NamedSource::new(&file, Arc::<str>::from(source));
    let map = SourceMap::new(source);
    let raw =
        convert::parse(source, &named, &map).map_err(|d| Diagnostics::new(&file, vec![*d]))?;
    let base_dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    convert::Converter::new(source, &named, &map, &raw, &base_dir, image_dirs)
        .run()
        .map(|(board, system, payloads, total_length)| Loaded {
            path: path.to_path_buf(),
            source: source.to_string(),
            board,
            system,
            payloads,
            total_length,
        })
        .map_err(|items| Diagnostics::new(&file, items))
}

/// Parses the config at `path` without checking it against the board or
/// reading images: for host tools that only need its structure.
pub fn parse(path: &Path) -> Result<RawSystem, LoadError> {
    let source = read(path)?;
    Ok(parse_source(&source, &path.display().to_string())?)
}

/// Parses config text (`file` names it in reports).
pub fn parse_source(source: &str, file: &str) -> Result<RawSystem, Diagnostics> {
    let named = NamedSource::new(file, Arc::<str>::from(source));
    let map = SourceMap::new(source);
    convert::parse(source, &named, &map).map_err(|d| Diagnostics::new(file, vec![*d]))
}

/// The cell names of the config at `path`, in config order (the order of
/// the partitioner's cell numbers and console streams). Images are not
/// needed.
pub fn cell_names(path: &Path) -> Result<Vec<String>, LoadError> {
    Ok(parse(path)?.cells.into_iter().map(|c| c.name).collect())
}

/// The JSON Schema of the YAML format, pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(RawSystem);
    format!("{:#}", schema.as_value())
}

fn read(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| LoadError::Read {
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the file is not UTF-8 text (bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        ),
    })
}
