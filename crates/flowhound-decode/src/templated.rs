//! NetFlow v9 (RFC 3954) and IPFIX (RFC 7011): template-described sets.

use std::collections::hash_map::Entry;

use flowhound_model::{Addr, FlowRecord, FlowSink};

use crate::cache::{
    default_rate, rate_for, Domain, DomainKey, Dropped, Held, Limits, Rate, Sampler, Template,
    TemplateCache,
};
use crate::error::DecodeError;
use crate::program::{
    apply, compile, finish_times, run_variable, Ctx, FieldSpec, Program, Scratch, Uptime,
};
use crate::{Decoded, SetErrors};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    V9,
    Ipfix,
}

use crate::bytes::{u16_at, u32_at};

pub(crate) fn decode_v9<S: FlowSink + ?Sized>(
    d: &[u8],
    exporter: Addr,
    cache: &mut TemplateCache,
    sink: &mut S,
) -> Result<Decoded, DecodeError> {
    const HEADER: usize = 20;
    if d.len() < HEADER {
        return Err(DecodeError::truncated(d.len(), HEADER, d.len()));
    }
    let uptime = u32_at(d, 4);
    let secs = u32_at(d, 8);
    let out = Decoded {
        version: 9,
        domain_id: u32_at(d, 16),
        sequence: u32_at(d, 12),
        export_time: secs,
        flows: 0,
        templates: 0,
        options: 0,
        held: 0,
        // v9 sequence numbers count export packets.
        seq_records: Some(1),
        set_errors: SetErrors::default(),
        consumed: d.len(),
    };
    let ctx = Ctx {
        export_ms: secs as i64 * 1000,
        uptime: Uptime::Header(uptime),
    };
    Ok(decode_sets(
        Format::V9,
        d,
        HEADER,
        exporter,
        ctx,
        out,
        cache,
        sink,
    ))
}

pub(crate) fn decode_ipfix<S: FlowSink + ?Sized>(
    d: &[u8],
    exporter: Addr,
    cache: &mut TemplateCache,
    sink: &mut S,
) -> Result<Decoded, DecodeError> {
    const HEADER: usize = 16;
    if d.len() < HEADER {
        return Err(DecodeError::truncated(d.len(), HEADER, d.len()));
    }
    let length = u16_at(d, 2) as usize;
    if length < HEADER || length > d.len() {
        return Err(DecodeError::bad_length(2, length, d.len()));
    }
    let secs = u32_at(d, 4);
    let out = Decoded {
        version: 10,
        domain_id: u32_at(d, 12),
        sequence: u32_at(d, 8),
        export_time: secs,
        flows: 0,
        templates: 0,
        options: 0,
        held: 0,
        seq_records: None,
        set_errors: SetErrors::default(),
        consumed: length,
    };
    let ctx = Ctx {
        export_ms: secs as i64 * 1000,
        uptime: Uptime::None,
    };
    Ok(decode_sets(
        Format::Ipfix,
        &d[..length],
        HEADER,
        exporter,
        ctx,
        out,
        cache,
        sink,
    ))
}

/// Per-datagram state shared by the set handlers.
struct Run<'a, S: ?Sized> {
    fmt: Format,
    limits: &'a Limits,
    dropped: &'a mut Dropped,
    held_total: &'a mut usize,
    can_hold: bool,
    serial: u64,
    base: FlowRecord,
    export_secs: u32,
    out: Decoded,
    /// Data records of this message, for IPFIX sequence accounting.
    records: u32,
    /// Whether every data record of this message could be counted.
    countable: bool,
    fields: Vec<FieldSpec>,
    sink: &'a mut S,
}

