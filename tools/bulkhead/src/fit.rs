//! The gateway boot flow's two files: `bulkhead.itb`, a U-Boot FIT image
//! that carries the partitioner, the config blob and every cell image as
//! separate images, and `boot.scr`, the U-Boot script that loads it and
//! boots it.
//!
//! # Why the FIT reproduces the boot image in RAM
//!
//! The partitioner finds the config blob at its linker symbol
//! `__image_end` (its load address plus its original `image_size`), and the
//! blob finds each cell image at an offset from its own first byte. So the
//! FIT gives every component the load address it has when
//! [`bulkhead.img`](crate::BOOT_IMAGE_FILE) is loaded at
//! [`BootImage::load_address`]:
//!
//! | FIT image          | type       | load address                                   |
//! |--------------------|------------|------------------------------------------------|
//! | `partitioner`      | `kernel`   | `load_address` (also the entry point)          |
//! | `config`           | `firmware` | `load_address + blob_offset`                   |
//! | `<cell>-<kind>`    | `kernel`, `ramdisk` or `flat_dt` | `load_address + blob_offset + Image::offset` |
//!
//! The one configuration, [`CONFIGURATION`], names the partitioner as its
//! `kernel` and everything else as `loadables`. U-Boot's `bootm` checks
//! every image's CRC-32, copies the loadables and the kernel to their load
//! addresses and enters the kernel at EL2 with `x0` = the device tree.
//!
//! The partitioner image keeps its own header, whose `image_size` is its
//! footprint (up to `__image_end`), unlike `bulkhead.img` whose header is
//! patched to cover the payloads. U-Boot copies a `kernel` image to its
//! `load` address as it is (it relocates by the Image header only for
//! `kernel_noload`), but a loader that does honour the header and copies
//! `image_size` bytes still stops exactly where the config blob begins.
//!
//! The FIT has no `fdt` image: the board's device tree comes from the
//! firmware (on QEMU it is generated from the command line, so no build
//! could know it), and the script passes U-Boot's own (`fdtcontroladdr`).
//! The partitioner takes the board from its compiled-in description and
//! does not read that tree yet. The cells' device trees are `flat_dt`
//! loadables like any other cell image.
//!
//! # Where U-Boot puts the FIT itself
//!
//! The script loads `bulkhead.itb` at the [staging address](staging_address):
//! the first byte after the partitioner's RAM. Nothing is ever loaded
//! there (the partitioner's RAM is reserved for the boot image), so the
//! copies `bootm` makes never overlap the FIT they are copied from. Once
//! the partitioner runs, that RAM belongs to whichever cell has it.
#![forbid(unsafe_code)]

use crate::BootImage;
use bsp::Board;
use bulkhead_config::blob::crc32;
use bulkhead_config::yaml::Loaded;
use bulkhead_config::ImageKind;
use std::fmt::Write;
use vm_fdt::FdtWriter;

/// Name of the FIT image in the output directory.
pub const FIT_FILE: &str = "bulkhead.itb";
/// Name of the U-Boot script in the output directory.
pub const SCRIPT_FILE: &str = "boot.scr";
/// Name of the script's source text (for reading) in the output directory.
pub const SCRIPT_SOURCE_FILE: &str = "boot.cmd";
/// The FIT configuration `boot.scr` boots (`bootm ADDR#bulkhead`).
pub const CONFIGURATION: &str = "bulkhead";
/// The FIT image that holds the partitioner.
pub const PARTITIONER_IMAGE: &str = "partitioner";
/// The FIT image that holds the config blob.
pub const CONFIG_IMAGE: &str = "config";

/// Alignment of the staging address (U-Boot and the arm64 boot protocol
/// like 2 MiB).
const STAGING_ALIGN: u64 = 2 << 20;

/// Why the gateway boot files cannot be made.
#[derive(Debug, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum FitError {
    /// The FIT could not be written as a device tree.
    #[error("cannot write the FIT image: {0}")]
    #[diagnostic(
        code(bulkhead::fit),
        help("a FIT image is limited to 4 GiB and node names to 31 characters")
    )]
    Writer(String),
    /// There is no RAM after the partitioner's RAM to hold the FIT while
    /// U-Boot unpacks it.
    #[error(
        "the FIT image needs {needed:#x} bytes of RAM at {address:#x}, \
         after the partitioner's RAM, but the board {board} has {available:#x} there"
    )]
    #[diagnostic(
        code(bulkhead::fit_staging),
        help("U-Boot loads bulkhead.itb right after the partitioner's RAM; the board description must have RAM there")
    )]
    NoStagingRam {
        /// The board.
        board: &'static str,
        /// The staging address.
        address: u64,
        /// Length of the FIT.
        needed: u64,
        /// RAM from the staging address to the end of its range.
        available: u64,
    },
}

