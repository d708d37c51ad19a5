//! The command line, as users type it. Only parsing and validation here.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::units::{parse_duration, parse_size};

/// NetFlow/IPFIX security analytics: collect, store, investigate.
///
/// Start with `flowhound demo`: the whole story on synthetic traffic.
#[derive(Parser, Debug)]
#[command(name = "flowhound", version, about, long_about = None)]
pub struct Args {
    /// Config file (site inventory, registries); applies to every command.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only warnings and errors on stderr (RUST_LOG overrides).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Receive NetFlow v5/v9 and IPFIX over UDP and store every flow.
    Collect(CollectArgs),
    /// Merge each hour's files into one: queries open fewer files. The
    /// collector does this by itself once an hour has settled; run it after
    /// imports, or on stores written without it.
    Compact(CompactArgs),
    /// Totals of stored flows, in all and per exporter (like nfdump -I).
    Summary(SummaryArgs),
    /// Import flow exports from files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Send synthetic, realistic flow exports over UDP (load tests, demos).
    Generate(GenerateArgs),
    /// The whole story on synthetic traffic: no setup, no network.
    Demo(DemoArgs),
    /// Who is this address? Country, AS and organisation from the
    /// registries; internal, roles and owner from the site inventory.
    Whois(WhoisArgs),
    /// Internet registries (country, AS) named in --config.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Filter, rank and aggregate stored flows (nfdump's -s, -A, -a, filters).
    Query(QueryArgs),
    /// Run SQL over the stored flows (the table `flows`).
    Sql(SqlArgs),
    /// One machine's story: its flows over time, the ports it used and
    /// offered, its peers and their countries against the site's usual ones.
    Host(HostArgs),
    /// Find compromised hosts in stored flows: spam bots, misbehaving mail
    /// servers, worms, scans, blocklisted peers (the built-in rule pack,
    /// tuned and extended in --config, plus --rules files).
    Detect(DetectArgs),
    /// Collect, with the rules evaluated live on what arrives: alerts are
    /// stored (DATA/alerts.sqlite) and sent to the sinks of --config's
    /// [serve] table (JSON lines, syslog, webhook, command).
    Serve,
    /// The abuse desk: alerts become cases linked to the owner from the
    /// inventory; owners get notices over SMTP; a problem that persists
    /// escalates to a suspension recommendation (DATA/cases.sqlite).
    #[command(subcommand)]
    Cases(CasesCommand),
    /// Reports over a day of stored flows: HTML with charts for people,
    /// JSON and CSV for machines.
    #[command(subcommand)]
    Report(ReportCommand),
}

#[derive(clap::Args, Debug)]
pub struct CollectArgs {
    /// Address to listen on, e.g. 0.0.0.0:2055 or [::]:4739 (repeatable).
    #[arg(short, long = "listen", value_name = "ADDR:PORT", required = true)]
    pub listen: Vec<SocketAddr>,
    /// Data directory: flows, write-ahead log, exporter books.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
    /// Socket receive buffer per listener (like nfcapd -B), e.g. 32M.
    #[arg(short = 'B', long = "rcvbuf", value_name = "SIZE", default_value = "32M", value_parser = parse_size)]
    pub rcvbuf: u64,
    /// Serve Prometheus metrics on ADDR:PORT at /metrics.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,
    /// Write a set of Parquet files this often (flows are in the WAL meanwhile).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub file_interval: std::time::Duration,
    /// Retention: delete flow files older than this (e.g. 90d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_age: Option<std::time::Duration>,
    /// Retention: keep all flow files together under this size (e.g. 500G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// Merge each hour's files into one once the hour ended this long ago
    /// and no file came for this long (late flows are merged in later).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub compact_after: std::time::Duration,
    /// Keep a file per --file-interval instead (queries read more files).
    #[arg(long)]
    pub no_compact: bool,
}

#[derive(clap::Args, Debug)]
pub struct CompactArgs {
    /// Data directory.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
    /// Replaced files stay this long for queries already reading them; a
    /// later run (or the collector) removes them. Default: 10m while a
    /// collector runs on DIR, else 0 (at once).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub grace: Option<std::time::Duration>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned, human units.
    Table,
    /// One JSON object.
    Json,
}

#[derive(clap::Args, Debug)]
pub struct SummaryArgs {
    /// Data directory.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
    /// Time window (flow time): 2026/11/26.14:00:00-2026/11/26.15:00:00 or ISO 8601 start/end.
    #[arg(short = 't', long = "window", value_name = "WINDOW")]
    pub window: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Format,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Export datagrams found in pcap/pcapng captures (any UDP port).
    Pcap(ImportPcapArgs),
}

