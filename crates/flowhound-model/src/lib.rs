//! The flow record shared by every flowhound crate: one flow as an exporter
//! reported it, its columnar Arrow schema and the names users type.
//!
//! This crate knows nothing about wire formats, files or sockets.
#![deny(missing_docs)]

mod addr;
mod enrich;
mod schema;

pub use addr::{addr_from_ip, addr_from_v4, addr_from_v6, addr_to_ip, is_v4, Addr};
pub use enrich::{country_str, Enricher, COUNTRY_NONE, COUNTRY_UNKNOWN};
pub use schema::{flow_schema, Column};

/// One flow, with the counts the exporter sent (scaled by its sampling rate).
///
/// Fixed size and `Copy`: decoders fill one on the stack and hand it to a
/// [`FlowSink`], so decoding allocates nothing per flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlowRecord {
    /// First packet of the flow, Unix milliseconds (UTC).
    pub time_start: i64,
    /// Last packet of the flow, Unix milliseconds (UTC).
    pub time_end: i64,
    /// The exporter's address (the UDP source of the export).
    #[serde(serialize_with = "addr::ser")]
    pub exporter: Addr,
    /// NetFlow v9 source id or IPFIX observation domain id (0 for v5).
    pub domain_id: u32,
    /// Source address, IPv4 mapped into IPv6 (`::ffff:a.b.c.d`).
    #[serde(serialize_with = "addr::ser")]
    pub src_ip: Addr,
    /// Destination address, IPv4 mapped into IPv6.
    #[serde(serialize_with = "addr::ser")]
    pub dst_ip: Addr,
    /// IP next hop, IPv4 mapped into IPv6; zero when not exported.
    #[serde(serialize_with = "addr::ser")]
    pub next_hop: Addr,
    /// Source transport port.
    pub src_port: u16,
    /// Destination transport port; for ICMP `type << 8 | code`, as in nfdump.
    pub dst_port: u16,
    /// IP protocol number.
    pub proto: u8,
    /// Cumulative TCP flags (FIN=1, SYN=2, RST=4, PSH=8, ACK=16, URG=32, ...).
    pub tcp_flags: u8,
    /// IP type of service / traffic class on ingress.
    pub tos: u8,
    /// Flow direction: 0 ingress, 1 egress.
    pub direction: u8,
    /// Source prefix length.
    pub src_mask: u8,
    /// Destination prefix length.
    pub dst_mask: u8,
    /// IPFIX flowEndReason (0 when unknown).
    pub end_reason: u8,
    /// Export protocol version: 5, 9 or 10 (IPFIX).
    pub version: u8,
    /// Input interface index.
    pub in_if: u32,
    /// Output interface index.
    pub out_if: u32,
    /// Source AS number, as exported, or from the registry at ingest when
    /// the exporter sent none (0 when unknown).
    pub src_as: u32,
    /// Destination AS number, as `src_as`.
    pub dst_as: u32,
    /// Packets, multiplied by `sampling_rate`.
    pub packets: u64,
    /// Bytes, multiplied by `sampling_rate`.
    pub bytes: u64,
    /// Source VLAN id.
    pub src_vlan: u16,
    /// Destination VLAN id.
    pub dst_vlan: u16,
    /// Source MAC address in the low 48 bits.
    pub src_mac: u64,
    /// Destination MAC address in the low 48 bits.
    pub dst_mac: u64,
    /// Sampling rate applied to packets and bytes (1 when unsampled).
    pub sampling_rate: u32,
    /// Source country (ISO 3166 alpha-2) from the registry at ingest;
    /// [`COUNTRY_NONE`] when no registry was asked, [`COUNTRY_UNKNOWN`] when
    /// it did not know the address.
    #[serde(serialize_with = "enrich::ser_country")]
    pub src_country: [u8; 2],
    /// Destination country, as `src_country`.
    #[serde(serialize_with = "enrich::ser_country")]
    pub dst_country: [u8; 2],
}

impl FlowRecord {
    /// Whether both endpoints are IPv4.
    pub fn is_ipv4(&self) -> bool {
        addr::is_v4(self.src_ip) && addr::is_v4(self.dst_ip)
    }
}

/// How an exporter (address, v9 source id / IPFIX domain, version) is
/// named in the collector's books and in metrics: `ADDR/DOMAIN/vVERSION`.
pub fn exporter_label(addr: Addr, domain_id: u32, version: u8) -> String {
    format!("{}/{}/v{}", addr_to_ip(addr), domain_id, version)
}

/// Where decoded flows go. Implemented by columnar batches in the store and by
/// `Vec<FlowRecord>` for tests and tools.
pub trait FlowSink {
    /// Take one flow.
    fn push(&mut self, flow: &FlowRecord);
}

impl FlowSink for Vec<FlowRecord> {
    fn push(&mut self, flow: &FlowRecord) {
        Vec::push(self, *flow);
    }
}
