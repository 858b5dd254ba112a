//! The runtime that drives the core in the browser: it feeds the core the
//! clock, random bytes, send outcomes and page events, and carries out the
//! core's actions with storage, transport and the wake-up timer.
//!
//! Re-entrancy rule: the `RefCell` is never borrowed while the browser is
//! called for storage or a beacon, or while JavaScript that may call back
//! into us runs (error listeners, flush promise resolution). Such work is
//! collected during a borrow and done after it ends. A browser may run
//! other page work inside such a call (Firefox runs `visibilitychange`,
//! timers and promise callbacks inside `localStorage` calls made while a
//! tab closes); input that still finds the runtime borrowed is taken up in
//! a task of its own.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};

use super::announce::Announcer;
use super::clock::{self, wall_ms};
use super::config::Settings;
use super::lifecycle::{self, Lifecycle, PageEvent};
use super::random::RandomPool;
use super::storage::{describe, did_not_answer, Partitions, Storage, Write, STORAGE_ANSWER_MS};
use super::tabs::{self, HeldLock, Ownership};
use super::timer::{sleep, within, WakeTimer};
use super::transport::{self, Delivery};
use crate::core::json::{push_string, push_u64};
use crate::core::{
    Action, BatchId, ClientEventQueue, Config, EventInput, EventKind, MessageId, Notice,
    SendOutcome, SendRequest, Transport,
};

pub type Shared = Rc<RefCell<Runtime>>;

/// Most events one deferred storage task writes (about 20 ms of work).
const STORAGE_EVENTS_PER_TASK: usize = 500;

/// How long a fetch's network error waits for a `pagehide` that would make
/// it the browser's abort of an unloading page rather than a failure.
const UNLOAD_ABORT_GRACE_MS: u32 = 250;

/// A network error seen this long before `pagehide` is a real failure, not
/// the unload's abort (which comes a few milliseconds before it, or after).
/// A background tab's timers may fire late, so the grace alone cannot tell.
const UNLOAD_ABORT_WINDOW_MS: u64 = 100;

/// The IndexedDB database name and localStorage key prefix.
const STORAGE_NAMESPACE: &str = "analytics-wasm";

/// A `flush()` promise waiting for what was pending to settle.
struct FlushWaiter {
    resolve: Function,
    sent: u64,
    failed: u64,
}

/// A storage operation waiting for the end of the current task.
enum StorageOp {
    Write(Vec<crate::core::StoredEvent>),
    Delete(Vec<String>),
}

