//! The size of the Segment-compatible batch body the shell builds around a
//! batch's events (`{"batch":[…],"sentAt":"…","writeKey":"…"}`): the queue
//! keeps every body within its limits without holding a byte of it.

/// The frame around a batch's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// Bytes of the body of a batch of no events.
    pub empty_body_bytes: usize,
}

impl Envelope {
    /// Bytes the frame adds around `events` events (the separating commas
    /// included), so that body size = overhead + sum of event sizes.
    pub fn overhead(&self, events: usize) -> usize {
        self.empty_body_bytes + events.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_after_the_first_adds_a_comma() {
        let envelope = Envelope {
            empty_body_bytes: 47,
        };
        assert_eq!(envelope.overhead(0), 47);
        assert_eq!(envelope.overhead(1), 47);
        assert_eq!(envelope.overhead(3), 49);
    }
}
