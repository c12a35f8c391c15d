//! The Bulkhead host tool as a library: checks a partitioning config and
//! builds the boot image, for the `bulkhead` command and for other host
//! crates (xtask, test harness) that call [`build`] directly.
//!
//! # Boot image layout
//!
//! The partitioner is a raw arm64 Image whose 64-byte header gives, at
//! offset 16, `image_size`: its whole memory footprint (bss and stacks
//! included). The boot image is:
//!
//! | offset                      | contents                                   |
//! |-----------------------------|--------------------------------------------|
//! | 0                           | the partitioner file, zero-padded to `image_size` |
//! | `image_size`                | the config blob ([`bulkhead_config::blob`])         |
//! | `image_size` + `Image::offset` | each cell image, 4 KiB-aligned          |
//!
//! [`Image::offset`](bulkhead_config::Image::offset) counts from the blob's first
//! byte, and the blob's `total_length` runs from there to the end of the last
//! image. The output's header `image_size` is then patched to the boot
//! image's length rounded up to 4 KiB, so that a bootloader places nothing
//! over the payloads. The whole boot image must fit in the board's
//! `hypervisor_ram` from the load address (`hypervisor_ram.base` +
//! [`LOAD_OFFSET`]).
#![forbid(unsafe_code)]

pub mod console;
pub mod dtb;
pub mod fit;
pub mod plan;
pub mod platform;

use bulkhead_config::arm64_image::{self, Header};
use bulkhead_config::yaml::{self, LoadError, Loaded, PciModel, QemuBackend};
use std::io;
use std::path::{Path, PathBuf};

/// Where the boot image is loaded, from the base of the partitioner's RAM
/// (the arm64 Image `text_offset` the partitioner is linked for).
pub const LOAD_OFFSET: u64 = bulkhead_config::identity::TEXT_OFFSET;

/// Alignment of the partitioner's `image_size` and of the patched size.
pub const BOOT_IMAGE_ALIGN: u64 = 4096;

/// Name of the boot image in the output directory.
pub const BOOT_IMAGE_FILE: &str = "bulkhead.img";
/// Name of the config blob (for inspection) in the output directory.
pub const BLOB_FILE: &str = "config.bin";
/// Name of the plan table in the output directory.
pub const PLAN_FILE: &str = "plan.txt";
/// Name of the file of extra QEMU arguments (one per line) in the output
/// directory: the devices of the config's `qemu` section.
pub const QEMU_ARGS_FILE: &str = "qemu.args";

