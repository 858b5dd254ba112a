//! The wasm build's surface: plain exported functions over numbers, for
//! `js/core.js`. Event bytes never cross: events are handles and sizes.
//! Lists (handles in and out, restored events) pass through one `f64`
//! buffer (`aw_io`), small values through another (`aw_num`), so the module
//! needs no bindings generator and has no imports at all.
//!
//! Inputs take `now`, the monotonic clock; `aw_clock` sets the wall clock
//! beside it. After inputs the shell drains `aw_poll` until it returns 0.

mod alloc;

use core::ptr::addr_of_mut;

use crate::abi;
use crate::core::{
    Action, BatchReport, ClientEventQueue, Config, Envelope, Failure, Handle, Millis, Priority,
    RestoreSource, RestoredEvent, Transport,
};

#[global_allocator]
static ALLOCATOR: alloc::SmallAlloc = alloc::SmallAlloc;

/// Small values in and out: config, reports, action and metric fields.
const NUM: usize = 32;

struct State {
    queue: Option<ClientEventQueue>,
    num: [f64; NUM],
    io: Vec<f64>,
}

static mut STATE: State = State {
    queue: None,
    num: [0.0; NUM],
    io: Vec::new(),
};

/// The module's state (wasm runs one thread; calls never nest).
fn state() -> &'static mut State {
    unsafe { &mut *addr_of_mut!(STATE) }
}

fn queue() -> &'static mut ClientEventQueue {
    match &mut state().queue {
        Some(queue) => queue,
        None => core::arch::wasm32::unreachable(),
    }
}

fn ms(value: f64) -> Millis {
    value.max(0.0) as Millis
}

/// The numbers buffer.
#[no_mangle]
pub extern "C" fn aw_num() -> *mut f64 {
    state().num.as_mut_ptr()
}

/// The list buffer, made room for `len` values; valid until the next call.
#[no_mangle]
pub extern "C" fn aw_io(len: usize) -> *mut f64 {
    let io = &mut state().io;
    io.clear();
    io.resize(len, 0.0);
    io.as_mut_ptr()
}

/// Creates the queue from the numeric settings in `aw_num`, in
/// `NUMERIC_FIELDS` order. Returns -1, or the index of the first field out
/// of range (the shell's check, generated from the same table, words it).
#[no_mangle]
pub extern "C" fn aw_new(seed: f64, empty_body_bytes: f64) -> i32 {
    let values = core::array::from_fn(|index| state().num[index] as u64);
    let config = match Config::from_values(values) {
        Ok(config) => config,
        Err(index) => return index as i32,
    };
    let envelope = Envelope {
        empty_body_bytes: empty_body_bytes as usize,
    };
    state().queue = Some(ClientEventQueue::with_checked_config(
        config,
        seed as u64,
        envelope,
    ));
    -1
}

/// The wall clock reads `wall` when the monotonic clock reads `now`.
#[no_mangle]
pub extern "C" fn aw_clock(wall: f64, now: f64) {
    queue().set_wall_clock(ms(wall), ms(now));
}

/// Largest event accepted, in bytes.
#[no_mangle]
pub extern "C" fn aw_max_event_bytes() -> f64 {
    queue().max_event_bytes() as f64
}

/// Queues event `handle` of `bytes`; `tracked_at` (wall clock) below 0 means
/// now; `high` 1 for a high-priority event. Returns 0, or the limit the
/// event is over.
#[no_mangle]
pub extern "C" fn aw_track(handle: u32, bytes: f64, tracked_at: f64, high: u32, now: f64) -> f64 {
    let at = (tracked_at >= 0.0).then(|| ms(tracked_at));
    let priority = if high == 1 {
        Priority::High
    } else {
        Priority::Normal
    };
    match queue().track_with_priority(handle, bytes as usize, at, priority, ms(now)) {
        Ok(()) => 0.0,
        Err(crate::core::TrackError::TooLarge { limit, .. }) => limit as f64,
    }
}

/// Restores `count` events listed in `aw_io` as (handle, bytes, tracked at
/// by the wall clock) triples, stored under this queue already (the shell
/// moves what it adopts before restoring it). Returns how many were taken;
/// `aw_num[0]` how many were dropped at once.
#[no_mangle]
pub extern "C" fn aw_restore(count: usize, now: f64) -> f64 {
    // Plain loops here and below: iterator adapters each cost the wasm code of their own.
    let io = &state().io;
    let mut events = Vec::with_capacity(count);
    for triple in io[..3 * count].chunks_exact(3) {
        events.push(RestoredEvent {
            handle: triple[0] as Handle,
            bytes: triple[1] as usize,
            created_wall: ms(triple[2]),
        });
    }
    let report = queue().restore(events, RestoreSource::OwnStorage, ms(now));
    state().num[0] = report.dropped as f64;
    report.accepted as f64
}

/// Counts stored records the shell found corrupt.
#[no_mangle]
pub extern "C" fn aw_corrupt(records: usize) {
    queue().count_corrupt(records);
}

/// A page or control event, by its code in `abi::PAGE_EVENT_NAMES`.
#[no_mangle]
pub extern "C" fn aw_event(kind: u32, now: f64) {
    abi::page_event(queue(), kind, ms(now));
}

/// The first `count` values of `aw_io`, as handles.
fn handles_in(count: usize) -> Vec<Handle> {
    let mut handles: Vec<Handle> = Vec::with_capacity(count);
    for &handle in &state().io[..count] {
        handles.push(handle as Handle);
    }
    handles
}

