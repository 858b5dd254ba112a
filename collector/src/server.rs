//! The server: the listener, the connection limit, hyper's HTTP/1.1
//! connections with their header read timeout (which also ends idle
//! keep-alive connections), the commit writer's thread, and the graceful
//! shutdown: stop accepting, let requests in flight finish (their events
//! committed and answered) within `shutdown_timeout`, drain the commit
//! queue, stop the writer. `main` and the tests start it the same way.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::commit::Committer;
use crate::config::Config;
use crate::http::{handle, App};
use crate::limits::{Budget, Drain};
use crate::metrics::Metrics;
use crate::store::Store;

/// A running collector.
pub struct Server {
    addr: SocketAddr,
    app: Arc<App>,
    stop: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Server {
    /// Binds `config.listen` and starts serving into `store`.
    pub async fn start<S: Store>(config: Config, store: S) -> std::io::Result<Server> {
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let budget = Budget::new(config.max_bytes_in_flight);
        let drain = Arc::new(Drain::default());
        let metrics = Arc::new(Metrics::new(budget.clone()));
        let receipts = store.receipts();
        let (committer, writer) = Committer::start(
            store,
            config.max_group_events,
            metrics.clone(),
            drain.clone(),
        )?;
        let app = Arc::new(App::new(
            config, committer, receipts, budget, drain, metrics,
        ));
        let (stop, stopped) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(listener, app.clone(), stopped));
        Ok(Server {
            addr,
            app,
            stop,
            accept,
            writer,
        })
    }

    /// The address it listens on (the port, when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How long a shutdown lets requests in flight finish.
    pub fn shutdown_timeout(&self) -> std::time::Duration {
        self.app.config.shutdown_timeout
    }

    pub fn metrics(&self) -> &Metrics {
        &self.app.metrics
    }

    /// Stops accepting and starts the graceful shutdown; `wait` for its end.
    pub fn shutdown(&self) {
        self.app.shutting_down.store(true, Ordering::Release);
        let _ = self.stop.send(true);
    }

    /// Waits until the server has stopped: every connection closed, every
    /// queued event committed, the writer gone.
    pub async fn wait(self) {
        let Server {
            app,
            accept,
            writer,
            ..
        } = self;
        if let Err(e) = accept.await {
            tracing::error!(error = %e, "the accept loop ended abnormally");
        }
        // The last handle on the commit queue: dropping it lets the writer end.
        drop(app);
        if tokio::task::spawn_blocking(move || writer.join())
            .await
            .is_err()
        {
            tracing::error!("the commit writer panicked");
        }
    }
}

async fn accept_loop(listener: TcpListener, app: Arc<App>, mut stopped: watch::Receiver<bool>) {
    let limit = Arc::new(Semaphore::new(app.config.max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(app.config.header_read_timeout)
        .keep_alive(true);
    loop {
        while connections.try_join_next().is_some() {}
        // Past the limit, connections wait in the kernel's backlog.
        let permit = tokio::select! {
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stopped.changed() => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait, rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let service_app = app.clone();
        let service = service_fn(move |req| {
            let app = service_app.clone();
            async move { Ok::<_, Infallible>(handle(app, req).await) }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        let metrics = app.metrics.clone();
        metrics.connections.fetch_add(1, Ordering::Relaxed);
        connections.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            metrics.connections.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    let timeout = app.config.shutdown_timeout;
    tracing::info!(
        connections = app.metrics.connections.load(Ordering::Relaxed),
        "stopped accepting; finishing the requests in flight"
    );
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(timeout) => {
            tracing::warn!(
                timeout_ms = timeout.as_millis() as u64,
                "requests still in flight at the shutdown timeout are cut off"
            );
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}
