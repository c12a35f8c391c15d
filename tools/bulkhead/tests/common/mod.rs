//! Helpers shared by the `bulkhead` integration tests: scratch
//! directories and stand-in images for the files a config names.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty directory under the system temp directory.
pub fn scratch_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("bulkhead-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A 4 KiB arm64 Image whose header asks for 64 KiB (a small kernel with
/// bss), used for every file a block names.
pub fn fake_image() -> Vec<u8> {
    let mut bytes = vec![0x5a; 4096];
    bytes[..64].fill(0);
    bytes[16..24].copy_from_slice(&0x1_0000u64.to_le_bytes());
    bytes[56..60].copy_from_slice(b"ARM\x64");
    bytes
}

/// A stand-in for the file `name` names: the smallest valid device tree
/// for a `.dtb`, else [`fake_image`].
pub fn fake_file(name: &str) -> Vec<u8> {
    if name.ends_with(".dtb") {
        bulkhead_config::fdt::EMPTY_TREE.to_vec()
    } else {
        fake_image()
    }
}

/// The files named by `path: FILE` (images) and `disk: FILE` (QEMU disks)
/// in `text`.
pub fn paths(text: &str) -> Vec<String> {
    text.split("path:")
        .skip(1)
        .chain(text.split("disk:").skip(1))
        .filter_map(|rest| {
            let value = rest
                .trim_start()
                .split(|c: char| c.is_whitespace() || c == ',' || c == '}')
                .next()?;
            let value = value.trim_matches(|c| c == '"' || c == '\'');
            (!value.is_empty()).then(|| value.to_string())
        })
        .collect()
}

/// `image` (an arm64 Image of at least 120 bytes) stamped as a partitioner
/// built for `board`: its identity record (`bulkhead_config::identity`) right after
/// the header, where the header's `res2` field points.
pub fn partitioner_for(board: &str, mut image: Vec<u8>) -> Vec<u8> {
    use bulkhead_config::identity;
    let load_address = identity::load_address(bsp::board(board).expect("a board of bsp/boards"));
    stamp(&mut image, identity::Record::new(board, load_address));
    image
}

/// Writes `record` right after `image`'s header and points the header at it.
pub fn stamp(image: &mut [u8], record: bulkhead_config::identity::Record) {
    use bulkhead_config::{arm64_image::HEADER_SIZE, identity};
    let at = HEADER_SIZE;
    image[at..at + identity::SIZE].copy_from_slice(&record.to_bytes());
    image[identity::OFFSET_FIELD..identity::OFFSET_FIELD + 8]
        .copy_from_slice(&(at as u64).to_le_bytes());
}
