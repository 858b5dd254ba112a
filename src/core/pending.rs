//! The pending events: waiting to be batched, in two lanes (high priority
//! and normal), each kept in sequence order, with their total encoded size.
//! The next to send is the oldest high one, then the oldest normal one;
//! overflow drops the oldest normal one first, a high one only when no
//! normal one waits. Requeued events slot back in ahead of newer ones of
//! their lane, and bounds are checked in O(1).

use std::collections::VecDeque;

use super::event::{find_seq, QueuedEvent, Seq};
use super::time::Millis;

const HIGH: usize = 0;
const NORMAL: usize = 1;

const fn lane_of(event: &QueuedEvent) -> usize {
    if event.high {
        HIGH
    } else {
        NORMAL
    }
}

#[derive(Debug, Default)]
pub struct PendingQueue {
    lanes: [VecDeque<QueuedEvent>; 2],
    bytes: usize,
}

impl PendingQueue {
    pub fn len(&self) -> usize {
        self.lanes[HIGH].len() + self.lanes[NORMAL].len()
    }

    pub fn is_empty(&self) -> bool {
        self.lanes[HIGH].is_empty() && self.lanes[NORMAL].is_empty()
    }

    /// Sum of the encoded sizes of the pending events.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The next event to send: the oldest high one, else the oldest normal one.
    pub fn front(&self) -> Option<&QueuedEvent> {
        self.lanes[HIGH].front().or(self.lanes[NORMAL].front())
    }

    /// When the longest-waiting event was queued (each lane's front is its oldest).
    pub fn oldest_created_at(&self) -> Option<Millis> {
        let [high, normal] = &self.lanes;
        match (high.front(), normal.front()) {
            (Some(a), Some(b)) => Some(a.created_at.min(b.created_at)),
            (a, b) => a.or(b).map(|event| event.created_at),
        }
    }

    /// The event overflow drops next: the oldest normal one, else the oldest high one.
    pub fn overflow_front(&self) -> Option<&QueuedEvent> {
        self.lanes[NORMAL].front().or(self.lanes[HIGH].front())
    }

    /// In the order they would be sent: high, then normal, each oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &QueuedEvent> {
        self.lanes[HIGH].iter().chain(self.lanes[NORMAL].iter())
    }

    /// Appends an event newer than every pending one.
    pub fn push_back(&mut self, event: QueuedEvent) {
        let lane = &mut self.lanes[lane_of(&event)];
        debug_assert!(lane.back().is_none_or(|last| last.seq < event.seq));
        self.bytes += event.bytes();
        lane.push_back(event);
    }

    /// Takes the next event to send.
    pub fn pop_front(&mut self) -> Option<QueuedEvent> {
        self.take_preferring(HIGH)
    }

    /// Takes the event overflow drops next (see `overflow_front`).
    pub fn pop_overflow(&mut self) -> Option<QueuedEvent> {
        self.take_preferring(NORMAL)
    }

    /// Takes the oldest event of `lane`, or of the other lane when it is empty.
    fn take_preferring(&mut self, lane: usize) -> Option<QueuedEvent> {
        let lane = if self.lanes[lane].is_empty() {
            1 - lane
        } else {
            lane
        };
        self.take_front(lane)
    }

    /// Takes a lane's oldest event if `expired` says so (the high lane's first).
    pub fn pop_expired(&mut self, expired: impl Fn(&QueuedEvent) -> bool) -> Option<QueuedEvent> {
        let lane = [HIGH, NORMAL]
            .into_iter()
            .find(|&lane| self.lanes[lane].front().is_some_and(&expired))?;
        self.take_front(lane)
    }

    fn take_front(&mut self, lane: usize) -> Option<QueuedEvent> {
        let event = self.lanes[lane].pop_front()?;
        self.bytes -= event.bytes();
        Some(event)
    }

    /// Puts events back in sequence order, each in its lane. Each lane's
    /// events in `returning` must be sorted by sequence (as `pop_front`
    /// takes them, high first); they are usually older than everything
    /// pending, which costs one push per event.
    pub fn requeue(&mut self, returning: Vec<QueuedEvent>) {
        self.bytes += returning.iter().map(QueuedEvent::bytes).sum::<usize>();
        let (high, normal): (Vec<_>, Vec<_>) = returning.into_iter().partition(|event| event.high);
        requeue_lane(&mut self.lanes[HIGH], high);
        requeue_lane(&mut self.lanes[NORMAL], normal);
    }

    /// The pending event with sequence number `seq`, if any.
    pub fn get(&self, seq: Seq) -> Option<&QueuedEvent> {
        for lane in &self.lanes {
            let (front, back) = lane.as_slices();
            if let Some(event) = find_seq(front, seq).or_else(|| find_seq(back, seq)) {
                return Some(event);
            }
        }
        None
    }
}