/// Work that runs JavaScript or starts I/O, done outside the borrow.
enum Work {
    /// Apply the queued storage operations in a task of their own, or
    /// (`soon`) in a microtask.
    ScheduleStorage {
        soon: bool,
    },
    Emit(&'static str, String),
    Fetch {
        batch_id: BatchId,
        body: String,
        keepalive: bool,
    },
    /// Send by `sendBeacon`, settled as soon as the browser answers.
    Beacon(SendRequest),
    AwaitWrite(Promise),
    Resolve(Function, JsValue),
}

pub struct Runtime {
    queue: ClientEventQueue,
    settings_storage: super::storage::StoragePreference,
    compress: bool,
    storage: Option<Rc<Storage>>,
    timer: WakeTimer,
    random: RandomPool,
    /// The page's `context` object as JSON, and the ids of later events,
    /// set by the JS entry when they change.
    context_json: String,
    anonymous_id: String,
    user_id: Option<String>,
    /// Log each decision through `emit("debug", …)`.
    debug: bool,
    /// Expired drops already logged (they happen in restore and batching).
    expired_logged: u64,
    emit: Function,
    flushes: Vec<FlushWaiter>,
    batch_events: Vec<(BatchId, usize)>,
    /// Fetches whose network error is held back, and when it was seen.
    held_network_errors: Vec<(BatchId, u64)>,
    lifecycle: Option<Lifecycle>,
    page_hidden: bool,
    /// Persist/Forget work of this task, applied together in the next task
    /// so a burst of `track()` calls costs one transaction, not one per call.
    storage_ops: VecDeque<StorageOp>,
    storage_scheduled: bool,
    /// A storage call is in progress (see `apply_storage`).
    storage_applying: bool,
    last_write: Option<Promise>,
    /// Storage writes that failed so far (adoption checks its copy landed).
    storage_failures: u64,
    /// This page load's storage partition, and how tabs agree who owns what.
    partition: String,
    ownership: Ownership,
    own_lock: Option<HeldLock>,
    lease_renewal: Option<gloo_timers::callback::Interval>,
    adopting: bool,
    /// Partitions of live tabs whose lock this tab waits for.
    watching: Vec<String>,
    /// Tells other tabs of this one's partition, and hears of theirs.
    announcer: Option<Announcer>,
    /// Without Web Locks: adoption passes repeat while other tabs live.
    lease_rescanning: bool,
    adopted_partitions: u64,
    adopted_events: u64,
    closed: bool,
}

/// The monotonic clock every timer and age is measured on (see `clock`).
pub fn now_ms() -> u64 {
    clock::monotonic_ms()
}

fn kind_from_code(code: u8) -> EventKind {
    match code {
        1 => EventKind::Identify,
        2 => EventKind::Page,
        3 => EventKind::Group,
        4 => EventKind::Alias,
        _ => EventKind::Track,
    }
}

fn notice_text(notice: &Notice) -> (&'static str, String) {
    let mut message = String::new();
    match notice {
        Notice::AuthFailed { status } => {
            message.push_str("the collector answered ");
            push_u64(&mut message, u64::from(*status));
            message.push_str(": sending is paused until flush() or a new config; events are kept");
            ("auth", message)
        }
        Notice::BatchRejected { status, events } => {
            message.push_str("the collector answered ");
            push_u64(&mut message, u64::from(*status));
            message.push_str(": dropped a batch of ");
            push_u64(&mut message, *events as u64);
            message.push_str(" event(s)");
            ("delivery", message)
        }
        Notice::EventsRejected { rejected } => {
            message.push_str("the collector rejected ");
            push_u64(&mut message, rejected.len() as u64);
            message.push_str(" event(s)");
            for rejection in rejected.iter().take(5) {
                message.push_str("; ");
                rejection.id.push_to(&mut message);
                message.push_str(": ");
                message.push_str(&rejection.reason);
            }
            ("delivery", message)
        }
        Notice::CircuitOpened { failures, until } => {
            message.push_str("the collector failed ");
            push_u64(&mut message, u64::from(*failures));
            message.push_str(" sends in a row: sending paused for ");
            push_u64(&mut message, until.saturating_sub(now_ms()) / 1000);
            message.push_str(" s; events are kept");
            ("delivery", message)
        }
        Notice::EventRefused { id, status } => {
            message.push_str("event ");
            id.push_to(&mut message);
            message.push_str(" dropped: the collector answered ");
            push_u64(&mut message, u64::from(*status));
            message.push_str(" for it alone");
            ("delivery", message)
        }
        Notice::EventTooLarge { id } => {
            message.push_str("event ");
            id.push_to(&mut message);
            message.push_str(" dropped: the collector answered 413 for it alone");
            ("delivery", message)
        }
    }
}

impl Runtime {
    pub fn new(settings: Settings, emit: Function) -> Result<Shared, crate::core::ConfigError> {
        let seed = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
        let random = RandomPool::new();
        let mut context_json =
            String::from("{\"library\":{\"name\":\"analytics-wasm\",\"version\":");
        push_string(&mut context_json, env!("CARGO_PKG_VERSION"));
        context_json.push_str("}}");
        Ok(Rc::new(RefCell::new(Runtime {
            queue: ClientEventQueue::new(settings.core, seed)?,
            settings_storage: settings.storage,
            compress: settings.compress,
            storage: None,
            timer: WakeTimer::default(),
            random,
            context_json,
            anonymous_id: String::new(),
            user_id: None,
            debug: settings.debug,
            expired_logged: 0,
            emit,
            flushes: Vec::new(),
            batch_events: Vec::new(),
            held_network_errors: Vec::new(),
            lifecycle: None,
            page_hidden: false,
            storage_ops: VecDeque::new(),
            storage_scheduled: false,
            storage_applying: false,
            last_write: None,
            storage_failures: 0,
            partition: String::new(),
            ownership: tabs::ownership(),
            own_lock: None,
            lease_renewal: None,
            adopting: false,
            watching: Vec::new(),
            announcer: None,
            lease_rescanning: false,
            adopted_partitions: 0,
            adopted_events: 0,
            closed: false,
        })))
    }

    pub fn config(&self) -> &Config {
        self.queue.config()
    }

    /// The monotonic time now, having told the core what the wall clock
    /// reads at it: each input reads both clocks once.
    pub fn now(&mut self) -> u64 {
        let now = now_ms();
        self.queue.set_wall_clock(wall_ms(), now);
        now
    }

    /// Queues a storage operation, merged into the last one when it is of
    /// the same kind, to be applied once the caller's task is done: in a
    /// task of its own, or for a hidden page in a microtask (its timers are
    /// throttled, and it may be torn down before one fires). A page event
    /// applies what is queued at once (`on_page_event`).
    fn queue_storage(&mut self, op: StorageOp, work: &mut Vec<Work>) {
        match (self.storage_ops.back_mut(), op) {
            (Some(StorageOp::Write(into)), StorageOp::Write(more)) => into.extend(more),
            (Some(StorageOp::Delete(into)), StorageOp::Delete(more)) => into.extend(more),
            (_, op) => self.storage_ops.push_back(op),
        }
        if !self.storage_scheduled {
            self.storage_scheduled = true;
            work.push(Work::ScheduleStorage {
                soon: self.page_hidden,
            });
        }
    }

    /// The next queued operation, with at most `left` events of a write.
    fn next_storage_op(&mut self, left: usize) -> Option<StorageOp> {
        match self.storage_ops.pop_front()? {
            StorageOp::Write(mut events) if events.len() > left => {
                let rest = events.split_off(left);
                self.storage_ops.push_front(StorageOp::Write(rest));
                Some(StorageOp::Write(events))
            }
            op => Some(op),
        }
    }

