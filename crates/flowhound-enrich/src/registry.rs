//! Internet registries: country, AS number and AS organisation per address,
//! loaded from MaxMind DB files, IP-range CSVs and RIR delegated statistics,
//! and flattened into range tables at load time.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use flowhound_model::Addr;

use crate::error::EnrichError;
use crate::ranges::{flatten_most_specific, overlay, Range, RangeMap};

/// An ISO 3166 alpha-2 country code as two upper-case ASCII letters; it
/// displays and serializes as `"NL"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// The code from text, case-insensitive: two ASCII letters, else `None`.
    pub fn new(code: &str) -> Option<Country> {
        match code.trim().as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The code from its two bytes (as stored in a 2-byte column).
    pub fn from_bytes(code: [u8; 2]) -> Option<Country> {
        Country::new(std::str::from_utf8(&code).ok()?)
    }

    /// The two upper-case ASCII letters.
    pub fn code(self) -> [u8; 2] {
        self.0
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ever built from two ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

impl serde::Serialize for Country {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Where the registry files are; every list is in priority order.
///
/// Merge order where sources overlap, per attribute:
/// - country: the `country` files in order, then country data found in the
///   `asn` MaxMind DB files, then the `rir` files (the RIRs' own statistics
///   are the fallback where no geolocation database knows the address);
/// - AS number and organisation: the `asn` files in order, then AS data found
///   in the `country` MaxMind DB files.
///
/// Inside one file, where ranges overlap, the narrowest range wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Country sources: MaxMind DB files, or CSVs `first,last,country_code`.
    pub country: Vec<PathBuf>,
    /// AS sources: MaxMind DB files, or CSVs `first,last,asn[,organisation]`.
    pub asn: Vec<PathBuf>,
    /// RIR delegated(-extended) statistics files.
    pub rir: Vec<PathBuf>,
    /// Where `registry update` fetches each of the files above from.
    pub update: UpdateUrls,
}

/// URLs for `registry update`, position by position with the paths in
/// [`RegistryConfig`] (the first `asn` URL replaces the first `asn` file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateUrls {
    /// URLs of the `country` files.
    pub country: Vec<String>,
    /// URLs of the `asn` files.
    pub asn: Vec<String>,
    /// URLs of the `rir` files.
    pub rir: Vec<String>,
}

/// An AS number and the index of its organisation name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct AsRef {
    asn: u32,
    org: u32,
}

/// What a role of file contributes, so that a file can be checked alone.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SourceRole {
    Country,
    Asn,
    Rir,
}

/// Country, AS number and AS organisation per address, in memory.
///
/// Built once by [`Registry::load`]; every lookup is a binary search over
/// flat arrays (IPv4 and IPv6 tables apart), with no allocation and no
/// locking, so one `Registry` can be shared by every thread.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    country_v4: RangeMap<u32, Country>,
    country_v6: RangeMap<u128, Country>,
    asn_v4: RangeMap<u32, AsRef>,
    asn_v6: RangeMap<u128, AsRef>,
    orgs: Vec<Box<str>>,
}

/// How many ranges a loaded registry holds (after flattening and joining).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct RegistryStats {
    /// IPv4 country ranges.
    pub country_v4: usize,
    /// IPv6 country ranges.
    pub country_v6: usize,
    /// IPv4 AS ranges.
    pub asn_v4: usize,
    /// IPv6 AS ranges.
    pub asn_v6: usize,
    /// Distinct organisation names.
    pub orgs: usize,
}

/// The ranges one file gave, before merging.
#[derive(Default)]
struct Tables {
    country_v4: Vec<Range<u32, Country>>,
    country_v6: Vec<Range<u128, Country>>,
    asn_v4: Vec<Range<u32, AsRef>>,
    asn_v6: Vec<Range<u128, AsRef>>,
}

impl Tables {
    fn is_empty(&self) -> bool {
        self.country_v4.is_empty()
            && self.country_v6.is_empty()
            && self.asn_v4.is_empty()
            && self.asn_v6.is_empty()
    }
}

/// Organisation names, each stored once.
#[derive(Default)]
struct Interner {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }
}

