//! A bad filter is the user's fault: the error says what is wrong and shows
//! where, quoting the line of the filter with a caret under the offending token.

/// Why a filter did not parse, and where.
///
/// `Display` quotes the offending line and underlines the token:
///
/// ```text
/// filter error: unknown keyword 'prot' (did you mean 'proto'?)
///   proto tcp and prot 25
///                 ^^^^
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct FilterError {
    /// What is wrong, in words, without the position.
    pub message: String,
    /// Byte offset of the offending token in the filter text.
    pub position: usize,
    /// Length in bytes of the offending token (at least 1 when it is shown).
    pub len: usize,
    source_text: String,
}

/// Lines longer than this are shown as a window around the error.
const MAX_SHOWN: usize = 100;

impl FilterError {
    #[cold]
    pub(crate) fn new(message: impl Into<String>, position: usize, len: usize, src: &str) -> Self {
        let position = position.min(src.len());
        let len = len.min(src.len() - position);
        FilterError {
            message: message.into(),
            position,
            len,
            source_text: src.to_owned(),
        }
    }

    /// The whole filter text the error refers to.
    pub fn filter_text(&self) -> &str {
        &self.source_text
    }

    /// 1-based line and column (in characters) of the offending token.
    pub fn line_col(&self) -> (usize, usize) {
        let before = &self.source_text[..self.position];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.source_text[line_start..self.position].chars().count() + 1;
        (line, col)
    }

    fn render(&self) -> String {
        let src = &self.source_text;
        let line_start = src[..self.position].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[self.position..]
            .find('\n')
            .map_or(src.len(), |i| self.position + i);
        let line = src[line_start..line_end].trim_end_matches('\r');
        let multi_line = src.trim_end().contains('\n');

        // Characters before the token and of the token, on this line.
        let pre: Vec<char> = src[line_start..self.position].chars().collect();
        let tok_end = (self.position + self.len).min(line_start + line.len());
        let tok_chars = src[self.position.min(tok_end)..tok_end]
            .chars()
            .count()
            .max(1);
        let all: Vec<char> = line.chars().collect();

        // Window long lines (a 10k-entry list on one line) around the token.
        let (from, to) = if all.len() <= MAX_SHOWN {
            (0, all.len())
        } else {
            let from = pre.len().saturating_sub(MAX_SHOWN / 2);
            let to = (from + MAX_SHOWN).min(all.len()).max(pre.len() + tok_chars);
            (from, to.min(all.len()))
        };
        let mut shown = String::new();
        if from > 0 {
            shown.push_str("...");
        }
        shown.extend(all[from..to].iter());
        if to < all.len() {
            shown.push_str("...");
        }

        let prefix = if multi_line {
            let (n, _) = self.line_col();
            format!("  line {n}: ")
        } else {
            "  ".to_owned()
        };
        let mut caret_pad: String = " ".repeat(prefix.chars().count());
        if from > 0 {
            caret_pad.push_str("   ");
        }
        for c in &pre[from.min(pre.len())..] {
            caret_pad.push(if *c == '\t' { '\t' } else { ' ' });
        }
        format!(
            "filter error: {}\n{prefix}{shown}\n{caret_pad}{}",
            self.message,
            "^".repeat(tok_chars)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carets_line_up_under_tabs_and_wide_characters() {
        let src = "\tproto tcp and\n\tdst  pört 25";
        let pos = src.find("pört").expect("in text");
        let e = FilterError::new("unknown keyword 'pört'", pos, "pört".len(), src);
        assert_eq!(e.line_col(), (2, 7));
        assert_eq!(
            e.to_string(),
            "filter error: unknown keyword 'pört'\n  line 2: \tdst  pört 25\n          \t     ^^^^"
        );
    }

    #[test]
    fn end_of_input_gets_one_caret_after_the_text() {
        let e = FilterError::new("expected a condition", 9, 0, "proto tcp");
        assert_eq!(
            e.to_string(),
            "filter error: expected a condition\n  proto tcp\n           ^"
        );
    }
}
