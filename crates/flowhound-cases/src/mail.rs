//! Where messages go: a real SMTP server, or `.eml` files (dry run).

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use crate::config::{NotifyConfig, StartTls};
use crate::error::{CaseError, MailError};

/// One message from the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The case it is about.
    pub case: String,
    /// Which message of the case (`notice-1`, `suspend`, …): unique per case.
    pub label: String,
    /// The sender.
    pub from: String,
    /// The recipients, comma-separated.
    pub to: String,
    /// The subject (carries the case reference).
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// An HTML version of the body (a report), sent beside the plain text
    /// as `multipart/alternative`.
    pub html: Option<String>,
    /// The `Message-ID` (stable: a retry is the same message).
    pub message_id: String,
    /// The first message of the case, which this one follows up.
    pub in_reply_to: Option<String>,
}

impl Outgoing {
    /// The RFC 5322 message.
    pub fn message(&self) -> Result<Message, CaseError> {
        let bad = |problem: String| CaseError::Message {
            what: format!("{} {}", self.case, self.label),
            problem,
        };
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|e| bad(format!("from {:?}: {e}", self.from)))?;
        let mut b = Message::builder()
            .from(from)
            .subject(self.subject.clone())
            .message_id(Some(self.message_id.clone()));
        for to in recipients(&self.to) {
            let m: Mailbox = to.parse().map_err(|e| bad(format!("to {to:?}: {e}")))?;
            b = b.to(m);
        }
        if let Some(first) = &self.in_reply_to {
            b = b.in_reply_to(first.clone()).references(first.clone());
        }
        match &self.html {
            Some(html) => b.multipart(MultiPart::alternative_plain_html(
                self.body.clone(),
                html.clone(),
            )),
            None => b.header(ContentType::TEXT_PLAIN).body(self.body.clone()),
        }
        .map_err(|e| bad(e.to_string()))
    }
}

/// The addresses of a contact field (`a@x, b@y` or `a@x; b@y`).
pub fn recipients(list: &str) -> impl Iterator<Item = &str> {
    list.split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Where the outbox goes.
pub enum Mailer {
    /// An SMTP server.
    Smtp {
        /// The transport.
        transport: Box<SmtpTransport>,
        /// `smtp HOST:PORT`, for messages.
        label: String,
    },
    /// `.eml` files in a directory instead of sending; commands do not run.
    DryRun(PathBuf),
    /// Nowhere configured: messages wait in the outbox.
    None,
}

impl Mailer {
    /// The SMTP server of `[notify] smtp`, or [`Mailer::None`] without one.
    pub fn from_config(c: &NotifyConfig) -> Result<Mailer, CaseError> {
        let Some(s) = &c.smtp else {
            return Ok(Mailer::None);
        };
        let tls = |required: bool| -> Result<Tls, CaseError> {
            let p = TlsParameters::new(s.host.clone()).map_err(|e| CaseError::Message {
                what: "the SMTP connection".into(),
                problem: e.to_string(),
            })?;
            Ok(if required {
                Tls::Required(p)
            } else {
                Tls::Opportunistic(p)
            })
        };
        let mut b = SmtpTransport::builder_dangerous(&s.host)
            .port(s.port)
            .timeout(Some(Duration::from_secs(30)));
        match s.starttls {
            StartTls::Off => {}
            StartTls::Opportunistic => b = b.tls(tls(false)?),
            StartTls::Required => b = b.tls(tls(true)?),
        }
        if let Some((u, p)) = &s.credentials {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(Mailer::Smtp {
            transport: Box::new(b.build()),
            label: format!("smtp {}:{}", s.host, s.port),
        })
    }

    /// Write messages into `dir` instead of sending them.
    pub fn dry_run(dir: impl Into<PathBuf>) -> Mailer {
        Mailer::DryRun(dir.into())
    }

    /// Where messages go, for people.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { label, .. } => label.clone(),
            Mailer::DryRun(dir) => format!("dry run {}", dir.display()),
            Mailer::None => "nowhere".into(),
        }
    }

    /// Send one message (or write it); `Ok` with where it went.
    pub fn send(&self, m: &Outgoing) -> Result<String, CaseError> {
        let message = m.message()?;
        let fail = |reason: String| MailError {
            via: self.describe(),
            reason,
        };
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(&message).map_err(|e| fail(e.to_string()))?;
                Ok(self.describe())
            }
            Mailer::DryRun(dir) => {
                let file = dir.join(format!("{}-{}.eml", m.case, m.label));
                write_atomically(dir, &file, &message.formatted())
                    .map_err(|e| fail(format!("{}: {e}", file.display())))?;
                Ok(file.display().to_string())
            }
            Mailer::None => Err(fail(
                "no [notify] smtp in the config (or --dry-run DIR): the message waits".into(),
            )
            .into()),
        }
    }
}

fn write_atomically(dir: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = file.with_extension("eml.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing() -> Outgoing {
        Outgoing {
            case: "FH-2026-0001".into(),
            label: "notice-2".into(),
            from: "abuse@example.net".into(),
            to: "ann@example.net, bob@example.net".into(),
            subject: "[FH-2026-0001] Notice 2".into(),
            body: "Dear Ann,\nthe evidence.\n".into(),
            html: None,
            message_id: "<FH-2026-0001.notice-2@example.net>".into(),
            in_reply_to: Some("<FH-2026-0001.notice-1@example.net>".into()),
        }
    }

    #[test]
    fn a_dry_run_writes_an_rfc5322_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("eml");
        let via = Mailer::dry_run(&out).send(&outgoing()).expect("written");
        assert!(via.ends_with("FH-2026-0001-notice-2.eml"), "{via}");
        let text = std::fs::read_to_string(&via).expect("read");
        for h in [
            "From: abuse@example.net",
            "To: ann@example.net, bob@example.net",
            "Subject: [FH-2026-0001] Notice 2",
            "Message-ID: <FH-2026-0001.notice-2@example.net>",
            "In-Reply-To: <FH-2026-0001.notice-1@example.net>",
            "Date: ",
        ] {
            assert!(text.contains(h), "{h} in {text}");
        }
        assert!(text.contains("the evidence."), "{text}");
    }

    #[test]
    fn an_html_body_goes_beside_the_plain_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = outgoing();
        m.html = Some("<h1>SMTP report</h1>".into());
        let via = Mailer::dry_run(dir.path()).send(&m).expect("written");
        let text = std::fs::read_to_string(&via).expect("read");
        for want in [
            "multipart/alternative",
            "Content-Type: text/plain",
            "Content-Type: text/html",
            "<h1>SMTP report</h1>",
            "the evidence.",
        ] {
            assert!(text.contains(want), "{want} in {text}");
        }
    }

    #[test]
    fn a_bad_address_is_refused_before_sending() {
        let mut m = outgoing();
        m.to = "not an address".into();
        let e = Mailer::None.send(&m).expect_err("bad address").to_string();
        assert!(
            e.contains("FH-2026-0001 notice-2") && e.contains("not an address"),
            "{e}"
        );
    }
}
