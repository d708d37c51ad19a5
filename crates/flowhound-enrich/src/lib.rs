//! Who is this address? The Internet registries (country, AS number, AS
//! organisation) and the site's own inventory (internal networks, roles such
//! as mail servers, owners and their contacts, time zone and quiet hours),
//! loaded from the flowhound TOML config; `whois` answers; `registry update`.
//!
//! Everything is flattened at load time into sorted, non-overlapping range
//! tables (IPv4 and IPv6 apart), so a lookup is a short binary search over
//! plain arrays, cheap enough for every flow at ingest. This crate knows the
//! flow record's address type and nothing of wire formats, storage, queries
//! or the command line.
//!
//! ```no_run
//! # fn main() -> Result<(), flowhound_enrich::EnrichError> {
//! let config = flowhound_enrich::Config::load("flowhound.toml".as_ref())?;
//! let registry = config.load_registry()?;
//! let addr = flowhound_model::addr_from_v4(0x0808_0808);
//! let who = flowhound_enrich::whois(&registry, &config.site, addr);
//! println!("{:?} {:?}", who.country, who.as_org);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod config;
mod error;
mod net;
mod ranges;
mod registry;
mod site;
mod update;
mod whois;

pub use config::Config;
pub use error::EnrichError;
pub use net::parse_addr;
pub use registry::{Country, LazyRegistry, Registry, RegistryConfig, RegistryStats, UpdateUrls};
pub use site::{Owner, QuietHours, Site, TimeZone};
pub use update::{update, UpdateReport, UpdatedFile};
pub use whois::{whois, WhoisRecord};
