//! `analytics-collector`: the command line. `serve` runs the collector:
//! settings (config), logs, the store, the server, and the signals: SIGTERM
//! or SIGINT stops accepting, finishes and commits what is in flight, and
//! exits 0. Later roles (`ingest`, `load`) are further subcommands.

use std::process::ExitCode;

use analytics_collector::config::{Config, LogFormat, ServeArgs, StoreKind};
use analytics_collector::server::Server;
use analytics_collector::store::memory::MemoryStore;
use analytics_collector::store::sqlite::SqliteStore;
use clap::{Parser, Subcommand};
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser)]
#[command(name = "analytics-collector", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Segment's HTTP tracking API and store what arrives.
    Serve(ServeArgs),
}

fn main() -> ExitCode {
    let Command::Serve(args) = Cli::parse().command;
    let config = match Config::load(args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("analytics-collector: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = init_logs(&config) {
        eprintln!(
            "analytics-collector: log_level {:?}: {error}",
            config.log_level
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("analytics-collector: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the collector stopped");
            eprintln!("analytics-collector: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(config: &Config) -> Result<(), String> {
    let filter =
        tracing_subscriber::EnvFilter::try_new(&config.log_level).map_err(|e| e.to_string())?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => logs.json().flatten_event(true).init(),
        LogFormat::Text => logs.init(),
    }
    Ok(())
}

/// How long, past `shutdown_timeout`, the store has to commit what is
/// queued before the process exits anyway (a store that hangs must not
/// hold it forever; nothing it held was answered 2xx).
const STORE_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

async fn serve(config: Config) -> Result<(), String> {
    let listen = config.listen;
    let shutdown_timeout = config.shutdown_timeout;
    let server = match config.store {
        StoreKind::Sqlite => {
            let store = SqliteStore::open(&config.db).map_err(|e| e.to_string())?;
            tracing::info!(db = %config.db.display(), "store: sqlite");
            Server::start(config, store).await
        }
        StoreKind::Memory => {
            tracing::warn!("store: memory; events are lost at exit");
            Server::start(config, MemoryStore::new()).await
        }
    }
    .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    // The one line on stdout: where it listens (a test or script reads it).
    println!("listening on http://{}", server.addr());
    tracing::info!(addr = %server.addr(), "listening");

    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
    }
    server.shutdown();
    let stored = server
        .metrics()
        .stored
        .load(std::sync::atomic::Ordering::Relaxed);
    if tokio::time::timeout(shutdown_timeout + STORE_GRACE, server.wait())
        .await
        .is_err()
    {
        return Err(format!(
            "the store did not finish its commits within {} s of the shutdown timeout; exiting without them (none was answered 2xx)",
            STORE_GRACE.as_secs()
        ));
    }
    tracing::info!(stored, "stopped; everything answered 2xx is committed");
    Ok(())
}
