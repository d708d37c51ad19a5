//! Text to tokens. Words (keywords, numbers, addresses, names) are one token
//! kind; the parser reads them by context, which gives better messages than a
//! lexer guessing whether `25` is a number or `1.2.3` an address.

use crate::FilterError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Letters, digits, `_ - . :` (keywords, numbers, addresses, names).
    Word,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Slash,
    /// `!` (not)
    Bang,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `=` or `==`
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
    /// End of input.
    End,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':')
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        let kind = match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b',' => Tok::Comma,
            b'/' => Tok::Slash,
            b'!' => Tok::Bang,
            b'&' | b'|' => {
                if bytes.get(i + 1) == Some(&b) {
                    i += 2;
                    out.push(Token {
                        kind: if b == b'&' { Tok::AndAnd } else { Tok::OrOr },
                        start,
                        end: i,
                    });
                    continue;
                }
                let (op, word) = if b == b'&' {
                    ("&&", "and")
                } else {
                    ("||", "or")
                };
                return Err(FilterError::new(
                    format!("unexpected '{}'; write '{op}' or '{word}'", b as char),
                    start,
                    1,
                    src,
                ));
            }
            b'=' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    i += 1;
                }
                Tok::Eq
            }
            b'<' | b'>' => {
                let with_eq = bytes.get(i + 1) == Some(&b'=');
                if with_eq {
                    i += 1;
                }
                match (b, with_eq) {
                    (b'<', false) => Tok::Lt,
                    (b'<', true) => Tok::Le,
                    (_, false) => Tok::Gt,
                    (_, true) => Tok::Ge,
                }
            }
            _ if is_word_byte(b) => {
                while i < bytes.len() && is_word_byte(bytes[i]) {
                    i += 1;
                }
                out.push(Token {
                    kind: Tok::Word,
                    start,
                    end: i,
                });
                continue;
            }
            b'"' | b'\'' => {
                // nfdump accepts quoted words (`flags 'AS'`); the token is the
                // text between the quotes.
                let close = src[i + 1..].find([b as char, '\n']);
                match close {
                    Some(n) if bytes[i + 1 + n] == b => {
                        out.push(Token {
                            kind: Tok::Word,
                            start: i + 1,
                            end: i + 1 + n,
                        });
                        i += n + 2;
                        continue;
                    }
                    _ => {
                        return Err(FilterError::new(
                            format!("missing closing {} quote", b as char),
                            start,
                            1,
                            src,
                        ))
                    }
                }
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                let shown: String = if ch.is_control() {
                    ch.escape_default().collect()
                } else {
                    ch.into()
                };
                return Err(FilterError::new(
                    format!("unexpected character '{shown}'"),
                    start,
                    ch.len_utf8(),
                    src,
                ));
            }
        };
        i += 1;
        out.push(Token {
            kind,
            start,
            end: i,
        });
    }
    out.push(Token {
        kind: Tok::End,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}
