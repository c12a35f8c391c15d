//! Helpers shared by the config crate's integration tests: fake images in a
//! scratch directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh scratch directory under the system's temp directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("bulkhead-config-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An arm64 Image: a 64-byte header then `len - 64` bytes of a pattern.
pub fn arm64_image(text_offset: u64, image_size: u64, len: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    bytes[..64].fill(0);
    bytes[8..16].copy_from_slice(&text_offset.to_le_bytes());
    bytes[16..24].copy_from_slice(&image_size.to_le_bytes());
    bytes[56..60].copy_from_slice(b"ARM\x64");
    bytes
}

/// Writes the images the fixtures and examples use into `dir`:
/// `heartbeat.bin` and `intruder.bin` (2 KiB files, 64 KiB footprint),
/// `big.bin` (32 MiB footprint), `initrd.bin` (64 KiB, no header),
/// `tree.dtb` (the smallest valid device tree).
pub fn write_images(dir: &Path) {
    std::fs::write(dir.join("heartbeat.bin"), arm64_image(0, 0x1_0000, 2048)).unwrap();
    std::fs::write(dir.join("intruder.bin"), arm64_image(0, 0x1_0000, 1500)).unwrap();
    std::fs::write(dir.join("big.bin"), arm64_image(0, 32 << 20, 4096)).unwrap();
    std::fs::write(dir.join("initrd.bin"), vec![0x5a; 0x1_0000]).unwrap();
    std::fs::write(dir.join("tree.dtb"), bulkhead_config::fdt::EMPTY_TREE).unwrap();
}

/// A scratch directory holding the fake images.
pub fn image_dir() -> PathBuf {
    let dir = scratch_dir("images");
    write_images(&dir);
    dir
}
