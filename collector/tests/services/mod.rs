//! The servers the distributed roles' tests run against, each started on
//! free 127.0.0.1 ports with its own temporary data directory and stopped
//! by its PID when its guard is dropped (on a failing test too): a NATS
//! JetStream cluster from generated config files, PostgreSQL (as the
//! `postgres` user: it refuses root), ClickHouse from a generated
//! `<yandex>` config, HAProxy from a generated config, and the collector's
//! own `ingest` and `load` roles (the real binary). Readiness is waited on
//! by conditions, never fixed sleeps. A missing server binary fails the
//! test loudly, naming the package `scripts/setup.sh` installs.
#![allow(dead_code)]

use std::io::BufRead;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Patience for a service to come up or a condition to hold, on a loaded
/// machine (they usually take well under a second).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The distributed tests take the machine's two cores: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Fails the test if `path` (a binary a service needs) is missing.
pub fn require(path: &str, package: &str) -> PathBuf {
    let found = if path.contains('/') {
        Path::new(path).exists().then(|| PathBuf::from(path))
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
                .map(|dir| dir.join(path))
                .find(|candidate| candidate.exists())
        })
    };
    found.unwrap_or_else(|| {
        panic!(
            "MISSING: {path} is required by this test; install Debian's {package} (scripts/setup.sh does)"
        )
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `condition` until it holds, failing after `PATIENCE`.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A temporary directory every user can enter (Postgres runs as `postgres`).
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("collector-{name}-"))
        .tempdir()
        .expect("a temporary directory");
    chmod(dir.path(), "755");
    dir
}

fn chmod(path: &Path, mode: &str) {
    let ok = Command::new("chmod")
        .arg(mode)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chmod {mode} {}", path.display());
}

