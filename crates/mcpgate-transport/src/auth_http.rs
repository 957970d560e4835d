//! The HTTP endpoints of authentication: RFC 9728 protected-resource metadata and the
//! gateway's delegation-token endpoint.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use mcpgate_core::{AuthMethod, Denial};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::gateway::{Caller, Gateway};

/// The protected-resource metadata document, when OAuth is configured (a resource URI and
/// at least one authorization server).
pub(crate) fn resource_metadata(gw: &Gateway) -> Option<Value> {
    let auth = gw.config.auth.as_ref()?;
    let resource = auth.resource.as_ref()?;
    if auth.authorization_servers.is_empty() {
        return None;
    }
    let mut doc = json!({
        "resource": resource.as_str(),
        "authorization_servers": auth.authorization_servers,
        "bearer_methods_supported": ["header"],
        "resource_name": "mcpgate",
    });
    if !auth.scopes_supported.is_empty() {
        doc["scopes_supported"] = json!(auth.scopes_supported);
    }
    Some(doc)
}

/// The body of `POST /auth/token` (JSON or form-encoded).
#[derive(Debug, Deserialize)]
struct TokenRequest {
    /// Space-separated scopes: `tool:<name>`, `resource:<uri>`, `prompt:<name>`.
    scope: String,
    /// Requested lifetime in seconds (clamped to the configured maximum).
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Issues a delegation token to an authenticated caller.
pub(crate) fn issue_token(
    gw: &Gateway,
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let Some(issuer) = gw.authenticator().and_then(|a| a.issuer()) else {
        return oauth_error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "this gateway does not issue tokens: configure `[auth.tokens]`",
        );
    };
    if let Some(denial) = &caller.failure {
        return denial_response(denial);
    }
    if caller.principal.method == AuthMethod::None {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "authenticate first",
        );
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let parsed: Result<TokenRequest, String> = if form {
        parse_form(body)
    } else {
        serde_json::from_slice(body)
            .map_err(|e| format!("the body must be JSON like {{\"scope\": \"tool:echo\"}}: {e}"))
    };
    let request = match parsed {
        Ok(r) => r,
        Err(message) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &message),
    };
    let scopes: Vec<String> = request
        .scope
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "name at least one scope, such as `tool:echo`",
        );
    }
    let ttl = Duration::from_secs(request.expires_in.unwrap_or(u64::MAX));
    match issuer.issue(&caller.principal, scopes, ttl) {
        Ok(token) => {
            tracing::info!(principal = %caller.principal.id, scope = %token.scope, expires_in = token.expires_in, "issued a delegation token");
            let body = json!({
                "access_token": token.access_token,
                "token_type": "Bearer",
                "expires_in": token.expires_in,
                "scope": token.scope,
            });
            let mut resp = Response::new(axum::body::Body::from(body.to_string()));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(error) => oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &error.to_string()),
    }
}

fn parse_form(body: &[u8]) -> Result<TokenRequest, String> {
    let mut scope = None;
    let mut expires_in = None;
    for (key, value) in url::form_urlencoded::parse(body) {
        match key.as_ref() {
            "scope" => scope = Some(value.into_owned()),
            "expires_in" => {
                expires_in = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| "`expires_in` must be a number of seconds".to_owned())?,
                );
            }
            _ => {}
        }
    }
    Ok(TokenRequest {
        scope: scope.ok_or("`scope` is required")?,
        expires_in,
    })
}

fn denial_response(denial: &Denial) -> Response {
    let status = StatusCode::from_u16(denial.http_status(mcpgate_core::Era::Modern))
        .unwrap_or(StatusCode::UNAUTHORIZED);
    let mut resp = oauth_error(status, "invalid_token", &denial.to_string());
    if let Some(challenge) = denial.www_authenticate()
        && let Ok(value) = HeaderValue::from_str(challenge)
    {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    resp
}

/// An OAuth-style error body (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    let mut resp = Response::new(axum::body::Body::from(body.to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