/// Why a boot image cannot be assembled.
#[derive(Debug, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum ImageError {
    /// The partitioner file is not an arm64 Image (no "ARM\x64" magic at byte 56).
    #[error("the partitioner file is not an arm64 Image (no \"ARM\\x64\" magic at byte 56)")]
    #[diagnostic(
        code(bulkhead::not_an_image),
        help("pass the raw Image built by `cargo xtask build`, not the ELF file")
    )]
    NotAnImage,
    /// The partitioner's header gives an `image_size` that is zero or not a
    /// multiple of 4 KiB.
    #[error("the partitioner's header gives image_size {image_size:#x}, which is zero or not a multiple of 4 KiB")]
    #[diagnostic(
        code(bulkhead::bad_image_size),
        help("the partitioner's linker script must align the end of its image to 4 KiB")
    )]
    BadImageSize {
        /// The header's value.
        image_size: u64,
    },
    /// The partitioner file is larger than its header's `image_size`.
    #[error("the partitioner file is {file_size:#x} bytes, larger than its header's image_size {image_size:#x}")]
    #[diagnostic(
        code(bulkhead::partitioner_too_big),
        help("the header must cover the whole file; check the partitioner's linker script")
    )]
    PartitionerTooBig {
        /// Length of the file.
        file_size: u64,
        /// The header's `image_size`.
        image_size: u64,
    },
    /// The partitioner image says nothing of the board it was built for.
    #[error("the partitioner image cannot be checked against the config: {reason}")]
    #[diagnostic(
        code(bulkhead::partitioner_without_identity),
        help("pass the partitioner-<board>.img that `cargo xtask build --config CONFIG` builds for the config's board")
    )]
    NoIdentity {
        /// What is wrong with its identity record.
        reason: String,
    },
    /// The partitioner image was built for another board.
    #[error("the partitioner image was built for board `{built_for}`, but the config is for board `{board}`")]
    #[diagnostic(
        code(bulkhead::partitioner_for_another_board),
        help("the partitioner is built once per board: build it for `{board}` (`cargo xtask build --config CONFIG` does, into target/bulkhead/images/partitioner-{board}.img)")
    )]
    WrongBoard {
        /// The board in the image's identity record.
        built_for: String,
        /// The config's board.
        board: String,
    },
    /// The partitioner image is linked for another load address.
    #[error("the partitioner image is linked at {linked:#x}, but board `{board}` loads it at {load_address:#x}")]
    #[diagnostic(
        code(bulkhead::partitioner_load_address),
        help("rebuild the partitioner for `{board}` from this tree: its link address comes from the board's hypervisor_ram")
    )]
    WrongLoadAddress {
        /// The address in the image's identity record.
        linked: u64,
        /// The config's board.
        board: String,
        /// Where the boot image is loaded on that board.
        load_address: u64,
    },
    /// The boot image does not fit in the partitioner's RAM.
    #[error(
        "the boot image needs {needed:#x} bytes from {load_address:#x}, \
         but the partitioner's RAM ends at {ram_end:#x} ({available:#x} bytes available)"
    )]
    #[diagnostic(
        code(bulkhead::boot_image_too_big),
        help("the cell images travel in the boot image; make them smaller")
    )]
    TooBig {
        /// Length of the boot image, rounded up to 4 KiB.
        needed: u64,
        /// Where the boot image is loaded.
        load_address: u64,
        /// End of the board's `hypervisor_ram`.
        ram_end: u64,
        /// Bytes from the load address to the end of that RAM.
        available: u64,
    },
}

/// An assembled boot image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootImage {
    /// The whole boot image.
    pub bytes: Vec<u8>,
    /// The config blob, as written at [`BootImage::blob_offset`].
    pub blob: Vec<u8>,
    /// Offset of the blob: the partitioner's original `image_size`.
    pub blob_offset: u64,
    /// Physical address the boot image is loaded at.
    pub load_address: u64,
    /// The patched header `image_size`: the length rounded up to 4 KiB.
    pub image_size: u64,
}

/// Rounds `value` up to a multiple of `align` (a power of two), or `None`
/// on overflow.
fn align_up(value: u64, align: u64) -> Option<u64> {
    Some(value.checked_add(align - 1)? & !(align - 1))
}

/// Assembles the boot image from a checked config and the partitioner's
/// raw Image.
pub fn boot_image(loaded: &Loaded, partitioner: &[u8]) -> Result<BootImage, ImageError> {
    let header = Header::parse(partitioner).ok_or(ImageError::NotAnImage)?;
    let blob_offset = header.image_size;
    if blob_offset == 0 || blob_offset % BOOT_IMAGE_ALIGN != 0 {
        return Err(ImageError::BadImageSize {
            image_size: blob_offset,
        });
    }
    let file_size = partitioner.len() as u64;
    if file_size > blob_offset {
        return Err(ImageError::PartitionerTooBig {
            file_size,
            image_size: blob_offset,
        });
    }
    let identity =
        bulkhead_config::identity::read(partitioner).map_err(|error| ImageError::NoIdentity {
            reason: error.to_string(),
        })?;
    let board = loaded.board;
    if identity.board != board.name {
        return Err(ImageError::WrongBoard {
            built_for: identity.board.to_string(),
            board: board.name.to_string(),
        });
    }
    let ram = board.hypervisor_ram;
    let load_address = bulkhead_config::identity::load_address(board);
    if identity.load_address != load_address {
        return Err(ImageError::WrongLoadAddress {
            linked: identity.load_address,
            board: board.name.to_string(),
            load_address,
        });
    }
    let available = ram.end().saturating_sub(load_address);
    let length = blob_offset.checked_add(loaded.total_length);
    let image_size = length.and_then(|l| align_up(l, BOOT_IMAGE_ALIGN));
    let (length, image_size) = match (length, image_size) {
        (Some(length), Some(size)) if size <= available => (length, size),
        _ => {
            return Err(ImageError::TooBig {
                needed: image_size.unwrap_or(u64::MAX),
                load_address,
                ram_end: ram.end(),
                available,
            })
        }
    };

    // Everything fits in the partitioner's RAM, so the lengths fit in memory.
    let blob = loaded.blob();
    let mut bytes = Vec::with_capacity(length as usize);
    bytes.extend_from_slice(partitioner);
    bytes.resize(blob_offset as usize, 0);
    bytes.extend_from_slice(&blob);
    for payload in &loaded.payloads {
        let offset = loaded
            .system
            .cells
            .get(payload.cell)
            .and_then(|c| c.images.get(payload.image))
            .map_or(0, |i| i.offset);
        let at = (blob_offset + offset) as usize;
        bytes.resize(at.max(bytes.len()), 0);
        bytes.extend_from_slice(&payload.bytes);
    }
    bytes.resize(length as usize, 0);
    let field = arm64_image::IMAGE_SIZE_FIELD;
    bytes[field..field + 8].copy_from_slice(&image_size.to_le_bytes());
    Ok(BootImage {
        bytes,
        blob,
        blob_offset,
        load_address,
        image_size,
    })
}