/// A report into `aw_num`: sent, dropped, requeued, unconfirmed, health
/// (0 unchanged, 1 failing, 2 recovered); returns 1, or 0 for none.
fn report_out(report: Option<BatchReport>) -> u32 {
    let Some(report) = report else {
        return 0;
    };
    let num = &mut state().num;
    num[0] = report.sent as f64;
    num[1] = report.dropped as f64;
    num[2] = report.requeued as f64;
    num[3] = report.unconfirmed as f64;
    num[4] = f64::from(abi::health_code(report.health));
    1
}

/// Reports batch `batch`'s outcome: `kind` 0 a response (`status`;
/// `retry` 1 `retry_value` seconds, 2 an HTTP date at `retry_value`; the
/// first `rejected` values of `aw_io` name events it rejected), 1 network
/// error, 2 timeout, 3 beacon queued, 4 beacon refused. Returns 1 with the
/// report in `aw_num` (see `report_out`), or 0 for an unknown batch.
#[no_mangle]
pub extern "C" fn aw_settle(
    batch: f64,
    kind: u32,
    status: u32,
    retry: u32,
    retry_value: f64,
    rejected: usize,
    now: f64,
) -> u32 {
    let handles = handles_in(rejected);
    let outcome = abi::outcome(kind, status, retry, retry_value, &handles);
    report_out(queue().on_send_result(batch as u64, outcome, ms(now)))
}

/// Reports receipt request `request`'s answer, as `aw_settle` a batch's;
/// `held` (-1: the answer had no receipts) values of `aw_io` name the
/// events it holds.
#[no_mangle]
pub extern "C" fn aw_receipts(
    request: f64,
    kind: u32,
    status: u32,
    retry: u32,
    retry_value: f64,
    held: i32,
    now: f64,
) -> u32 {
    let handles = handles_in(held.max(0) as usize);
    let outcome = abi::outcome(kind, status, retry, retry_value, &[]);
    let held = (held >= 0).then_some(&handles[..]);
    report_out(queue().on_receipts(request as u64, outcome, held, ms(now)))
}

/// Another tab's request to the collector: 0 failed, 1 succeeded after an outage.
#[no_mangle]
pub extern "C" fn aw_peer(kind: u32, now: f64) {
    abi::peer(queue(), kind, ms(now));
}

fn list_out(handles: &[Handle]) {
    let io = &mut state().io;
    io.clear();
    // Sized once and written by index: no push (and its growth code) for f64,
    // and no zip, which is code of its own.
    io.resize(handles.len(), 0.0);
    #[allow(clippy::needless_range_loop)]
    for i in 0..handles.len() {
        io[i] = f64::from(handles[i]);
    }
}

/// The next action, by its code in `abi::ACTION_NAMES` (0: none): persist,
/// release (handles in `aw_io`, their count in `aw_num[0]`); send
/// (`aw_num`: batch, transport 0 fetch 1 beacon, count, body bytes; handles
/// in `aw_io`); notice (`aw_num`: kind, two numbers; the events of a
/// rejection in `aw_io`); receipts (`aw_num`: request, count; handles in
/// `aw_io`). `aw_io`'s address is in `aw_num[7]`.
#[no_mangle]
pub extern "C" fn aw_poll(now: f64) -> u32 {
    let Some(action) = queue().poll_action(ms(now)) else {
        return 0;
    };
    let kind = abi::action_code(&action);
    match action {
        Action::Persist(handles) | Action::Release(handles) => {
            list_out(&handles);
            state().num[0] = handles.len() as f64;
        }
        Action::Send(request) => {
            list_out(&request.events);
            let num = &mut state().num;
            num[0] = request.batch_id as f64;
            num[1] = f64::from(u8::from(request.transport == Transport::Beacon));
            num[2] = request.events.len() as f64;
            num[3] = request.body_bytes as f64;
        }
        Action::RequestReceipts(request) => {
            list_out(&request.events);
            let num = &mut state().num;
            num[0] = request.request_id as f64;
            num[2] = request.events.len() as f64;
        }
        Action::Notify(notice) => {
            let (code, a, b) = notice.code();
            match &notice {
                crate::core::Notice::EventsRejected { events } => list_out(events),
                _ => list_out(&[]),
            }
            let num = &mut state().num;
            num[0] = code as f64;
            num[1] = a as f64;
            num[2] = b as f64;
        }
    }
    state().num[7] = state().io.as_ptr() as usize as f64;
    kind
}

/// When to call `aw_poll` next, on the monotonic clock; -1 for never.
#[no_mangle]
pub extern "C" fn aw_wakeup() -> f64 {
    queue().next_wakeup().map_or(-1.0, |at| at as f64)
}

/// Metrics into `aw_num`: the 19 of `METRIC_NAMES`, then circuit state,
/// next retry (wall clock, -1 none), auth paused, online, and the last
/// failure's kind (-1 none) and number.
#[no_mangle]
pub extern "C" fn aw_metrics() {
    let metrics = queue().metrics();
    let num = &mut state().num;
    let values = metrics.values();
    // By index: a zip of the two is code of its own in the wasm.
    #[allow(clippy::needless_range_loop)]
    for i in 0..values.len() {
        num[i] = values[i] as f64;
    }
    num[19] = metrics.circuit_state as f64;
    num[20] = metrics.next_retry_at.map_or(-1.0, |at| at as f64);
    num[21] = f64::from(u8::from(metrics.auth_paused));
    num[22] = f64::from(u8::from(metrics.online));
    let (failure, number) = metrics
        .last_error
        .map(Failure::code)
        .map_or((-1.0, 0.0), |(k, n)| (k as f64, f64::from(n)));
    num[23] = failure;
    num[24] = number;
}
