//! Bar charts as inline SVG: no script, no external resource, so the
//! report renders the same in a browser, a mail client or a printout.
//! Every text that came from data (labels, titles) is escaped.

use std::fmt::Write;

use crate::html::escape;

/// One bar: its label, its value, a CSS class (`bar`, `bar registered`, …)
/// and the tooltip shown on hover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bar {
    pub label: String,
    pub value: u64,
    pub class: &'static str,
    pub tip: String,
}

impl Bar {
    pub(crate) fn new(label: impl Into<String>, value: u64, class: &'static str) -> Bar {
        let label = label.into();
        Bar {
            tip: format!("{label}: {}", thousands(value)),
            label,
            value,
            class,
        }
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A round upper bound for the axis: 1, 2 or 5 times a power of ten.
fn nice_max(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let v = step.saturating_mul(m);
            if v >= max {
                return v.max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

const FONT: &str = "font-family=\"sans-serif\" font-size=\"11\"";

/// The opening tag of a chart, with its title for screen readers and hover.
fn open_svg(width: f64, height: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" \
         width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" \
         aria-label=\"{t}\"><title>{t}</title>",
        t = escape(title)
    )
}

/// Vertical bars side by side (flows per hour): labels under the bars,
/// a value axis with four grid lines.
pub(crate) fn columns(title: &str, bars: &[Bar]) -> String {
    let (left, top, bottom, plot_h) = (56.0, 24.0, 28.0, 180.0);
    let slot = 28.0;
    let width = left + slot * bars.len().max(1) as f64 + 12.0;
    let height = top + plot_h + bottom;
    let max = nice_max(bars.iter().map(|b| b.value).max().unwrap_or(0));
    let mut s = open_svg(width, height, title);
    for i in 0..=4 {
        let v = max * i / 4;
        let y = top + plot_h - plot_h * i as f64 / 4.0;
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" \
             stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" {FONT}>{}</text>",
            width - 8.0,
            left - 4.0,
            y + 4.0,
            thousands(v)
        );
    }
    for (i, b) in bars.iter().enumerate() {
        let h = plot_h * b.value as f64 / max as f64;
        let x = left + slot * i as f64 + 3.0;
        let _ = write!(
            s,
            "<rect class=\"{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" \
             data-value=\"{}\"><title>{}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" {FONT}>{}</text>",
            escape(b.class),
            top + plot_h - h,
            slot - 6.0,
            b.value,
            escape(&b.tip),
            x + (slot - 6.0) / 2.0,
            top + plot_h + 16.0,
            escape(&b.label)
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars, one per row (top senders): the label left of the bar,
/// the value right of it.
pub(crate) fn rows(title: &str, bars: &[Bar]) -> String {
    let (label_w, bar_w, row_h, top) = (150.0, 420.0, 20.0, 8.0);
    let width = label_w + bar_w + 90.0;
    let height = top * 2.0 + row_h * bars.len().max(1) as f64;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let mut s = open_svg(width, height, title);
    for (i, b) in bars.iter().enumerate() {
        let y = top + row_h * i as f64;
        let w = (bar_w * b.value as f64 / max as f64).max(1.0);
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" {FONT}>{}</text>\
             <rect class=\"{}\" x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" \
             data-value=\"{}\"><title>{}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" {FONT}>{}</text>",
            label_w - 6.0,
            y + 14.0,
            escape(&b.label),
            escape(b.class),
            y + 3.0,
            row_h - 6.0,
            b.value,
            escape(&b.tip),
            label_w + w + 4.0,
            y + 14.0,
            thousands(b.value)
        );
    }
    s.push_str("</svg>");
    s
}

/// Stacked horizontal bars, one row per label (a sender), each split into
/// its parts (countries) left to right, scaled to the largest row's total.
/// A part's label is written inside it when it is wide enough.
pub(crate) fn stacked(title: &str, rows: &[(String, Vec<Bar>)]) -> String {
    let (label_w, bar_w, row_h, top) = (150.0, 420.0, 20.0, 8.0);
    let width = label_w + bar_w + 90.0;
    let height = top * 2.0 + row_h * rows.len().max(1) as f64;
    let total = |parts: &[Bar]| parts.iter().map(|b| b.value).sum::<u64>();
    let max = rows.iter().map(|(_, p)| total(p)).max().unwrap_or(0).max(1);
    let mut s = open_svg(width, height, title);
    for (i, (label, parts)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" {FONT}>{}</text>",
            label_w - 6.0,
            y + 14.0,
            escape(label)
        );
        let mut x = label_w;
        for b in parts {
            let w = bar_w * b.value as f64 / max as f64;
            let _ = write!(
                s,
                "<rect class=\"{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" \
                 data-value=\"{}\"><title>{}</title></rect>",
                escape(b.class),
                y + 3.0,
                row_h - 6.0,
                b.value,
                escape(&b.tip)
            );
            if w >= 22.0 {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#fff\" {FONT}>{}</text>",
                    x + w / 2.0,
                    y + 14.0,
                    escape(&b.label)
                );
            }
            x += w;
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" {FONT}>{}</text>",
            x + 4.0,
            y + 14.0,
            thousands(total(parts))
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_titles_are_escaped() {
        let bars = vec![Bar::new("<script>alert(1)</script>", 5, "bar")];
        for svg in [columns("a & b <c>", &bars), rows("\"quoted\"", &bars)] {
            assert!(!svg.contains("<script>"), "{svg}");
            assert!(
                svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{svg}"
            );
            assert!(!svg.contains("\"quoted\""), "{svg}");
        }
        assert!(columns("a & b <c>", &bars).contains("<title>a &amp; b &lt;c&gt;</title>"));
    }

    #[test]
    fn one_rect_per_bar_scaled_to_the_largest() {
        let bars = vec![
            Bar::new("00", 10, "bar"),
            Bar::new("01", 0, "bar"),
            Bar::new("02", 40, "bar quiet"),
        ];
        let svg = rows("t", &bars);
        assert_eq!(svg.matches("<rect ").count(), 3);
        assert!(
            svg.contains("width=\"420.0\" height=\"14.0\" data-value=\"40\""),
            "{svg}"
        );
        assert!(
            svg.contains("width=\"105.0\" height=\"14.0\" data-value=\"10\""),
            "{svg}"
        );
        let svg = columns("t", &bars);
        assert_eq!(svg.matches("<rect ").count(), 3);
        // The axis tops out at 50: 40 is 4/5 of the plot's 180 px.
        assert!(svg.contains("height=\"144.0\" data-value=\"40\""), "{svg}");
        assert!(svg.contains("class=\"bar quiet\""));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn stacked_parts_fill_their_row_in_proportion() {
        let rows = vec![
            (
                "10.0.0.7".to_string(),
                vec![
                    Bar::new("CN", 300, "bar foreign"),
                    Bar::new("US", 100, "bar home"),
                ],
            ),
            (
                "10.0.0.8".to_string(),
                vec![Bar::new("<DE>", 200, "bar foreign")],
            ),
        ];
        let svg = stacked("t", &rows);
        assert_eq!(svg.matches("<rect ").count(), 3);
        // The first row's total (400) spans the 420 px; US starts after CN.
        assert!(
            svg.contains("x=\"150.0\" y=\"11.0\" width=\"315.0\""),
            "{svg}"
        );
        assert!(
            svg.contains("x=\"465.0\" y=\"11.0\" width=\"105.0\""),
            "{svg}"
        );
        assert!(
            svg.contains("x=\"150.0\" y=\"31.0\" width=\"210.0\""),
            "{svg}"
        );
        assert!(svg.contains("&lt;DE&gt;") && !svg.contains("<DE>"));
        assert!(svg.contains(">400</text>"), "the row's total: {svg}");
        assert_eq!(stacked("t", &[]).matches("<rect").count(), 0);
    }

    #[test]
    fn empty_charts_and_axis_bounds() {
        assert_eq!(rows("t", &[]).matches("<rect").count(), 0);
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(4_100), 5_000);
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
