//! `collector-bench`: a load generator for Segment batch endpoints, run
//! against this collector (the release binary next to this one, on a fresh
//! SQLite file) and against the dev collector (`node www/collector.mjs`) in
//! the same run. Batches of 20 events of about 1 KB with unique ids; closed
//! loops of 1, 16 and 64 clients (each waits for its answer before the next
//! batch); an open loop at a fixed rate (half the 50,000 events/s target);
//! and an overload at twice the best measured rate with a byte budget small
//! enough to bind. It prints events/s answered 2xx, latency p50/p99, the
//! collector's CPU and RSS. Numbers are printed, never asserted.
//!
//!   cargo build --profile collector -p analytics-collector --bins
//!   target/collector/collector-bench [--seconds 5] [--no-node]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use analytics_collector::client::Connection;
use clap::Parser;
use tokio::sync::Semaphore;

const EVENTS_PER_BATCH: usize = 20;

#[derive(Parser)]
#[command(about = "Load-test this collector and the dev collector; print the numbers")]
struct Args {
    /// Seconds measured per scenario (after a one-second warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Closed-loop client counts.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,
    /// Open-loop rate, events per second.
    #[arg(long, default_value_t = 25_000)]
    rate: u64,
    /// The collector binary [default: analytics-collector next to this one].
    #[arg(long)]
    collector: Option<PathBuf>,
    /// The dev collector script [default: the repository's www/collector.mjs].
    #[arg(long)]
    node_collector: Option<PathBuf>,
    /// Skip the dev collector.
    #[arg(long)]
    no_node: bool,
    /// Only time the parser on the bench's batches (µs per batch), in process.
    #[arg(long)]
    parse_only: bool,
    /// Only load a collector already running at this address (under a
    /// profiler, say): the closed loops (`--clients 0` for none), then the
    /// open loop; print their numbers.
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Bytes-in-flight budget of this collector in the overload scenario.
    #[arg(long, default_value_t = 8 << 20)]
    overload_budget: u64,
    /// The messageIds' shape: `v7`, time-ordered as the SDK makes them, or
    /// `v4`, random as Segment's libraries make them.
    #[arg(long, default_value = "v7", value_parser = ["v7", "v4"])]
    ids: String,
}

