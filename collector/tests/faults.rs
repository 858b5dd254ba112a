//! Faults: a store that fails, fails after writing, or stalls (through the
//! fault-injecting store), and the real binary killed with SIGKILL under
//! load or stopped with SIGTERM. The invariant each checks: nothing is
//! answered 2xx that is not stored, and what clients re-send is stored once.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use analytics_collector::client::Connection;
use analytics_collector::store::fault::{Fault, FaultStore};
use analytics_collector::store::memory::MemoryStore;
use common::*;
use serde_json::Value;

fn retry_after(answer: &analytics_collector::client::Response) -> u64 {
    answer
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds")
}

#[tokio::test]
async fn a_failing_store_is_answered_503_with_retry_after_and_stores_nothing() {
    let memory = MemoryStore::new();
    let (store, control) = FaultStore::new(memory.clone());
    let server = start_on(|_| {}, store).await;
    let addr = server.addr();
    control.set(Fault::Fail);
    let answer = post_batch(addr, &batch(&[track("a")])).await;
    assert_eq!(answer.status, 503);
    assert_eq!(
        answer.json()["error"],
        "the store failed: injected failure: nothing written"
    );
    assert!(retry_after(&answer) >= 1);
    // The circuit is open: refused without reaching the store.
    let writes = control.writes();
    let answer = post_batch(addr, &batch(&[track("b")])).await;
    assert_eq!(answer.status, 503);
    assert!(retry_after(&answer) >= 1);
    assert_eq!(control.writes(), writes);
    assert_eq!(get(addr, "/readyz").await.status, 503);
    assert!(memory.events().is_empty());
    // Once the store works again, the circuit closes on the first commit.
    control.set(Fault::None);
    eventually("a request is stored again", || async {
        post_batch(addr, &batch(&[track("a")])).await.status == 200
    })
    .await;
    assert_eq!(stored_ids(&memory), ["a"]);
    assert_eq!(get(addr, "/readyz").await.status, 200);
}

#[tokio::test]
async fn a_store_failing_after_its_write_is_answered_503_and_the_resend_is_stored_once() {
    let memory = MemoryStore::new();
    let (store, control) = FaultStore::new(memory.clone());
    let server = start_on(|_| {}, store).await;
    control.set(Fault::FailAfterWrite);
    let body = batch(&[track("a"), track("b")]);
    assert_eq!(post_batch(server.addr(), &body).await.status, 503);
    control.set(Fault::None);
    // The SDK sends the same batch again, under the same messageIds.
    eventually("the re-sent batch is accepted", || async {
        post_batch(server.addr(), &body).await.status == 200
    })
    .await;
    assert_eq!(stored_ids(&memory), ["a", "b"]);
    assert_eq!(memory.duplicates(), 2);
}

