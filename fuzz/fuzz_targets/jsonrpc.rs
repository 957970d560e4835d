//! The strict JSON-RPC parser: `Message::parse`, `split_batch` and `is_batch`.
//!
//! Input: two bytes choosing the limits, then the message bytes.
//!
//! - byte 0: `max_depth = 1 + byte % 64`;
//! - byte 1: `max_bytes = 16 + byte * 16` (16 to 4096 bytes).
//!
//! Properties checked beyond "no panic":
//!
//! - a parsed message writes back (`to_json`) as one line that parses again under the same
//!   limits, to the same kind, id, method and JSON value;
//! - writing it with another id (`to_json_with_id`) parses back with that id;
//! - `split_batch` succeeds only on what `is_batch` calls a batch, and `Message::parse` never
//!   accepts one.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpgate_core::jsonrpc::{is_batch, split_batch};
use mcpgate_core::{Id, Kind, Limits, Message};

fuzz_target!(|data: &[u8]| {
    let [depth, size, bytes @ ..] = data else {
        return;
    };
    let limits = Limits {
        max_bytes: 16 + usize::from(*size) * 16,
        max_depth: 1 + usize::from(*depth) % 64,
    };

    if let Ok(msg) = Message::parse(bytes, limits) {
        assert!(!is_batch(bytes), "a batch parsed as a single message");
        check_round_trip(&msg, bytes, limits);
    }

    if let Ok(items) = split_batch(bytes, limits) {
        assert!(
            is_batch(bytes),
            "split_batch accepted something that is not an array"
        );
        assert!(!items.is_empty(), "split_batch returned an empty batch");
        for item in &items {
            // Every element is within the limits the whole array passed.
            if let Ok(msg) = Message::parse(item.get().as_bytes(), limits) {
                check_round_trip(&msg, item.get().as_bytes(), limits);
            }
        }
    }
});

fn check_round_trip(msg: &Message, original: &[u8], limits: Limits) {
    let text = msg.to_json();
    assert!(
        !text.contains(['\n', '\r']),
        "to_json wrote more than one line: {text:?}"
    );
    let again = match Message::parse(text.as_bytes(), limits) {
        Ok(m) => m,
        Err(e) => panic!("to_json output does not parse again ({e}): {text:?}"),
    };
    assert_eq!(again.kind(), msg.kind());
    assert_eq!(again.id(), msg.id());
    assert_eq!(again.method(), msg.method());
    assert_eq!(again.to_json(), text, "to_json is not stable");
    let before: serde_json::Value = match serde_json::from_slice(original) {
        Ok(v) => v,
        Err(e) => panic!("accepted text is not JSON for serde_json ({e})"),
    };
    let after: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => panic!("to_json output is not JSON for serde_json ({e}): {text:?}"),
    };
    assert_eq!(before, after, "to_json changed the message's value");

    // Moving the message to another id space keeps everything else.
    let new_id = Id::number(original.len() as u64 + 1);
    let moved = msg.to_json_with_id(&new_id);
    let moved = match Message::parse(moved.as_bytes(), Limits::default()) {
        Ok(m) => m,
        Err(e) => panic!("to_json_with_id output does not parse again ({e}): {moved:?}"),
    };
    assert_eq!(moved.kind(), msg.kind());
    assert_eq!(moved.method(), msg.method());
    let expected = match msg.kind() {
        Kind::Notification => None,
        _ if msg.member("id").is_some() => Some(&new_id),
        _ => None,
    };
    assert_eq!(moved.id(), expected);
}