/// A collector process under test.
struct Target {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
    db: Option<PathBuf>,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_line(child: &mut Child, prefix: &str) -> Result<String, String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = prefix.to_owned();
    std::thread::spawn(move || {
        // Reads to the end, so the process never writes into a closed pipe.
        let mut sent = false;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if !sent && line.contains(&wanted) {
                sent = tx.send(line).is_ok();
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .map_err(|_| format!("no line with {prefix:?} within 30 s"))
}

fn start_rust(binary: &Path, db: &Path, extra: &[String]) -> Result<Target, String> {
    let _ = std::fs::remove_file(db);
    let mut child = Command::new(binary)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--write-key",
            "wk",
            "--log-level",
            "warn",
        ])
        .arg("--db")
        .arg(db)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let line = wait_for_line(&mut child, "listening on http://")?;
    let addr = line
        .trim()
        .trim_start_matches("listening on http://")
        .parse()
        .map_err(|e| format!("{line:?}: {e}"))?;
    Ok(Target {
        name: "analytics-collector (SQLite, synced)",
        child,
        addr,
        db: Some(db.to_owned()),
    })
}

fn start_node(script: &Path) -> Result<Target, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let mut child = Command::new("node")
        .arg(script)
        .args(["--port", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start node {}: {e}", script.display()))?;
    wait_for_line(&mut child, "collector listening")?;
    Ok(Target {
        name: "www/collector.mjs (Node, memory)",
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        db: None,
    })
}

/// CPU seconds (user + system) and resident KiB of a process.
fn usage(pid: u32, ticks_per_sec: f64) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (ticks / ticks_per_sec, rss)
}

fn ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Batch bodies with unique ids: 20 track events of about 1 KB each, from a
/// template cut at the ids (so the generator spends its time sending). The
/// ids look like the SDK's UUID v4s, random, so the dedupe index is written
/// at random places as it is in use (sequential ids would flatter it).
struct Bodies {
    /// Mixed into every id, so runs do not share ids.
    seed: u64,
    next: AtomicU64,
    /// The body's text around the ids: `pieces[i]`, id `i`, `pieces[i + 1]`, …
    pieces: Vec<String>,
    /// Ids sort by time (version 7), or are random (version 4).
    time_ordered: bool,
}

impl Bodies {
    fn new(run: &str, time_ordered: bool) -> Self {
        let padding = "x".repeat(700);
        let mut pieces = Vec::with_capacity(EVENTS_PER_BATCH + 1);
        let mut piece = String::from("{\"batch\":[");
        for i in 0..EVENTS_PER_BATCH {
            if i > 0 {
                piece.push(',');
            }
            piece.push_str("{\"type\":\"track\",\"event\":\"Product Viewed\",\"messageId\":\"");
            pieces.push(std::mem::take(&mut piece));
            let _ = write!(
                piece,
                "\",\"anonymousId\":\"anon-{i}\",\"timestamp\":\"2026-12-06T10:00:00.000Z\",\"properties\":{{\"product_id\":\"p-{i}\",\"price\":19.99,\"currency\":\"EUR\",\"note\":\"{padding}\"}},\"context\":{{\"library\":{{\"name\":\"analytics-wasm\",\"version\":\"0.1.0\"}},\"page\":{{\"path\":\"/products/{i}\",\"url\":\"https://shop.example/products/{i}\"}},\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64) bench\"}}}}"
            );
        }
        piece.push_str("],\"writeKey\":\"wk\",\"sentAt\":\"2026-12-06T10:00:01.000Z\"}");
        pieces.push(piece);
        Bodies {
            seed: run.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            }),
            next: AtomicU64::new(0),
            pieces,
            time_ordered,
        }
    }

    fn next(&self) -> Vec<u8> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let size: usize =
            self.pieces.iter().map(String::len).sum::<usize>() + EVENTS_PER_BATCH * 36;
        let mut body = Vec::with_capacity(size);
        for (i, piece) in self.pieces.iter().enumerate() {
            body.extend_from_slice(piece.as_bytes());
            if i < EVENTS_PER_BATCH {
                body.extend_from_slice(self.id(n * EVENTS_PER_BATCH as u64 + i as u64).as_bytes());
            }
        }
        body
    }
}

impl Bodies {
    /// A UUID-shaped id, unique within a run: the low 64 bits are a
    /// bijection of the counter. Version 4: the rest is mixed from it, so
    /// ids are random; version 7: the top 48 bits are the milliseconds now,
    /// so ids sort by when they were made, as the SDK's do.
    fn id(&self, counter: u64) -> String {
        let lo = splitmix64(counter ^ self.seed);
        let (version, hi) = match self.time_ordered {
            true => {
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                (
                    7,
                    (ms << 16) | (splitmix64(lo ^ 0x9e37_79b9_7f4a_7c15) & 0xfff),
                )
            }
            false => (4, splitmix64(lo ^ 0x9e37_79b9_7f4a_7c15)),
        };
        format!(
            "{:08x}-{:04x}-{version}{:03x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xfff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        )
    }
}

/// SplitMix64's finaliser: a bijection on u64 that looks random.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    ok_events: u64,
    /// Events answered 2xx, warm-up included.
    all_ok_events: u64,
    statuses: std::collections::BTreeMap<u16, u64>,
    errors: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.ok_events += other.ok_events;
        self.all_ok_events += other.all_ok_events;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.errors += other.errors;
    }

    fn record(&mut self, status: Option<u16>, latency: Duration) {
        self.latencies_us
            .push(latency.as_micros().min(u128::from(u32::MAX)) as u32);
        match status {
            Some(status) => {
                *self.statuses.entry(status).or_default() += 1;
                if (200..300).contains(&status) {
                    self.ok_events += EVENTS_PER_BATCH as u64;
                }
            }
            None => self.errors += 1,
        }
    }

    fn percentile(&mut self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        self.latencies_us.sort_unstable();
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }

    fn non_2xx(&self) -> String {
        let mut parts: Vec<String> = self
            .statuses
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(s, n)| format!("{n}×{s}"))
            .collect();
        if self.errors > 0 {
            parts.push(format!("{}×no answer", self.errors));
        }
        if parts.is_empty() {
            "0".into()
        } else {
            parts.join(", ")
        }
    }
}

