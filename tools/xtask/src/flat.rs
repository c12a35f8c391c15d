//! ELF to flat binary, as `objcopy -O binary` does it: the file-backed
//! bytes of every `PT_LOAD` segment, placed by physical address, from the
//! lowest one up, gaps filled with zeros. The partitioner and the cells are
//! linked so that the result is a raw arm64 Image (64-byte Linux Image
//! header first), which QEMU's `-kernel` and the boot image builder load.

use anyhow::{bail, ensure, Context, Result};
use object::elf::{FileHeader64, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;
use std::path::Path;

/// Offset of the `ARM\x64` magic in an arm64 Image header.
const IMAGE_MAGIC_OFFSET: usize = 56;
/// The arm64 Image header magic.
const IMAGE_MAGIC: &[u8; 4] = b"ARM\x64";
/// Refuse to write images larger than this: a segment at a stray address
/// would otherwise produce gigabytes of zeros.
const MAX_IMAGE: u64 = 256 << 20;

/// A flat image and where it loads.
#[derive(Debug)]
pub struct FlatImage {
    /// Physical address of the first byte.
    pub load_address: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl FlatImage {
    /// Whether the image starts with an arm64 Image header.
    pub fn has_image_header(&self) -> bool {
        self.bytes.get(IMAGE_MAGIC_OFFSET..IMAGE_MAGIC_OFFSET + 4) == Some(&IMAGE_MAGIC[..])
    }
}

/// Converts an ELF64 file's contents.
pub fn elf_to_flat(elf: &[u8]) -> Result<FlatImage> {
    let header = FileHeader64::<Endianness>::parse(elf).context("not an ELF64 file")?;
    let endian = header.endian().context("unknown ELF byte order")?;
    let mut segments = Vec::new();
    for segment in header
        .program_headers(endian, elf)
        .context("bad program headers")?
    {
        if segment.p_type(endian) != PT_LOAD || segment.p_filesz(endian) == 0 {
            continue;
        }
        let data = segment
            .data(endian, elf)
            .map_err(|()| anyhow::anyhow!("a PT_LOAD segment lies outside the file"))?;
        segments.push((segment.p_paddr(endian), data));
    }
    let Some(load_address) = segments.iter().map(|(address, _)| *address).min() else {
        bail!("the ELF has no file-backed PT_LOAD segment");
    };
    let end = segments
        .iter()
        .map(|(address, data)| address + data.len() as u64)
        .max()
        .unwrap_or(load_address);
    let size = end - load_address;
    ensure!(
        size <= MAX_IMAGE,
        "the PT_LOAD segments span {size:#x} bytes from {load_address:#x}; check the linker script"
    );
    let mut bytes = vec![0u8; size as usize];
    for (address, data) in segments {
        let offset = (address - load_address) as usize;
        bytes[offset..offset + data.len()].copy_from_slice(data);
    }
    Ok(FlatImage {
        load_address,
        bytes,
    })
}

/// Converts the ELF at `elf` into the flat binary `out`, creating its
/// directory.
pub fn convert(elf: &Path, out: &Path) -> Result<FlatImage> {
    let data = std::fs::read(elf).with_context(|| format!("cannot read {}", elf.display()))?;
    let image = elf_to_flat(&data).with_context(|| format!("cannot flatten {}", elf.display()))?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(out, &image.bytes).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal little-endian ELF64 with the given program headers
    /// `(type, paddr, file bytes, memsz)`; segment data follows the headers.
    fn elf(segments: &[(u32, u64, &[u8], u64)]) -> Vec<u8> {
        let phoff = 64u64;
        let mut data_offset = phoff + 56 * segments.len() as u64;
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // ELFCLASS64
        out[5] = 1; // little endian
        out[6] = 1; // EV_CURRENT
        out[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        out[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[32..40].copy_from_slice(&phoff.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        out[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        out[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        let mut payload = Vec::new();
        for &(kind, paddr, bytes, memsz) in segments {
            let mut header = Vec::new();
            header.extend(kind.to_le_bytes());
            header.extend(5u32.to_le_bytes()); // flags
            header.extend(data_offset.to_le_bytes());
            header.extend((paddr + 0xffff_0000_0000_0000).to_le_bytes()); // vaddr differs
            header.extend(paddr.to_le_bytes());
            header.extend((bytes.len() as u64).to_le_bytes());
            header.extend(memsz.to_le_bytes());
            header.extend(16u64.to_le_bytes());
            out.extend(header);
            payload.extend_from_slice(bytes);
            data_offset += bytes.len() as u64;
        }
        out.extend(payload);
        out
    }

    #[test]
    fn segments_by_physical_address_with_gaps_zeroed() {
        let file = elf(&[
            (PT_LOAD, 0x4008_0010, b"second", 6),
            (PT_LOAD, 0x4008_0000, b"first", 0x100),
            (PT_LOAD, 0x4009_0000, b"", 0x1000), // .bss: no file bytes
            (1 << 30, 0x5000_0000, b"not loaded", 10),
        ]);
        let image = elf_to_flat(&file).unwrap();
        assert_eq!(image.load_address, 0x4008_0000);
        let mut expected = b"first".to_vec();
        expected.resize(0x10, 0);
        expected.extend(b"second");
        assert_eq!(image.bytes, expected);
        assert!(!image.has_image_header());
    }

    #[test]
    fn recognises_the_image_header() {
        let mut header = vec![0u8; 64];
        header[56..60].copy_from_slice(b"ARM\x64");
        let image = elf_to_flat(&elf(&[(PT_LOAD, 0x4008_0000, &header, 64)])).unwrap();
        assert!(image.has_image_header());
    }

    #[test]
    fn rejects_what_is_not_a_loadable_elf() {
        assert!(elf_to_flat(
            b"MZ not an elf at all, but long enough to read a header from it....."
        )
        .is_err());
        assert!(elf_to_flat(&elf(&[])).is_err());
        let far = elf(&[(PT_LOAD, 0, b"a", 1), (PT_LOAD, 0x8000_0000, b"b", 1)]);
        assert!(elf_to_flat(&far)
            .unwrap_err()
            .to_string()
            .contains("linker script"));
    }
}