/// What a FIT image is, as U-Boot's `type` property names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FitType {
    /// `kernel`: the partitioner, or a cell's kernel.
    Kernel,
    /// `firmware`: the config blob.
    Firmware,
    /// `ramdisk`: a cell's initrd.
    Ramdisk,
    /// `flat_dt`: a cell's device tree.
    FlatDt,
}

impl FitType {
    /// The value of the image node's `type` property.
    pub const fn name(self) -> &'static str {
        match self {
            FitType::Kernel => "kernel",
            FitType::Firmware => "firmware",
            FitType::Ramdisk => "ramdisk",
            FitType::FlatDt => "flat_dt",
        }
    }

    const fn of(kind: ImageKind) -> Self {
        match kind {
            ImageKind::Kernel => FitType::Kernel,
            ImageKind::Initrd => FitType::Ramdisk,
            ImageKind::DeviceTree => FitType::FlatDt,
        }
    }
}

/// One image of the FIT, without its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitEntry {
    /// Node name under `/images`.
    pub name: String,
    /// The node's `description`, shown by U-Boot's `iminfo`.
    pub description: String,
    /// The node's `type`.
    pub kind: FitType,
    /// Where `bootm` copies it.
    pub load: u64,
    /// Where `bootm` enters it (the partitioner only).
    pub entry: Option<u64>,
    /// Length of its data.
    pub size: u64,
    /// CRC-32 of its data (the `hash-1` node).
    pub crc32: u32,
}

/// The gateway boot files of one build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayBoot {
    /// `bulkhead.itb`.
    pub fit: Vec<u8>,
    /// The images in `fit`, in the order of the configuration: the
    /// partitioner, the config blob, then the cell images.
    pub entries: Vec<FitEntry>,
    /// Where the script loads the FIT ([`staging_address`]).
    pub fit_address: u64,
    /// The script's text.
    pub script_source: String,
    /// `boot.scr`: the script as a U-Boot legacy script image.
    pub script: Vec<u8>,
}

/// Short name of an image kind in node names.
fn kind_name(kind: ImageKind) -> &'static str {
    match kind {
        ImageKind::Kernel => "kernel",
        ImageKind::Initrd => "initrd",
        ImageKind::DeviceTree => "fdt",
    }
}

/// A node name for image `image` (of `kind`) of cell `index` named `cell`:
/// `<cell>-<kind>` when that is a valid node name, `cell<index>-<kind>`
/// otherwise (a cell name may start with a digit or be long), made unique
/// against `taken` with the image's index.
fn node_name(cell: &str, index: usize, image: usize, kind: ImageKind, taken: &[String]) -> String {
    let kind = kind_name(kind);
    let readable = format!("{cell}-{kind}");
    let mut name = if readable.len() <= 31 && cell.starts_with(|c: char| c.is_ascii_alphabetic()) {
        readable
    } else {
        format!("cell{index}-{kind}")
    };
    if taken.contains(&name) {
        name = format!("{name}-{image}");
    }
    name
}

/// The images of the FIT for a checked config, the partitioner file (with
/// its original header) and the boot image built from them, with their
/// data.
fn images<'a>(
    loaded: &'a Loaded,
    partitioner: &'a [u8],
    image: &'a BootImage,
) -> Vec<(FitEntry, &'a [u8])> {
    let blob_address = image.load_address + image.blob_offset;
    let entry = |name: String, description: String, kind, load, entry, data: &[u8]| FitEntry {
        name,
        description,
        kind,
        load,
        entry,
        size: data.len() as u64,
        crc32: crc32(data),
    };
    let mut out = vec![
        (
            entry(
                PARTITIONER_IMAGE.to_string(),
                "Bulkhead partitioner (arm64 Image, entered at EL2)".to_string(),
                FitType::Kernel,
                image.load_address,
                Some(image.load_address),
                partitioner,
            ),
            partitioner,
        ),
        (
            entry(
                CONFIG_IMAGE.to_string(),
                format!(
                    "Bulkhead config blob for board {} (found at the partitioner's __image_end)",
                    loaded.board.name
                ),
                FitType::Firmware,
                blob_address,
                None,
                &image.blob,
            ),
            image.blob.as_slice(),
        ),
    ];
    for payload in &loaded.payloads {
        let Some(cell) = loaded.system.cells.get(payload.cell) else {
            continue;
        };
        let Some(model) = cell.images.get(payload.image) else {
            continue;
        };
        let taken: Vec<String> = out.iter().map(|(e, _)| e.name.clone()).collect();
        let name = node_name(&cell.name, payload.cell, payload.image, model.kind, &taken);
        let file = payload
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The checked config puts every image inside one region.
        let physical = cell
            .physical(&model.destination())
            .map_or(model.load_address, |r| r.base);
        let description = format!(
            "cell {}: {} {file}, copied to {physical:#x} by the partitioner",
            cell.name,
            kind_name(model.kind),
        );
        let data = payload.bytes.as_slice();
        out.push((
            entry(
                name,
                description,
                FitType::of(model.kind),
                blob_address + model.offset,
                None,
                data,
            ),
            data,
        ));
    }
    out
}