    fn queue_storage_write(&mut self, write: Write, work: &mut Vec<Work>) {
        match write {
            Write::Done => {}
            Write::Pending(promise) => {
                self.last_write = Some(promise.clone());
                work.push(Work::AwaitWrite(promise));
            }
            Write::Failed(message) => {
                self.storage_failures += 1;
                work.push(Work::Emit("storage", storage_error(&message)));
            }
        }
    }
}

fn storage_error(message: &str) -> String {
    [
        "storage write failed (events stay queued in memory): ",
        message,
    ]
    .concat()
}

/// Applies queued storage operations in order, writing at most `budget`
/// events now; the rest waits for another task, so a large burst never
/// becomes one long task. Storage is called with the runtime not borrowed
/// (see `Storage`); an apply begun inside another's storage call leaves
/// the queue to that one, which takes what was added.
fn apply_storage(shared: &Shared, budget: usize) {
    let mut left = budget;
    loop {
        let (storage, op, hiding) = {
            let mut runtime = shared.borrow_mut();
            if runtime.storage_applying {
                return;
            }
            let Some(storage) = runtime.storage.clone() else {
                return;
            };
            if left == 0 {
                let more = !runtime.storage_ops.is_empty() && !runtime.storage_scheduled;
                runtime.storage_scheduled |= more;
                drop(runtime);
                if more {
                    run(shared, vec![Work::ScheduleStorage { soon: false }]);
                }
                return;
            }
            let Some(op) = runtime.next_storage_op(left) else {
                return;
            };
            runtime.storage_applying = true;
            (storage, op, runtime.page_hidden)
        };
        let write = match &op {
            StorageOp::Write(events) => {
                left -= events.len();
                storage.write(events, hiding)
            }
            StorageOp::Delete(ids) => storage.delete(ids),
        };
        let mut work = Vec::new();
        {
            let mut runtime = shared.borrow_mut();
            runtime.storage_applying = false;
            runtime.queue_storage_write(write, &mut work);
        }
        run(shared, work);
    }
}

/// Takes a partition for this page, opens storage, attaches page
/// listeners, and adopts what tabs that are gone left behind.
pub async fn start(shared: Shared) {
    let (preference, partition, ownership) = {
        let mut runtime = shared.borrow_mut();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let random = runtime.random.next_16();
        runtime.partition = random[..8]
            .iter()
            .flat_map(|byte| {
                [
                    HEX[usize::from(byte >> 4)] as char,
                    HEX[usize::from(byte & 0xf)] as char,
                ]
            })
            .collect();
        (
            runtime.settings_storage,
            runtime.partition.clone(),
            runtime.ownership,
        )
    };
    // Own the partition before writing anything to it. The lock is
    // requested first and storage opened while the browser grants it: the
    // partition is new, so no other tab reads it before it holds data.
    let lock_request = match ownership {
        Ownership::WebLocks => {
            tabs::request(&tabs::lock_name(STORAGE_NAMESPACE, &partition), false)
        }
        Ownership::Lease => None,
    };
    let (storage, problems) = Storage::open(preference, STORAGE_NAMESPACE, &partition).await;
    let own_lock = match lock_request {
        Some(request) => request.granted().await,
        None => None,
    };
    let mut work = Vec::new();
    {
        let mut runtime = shared.borrow_mut();
        let now = runtime.now();
        for mut message in problems {
            message.push_str("; using ");
            message.push_str(storage.kind());
            work.push(Work::Emit("storage", message));
        }
        // Nowhere to store events: the core need not copy them out.
        runtime.queue.set_persistence(storage.kind() != "memory");
        runtime.storage = Some(Rc::new(storage));
        runtime.own_lock = own_lock;
        if ownership == Ownership::Lease {
            if let Some(lease) = tabs::Lease::open(STORAGE_NAMESPACE) {
                // Other tabs read the lease: wall-clock time.
                lease.renew(&partition, wall_ms());
                runtime.lease_renewal = Some(gloo_timers::callback::Interval::new(
                    tabs::LEASE_RENEW_MS as u32,
                    move || {
                        lease.renew(&partition, wall_ms());
                    },
                ));
            }
        }
        runtime.queue.set_online(lifecycle::is_online(), now);
        if lifecycle::is_hidden() {
            runtime.page_hidden = true;
            runtime.queue.on_page_hidden(now);
        }
        let weak = Rc::downgrade(&shared);
        runtime.lifecycle = Lifecycle::attach(move |event| {
            if let Some(shared) = weak.upgrade() {
                on_page_event(&shared, event);
            }
        });
        // Tabs that open later say hello; those open now answer it.
        let weak = Rc::downgrade(&shared);
        runtime.announcer = Announcer::open(STORAGE_NAMESPACE, move |announcement| {
            if let Some(shared) = weak.upgrade() {
                super::adoption::on_announcement(&shared, announcement);
            }
        });
        if let Some(announcer) = &runtime.announcer {
            announcer.hello(&runtime.partition);
        }
    }
    run(&shared, work);
    pump(&shared);
    // `ready` waits for the first adoption pass only so long: storage that
    // does not answer (another page may hold it, as one frozen in WebKit's
    // back/forward cache did) must not hold up this page, whose events leave
    // from memory meanwhile. The pass goes on and adopts when storage answers.
    let adoption = {
        let shared = shared.clone();
        future_to_promise(async move {
            super::adoption::adopt_orphans(&shared).await;
            Ok(JsValue::UNDEFINED)
        })
    };
    if within(STORAGE_ANSWER_MS, JsFuture::from(adoption))
        .await
        .is_none()
    {
        let mut message = did_not_answer("storage");
        message.push_str(
            ": events are sent from memory meanwhile; those left by earlier pages are restored when it answers",
        );
        report(&shared, "storage", message);
    }
}

/// What an adoption pass needs, unless one is running or storage is closed.
pub fn adoption_context(shared: &Shared) -> Option<(Partitions, Ownership, String, String)> {
    let mut runtime = shared.borrow_mut();
    if runtime.adopting || runtime.closed {
        return None;
    }
    let partitions = runtime.storage.as_ref()?.partitions();
    runtime.adopting = true;
    Some((
        partitions,
        runtime.ownership,
        STORAGE_NAMESPACE.to_string(),
        runtime.partition.clone(),
    ))
}

/// What watching another tab's partition needs, unless closed (or busy:
/// a message that arrives inside a call of ours is let go).
pub fn watch_context(shared: &Shared) -> Option<(Partitions, Ownership, String, String)> {
    let runtime = shared.try_borrow().ok()?;
    if runtime.closed {
        return None;
    }
    Some((
        runtime.storage.as_ref()?.partitions(),
        runtime.ownership,
        STORAGE_NAMESPACE.to_string(),
        runtime.partition.clone(),
    ))
}

/// Answers another tab's hello with this tab's partition.
pub fn answer_hello(shared: &Shared) {
    if let Ok(runtime) = shared.try_borrow() {
        if let (Some(announcer), false) = (&runtime.announcer, runtime.closed) {
            announcer.here(&runtime.partition);
        }
    }
}

/// Marks lease rescans as running; false if they already are.
pub fn start_rescanning(shared: &Shared) -> bool {
    let mut runtime = shared.borrow_mut();
    !std::mem::replace(&mut runtime.lease_rescanning, true)
}

pub fn stop_rescanning(shared: &Shared) {
    shared.borrow_mut().lease_rescanning = false;
}

pub fn adoption_finished(shared: &Shared) {
    shared.borrow_mut().adopting = false;
}

/// Records that this tab waits for `partition`'s lock; false if it already does.
pub fn start_watching(shared: &Shared, partition: &str) -> bool {
    let mut runtime = shared.borrow_mut();
    if runtime.watching.iter().any(|p| p == partition) {
        return false;
    }
    runtime.watching.push(partition.to_string());
    true
}

pub fn stop_watching(shared: &Shared, partition: &str) {
    shared.borrow_mut().watching.retain(|p| p != partition);
}

pub fn is_closed(shared: &Shared) -> bool {
    shared.borrow().closed
}

/// Reports an error to the application.
pub fn report(shared: &Shared, kind: &'static str, message: String) {
    run(shared, vec![Work::Emit(kind, message)]);
}

/// Drains the core and applies storage work now rather than in a
/// deferred task; returns the last write, to await its commit.
pub fn persist_at_once(shared: &Shared) -> Option<Promise> {
    pump(shared);
    apply_storage(shared, usize::MAX);
    shared.borrow().last_write.clone()
}

impl Runtime {
    pub fn queue_mut(&mut self) -> &mut ClientEventQueue {
        &mut self.queue
    }

