//! Page lifecycle: `visibilitychange`, `pagehide`, `online` and `offline`.
//! Never `unload` or `beforeunload`, which break the back/forward cache.
//!
//! `pagehide` is reported apart from a tab switch: the page is being
//! unloaded (or frozen in the back/forward cache), and the browser aborts
//! its fetches in flight.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{EventTarget, VisibilityState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEvent {
    /// The document became hidden (tab switch, minimised window).
    Hidden,
    /// `pagehide`: the page is going away or into the back/forward cache.
    Unload,
    Visible,
    Online,
    Offline,
}

/// One registered listener.
struct Listener {
    target: EventTarget,
    event: &'static str,
    closure: Closure<dyn FnMut()>,
}

/// The registered listeners; removed when dropped.
pub struct Lifecycle {
    listeners: Vec<Listener>,
}

/// Whether the document is hidden right now.
pub fn is_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.visibility_state() == VisibilityState::Hidden)
}

/// Whether the browser reports itself online.
pub fn is_online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

impl Lifecycle {
    pub fn attach(on_event: impl Fn(PageEvent) + 'static) -> Option<Self> {
        let window = web_sys::window()?;
        let document = window.document()?;
        let on_event = std::rc::Rc::new(on_event);
        let mut lifecycle = Lifecycle {
            listeners: Vec::new(),
        };
        let targets: [(EventTarget, &'static str); 4] = [
            (document.into(), "visibilitychange"),
            (window.clone().into(), "pagehide"),
            (window.clone().into(), "online"),
            (window.into(), "offline"),
        ];
        for (target, name) in targets {
            let on_event = on_event.clone();
            let closure = Closure::<dyn FnMut()>::new(move || {
                let event = match name {
                    "online" => PageEvent::Online,
                    "offline" => PageEvent::Offline,
                    "pagehide" => PageEvent::Unload,
                    _ if is_hidden() => PageEvent::Hidden,
                    _ => PageEvent::Visible,
                };
                on_event(event);
            });
            if target
                .add_event_listener_with_callback(name, closure.as_ref().unchecked_ref())
                .is_ok()
            {
                lifecycle.listeners.push(Listener {
                    target,
                    event: name,
                    closure,
                });
            }
        }
        Some(lifecycle)
    }
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        for listener in self.listeners.drain(..) {
            let callback = listener.closure.as_ref().unchecked_ref();
            let _ = listener
                .target
                .remove_event_listener_with_callback(listener.event, callback);
        }
    }
}