#[allow(clippy::too_many_arguments)]
fn decode_sets<S: FlowSink + ?Sized>(
    fmt: Format,
    d: &[u8],
    header: usize,
    exporter: Addr,
    mut ctx: Ctx,
    out: Decoded,
    cache: &mut TemplateCache,
    sink: &mut S,
) -> Decoded {
    let TemplateCache {
        limits,
        domains,
        held_bytes_total,
        dropped,
        serial,
    } = cache;
    *serial += 1;
    let key = DomainKey {
        exporter,
        domain: out.domain_id,
        version: out.version,
    };
    let full = domains.len() >= limits.max_domains;
    let mut transient = Domain::default();
    let (dom, can_hold) = match domains.entry(key) {
        Entry::Occupied(o) => (o.into_mut(), true),
        Entry::Vacant(v) if !full => (v.insert(Domain::default()), true),
        Entry::Vacant(_) => {
            dropped.domains_refused += 1;
            (&mut transient, false)
        }
    };
    let mut run = Run {
        fmt,
        limits,
        dropped,
        held_total: held_bytes_total,
        can_hold,
        serial: *serial,
        base: FlowRecord {
            exporter,
            domain_id: out.domain_id,
            version: out.version,
            sampling_rate: 1,
            ..FlowRecord::default()
        },
        export_secs: out.export_time,
        out,
        records: 0,
        countable: true,
        fields: Vec::new(),
        sink,
    };
    run.expire(dom);
    if let (Format::Ipfix, Some(init)) = (fmt, dom.sys_init) {
        ctx.uptime = Uptime::Init(init);
    }

    let mut pos = header;
    while pos < d.len() {
        let rest = &d[pos..];
        if rest.len() < 4 {
            if rest.iter().any(|&b| b != 0) {
                run.out.set_errors.bad_set_length += 1;
                run.countable = false;
            }
            break;
        }
        let id = u16_at(rest, 0);
        let len = u16_at(rest, 2) as usize;
        if fmt == Format::V9 && id == 9 {
            // Flowset id 9 is reserved: this is the next datagram of a
            // concatenated capture.
            run.out.consumed = pos;
            break;
        }
        if len < 4 || len > rest.len() {
            // Some exporters pad the datagram with zeros after the last set.
            if rest.iter().any(|&b| b != 0) {
                run.out.set_errors.bad_set_length += 1;
                run.countable = false;
            }
            break;
        }
        let body = &rest[4..len];
        match (fmt, id) {
            (Format::V9, 0) | (Format::Ipfix, 2) => run.template_set(dom, body, &mut ctx),
            (Format::V9, 1) | (Format::Ipfix, 3) => run.options_template_set(dom, body, &mut ctx),
            (_, id) if id >= 256 => run.data_set(dom, id, body, &mut ctx),
            _ => run.out.set_errors.reserved_set_id += 1,
        }
        pos += len;
    }
    // Held sets of a transient domain die with it.
    let mut out = run.out;
    if fmt == Format::Ipfix && run.countable && out.held == 0 {
        out.seq_records = Some(run.records);
    }
    out
}

