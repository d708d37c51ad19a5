//! The seam between the flow path and the Internet registries: what the
//! collector asks while storing flows, and what queries ask about flows
//! stored before a registry existed. The registries themselves live in
//! `flowhound-enrich`; this crate only names the questions.

use crate::{Addr, FlowRecord};

/// A flow's country before any registry was asked: stored as null.
pub const COUNTRY_NONE: [u8; 2] = [0, 0];
/// A country the registry was asked for and did not know: stored as `??`.
pub const COUNTRY_UNKNOWN: [u8; 2] = *b"??";

/// The stored text of a country code: `None` for [`COUNTRY_NONE`].
pub fn country_str(code: &[u8; 2]) -> Option<&str> {
    if *code == COUNTRY_NONE {
        return None;
    }
    std::str::from_utf8(code).ok()
}

/// Countries in JSON: the code, or null where no registry was asked.
pub(crate) fn ser_country<S: serde::Serializer>(c: &[u8; 2], s: S) -> Result<S::Ok, S::Error> {
    match country_str(c) {
        Some(code) => s.serialize_str(code),
        None => s.serialize_none(),
    }
}

/// What registries know about addresses: country, AS number, AS name.
pub trait Enricher: Send + Sync {
    /// Whether the registries can answer; the error says why not (a file
    /// that cannot be read). Registries read on first use read them here.
    fn ready(&self) -> Result<(), String> {
        Ok(())
    }
    /// Whether any source of countries is configured: without one, flows
    /// keep [`COUNTRY_NONE`] (to be looked up later), not [`COUNTRY_UNKNOWN`].
    fn has_countries(&self) -> bool {
        true
    }
    /// The country of `a`, as two upper-case ASCII letters.
    fn country(&self, a: Addr) -> Option<[u8; 2]>;
    /// The AS number announcing `a`.
    fn as_number(&self, a: Addr) -> Option<u32>;
    /// The organisation behind AS `asn`.
    fn as_org(&self, asn: u32) -> Option<&str>;

    /// Fill in a flow's countries, and its AS numbers where the exporter
    /// sent none (an exporter's own AS numbers are kept).
    fn enrich(&self, f: &mut FlowRecord) {
        if self.has_countries() {
            f.src_country = self.country(f.src_ip).unwrap_or(COUNTRY_UNKNOWN);
            f.dst_country = self.country(f.dst_ip).unwrap_or(COUNTRY_UNKNOWN);
        }
        if f.src_as == 0 {
            f.src_as = self.as_number(f.src_ip).unwrap_or(0);
        }
        if f.dst_as == 0 {
            f.dst_as = self.as_number(f.dst_ip).unwrap_or(0);
        }
    }
}

impl std::fmt::Debug for dyn Enricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enricher")
    }
}
