//! Which board a partitioner image was built for.
//!
//! The partitioner is built once per board: its board description, its
//! GIC, console and CPU start method, and its link address (the board's
//! [`bsp::Board::hypervisor_ram`] base plus the arm64 Image `text_offset`)
//! are compiled in. So that a boot image never pairs a config with a
//! partitioner built for another board, the partitioner carries an
//! *identity record* and `bulkhead build` checks it against the config.
//!
//! The record sits anywhere in the image; the arm64 Image header's first
//! reserved field (`res2`, byte 32) holds its offset from the image start.
//! Layout (all integers little-endian):
//!
//! | offset | size | field                                      |
//! |-------:|-----:|--------------------------------------------|
//! | 0      | 8    | magic `BLKHDID\0`                          |
//! | 8      | 4    | format version ([`VERSION`])               |
//! | 12     | 4    | reserved, 0                                |
//! | 16     | 8    | the address the image is linked to run at  |
//! | 24     | 32   | the board's name, NUL-padded               |

/// Where every partitioner image sits above a 2 MiB-aligned base: the
/// `text_offset` of its arm64 Image header. A partitioner for a board is
/// linked at [`load_address`].
pub const TEXT_OFFSET: u64 = 0x8_0000;

/// The address a partitioner for `board` is linked at and loaded to: its
/// partitioner RAM base plus [`TEXT_OFFSET`].
pub const fn load_address(board: &bsp::Board) -> u64 {
    board.hypervisor_ram.base.saturating_add(TEXT_OFFSET)
}

/// The arm64 Image `text_offset` a partitioner for `board` carries in its
/// header: how far [`load_address`] is from the 2 MiB-aligned start of the
/// board's RAM, which is where loaders that follow Linux's arm64 boot
/// protocol (QEMU's `-kernel`, U-Boot's `booti`) put an Image.
/// [`TEXT_OFFSET`] where the partitioner's RAM starts the board's (QEMU
/// virt, the i.MX 8M Plus); `0x4008_0000` on the ZCU102 and the Raspberry
/// Pi 4, whose RAM starts at 0.
pub fn image_text_offset(board: &bsp::Board) -> u64 {
    let own = board.hypervisor_ram.base;
    let start = board
        .ram
        .iter()
        .map(|r| r.base)
        .filter(|&base| base <= own)
        .min()
        .unwrap_or(own);
    load_address(board) - (start & !(RAM_START_ALIGN - 1))
}

/// Where an arm64 Image's base may be: a 2 MiB boundary.
const RAM_START_ALIGN: u64 = 2 << 20;

/// First bytes of the record.
pub const MAGIC: [u8; 8] = *b"BLKHDID\0";
/// Format version this code reads and writes.
pub const VERSION: u32 = 1;
/// Longest board name the record holds.
pub const NAME_SIZE: usize = 32;
/// Size of the record.
pub const SIZE: usize = 24 + NAME_SIZE;
/// Offset, in the arm64 Image header, of the field that gives the record's
/// offset in the image (`res2`).
pub const OFFSET_FIELD: usize = 32;

/// The identity record of a partitioner image, as it lies in the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Record {
    magic: [u8; 8],
    version: u32,
    reserved: u32,
    load_address: u64,
    board: [u8; NAME_SIZE],
}

/// What an identity record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity<'a> {
    /// The board's name (`qemu-virt`).
    pub board: &'a str,
    /// The address the image is linked to run at.
    pub load_address: u64,
}

/// Why an image's identity cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityError {
    /// The header points at no record (an image from before identities).
    Missing,
    /// The record is not of a version this code reads.
    Version(u32),
    /// The board name is not NUL-terminated UTF-8.
    BadName,
}

impl core::fmt::Display for IdentityError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IdentityError::Missing => f.write_str("it carries no board identity record"),
            IdentityError::Version(v) => {
                write!(
                    f,
                    "its board identity record has version {v}, not {VERSION}"
                )
            }
            IdentityError::BadName => f.write_str("its board identity record names no board"),
        }
    }
}

impl Record {
    /// The record of an image built for board `board` and linked at
    /// `load_address`. `board` longer than [`NAME_SIZE`] bytes is cut
    /// (board names are short; the build refuses such a board anyway).
    pub const fn new(board: &str, load_address: u64) -> Record {
        let bytes = board.as_bytes();
        let mut name = [0u8; NAME_SIZE];
        let mut i = 0;
        while i < bytes.len() && i < NAME_SIZE - 1 {
            name[i] = bytes[i];
            i += 1;
        }
        Record {
            magic: MAGIC,
            version: VERSION,
            reserved: 0,
            load_address,
            board: name,
        }
    }

