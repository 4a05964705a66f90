//! `postwerk`: the one binary. `serve` runs every listener; `admin` and `quickstart` manage the
//! directory. See `postwerk --help`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

mod admin;
mod cli;
mod config;
mod http;
mod logging;
mod queue_admin;
mod quickstart;
mod serve;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("postwerk: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => serve::run(args).await,
            cli::Command::Admin(args) => admin::run(args).await,
            cli::Command::Quickstart(args) => quickstart::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One clear sentence, then the causes, without Rust debug noise.
            eprintln!("postwerk: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  because: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
