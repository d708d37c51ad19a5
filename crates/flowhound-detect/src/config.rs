//! The `[detect]` table of the flowhound config: which rules run.
//!
//! ```toml
//! [detect]
//! rules = ["rules/local.toml"]     # the site's own rules, beside the pack
//! builtin = true                   # the built-in pack (default)
//! [detect.tune.spam-bot]           # any field of a built-in rule
//! threshold = { flows = 500 }
//! [detect.tune.conficker]
//! enabled = false
//! [[detect.blocklist]]
//! name = "spamhaus-drop"
//! file = "drop.txt"                # one CIDR per line; DROP's "CIDR ; SBL…"
//! severity = "high"
//! ```
//!
//! Relative paths are relative to the config file. Other tables of the
//! file belong to other crates and are left alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::blocklist::{blocklist_rules, parse_blocklist};
use crate::error::DetectError;
use crate::rule::{builtin_raw, line_of, parse_rules, RawRule, Rule, Severity};

#[derive(Deserialize, Default)]
struct RawTop {
    #[serde(default)]
    detect: Option<toml::Spanned<RawDetect>>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawDetect {
    rules: Vec<String>,
    builtin: Option<bool>,
    tune: BTreeMap<String, toml::Spanned<RawRule>>,
    blocklist: Vec<toml::Spanned<RawBlocklist>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlocklist {
    name: String,
    file: String,
    severity: Option<Severity>,
}

/// The rules that run: the built-in pack (tuned), the site's own rule
/// files, and blocklists.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    /// Every enabled rule, the pack's first.
    pub rules: Vec<Rule>,
    /// Built-in rules the config turned off.
    pub disabled: Vec<String>,
}

impl RuleSet {
    /// The built-in pack alone.
    pub fn builtin() -> Result<RuleSet, DetectError> {
        RuleSet::load(None, &[])
    }

    /// The rules for a config file (its `[detect]` table; `None`: defaults)
    /// and more rule files named on the command line.
    pub fn load(config: Option<&Path>, extra: &[PathBuf]) -> Result<RuleSet, DetectError> {
        let (text, path) = match config {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|e| DetectError::File {
                    file: p.display().to_string(),
                    reason: format!("cannot read: {e}"),
                })?,
                p.to_path_buf(),
            ),
            None => (String::new(), PathBuf::new()),
        };
        RuleSet::from_config_text(&text, &path, extra)
    }

    /// [`RuleSet::load`] on config text read from `path`.
    pub fn from_config_text(
        text: &str,
        path: &Path,
        extra: &[PathBuf],
    ) -> Result<RuleSet, DetectError> {
        let file = path.display().to_string();
        let raw: RawTop = toml::from_str(text).map_err(|e| DetectError::Rule {
            file: file.clone(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            reason: e.message().to_string(),
        })?;
        let detect = raw.detect.map(|d| d.into_inner()).unwrap_or_default();
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut set = RuleSet::default();
        let builtin = builtin_raw();
        for (name, t) in &detect.tune {
            if !builtin.iter().any(|r| r.name.as_deref() == Some(name)) {
                return Err(DetectError::Rule {
                    file: file.clone(),
                    line: line_of(text, t.span().start),
                    reason: format!(
                        "detect.tune.{name}: no built-in rule is called {name:?} (`flowhound detect --list-rules` shows them)"
                    ),
                });
            }
        }
        if detect.builtin.unwrap_or(true) {
            for raw in builtin {
                let name = raw.name.clone().unwrap_or_default();
                let (raw, origin, line) = match detect.tune.get(&name) {
                    Some(t) => {
                        let line = line_of(text, t.span().start);
                        if t.get_ref().enabled == Some(false) {
                            set.disabled.push(name);
                            continue;
                        }
                        if t.get_ref().name.is_some() {
                            return Err(DetectError::Rule {
                                file: file.clone(),
                                line,
                                reason: format!(
                                    "detect.tune.{name}: the table's name is the rule's; leave `name` out"
                                ),
                            });
                        }
                        (
                            raw.tuned(t.get_ref()),
                            format!("built-in, tuned at {file}:{line}"),
                            line,
                        )
                    }
                    None => (raw, "built-in".to_string(), 0),
                };
                let rule = raw.build(&origin).map_err(|reason| DetectError::Rule {
                    file: if line == 0 {
                        "built-in rules".into()
                    } else {
                        file.clone()
                    },
                    line: line.max(1),
                    reason,
                })?;
                set.rules.push(rule);
            }
        }
        let mut files: Vec<PathBuf> = detect.rules.iter().map(|r| base.join(r)).collect();
        files.extend(extra.iter().cloned());
        for f in files {
            let t = std::fs::read_to_string(&f).map_err(|e| DetectError::File {
                file: f.display().to_string(),
                reason: format!(
                    "cannot read the rule file (named in {}): {e}",
                    if extra.contains(&f) {
                        "--rules".to_string()
                    } else {
                        format!("{file}, detect.rules")
                    }
                ),
            })?;
            for rule in parse_rules(&t, &f)? {
                set.push(rule)?;
            }
        }
        for b in detect.blocklist {
            let line = line_of(text, b.span().start);
            let b = b.into_inner();
            let f = base.join(&b.file);
            let t = std::fs::read_to_string(&f).map_err(|e| DetectError::Rule {
                file: file.clone(),
                line,
                reason: format!(
                    "detect.blocklist {:?}: cannot read {}: {e}",
                    b.name,
                    f.display()
                ),
            })?;
            let networks = parse_blocklist(&t, &f)?;
            for rule in blocklist_rules(
                &b.name,
                networks,
                b.severity.unwrap_or(Severity::High),
                &f.display().to_string(),
            ) {
                set.push(rule)?;
            }
        }
        Ok(set)
    }

    fn push(&mut self, rule: Rule) -> Result<(), DetectError> {
        if let Some(o) = self.rules.iter().find(|o| o.name == rule.name) {
            return Err(DetectError::File {
                file: rule.origin.clone(),
                reason: format!(
                    "rule {:?} is already defined ({}); pick another name, or tune the built-in one in [detect.tune.{}]",
                    rule.name, o.origin, rule.name
                ),
            });
        }
        self.rules.push(rule);
        Ok(())
    }
}
