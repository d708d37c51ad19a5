//! Statistics and aggregations as users ask for them (`-s srcip/flows`,
//! `-A srcip4/24,dstport`), and the rows they produce.

use std::fmt;

use flowhound_model::{addr_to_ip, country_str, Addr};

use crate::error::QueryError;

/// What flows are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Key {
    SrcIp,
    DstIp,
    /// Source and destination address: a flow counts for both.
    Ip,
    SrcPort,
    DstPort,
    /// Source and destination port: a flow counts for both.
    Port,
    Proto,
    SrcAs,
    DstAs,
    /// Source and destination AS: a flow counts for both.
    As,
    InIf,
    OutIf,
    /// Input and output interface: a flow counts for both.
    If,
    /// The exporter.
    Router,
    NextHop,
    Tos,
    Flags,
    SrcNet(NetLen),
    DstNet(NetLen),
    /// Countries, from the registry (at ingest, or now for older flows).
    SrcGeo,
    DstGeo,
    /// `time_start` floored to a bin of this many milliseconds.
    TimeBin(i64),
}

/// The prefix length of a network key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetLen {
    /// The prefix length the exporter sent (`src_mask`/`dst_mask`), as nfdump's `-s srcnet`.
    Exported,
    /// Fixed lengths for IPv4 and IPv6 addresses (`-A srcip4/24,srcip6/64`).
    Fixed {
        /// Bits kept of IPv4 addresses.
        v4: u8,
        /// Bits kept of IPv6 addresses.
        v6: u8,
    },
}

impl Key {
    /// The name users type and JSON shows.
    pub fn name(&self) -> &'static str {
        match self {
            Key::SrcIp => "srcip",
            Key::DstIp => "dstip",
            Key::Ip => "ip",
            Key::SrcPort => "srcport",
            Key::DstPort => "dstport",
            Key::Port => "port",
            Key::Proto => "proto",
            Key::SrcAs => "srcas",
            Key::DstAs => "dstas",
            Key::As => "as",
            Key::InIf => "inif",
            Key::OutIf => "outif",
            Key::If => "if",
            Key::Router => "router",
            Key::NextHop => "nexthop",
            Key::Tos => "tos",
            Key::Flags => "flags",
            Key::SrcNet(_) => "srcnet",
            Key::DstNet(_) => "dstnet",
            Key::SrcGeo => "srcgeo",
            Key::DstGeo => "dstgeo",
            Key::TimeBin(_) => "bin",
        }
    }

    /// For a two-sided key, its source and destination halves.
    pub fn two_sided(&self) -> Option<(Key, Key)> {
        match self {
            Key::Ip => Some((Key::SrcIp, Key::DstIp)),
            Key::Port => Some((Key::SrcPort, Key::DstPort)),
            Key::As => Some((Key::SrcAs, Key::DstAs)),
            Key::If => Some((Key::InIf, Key::OutIf)),
            _ => None,
        }
    }

    /// One field name of `-A` or `--distinct` (no two-sided ones).
    pub fn parse_field(s: &str) -> Result<Key, QueryError> {
        let t = s.trim().to_ascii_lowercase();
        let (name, len) = match t.split_once('/') {
            Some((n, l)) => {
                let l: u8 = l.parse().map_err(|_| {
                    QueryError::User(format!("'{s}': the prefix length must be a number"))
                })?;
                (n.to_string(), Some(l))
            }
            None => (t.clone(), None),
        };
        let fixed = |v4: u8, v6: u8| -> Result<NetLen, QueryError> {
            if v4 > 32 || v6 > 128 {
                return Err(QueryError::User(format!(
                    "'{s}': prefix length out of range"
                )));
            }
            Ok(NetLen::Fixed { v4, v6 })
        };
        let k = match (name.as_str(), len) {
            ("srcip4", Some(l)) => Key::SrcNet(fixed(l, 128)?),
            ("dstip4", Some(l)) => Key::DstNet(fixed(l, 128)?),
            ("srcip6", Some(l)) => Key::SrcNet(fixed(32, l)?),
            ("dstip6", Some(l)) => Key::DstNet(fixed(32, l)?),
            ("srcnet", Some(l)) => Key::SrcNet(fixed(l.min(32), l)?),
            ("dstnet", Some(l)) => Key::DstNet(fixed(l.min(32), l)?),
            ("srcnet", None) => Key::SrcNet(NetLen::Exported),
            ("dstnet", None) => Key::DstNet(NetLen::Exported),
            (n, None) => match element(n) {
                Some(Element::Key(k)) if k.two_sided().is_none() => k,
                _ => return Err(unknown_field(s)),
            },
            _ => return Err(unknown_field(s)),
        };
        Ok(k)
    }

    /// `-A` fields, comma-separated; `srcip4/N` and `srcip6/M` together make one key.
    pub fn parse_fields(s: &str) -> Result<Vec<Key>, QueryError> {
        let mut out: Vec<Key> = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let k = Key::parse_field(part)?;
            let lower = part.trim().to_ascii_lowercase();
            let merged = out.iter_mut().find_map(|o| match (o, k) {
                (
                    Key::SrcNet(NetLen::Fixed { v4, v6 }),
                    Key::SrcNet(NetLen::Fixed { v4: a, v6: b }),
                )
                | (
                    Key::DstNet(NetLen::Fixed { v4, v6 }),
                    Key::DstNet(NetLen::Fixed { v4: a, v6: b }),
                ) => {
                    if lower.contains("ip4/") {
                        *v4 = a;
                    } else if lower.contains("ip6/") {
                        *v6 = b;
                    }
                    Some(())
                }
                _ => None,
            });
            if merged.is_none() && !out.contains(&k) {
                out.push(k);
            }
        }
        if out.is_empty() {
            return Err(QueryError::User("-A needs at least one field".into()));
        }
        Ok(out)
    }
}

