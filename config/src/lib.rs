//! Bulkhead's configuration, in two layers.
//!
//! - [`model`]: the validated, `no_std` form of a partitioning, sized by
//!   fixed capacities (EL2 has no heap). The partitioner works only with it.
//! - [`blob`]: the versioned, checksummed binary form of the model that the
//!   host tool writes into the boot image and the partitioner decodes and
//!   checks at boot. The partitioner never parses YAML.
//! - [`rules`]: the consistency rules, shared: the host tool reports every
//!   violation with its YAML location, the partitioner re-checks the decoded
//!   model before it trusts it.
//! - [`stage2`]: each cell's stage-2 plan (what it maps, how many
//!   translation tables that takes), which the rules check and the
//!   partitioner builds.
//! - [`housekeeping`]: which core takes the partitioner's own interrupts
//!   (console input, its periodic status) while cells run.
//! - [`arm64_image`]: the fields of the arm64 Linux Image header that the
//!   host tool reads from kernels and from the partitioner itself.
//! - [`fdt`]: the header check of a device tree file a config names.
//! - [`identity`]: the record that says which board (and load address) a
//!   partitioner image was built for, which the host tool checks.
//! - `yaml` (host only, feature `std`): the serde layer, with
//!   `deny_unknown_fields` and line-accurate diagnostics.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

pub mod arm64_image;
pub mod blob;
pub mod dma;
pub mod fdt;
pub mod housekeeping;
pub mod identity;
pub mod model;
pub mod rules;
pub mod stage2;
#[cfg(feature = "std")]
pub mod yaml;

pub use model::*;
