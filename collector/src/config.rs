//! The collector's settings, from a TOML file, environment variables and
//! flags (a flag beats the environment, which beats the file, which beats
//! the default), checked once at start with errors that name the setting in
//! all three spellings and its limits. docs/collector.md has the table.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::wire::group;

/// Where the events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// One SQLite file (WAL), durable: the default.
    Sqlite,
    /// Memory only, lost at exit: for trying the collector out.
    Memory,
    /// PostgreSQL (`postgres_url`): one transaction per group, dedupe by a unique key.
    Postgres,
    /// ClickHouse over HTTP (`clickhouse_url`): a ReplacingMergeTree, dedupe eventual.
    Clickhouse,
}

/// Where an `ingest` node answers receipt requests from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptsFrom {
    /// No store to ask: answered without a `receipts` list, so the SDK
    /// sends the events again and the store drops the copies.
    None,
    /// The Postgres store the loaders write (`postgres_url`).
    Postgres,
    /// The ClickHouse store the loaders write (`clickhouse_url`).
    Clickhouse,
}

/// The process's role: which subcommand runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The single process: HTTP in, the store behind.
    Serve,
    /// Stateless HTTP in, the JetStream stream behind.
    Ingest,
    /// The stream in, the store behind.
    Load,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

/// The checked settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub store: StoreKind,
    pub db: PathBuf,
    pub write_keys: Vec<String>,
    pub cors_origins: Vec<String>,
    pub cors_max_age: Duration,
    pub max_body_bytes: usize,
    pub max_bytes_in_flight: u64,
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub commit_timeout: Duration,
    pub max_group_events: usize,
    /// Events per second per write key; `None`: no limit.
    pub rate_limit: Option<f64>,
    pub rate_limit_burst: f64,
    pub max_retry_after: Duration,
    pub shutdown_timeout: Duration,
    pub log_format: LogFormat,
    pub log_level: String,
    /// The NATS servers (any of the cluster; the client learns the rest).
    pub nats_urls: Vec<String>,
    /// The JetStream stream's name; its subject is `<stream>.events`.
    pub stream: String,
    pub stream_replicas: usize,
    pub duplicate_window: Duration,
    pub postgres_url: Option<String>,
    pub clickhouse_url: Option<String>,
    pub receipts_from: ReceiptsFrom,
    /// The loaders' shared durable consumer.
    pub consumer: String,
    pub batch_events: usize,
    pub batch_age: Duration,
    /// Most bytes of events one pull may bring (the loader's memory bound).
    pub batch_max_bytes: usize,
    pub ack_wait: Duration,
    /// The longest one store write (Postgres transaction, ClickHouse
    /// INSERT) may take before it is abandoned and retried.
    pub write_timeout: Duration,
    /// Where a loader publishes (to JetStream, acked) the events the store
    /// refuses or that are not event envelopes, before it terminates them.
    pub dead_letter_subject: String,
    /// Tests only: the loader stops between its commit and its acks.
    #[cfg(feature = "test-hooks")]
    pub test_pause_before_ack: bool,
}

/// The largest `batch_max_bytes`, and what the loaders' shared consumer
/// allows any pull to ask for.
pub const MAX_BATCH_BYTES: usize = 1 << 30;
/// The largest `batch_events`, and what the shared consumer allows.
pub const MAX_BATCH_EVENTS: usize = 100_000;

impl Config {
    /// Settings for a test or an embedding: defaults, with these write keys.
    pub fn with_write_keys(keys: &[&str]) -> Config {
        let args = ServeArgs {
            write_keys: keys.iter().map(|k| k.to_string()).collect(),
            ..ServeArgs::default()
        };
        Config::resolve(args, FileConfig::default()).expect("the defaults are valid")
    }
}

