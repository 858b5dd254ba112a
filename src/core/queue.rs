//! `ClientEventQueue`: the sans-IO state machine that owns every decision
//! about queueing, batching, retrying and dropping events.
//!
//! The caller feeds inputs (`track`, `on_send_result`, `on_receipts`,
//! `on_page_hidden`, `restore`, `flush`, `on_peer_failure`, …) with the
//! current time, then drains `poll_action(now)` until it returns `None` and
//! arms one timer for `next_wakeup()`. Nothing here reads a clock, draws
//! randomness it was not given, or performs I/O.
//!
//! While the collector fails, one request at a time is in flight, a probe
//! of at most `flushAt` events, at the retry policy's times (`retry`); the
//! first success sends the rest at once. A `BatchReport`'s `health` says
//! when a send failed or ended an outage, for the caller to tell its other
//! tabs (`on_peer_failure`, `on_peer_recovery`), so that many tabs probe a
//! failing collector about as often as one does and all resume together.
//!
//! Two clocks. `now` in every call is monotonic (in the browser,
//! `performance.timeOrigin + performance.now()`): every timer (flush
//! interval, retry, persist debounce, circuit) and every age within a page
//! load is measured on it, so a wall clock that users, NTP or a waking
//! laptop move changes none of them. The wall clock, given with
//! `set_wall_clock`, is kept for what is wall-clock by nature: event
//! `timestamp`, `sentAt`, `Retry-After` dates, and the time a stored event
//! was tracked. A restored event is as old as the wall clock says (now
//! minus its stored time), never less than zero: a clock set back between
//! two page loads makes stored events younger, never lost; one set forward
//! past `maxEventAgeMs` drops them as expired.

use super::circuit::{CircuitBreaker, Permit};
use super::config::{Config, ConfigError};
use super::event::{find_seq, Handle, QueuedEvent, RestoredEvent, Seq, TrackError};
use super::metrics::{Counters, Failure, Metrics};
use super::outcome::{classify, SendOutcome, Verdict};
use super::pending::PendingQueue;
use super::retry::{Jitter, RetryPolicy};
use super::time::Millis;
use super::unconfirmed::Unconfirmed;
use super::wire::Envelope;

/// Identifies one send (or receipt request), to match its outcome.
pub type BatchId = u64;

/// Most events one receipt request asks about.
pub const MAX_RECEIPT_EVENTS: usize = 500;

/// Tabs that hear another tab's send succeed after an outage resume within
/// this much, spread at random, rather than all at once.
pub const RECOVERY_SPREAD_MS: Millis = 1_000;

/// A batch's events, taken as two runs each in sequence order (the high
/// ones, then the normal ones), merged into one (a merge, not a sort: no
/// sorting code in the wasm).
fn in_sequence(events: Vec<QueuedEvent>) -> Vec<QueuedEvent> {
    let len = events.len();
    let split = events.iter().position(|e| !e.high).unwrap_or(len);
    if split == 0 || split == len {
        return events;
    }
    let (mut high, mut normal) = (0, split);
    let mut merged = Vec::with_capacity(len);
    while merged.len() < len {
        let index = if high < split && (normal == len || events[high].seq < events[normal].seq) {
            high += 1;
            high - 1
        } else {
            normal += 1;
            normal - 1
        };
        merged.push(events[index]);
    }
    merged
}

/// Whether an event queued at `created_at` is `max_age` old or more at `now`.
fn expired_at(created_at: Millis, now: Millis, max_age: Millis) -> bool {
    now.saturating_sub(created_at) >= max_age
}

/// How an event is treated when batches are formed and the queue overflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Normal,
    /// Sent ahead of normal events; dropped on overflow only when no normal event waits.
    High,
}

/// How a batch leaves the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A normal `fetch`.
    Fetch,
    /// A request that outlives the page, for a hidden one: `fetch` with
    /// `keepalive` (whose answer a page that stays is told), else
    /// `sendBeacon` (whose answer nobody is: `SendOutcome::BeaconQueued`).
    Beacon,
}

/// Asks the collector which of these events it holds (the receipt request
/// of `docs/wire-contract.md`); report the answer with `on_receipts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRequest {
    pub request_id: BatchId,
    pub events: Vec<Handle>,
}

/// One batch to send: the shell joins its events' JSON in this order into
/// the batch body (see `Envelope`), which is then `body_bytes` long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    pub batch_id: BatchId,
    pub transport: Transport,
    pub events: Vec<Handle>,
    pub body_bytes: usize,
}

/// Something the caller should hear about (forwarded to `on('error')`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The collector answered 401/403; sending is paused, nothing is lost.
    AuthFailed { status: u16 },
    /// The collector refused a whole batch; its events are dropped.
    BatchRejected { status: u16, events: usize },
    /// The collector refused these events individually; they are dropped.
    EventsRejected { events: Vec<Handle> },
    /// An event alone was answered 413; it is dropped.
    EventTooLarge { event: Handle },
    /// An event alone was refused (400 with no list of events); it is dropped.
    EventRefused { event: Handle, status: u16 },
    /// Sends kept failing; nothing is sent before `until` (events are kept).
    CircuitOpened { failures: u32, until: Millis },
}

/// The kinds of `Notice`, by `Notice::code`, as the shell names them.
pub const NOTICE_NAMES: [&str; 6] = [
    "authFailed",
    "batchRejected",
    "eventsRejected",
    "eventTooLarge",
    "eventRefused",
    "circuitOpened",
];

impl Notice {
    /// Its kind (an index into `NOTICE_NAMES`) and up to two numbers; the
    /// events of `EventsRejected` are not among them.
    pub fn code(&self) -> (usize, u64, u64) {
        match *self {
            Notice::AuthFailed { status } => (0, status.into(), 0),
            Notice::BatchRejected { status, events } => (1, status.into(), events as u64),
            Notice::EventsRejected { ref events } => (2, events.len() as u64, 0),
            Notice::EventTooLarge { event } => (3, event.into(), 413),
            Notice::EventRefused { event, status } => (4, event.into(), status.into()),
            Notice::CircuitOpened { failures, until } => (5, failures.into(), until),
        }
    }
}

