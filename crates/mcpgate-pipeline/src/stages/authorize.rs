//! Authorization: Cedar policies decide every call and filter every list.
//!
//! Requests that act on a tool, resource, prompt or the server itself (see
//! [`mcpgate_policy::classify`]) need a permit; the default is deny. A refusal is
//! [`Denial::Forbidden`], which says only that the request was denied: a tool that does not
//! exist is refused in exactly the same words as one the principal may not use, so nobody
//! learns what exists by probing. List results (`tools/list`, `resources/list`,
//! `resources/templates/list`, `prompts/list`) are filtered on the way back to what the
//! principal may see.
//!
//! A gateway-issued delegation token narrows this further: its scopes (`tool:<name>`,
//! `resource:<uri>`, `prompt:<name>`) bound what the policies allow, for calls and lists alike.

use std::sync::Arc;

use mcpgate_core::{AuthMethod, Denial, Direction, Era, Exchange, Kind, Message, Principal};
use mcpgate_policy::{
    Action, AuthzRequestBase, PolicyEngine, Target, TargetKind, classify, list_spec,
};
use serde_json::Value;

use crate::{Stage, Stop};

/// The authorization stage: Cedar policies (when configured) and delegation-token scopes.
#[derive(Debug, Default)]
pub struct Authorize {
    engine: Option<Arc<PolicyEngine>>,
}

impl Authorize {
    /// Authorization by `engine`'s policies; `None` leaves only delegation scopes to check.
    pub fn new(engine: Option<Arc<PolicyEngine>>) -> Self {
        Self { engine }
    }

    /// The policy engine, for reloads.
    pub fn engine(&self) -> Option<&Arc<PolicyEngine>> {
        self.engine.as_ref()
    }

    fn decide(&self, x: &Exchange, method: &str) -> Result<(), Denial> {
        let Some((action, kind)) = classify(method) else {
            return Ok(());
        };
        let item = x.target();
        let target = match (kind, item.as_deref()) {
            (TargetKind::Server, _) => Target::Server,
            (kind, Some(id)) => kind.target(id),
            // Validation lets a call without a name reach the upstream, which refuses it; a
            // policy cannot decide about nothing, so it is denied here.
            (_, None) => return Err(Denial::Forbidden),
        };
        if let Some(id) = target.id()
            && !scope_allows(&x.principal, kind, id)
        {
            tracing::debug!(principal = %x.principal.id, action = action.as_str(), "outside the delegation token's scopes");
            return Err(Denial::Forbidden);
        }
        let Some(engine) = &self.engine else {
            return Ok(());
        };
        let arguments = match action {
            Action::CallTool | Action::GetPrompt => x.params().and_then(|p| p.get("arguments")),
            _ => None,
        };
        let base = base(x);
        let decision = engine.authorize(&base.request(action, target, arguments));
        if decision.allowed {
            return Ok(());
        }
        tracing::debug!(
            principal = %x.principal.id,
            action = action.as_str(),
            policies = ?decision.determining,
            errors = ?decision.errors,
            "denied by policy"
        );
        Err(Denial::Forbidden)
    }
}

fn era_name(x: &Exchange) -> &'static str {
    match x.version.era() {
        Era::Legacy => "legacy",
        Era::Modern => "modern",
    }
}

fn base(x: &Exchange) -> AuthzRequestBase<'_> {
    AuthzRequestBase {
        principal: &x.principal,
        upstream: &x.upstream,
        era: era_name(x),
        protocol_version: x.version.as_str(),
        extra: &x.facts,
    }
}

/// Whether a delegation token's scopes cover an item. Other credentials' scopes are OAuth
/// scopes of the authorization server, not item names, so they are left to the policies.
fn scope_allows(principal: &Principal, kind: TargetKind, id: &str) -> bool {
    if principal.method != AuthMethod::GatewayToken {
        return true;
    }
    let prefix = match kind {
        TargetKind::Tool => "tool",
        TargetKind::Resource | TargetKind::ResourceTemplate => "resource",
        TargetKind::Prompt => "prompt",
        TargetKind::Server => return true,
    };
    principal.has_scope(&format!("{prefix}:{id}"))
}

impl Stage for Authorize {
    const NAME: &'static str = "authorize";

    async fn on_request(&self, x: &mut Exchange) -> Result<(), Stop> {
        if x.direction != Direction::ClientToServer || x.message.kind() != Kind::Request {
            return Ok(());
        }
        let Some(method) = x.message.method() else {
            return Ok(());
        };
        self.decide(x, method).map_err(Stop::Deny)
    }

    async fn on_response(&self, x: &Exchange, response: &mut Message) -> Result<(), Stop> {
        let Some(method) = x.message.method() else {
            return Ok(());
        };
        let Some(spec) = list_spec(method) else {
            return Ok(());
        };
        let scoped = x.principal.method == AuthMethod::GatewayToken;
        if self.engine.is_none() && !scoped {
            return Ok(());
        }
        let Some(mut result) = response.result_value() else {
            return Ok(());
        };
        let mut removed = 0;
        if let Some(engine) = &self.engine {
            removed += engine.filter_list(method, &base(x), &mut result);
        }
        if scoped && let Some(Value::Array(items)) = result.get_mut(spec.items) {
            let before = items.len();
            let kind = spec.action.target_kind();
            items.retain(|item| {
                item.get(spec.id)
                    .and_then(Value::as_str)
                    .is_some_and(|id| scope_allows(&x.principal, kind, id))
            });
            removed += before - items.len();
        }
        if removed > 0 {
            response.set_member("result", &result);
        }
        Ok(())
    }
}
