//! `flowhound report smtp` end to end: a seeded day sent through the real
//! collector, the report written, and every table checked against the
//! `flowhound query` command the report prints beside it; the CSV files
//! against the JSON; the HTML rendered by a real browser (Debian's
//! chromium).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::{bin, run_ok, shared_registry};
use flowhound_generate::{Day, DayPlan, IncidentKind, Seed};
use serde_json::Value as Json;

/// 2026-11-26 00:00 UTC.
const DAY_MS: i64 = 1_795_651_200_000;
const DAY: &str = "2026-11-26";

struct Fixture {
    data: PathBuf,
    config: PathBuf,
    out: PathBuf,
    /// The spam bot and the mail server the generator seeded.
    bot: String,
    relay: String,
    registry: bool,
    report: Json,
}

/// The seeded day (a light background, every incident and look-alike)
/// through the real collector, then `flowhound report smtp` on it: once
/// for all the tests of this file.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("report-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("mkdir");
        let data = root.join("data");
        let mut plan = DayPlan::new(DAY_MS);
        plan.peak_rate = 0.4;
        let day = Day::new(&plan);
        let seeded = |k: IncidentKind| {
            day.seeded()
                .iter()
                .find(|s| s.what == Seed::Incident(k))
                .expect("seeded")
                .host
                .to_string()
        };
        let (bot, relay) = (
            seeded(IncidentKind::SpamBot),
            seeded(IncidentKind::MailRelay),
        );

        let registry = shared_registry();
        let mut text = String::from(
            "[site]\ninternal = [\"10.0.0.0/16\"]\ntimezone = \"UTC\"\n\
             quiet_hours = \"22:00-06:00\"\ncountries = [\"US\"]\n[roles]\n",
        );
        for (role, hosts) in day.site_roles() {
            let list: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
            text.push_str(&format!("{role} = [{}]\n", list.join(", ")));
        }
        if let Some(r) = &registry {
            text.push_str(&format!(
                "[registry]\ncountry = \"{0}/geo-whois-asn-country.mmdb\"\n\
                 asn = [\"{0}/asn-ipv4.csv\", \"{0}/asn-ipv6.csv\"]\n",
                r.display()
            ));
        }
        let config = root.join("site.toml");
        std::fs::write(&config, text).expect("config");

        let sent = common::collect_day(&data, day);
        assert!(sent > 50_000, "a day's worth: {sent}");

        let out = root.join("out");
        let printed = run_ok(
            Command::new(bin())
                .arg("--config")
                .arg(&config)
                .args(["report", "smtp", "--day", DAY, "--data"])
                .arg(&data)
                .arg("--out")
                .arg(&out),
        );
        let printed = String::from_utf8_lossy(&printed.stdout).to_string();
        for f in [
            "report.html",
            "report.json",
            "top_senders.csv",
            "smtp_by_hour.csv",
        ] {
            assert!(
                printed
                    .lines()
                    .any(|l| l == out.join(f).display().to_string()),
                "{f} printed: {printed}"
            );
        }
        let report: Json =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("json"))
                .expect("report.json parses");
        Fixture {
            data,
            config,
            out,
            bot,
            relay,
            registry: registry.is_some(),
            report,
        }
    })
}

