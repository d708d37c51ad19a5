//! Tokens to [`Expr`]: a recursive-descent parser with nfdump's precedence
//! (`not` binds tightest, then `and`, then `or`) and context-sensitive reading
//! of words, so every error can name what was expected at that spot.

use crate::ast::{
    v4_prefix_range, v6_prefix_ranges, AddrSet, Cmp, CounterField, Direction, Expr, Family,
    FlagsTest, IcmpPart, IfDirection,
};
use crate::lexer::{lex, Tok, Token};
use crate::FilterError;
use flowhound_model::{addr_from_v4, addr_from_v6, Addr};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Keywords that may start a condition, for suggestions.
const TERM_KEYWORDS: &[&str] = &[
    "any",
    "ipv4",
    "ipv6",
    "inet",
    "inet6",
    "proto",
    "ip",
    "host",
    "net",
    "port",
    "src",
    "dst",
    "in",
    "out",
    "if",
    "as",
    "tos",
    "mask",
    "vlan",
    "flags",
    "icmp-type",
    "icmp-code",
    "packets",
    "bytes",
    "flows",
    "duration",
    "pps",
    "bps",
    "bpp",
    "router",
    "next",
    "flowdir",
    "geo",
    "not",
];

/// Keywords that may follow `src`/`dst`.
const DIR_KEYWORDS: &[&str] = &[
    "ip", "host", "net", "port", "as", "mask", "vlan", "tos", "geo",
];

