//! The pending events: waiting to be batched, kept in sequence order with
//! their total encoded size, so requeued events slot back in ahead of newer
//! ones and bounds are checked in O(1).

use std::collections::VecDeque;

use super::event::{QueuedEvent, Seq};

#[derive(Debug, Default)]
pub struct PendingQueue {
    events: VecDeque<QueuedEvent>,
    bytes: usize,
}

impl PendingQueue {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Sum of the encoded sizes of the pending events.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn front(&self) -> Option<&QueuedEvent> {
        self.events.front()
    }

    pub fn iter(&self) -> impl Iterator<Item = &QueuedEvent> {
        self.events.iter()
    }

    /// Appends an event newer than every pending one.
    pub fn push_back(&mut self, event: QueuedEvent) {
        debug_assert!(self.events.back().is_none_or(|last| last.seq < event.seq));
        self.bytes += event.bytes();
        self.events.push_back(event);
    }

    pub fn pop_front(&mut self) -> Option<QueuedEvent> {
        let event = self.events.pop_front()?;
        self.bytes -= event.bytes();
        Some(event)
    }

    /// Puts events back in sequence order. `returning` must be sorted by
    /// sequence; it is usually older than everything pending, which costs
    /// one push per event.
    pub fn requeue(&mut self, returning: Vec<QueuedEvent>) {
        self.bytes += returning.iter().map(QueuedEvent::bytes).sum::<usize>();
        let all_older = match (returning.last(), self.events.front()) {
            (Some(last), Some(first)) => last.seq < first.seq,
            _ => true,
        };
        if all_older {
            for event in returning.into_iter().rev() {
                self.events.push_front(event);
            }
            return;
        }
        // Interleaved (rare): merge by sequence, newest first, onto the front.
        let mut returning = returning;
        let mut merged = VecDeque::with_capacity(self.events.len() + returning.len());
        while let Some(newest) = returning.pop() {
            while self.events.back().is_some_and(|back| back.seq > newest.seq) {
                if let Some(event) = self.events.pop_back() {
                    merged.push_front(event);
                }
            }
            merged.push_front(newest);
        }
        while let Some(event) = self.events.pop_back() {
            merged.push_front(event);
        }
        self.events = merged;
    }

    /// The pending event with sequence number `seq`, if any.
    pub fn get(&self, seq: Seq) -> Option<&QueuedEvent> {
        let index = self
            .events
            .binary_search_by_key(&seq, |event| event.seq)
            .ok()?;
        self.events.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: Seq) -> QueuedEvent {
        QueuedEvent {
            seq,
            handle: seq as u32,
            bytes: 2 * (seq as u32 + 1),
            created_at: 0,
            created_wall: 0,
            attempts: 0,
            split: 0,
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
        assert_eq!(queue.get(8).map(|e| e.seq), Some(8));
        assert!(queue.get(4).is_none());
    }
}