/// The words of a printed command, as a shell splits them (single quotes).
fn shell_split(cmd: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in cmd.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Run a command the report printed (`flowhound query …`), with `-o json`.
fn run_printed(f: &Fixture, cmd: &str) -> Json {
    let words = shell_split(cmd);
    assert_eq!(words[0], "flowhound", "{cmd}");
    assert!(
        words.contains(&"--config".to_string()),
        "the command carries the config: {cmd}"
    );
    let out = run_ok(
        Command::new(bin())
            .args(&words[1..])
            .args(["-o", "json"])
            // The printed data dir is the one the report was given.
            .current_dir(f.data.parent().expect("root")),
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{cmd} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn counts(r: &Json) -> (u64, u64, u64) {
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("{k} is an integer: {r}"))
    };
    (n("flows"), n("packets"), n("bytes"))
}

#[test]
fn the_tables_equal_flowhound_query() {
    let f = fixture();
    let r = &f.report;
    assert_eq!(r["smtp_filter"], "proto tcp and dst port 25");
    assert_eq!(
        r["top_senders"]["window"],
        "2026-11-26T00:00:00Z/2026-11-27T00:00:00Z"
    );

    // Top senders: the printed `-s srcip/flows` command, row for row.
    let top = r["top_senders"]["rows"].as_array().expect("rows");
    assert_eq!(top.len(), 20, "{top:?}");
    let q = run_printed(f, r["top_senders"]["query"].as_str().expect("query"));
    let q_rows = q["statistics"][0]["rows"].as_array().expect("query rows");
    assert_eq!(q_rows.len(), top.len());
    for (a, b) in top.iter().zip(q_rows) {
        assert_eq!(a["srcip"], b["srcip"], "{a} vs {b}");
        assert_eq!(counts(a), counts(b), "{a} vs {b}");
        assert_eq!(a["distinct_dstip"], b["distinct_dstip"]);
    }
    // And the question asked by hand, as the README tells it.
    let by_hand = common::query_json(
        Some(&f.config),
        &f.data,
        &[
            "-t",
            "2026/11/26.00:00:00-2026/11/27.00:00:00",
            "-s",
            "srcip/flows",
            "-n",
            "20",
            "-o",
            "json",
            "proto tcp and dst port 25",
        ],
    );
    let hand: Vec<(String, (u64, u64, u64))> = by_hand["statistics"][0]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|x| (x["srcip"].as_str().expect("ip").to_string(), counts(x)))
        .collect();
    let mine: Vec<(String, (u64, u64, u64))> = top
        .iter()
        .map(|x| (x["srcip"].as_str().expect("ip").to_string(), counts(x)))
        .collect();
    assert_eq!(mine, hand);

    // The spam bot is among the top senders, marked as what it is; the
    // relaying mail server as registered.
    let bot = top
        .iter()
        .find(|x| x["srcip"] == f.bot.as_str())
        .unwrap_or_else(|| panic!("the bot {} is a top sender: {top:?}", f.bot));
    assert_eq!(bot["kind"], "unregistered internal sender");
    assert_eq!(bot["registered"], false);
    assert_eq!(bot["internal"], true);
    let relay = top
        .iter()
        .find(|x| x["srcip"] == f.relay.as_str())
        .expect("the mail server sends");
    assert_eq!(relay["registered"], true);
    let unreg = r["unregistered_senders"]["rows"].as_array().expect("rows");
    assert!(
        unreg.iter().any(|x| x["srcip"] == f.bot.as_str()),
        "{unreg:?}"
    );
    assert!(unreg.iter().all(|x| x["registered"] == false));
    let q = run_printed(
        f,
        r["unregistered_senders"]["query"].as_str().expect("query"),
    );
    let q_rows = q["statistics"][0]["rows"].as_array().expect("rows");
    assert_eq!(q_rows.len(), unreg.len());
    for (a, b) in unreg.iter().zip(q_rows) {
        assert_eq!((&a["srcip"], counts(a)), (&b["srcip"], counts(b)));
    }

    // Per hour: the printed `--bin 1h` command; the hours without flows
    // are the report's zeros.
    let hours = r["smtp_by_hour"]["rows"].as_array().expect("rows");
    assert_eq!(hours.len(), 24);
    let q = run_printed(f, r["smtp_by_hour"]["query"].as_str().expect("query"));
    let bins: BTreeMap<String, (u64, u64, u64)> = q
        .as_array()
        .expect("bins")
        .iter()
        .map(|b| {
            // `2026-11-26 14:00:00.000` as the report's `2026-11-26T14:00:00Z`.
            let t = b["bin"].as_str().expect("bin");
            (format!("{}T{}Z", &t[..10], &t[11..19]), counts(b))
        })
        .collect();
    for h in hours {
        let start = h["start"].as_str().expect("start");
        assert_eq!(
            counts(h),
            bins.get(start).copied().unwrap_or((0, 0, 0)),
            "{h}"
        );
    }
    assert_eq!(bins.len(), hours.iter().filter(|h| h["flows"] != 0).count());
    let day_flows: u64 = hours.iter().map(|h| counts(h).0).sum();
    assert_eq!(day_flows, r["totals"]["flows"].as_u64().expect("total"));

    // Quiet hours: the relaying server, at night, and each printed window
    // answers the same.
    let quiet = r["quiet_hours"]["rows"].as_array().expect("rows");
    assert!(
        quiet
            .iter()
            .any(|x| x["srcip"] == f.relay.as_str() && x["flows"].as_u64() > Some(1000)),
        "the relay works at night: {quiet:?}"
    );
    for cmd in r["quiet_hours"]["query"].as_str().expect("query").lines() {
        let q = run_printed(f, cmd);
        let words = shell_split(cmd);
        let w = &words[words.iter().position(|x| x == "-t").expect("-t") + 1];
        for b in q["statistics"][0]["rows"].as_array().expect("rows") {
            let a = quiet
                .iter()
                .find(|x| x["window"] == w.as_str() && x["srcip"] == b["srcip"])
                .unwrap_or_else(|| panic!("{b} in the report for {w}"));
            assert_eq!(counts(a), counts(b));
        }
    }

    // Countries: with the registry, every row is one of the printed
    // grouping's; without, the report says so.
    let countries = &r["sender_countries"];
    if f.registry {
        let rows = countries["rows"].as_array().expect("rows");
        assert!(rows.iter().any(|x| x["srcip"] == f.bot.as_str()));
        let q = run_printed(f, countries["query"].as_str().expect("query"));
        let q = q.as_array().expect("groups");
        for a in rows {
            assert!(
                q.iter().any(|b| b["srcip"] == a["srcip"]
                    && b["dstgeo"] == a["country"]
                    && counts(a) == counts(b)),
                "{a} in the query's groups"
            );
        }
        assert!(rows.iter().any(|x| x["foreign"] == true));
    } else {
        assert!(countries["note"]
            .as_str()
            .expect("note")
            .contains("not available"));
    }

    // The day's detections: the spam bot, flagged by the rule pack.
    let det = r["detections"]["rows"].as_array().expect("rows");
    assert!(
        det.iter()
            .any(|d| d["host"] == f.bot.as_str() && d["category"] == "spam"),
        "{det:?}"
    );
    // No case database: an empty table and a sentence.
    assert_eq!(r["open_cases"]["rows"].as_array().map(Vec::len), Some(0));
    assert!(r["open_cases"]["note"]
        .as_str()
        .expect("note")
        .contains("No case database"));
}