/// `serve`'s flags; every one can also come from the environment.
#[derive(Debug, Default, Clone, Args)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below (snake_case names).
    #[arg(long, env = "COLLECTOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8788].
    #[arg(long, env = "COLLECTOR_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Where events are stored [default: sqlite].
    #[arg(long, env = "COLLECTOR_STORE")]
    pub store: Option<StoreKind>,
    /// The SQLite database file [default: events.db].
    #[arg(long, env = "COLLECTOR_DB")]
    pub db: Option<PathBuf>,
    /// A write key the collector accepts (repeat the flag, or separate by commas).
    #[arg(
        long = "write-key",
        env = "COLLECTOR_WRITE_KEYS",
        value_delimiter = ','
    )]
    pub write_keys: Vec<String>,
    /// An origin browsers may send from (`https://app.example`, or `*`).
    #[arg(
        long = "cors-origin",
        env = "COLLECTOR_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// How long browsers may cache a preflight, seconds [default: 600].
    #[arg(long, env = "COLLECTOR_CORS_MAX_AGE_SECS")]
    pub cors_max_age_secs: Option<u64>,
    /// Largest request body, after decompression too [default: 512000].
    #[arg(long, env = "COLLECTOR_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most bytes held by requests not yet committed [default: 67108864].
    #[arg(long, env = "COLLECTOR_MAX_BYTES_IN_FLIGHT")]
    pub max_bytes_in_flight: Option<u64>,
    /// Most open client connections [default: 1024].
    #[arg(long, env = "COLLECTOR_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Time a client has to send a request's headers, ms [default: 10000].
    #[arg(long, env = "COLLECTOR_HEADER_READ_TIMEOUT_MS")]
    pub header_read_timeout_ms: Option<u64>,
    /// Time a client has to send a request's body, ms [default: 30000].
    #[arg(long, env = "COLLECTOR_BODY_READ_TIMEOUT_MS")]
    pub body_read_timeout_ms: Option<u64>,
    /// Time a request waits for its commit before a 503, ms [default: 10000].
    #[arg(long, env = "COLLECTOR_COMMIT_TIMEOUT_MS")]
    pub commit_timeout_ms: Option<u64>,
    /// Most events in one group commit [default: 20000].
    #[arg(long, env = "COLLECTOR_MAX_GROUP_EVENTS")]
    pub max_group_events: Option<usize>,
    /// Events per second per write key, 0 for no limit [default: 0].
    #[arg(long, env = "COLLECTOR_RATE_LIMIT_PER_SEC")]
    pub rate_limit_per_sec: Option<f64>,
    /// Events a write key may send at once [default: the larger of the rate and 2,500].
    #[arg(long, env = "COLLECTOR_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<f64>,
    /// Largest Retry-After sent, seconds [default: 60].
    #[arg(long, env = "COLLECTOR_MAX_RETRY_AFTER_SECS")]
    pub max_retry_after_secs: Option<u64>,
    /// Time SIGTERM leaves requests in flight to finish, ms [default: 30000].
    #[arg(long, env = "COLLECTOR_SHUTDOWN_TIMEOUT_MS")]
    pub shutdown_timeout_ms: Option<u64>,
    /// Log lines as JSON or text [default: json].
    #[arg(long, env = "COLLECTOR_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. info or analytics_collector=debug [default: info].
    #[arg(long, env = "COLLECTOR_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// ingest, load: a NATS server of the JetStream cluster (repeat, or commas) [default: nats://127.0.0.1:4222].
    #[arg(long = "nats-url", env = "COLLECTOR_NATS_URLS", value_delimiter = ',')]
    pub nats_urls: Vec<String>,
    /// ingest, load: the stream's name [default: ANALYTICS_EVENTS].
    #[arg(long, env = "COLLECTOR_STREAM")]
    pub stream: Option<String>,
    /// ingest: copies of the stream on the cluster when ingest creates it [default: 3].
    #[arg(long, env = "COLLECTOR_STREAM_REPLICAS")]
    pub stream_replicas: Option<usize>,
    /// ingest: the stream's Nats-Msg-Id dedupe window, ms [default: 120000].
    #[arg(long, env = "COLLECTOR_DUPLICATE_WINDOW_MS")]
    pub duplicate_window_ms: Option<u64>,
    /// serve, load (store postgres), ingest (receipts_from postgres): a libpq connection string or URL.
    #[arg(long, env = "COLLECTOR_POSTGRES_URL")]
    pub postgres_url: Option<String>,
    /// serve, load (store clickhouse), ingest (receipts_from clickhouse): http://host:port of its HTTP interface.
    #[arg(long, env = "COLLECTOR_CLICKHOUSE_URL")]
    pub clickhouse_url: Option<String>,
    /// ingest: the store receipt requests are answered from [default: none].
    #[arg(long, env = "COLLECTOR_RECEIPTS_FROM")]
    pub receipts_from: Option<ReceiptsFrom>,
    /// load: the durable pull consumer all loaders share [default: loader].
    #[arg(long, env = "COLLECTOR_CONSUMER")]
    pub consumer: Option<String>,
    /// load: most events in one batch written to the store [default: 5000].
    #[arg(long, env = "COLLECTOR_BATCH_EVENTS")]
    pub batch_events: Option<usize>,
    /// load: a batch is written once its first event waited this long, ms [default: 1000].
    #[arg(long, env = "COLLECTOR_BATCH_AGE_MS")]
    pub batch_age_ms: Option<u64>,
    /// load: most bytes of events in one batch [default: 33554432].
    #[arg(long, env = "COLLECTOR_BATCH_MAX_BYTES")]
    pub batch_max_bytes: Option<usize>,
    /// load: the stream redelivers an event not acked within this, ms [default: 30000].
    #[arg(long, env = "COLLECTOR_ACK_WAIT_MS")]
    pub ack_wait_ms: Option<u64>,
    /// serve, load: the longest one store write may take, ms [default: 20000].
    #[arg(long, env = "COLLECTOR_WRITE_TIMEOUT_MS")]
    pub write_timeout_ms: Option<u64>,
    /// load: the subject events the store refuses are published to [default: <stream>.dead].
    #[arg(long, env = "COLLECTOR_DEAD_LETTER_SUBJECT")]
    pub dead_letter_subject: Option<String>,
    /// Tests only: the loader stops between its commit and its acks.
    #[cfg(feature = "test-hooks")]
    #[arg(long, env = "COLLECTOR_TEST_PAUSE_BEFORE_ACK", hide = true)]
    pub test_pause_before_ack: bool,
}

