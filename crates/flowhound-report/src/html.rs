//! The report as one HTML page: inline CSS and SVG, no script, nothing to
//! fetch, so it reads the same in a browser, in a mail and on paper.

use std::fmt::Write;

use crate::smtp::{Section, SenderRow, SmtpReport};
use crate::svg::{columns, rows, stacked, thousands, Bar};

/// Text made safe for HTML and SVG, in element content and in quoted
/// attributes alike.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:72em;\
padding:0 1em;color:#222;line-height:1.4}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\
.summary{background:#f5f7fa;border-left:4px solid #4a6fa5;padding:.6em 1em}\
.question{font-size:.85em;color:#555}.question code{background:#f0f0f0;padding:0 .3em;\
word-break:break-all}.note{font-style:italic;color:#444}\
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}\
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f0f0f0}\
tr.unregistered td{background:#fde8e8}tr.registered td{background:#e8f0fd}\
.tag{font-size:.8em;padding:0 .4em;border-radius:.3em;white-space:nowrap}\
.tag.unregistered{background:#c0392b;color:#fff}.tag.registered{background:#2c5aa0;color:#fff}\
.tag.external{background:#ddd}\
svg.chart{display:block;margin:.6em 0}svg.chart rect.bar{fill:#4a6fa5}\
svg.chart rect.quiet{fill:#7b5ea7}svg.chart rect.registered{fill:#2c5aa0}\
svg.chart rect.unregistered{fill:#c0392b}svg.chart rect.external{fill:#95a5a6}\
svg.chart rect.foreign{fill:#d35400;stroke:#fff}svg.chart rect.home{fill:#2c5aa0;stroke:#fff}\
svg.chart rect.unknown{fill:#95a5a6;stroke:#fff}\
.legend span{margin-right:1.2em;font-size:.85em}.legend i{display:inline-block;width:.9em;\
height:.9em;margin-right:.3em;vertical-align:middle}";

struct Cols<'a>(&'a [&'a str]);

fn head(out: &mut String, cols: Cols<'_>) {
    out.push_str("<thead><tr>");
    for c in cols.0 {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr></thead>");
}

fn num(n: u64) -> String {
    format!("<td class=\"n\">{}</td>", thousands(n))
}

fn text(s: &str) -> String {
    format!("<td>{}</td>", escape(s))
}

fn code(s: &str) -> String {
    format!("<td><code>{}</code></td>", escape(s))
}

/// The heading, the question beside it, and the note.
fn open_section<R>(out: &mut String, id: &str, s: &Section<R>) {
    let _ = write!(
        out,
        "<section id=\"{}\"><h2>{}</h2>",
        escape(id),
        escape(&s.title)
    );
    if !s.filter.is_empty() || !s.query.is_empty() {
        out.push_str("<p class=\"question\">");
        if !s.filter.is_empty() {
            let _ = write!(out, "Filter <code>{}</code>", escape(&s.filter));
        }
        if !s.window.is_empty() {
            let sep = if s.filter.is_empty() {
                "Window"
            } else {
                ", window"
            };
            let _ = write!(out, "{sep} <code>{}</code>", escape(&s.window));
        }
        if !s.query.is_empty() {
            out.push_str("<br>The same numbers: ");
            for (i, q) in s.query.lines().enumerate() {
                if i > 0 {
                    out.push_str("<br>");
                }
                let _ = write!(out, "<code>{}</code>", escape(q));
            }
        }
        out.push_str("</p>");
    }
    if let Some(n) = &s.note {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(n));
    }
}

fn empty_row(out: &mut String, cols: usize, what: &str) {
    let _ = write!(
        out,
        "<tr class=\"empty\"><td colspan=\"{cols}\">{}</td></tr>",
        escape(what)
    );
}

/// The CSS class of a sender's kind.
fn kind_class(r: &SenderRow) -> &'static str {
    if r.registered {
        "registered"
    } else if r.internal {
        "unregistered"
    } else {
        "external"
    }
}

fn sender_table(out: &mut String, id: &str, rows: &[SenderRow]) {
    let _ = write!(out, "<table id=\"{id}-table\">");
    head(
        out,
        Cols(&[
            "#",
            "Source address",
            "Flows",
            "Packets",
            "Bytes",
            "Destinations",
            "First",
            "Last",
            "Kind",
            "Owner",
        ]),
    );
    out.push_str("<tbody>");
    if rows.is_empty() {
        empty_row(out, 10, "none");
    }
    for r in rows {
        let class = kind_class(r);
        let _ = write!(
            out,
            "<tr class=\"sender {class}\" data-srcip=\"{}\"><td class=\"n\">{}</td>{}{}{}{}{}{}{}\
             <td><span class=\"tag {class}\">{}</span></td>{}</tr>",
            escape(&r.srcip),
            r.rank,
            code(&r.srcip),
            num(r.flows),
            num(r.packets),
            num(r.bytes),
            num(r.distinct_dstip),
            text(&r.first),
            text(&r.last),
            escape(&r.kind),
            text(&r.owner)
        );
    }
    out.push_str("</tbody></table>");
}

/// The whole page.
pub(crate) fn page(r: &SmtpReport) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>SMTP report {date}</title><style>{STYLE}</style></head><body>\
         <h1>SMTP report {date}</h1><p>{}</p><p class=\"summary\" id=\"summary\">{}</p>",
        escape(&r.day.describe()),
        escape(&r.summary()),
        date = escape(&r.day.date),
    );
    let t = &r.totals;
    let _ = write!(
        o,
        "<table id=\"totals\"><tbody><tr><th>SMTP flows</th>{}</tr><tr><th>Packets</th>{}</tr>\
         <tr><th>Bytes</th>{}</tr><tr><th>Senders</th>{}</tr><tr><th>Internal senders</th>{}</tr>\
         <tr><th>Unregistered internal senders</th>{}</tr></tbody></table>",
        num(t.flows),
        num(t.packets),
        num(t.bytes),
        num(t.senders),
        num(t.internal_senders),
        num(t.unregistered_internal_senders)
    );

    // Per hour.
    let s = &r.smtp_by_hour;
    open_section(&mut o, "smtp_by_hour", s);
    let bars: Vec<Bar> = s
        .rows
        .iter()
        .map(|h| {
            let mut b = Bar::new(
                h.hour.get(..2).unwrap_or(&h.hour),
                h.flows,
                if h.quiet { "bar quiet" } else { "bar" },
            );
            b.tip = format!("{} ({}): {} flows", h.hour, h.start, thousands(h.flows));
            b
        })
        .collect();
    o.push_str(&columns("SMTP flows per hour", &bars));
    if r.smtp_by_hour.rows.iter().any(|h| h.quiet) {
        o.push_str(
            "<p class=\"legend\"><span><i style=\"background:#4a6fa5\"></i>flows</span>\
             <span><i style=\"background:#7b5ea7\"></i>quiet hours</span></p>",
        );
    }
    // The chart says it at a glance; the numbers stay one click away.
    o.push_str("<details><summary>The hours as a table</summary><table id=\"smtp_by_hour-table\">");
    head(
        &mut o,
        Cols(&["Hour", "Start (UTC)", "Flows", "Packets", "Bytes", "Quiet"]),
    );
    o.push_str("<tbody>");
    for h in &s.rows {
        let _ = write!(
            o,
            "<tr>{}{}{}{}{}{}</tr>",
            text(&h.hour),
            text(&h.start),
            num(h.flows),
            num(h.packets),
            num(h.bytes),
            text(if h.quiet { "yes" } else { "" })
        );
    }
    o.push_str("</tbody></table></details></section>");

    // Top senders.
    let s = &r.top_senders;
    open_section(&mut o, "top_senders", s);
    let bars: Vec<Bar> = s
        .rows
        .iter()
        .map(|x| {
            let mut b = Bar::new(x.srcip.clone(), x.flows, "bar");
            b.class = match kind_class(x) {
                "registered" => "bar registered",
                "unregistered" => "bar unregistered",
                _ => "bar external",
            };
            b.tip = format!("{} ({}): {} flows", x.srcip, x.kind, thousands(x.flows));
            b
        })
        .collect();
    if !bars.is_empty() {
        o.push_str(&rows("Top SMTP senders by flows", &bars));
        o.push_str(
            "<p class=\"legend\"><span><i style=\"background:#c0392b\"></i>unregistered \
             internal sender</span><span><i style=\"background:#2c5aa0\"></i>registered mail \
             server</span><span><i style=\"background:#95a5a6\"></i>external</span></p>",
        );
    }
    sender_table(&mut o, "top_senders", &s.rows);
    o.push_str("</section>");

    let s = &r.unregistered_senders;
    open_section(&mut o, "unregistered_senders", s);
    if !s.filter.is_empty() {
        sender_table(&mut o, "unregistered_senders", &s.rows);
    }
    o.push_str("</section>");

    // Quiet hours.
    let s = &r.quiet_hours;
    open_section(&mut o, "quiet_hours", s);
    o.push_str("<table id=\"quiet_hours-table\">");
    head(
        &mut o,
        Cols(&[
            "Server",
            "Quiet hours",
            "Window",
            "Flows",
            "Packets",
            "Bytes",
            "Destinations",
            "Day's flows",
            "% of its day",
        ]),
    );
    o.push_str("<tbody>");
    if s.rows.is_empty() {
        empty_row(&mut o, 9, "none");
    }
    for q in &s.rows {
        let _ = write!(
            o,
            "<tr data-srcip=\"{}\">{}{}{}{}{}{}{}{}{}</tr>",
            escape(&q.srcip),
            code(&q.srcip),
            text(&q.quiet),
            code(&q.window),
            num(q.flows),
            num(q.packets),
            num(q.bytes),
            num(q.distinct_dstip),
            num(q.day_flows),
            num(q.percent_of_day)
        );
    }
    o.push_str("</tbody></table></section>");

    // Countries.
    let s = &r.sender_countries;
    open_section(&mut o, "sender_countries", s);
    if r.site.countries {
        // One row per sender, in the table's order, split by country.
        let mut by_sender: Vec<(String, Vec<Bar>)> = Vec::new();
        for c in &s.rows {
            let class = match c.foreign {
                Some(true) => "bar foreign",
                Some(false) => "bar home",
                None => "bar unknown",
            };
            let mut bar = Bar::new(c.country.clone(), c.flows, class);
            bar.tip = format!("{} to {}: {} flows", c.srcip, c.country, thousands(c.flows));
            match by_sender.last_mut() {
                Some((ip, bars)) if *ip == c.srcip => bars.push(bar),
                _ => by_sender.push((c.srcip.clone(), vec![bar])),
            }
        }
        if !by_sender.is_empty() {
            o.push_str(&stacked(
                "Where each top sender's SMTP flows went, by destination country",
                &by_sender,
            ));
        }
        o.push_str("<table id=\"sender_countries-table\">");
        head(
            &mut o,
            Cols(&["Sender", "Country", "Flows", "Packets", "Bytes", "Foreign"]),
        );
        o.push_str("<tbody>");
        if s.rows.is_empty() {
            empty_row(&mut o, 6, "none");
        }
        for c in &s.rows {
            let _ = write!(
                o,
                "<tr>{}{}{}{}{}{}</tr>",
                code(&c.srcip),
                text(&c.country),
                num(c.flows),
                num(c.packets),
                num(c.bytes),
                text(match c.foreign {
                    Some(true) => "foreign",
                    Some(false) => "home",
                    None => "",
                })
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");

    // Detections.
    let s = &r.detections;
    open_section(&mut o, "detections", s);
    o.push_str("<table id=\"detections-table\">");
    head(
        &mut o,
        Cols(&[
            "Window start",
            "Window end",
            "Host",
            "Rule",
            "Category",
            "Severity",
            "Flows",
            "Peers",
            "Ports",
            "Top ports",
            "Top countries",
            "Evidence",
        ]),
    );
    o.push_str("<tbody>");
    if s.rows.is_empty() {
        empty_row(&mut o, 12, "no alerts");
    }
    for d in &s.rows {
        let _ = write!(
            o,
            "<tr class=\"severity-{}\">{}{}{}{}{}{}{}{}{}{}{}<td><code>-t {} '{}'</code></td></tr>",
            escape(&d.severity),
            text(&d.window_start),
            text(&d.window_end),
            code(&d.host),
            text(&d.rule),
            text(&d.category),
            text(&d.severity),
            num(d.flows),
            num(d.distinct_peers),
            num(d.distinct_ports),
            text(&d.top_ports),
            text(&d.top_countries),
            escape(&d.window),
            escape(&d.filter)
        );
    }
    o.push_str("</tbody></table></section>");

    // Cases.
    let s = &r.open_cases;
    open_section(&mut o, "open_cases", s);
    o.push_str("<table id=\"open_cases-table\">");
    head(
        &mut o,
        Cols(&[
            "Case",
            "Host",
            "Category",
            "State",
            "Notices",
            "Owner",
            "First seen",
            "Last seen",
        ]),
    );
    o.push_str("<tbody>");
    if s.rows.is_empty() {
        empty_row(&mut o, 8, "no open cases");
    }
    for c in &s.rows {
        let _ = write!(
            o,
            "<tr>{}{}{}{}{}{}{}{}</tr>",
            code(&c.id),
            code(&c.host),
            text(&c.category),
            text(&c.state),
            num(u64::from(c.notices)),
            text(&c.owner),
            text(&c.first_seen),
            text(&c.last_seen)
        );
    }
    o.push_str("</tbody></table></section>");
    let _ = writeln!(
        o,
        "<footer><p class=\"question\">Made by flowhound from flow records: every table is \
         one question to the query engine, asked again by the command beside it. SMTP is \
         <code>{}</code>.</p></footer></body></html>",
        escape(r.smtp_filter)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("10.0.0.25 ünïcode"), "10.0.0.25 ünïcode");
    }

    #[test]
    fn a_sender_row_cannot_inject_markup() {
        let r = SenderRow {
            rank: 1,
            srcip: "10.0.0.1".into(),
            flows: 1,
            packets: 1,
            bytes: 1,
            distinct_dstip: 1,
            first: String::new(),
            last: String::new(),
            internal: true,
            registered: false,
            kind: "unregistered internal sender".into(),
            owner: "<img src=x onerror=alert(1)>".into(),
        };
        let mut out = String::new();
        sender_table(&mut out, "t", &[r]);
        assert!(!out.contains("<img"), "{out}");
        assert!(out.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(out.contains("class=\"sender unregistered\""));
    }
}