/// A JSON cell as the CSV writes it.
fn cell(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        v => v.to_string(),
    }
}

#[test]
fn each_csv_holds_its_json_table() {
    let f = fixture();
    for table in [
        "smtp_by_hour",
        "top_senders",
        "unregistered_senders",
        "quiet_hours",
        "sender_countries",
        "detections",
        "open_cases",
    ] {
        let path = f.out.join(format!("{table}.csv"));
        let mut csv = csv::Reader::from_path(&path).expect("csv");
        let header: Vec<String> = csv
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        let rows = f.report[table]["rows"].as_array().expect("rows");
        let records: Vec<csv::StringRecord> = csv.records().map(|r| r.expect("record")).collect();
        assert_eq!(records.len(), rows.len(), "{table}");
        for (rec, row) in records.iter().zip(rows) {
            let obj = row.as_object().expect("object");
            assert_eq!(obj.len(), header.len(), "{table}: {row}");
            for (name, field) in header.iter().zip(rec.iter()) {
                assert_eq!(field, cell(&row[name.as_str()]), "{table}.{name}: {row}");
            }
        }
    }
    // The HTML needs nothing from the network and runs no script.
    let html = std::fs::read_to_string(f.out.join("report.html")).expect("html");
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for bad in [
        "http://", "https://", "<script", "<link", " src=", "@import",
    ] {
        assert!(!without_ns.contains(bad), "the report has {bad}");
    }
    assert!(html.contains(&f.bot));
}

