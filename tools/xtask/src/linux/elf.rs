//! What a dynamically linked ELF program needs at run time: its program
//! interpreter (`PT_INTERP`) and its shared libraries (`DT_NEEDED`), the
//! same facts `readelf -d -l` shows.

use anyhow::{Context, Result};
use object::elf::{FileHeader64, DT_NEEDED};
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::Endianness;

/// The run-time linkage of one ELF file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Linkage {
    /// The program interpreter, e.g. `/lib/ld-linux-aarch64.so.1`; `None`
    /// for libraries and static programs.
    pub interpreter: Option<String>,
    /// The `DT_NEEDED` sonames, in file order.
    pub needed: Vec<String>,
}

impl Linkage {
    /// Reads the linkage of a 64-bit ELF file.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let header = FileHeader64::<Endianness>::parse(data).context("not an ELF64 file")?;
        let endian = header.endian().context("unknown ELF byte order")?;
        let mut linkage = Linkage::default();
        for segment in header
            .program_headers(endian, data)
            .context("bad program headers")?
        {
            if let Some(interpreter) = segment.interpreter(endian, data).context("bad PT_INTERP")? {
                linkage.interpreter = Some(String::from_utf8_lossy(interpreter).into_owned());
            }
        }
        let sections = header
            .sections(endian, data)
            .context("bad section headers")?;
        if let Some((entries, strings_index)) = sections
            .dynamic(endian, data)
            .context("bad dynamic section")?
        {
            let strings = sections
                .strings(endian, data, strings_index)
                .context("bad dynamic string table")?;
            for entry in entries {
                if entry.tag32(endian) == Some(DT_NEEDED) {
                    let name = entry
                        .string(endian, strings)
                        .context("bad DT_NEEDED name")?;
                    linkage
                        .needed
                        .push(String::from_utf8_lossy(name).into_owned());
                }
            }
        }
        Ok(linkage)
    }
}

#[cfg(test)]
mod tests {
    use super::Linkage;

    #[test]
    fn the_host_test_binary_is_read() {
        // This test's own executable: a dynamically linked host program
        // (or a static one, which has neither interpreter nor libraries).
        let path = std::env::current_exe().unwrap();
        let linkage = Linkage::parse(&std::fs::read(path).unwrap()).unwrap();
        if let Some(interpreter) = &linkage.interpreter {
            assert!(interpreter.starts_with('/'), "{interpreter}");
            assert!(linkage.needed.iter().any(|n| n.starts_with("libc.so")));
        }
    }

    #[test]
    fn other_files_are_refused() {
        assert!(Linkage::parse(b"#!/bin/sh\n").is_err());
    }
}