/// A child process killed (SIGKILL, by PID) when dropped.
pub struct Proc {
    pub name: String,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, command: &mut Command, log: &Path) -> Proc {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("a log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Proc {
            name: name.into(),
            child: Some(child),
            log: log.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The first line the process prints on stdout.
    pub fn first_line(&mut self) -> String {
        let stdout = self
            .child
            .as_mut()
            .and_then(|c| c.stdout.take())
            .expect("stdout piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep reading so the process never blocks on a full pipe.
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        rx.recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("{} printed nothing; log {}", self.name, self.log.display()))
    }

    /// SIGKILL, by PID, and reaped.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, by PID; the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "SIGTERM sent to {}", self.name);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().expect("waitable") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit after SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------- NATS

pub struct NatsNode {
    pub name: String,
    pub port: u16,
    config: PathBuf,
    proc: Option<Proc>,
}

/// A JetStream cluster of `n` nodes on 127.0.0.1.
pub struct NatsCluster {
    pub nodes: Vec<NatsNode>,
    dir: tempfile::TempDir,
}

impl NatsCluster {
    pub fn start(n: usize) -> NatsCluster {
        let binary = require("nats-server", "nats-server");
        let dir = temp_dir("nats");
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for (i, &(port, cluster_port)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(&name);
            let mut text = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{port}\njetstream {{\n  store_dir: \"{}\"\n}}\n",
                store.display()
            );
            if n > 1 {
                let routes: Vec<String> = ports
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, (_, c))| format!("nats-route://127.0.0.1:{c}"))
                    .collect();
                text.push_str(&format!(
                    "cluster {{\n  name: analytics\n  listen: 127.0.0.1:{cluster_port}\n  routes: [{}]\n}}\n",
                    routes.join(", ")
                ));
            }
            let config = dir.path().join(format!("{name}.conf"));
            std::fs::write(&config, text).expect("the config is written");
            nodes.push(NatsNode {
                name,
                port,
                config,
                proc: None,
            });
        }
        let mut cluster = NatsCluster { nodes, dir };
        let _ = binary;
        for i in 0..n {
            cluster.start_node(i);
        }
        cluster
    }

    pub fn start_node(&mut self, i: usize) {
        let dir = self.dir.path().to_owned();
        let node = &mut self.nodes[i];
        let proc = Proc::spawn(
            &node.name,
            Command::new(require("nats-server", "nats-server"))
                .arg("-c")
                .arg(&node.config),
            &dir.join(format!("{}.log", node.name)),
        );
        node.proc = Some(proc);
        let port = node.port;
        wait_until(&format!("nats {} accepts", node.name), || accepts(port));
    }

    pub fn kill_node(&mut self, name: &str) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"));
        if let Some(mut proc) = node.proc.take() {
            proc.kill();
        }
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect()
    }

    pub fn urls_arg(&self) -> String {
        self.urls().join(",")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

// ---------------------------------------------------------------- Postgres

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct Postgres {
    pub port: u16,
    dir: tempfile::TempDir,
    data: PathBuf,
}

fn as_postgres(args: &[&str]) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--"]).args(args);
    command
}

impl Postgres {
    pub fn start() -> Postgres {
        require(&format!("{PG_BIN}/initdb"), "postgresql");
        require("runuser", "util-linux");
        let dir = temp_dir("postgres");
        let data = dir.path().join("data");
        let ok = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chown postgres {}", dir.path().display());
        let out = as_postgres(&[
            &format!("{PG_BIN}/initdb"),
            "-D",
            data.to_str().expect("utf-8 path"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        ])
        .stdout(Stdio::null())
        .output()
        .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = Postgres {
            port: free_port(),
            dir,
            data,
        };
        pg.pg_start();
        pg
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let data = self.data.to_str().expect("utf-8 path").to_owned();
        let mut all = vec![format!("{PG_BIN}/pg_ctl"), "-D".into(), data];
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        as_postgres(&all).output().expect("pg_ctl runs")
    }

    /// Starts the server and waits until it accepts connections.
    pub fn pg_start(&self) {
        let log = self.dir.path().join("postgres.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port,
            self.dir.path().display()
        );
        let out = self.pg_ctl(&[
            "-w",
            "-t",
            "60",
            "-l",
            log.to_str().expect("utf-8"),
            "-o",
            &options,
            "start",
        ]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server at once, as a crash would (no shutdown checkpoint).
    pub fn stop_immediately(&self) {
        let out = self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=5",
            self.port
        )
    }

    /// Runs `sql` with psql and returns its unaligned output.
    pub fn query(&self, sql: &str) -> String {
        let out = Command::new(format!("{PG_BIN}/psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-At",
                "-c",
                sql,
            ])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
    }
}

// ---------------------------------------------------------------- ClickHouse

pub struct ClickHouse {
    pub port: u16,
    dir: tempfile::TempDir,
    proc: Option<Proc>,
}

impl ClickHouse {
    pub fn start() -> ClickHouse {
        require("clickhouse-server", "clickhouse-server");
        let dir = temp_dir("clickhouse");
        let port = free_port();
        let d = dir.path().display();
        let config = format!(
            "<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{port}</http_port>
  <tcp_port>{}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <mark_cache_size>5368709</mark_cache_size>
  <timezone>UTC</timezone>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
</yandex>
",
            free_port()
        );
        let users = "<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
";
        std::fs::write(dir.path().join("config.xml"), config).expect("written");
        std::fs::write(dir.path().join("users.xml"), users).expect("written");
        let mut clickhouse = ClickHouse {
            port,
            dir,
            proc: None,
        };
        clickhouse.run();
        clickhouse
    }

    /// Starts the server (again) and waits for `/ping`.
    pub fn run(&mut self) {
        let config = self.dir.path().join("config.xml");
        self.proc = Some(Proc::spawn(
            "clickhouse",
            Command::new(require("clickhouse-server", "clickhouse-server"))
                .arg(format!("--config-file={}", config.display())),
            &self.dir.path().join("stderr.log"),
        ));
        let port = self.port;
        wait_until("clickhouse answers /ping", || {
            http(port, "GET", "/ping", "").is_some_and(|(s, b)| s == 200 && b.starts_with("Ok."))
        });
    }

    pub fn kill(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.kill();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs `sql` and returns the answer (TabSeparated unless it says).
    pub fn query(&self, sql: &str) -> String {
        match http(self.port, "POST", "/", sql) {
            Some((200, body)) => body.trim().to_owned(),
            other => panic!("clickhouse {sql}: {other:?}"),
        }
    }
}

/// A blocking HTTP/1.0 request: (status, body), or `None` when unreachable.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_owned()))
}

// ---------------------------------------------------------------- HAProxy

pub struct HaProxy {
    pub port: u16,
    _dir: tempfile::TempDir,
    _proc: Proc,
}

impl HaProxy {
    /// A load balancer on a free port in front of `backends` (round robin,
    /// health-checked on `/healthz` every 200 ms).
    pub fn start(backends: &[SocketAddr]) -> HaProxy {
        let binary = require("haproxy", "haproxy");
        let dir = temp_dir("haproxy");
        let port = free_port();
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, addr)| format!("  server ingest{} {addr} check\n", i + 1))
            .collect();
        let config = format!(
            "global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  retries 2
  option redispatch
frontend collector
  bind 127.0.0.1:{port}
  default_backend ingest
backend ingest
  balance roundrobin
  option httpchk GET /healthz
  default-server inter 200ms fall 1 rise 2
{servers}"
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config).expect("written");
        let proc = Proc::spawn(
            "haproxy",
            Command::new(binary).arg("-db").arg("-f").arg(&path),
            &dir.path().join("haproxy.log"),
        );
        wait_until("haproxy answers /healthz through a backend", || {
            http(port, "GET", "/healthz", "").is_some_and(|(s, _)| s == 200)
        });
        HaProxy {
            port,
            _dir: dir,
            _proc: proc,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

// ---------------------------------------------------------------- the collector

/// The real `analytics-collector` in one of its roles.
pub struct Role {
    pub proc: Proc,
    pub addr: SocketAddr,
}

impl Role {
    /// Starts `analytics-collector <role> --listen 127.0.0.1:0 <args>` and
    /// waits for the line saying where it listens.
    pub fn start(role: &str, args: &[&str], log: &Path) -> Role {
        let mut command = Command::new(env!("CARGO_BIN_EXE_analytics-collector"));
        command
            .args([role, "--listen", "127.0.0.1:0", "--log-level", "warn"])
            .args(args);
        let mut proc = Proc::spawn(role, &mut command, log);
        let line = proc.first_line();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "{role}: unexpected first line {line:?}; log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
        Role { proc, addr }
    }

    /// A metric's value from its `/metrics` (0 when unreachable).
    pub fn metric(&self, name: &str) -> f64 {
        http(self.addr.port(), "GET", "/metrics", "")
            .and_then(|(_, text)| {
                text.lines().find_map(|line| {
                    let (key, value) = line.rsplit_once(' ')?;
                    (key == name).then(|| value.parse().ok()).flatten()
                })
            })
            .unwrap_or(0.0)
    }
}
