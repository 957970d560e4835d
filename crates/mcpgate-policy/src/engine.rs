//! The engine: the policy set in force, decisions and list filtering.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use cedar_policy::{
    ActionConstraint, Authorizer, Context, Effect, Entities, Entity, EntityId, EntityTypeName,
    EntityUid, PolicySet, Request, ResourceConstraint, RestrictedExpression, Schema, Validator,
};
use mcpgate_core::Principal;
use serde_json::Value;

use crate::action::{Action, Target, TargetKind, list_spec};
use crate::error::PolicyError;
use crate::load::{compile, content_hash, read_sources};

/// The Cedar schema every policy set is validated against (human-readable format).
pub const SCHEMA: &str = include_str!("../schema/mcp.cedarschema");

/// A request for a decision.
#[derive(Debug, Clone, Copy)]
pub struct AuthzRequest<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// What for.
    pub action: Action,
    /// The configured name of the upstream the request goes to.
    pub upstream: &'a str,
    /// What about: the upstream itself or one of its items.
    pub resource: Target<'a>,
    /// The tool's or prompt's arguments (`context.arguments`); `{}` when `None`.
    pub arguments: Option<&'a Value>,
    /// `"legacy"` or `"modern"`.
    pub era: &'a str,
    /// The negotiated protocol version.
    pub protocol_version: &'a str,
    /// Facts from other stages (`context.extra`), e.g. `signed`, `trust_level`.
    pub extra: &'a BTreeMap<String, Value>,
}

/// What every item of a list result shares: the request context without an action, item or
/// arguments.
#[derive(Debug, Clone, Copy)]
pub struct AuthzRequestBase<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// The configured name of the upstream.
    pub upstream: &'a str,
    /// `"legacy"` or `"modern"`.
    pub era: &'a str,
    /// The negotiated protocol version.
    pub protocol_version: &'a str,
    /// Facts from other stages (`context.extra`).
    pub extra: &'a BTreeMap<String, Value>,
}

impl<'a> AuthzRequestBase<'a> {
    /// The full request for an action on a target.
    pub fn request(
        &self,
        action: Action,
        resource: Target<'a>,
        arguments: Option<&'a Value>,
    ) -> AuthzRequest<'a> {
        AuthzRequest {
            principal: self.principal,
            action,
            upstream: self.upstream,
            resource,
            arguments,
            era: self.era,
            protocol_version: self.protocol_version,
            extra: self.extra,
        }
    }
}

/// The answer to an [`AuthzRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The ids of the policies that decided: the permits that allowed, or the forbids that
    /// denied (empty for a default deny).
    pub determining: Vec<String>,
    /// Evaluation errors, one line per failing policy (`policy `id`: message`). A policy that
    /// fails to evaluate never allows; a forbid that fails denies.
    pub errors: Vec<String>,
}

/// Whether [`PolicyEngine::reload`] changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The files are the same as the set in force.
    Unchanged,
    /// A new set is in force.
    Reloaded {
        /// How many policies it has.
        policies: usize,
    },
}

/// A validated policy set.
struct Loaded {
    set: PolicySet,
    hash: [u8; 32],
    forbids: HashSet<String>,
    /// Per action (in `Action::ALL` order), the policies that can apply to it.
    index: Vec<ActionIndex>,
}

/// The policies that can apply to one action. Cedar evaluates every policy of the set it is
/// given, so the engine gives it only those whose scope can match: a policy whose scope names
/// another action, or another item (`resource == ...`), is false for the request without
/// evaluating its conditions, so leaving it out changes neither the decision nor its
/// determining policies or errors. (The schema has no action groups, so `action in [...]`
/// matches exactly the actions listed.)
struct ActionIndex {
    /// Policies whose resource scope is not a single entity.
    generic: PolicySet,
    /// For each entity named by a `resource == ...` scope: `generic` and those policies.
    by_resource: HashMap<EntityUid, PolicySet>,
}

impl Loaded {
    fn policies_for(&self, action: Action, resource: &EntityUid) -> Option<&PolicySet> {
        let index = self.index.get(action.index())?;
        Some(index.by_resource.get(resource).unwrap_or(&index.generic))
    }
}

/// Entity type and action names, built once.
struct Names {
    user: EntityTypeName,
    group: EntityTypeName,
    server: EntityTypeName,
    targets: [EntityTypeName; 5],
    actions: Vec<EntityUid>,
}