/// What [`build`] needs.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The YAML config.
    pub config: PathBuf,
    /// Directories searched for image files not found next to the config.
    pub image_dirs: Vec<PathBuf>,
    /// The partitioner's raw arm64 Image.
    pub partitioner: PathBuf,
    /// Where the outputs go (created if missing).
    pub out_dir: PathBuf,
}

/// What [`build`] produced.
#[derive(Clone, Debug)]
pub struct Built {
    /// The checked config.
    pub loaded: Loaded,
    /// The assembled image.
    pub image: BootImage,
    /// `OUT/bulkhead.img`.
    pub boot_image_path: PathBuf,
    /// `OUT/config.bin`.
    pub blob_path: PathBuf,
    /// `OUT/plan.txt`.
    pub plan_path: PathBuf,
    /// `OUT/<cell>.dtb` for each generated device tree, in cell order.
    pub device_tree_paths: Vec<PathBuf>,
    /// The FIT image and boot script for U-Boot.
    pub gateway: fit::GatewayBoot,
    /// `OUT/bulkhead.itb`.
    pub fit_path: PathBuf,
    /// `OUT/boot.scr`.
    pub script_path: PathBuf,
    /// `OUT/qemu.args`.
    pub qemu_args_path: PathBuf,
}

/// The QEMU arguments that attach the devices of the config's `qemu`
/// section, each at its slot's bus. Disks run with `snapshot=on`, so a run
/// never changes the image file.
pub fn qemu_args(loaded: &Loaded) -> Vec<String> {
    let mut args = Vec::new();
    for device in &loaded.qemu {
        let bus = device.bus;
        match &device.backend {
            QemuBackend::Disk(path) => {
                let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                args.push("-drive".to_string());
                args.push(format!(
                    "file={},if=none,format=raw,id=disk{bus},snapshot=on",
                    path.display().to_string().replace(',', ",,")
                ));
                args.push("-device".to_string());
                args.push(format!(
                    "virtio-blk-device,drive=disk{bus},bus=virtio-mmio-bus.{bus}"
                ));
            }
            QemuBackend::PciFunction { model, slot } => {
                // edu: a 40-bit DMA mask, so that the device reaches every
                // address a cell's guest-physical space has (its default
                // is 28 bits).
                let options = match model {
                    PciModel::Edu => ",dma_mask=0xffffffffff",
                    PciModel::Igb => "",
                };
                args.push("-device".to_string());
                args.push(format!(
                    "{},bus=pcie.0,addr={slot:#x}{options}",
                    model.name()
                ));
            }
            QemuBackend::UserNetwork => {
                args.push("-netdev".to_string());
                args.push(format!("user,id=net{bus}"));
                args.push("-device".to_string());
                args.push(format!(
                    "virtio-net-device,netdev=net{bus},bus=virtio-mmio-bus.{bus}"
                ));
            }
        }
    }
    args
}

