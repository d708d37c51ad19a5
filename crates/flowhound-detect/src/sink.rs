//! Where live alerts go: a JSON-lines file, syslog (RFC 5424 over UDP or a
//! unix socket), a webhook (HTTP POST of the alert's JSON), or a command
//! (the JSON on its standard input).
//!
//! ```toml
//! [[serve.sink]]
//! type = "jsonl"
//! path = "alerts.jsonl"                 # relative to the config file
//! [[serve.sink]]
//! type = "syslog"
//! address = "127.0.0.1:514"             # or a unix socket: "/dev/log"
//! [[serve.sink]]
//! type = "webhook"
//! url = "http://127.0.0.1:8080/alerts"
//! [[serve.sink]]
//! type = "command"
//! command = ["/usr/local/bin/page-oncall", "--team", "abuse"]
//! ```
//!
//! A command gets the alert on stdin and `FLOWHOUND_HOST`, `FLOWHOUND_RULE`,
//! `FLOWHOUND_CATEGORY`, `FLOWHOUND_SEVERITY` in its environment. A sink that
//! fails says why ([`SinkError`]); what to do then is the caller's.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::alert::Alert;
use crate::rule::Severity;

/// How long a webhook or a command may take.
pub const SINK_TIMEOUT: Duration = Duration::from_secs(10);

/// One `[[serve.sink]]` table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SinkConfig {
    /// Append each alert as one JSON line.
    Jsonl {
        /// The file.
        path: PathBuf,
    },
    /// RFC 5424 messages, the alert's JSON as the message.
    Syslog {
        /// `HOST:PORT` (UDP), or the path of a unix datagram socket.
        address: String,
        /// `auth` (default), `authpriv`, `daemon`, `user`, `local0`–`local7`.
        #[serde(default)]
        facility: Option<String>,
    },
    /// HTTP POST of the alert's JSON.
    Webhook {
        /// `http://…` or `https://…`.
        url: String,
    },
    /// A program run once per alert, the JSON on its standard input.
    Command {
        /// The program and its arguments.
        command: Vec<String>,
    },
}

/// Why a sink cannot be set up or did not take an alert.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The user's: the sink's table makes no sense.
    #[error("sink {sink}: {reason}")]
    Config {
        /// The sink (`type:target`).
        sink: String,
        /// What is wrong.
        reason: String,
    },
    /// The sink failed to take an alert.
    #[error("sink {sink}: {reason}")]
    Delivery {
        /// The sink.
        sink: String,
        /// Why.
        reason: String,
    },
}