fn unknown_field(s: &str) -> QueryError {
    QueryError::User(format!(
        "unknown field '{s}' (fields: srcip dstip srcport dstport proto srcas dstas inif outif \
         router nexthop tos flags srcnet dstnet srcip4/N dstip4/N srcip6/N dstip6/N)"
    ))
}

/// What a statistic is about: single flows (`record`) or a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Element {
    /// `record`: the flows themselves, largest first.
    Record,
    /// Flows grouped by a key.
    Key(Key),
}

impl Element {
    /// The name users type and JSON shows.
    pub fn name(&self) -> &'static str {
        match self {
            Element::Record => "record",
            Element::Key(k) => k.name(),
        }
    }
}

fn element(name: &str) -> Option<Element> {
    Some(Element::Key(match name {
        "record" => return Some(Element::Record),
        "srcip" => Key::SrcIp,
        "dstip" => Key::DstIp,
        "ip" => Key::Ip,
        "srcport" => Key::SrcPort,
        "dstport" => Key::DstPort,
        "port" => Key::Port,
        "proto" => Key::Proto,
        "srcas" => Key::SrcAs,
        "dstas" => Key::DstAs,
        "as" => Key::As,
        "inif" => Key::InIf,
        "outif" => Key::OutIf,
        "if" => Key::If,
        "router" => Key::Router,
        "nexthop" | "next" => Key::NextHop,
        "tos" => Key::Tos,
        "flags" => Key::Flags,
        "srcnet" => Key::SrcNet(NetLen::Exported),
        "dstnet" => Key::DstNet(NetLen::Exported),
        "srcgeo" => Key::SrcGeo,
        "dstgeo" => Key::DstGeo,
        _ => return None,
    }))
}

/// What a statistic is ordered by (largest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Order {
    Flows,
    Packets,
    Bytes,
    Pps,
    Bps,
    Bpp,
}

