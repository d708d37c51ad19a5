//! `flowhound host IP`: one machine's story — totals, a chart of its flows
//! out and in over time, the ports it used and offered, its peers.

use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context;
use flowhound_enrich::Config;
use flowhound_model::Enricher;
use flowhound_query::{host_report, Baseline, HostOptions, HostReport, HostTotals, RARE_PER_MILLE};

use super::query::{open, proto_name, query_err, window_arg};
use crate::args::{Format, HostArgs};
use crate::units::{human, user};

pub fn run(a: HostArgs, config: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (config, enricher) = super::whois::config_and_enricher(config)?;
    report(a, enricher, config.as_ref())
}

/// The report on `a.address`, with the registry and site of an already
/// loaded config.
pub fn report(
    a: HostArgs,
    enricher: Option<Arc<dyn Enricher>>,
    config: Option<&Config>,
) -> anyhow::Result<()> {
    let internal = config.map(|c| c.site.internal_ranges()).unwrap_or_default();
    let ip: IpAddr = a.address.trim().parse().map_err(|_| {
        user(format!(
            "'{}' is not an IPv4 or IPv6 address (host names are not resolved)",
            a.address
        ))
    })?;
    let bin_ms = match a.bin {
        Some(d) if d.as_millis() == 0 => return Err(user("--bin must be at least 1ms")),
        Some(d) => Some(i64::try_from(d.as_millis()).map_err(|_| user("--bin is too large"))?),
        None => None,
    };
    let window = window_arg(a.window.as_deref())?;
    let engine = open(&a.data, window, enricher)?;
    let report = host_report(
        &engine,
        ip,
        window,
        &HostOptions {
            bin_ms,
            top: a.limit,
            internal,
        },
    )
    .map_err(query_err)?;
    if let Some(path) = &a.svg {
        std::fs::write(path, svg(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    match a.output {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Table => table(&report, a.limit, &mut out)?,
    }
    Ok(())
}

/// `2026-11-26 14:00:00` UTC.
fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn window_text(r: &HostReport) -> String {
    match r.window {
        None => "all stored flows".into(),
        Some(w) => match w.end_ms {
            Some(end) => format!("{} – {} UTC", when(w.start_ms), when(end)),
            None => format!("from {} UTC", when(w.start_ms)),
        },
    }
}

/// `5m`, `1h`, `30s`, `1d`.
fn bin_name(ms: i64) -> String {
    for (unit, div) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms % div == 0 {
            return format!("{}{unit}", ms / div);
        }
    }
    format!("{ms}ms")
}

/// The label of a bin: as short as the bins and the span allow.
fn bin_label(r: &HostReport, start_ms: i64) -> String {
    let day = |ms: i64| ms.div_euclid(86_400_000);
    let one_day = match (r.bins.first(), r.bins.last()) {
        (Some(a), Some(b)) => day(a.start_ms) == day(b.start_ms),
        _ => true,
    };
    let f = if r.bin_ms % 86_400_000 == 0 {
        "%Y-%m-%d"
    } else if r.bin_ms % 60_000 != 0 {
        if one_day {
            "%H:%M:%S"
        } else {
            "%m-%d %H:%M:%S"
        }
    } else if one_day {
        "%H:%M"
    } else {
        "%m-%d %H:%M"
    };
    chrono::DateTime::from_timestamp_millis(start_ms)
        .map(|t| t.format(f).to_string())
        .unwrap_or_else(|| start_ms.to_string())
}

/// A horizontal bar of `width` cells for `n` of `max`, in eighths.
fn bar(n: u64, max: u64, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    if max == 0 {
        return " ".repeat(width);
    }
    let eighths = (n as u128 * (width as u128 * 8) / max as u128) as usize;
    // Something is never drawn as nothing.
    let eighths = if n > 0 { eighths.max(1) } else { 0 };
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(PARTS[eighths % 8]);
    }
    let used = s.chars().count();
    s.push_str(&" ".repeat(width.saturating_sub(used)));
    s
}

/// ICMP "ports" are type.code, as nfdump shows them.
fn port_text(proto: u8, port: u16) -> String {
    if proto == 1 || proto == 58 {
        format!("{}.{}", port >> 8, port & 0xff)
    } else {
        port.to_string()
    }
}

fn totals_line(label: &str, t: &HostTotals) -> String {
    let mut s = format!(
        "  {label:<4} {:>8} flows {:>8} packets {:>8} bytes",
        human(t.flows),
        human(t.packets),
        human(t.bytes)
    );
    if t.flows > 0 {
        let (first, last) = (when(t.first_ms), when(t.last_ms));
        // The last time without its date when it is the first's.
        let last = match (first.split_once(' '), last.split_once(' ')) {
            (Some((d1, _)), Some((d2, t2))) if d1 == d2 => t2.to_string(),
            _ => last,
        };
        let _ = write!(s, "   {first} – {last}");
    }
    s
}

const BAR: usize = 30;

fn table(r: &HostReport, top: usize, out: &mut impl Write) -> std::io::Result<()> {
    if r.is_empty() {
        writeln!(
            out,
            "No flows of {} in {}.",
            r.address,
            match r.window {
                None => "the stored flows".to_string(),
                Some(_) => format!("the window {}", window_text(r)),
            }
        )?;
        return Ok(());
    }
    writeln!(out, "Host {}   window: {}", r.address, window_text(r))?;
    writeln!(out, "{}", totals_line("out", &r.out))?;
    writeln!(out, "{}", totals_line("in", &r.inbound))?;
    writeln!(out, "  peers {} distinct", r.peers_total)?;
    writeln!(out)?;

    // Flows over time: both directions on one scale.
    let max = r
        .bins
        .iter()
        .map(|b| b.flows_out.max(b.flows_in))
        .max()
        .unwrap_or(0);
    let labels: Vec<String> = r.bins.iter().map(|b| bin_label(r, b.start_ms)).collect();
    let lw = labels.iter().map(|l| l.chars().count()).max().unwrap_or(5);
    let day = r
        .bins
        .first()
        .map(|b| {
            chrono::DateTime::from_timestamp_millis(b.start_ms)
                .map(|t| t.format(" on %Y-%m-%d").to_string())
                .unwrap_or_default()
        })
        .filter(|_| labels.first().is_some_and(|l| l.len() <= 8))
        .unwrap_or_default();
    writeln!(
        out,
        "Flows per {}{day} (UTC), out and in on one scale (full bar: {} flows)",
        bin_name(r.bin_ms),
        human(max)
    )?;
    writeln!(out, "{:<lw$}  {:<w$}  in", "", "out", w = BAR + 8)?;
    for (b, label) in r.bins.iter().zip(&labels) {
        writeln!(
            out,
            "{label:<lw$}  {} {:>7}  {} {:>7}",
            bar(b.flows_out, max, BAR),
            human(b.flows_out),
            bar(b.flows_in, max, BAR),
            human(b.flows_in)
        )?;
    }
    writeln!(out)?;

    let used: Vec<PortRow> = r
        .ports_used
        .iter()
        .map(|p| (p.proto, p.port, p.flows, p.packets, p.bytes, p.peers))
        .collect();
    ports_table(
        out,
        "Ports used (the service ports it connected to)",
        "none: it connected to nothing",
        "peers",
        &used,
    )?;
    let offered: Vec<PortRow> = r
        .ports_offered
        .iter()
        .map(|p| (p.proto, p.port, p.flows, p.packets, p.bytes, p.clients))
        .collect();
    ports_table(
        out,
        "Ports offered (its service ports others connected to)",
        "none: nobody connected to it",
        "clients",
        &offered,
    )?;

    writeln!(out, "Top peers, {} of {}:", r.peers.len(), r.peers_total)?;
    let aw = r
        .peers
        .iter()
        .map(|p| p.address.len())
        .max()
        .unwrap_or(7)
        .max(7);
    writeln!(
        out,
        "  {:<aw$} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "address", "flows", "packets", "bytes", "out", "in"
    )?;
    for p in &r.peers {
        writeln!(
            out,
            "  {:<aw$} {:>8} {:>8} {:>8} {:>8} {:>8}",
            p.address,
            human(p.flows),
            human(p.packets),
            human(p.bytes),
            human(p.flows_out),
            human(p.flows_in)
        )?;
    }
    writeln!(out)?;

    writeln!(out, "Distinct peers per hour (UTC):")?;
    let max_peers = r
        .peers_per_hour
        .iter()
        .map(|h| h.peers_out.max(h.peers_in))
        .max()
        .unwrap_or(0);
    writeln!(out, "  {:<16} {:>7} {:>7}  out", "hour", "out", "in")?;
    for h in &r.peers_per_hour {
        writeln!(
            out,
            "  {:<16} {:>7} {:>7}  {}",
            when(h.start_ms).get(..16).unwrap_or_default(),
            h.peers_out,
            h.peers_in,
            bar(h.peers_out, max_peers, BAR).trim_end()
        )?;
    }
    writeln!(out)?;

    if let Some(p) = &r.countries {
        let site = match p.baseline {
            Baseline::InternalPeers => "the site's other hosts",
            Baseline::AllDestinations => "all flows",
        };
        writeln!(out, "Peer countries (against {site} in the same window):")?;
        writeln!(
            out,
            "  {:<7} {:>8} {:>7} {:>10}",
            "country", "flows", "peers", "site share"
        )?;
        let shown = if top == 0 { p.countries.len() } else { top };
        for c in p.countries.iter().take(shown) {
            let share = if p.site_flows_total == 0 {
                0.0
            } else {
                c.site_flows as f64 * 100.0 / p.site_flows_total as f64
            };
            writeln!(
                out,
                "  {:<7} {:>8} {:>7} {:>9.2}%{}",
                c.country,
                human(c.flows),
                c.peers,
                share,
                if c.rare_for_site {
                    "  rare for the site"
                } else {
                    ""
                }
            )?;
        }
        if p.countries.len() > shown {
            writeln!(out, "  … {} more countries", p.countries.len() - shown)?;
        }
        if p.rare_peers > 0 {
            let list: Vec<&str> = p.rare_countries().take(12).collect();
            let text = format!(
                "{} of its {} peers with a known country ({} flows) are in {} countries \
                 that get under {}% of the site's flows: {}",
                p.rare_peers,
                p.known_peers,
                human(p.rare_flows),
                p.rare_countries().count(),
                RARE_PER_MILLE as f64 / 10.0,
                list.join(" ")
            );
            wrapped(out, "  ", &text)?;
        }
        writeln!(out)?;
    }
    for n in &r.notes {
        wrapped(out, "Note: ", n)?;
    }
    Ok(())
}

/// proto, port, flows, packets, bytes, and distinct peers or clients.
type PortRow = (u8, u16, u64, u64, u64, u64);

fn ports_table(
    out: &mut impl Write,
    title: &str,
    empty: &str,
    who: &str,
    rows: &[PortRow],
) -> std::io::Result<()> {
    writeln!(out, "{title}, top {}:", rows.len())?;
    if rows.is_empty() {
        writeln!(out, "  {empty}")?;
    } else {
        writeln!(
            out,
            "  {:<5} {:>7} {:>8} {:>8} {:>8} {:>7}",
            "proto", "port", "flows", "packets", "bytes", who
        )?;
        for &(proto, port, flows, packets, bytes, n) in rows {
            writeln!(
                out,
                "  {:<5} {:>7} {:>8} {:>8} {:>8} {:>7}",
                proto_name(proto.into()),
                port_text(proto, port),
                human(flows),
                human(packets),
                human(bytes),
                n
            )?;
        }
    }
    writeln!(out)
}

/// `text` in lines of at most 100 columns, the first after `lead`, the
/// others indented as far.
fn wrapped(out: &mut impl Write, lead: &str, text: &str) -> std::io::Result<()> {
    let indent = " ".repeat(lead.chars().count());
    let mut line = lead.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > 100 {
            writeln!(out, "{line}")?;
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    writeln!(out, "{line}")
}

/// Text for XML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The smallest 1, 2 or 5 × 10^k at or above `n` (at least 1).
fn nice_ceiling(n: u64) -> u64 {
    let n = n.max(1);
    let mut p: u64 = 1;
    loop {
        for f in [1, 2, 5] {
            match p.checked_mul(f) {
                Some(v) if v >= n => return v,
                Some(_) => {}
                None => return n,
            }
        }
        p = match p.checked_mul(10) {
            Some(p) => p,
            None => return n,
        };
    }
}

/// How often to label the time axis of `n` bins: a round multiple of the
/// bin that gives at most eight labels.
fn label_interval(bin_ms: i64, n: usize) -> i64 {
    const ROUND_MS: [i64; 20] = [
        1_000,
        5_000,
        10_000,
        15_000,
        30_000,
        60_000,
        120_000,
        300_000,
        600_000,
        900_000,
        1_800_000,
        3_600_000,
        7_200_000,
        10_800_000,
        21_600_000,
        43_200_000,
        86_400_000,
        172_800_000,
        604_800_000,
        2_592_000_000,
    ];
    let span = bin_ms.saturating_mul(n as i64);
    ROUND_MS
        .iter()
        .copied()
        .find(|&e| e >= bin_ms && e % bin_ms == 0 && e <= span && span / e <= 8)
        .unwrap_or_else(|| bin_ms.saturating_mul(((n as i64 + 7) / 8).max(1)))
}

/// A self-contained SVG bar chart of the flows out and in per bin: one
/// `<g class="bin">` per bin with a tooltip, time labels below, flow
/// counts on the left.
fn svg(r: &HostReport) -> String {
    const W: f64 = 960.0;
    const H: f64 = 360.0;
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 50.0;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let base = TOP + ph;
    let n = r.bins.len();
    let max = r
        .bins
        .iter()
        .map(|b| b.flows_out.max(b.flows_in))
        .max()
        .unwrap_or(0);
    // Round gridlines: a 1-2-5 step, four or five of them.
    let step = nice_ceiling(max.div_ceil(4));
    let ticks = max.div_ceil(step).max(1);
    let ymax = step * ticks;
    let y = |v: u64| base - v as f64 / ymax as f64 * ph;
    let bw = pw / n.max(1) as f64;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">"#
    );
    s.push_str(
        "<style>.out{fill:#c0392b}.in{fill:#2e86c1}.grid{stroke:#ddd}.axis{stroke:#333}</style>\n",
    );
    let _ = writeln!(
        s,
        r##"<rect width="{W}" height="{H}" fill="#fff"/><text x="{LEFT}" y="20" font-size="14">Flows of {} per {} (UTC), {}</text>"##,
        esc(&r.address),
        bin_name(r.bin_ms),
        esc(&window_text(r))
    );
    // Legend.
    let lx = W - RIGHT - 150.0;
    let _ = writeln!(
        s,
        r#"<rect class="out" x="{lx}" y="10" width="10" height="10"/><text x="{}" y="19">flows out</text><rect class="in" x="{}" y="10" width="10" height="10"/><text x="{}" y="19">flows in</text>"#,
        lx + 14.0,
        lx + 80.0,
        lx + 94.0
    );
    // Value axis: five gridlines.
    for i in 0..=ticks {
        let v = step * i;
        let yy = y(v);
        let _ = writeln!(
            s,
            r#"<line class="grid" x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0,
            esc(&human(v))
        );
    }
    // The bins.
    for (i, b) in r.bins.iter().enumerate() {
        let x = LEFT + i as f64 * bw;
        let label = when(b.start_ms);
        let _ = writeln!(
            s,
            r#"<g class="bin"><title>{label}: {} out, {} in</title><rect class="out" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}"/><rect class="in" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}"/></g>"#,
            b.flows_out,
            b.flows_in,
            x + bw * 0.1,
            y(b.flows_out),
            bw * 0.4,
            base - y(b.flows_out),
            x + bw * 0.5,
            y(b.flows_in),
            bw * 0.4,
            base - y(b.flows_in),
        );
    }
    // Time axis: at most about eight labels, on round times.
    let every = label_interval(r.bin_ms, n);
    for (i, b) in r.bins.iter().enumerate() {
        if b.start_ms.rem_euclid(every) != 0 {
            continue;
        }
        let x = LEFT + i as f64 * bw;
        let _ = writeln!(
            s,
            r#"<line class="axis" x1="{x:.2}" y1="{base}" x2="{x:.2}" y2="{:.1}"/><text x="{x:.2}" y="{:.1}" text-anchor="middle">{}</text>"#,
            base + 5.0,
            base + 18.0,
            esc(&bin_label(r, b.start_ms))
        );
    }
    if n == 0 {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">no flows</text>"#,
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
    }
    let _ = writeln!(
        s,
        r#"<line class="axis" x1="{LEFT}" y1="{base}" x2="{:.1}" y2="{base}"/><line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}"/>"#,
        LEFT + pw
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">flow start (UTC)</text>"#,
        LEFT + pw / 2.0,
        H - 10.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_scales() {
        assert_eq!(bar(0, 10, 4), "    ");
        assert_eq!(bar(10, 10, 4), "████");
        assert_eq!(bar(5, 10, 4), "██  ");
        assert_eq!(bar(1, 1000, 4), "▏   ");
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(101), 200);
        assert_eq!(nice_ceiling(450), 500);
        assert_eq!(bin_name(300_000), "5m");
        assert_eq!(bin_name(3_600_000), "1h");
        assert_eq!(bin_name(1500), "1500ms");
        assert_eq!(port_text(1, 0x0303), "3.3");
        assert_eq!(port_text(6, 25), "25");
        assert_eq!(label_interval(300_000, 49), 1_800_000);
        assert_eq!(label_interval(3_600_000, 24), 10_800_000);
        assert_eq!(label_interval(7_000, 100), 91_000);
    }
}
