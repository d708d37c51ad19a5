use std::io::Write;
use std::sync::Arc;

use flowhound_model::Enricher;

use flowhound_enrich::{parse_addr, whois, Config, Registry, Site};

use crate::args::{Format, WhoisArgs};
use crate::units::user;

/// The config named by `--config`, if any; a bad one is the user's fault.
pub fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Option<Config>> {
    match path {
        None => Ok(None),
        Some(p) => Config::load(p).map(Some).map_err(|e| user(e.to_string())),
    }
}

/// The registries of `--config`, as the flow path asks them (collector,
/// import, queries); `None` without a config or without registry files.
///
/// Read on first use: a query that asks no country or AS starts at once.
/// The collector reads them before it listens ([`Enricher::ready`]), so that
/// a bad file stops it at the start, not at the first flow.
pub fn enricher(config: Option<&std::path::Path>) -> anyhow::Result<Option<Arc<dyn Enricher>>> {
    Ok(config_and_enricher(config)?.1)
}

/// The registries a command asks, when it asks any.
pub type Registries = Option<Arc<dyn Enricher>>;

/// The config of `--config` and its [`enricher`], for commands that also
/// need the site.
pub fn config_and_enricher(
    config: Option<&std::path::Path>,
) -> anyhow::Result<(Option<Config>, Registries)> {
    let config = load_config(config)?;
    let enricher = config.as_ref().map(enricher_of).transpose()?.flatten();
    Ok((config, enricher))
}

/// [`enricher`] of a loaded config.
pub fn enricher_of(c: &Config) -> anyhow::Result<Option<Arc<dyn Enricher>>> {
    let r = &c.registry;
    if r.country.is_empty() && r.asn.is_empty() && r.rir.is_empty() {
        return Ok(None);
    }
    let registry = c.lazy_registry().map_err(|e| user(e.to_string()))?;
    Ok(Some(Arc::new(registry)))
}

/// [`enricher`], read now: for the collector and importer, which ask it
/// about every flow.
pub fn enricher_loaded(
    config: Option<&std::path::Path>,
) -> anyhow::Result<Option<Arc<dyn Enricher>>> {
    let e = enricher(config)?;
    if let Some(e) = &e {
        e.ready().map_err(user)?;
    }
    Ok(e)
}

pub fn run(a: WhoisArgs, config: Option<&std::path::Path>) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let (registry, site) = match &config {
        Some(c) => (
            c.load_registry().map_err(|e| user(e.to_string()))?,
            c.site.clone(),
        ),
        None => (Registry::default(), Site::default()),
    };
    if registry.is_empty() {
        eprintln!(
            "flowhound: no registry configured: countries and AS numbers need [registry] in --config FILE"
        );
    }
    let mut records = Vec::new();
    for text in &a.addresses {
        let addr = parse_addr(text)
            .ok_or_else(|| user(format!("'{text}' is not an IPv4 or IPv6 address")))?;
        records.push(whois(&registry, &site, addr));
    }
    let mut out = std::io::stdout().lock();
    match a.output {
        Format::Json => {
            if records.len() == 1 {
                serde_json::to_writer_pretty(&mut out, &records[0])?;
            } else {
                serde_json::to_writer_pretty(&mut out, &records)?;
            }
            writeln!(out)?;
        }
        Format::Table => {
            for r in &records {
                let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                writeln!(out, "{}", r.ip)?;
                writeln!(
                    out,
                    "  country:  {}",
                    r.country
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into())
                )?;
                writeln!(
                    out,
                    "  AS:       {}",
                    r.asn
                        .map(|n| format!("AS{n} {}", or(&r.as_org)))
                        .unwrap_or_else(|| "-".into())
                )?;
                writeln!(out, "  internal: {}", if r.internal { "yes" } else { "no" })?;
                writeln!(
                    out,
                    "  roles:    {}",
                    if r.roles.is_empty() {
                        "-".into()
                    } else {
                        r.roles.join(", ")
                    }
                )?;
                writeln!(out, "  owner:    {} ({})", or(&r.owner), or(&r.network))?;
                writeln!(out, "  contact:  {}", or(&r.contact))?;
                writeln!(out, "  account:  {}", or(&r.account))?;
            }
        }
    }
    Ok(())
}

pub fn update(config: Option<&std::path::Path>) -> anyhow::Result<()> {
    let Some(config) = load_config(config)? else {
        return Err(user(
            "registry update needs --config FILE with [registry] paths and [registry.update] URLs",
        ));
    };
    let report = flowhound_enrich::update(&config.registry).map_err(|e| user(e.to_string()))?;
    if report.files.is_empty() {
        eprintln!("nothing to update: [registry.update] lists no URLs");
    }
    for f in &report.files {
        println!(
            "{} -> {} ({} bytes, {} ranges)",
            f.url,
            f.path.display(),
            f.bytes,
            f.ranges
        );
    }
    Ok(())
}
