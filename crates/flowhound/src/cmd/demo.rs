//! `flowhound demo`: the whole story on synthetic traffic. A collector on
//! loopback, three exporters (v5, v9, IPFIX) sending yesterday as a site
//! saw it, with incidents and busy but honest look-alikes seeded in; then
//! what was stored, who sends mail, what the rule pack finds, and the spam
//! bot's story.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use flowhound_collect::{start, CollectConfig};
use flowhound_detect::{Context, RuleSet};
use flowhound_enrich::Config;
use flowhound_generate::{send_flows, Day, DayPlan, Proto, Seed, SendConfig};
use flowhound_model::Enricher;
use flowhound_serve::jobs::Jobs;
use flowhound_store::TimeWindow;

use crate::args::{DemoArgs, Format, HostArgs, QueryArgs, QueryFormat, SummaryArgs};

/// The registry files of `../shared/registry`, beside the working
/// directory or beside the source tree, when they are there.
fn shared_registry() -> Option<PathBuf> {
    let here = PathBuf::from("../shared/registry");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/registry");
    [here, source]
        .into_iter()
        .find(|d| d.join("geo-whois-asn-country.mmdb").exists())
        .and_then(|d| std::fs::canonicalize(d).ok())
}

/// The synthetic site's config: its network, roles, quiet hours and
/// country, and the registry when one is at hand.
fn demo_config(day: &Day, dir: &Path, registry: Option<&Path>) -> anyhow::Result<Config> {
    let mut text = String::from(
        "# The demo's site: written by flowhound demo.\n[site]\ninternal = [\"10.0.0.0/16\"]\n\
         timezone = \"UTC\"\nquiet_hours = \"22:00-06:00\"\ncountries = [\"US\"]\n[roles]\n",
    );
    for (role, hosts) in day.site_roles() {
        let list: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
        text.push_str(&format!("{role} = [{}]\n", list.join(", ")));
    }
    if let Some(r) = registry {
        text.push_str(&format!(
            "[registry]\ncountry = \"{}\"\nasn = [\"{}\", \"{}\"]\n",
            r.join("geo-whois-asn-country.mmdb").display(),
            r.join("asn-ipv4.csv").display(),
            r.join("asn-ipv6.csv").display()
        ));
    }
    // Everything internal belongs to the campus IT; notices go nowhere but
    // .eml files (the demo runs the desk in dry-run mode).
    let owners = dir.join("demo-owners.csv");
    std::fs::write(
        &owners,
        "network,owner,contact,account\n10.0.0.0/16,Campus IT,it-helpdesk@campus.example,CAMPUS-IT\n",
    )
    .with_context(|| format!("cannot write {}", owners.display()))?;
    text.push_str(
        "[inventory]\nowners = \"demo-owners.csv\"\n[notify]\nfrom = \"abuse@campus.example\"\n\
         desk = \"abuse-desk@campus.example\"\nrenotify_after = \"24h\"\nmax_notices = 2\n",
    );
    let path = dir.join("demo-site.toml");
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    Config::load(&path).map_err(|e| anyhow::anyhow!("the demo's config: {e}"))
}