    pub fn storage_failures(&self) -> u64 {
        self.storage_failures
    }

    pub fn note_adopted(&mut self, events: usize) {
        self.adopted_partitions += 1;
        self.adopted_events += events as u64;
    }
}

fn on_page_event(shared: &Shared, event: PageEvent) {
    {
        // A browser may dispatch a page event inside a call this runtime
        // makes (Firefox, closing a tab, fires `visibilitychange` within
        // the storage writes of our `pagehide`). Take it up in a microtask,
        // once the call in progress has returned.
        let Ok(mut runtime) = shared.try_borrow_mut() else {
            let shared = shared.clone();
            gloo_timers::callback::Timeout::new(0, move || on_page_event(&shared, event)).forget();
            return;
        };
        let now = runtime.now();
        runtime.page_hidden = match event {
            PageEvent::Hidden | PageEvent::Unload => true,
            PageEvent::Visible => false,
            _ => runtime.page_hidden,
        };
        match event {
            PageEvent::Hidden => runtime.queue.on_page_hidden(now),
            PageEvent::Unload => {
                // Held errors seen well before this are failures, not aborts.
                let (failed, fresh) = std::mem::take(&mut runtime.held_network_errors)
                    .into_iter()
                    .partition(|(_, at)| now.saturating_sub(*at) > UNLOAD_ABORT_WINDOW_MS);
                runtime.held_network_errors = fresh;
                for (batch_id, _) in failed {
                    settle_fetch(&mut runtime, batch_id, SendOutcome::NetworkError);
                }
                runtime.queue.on_page_unload(now)
            }
            PageEvent::Visible => runtime.queue.on_page_visible(now),
            PageEvent::Online => runtime.queue.set_online(true, now),
            PageEvent::Offline => runtime.queue.set_online(false, now),
        }
    }
    pump(shared);
    if matches!(event, PageEvent::Hidden | PageEvent::Unload) {
        // The page may be frozen or gone before any task or microtask runs:
        // write now, after its beacons have left.
        apply_storage(shared, usize::MAX);
    }
    if event == PageEvent::Visible {
        // A tab may have gone away while this one was in the background.
        let shared = shared.clone();
        spawn_local(async move { super::adoption::adopt_orphans(&shared).await });
    }
}

/// Records one call (`track`, `identify`, …). Never throws: a refused event
/// is reported to the error listeners.
/// One call of the JS API.
pub struct Call<'a> {
    pub kind: u8,
    pub name: &'a str,
    pub json: &'a str,
    /// Epoch ms of a call buffered before start, else 0.
    pub at: f64,
}

