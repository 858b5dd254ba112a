//! Events whose delivery no answer confirmed: restored from storage (the
//! page load or tab that held them may have sent them as it went away) or
//! handed to `sendBeacon`, whose answer is never seen. Each waits out a
//! grace period, so that a request left in flight lands first; then the
//! collector is asked which of them it holds (the receipt request of
//! `docs/wire-contract.md`). What it holds is delivered; the rest is sent
//! again under the same ids. One receipt request is in flight at a time.

use super::event::{QueuedEvent, Seq};
use super::pending::PendingQueue;
use super::queue::BatchId;
use super::time::Millis;

/// The waiting events are a `PendingQueue` (two lanes in sequence order),
/// whose code the wasm carries already: a list of its own, with its own
/// removal, expiry and iteration, was kilobytes more.
#[derive(Debug, Default)]
pub struct Unconfirmed {
    waiting: PendingQueue,
    /// When the waiting events are due: the last one's grace ends then
    /// (every grace is the same, so a few wait a little longer).
    due: Millis,
    /// The events of the receipt request in flight, and its id.
    asking: Vec<QueuedEvent>,
    asking_id: Option<BatchId>,
}

impl Unconfirmed {
    /// Events waiting or asked about.
    pub fn len(&self) -> usize {
        self.waiting.len() + self.asking.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Encoded bytes of the events held here.
    pub fn bytes(&self) -> usize {
        let mut bytes = self.waiting.bytes();
        for event in &self.asking {
            bytes += event.bytes();
        }
        bytes
    }

    /// Takes events to check at `due`, in sequence order.
    pub fn push(&mut self, events: Vec<QueuedEvent>, due: Millis) {
        self.due = self.due.max(due);
        self.waiting.requeue(events);
    }

    /// When the next check is due, if none is in flight.
    pub fn next_due(&self) -> Option<Millis> {
        match self.asking_id.is_none() && !self.waiting.is_empty() {
            true => Some(self.due),
            false => None,
        }
    }

    pub fn is_asking(&self) -> bool {
        self.asking_id.is_some()
    }

    /// When the longest-waiting event was queued (the one expiry takes first).
    pub fn oldest_created_at(&self) -> Option<Millis> {
        self.waiting.oldest_created_at()
    }

    /// The event with sequence number `seq`, waiting or asked about.
    pub fn get(&self, seq: Seq) -> Option<&QueuedEvent> {
        self.waiting
            .get(seq)
            .or_else(|| self.asking.iter().find(|e| e.seq == seq))
    }

    /// Every event held here: those waiting, then those asked about.
    pub fn iter(&self) -> impl Iterator<Item = &QueuedEvent> {
        self.waiting.iter().chain(&self.asking)
    }

    /// Takes up to `max` events, if they are due at `now`.
    pub fn take_due(&mut self, now: Millis, max: usize) -> Vec<QueuedEvent> {
        let mut taken = Vec::new();
        while now >= self.due && taken.len() < max {
            let Some(event) = self.waiting.pop_front() else {
                break;
            };
            taken.push(event);
        }
        taken
    }

    /// Records that receipt request `id` asks about `events` (taken by `take_due`).
    pub fn ask(&mut self, id: BatchId, events: Vec<QueuedEvent>) {
        self.asking = events;
        self.asking_id = Some(id);
    }

    /// The events receipt request `id` asked about (those not evicted
    /// meanwhile), once it is answered; `None` for any other id.
    pub fn answered(&mut self, id: BatchId) -> Option<Vec<QueuedEvent>> {
        if self.asking_id != Some(id) {
            return None;
        }
        self.asking_id = None;
        Some(std::mem::take(&mut self.asking))
    }

    /// The request in flight will never be answered (the page is
    /// unloading): its events wait again, due at once.
    pub fn abandon(&mut self, now: Millis) {
        if self.asking_id.take().is_some() {
            let events = std::mem::take(&mut self.asking);
            self.wait_again(events, now);
        }
    }

    /// Puts events a request asked about (and got no answer for) back in
    /// line, due at `due`.
    pub fn wait_again(&mut self, events: Vec<QueuedEvent>, due: Millis) {
        self.due = due;
        self.waiting.requeue(events);
    }

    /// Takes the oldest waiting event if `expired` says so.
    pub fn pop_expired(&mut self, expired: impl Fn(&QueuedEvent) -> bool) -> Option<QueuedEvent> {
        self.waiting.pop_expired(expired)
    }

    /// The one overflow drops first, as (high, sequence number): of the
    /// oldest normal event waiting (else the oldest high one) and the first
    /// normal one the request in flight asks about (else its first), the
    /// older normal one.
    pub fn overflow_key(&self) -> Option<(bool, Seq)> {
        let key = |e: &QueuedEvent| (e.high, e.seq);
        let waiting = self.waiting.overflow_front().map(key);
        let asked = self.asking.get(self.asked_victim()).map(key);
        match (waiting, asked) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Takes the event `overflow_key` names.
    pub fn pop_overflow(&mut self) -> Option<QueuedEvent> {
        let asked = self
            .asking
            .get(self.asked_victim())
            .map(|e| (e.high, e.seq));
        if asked.is_some() && asked == self.overflow_key() {
            return Some(self.asking.remove(self.asked_victim()));
        }
        self.waiting.pop_overflow()
    }

    /// Which event of the request in flight overflow would drop: the first
    /// normal one (they are taken high first), else the first.
    fn asked_victim(&self) -> usize {
        self.asking.iter().position(|e| !e.high).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: Seq) -> QueuedEvent {
        QueuedEvent {
            seq,
            handle: seq as u32,
            bytes: 10,
            created_at: seq,
            created_wall: 0,
            attempts: 0,
            split: 0,
            high: false,
        }
    }

    fn seqs(events: &[QueuedEvent]) -> Vec<Seq> {
        events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn events_are_due_after_the_last_grace_and_taken_in_order() {
        let mut unconfirmed = Unconfirmed::default();
        unconfirmed.push(vec![event(1), event(2)], 100);
        unconfirmed.push(vec![event(3)], 200);
        assert!(unconfirmed.take_due(199, 10).is_empty());
        assert_eq!(seqs(&unconfirmed.take_due(200, 2)), [1, 2]);
        assert_eq!(unconfirmed.next_due(), Some(200));
        assert_eq!(unconfirmed.bytes(), 10);
    }

    #[test]
    fn one_request_at_a_time_and_its_answer_returns_its_events() {
        let mut unconfirmed = Unconfirmed::default();
        unconfirmed.push(vec![event(1), event(2)], 0);
        let asked = unconfirmed.take_due(0, 1);
        unconfirmed.ask(7, asked);
        assert_eq!(unconfirmed.next_due(), None, "a request is in flight");
        assert_eq!(unconfirmed.len(), 2);
        assert!(unconfirmed.answered(8).is_none(), "another id");
        assert_eq!(seqs(&unconfirmed.answered(7).unwrap()), [1]);
        assert_eq!(unconfirmed.next_due(), Some(0));
    }

    #[test]
    fn an_abandoned_request_puts_its_events_back_in_order_due_at_once() {
        let mut unconfirmed = Unconfirmed::default();
        unconfirmed.push(vec![event(1), event(2)], 50);
        let asked = unconfirmed.take_due(50, 1);
        unconfirmed.ask(1, asked);
        unconfirmed.abandon(30);
        let all: Vec<Seq> = unconfirmed.iter().map(|e| e.seq).collect();
        assert_eq!(all, [1, 2]);
        assert_eq!(unconfirmed.next_due(), Some(30));
        assert_eq!(unconfirmed.bytes(), 20);
    }

    #[test]
    fn overflow_takes_the_oldest_whether_waiting_or_asked_about() {
        let mut unconfirmed = Unconfirmed::default();
        unconfirmed.push(vec![event(1), event(2), event(3)], 0);
        let asked = unconfirmed.take_due(0, 1);
        unconfirmed.ask(1, asked);
        assert_eq!(unconfirmed.overflow_key(), Some((false, 1)));
        assert_eq!(unconfirmed.pop_overflow().map(|e| e.seq), Some(1));
        assert_eq!(unconfirmed.pop_overflow().map(|e| e.seq), Some(2));
        assert_eq!(unconfirmed.pop_overflow().map(|e| e.seq), Some(3));
        assert!(unconfirmed.answered(1).unwrap().is_empty());
        assert!(unconfirmed.is_empty());
    }

    #[test]
    fn expiry_takes_the_oldest_waiting_events() {
        let mut unconfirmed = Unconfirmed::default();
        unconfirmed.push(vec![event(1), event(2), event(3)], 0);
        let mut expired = Vec::new();
        while let Some(e) = unconfirmed.pop_expired(|e| e.created_at < 3) {
            expired.push(e.seq);
        }
        assert_eq!(expired, [1, 2]);
        assert_eq!(unconfirmed.oldest_created_at(), Some(3));
    }
}