/// Debian's chromium, or a failure that says how to get it.
fn chromium() -> &'static str {
    let ok = Command::new("chromium")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "chromium is missing: the rendered report is tested in a real browser \
         (apt-get install chromium, or run scripts/test.sh)"
    );
    "chromium"
}

/// Headless chromium on `page`, killed after a minute: its stdout.
fn headless(profile: &Path, args: &[&str], page: &Path) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        use std::io::Read;
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let (status, _) = common::wait_with_timeout(&mut child, Duration::from_secs(90));
    assert!(status.success(), "chromium exited with {status}");
    reader.join().expect("reader")
}

#[test]
fn chromium_renders_the_charts_and_tables() {
    let f = fixture();
    let dir = f.out.parent().expect("root").join("browser");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let html = std::fs::read_to_string(f.out.join("report.html")).expect("html");
    // The report runs no script; a copy with one measures what the browser
    // laid out: the bars' rendered sizes, the tables' rows.
    let probe = "<script>window.addEventListener('load',function(){\
        var bars=[].slice.call(document.querySelectorAll('svg.chart rect'));\
        var drawn=bars.filter(function(r){var b=r.getBoundingClientRect();return b.width>0&&b.height>0;});\
        var charts=[].slice.call(document.querySelectorAll('svg.chart')).filter(function(s){\
        return s.getBoundingClientRect().width>100;});\
        var p=document.createElement('pre');p.id='probe';\
        p.textContent=JSON.stringify({charts:charts.length,bars:bars.length,drawn:drawn.length,\
        senders:document.querySelectorAll('#top_senders-table tbody tr.sender').length});\
        document.body.appendChild(p);});</script>";
    let probed = dir.join("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{probe}</body>"))).expect("write");
    let dom = headless(
        &dir.join("profile-dom"),
        &["--dump-dom", "--virtual-time-budget=5000"],
        &probed,
    );
    let start = dom
        .find("<pre id=\"probe\">")
        .unwrap_or_else(|| panic!("the probe ran: {}", &dom[..dom.len().min(2000)]));
    let json = &dom[start + "<pre id=\"probe\">".len()..];
    let json = &json[..json.find("</pre>").expect("probe end")];
    let m: Json = serde_json::from_str(&json.replace("&quot;", "\"")).expect("probe JSON");
    // Flows per hour, the top senders, and (with a country registry) where
    // each top sender's mail went.
    let charts = if f.registry { 3 } else { 2 };
    assert!(
        m["charts"].as_u64() >= Some(charts),
        "{charts} charts laid out: {m}"
    );
    // 24 hours and 20 senders, every bar with an area on the page.
    assert!(m["bars"].as_u64() >= Some(44), "{m}");
    assert!(m["drawn"].as_u64() >= Some(30), "bars drawn: {m}");
    assert_eq!(m["senders"], 20, "{m}");

    // The report itself, as the browser parsed it: the tables and the bot.
    let dom = headless(
        &dir.join("profile-plain"),
        &["--dump-dom"],
        &f.out.join("report.html"),
    );
    assert!(dom.contains("<svg"), "an inline chart");
    assert!(dom.matches("<rect").count() >= 44, "bars");
    assert!(dom.contains("id=\"top_senders-table\""));
    assert!(
        dom.contains(&format!("data-srcip=\"{}\"", f.bot)),
        "the spam bot's row"
    );
    assert!(dom.contains("unregistered internal sender"));
    // And a picture of it, for people.
    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &dir.join("profile-shot"),
        &[&format!("--screenshot={}", shot.display())],
        &f.out.join("report.html"),
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
}

#[test]
fn a_bad_day_or_no_data_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(bin())
        .args(["report", "smtp", "--day", "2026-02-30", "--data"])
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad day \"2026-02-30\": 2026-02 has no day 30"),
        "{err}"
    );
    let out = Command::new(bin())
        .args(["report", "smtp", "--day", "2026-11-26", "--data"])
        .arg(dir.path().join("none"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!dir.path().join("out").exists(), "nothing written");
}
