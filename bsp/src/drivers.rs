//! Drivers for the board devices the partitioner itself uses.

// The register macros generate items without doc comments.
#[allow(missing_docs)]
pub mod pl011;
