//! `flowhound demo`: the whole story on synthetic traffic. A collector on
//! loopback, three exporters (v5, v9, IPFIX) sending a day of a site's
//! traffic with a spam bot in it, then what was stored.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use flowhound_collect::{start, CollectConfig};
use flowhound_generate::{send, Proto, Scenario, SendConfig};
use flowhound_query::{Aggregate, Key, Order};

use crate::args::{DemoArgs, Format, HostArgs, QueryArgs, QueryFormat, SummaryArgs};

pub fn run(a: DemoArgs, config: Option<&std::path::Path>) -> anyhow::Result<()> {
    // The config and its registry, read once for the collector, the query
    // and the host report.
    let (config, enricher) = super::whois::config_and_enricher(config)?;
    if let Some(e) = &enricher {
        e.ready().map_err(crate::units::user)?;
    }
    let (data, keep): (PathBuf, Option<tempfile::TempDir>) = match a.data {
        Some(d) => (d, None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("flowhound-demo-")
                .tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    println!(
        "flowhound demo: a collector on loopback, three exporters, one day of a site's traffic."
    );
    println!("data directory: {}\n", data.display());

    let mut collect = CollectConfig::new(vec!["127.0.0.1:0".parse()?], data.clone());
    collect.file_interval = Duration::from_secs(5);
    collect.enricher = enricher.clone();
    let running = start(collect).context("cannot start the collector")?;
    let to = running.listen[0];
    println!("collector listening on udp {to}");

    // A day of flow time, yesterday, played fast.
    let day_ms = 86_400_000i64;
    let now = chrono::Utc::now().timestamp_millis();
    let yesterday = now - now.rem_euclid(day_ms) - day_ms;
    let per = (a.flows / 3).max(1);
    let mut handles = Vec::new();
    for (i, (proto, scenario)) in [
        (Proto::V9, Scenario::SpamBot),
        (Proto::Ipfix, Scenario::Normal),
        (Proto::V5, Scenario::Normal),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = SendConfig::new(to, proto);
        c.scenario = scenario;
        c.seed = 42 + i as u64;
        c.total_flows = Some(per);
        c.rate_flows_per_s = 100_000;
        c.start_ms = Some(yesterday);
        // The whole day within the sending time.
        c.time_scale = 86_400.0 / (per as f64 / c.rate_flows_per_s as f64).max(0.001);
        c.exporters = 1;
        handles.push(std::thread::spawn(move || (proto, send(&c, &NEVER))));
    }
    let mut sent = 0;
    for h in handles {
        let (proto, report) = h.join().map_err(|_| anyhow::anyhow!("sender panicked"))?;
        let report = report.context("sending failed")?;
        println!(
            "exporter {:<5} sent {:>8} flows in {:>6} datagrams",
            proto.name(),
            report.flows,
            report.datagrams
        );
        sent += report.flows;
    }
    std::thread::sleep(Duration::from_millis(300));
    let metrics = running.metrics.clone();
    running.stop()?;
    println!(
        "collector received {} datagrams, decoded {} flows, stored {} ({} sent)\n",
        metrics.datagrams(),
        metrics.flows_decoded(),
        metrics.flows_written(),
        sent
    );
    // What the collector does once an hour has settled, done now: the
    // replayed day's hours are each merged into one file.
    let merged = super::compact::now(&data, Duration::ZERO)?;
    if merged.files_in > 0 {
        println!(
            "merged {} files into {}, one per hour\n",
            merged.files_in, merged.files_out
        );
    }
    super::summary::run(SummaryArgs {
        data: data.clone(),
        window: None,
        output: Format::Table,
    })?;
    let data_arg = data.display().to_string();
    println!(
        "\nWho sends mail? flowhound query --data {data_arg} -s srcip/flows -n 5 --distinct dstip 'proto tcp and dst port 25'\n"
    );
    super::query::run(
        QueryArgs {
            data: data.clone(),
            window: None,
            stat: vec!["srcip/flows".into()],
            limit: Some(5),
            aggregate: None,
            five_tuple: false,
            order: None,
            bin: None,
            distinct: Some("dstip".into()),
            output: QueryFormat::Table,
            filter_file: None,
            filter: vec!["proto tcp and dst port 25".into()],
        },
        enricher.clone(),
    )?;
    let engine = super::query::open(&data, None, enricher.clone())?;
    let filter = flowhound_filter::parse("proto tcp and dst port 25 and not ip 10.0.0.25")
        .map_err(|e| anyhow::anyhow!("the demo's filter: {e}"))?;
    let top = engine
        .aggregate(
            &filter,
            &Aggregate {
                keys: vec![Key::SrcIp],
                distinct: vec![Key::DstIp],
                order: Some(Order::Flows),
                limit: Some(1),
            },
        )
        .map_err(super::query::query_err)?;
    // A host that is not the mail server and sends SMTP to this many
    // servers is no mail client.
    const SPAM_DESTINATIONS: u64 = 50;
    let suspect = top
        .first()
        .filter(|r| r.distinct.first().copied().unwrap_or(0) >= SPAM_DESTINATIONS);
    if let Some(r) = suspect {
        let bot = r.keys[0].to_string();
        let servers = r.distinct.first().copied().unwrap_or(0);
        println!(
            "\n{bot} is not the site's mail server (10.0.0.25), yet it sent SMTP to {servers} \
             servers: a spam bot. Its story: flowhound host {bot} --data {data_arg}\n"
        );
        super::host::report(
            HostArgs {
                address: bot,
                data: data.clone(),
                window: None,
                limit: 5,
                bin: None,
                svg: None,
                output: Format::Table,
            },
            enricher,
            config.as_ref(),
        )?;
    } else {
        println!("\nNo host but the mail server sends SMTP to many servers.");
    }
    if keep.is_some() {
        println!(
            "(run with --data DIR to keep the flows; this temporary directory is removed now)"
        );
    }
    Ok(())
}

/// The demo's senders stop by count, never by signal.
static NEVER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