impl Registry {
    /// Load and flatten every configured file. An empty config gives an
    /// empty registry, whose lookups all answer `None`.
    pub fn load(config: &RegistryConfig) -> Result<Registry, EnrichError> {
        let mut orgs = Interner::default();
        let mut country_layers_v4 = Vec::new();
        let mut country_layers_v6 = Vec::new();
        let mut asn_layers_v4 = Vec::new();
        let mut asn_layers_v6 = Vec::new();
        let mut country_from_asn_files = (Vec::new(), Vec::new());
        let mut asn_from_country_files = (Vec::new(), Vec::new());

        for path in &config.country {
            let t = load_file(path, SourceRole::Country, &mut orgs)?;
            country_layers_v4.push(t.country_v4);
            country_layers_v6.push(t.country_v6);
            asn_from_country_files.0.push(t.asn_v4);
            asn_from_country_files.1.push(t.asn_v6);
        }
        for path in &config.asn {
            let t = load_file(path, SourceRole::Asn, &mut orgs)?;
            asn_layers_v4.push(t.asn_v4);
            asn_layers_v6.push(t.asn_v6);
            country_from_asn_files.0.push(t.country_v4);
            country_from_asn_files.1.push(t.country_v6);
        }
        country_layers_v4.extend(country_from_asn_files.0);
        country_layers_v6.extend(country_from_asn_files.1);
        asn_layers_v4.extend(asn_from_country_files.0);
        asn_layers_v6.extend(asn_from_country_files.1);
        for path in &config.rir {
            let t = load_file(path, SourceRole::Rir, &mut orgs)?;
            country_layers_v4.push(t.country_v4);
            country_layers_v6.push(t.country_v6);
        }

        Ok(Registry {
            country_v4: merge_layers(country_layers_v4),
            country_v6: merge_layers(country_layers_v6),
            asn_v4: merge_layers(asn_layers_v4),
            asn_v6: merge_layers(asn_layers_v6),
            orgs: orgs.names,
        })
    }

    /// The country of an address, if a registry knows it.
    ///
    /// IPv6 addresses are looked up as they are: a 6to4 (`2002::/16`) or
    /// Teredo (`2001::/32`) address gets what the files say of it, not the
    /// country of the IPv4 address it embeds.
    #[inline]
    pub fn country(&self, a: Addr) -> Option<Country> {
        if a >> 32 == 0xffff {
            return self.country_v4.get(a as u32);
        }
        self.country_v6.get(a)
    }

    /// The AS number and AS organisation of an address (the organisation is
    /// empty where the source has none).
    #[inline]
    pub fn asn(&self, a: Addr) -> Option<(u32, &str)> {
        let r = if a >> 32 == 0xffff {
            self.asn_v4.get(a as u32)
        } else {
            self.asn_v6.get(a)
        }?;
        Some((r.asn, self.org(r.org)))
    }

    /// The AS number only (cheaper than [`Registry::asn`]: no name).
    #[inline]
    pub fn as_number(&self, a: Addr) -> Option<u32> {
        self.asn(a).map(|(n, _)| n)
    }

    fn org(&self, id: u32) -> &str {
        self.orgs.get(id as usize).map_or("", |s| s)
    }

    /// The organisation name of an AS number, as the first range of that AS
    /// in the tables names it (for statistics that group by AS). A linear
    /// scan: call it once per result row, not per flow.
    pub fn as_org(&self, asn: u32) -> Option<&str> {
        self.asn_v4
            .iter()
            .map(|r| r.2)
            .chain(self.asn_v6.iter().map(|r| r.2))
            .find(|r| r.asn == asn)
            .map(|r| self.org(r.org))
    }

    /// How many ranges the registry holds.
    pub fn stats(&self) -> RegistryStats {
        RegistryStats {
            country_v4: self.country_v4.len(),
            country_v6: self.country_v6.len(),
            asn_v4: self.asn_v4.len(),
            asn_v6: self.asn_v6.len(),
            orgs: self.orgs.len(),
        }
    }

    /// Whether no file gave any range.
    pub fn is_empty(&self) -> bool {
        let s = self.stats();
        s.country_v4 + s.country_v6 + s.asn_v4 + s.asn_v6 == 0
    }
}

/// The registry as the flow path sees it: the collector stores its answers
/// with every flow, queries ask it about flows stored without them.
impl flowhound_model::Enricher for Registry {
    fn has_countries(&self) -> bool {
        self.country_v4.len() + self.country_v6.len() > 0
    }

