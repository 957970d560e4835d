//! Inputs found by fuzzing (see docs/fuzzing.md), replayed against the real binary.
//!
//! The parser-level reproductions live next to the code they concern (`mcpgate-core`'s
//! `jsonrpc.rs`, `mcpgate-transport`'s `sse.rs`); these tests show what the same inputs did
//! end to end.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::time::Duration;

use mcpgate_test::{GatewayProcess, Http, demo_upstream_toml};
use serde_json::{Value, json};
use tokio::time::timeout;

const BIN: &str = env!("CARGO_BIN_EXE_mcpgate");

/// Upper bound for one whole test.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

fn text_of(answer: &Value) -> &str {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
}

/// A line break in the white space of a member (here inside `params`) used to reach a stdio
/// upstream as written, ending the message early: the next line, a whole JSON-RPC request of
/// the client's choosing, was read by the upstream as a message of its own that the gateway had
/// never checked, recorded or given an id of its own. Each message must reach the upstream as
/// one line.
#[tokio::test]
async fn line_breaks_in_a_message_cannot_smuggle_a_second_one_to_a_stdio_upstream() {
    timeout(TEST_TIMEOUT, async {
        let notes = tempfile::tempdir().unwrap();
        let config = demo_upstream_toml("demo", notes.path(), "");
        let mut gw = GatewayProcess::start(std::path::Path::new(BIN), &config)
            .await
            .unwrap();
        let http = Http::new(&gw.url());
        let sid = http.initialize("2025-06-18").await;

        let smuggled = r#"{"jsonrpc":"2.0","id":"smuggled","method":"tools/call","params":{"name":"write_note","arguments":{"path":"smuggled.txt","content":"written behind the gateway's back"}}}"#;
        for line_end in ["\n", "\r\n", "\r"] {
            let body = format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"carrier"}},"x":[{line_end}{smuggled}{line_end}]}}}}"#
            );
            let a = http
                .post_raw(body, &[("mcp-session-id", &sid)])
                .await;
            assert_eq!(a.status, 200, "{:?}: {}", line_end, a.body);
            assert_eq!(text_of(&a.json()), "carrier", "{:?}: {}", line_end, a.body);

            // The next request is answered, and in order: the upstream saw exactly one message.
            let a = http
                .legacy(
                    &sid,
                    2,
                    "tools/call",
                    json!({"name": "read_note", "arguments": {"path": "smuggled.txt"}}),
                )
                .await;
            assert_eq!(a.status, 200, "{:?}: {}", line_end, a.body);
            assert_eq!(
                a.json()["result"]["isError"],
                true,
                "{:?}: the smuggled write_note ran: {}",
                line_end,
                a.body
            );
            assert!(
                !notes.path().join("smuggled.txt").exists(),
                "{line_end:?}: the smuggled write_note ran"
            );
        }

        let a = http
            .legacy(
                &sid,
                3,
                "tools/call",
                json!({"name": "echo", "arguments": {"message": "still answering"}}),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(text_of(&a.json()), "still answering", "{}", a.body);
        assert!(gw.is_running(), "the gateway exited");
        gw.stop().await.unwrap();
    })
    .await
    .expect("test timed out");
}