impl Names {
    fn new() -> Result<Self, PolicyError> {
        let ty = |name: &str| {
            EntityTypeName::from_str(&format!("Mcp::{name}"))
                .map_err(|e| PolicyError::Schema(e.to_string()))
        };
        let action = ty("Action")?;
        Ok(Self {
            user: ty("User")?,
            group: ty("Group")?,
            server: ty("Server")?,
            targets: [
                ty(TargetKind::Server.entity_type())?,
                ty(TargetKind::Tool.entity_type())?,
                ty(TargetKind::Resource.entity_type())?,
                ty(TargetKind::ResourceTemplate.entity_type())?,
                ty(TargetKind::Prompt.entity_type())?,
            ],
            actions: Action::ALL
                .iter()
                .map(|a| {
                    EntityUid::from_type_name_and_id(action.clone(), EntityId::new(a.as_str()))
                })
                .collect(),
        })
    }

    fn target_type(&self, kind: TargetKind) -> &EntityTypeName {
        // INVARIANT: `targets` has one entry per `TargetKind`, in declaration order.
        &self.targets[kind.index()]
    }

    fn action(&self, action: Action) -> &EntityUid {
        // INVARIANT: `actions` has one entry per `Action::ALL`, in order.
        &self.actions[action.index()]
    }
}

/// The Cedar authorization engine: the policy set in force (swapped atomically on reload),
/// decisions, and list filtering.
pub struct PolicyEngine {
    paths: Vec<PathBuf>,
    validator: Validator,
    names: Names,
    authorizer: Authorizer,
    current: ArcSwap<Loaded>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("paths", &self.paths)
            .field("policies", &self.policy_count())
            .finish_non_exhaustive()
    }
}

/// The parts of a request shared by the items of a list.
struct Prepared {
    principal: Entity,
    server: Entity,
    context: Context,
}