    #[inline]
    fn country(&self, a: Addr) -> Option<[u8; 2]> {
        Registry::country(self, a).map(Country::code)
    }

    #[inline]
    fn as_number(&self, a: Addr) -> Option<u32> {
        Registry::as_number(self, a).filter(|&n| n != 0)
    }

    fn as_org(&self, asn: u32) -> Option<&str> {
        Registry::as_org(self, asn).filter(|s| !s.is_empty())
    }
}

/// A [`Registry`] read from its files on the first lookup, by whichever
/// thread asks first; the others wait for it.
#[derive(Debug)]
pub struct LazyRegistry {
    config: RegistryConfig,
    loaded: std::sync::OnceLock<Result<Registry, String>>,
}

impl LazyRegistry {
    /// A registry to be read from `config`'s files when first asked.
    pub fn new(config: RegistryConfig) -> Self {
        LazyRegistry {
            config,
            loaded: std::sync::OnceLock::new(),
        }
    }

    /// The registry, read now if it was not yet.
    pub fn get(&self) -> Result<&Registry, &str> {
        self.loaded
            .get_or_init(|| Registry::load(&self.config).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }
}

impl flowhound_model::Enricher for LazyRegistry {
    fn ready(&self) -> Result<(), String> {
        self.get().map(|_| ()).map_err(str::to_owned)
    }

    fn has_countries(&self) -> bool {
        self.get()
            .is_ok_and(flowhound_model::Enricher::has_countries)
    }

    fn country(&self, a: Addr) -> Option<[u8; 2]> {
        flowhound_model::Enricher::country(self.get().ok()?, a)
    }

    fn as_number(&self, a: Addr) -> Option<u32> {
        flowhound_model::Enricher::as_number(self.get().ok()?, a)
    }

