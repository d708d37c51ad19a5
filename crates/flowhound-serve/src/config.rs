//! The `[serve]` table of the flowhound config, and everything else serve
//! reads from the same file: the site and registries (`[site]`, `[roles]`,
//! `[inventory]`, `[registry]`, read by flowhound-enrich) and the rules
//! (`[detect]`, read by flowhound-detect).
//!
//! ```toml
//! [serve]
//! listen = ["0.0.0.0:2055"]           # UDP, NetFlow v5/v9 and IPFIX
//! data = "/var/lib/flowhound"          # flows, WAL, and alerts.sqlite
//! metrics = "127.0.0.1:9100"           # Prometheus /metrics (absent: none)
//! alerts = "/var/lib/flowhound/alerts.sqlite"   # default: DATA/alerts.sqlite
//! [[serve.sink]]
//! type = "jsonl"
//! path = "alerts.jsonl"
//! ```
//!
//! Relative paths are relative to the config file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flowhound_cases::NotifyConfig;
use flowhound_detect::sink::SinkConfig;
use flowhound_detect::{Context, RuleSet};
use flowhound_model::Enricher;
use serde::Deserialize;

use crate::jobs::Jobs;
use crate::schedule::{parse_schedules, Schedule};
use crate::ServeError;

#[derive(Deserialize, Default)]
struct RawTop {
    #[serde(default)]
    serve: Option<RawServe>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawServe {
    listen: Option<Vec<toml::Spanned<String>>>,
    data: Option<String>,
    metrics: Option<toml::Spanned<String>>,
    alerts: Option<String>,
    file_interval: Option<toml::Spanned<String>>,
    sink: Vec<SinkConfig>,
}

/// Everything `flowhound serve` runs with.
#[derive(Clone)]
pub struct ServeConfig {
    /// UDP addresses the collector listens on.
    pub listen: Vec<SocketAddr>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Where Prometheus metrics are served, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// The alert store (SQLite).
    pub alerts_db: PathBuf,
    /// How often the collector writes a set of Parquet files.
    pub file_interval: Duration,
    /// Where alerts go.
    pub sinks: Vec<SinkConfig>,
    /// The directory relative sink paths are relative to.
    pub base: PathBuf,
    /// The daily jobs of `[[schedule]]`, in the order of the config.
    pub schedules: Vec<Schedule>,
    /// The rules, the site and its registries (live detection reads them
    /// too), `[notify]` and `[cases]`.
    pub jobs: Jobs,
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

impl ServeConfig {
    /// Defaults: listen on `listen`, store in `data_dir`, the built-in
    /// rules, no site inventory, no sink.
    pub fn new(listen: Vec<SocketAddr>, data_dir: PathBuf) -> Result<ServeConfig, ServeError> {
        let rules = RuleSet::builtin().map_err(ServeError::Rules)?.rules;
        Ok(ServeConfig {
            listen,
            alerts_db: data_dir.join("alerts.sqlite"),
            jobs: Jobs {
                data: data_dir.clone(),
                rules,
                ctx: Context::default(),
                notify: NotifyConfig::default(),
                config_label: None,
            },
            data_dir,
            metrics: None,
            file_interval: Duration::from_secs(60),
            sinks: Vec::new(),
            base: PathBuf::from("."),
            schedules: Vec::new(),
        })
    }

    /// Read the config file.
    pub fn load(path: &Path) -> Result<ServeConfig, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServeError::Config {
            file: path.display().to_string(),
            line: 0,
            reason: format!("cannot read: {e}"),
        })?;
        ServeConfig::parse(&text, path)
    }