/// Protocol names nfdump users type, with their numbers.
const PROTOCOLS: &[(&str, u8)] = &[
    ("hopopt", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ggp", 3),
    ("ipip", 4),
    ("ipencap", 4),
    ("st", 5),
    ("tcp", 6),
    ("egp", 8),
    ("igp", 9),
    ("pup", 12),
    ("udp", 17),
    ("hmp", 20),
    ("xns-idp", 22),
    ("rdp", 27),
    ("iso-tp4", 29),
    ("dccp", 33),
    ("xtp", 36),
    ("ddp", 37),
    ("idpr-cmtp", 38),
    ("ipv6", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("idrp", 45),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("skip", 57),
    ("icmp6", 58),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("rspf", 73),
    ("vmtp", 81),
    ("eigrp", 88),
    ("ospf", 89),
    ("ax.25", 93),
    ("ipx-in-ip", 94),
    ("etherip", 97),
    ("encap", 98),
    ("pim", 103),
    ("ipcomp", 108),
    ("vrrp", 112),
    ("l2tp", 115),
    ("isis", 124),
    ("sctp", 132),
    ("fc", 133),
    ("mobility-header", 135),
    ("udplite", 136),
    ("mpls-in-ip", 137),
    ("manet", 138),
    ("hip", 139),
    ("shim6", 140),
    ("wesp", 141),
    ("rohc", 142),
    ("ethernet", 143),
];

pub(crate) fn parse_expr(src: &str) -> Result<Expr, FilterError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    if p.peek().kind == Tok::End {
        return Ok(Expr::Any);
    }
    let e = p.parse_or()?;
    let t = p.peek();
    if t.kind != Tok::End {
        return Err(p.trailing(t));
    }
    Ok(e)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    /// Nesting of `(` and `not`, bounded so that no input can exhaust the stack.
    depth: usize,
}

/// Deeper nesting than any person writes; the bound keeps recursion safe.
const MAX_DEPTH: usize = 200;

fn flatten_into(v: &mut Vec<Expr>, e: Expr, and: bool) {
    match e {
        Expr::And(inner) if and => v.extend(inner),
        Expr::Or(inner) if !and => v.extend(inner),
        e => v.push(e),
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Token {
        self.toks[self.pos]
    }

    fn peek_at(&self, n: usize) -> Token {
        self.toks[(self.pos + n).min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos];
        if t.kind != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn text(&self, t: Token) -> &'a str {
        &self.src[t.start..t.end]
    }

    fn is_word(&self, t: Token, kw: &str) -> bool {
        t.kind == Tok::Word && self.text(t).eq_ignore_ascii_case(kw)
    }

    fn describe(&self, t: Token) -> String {
        match t.kind {
            Tok::End => "end of filter".to_owned(),
            _ => format!("'{}'", self.text(t)),
        }
    }

    #[cold]
    fn err(&self, msg: impl Into<String>, t: Token) -> FilterError {
        FilterError::new(msg, t.start, t.end - t.start, self.src)
    }

    #[cold]
    fn err_span(&self, msg: impl Into<String>, from: Token, to: Token) -> FilterError {
        FilterError::new(msg, from.start, to.end.saturating_sub(from.start), self.src)
    }

    /// A token left over after a complete condition.
    #[cold]
    fn trailing(&self, t: Token) -> FilterError {
        match t.kind {
            Tok::RParen => self.err("unmatched ')'", t),
            Tok::Word => {
                let w = self.text(t).to_ascii_lowercase();
                if TERM_KEYWORDS.contains(&w.as_str()) {
                    self.err(
                        format!("missing 'and' or 'or' before '{}'", self.text(t)),
                        t,
                    )
                } else {
                    self.err(
                        format!(
                            "unexpected '{}' after a complete condition; join conditions with 'and' or 'or'",
                            self.text(t)
                        ),
                        t,
                    )
                }
            }
            _ => self.err(
                format!("unexpected {} after a complete condition", self.describe(t)),
                t,
            ),
        }
    }

    fn is_or(&self, t: Token) -> bool {
        t.kind == Tok::OrOr || self.is_word(t, "or")
    }

    fn is_and(&self, t: Token) -> bool {
        t.kind == Tok::AndAnd || self.is_word(t, "and")
    }

    fn parse_or(&mut self) -> Result<Expr, FilterError> {
        let first = self.parse_and()?;
        if !self.is_or(self.peek()) {
            return Ok(first);
        }
        let mut v = Vec::new();
        flatten_into(&mut v, first, false);
        while self.is_or(self.peek()) {
            let op = self.bump();
            let e = self.parse_operand(op)?;
            let e = self.parse_and_rest(e)?;
            flatten_into(&mut v, e, false);
        }
        Ok(Expr::Or(v))
    }

    fn parse_and(&mut self) -> Result<Expr, FilterError> {
        let first = self.parse_unary()?;
        self.parse_and_rest(first)
    }

    fn parse_and_rest(&mut self, first: Expr) -> Result<Expr, FilterError> {
        if !self.is_and(self.peek()) {
            return Ok(first);
        }
        let mut v = Vec::new();
        flatten_into(&mut v, first, true);
        while self.is_and(self.peek()) {
            let op = self.bump();
            let e = self.parse_operand(op)?;
            flatten_into(&mut v, e, true);
        }
        Ok(Expr::And(v))
    }

    /// The right-hand side of `and`/`or`: says which operator lacks it.
    fn parse_operand(&mut self, op: Token) -> Result<Expr, FilterError> {
        let t = self.peek();
        if matches!(t.kind, Tok::End | Tok::RParen) || self.is_and(t) || self.is_or(t) {
            return Err(self.err(
                format!(
                    "'{}' needs a condition after it, found {}",
                    self.text(op),
                    self.describe(t)
                ),
                if t.kind == Tok::End { op } else { t },
            ));
        }
        self.parse_unary()
    }

    fn parse_unary(&mut self) -> Result<Expr, FilterError> {
        let t = self.peek();
        if self.depth >= MAX_DEPTH {
            return Err(self.err(
                format!("filter nests deeper than {MAX_DEPTH} parentheses or 'not's"),
                t,
            ));
        }
        self.depth += 1;
        let r = self.parse_unary_inner(t);
        self.depth -= 1;
        r
    }

    fn parse_unary_inner(&mut self, t: Token) -> Result<Expr, FilterError> {
        if t.kind == Tok::Bang || self.is_word(t, "not") {
            self.bump();
            if t.kind == Tok::Bang && self.peek().kind == Tok::Eq && self.peek().start == t.end {
                let eq = self.peek();
                return Err(self.err_span(
                    "'!=' is not a comparator here; write 'not' before the condition",
                    t,
                    eq,
                ));
            }
            let next = self.peek();
            if matches!(next.kind, Tok::End | Tok::RParen) {
                return Err(self.err(
                    format!(
                        "'{}' needs a condition after it, found {}",
                        self.text(t),
                        self.describe(next)
                    ),
                    if next.kind == Tok::End { t } else { next },
                ));
            }
            let inner = self.parse_unary()?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> Result<Expr, FilterError> {
        let t = self.peek();
        match t.kind {
            Tok::LParen => {
                self.bump();
                if self.peek().kind == Tok::RParen {
                    let close = self.peek();
                    return Err(self.err_span("empty parentheses", t, close));
                }
                let e = self.parse_or()?;
                let close = self.peek();
                match close.kind {
                    Tok::RParen => {
                        self.bump();
                        Ok(e)
                    }
                    Tok::End => Err(self.err("missing ')' to close this '('", t)),
                    _ => Err(self.trailing(close)),
                }
            }
            Tok::Word => self.parse_term(),
            Tok::RParen => Err(self.err("unmatched ')'", t)),
            Tok::End => Err(self.err("expected a condition, found end of filter", t)),
            _ => Err(self.err(
                format!("expected a condition, found {}", self.describe(t)),
                t,
            )),
        }
    }

    fn parse_term(&mut self) -> Result<Expr, FilterError> {
        let t = self.bump();
        let word = self.text(t);
        let lw = word.to_ascii_lowercase();
        match lw.as_str() {
            "any" => Ok(Expr::Any),
            "ipv4" | "inet" => Ok(Expr::Family(Family::Ipv4)),
            "ipv6" | "inet6" => Ok(Expr::Family(Family::Ipv6)),
            "proto" => self.parse_proto(t),
            "src" | "dst" => {
                let mut dir = if lw == "src" {
                    Direction::Src
                } else {
                    Direction::Dst
                };
                let other = if lw == "src" { "dst" } else { "src" };
                let op = self.peek();
                if (self.is_and(op) || self.is_or(op)) && self.is_word(self.peek_at(1), other) {
                    dir = if self.is_and(op) {
                        Direction::Both
                    } else {
                        Direction::Either
                    };
                    self.bump();
                    self.bump();
                }
                let kw = self.bump();
                self.parse_directed(dir, Some(t), kw)
            }
            "ip" | "host" | "net" | "port" | "as" | "mask" | "vlan" | "geo" | "tos" => {
                self.parse_directed(Direction::Either, None, t)
            }
            "in" | "out" => {
                let k = self.bump();
                if self.is_word(k, "if") {
                    let value = self.parse_number(k, u32::MAX as u64, "interface index")? as u32;
                    let dir = if lw == "in" {
                        IfDirection::In
                    } else {
                        IfDirection::Out
                    };
                    Ok(Expr::Interface { dir, value })
                } else if self.is_word(k, "packets") || self.is_word(k, "bytes") {
                    if lw == "out" {
                        return Err(self.err_span(
                            format!(
                                "'out {}' is not stored: flows hold the input counts only; write '{}'",
                                self.text(k),
                                self.text(k).to_ascii_lowercase()
                            ),
                            t,
                            k,
                        ));
                    }
                    // nfdump: `in packets` is `packets`.
                    self.parse_counter(k)
                } else {
                    Err(self.err(
                        format!("expected 'if' after '{word}', found {}", self.describe(k)),
                        k,
                    ))
                }
            }
            "if" => {
                let value = self.parse_number(t, u32::MAX as u64, "interface index")? as u32;
                Ok(Expr::Interface {
                    dir: IfDirection::Either,
                    value,
                })
            }
            "flags" => self.parse_flags(t),
            "icmp-type" | "icmp-code" => {
                let part = if lw == "icmp-type" {
                    IcmpPart::Type
                } else {
                    IcmpPart::Code
                };
                let cmp = self.parse_cmp();
                let value = self.parse_number(t, 255, &lw)? as u8;
                Ok(Expr::Icmp { part, cmp, value })
            }
            "packets" | "bytes" | "flows" | "duration" | "pps" | "bps" | "bpp" => {
                self.parse_counter(t)
            }
            "router" | "next" => {
                let k = self.bump();
                if !self.is_word(k, "ip") {
                    return Err(self.err(
                        format!("expected 'ip' after '{word}', found {}", self.describe(k)),
                        k,
                    ));
                }
                let set = self.parse_addr_or_list(k)?;
                Ok(if lw == "router" {
                    Expr::Exporter(set)
                } else {
                    Expr::NextHop(set)
                })
            }
            "flowdir" | "dir" => {
                let v = self.bump();
                let d = if self.is_word(v, "ingress") || self.is_word(v, "0") {
                    0
                } else if self.is_word(v, "egress") || self.is_word(v, "1") {
                    1
                } else {
                    return Err(self.err(
                        format!(
                            "'{word}' takes ingress, egress, 0 or 1, found {}",
                            self.describe(v)
                        ),
                        v,
                    ));
                };
                Ok(Expr::FlowDir(d))
            }
            _ => Err(self.unknown_term(t)),
        }
    }

    #[cold]
    fn unknown_term(&self, t: Token) -> FilterError {
        let word = self.text(t);
        let lw = word.to_ascii_lowercase();
        if PROTOCOLS.iter().any(|(name, _)| *name == lw) {
            return self.err(
                format!("unknown keyword '{word}' (did you mean 'proto {lw}'?)"),
                t,
            );
        }
        if word.starts_with(|c: char| c.is_ascii_digit()) || word.contains(':') {
            if parse_ip(word).is_some() {
                return self.err(
                    format!("expected a condition, found '{word}' (did you mean 'ip {word}'?)"),
                    t,
                );
            }
            return self.err(format!("expected a condition, found '{word}'"), t);
        }
        match suggest(&lw, TERM_KEYWORDS) {
            Some(s) => self.err(format!("unknown keyword '{word}' (did you mean '{s}'?)"), t),
            None => self.err(format!("unknown keyword '{word}'"), t),
        }
    }

    /// After `[src|dst|src and dst|src or dst]`: the field keyword and its argument.
    fn parse_directed(
        &mut self,
        dir: Direction,
        qual: Option<Token>,
        kw: Token,
    ) -> Result<Expr, FilterError> {
        let word = self.text(kw);
        let lw = word.to_ascii_lowercase();
        match lw.as_str() {
            "ip" | "host" => {
                let set = self.parse_addr_or_list(kw)?;
                Ok(Expr::Addr { dir, set })
            }
            "net" => {
                let set = self.parse_net(kw)?;
                Ok(Expr::Addr { dir, set })
            }
            "port" => {
                if self.is_word(self.peek(), "in") {
                    self.bump();
                    let ports: Vec<u16> = self
                        .parse_number_list(65535, "port")?
                        .into_iter()
                        .map(|n| n as u16)
                        .collect();
                    return Ok(Expr::PortIn {
                        dir,
                        ports: ports.into(),
                    });
                }
                let cmp = self.parse_cmp();
                let value = self.parse_number(kw, 65535, "port")? as u16;
                Ok(Expr::Port { dir, cmp, value })
            }
            "as" => {
                if self.is_word(self.peek(), "in") {
                    self.bump();
                    let numbers: Vec<u32> = self
                        .parse_number_list(u32::MAX as u64, "AS number")?
                        .into_iter()
                        .map(|n| n as u32)
                        .collect();
                    return Ok(Expr::AsIn {
                        dir,
                        numbers: numbers.into(),
                    });
                }
                let cmp = self.parse_cmp();
                let value = self.parse_number(kw, u32::MAX as u64, "AS number")? as u32;
                Ok(Expr::As { dir, cmp, value })
            }
            "mask" => {
                let value = self.parse_number(kw, 128, "mask")? as u8;
                Ok(Expr::Mask { dir, value })
            }
            "vlan" => {
                let value = self.parse_number(kw, 65535, "VLAN id")? as u16;
                Ok(Expr::Vlan { dir, value })
            }
            "tos" => {
                if !matches!(dir, Direction::Src | Direction::Either) {
                    let q = qual.unwrap_or(kw);
                    return Err(self.err_span(
                        "only the source ToS is stored; write 'tos' or 'src tos'",
                        q,
                        kw,
                    ));
                }
                let cmp = self.parse_cmp();
                let value = self.parse_number(kw, 255, "tos")? as u8;
                Ok(Expr::Tos { cmp, value })
            }
            "geo" => {
                let v = self.bump();
                let cc = self.text(v);
                if v.kind != Tok::Word
                    || cc.len() != 2
                    || !cc.bytes().all(|b| b.is_ascii_alphabetic())
                {
                    return Err(self.err(
                        format!(
                            "'geo' takes a two-letter country code, found {}",
                            self.describe(v)
                        ),
                        v,
                    ));
                }
                let b = cc.as_bytes();
                Ok(Expr::Geo {
                    dir,
                    country: [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()],
                })
            }
            _ => {
                let q = qual.map(|q| self.text(q)).unwrap_or("");
                let mut msg = format!(
                    "expected ip, host, net, port, as, mask, vlan, tos or geo after '{q}', found {}",
                    self.describe(kw)
                );
                if kw.kind == Tok::Word {
                    if let Some(s) = suggest(&lw, DIR_KEYWORDS) {
                        msg = format!("unknown keyword '{word}' after '{q}' (did you mean '{s}'?)");
                    }
                }
                Err(self.err(msg, kw))
            }
        }
    }

    fn parse_counter(&mut self, kw: Token) -> Result<Expr, FilterError> {
        let lw = self.text(kw).to_ascii_lowercase();
        let field = match lw.as_str() {
            "packets" => CounterField::Packets,
            "bytes" => CounterField::Bytes,
            "flows" => CounterField::Flows,
            "duration" => CounterField::Duration,
            "pps" => CounterField::Pps,
            "bps" => CounterField::Bps,
            _ => CounterField::Bpp,
        };
        let cmp = self.parse_cmp();
        let value = self.parse_number(kw, u64::MAX, &lw)?;
        Ok(Expr::Counter { field, cmp, value })
    }

    fn parse_proto(&mut self, kw: Token) -> Result<Expr, FilterError> {
        let t = self.bump();
        if t.kind != Tok::Word {
            return Err(self.err(
                format!(
                    "expected a protocol name or number after 'proto', found {}",
                    self.describe(t)
                ),
                if t.kind == Tok::End { kw } else { t },
            ));
        }
        let s = self.text(t);
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            let n = self.number_value(t, 255, "protocol number")?;
            return Ok(Expr::Proto(n as u8));
        }
        let ls = s.to_ascii_lowercase();
        if let Some((_, n)) = PROTOCOLS.iter().find(|(name, _)| *name == ls) {
            return Ok(Expr::Proto(*n));
        }
        let names: Vec<&str> = PROTOCOLS.iter().map(|(n, _)| *n).collect();
        Err(match suggest(&ls, &names) {
            Some(sug) => self.err(format!("unknown protocol '{s}' (did you mean '{sug}'?)"), t),
            None => self.err(format!("unknown protocol '{s}'"), t),
        })
    }

    fn parse_flags(&mut self, kw: Token) -> Result<Expr, FilterError> {
        let cmp_tok = self.peek();
        let has_cmp = self.cmp_at(cmp_tok).is_some();
        let cmp = self.parse_cmp();
        let t = self.peek();
        if t.kind == Tok::Word && self.text(t).starts_with(|c: char| c.is_ascii_digit()) {
            self.bump();
            let n = self.number_value(t, 255, "flags")?;
            return Ok(Expr::TcpFlags(FlagsTest::Value(cmp, n as u8)));
        }
        if t.kind != Tok::Word {
            return Err(self.err(
                format!(
                    "'flags' takes flag letters (F S R P A U E C, X for all) or a number, found {}",
                    self.describe(t)
                ),
                if t.kind == Tok::End { kw } else { t },
            ));
        }
        self.bump();
        let s = self.text(t);
        if s.is_empty() {
            return Err(self.err("'flags' needs at least one flag letter", t));
        }
        let mut mask = 0u8;
        for (i, c) in s.char_indices() {
            let bit = match c.to_ascii_uppercase() {
                'F' => 1,
                'S' => 2,
                'R' => 4,
                'P' => 8,
                'A' => 16,
                'U' => 32,
                'E' => 64,
                'C' => 128,
                'X' => 63,
                _ => {
                    return Err(FilterError::new(
                        format!(
                            "unknown TCP flag '{c}' in '{s}' (flags are F S R P A U E C, X for all)"
                        ),
                        t.start + i,
                        c.len_utf8(),
                        self.src,
                    ))
                }
            };
            mask |= bit;
        }
        Ok(Expr::TcpFlags(if has_cmp {
            FlagsTest::Value(cmp, mask)
        } else {
            FlagsTest::AllSet(mask)
        }))
    }

    fn cmp_at(&self, t: Token) -> Option<Cmp> {
        match t.kind {
            Tok::Eq => Some(Cmp::Eq),
            Tok::Lt => Some(Cmp::Lt),
            Tok::Gt => Some(Cmp::Gt),
            Tok::Le => Some(Cmp::Le),
            Tok::Ge => Some(Cmp::Ge),
            Tok::Word => match self.text(t).to_ascii_lowercase().as_str() {
                "eq" => Some(Cmp::Eq),
                "lt" => Some(Cmp::Lt),
                "gt" => Some(Cmp::Gt),
                "le" => Some(Cmp::Le),
                "ge" => Some(Cmp::Ge),
                _ => None,
            },
            _ => None,
        }
    }

    /// An optional comparator; none means equality.
    fn parse_cmp(&mut self) -> Cmp {
        match self.cmp_at(self.peek()) {
            Some(c) => {
                self.bump();
                c
            }
            None => Cmp::Eq,
        }
    }

    /// How to name the expected value: "a port", or "a number for 'bytes'"
    /// when the value's name is the keyword itself.
    fn expected(what: &str) -> String {
        if TERM_KEYWORDS.contains(&what) && what != "port" {
            format!("a number for '{what}'")
        } else if what.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']) {
            format!("an {what}")
        } else {
            format!("a {what}")
        }
    }

    /// The next token as a number in `0..=max`; `after` is the keyword it belongs to.
    fn parse_number(&mut self, after: Token, max: u64, what: &str) -> Result<u64, FilterError> {
        let t = self.peek();
        if t.kind != Tok::Word {
            return Err(self.err(
                format!(
                    "expected {} after '{}', found {}",
                    Self::expected(what),
                    self.text(after),
                    self.describe(t)
                ),
                if t.kind == Tok::End { after } else { t },
            ));
        }
        self.bump();
        self.number_value(t, max, what)
    }

    fn number_value(&self, t: Token, max: u64, what: &str) -> Result<u64, FilterError> {
        let s = self.text(t);
        let n = match parse_number_text(s) {
            Ok(n) => n,
            Err(NumError::NotANumber) => {
                return Err(self.err(format!("expected {}, found '{s}'", Self::expected(what)), t))
            }
            Err(NumError::TooLarge) => {
                return Err(self.err(format!("{what} '{s}' is too large"), t))
            }
        };
        if n > max {
            return Err(self.err(format!("{what} {n} is out of range (0..{max})"), t));
        }
        Ok(n)
    }

    /// `[ N, N N ... ]` after `in`; sorted and distinct.
    fn parse_number_list(&mut self, max: u64, what: &str) -> Result<Vec<u64>, FilterError> {
        let open = self.expect_list_open()?;
        let mut v = Vec::new();
        loop {
            let t = self.bump();
            match t.kind {
                Tok::RBracket => {
                    if v.is_empty() {
                        return Err(self.err_span("empty list", open, t));
                    }
                    break;
                }
                Tok::Comma => continue,
                Tok::Word => v.push(self.number_value(t, max, what)?),
                Tok::End => return Err(self.err("missing ']' to close this list", open)),
                _ => {
                    return Err(self.err(
                        format!(
                            "expected {} or ']' in the list, found {}",
                            Self::expected(what),
                            self.describe(t)
                        ),
                        t,
                    ))
                }
            }
        }
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }

    fn expect_list_open(&mut self) -> Result<Token, FilterError> {
        let t = self.bump();
        if t.kind != Tok::LBracket {
            return Err(self.err(
                format!(
                    "expected '[' to start the list after 'in', found {}",
                    self.describe(t)
                ),
                t,
            ));
        }
        Ok(t)
    }

    /// After `ip`/`host`/`router ip`/`next ip`: one address, or `in [list]`.
    fn parse_addr_or_list(&mut self, kw: Token) -> Result<AddrSet, FilterError> {
        let t = self.peek();
        if self.is_word(t, "in") {
            self.bump();
            return self.parse_addr_list();
        }
        if t.kind != Tok::Word {
            return Err(self.err(
                format!(
                    "expected an IP address after '{}', found {}",
                    self.text(kw),
                    self.describe(t)
                ),
                if t.kind == Tok::End { kw } else { t },
            ));
        }
        self.bump();
        let a = self.address(t)?;
        if self.peek().kind == Tok::Slash {
            let slash = self.peek();
            return Err(self.err(
                format!(
                    "'{kw}' takes single addresses; for a network write 'net {a}/LEN' or '{kw} in [ {a}/LEN ]'",
                    kw = self.text(kw),
                    a = self.text(t),
                ),
                slash,
            ));
        }
        Ok(AddrSet::from_ranges(host_ranges(a)))
    }

    /// `[ ADDR[/LEN], ... ]`
    fn parse_addr_list(&mut self) -> Result<AddrSet, FilterError> {
        let open = self.expect_list_open()?;
        let mut ranges = Vec::new();
        let mut n = 0usize;
        loop {
            let t = self.bump();
            match t.kind {
                Tok::RBracket => {
                    if n == 0 {
                        return Err(self.err_span("empty list", open, t));
                    }
                    break;
                }
                Tok::Comma => continue,
                Tok::Word => {
                    n += 1;
                    if self.peek().kind == Tok::Slash {
                        self.bump();
                        ranges.extend(self.prefix_after_slash(t)?);
                    } else {
                        ranges.extend(host_ranges(self.address(t)?));
                    }
                }
                Tok::End => return Err(self.err("missing ']' to close this list", open)),
                _ => {
                    return Err(self.err(
                        format!(
                            "expected an IP address or ']' in the list, found {}",
                            self.describe(t)
                        ),
                        t,
                    ))
                }
            }
        }
        Ok(AddrSet::from_ranges(ranges))
    }

    /// `net ADDR/LEN` or `net ADDR MASK`.
    fn parse_net(&mut self, kw: Token) -> Result<AddrSet, FilterError> {
        let t = self.bump();
        if t.kind != Tok::Word {
            return Err(self.err(
                format!("expected a network after 'net', found {}", self.describe(t)),
                if t.kind == Tok::End { kw } else { t },
            ));
        }
        if self.peek().kind == Tok::Slash {
            self.bump();
            return Ok(AddrSet::from_ranges(self.prefix_after_slash(t)?));
        }
        let m = self.peek();
        if m.kind == Tok::Word && self.text(m).contains('.') {
            self.bump();
            let net = match parse_ip(self.text(t)) {
                Some(Ip::V4(v)) => v,
                Some(Ip::V6(_)) => {
                    return Err(self.err(
                        "a dotted netmask applies to IPv4 only; write ADDR/LEN for IPv6",
                        m,
                    ))
                }
                None => return Err(self.bad_address(t)),
            };
            let mask: u32 = match self.text(m).parse::<Ipv4Addr>() {
                Ok(a) => a.into(),
                Err(_) => return Err(self.err(format!("invalid netmask '{}'", self.text(m)), m)),
            };
            let len = mask.leading_ones();
            let contiguous = len == 32 || mask == u32::MAX.checked_shl(32 - len).unwrap_or(0);
            if !contiguous || (len == 0 && mask != 0) {
                return Err(self.err(
                    format!(
                        "netmask '{}' is not contiguous; write ADDR/LEN",
                        self.text(m)
                    ),
                    m,
                ));
            }
            return Ok(AddrSet::from_ranges(vec![v4_prefix_range(net, len as u8)]));
        }
        Err(self.err(
            format!(
                "expected '/LEN' or a netmask after '{}', found {}",
                self.text(t),
                self.describe(m)
            ),
            if m.kind == Tok::End { t } else { m },
        ))
    }

    /// `ADDR` `/` already consumed; reads LEN. IPv4 may be abbreviated
    /// (`10/8`, `172.16/12`) as long as the prefix fits the given octets.
    fn prefix_after_slash(&mut self, addr_tok: Token) -> Result<Vec<(Addr, Addr)>, FilterError> {
        let slash = self.toks[self.pos - 1];
        let len_tok = self.bump();
        if len_tok.kind != Tok::Word {
            return Err(self.err(
                format!(
                    "expected a prefix length after '/', found {}",
                    self.describe(len_tok)
                ),
                if len_tok.kind == Tok::End {
                    slash
                } else {
                    len_tok
                },
            ));
        }
        let text = self.text(addr_tok);
        if let Some((v4, octets)) = parse_v4_partial(text) {
            let len = self.number_value(len_tok, 32, "IPv4 prefix length")? as u8;
            if usize::from(len) > octets * 8 {
                return Err(self.err_span(
                    format!(
                        "prefix length {len} is longer than the {octets} octet(s) given in '{text}'"
                    ),
                    addr_tok,
                    len_tok,
                ));
            }
            return Ok(vec![v4_prefix_range(v4, len)]);
        }
        match parse_ip(text) {
            Some(Ip::V6(v6)) => {
                let len = self.number_value(len_tok, 128, "IPv6 prefix length")? as u8;
                Ok(v6_prefix_ranges(v6, len))
            }
            _ => Err(self.bad_address(addr_tok)),
        }
    }

    fn address(&self, t: Token) -> Result<Ip, FilterError> {
        parse_ip(self.text(t)).ok_or_else(|| self.bad_address(t))
    }

    #[cold]
    fn bad_address(&self, t: Token) -> FilterError {
        let s = self.text(t);
        if let Some((_, n)) = parse_v4_partial(s) {
            return self.err(
                format!("incomplete IPv4 address '{s}' ({n} of 4 octets); use 'net {s}/LEN' for a network"),
                t,
            );
        }
        let looks_numeric = s
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':');
        if !looks_numeric && s.contains('.') && !s.contains(':') {
            return self.err(
                format!("'{s}' is not an IP address (host names are not resolved)"),
                t,
            );
        }
        self.err(format!("invalid IP address '{s}'"), t)
    }
}

#[derive(Clone, Copy)]
enum Ip {
    V4(u32),
    V6(u128),
}

fn parse_ip(s: &str) -> Option<Ip> {
    if let Ok(a) = s.parse::<Ipv4Addr>() {
        return Some(Ip::V4(a.into()));
    }
    if s.contains(':') {
        if let Ok(a) = s.parse::<Ipv6Addr>() {
            return Some(Ip::V6(u128::from(a)));
        }
    }
    None
}

/// 1 to 4 dotted decimal octets (`10`, `172.16`, `192.168.1`, `10.1.2.3`).
fn parse_v4_partial(s: &str) -> Option<(u32, usize)> {
    let mut v: u32 = 0;
    let mut n = 0usize;
    for part in s.split('.') {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let o: u32 = part.parse().ok()?;
        if o > 255 || n == 4 {
            return None;
        }
        v |= o << (24 - 8 * n);
        n += 1;
    }
    (n >= 1).then_some((v, n))
}

fn host_ranges(ip: Ip) -> Vec<(Addr, Addr)> {
    match ip {
        Ip::V4(v) => {
            let a = addr_from_v4(v);
            vec![(a, a)]
        }
        Ip::V6(v) => v6_prefix_ranges(addr_from_v6(v.to_be_bytes()), 128),
    }
}

enum NumError {
    NotANumber,
    TooLarge,
}

/// Decimal with an optional k/m/g/t suffix (powers of 1000, as nfdump), or `0x` hex.
fn parse_number_text(s: &str) -> Result<u64, NumError> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NumError::NotANumber);
        }
        return u64::from_str_radix(hex, 16).map_err(|_| NumError::TooLarge);
    }
    let (digits, mult) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1_000u64),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1_000_000),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 1_000_000_000),
        Some(b't' | b'T') => (&s[..s.len() - 1], 1_000_000_000_000),
        _ => (s, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumError::NotANumber);
    }
    let n: u64 = digits.parse().map_err(|_| NumError::TooLarge)?;
    n.checked_mul(mult).ok_or(NumError::TooLarge)
}

