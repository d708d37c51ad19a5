//! The stored columns. Their names are the ones users type in SQL and see in
//! JSON; other tools (DuckDB, pandas, ClickHouse) read them as they are.

use arrow_schema::{DataType, Field, Schema, TimeUnit};
use std::sync::Arc;

/// Every stored column, in schema order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Column {
    TimeStart,
    TimeEnd,
    Exporter,
    DomainId,
    SrcIp,
    DstIp,
    NextHop,
    SrcPort,
    DstPort,
    Proto,
    TcpFlags,
    Tos,
    Direction,
    SrcMask,
    DstMask,
    EndReason,
    Version,
    InIf,
    OutIf,
    SrcAs,
    DstAs,
    Packets,
    Bytes,
    SrcVlan,
    DstVlan,
    SrcMac,
    DstMac,
    SamplingRate,
    SrcCountry,
    DstCountry,
}

impl Column {
    /// All columns in schema order.
    pub const ALL: [Column; 30] = [
        Column::TimeStart,
        Column::TimeEnd,
        Column::Exporter,
        Column::DomainId,
        Column::SrcIp,
        Column::DstIp,
        Column::NextHop,
        Column::SrcPort,
        Column::DstPort,
        Column::Proto,
        Column::TcpFlags,
        Column::Tos,
        Column::Direction,
        Column::SrcMask,
        Column::DstMask,
        Column::EndReason,
        Column::Version,
        Column::InIf,
        Column::OutIf,
        Column::SrcAs,
        Column::DstAs,
        Column::Packets,
        Column::Bytes,
        Column::SrcVlan,
        Column::DstVlan,
        Column::SrcMac,
        Column::DstMac,
        Column::SamplingRate,
        Column::SrcCountry,
        Column::DstCountry,
    ];

    /// The column's name in files, SQL and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Column::TimeStart => "time_start",
            Column::TimeEnd => "time_end",
            Column::Exporter => "exporter",
            Column::DomainId => "domain_id",
            Column::SrcIp => "src_ip",
            Column::DstIp => "dst_ip",
            Column::NextHop => "next_hop",
            Column::SrcPort => "src_port",
            Column::DstPort => "dst_port",
            Column::Proto => "proto",
            Column::TcpFlags => "tcp_flags",
            Column::Tos => "tos",
            Column::Direction => "direction",
            Column::SrcMask => "src_mask",
            Column::DstMask => "dst_mask",
            Column::EndReason => "end_reason",
            Column::Version => "version",
            Column::InIf => "in_if",
            Column::OutIf => "out_if",
            Column::SrcAs => "src_as",
            Column::DstAs => "dst_as",
            Column::Packets => "packets",
            Column::Bytes => "bytes",
            Column::SrcVlan => "src_vlan",
            Column::DstVlan => "dst_vlan",
            Column::SrcMac => "src_mac",
            Column::DstMac => "dst_mac",
            Column::SamplingRate => "sampling_rate",
            Column::SrcCountry => "src_country",
            Column::DstCountry => "dst_country",
        }
    }

    /// The column's Arrow type. Addresses are 16 bytes, IPv4 mapped into IPv6.
    pub fn data_type(self) -> DataType {
        match self {
            Column::TimeStart | Column::TimeEnd => {
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
            }
            Column::Exporter | Column::SrcIp | Column::DstIp | Column::NextHop => {
                DataType::FixedSizeBinary(16)
            }
            Column::SrcPort | Column::DstPort | Column::SrcVlan | Column::DstVlan => {
                DataType::UInt16
            }
            Column::Proto
            | Column::TcpFlags
            | Column::Tos
            | Column::Direction
            | Column::SrcMask
            | Column::DstMask
            | Column::EndReason
            | Column::Version => DataType::UInt8,
            Column::DomainId
            | Column::InIf
            | Column::OutIf
            | Column::SrcAs
            | Column::DstAs
            | Column::SamplingRate => DataType::UInt32,
            Column::Packets | Column::Bytes | Column::SrcMac | Column::DstMac => DataType::UInt64,
            Column::SrcCountry | Column::DstCountry => DataType::Utf8,
        }
    }

    /// Whether the column may be null: only the countries are, null meaning
    /// that no registry was asked when the flow was stored (and in files
    /// written before the column existed).
    pub fn nullable(self) -> bool {
        matches!(self, Column::SrcCountry | Column::DstCountry)
    }
}

/// The Arrow schema of stored flows. Absent fields are 0; only the
/// countries are nullable (see [`Column::nullable`]).
pub fn flow_schema() -> Arc<Schema> {
    Arc::new(Schema::new(
        Column::ALL
            .iter()
            .map(|c| Field::new(c.name(), c.data_type(), c.nullable()))
            .collect::<Vec<_>>(),
    ))
}
