//! The partitioner binary. Everything lives in the library; on the
//! bare-metal target its `_start` is the entry point. On the host this
//! binary only explains how to build the real one.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
use partitioner as _;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("The partitioner runs at EL2 on aarch64. Build it with `cargo xtask build`.");
    std::process::exit(2);
}