pub fn run(a: DemoArgs, config: Option<&Path>) -> anyhow::Result<()> {
    // The outputs (report, notices, flows) stay for the user to open.
    let data: PathBuf = match a.data {
        Some(d) => d,
        None => tempfile::Builder::new()
            .prefix("flowhound-demo-")
            .tempdir()?
            .keep(),
    };
    std::fs::create_dir_all(&data)?;
    let plan = DayPlan::new(super::generate::day_start(None));
    let day = Day::new(&plan);
    // The user's config, or the demo site's own.
    let (config, enricher): (Config, Option<Arc<dyn Enricher>>) = match config {
        Some(p) => {
            let (c, e) = super::whois::config_and_enricher(Some(p))?;
            (c.context("no config")?, e)
        }
        None => {
            let registry = shared_registry();
            let c = demo_config(&day, &data, registry.as_deref())?;
            let e = super::whois::enricher_of(&c)?;
            (c, e)
        }
    };
    if let Some(e) = &enricher {
        e.ready().map_err(crate::units::user)?;
    }
    println!(
        "flowhound demo: a collector on loopback, three exporters, yesterday as a site saw it."
    );
    println!("data directory: {}", data.display());
    match &enricher {
        Some(_) => println!("registry: {}", config.registry.country.first().map_or("AS only".into(), |p| p.display().to_string())),
        None => println!(
            "registry: none found (../shared/registry): countries, AS names and the foreign-destination \
             checks are skipped"
        ),
    }
    println!();

    let mut collect = CollectConfig::new(vec!["127.0.0.1:0".parse()?], data.clone());
    collect.file_interval = Duration::from_secs(5);
    collect.enricher = enricher.clone();
    let running = start(collect).context("cannot start the collector")?;
    let to = running.listen[0];
    println!("collector listening on udp {to}");

    let limit = a.flows.map_or(usize::MAX, |n| n as usize);
    let mut handles = Vec::new();
    for (i, proto) in [Proto::V9, Proto::Ipfix, Proto::V5].into_iter().enumerate() {
        let mut c = SendConfig::new(to, proto);
        c.rate_flows_per_s = 60_000;
        let flows = day
            .clone()
            .take(limit)
            .enumerate()
            .filter(move |(n, _)| n % 3 == i)
            .map(|(_, f)| f);
        handles.push(std::thread::spawn(move || {
            (proto, send_flows(&c, flows, &NEVER))
        }));
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
    // What the collector does once an hour has settled, done now.
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

    let config_path = config.path.display().to_string();
    println!("\nWhat is compromised? flowhound --config {config_path} detect --data {data_arg}\n");
    let jobs = Jobs {
        data: data.clone(),
        rules: RuleSet::load(Some(&config.path), &[])
            .map_err(super::detect::detect_err)?
            .rules,
        ctx: Context {
            site: config.site.clone(),
            enricher: enricher.clone(),
        },
        notify: super::cases::notify_config(Some(&config.path))?,
        config_label: Some(config_path.clone()),
    };
    let found = jobs
        .detect(TimeWindow::new(0, i64::MAX))
        .map_err(super::serve::serve_err)?;
    for (rule, why) in &found.skipped {
        println!("(rule {rule} did not run: {why})");
    }
    let mut out = std::io::stdout().lock();
    super::detect::table(&found, &data_arg, &mut out)?;
    drop(out);
    let incidents: Vec<_> = day
        .seeded()
        .iter()
        .filter(|s| matches!(s.what, Seed::Incident(_)))
        .collect();
    let hit = incidents
        .iter()
        .filter(|s| {
            found.alerts.iter().any(|a| {
                a.host == std::net::IpAddr::V4(s.host)
                    && a.window_start_ms < s.end_ms
                    && a.window_end_ms > s.start_ms
            })
        })
        .count();
    // A look-alike is flagged by an alert on it in its own hours that no
    // incident explains (the busy mail server is also the compromised one
    // at night).
    let lookalikes: Vec<_> = day
        .seeded()
        .iter()
        .filter(|s| matches!(s.what, Seed::Lookalike(_)))
        .collect();
    let overlaps = |a: &flowhound_detect::Alert, s: &flowhound_generate::Seeded| {
        a.host == std::net::IpAddr::V4(s.host)
            && a.window_start_ms < s.end_ms
            && a.window_end_ms > s.start_ms
    };
    let cried_wolf = lookalikes
        .iter()
        .filter(|l| {
            found
                .alerts
                .iter()
                .any(|a| overlaps(a, l) && !incidents.iter().any(|i| overlaps(a, i)))
        })
        .count();
    println!(
        "\nThe generator seeded {} incidents and {} busy but honest look-alikes \
         (a web proxy, a file server, a backup job, the site's vulnerability scanner, …); \
         the rule pack found {hit} of the incidents and flagged {cried_wolf} of the look-alikes.",
        incidents.len(),
        lookalikes.len()
    );

    let bot = found
        .alerts
        .iter()
        .find(|a| a.rule == "spam-bot")
        .map(|a| a.host.to_string());
    if let Some(bot) = &bot {
        println!(
            "\n{bot} is not the site's mail server, yet it sent SMTP to thousands of servers: \
             a spam bot. Its story: flowhound host {bot} --data {data_arg}\n"
        );
        super::host::report(
            HostArgs {
                address: bot.clone(),
                data: data.clone(),
                window: None,
                limit: 5,
                bin: None,
                svg: None,
                output: Format::Table,
            },
            enricher.clone(),
            Some(&config),
        )?;
    }
    let bot_case = desk(&jobs, &config, &found, bot.as_deref())?;
    let date = chrono::DateTime::from_timestamp_millis(plan.start_ms)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let rday = flowhound_report::ReportDay::of_date(date, &config.site);
    let day_text = &rday.date;
    let report_dir = data.join("report");
    let report = jobs
        .smtp_report(&rday, &found, 20)
        .map_err(super::serve::serve_err)?;
    let written = report
        .write(&report_dir)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "\nThe daily SMTP report: flowhound --config {config_path} report smtp --data {data_arg} --day {day_text} --out DIR"
    );
    println!("{}", report.summary());
    println!(
        "  {} (open it in a browser), report.json and {} CSV files beside it",
        written
            .first()
            .map_or(report_dir.clone(), |p| p.clone())
            .display(),
        written.len().saturating_sub(2)
    );
    println!("\nNext: flowhound --config {config_path} cases list --data {data_arg}");
    if let Some(id) = bot_case {
        println!("      flowhound --config {config_path} cases show {id} --data {data_arg}");
    }
    println!("      flowhound --config {config_path} detect --data {data_arg} -o json");
    println!("      flowhound query --data {data_arg} -s dstport/flows 'src ip 10.0.0.25'");
    println!("Everything is in {data_arg}: remove it when you are done.");
    Ok(())
}