    /// The record as bytes, as the image holds it.
    pub fn to_bytes(&self) -> [u8; SIZE] {
        let mut bytes = [0u8; SIZE];
        bytes[..8].copy_from_slice(&self.magic);
        bytes[8..12].copy_from_slice(&self.version.to_le_bytes());
        bytes[12..16].copy_from_slice(&self.reserved.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.load_address.to_le_bytes());
        bytes[24..].copy_from_slice(&self.board);
        bytes
    }
}

/// Reads the identity of the partitioner image `image` (its file's bytes,
/// starting with the arm64 Image header).
pub fn read(image: &[u8]) -> Result<Identity<'_>, IdentityError> {
    let offset = image
        .get(OFFSET_FIELD..OFFSET_FIELD + 8)
        .map(|field| u64::from_le_bytes(field.try_into().unwrap_or([0; 8])))
        .ok_or(IdentityError::Missing)?;
    let record = usize::try_from(offset)
        .ok()
        .filter(|&offset| offset >= crate::arm64_image::HEADER_SIZE)
        .and_then(|offset| image.get(offset..offset.checked_add(SIZE)?))
        .filter(|record| record[..8] == MAGIC)
        .ok_or(IdentityError::Missing)?;
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&record[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    let version = word(8) as u32;
    if version != VERSION {
        return Err(IdentityError::Version(version));
    }
    let name = &record[24..];
    let end = name
        .iter()
        .position(|&b| b == 0)
        .ok_or(IdentityError::BadName)?;
    let board = core::str::from_utf8(&name[..end]).map_err(|_| IdentityError::BadName)?;
    if board.is_empty() {
        return Err(IdentityError::BadName);
    }
    Ok(Identity {
        board,
        load_address: word(16),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_asks_to_be_placed_at_its_load_address() {
        // Partitioner RAM at the start of the bank: the usual offset.
        let virt = bsp::board("qemu-virt").unwrap();
        assert_eq!(image_text_offset(virt), TEXT_OFFSET);
        // The ZCU102's and the Pi's RAM start at 0, the partitioner's at
        // 1 GiB (on the Pi in its second bank).
        for name in ["zcu102", "rpi4b"] {
            let board = bsp::board(name).unwrap();
            assert_eq!(board.ram[0].base, 0);
            assert_eq!(image_text_offset(board), load_address(board), "{name}");
        }
    }

    fn image_with(record: Option<Record>, offset: u64) -> std::vec::Vec<u8> {
        let mut image = std::vec![0u8; 256];
        image[OFFSET_FIELD..OFFSET_FIELD + 8].copy_from_slice(&offset.to_le_bytes());
        if let Some(record) = record {
            let at = offset as usize;
            image[at..at + SIZE].copy_from_slice(&record.to_bytes());
        }
        image
    }

    #[test]
    fn reads_what_the_partitioner_writes() {
        let image = image_with(Some(Record::new("imx8mp-evk", 0x4008_0000)), 128);
        assert_eq!(
            read(&image),
            Ok(Identity {
                board: "imx8mp-evk",
                load_address: 0x4008_0000
            })
        );
    }

    #[test]
    fn refuses_images_without_a_record() {
        assert_eq!(read(&image_with(None, 0)), Err(IdentityError::Missing));
        assert_eq!(read(&image_with(None, 128)), Err(IdentityError::Missing));
        assert_eq!(
            read(&image_with(None, 1 << 40)),
            Err(IdentityError::Missing)
        );
        assert_eq!(
            read(&image_with(None, u64::MAX)),
            Err(IdentityError::Missing)
        );
        assert_eq!(read(&[0u8; 16]), Err(IdentityError::Missing));
        let mut other_version = image_with(Some(Record::new("qemu-virt", 0)), 64);
        other_version[64 + 8] = 9;
        assert_eq!(read(&other_version), Err(IdentityError::Version(9)));
        assert_eq!(
            read(&image_with(Some(Record::new("", 0)), 64)),
            Err(IdentityError::BadName)
        );
    }

    #[test]
    fn long_names_are_cut_and_stay_terminated() {
        let name = "a-board-name-that-is-far-too-long-to-fit";
        let image = image_with(Some(Record::new(name, 1)), 64);
        assert_eq!(read(&image).unwrap().board, &name[..NAME_SIZE - 1]);
    }
}
