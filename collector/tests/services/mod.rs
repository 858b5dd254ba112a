//! The servers the distributed roles' tests run against, each started on
//! free 127.0.0.1 ports with its own temporary data directory and stopped
//! by its PID when its guard is dropped (on a failing test too): a NATS
//! JetStream cluster from generated config files, PostgreSQL (run directly
//! as the `postgres` user: it refuses root), ClickHouse from a generated
//! `<yandex>` config, HAProxy from a generated config, and the collector's
//! own `ingest` and `load` roles (the real binary). Readiness is waited on
//! by conditions, never fixed sleeps. A missing server binary fails the
//! test loudly, naming the package `scripts/setup.sh` installs.
//!
//! Every server is a direct child of the test process, spawned by one
//! thread that lives as long as the process, with `PR_SET_PDEATHSIG`: if
//! the test process is killed, the kernel kills them too. A port found
//! free may be taken before the server binds it: a server that exits
//! saying its address is in use is started again on new ports. Data
//! directories left by a test process that was killed are removed when
//! the next one starts.
#![allow(dead_code)]

use std::io::BufRead;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard, Once, OnceLock};
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

/// The file in each temporary directory naming the test process it is for.
const OWNER: &str = "owner.pid";

/// Removes the temporary directories of test processes that are gone
/// (killed before they could clean up), once per process.
fn remove_stale_dirs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("collector-"));
            let owner = std::fs::read_to_string(path.join(OWNER))
                .ok()
                .and_then(|pid| pid.trim().parse::<u32>().ok());
            if let (true, Some(pid)) = (named, owner) {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(&path);
                }
            }
        }
    });
}

/// A temporary directory every user can enter (Postgres runs as `postgres`).
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    remove_stale_dirs();
    let dir = tempfile::Builder::new()
        .prefix(&format!("collector-{name}-"))
        .tempdir()
        .expect("a temporary directory");
    chmod(dir.path(), "755");
    std::fs::write(dir.path().join(OWNER), std::process::id().to_string())
        .expect("the owner file is written");
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