pub fn record(shared: &Shared, call: Call<'_>) {
    let (result, debug, overflow_before) = {
        let mut runtime = shared.borrow_mut();
        if runtime.closed {
            return;
        }
        let now = runtime.now();
        let overflow_before = match runtime.debug {
            true => runtime.queue.metrics().counters.dropped_overflow,
            false => 0,
        };
        let random = runtime.random.next_16();
        let runtime = &mut *runtime;
        let input = EventInput {
            kind: kind_from_code(call.kind),
            name: (!call.name.is_empty()).then_some(call.name),
            user_id: runtime.user_id.as_deref(),
            anonymous_id: &runtime.anonymous_id,
            properties_json: (!call.json.is_empty()).then_some(call.json),
            context_json: Some(&runtime.context_json),
            timestamp: (call.at > 0.0).then_some(call.at as u64),
        };
        let result = runtime.queue.track(&input, random, now);
        (result, runtime.debug, overflow_before)
    };
    match result {
        Err(error) => run(shared, vec![Work::Emit("input", error.message())]),
        Ok(id) if debug => {
            let metrics = shared.borrow().queue.metrics();
            let mut message = String::from("queued ");
            id.push_to(&mut message);
            message.push_str(" (");
            push_u64(&mut message, metrics.pending);
            message.push_str(" pending)");
            let overflow = metrics.counters.dropped_overflow - overflow_before;
            if overflow > 0 {
                message.push_str("; dropped the ");
                push_u64(&mut message, overflow);
                message.push_str(" oldest: queue full (maxQueueEvents/maxQueueBytes)");
            }
            run(shared, vec![Work::Emit("debug", message)]);
        }
        Ok(_) => {}
    }
    pump(shared);
}

/// Who later events are attributed to; the JS entry calls it only when
/// that changes, so `track()` does not carry two ids across each call.
pub fn set_identity(shared: &Shared, user_id: &str, anonymous_id: &str) {
    let mut runtime = shared.borrow_mut();
    runtime.user_id = (!user_id.is_empty()).then(|| user_id.to_string());
    runtime.anonymous_id = anonymous_id.to_string();
}

/// The `context` sent with every later event (JSON object text).
pub fn set_context(shared: &Shared, json: &str) {
    shared.borrow_mut().context_json = json.to_string();
}

/// Drains the core's actions, carries them out, and re-arms the timer.
pub fn pump(shared: &Shared) {
    loop {
        let mut work = Vec::new();
        {
            let mut runtime = shared.borrow_mut();
            if runtime.closed || runtime.storage.is_none() {
                return;
            }
            let now = runtime.now();
            if runtime.debug {
                let expired = runtime.queue.metrics().counters.dropped_expired;
                if expired > runtime.expired_logged {
                    let mut line = String::from("dropped ");
                    push_u64(&mut line, expired - runtime.expired_logged);
                    line.push_str(" event(s) older than maxEventAgeMs");
                    work.push(Work::Emit("debug", line));
                    runtime.expired_logged = expired;
                }
            }
            while let Some(action) = runtime.queue.poll_action(now) {
                match action {
                    Action::Persist(events) => {
                        runtime.queue_storage(StorageOp::Write(events), &mut work)
                    }
                    Action::Forget(ids) => {
                        let ids = ids.iter().map(MessageId::to_text).collect();
                        runtime.queue_storage(StorageOp::Delete(ids), &mut work);
                    }
                    Action::Notify(notice) => {
                        let (kind, message) = notice_text(&notice);
                        work.push(Work::Emit(kind, message));
                    }
                    Action::Send(request) if request.transport == Transport::Beacon => {
                        // Sent and settled before the next is formed: a
                        // beacon queued frees its share of the keepalive budget.
                        work.push(Work::Beacon(request));
                        break;
                    }
                    Action::Send(request) => {
                        if runtime.debug {
                            let line = describe_send(
                                request.batch_id,
                                request.events,
                                request.body.len(),
                                "fetch",
                            );
                            work.push(Work::Emit("debug", line));
                        }
                        runtime
                            .batch_events
                            .push((request.batch_id, request.events));
                        work.push(Work::Fetch {
                            batch_id: request.batch_id,
                            body: request.body,
                            keepalive: false,
                        });
                    }
                }
            }
        }
        // A settled beacon frees keepalive budget: more may go now.
        if !perform(shared, work) {
            break;
        }
    }
    arm_timer(shared);
    resolve_flushes(shared);
}

/// Arms the wake-up timer for the core's next wake-up, if it has one.
fn arm_timer(shared: &Shared) {
    let mut runtime = shared.borrow_mut();
    if runtime.closed {
        return;
    }
    let now = runtime.now();
    if let Some(at) = runtime.queue.next_wakeup() {
        let weak: Weak<RefCell<Runtime>> = Rc::downgrade(shared);
        runtime.timer.arm(at, now, move || {
            if let Some(shared) = weak.upgrade() {
                on_timer(&shared);
            }
        });
    }
}