impl<S: FlowSink + ?Sized> Run<'_, S> {
    /// Drop held data whose template did not come in time.
    fn expire(&mut self, dom: &mut Domain) {
        let now = self.export_secs;
        let max = self.limits.max_held_age_secs;
        let mut freed = 0;
        let before = dom.held.len();
        dom.held.retain(|h| {
            let keep = now.abs_diff(h.export_secs) <= max;
            if !keep {
                freed += h.body.len();
            }
            keep
        });
        self.dropped.held_expired += (before - dom.held.len()) as u64;
        dom.held_bytes -= freed;
        *self.held_total -= freed;
    }

    /// Data templates: v9 flowset 0, IPFIX set 2 (with withdrawals).
    fn template_set(&mut self, dom: &mut Domain, body: &[u8], ctx: &mut Ctx) {
        let mut p = 0;
        while body.len() - p >= 4 {
            let tid = u16_at(body, p);
            let count = u16_at(body, p + 2) as usize;
            if count == 0 {
                if self.fmt == Format::Ipfix && tid == 2 {
                    dom.templates.retain(|_, t| t.options);
                    p += 4;
                    continue;
                }
                if self.fmt == Format::Ipfix && tid >= 256 {
                    dom.templates.remove(&tid);
                    p += 4;
                    continue;
                }
                if tid == 0 && body[p..].iter().all(|&b| b == 0) {
                    return; // padding
                }
                self.bad_template();
                return;
            }
            let Some(used) = self.read_fields(&body[p + 4..], count, 0) else {
                self.bad_template();
                return;
            };
            p += 4 + used;
            if tid < 256 || count > self.limits.max_template_fields {
                self.bad_template();
                continue;
            }
            self.learn(dom, tid, false, ctx);
        }
    }

    /// Options templates: v9 flowset 1, IPFIX set 3 (with withdrawals).
    fn options_template_set(&mut self, dom: &mut Domain, body: &[u8], ctx: &mut Ctx) {
        let mut p = 0;
        match self.fmt {
            Format::V9 => {
                while body.len() - p >= 6 {
                    let tid = u16_at(body, p);
                    let scope_len = u16_at(body, p + 2) as usize;
                    let option_len = u16_at(body, p + 4) as usize;
                    if tid == 0 && body[p..].iter().all(|&b| b == 0) {
                        return; // padding
                    }
                    let size = scope_len + option_len;
                    if !scope_len.is_multiple_of(4)
                        || !option_len.is_multiple_of(4)
                        || size > body.len() - p - 6
                    {
                        self.bad_template();
                        return;
                    }
                    let count = size / 4;
                    let Some(used) = self.read_fields(&body[p + 6..], count, scope_len / 4) else {
                        self.bad_template();
                        return;
                    };
                    p += 6 + used;
                    if tid < 256 || count > self.limits.max_template_fields {
                        self.bad_template();
                        continue;
                    }
                    self.learn(dom, tid, true, ctx);
                }
            }
            Format::Ipfix => {
                while body.len() - p >= 4 {
                    let tid = u16_at(body, p);
                    let count = u16_at(body, p + 2) as usize;
                    if count == 0 {
                        if tid == 3 {
                            dom.templates.retain(|_, t| !t.options);
                            p += 4;
                            continue;
                        }
                        if tid >= 256 {
                            dom.templates.remove(&tid);
                            p += 4;
                            continue;
                        }
                        if tid == 0 && body[p..].iter().all(|&b| b == 0) {
                            return; // padding
                        }
                        self.bad_template();
                        return;
                    }
                    if body.len() - p < 6 {
                        self.bad_template();
                        return;
                    }
                    let scope = u16_at(body, p + 4) as usize;
                    let Some(used) = self.read_fields(&body[p + 6..], count, 0) else {
                        self.bad_template();
                        return;
                    };
                    p += 6 + used;
                    if tid < 256 || scope > count || count > self.limits.max_template_fields {
                        self.bad_template();
                        continue;
                    }
                    self.learn(dom, tid, true, ctx);
                }
            }
        }
    }

    /// Read `count` field specifiers into `self.fields`; the bytes they take,
    /// or `None` when they run past `b`. The first `v9_scopes` are v9 scope
    /// fields. Stops storing (but keeps measuring) past the field limit.
    fn read_fields(&mut self, b: &[u8], count: usize, v9_scopes: usize) -> Option<usize> {
        self.fields.clear();
        let store = count <= self.limits.max_template_fields;
        let mut p = 0;
        for i in 0..count {
            let spec = b.get(p..p + 4)?;
            let raw = u16_at(spec, 0);
            let len = u16_at(spec, 2);
            p += 4;
            let (ie, enterprise) = if self.fmt == Format::Ipfix && raw & 0x8000 != 0 {
                let pen = b.get(p..p + 4)?;
                p += 4;
                // A zero PEN would read as "no enterprise"; keep it skipped.
                (raw & 0x7fff, u32_at(pen, 0).max(1))
            } else {
                (raw, 0)
            };
            if store {
                self.fields.push(FieldSpec {
                    ie,
                    enterprise,
                    len,
                    scope_v9: i < v9_scopes,
                });
            }
        }
        Some(p)
    }

    #[cold]
    fn bad_template(&mut self) {
        self.out.set_errors.bad_template += 1;
    }

    /// Compile `self.fields` as template `tid`, store it, and decode the data
    /// held for it.
    fn learn(&mut self, dom: &mut Domain, tid: u16, options: bool, ctx: &mut Ctx) {
        let prog = match compile(&self.fields) {
            Ok(p) => p,
            Err(_) => {
                self.bad_template();
                // A template id redefined as unusable must not keep decoding
                // with its old layout.
                dom.templates.remove(&tid);
                return;
            }
        };
        if !dom.templates.contains_key(&tid) && dom.templates.len() >= self.limits.max_templates {
            self.out.set_errors.template_limit += 1;
            return;
        }
        dom.templates.insert(tid, Template { options, prog });
        self.out.templates += 1;
        self.release(dom, tid, ctx);
    }

    /// Decode, in arrival order, the held sets of template `tid`.
    fn release(&mut self, dom: &mut Domain, tid: u16, ctx: &mut Ctx) {
        let mut i = 0;
        while i < dom.held.len() {
            if dom.held[i].template_id != tid {
                i += 1;
                continue;
            }
            let Some(h) = dom.held.remove(i) else { break };
            dom.held_bytes -= h.body.len();
            *self.held_total -= h.body.len();
            let same = h.serial == self.serial;
            if same {
                self.out.held -= 1;
            }
            let mut hctx = h.ctx;
            if let (Uptime::None, Some(init)) = (hctx.uptime, dom.sys_init) {
                hctx.uptime = Uptime::Init(init);
            }
            let records = self.decode_known(dom, tid, &h.body, &mut hctx);
            if same {
                self.records += records;
            }
            if let (Format::Ipfix, Some(init)) = (self.fmt, dom.sys_init) {
                ctx.uptime = Uptime::Init(init);
            }
        }
    }

    fn data_set(&mut self, dom: &mut Domain, tid: u16, body: &[u8], ctx: &mut Ctx) {
        if dom.templates.contains_key(&tid) {
            self.records += self.decode_known(dom, tid, body, ctx);
        } else {
            self.hold(dom, tid, body, ctx);
        }
    }

    /// Decode a data set whose template is known; the records it held.
    fn decode_known(&mut self, dom: &mut Domain, tid: u16, body: &[u8], ctx: &mut Ctx) -> u32 {
        let Domain {
            templates,
            samplers,
            sys_init,
            ..
        } = dom;
        let Some(t) = templates.get(&tid) else {
            return 0;
        };
        if t.options {
            let (records, bad) = options_records(
                &t.prog,
                body,
                ctx,
                samplers,
                sys_init,
                self.limits,
                self.dropped,
            );
            if bad {
                self.out.set_errors.bad_record += 1;
                self.countable = false;
            }
            if let (Format::Ipfix, Some(init)) = (self.fmt, *sys_init) {
                ctx.uptime = Uptime::Init(init);
            }
            self.out.options += records;
            records
        } else {
            let r = flow_records(&t.prog, body, ctx, &self.base, samplers, &mut *self.sink);
            self.out.flows += r.flows;
            if r.bad {
                self.out.set_errors.bad_record += 1;
                self.countable = false;
            }
            r.records
        }
    }

    /// Keep a data set until its template comes, within the hold limits.
    fn hold(&mut self, dom: &mut Domain, tid: u16, body: &[u8], ctx: &Ctx) {
        let len = body.len();
        let l = self.limits;
        if !self.can_hold || l.max_held_sets == 0 || len > l.max_held_bytes {
            self.out.set_errors.unknown_template += 1;
            self.countable = false;
            return;
        }
        while dom.held.len() >= l.max_held_sets
            || dom.held_bytes + len > l.max_held_bytes
            || (*self.held_total + len > l.max_held_bytes_total && !dom.held.is_empty())
        {
            let Some(old) = dom.held.pop_front() else {
                break;
            };
            dom.held_bytes -= old.body.len();
            *self.held_total -= old.body.len();
            self.dropped.held_evicted += 1;
            if old.serial == self.serial {
                self.out.held -= 1;
            }
        }
        if *self.held_total + len > l.max_held_bytes_total {
            self.dropped.held_evicted += 1;
            self.countable = false;
            return;
        }
        dom.held.push_back(Held {
            template_id: tid,
            serial: self.serial,
            export_secs: self.export_secs,
            ctx: *ctx,
            body: body.into(),
        });
        dom.held_bytes += len;
        *self.held_total += len;
        self.out.held += 1;
    }
}