impl PolicyEngine {
    /// Loads and validates the policies of `paths` (each a `.cedar` file, or a directory whose
    /// `.cedar` files are read in name order, not recursively).
    pub fn load(paths: &[PathBuf]) -> Result<Self, PolicyError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(SCHEMA).map_err(|e| PolicyError::Schema(e.to_string()))?;
        let validator = Validator::new(schema);
        let names = Names::new()?;
        let files = read_sources(paths)?;
        let hash = content_hash(&files);
        let set = compile(&files, &validator)?;
        let current = ArcSwap::from_pointee(loaded(set, hash, &names)?);
        Ok(Self {
            paths: paths.to_vec(),
            validator,
            names,
            authorizer: Authorizer::new(),
            current,
        })
    }

    /// Reads the files again and puts the new set in force if they changed. On any error the
    /// set in force stays in force.
    pub fn reload(&self) -> Result<ReloadOutcome, PolicyError> {
        let files = read_sources(&self.paths)?;
        let hash = content_hash(&files);
        if hash == self.current.load().hash {
            return Ok(ReloadOutcome::Unchanged);
        }
        let set = compile(&files, &self.validator)?;
        let policies = set.num_of_policies();
        self.current
            .store(Arc::new(loaded(set, hash, &self.names)?));
        Ok(ReloadOutcome::Reloaded { policies })
    }

    /// How many policies are in force.
    pub fn policy_count(&self) -> usize {
        self.current.load().set.num_of_policies()
    }

    /// The ids of the policies in force, sorted.
    pub fn policy_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .current
            .load()
            .set
            .policies()
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// The configured policy paths.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Decides a request. Default deny; any forbid that applies denies.
    pub fn authorize(&self, req: &AuthzRequest<'_>) -> Decision {
        let base = AuthzRequestBase {
            principal: req.principal,
            upstream: req.upstream,
            era: req.era,
            protocol_version: req.protocol_version,
            extra: req.extra,
        };
        let loaded = self.current.load();
        match self.prepare(&base, req.arguments) {
            Ok(prepared) => self.decide(&loaded, &prepared, req.action, req.resource),
            Err(error) => deny_with(error),
        }
    }

    /// Removes from a list method's `result` the items the principal may not see, and returns
    /// how many it removed. `method` is one of `tools/list`, `resources/list`,
    /// `resources/templates/list` and `prompts/list` (others are left alone); items without
    /// a string id are removed.
    pub fn filter_list(
        &self,
        method: &str,
        base: &AuthzRequestBase<'_>,
        result: &mut Value,
    ) -> usize {
        let Some(spec) = list_spec(method) else {
            return 0;
        };
        let Some(Value::Array(items)) = result.get_mut(spec.items) else {
            return 0;
        };
        let before = items.len();
        match self.prepare(base, None) {
            Ok(prepared) => {
                let loaded = self.current.load();
                let kind = spec.action.target_kind();
                items.retain(|item| match item.get(spec.id) {
                    Some(Value::String(id)) => {
                        self.decide(&loaded, &prepared, spec.action, kind.target(id))
                            .allowed
                    }
                    _ => false,
                });
            }
            Err(_) => items.clear(),
        }
        before - items.len()
    }

    fn prepare(
        &self,
        base: &AuthzRequestBase<'_>,
        arguments: Option<&Value>,
    ) -> Result<Prepared, String> {
        let names = &self.names;
        let p = base.principal;
        let uid = EntityUid::from_type_name_and_id(names.user.clone(), EntityId::new(&p.id));
        let parents = p
            .groups
            .iter()
            .map(|g| EntityUid::from_type_name_and_id(names.group.clone(), EntityId::new(g)))
            .collect();
        let mut attrs = HashMap::with_capacity(3);
        attrs.insert("kind".to_owned(), string(p.kind.as_str()));
        attrs.insert("auth_method".to_owned(), string(p.method.as_str()));
        attrs.insert("claims".to_owned(), record(&p.attributes)?);
        let principal = Entity::new(uid, attrs, parents).map_err(|e| e.to_string())?;
        let server_uid =
            EntityUid::from_type_name_and_id(names.server.clone(), EntityId::new(base.upstream));
        let server = Entity::new_no_attrs(server_uid, HashSet::new());

        let arguments = match arguments {
            None => RestrictedExpression::new_record([]).map_err(|e| e.to_string())?,
            Some(Value::Object(map)) => record(map)?,
            Some(_) => return Err("the arguments are not a JSON object".to_owned()),
        };
        let scopes = p.scopes.iter().flatten().map(|s| string(s));
        let extra = RestrictedExpression::new_record(
            base.extra
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), json_to_expr(v)?))),
        )
        .map_err(|e| e.to_string())?;
        let context = Context::from_pairs([
            ("arguments".to_owned(), arguments),
            ("era".to_owned(), string(base.era)),
            ("protocol_version".to_owned(), string(base.protocol_version)),
            ("auth_method".to_owned(), string(p.method.as_str())),
            ("scopes".to_owned(), RestrictedExpression::new_set(scopes)),
            (
                "delegated".to_owned(),
                RestrictedExpression::new_bool(p.delegated),
            ),
            ("upstream".to_owned(), string(base.upstream)),
            ("extra".to_owned(), extra),
        ])
        .map_err(|e| e.to_string())?;
        Ok(Prepared {
            principal,
            server,
            context,
        })
    }

    fn decide(
        &self,
        loaded: &Loaded,
        prepared: &Prepared,
        action: Action,
        target: Target<'_>,
    ) -> Decision {
        if action.target_kind() != target.kind() {
            return deny_with(format!(
                "action {action} does not apply to a {}",
                target.kind().entity_type()
            ));
        }
        let server_uid = prepared.server.uid();
        let (resource_uid, entities) = match target.id() {
            None => (
                server_uid,
                Entities::from_entities(
                    [prepared.principal.clone(), prepared.server.clone()],
                    None,
                ),
            ),
            Some(id) => {
                let uid = EntityUid::from_type_name_and_id(
                    self.names.target_type(target.kind()).clone(),
                    EntityId::new(id),
                );
                let key = if target.kind() == TargetKind::ResourceTemplate {
                    "uri_template"
                } else if target.kind() == TargetKind::Resource {
                    "uri"
                } else {
                    "name"
                };
                let attrs = HashMap::from([
                    (key.to_owned(), string(id)),
                    (
                        "server".to_owned(),
                        RestrictedExpression::new_entity_uid(server_uid.clone()),
                    ),
                ]);
                let item = match Entity::new(uid.clone(), attrs, HashSet::from([server_uid])) {
                    Ok(item) => item,
                    Err(e) => return deny_with(e.to_string()),
                };
                (
                    uid,
                    Entities::from_entities(
                        [prepared.principal.clone(), prepared.server.clone(), item],
                        None,
                    ),
                )
            }
        };
        let entities = match entities {
            Ok(entities) => entities,
            Err(e) => return deny_with(e.to_string()),
        };
        let request_resource = &resource_uid;
        let request = match Request::new(
            prepared.principal.uid(),
            self.names.action(action).clone(),
            resource_uid.clone(),
            prepared.context.clone(),
            None,
        ) {
            Ok(request) => request,
            Err(e) => return deny_with(e.to_string()),
        };
        let Some(policies) = loaded.policies_for(action, request_resource) else {
            return deny_with(format!("action {action} is not indexed"));
        };
        let response = self.authorizer.is_authorized(&request, policies, &entities);
        let mut decision = Decision {
            allowed: response.decision() == cedar_policy::Decision::Allow,
            determining: response
                .diagnostics()
                .reason()
                .map(ToString::to_string)
                .collect(),
            errors: Vec::new(),
        };
        let mut failed_forbids = Vec::new();
        for error in response.diagnostics().errors() {
            let cedar_policy::AuthorizationError::PolicyEvaluationError(error) = error;
            let id = error.policy_id().to_string();
            decision
                .errors
                .push(format!("policy `{id}`: {}", error.inner()));
            if loaded.forbids.contains(&id) {
                failed_forbids.push(id);
            }
        }
        // Fail closed: a forbid that could not be evaluated might have applied.
        if !failed_forbids.is_empty() {
            if decision.allowed {
                decision.determining.clear();
            }
            decision.allowed = false;
            decision.determining.extend(failed_forbids);
        }
        decision.determining.sort();
        decision
    }
}