impl Order {
    /// The name users type.
    pub fn name(self) -> &'static str {
        match self {
            Order::Flows => "flows",
            Order::Packets => "packets",
            Order::Bytes => "bytes",
            Order::Pps => "pps",
            Order::Bps => "bps",
            Order::Bpp => "bpp",
        }
    }

    /// Parse an order name.
    pub fn parse(s: &str) -> Result<Order, QueryError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "flows" => Order::Flows,
            "packets" => Order::Packets,
            "bytes" => Order::Bytes,
            "pps" => Order::Pps,
            "bps" => Order::Bps,
            "bpp" => Order::Bpp,
            _ => {
                return Err(QueryError::User(format!(
                    "unknown order '{s}' (orders: flows packets bytes pps bps bpp)"
                )))
            }
        })
    }
}

/// One `-s ELEMENT[/ORDER…]`: a table per order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatSpec {
    /// What is counted.
    pub element: Element,
    /// One table per order; `flows` when none is given.
    pub orders: Vec<Order>,
}

impl StatSpec {
    /// Parse `srcip/flows/bytes`, `dstnet/24/flows`, `record/bytes`.
    pub fn parse(s: &str) -> Result<StatSpec, QueryError> {
        let lower = s.trim().to_ascii_lowercase();
        let mut parts = lower.split('/');
        let name = parts.next().unwrap_or_default();
        let mut element = element(name).ok_or_else(|| {
            QueryError::User(format!(
                "unknown statistic '{name}' (elements: record srcip dstip ip srcport dstport port \
                 proto srcas dstas as inif outif if router tos flags srcnet dstnet srcgeo dstgeo)"
            ))
        })?;
        let mut orders = Vec::new();
        for p in parts {
            if let Ok(len) = p.parse::<u8>() {
                element = match element {
                    Element::Key(Key::SrcNet(_)) if len <= 128 => {
                        Element::Key(Key::SrcNet(NetLen::Fixed {
                            v4: len.min(32),
                            v6: len,
                        }))
                    }
                    Element::Key(Key::DstNet(_)) if len <= 128 => {
                        Element::Key(Key::DstNet(NetLen::Fixed {
                            v4: len.min(32),
                            v6: len,
                        }))
                    }
                    _ => {
                        return Err(QueryError::User(format!(
                            "'{s}': only srcnet and dstnet take a prefix length"
                        )))
                    }
                };
                continue;
            }
            orders.push(Order::parse(p)?);
        }
        if orders.is_empty() {
            orders.push(Order::Flows);
        }
        Ok(StatSpec { element, orders })
    }
}

/// A grouping to run: keys, distinct counts, order and limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aggregate {
    /// Group by these (a two-sided key only alone).
    pub keys: Vec<Key>,
    /// Count distinct values of these per group.
    pub distinct: Vec<Key>,
    /// Largest first by this; by the keys when `None`.
    pub order: Option<Order>,
    /// At most this many groups.
    pub limit: Option<usize>,
}

/// A value of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// An address.
    Addr(Addr),
    /// A network: its first address and prefix length in its family.
    Net(Addr, u8),
    /// A number (port, protocol, AS, interface, flags, ToS).
    Uint(u64),
    /// A time, Unix ms (time bins).
    Time(i64),
    /// A country code; `??` where the registry did not know the address
    /// or none was asked.
    Country([u8; 2]),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Addr(a) => write!(f, "{}", addr_to_ip(*a)),
            Value::Net(a, l) => write!(f, "{}/{l}", addr_to_ip(*a)),
            Value::Uint(n) => write!(f, "{n}"),
            Value::Time(t) => write!(f, "{t}"),
            Value::Country(c) => f.write_str(country_str(c).unwrap_or("??")),
        }
    }
}

/// One group of an aggregation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggRow {
    /// The group's key values, in the order of [`Aggregate::keys`].
    pub keys: Vec<Value>,
    /// Flows in the group.
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Earliest `time_start`, Unix ms.
    pub first_ms: i64,
    /// Latest `time_end`, Unix ms.
    pub last_ms: i64,
    /// Distinct counts, in the order of [`Aggregate::distinct`].
    pub distinct: Vec<u64>,
}

/// Flows, packets, bytes of a selection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Flows.
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Earliest `time_start`, Unix ms (0 when empty).
    pub first_ms: i64,
    /// Latest `time_end`, Unix ms (0 when empty).
    pub last_ms: i64,
}