    /// The config of `text`, read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<ServeConfig, ServeError> {
        let file = path.display().to_string();
        let at = |line: usize, reason: String| ServeError::Config {
            file: file.clone(),
            line,
            reason,
        };
        let raw: RawTop = toml::from_str(text).map_err(|e| {
            at(
                e.span().map_or(1, |s| line_of(text, s.start)),
                e.message().to_string(),
            )
        })?;
        let serve = raw.serve.unwrap_or_default();
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let addr = |s: &toml::Spanned<String>, key: &str| -> Result<SocketAddr, ServeError> {
            s.get_ref().parse().map_err(|_| {
                at(
                    line_of(text, s.span().start),
                    format!(
                        "serve.{key}: {:?} is not an address and port (e.g. 0.0.0.0:2055, [::]:2055)",
                        s.get_ref()
                    ),
                )
            })
        };
        let listen = match &serve.listen {
            Some(l) => l
                .iter()
                .map(|s| addr(s, "listen"))
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![SocketAddr::from(([0, 0, 0, 0], 2055))],
        };
        if listen.is_empty() {
            return Err(at(
                1,
                "serve.listen is empty: name at least one address".into(),
            ));
        }
        let metrics = serve
            .metrics
            .as_ref()
            .map(|m| addr(m, "metrics"))
            .transpose()?;
        let data_dir = base.join(serve.data.as_deref().unwrap_or("/var/lib/flowhound"));
        let alerts_db = match &serve.alerts {
            Some(a) => base.join(a),
            None => data_dir.join("alerts.sqlite"),
        };
        let file_interval = match &serve.file_interval {
            Some(s) => parse_secs(s.get_ref()).ok_or_else(|| {
                at(
                    line_of(text, s.span().start),
                    format!(
                        "serve.file_interval: {:?} is not a duration (10s, 1m)",
                        s.get_ref()
                    ),
                )
            })?,
            None => Duration::from_secs(60),
        };
        let enrich = flowhound_enrich::Config::parse(text, path)
            .map_err(|e| ServeError::Enrich(e.to_string()))?;
        let r = &enrich.registry;
        let enricher: Option<Arc<dyn Enricher>> =
            if r.country.is_empty() && r.asn.is_empty() && r.rir.is_empty() {
                None
            } else {
                let registry = enrich
                    .lazy_registry()
                    .map_err(|e| ServeError::Enrich(e.to_string()))?;
                Some(Arc::new(registry))
            };
        let rules = RuleSet::from_config_text(text, path, &[])
            .map_err(ServeError::Rules)?
            .rules;
        let notify = NotifyConfig::parse(text, path)?;
        let can_mail = notify.smtp.is_some() && notify.desk.is_some();
        let schedules = parse_schedules(text, path, &base, &data_dir, can_mail)?;
        let ctx = Context {
            site: enrich.site,
            enricher,
        };
        Ok(ServeConfig {
            listen,
            metrics,
            alerts_db,
            file_interval,
            sinks: serve.sink,
            base,
            jobs: Jobs {
                data: data_dir.clone(),
                rules,
                ctx,
                notify,
                config_label: Some(path.display().to_string()),
            },
            data_dir,
            schedules,
        })
    }
}

/// `30s`, `1m`, `2h` (whole numbers).
fn parse_secs(s: &str) -> Option<Duration> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serve_table_with_defaults() {
        let c = ServeConfig::parse(
            "[serve]\ndata = \"d\"\n",
            Path::new("/etc/fh/flowhound.toml"),
        )
        .expect("parses");
        assert_eq!(c.listen, vec![SocketAddr::from(([0, 0, 0, 0], 2055))]);
        assert_eq!(c.data_dir, PathBuf::from("/etc/fh/d"));
        assert_eq!(c.alerts_db, PathBuf::from("/etc/fh/d/alerts.sqlite"));
        assert_eq!(c.metrics, None);
        assert!(c.jobs.rules.iter().any(|r| r.name == "spam-bot"));
    }

    #[test]
    fn unknown_keys_and_bad_addresses_are_named() {
        let e = ServeConfig::parse("[serve]\nlisten = [\"x\"]\n", Path::new("f.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            e,
            "f.toml:2: serve.listen: \"x\" is not an address and port (e.g. 0.0.0.0:2055, [::]:2055)"
        );
        let e = ServeConfig::parse("[serve]\n\nlisen = []\n", Path::new("f.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("f.toml:3: ") && e.contains("lisen"), "{e}");
        let e = ServeConfig::parse(
            "[serve]\n[[serve.sink]]\ntype = \"jsonl\"\nfile = \"a\"\n",
            Path::new("f.toml"),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("file"), "{e}");
    }
}
