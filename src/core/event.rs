//! An event as the queue holds it: not its bytes (the shell keeps those,
//! encoded once, in JavaScript) but what every decision needs: a handle to
//! name it by, its encoded size, when it was tracked and how its sends went.

use super::time::Millis;

/// The shell's name for one event it holds, unique while the queue holds it.
pub type Handle = u32;

/// Order of arrival in this queue; restored events get fresh numbers. The
/// queue keeps pending events sorted by them.
pub type Seq = u64;

/// An event held by the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedEvent {
    pub seq: Seq,
    pub handle: Handle,
    /// Length of its encoding (UTF-8 bytes of its JSON).
    pub bytes: u32,
    /// When it was queued, on the queue's monotonic clock: its age.
    pub created_at: Millis,
    /// When it was tracked, by the wall clock: what storage keeps, so a
    /// later page load can tell its age.
    pub created_wall: Millis,
    /// Send attempts that did not deliver it.
    pub attempts: u32,
    /// Its batch was refused with no word on which event was at fault: the
    /// next batch holding it holds at most this many events, all with the
    /// same `split` (0: not being split).
    pub split: u32,
    /// Sent ahead of normal events, and the last to go on overflow.
    pub high: bool,
}

impl QueuedEvent {
    pub fn bytes(&self) -> usize {
        self.bytes as usize
    }
}

/// The event with sequence number `seq` in `events`, sorted by sequence.
/// One search for every list of events, so the wasm carries one copy.
pub fn find_seq(events: &[QueuedEvent], seq: Seq) -> Option<&QueuedEvent> {
    let index = events.binary_search_by_key(&seq, |event| event.seq).ok()?;
    events.get(index)
}

/// An event read back from storage (after a reload, or a closed tab's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoredEvent {
    pub handle: Handle,
    pub bytes: usize,
    /// When it was tracked, by the wall clock, as storage kept it.
    pub created_wall: Millis,
}

/// An event refused at `track`; no other event is affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackError {
    /// Its encoding is larger than `maxEventBytes` or than any batch.
    TooLarge { size: usize, limit: usize },
}