type SpawnJob = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `command` from the one thread that lives as long as the test
/// process, with a parent-death signal: the kernel sends it when the
/// thread that spawned the child ends, so that thread must not be a test's
/// (nor a runtime's worker that may retire).
fn spawn_child(mut command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("child-spawner".into())
            .spawn(move || {
                while let Ok((mut command, reply)) = queue.recv() {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("the spawner thread starts");
        Mutex::new(jobs)
    });
    // SAFETY: prctl and getppid are async-signal-safe; nothing is allocated.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The test process died between the fork and the prctl.
            if libc::getppid() == 1 {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (reply, answer) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((command, reply))
        .expect("the spawner thread runs");
    answer.recv().expect("the spawner thread answers")
}

/// A child process killed (SIGKILL, by PID) when dropped.
pub struct Proc {
    pub name: String,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Proc {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("a log file");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(file);
        let child = spawn_child(command).unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Proc {
            name: name.into(),
            child: Some(child),
            log: log.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Waits until `ready` holds; `Err` with the log if the process exited
    /// first.
    pub fn wait_ready(
        &mut self,
        what: &str,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if ready() {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "{} exited ({status}) before {what}; log:\n{}",
                    self.name,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                ));
            }
            assert!(Instant::now() < deadline, "waited {PATIENCE:?} for: {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process's log says it could not bind its address.
    pub fn address_in_use(&self) -> bool {
        std::fs::read_to_string(&self.log).is_ok_and(|log| {
            let log = log.to_lowercase();
            log.contains("address already in use") || log.contains("cannot bind socket")
        })
    }

    /// Sends `signal` (a name, e.g. QUIT) by PID.
    pub fn signal(&self, signal: &str) {
        assert!(self.child.is_some(), "{} is not running", self.name);
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "SIG{signal} sent to {}", self.name);
    }

    /// Waits for the process to exit after a signal; its status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().expect("waitable") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit; log:\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
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
        self.signal("TERM");
        self.wait_exit()
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

/// Whether the installed nats-server takes `sync_interval` (2.10 and
/// later): then the test cluster fsyncs every write, as the documented
/// deployment does.
fn nats_syncs_always() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| {
        let out = Command::new(require("nats-server", "nats-server"))
            .arg("--version")
            .output()
            .expect("nats-server --version runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let version: Vec<u32> = text
            .trim()
            .rsplit('v')
            .next()
            .unwrap_or("")
            .split('.')
            .filter_map(|n| n.parse().ok())
            .collect();
        version.as_slice() >= [2, 10].as_slice()
    })
}

impl NatsCluster {
    pub fn start(n: usize) -> NatsCluster {
        require("nats-server", "nats-server");
        let mut dir = temp_dir("nats");
        for attempt in 1.. {
            let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
            let mut nodes = Vec::new();
            for (i, &(port, cluster_port)) in ports.iter().enumerate() {
                let name = format!("n{}", i + 1);
                let store = dir.path().join(&name);
                let sync = if nats_syncs_always() {
                    "  sync_interval: always\n"
                } else {
                    ""
                };
                let mut text = format!(
                    "server_name: {name}\nlisten: 127.0.0.1:{port}\njetstream {{\n  store_dir: \"{}\"\n{sync}}}\n",
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
                let _ = std::fs::remove_dir_all(&store);
                nodes.push(NatsNode {
                    name,
                    port,
                    config,
                    proc: None,
                });
            }
            let mut cluster = NatsCluster { nodes, dir };
            let mut in_use = false;
            for i in 0..n {
                if let Err(e) = cluster.try_start_node(i) {
                    let node = cluster.nodes[i].proc.as_ref();
                    in_use = node.is_some_and(Proc::address_in_use)
                        || e.contains("address already in use");
                    assert!(in_use && attempt < 5, "{e}");
                    break;
                }
            }
            if !in_use {
                return cluster;
            }
            // A port was taken meanwhile: stop what started, new ports.
            for node in &mut cluster.nodes {
                if let Some(mut proc) = node.proc.take() {
                    proc.kill();
                }
            }
            dir = cluster.dir;
        }
        unreachable!("the loop returns or panics")
    }

    fn try_start_node(&mut self, i: usize) -> Result<(), String> {
        let dir = self.dir.path().to_owned();
        let node = &mut self.nodes[i];
        let log = dir.join(format!("{}.log", node.name));
        let _ = std::fs::remove_file(&log);
        let mut command = Command::new(require("nats-server", "nats-server"));
        command.arg("-c").arg(&node.config);
        let mut proc = Proc::spawn(&node.name, command, &log);
        let port = node.port;
        let ready = proc.wait_ready(&format!("nats {} accepts", node.name), || accepts(port));
        node.proc = Some(proc);
        ready
    }

    /// Starts node `i` (again, on its ports).
    pub fn start_node(&mut self, i: usize) {
        if let Err(e) = self.try_start_node(i) {
            panic!("{e}");
        }
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

/// Postgres, run directly (not daemonized by pg_ctl) as the `postgres`
/// user, so that it is this process's child and dies with it.
pub struct Postgres {
    pub port: u16,
    dir: tempfile::TempDir,
    data: PathBuf,
    proc: Option<Proc>,
}

fn as_postgres(args: &[&str]) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--"]).args(args);
    command
}

/// The `postgres` user's uid and gid.
fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id runs");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("MISSING: the postgres user (install Debian's postgresql)"))
    };
    (id("-u"), id("-g"))
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
        let mut pg = Postgres {
            port: free_port(),
            dir,
            data,
            proc: None,
        };
        for attempt in 1.. {
            match pg.try_start() {
                Ok(()) => break,
                Err(e) if attempt < 5 && pg.proc.as_ref().is_some_and(Proc::address_in_use) => {
                    eprintln!("postgres: port {} was taken; another: {e}", pg.port);
                    pg.proc = None;
                    pg.port = free_port();
                }
                Err(e) => panic!("{e}"),
            }
        }
        pg
    }

    fn try_start(&mut self) -> Result<(), String> {
        let log = self.dir.path().join("postgres.log");
        let _ = std::fs::remove_file(&log);
        let (uid, gid) = postgres_ids();
        let mut command = Command::new(format!("{PG_BIN}/postgres"));
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=on"])
            .uid(uid)
            .gid(gid);
        let mut proc = Proc::spawn("postgres", command, &log);
        let port = self.port;
        let ready = proc.wait_ready("postgres answers a query", || {
            accepts(port) && Postgres::psql(port, "SELECT 1").is_ok()
        });
        self.proc = Some(proc);
        ready
    }

    /// Starts the server (again, on its port) and waits until it answers.
    pub fn pg_start(&mut self) {
        if let Err(e) = self.try_start() {
            panic!("{e}");
        }
    }

    /// Stops the server at once, as a crash would (no shutdown checkpoint):
    /// SIGQUIT, Postgres's immediate shutdown, by PID.
    pub fn stop_immediately(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.signal("QUIT");
            proc.wait_exit();
        }
    }

    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=5",
            self.port
        )
    }

    fn psql(port: u16, sql: &str) -> Result<String, String> {
        let out = Command::new(format!("{PG_BIN}/psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "-At",
                "-c",
                sql,
            ])
            .output()
            .map_err(|e| format!("psql runs: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "psql {sql}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Runs `sql` with psql and returns its unaligned output.
    pub fn query(&self, sql: &str) -> String {
        Postgres::psql(self.port, sql).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            // Immediate shutdown takes the backends with it; Proc's drop
            // then SIGKILLs whatever is left. (No assertion here: a drop
            // may run while a failed test unwinds.)
            let pid = proc.child.as_ref().map(Child::id);
            if let Some(pid) = pid
                .and_then(|p| libc::pid_t::try_from(p).ok())
                .filter(|&p| p > 0)
            {
                // SAFETY: a plain kill(2) of our own child's PID.
                unsafe { libc::kill(pid, libc::SIGQUIT) };
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while proc
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_none())
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
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
        let users = "<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
";
        std::fs::write(dir.path().join("users.xml"), users).expect("written");
        let mut clickhouse = ClickHouse {
            port: 0,
            dir,
            proc: None,
        };
        for attempt in 1.. {
            clickhouse.port = free_port();
            clickhouse.write_config(free_port());
            match clickhouse.try_run() {
                Ok(()) => break,
                Err(e) if attempt < 5 && clickhouse.address_in_use() => {
                    eprintln!("clickhouse: a port was taken; others: {e}");
                }
                Err(e) => panic!("{e}"),
            }
        }
        clickhouse
    }

    fn write_config(&self, tcp_port: u16) {
        let d = self.dir.path().display();
        let port = self.port;
        let config = format!(
            "<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
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
"
        );
        std::fs::write(self.dir.path().join("config.xml"), config).expect("written");
    }

    fn address_in_use(&self) -> bool {
        ["error.log", "stderr.log"].iter().any(|log| {
            std::fs::read_to_string(self.dir.path().join(log))
                .is_ok_and(|text| text.contains("Address already in use"))
        })
    }

    fn try_run(&mut self) -> Result<(), String> {
        let config = self.dir.path().join("config.xml");
        let mut command = Command::new(require("clickhouse-server", "clickhouse-server"));
        command.arg(format!("--config-file={}", config.display()));
        let mut proc = Proc::spawn("clickhouse", command, &self.dir.path().join("stderr.log"));
        let port = self.port;
        let ready = proc.wait_ready("clickhouse answers /ping", || {
            http(port, "GET", "/ping", "").is_some_and(|(s, b)| s == 200 && b.starts_with("Ok."))
        });
        self.proc = Some(proc);
        ready
    }

    /// Starts the server (again, on its ports) and waits for `/ping`.
    pub fn run(&mut self) {
        if let Err(e) = self.try_run() {
            panic!("{e}");
        }
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
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, addr)| format!("  server ingest{} {addr} check\n", i + 1))
            .collect();
        for attempt in 1.. {
            let port = free_port();
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
            let log = dir.path().join("haproxy.log");
            let _ = std::fs::remove_file(&log);
            let mut command = Command::new(&binary);
            command.arg("-db").arg("-f").arg(&path);
            let mut proc = Proc::spawn("haproxy", command, &log);
            match proc.wait_ready("haproxy answers /healthz through a backend", || {
                http(port, "GET", "/healthz", "").is_some_and(|(s, _)| s == 200)
            }) {
                Ok(()) => {
                    return HaProxy {
                        port,
                        _dir: dir,
                        _proc: proc,
                    }
                }
                Err(e) if attempt < 5 && proc.address_in_use() => {
                    eprintln!("haproxy: port {port} was taken; another: {e}");
                }
                Err(e) => panic!("{e}"),
            }
        }
        unreachable!("the loop returns or panics")
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
        let mut proc = Proc::spawn(role, command, log);
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

    /// A metric's value from its `/metrics`; panics when the process does
    /// not answer or has no such metric (a misspelt name must not read 0).
    pub fn metric(&self, name: &str) -> f64 {
        let (status, text) = http(self.addr.port(), "GET", "/metrics", "").unwrap_or_else(|| {
            panic!(
                "{} at {} does not answer /metrics",
                self.proc.name, self.addr
            )
        });
        assert_eq!(status, 200, "{} /metrics: {text}", self.proc.name);
        text.lines()
            .find_map(|line| {
                let (key, value) = line.rsplit_once(' ')?;
                (key == name).then(|| value.parse().ok()).flatten()
            })
            .unwrap_or_else(|| panic!("{} has no metric {name}", self.proc.name))
    }
}