/// One measured scenario.
struct Row {
    target: &'static str,
    scenario: String,
    events_per_sec: f64,
    p50: f64,
    p99: f64,
    non_2xx: String,
    cpu: f64,
    rss_mb: String,
}

/// Closed loop: `clients` connections, each sending its next batch when
/// the last is answered. Measures after a one-second warm-up.
async fn closed_loop(
    addr: SocketAddr,
    clients: usize,
    bodies: Arc<Bodies>,
    warmup: Duration,
    measure: Duration,
) -> Tally {
    let start = Instant::now();
    let (from, until) = (start + warmup, start + warmup + measure);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut connection = Connection::open(addr).await.ok();
                while Instant::now() < until {
                    let body = bodies.next();
                    let sent = Instant::now();
                    let status = match connection.as_mut() {
                        Some(c) => c
                            .send(
                                "POST",
                                "/v1/batch",
                                &[("Content-Type", "text/plain")],
                                &body,
                            )
                            .await
                            .ok()
                            .map(|a| a.status),
                        None => None,
                    };
                    if status.is_none() {
                        connection = Connection::open(addr).await.ok();
                    }
                    if status.is_some_and(|s| (200..300).contains(&s)) {
                        tally.all_ok_events += EVENTS_PER_BATCH as u64;
                    }
                    if sent >= from && Instant::now() <= until {
                        tally.record(status, sent.elapsed());
                    }
                }
                tally
            })
        })
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        if let Ok(t) = task.await {
            tally.merge(t);
        }
    }
    tally
}

