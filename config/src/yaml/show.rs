//! How the tool shows values in its messages: byte counts, address
//! ranges, text from the file.

use bsp::{Board, MemRange};

/// Replaces control characters so a message cannot garble a terminal.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(200)
        .collect()
}

/// An address range as `0xBASE..0xEND`.
pub(crate) fn hex_range(r: &MemRange) -> String {
    format!("{:#x}..{:#x}", r.base, r.end())
}

/// The virtual PCI windows of `board`, for messages.
pub(crate) fn virtual_pci_windows(board: &Board) -> String {
    match &board.virtual_pci {
        Some(pci) => format!(
            "ECAM {}, registers {}, memory {}",
            hex_range(&pci.ecam),
            hex_range(&pci.registers),
            hex_range(&pci.memory)
        ),
        None => "none".to_string(),
    }
}

/// A byte count for people: `16 MiB`, `4 KiB`, `1.5 KiB`, `100 bytes`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, scale) in UNITS {
        if bytes >= scale {
            return if bytes.is_multiple_of(scale) {
                format!("{} {unit}", bytes / scale)
            } else {
                format!("{:.1} {unit}", bytes as f64 / scale as f64)
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(16 << 20), "16 MiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(100), "100 bytes");
    }
}
