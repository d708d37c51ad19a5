//! The `[notify]` and `[cases]` tables of the flowhound config file. The
//! other tables belong to other crates and are left alone; inside these two,
//! an unknown key is an error that names it.
//!
//! ```toml
//! [notify]
//! smtp = "127.0.0.1:25"            # host:port; absent: notices wait (or --dry-run DIR)
//! starttls = false                  # false | "opportunistic" | "required" (true = "required")
//! user = "flowhound"                # optional SMTP credentials
//! password = "secret"
//! from = "abuse@example.net"
//! desk = "abuse-desk@example.net"   # suspension recommendations, unreachable owners
//! renotify_after = "24h"            # flow time since the last notice
//! max_notices = 2                   # then: suspension recommended
//! resolve_after = "72h"             # quiet this long (flow time): resolved
//! templates = "templates/"          # notice.txt, suspend.txt, no_contact.txt override the built-in ones
//! suspend_command = "/usr/local/bin/suspend"   # run on suspension-recommended: the case as JSON on stdin
//! [cases]
//! database = "/var/lib/flowhound/cases.sqlite"  # default: DATA/cases.sqlite
//! ```
//!
//! Relative paths are relative to the config file.

use std::path::{Path, PathBuf};

use lettre::message::Mailbox;

use crate::error::CaseError;
use crate::template::Templates;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTls {
    /// Plain SMTP (a relay on the same host or network).
    Off,
    /// STARTTLS when the server offers it, plain otherwise.
    Opportunistic,
    /// STARTTLS or no delivery.
    Required,
}

/// Where and how notices are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    /// The server's host name or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Whether to upgrade with STARTTLS.
    pub starttls: StartTls,
    /// User name and password, when the server wants them.
    pub credentials: Option<(String, String)>,
}

/// The abuse desk's settings: `[notify]` and `[cases]`.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// The SMTP server; `None`: messages wait in the outbox.
    pub smtp: Option<Smtp>,
    /// The sender of every message.
    pub from: String,
    /// The abuse desk's address.
    pub desk: Option<String>,
    /// Flow time from one notice to the next while the problem persists (ms).
    pub renotify_after_ms: i64,
    /// Notices before suspension is recommended.
    pub max_notices: u32,
    /// Flow time without alerts after which a case is resolved (ms).
    pub resolve_after_ms: i64,
    /// The message templates.
    pub templates: Templates,
    /// A shell command run when suspension is recommended.
    pub suspend_command: Option<String>,
    /// The case database, when not DATA/cases.sqlite.
    pub database: Option<PathBuf>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            smtp: None,
            from: "flowhound@localhost".into(),
            desk: None,
            renotify_after_ms: 24 * HOUR,
            max_notices: 2,
            resolve_after_ms: 72 * HOUR,
            templates: Templates::builtin(),
            suspend_command: None,
            database: None,
        }
    }
}

const HOUR: i64 = 3_600_000;

const NOTIFY_KEYS: &[&str] = &[
    "smtp",
    "starttls",
    "user",
    "password",
    "from",
    "desk",
    "renotify_after",
    "max_notices",
    "resolve_after",
    "templates",
    "suspend_command",
];
const CASES_KEYS: &[&str] = &["database"];

impl NotifyConfig {
    /// Read the `[notify]` and `[cases]` tables of a config file.
    pub fn load(path: &Path) -> Result<NotifyConfig, CaseError> {
        let text = std::fs::read_to_string(path).map_err(|e| CaseError::io(path, e))?;
        NotifyConfig::parse(&text, path)
    }

    /// The tables of config `text`, as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<NotifyConfig, CaseError> {
        let top: toml::Table = toml::from_str(text)
            .map_err(|e| CaseError::config(path, "toml", e.message().to_string()))?;
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut c = NotifyConfig::default();
        let bad =
            |key: &str, problem: String| CaseError::config(path, format!("notify.{key}"), problem);