/// The config file: the same settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<SocketAddr>,
    store: Option<StoreKind>,
    db: Option<PathBuf>,
    write_keys: Option<Vec<String>>,
    cors_origins: Option<Vec<String>>,
    cors_max_age_secs: Option<u64>,
    max_body_bytes: Option<usize>,
    max_bytes_in_flight: Option<u64>,
    max_connections: Option<usize>,
    header_read_timeout_ms: Option<u64>,
    body_read_timeout_ms: Option<u64>,
    commit_timeout_ms: Option<u64>,
    max_group_events: Option<usize>,
    rate_limit_per_sec: Option<f64>,
    rate_limit_burst: Option<f64>,
    max_retry_after_secs: Option<u64>,
    shutdown_timeout_ms: Option<u64>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
    nats_urls: Option<Vec<String>>,
    stream: Option<String>,
    stream_replicas: Option<usize>,
    duplicate_window_ms: Option<u64>,
    postgres_url: Option<String>,
    clickhouse_url: Option<String>,
    receipts_from: Option<ReceiptsFrom>,
    consumer: Option<String>,
    batch_events: Option<usize>,
    batch_age_ms: Option<u64>,
    batch_max_bytes: Option<usize>,
    ack_wait_ms: Option<u64>,
    write_timeout_ms: Option<u64>,
    dead_letter_subject: Option<String>,
}

/// A setting that cannot be used, said so that it can be fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// `max_body_bytes (--max-body-bytes, COLLECTOR_MAX_BODY_BYTES)`.
fn spell(field: &str) -> String {
    format!(
        "{field} (--{}, COLLECTOR_{})",
        field.replace('_', "-"),
        field.to_uppercase()
    )
}

