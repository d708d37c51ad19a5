//! One answer to "who is this address?": registries and inventory together.

use flowhound_model::{addr_to_ip, Addr};

use crate::registry::{Country, Registry};
use crate::site::Site;

/// What flowhound knows of one address. Serializes with plain keys; unknown
/// values are `null`, `roles` is always an array.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WhoisRecord {
    /// The address as text (IPv4 dotted, IPv6 compressed).
    pub ip: String,
    /// ISO country code from the registries.
    pub country: Option<Country>,
    /// AS number from the registries.
    pub asn: Option<u32>,
    /// AS organisation from the registries.
    pub as_org: Option<String>,
    /// Whether the address is in one of the site's internal networks.
    pub internal: bool,
    /// The site roles of the address (`mail_servers`, …).
    pub roles: Vec<String>,
    /// The owner of the narrowest inventory network holding the address.
    pub owner: Option<String>,
    /// The owner's contact.
    pub contact: Option<String>,
    /// The owner's account.
    pub account: Option<String>,
    /// The inventory network the owner was found by.
    pub network: Option<String>,
}

/// Everything the registries and the site inventory say of an address.
pub fn whois(registry: &Registry, site: &Site, addr: Addr) -> WhoisRecord {
    let asn = registry.asn(addr);
    let owner = site.owner(addr);
    WhoisRecord {
        ip: addr_to_ip(addr).to_string(),
        country: registry.country(addr),
        asn: asn.map(|(n, _)| n),
        as_org: asn
            .map(|(_, o)| o)
            .filter(|o| !o.is_empty())
            .map(str::to_string),
        internal: site.is_internal(addr),
        roles: site.roles(addr).into_iter().map(str::to_string).collect(),
        owner: owner.map(|o| o.owner.clone()),
        contact: owner.and_then(|o| o.contact.clone()),
        account: owner.and_then(|o| o.account.clone()),
        network: owner.map(|o| o.network.clone()),
    }
}