struct FlowRun {
    records: u32,
    flows: u32,
    bad: bool,
}

/// Scale packets and bytes by the sampling rate.
#[inline(always)]
fn sample(f: &mut FlowRecord, r: Rate) {
    if r != Rate::ONE {
        f.packets = r.scale(f.packets);
        f.bytes = r.scale(f.bytes);
        f.sampling_rate = r.rounded();
    }
}

/// Decode the flow records of one data set.
fn flow_records<S: FlowSink + ?Sized>(
    prog: &Program,
    body: &[u8],
    ctx: &Ctx,
    base: &FlowRecord,
    samplers: &[Sampler],
    sink: &mut S,
) -> FlowRun {
    let plan = prog.plan;
    let default = default_rate(samplers);
    let base = *base;
    let per_record_rate = plan.sampler_id || plan.interval;

    if !prog.variable {
        let n = (body.len() / prog.record_len) as u32;
        if !plan.emits {
            return FlowRun {
                records: n,
                flows: 0,
                bad: false,
            };
        }
        for rec in body.chunks_exact(prog.record_len) {
            let mut f = base;
            let mut s = Scratch::default();
            for op in prog.ops.iter() {
                let off = op.off as usize;
                apply(
                    op.act,
                    &rec[off..off + op.len as usize],
                    &mut f,
                    &mut s,
                    ctx,
                );
            }
            finish_times(&plan, &mut f, &s, ctx);
            let rate = if per_record_rate {
                record_rate(&s, &plan, samplers, default)
            } else {
                default
            };
            sample(&mut f, rate);
            sink.push(&f);
        }
        return FlowRun {
            records: n,
            flows: if plan.emits { n } else { 0 },
            bad: false,
        };
    }

    let mut run = FlowRun {
        records: 0,
        flows: 0,
        bad: false,
    };
    let mut pos = 0;
    while body.len() - pos >= prog.record_len {
        let mut f = base;
        let mut s = Scratch::default();
        match run_variable(&prog.ops, &body[pos..], &mut f, &mut s, ctx) {
            Some(used) => pos += used,
            None => {
                run.bad = true;
                break;
            }
        }
        run.records += 1;
        if plan.emits {
            finish_times(&plan, &mut f, &s, ctx);
            let rate = if per_record_rate {
                record_rate(&s, &plan, samplers, default)
            } else {
                default
            };
            sample(&mut f, rate);
            sink.push(&f);
            run.flows += 1;
        }
    }
    run
}

