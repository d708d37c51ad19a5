//! The `[site]`, `[roles]`, `[inventory]` and `[registry]` tables of the
//! flowhound config file. Other top-level tables belong to other crates and
//! are left alone; inside these four, an unknown key is an error.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::error::EnrichError;
use crate::net::parse_net;
use crate::ranges::AddrSet;
use crate::registry::{LazyRegistry, Registry, RegistryConfig, UpdateUrls};
use crate::site::{Owner, QuietHours, Site, TimeZone};

/// The enrichment part of a flowhound config: the site inventory and where
/// the registries are. Relative paths are relative to the config file.
///
/// ```toml
/// [site]
/// internal = ["10.0.0.0/8", "@internal.txt"]
/// timezone = "Europe/Zurich"
/// quiet_hours = "22:00-06:00"
/// countries = ["CH"]        # the site's own; peers elsewhere are foreign
/// [roles]
/// mail_servers = ["10.0.0.25", "@mailservers.txt"]
/// [inventory]
/// owners = "owners.csv"
/// [registry]
/// country = "geo.mmdb"
/// asn = ["asn-ipv4.csv", "asn-ipv6.csv"]
/// rir = ["delegated-ripencc-extended-latest"]
/// [registry.update]
/// country = "https://example.org/geo.mmdb"
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file.
    pub path: PathBuf,
    /// The site inventory.
    pub site: Site,
    /// Where the registry files are and where updates come from.
    pub registry: RegistryConfig,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawConfig {
    site: RawSite,
    roles: BTreeMap<String, Vec<String>>,
    inventory: RawInventory,
    registry: RawRegistry,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawSite {
    internal: Vec<String>,
    timezone: Option<String>,
    quiet_hours: Option<String>,
    countries: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawInventory {
    owners: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawRegistry {
    country: OneOrMany,
    asn: OneOrMany,
    rir: OneOrMany,
    update: RawUpdate,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawUpdate {
    country: OneOrMany,
    asn: OneOrMany,
    rir: OneOrMany,
}

/// A string or a list of strings.
#[derive(Default)]
struct OneOrMany(Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![s.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                Ok(OneOrMany(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Config {
    /// Read and check a config file, with every `@list` and the owners CSV
    /// it names. The registry files are not opened here (a fresh machine
    /// may not have them before `registry update`): see [`Config::load_registry`].
    pub fn load(path: &Path) -> Result<Config, EnrichError> {
        let text = std::fs::read_to_string(path).map_err(|e| EnrichError::io(path, e))?;
        Config::parse(&text, path)
    }

    /// Check config text as if read from `path` (relative paths resolve
    /// against its folder).
    pub fn parse(text: &str, path: &Path) -> Result<Config, EnrichError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let resolve = |p: &str| base.join(p);

        let mut site = Site {
            internal: address_list(path, &base, "site.internal", &raw.site.internal)?,
            ..Site::default()
        };
        for (name, list) in &raw.roles {
            let set = address_list(path, &base, &format!("roles.{name}"), list)?;
            site.roles.push((name.clone(), set));
        }
        if let Some(tz) = &raw.site.timezone {
            site.timezone =
                TimeZone::parse(tz).map_err(|e| EnrichError::config(path, "site.timezone", e))?;
        }
        if let Some(q) = &raw.site.quiet_hours {
            site.quiet_hours = Some(
                QuietHours::parse(q)
                    .map_err(|e| EnrichError::config(path, "site.quiet_hours", e))?,
            );
        }
        for (i, c) in raw.site.countries.iter().enumerate() {
            let code = c.trim().to_ascii_uppercase();
            match code.as_bytes() {
                [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
                    site.countries.push([*a, *b])
                }
                _ => {
                    return Err(EnrichError::config(
                        path,
                        format!("site.countries[{i}]"),
                        format!("{c:?} is not a two-letter country code (ISO 3166, e.g. \"CH\")"),
                    ))
                }
            }
        }
        if let Some(owners) = &raw.inventory.owners {
            let file = resolve(owners);
            let text = std::fs::read_to_string(&file).map_err(|e| {
                EnrichError::config(
                    path,
                    "inventory.owners",
                    format!("cannot read {}: {e}", file.display()),
                )
            })?;
            let (networks, list) = parse_owners(&file, &text)?;
            site.set_owners(networks, list);
        }

        let r = &raw.registry;
        let paths = |l: &OneOrMany| l.0.iter().map(|p| resolve(p)).collect::<Vec<_>>();
        let registry = RegistryConfig {
            country: paths(&r.country),
            asn: paths(&r.asn),
            rir: paths(&r.rir),
            update: UpdateUrls {
                country: r.update.country.0.clone(),
                asn: r.update.asn.0.clone(),
                rir: r.update.rir.0.clone(),
            },
        };
        for (key, urls, files) in [
            ("country", &registry.update.country, &registry.country),
            ("asn", &registry.update.asn, &registry.asn),
            ("rir", &registry.update.rir, &registry.rir),
        ] {
            if urls.len() > files.len() {
                return Err(EnrichError::config(
                    path,
                    format!("registry.update.{key}[{}]", files.len()),
                    format!("no registry.{key}[{}] file to write it to", files.len()),
                ));
            }
            for (i, url) in urls.iter().enumerate() {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(EnrichError::config(
                        path,
                        format!("registry.update.{key}[{i}]"),
                        format!("\"{url}\" is not an http(s) URL"),
                    ));
                }
            }
        }
        Ok(Config {
            path: path.to_path_buf(),
            site,
            registry,
        })
    }

    /// Load the configured registry files; a missing one is named by its key.
    pub fn load_registry(&self) -> Result<Registry, EnrichError> {
        self.check_registry_files()?;
        Registry::load(&self.registry)
    }

    /// The configured registry, loaded on its first lookup: a query that
    /// asks no country or AS does not pay for reading the files. Missing
    /// files are reported now; a file that cannot be parsed fails the first
    /// lookup ([`flowhound_model::Enricher::ready`]).
    pub fn lazy_registry(&self) -> Result<LazyRegistry, EnrichError> {
        self.check_registry_files()?;
        Ok(LazyRegistry::new(self.registry.clone()))
    }

    fn check_registry_files(&self) -> Result<(), EnrichError> {
        for (key, files) in [
            ("country", &self.registry.country),
            ("asn", &self.registry.asn),
            ("rir", &self.registry.rir),
        ] {
            for (i, f) in files.iter().enumerate() {
                if !f.exists() {
                    return Err(EnrichError::config(
                        &self.path,
                        format!("registry.{key}[{i}]"),
                        format!(
                            "no such file {} (fetch it with `flowhound registry update`)",
                            f.display()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A TOML error as one line: the key (from the table header and the line's
/// key) where it can be told, else the line and column.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> EnrichError {
    let message = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else {
        return EnrichError::config(path, "(file)", message);
    };
    let before = &text[..span.start.min(text.len())];
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.len() - line_start + 1;
    let line = text[line_start..].lines().next().unwrap_or("");
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    let where_ = match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k}"),
        (None, Some(k)) => k,
        _ => format!("line {line_no}, column {col}"),
    };
    EnrichError::config(path, where_, message)
}

/// An address list: IPs and CIDRs inline, or `@file` with one per line.
fn address_list(
    config: &Path,
    base: &Path,
    key: &str,
    items: &[String],
) -> Result<AddrSet, EnrichError> {
    let mut ranges = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_key = format!("{key}[{i}]");
        if let Some(file) = item.trim().strip_prefix('@') {
            let file = base.join(file.trim());
            let text = std::fs::read_to_string(&file).map_err(|e| {
                EnrichError::config(
                    config,
                    &item_key,
                    format!("cannot read {}: {e}", file.display()),
                )
            })?;
            for (n, line) in text.lines().enumerate() {
                let entry = line.split('#').next().unwrap_or("").trim();
                if entry.is_empty() {
                    continue;
                }
                let net = parse_net(entry).map_err(|e| {
                    EnrichError::config(&file, format!("line {} (from {item_key})", n + 1), e)
                })?;
                ranges.push((net.first, net.last));
            }
        } else {
            let net = parse_net(item).map_err(|e| EnrichError::config(config, &item_key, e))?;
            ranges.push((net.first, net.last));
        }
    }
    Ok(AddrSet::from_ranges(ranges))
}

type OwnerTable = (Vec<(u128, u128, u8)>, Vec<Owner>);

/// The owners CSV: header `network,owner,contact,account`.
fn parse_owners(file: &Path, text: &str) -> Result<OwnerTable, EnrichError> {
    let mut networks = Vec::new();
    let mut owners = Vec::new();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let key = format!("line {}", i + 1);
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields =
            crate::registry::csv_fields(line).map_err(|e| EnrichError::config(file, &key, e))?;
        if !header_seen {
            let names: Vec<String> = fields
                .iter()
                .map(|f| f.trim().to_ascii_lowercase())
                .collect();
            if names != ["network", "owner", "contact", "account"] {
                return Err(EnrichError::config(
                    file,
                    &key,
                    "expected the header network,owner,contact,account",
                ));
            }
            header_seen = true;
            continue;
        }
        if fields.len() != 4 {
            return Err(EnrichError::config(
                file,
                &key,
                format!(
                    "expected 4 fields (network,owner,contact,account), found {}",
                    fields.len()
                ),
            ));
        }
        let net = parse_net(&fields[0]).map_err(|e| EnrichError::config(file, &key, e))?;
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let Some(owner) = opt(&fields[1]) else {
            return Err(EnrichError::config(file, &key, "the owner is empty"));
        };
        networks.push((net.first, net.last, net.len128));
        owners.push(Owner {
            network: fields[0].trim().to_string(),
            owner,
            contact: opt(&fields[2]),
            account: opt(&fields[3]),
        });
    }
    Ok((networks, owners))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::parse_addr;

    fn a(s: &str) -> u128 {
        parse_addr(s).expect("test address")
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    const GOOD: &str = r#"
[site]
internal = ["10.0.0.0/8", "192.0.2.0/24", "@internal.txt"]
timezone = "+01:00"
quiet_hours = "22:00-06:00"

[roles]
mail_servers = ["10.0.0.25", "@mailservers.txt"]
dns_servers = ["10.0.0.53", "2001:db8::53"]

[inventory]
owners = "owners.csv"

[registry]
country = "geo.mmdb"
asn = ["asn-ipv4.csv", "/abs/asn-ipv6.csv"]

[registry.update]
country = "https://example.org/geo.mmdb"

[detect]
something_for_another_crate = 1
"#;

    fn good_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        write(
            dir.path(),
            "internal.txt",
            "# more\n2001:db8::/32\n\n172.16.0.0/12 # lab\n",
        );
        write(dir.path(), "mailservers.txt", "10.0.0.26\n10.9.0.0/24\n");
        write(
            dir.path(),
            "owners.csv",
            "network,owner,contact,account\n\
             10.0.0.0/8,IT,it@example.org,\n\
             10.1.0.0/16,Physics,\"Dr. X, Physics\",acc-17\n\
             10.1.2.3,Student,student@example.org,s123\n",
        );
        dir
    }

    #[test]
    fn a_full_config() {
        let dir = good_dir();
        let path = write(dir.path(), "flowhound.toml", GOOD);
        let c = Config::load(&path).expect("valid config");
        let s = &c.site;
        assert!(s.is_internal(a("10.1.1.1")) && s.is_internal(a("172.20.0.1")));
        assert!(s.is_internal(a("2001:db8::1")) && !s.is_internal(a("8.8.8.8")));
        assert_eq!(s.roles(a("10.0.0.25")), ["mail_servers"]);
        assert_eq!(s.roles(a("10.9.0.200")), ["mail_servers"]);
        assert_eq!(s.roles(a("2001:db8::53")), ["dns_servers"]);
        assert!(s.roles(a("10.0.0.1")).is_empty());
        assert!(s.has_role(a("10.0.0.26"), "mail_servers"));
        assert_eq!(
            s.owner(a("10.200.0.1")).map(|o| o.owner.as_str()),
            Some("IT")
        );
        let physics = s.owner(a("10.1.9.9")).expect("owner");
        assert_eq!(physics.contact.as_deref(), Some("Dr. X, Physics"));
        assert_eq!(
            s.owner(a("10.1.2.3")).map(|o| o.owner.as_str()),
            Some("Student")
        );
        assert_eq!(
            s.owner(a("10.1.2.4")).map(|o| o.owner.as_str()),
            Some("Physics")
        );
        assert_eq!(s.owner(a("11.0.0.1")), None);
        assert_eq!(
            s.owner(a("10.200.0.1")).and_then(|o| o.account.clone()),
            None
        );
        assert_eq!(s.timezone().name(), "+01:00");
        assert_eq!(c.registry.country, [dir.path().join("geo.mmdb")]);
        assert_eq!(c.registry.asn[1], PathBuf::from("/abs/asn-ipv6.csv"));
        assert_eq!(c.registry.update.country, ["https://example.org/geo.mmdb"]);
        let err = c.load_registry().expect_err("no registry files here");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: registry.country[0]: no such file {} (fetch it with `flowhound registry update`)",
                path.display(),
                dir.path().join("geo.mmdb").display()
            )
        );
    }

    fn error_of(toml: &str) -> String {
        let dir = good_dir();
        let path = write(dir.path(), "c.toml", toml);
        let e = Config::load(&path).expect_err("bad config");
        let text = e.to_string();
        assert!(!text.contains('\n'), "one line: {text}");
        text.replace(&format!("{}", dir.path().display()), "DIR")
    }

    #[test]
    fn bad_configs_name_file_key_and_problem() {
        assert_eq!(
            error_of("[roles]\nmail_servers = [\"10.0.0.25\", \"10.0.0.26\", \"10.0.0.0/33\"]\n"),
            "DIR/c.toml: roles.mail_servers[2]: bad CIDR \"10.0.0.0/33\": prefix length must be 0 to 32"
        );
        assert_eq!(
            error_of("[site]\ninternal = [\"@missing.txt\"]\n"),
            "DIR/c.toml: site.internal[0]: cannot read DIR/missing.txt: No such file or directory (os error 2)"
        );
        assert_eq!(
            error_of("[site]\nquiet_hours = \"25:00-06:00\"\n"),
            "DIR/c.toml: site.quiet_hours: bad quiet_hours \"25:00-06:00\": 25:00 is not a time of day"
        );
        assert!(error_of("[site]\ntimezone = \"Mars/Base\"\n")
            .starts_with("DIR/c.toml: site.timezone: unknown time zone \"Mars/Base\""));
        let unknown = error_of("[site]\ninternal = []\nintrenal = [\"10.0.0.0/8\"]\n");
        assert!(
            unknown.starts_with("DIR/c.toml: site.intrenal: unknown field `intrenal`"),
            "{unknown}"
        );
        let wrong_type = error_of("[roles]\nmail_servers = \"10.0.0.25\"\n");
        assert!(
            wrong_type.starts_with("DIR/c.toml: roles.mail_servers: "),
            "{wrong_type}"
        );
        assert_eq!(
            error_of("[registry]\nasn = \"a.csv\"\n[registry.update]\nasn = [\"https://x/a\", \"https://x/b\"]\n"),
            "DIR/c.toml: registry.update.asn[1]: no registry.asn[1] file to write it to"
        );
        let syntax = error_of("[site\n");
        assert!(syntax.starts_with("DIR/c.toml: line 1, column"), "{syntax}");
    }

    #[test]
    fn bad_list_files_name_their_line() {
        let dir = good_dir();
        write(dir.path(), "bad.txt", "10.0.0.1\n\n10.0.0.0/40\n");
        let path = write(dir.path(), "c.toml", "[roles]\nproxies = [\"@bad.txt\"]\n");
        let e = Config::load(&path).expect_err("bad list");
        assert_eq!(
            e.to_string(),
            format!(
                "{}: line 3 (from roles.proxies[0]): bad CIDR \"10.0.0.0/40\": prefix length must be 0 to 32",
                dir.path().join("bad.txt").display()
            )
        );
        write(dir.path(), "owners.csv", "network,owner,contact\n");
        let path = write(
            dir.path(),
            "c.toml",
            "[inventory]\nowners = \"owners.csv\"\n",
        );
        let e = Config::load(&path).expect_err("bad header");
        assert!(e
            .to_string()
            .ends_with("owners.csv: line 1: expected the header network,owner,contact,account"));
    }

    #[test]
    fn an_empty_config_is_fine() {
        let c = Config::parse("", Path::new("x.toml")).expect("empty is valid");
        assert!(!c.site.is_internal(a("10.0.0.1")));
        assert_eq!(c.registry, RegistryConfig::default());
        assert!(!c.site.is_quiet(0));
    }
}