fn loaded(set: PolicySet, hash: [u8; 32], names: &Names) -> Result<Loaded, PolicyError> {
    let forbids = set
        .policies()
        .filter(|p| p.effect() == Effect::Forbid)
        .map(|p| p.id().to_string())
        .collect();
    let index_err = |e: cedar_policy::PolicySetError| PolicyError::Index(e.to_string());
    let mut index = Vec::with_capacity(Action::ALL.len());
    for action in Action::ALL {
        let uid = names.action(action);
        let applies = |p: &cedar_policy::Policy| match p.action_constraint() {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(a) => &a == uid,
            ActionConstraint::In(list) => list.contains(uid),
        };
        let mut generic = PolicySet::new();
        let mut specific: HashMap<EntityUid, Vec<cedar_policy::Policy>> = HashMap::new();
        for policy in set.policies().filter(|p| applies(p)) {
            match policy.resource_constraint() {
                ResourceConstraint::Eq(resource) => {
                    specific.entry(resource).or_default().push(policy.clone());
                }
                _ => generic.add(policy.clone()).map_err(index_err)?,
            }
        }
        let mut by_resource = HashMap::with_capacity(specific.len());
        for (resource, policies) in specific {
            let mut set = generic.clone();
            for policy in policies {
                set.add(policy).map_err(index_err)?;
            }
            by_resource.insert(resource, set);
        }
        index.push(ActionIndex {
            generic,
            by_resource,
        });
    }
    Ok(Loaded {
        set,
        hash,
        forbids,
        index,
    })
}

fn deny_with(error: String) -> Decision {
    Decision {
        allowed: false,
        determining: Vec::new(),
        errors: vec![error],
    }
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

fn record(map: &serde_json::Map<String, Value>) -> Result<RestrictedExpression, String> {
    RestrictedExpression::new_record(
        map.iter()
            .filter_map(|(k, v)| Some((k.clone(), json_to_expr(v)?))),
    )
    .map_err(|e| e.to_string())
}

/// A JSON value as a Cedar value, built directly (never through Cedar's JSON format, whose
/// `__entity` and `__extn` escapes would let a caller's arguments forge entity references).
/// `null` has no Cedar equivalent and is left out (so `has` is false for it); a number that
/// is not a 64-bit integer becomes its decimal text.
fn json_to_expr(value: &Value) -> Option<RestrictedExpression> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => RestrictedExpression::new_long(i),
            None => RestrictedExpression::new_string(n.to_string()),
        },
        Value::String(s) => RestrictedExpression::new_string(s.clone()),
        Value::Array(items) => RestrictedExpression::new_set(items.iter().filter_map(json_to_expr)),
        Value::Object(map) => record(map).ok()?,
    })
}
