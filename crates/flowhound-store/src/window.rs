//! placeholder
/// x
#[derive(Debug, thiserror::Error)]
#[error("bad window")]
pub struct WindowError;
