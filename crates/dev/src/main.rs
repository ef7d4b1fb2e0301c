//! trademon-dev: the developer tool beside the product. Benchmarks for docs/benchmarks.md and
//! the in-repo QuestDB test double; neither is in the release `trademon` binary.

mod bench;

use clap::{Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  trademon-dev bench soak --minutes 2        simulator -> backend -> client soak, exit 1 on a reconnect
  trademon-dev bench pong --rate 20000       pong RTT under load vs idle
  trademon-dev questdb-double --journal /tmp/qdb.journal   the QuestDB test double (not QuestDB)";

#[derive(Debug, Parser)]
#[command(
    name = "trademon-dev",
    version,
    about = "trademon's developer tool: benchmarks and the QuestDB test double",
    after_help = EXAMPLES
)]
struct DevCli {
    #[command(subcommand)]
    command: DevCommand,
}

#[derive(Debug, Subcommand)]
enum DevCommand {
    /// Run the in-repo QuestDB test double (a stand-in for trying the store where no QuestDB
    /// can run, NOT a database; docs/questdb.md): ILP over HTTP /write and the /exec queries
    /// trademon sends.
    QuestdbDouble {
        #[arg(long, default_value = "127.0.0.1:9000", value_name = "ADDR")]
        listen: String,
        /// Keep the tables across restarts in this file (every commit is appended to it
        /// before the answer; replayed at start).
        #[arg(long, value_name = "FILE")]
        journal: Option<PathBuf>,
    },
    /// Measurements for docs/benchmarks.md (not part of CI except a short soak).
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Engine throughput: trades per second on one core with the demo strategy.
    Engine {
        #[arg(long, default_value_t = 100)]
        symbol_count: usize,
        #[arg(long, default_value_t = 2_000_000)]
        trades: u64,
    },
    /// Simulator -> backend -> client at RATE msg/s for MINUTES; one summary line; exit 1 on
    /// any reconnect.
    Soak {
        #[arg(long, default_value_t = 60.0)]
        minutes: f64,
        #[arg(long, default_value_t = 5_000)]
        rate: u64,
        /// Contracts the simulator lists and the session follows (12 majors, then synthetic).
        #[arg(long, default_value_t = 12)]
        symbol_count: usize,
    },
    /// Market-data msg/s simulator -> adapter -> engine -> hub -> client, beside a raw
    /// tokio-tungstenite flood of same-sized frames, in one run.
    E2e {
        /// Seconds measured (each phase).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Contracts the simulator lists and the session follows (12 majors, then synthetic).
        #[arg(long, default_value_t = 200)]
        symbol_count: usize,
        /// One ticker per symbol per this many ms (the timer fires about every 1.7 ms at 1).
        #[arg(long, default_value_t = 1)]
        ticker_interval_ms: u64,
        /// Simulated trades per second per symbol.
        #[arg(long, default_value_t = 50.0)]
        trades_per_s: f64,
        /// The session's strategy (engine work per message).
        #[arg(long, default_value = "demo")]
        strategy: String,
    },
    /// TUI frame build time (App clone, view, diff into terminal bytes) at 200x50 with a
    /// session of SYMBOL_COUNT symbols filled by the live demo pipeline.
    Frame {
        #[arg(long, default_value_t = 100)]
        symbol_count: usize,
        /// Seconds of live data (with forced pumps) before measuring.
        #[arg(long, default_value_t = 40)]
        warmup: u64,
        /// Frames measured.
        #[arg(long, default_value_t = 900)]
        frames: usize,
        /// Frame pace while measuring (data arrives between frames).
        #[arg(long, default_value_t = 30)]
        fps: u32,
    },
    /// App pong RTT p50/p99 on an idle link and while the backend pushes RATE msg/s to one client.
    Pong {
        #[arg(long, default_value_t = 20_000)]
        rate: u64,
        /// Seconds per phase (idle, then loaded).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Symbols the load is spread over.
        #[arg(long, default_value_t = 100)]
        symbol_count: usize,
    },
    /// CLIENTS readers at RATE msg/s on one backend, then the same plus one client that never
    /// reads: per-reader msg/s, delivery latency, pong RTT, the slow client's fate, RSS.
    Load {
        #[arg(long, default_value_t = 50)]
        clients: usize,
        #[arg(long, default_value_t = 5_000)]
        rate: u64,
        /// Seconds per phase (readers only, then with the slow client).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// QuestDB store rows/s (writer + spool) vs the raw client, both to the in-repo test server.
    Store {
        #[arg(long, default_value_t = 500_000)]
        rows: usize,
        /// Rows per request (questdb.flush_rows).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Frame rate and CPU of the TUI pipeline with recording off and on, same demo load.
    Record {
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Simulated trades per second per symbol (the load).
        #[arg(long, default_value_t = 50.0)]
        trades_per_s: f64,
        /// Frame cap, as tui.fps.
        #[arg(long, default_value_t = 30)]
        fps: u32,
        /// Terminal size drawn into, WIDTHxHEIGHT.
        #[arg(long, default_value = "120x40", value_parser = parse_size)]
        size: (u16, u16),
        /// One session following this many simulator contracts (default: the demo sessions).
        #[arg(long)]
        symbol_count: Option<usize>,
    },
}

/// `200x50` -> (200, 50).
fn parse_size(text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("expected WIDTHxHEIGHT like 200x50, got {text:?}");
    let (w, h) = text.split_once('x').ok_or_else(bad)?;
    let w: u16 = w.trim().parse().map_err(|_| bad())?;
    let h: u16 = h.trim().parse().map_err(|_| bad())?;
    if w == 0 || h == 0 {
        return Err(bad());
    }
    Ok((w, h))
}

fn main() -> ExitCode {
    let cli = DevCli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trademon-dev: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            DevCommand::QuestdbDouble { listen, journal } => {
                run_questdb_double(&listen, journal.as_deref()).await
            }
            DevCommand::Bench { which } => run_bench(which).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => trademon::user_error::report(&e),
    }
}

async fn run_questdb_double(listen: &str, journal: Option<&std::path::Path>) -> Result<ExitCode> {
    use trademon_questdb_double::TestServer;
    let addr: SocketAddr = listen.parse().map_err(|_| {
        trademon::user_error::UserError::config(format!(
            "--listen {listen:?} is not an address such as 127.0.0.1:9000"
        ))
    })?;
    let server = match journal {
        Some(path) => {
            let (server, replayed) =
                TestServer::start_journalled(addr, path).wrap_err_with(|| {
                    format!(
                        "QuestDB test double on {addr} with journal {}",
                        path.display()
                    )
                })?;
            println!(
                "journal {}: {} writes and {} table definitions replayed{}",
                path.display(),
                replayed.writes,
                replayed.execs,
                if replayed.torn_tail {
                    " (a torn last record was skipped: its client got no answer and resends it)"
                } else {
                    ""
                }
            );
            server
        }
        None => TestServer::start_on(addr).map_err(|e| {
            trademon::user_error::UserError::unavailable(format!(
                "the QuestDB test double cannot listen on {addr}: {e}"
            ))
        })?,
    };
    println!(
        "QuestDB TEST DOUBLE (not QuestDB) on http://{}  conf: \"http::addr={};protocol_version=2;\"",
        server.addr(),
        server.addr()
    );
    trademon::launch::wait_for_shutdown_signal().await;
    Ok(ExitCode::SUCCESS)
}

async fn run_bench(which: BenchCommand) -> Result<ExitCode> {
    match which {
        BenchCommand::Engine {
            symbol_count,
            trades,
        } => {
            // Pure CPU work: keep it off the runtime's worker threads.
            let report =
                tokio::task::spawn_blocking(move || bench::engine::run(symbol_count, trades))
                    .await??;
            println!("{report}");
        }
        BenchCommand::Soak {
            minutes,
            rate,
            symbol_count,
        } => {
            let report = bench::soak::run(minutes, rate, symbol_count).await?;
            println!("{report}");
            if !report.passed() {
                return Ok(ExitCode::FAILURE);
            }
        }
        BenchCommand::E2e {
            seconds,
            symbol_count,
            ticker_interval_ms,
            trades_per_s,
            strategy,
        } => {
            let report = bench::e2e::run(bench::e2e::E2eOptions {
                seconds,
                symbols: symbol_count,
                ticker_interval_ms,
                trades_per_s,
                strategy,
            })
            .await?;
            println!("{report}");
        }
        BenchCommand::Frame {
            symbol_count,
            warmup,
            frames,
            fps,
        } => {
            let report = bench::frame::run(bench::frame::FrameOptions {
                symbols: symbol_count,
                warmup_s: warmup,
                frames,
                fps,
            })
            .await?;
            println!("{report}");
        }
        BenchCommand::Pong {
            rate,
            seconds,
            symbol_count,
        } => {
            let report = bench::pong::run(rate, seconds, symbol_count).await?;
            println!("{report}");
        }
        BenchCommand::Load {
            clients,
            rate,
            seconds,
        } => {
            let report = bench::load::run(clients, rate, seconds).await?;
            print!("{report}");
        }
        BenchCommand::Store { rows, batch } => {
            // Blocking client and writer thread: keep them off the runtime's workers.
            let report = tokio::task::spawn_blocking(move || bench::store::bench_rows(rows, batch))
                .await?
                .map_err(|e| color_eyre::eyre::eyre!(e))?;
            println!("{report}");
        }
        BenchCommand::Record {
            seconds,
            trades_per_s,
            fps,
            size,
            symbol_count,
        } => {
            let report = bench::record::run(bench::record::RecordBench {
                seconds,
                trades_per_s,
                fps,
                size,
                symbols: symbol_count,
            })
            .await?;
            println!("{report}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        DevCli::command().debug_assert();
    }

    #[test]
    fn bench_pong_takes_its_arguments() {
        let cli = DevCli::try_parse_from(["trademon-dev", "bench", "pong", "--symbol-count", "5"])
            .unwrap();
        match cli.command {
            DevCommand::Bench {
                which: BenchCommand::Pong { symbol_count, .. },
            } => assert_eq!(symbol_count, 5),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bench_record_takes_a_size_and_refuses_nonsense() {
        let cli = DevCli::try_parse_from(["trademon-dev", "bench", "record", "--size", "200x50"])
            .unwrap();
        match cli.command {
            DevCommand::Bench {
                which: BenchCommand::Record { size, .. },
            } => assert_eq!(size, (200, 50)),
            other => panic!("{other:?}"),
        }
        for bad in ["200", "0x50", "axb", "200x-1"] {
            assert!(
                DevCli::try_parse_from(["trademon-dev", "bench", "record", "--size", bad]).is_err(),
                "{bad}"
            );
        }
    }
}