fn requeue_lane(lane: &mut VecDeque<QueuedEvent>, mut returning: Vec<QueuedEvent>) {
    let all_older = match (returning.last(), lane.front()) {
        (Some(last), Some(first)) => last.seq < first.seq,
        _ => true,
    };
    if all_older {
        for event in returning.into_iter().rev() {
            lane.push_front(event);
        }
        return;
    }
    // Interleaved (rare): merge by sequence, newest first, onto the front.
    let mut merged = VecDeque::with_capacity(lane.len() + returning.len());
    while let Some(newest) = returning.pop() {
        while lane.back().is_some_and(|back| back.seq > newest.seq) {
            if let Some(event) = lane.pop_back() {
                merged.push_front(event);
            }
        }
        merged.push_front(newest);
    }
    while let Some(event) = lane.pop_back() {
        merged.push_front(event);
    }
    *lane = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: Seq) -> QueuedEvent {
        QueuedEvent {
            seq,
            handle: seq as u32,
            bytes: 2 * (seq as u32 + 1),
            created_at: seq,
            created_wall: 0,
            attempts: 0,
            split: 0,
            high: false,
        }
    }

    fn high(seq: Seq) -> QueuedEvent {
        QueuedEvent {
            high: true,
            ..event(seq)
        }
    }

    fn seqs(queue: &PendingQueue) -> Vec<Seq> {
        queue.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn counts_bytes_of_what_it_holds() {
        let mut queue = PendingQueue::default();
        queue.push_back(event(0));
        queue.push_back(event(1));
        assert_eq!(queue.bytes(), 2 + 4);
        queue.pop_front();
        assert_eq!(queue.bytes(), 4);
    }

    #[test]
    fn requeued_older_events_go_ahead_of_newer_ones_in_order() {
        let mut queue = PendingQueue::default();
        queue.push_back(event(5));
        queue.requeue(vec![event(1), event(2)]);
        assert_eq!(seqs(&queue), [1, 2, 5]);
    }

    #[test]
    fn requeue_merges_interleaved_sequences() {
        let mut queue = PendingQueue::default();
        for seq in [2, 4, 6] {
            queue.push_back(event(seq));
        }
        queue.requeue(vec![event(1), event(3), event(7)]);
        assert_eq!(seqs(&queue), [1, 2, 3, 4, 6, 7]);
        let expected: usize = [1, 2, 3, 4, 6, 7].iter().map(|s| 2 * (s + 1)).sum();
        assert_eq!(queue.bytes(), expected);
    }

    #[test]
    fn finds_events_by_sequence() {
        let mut queue = PendingQueue::default();
        for seq in [3, 8, 9] {
            queue.push_back(event(seq));
        }
        queue.push_back(high(10));
        assert_eq!(queue.get(8).map(|e| e.seq), Some(8));
        assert_eq!(queue.get(10).map(|e| e.seq), Some(10));
        assert!(queue.get(4).is_none());
    }

    #[test]
    fn high_priority_events_are_sent_first_in_their_own_order() {
        let mut queue = PendingQueue::default();
        for e in [event(1), high(2), event(3), high(4)] {
            queue.push_back(e);
        }
        assert_eq!(seqs(&queue), [2, 4, 1, 3]);
        assert_eq!(queue.pop_front().map(|e| e.seq), Some(2));
        assert_eq!(
            queue.oldest_created_at(),
            Some(1),
            "age is the longest wait"
        );
    }

    #[test]
    fn overflow_takes_the_oldest_normal_event_before_any_high_one() {
        let mut queue = PendingQueue::default();
        for e in [high(1), event(2), event(3)] {
            queue.push_back(e);
        }
        let dropped: Vec<Seq> =
            std::iter::from_fn(|| queue.pop_overflow().map(|e| e.seq)).collect();
        assert_eq!(dropped, [2, 3, 1]);
    }

    #[test]
    fn requeue_puts_each_event_back_in_its_lane() {
        let mut queue = PendingQueue::default();
        queue.push_back(event(5));
        queue.push_back(high(6));
        queue.requeue(vec![high(1), event(2)]);
        assert_eq!(seqs(&queue), [1, 6, 2, 5]);
    }
}
