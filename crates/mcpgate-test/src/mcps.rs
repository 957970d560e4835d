//! MCPS helpers for gateway tests: a trust store on disk, signed `tools/call` messages for the
//! bundled demo server (profile A, profile B, native), a gateway with an open legacy session,
//! and the MCPS verdict of an answer.
//!
//! ```text
//! let dir = tempfile::tempdir()?;
//! write_trust_store(dir.path(), &[(AGENT, &key, 2)]);
//! let g = McpsGateway::start(bin, dir, "[mcps]\ntrust_store = \"signers.toml\"\n").await;
//! let answer = g.send(&sign_a(&write_note(1, "a.txt"), AGENT, &key)).await;
//! assert_eq!(verdict(&answer), None);
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mcps::canonical::{self, ParseOptions, Value};
use mcps::keys::SigningKey;
use mcps::native::{self, Link};
use mcps::profile_a::{self, Nonce};
use mcps::profile_b;
use mcps::time::Timestamp;

use crate::{Answer, GatewayProcess, Http, demo_upstream_toml, toml_str};

/// The protocol revision of the session [`McpsGateway::start`] opens.
pub const SESSION_VERSION: &str = "2025-06-18";

/// The JSON-RPC error code of every MCPS refusal.
pub const MCPS_ERROR: i64 = -31020;

/// Writes `signers.toml` in `dir`, listing each `(id, key, trust_level)` with its public key
/// in `signer<N>.pub.pem` next to it (`trust_store = "signers.toml"` in the `[mcps]` section).
pub fn write_trust_store(dir: &Path, signers: &[(&str, &SigningKey, u8)]) {
    let mut store = String::new();
    for (n, (id, key, level)) in signers.iter().enumerate() {
        let file = format!("signer{n}.pub.pem");
        std::fs::write(dir.join(&file), key.verifying_key().to_spki_pem().unwrap()).unwrap();
        writeln!(
            store,
            "[[signers]]\nid = {}\npublic_key = {}\ntrust_level = {level}\n",
            toml_str(id),
            toml_str(&file)
        )
        .unwrap();
    }
    std::fs::write(dir.join("signers.toml"), store).unwrap();
}

/// A `tools/call` request, parsed strictly for signing.
pub fn tool_call(id: u64, tool: &str, arguments: &serde_json::Value) -> Value {
    let text = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                                  "params": {"name": tool, "arguments": arguments}})
    .to_string();
    canonical::parse(&text, &ParseOptions::STRICT).unwrap()
}

/// The demo server's `write_note` of `note <id>` at `path`, for signing.
pub fn write_note(id: u64, path: &str) -> Value {
    tool_call(
        id,
        "write_note",
        &serde_json::json!({"path": path, "content": format!("note {id}")}),
    )
}

/// `message` as a profile A envelope by passport `id`, timestamped `at`, with a fresh nonce.
pub fn sign_a_at(message: &Value, id: &str, key: &SigningKey, at: Timestamp) -> String {
    profile_a::sign(message, id, key, at, Nonce::random().unwrap())
        .unwrap()
        .to_json()
        .unwrap()
}

/// `message` as a profile A envelope by passport `id`, timestamped now.
pub fn sign_a(message: &Value, id: &str, key: &SigningKey) -> String {
    sign_a_at(message, id, key, Timestamp::now())
}

/// `message` as a profile B envelope by passport `id`, timestamped now, without a channel
/// binding.
pub fn sign_b(message: &Value, id: &str, key: &SigningKey) -> String {
    profile_b::sign(
        message,
        id,
        key,
        Timestamp::now(),
        Nonce::random().unwrap(),
        None,
    )
    .unwrap()
    .to_json()
    .unwrap()
}

/// `message` as the first native envelope of a fresh transcript chain, timestamped now.
pub fn sign_native(message: &Value, key: &SigningKey) -> String {
    native::sign(
        message,
        key,
        Timestamp::now(),
        &Nonce::random().unwrap(),
        &Link::random_start().unwrap(),
    )
    .unwrap()
    .to_json()
    .unwrap()
}

/// The MCPS code of a refusal (`replay`, `bad_signature`, …), or `None` for a successful tool
/// result; any other answer fails the test.
pub fn verdict(answer: &Answer) -> Option<String> {
    let body = answer.json();
    if body.get("result").is_some() {
        assert_eq!(body["result"]["isError"], false, "{body}");
        return None;
    }
    assert_eq!(body["error"]["code"], MCPS_ERROR, "{body}");
    Some(body["error"]["data"]["mcps"].as_str().unwrap().to_owned())
}

/// A gateway whose upstream `demo` is the bundled demo server (notes in `notes/` of its
/// directory), with a legacy session open.
#[derive(Debug)]
pub struct McpsGateway {
    /// The process.
    pub gw: GatewayProcess,
    /// A client of its endpoint.
    pub http: Http,
    /// The open session.
    pub sid: String,
    /// The demo server's notes directory.
    pub notes: PathBuf,
}

impl McpsGateway {
    /// Starts `bin` in `dir` with the demo upstream followed by `config` (typically the
    /// `[mcps]` section, with files it names already in `dir`), and opens a session.
    pub async fn start(bin: &Path, dir: tempfile::TempDir, config: &str) -> Self {
        let (config, notes) = Self::config(dir.path(), config);
        let gw = GatewayProcess::start_in(bin, &config, dir).await.unwrap();
        let http = Http::new(&gw.url());
        let sid = http.initialize(SESSION_VERSION).await;
        Self {
            gw,
            http,
            sid,
            notes,
        }
    }

    /// Starts `bin` as [`McpsGateway::start`] does, with a `config` the gateway must refuse:
    /// the error it stopped with (naming its exit and its stderr). A gateway that starts fails
    /// the test.
    pub async fn start_error(bin: &Path, dir: tempfile::TempDir, config: &str) -> String {
        let (config, _) = Self::config(dir.path(), config);
        GatewayProcess::start_in(bin, &config, dir)
            .await
            .expect_err("the gateway started with a configuration it must refuse")
            .to_string()
    }

    /// Posts `wire` in the session.
    pub async fn send(&self, wire: &str) -> Answer {
        self.http
            .post_raw(wire.to_owned(), &[("mcp-session-id", &self.sid)])
            .await
    }

    /// The content of the demo server's note at `path`, if it was written.
    pub fn note(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.notes.join(path)).ok()
    }

    /// The whole configuration in `dir`: the demo upstream followed by `config`; and the demo
    /// server's notes directory, created.
    fn config(dir: &Path, config: &str) -> (String, PathBuf) {
        let notes = dir.join("notes");
        std::fs::create_dir_all(&notes).unwrap();
        (
            format!("{}{config}", demo_upstream_toml("demo", &notes, "")),
            notes,
        )
    }
}
