//! The pipeline's stages, one module each.

pub mod authenticate;
pub mod authorize;
pub mod revocation_authority;
pub mod signature;
pub mod validate;
