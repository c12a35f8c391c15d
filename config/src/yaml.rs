//! The YAML layer (host only). Filled in by the config tool work.
