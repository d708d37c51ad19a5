//! One module per subcommand.

mod cases;
mod collect;
mod compact;
mod demo;
mod detect;
mod generate;
mod host;
mod import;
mod query;
mod report;
mod serve;
mod sql;
mod summary;
mod whois;

use crate::args::{Args, Command, ImportCommand, RegistryCommand};

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config.as_deref();
    match args.command {
        Command::Collect(a) => collect::run(a, whois::enricher_loaded(config)?),
        Command::Compact(a) => compact::run(a),
        Command::Summary(a) => summary::run(a),
        Command::Import(ImportCommand::Pcap(a)) => import::run(a, whois::enricher_loaded(config)?),
        Command::Generate(a) => generate::run(a),
        Command::Demo(a) => demo::run(a, config),
        Command::Query(a) => query::run(a, whois::enricher(config)?),
        Command::Sql(a) => sql::run(a, whois::enricher(config)?),
        Command::Host(a) => host::run(a, config),
        Command::Detect(a) => detect::run(a, config),
        Command::Serve => serve::run(config),
        Command::Cases(c) => cases::run(c, config),
        Command::Report(c) => report::run(c, config),
        Command::Whois(a) => whois::run(a, args.config.as_deref()),
        Command::Registry(RegistryCommand::Update) => whois::update(args.config.as_deref()),
    }
}

/// Set the returned flag on SIGINT or SIGTERM.
pub fn stop_on_signals() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, flag.clone())?;
    }
    Ok(flag)
}