/// Work for the caller, in the order it must be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these events to storage (they are held in memory until then).
    Persist(Vec<Handle>),
    /// These events are settled (delivered or dropped): delete any stored
    /// copy, and let them go.
    Release(Vec<Handle>),
    /// Send this batch, then report with `on_send_result`.
    Send(SendRequest),
    /// Ask the collector about these events, then report with `on_receipts`.
    RequestReceipts(ReceiptRequest),
    /// Tell the application.
    Notify(Notice),
}

/// Where restored events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreSource {
    /// This queue's own storage: already persisted where they are.
    OwnStorage,
    /// Another queue's storage: persist them again under this queue.
    Adopted,
}

/// What `restore` did with the events it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Taken into the queue.
    pub accepted: usize,
    /// Dropped at once: too old (`droppedExpired`) or too large.
    pub dropped: usize,
}

/// What an outcome says of the collector's health, for other tabs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Health {
    /// Nothing to tell.
    #[default]
    Unchanged,
    /// It failed (5xx, 408, 429, no answer): tell `on_peer_failure`.
    Failing,
    /// It answered after failing: tell `on_peer_recovery`.
    Recovered,
}

/// What became of one batch's events when its outcome was reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Events the collector accepted (or, for a receipt request, holds).
    pub sent: usize,
    /// Events dropped for good (rejected, refused, too large, evicted).
    pub dropped: usize,
    /// Events back in the queue, to be sent again.
    pub requeued: usize,
    /// Events whose delivery is not known (a beacon's), kept to be asked about.
    pub unconfirmed: usize,
    pub health: Health,
}

/// Why `poll_action` cannot send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// A batch may go now, by this transport, under this permit.
    Open(Transport, Permit),
    /// Nothing may go before this instant.
    At(Millis),
    /// Only another input (an outcome, visibility, flush, config) unblocks.
    Closed,
}

/// Where the event overflow drops next is held.
#[derive(Debug, Clone, Copy)]
enum Victim {
    Pending,
    Unconfirmed,
    InFlight(usize),
}

#[derive(Debug)]
struct InFlightBatch {
    id: BatchId,
    transport: Transport,
    events: Vec<QueuedEvent>,
    /// The first `evicted` events were dropped as overflow while in flight.
    evicted: usize,
    /// Encoded bytes of the events not evicted.
    held_bytes: usize,
    body_bytes: usize,
    probe: bool,
}

/// The event queue. See the module documentation for the calling pattern.
#[derive(Debug)]
pub struct ClientEventQueue {
    config: Config,
    envelope: Envelope,
    retry: RetryPolicy,
    jitter: Jitter,
    circuit: CircuitBreaker,
    pending: PendingQueue,
    in_flight: Vec<InFlightBatch>,
    next_seq: Seq,
    next_batch_id: BatchId,
    /// Latest time seen: the queue's clock never runs backwards.
    clock: Millis,
    /// Wall clock minus the monotonic clock, as last given.
    wall_offset: i64,
    /// Sequence numbers tracked but not yet handed out in `Persist`.
    unpersisted: Vec<Seq>,
    /// Whether events are handed out for storage at all.
    persistence: bool,
    /// When the oldest unpersisted event must be written.
    persist_due: Millis,
    released: Vec<Handle>,
    /// In order; few at a time.
    notices: Vec<Notice>,
    /// No send before this (backoff or `Retry-After`).
    not_before: Millis,
    consecutive_retryable: u32,
    /// When the collector started failing (this tab's sends or another's),
    /// while it still does: the retry policy follows the outage's length.
    outage_since: Option<Millis>,
    /// Restored and beaconed events not known to be delivered.
    unconfirmed: Unconfirmed,
    /// The collector answered a receipt request without receipts: it gives
    /// none, so unconfirmed events are sent again without asking.
    receipts_unsupported: bool,
    auth_paused: bool,
    online: bool,
    page_hidden: bool,
    /// Events queued before the page was last hidden (sequence below this)
    /// leave by beacon: the page may go away without another word. Those
    /// tracked while it stays hidden (a background tab) go by fetch, whose
    /// outcome is seen: beacons sent on and on would hide an outage.
    beacon_before: Seq,
    /// A beacon was refused during this hidden period: stop trying.
    beacons_refused: bool,
    /// `flush()` asked for everything pending to go regardless of `flushAt`.
    draining: bool,
    /// Largest batch the collector accepted after 413s.
    batch_event_cap: usize,
    keepalive_bytes_in_flight: usize,
    counters: Counters,
    last_error: Option<Failure>,
}

