//! The text form of a stored event, shared by every storage backend:
//! `<ordinal>\t<messageId>\t<createdAtMs>\t<json>`. The ordinal is the write
//! order, so events read back in any key order can be put back in the order
//! they were tracked.

use super::event::StoredEvent;
use super::json::push_u64;

/// Encodes `event` as a storage record written `ordinal`-th.
pub fn encode(ordinal: u64, event: &StoredEvent) -> String {
    let mut out = String::with_capacity(event.json.len() + 64);
    push_u64(&mut out, ordinal);
    out.push('\t');
    out.push_str(&event.message_id);
    out.push('\t');
    push_u64(&mut out, event.created_at_ms);
    out.push('\t');
    out.push_str(&event.json);
    out
}

/// Decodes a record; `None` when it is not one (the caller counts it as
/// corrupt and deletes it).
pub fn decode(record: &str) -> Option<(u64, StoredEvent)> {
    let mut fields = record.splitn(4, '\t');
    let ordinal = parse_u64(fields.next()?)?;
    let message_id = fields.next()?.to_string();
    let created_at_ms = parse_u64(fields.next()?)?;
    let json = fields.next()?.to_string();
    Some((
        ordinal,
        StoredEvent {
            message_id,
            created_at_ms,
            json,
        },
    ))
}

fn parse_u64(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Sorts decoded records into write order and drops the ordinals.
pub fn into_write_order(records: Vec<(u64, StoredEvent)>) -> Vec<StoredEvent> {
    let mut order: Vec<(u128, usize)> = records
        .iter()
        .enumerate()
        .map(|(index, (ordinal, _))| (u128::from(*ordinal), index))
        .collect();
    super::sort_keys(&mut order);
    let mut slots: Vec<Option<StoredEvent>> =
        records.into_iter().map(|(_, event)| Some(event)).collect();
    order
        .iter()
        .filter_map(|(_, index)| slots[*index].take())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> StoredEvent {
        StoredEvent {
            message_id: "abababab-abab-4bab-abab-abababababab".into(),
            created_at_ms: 1_700_000_000_123,
            json: "{\"type\":\"track\",\"event\":\"tab\\there\"}".into(),
        }
    }

    #[test]
    fn a_record_round_trips() {
        assert_eq!(decode(&encode(42, &event())), Some((42, event())));
    }

    #[test]
    fn json_containing_tabs_survives() {
        let mut with_tab = event();
        with_tab.json = "{\"a\":\"x\ty\"}".into();
        assert_eq!(
            decode(&encode(1, &with_tab)).map(|(_, e)| e),
            Some(with_tab)
        );
    }

    #[test]
    fn garbage_is_not_a_record() {
        for bad in [
            "",
            "x",
            "1\tid",
            "1\tid\tnot-a-number\t{}",
            "-1\tid\t5\t{}",
            "99999999999999999999\tid\t5\t{}",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn records_sort_back_into_write_order() {
        let records = vec![(3, event()), (1, event()), (2, event())];
        let mut expected = event();
        expected.created_at_ms = 1;
        let mut tagged = records.clone();
        tagged[1].1.created_at_ms = 1;
        assert_eq!(into_write_order(tagged)[0], expected);
        assert_eq!(into_write_order(records).len(), 3);
    }
}