/// The abuse desk on the day's alerts: cases linked to the owner, the
/// notices due written as .eml files (dry run, nothing is sent). Returns
/// the spam bot's case, if one was opened.
fn desk(
    jobs: &Jobs,
    config: &Config,
    found: &flowhound_detect::Detection,
    bot: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let outbox = jobs.data.join("notices");
    let now_flow = found
        .alerts
        .iter()
        .map(|a| a.window_end_ms)
        .max()
        .unwrap_or(0);
    let (up, sent, _) = jobs
        .update_cases(
            found,
            now_flow,
            &flowhound_cases::Mailer::dry_run(&outbox),
            chrono::Utc::now().timestamp_millis(),
        )
        .map_err(super::serve::serve_err)?;
    let owners = up
        .opened
        .iter()
        .filter(|c| {
            c.host.parse().is_ok_and(|a: std::net::IpAddr| {
                config.site.is_internal(flowhound_model::addr_from_ip(a))
            })
        })
        .count();
    println!(
        "\nThe abuse desk: flowhound --config {} cases update --data {} --dry-run DIR",
        config.path.display(),
        jobs.data.display()
    );
    println!(
        "{} cases opened ({owners} on the site's own machines, linked to their owner in the inventory; \
         the rest are outside attackers, reported to the desk). {} messages written, not sent, in {}:",
        up.opened.len(),
        sent.sent.len(),
        outbox.display()
    );
    for s in sent.sent.iter().take(3) {
        println!("  {} {:<12} to {}", s.case, s.label, s.to);
    }
    if sent.sent.len() > 3 {
        println!("  …");
    }
    println!(
        "A problem that persists gets a second notice a day later; after two, the desk is told to suspend the account."
    );
    Ok(bot.and_then(|b| {
        up.opened
            .iter()
            .find(|c| c.host == b && c.category == "spam")
            .map(|c| c.case.clone())
    }))
}

/// The demo's senders stop by count, never by signal.
static NEVER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