/// Appends an address property with `cells` 32-bit cells.
fn address(fdt: &mut FdtWriter, name: &str, value: u64, cells: u32) -> vm_fdt::FdtWriterResult<()> {
    if cells == 1 {
        fdt.property_u32(name, value as u32)
    } else {
        fdt.property_u64(name, value)
    }
}

/// Writes the FIT: `/images` with one node per entry, `/configurations`
/// with [`CONFIGURATION`] as the default.
fn write_fit(
    description: &str,
    timestamp: u32,
    images: &[(FitEntry, &[u8])],
    configuration: &str,
) -> vm_fdt::FdtWriterResult<Vec<u8>> {
    let cells = if images
        .iter()
        .all(|(e, _)| e.load <= u64::from(u32::MAX) && e.entry.unwrap_or(0) <= u64::from(u32::MAX))
    {
        1
    } else {
        2
    };
    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_string("description", description)?;
    // U-Boot's host tools (`mkimage -l`, `dumpimage`) require it.
    fdt.property_u32("timestamp", timestamp)?;
    fdt.property_u32("#address-cells", cells)?;

    let images_node = fdt.begin_node("images")?;
    for (entry, data) in images {
        let node = fdt.begin_node(&entry.name)?;
        fdt.property_string("description", &entry.description)?;
        fdt.property("data", data)?;
        fdt.property_string("type", entry.kind.name())?;
        fdt.property_string("arch", "arm64")?;
        if entry.kind == FitType::Kernel && entry.entry.is_some() {
            fdt.property_string("os", "linux")?;
        }
        fdt.property_string("compression", "none")?;
        address(&mut fdt, "load", entry.load, cells)?;
        if let Some(at) = entry.entry {
            address(&mut fdt, "entry", at, cells)?;
        }
        let hash = fdt.begin_node("hash-1")?;
        fdt.property_string("algo", "crc32")?;
        fdt.property_u32("value", entry.crc32)?;
        fdt.end_node(hash)?;
        fdt.end_node(node)?;
    }
    fdt.end_node(images_node)?;

    let configurations = fdt.begin_node("configurations")?;
    fdt.property_string("default", configuration)?;
    let config = fdt.begin_node(configuration)?;
    fdt.property_string(
        "description",
        "Bulkhead: the partitioner at EL2 with its config and cell images",
    )?;
    fdt.property_string("kernel", PARTITIONER_IMAGE)?;
    fdt.property_string_list(
        "loadables",
        images
            .iter()
            .filter(|(e, _)| e.name != PARTITIONER_IMAGE)
            .map(|(e, _)| e.name.clone())
            .collect(),
    )?;
    fdt.end_node(config)?;
    fdt.end_node(configurations)?;
    fdt.end_node(root)?;
    fdt.finish()
}

/// Where `boot.scr` loads the FIT: the first 2 MiB boundary after the
/// board's `hypervisor_ram`, if the board has `fit_len` bytes of RAM
/// there.
pub fn staging_address(board: &'static Board, fit_len: u64) -> Result<u64, FitError> {
    let end = board.hypervisor_ram.end();
    let address = end.div_ceil(STAGING_ALIGN).saturating_mul(STAGING_ALIGN);
    let available = board
        .ram
        .iter()
        .find(|r| r.contains(address))
        .map_or(0, |r| r.end() - address);
    if fit_len > available {
        return Err(FitError::NoStagingRam {
            board: board.name,
            address,
            needed: fit_len,
            available,
        });
    }
    Ok(address)
}