/// The wake-up timer fired.
fn on_timer(shared: &Shared) {
    match shared.try_borrow_mut() {
        Ok(mut runtime) => runtime.timer.disarm_after_fire(),
        // Fired inside a call of ours (see `on_page_event`): try again soon.
        Err(_) => return defer(shared, on_timer),
    }
    pump(shared);
}

/// Runs `then` in a task of its own: for input that arrived while the
/// runtime was borrowed, which a browser's nested event loop can do.
fn defer(shared: &Shared, then: fn(&Shared)) {
    let shared = shared.clone();
    gloo_timers::callback::Timeout::new(0, move || then(&shared)).forget();
}

/// Resolves the `flush()` promises once nothing they wait for is in flight.
fn resolve_flushes(shared: &Shared) {
    let mut work = Vec::new();
    {
        let mut runtime = shared.borrow_mut();
        if runtime.flushes.is_empty() || !runtime.batch_events.is_empty() {
            return;
        }
        let pending = runtime.queue.metrics().pending;
        for waiter in std::mem::take(&mut runtime.flushes) {
            let mut json = String::from("{\"sent\":");
            push_u64(&mut json, waiter.sent);
            json.push_str(",\"failed\":");
            push_u64(&mut json, waiter.failed);
            json.push_str(",\"pending\":");
            push_u64(&mut json, pending);
            json.push('}');
            let result = js_sys::JSON::parse(&json).unwrap_or(JsValue::NULL);
            work.push(Work::Resolve(waiter.resolve, result));
        }
    }
    run(shared, work);
}

/// Reports an outcome to the core and credits it to waiting flushes.
/// Returns the debug line for it when `debug` is on.
fn settle_locked(
    runtime: &mut Runtime,
    batch_id: BatchId,
    events: usize,
    outcome: SendOutcome<'_>,
    now: u64,
) -> Option<String> {
    let before = runtime.queue.metrics().counters;
    runtime.queue.on_send_result(batch_id, outcome, now);
    let metrics = runtime.queue.metrics();
    let after = &metrics.counters;
    let sent = after.events_sent - before.events_sent;
    let failed = (events as u64).saturating_sub(sent);
    for waiter in &mut runtime.flushes {
        waiter.sent += sent;
        waiter.failed += failed;
    }
    if !runtime.debug {
        return None;
    }
    let dropped = (after.dropped_rejected - before.dropped_rejected)
        + (after.dropped_too_large - before.dropped_too_large);
    let mut message = String::from("batch ");
    push_u64(&mut message, batch_id);
    message.push_str(": ");
    push_u64(&mut message, sent);
    message.push_str(" sent, ");
    push_u64(&mut message, dropped);
    message.push_str(" dropped (rejected), ");
    push_u64(&mut message, failed.saturating_sub(dropped));
    message.push_str(" re-queued");
    if let Some(at) = metrics.next_retry_at {
        message.push_str("; retry in ");
        push_u64(&mut message, at.saturating_sub(wall_ms()));
        message.push_str(" ms");
    }
    if let Some(error) = &metrics.last_error {
        if failed > 0 {
            message.push_str(" (");
            message.push_str(error);
            message.push(')');
        }
    }
    Some(message)
}

/// The debug line for a batch leaving.
fn describe_send(batch_id: BatchId, events: usize, bytes: usize, transport: &str) -> String {
    let mut message = String::from("batch ");
    push_u64(&mut message, batch_id);
    message.push_str(": sending ");
    push_u64(&mut message, events as u64);
    message.push_str(" event(s), ");
    push_u64(&mut message, bytes as u64);
    message.push_str(" bytes, by ");
    message.push_str(transport);
    message
}

/// Carries out `work`, the runtime not borrowed.
fn run(shared: &Shared, work: Vec<Work>) {
    perform(shared, work);
}