/// Open loop: batches due at a fixed rate, whatever the answers; latency
/// is measured from when a batch was due (so a late send counts), on up to
/// `max_connections` connections.
async fn open_loop(
    addr: SocketAddr,
    events_per_sec: u64,
    max_connections: usize,
    bodies: Arc<Bodies>,
    warmup: Duration,
    measure: Duration,
) -> Tally {
    let interval = Duration::from_secs_f64(EVENTS_PER_BATCH as f64 / events_per_sec as f64);
    let start = Instant::now();
    let (from, until) = (start + warmup, start + warmup + measure);
    let idle: Arc<Mutex<Vec<Connection>>> = Arc::new(Mutex::new(Vec::new()));
    let limit = Arc::new(Semaphore::new(max_connections));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0u32.. {
        let due = start + interval * k;
        if due >= until {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        while tasks.try_join_next().is_some() {}
        let (idle, limit, tally, bodies) =
            (idle.clone(), limit.clone(), tally.clone(), bodies.clone());
        tasks.spawn(async move {
            let Ok(_permit) = limit.acquire().await else {
                return;
            };
            let pooled = idle.lock().ok().and_then(|mut idle| idle.pop());
            let connection = match pooled {
                Some(c) => Some(c),
                None => Connection::open(addr).await.ok(),
            };
            let body = bodies.next();
            let (status, connection) = match connection {
                Some(mut c) => match c
                    .send(
                        "POST",
                        "/v1/batch",
                        &[("Content-Type", "text/plain")],
                        &body,
                    )
                    .await
                {
                    Ok(answer) => (
                        Some(answer.status),
                        answer
                            .header("connection")
                            .is_none_or(|v| v != "close")
                            .then_some(c),
                    ),
                    Err(_) => (None, None),
                },
                None => (None, None),
            };
            if let Ok(mut tally) = tally.lock() {
                if status.is_some_and(|s| (200..300).contains(&s)) {
                    tally.all_ok_events += EVENTS_PER_BATCH as u64;
                }
                if due >= from {
                    tally.record(status, due.elapsed());
                }
            }
            if let (Some(c), Ok(mut idle)) = (connection, idle.lock()) {
                idle.push(c);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Arc::try_unwrap(tally)
        .ok()
        .and_then(|m| m.into_inner().ok())
        .unwrap_or_default()
}

async fn measure<F: std::future::Future<Output = Tally>>(
    target: &Target,
    scenario: String,
    seconds: f64,
    ticks: f64,
    run: F,
) -> (Row, u64) {
    let pid = target.child.id();
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(usage(pid, ticks).1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let (cpu_before, rss_before) = usage(pid, ticks);
    // CPU is read over the whole run (warm-up included) and divided by its wall time.
    let wall = Instant::now();
    let after_warmup = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        usage(pid, ticks).1
    });
    let mut tally = run.await;
    let (cpu_after, rss_after) = usage(pid, ticks);
    let elapsed = wall.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let rss_warm = after_warmup.await.unwrap_or(rss_before);
    let peak = peak.load(Ordering::Relaxed).max(rss_after);
    let row = Row {
        target: target.name,
        scenario,
        events_per_sec: tally.ok_events as f64 / seconds,
        p50: tally.percentile(0.50),
        p99: tally.percentile(0.99),
        non_2xx: tally.non_2xx(),
        cpu: (cpu_after - cpu_before) / elapsed * 100.0,
        rss_mb: format!(
            "{:.0} / {:.0} / {:.0} / {:.0}",
            rss_before as f64 / 1024.0,
            rss_warm as f64 / 1024.0,
            rss_after as f64 / 1024.0,
            peak as f64 / 1024.0
        ),
    };
    println!(
        "  {:<34} {:>9.0} ev/s  p50 {:>7.2} ms  p99 {:>8.2} ms  non-2xx {}  cpu {:>4.0}%  rss MB {}",
        row.scenario, row.events_per_sec, row.p50, row.p99, row.non_2xx, row.cpu, row.rss_mb
    );
    (row, tally.all_ok_events)
}

async fn bench(target: &Target, args: &Args, ticks: f64, run: &str) -> (Vec<Row>, u64) {
    println!("{} on {}", target.name, target.addr);
    let warmup = Duration::from_secs(1);
    let seconds = Duration::from_secs(args.seconds);
    let bodies = Arc::new(Bodies::new(run, args.ids == "v7"));
    let mut rows = Vec::new();
    let mut ok = 0;
    for &clients in &args.clients {
        let (row, n) = measure(
            target,
            format!("closed loop, {clients} clients"),
            seconds.as_secs_f64(),
            ticks,
            closed_loop(target.addr, clients, bodies.clone(), warmup, seconds),
        )
        .await;
        ok += n;
        rows.push(row);
    }
    let (row, n) = measure(
        target,
        format!("open loop, {} events/s", group(args.rate)),
        seconds.as_secs_f64(),
        ticks,
        open_loop(target.addr, args.rate, 256, bodies.clone(), warmup, seconds),
    )
    .await;
    ok += n;
    rows.push(row);
    (rows, ok)
}

fn group(n: u64) -> String {
    analytics_collector::wire::group(n as usize)
}

fn sqlite_rows(db: &Path) -> Result<u64, String> {
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    conn.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
        .map_err(|e| e.to_string())
}

fn terminate(target: &Target) {
    let _ = Command::new("kill")
        .args(["-TERM", &target.child.id().to_string()])
        .status();
}

fn wait_exit(mut target: Target) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = target.child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    if args.parse_only {
        let bodies = Bodies::new("parse", args.ids == "v7");
        let batches: Vec<Vec<u8>> = (0..1000).map(|_| bodies.next()).collect();
        for round in 0..3 {
            let start = Instant::now();
            let mut messages = 0;
            for body in &batches {
                let parsed = analytics_collector::wire::parse(
                    body,
                    analytics_collector::wire::Endpoint::Batch,
                )
                .map_err(|e| e.to_string())?;
                messages += parsed.messages.len();
            }
            let per_batch = start.elapsed().as_secs_f64() * 1e6 / batches.len() as f64;
            println!("round {round}: {per_batch:.1} µs per batch of {EVENTS_PER_BATCH} ({} bytes), {messages} messages", batches[0].len());
        }
        return Ok(());
    }
    if let Some(addr) = args.addr {
        let bodies = Arc::new(Bodies::new(
            &format!("{:x}", std::process::id()),
            args.ids == "v7",
        ));
        for &clients in args.clients.iter().filter(|&&n| n > 0) {
            let mut tally = closed_loop(
                addr,
                clients,
                bodies.clone(),
                Duration::from_secs(1),
                Duration::from_secs(args.seconds),
            )
            .await;
            println!(
                "{clients} clients: {:.0} events/s, p50 {:.2} ms, p99 {:.2} ms, non-2xx {}",
                tally.ok_events as f64 / args.seconds as f64,
                tally.percentile(0.5),
                tally.percentile(0.99),
                tally.non_2xx()
            );
        }
        let mut tally = open_loop(
            addr,
            args.rate,
            256,
            bodies,
            Duration::from_secs(1),
            Duration::from_secs(args.seconds),
        )
        .await;
        println!(
            "open loop at {} events/s: {:.0} events/s, p50 {:.2} ms, p99 {:.2} ms, non-2xx {}",
            group(args.rate),
            tally.ok_events as f64 / args.seconds as f64,
            tally.percentile(0.5),
            tally.percentile(0.99),
            tally.non_2xx()
        );
        return Ok(());
    }
    let here = std::env::current_exe().map_err(|e| e.to_string())?;
    let collector = args
        .collector
        .clone()
        .unwrap_or_else(|| here.with_file_name("analytics-collector"));
    if !collector.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --profile collector -p analytics-collector --bins`",
            collector.display()
        ));
    }
    let node_script = args
        .node_collector
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/collector.mjs"));
    let ticks = ticks_per_sec();
    let dir = std::env::temp_dir().join(format!("collector-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    println!(
        "{} events of about 1 KB per batch; {} s measured per scenario after 1 s of warm-up; {} cores",
        EVENTS_PER_BATCH,
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut rows = Vec::new();
    let rust = start_rust(&collector, &dir.join("bench.db"), &[])?;
    let (mut rust_rows, acked) = bench(&rust, &args, ticks, &format!("{run}-r")).await;
    let best = rust_rows
        .iter()
        .map(|r| r.events_per_sec)
        .fold(0.0, f64::max);
    terminate(&rust);
    let db = rust.db.clone();
    wait_exit(rust);
    if let Some(db) = db {
        match sqlite_rows(&db) {
            Ok(rows) => println!(
                "  stored rows after SIGTERM: {}; events answered 2xx, warm-ups included: {}",
                group(rows),
                group(acked)
            ),
            Err(e) => println!("  cannot count the stored rows: {e}"),
        }
    }
    // Twice the best rate measured, on a budget small enough to bind.
    let overload = (best * 2.0).max(1000.0) as u64;
    let budget = args.overload_budget.to_string();
    let rust = start_rust(
        &collector,
        &dir.join("overload.db"),
        &["--max-bytes-in-flight".into(), budget.clone()],
    )?;
    println!("{} with --max-bytes-in-flight {budget}", rust.name);
    let bodies = Arc::new(Bodies::new(&format!("{run}-o"), args.ids == "v7"));
    let (row, _) = measure(
        &rust,
        format!("overload, {} events/s offered", group(overload)),
        args.seconds as f64,
        ticks,
        open_loop(
            rust.addr,
            overload,
            1000,
            bodies,
            Duration::from_secs(1),
            Duration::from_secs(args.seconds),
        ),
    )
    .await;
    rust_rows.push(row);
    drop(rust);
    rows.extend(rust_rows);

    if !args.no_node {
        match start_node(&node_script) {
            Ok(node) => {
                let (node_rows, _) = bench(&node, &args, ticks, &format!("{run}-n")).await;
                rows.extend(node_rows);
            }
            Err(e) => println!("skipping the dev collector: {e}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!("\n| collector | scenario | events/s (2xx) | p50 ms | p99 ms | non-2xx | collector CPU % | collector RSS MB: start / after warm-up / end / peak |");
    println!("|---|---|---:|---:|---:|---|---:|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {} | {:.0} | {} |",
            r.target,
            r.scenario,
            group(r.events_per_sec as u64),
            r.p50,
            r.p99,
            r.non_2xx,
            r.cpu,
            r.rss_mb
        );
    }
    Ok(())
}
