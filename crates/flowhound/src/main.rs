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
        // The reader went away (`flowhound query … | head`): as for any
        // filter in a pipe, that is no error worth a word.
        Err(err) if broken_pipe(&err) => ExitCode::SUCCESS,
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

fn broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