#[derive(clap::Args, Debug)]
pub struct ImportPcapArgs {
    /// Capture files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Data directory.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Where to send, e.g. 127.0.0.1:2055. Repeat to send the same stream,
    /// byte for byte, to several collectors (side-by-side comparisons).
    #[arg(long, value_name = "ADDR:PORT", required = true)]
    pub to: Vec<SocketAddr>,
    /// Export protocol.
    #[arg(long, value_name = "v5|v9|ipfix", default_value = "v9")]
    pub proto: String,
    /// Flows per second.
    #[arg(long, value_name = "FLOWS_PER_S", default_value_t = 10_000)]
    pub rate: u64,
    /// Incident to mix in: normal, spambot, worm, scan, mailrelay, all; or
    /// `day`: a whole day (of --start, default yesterday) with every seeded
    /// incident (spam bot, relaying mail server, Sasser, Blaster, Slammer,
    /// Conficker, a mass mailer, scans, brute force) and benign look-alikes,
    /// sent as fast as --rate; the report lists what it seeded.
    #[arg(long, value_name = "NAME", default_value = "normal")]
    pub scenario: String,
    /// Stop after this many flows.
    #[arg(long, value_name = "N")]
    pub flows: Option<u64>,
    /// Stop after this long (default: run until Ctrl-C, or until --flows).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Number of simulated exporters (sources 127.0.0.1, .2, … on loopback).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub exporters: u32,
    /// Random seed: the same seed sends the same flows.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated flow time runs this many times faster than real time.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Largest datagram (UDP payload bytes); default 1400 (v9: 23 records,
    /// 1700 gives the 28 records per datagram of many routers).
    #[arg(long, value_name = "BYTES")]
    pub max_datagram: Option<usize>,
    /// Flow time to start at (ISO 8601 or nfdump's YYYY/MM/DD.hh:mm:ss); default now.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo's data here (default: a temporary directory).
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Send only the day's first N flows (default: all of it, about 500 000).
    #[arg(long, value_name = "N")]
    pub flows: Option<u64>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryFormat {
    /// Aligned, human units.
    Table,
    /// Comma-separated, with a header.
    Csv,
    /// One JSON document.
    Json,
    /// One JSON object per line.
    Ndjson,
}

#[derive(clap::Args, Debug)]
pub struct QueryArgs {
    /// Data directory.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
    /// Time window (flow time): 2026/11/26.14:00:00-2026/11/26.15:00:00 or ISO 8601 start/end.
    #[arg(short = 't', long = "window", value_name = "WINDOW")]
    pub window: Option<String>,
    /// Statistic: ELEMENT[/ORDER…], e.g. srcip/flows/bytes (repeatable). Elements:
    /// record srcip dstip ip srcport dstport port proto srcas dstas as inif outif
    /// if router tos flags srcnet[/N] dstnet[/N] srcgeo dstgeo; orders: flows packets
    /// bytes pps bps bpp. Countries and AS names come from the registry (--config).
    #[arg(short = 's', long = "stat", value_name = "ELEMENT[/ORDER]")]
    pub stat: Vec<String>,
    /// Rows per statistic (default 10; 0 for all), or flows/groups listed.
    #[arg(short = 'n', long = "limit", value_name = "N")]
    pub limit: Option<usize>,
    /// Aggregate by fields, e.g. srcip4/24,dstport.
    #[arg(short = 'A', long = "aggregate", value_name = "FIELDS")]
    pub aggregate: Option<String>,
    /// Aggregate by the 5-tuple (proto, addresses, ports).
    #[arg(short = 'a')]
    pub five_tuple: bool,
    /// Order listings and aggregates, largest first: flows packets bytes pps bps bpp (or tstart).
    #[arg(short = 'O', long = "order", value_name = "ORDER")]
    pub order: Option<String>,
    /// Flows, packets and bytes per time bin of flow start, e.g. 5m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub bin: Option<std::time::Duration>,
    /// Distinct counts per row, e.g. dstip,dstport.
    #[arg(long, value_name = "FIELDS")]
    pub distinct: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: QueryFormat,
    /// Read the filter from a file.
    #[arg(short = 'f', long = "filter-file", value_name = "FILE")]
    pub filter_file: Option<PathBuf>,
    /// Filter in nfdump's syntax, e.g. 'proto tcp and dst port 25'.
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct SqlArgs {
    /// Data directory.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
    /// Time window (flow time) the table `flows` holds.
    #[arg(short = 't', long = "window", value_name = "WINDOW")]
    pub window: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: QueryFormat,
    /// The statement, e.g. "SELECT ip_str(src_ip) AS src, count(*) FROM flows GROUP BY 1".
    #[arg(value_name = "SQL")]
    pub query: String,
}

#[derive(clap::Args, Debug)]
pub struct HostArgs {
    /// The host's IPv4 or IPv6 address.
    #[arg(value_name = "IP")]
    pub address: String,
    /// Data directory.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
    /// Time window (flow time): 2026/11/26.14:00:00-2026/11/26.15:00:00 or ISO 8601 start/end.
    #[arg(short = 't', long = "window", value_name = "WINDOW")]
    pub window: Option<String>,
    /// Rows of the ports and peers tables (0 for all).
    #[arg(short = 'n', long = "limit", value_name = "N", default_value_t = 10)]
    pub limit: usize,
    /// Time bin of the flows over time, e.g. 5m (default: 24 to 60 bins over the window).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub bin: Option<std::time::Duration>,
    /// Also write a chart of the flows out and in per bin as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Format,
}

#[derive(clap::Args, Debug)]
pub struct WhoisArgs {
    /// IPv4 or IPv6 addresses.
    #[arg(required = true, value_name = "IP")]
    pub addresses: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Format,
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Fetch current copies from the [registry.update] URLs of --config,
    /// check each one, and swap them in atomically.
    Update,
}

#[derive(clap::Args, Debug)]
pub struct DetectArgs {
    /// Data directory.
    #[arg(
        short = 'w',
        long,
        value_name = "DIR",
        required_unless_present = "list_rules"
    )]
    pub data: Option<PathBuf>,
    /// Time window (flow time): 2026/11/26.00:00:00-2026/11/27.00:00:00 or ISO 8601 start/end.
    #[arg(short = 't', long = "window", value_name = "WINDOW")]
    pub window: Option<String>,
    /// More rule files (TOML, `[[rule]]` tables), beside the built-in pack (repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Print the rules that would run, and exit.
    #[arg(long)]
    pub list_rules: bool,
    /// Output format: a table, or a JSON array of alerts.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Format,
}