/// The closest candidate within a small edit distance, if any.
fn suggest<'k>(word: &str, candidates: &[&'k str]) -> Option<&'k str> {
    if word.is_empty() || word.len() > 32 {
        return None;
    }
    let limit = if word.len() <= 4 { 1 } else { 2 };
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance with adjacent transpositions counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_powers_of_1000() {
        assert!(matches!(parse_number_text("2k"), Ok(2_000)));
        assert!(matches!(parse_number_text("3M"), Ok(3_000_000)));
        assert!(matches!(parse_number_text("1g"), Ok(1_000_000_000)));
        assert!(matches!(parse_number_text("0x1F"), Ok(31)));
        assert!(matches!(parse_number_text("k"), Err(NumError::NotANumber)));
        assert!(matches!(
            parse_number_text("99999999999999999999t"),
            Err(NumError::TooLarge)
        ));
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(edit_distance("prot", "proto"), 1);
        assert_eq!(edit_distance("prto", "proto"), 1);
        assert_eq!(edit_distance("port", "proto"), 2);
        assert_eq!(suggest("prot", TERM_KEYWORDS), Some("proto"));
        assert_eq!(suggest("xyzzy", TERM_KEYWORDS), None);
    }

    #[test]
    fn partial_v4() {
        assert_eq!(parse_v4_partial("172.16"), Some((0xac10_0000, 2)));
        assert_eq!(parse_v4_partial("10"), Some((0x0a00_0000, 1)));
        assert_eq!(parse_v4_partial("1.2.3.4.5"), None);
        assert_eq!(parse_v4_partial("256"), None);
    }
}