/// A record naming its sampler, or carrying its own interval, overrides
/// the default rate.
fn record_rate(
    s: &Scratch,
    plan: &crate::program::Plan,
    samplers: &[Sampler],
    default: Rate,
) -> Rate {
    let mut rate = default;
    if plan.sampler_id && s.has_sampler_id {
        rate = rate_for(samplers, s.sampler_id);
    }
    if plan.interval && s.interval > 1 {
        rate = Rate {
            num: s.interval,
            den: 1,
        };
    }
    rate
}

/// Read options records: samplers and the exporter's boot time. Returns the
/// records read and whether one ran past the set.
fn options_records(
    prog: &Program,
    body: &[u8],
    ctx: &Ctx,
    samplers: &mut Vec<Sampler>,
    sys_init: &mut Option<i64>,
    limits: &Limits,
    dropped: &mut Dropped,
) -> (u32, bool) {
    let mut records = 0;
    let mut pos = 0;
    let mut dummy = FlowRecord::default();
    while body.len() - pos >= prog.record_len {
        let mut s = Scratch::default();
        if prog.variable {
            match run_variable(&prog.ops, &body[pos..], &mut dummy, &mut s, ctx) {
                Some(used) => pos += used,
                None => return (records, true),
            }
        } else {
            let rec = &body[pos..pos + prog.record_len];
            for op in prog.ops.iter() {
                let off = op.off as usize;
                apply(
                    op.act,
                    &rec[off..off + op.len as usize],
                    &mut dummy,
                    &mut s,
                    ctx,
                );
            }
            pos += prog.record_len;
        }
        records += 1;
        if s.has_sys_init {
            *sys_init = Some(s.sys_init);
        }
        if let Some(rate) = sampler_rate(&s) {
            let id = if s.has_sampler_id { s.sampler_id } else { 0 };
            if let Some(known) = samplers.iter_mut().find(|x| x.id == id) {
                known.rate = rate;
            } else if samplers.len() < limits.max_samplers {
                samplers.push(Sampler { id, rate });
            } else {
                dropped.samplers_refused += 1;
            }
        }
    }
    (records, false)
}

/// The rate an options record announces, as nfdump reads it: packet interval
/// and space (305/306), else a plain interval (306, 50 or 34), else
/// population over sample size (310/309).
fn sampler_rate(s: &Scratch) -> Option<Rate> {
    let (num, den) = if s.packet_interval > 0 {
        (
            s.packet_interval.saturating_add(s.packet_space),
            s.packet_interval,
        )
    } else if s.packet_space > 0 {
        (s.packet_space, 1)
    } else if s.interval > 0 {
        (s.interval, 1)
    } else if s.sampling_size > 0 && s.sampling_population > 0 {
        (s.sampling_population, s.sampling_size)
    } else {
        return None;
    };
    Some(if num <= den {
        Rate::ONE
    } else if num.is_multiple_of(den) {
        Rate {
            num: num / den,
            den: 1,
        }
    } else {
        Rate { num, den }
    })
}
