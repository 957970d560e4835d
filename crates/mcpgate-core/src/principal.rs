//! Who sent a message: the one identity type every authentication method produces.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

/// How a principal was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// Nobody authenticated the caller (authentication is not configured).
    None,
    /// An API key from the configuration (`Authorization: Bearer` or `X-API-Key`).
    ApiKey,
    /// A JWT access token from an OAuth 2.1 authorization server.
    Jwt,
    /// A short-lived scoped token the gateway issued itself.
    GatewayToken,
    /// A TLS client certificate.
    Mtls,
    /// The stdio front's configured local principal.
    Stdio,
}

impl AuthMethod {
    /// A stable short name, used in audit records and as the Cedar context `auth_method`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ApiKey => "api_key",
            Self::Jwt => "jwt",
            Self::GatewayToken => "gateway_token",
            Self::Mtls => "mtls",
            Self::Stdio => "stdio",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of caller a principal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PrincipalKind {
    /// A person (or the agent acting for one).
    #[default]
    User,
    /// A machine identity: a service, a workload, a CI job.
    Service,
    /// An autonomous agent with an identity of its own.
    Agent,
}

impl PrincipalKind {
    /// A stable short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Service => "service",
            Self::Agent => "agent",
        }
    }

    /// Parses [`PrincipalKind::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "service" => Some(Self::Service),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

/// An authenticated (or anonymous) caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// A stable identifier: the API key's configured id, the JWT `sub`, the certificate's
    /// subject name, the stdio front's configured user.
    pub id: String,
    /// What kind of caller it is.
    pub kind: PrincipalKind,
    /// Groups the principal belongs to (configured, or from a token claim).
    pub groups: Vec<String>,
    /// Further attributes: configured per key, or the token's claims.
    pub attributes: Map<String, Value>,
    /// How it authenticated.
    pub method: AuthMethod,
    /// The scopes its credential grants, when the credential has scopes (OAuth tokens and
    /// gateway-issued tokens); `None` when the credential is not scoped.
    pub scopes: Option<Vec<String>>,
    /// For a gateway-issued token: the principal that obtained it (its `id` is the same).
    pub delegated: bool,
}

impl Principal {
    /// A principal with no groups, attributes or scopes.
    pub fn new(id: impl Into<String>, kind: PrincipalKind, method: AuthMethod) -> Self {
        Self {
            id: id.into(),
            kind,
            groups: Vec::new(),
            attributes: Map::new(),
            method,
            scopes: None,
            delegated: false,
        }
    }

    /// The shared principal of every unauthenticated caller.
    pub fn anonymous() -> Arc<Self> {
        static ANONYMOUS: OnceLock<Arc<Principal>> = OnceLock::new();
        Arc::clone(ANONYMOUS.get_or_init(|| {
            Arc::new(Self::new(
                "anonymous",
                PrincipalKind::User,
                AuthMethod::None,
            ))
        }))
    }

    /// True when the principal's credential grants `scope` (always true for an unscoped
    /// credential). A scope `kind:*` grants every `kind:…` scope.
    pub fn has_scope(&self, scope: &str) -> bool {
        let Some(scopes) = &self.scopes else {
            return true;
        };
        scopes.iter().any(|s| {
            s == scope
                || s.strip_suffix('*')
                    .is_some_and(|prefix| prefix.ends_with(':') && scope.starts_with(prefix))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let mut p = Principal::new("a", PrincipalKind::User, AuthMethod::GatewayToken);
        assert!(p.has_scope("tool:echo"));
        p.scopes = Some(vec!["tool:echo".into(), "resource:*".into()]);
        assert!(p.has_scope("tool:echo"));
        assert!(!p.has_scope("tool:add"));
        assert!(p.has_scope("resource:demo://readme"));
        assert!(!p.has_scope("prompt:x"));
    }

    #[test]
    fn anonymous_is_shared() {
        assert!(Arc::ptr_eq(
            &Principal::anonymous(),
            &Principal::anonymous()
        ));
        assert_eq!(Principal::anonymous().method, AuthMethod::None);
    }
}
