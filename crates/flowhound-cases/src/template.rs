//! The messages' texts: built-in templates, and editable files that
//! override them. A template is a `Subject:` line, a blank line and the
//! body, with `{{placeholder}}`s; an unknown placeholder is an error that
//! names the file and the placeholder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::CaseError;

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "case",
    "notice",
    "notices",
    "max_notices",
    "renotify_after",
    "host",
    "category",
    "owner",
    "contact",
    "account",
    "network",
    "first_seen",
    "last_seen",
    "what",
    "advice",
    "evidence",
    "history",
    "query",
    "why",
    "from",
    "desk",
];

/// One message's text.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where it came from: the file, or `built-in NAME`.
    pub origin: PathBuf,
    subject: String,
    body: String,
}

/// Which message a template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A notice to the owner (`notice.txt`).
    Notice,
    /// The recommendation to the desk (`suspend.txt`).
    Suspend,
    /// The desk's copy when an owner has no contact (`no_contact.txt`).
    NoContact,
}

impl Kind {
    /// The file name in the templates directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Notice => "notice.txt",
            Kind::Suspend => "suspend.txt",
            Kind::NoContact => "no_contact.txt",
        }
    }

    fn builtin(self) -> &'static str {
        match self {
            Kind::Notice => include_str!("../templates/notice.txt"),
            Kind::Suspend => include_str!("../templates/suspend.txt"),
            Kind::NoContact => include_str!("../templates/no_contact.txt"),
        }
    }
}

const KINDS: [Kind; 3] = [Kind::Notice, Kind::Suspend, Kind::NoContact];

/// The three templates.
#[derive(Debug, Clone)]
pub struct Templates {
    notice: Template,
    suspend: Template,
    no_contact: Template,
}

impl Templates {
    /// The built-in texts.
    pub fn builtin() -> Templates {
        let t = |k: Kind| {
            Template::parse(
                k.builtin(),
                Path::new(&format!("built-in {}", k.file_name())),
            )
            .unwrap_or_else(|e| panic!("a built-in template is broken: {e}"))
        };
        Templates {
            notice: t(Kind::Notice),
            suspend: t(Kind::Suspend),
            no_contact: t(Kind::NoContact),
        }
    }

    /// The files of `dir` that exist, the built-in texts for the others.
    pub fn load(dir: &Path) -> Result<Templates, CaseError> {
        if !dir.is_dir() {
            return Err(CaseError::config(
                dir,
                "notify.templates",
                "not a directory (it holds notice.txt, suspend.txt, no_contact.txt)",
            ));
        }
        let mut t = Templates::builtin();
        for k in KINDS {
            let file = dir.join(k.file_name());
            if file.exists() {
                let text = std::fs::read_to_string(&file).map_err(|e| CaseError::io(&file, e))?;
                *t.get_mut(k) = Template::parse(&text, &file)?;
            }
        }
        Ok(t)
    }

    /// The template for one kind of message.
    pub fn get(&self, k: Kind) -> &Template {
        match k {
            Kind::Notice => &self.notice,
            Kind::Suspend => &self.suspend,
            Kind::NoContact => &self.no_contact,
        }
    }

    fn get_mut(&mut self, k: Kind) -> &mut Template {
        match k {
            Kind::Notice => &mut self.notice,
            Kind::Suspend => &mut self.suspend,
            Kind::NoContact => &mut self.no_contact,
        }
    }
}

impl Template {
    /// Check a template's text (read from `origin`).
    pub fn parse(text: &str, origin: &Path) -> Result<Template, CaseError> {
        let text = text.replace("\r\n", "\n");
        let (first, body) = text.split_once('\n').unwrap_or((&text, ""));
        let subject = first
            .strip_prefix("Subject:")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                CaseError::config(
                    origin,
                    "line 1",
                    "must be `Subject: …`, then a blank line, then the body",
                )
            })?;
        let body = body.strip_prefix('\n').unwrap_or(body);
        for part in [subject, body] {
            for name in placeholders(part)
                .map_err(|p| CaseError::config(origin, p, "unclosed placeholder"))?
            {
                if !PLACEHOLDERS.contains(&name) {
                    return Err(CaseError::config(
                        origin,
                        format!("{{{{{name}}}}}"),
                        format!("unknown placeholder (known: {})", PLACEHOLDERS.join(", ")),
                    ));
                }
            }
        }
        Ok(Template {
            origin: origin.to_path_buf(),
            subject: subject.to_string(),
            body: body.to_string(),
        })
    }

    /// Subject and body with the placeholders filled (missing values: `unknown`).
    pub fn render(&self, vars: &BTreeMap<&str, String>) -> (String, String) {
        (fill(&self.subject, vars), fill(&self.body, vars))
    }
}

/// The names between `{{` and `}}`; `Err` with the text after an unclosed `{{`.
fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        let after = &rest[at + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("{{{{{}", after.chars().take(20).collect::<String>()))?;
        names.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    Ok(names)
}

fn fill(text: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        out.push_str(vars.get(name).map(String::as_str).unwrap_or("unknown"));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_templates_use_known_placeholders() {
        let t = Templates::builtin();
        let vars = BTreeMap::from([("case", "FH-2026-0001".to_string()), ("notice", "1".into())]);
        let (subject, body) = t.get(Kind::Notice).render(&vars);
        assert!(subject.starts_with("[FH-2026-0001] Notice 1:"), "{subject}");
        assert!(
            body.contains("case FH-2026-0001") && !body.contains("{{"),
            "{body}"
        );
    }

    #[test]
    fn a_user_template_overrides_and_an_unknown_placeholder_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("notice.txt"),
            "Subject: Re {{case}}\n\nHi {{ owner }}, {{host}}\n",
        )
        .expect("write");
        let t = Templates::load(dir.path()).expect("valid");
        let vars = BTreeMap::from([("case", "C".to_string()), ("owner", "Ann".into())]);
        assert_eq!(
            t.get(Kind::Notice).render(&vars),
            ("Re C".into(), "Hi Ann, unknown\n".into())
        );
        // the others stay built in
        assert!(t
            .get(Kind::Suspend)
            .origin
            .to_string_lossy()
            .starts_with("built-in"));

        std::fs::write(
            dir.path().join("suspend.txt"),
            "Subject: {{case}}\n\n{{hostname}}\n",
        )
        .expect("write");
        let e = Templates::load(dir.path())
            .expect_err("unknown placeholder")
            .to_string();
        let file = dir.path().join("suspend.txt");
        assert!(
            e.starts_with(&format!(
                "{}: {{{{hostname}}}}: unknown placeholder",
                file.display()
            )),
            "{e}"
        );
        std::fs::write(dir.path().join("suspend.txt"), "Subject: {{case\n\nx\n").expect("write");
        assert!(Templates::load(dir.path())
            .expect_err("unclosed")
            .to_string()
            .contains("unclosed"));
        std::fs::write(dir.path().join("suspend.txt"), "Hello\n\nx\n").expect("write");
        assert!(Templates::load(dir.path())
            .expect_err("no subject")
            .to_string()
            .contains("line 1"));
    }
}
