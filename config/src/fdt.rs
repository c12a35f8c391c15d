//! The header of a flattened device tree (Devicetree Specification v0.4,
//! section 5.2), as far as the host tool checks a tree a config names:
//! the magic, a total size the file holds, a version the kernel reads
//! (16 or 17), and blocks that lie inside the tree.

/// `magic`, big-endian at offset 0.
pub const MAGIC: u32 = 0xd00d_feed;
/// Bytes of the header (version 17).
pub const HEADER_SIZE: usize = 40;

/// What is wrong with a device tree's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Shorter than a header.
    TooShort,
    /// The first four bytes are not the magic.
    BadMagic(u32),
    /// `totalsize` is smaller than the header or larger than the file.
    BadTotalSize {
        /// `totalsize`.
        total: u32,
        /// The file's length.
        file: usize,
    },
    /// `last_comp_version` is above 17: a format this tool (and Linux)
    /// does not read.
    Version(u32),
    /// The structure, strings or memory-reservation block starts outside
    /// the tree.
    BlockOutside,
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HeaderError::TooShort => write!(f, "it is shorter than a device tree header ({HEADER_SIZE} bytes)"),
            HeaderError::BadMagic(m) => write!(f, "it does not start with the device tree magic 0xd00dfeed (it starts with {m:#010x})"),
            HeaderError::BadTotalSize { total, file } => write!(f, "its header gives a total size of {total} bytes, but the file has {file}"),
            HeaderError::Version(v) => write!(f, "its header asks for device tree format {v} or later; 16 and 17 are read"),
            HeaderError::BlockOutside => write!(f, "its header puts a block outside the tree"),
        }
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

/// Checks the header of the device tree `bytes`.
pub fn check_header(bytes: &[u8]) -> Result<(), HeaderError> {
    if bytes.len() < HEADER_SIZE {
        return Err(HeaderError::TooShort);
    }
    let magic = be32(bytes, 0);
    if magic != MAGIC {
        return Err(HeaderError::BadMagic(magic));
    }
    let total = be32(bytes, 4);
    if (total as usize) < HEADER_SIZE || total as usize > bytes.len() {
        return Err(HeaderError::BadTotalSize {
            total,
            file: bytes.len(),
        });
    }
    let last_compatible = be32(bytes, 24);
    if last_compatible > 17 {
        return Err(HeaderError::Version(last_compatible));
    }
    // The structure and memory-reservation blocks hold at least their
    // end markers; the strings block may be empty, at the very end.
    let (structure, strings, reservations) = (be32(bytes, 8), be32(bytes, 12), be32(bytes, 16));
    let inside = |offset: u32| (HEADER_SIZE as u32..total).contains(&offset);
    if !inside(structure)
        || !inside(reservations)
        || !(HEADER_SIZE as u32..=total).contains(&strings)
    {
        return Err(HeaderError::BlockOutside);
    }
    Ok(())
}

/// The smallest valid device tree: an empty root node (header, an empty
/// memory-reservation block, the structure block, no strings). Tests
/// stand it in for a user's tree.
pub const EMPTY_TREE: [u8; 72] = {
    let mut t = [0u8; 72];
    let words: [u32; 10] = [MAGIC, 72, 56, 72, 40, 17, 16, 0, 0, 16];
    let mut i = 0;
    while i < words.len() {
        let b = words[i].to_be_bytes();
        t[4 * i] = b[0];
        t[4 * i + 1] = b[1];
        t[4 * i + 2] = b[2];
        t[4 * i + 3] = b[3];
        i += 1;
    }
    // Memory reservations at 40: one terminating zero entry (16 bytes).
    // Structure at 56: FDT_BEGIN_NODE, "" (padded), FDT_END_NODE, FDT_END.
    let structure: [u32; 4] = [1, 0, 2, 9];
    let mut j = 0;
    while j < structure.len() {
        let b = structure[j].to_be_bytes();
        t[56 + 4 * j] = b[0];
        t[56 + 4 * j + 1] = b[1];
        t[56 + 4 * j + 2] = b[2];
        t[56 + 4 * j + 3] = b[3];
        j += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_tree_passes_and_damage_is_named() {
        assert_eq!(check_header(&EMPTY_TREE), Ok(()));
        assert_eq!(check_header(&EMPTY_TREE[..20]), Err(HeaderError::TooShort));
        let mut kernel = EMPTY_TREE;
        kernel[..4].copy_from_slice(b"MZ\0\0");
        assert_eq!(
            check_header(&kernel),
            Err(HeaderError::BadMagic(0x4d5a_0000))
        );
        assert_eq!(
            check_header(&EMPTY_TREE[..60]),
            Err(HeaderError::BadTotalSize {
                total: 72,
                file: 60
            })
        );
        let mut future = EMPTY_TREE;
        future[24..28].copy_from_slice(&18u32.to_be_bytes());
        assert_eq!(check_header(&future), Err(HeaderError::Version(18)));
        let mut outside = EMPTY_TREE;
        outside[8..12].copy_from_slice(&100u32.to_be_bytes());
        assert_eq!(check_header(&outside), Err(HeaderError::BlockOutside));
    }
}