/// `run`, telling whether a beacon was settled (its outcome may let more go).
fn perform(shared: &Shared, work: Vec<Work>) -> bool {
    let mut beacon_settled = false;
    for item in work {
        match item {
            Work::ScheduleStorage { soon: false } => {
                // A task of its own, not a microtask: the caller's task (a
                // burst of track() calls, say) ends before storage work runs.
                let shared = shared.clone();
                gloo_timers::callback::Timeout::new(0, move || {
                    shared.borrow_mut().storage_scheduled = false;
                    apply_storage(&shared, STORAGE_EVENTS_PER_TASK);
                })
                .forget();
            }
            Work::ScheduleStorage { soon: true } => {
                let shared = shared.clone();
                spawn_local(async move {
                    shared.borrow_mut().storage_scheduled = false;
                    apply_storage(&shared, usize::MAX);
                });
            }
            Work::Beacon(request) => beacon_settled |= send_beacon(shared, request),
            Work::Emit(kind, message) => {
                let emit = shared.borrow().emit.clone();
                // A throwing listener must not break the queue.
                let _ = emit.call2(
                    &JsValue::NULL,
                    &JsValue::from_str(kind),
                    &JsValue::from_str(&message),
                );
            }
            Work::Resolve(resolve, value) => {
                let _ = resolve.call1(&JsValue::NULL, &value);
            }
            Work::AwaitWrite(promise) => {
                let shared = shared.clone();
                spawn_local(async move {
                    if let Err(error) = JsFuture::from(promise).await {
                        shared.borrow_mut().storage_failures += 1;
                        let message = storage_error(&describe_write_error(&error));
                        run(&shared, vec![Work::Emit("storage", message)]);
                    }
                });
            }
            Work::Fetch {
                batch_id,
                body,
                keepalive,
            } => {
                let shared = shared.clone();
                let (endpoint, timeout_ms, compress) = {
                    let runtime = shared.borrow();
                    let config = runtime.config();
                    // Beacon-path bodies stay plain: a keepalive request must leave at once.
                    (
                        config.endpoint.clone(),
                        config.request_timeout_ms,
                        runtime.compress && !keepalive,
                    )
                };
                spawn_local(async move {
                    let delivery =
                        transport::fetch(&endpoint, body, timeout_ms, keepalive, compress).await;
                    if delivery == Delivery::NetworkError && !keepalive {
                        // The browser aborts a page's fetches as it unloads, and
                        // may say so before `pagehide` reaches us (Firefox does;
                        // Chromium when another listener runs first). The error
                        // is held a moment: if `pagehide` follows at once, the
                        // core abandons the batch and the abort is no failure;
                        // an older one is reported first (see `on_page_event`).
                        shared
                            .borrow_mut()
                            .held_network_errors
                            .push((batch_id, now_ms()));
                        sleep(UNLOAD_ABORT_GRACE_MS).await;
                        let mut runtime = shared.borrow_mut();
                        let Some(at) = runtime
                            .held_network_errors
                            .iter()
                            .position(|(id, _)| *id == batch_id)
                        else {
                            return;
                        };
                        runtime.held_network_errors.swap_remove(at);
                    }
                    on_delivery(&shared, batch_id, delivery);
                });
            }
        }
    }
    beacon_settled
}

/// Queues a hidden page's batch with `sendBeacon` and settles it at once
/// (true); without `sendBeacon` it goes by `fetch` with `keepalive` (false).
fn send_beacon(shared: &Shared, request: SendRequest) -> bool {
    let (endpoint, debug) = {
        let runtime = shared.borrow();
        (runtime.config().endpoint.clone(), runtime.debug)
    };
    let beacon = transport::beacon(&endpoint, &request.body);
    let sending = debug.then(|| {
        let by = match beacon {
            Some(true) => "sendBeacon",
            Some(false) => "sendBeacon (refused)",
            None => "fetch keepalive",
        };
        describe_send(request.batch_id, request.events, request.body.len(), by)
    });
    let Some(accepted) = beacon else {
        if let Some(line) = sending {
            run(shared, vec![Work::Emit("debug", line)]);
        }
        shared
            .borrow_mut()
            .batch_events
            .push((request.batch_id, request.events));
        let fetch = Work::Fetch {
            batch_id: request.batch_id,
            body: request.body,
            keepalive: true,
        };
        run(shared, vec![fetch]);
        return false;
    };
    let outcome = match accepted {
        true => SendOutcome::BeaconQueued,
        false => SendOutcome::BeaconRefused,
    };
    // Settled before any other call into the page: a closing tab may end
    // inside the next one, and what runs meanwhile must see the budget free.
    let settled = {
        let mut runtime = shared.borrow_mut();
        let now = runtime.now();
        settle_locked(&mut runtime, request.batch_id, request.events, outcome, now)
    };
    let lines = sending.into_iter().chain(settled);
    run(
        shared,
        lines.map(|line| Work::Emit("debug", line)).collect(),
    );
    true
}

/// A transaction's failure arrives as an event; its transaction holds the cause.
fn describe_write_error(error: &JsValue) -> String {
    let transaction = js_sys::Reflect::get(error, &"target".into())
        .ok()
        .and_then(|target| js_sys::Reflect::get(&target, &"error".into()).ok())
        .filter(|e| !e.is_null() && !e.is_undefined());
    describe(transaction.as_ref().unwrap_or(error))
}

fn on_delivery(shared: &Shared, batch_id: BatchId, delivery: Delivery) {
    let debug_line = settle_fetch(&mut shared.borrow_mut(), batch_id, delivery.as_outcome());
    if let Some(line) = debug_line {
        run(shared, vec![Work::Emit("debug", line)]);
    }
    pump(shared);
}

/// Reports a fetch's outcome, unless it was already reported.
fn settle_fetch(
    runtime: &mut Runtime,
    batch_id: BatchId,
    outcome: SendOutcome<'_>,
) -> Option<String> {
    let index = runtime
        .batch_events
        .iter()
        .position(|(id, _)| *id == batch_id)?;
    let (_, events) = runtime.batch_events.swap_remove(index);
    let now = runtime.now();
    settle_locked(runtime, batch_id, events, outcome, now)
}

/// Asks for everything pending to be sent; resolves with what happened.
pub fn flush(shared: &Shared) -> Promise {
    let promise = Promise::new(&mut |resolve: Function, _reject: Function| {
        let mut runtime = shared.borrow_mut();
        let now = runtime.now();
        runtime.queue.flush(now);
        runtime.flushes.push(FlushWaiter {
            resolve,
            sent: 0,
            failed: 0,
        });
    });
    pump(shared);
    promise
}

