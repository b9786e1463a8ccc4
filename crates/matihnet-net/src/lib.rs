//! The MATIH networking model (being written).