fn facility_code(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "authpriv" => 10,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

impl SinkConfig {
    /// `type:target`, for logs and metrics.
    pub fn name(&self) -> String {
        match self {
            SinkConfig::Jsonl { path } => format!("jsonl:{}", path.display()),
            SinkConfig::Syslog { address, .. } => format!("syslog:{address}"),
            SinkConfig::Webhook { url } => format!("webhook:{url}"),
            SinkConfig::Command { command } => {
                format!("command:{}", command.first().map_or("", |c| c.as_str()))
            }
        }
    }

    /// Check the table and set the sink up; relative paths are relative to
    /// `base` (the config file's directory).
    pub fn open(&self, base: &Path) -> Result<Sink, SinkError> {
        let bad = |reason: String| SinkError::Config {
            sink: self.name(),
            reason,
        };
        let target = match self {
            SinkConfig::Jsonl { path } => {
                let path = base.join(path);
                // Fail at the start, not at the first alert.
                open_append(&path)
                    .map_err(|e| bad(format!("cannot open {}: {e}", path.display())))?;
                Target::Jsonl(path)
            }
            SinkConfig::Syslog { address, facility } => {
                let facility = match facility.as_deref() {
                    None => 4,
                    Some(f) => facility_code(f).ok_or_else(|| {
                        bad(format!(
                            "facility {f:?}: use auth, authpriv, daemon, user or local0 to local7"
                        ))
                    })?,
                };
                let to = if address.contains('/') {
                    SyslogTo::Unix(
                        UnixDatagram::unbound().map_err(|e| bad(e.to_string()))?,
                        PathBuf::from(address),
                    )
                } else {
                    let addr: SocketAddr = address
                        .to_socket_addrs()
                        .map_err(|e| {
                            bad(format!(
                                "address {address:?}: {e} (use HOST:PORT or a socket path)"
                            ))
                        })?
                        .next()
                        .ok_or_else(|| bad(format!("address {address:?} resolves to nothing")))?;
                    let local: SocketAddr = if addr.is_ipv4() {
                        ([0, 0, 0, 0], 0).into()
                    } else {
                        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                    };
                    SyslogTo::Udp(
                        UdpSocket::bind(local).map_err(|e| bad(e.to_string()))?,
                        addr,
                    )
                };
                Target::Syslog {
                    to,
                    facility,
                    hostname: hostname(),
                }
            }
            SinkConfig::Webhook { url } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(bad(format!(
                        "url {url:?}: it must start with http:// or https://"
                    )));
                }
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(SINK_TIMEOUT))
                    .build()
                    .into();
                Target::Webhook {
                    agent,
                    url: url.clone(),
                }
            }
            SinkConfig::Command { command } => {
                let Some(program) = command.first() else {
                    return Err(bad("command = [] names no program".into()));
                };
                let program = if program.contains('/') {
                    base.join(program).display().to_string()
                } else {
                    program.clone()
                };
                let mut argv = command.clone();
                argv[0] = program;
                Target::Command(argv)
            }
        };
        Ok(Sink {
            name: self.name(),
            target,
        })
    }
}

fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty() && h.is_ascii() && !h.contains(' '))
        .unwrap_or_else(|| "-".into())
}

enum SyslogTo {
    Udp(UdpSocket, SocketAddr),
    Unix(UnixDatagram, PathBuf),
}

enum Target {
    Jsonl(PathBuf),
    Syslog {
        to: SyslogTo,
        facility: u8,
        hostname: String,
    },
    Webhook {
        agent: ureq::Agent,
        url: String,
    },
    Command(Vec<String>),
}

/// A sink, ready to take alerts.
pub struct Sink {
    name: String,
    target: Target,
}

/// The RFC 5424 severity of an alert.
fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
    }
}

/// An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424, 6.3.3).
fn sd_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One RFC 5424 message for `alert`.
pub fn syslog_message(alert: &Alert, facility: u8, hostname: &str, now_ms: i64) -> String {
    let pri = u32::from(facility) * 8 + u32::from(syslog_severity(alert.severity));
    let ts = chrono::DateTime::from_timestamp_millis(now_ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| "-".into());
    let json = serde_json::to_string(alert).unwrap_or_default();
    format!(
        "<{pri}>1 {ts} {hostname} flowhound {} alert [flowhound@32473 rule=\"{}\" host=\"{}\" category=\"{}\" severity=\"{}\"] {json}",
        std::process::id(),
        sd_value(&alert.rule),
        alert.host,
        sd_value(&alert.category),
        alert.severity.name(),
    )
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Sink {
    /// `type:target`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hand `alert` over; an error says why it did not arrive.
    pub fn deliver(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let fail = |reason: String| SinkError::Delivery {
            sink: self.name.clone(),
            reason,
        };
        let json = serde_json::to_string(alert).map_err(|e| fail(e.to_string()))?;
        match &self.target {
            Target::Jsonl(path) => {
                // Opened per alert: a log rotated away is simply created again.
                let mut f = open_append(path)
                    .map_err(|e| fail(format!("cannot open {}: {e}", path.display())))?;
                let mut line = json.into_bytes();
                line.push(b'\n');
                f.write_all(&line)
                    .and_then(|()| f.flush())
                    .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))
            }
            Target::Syslog {
                to,
                facility,
                hostname,
            } => {
                let msg = syslog_message(alert, *facility, hostname, now_ms());
                match to {
                    SyslogTo::Udp(s, addr) => s.send_to(msg.as_bytes(), addr).map(|_| ()),
                    SyslogTo::Unix(s, path) => s.send_to(msg.as_bytes(), path).map(|_| ()),
                }
                .map_err(|e| fail(e.to_string()))
            }
            Target::Webhook { agent, url } => agent
                .post(url.as_str())
                .header("Content-Type", "application/json")
                .send(json.as_bytes())
                .map(|_| ())
                .map_err(|e| fail(e.to_string())),
            Target::Command(argv) => run_command(argv, alert, json.as_bytes()).map_err(fail),
        }
    }
}

