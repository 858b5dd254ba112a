//! Tabs telling each other their partitions over a `BroadcastChannel`, so
//! a live tab learns of every tab of the origin that opens after it (and a
//! new tab of those already open) and can adopt its events the moment it
//! goes away. Messages are `hello <partition>` from a tab that just started
//! and `here <partition>` in answer; the channel never carries events.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

/// What another tab said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// A tab started with this partition; it wants to hear who is there.
    Hello(String),
    /// A live tab's partition, in answer to a `Hello`.
    Here(String),
}

impl Announcement {
    fn parse(text: &str) -> Option<Self> {
        let (kind, partition) = text.split_once(' ')?;
        if partition.is_empty() || partition.len() > 64 {
            return None;
        }
        match kind {
            "hello" => Some(Announcement::Hello(partition.to_string())),
            "here" => Some(Announcement::Here(partition.to_string())),
            _ => None,
        }
    }
}

/// The open channel; closed (and its listener removed) when dropped.
pub struct Announcer {
    channel: BroadcastChannel,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Announcer {
    /// Joins channel `name`; `None` where `BroadcastChannel` is missing.
    pub fn open(name: &str, on_announcement: impl Fn(Announcement) + 'static) -> Option<Self> {
        let channel = BroadcastChannel::new(name).ok()?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(announcement) = event
                .data()
                .as_string()
                .as_deref()
                .and_then(Announcement::parse)
            {
                on_announcement(announcement);
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(Announcer {
            channel,
            _on_message: on_message,
        })
    }

    /// Tells the other tabs this one started with `partition`.
    pub fn hello(&self, partition: &str) {
        let _ = self
            .channel
            .post_message(&["hello ", partition].concat().into());
    }

    /// Answers a `Hello`: this live tab's `partition`.
    pub fn here(&self, partition: &str) {
        let _ = self
            .channel
            .post_message(&["here ", partition].concat().into());
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
