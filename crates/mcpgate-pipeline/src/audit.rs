//! The audit finaliser: one structured JSON line per message, whatever the verdict.
//!
//! The audit log is a typed sink, separate from diagnostic logging: records are written with one
//! `write` per line straight to the sink (no buffering), so a record the gateway has
//! acknowledged is not sitting in a user-space buffer when the process stops. Tool arguments
//! are never written; their SHA-256 over the RFC 8785 canonical form is.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use mcpgate_core::{Denial, Direction, Exchange, Kind, Message};
use serde::Serialize;

/// How a message ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// A request was answered (by the upstream or by the gateway).
    Answered {
        /// The answer, as sent to the client.
        response: &'a Message,
        /// Its size in bytes.
        size: usize,
    },
    /// A notification or a response was passed on.
    Forwarded,
    /// The gateway refused the message.
    Denied(&'a Denial),
    /// The gateway accepted the message but could not serve it (upstream down, timeout).
    Failed(&'a Denial),
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditRecord {
    /// When the record was written, RFC 3339 UTC.
    pub time: String,
    /// The client session.
    pub session: String,
    /// Who sent the message.
    pub principal: String,
    /// How the sender authenticated (`none`, `api_key`, `jwt`, `gateway_token`, `mtls`, `stdio`).
    pub auth: &'static str,
    /// The upstream it was for.
    pub upstream: String,
    /// `client_to_server` or `server_to_client`.
    pub direction: &'static str,
    /// `request`, `notification`, `result`, `error`, or `unparsed`.
    pub kind: &'static str,
    /// The method, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The tool, prompt or resource named by the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// SHA-256 of the canonical arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args_sha256: Option<String>,
    /// Size of the message received, in bytes.
    pub request_size: usize,
    /// Size of the answer, in bytes, for answered requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_size: Option<usize>,
    /// `allow`, `deny` or `error`.
    pub verdict: &'static str,
    /// Why, for denials and failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The JSON-RPC error code sent, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// Which side caused a denial or failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<&'static str>,
    /// The MCPS refusal code, for a message refused by the signature stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcps: Option<&'static str>,
    /// The verified MCPS signer, for a message whose signature verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The signer's trust level, from the trust store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_level: Option<i64>,
    /// Time from receipt to outcome, in microseconds.
    pub latency_us: u64,
}

impl AuditRecord {
    /// The record for a message that reached an outcome.
    pub fn from_exchange(x: &Exchange, outcome: Outcome<'_>) -> Self {
        let m = &x.message;
        let (verdict, reason, code, side, response_size) = match outcome {
            Outcome::Answered { response, size } => {
                let code = match response.kind() {
                    Kind::Error => response
                        .error_value()
                        .and_then(|e| e.get("code").and_then(serde_json::Value::as_i64)),
                    _ => None,
                };
                ("allow", None, code, None, Some(size))
            }
            Outcome::Forwarded => ("allow", None, None, None, None),
            Outcome::Denied(d) => (
                "deny",
                Some(d.reason()),
                Some(d.code()),
                Some(d.side().as_str()),
                None,
            ),
            Outcome::Failed(d) => (
                "error",
                Some(d.reason()),
                Some(d.code()),
                Some(d.side().as_str()),
                None,
            ),
        };
        let calls = matches!(m.method(), Some("tools/call" | "prompts/get"));
        let mcps = match outcome {
            Outcome::Denied(Denial::Signature { code, .. }) => Some(*code),
            _ => None,
        };
        let signer = x
            .facts
            .get("signer")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let trust_level = signer
            .as_ref()
            .and_then(|_| x.facts.get("trust_level"))
            .and_then(serde_json::Value::as_i64);
        Self {
            time: now(),
            session: x.session.clone(),
            principal: x.principal.id.clone(),
            auth: x.principal.method.as_str(),
            upstream: x.upstream.clone(),
            direction: x.direction.as_str(),
            kind: kind_name(m.kind()),
            method: m.method().map(str::to_owned),
            tool: x.target(),
            args_sha256: if calls { x.arguments_sha256() } else { None },
            request_size: x.size,
            response_size,
            verdict,
            reason,
            code,
            side,
            mcps,
            signer,
            trust_level,
            latency_us: u64::try_from(x.received.elapsed().as_micros()).unwrap_or(u64::MAX),
        }
    }

    /// The record for bytes refused before they became a message.
    pub fn unparsed(
        session: &str,
        upstream: &str,
        direction: Direction,
        size: usize,
        denial: &Denial,
    ) -> Self {
        Self {
            time: now(),
            session: session.to_owned(),
            principal: "anonymous".to_owned(),
            auth: "none",
            upstream: upstream.to_owned(),
            direction: direction.as_str(),
            kind: "unparsed",
            method: None,
            tool: None,
            args_sha256: None,
            request_size: size,
            response_size: None,
            verdict: "deny",
            reason: Some(denial.reason()),
            code: Some(denial.code()),
            side: Some(denial.side().as_str()),
            mcps: None,
            signer: None,
            trust_level: None,
            latency_us: 0,
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Request => "request",
        Kind::Notification => "notification",
        Kind::Result => "result",
        Kind::Error => "error",
    }
}

fn now() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

/// Where audit records go.
#[derive(Debug, Clone)]
pub struct AuditLog {
    sink: Sink,
}

#[derive(Debug, Clone)]
enum Sink {
    Stderr,
    File(Arc<Mutex<File>>),
    Memory(Arc<Mutex<Vec<AuditRecord>>>),
}

impl AuditLog {
    /// Records go to standard error, one JSON object per line.
    pub fn stderr() -> Self {
        Self { sink: Sink::Stderr }
    }

    /// Records are appended to a file, created when missing.
    pub fn file(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            sink: Sink::File(Arc::new(Mutex::new(file))),
        })
    }

    /// Records are kept in memory (for tests and the embedded tooling).
    pub fn memory() -> Self {
        Self {
            sink: Sink::Memory(Arc::new(Mutex::new(Vec::new()))),
        }
    }

    /// The records kept in memory; empty for other sinks.
    pub fn records(&self) -> Vec<AuditRecord> {
        match &self.sink {
            Sink::Memory(v) => v.lock().map(|v| v.clone()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Writes one record.
    pub fn record(&self, record: &AuditRecord) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!(%error, "could not serialise an audit record");
                return;
            }
        };
        line.push(b'\n');
        let result = match &self.sink {
            Sink::Stderr => std::io::stderr().lock().write_all(&line),
            Sink::File(f) => match f.lock() {
                Ok(mut f) => f.write_all(&line),
                Err(_) => Err(std::io::Error::other("audit file lock poisoned")),
            },
            Sink::Memory(v) => {
                if let Ok(mut v) = v.lock() {
                    v.push(record.clone());
                }
                Ok(())
            }
        };
        if let Err(error) = result {
            tracing::error!(%error, "could not write an audit record");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpgate_core::{Limits, ProtocolVersion};

    #[test]
    fn records_carry_hash_not_arguments() {
        let text = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"secret-value"}}}"#;
        let m = Message::parse(text.as_bytes(), Limits::default()).unwrap();
        let x = Exchange::new(
            m,
            Direction::ClientToServer,
            "s1".into(),
            "demo".into(),
            ProtocolVersion::V2025_11_25,
            text.len(),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::file(&path).unwrap();
        let resp = Message::result(&mcpgate_core::Id::number(1), &serde_json::json!({}));
        log.record(&AuditRecord::from_exchange(
            &x,
            Outcome::Answered {
                response: &resp,
                size: 10,
            },
        ));
        log.record(&AuditRecord::from_exchange(
            &x,
            Outcome::Denied(&Denial::MethodNotFound { method: "x".into() }),
        ));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("secret-value"));
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["tool"], "echo");
        assert_eq!(lines[0]["verdict"], "allow");
        assert_eq!(lines[0]["args_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(lines[1]["verdict"], "deny");
        assert_eq!(lines[1]["code"], -32601);
    }
}