        if let Some(cases) = top.get("cases") {
            let t = cases
                .as_table()
                .ok_or_else(|| CaseError::config(path, "cases", "must be a table ([cases])"))?;
            for (k, v) in t {
                if !CASES_KEYS.contains(&k.as_str()) {
                    return Err(unknown(path, "cases", k, CASES_KEYS));
                }
                let s = v.as_str().ok_or_else(|| {
                    CaseError::config(path, format!("cases.{k}"), "must be a string (a path)")
                })?;
                c.database = Some(base.join(s));
            }
        }
        let Some(notify) = top.get("notify") else {
            return Ok(c);
        };
        let t = notify
            .as_table()
            .ok_or_else(|| CaseError::config(path, "notify", "must be a table ([notify])"))?;
        if let Some(k) = t.keys().find(|k| !NOTIFY_KEYS.contains(&k.as_str())) {
            return Err(unknown(path, "notify", k, NOTIFY_KEYS));
        }
        let string = |key: &str| -> Result<Option<String>, CaseError> {
            match t.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(|s| Some(s.to_string()))
                    .ok_or_else(|| bad(key, format!("must be a string, not {}", v.type_str()))),
            }
        };
        let duration = |key: &str, default: i64| -> Result<i64, CaseError> {
            match string(key)? {
                None => Ok(default),
                Some(s) => parse_duration_ms(&s).ok_or_else(|| {
                    bad(
                        key,
                        format!("bad duration {s:?} (examples: \"24h\", \"90m\", \"3d\")"),
                    )
                }),
            }
        };
        let mailbox = |key: &str, s: String| -> Result<String, CaseError> {
            s.parse::<Mailbox>()
                .map(|_| s.clone())
                .map_err(|e| bad(key, format!("{s:?} is not an e-mail address: {e}")))
        };

        let starttls = match t.get("starttls") {
            None => StartTls::Off,
            Some(toml::Value::Boolean(false)) => StartTls::Off,
            Some(toml::Value::Boolean(true)) => StartTls::Required,
            Some(toml::Value::String(s)) => match s.as_str() {
                "off" | "false" | "no" => StartTls::Off,
                "opportunistic" => StartTls::Opportunistic,
                "required" | "true" | "yes" => StartTls::Required,
                _ => {
                    return Err(bad(
                        "starttls",
                        format!("{s:?}: use false, \"opportunistic\" or \"required\""),
                    ))
                }
            },
            Some(v) => {
                return Err(bad(
                    "starttls",
                    format!(
                        "must be false, \"opportunistic\" or \"required\", not {}",
                        v.type_str()
                    ),
                ))
            }
        };
        let credentials = match (string("user")?, string("password")?) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            (Some(_), None) => return Err(bad("password", "missing: user is set".into())),
            (None, Some(_)) => return Err(bad("user", "missing: password is set".into())),
        };
        if let Some(s) = string("smtp")? {
            let (host, port) = s
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
                .filter(|(h, _)| !h.is_empty())
                .ok_or_else(|| {
                    bad(
                        "smtp",
                        format!("{s:?} is not host:port (e.g. \"127.0.0.1:25\")"),
                    )
                })?;
            c.smtp = Some(Smtp {
                host: host.to_string(),
                port,
                starttls,
                credentials,
            });
        }
        if let Some(s) = string("from")? {
            c.from = mailbox("from", s)?;
        }
        c.desk = string("desk")?.map(|s| mailbox("desk", s)).transpose()?;
        c.renotify_after_ms = duration("renotify_after", c.renotify_after_ms)?;
        c.resolve_after_ms = duration("resolve_after", c.resolve_after_ms)?;
        if let Some(v) = t.get("max_notices") {
            c.max_notices = v
                .as_integer()
                .filter(|n| (1..=100).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| {
                    let shown = match v {
                        toml::Value::Integer(n) => n.to_string(),
                        toml::Value::String(s) => format!("{s:?}"),
                        other => other.type_str().to_string(),
                    };
                    bad(
                        "max_notices",
                        format!("{shown} is not a number from 1 to 100"),
                    )
                })?;
        }
        if let Some(dir) = string("templates")? {
            c.templates = Templates::load(&base.join(dir))?;
        }
        c.suspend_command = string("suspend_command")?.filter(|s| !s.trim().is_empty());
        Ok(c)
    }
}

#[cold]
fn unknown(path: &Path, table: &str, key: &str, known: &[&str]) -> CaseError {
    CaseError::config(
        path,
        format!("{table}.{key}"),
        format!("unknown key (known: {})", known.join(", ")),
    )
}

