//! The `flowhound` command: parses arguments, wires the library crates.

mod args;
mod cmd;
mod units;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = args::Args::parse();
    units::init_logging(args.quiet);
    match cmd::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("flowhound: {err:#}");
            if err.downcast_ref::<units::UserError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