/// The boot script's text for `board`, loading the FIT at `fit_address`.
///
/// U-Boot's distro boot (`bootcmd=run distro_bootcmd`) finds `boot.scr`
/// in `/` or `/boot/` of a partition and sets `devtype`, `devnum`,
/// `distro_bootpart` and `prefix` before it runs the script, so the script
/// loads `bulkhead.itb` from the same directory of the same partition.
pub fn boot_script(board: &str, fit_address: u64) -> String {
    format!(
        "# Bulkhead boot script for board {board}, written by `bulkhead build`.\n\
         # U-Boot's distro boot runs it from the boot medium; it loads {FIT_FILE}\n\
         # from the same directory to {fit_address:#x} (the first RAM after the\n\
         # partitioner's) and boots configuration \"{CONFIGURATION}\": the partitioner\n\
         # at EL2, its config and the cell images at their load addresses.\n\
         # By hand: setenv devtype mmc; setenv devnum 0; setenv distro_bootpart 1;\n\
         # setenv prefix /; load mmc 0:1 ${{scriptaddr}} /boot.scr; source ${{scriptaddr}}\n\
         setenv bulkhead_fit {fit_address:#x}\n\
         echo \"Bulkhead: loading ${{prefix}}{FIT_FILE} from ${{devtype}} ${{devnum}}:${{distro_bootpart}}\"\n\
         if load ${{devtype}} ${{devnum}}:${{distro_bootpart}} ${{bulkhead_fit}} ${{prefix}}{FIT_FILE}; then\n\
         \x20 bootm ${{bulkhead_fit}}#{CONFIGURATION} - ${{fdtcontroladdr}}\n\
         fi\n\
         echo \"Bulkhead: cannot boot ${{prefix}}{FIT_FILE}\"\n"
    )
}

/// U-Boot's legacy image header (`include/image.h`, all fields big-endian).
mod legacy {
    /// `ih_magic`.
    pub const MAGIC: u32 = 0x2705_1956;
    /// `ih_os`: Linux (what `mkimage -T script` records by default).
    pub const OS_LINUX: u8 = 5;
    /// `ih_arch`: AArch64.
    pub const ARCH_ARM64: u8 = 22;
    /// `ih_type`: a script.
    pub const TYPE_SCRIPT: u8 = 6;
    /// `ih_comp`: no compression.
    pub const COMP_NONE: u8 = 0;
    /// Length of the header.
    pub const HEADER_LEN: usize = 64;
    /// Length of `ih_name`.
    pub const NAME_LEN: usize = 32;
    /// Offset of `ih_hcrc`.
    pub const HCRC: usize = 4;
}

/// The build time recorded in the FIT and the script: `SOURCE_DATE_EPOCH`
/// when set (reproducible builds), else now, in seconds since 1970.
pub fn build_timestamp() -> u32 {
    let from_env = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    from_env.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32)
    })
}

/// `text` as a U-Boot script image (what `mkimage -T script -A arm64 -C
/// none` makes): a legacy header with `timestamp`, then the one-component
/// length list (`len`, `0`) and the text.
pub fn script_image(text: &str, timestamp: u32) -> Vec<u8> {
    let mut data = Vec::with_capacity(8 + text.len());
    data.extend((text.len() as u32).to_be_bytes());
    data.extend(0u32.to_be_bytes());
    data.extend(text.as_bytes());

    let mut header = Vec::with_capacity(legacy::HEADER_LEN);
    header.extend(legacy::MAGIC.to_be_bytes());
    header.extend(0u32.to_be_bytes()); // ih_hcrc, filled in below
    header.extend(timestamp.to_be_bytes()); // ih_time
    header.extend((data.len() as u32).to_be_bytes()); // ih_size
    header.extend(0u32.to_be_bytes()); // ih_load
    header.extend(0u32.to_be_bytes()); // ih_ep
    header.extend(crc32(&data).to_be_bytes()); // ih_dcrc
    header.extend([
        legacy::OS_LINUX,
        legacy::ARCH_ARM64,
        legacy::TYPE_SCRIPT,
        legacy::COMP_NONE,
    ]);
    let mut name = [0u8; legacy::NAME_LEN];
    let title = b"Bulkhead boot script";
    name[..title.len()].copy_from_slice(title);
    header.extend(name);
    let hcrc = crc32(&header);
    header[legacy::HCRC..legacy::HCRC + 4].copy_from_slice(&hcrc.to_be_bytes());
    header.extend(data);
    header
}

