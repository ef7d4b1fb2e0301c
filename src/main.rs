use clap::Parser;
use std::process::ExitCode;
use trademon::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trademon: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(trademon::launch::run(cli)) {
        Ok(code) => code,
        // The TUI has restored the terminal before any error reaches here.
        Err(e) => trademon::user_error::report(&e),
    }
}