impl ClientEventQueue {
    /// A queue with a validated `config`; `seed` drives retry jitter;
    /// `envelope` is the size of the shell's batch body around its events.
    pub fn new(config: Config, seed: u64, envelope: Envelope) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::with_checked_config(config, seed, envelope))
    }

    /// As `new`, for a config `Config::from_values` checked already (the
    /// wasm build's: so it links no error texts or field names).
    pub(crate) fn with_checked_config(config: Config, seed: u64, envelope: Envelope) -> Self {
        ClientEventQueue {
            envelope,
            retry: RetryPolicy::of(&config),
            circuit: CircuitBreaker::new(config.circuit_failure_threshold),
            batch_event_cap: config.max_batch_events as usize,
            config,
            jitter: Jitter::new(seed),
            pending: PendingQueue::default(),
            in_flight: Vec::new(),
            next_seq: 0,
            next_batch_id: 1,
            clock: 0,
            wall_offset: 0,
            unpersisted: Vec::new(),
            persistence: true,
            persist_due: 0,
            released: Vec::new(),
            notices: Vec::new(),
            not_before: 0,
            consecutive_retryable: 0,
            outage_since: None,
            unconfirmed: Unconfirmed::default(),
            receipts_unsupported: false,
            auth_paused: false,
            online: true,
            page_hidden: false,
            beacon_before: 0,
            beacons_refused: false,
            draining: false,
            keepalive_bytes_in_flight: 0,
            counters: Counters::default(),
            last_error: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the configuration; resumes sending paused by an auth error.
    pub fn update_config(&mut self, config: Config, now: Millis) -> Result<(), ConfigError> {
        config.validate()?;
        self.tick(now);
        self.retry = RetryPolicy::of(&config);
        self.circuit = CircuitBreaker::new(config.circuit_failure_threshold);
        self.batch_event_cap = config.max_batch_events as usize;
        self.config = config;
        self.auth_paused = false;
        self.enforce_bounds();
        Ok(())
    }

    /// Largest encoded event accepted: `maxEventBytes`, and what any batch
    /// and the queue can carry.
    pub fn max_event_bytes(&self) -> usize {
        let batch =
            (self.config.max_batch_bytes as usize).saturating_sub(self.envelope.overhead(1));
        batch
            .min(self.config.max_queue_bytes as usize)
            .min(self.config.max_event_bytes as usize)
    }

    /// The wall clock reads `wall` when the monotonic clock reads `now`.
    /// Until this is called the two are taken to agree.
    pub fn set_wall_clock(&mut self, wall: Millis, now: Millis) {
        self.wall_offset = (wall as i64).saturating_sub(now as i64);
    }

    /// The wall-clock time at monotonic `now`.
    fn wall_at(&self, now: Millis) -> Millis {
        (now as i64).saturating_add(self.wall_offset).max(0) as Millis
    }

    fn tick(&mut self, now: Millis) -> Millis {
        self.clock = self.clock.max(now);
        self.clock
    }

    fn take_seq(&mut self) -> Seq {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Queues an event the shell holds as `handle`, `bytes` long encoded.
    /// `tracked_at` is the wall-clock time of a call made earlier (buffered
    /// before the queue existed); by default the event is tracked now.
    pub fn track(
        &mut self,
        handle: Handle,
        bytes: usize,
        tracked_at: Option<Millis>,
        now: Millis,
    ) -> Result<(), TrackError> {
        self.track_with_priority(handle, bytes, tracked_at, Priority::Normal, now)
    }

    /// As `track`, with a priority: a high one is sent ahead of normal
    /// events, and overflow drops every normal event waiting before it.
    pub fn track_with_priority(
        &mut self,
        handle: Handle,
        bytes: usize,
        tracked_at: Option<Millis>,
        priority: Priority,
        now: Millis,
    ) -> Result<(), TrackError> {
        let now = self.tick(now);
        let wall = self.wall_at(now);
        self.counters.events_tracked += 1;
        let limit = self.max_event_bytes();
        if bytes > limit {
            self.counters.dropped_too_large += 1;
            return Err(TrackError::TooLarge { size: bytes, limit });
        }
        let created_wall = tracked_at.map_or(wall, |at| at.min(wall));
        let seq = self.take_seq();
        self.pending.push_back(QueuedEvent {
            seq,
            handle,
            bytes: bytes as u32,
            created_at: now.saturating_sub(wall - created_wall),
            created_wall,
            attempts: 0,
            split: 0,
            high: priority == Priority::High,
        });
        self.mark_unpersisted(seq, now);
        self.enforce_bounds();
        Ok(())
    }

    /// Turns `Persist` actions on or off: off when the caller has nowhere
    /// to store events, so none is handed out for nothing.
    pub fn set_persistence(&mut self, enabled: bool) {
        self.persistence = enabled;
        if !enabled {
            self.unpersisted.clear();
        }
    }

    fn mark_unpersisted(&mut self, seq: Seq, now: Millis) {
        if !self.persistence {
            return;
        }
        if self.unpersisted.is_empty() {
            // A hidden page gets no debounce: its timers are throttled (a
            // background tab's to a second or more) and it may be closed or
            // discarded at any moment.
            let debounce = match self.page_hidden {
                true => 0,
                false => self.config.persist_debounce_ms,
            };
            self.persist_due = now.saturating_add(debounce);
        }
        self.unpersisted.push(seq);
    }

    /// Takes back stored events (after a reload, or adopted from another
    /// queue), in storage order, which is the order they were tracked in.
    /// The shell has already refused corrupt records and duplicates of
    /// events it holds (see `count_corrupt`). They are unconfirmed: after
    /// `receiptGraceMs` the collector is asked which it holds, and the rest
    /// are sent.
    pub fn restore(
        &mut self,
        events: Vec<RestoredEvent>,
        source: RestoreSource,
        now: Millis,
    ) -> RestoreReport {
        let now = self.tick(now);
        let wall = self.wall_at(now);
        let limit = self.max_event_bytes();
        let mut report = RestoreReport::default();
        for event in events {
            self.counters.events_restored += 1;
            // Its age by the wall clock; a stored time in the future (the
            // clock was set back, or another machine's) counts as now.
            let age = wall.saturating_sub(event.created_wall);
            let created_at = now.saturating_sub(age);
            let expired = self.is_expired(created_at, now);
            if expired || event.bytes > limit {
                match expired {
                    true => self.counters.dropped_expired += 1,
                    false => self.counters.dropped_too_large += 1,
                }
                report.dropped += 1;
                self.released.push(event.handle);
                continue;
            }
            report.accepted += 1;
            let seq = self.take_seq();
            // The page that held it may have sent it as it went away: it is
            // sent again only once the collector says it does not hold it.
            let due = now.saturating_add(self.config.receipt_grace_ms);
            let restored = QueuedEvent {
                seq,
                handle: event.handle,
                bytes: event.bytes as u32,
                created_at,
                created_wall: event.created_wall.min(wall),
                attempts: 0,
                split: 0,
                // Storage keeps no priority: restored events are normal.
                high: false,
            };
            self.unconfirmed.push(vec![restored], due);
            if source == RestoreSource::Adopted {
                self.mark_unpersisted(seq, now);
            }
        }
        self.enforce_bounds();
        report
    }

    /// Counts stored records the shell found corrupt and deleted.
    pub fn count_corrupt(&mut self, records: usize) {
        self.counters.restore_corrupt += records as u64;
    }

    fn is_expired(&self, created_at: Millis, now: Millis) -> bool {
        expired_at(created_at, now, self.config.max_event_age_ms)
    }

    /// Sends everything pending as soon as sending is allowed, regardless of
    /// `flushAt`; also resumes sending paused by a 401/403.
    pub fn flush(&mut self, now: Millis) {
        self.tick(now);
        self.auth_paused = false;
        self.draining = !self.pending.is_empty();
    }

    /// The page became hidden: persist at once, and send what is pending by
    /// beacon while the collector is healthy. Events tracked later, while
    /// it stays hidden, go by fetch as on a visible page.
    pub fn on_page_hidden(&mut self, now: Millis) {
        let now = self.tick(now);
        self.page_hidden = true;
        self.beacon_before = self.next_seq;
        self.beacons_refused = false;
        self.persist_due = now;
    }

    /// The page is being unloaded (`pagehide`): it is hidden, and the
    /// browser is about to abort every `fetch` in flight, so whether those
    /// arrived can never be known. Their events go back to the front of the
    /// queue in order, to leave by beacon with the pending ones under the
    /// same `messageId`s (a collector that did receive an aborted request
    /// drops the copies). The abort is not a collector failure: it opens no
    /// circuit and does not stop beacons. An outcome reported later for an
    /// abandoned batch is ignored, like any unknown batch.
    pub fn on_page_unload(&mut self, now: Millis) {
        self.on_page_hidden(now);
        let mut index = 0;
        while index < self.in_flight.len() {
            if self.in_flight[index].transport != Transport::Fetch {
                index += 1;
                continue;
            }
            // Order does not matter: requeue puts events back by sequence.
            let mut batch = self.in_flight.swap_remove(index);
            if batch.probe {
                self.circuit.on_inconclusive();
            }
            let held = batch.events.split_off(batch.evicted);
            // Evicted while in flight, and now never known to be delivered.
            self.counters.dropped_overflow += batch.events.len() as u64;
            self.requeue(held);
        }
        // A receipt request is aborted too: its events wait for the next page.
        self.unconfirmed.abandon(now);
    }

    /// Persists everything unpersisted at the next `poll_action` (shutdown).
    pub fn persist_now(&mut self, now: Millis) {
        let now = self.tick(now);
        self.persist_due = now;
    }

    pub fn on_page_visible(&mut self, now: Millis) {
        self.tick(now);
        self.page_hidden = false;
        self.beacon_before = 0;
        self.beacons_refused = false;
    }

    /// The browser went online or offline; nothing is sent while offline.
    pub fn set_online(&mut self, online: bool, now: Millis) {
        self.tick(now);
        self.online = online;
    }

    /// Another tab's request to the collector failed (its report's health
    /// was `Failing`): this queue waits as if its own had, one probe at a
    /// time at the policy's next time, without counting it toward its
    /// circuit. Many tabs then probe about as often as one.
    pub fn on_peer_failure(&mut self, now: Millis) {
        let now = self.tick(now);
        self.consecutive_retryable = self.consecutive_retryable.max(1);
        let retry_at = self.retry_at(now, None);
        self.not_before = self.not_before.max(retry_at);
    }

    /// Another tab's request succeeded after an outage (its report's
    /// health was `Recovered`): this queue resumes too, at a random moment
    /// within `RECOVERY_SPREAD_MS`, not waiting for its own next probe.
    pub fn on_peer_recovery(&mut self, now: Millis) {
        let now = self.tick(now);
        if self.succeeded() == Health::Recovered {
            self.not_before = now.saturating_add(self.jitter.up_to(RECOVERY_SPREAD_MS));
        }
    }

    /// The collector answered: an outage, if there was one, is over.
    fn succeeded(&mut self) -> Health {
        let recovered = self.outage_since.is_some() || self.consecutive_retryable > 0;
        self.circuit.on_success();
        self.consecutive_retryable = 0;
        self.outage_since = None;
        match recovered {
            true => Health::Recovered,
            false => Health::Unchanged,
        }
    }

    /// When to try again after one more failure at `now` (`retry_after`:
    /// what the collector asked for, as a delay).
    fn retry_at(&mut self, now: Millis, retry_after: Option<Millis>) -> Millis {
        let since = *self.outage_since.get_or_insert(now);
        let delay = match retry_after {
            Some(delay) => delay.min(self.config.max_retry_after_ms),
            None => self.retry.delay(
                self.consecutive_retryable,
                now.saturating_sub(since),
                &mut self.jitter,
            ),
        };
        now.saturating_add(delay)
    }

    /// A request failed at `now` (`retry_after`: what the collector asked
    /// for); `circuit`: whether it counts toward opening the circuit (a
    /// 429 does not: the collector is up, only busy).
    fn failed(&mut self, now: Millis, retry_after: Option<Millis>, circuit: bool) -> Health {
        self.consecutive_retryable = self.consecutive_retryable.saturating_add(1);
        let retry_at = self.retry_at(now, retry_after);
        self.not_before = self.not_before.max(retry_at);
        if circuit && self.circuit.on_failure(retry_at) {
            self.notices.push(Notice::CircuitOpened {
                failures: self.circuit.consecutive_failures(),
                until: retry_at,
            });
        }
        Health::Failing
    }

    /// The next piece of work, or `None` when there is nothing to do now.
    pub fn poll_action(&mut self, now: Millis) -> Option<Action> {
        let now = self.tick(now);
        self.drop_expired_front(now);
        if !self.unpersisted.is_empty() && now >= self.persist_due {
            // A hidden page's beacons go before its writes: the page may be
            // gone within the storage call (Firefox can run the rest of a
            // closing tab's unload inside it), and an event a beacon takes
            // needs no write at all once the beacon is queued.
            if matches!(self.gate(now), Gate::Open(Transport::Beacon, _)) {
                if let Some(request) = self.try_send(now) {
                    return Some(Action::Send(request));
                }
            }
            // Events settled before their write was due need none.
            let events = self.take_unpersisted();
            if !events.is_empty() {
                return Some(Action::Persist(events));
            }
        }
        if !self.notices.is_empty() {
            return Some(Action::Notify(self.notices.remove(0)));
        }
        if !self.released.is_empty() {
            return Some(Action::Release(std::mem::take(&mut self.released)));
        }
        if let Some(request) = self.try_ask(now) {
            return Some(Action::RequestReceipts(request));
        }
        if let Some(request) = self.try_send(now) {
            return Some(Action::Send(request));
        }
        // Forming a batch can drop expired or oversized events.
        if !self.released.is_empty() {
            return Some(Action::Release(std::mem::take(&mut self.released)));
        }
        None
    }

    /// When the caller should next call `poll_action`, if ever; at or
    /// before `now` means at once.
    pub fn next_wakeup(&self) -> Option<Millis> {
        let now = self.clock;
        if !self.notices.is_empty() || !self.released.is_empty() {
            return Some(now);
        }
        let mut wakeup: Option<Millis> = None;
        let mut consider = |at: Millis| wakeup = Some(wakeup.map_or(at, |w| w.min(at)));
        if !self.unpersisted.is_empty() {
            consider(self.persist_due);
        }
        if let Some(oldest) = self.pending.oldest_created_at() {
            consider(oldest.saturating_add(self.config.max_event_age_ms));
            match self.gate(now) {
                Gate::Open(..) => consider(self.trigger_time(now)),
                Gate::At(at) => consider(at.max(self.trigger_time(now))),
                Gate::Closed => {}
            }
        }
        if let Some(oldest) = self.unconfirmed.oldest_created_at() {
            consider(oldest.saturating_add(self.config.max_event_age_ms));
        }
        // As `try_ask` gates a receipt request; what else blocks it ends with an input.
        if let Some(due) = self.unconfirmed.next_due() {
            if self.receipts_unsupported {
                consider(due);
            } else if self.online && !self.auth_paused && !self.probe_in_flight() {
                consider(due.max(self.not_before));
            }
        }
        wakeup
    }

    /// The collector is failing and a request to it is in flight: while
    /// it fails, one at a time.
    fn probe_in_flight(&self) -> bool {
        self.consecutive_retryable > 0
            && (!self.in_flight.is_empty() || self.unconfirmed.is_asking())
    }

    /// When the flush triggers (size, bytes, age, manual, hidden) fire.
    fn trigger_time(&self, now: Millis) -> Millis {
        let Some(front) = self.pending.front() else {
            return Millis::MAX;
        };
        let pending_batch_bytes = self.pending.bytes() + self.envelope.overhead(self.pending.len());
        if self.draining
            || (self.page_hidden && front.seq < self.beacon_before)
            || self.pending.len() >= self.config.flush_at as usize
            || pending_batch_bytes >= self.config.max_batch_bytes as usize
        {
            now
        } else {
            // The longest-waiting event's age, whichever lane it is in.
            self.pending
                .oldest_created_at()
                .unwrap_or(front.created_at)
                .saturating_add(self.config.flush_interval_ms)
        }
    }

    /// Whether, and how, a batch may go at `now` (ignoring the triggers).
    fn gate(&self, now: Millis) -> Gate {
        if self.pending.is_empty() || !self.online || self.auth_paused {
            return Gate::Closed;
        }
        let permit = match self.circuit.reopens_at() {
            Some(until) if now < until => return Gate::At(until),
            Some(_) => Permit::Probe,
            None => match self.circuit.state() {
                super::circuit::CircuitState::HalfOpen {
                    probe_in_flight: true,
                } => return Gate::Closed,
                super::circuit::CircuitState::HalfOpen { .. } => Permit::Probe,
                _ => Permit::Send,
            },
        };
        if now < self.not_before {
            return Gate::At(self.not_before);
        }
        if self.probe_in_flight() {
            return Gate::Closed;
        }
        // A hidden page sends by beacon, which outlives the page. A beacon's
        // fate is never observed, so it is used only while the last send
        // succeeded; otherwise (and when a beacon was refused or an event
        // does not fit the keepalive budget) the normal fetch path with its
        // backoff goes on, and the persisted events wait for the next page
        // if this one goes away.
        if self.page_hidden && self.consecutive_retryable == 0 && !self.beacons_refused {
            let fits = self.pending.front().is_some_and(|front| {
                front.seq < self.beacon_before
                    && front.bytes() + self.envelope.overhead(1) <= self.beacon_budget()
            });
            if fits {
                return Gate::Open(Transport::Beacon, permit);
            }
        }
        let mut fetches = 0;
        for batch in &self.in_flight {
            fetches += usize::from(batch.transport == Transport::Fetch);
        }
        if fetches >= self.config.flush_concurrency as usize {
            return Gate::Closed;
        }
        Gate::Open(Transport::Fetch, permit)
    }

    fn beacon_budget(&self) -> usize {
        (self.config.max_beacon_bytes as usize).saturating_sub(self.keepalive_bytes_in_flight)
    }

    fn try_send(&mut self, now: Millis) -> Option<SendRequest> {
        let Gate::Open(transport, _) = self.gate(now) else {
            return None;
        };
        if self.trigger_time(now) > now {
            return None;
        }
        let permit = self.circuit.permit(now);
        if permit == Permit::Blocked {
            return None;
        }
        let max_bytes = match transport {
            Transport::Fetch => self.config.max_batch_bytes as usize,
            Transport::Beacon => self.beacon_budget(),
        };
        let mut max_events = self
            .batch_event_cap
            .min(self.config.max_batch_events as usize);
        // A batch being split holds only its own part.
        let split = self.pending.front().map_or(0, |front| front.split);
        if split > 0 {
            max_events = max_events.min(split as usize);
        }
        // A probe of a failing collector carries a small batch: what fails
        // costs little, and what succeeds is already delivered.
        if permit == Permit::Probe || self.consecutive_retryable > 0 {
            max_events = max_events.min(self.config.flush_at as usize);
        }
        let mut events: Vec<QueuedEvent> = Vec::new();
        let mut event_bytes = 0;
        let mut retried = false;
        while let Some(front) = self.pending.front() {
            if events.len() >= max_events
                || front.split != split
                || (transport == Transport::Beacon && front.seq >= self.beacon_before)
            {
                break;
            }
            if self.is_expired(front.created_at, now) {
                let event = self.pending.pop_front()?;
                self.counters.dropped_expired += 1;
                self.release(event.handle);
                continue;
            }
            let size = front.bytes();
            if self.envelope.overhead(events.len() + 1) + event_bytes + size > max_bytes {
                // Only a smaller `maxBatchBytes` set after it was queued can
                // make an event too large for a fetch batch on its own.
                if events.is_empty() && transport == Transport::Fetch {
                    let event = self.pending.pop_front()?;
                    self.counters.dropped_too_large += 1;
                    self.release(event.handle);
                    continue;
                }
                break;
            }
            event_bytes += size;
            retried |= front.attempts > 0;
            events.push(self.pending.pop_front()?);
        }
        // Taken high first, held in sequence order: an in-flight batch is
        // searched by sequence and evicted oldest first.
        let events = in_sequence(events);
        if self.pending.is_empty() {
            self.draining = false;
        }
        if events.is_empty() {
            return None;
        }
        if retried {
            self.counters.retries += 1;
        }
        let probe = permit == Permit::Probe;
        if probe {
            self.circuit.probe_sent();
        }
        let body_bytes = self.envelope.overhead(events.len()) + event_bytes;
        if transport == Transport::Beacon {
            self.keepalive_bytes_in_flight += body_bytes;
        }
        let batch_id = self.next_batch_id;
        self.next_batch_id += 1;
        let mut handles = Vec::with_capacity(events.len());
        for event in &events {
            handles.push(event.handle);
        }
        let request = SendRequest {
            batch_id,
            transport,
            events: handles,
            body_bytes,
        };
        self.in_flight.push(InFlightBatch {
            id: batch_id,
            transport,
            held_bytes: event_bytes,
            body_bytes,
            events,
            evicted: 0,
            probe,
        });
        Some(request)
    }

    fn drop_expired_front(&mut self, now: Millis) {
        let max_age = self.config.max_event_age_ms;
        let expired = |e: &QueuedEvent| now.saturating_sub(e.created_at) >= max_age;
        while let Some(event) = self.pending.pop_expired(expired) {
            self.counters.dropped_expired += 1;
            self.release(event.handle);
        }
        while let Some(event) = self.unconfirmed.pop_expired(expired) {
            self.counters.dropped_expired += 1;
            self.release(event.handle);
        }
    }

    /// A receipt request for the unconfirmed events due now, if one may go
    /// (as a send may: online, not paused or backing off, and alone while
    /// the collector fails). Once the collector is known to give no
    /// receipts, they are sent again without asking.
    fn try_ask(&mut self, now: Millis) -> Option<ReceiptRequest> {
        if self.unconfirmed.next_due()? > now {
            return None;
        }
        if self.receipts_unsupported {
            let due = self.unconfirmed.take_due(now, usize::MAX);
            self.resend(due);
            return None;
        }
        if !self.online || self.auth_paused || now < self.not_before || self.probe_in_flight() {
            return None;
        }
        let events = self.unconfirmed.take_due(now, MAX_RECEIPT_EVENTS);
        let request_id = self.next_batch_id;
        self.next_batch_id += 1;
        let mut handles = Vec::with_capacity(events.len());
        for event in &events {
            handles.push(event.handle);
        }
        self.unconfirmed.ask(request_id, events);
        Some(ReceiptRequest {
            request_id,
            events: handles,
        })
    }

    /// Sends unconfirmed events again (no receipt says the collector holds
    /// them), ahead of newer ones. They come as unconfirmed events leave,
    /// each priority's in sequence order, as `requeue` takes them.
    fn resend(&mut self, events: Vec<QueuedEvent>) {
        self.counters.events_resent += events.len() as u64;
        self.requeue(events);
    }

    fn take_unpersisted(&mut self) -> Vec<Handle> {
        let mut stored = Vec::with_capacity(self.unpersisted.len());
        for seq in std::mem::take(&mut self.unpersisted) {
            let held = self.pending.get(seq).or_else(|| {
                self.in_flight
                    .iter()
                    .find_map(|batch| find_seq(&batch.events[batch.evicted..], seq))
                    .or_else(|| self.unconfirmed.get(seq))
            });
            if let Some(event) = held {
                stored.push(event.handle);
            }
        }
        stored
    }

    /// Drops the oldest held events while the queue is over a bound.
    fn enforce_bounds(&mut self) {
        let max_events = self.config.max_queue_events as usize;
        let max_bytes = self.config.max_queue_bytes as usize;
        loop {
            // The one to drop is a normal event before any high one, and the
            // oldest (lowest sequence) among them: of the pending events'
            // next for overflow, the oldest unconfirmed one, and each
            // in-flight batch's first event not yet evicted.
            let mut held_events = self.pending.len() + self.unconfirmed.len();
            let mut held_bytes = self.pending.bytes() + self.unconfirmed.bytes();
            let mut victim: Option<((bool, Seq), Victim)> = None;
            let mut consider = |key: (bool, Seq), which: Victim| {
                if victim.is_none_or(|(oldest, _)| key < oldest) {
                    victim = Some((key, which));
                }
            };
            if let Some(e) = self.pending.overflow_front() {
                consider((e.high, e.seq), Victim::Pending);
            }
            if let Some(key) = self.unconfirmed.overflow_key() {
                consider(key, Victim::Unconfirmed);
            }
            for (index, batch) in self.in_flight.iter().enumerate() {
                held_events += batch.events.len() - batch.evicted;
                held_bytes += batch.held_bytes;
                if let Some(e) = batch.events.get(batch.evicted) {
                    consider((e.high, e.seq), Victim::InFlight(index));
                }
            }
            if held_events <= max_events && held_bytes <= max_bytes {
                return;
            }
            match victim.map(|(_, which)| which) {
                Some(Victim::Pending) => self.drop_pending_front(),
                Some(Victim::Unconfirmed) => {
                    if let Some(event) = self.unconfirmed.pop_overflow() {
                        self.counters.dropped_overflow += 1;
                        self.release(event.handle);
                    }
                }
                Some(Victim::InFlight(index)) => {
                    // Counted when the batch settles: it may yet be delivered.
                    let batch = &mut self.in_flight[index];
                    let event = &batch.events[batch.evicted];
                    let handle = event.handle;
                    batch.held_bytes -= event.bytes();
                    batch.evicted += 1;
                    self.release(handle);
                }
                None => return,
            }
        }
    }

    /// Lets the shell know `event` is settled; if it was never handed out
    /// in a `Persist`, `take_unpersisted` simply no longer finds it.
    fn release(&mut self, handle: Handle) {
        self.released.push(handle);
    }

    fn drop_pending_front(&mut self) {
        if let Some(event) = self.pending.pop_overflow() {
            self.counters.dropped_overflow += 1;
            self.release(event.handle);
        }
    }

    /// Reports what happened to batch `batch_id`, and returns what became
    /// of its events; `None` for an unknown or already settled batch (one
    /// abandoned at unload, say), which changes nothing.
    pub fn on_send_result(
        &mut self,
        batch_id: BatchId,
        outcome: SendOutcome<'_>,
        now: Millis,
    ) -> Option<BatchReport> {
        let now = self.tick(now);
        let index = self.in_flight.iter().position(|b| b.id == batch_id)?;
        let mut batch = self.in_flight.swap_remove(index);
        if batch.transport == Transport::Beacon {
            self.keepalive_bytes_in_flight -= batch.body_bytes;
        }
        let held = batch.events.split_off(batch.evicted);
        let evicted = batch.events;
        let total = evicted.len() + held.len();
        let verdict = classify(&outcome, self.wall_at(now));
        let before = self.counters.clone();
        let mut health = Health::Unchanged;
        let mut unconfirmed = 0;
        // An event evicted while in flight counts as sent if this batch
        // delivered it, and as overflow otherwise.
        let mut evicted_delivered = 0;

        if !matches!(verdict, Verdict::Delivered { .. } | Verdict::Unobserved) {
            self.counters.batches_failed += 1;
        }
        match verdict {
            Verdict::Delivered { rejected } => {
                health = self.succeeded();
                self.counters.batches_sent += 1;
                self.counters.bytes_sent += batch.body_bytes as u64;
                let rejected = self.drop_rejected(rejected, &held, &evicted);
                for event in &held {
                    if !rejected.contains(&event.handle) {
                        self.counters.events_sent += 1;
                        self.release(event.handle);
                    }
                }
                for event in &evicted {
                    evicted_delivered += usize::from(!rejected.contains(&event.handle));
                }
            }
            Verdict::Unobserved => {
                // A beacon: whether it arrives is never told. Its events stay
                // stored, and the collector is asked about them later.
                self.counters.batches_sent += 1;
                self.counters.bytes_sent += batch.body_bytes as u64;
                unconfirmed = held.len();
                let due = now.saturating_add(self.config.receipt_grace_ms);
                self.unconfirmed.push(held, due);
            }
            Verdict::PartlyRejected { rejected } => {
                health = self.succeeded();
                let rejected = self.drop_rejected(rejected, &held, &evicted);
                if rejected.is_empty() {
                    self.split_refused(400, held, total);
                } else {
                    let mut rest = Vec::new();
                    for event in held {
                        if !rejected.contains(&event.handle) {
                            rest.push(event);
                        }
                    }
                    self.requeue(rest);
                }
            }
            Verdict::TooLarge => {
                self.circuit.on_inconclusive();
                if total <= 1 {
                    for event in held {
                        self.counters.dropped_too_large += 1;
                        self.release(event.handle);
                        self.last_error = Some(Failure::EventTooLarge);
                        self.notices.push(Notice::EventTooLarge {
                            event: event.handle,
                        });
                    }
                } else {
                    self.batch_event_cap = self.batch_event_cap.min(total.div_ceil(2));
                    self.requeue(held);
                }
            }
            Verdict::RateLimited { delay_ms } => {
                self.circuit.on_inconclusive();
                health = self.failed(now, delay_ms, false);
                self.last_error = Some(Failure::RateLimited);
                self.requeue(held);
            }
            Verdict::Retryable { status, delay_ms } => {
                health = self.failed(now, delay_ms, true);
                self.last_error = Some(match (status, outcome) {
                    (Some(status), _) => Failure::Status(status),
                    (None, SendOutcome::Timeout) => Failure::Timeout,
                    (None, _) => Failure::NetworkError,
                });
                self.requeue(held);
            }
            Verdict::Unauthorized { status } => {
                self.pause_for_auth(status);
                self.requeue(held);
            }
            Verdict::Refused { status } => {
                health = self.succeeded();
                self.split_refused(status, held, total);
            }
            Verdict::Rejected { status } => {
                health = self.succeeded();
                self.reject_batch(status, held);
            }
            Verdict::BeaconRefused => {
                if batch.probe {
                    self.circuit.on_inconclusive();
                }
                self.beacons_refused = true;
                self.requeue(held);
            }
        }
        self.counters.events_sent += evicted_delivered as u64;
        self.counters.dropped_overflow += (evicted.len() - evicted_delivered) as u64;
        let c = &self.counters;
        let sent = (c.events_sent - before.events_sent) as usize;
        let dropped = (c.dropped_rejected - before.dropped_rejected + c.dropped_too_large
            - before.dropped_too_large
            + c.dropped_overflow
            - before.dropped_overflow) as usize;
        Some(BatchReport {
            sent,
            dropped,
            requeued: total.saturating_sub(sent + dropped + unconfirmed),
            unconfirmed,
            health,
        })
    }

    /// A 401 or 403: nothing more is sent until `flush()` or a new config.
    fn pause_for_auth(&mut self, status: u16) {
        self.circuit.on_inconclusive();
        self.auth_paused = true;
        self.last_error = Some(Failure::AuthPaused(status));
        self.notices.push(Notice::AuthFailed { status });
    }

    /// Reports the answer to receipt request `request_id`: `outcome` as for
    /// a send, and `held`, the events of the request that the answer's
    /// receipts name (`None`: the answer carried no receipts, so the
    /// collector gives none). Those it holds are delivered (`sent` in the
    /// report); the rest are sent again. A failure keeps them waiting, to
    /// be asked about again as a send would be retried. `None` for an
    /// unknown request (one abandoned at unload).
    pub fn on_receipts(
        &mut self,
        request_id: BatchId,
        outcome: SendOutcome<'_>,
        held: Option<&[Handle]>,
        now: Millis,
    ) -> Option<BatchReport> {
        let now = self.tick(now);
        let events = self.unconfirmed.answered(request_id)?;
        let total = events.len();
        let mut report = BatchReport::default();
        match classify(&outcome, self.wall_at(now)) {
            Verdict::RateLimited { delay_ms } => {
                report.health = self.failed(now, delay_ms, false);
                self.last_error = Some(Failure::RateLimited);
                self.unconfirmed.wait_again(events, now);
                report.unconfirmed = total;
            }
            Verdict::Retryable { status, delay_ms } => {
                report.health = self.failed(now, delay_ms, true);
                self.last_error = Some(match (status, outcome) {
                    (Some(status), _) => Failure::Status(status),
                    (None, SendOutcome::Timeout) => Failure::Timeout,
                    (None, _) => Failure::NetworkError,
                });
                self.unconfirmed.wait_again(events, now);
                report.unconfirmed = total;
            }
            Verdict::Unauthorized { status } => {
                self.pause_for_auth(status);
                self.unconfirmed.wait_again(events, now);
                report.unconfirmed = total;
            }
            verdict => {
                // Any other answer comes from a collector that is up; one
                // that is not a 2xx with receipts gives none.
                report.health = self.succeeded();
                let holds = match (verdict, held) {
                    (Verdict::Delivered { .. }, Some(held)) => held,
                    _ => {
                        self.receipts_unsupported = true;
                        &[]
                    }
                };
                let mut resend = Vec::new();
                for event in events {
                    if holds.contains(&event.handle) {
                        self.counters.events_confirmed += 1;
                        self.release(event.handle);
                    } else {
                        resend.push(event);
                    }
                }
                report.sent = total - resend.len();
                report.requeued = resend.len();
                self.resend(resend);
            }
        }
        Some(report)
    }

    /// Drops the held events named in `rejected`; returns those of them
    /// that were in the batch.
    fn drop_rejected(
        &mut self,
        rejected: &[Handle],
        held: &[QueuedEvent],
        evicted: &[QueuedEvent],
    ) -> Vec<Handle> {
        // Plain loops: each iterator adapter here was its own code in the wasm.
        let mut matched: Vec<Handle> = Vec::new();
        for &handle in rejected {
            if held.iter().any(|e| e.handle == handle) || evicted.iter().any(|e| e.handle == handle)
            {
                matched.push(handle);
            }
        }
        let mut dropped = 0;
        for event in held {
            if matched.contains(&event.handle) {
                dropped += 1;
                self.release(event.handle);
            }
        }
        self.counters.dropped_rejected += dropped;
        if !matched.is_empty() {
            self.last_error = Some(Failure::EventsRejected(matched.len() as u32));
            self.notices.push(Notice::EventsRejected {
                events: matched.clone(),
            });
        }
        matched
    }

    /// The collector refused the batch without naming the events at fault:
    /// each half goes again on its own, at once, and so on, until an event
    /// refused alone is dropped; the good ones arrive. One bad event among
    /// `n` costs about 2·log₂(n) requests.
    fn split_refused(&mut self, status: u16, mut held: Vec<QueuedEvent>, total: usize) {
        if total <= 1 {
            for event in held {
                self.counters.dropped_rejected += 1;
                self.release(event.handle);
                self.last_error = Some(Failure::EventRefused(status));
                self.notices.push(Notice::EventRefused {
                    event: event.handle,
                    status,
                });
            }
            return;
        }
        let half = total.div_ceil(2) as u32;
        for event in &mut held {
            event.split = half;
        }
        self.requeue(held);
    }

    fn reject_batch(&mut self, status: u16, held: Vec<QueuedEvent>) {
        self.last_error = Some(Failure::BatchDropped(status));
        self.notices.push(Notice::BatchRejected {
            status,
            events: held.len(),
        });
        for event in held {
            self.counters.dropped_rejected += 1;
            self.release(event.handle);
        }
    }

    /// Puts events back ahead of newer ones. They were flushed once
    /// already, so they go at the next chance, whatever `flushAt` says.
    fn requeue(&mut self, mut events: Vec<QueuedEvent>) {
        self.draining |= !events.is_empty();
        for event in &mut events {
            event.attempts = event.attempts.saturating_add(1);
        }
        self.pending.requeue(events);
    }

    /// Counters and gauges right now.
    pub fn metrics(&self) -> Metrics {
        let backoff = (self.not_before > self.clock).then_some(self.not_before);
        let mut in_flight = 0;
        for batch in &self.in_flight {
            in_flight += batch.events.len();
        }
        // Option's order puts None first: the later of the two, if any.
        let next_retry_at = self.circuit.reopens_at().max(backoff);
        Metrics {
            counters: self.counters.clone(),
            pending: self.pending.len() as u64,
            pending_bytes: self.pending.bytes() as u64,
            in_flight: in_flight as u64,
            in_flight_batches: self.in_flight.len() as u64,
            unconfirmed: self.unconfirmed.len() as u64,
            circuit_state: self.circuit.state().code(),
            next_retry_at: next_retry_at.map(|at| self.wall_at(at)),
            auth_paused: self.auth_paused,
            online: self.online,
            last_error: self.last_error,
        }
    }

    /// The unconfirmed events: waiting to be asked about, or asked about.
    pub fn unconfirmed_events(&self) -> Vec<Handle> {
        self.unconfirmed.iter().map(|e| e.handle).collect()
    }

    /// The events held now (pending, in flight minus evicted, and
    /// unconfirmed), oldest first by sequence: what storage must hold once
    /// persistence settles.
    pub fn held_events(&self) -> Vec<Handle> {
        let mut held: Vec<(Seq, Handle)> = self.pending.iter().map(|e| (e.seq, e.handle)).collect();
        held.extend(
            self.in_flight
                .iter()
                .flat_map(|b| &b.events[b.evicted..])
                .chain(self.unconfirmed.iter())
                .map(|e| (e.seq, e.handle)),
        );
        held.sort_unstable();
        held.into_iter().map(|(_, handle)| handle).collect()
    }
}
