//! `flowhound query`: nfdump's filters, statistics (`-s`), aggregation
//! (`-A`, `-a`) and listings, plus time bins and distinct counts.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use flowhound_filter::Filter;
use flowhound_model::{addr_to_ip, Enricher, FlowRecord};
use flowhound_query::{
    AggRow, Aggregate, Cell, Element, Key, Order, QueryEngine, QueryError, StatSpec, Table, Totals,
    Value,
};
use flowhound_store::{parse_window, LocalStore, TimeWindow};
use serde_json::{json, Map, Value as Json};

use crate::args::{QueryArgs, QueryFormat};
use crate::units::{human, time, user};

pub fn run(a: QueryArgs, enricher: Option<Arc<dyn Enricher>>) -> anyhow::Result<()> {
    // Buffered: a listing can be millions of lines.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    run_to(a, enricher, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Why a question about countries has no answer, and what to do.
const NO_COUNTRIES: &str = "these flows were stored without countries (no country \
     registry at ingest): name one in --config ([registry] country = \"….mmdb\") to look \
     them up now";

fn run_to(
    a: QueryArgs,
    enricher: Option<Arc<dyn Enricher>>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let filter = read_filter(a.filter_file.as_deref(), &a.filter)?;
    let engine = open(&a.data, window_arg(a.window.as_deref())?, enricher)?;
    if filter.asks_country() && !engine.can_tell_countries().map_err(query_err)? {
        return Err(user(format!(
            "the filter asks for countries (geo): {NO_COUNTRIES}"
        )));
    }
    let distinct = match &a.distinct {
        Some(d) => Key::parse_fields(d).map_err(query_err)?,
        None => Vec::new(),
    };
    let mut out = out;
    if !a.stat.is_empty() {
        if a.aggregate.is_some() || a.five_tuple || a.bin.is_some() {
            return Err(user("-s cannot be combined with -A, -a or --bin"));
        }
        let specs = a
            .stat
            .iter()
            .map(|s| StatSpec::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(query_err)?;
        return statistics(
            &engine,
            &filter,
            &specs,
            &distinct,
            a.limit.unwrap_or(10),
            a.output,
            &mut out,
        );
    }
    // `-n 0`, as in nfdump, means no limit.
    let limit = a.limit.filter(|&n| n > 0);
    let order = match a.order.as_deref() {
        None | Some("tstart") => None,
        Some(o) => Some(Order::parse(o).map_err(query_err)?),
    };
    let mut keys = Vec::new();
    if let Some(bin) = a.bin {
        keys.push(Key::TimeBin(bin.as_millis().max(1) as i64));
    }
    if a.five_tuple {
        keys.extend([
            Key::Proto,
            Key::SrcIp,
            Key::SrcPort,
            Key::DstIp,
            Key::DstPort,
        ]);
    }
    if let Some(f) = &a.aggregate {
        for k in Key::parse_fields(f).map_err(query_err)? {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    if keys.is_empty() {
        if !distinct.is_empty() {
            return Err(user("--distinct needs -s, -A, -a or --bin"));
        }
        return listing(&engine, &filter, order, limit, a.output, &mut out);
    }
    let agg = Aggregate {
        keys,
        distinct,
        order,
        limit,
    };
    let rows = engine.aggregate(&filter, &agg).map_err(query_err)?;
    aggregated(&agg, &rows, a.output, &mut out)
}

/// The filter from `-f FILE` or the words on the command line.
pub fn read_filter(file: Option<&std::path::Path>, words: &[String]) -> anyhow::Result<Filter> {
    let text = match file {
        Some(p) => {
            if !words.is_empty() {
                return Err(user(
                    "give the filter either with -f or on the command line",
                ));
            }
            std::fs::read_to_string(p)
                .map_err(|e| user(format!("cannot read filter file {}: {e}", p.display())))?
        }
        None => words.join(" "),
    };
    flowhound_filter::parse(&text).map_err(|e| user(e.to_string()))
}

/// `-t`, parsed; a bad window is the user's fault.
pub fn window_arg(window: Option<&str>) -> anyhow::Result<Option<TimeWindow>> {
    window
        .map(parse_window)
        .transpose()
        .map_err(|e| user(e.to_string()))
}

/// The engine over the flows of the window.
pub fn open(
    data: &std::path::Path,
    window: Option<TimeWindow>,
    enricher: Option<Arc<dyn Enricher>>,
) -> anyhow::Result<QueryEngine> {
    if !data.is_dir() {
        return Err(user(format!(
            "data directory {} does not exist",
            data.display()
        )));
    }
    QueryEngine::open(&LocalStore::new(data), window, enricher)
        .map_err(query_err)
        .with_context(|| format!("cannot query {}", data.display()))
}

/// User errors exit with status 2; the others are failures.
pub fn query_err(e: QueryError) -> anyhow::Error {
    match e {
        QueryError::User(m) => user(m),
        e => e.into(),
    }
}

pub(crate) fn proto_name(p: u64) -> String {
    match p {
        1 => "ICMP".into(),
        2 => "IGMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        47 => "GRE".into(),
        50 => "ESP".into(),
        58 => "ICMP6".into(),
        132 => "SCTP".into(),
        n => n.to_string(),
    }
}

/// TCP flags as nfdump prints them: one letter per set flag, dots elsewhere.
fn flags_text(f: u64) -> String {
    [
        (128, 'C'),
        (64, 'E'),
        (32, 'U'),
        (16, 'A'),
        (8, 'P'),
        (4, 'R'),
        (2, 'S'),
        (1, 'F'),
    ]
    .iter()
    .map(|&(bit, c)| if f & bit != 0 { c } else { '.' })
    .collect()
}

/// A key value for people (tables).
fn show(k: &Key, v: &Value) -> String {
    match (k, v) {
        (Key::Proto, Value::Uint(p)) => proto_name(*p),
        (Key::Flags, Value::Uint(f)) => flags_text(*f),
        (_, Value::Time(t)) => time(*t),
        (_, v) => v.to_string(),
    }
}

/// A key value for machines (JSON): numbers stay numbers.
fn json_value(v: &Value) -> Json {
    match v {
        Value::Uint(n) => json!(n),
        Value::Time(t) => json!(time(*t)),
        v => json!(v.to_string()),
    }
}

/// `HH:MM:SS.mmm`, as nfdump prints durations.
fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// nfdump's per-group rates: integer, over the span from first to last.
fn rates(packets: u64, bytes: u64, span_ms: i64) -> (u64, u64, u64) {
    let span = span_ms.max(0) as u128;
    let per = |n: u64, scale: u128| (n as u128 * scale).checked_div(span).unwrap_or(0) as u64;
    (
        per(packets, 1000),
        per(bytes, 8000),
        bytes.checked_div(packets).unwrap_or(0),
    )
}

fn title(e: &Element) -> &'static str {
    match e {
        Element::Record => "flows",
        Element::Key(k) => match k {
            Key::SrcIp => "Src IP Addr",
            Key::DstIp => "Dst IP Addr",
            Key::Ip => "IP Addr",
            Key::SrcPort => "Src Port",
            Key::DstPort => "Dst Port",
            Key::Port => "Port",
            Key::Proto => "Protocol",
            Key::SrcAs => "Src AS",
            Key::DstAs => "Dst AS",
            Key::As => "AS",
            Key::InIf => "Input If",
            Key::OutIf => "Output If",
            Key::If => "In/Out If",
            Key::Router => "Router IP",
            Key::NextHop => "Next hop IP",
            Key::Tos => "Tos",
            Key::Flags => "TCP flags",
            Key::SrcNet(_) => "Src Net",
            Key::DstNet(_) => "Dst Net",
            Key::SrcGeo => "Src country",
            Key::DstGeo => "Dst country",
            Key::TimeBin(_) => "Bin",
        },
    }
}

enum StatRows {
    Flows(Vec<FlowRecord>),
    Groups(Key, Vec<AggRow>),
}

fn statistics(
    engine: &QueryEngine,
    filter: &Filter,
    specs: &[StatSpec],
    distinct: &[Key],
    limit: usize,
    format: QueryFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let limit = if limit == 0 { None } else { Some(limit) };
    let mut totals = None;
    let mut tables = Vec::new();
    for spec in specs {
        for &order in &spec.orders {
            let rows = match spec.element {
                Element::Record => StatRows::Flows(
                    engine
                        .records(filter, Some(order), limit)
                        .map_err(query_err)?,
                ),
                Element::Key(k) => {
                    let agg = Aggregate {
                        keys: vec![k],
                        distinct: distinct.to_vec(),
                        order: Some(order),
                        limit,
                    };
                    let rows = if totals.is_none() {
                        let (rows, t) = engine
                            .aggregate_with_totals(filter, &agg)
                            .map_err(query_err)?;
                        totals = Some(t);
                        rows
                    } else {
                        engine.aggregate(filter, &agg).map_err(query_err)?
                    };
                    StatRows::Groups(k, rows)
                }
            };
            tables.push((spec.element, order, rows));
        }
    }
    let totals = match totals {
        Some(t) => t,
        None => engine.totals(filter).map_err(query_err)?,
    };
    // Countries nobody ever looked up are not "unknown to the registry".
    let never_looked_up = tables.iter().any(|(_, _, rows)| match rows {
        StatRows::Groups(Key::SrcGeo | Key::DstGeo, rows) => {
            !rows.is_empty()
                && rows
                    .iter()
                    .all(|r| r.keys[0] == Value::Country(flowhound_model::COUNTRY_NONE))
        }
        _ => false,
    });
    if never_looked_up && !engine.has_country_registry() {
        return Err(user(NO_COUNTRIES));
    }
    let orgs = as_orgs(engine, &tables);
    match format {
        QueryFormat::Json => {
            let stats: Vec<Json> = tables
                .iter()
                .map(|(e, o, rows)| {
                    json!({
                        "element": e.name(),
                        "order": o.name(),
                        "rows": stat_json_rows(*e, rows, distinct, &orgs),
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &json!({ "statistics": stats }))?;
            writeln!(out)?;
        }
        QueryFormat::Ndjson => {
            for (e, o, rows) in &tables {
                for mut r in stat_json_rows(*e, rows, distinct, &orgs) {
                    if let Json::Object(m) = &mut r {
                        m.insert("statistic".into(), json!(e.name()));
                        m.insert("order".into(), json!(o.name()));
                    }
                    serde_json::to_writer(&mut *out, &r)?;
                    writeln!(out)?;
                }
            }
        }
        QueryFormat::Csv => {
            let mut header = vec![
                "element", "order", "value", "flows", "packets", "bytes", "first", "last",
            ]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
            header.extend(distinct.iter().map(|d| format!("distinct_{}", d.name())));
            csv_line(out, &header)?;
            for (e, o, rows) in &tables {
                match rows {
                    StatRows::Flows(flows) => {
                        for f in flows {
                            let v = format!(
                                "{}:{} -> {}:{} {}",
                                addr_to_ip(f.src_ip),
                                f.src_port,
                                addr_to_ip(f.dst_ip),
                                f.dst_port,
                                f.proto
                            );
                            csv_line(
                                out,
                                &[
                                    e.name().into(),
                                    o.name().into(),
                                    v,
                                    "1".into(),
                                    f.packets.to_string(),
                                    f.bytes.to_string(),
                                    time(f.time_start),
                                    time(f.time_end),
                                ],
                            )?;
                        }
                    }
                    StatRows::Groups(k, rows) => {
                        for r in rows {
                            let mut line = vec![
                                e.name().to_string(),
                                o.name().to_string(),
                                r.keys[0].to_string(),
                                r.flows.to_string(),
                                r.packets.to_string(),
                                r.bytes.to_string(),
                                time(r.first_ms),
                                time(r.last_ms),
                            ];
                            let _ = k;
                            line.extend(r.distinct.iter().map(u64::to_string));
                            csv_line(out, &line)?;
                        }
                    }
                }
            }
        }
        QueryFormat::Table => {
            for (e, o, rows) in &tables {
                match rows {
                    StatRows::Flows(flows) => {
                        writeln!(out, "Top {} flows ordered by {}:", flows.len(), o.name())?;
                        listing_header(out)?;
                        for f in flows {
                            listing_row(f, out)?;
                        }
                    }
                    StatRows::Groups(k, rows) => {
                        writeln!(
                            out,
                            "Top {} {} ordered by {}:",
                            rows.len(),
                            title(e),
                            o.name()
                        )?;
                        stat_table(*k, rows, &totals, distinct, &orgs, out)?;
                    }
                }
                writeln!(out)?;
            }
            summary_line(&totals, out)?;
        }
    }
    Ok(())
}

/// Whether a key's values are AS numbers (shown with their organisation).
fn is_as(k: Key) -> bool {
    matches!(k, Key::SrcAs | Key::DstAs | Key::As)
}

/// The organisations behind the AS numbers the statistics show, from the
/// registry of `--config` (none without one).
fn as_orgs(engine: &QueryEngine, tables: &[(Element, Order, StatRows)]) -> HashMap<u64, String> {
    let mut orgs = HashMap::new();
    for (_, _, rows) in tables {
        if let StatRows::Groups(k, rows) = rows {
            if !is_as(*k) {
                continue;
            }
            for r in rows {
                if let Value::Uint(n) = r.keys[0] {
                    if let std::collections::hash_map::Entry::Vacant(v) = orgs.entry(n) {
                        if let Some(name) = u32::try_from(n).ok().and_then(|n| engine.as_org(n)) {
                            v.insert(name);
                        }
                    }
                }
            }
        }
    }
    orgs
}

fn stat_json_rows(
    e: Element,
    rows: &StatRows,
    distinct: &[Key],
    orgs: &HashMap<u64, String>,
) -> Vec<Json> {
    match rows {
        StatRows::Flows(flows) => flows.iter().map(flow_json).collect(),
        StatRows::Groups(k, rows) => rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert(e.name().into(), json_value(&r.keys[0]));
                if let (true, Value::Uint(n)) = (is_as(*k), r.keys[0]) {
                    if let Some(org) = orgs.get(&n) {
                        m.insert("as_org".into(), json!(org));
                    }
                }
                group_json(&mut m, r, distinct);
                Json::Object(m)
            })
            .collect(),
    }
}

fn group_json(m: &mut Map<String, Json>, r: &AggRow, distinct: &[Key]) {
    m.insert("flows".into(), json!(r.flows));
    m.insert("packets".into(), json!(r.packets));
    m.insert("bytes".into(), json!(r.bytes));
    m.insert("first".into(), json!(time(r.first_ms)));
    m.insert("last".into(), json!(time(r.last_ms)));
    for (k, n) in distinct.iter().zip(&r.distinct) {
        m.insert(format!("distinct_{}", k.name()), json!(n));
    }
}

fn pct(part: u64, total: u64) -> String {
    let p = if total == 0 {
        0.0
    } else {
        part as f64 * 100.0 / total as f64
    };
    format!("({p:4.1})")
}

fn stat_table(
    k: Key,
    rows: &[AggRow],
    t: &Totals,
    distinct: &[Key],
    orgs: &HashMap<u64, String>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    write!(
        out,
        "{:<23} {:>16} {:<5} {:>17} {:>14} {:>14} {:>14} {:>8} {:>8} {:>5}",
        "Date first seen",
        "Duration",
        "Proto",
        title(&Element::Key(k)),
        "Flows(%)",
        "Packets(%)",
        "Bytes(%)",
        "pps",
        "bps",
        "bpp"
    )?;
    for d in distinct {
        write!(out, " {:>10}", format!("#{}", d.name()))?;
    }
    if is_as(k) && !orgs.is_empty() {
        write!(out, "  Organisation")?;
    }
    writeln!(out)?;
    for r in rows {
        let span = r.last_ms - r.first_ms;
        let (pps, bps, bpp) = rates(r.packets, r.bytes, span);
        let proto = match (k, &r.keys[0]) {
            (Key::Proto, Value::Uint(p)) => proto_name(*p),
            _ => "any".into(),
        };
        let value = match k {
            Key::Proto => r.keys[0].to_string(),
            _ => show(&k, &r.keys[0]),
        };
        write!(
            out,
            "{:<23} {:>16} {:<5} {:>17} {:>14} {:>14} {:>14} {:>8} {:>8} {:>5}",
            time(r.first_ms),
            duration(span),
            proto,
            value,
            format!("{:>8}{}", human(r.flows), pct(r.flows, t.flows)),
            format!("{:>8}{}", human(r.packets), pct(r.packets, t.packets)),
            format!("{:>8}{}", human(r.bytes), pct(r.bytes, t.bytes)),
            human(pps),
            human(bps),
            bpp
        )?;
        for n in &r.distinct {
            write!(out, " {n:>10}")?;
        }
        if let (true, Value::Uint(n)) = (is_as(k), r.keys[0]) {
            if let Some(org) = orgs.get(&n) {
                write!(out, "  {org}")?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

fn summary_line(t: &Totals, out: &mut impl Write) -> std::io::Result<()> {
    let (pps, bps, bpp) = rates(t.packets, t.bytes, t.last_ms - t.first_ms);
    writeln!(
        out,
        "Summary: total flows: {}, total bytes: {}, total packets: {}, avg bps: {}, avg pps: {}, avg bpp: {}",
        t.flows,
        human(t.bytes),
        t.packets,
        human(bps),
        pps,
        bpp
    )?;
    if t.flows > 0 {
        writeln!(
            out,
            "Time window: {} - {}",
            time(t.first_ms),
            time(t.last_ms)
        )?;
    }
    Ok(())
}

/// Destination port as nfdump shows it: `type.code` for ICMP.
fn dst_port(f: &FlowRecord) -> String {
    if f.proto == 1 || f.proto == 58 {
        format!("{}.{}", f.dst_port >> 8, f.dst_port & 0xff)
    } else {
        f.dst_port.to_string()
    }
}

fn flow_json(f: &FlowRecord) -> Json {
    let mut v = serde_json::to_value(f).unwrap_or(Json::Null);
    if let Json::Object(m) = &mut v {
        m.insert("time_start".into(), json!(time(f.time_start)));
        m.insert("time_end".into(), json!(time(f.time_end)));
    }
    v
}

/// Errors of a streamed listing: the engine's, as `query_err` maps them
/// (a user's mistake exits 2), and the output's.
struct ListingError(anyhow::Error);

impl From<QueryError> for ListingError {
    fn from(e: QueryError) -> Self {
        ListingError(query_err(e))
    }
}

impl From<std::io::Error> for ListingError {
    fn from(e: std::io::Error) -> Self {
        ListingError(e.into())
    }
}

/// A flow listing, written batch by batch as the engine produces it (but
/// `-o json`, one array). The header comes with the first flow (or at the
/// end, when none matched), so a query that fails before any flow leaves
/// stdout empty.
fn listing(
    engine: &QueryEngine,
    filter: &Filter,
    order: Option<Order>,
    limit: Option<usize>,
    format: QueryFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if format == QueryFormat::Json {
        let flows = engine.records(filter, order, limit).map_err(query_err)?;
        let v: Vec<Json> = flows.iter().map(flow_json).collect();
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut started = false;
    engine
        .each_record(filter, order, limit, |flows| {
            if !started {
                listing_head(format, out)?;
                started = true;
            }
            for f in flows {
                listing_line(format, f, out)?;
            }
            Ok::<(), ListingError>(())
        })
        .map_err(|e| e.0)?;
    if !started {
        listing_head(format, out)?;
    }
    Ok(())
}

/// A listing's header: the table's, the CSV's column names; none in NDJSON.
fn listing_head(format: QueryFormat, out: &mut impl Write) -> std::io::Result<()> {
    match format {
        QueryFormat::Table => listing_header(out),
        QueryFormat::Csv => {
            let names: Vec<String> = flowhound_model::Column::ALL
                .iter()
                .map(|c| c.name().to_string())
                .collect();
            csv_line(out, &names)
        }
        QueryFormat::Ndjson | QueryFormat::Json => Ok(()),
    }
}

/// One flow of a listing.
fn listing_line(format: QueryFormat, f: &FlowRecord, out: &mut impl Write) -> std::io::Result<()> {
    match format {
        QueryFormat::Table => listing_row(f, out),
        QueryFormat::Csv => flow_csv(f, out),
        QueryFormat::Ndjson | QueryFormat::Json => {
            serde_json::to_writer(&mut *out, &flow_json(f))?;
            writeln!(out)
        }
    }
}

/// One flow as a CSV line, in the column order of the files: written
/// directly, as a listing can be millions of lines.
fn flow_csv(f: &FlowRecord, out: &mut impl Write) -> std::io::Result<()> {
    let cc = |c: &[u8; 2]| flowhound_model::country_str(c).unwrap_or("").to_string();
    writeln!(
        out,
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        time(f.time_start),
        time(f.time_end),
        addr_to_ip(f.exporter),
        f.domain_id,
        addr_to_ip(f.src_ip),
        addr_to_ip(f.dst_ip),
        addr_to_ip(f.next_hop),
        f.src_port,
        f.dst_port,
        f.proto,
        f.tcp_flags,
        f.tos,
        f.direction,
        f.src_mask,
        f.dst_mask,
        f.end_reason,
        f.version,
        f.in_if,
        f.out_if,
        f.src_as,
        f.dst_as,
        f.packets,
        f.bytes,
        f.src_vlan,
        f.dst_vlan,
        f.src_mac,
        f.dst_mac,
        f.sampling_rate,
        cc(&f.src_country),
        cc(&f.dst_country),
    )
}

fn listing_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<23} {:>12} {:<5} {:>23}    {:>23} {:>8} {:>8} {:>5}",
        "Date first seen",
        "Duration",
        "Proto",
        "Src IP Addr:Port",
        "Dst IP Addr:Port",
        "Packets",
        "Bytes",
        "Flows"
    )
}

fn listing_row(f: &FlowRecord, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<23} {:>12} {:<5} {:>23} -> {:<23} {:>8} {:>8} {:>5}",
        time(f.time_start),
        duration(f.time_end - f.time_start),
        proto_name(f.proto.into()),
        format!("{}:{:<5}", addr_to_ip(f.src_ip), f.src_port),
        format!(
            "{:>17}:{:<5}",
            addr_to_ip(f.dst_ip).to_string(),
            dst_port(f)
        ),
        human(f.packets),
        human(f.bytes),
        1
    )
}

fn aggregated(
    agg: &Aggregate,
    rows: &[AggRow],
    format: QueryFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let row_json = |r: &AggRow| {
        let mut m = Map::new();
        for (k, v) in agg.keys.iter().zip(&r.keys) {
            m.insert(k.name().into(), json_value(v));
        }
        group_json(&mut m, r, &agg.distinct);
        Json::Object(m)
    };
    match format {
        QueryFormat::Json => {
            serde_json::to_writer_pretty(
                &mut *out,
                &rows.iter().map(row_json).collect::<Vec<_>>(),
            )?;
            writeln!(out)?;
        }
        QueryFormat::Ndjson => {
            for r in rows {
                serde_json::to_writer(&mut *out, &row_json(r))?;
                writeln!(out)?;
            }
        }
        QueryFormat::Csv | QueryFormat::Table => {
            let mut t = Table::default();
            if format == QueryFormat::Table {
                t.columns
                    .extend(["Date first seen".to_string(), "Duration".to_string()]);
            } else {
                t.columns.extend(["first".to_string(), "last".to_string()]);
            }
            t.columns
                .extend(agg.keys.iter().map(|k| k.name().to_string()));
            t.columns
                .extend(["flows", "packets", "bytes"].map(String::from));
            t.columns.extend(
                agg.distinct
                    .iter()
                    .map(|d| format!("distinct_{}", d.name())),
            );
            for r in rows {
                let mut line = vec![Cell::Text(time(r.first_ms))];
                if format == QueryFormat::Table {
                    line.push(Cell::Text(duration(r.last_ms - r.first_ms)));
                } else {
                    line.push(Cell::Text(time(r.last_ms)));
                }
                for (k, v) in agg.keys.iter().zip(&r.keys) {
                    line.push(match (format, v) {
                        (QueryFormat::Table, v) => Cell::Text(show(k, v)),
                        (_, Value::Uint(n)) => Cell::UInt(*n),
                        (_, v) => {
                            Cell::Text(json_value(v).as_str().unwrap_or_default().to_string())
                        }
                    });
                }
                let count = |n: u64| {
                    if format == QueryFormat::Table {
                        Cell::Text(human(n))
                    } else {
                        Cell::UInt(n)
                    }
                };
                line.extend([count(r.flows), count(r.packets), count(r.bytes)]);
                line.extend(r.distinct.iter().map(|n| Cell::UInt(*n)));
                t.rows.push(line);
            }
            write_table(&t, format, out)?;
        }
    }
    Ok(())
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Null => String::new(),
        Cell::Int(n) => n.to_string(),
        Cell::UInt(n) => n.to_string(),
        Cell::Float(f) => f.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Text(s) => s.clone(),
    }
}

fn cell_json(c: &Cell) -> Json {
    match c {
        Cell::Null => Json::Null,
        Cell::Int(n) => json!(n),
        Cell::UInt(n) => json!(n),
        Cell::Float(f) => json!(f),
        Cell::Bool(b) => json!(b),
        Cell::Text(s) => json!(s),
    }
}

fn csv_line(out: &mut impl Write, fields: &[String]) -> std::io::Result<()> {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    writeln!(out, "{}", quoted.join(","))
}

/// A generic result in any format: aligned columns (numbers to the right),
/// CSV with a header, a JSON array of objects, or one object per line.
pub fn write_table(t: &Table, format: QueryFormat, out: &mut impl Write) -> anyhow::Result<()> {
    match format {
        QueryFormat::Table => {
            let texts: Vec<Vec<String>> = t
                .rows
                .iter()
                .map(|r| r.iter().map(cell_text).collect())
                .collect();
            let mut widths: Vec<usize> = t.columns.iter().map(|c| c.chars().count()).collect();
            for r in &texts {
                for (w, s) in widths.iter_mut().zip(r) {
                    *w = (*w).max(s.chars().count());
                }
            }
            let right: Vec<bool> = (0..t.columns.len())
                .map(|i| {
                    t.rows.iter().any(|r| {
                        matches!(
                            r.get(i),
                            Some(Cell::Int(_) | Cell::UInt(_) | Cell::Float(_))
                        )
                    })
                })
                .collect();
            let line = |cells: &[String]| {
                cells
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let w = widths[i];
                        if right[i] {
                            format!("{s:>w$}")
                        } else {
                            format!("{s:<w$}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            writeln!(out, "{}", line(&t.columns))?;
            for r in &texts {
                writeln!(out, "{}", line(r))?;
            }
        }
        QueryFormat::Csv => {
            csv_line(out, &t.columns)?;
            for r in &t.rows {
                csv_line(out, &r.iter().map(cell_text).collect::<Vec<_>>())?;
            }
        }
        QueryFormat::Json | QueryFormat::Ndjson => {
            let objects = t.rows.iter().map(|r| {
                Json::Object(
                    t.columns
                        .iter()
                        .cloned()
                        .zip(r.iter().map(cell_json))
                        .collect(),
                )
            });
            if format == QueryFormat::Json {
                serde_json::to_writer_pretty(&mut *out, &objects.collect::<Vec<_>>())?;
                writeln!(out)?;
            } else {
                for o in objects {
                    serde_json::to_writer(&mut *out, &o)?;
                    writeln!(out)?;
                }
            }
        }
    }
    Ok(())
}