/// Makes the gateway boot files from a checked config, the partitioner
/// file as read (its header unpatched) and the boot image built from both.
pub fn gateway_boot(
    loaded: &Loaded,
    partitioner: &[u8],
    image: &BootImage,
) -> Result<GatewayBoot, FitError> {
    let images = images(loaded, partitioner, image);
    let config_name = loaded
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let description = format!(
        "Bulkhead {}: {config_name} on board {}",
        env!("CARGO_PKG_VERSION"),
        loaded.board.name
    );
    let timestamp = build_timestamp();
    let fit = write_fit(&description, timestamp, &images, CONFIGURATION)
        .map_err(|e| FitError::Writer(e.to_string()))?;
    let fit_address = staging_address(loaded.board, fit.len() as u64)?;
    let script_source = boot_script(loaded.board.name, fit_address);
    let script = script_image(&script_source, timestamp);
    Ok(GatewayBoot {
        fit,
        entries: images.into_iter().map(|(e, _)| e).collect(),
        fit_address,
        script_source,
        script,
    })
}

/// The FIT's images as a table, for `plan.txt`.
pub fn layout(boot: &GatewayBoot) -> String {
    let mut out = format!(
        "FIT image {FIT_FILE}: {} bytes, loaded by {SCRIPT_FILE} at {:#x}, configuration \"{CONFIGURATION}\"\n",
        boot.fit.len(),
        boot.fit_address
    );
    let width = boot.entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for e in &boot.entries {
        let role = if e.entry.is_some() {
            "kernel, entry"
        } else {
            "loadable"
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {:<8}  load {:#010x}  {:>9} bytes  crc32 {:08x}  ({role})",
            e.name,
            e.kind.name(),
            e.load,
            e.size,
            e.crc32
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_readable_and_valid() {
        assert_eq!(
            node_name("sensor", 0, 0, ImageKind::Kernel, &[]),
            "sensor-kernel"
        );
        assert_eq!(
            node_name("linux", 1, 2, ImageKind::DeviceTree, &[]),
            "linux-fdt"
        );
        // Node names start with a letter and have at most 31 characters.
        assert_eq!(
            node_name("2nd", 1, 0, ImageKind::Initrd, &[]),
            "cell1-initrd"
        );
        let long = "a".repeat(30);
        assert_eq!(
            node_name(&long, 3, 0, ImageKind::Kernel, &[]),
            "cell3-kernel"
        );
        // A second image of one kind gets its index.
        let taken = vec!["sensor-kernel".to_string()];
        assert_eq!(
            node_name("sensor", 0, 1, ImageKind::Kernel, &taken),
            "sensor-kernel-1"
        );
    }

    #[test]
    fn script_image_has_valid_header_and_length_list() {
        let text = "echo hello\n";
        let image = script_image(text, 0x1234_5678);
        let be32 = |at: usize| u32::from_be_bytes(image[at..at + 4].try_into().unwrap());
        assert_eq!(be32(0), legacy::MAGIC);
        let mut header = image[..64].to_vec();
        header[4..8].fill(0);
        assert_eq!(be32(4), crc32(&header), "header CRC");
        assert_eq!(be32(8), 0x1234_5678, "ih_time");
        assert_eq!(be32(12) as usize, image.len() - 64, "ih_size");
        assert_eq!(be32(24), crc32(&image[64..]), "data CRC");
        assert_eq!(&image[28..32], &[5, 22, 6, 0]); // linux, arm64, script, none
        assert!(image[32..64].starts_with(b"Bulkhead boot script\0"));
        assert_eq!(be32(64) as usize, text.len());
        assert_eq!(be32(68), 0);
        assert_eq!(&image[72..], text.as_bytes());
    }

    #[test]
    fn the_script_loads_from_the_boot_partition_and_boots_the_configuration() {
        let text = boot_script("qemu-virt", 0x5000_0000);
        assert!(text.contains("setenv bulkhead_fit 0x50000000\n"), "{text}");
        assert!(
            text.contains(
                "if load ${devtype} ${devnum}:${distro_bootpart} ${bulkhead_fit} ${prefix}bulkhead.itb; then\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  bootm ${bulkhead_fit}#bulkhead - ${fdtcontroladdr}\n"),
            "{text}"
        );
        // Every line is a comment or a command; no stray format escapes.
        assert!(!text.contains("{{") && !text.contains("\\"), "{text}");
    }

    #[test]
    fn the_fit_is_staged_after_the_partitioners_ram() {
        let board = bsp::board("qemu-virt").expect("the reference board");
        assert_eq!(staging_address(board, 0x100_0000), Ok(0x5000_0000));
        let error = staging_address(board, 0x1_0000_0000).unwrap_err();
        assert!(matches!(
            error,
            FitError::NoStagingRam {
                address: 0x5000_0000,
                available: 0x7000_0000,
                ..
            }
        ));
    }
}
