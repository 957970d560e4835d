//! OAuth 2.0 Protected Resource Metadata (RFC 9728) and `WWW-Authenticate` challenges
//! (RFC 6750 §3).
//!
//! Every value put into a challenge goes through one sanitizer: the result is a valid
//! quoted-string that contains no `"`, no `\` and no control or non-ASCII character, so a token
//! claim or an error text can never break out of its parameter.

use serde::Serialize;

/// The well-known suffix of RFC 9728.
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";
/// Longest `error_description` put into a challenge, in characters.
const MAX_DESCRIPTION: usize = 200;

/// The protected resource metadata document served at [`metadata_url`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceMetadata {
    /// The resource identifier: the gateway's canonical MCP URI (`https://host/mcp`).
    pub resource: String,
    /// Issuer identifiers of the authorization servers that issue tokens for this resource
    /// (at least one for MCP).
    pub authorization_servers: Vec<String>,
    /// The minimal baseline of scopes a client should ask for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// A human-readable name of the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    metadata: &'a ResourceMetadata,
    bearer_methods_supported: [&'static str; 1],
}

impl ResourceMetadata {
    /// The JSON document, with `bearer_methods_supported: ["header"]` (tokens are never
    /// accepted in the query string or the body).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(Document {
            metadata: self,
            bearer_methods_supported: ["header"],
        })
        .unwrap_or(serde_json::Value::Null)
    }
}

/// The metadata URL for `resource`: the well-known suffix inserted between the authority and
/// the path (`https://host/mcp` → `https://host/.well-known/oauth-protected-resource/mcp`), or
/// the root form when the path is empty or `/`. Query and fragment are dropped.
pub fn metadata_url(resource: &url::Url) -> String {
    let mut out = format!("{}://", resource.scheme());
    if let Some(host) = resource.host_str() {
        out.push_str(host);
    }
    if let Some(port) = resource.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(WELL_KNOWN);
    let path = resource.path();
    if path != "/" && !path.is_empty() {
        out.push_str(path);
    }
    out
}

/// The 401 challenge for a request without credentials:
/// `Bearer resource_metadata="…"[, scope="…"]`.
pub fn challenge_missing(metadata_url: &str, scope: Option<&str>) -> String {
    let mut c = format!("Bearer resource_metadata={}", quote(metadata_url));
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        c.push_str(&format!(", scope={}", quote(scope)));
    }
    c
}

/// The 401 challenge for an invalid, expired or untrusted token:
/// `Bearer error="invalid_token", error_description="…", resource_metadata="…"`.
pub fn challenge_invalid(metadata_url: &str, description: &str) -> String {
    format!(
        "Bearer error=\"invalid_token\", error_description={}, resource_metadata={}",
        quote(&truncate(description)),
        quote(metadata_url)
    )
}

/// The 403 challenge for a valid token that lacks scopes:
/// `Bearer error="insufficient_scope", scope="…", resource_metadata="…"`, where `scope` lists
/// every scope the operation needs.
pub fn challenge_insufficient_scope(metadata_url: &str, scope: &str) -> String {
    format!(
        "Bearer error=\"insufficient_scope\", scope={}, resource_metadata={}",
        quote(scope),
        quote(metadata_url)
    )
}

/// The challenge used when no OAuth is configured (API keys, mTLS): `Bearer realm="mcpgate"`.
pub fn challenge_realm() -> String {
    "Bearer realm=\"mcpgate\"".to_owned()
}

fn truncate(s: &str) -> String {
    s.chars().take(MAX_DESCRIPTION).collect()
}

/// A quoted-string holding only the characters RFC 6750 allows in its parameters
/// (`%x20-21 / %x23-5B / %x5D-7E`): `"` becomes `'`, `\` becomes `/`, anything else outside the
/// set becomes `?`.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        out.push(match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        });
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).expect("url")
    }

    #[test]
    fn metadata_urls() {
        assert_eq!(
            metadata_url(&url("https://gw.example/mcp")),
            "https://gw.example/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url(&url("https://gw.example:8443/a/mcp?x=1#f")),
            "https://gw.example:8443/.well-known/oauth-protected-resource/a/mcp"
        );
        assert_eq!(
            metadata_url(&url("https://gw.example/")),
            "https://gw.example/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            metadata_url(&url("https://gw.example")),
            "https://gw.example/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn document() {
        let doc = ResourceMetadata {
            resource: "https://gw.example/mcp".into(),
            authorization_servers: vec!["https://as.example".into()],
            scopes_supported: vec!["mcp".into()],
            resource_name: Some("gateway".into()),
        }
        .to_json();
        assert_eq!(
            doc,
            serde_json::json!({
                "resource": "https://gw.example/mcp",
                "authorization_servers": ["https://as.example"],
                "scopes_supported": ["mcp"],
                "resource_name": "gateway",
                "bearer_methods_supported": ["header"],
            })
        );
    }

    #[test]
    fn challenges() {
        let m = "https://gw/.well-known/oauth-protected-resource/mcp";
        assert_eq!(
            challenge_missing(m, None),
            format!("Bearer resource_metadata=\"{m}\"")
        );
        assert_eq!(
            challenge_missing(m, Some("tool:a tool:b")),
            format!("Bearer resource_metadata=\"{m}\", scope=\"tool:a tool:b\"")
        );
        assert_eq!(
            challenge_invalid(m, "token expired"),
            format!(
                "Bearer error=\"invalid_token\", error_description=\"token expired\", \
                 resource_metadata=\"{m}\""
            )
        );
        assert_eq!(
            challenge_insufficient_scope(m, "tool:x"),
            format!(
                "Bearer error=\"insufficient_scope\", scope=\"tool:x\", resource_metadata=\"{m}\""
            )
        );
    }

    #[test]
    fn values_cannot_break_out() {
        let c = challenge_invalid("u\"rl", "bad \"quote\" \\ back\r\nInjected: 1\u{7f}é");
        let inner = c.strip_prefix("Bearer ").expect("prefix");
        assert!(!c.contains('\\') && !c.contains('\r') && !c.contains('\n'));
        assert!(c.chars().all(|ch| (' '..='~').contains(&ch)));
        // Exactly the six quotes of three parameters.
        assert_eq!(inner.matches('"').count(), 6, "{c}");
        let long = "x".repeat(1000);
        assert!(challenge_invalid("u", &long).len() < 300);
    }
}