#[derive(Subcommand, Debug)]
pub enum CasesCommand {
    /// Run the detections over the window, open and update cases, and send
    /// the notices that are due (escalation runs on flow time).
    Update(CasesUpdateArgs),
    /// The cases, newest activity first.
    List(CasesListArgs),
    /// One case: its host, owner, evidence and every transition.
    Show(CaseShowArgs),
    /// Close a case by hand, with the reason on record.
    Close(CaseCloseArgs),
}

#[derive(clap::Args, Debug)]
pub struct CasesUpdateArgs {
    /// Data directory (flows; the cases live in DATA/cases.sqlite).
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
    /// Time window (flow time) to run the detections over; all stored flows without it.
    #[arg(short = 't', long = "window", value_name = "WINDOW")]
    pub window: Option<String>,
    /// More rule files (TOML, `[[rule]]` tables), beside the built-in pack (repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Write the notices as .eml files into DIR instead of sending them.
    #[arg(long, value_name = "DIR")]
    pub dry_run: Option<PathBuf>,
    /// Output format: a table, or JSON.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Format,
}

#[derive(clap::Args, Debug)]
pub struct CasesListArgs {
    /// Data directory (the cases live in DATA/cases.sqlite).
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
    /// Only cases in this state: open, notified, suspension-recommended, resolved, closed.
    #[arg(long, value_name = "STATE")]
    pub state: Option<String>,
    /// Output format: a table, or a JSON array of cases.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Format,
}

#[derive(clap::Args, Debug)]
pub struct CaseShowArgs {
    /// Data directory (the cases live in DATA/cases.sqlite).
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
    /// The case reference, as `cases list` shows it.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Output format: text, or the case as JSON.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Format,
}

#[derive(clap::Args, Debug)]
pub struct CaseCloseArgs {
    /// Data directory (the cases live in DATA/cases.sqlite).
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
    /// The case reference, as `cases list` shows it.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Why it is closed (kept in the case's history).
    #[arg(long, value_name = "TEXT", required = true)]
    pub reason: String,
    /// Output format: text, or the closed case as JSON.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Format,
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// The daily SMTP report: flows per hour, top senders (registered or
    /// not), mail servers busy in quiet hours, destination countries, the
    /// day's detections and the open cases.
    Smtp(ReportSmtpArgs),
}

#[derive(clap::Args, Debug)]
pub struct ReportSmtpArgs {
    /// Data directory.
    #[arg(short = 'w', long, value_name = "DIR")]
    pub data: PathBuf,
    /// The day, YYYY-MM-DD, in the site's time zone (UTC unless configured).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub day: String,
    /// Where report.html, report.json and the CSV files go (created).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Rows of the top-senders tables.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 20)]
    pub top: usize,
}
