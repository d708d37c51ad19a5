//! NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) decoding.
//!
//! Pure: bytes and a [`TemplateCache`] go in, [`FlowRecord`]s go to a
//! [`FlowSink`], typed errors and counters come out. No sockets, clocks or
//! logging: times come from export headers, and everything the cache keeps
//! is bounded by [`Limits`].
//!
//! ```
//! use flowhound_decode::{decode, TemplateCache};
//! use flowhound_model::{addr_from_v4, FlowRecord};
//!
//! let mut cache = TemplateCache::default();
//! let mut flows: Vec<FlowRecord> = Vec::new();
//! // A NetFlow v5 header announcing no records.
//! let mut datagram = [0u8; 24];
//! datagram[1] = 5;
//! let decoded = decode(&datagram, addr_from_v4(0xc000_0201), &mut cache, &mut flows).unwrap();
//! assert_eq!((decoded.version, decoded.flows), (5, 0));
//! ```
//!
//! Templates are compiled once into field programs (offset, length, action),
//! so a data record costs one pass over a few ops, with no hashing and no
//! allocation. Data that arrives before its template is held (bounded) and
//! decoded when the template comes.
#![deny(missing_docs)]

mod bytes;
mod cache;
mod error;
mod program;
mod templated;
mod v5;

pub use cache::{Dropped, Limits, TemplateCache};
pub use error::{DecodeError, SetErrors};
pub use flowhound_model::{Addr, FlowRecord, FlowSink};

/// What one datagram held, besides the flows it sent to the sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// 5, 9 or 10 (IPFIX).
    pub version: u8,
    /// v9 source id or IPFIX observation domain id (0 for v5).
    pub domain_id: u32,
    /// The header's sequence number.
    pub sequence: u32,
    /// The header's export time, Unix seconds.
    pub export_time: u32,
    /// Flows sent to the sink, including held data of earlier datagrams that
    /// a template in this one released.
    pub flows: u32,
    /// Template and options template records learned.
    pub templates: u32,
    /// Options data records read (samplers, the exporter's boot time).
    /// With `templates`, this tells a collector which datagrams carry state
    /// that later datagrams need.
    pub options: u32,
    /// Data sets of this datagram still held, waiting for their template.
    pub held: u32,
    /// How far this datagram advances the exporter's sequence counter: v5 the
    /// record count, v9 one (it counts packets), IPFIX the data records of
    /// this message, or `None` when some could not be counted (missing
    /// template, broken set).
    pub seq_records: Option<u32>,
    /// Problems in single sets, which were skipped.
    pub set_errors: SetErrors,
    /// Bytes of the input that belong to this datagram (v5: header and
    /// counted records; IPFIX: the message length; v9: up to the end, or to
    /// the next v9 header of a concatenated capture). Decode the rest, if
    /// any, as another datagram.
    pub consumed: usize,
}

/// Decode one NetFlow v5/v9 or IPFIX datagram from `exporter`, sending its
/// flows to `sink` and keeping templates, samplers and held data in `cache`.
///
/// A datagram-level problem (too short, unknown version, a header length or
/// count that lies) is an `Err` and nothing is decoded. A bad set inside an
/// otherwise valid datagram is counted in [`Decoded::set_errors`] and the
/// other sets still decode. Never panics.
pub fn decode<S: FlowSink + ?Sized>(
    datagram: &[u8],
    exporter: Addr,
    cache: &mut TemplateCache,
    sink: &mut S,
) -> Result<Decoded, DecodeError> {
    if datagram.len() < 2 {
        return Err(DecodeError::truncated(datagram.len(), 2, datagram.len()));
    }
    match u16::from_be_bytes([datagram[0], datagram[1]]) {
        5 => v5::decode(datagram, exporter, sink),
        9 => templated::decode_v9(datagram, exporter, cache, sink),
        10 => templated::decode_ipfix(datagram, exporter, cache, sink),
        v => Err(DecodeError::bad_version(v)),
    }
}