fn run_command(argv: &[String], alert: &Alert, json: &[u8]) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("no program".into());
    };
    let mut child = Command::new(program)
        .args(args)
        .env("FLOWHOUND_HOST", alert.host.to_string())
        .env("FLOWHOUND_RULE", &alert.rule)
        .env("FLOWHOUND_CATEGORY", &alert.category)
        .env("FLOWHOUND_SEVERITY", alert.severity.name())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A program that does not read its input is its business.
        let _ = stdin.write_all(json).and_then(|()| stdin.write_all(b"\n"));
    }
    let deadline = Instant::now() + SINK_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{program} exited with {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} took longer than {} s and was killed",
                    SINK_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        sink: Vec<SinkConfig>,
    }

    #[test]
    fn sink_tables_parse_and_unknown_keys_are_named() {
        let t: T = toml::from_str(
            r#"
[[sink]]
type = "jsonl"
path = "a.jsonl"
[[sink]]
type = "syslog"
address = "127.0.0.1:514"
[[sink]]
type = "webhook"
url = "http://127.0.0.1:1/x"
[[sink]]
type = "command"
command = ["/bin/true"]
"#,
        )
        .expect("parses");
        assert_eq!(t.sink.len(), 4);
        assert_eq!(
            t.sink[0],
            SinkConfig::Jsonl {
                path: "a.jsonl".into()
            }
        );
        let e = toml::from_str::<T>("[[sink]]\ntype = \"jsonl\"\npath = \"a\"\npaht = \"b\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("paht"), "{e}");
        let e = toml::from_str::<T>("[[sink]]\ntype = \"email\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("email") && e.contains("webhook"), "{e}");
    }

    #[test]
    fn syslog_messages_are_rfc5424() {
        let a: Alert = serde_json::from_value(serde_json::json!({
            "host": "10.0.17.17", "rule": "spam-bot", "category": "spam", "severity": "high",
            "description": "", "window_start": "2026-11-26T14:00:00Z",
            "window_end": "2026-11-26T15:00:00Z", "flows": 1, "packets": 1, "bytes": 1,
            "distinct_peers": 1, "distinct_ports": 1, "syn_only_percent": 0,
            "peak_window_flows": 1, "top_ports": [], "top_countries": [],
            "filter": "x", "window": "y", "references": []
        }))
        .expect("alert");
        let m = syslog_message(&a, 4, "box", 0);
        assert!(
            m.starts_with("<35>1 1970-01-01T00:00:00.000Z box flowhound "),
            "{m}"
        );
        assert!(m.contains(" alert [flowhound@32473 rule=\"spam-bot\" host=\"10.0.17.17\" category=\"spam\" severity=\"high\"] {"));
        assert_eq!(sd_value("a\"b]c\\"), "a\\\"b\\]c\\\\");
    }

    #[test]
    fn bad_sinks_are_refused_at_the_start() {
        let base = Path::new("/");
        let e = SinkConfig::Webhook {
            url: "ftp://x".into(),
        }
        .open(base)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("http://"), "{e}");
        let e = SinkConfig::Command { command: vec![] }
            .open(base)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("no program"), "{e}");
        let e = SinkConfig::Syslog {
            address: "127.0.0.1:514".into(),
            facility: Some("mars".into()),
        }
        .open(base)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("mars"), "{e}");
    }
}