    fn as_org(&self, asn: u32) -> Option<&str> {
        flowhound_model::Enricher::as_org(self.get().ok()?, asn)
    }
}

fn merge_layers<K: crate::ranges::Key, V: Copy + PartialEq>(
    layers: Vec<Vec<Range<K, V>>>,
) -> RangeMap<K, V> {
    let mut merged: Vec<Range<K, V>> = Vec::new();
    for layer in layers {
        let flat = flatten_most_specific(layer);
        merged = overlay(merged, &flat);
    }
    RangeMap::from_sorted(merged)
}

/// Check that a file loads as the given role and gives at least one range;
/// used by `registry update` before a download replaces anything.
pub(crate) fn verify_file(path: &Path, role: SourceRole) -> Result<usize, EnrichError> {
    let mut orgs = Interner::default();
    let t = load_file(path, role, &mut orgs)?;
    if t.is_empty() {
        return Err(EnrichError::registry(path, "holds no address ranges"));
    }
    Ok(t.country_v4.len() + t.country_v6.len() + t.asn_v4.len() + t.asn_v6.len())
}

const MMDB_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";

fn load_file(path: &Path, role: SourceRole, orgs: &mut Interner) -> Result<Tables, EnrichError> {
    let bytes = std::fs::read(path).map_err(|e| EnrichError::io(path, e))?;
    let tail = &bytes[bytes.len().saturating_sub(128 * 1024)..];
    let is_mmdb = tail.windows(MMDB_MARKER.len()).any(|w| w == MMDB_MARKER);
    if is_mmdb {
        return load_mmdb(path, bytes, orgs);
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        EnrichError::registry(
            path,
            format!(
                "neither a MaxMind DB nor UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    match role {
        SourceRole::Rir => load_rir(path, &text),
        SourceRole::Country | SourceRole::Asn => load_csv(path, &text, role, orgs),
    }
}

// ---- MaxMind DB ------------------------------------------------------------

/// The fields flowhound reads from a MaxMind DB record, in the shapes the
/// common databases use (GeoLite2/GeoIP2/DB-IP: `country.iso_code`;
/// ip-location-db: `country_code`; IPinfo: `country` as a string and `asn`
/// as `"AS123"`).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct MmdbRecord {
    country: Option<CountryField>,
    registered_country: Option<CountryField>,
    country_code: Option<String>,
    autonomous_system_number: Option<AsnField>,
    autonomous_system_organization: Option<String>,
    asn: Option<AsnField>,
    as_name: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum CountryField {
    Code(String),
    Map {
        #[serde(default)]
        iso_code: Option<String>,
    },
}

impl CountryField {
    fn code(&self) -> Option<Country> {
        match self {
            CountryField::Code(c) => Country::new(c),
            CountryField::Map { iso_code } => iso_code.as_deref().and_then(Country::new),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum AsnField {
    Number(u32),
    Text(String),
}

impl AsnField {
    fn number(&self) -> Option<u32> {
        match self {
            AsnField::Number(n) => Some(*n),
            AsnField::Text(t) => parse_asn(t),
        }
    }
}

fn parse_asn(t: &str) -> Option<u32> {
    let t = t.trim();
    let digits = t
        .strip_prefix("AS")
        .or_else(|| t.strip_prefix("as"))
        .unwrap_or(t);
    digits.parse().ok()
}

fn load_mmdb(path: &Path, bytes: Vec<u8>, orgs: &mut Interner) -> Result<Tables, EnrichError> {
    let bad =
        |e: maxminddb::MaxMindDbError| EnrichError::registry(path, format!("MaxMind DB: {e}"));
    let reader = maxminddb::Reader::from_source(bytes).map_err(bad)?;
    // Many networks share one record: decode each record once.
    let mut decoded: HashMap<usize, (Option<Country>, Option<AsRef>)> = HashMap::new();
    let mut t = Tables::default();
    for item in reader
        .networks(maxminddb::WithinOptions::default())
        .map_err(bad)?
    {
        let item = item.map_err(bad)?;
        let Some(offset) = item.offset() else {
            continue;
        };
        let (country, asn) = match decoded.get(&offset) {
            Some(&v) => v,
            None => {
                let rec: MmdbRecord = item.decode().map_err(bad)?.unwrap_or_default();
                let country = rec
                    .country
                    .as_ref()
                    .and_then(CountryField::code)
                    .or_else(|| rec.country_code.as_deref().and_then(Country::new))
                    .or_else(|| rec.registered_country.as_ref().and_then(CountryField::code));
                let number = rec
                    .autonomous_system_number
                    .as_ref()
                    .or(rec.asn.as_ref())
                    .and_then(AsnField::number);
                let asn = number.map(|asn| AsRef {
                    asn,
                    org: orgs.intern(
                        rec.autonomous_system_organization
                            .as_deref()
                            .or(rec.as_name.as_deref())
                            .unwrap_or(""),
                    ),
                });
                decoded.insert(offset, (country, asn));
                (country, asn)
            }
        };
        if country.is_none() && asn.is_none() {
            continue;
        }
        let net = item.network().map_err(bad)?;
        let prefix = u32::from(net.prefix());
        match net.network() {
            std::net::IpAddr::V4(ip) => {
                let first = u32::from(ip);
                let last = first | u32::MAX.checked_shr(prefix).unwrap_or(0);
                push(&mut t.country_v4, &mut t.asn_v4, first, last, country, asn);
            }
            std::net::IpAddr::V6(ip) => {
                let first = u128::from(ip);
                let last = first | u128::MAX.checked_shr(prefix).unwrap_or(0);
                if last <= u128::from(u32::MAX) {
                    // IPv4 stored at ::/96 in a database without an IPv4 subtree.
                    push(
                        &mut t.country_v4,
                        &mut t.asn_v4,
                        first as u32,
                        last as u32,
                        country,
                        asn,
                    );
                } else {
                    push(&mut t.country_v6, &mut t.asn_v6, first, last, country, asn);
                }
            }
        }
    }
    Ok(t)
}

fn push<K: Copy>(
    countries: &mut Vec<Range<K, Country>>,
    asns: &mut Vec<Range<K, AsRef>>,
    first: K,
    last: K,
    country: Option<Country>,
    asn: Option<AsRef>,
) {
    if let Some(c) = country {
        countries.push((first, last, c));
    }
    if let Some(a) = asn {
        asns.push((first, last, a));
    }
}

// ---- CSV ---------------------------------------------------------------------

/// Split one CSV line (RFC 4180 quoting: `"a, b"`, `"say ""hi"""`).
pub(crate) fn csv_fields(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::with_capacity(4);
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field"),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("text after a closing quote"),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

enum Family {
    V4(u32, u32),
    V6(u128, u128),
}

fn range_family(first: &str, last: &str) -> Option<Family> {
    use std::net::IpAddr;
    let f: IpAddr = first.trim().parse().ok()?;
    let l: IpAddr = last.trim().parse().ok()?;
    let to_v4 = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => Some(u32::from(v4)),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(u32::from),
    };
    match (to_v4(f), to_v4(l)) {
        (Some(a), Some(b)) => Some(Family::V4(a, b)),
        (None, None) => match (f, l) {
            (IpAddr::V6(a), IpAddr::V6(b)) => Some(Family::V6(u128::from(a), u128::from(b))),
            _ => None,
        },
        _ => None,
    }
}

fn load_csv(
    path: &Path,
    text: &str,
    role: SourceRole,
    orgs: &mut Interner,
) -> Result<Tables, EnrichError> {
    let mut t = Tables::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: String| EnrichError::registry(path, format!("line {n}: {why}"));
        let fields = csv_fields(line).map_err(|e| bad(e.to_string()))?;
        if fields.len() < 3 {
            return Err(bad(format!(
                "expected first,last,{} but found {} fields",
                if role == SourceRole::Country {
                    "country"
                } else {
                    "asn,organisation"
                },
                fields.len()
            )));
        }
        let Some(family) = range_family(&fields[0], &fields[1]) else {
            if n == 1 {
                continue; // a header line
            }
            return Err(bad(format!(
                "bad address range \"{},{}\"",
                fields[0], fields[1]
            )));
        };
        let (country, asn) = if role == SourceRole::Country {
            let Some(c) = Country::new(&fields[2]) else {
                if n == 1 {
                    continue;
                }
                return Err(bad(format!("bad country code \"{}\"", fields[2])));
            };
            (Some(c), None)
        } else {
            let Some(asn) = parse_asn(&fields[2]) else {
                if n == 1 {
                    continue;
                }
                return Err(bad(format!("bad AS number \"{}\"", fields[2])));
            };
            let org = fields.get(3).map_or("", |s| s.as_str());
            (
                None,
                Some(AsRef {
                    asn,
                    org: orgs.intern(org),
                }),
            )
        };
        match family {
            Family::V4(a, b) if a <= b => {
                push(&mut t.country_v4, &mut t.asn_v4, a, b, country, asn)
            }
            Family::V6(a, b) if a <= b => {
                push(&mut t.country_v6, &mut t.asn_v6, a, b, country, asn)
            }
            _ => {
                return Err(bad(format!(
                    "range ends before it starts: \"{},{}\"",
                    fields[0], fields[1]
                )))
            }
        }
    }
    Ok(t)
}

// ---- RIR delegated statistics ------------------------------------------------

/// `registry|cc|type|start|value|date|status[|opaque-id[|extensions]]`, with a
/// version line and `*|…|summary` lines before the records. `ipv4` values
/// count addresses (not always a power of two); `ipv6` values are prefix
/// lengths; `asn` records and blocks without a country (available,
/// reserved) are skipped.
fn load_rir(path: &Path, text: &str) -> Result<Tables, EnrichError> {
    let mut t = Tables::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('|').collect();
        let bad = |why: String| EnrichError::registry(path, format!("line {n}: {why}"));
        if f[0].chars().next().is_some_and(|c| c.is_ascii_digit()) {
            continue; // version line: 2|ripencc|20240101|…
        }
        if f.len() < 7 {
            if f.len() == 6 && f[5] == "summary" {
                continue;
            }
            return Err(bad(format!(
                "expected registry|cc|type|start|value|date|status, found {} fields",
                f.len()
            )));
        }
        if f[1] == "*" || f[5] == "summary" || !matches!(f[2], "ipv4" | "ipv6") {
            continue;
        }
        let Some(cc) = Country::new(f[1]).filter(|c| c.as_str() != "ZZ") else {
            continue;
        };
        if f[2] == "ipv4" {
            let start: std::net::Ipv4Addr = f[3]
                .parse()
                .map_err(|_| bad(format!("bad IPv4 start \"{}\"", f[3])))?;
            let count: u64 = f[4]
                .parse()
                .map_err(|_| bad(format!("bad address count \"{}\"", f[4])))?;
            let first = u32::from(start);
            let last = u64::from(first) + count;
            if count == 0 || last > 1 << 32 {
                return Err(bad(format!("bad address count \"{}\"", f[4])));
            }
            t.country_v4.push((first, (last - 1) as u32, cc));
        } else {
            let start: std::net::Ipv6Addr = f[3]
                .parse()
                .map_err(|_| bad(format!("bad IPv6 start \"{}\"", f[3])))?;
            let len: u32 = f[4]
                .parse()
                .ok()
                .filter(|&l| l <= 128)
                .ok_or_else(|| bad(format!("bad prefix length \"{}\"", f[4])))?;
            let first = u128::from(start);
            let host = u128::MAX.checked_shr(len).unwrap_or(0);
            t.country_v6.push((first & !host, first | host, cc));
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowhound_model::addr_from_v4;

    fn v4(s: &str) -> Addr {
        crate::net::parse_addr(s).expect("test address")
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(
            csv_fields(r#"1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc.""#).expect("valid"),
            ["1.0.0.0", "1.0.0.255", "13335", "Cloudflare, Inc."]
        );
        assert_eq!(
            csv_fields(r#"a,b,1,"LLC ""SPUTNIK""""#).expect("valid"),
            ["a", "b", "1", "LLC \"SPUTNIK\""]
        );
        assert_eq!(csv_fields("a,,c").expect("valid"), ["a", "", "c"]);
        assert!(csv_fields(r#"a,"b"#).is_err());
    }

    #[test]
    fn country_codes() {
        assert_eq!(Country::new("nl").map(|c| c.to_string()), Some("NL".into()));
        assert_eq!(Country::new("NLD"), None);
        assert_eq!(Country::new("1a"), None);
        assert_eq!(Country::from_bytes(*b"US"), Country::new("US"));
    }

    #[test]
    fn rir_file_with_sources_merged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rir = dir.path().join("delegated-test-extended");
        std::fs::write(
            &rir,
            "2|test|20240101|4|19700101|20240101|+0000\n\
             test|*|ipv4|*|3|summary\n\
             test|*|asn|*|1|summary\n\
             test|NL|asn|3333|1|19930901|allocated|x\n\
             test|NL|ipv4|193.0.0.0|2048|19930901|allocated|x\n\
             test|DE|ipv4|10.0.0.0|768|19930901|allocated|x\n\
             test||ipv4|11.0.0.0|256||available|\n\
             test|FR|ipv6|2001:db8::|32|20010101|allocated|x\n",
        )
        .expect("write");
        let csv = dir.path().join("cc.csv");
        std::fs::write(&csv, "10.0.1.0,10.0.1.255,CH\n").expect("write");
        let reg = Registry::load(&RegistryConfig {
            country: vec![csv],
            rir: vec![rir],
            ..Default::default()
        })
        .expect("loads");
        let cc = |s: &str| reg.country(v4(s)).map(|c| c.to_string());
        assert_eq!(cc("193.0.7.255").as_deref(), Some("NL"));
        assert_eq!(cc("193.0.8.0"), None);
        assert_eq!(cc("10.0.0.1").as_deref(), Some("DE"));
        assert_eq!(
            cc("10.0.1.1").as_deref(),
            Some("CH"),
            "the country file wins over RIR"
        );
        assert_eq!(cc("10.0.2.255").as_deref(), Some("DE"));
        assert_eq!(cc("11.0.0.1"), None);
        assert_eq!(cc("2001:db8:ffff::1").as_deref(), Some("FR"));
        assert_eq!(reg.country(addr_from_v4(0x0a00_0300)), None);
    }

    #[test]
    fn csv_errors_name_the_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let csv = dir.path().join("asn.csv");
        std::fs::write(&csv, "1.0.0.0,1.0.0.255,13335,x\n1.0.1.0,1.0.1.x,1,y\n").expect("write");
        let err = Registry::load(&RegistryConfig {
            asn: vec![csv.clone()],
            ..Default::default()
        })
        .expect_err("bad line");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: line 2: bad address range \"1.0.1.0,1.0.1.x\"",
                csv.display()
            )
        );
    }
}
