//! The 64-byte header of an arm64 Linux `Image`, as far as Bulkhead needs it.
//!
//! Both the partitioner and (optionally) cell kernels are raw arm64 Images.
//! The header tells where the image wants to sit relative to a 2 MiB
//! boundary (`text_offset`) and how much memory it occupies once running
//! (`image_size`, which includes the `.bss` that follows the file's bytes).

/// Offset of the little-endian `text_offset` field.
pub const TEXT_OFFSET_FIELD: usize = 8;
/// Offset of the little-endian `image_size` field.
pub const IMAGE_SIZE_FIELD: usize = 16;
/// Offset of the magic number.
pub const MAGIC_FIELD: usize = 56;
/// The magic number, `"ARM\x64"`.
pub const MAGIC: [u8; 4] = *b"ARM\x64";
/// Length of the header.
pub const HEADER_SIZE: usize = 64;

/// The fields of an arm64 Image header Bulkhead reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Image load offset from a 2 MiB-aligned base.
    pub text_offset: u64,
    /// Effective image size: the memory the image occupies, bss included.
    pub image_size: u64,
}

impl Header {
    /// Reads the header at the start of `bytes`, or `None` when the bytes do
    /// not start with an arm64 Image header (too short or no magic).
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let header = bytes.get(..HEADER_SIZE)?;
        if header[MAGIC_FIELD..MAGIC_FIELD + 4] != MAGIC {
            return None;
        }
        Some(Header {
            text_offset: read_u64(header, TEXT_OFFSET_FIELD),
            image_size: read_u64(header, IMAGE_SIZE_FIELD),
        })
    }

    /// Memory an image with these `bytes` occupies once loaded: the larger of
    /// the file size and the header's `image_size` (bss follows the file), or
    /// just the file size when there is no header.
    pub fn footprint(bytes: &[u8]) -> u64 {
        let file = bytes.len() as u64;
        match Header::parse(bytes) {
            Some(header) => file.max(header.image_size),
            None => file,
        }
    }
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut field = [0u8; 8];
    field.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text_offset: u64, image_size: u64, len: usize) -> std::vec::Vec<u8> {
        let mut bytes = std::vec![0u8; len];
        bytes[TEXT_OFFSET_FIELD..TEXT_OFFSET_FIELD + 8].copy_from_slice(&text_offset.to_le_bytes());
        bytes[IMAGE_SIZE_FIELD..IMAGE_SIZE_FIELD + 8].copy_from_slice(&image_size.to_le_bytes());
        bytes[MAGIC_FIELD..MAGIC_FIELD + 4].copy_from_slice(&MAGIC);
        bytes
    }

    #[test]
    fn reads_the_header() {
        let bytes = image(0x8_0000, 0x1_0000, 100);
        assert_eq!(
            Header::parse(&bytes),
            Some(Header {
                text_offset: 0x8_0000,
                image_size: 0x1_0000
            })
        );
        assert_eq!(Header::footprint(&bytes), 0x1_0000);
    }

    #[test]
    fn footprint_is_never_below_the_file_size() {
        assert_eq!(Header::footprint(&image(0, 64, 200)), 200);
        assert_eq!(Header::footprint(&[0u8; 100]), 100);
        assert_eq!(Header::parse(&[0u8; 63]), None);
    }
}