fn within<T: PartialOrd + Copy + Into<f64>>(
    field: &str,
    value: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    if value < min || value > max {
        let show = |v: T| {
            let v: f64 = v.into();
            if v.fract() == 0.0 && v.abs() < 1e15 {
                group(v as usize)
            } else {
                v.to_string()
            }
        };
        return Err(ConfigError(format!(
            "{} must be between {} and {}; got {}",
            spell(field),
            show(min),
            show(max),
            show(value)
        )));
    }
    Ok(value)
}

fn millis(field: &str, value: u64, min: u64, max: u64) -> Result<Duration, ConfigError> {
    within(field, value as f64, min as f64, max as f64).map(|ms| Duration::from_millis(ms as u64))
}

impl Config {
    /// Reads the file `args.config` names, if any, and resolves the settings
    /// of `serve`.
    pub fn load(args: ServeArgs) -> Result<Config, ConfigError> {
        Config::load_for(Role::Serve, args)
    }

    /// Reads the file `args.config` names, if any, and resolves the settings
    /// of `role`.
    pub fn load_for(role: Role, args: ServeArgs) -> Result<Config, ConfigError> {
        let file = match &args.config {
            None => FileConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!(
                        "cannot read the config file {}: {e}",
                        path.display()
                    ))
                })?;
                toml::from_str(&text)
                    .map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))?
            }
        };
        Config::resolve_for(role, args, file)
    }

    /// Layers flags and environment (`args`) over the file over the defaults.
    pub fn resolve(args: ServeArgs, file: FileConfig) -> Result<Config, ConfigError> {
        Config::resolve_for(Role::Serve, args, file)
    }

    /// `resolve`, for `role`: each role checks the settings it needs.
    pub fn resolve_for(
        role: Role,
        args: ServeArgs,
        file: FileConfig,
    ) -> Result<Config, ConfigError> {
        let write_keys = if args.write_keys.is_empty() {
            file.write_keys.unwrap_or_default()
        } else {
            args.write_keys
        };
        // A loader takes what the ingest nodes accepted: it needs no write key.
        if write_keys.is_empty() && role != Role::Load {
            return Err(ConfigError(format!(
                "{} is required: the collector refuses every request without one",
                spell("write_keys").replace("--write-keys", "--write-key")
            )));
        }
        for key in &write_keys {
            if key.is_empty()
                || key.len() > 256
                || key.contains(':')
                || key.chars().any(char::is_control)
            {
                return Err(ConfigError(format!(
                    "write key {key:?}: a write key is 1 to 256 bytes with no ':' (HTTP Basic cannot carry one) and no control characters"
                )));
            }
        }
        let cors_origins = if args.cors_origins.is_empty() {
            file.cors_origins.unwrap_or_default()
        } else {
            args.cors_origins
        };
        for origin in &cors_origins {
            let valid = origin == "*"
                || ((origin.starts_with("http://") || origin.starts_with("https://"))
                    && !origin.ends_with('/')
                    && origin
                        .split("://")
                        .nth(1)
                        .is_some_and(|host| !host.is_empty() && !host.contains('/')));
            if !valid {
                return Err(ConfigError(format!(
                    "cors origin {origin:?} (--cors-origin, COLLECTOR_CORS_ORIGINS): an origin is scheme://host[:port] with no path or trailing slash, e.g. https://app.example, or *"
                )));
            }
        }
        let max_body_bytes = within(
            "max_body_bytes",
            args.max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(512_000) as f64,
            1024.0,
            (64 << 20) as f64,
        )? as usize;
        let max_bytes_in_flight = within(
            "max_bytes_in_flight",
            args.max_bytes_in_flight
                .or(file.max_bytes_in_flight)
                .unwrap_or(64 << 20) as f64,
            (4 * max_body_bytes) as f64,
            (1u64 << 40) as f64,
        )
        .map_err(|e| ConfigError(format!("{e} (at least 4 x max_body_bytes: a request holds its body, the inflated body and the parsed messages)")))?
            as u64;
        let rate = within(
            "rate_limit_per_sec",
            args.rate_limit_per_sec
                .or(file.rate_limit_per_sec)
                .unwrap_or(0.0),
            0.0,
            1e9,
        )?;
        let rate_limit = (rate > 0.0).then_some(rate);
        let rate_limit_burst = within(
            "rate_limit_burst",
            args.rate_limit_burst
                .or(file.rate_limit_burst)
                .unwrap_or(rate.max(2_500.0)),
            1.0,
            1e12,
        )?;
        let nats_urls = if !args.nats_urls.is_empty() {
            args.nats_urls
        } else {
            file.nats_urls
                .unwrap_or_else(|| vec!["nats://127.0.0.1:4222".into()])
        };
        if nats_urls.is_empty() || nats_urls.iter().any(|u| u.trim().is_empty()) {
            return Err(ConfigError(format!(
                "{}: give at least one server, e.g. nats://127.0.0.1:4222",
                spell("nats_urls").replace("--nats-urls", "--nats-url")
            )));
        }
        let stream = args
            .stream
            .or(file.stream)
            .unwrap_or_else(|| "ANALYTICS_EVENTS".into());
        if stream.is_empty()
            || !stream
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError(format!(
                "{} {stream:?}: a stream name is letters, digits, '_' and '-'",
                spell("stream")
            )));
        }
        let consumer = args
            .consumer
            .or(file.consumer)
            .unwrap_or_else(|| "loader".into());
        if consumer.is_empty()
            || !consumer
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError(format!(
                "{} {consumer:?}: a consumer name is letters, digits, '_' and '-'",
                spell("consumer")
            )));
        }
        let store = args.store.or(file.store).unwrap_or(StoreKind::Sqlite);
        let postgres_url = args.postgres_url.or(file.postgres_url);
        let clickhouse_url = args.clickhouse_url.or(file.clickhouse_url);
        let receipts_from = args
            .receipts_from
            .or(file.receipts_from)
            .unwrap_or(ReceiptsFrom::None);
        let needs_postgres = (role != Role::Ingest && store == StoreKind::Postgres)
            || (role == Role::Ingest && receipts_from == ReceiptsFrom::Postgres);
        if needs_postgres && postgres_url.is_none() {
            return Err(ConfigError(format!(
                "{} is required with store (or receipts_from) postgres, e.g. \"host=127.0.0.1 port=5432 user=analytics dbname=analytics\"",
                spell("postgres_url")
            )));
        }
        let needs_clickhouse = (role != Role::Ingest && store == StoreKind::Clickhouse)
            || (role == Role::Ingest && receipts_from == ReceiptsFrom::Clickhouse);
        if role == Role::Ingest && receipts_from == ReceiptsFrom::Clickhouse {
            return Err(ConfigError(format!(
                "{} = clickhouse is refused: a receipt tells the SDK it may delete the events, and ClickHouse (18.16, the version this collector supports) answers an INSERT before the data is fsynced, so a listed event could still be lost in a crash; use postgres, or none (the SDK sends the events again and the store drops the copies)",
                spell("receipts_from")
            )));
        }
        if needs_clickhouse
            && !clickhouse_url
                .as_deref()
                .is_some_and(|u| u.starts_with("http://"))
        {
            return Err(ConfigError(format!(
                "{} is required with store (or receipts_from) clickhouse, as http://host:port (its HTTP interface); got {:?}",
                spell("clickhouse_url"),
                clickhouse_url.unwrap_or_default()
            )));
        }
        let batch_age = millis(
            "batch_age_ms",
            args.batch_age_ms.or(file.batch_age_ms).unwrap_or(1_000),
            10,
            600_000,
        )?;
        let ack_wait = millis(
            "ack_wait_ms",
            args.ack_wait_ms.or(file.ack_wait_ms).unwrap_or(30_000),
            1_000,
            3_600_000,
        )?;
        let write_timeout = millis(
            "write_timeout_ms",
            args.write_timeout_ms
                .or(file.write_timeout_ms)
                .unwrap_or(20_000),
            100,
            600_000,
        )?;
        if role == Role::Load && ack_wait <= write_timeout + batch_age {
            return Err(ConfigError(format!(
                "{} ({} ms) must be more than {} ({} ms) + {} ({} ms): an event is delivered again to another loader once it waited ack_wait without an ack, which must not happen while its batch is still being gathered or written",
                spell("ack_wait_ms"),
                ack_wait.as_millis(),
                spell("write_timeout_ms"),
                write_timeout.as_millis(),
                spell("batch_age_ms"),
                batch_age.as_millis()
            )));
        }
        let batch_max_bytes = within(
            "batch_max_bytes",
            args.batch_max_bytes
                .or(file.batch_max_bytes)
                .unwrap_or(32 << 20) as f64,
            crate::stream::MIN_PULL_BYTES as f64,
            MAX_BATCH_BYTES as f64,
        )
        .map_err(|e| {
            ConfigError(format!(
                "{e} (at least room for the largest event the stream takes, so that every event can be pulled)"
            ))
        })? as usize;
        let dead_letter_subject = args
            .dead_letter_subject
            .or(file.dead_letter_subject)
            .unwrap_or_else(|| format!("{stream}.dead"));
        let valid_subject = !dead_letter_subject.is_empty()
            && dead_letter_subject.split('.').all(|token| {
                !token.is_empty()
                    && token != "*"
                    && token != ">"
                    && token
                        .chars()
                        .all(|c| c.is_ascii_graphic() && c != '*' && c != '>')
            });
        if !valid_subject || dead_letter_subject == format!("{stream}.events") {
            return Err(ConfigError(format!(
                "{} {dead_letter_subject:?}: a NATS subject (dot-separated tokens of printable ASCII, no wildcards) other than the stream's own {stream}.events",
                spell("dead_letter_subject")
            )));
        }
        Ok(Config {
            nats_urls,
            stream,
            stream_replicas: within(
                "stream_replicas",
                args.stream_replicas.or(file.stream_replicas).unwrap_or(3) as f64,
                1.0,
                5.0,
            )? as usize,
            duplicate_window: millis(
                "duplicate_window_ms",
                args.duplicate_window_ms
                    .or(file.duplicate_window_ms)
                    .unwrap_or(120_000),
                100,
                86_400_000,
            )?,
            postgres_url,
            clickhouse_url,
            receipts_from,
            consumer,
            batch_events: within(
                "batch_events",
                args.batch_events.or(file.batch_events).unwrap_or(5_000) as f64,
                1.0,
                MAX_BATCH_EVENTS as f64,
            )? as usize,
            batch_age,
            batch_max_bytes,
            ack_wait,
            write_timeout,
            dead_letter_subject,
            #[cfg(feature = "test-hooks")]
            test_pause_before_ack: args.test_pause_before_ack,
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8788))),
            store,
            db: args
                .db
                .or(file.db)
                .unwrap_or_else(|| PathBuf::from("events.db")),
            write_keys,
            cors_origins,
            cors_max_age: Duration::from_secs(within(
                "cors_max_age_secs",
                args.cors_max_age_secs
                    .or(file.cors_max_age_secs)
                    .unwrap_or(600) as f64,
                0.0,
                86_400.0,
            )? as u64),
            max_body_bytes,
            max_bytes_in_flight,
            max_connections: within(
                "max_connections",
                args.max_connections
                    .or(file.max_connections)
                    .unwrap_or(1024) as f64,
                1.0,
                1_000_000.0,
            )? as usize,
            header_read_timeout: millis(
                "header_read_timeout_ms",
                args.header_read_timeout_ms
                    .or(file.header_read_timeout_ms)
                    .unwrap_or(10_000),
                100,
                600_000,
            )?,
            body_read_timeout: millis(
                "body_read_timeout_ms",
                args.body_read_timeout_ms
                    .or(file.body_read_timeout_ms)
                    .unwrap_or(30_000),
                100,
                600_000,
            )?,
            commit_timeout: millis(
                "commit_timeout_ms",
                args.commit_timeout_ms
                    .or(file.commit_timeout_ms)
                    .unwrap_or(10_000),
                100,
                600_000,
            )?,
            max_group_events: within(
                "max_group_events",
                args.max_group_events
                    .or(file.max_group_events)
                    .unwrap_or(20_000) as f64,
                1.0,
                1_000_000.0,
            )? as usize,
            rate_limit,
            rate_limit_burst,
            max_retry_after: Duration::from_secs(within(
                "max_retry_after_secs",
                args.max_retry_after_secs
                    .or(file.max_retry_after_secs)
                    .unwrap_or(60) as f64,
                1.0,
                3600.0,
            )? as u64),
            shutdown_timeout: millis(
                "shutdown_timeout_ms",
                args.shutdown_timeout_ms
                    .or(file.shutdown_timeout_ms)
                    .unwrap_or(30_000),
                0,
                600_000,
            )?,
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Json),
            log_level: args
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(keys: &[&str]) -> ServeArgs {
        ServeArgs {
            write_keys: keys.iter().map(|k| k.to_string()).collect(),
            ..ServeArgs::default()
        }
    }

    fn file(toml_text: &str) -> FileConfig {
        toml::from_str(toml_text).expect("valid TOML")
    }

    #[test]
    fn defaults_are_segments_limits() {
        let config = Config::resolve(args(&["wk"]), FileConfig::default()).expect("valid");
        assert_eq!(config.max_body_bytes, 512_000);
        assert_eq!(config.listen.to_string(), "127.0.0.1:8788");
        assert_eq!(config.store, StoreKind::Sqlite);
        assert_eq!(config.rate_limit, None);
    }

    #[test]
    fn a_flag_beats_the_file_which_beats_the_default() {
        let from_file = file("max_connections = 10\nmax_body_bytes = 2048\nwrite_keys = [\"a\"]");
        let mut flags = args(&[]);
        flags.max_connections = Some(20);
        let config = Config::resolve(flags, from_file).expect("valid");
        assert_eq!(config.max_connections, 20);
        assert_eq!(config.max_body_bytes, 2048);
        assert_eq!(config.write_keys, ["a"]);
    }

    #[test]
    fn an_out_of_range_setting_is_named_with_its_limits() {
        let mut flags = args(&["wk"]);
        flags.max_body_bytes = Some(12);
        let error = Config::resolve(flags, FileConfig::default()).unwrap_err();
        assert_eq!(
            error.0,
            "max_body_bytes (--max-body-bytes, COLLECTOR_MAX_BODY_BYTES) must be between 1,024 and 67,108,864; got 12"
        );
    }

    #[test]
    fn no_write_key_is_an_error_naming_the_flag() {
        let error = Config::resolve(args(&[]), FileConfig::default()).unwrap_err();
        assert!(
            error
                .0
                .starts_with("write_keys (--write-key, COLLECTOR_WRITE_KEYS) is required"),
            "{}",
            error.0
        );
    }

    #[test]
    fn a_loader_needs_no_write_key_but_its_store_needs_its_url() {
        let config = Config::resolve_for(Role::Load, args(&[]), FileConfig::default())
            .expect("no write key needed");
        assert_eq!(config.nats_urls, ["nats://127.0.0.1:4222"]);
        assert_eq!(config.batch_events, 5_000);
        let error =
            Config::resolve_for(Role::Load, args(&[]), file("store = \"postgres\"")).unwrap_err();
        assert!(
            error
                .0
                .starts_with("postgres_url (--postgres-url, COLLECTOR_POSTGRES_URL) is required"),
            "{}",
            error.0
        );
        let error = Config::resolve_for(
            Role::Load,
            args(&[]),
            file("store = \"clickhouse\"\nclickhouse_url = \"127.0.0.1:8123\""),
        )
        .unwrap_err();
        assert!(error.0.contains("as http://host:port"), "{}", error.0);
    }

    #[test]
    fn a_loaders_ack_wait_must_outlast_a_batchs_age_and_its_write() {
        let mut flags = args(&[]);
        flags.ack_wait_ms = Some(20_000);
        flags.write_timeout_ms = Some(20_000);
        let error = Config::resolve_for(Role::Load, flags, FileConfig::default()).unwrap_err();
        assert!(
            error.0.starts_with(
                "ack_wait_ms (--ack-wait-ms, COLLECTOR_ACK_WAIT_MS) (20000 ms) must be more than write_timeout_ms (--write-timeout-ms, COLLECTOR_WRITE_TIMEOUT_MS) (20000 ms) + batch_age_ms"
            ),
            "{}",
            error.0
        );
        let config = Config::resolve_for(Role::Load, args(&[]), FileConfig::default())
            .expect("the defaults hold");
        assert!(config.ack_wait > config.write_timeout + config.batch_age);
    }

    #[test]
    fn a_batch_too_small_for_one_event_is_refused_with_its_limits() {
        let mut flags = args(&[]);
        flags.batch_max_bytes = Some(1024);
        let error = Config::resolve_for(Role::Load, flags, FileConfig::default()).unwrap_err();
        assert!(
            error.0.starts_with(
                "batch_max_bytes (--batch-max-bytes, COLLECTOR_BATCH_MAX_BYTES) must be between"
            ),
            "{}",
            error.0
        );
        assert!(error.0.contains("the largest event"), "{}", error.0);
    }

    #[test]
    fn receipts_from_clickhouse_are_refused_because_its_inserts_are_not_fsynced() {
        let error = Config::resolve_for(
            Role::Ingest,
            args(&["wk"]),
            file("receipts_from = \"clickhouse\"\nclickhouse_url = \"http://127.0.0.1:8123\""),
        )
        .unwrap_err();
        assert!(
            error.0.starts_with(
                "receipts_from (--receipts-from, COLLECTOR_RECEIPTS_FROM) = clickhouse is refused"
            ),
            "{}",
            error.0
        );
        assert!(error.0.contains("fsynced"), "{}", error.0);
    }

    #[test]
    fn the_dead_letter_subject_defaults_beside_the_stream_and_takes_no_wildcard() {
        let config =
            Config::resolve_for(Role::Load, args(&[]), FileConfig::default()).expect("valid");
        assert_eq!(config.dead_letter_subject, "ANALYTICS_EVENTS.dead");
        for bad in ["a.>", "a..b", "ANALYTICS_EVENTS.events", "a b"] {
            let mut flags = args(&[]);
            flags.dead_letter_subject = Some(bad.into());
            let error = Config::resolve_for(Role::Load, flags, FileConfig::default()).unwrap_err();
            assert!(
                error.0.starts_with("dead_letter_subject"),
                "{bad}: {}",
                error.0
            );
        }
    }

    #[test]
    fn a_stream_name_nats_cannot_take_is_refused() {
        let mut flags = args(&["wk"]);
        flags.stream = Some("a.b".into());
        let error = Config::resolve_for(Role::Ingest, flags, FileConfig::default()).unwrap_err();
        assert!(error.0.contains("\"a.b\""), "{}", error.0);
    }

    #[test]
    fn a_write_key_basic_auth_cannot_carry_is_refused() {
        let error = Config::resolve(args(&["a:b"]), FileConfig::default()).unwrap_err();
        assert!(error.0.contains("\"a:b\""), "{}", error.0);
    }

    #[test]
    fn a_cors_origin_with_a_path_is_refused() {
        let mut flags = args(&["wk"]);
        flags.cors_origins = vec!["https://app.example/".into()];
        let error = Config::resolve(flags, FileConfig::default()).unwrap_err();
        assert!(error.0.contains("https://app.example/"), "{}", error.0);
    }

    #[test]
    fn an_unknown_setting_in_the_file_is_named() {
        let error = toml::from_str::<FileConfig>("max_bdy_bytes = 1").unwrap_err();
        assert!(error.to_string().contains("max_bdy_bytes"), "{error}");
    }

    #[test]
    fn the_in_flight_budget_must_hold_a_few_bodies() {
        let mut flags = args(&["wk"]);
        flags.max_bytes_in_flight = Some(1_000_000);
        let error = Config::resolve(flags, FileConfig::default()).unwrap_err();
        assert!(
            error.0.contains("at least 4 x max_body_bytes"),
            "{}",
            error.0
        );
    }
}
