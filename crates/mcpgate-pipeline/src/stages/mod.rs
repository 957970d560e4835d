//! The pipeline's stages, one module each.

pub mod validate;
