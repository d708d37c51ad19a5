//! Who is this address? The Internet registries (country, AS number, AS
//! organisation) and the site's own inventory (internal networks, roles such
//! as mail servers, owners and their contacts, quiet hours), loaded from one
//! TOML config, plus `whois` answers and `registry update`.
//!
//! Everything is flattened at load time into sorted range tables, so a
//! lookup is a binary search over plain arrays: cheap enough to run on every
//! flow at ingest. This crate knows the flow record's address type and
//! nothing about wire formats, storage or queries.
#![deny(missing_docs)]
// The site inventory, whois and update land next and use the rest.
#![allow(dead_code)]

mod error;
mod net;
mod ranges;
mod registry;

pub use error::EnrichError;
pub use registry::{Country, Registry, RegistryConfig, RegistryStats, UpdateUrls};