#[tokio::test]
async fn a_stalled_store_is_answered_503_with_retry_after_at_the_commit_timeout() {
    let memory = MemoryStore::new();
    let (store, control) = FaultStore::new(memory.clone());
    let server = start_on(|c| c.commit_timeout = Duration::from_millis(300), store).await;
    control.set(Fault::Stall);
    let started = std::time::Instant::now();
    let answer = post_batch(server.addr(), &batch(&[track("a")])).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(answer.status, 503);
    assert_eq!(
        answer.json()["error"],
        "the store did not commit within 300 ms"
    );
    assert!(retry_after(&answer) >= 1);
    assert_eq!(control.stalled(), 1);
    assert!(memory.events().is_empty());
    // /readyz says so once the commit has run longer than the timeout
    // (measured from the commit's start, a little after the request's).
    eventually("/readyz reports the stalled commit", || async {
        get(server.addr(), "/readyz").await.status == 503
    })
    .await;
    assert_eq!(control.stalled(), 1, "still stalled");
    control.set(Fault::None);
    eventually("the stalled commit completes", || async {
        memory.events().len() == 1
    })
    .await;
    assert_eq!(
        post_batch(server.addr(), &batch(&[track("b")]))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn concurrent_requests_share_one_group_commit() {
    let memory = MemoryStore::new();
    let (store, control) = FaultStore::new(memory.clone());
    let server = start_on(|_| {}, store).await;
    let addr = server.addr();
    control.set(Fault::Stall);
    let send = |i: usize| {
        tokio::spawn(async move {
            post_batch(addr, &batch(&[track(&format!("m{i}"))]))
                .await
                .status
        })
    };
    // One request is in the stalled commit; the other 19 queue behind it.
    let mut requests = vec![send(0)];
    eventually("the first commit stalled", || async {
        control.stalled() == 1
    })
    .await;
    requests.extend((1..20).map(send));
    eventually("19 requests queued", || async {
        server.metrics().queued.load(Ordering::Relaxed) == 19
    })
    .await;
    control.set(Fault::None);
    for request in requests {
        assert_eq!(request.await.expect("the task ends"), 200);
    }
    assert_eq!(
        server.metrics().commits.load(Ordering::Relaxed),
        2,
        "the 19 in one group"
    );
    assert_eq!(memory.events().len(), 20);
}

#[tokio::test]
async fn nothing_answered_2xx_is_missing_while_the_store_fails_at_random() {
    let memory = MemoryStore::new();
    let (store, control) = FaultStore::new(memory.clone());
    let server = start_on(|c| c.commit_timeout = Duration::from_millis(150), store).await;
    let addr = server.addr();
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    // Each client sends batches of new events until both outcomes have been
    // seen (so the test cannot pass vacuously) and it has sent 25.
    let both_seen = |statuses: &Mutex<Vec<u16>>| {
        let statuses = statuses.lock().expect("lock");
        statuses.contains(&200) && statuses.contains(&503)
    };
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let (acked, statuses) = (acked.clone(), statuses.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    if n >= 25 && both_seen(&statuses) {
                        break;
                    }
                    let ids: Vec<String> = (0..10).map(|i| format!("c{client}-{n}-{i}")).collect();
                    let messages: Vec<Value> = ids.iter().map(|id| track(id)).collect();
                    let answer = post_batch(addr, &batch(&messages)).await;
                    statuses.lock().expect("lock").push(answer.status);
                    if answer.status == 200 {
                        acked.lock().expect("lock").extend(ids);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    // Mostly working, with a failure, a failure after the write, a stall.
    let faults = [
        Fault::None,
        Fault::None,
        Fault::Fail,
        Fault::None,
        Fault::None,
        Fault::FailAfterWrite,
        Fault::None,
        Fault::None,
        Fault::Stall,
    ];
    let mut i = 0;
    let deadline = std::time::Instant::now() + PATIENCE;
    while clients.iter().any(|c| !c.is_finished()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the clients did not finish"
        );
        control.set(faults[i % faults.len()]);
        i += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    control.set(Fault::None);
    for client in clients {
        client.await.expect("the client ends");
    }
    let stored: HashSet<String> = stored_ids(&memory).into_iter().collect();
    let acked = acked.lock().expect("lock").clone();
    let missing: Vec<_> = acked.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "answered 2xx but not stored: {missing:?}"
    );
    let statuses = statuses.lock().expect("lock").clone();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
}

/// Sends batches of 20 new events on one connection until it fails or
/// `stop` is set, recording acked and unanswered batches.
async fn client_until_failure(
    addr: SocketAddr,
    client: usize,
    acked: Arc<Mutex<Vec<Vec<String>>>>,
    unanswered: Arc<Mutex<Vec<Vec<String>>>>,
) {
    let Ok(mut connection) = Connection::open(addr).await else {
        return;
    };
    for n in 0.. {
        let ids: Vec<String> = (0..20).map(|i| format!("c{client}-{n}-{i}")).collect();
        let messages: Vec<Value> = ids.iter().map(|id| track(id)).collect();
        match connection
            .send("POST", "/v1/batch", &[], &batch(&messages))
            .await
        {
            Ok(answer) if answer.status == 200 => acked.lock().expect("lock").push(ids),
            Ok(answer) => {
                unanswered.lock().expect("lock").push(ids);
                assert!(answer.status >= 500, "unexpected answer {}", answer.status);
            }
            Err(_) => {
                unanswered.lock().expect("lock").push(ids);
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkill_under_load_every_event_answered_2xx_is_stored_and_resends_leave_no_duplicate(
) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("events.db");
    let log = dir.path().join("collector.log");
    let collector = Binary::start(&db, &log);
    let addr = collector.addr;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let unanswered = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..8)
        .map(|client| {
            tokio::spawn(client_until_failure(
                addr,
                client,
                acked.clone(),
                unanswered.clone(),
            ))
        })
        .collect();
    eventually("200 batches acked under load", || async {
        acked.lock().expect("lock").len() >= 200
    })
    .await;
    collector.kill();
    for client in clients {
        client.await.expect("the client ends");
    }
    let acked = acked.lock().expect("lock").clone();
    let unanswered = unanswered.lock().expect("lock").clone();
    assert!(!unanswered.is_empty(), "the kill cut requests off");

    let (stored, distinct) = sqlite_ids(&db);
    let stored: HashSet<String> = stored.into_iter().collect();
    let missing: Vec<&String> = acked
        .iter()
        .flatten()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} events answered 2xx are missing, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    assert_eq!(distinct, stored.len());

    // Restarted, the clients send again what was not answered 2xx, and (as a
    // page reload without receipts would) some of what was.
    let collector = Binary::start(&db, &log);
    let mut connection = Connection::open(collector.addr).await.expect("connects");
    for ids in unanswered.iter().chain(acked.iter().take(20)) {
        let messages: Vec<Value> = ids.iter().map(|id| track(id)).collect();
        let answer = connection
            .send("POST", "/v1/batch", &[], &batch(&messages))
            .await
            .expect("answered");
        assert_eq!(answer.status, 200);
    }
    let (stored, distinct) = sqlite_ids(&db);
    let sent: HashSet<&String> = acked.iter().chain(unanswered.iter()).flatten().collect();
    assert_eq!(stored.len(), sent.len(), "every event sent is stored once");
    assert_eq!(distinct, stored.len(), "no duplicate rows");
    assert!(collector.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_requests_in_flight_commits_them_and_exits_0() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("events.db");
    let collector = Binary::start(&db, &dir.path().join("collector.log"));
    let addr = collector.addr;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let unanswered = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..8)
        .map(|client| {
            tokio::spawn(client_until_failure(
                addr,
                client,
                acked.clone(),
                unanswered.clone(),
            ))
        })
        .collect();
    eventually("50 batches acked", || async {
        acked.lock().expect("lock").len() >= 50
    })
    .await;
    let status = tokio::task::spawn_blocking(move || collector.terminate())
        .await
        .expect("joined");
    assert!(status.success(), "exit status {status}");
    for client in clients {
        client
            .await
            .expect("the client ends (its answers were 200 or none)");
    }
    let (stored, _) = sqlite_ids(&db);
    let stored: HashSet<String> = stored.into_iter().collect();
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.iter().flatten().all(|id| stored.contains(id)),
        "every event answered 2xx is stored"
    );
}