/// Flushes, persists what is left, and detaches from the page.
pub async fn shutdown(shared: Shared) {
    let _ = JsFuture::from(flush(&shared)).await;
    {
        let mut runtime = shared.borrow_mut();
        let now = runtime.now();
        runtime.queue.persist_now(now);
    }
    let last_write = persist_at_once(&shared);
    if let Some(write) = last_write {
        if within(STORAGE_ANSWER_MS, JsFuture::from(write))
            .await
            .is_none()
        {
            report(&shared, "storage", did_not_answer("storage"));
        }
    }
    // What is left persisted becomes adoptable by other tabs.
    detach(&mut shared.borrow_mut());
}

/// Opt-out: nothing more is sent, and everything persisted is deleted:
/// this page's partition and every partition no live tab owns. Events in
/// flight may still arrive; their results are ignored. Closes the runtime.
pub async fn discard(shared: Shared) {
    let (partitions, ownership, own, discarded, waiters) = {
        let mut runtime = shared.borrow_mut();
        if runtime.closed {
            return;
        }
        runtime.closed = true;
        runtime.timer.clear();
        runtime.storage_ops.clear();
        let metrics = runtime.queue.metrics();
        (
            runtime.storage.as_deref().map(Storage::partitions),
            runtime.ownership,
            runtime.partition.clone(),
            metrics.pending + metrics.in_flight,
            std::mem::take(&mut runtime.flushes),
        )
    };
    let mut work: Vec<Work> = waiters
        .into_iter()
        .map(|waiter| {
            let result = js_sys::JSON::parse(r#"{"sent":0,"failed":0,"pending":0}"#);
            Work::Resolve(waiter.resolve, result.unwrap_or(JsValue::NULL))
        })
        .collect();
    if shared.borrow().debug {
        let mut line = String::from("opted out: ");
        push_u64(&mut line, discarded);
        line.push_str(" event(s) discarded, persisted events deleted");
        work.push(Work::Emit("debug", line));
    }
    run(&shared, work);
    if let Some(partitions) = partitions {
        let deleted = within(STORAGE_ANSWER_MS, async {
            let own_deleted = partitions.delete(&own).await;
            super::adoption::delete_orphans(&partitions, ownership, STORAGE_NAMESPACE, &own).await;
            own_deleted
        });
        match deleted.await {
            Some(Ok(())) => {}
            Some(Err(message)) => report(&shared, "storage", storage_error(&message)),
            None => report(&shared, "storage", did_not_answer("storage")),
        }
    }
    detach(&mut shared.borrow_mut());
}

/// Lets go of the page: listeners, timer, this partition's lock, storage.
fn detach(runtime: &mut Runtime) {
    runtime.closed = true;
    runtime.lifecycle = None;
    runtime.announcer = None;
    runtime.timer.clear();
    if let Some(lock) = runtime.own_lock.take() {
        lock.release();
    }
    if runtime.lease_renewal.take().is_some() {
        if let Some(lease) = tabs::Lease::open(STORAGE_NAMESPACE) {
            lease.release(&runtime.partition);
        }
    }
    if let Some(storage) = &runtime.storage {
        storage.close();
    }
}

/// `metrics()` as JSON text, camelCase.
pub fn metrics_json(shared: &Shared) -> String {
    let runtime = shared.borrow();
    let m = runtime.queue.metrics();
    let c = &m.counters;
    let mut out = String::with_capacity(512);
    let numbers: [(&str, u64); 16] = [
        ("eventsTracked", c.events_tracked),
        ("eventsRestored", c.events_restored),
        ("eventsSent", c.events_sent),
        ("droppedOverflow", c.dropped_overflow),
        ("droppedRejected", c.dropped_rejected),
        ("droppedTooLarge", c.dropped_too_large),
        ("droppedExpired", c.dropped_expired),
        ("restoreCorrupt", c.restore_corrupt),
        ("batchesSent", c.batches_sent),
        ("batchesFailed", c.batches_failed),
        ("retries", c.retries),
        ("bytesSent", c.bytes_sent),
        ("pending", m.pending),
        ("pendingBytes", m.pending_bytes),
        ("inFlight", m.in_flight),
        ("inFlightBatches", m.in_flight_batches),
    ];
    out.push('{');
    for (name, value) in numbers {
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        push_u64(&mut out, value);
        out.push(',');
    }
    out.push_str("\"circuitState\":\"");
    out.push_str(m.circuit_state);
    out.push_str("\",\"nextRetryAt\":");
    match m.next_retry_at {
        Some(at) => push_u64(&mut out, at),
        None => out.push_str("null"),
    }
    out.push_str(",\"authPaused\":");
    out.push_str(if m.auth_paused { "true" } else { "false" });
    out.push_str(",\"online\":");
    out.push_str(if m.online { "true" } else { "false" });
    out.push_str(",\"lastError\":");
    match &m.last_error {
        Some(error) => push_string(&mut out, error),
        None => out.push_str("null"),
    }
    out.push_str(",\"storage\":");
    match &runtime.storage {
        Some(storage) => push_string(&mut out, storage.kind()),
        None => out.push_str("null"),
    }
    out.push_str(",\"ownership\":");
    push_string(&mut out, runtime.ownership.name());
    out.push_str(",\"partition\":");
    push_string(&mut out, &runtime.partition);
    out.push_str(",\"adoptedPartitions\":");
    push_u64(&mut out, runtime.adopted_partitions);
    out.push_str(",\"adoptedEvents\":");
    push_u64(&mut out, runtime.adopted_events);
    out.push('}');
    out
}
