//! Kernel modules for an initramfs, taken from the unpacked Debian kernel
//! package they were built with (modules only load into the very kernel
//! build they come from).
//!
//! The requested modules and everything they depend on (the `depends=`
//! entries of their `.modinfo` sections, followed recursively) are copied
//! to `/lib/modules/<version>/` at their paths in the package, with the
//! package's `modules.order`, `modules.builtin` and
//! `modules.builtin.modinfo`. `depmod -b ROOT VERSION` then writes
//! `modules.dep` and the rest on the host (the package ships none), so
//! busybox `modprobe` in the guest resolves dependencies. The requested
//! names go, in order, to `/etc/modules`, which the `/init` script loads.

use super::rootfs::Rootfs;
use crate::process::{find_program, run as run_command};
use anyhow::{bail, Context, Result};
use object::{Object, ObjectSection};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of the package's module directory copied besides the modules.
const MODULE_LISTS: &[&str] = &[
    "modules.order",
    "modules.builtin",
    "modules.builtin.modinfo",
];

/// What [`add_modules`] put into a root.
#[derive(Debug)]
pub struct Added {
    /// The kernel release (`uname -r`), the directory under `/lib/modules`.
    pub version: String,
    /// `/etc/modules`: the requested modules that are not built in, in
    /// the requested order.
    pub load: Vec<String>,
    /// Every module copied (the requested ones and their dependencies),
    /// sorted.
    pub copied: Vec<String>,
    /// Requested modules the kernel has built in (nothing to load).
    pub builtin: Vec<String>,
}

/// Copies the modules `wanted` (names as `modprobe` takes them) and their
/// dependencies from the unpacked kernel package `kernel_root` into
/// `rootfs`, writes `/etc/modules` and runs `depmod` on the result.
pub fn add_modules(rootfs: &Rootfs, kernel_root: &Path, wanted: &[&str]) -> Result<Added> {
    let modules_dir = kernel_root.join("lib/modules");
    let version = single_version(&modules_dir)?;
    let source = modules_dir.join(&version);
    let index = index_modules(&source)?;
    let builtin = builtin_modules(&source)?;

    let mut load = Vec::new();
    let mut builtin_wanted = Vec::new();
    let mut copied = BTreeSet::new();
    for &name in wanted {
        let name = module_name(name);
        if builtin.contains(&name) {
            builtin_wanted.push(name);
            continue;
        }
        let mut pending = vec![name.clone()];
        while let Some(module) = pending.pop() {
            if builtin.contains(&module) || copied.contains(&module) {
                continue;
            }
            let relative = index.get(&module).with_context(|| {
                format!(
                    "the kernel package {} has no module {module}{}",
                    kernel_root.display(),
                    if module == name {
                        String::new()
                    } else {
                        format!(" (a dependency of {name})")
                    }
                )
            })?;
            let file = source.join(relative);
            let data =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            pending.extend(dependencies(&data).with_context(|| {
                format!("cannot read the .modinfo section of {}", file.display())
            })?);
            let target = Path::new("lib/modules").join(&version).join(relative);
            rootfs.copy_file(&file, &target.to_string_lossy())?;
            copied.insert(module);
        }
        load.push(name);
    }
    let target = Path::new("lib/modules").join(&version);
    for list in MODULE_LISTS {
        let file = source.join(list);
        if file.is_file() {
            rootfs.copy_file(&file, &target.join(list).to_string_lossy())?;
        }
    }
    let depmod = find_program("depmod").context(
        "`depmod` is not installed; `cargo xtask setup` installs it (Debian package kmod)",
    )?;
    run_command(
        Command::new(depmod)
            .arg("-b")
            .arg(rootfs.dir())
            .arg(&version),
    )
    .context("depmod failed on the initramfs's modules")?;
    let mut list = load.join("\n");
    list.push('\n');
    rootfs.write_file("etc/modules", &list)?;
    Ok(Added {
        version,
        load,
        copied: copied.into_iter().collect(),
        builtin: builtin_wanted,
    })
}

/// The one directory in `lib/modules/` of a kernel package.
fn single_version(modules_dir: &Path) -> Result<String> {
    let versions: Vec<String> = std::fs::read_dir(modules_dir)
        .with_context(|| format!("cannot read {}", modules_dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    match versions.as_slice() {
        [version] => Ok(version.clone()),
        _ => bail!(
            "expected one kernel version in {}, found {versions:?}",
            modules_dir.display()
        ),
    }
}

/// Every `*.ko` under `dir/kernel`, by module name, with its path relative
/// to `dir`.
fn index_modules(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut index = BTreeMap::new();
    let mut pending = vec![PathBuf::from("kernel")];
    while let Some(relative) = pending.pop() {
        let current = dir.join(&relative);
        for entry in std::fs::read_dir(&current)
            .with_context(|| format!("cannot read {}", current.display()))?
        {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else if let Some(stem) = name.strip_suffix(".ko") {
                index.insert(module_name(stem), path);
            }
        }
    }
    if index.is_empty() {
        bail!(
            "no *.ko modules under {} (compressed modules are not supported)",
            dir.join("kernel").display()
        );
    }
    Ok(index)
}

/// The modules `modules.builtin` lists (`kernel/…/name.ko` lines).
fn builtin_modules(dir: &Path) -> Result<BTreeSet<String>> {
    let file = dir.join("modules.builtin");
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    Ok(text
        .lines()
        .filter_map(|line| Path::new(line.trim()).file_name())
        .filter_map(|name| name.to_string_lossy().strip_suffix(".ko").map(module_name))
        .collect())
}

/// A module's name as the kernel knows it: dashes become underscores.
fn module_name(name: &str) -> String {
    name.replace('-', "_")
}

/// The `depends=` modules of a module file.
fn dependencies(data: &[u8]) -> Result<Vec<String>> {
    let file = object::File::parse(data).context("not an ELF file")?;
    let section = file
        .section_by_name(".modinfo")
        .context("no .modinfo section")?;
    let info = section.data().context("unreadable .modinfo section")?;
    Ok(modinfo(info)
        .filter(|(key, _)| *key == "depends")
        .flat_map(|(_, value)| value.split(','))
        .filter(|name| !name.is_empty())
        .map(module_name)
        .collect())
}

/// The `key=value` entries of a `.modinfo` section (NUL-separated).
fn modinfo(section: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    section
        .split(|&b| b == 0)
        .filter_map(|entry| std::str::from_utf8(entry).ok())
        .filter_map(|entry| entry.split_once('='))
}

#[cfg(test)]
mod tests {
    use super::{modinfo, module_name};

    #[test]
    fn modinfo_entries_are_split() {
        let section = b"license=GPL\0depends=jbd2,mbcache,crc16\0\0\0softdep=pre: crypto-crc32c\0";
        let entries: Vec<(&str, &str)> = modinfo(section).collect();
        assert_eq!(
            entries,
            [
                ("license", "GPL"),
                ("depends", "jbd2,mbcache,crc16"),
                ("softdep", "pre: crypto-crc32c"),
            ]
        );
    }

    #[test]
    fn names_use_underscores() {
        assert_eq!(module_name("crc32c-generic"), "crc32c_generic");
    }
}
