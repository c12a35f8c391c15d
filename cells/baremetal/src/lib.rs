//! The library of the `baremetal-cells` package: the smallest runtime a
//! bare-metal Bulkhead test cell needs: the entry code (arm64 Image
//! header, self-relocation, stacks per virtual CPU), a console on the
//! cell's PL011, PSCI calls and the generic timer.
//!
//! A cell binary provides `cell_main` and, if it starts more virtual CPUs,
//! `cell_secondary`:
//!
//! ```ignore
//! #[no_mangle]
//! fn cell_main(boot_argument: u64) -> ! { … }
//! #[no_mangle]
//! fn cell_secondary(vcpu: usize, context: u64) -> ! { … }
//! ```
//!
//! On the host the crate compiles to nothing, so that the workspace builds
//! and lints everywhere.
#![cfg_attr(target_os = "none", no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

#[cfg(target_os = "none")]
mod rt;
#[cfg(target_os = "none")]
pub use rt::*;
#[cfg(target_os = "none")]
pub mod hist;

/// The `main` a cell binary has on the host, where it cannot run: it says
/// so and exits with status 2. Every cell binary ends with
/// `baremetal_cells::host_main!();`.
#[macro_export]
macro_rules! host_main {
    () => {
        #[cfg(not(target_os = "none"))]
        fn main() {
            eprintln!(
                "This is a bare-metal Bulkhead test cell. Build it with `cargo xtask build`."
            );
            std::process::exit(2);
        }
    };
}