/// `90s`, `30m`, `24h`, `3d`, `1w`, in milliseconds; `None` when it is not one.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => HOUR,
        "d" => 24 * HOUR,
        "w" => 7 * 24 * HOUR,
        _ => return None,
    };
    n.checked_mul(unit_ms).filter(|&ms| ms > 0)
}

/// `24h`, `90m`, `3d` back from milliseconds, for messages.
pub fn format_duration_ms(ms: i64) -> String {
    for (unit, size) in [
        ("w", 7 * 24 * HOUR),
        ("d", 24 * HOUR),
        ("h", HOUR),
        ("m", 60_000),
    ] {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{}s", ms / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        NotifyConfig::parse(text, Path::new("flowhound.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_full_notify_table_reads() {
        let c = NotifyConfig::parse(
            "[site]\ninternal = [\"10.0.0.0/8\"]\n[notify]\nsmtp = \"127.0.0.1:2525\"\nstarttls = \"opportunistic\"\n\
             user = \"u\"\npassword = \"p\"\nfrom = \"abuse@example.net\"\ndesk = \"desk@example.net\"\n\
             renotify_after = \"12h\"\nmax_notices = 3\nresolve_after = \"3d\"\nsuspend_command = \"true\"\n\
             [cases]\ndatabase = \"c.sqlite\"\n",
            Path::new("/etc/flowhound/flowhound.toml"),
        )
        .expect("valid");
        let smtp = c.smtp.expect("smtp");
        assert_eq!((smtp.host.as_str(), smtp.port), ("127.0.0.1", 2525));
        assert_eq!(smtp.starttls, StartTls::Opportunistic);
        assert_eq!(smtp.credentials, Some(("u".into(), "p".into())));
        assert_eq!(c.renotify_after_ms, 12 * HOUR);
        assert_eq!(c.resolve_after_ms, 72 * HOUR);
        assert_eq!(c.max_notices, 3);
        assert_eq!(c.desk.as_deref(), Some("desk@example.net"));
        assert_eq!(c.database, Some(PathBuf::from("/etc/flowhound/c.sqlite")));
    }

    #[test]
    fn no_notify_table_gives_the_defaults() {
        let c = NotifyConfig::parse("[site]\n", Path::new("f.toml")).expect("valid");
        assert!(c.smtp.is_none());
        assert_eq!((c.renotify_after_ms, c.max_notices), (24 * HOUR, 2));
    }

    #[test]
    fn bad_values_name_the_key() {
        assert_eq!(
            err("[notify]\nrenotify_after = \"1 day\"\n"),
            "flowhound.toml: notify.renotify_after: bad duration \"1 day\" (examples: \"24h\", \"90m\", \"3d\")"
        );
        assert!(err("[notify]\nsmtpp = \"x:1\"\n")
            .starts_with("flowhound.toml: notify.smtpp: unknown key (known: smtp, "));
        assert!(err("[cases]\ndb = \"x\"\n").starts_with("flowhound.toml: cases.db: unknown key"));
        assert!(err("[notify]\nsmtp = \"localhost\"\n")
            .starts_with("flowhound.toml: notify.smtp: \"localhost\" is not host:port"));
        assert!(err("[notify]\nfrom = \"not an address\"\n").starts_with(
            "flowhound.toml: notify.from: \"not an address\" is not an e-mail address"
        ));
        assert!(err("[notify]\nmax_notices = 0\n")
            .starts_with("flowhound.toml: notify.max_notices: 0 is not"));
        assert!(err("[notify]\nmax_notices = \"2\"\n").contains("notify.max_notices"));
        assert!(err("[notify]\nstarttls = \"maybe\"\n")
            .starts_with("flowhound.toml: notify.starttls: \"maybe\""));
        assert!(
            err("[notify]\nuser = \"u\"\n").starts_with("flowhound.toml: notify.password: missing")
        );
        assert!(err("[notify]\nfrom = 3\n")
            .starts_with("flowhound.toml: notify.from: must be a string"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("24h"), Some(24 * HOUR));
        assert_eq!(parse_duration_ms("90m"), Some(90 * 60_000));
        assert_eq!(parse_duration_ms("1w"), Some(7 * 24 * HOUR));
        for bad in ["1 day", "h", "24", "0h", "-1h", "1.5h", ""] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
        assert_eq!(format_duration_ms(24 * HOUR), "1d");
        assert_eq!(format_duration_ms(36 * HOUR), "36h");
    }
}
