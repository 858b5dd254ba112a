//! The parser, driven by generated input: whatever the bytes, it answers
//! without panicking; every message of a batch is either stored or named;
//! valid messages are kept exactly as sent; a message breaking one rule is
//! refused with that rule's reason.

use analytics_collector::wire::{self, Code, Endpoint, Kind};
use proptest::prelude::*;
use serde_json::{json, Value};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("track"),
            Just("page"),
            Just("2026-12-06T10:00:00Z"),
            Just("")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_string()),
                    Just("messageId".to_string()),
                    Just("userId".to_string()),
                    Just("anonymousId".to_string()),
                    Just("event".to_string()),
                    Just("timestamp".to_string()),
                    Just("properties".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(Kind::ALL.to_vec())
}

/// A message that follows every rule.
fn valid_message() -> impl Strategy<Value = Value> {
    (kind(), "[a-zA-Z0-9-]{1,40}", "\\PC{1,20}", any_json(), prop::option::of(0i64..4_102_444_800_000)).prop_map(
        |(kind, id, name, extra, at)| {
            let mut m = json!({"type": kind.as_str(), "messageId": id, "userId": name, "properties": {"x": extra}});
            match kind {
                Kind::Track => m["event"] = json!(name),
                Kind::Group => m["groupId"] = json!("g"),
                Kind::Alias => m["previousId"] = json!("p"),
                _ => {}
            }
            if let Some(at) = at {
                m["timestamp"] = json!(analytics_collector::time::format_utc(at));
            }
            m
        },
    )
}

fn body_of(messages: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({"batch": messages, "writeKey": "wk"})).expect("JSON")
}

proptest! {
    #[test]
    fn any_bytes_are_answered_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = wire::parse(&bytes, Endpoint::Batch);
        let _ = wire::parse(&bytes, Endpoint::Single(Kind::Track));
    }

    #[test]
    fn any_json_batch_has_every_message_stored_or_named(items in prop::collection::vec(any_json(), 0..12)) {
        let body = wire::parse(&body_of(&items), Endpoint::Batch).expect("a batch body");
        prop_assert_eq!(body.messages.len() + body.rejected.len(), items.len());
        let indexes: Vec<usize> = body.rejected.iter().map(|r| r.index).collect();
        prop_assert!(indexes.windows(2).all(|w| w[0] < w[1]) && indexes.iter().all(|&i| i < items.len()));
        for rejection in &body.rejected {
            let sent = &items[rejection.index]["messageId"];
            if let Some(id) = &rejection.message_id {
                prop_assert_eq!(sent.as_str(), Some(id.as_str()));
            }
            prop_assert!(!rejection.reason.text.is_empty() && rejection.reason.text.chars().count() <= 200);
        }
    }

    #[test]
    fn valid_messages_are_all_accepted_exactly_as_sent(messages in prop::collection::vec(valid_message(), 1..10)) {
        let body = wire::parse(&body_of(&messages), Endpoint::Batch).expect("a batch body");
        prop_assert!(body.rejected.is_empty(), "{:?}", body.rejected);
        prop_assert_eq!(body.write_key.as_deref(), Some("wk"));
        for (message, sent) in body.messages.iter().zip(&messages) {
            prop_assert_eq!(message.json.as_str(), sent.to_string());
            prop_assert_eq!(Some(message.message_id.as_str()), sent["messageId"].as_str());
            prop_assert_eq!(Some(message.kind.as_str()), sent["type"].as_str());
            prop_assert_eq!(message.timestamp.as_deref(), sent["timestamp"].as_str());
        }
    }

    #[test]
    fn a_message_breaking_one_rule_is_named_with_that_rule(
        message in valid_message(),
        rule in 0usize..8,
        junk in any_json(),
    ) {
        let mut broken = message.clone();
        let expected = match rule {
            0 => { broken["type"] = json!("purchase"); Code::Type }
            1 => { broken["timestamp"] = json!("06/12/2026"); Code::Timestamp }
            2 => { broken.as_object_mut().map(|m| m.remove("userId")); Code::Identity }
            3 => { broken["properties"] = json!([junk]); Code::FieldType }
            4 => { broken["context"] = json!("ctx"); Code::FieldType }
            5 => { broken["userId"] = json!([1]); Code::Identity }
            6 => { broken["padding"] = json!("x".repeat(33_000)); Code::TooLarge }
            _ => {
                let mut deep = json!(1);
                for _ in 0..70 { deep = json!([deep]); }
                broken["properties"] = json!({"deep": deep});
                Code::TooDeep
            }
        };
        let body = wire::parse(&body_of(&[message.clone(), broken]), Endpoint::Batch).expect("a batch body");
        prop_assert_eq!(body.messages.len(), 1);
        prop_assert_eq!(body.rejected.len(), 1);
        let rejection = &body.rejected[0];
        prop_assert_eq!(rejection.index, 1);
        prop_assert_eq!(rejection.message_id.as_deref(), message["messageId"].as_str());
        prop_assert_eq!(rejection.reason.code, expected);
    }

    #[test]
    fn nesting_depth_is_measured_as_serde_json_sees_it(value in any_json()) {
        fn depth(v: &Value) -> usize {
            match v {
                Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
                Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
                _ => 0,
            }
        }
        let text = value.to_string();
        let d = depth(&value);
        prop_assert!(!wire::deeper_than(&text, d));
        if d > 0 {
            prop_assert!(wire::deeper_than(&text, d - 1));
        }
    }
}
