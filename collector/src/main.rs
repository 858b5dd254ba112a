//! `analytics-collector`: the command line, one subcommand per role.
//! `serve` (the default for one machine) runs the collector into its own
//! store; `ingest` answers the same HTTP API but commits to the JetStream
//! stream (stateless: run any number behind a load balancer); `load` takes
//! batches from the stream into the store (run any number; they share one
//! durable consumer). Each reads its settings (config), starts its logs,
//! and stops on SIGTERM or SIGINT after finishing what is in flight.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use analytics_collector::config::{Config, LogFormat, ReceiptsFrom, Role, ServeArgs, StoreKind};
use analytics_collector::load::{self, Loader};
use analytics_collector::server::Server;
use analytics_collector::store::clickhouse::{ClickHouseReceipts, ClickHouseStore};
use analytics_collector::store::memory::MemoryStore;
use analytics_collector::store::postgres::{PostgresReceipts, PostgresStore};
use analytics_collector::store::sqlite::SqliteStore;
use analytics_collector::store::{Receipts, Store};
use analytics_collector::stream::{self, publish::StreamStore};
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
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
    /// Serve the same API, publishing each accepted event to the JetStream
    /// stream; 2xx once the stream has stored it on a quorum.
    Ingest(ServeArgs),
    /// Take batches from the stream, write them to the store, ack after the commit.
    Load(ServeArgs),
}

fn main() -> ExitCode {
    let (role, args) = match Cli::parse().command {
        Command::Serve(args) => (Role::Serve, args),
        Command::Ingest(args) => (Role::Ingest, args),
        Command::Load(args) => (Role::Load, args),
    };
    let config = match Config::load_for(role, args) {
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
    let run = async move {
        match role {
            Role::Serve => serve(config).await,
            Role::Ingest => ingest(config).await,
            Role::Load => load(config).await,
        }
    };
    match runtime.block_on(run) {
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
const STORE_GRACE: Duration = Duration::from_secs(30);

/// How long a starting `ingest` or `load` waits for the stream and the
/// store to be reachable before it gives up.
const START_PATIENCE: Duration = Duration::from_secs(60);

async fn serve(config: Config) -> Result<(), String> {
    let listen = config.listen;
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
        StoreKind::Postgres => {
            let url = config.postgres_url.clone().unwrap_or_default();
            let store = PostgresStore::connect(&url)
                .await
                .map_err(|e| e.to_string())?
                .with_write_timeout(config.write_timeout);
            tracing::info!("store: postgres");
            Server::start(config, store).await
        }
        StoreKind::Clickhouse => {
            let url = config.clickhouse_url.clone().unwrap_or_default();
            let store = ClickHouseStore::connect(&url)
                .await
                .map_err(|e| e.to_string())?
                .with_write_timeout(config.write_timeout);
            tracing::info!("store: clickhouse");
            Server::start(config, store).await
        }
    }
    .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    run_server(server).await
}

async fn ingest(config: Config) -> Result<(), String> {
    let listen = config.listen;
    let js = stream::connect(&config, "analytics-collector ingest").await?;
    stream::ensure_stream(&js, &config, START_PATIENCE).await?;
    let receipts: Option<Arc<dyn Receipts>> = match config.receipts_from {
        ReceiptsFrom::None => None,
        ReceiptsFrom::Postgres => Some(PostgresReceipts::new(
            config.postgres_url.as_deref().unwrap_or_default(),
        )),
        ReceiptsFrom::Clickhouse => Some(
            ClickHouseReceipts::connect(config.clickhouse_url.as_deref().unwrap_or_default())
                .await
                .map_err(|e| e.to_string())?,
        ),
    };
    let store = StreamStore::new(
        js,
        stream::subject(&config),
        config.commit_timeout,
        tokio::runtime::Handle::current(),
        receipts,
    );
    tracing::info!(stream = config.stream, nats = ?config.nats_urls, "ingest: publishing to the stream");
    let server = Server::start(config, store)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    run_server(server).await
}

async fn load(config: Config) -> Result<(), String> {
    let js = stream::connect(&config, "analytics-collector load").await?;
    let consumer = stream::loader_consumer(&js, &config, START_PATIENCE).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let write_timeout = config.write_timeout;
    let mut loader = match config.store {
        StoreKind::Sqlite => {
            let store = SqliteStore::open(&config.db).map_err(|e| e.to_string())?;
            start_loader(&config, js, consumer, store)
        }
        StoreKind::Memory => start_loader(&config, js, consumer, MemoryStore::new()),
        StoreKind::Postgres => {
            let url = config.postgres_url.clone().unwrap_or_default();
            let store = retry_connect("postgres", || PostgresStore::connect(&url)).await?;
            start_loader(
                &config,
                js,
                consumer,
                store.with_write_timeout(write_timeout),
            )
        }
        StoreKind::Clickhouse => {
            let url = config.clickhouse_url.clone().unwrap_or_default();
            let store = retry_connect("clickhouse", || ClickHouseStore::connect(&url)).await?;
            start_loader(
                &config,
                js,
                consumer,
                store.with_write_timeout(write_timeout),
            )
        }
    }?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (ops_stop, ops_stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(load::serve_ops(
        listener,
        loader.metrics.clone(),
        ops_stopped,
    ));
    println!("listening on http://{addr}");
    tracing::info!(%addr, store = ?config.store, consumer = config.consumer, "loading");
    // The loader ends by itself only on an error it cannot go on after:
    // the process exits non-zero, for its supervisor to start it again.
    let signalled = tokio::select! {
        signalled = wait_for_signal() => signalled,
        error = loader.ended() => Err(error),
    };
    let result = match signalled {
        Ok(()) => loader.shutdown().await,
        Err(error) => Err(error),
    };
    let _ = ops_stop.send(true);
    result?;
    tracing::info!("stopped; every batch written was acked");
    Ok(())
}

fn start_loader<S: Store>(
    config: &Config,
    js: async_nats::jetstream::Context,
    consumer: async_nats::jetstream::consumer::PullConsumer,
    store: S,
) -> Result<Loader, String> {
    Loader::start(config, js, consumer, store).map_err(|e| format!("cannot start the loader: {e}"))
}

/// Connects to a store, retrying while it is not up yet, up to `START_PATIENCE`.
async fn retry_connect<S, F, Fut>(what: &str, mut connect: F) -> Result<S, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<S, analytics_collector::store::StoreError>>,
{
    let deadline = tokio::time::Instant::now() + START_PATIENCE;
    loop {
        match connect().await {
            Ok(store) => return Ok(store),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "{what} is not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

async fn wait_for_signal() -> Result<(), String> {
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
    }
    Ok(())
}

async fn run_server(server: Server) -> Result<(), String> {
    let shutdown_timeout = server.shutdown_timeout();
    // The one line on stdout: where it listens (a test or script reads it).
    println!("listening on http://{}", server.addr());
    tracing::info!(addr = %server.addr(), "listening");

    wait_for_signal().await?;
    server.shutdown();
    let stored = server.metrics().stored.load(Ordering::Relaxed);
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