/// Why [`build`] or [`check`] failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    /// The config could not be read or has problems.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] LoadError),
    /// The partitioner image could not be read.
    #[error("cannot read the partitioner image {}", path.display())]
    #[diagnostic(code(bulkhead::read_partitioner))]
    ReadPartitioner {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The boot image cannot be assembled.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Image(#[from] ImageError),
    /// The FIT image or the boot script cannot be made.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fit(#[from] fit::FitError),
    /// The partitioner cannot run on the config's board yet.
    #[error("the partitioner cannot run on board `{board}` yet: {}", reasons.join("; "))]
    #[diagnostic(
        code(bulkhead::unsupported_board),
        help("the config itself is valid (`bulkhead check` passes); see `Board::gaps` in bsp")
    )]
    UnsupportedBoard {
        /// The board's name.
        board: &'static str,
        /// Each gap's message.
        reasons: Vec<&'static str>,
    },
    /// An output file could not be written.
    #[error("cannot write {}", path.display())]
    #[diagnostic(code(bulkhead::write))]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The process exit code for this error: 1 when the config is wrong
    /// (including images too large for the board), 2 for I/O and unusable
    /// inputs.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(LoadError::Invalid(_))
            | Error::Image(ImageError::TooBig { .. })
            | Error::UnsupportedBoard { .. } => 1,
            _ => 2,
        }
    }
}

/// Loads and checks a config (see [`bulkhead_config::yaml::load_with`]), generating
/// the device trees that cells ask for with [`dtb::generator`]. The
/// config's warnings, which do not fail the check, are in
/// [`Loaded::warnings`](bulkhead_config::yaml::Loaded::warnings).
pub fn check(config: &Path, image_dirs: &[PathBuf]) -> Result<Loaded, Error> {
    Ok(yaml::load_with(config, image_dirs, Some(&dtb::generator))?)
}

/// Checks the config and writes the boot image, the blob and the plan into
/// `options.out_dir`.
pub fn build(options: &BuildOptions) -> Result<Built, Error> {
    let loaded = check(&options.config, &options.image_dirs)?;
    let reasons: Vec<&'static str> = loaded.board.gaps().map(|g| g.message()).collect();
    if !reasons.is_empty() {
        return Err(Error::UnsupportedBoard {
            board: loaded.board.name,
            reasons,
        });
    }
    let partitioner =
        std::fs::read(&options.partitioner).map_err(|source| Error::ReadPartitioner {
            path: options.partitioner.clone(),
            source,
        })?;
    let image = boot_image(&loaded, &partitioner)?;
    let write = |name: &str, bytes: &[u8]| {
        let path = options.out_dir.join(name);
        std::fs::write(&path, bytes)
            .map(|()| path.clone())
            .map_err(|source| Error::Write { path, source })
    };
    std::fs::create_dir_all(&options.out_dir).map_err(|source| Error::Write {
        path: options.out_dir.clone(),
        source,
    })?;
    let boot_image_path = write(BOOT_IMAGE_FILE, &image.bytes)?;
    let blob_path = write(BLOB_FILE, &image.blob)?;
    let gateway = fit::gateway_boot(&loaded, &partitioner, &image)?;
    let fit_path = write(fit::FIT_FILE, &gateway.fit)?;
    let script_path = write(fit::SCRIPT_FILE, &gateway.script)?;
    write(fit::SCRIPT_SOURCE_FILE, gateway.script_source.as_bytes())?;
    let text = format!(
        "{}\n{}\n{}",
        plan::plan(&loaded),
        plan::boot_image_layout(&loaded, &image),
        fit::layout(&gateway)
    );
    let plan_path = write(PLAN_FILE, text.as_bytes())?;
    let mut qemu_args_text = qemu_args(&loaded).join("\n");
    if !qemu_args_text.is_empty() {
        qemu_args_text.push('\n');
    }
    let qemu_args_path = write(QEMU_ARGS_FILE, qemu_args_text.as_bytes())?;
    let mut device_tree_paths = Vec::new();
    for payload in loaded.payloads.iter().filter(|p| p.generated) {
        let name = payload.path.to_string_lossy();
        device_tree_paths.push(write(&name, &payload.bytes)?);
    }
    Ok(Built {
        loaded,
        image,
        boot_image_path,
        blob_path,
        plan_path,
        device_tree_paths,
        gateway,
        fit_path,
        script_path,
        qemu_args_path,
    })
}
