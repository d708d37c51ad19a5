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

/// Whether the error is a write to a closed pipe. Nothing but stdout is a
/// pipe here (UDP sockets and files do not fail so), and JSON writers wrap
/// the I/O error without exposing it as a source.
fn broken_pipe(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == BrokenPipe)
            || e.downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(BrokenPipe))
    })
}
