//! Everything a decoder remembers between datagrams, per exporter and
//! observation domain: templates, samplers, data held for a missing template.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use flowhound_model::Addr;

use crate::program::{Ctx, Program};

/// Bounds on what input may make the cache hold. Nothing an exporter sends
/// can grow the cache past these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Exporter/domain pairs remembered. Datagrams from further ones still
    /// decode, but their templates are forgotten after the datagram.
    pub max_domains: usize,
    /// Templates (data and options) per exporter/domain.
    pub max_templates: usize,
    /// Fields per template; templates with more are refused.
    pub max_template_fields: usize,
    /// Samplers per exporter/domain.
    pub max_samplers: usize,
    /// Data sets held per exporter/domain while their template is missing.
    pub max_held_sets: usize,
    /// Bytes held per exporter/domain while their template is missing.
    pub max_held_bytes: usize,
    /// Bytes held over all exporters.
    pub max_held_bytes_total: usize,
    /// Held data older than this (in export time) is dropped.
    pub max_held_age_secs: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_domains: 4096,
            max_templates: 1024,
            max_template_fields: 1024,
            max_samplers: 256,
            max_held_sets: 32,
            max_held_bytes: 64 * 1024,
            max_held_bytes_total: 16 * 1024 * 1024,
            max_held_age_secs: 60,
        }
    }
}

/// What the cache dropped since the last [`TemplateCache::take_dropped`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Held data sets evicted, oldest first, because a hold limit was reached.
    pub held_evicted: u64,
    /// Held data sets whose template did not come within the age limit.
    pub held_expired: u64,
    /// Datagrams from exporter/domains beyond `Limits::max_domains`.
    pub domains_refused: u64,
    /// Sampler definitions beyond `Limits::max_samplers`.
    pub samplers_refused: u64,
}

/// Template, sampler and held-data state of every exporter, keyed by
/// (exporter address, v9 source id / IPFIX observation domain, version).
/// Passed explicitly to [`crate::decode`]; one per collector thread.
#[derive(Debug)]
pub struct TemplateCache {
    pub(crate) limits: Limits,
    pub(crate) domains: HashMap<DomainKey, Domain>,
    pub(crate) held_bytes_total: usize,
    pub(crate) dropped: Dropped,
    pub(crate) serial: u64,
}

impl Default for TemplateCache {
    fn default() -> Self {
        TemplateCache::new(Limits::default())
    }
}

impl TemplateCache {
    /// An empty cache bounded by `limits`.
    pub fn new(limits: Limits) -> Self {
        TemplateCache {
            limits,
            domains: HashMap::new(),
            held_bytes_total: 0,
            dropped: Dropped::default(),
            serial: 0,
        }
    }

    /// The limits the cache was made with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Templates (data and options) known over all exporters.
    pub fn template_count(&self) -> usize {
        self.domains.values().map(|d| d.templates.len()).sum()
    }

    /// Exporter/domain pairs known.
    pub fn domain_count(&self) -> usize {
        self.domains.len()
    }

    /// Data sets currently held waiting for their template.
    pub fn held_sets(&self) -> usize {
        self.domains.values().map(|d| d.held.len()).sum()
    }

    /// Bytes currently held waiting for templates.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes_total
    }

    /// The sampling rate flows of `exporter`'s `domain_id` get when they name
    /// no sampler (rounded; 1 when unsampled). For tests and diagnostics.
    pub fn default_sampling_rate(&self, exporter: Addr, version: u8, domain_id: u32) -> u32 {
        self.domains
            .get(&DomainKey {
                exporter,
                domain: domain_id,
                version,
            })
            .map_or(1, |d| default_rate(&d.samplers).rounded())
    }

    /// Counters of what was dropped since the last call, and reset them.
    pub fn take_dropped(&mut self) -> Dropped {
        std::mem::take(&mut self.dropped)
    }

    /// Forget everything about one exporter (all domains and versions).
    pub fn forget_exporter(&mut self, exporter: Addr) {
        let mut freed = 0;
        self.domains.retain(|k, d| {
            if k.exporter == exporter {
                freed += d.held_bytes;
                false
            } else {
                true
            }
        });
        self.held_bytes_total -= freed;
    }
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(crate) struct DomainKey {
    pub exporter: Addr,
    pub domain: u32,
    pub version: u8,
}

/// Hash for 16-bit template ids: one multiply.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u16(&mut self, v: u16) {
        self.0 = v as u64;
    }
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

pub(crate) type TemplateMap = HashMap<u16, Template, BuildHasherDefault<IdHasher>>;

#[derive(Debug, Default)]
pub(crate) struct Domain {
    pub templates: TemplateMap,
    pub samplers: Vec<Sampler>,
    /// IPFIX systemInitTimeMilliseconds from options data.
    pub sys_init: Option<i64>,
    pub held: VecDeque<Held>,
    pub held_bytes: usize,
}

#[derive(Debug)]
pub(crate) struct Template {
    pub options: bool,
    pub prog: Program,
}

/// Packets and bytes are multiplied by `num / den`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rate {
    pub num: u64,
    pub den: u64,
}

impl Rate {
    pub const ONE: Rate = Rate { num: 1, den: 1 };

    /// `v * num / den`, saturating.
    #[inline]
    pub fn scale(self, v: u64) -> u64 {
        if self.den == 1 {
            v.saturating_mul(self.num)
        } else {
            (v as u128 * self.num as u128 / self.den as u128).min(u64::MAX as u128) as u64
        }
    }

    pub fn rounded(self) -> u32 {
        (self.num.saturating_add(self.den / 2) / self.den).clamp(1, u32::MAX as u64) as u32
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Sampler {
    /// 0: the exporter's generic sampler (no sampler id in its options).
    pub id: u64,
    pub rate: Rate,
}

/// A data set waiting for its template, with the context of its datagram.
#[derive(Debug)]
pub(crate) struct Held {
    pub template_id: u16,
    pub serial: u64,
    pub export_secs: u32,
    pub ctx: Ctx,
    pub body: Box<[u8]>,
}

/// Rate of flows that name no (known) sampler: the generic sampler, as nfdump.
pub(crate) fn default_rate(samplers: &[Sampler]) -> Rate {
    samplers
        .iter()
        .find(|s| s.id == 0)
        .map_or(Rate::ONE, |s| s.rate)
}

/// Rate of flows that name sampler `id`: that sampler, else the generic one.
pub(crate) fn rate_for(samplers: &[Sampler], id: u64) -> Rate {
    samplers
        .iter()
        .find(|s| s.id == id)
        .map_or_else(|| default_rate(samplers), |s| s.rate)
}
