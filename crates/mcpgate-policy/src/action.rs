//! The actions of the schema and which MCP methods need which.

use std::fmt;

/// An action of the `Mcp` namespace (`Mcp::Action::"<name>"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `initialize` and `server/discover` (resource: the server).
    Connect,
    /// `tools/call` (resource: the tool).
    CallTool,
    /// Whether a tool is listed in `tools/list` (resource: the tool).
    ListTools,
    /// `resources/read` (resource: the resource).
    ReadResource,
    /// Whether a resource is listed in `resources/list` (resource: the resource).
    ListResources,
    /// Whether a template is listed in `resources/templates/list` (resource: the template).
    ListResourceTemplates,
    /// `resources/subscribe` and `resources/unsubscribe` (resource: the resource).
    Subscribe,
    /// `prompts/get` (resource: the prompt).
    GetPrompt,
    /// Whether a prompt is listed in `prompts/list` (resource: the prompt).
    ListPrompts,
    /// `completion/complete` (resource: the server).
    Complete,
    /// `logging/setLevel` (resource: the server).
    SetLogLevel,
}

impl Action {
    /// Every action, in schema order.
    pub const ALL: [Action; 11] = [
        Action::Connect,
        Action::CallTool,
        Action::ListTools,
        Action::ReadResource,
        Action::ListResources,
        Action::ListResourceTemplates,
        Action::Subscribe,
        Action::GetPrompt,
        Action::ListPrompts,
        Action::Complete,
        Action::SetLogLevel,
    ];

    /// The action's id in the schema, e.g. `"call_tool"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Connect => "connect",
            Action::CallTool => "call_tool",
            Action::ListTools => "list_tools",
            Action::ReadResource => "read_resource",
            Action::ListResources => "list_resources",
            Action::ListResourceTemplates => "list_resource_templates",
            Action::Subscribe => "subscribe",
            Action::GetPrompt => "get_prompt",
            Action::ListPrompts => "list_prompts",
            Action::Complete => "complete",
            Action::SetLogLevel => "set_log_level",
        }
    }

    /// The kind of resource the action applies to.
    pub fn target_kind(self) -> TargetKind {
        match self {
            Action::Connect | Action::Complete | Action::SetLogLevel => TargetKind::Server,
            Action::CallTool | Action::ListTools => TargetKind::Tool,
            Action::ReadResource | Action::ListResources | Action::Subscribe => {
                TargetKind::Resource
            }
            Action::ListResourceTemplates => TargetKind::ResourceTemplate,
            Action::GetPrompt | Action::ListPrompts => TargetKind::Prompt,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of thing a request is about: the upstream itself or one of its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// The upstream server (`Mcp::Server`).
    Server,
    /// A tool, by name (`Mcp::Tool`).
    Tool,
    /// A resource, by URI (`Mcp::Resource`).
    Resource,
    /// A resource template, by URI template (`Mcp::ResourceTemplate`).
    ResourceTemplate,
    /// A prompt, by name (`Mcp::Prompt`).
    Prompt,
}

impl TargetKind {
    /// The target of this kind with the given id (name, URI or URI template; ignored for
    /// [`TargetKind::Server`], whose id is the request's upstream).
    pub fn target(self, id: &str) -> Target<'_> {
        match self {
            TargetKind::Server => Target::Server,
            TargetKind::Tool => Target::Tool(id),
            TargetKind::Resource => Target::Resource(id),
            TargetKind::ResourceTemplate => Target::ResourceTemplate(id),
            TargetKind::Prompt => Target::Prompt(id),
        }
    }

    /// The entity type's name in the `Mcp` namespace, e.g. `"Tool"`.
    pub fn entity_type(self) -> &'static str {
        match self {
            TargetKind::Server => "Server",
            TargetKind::Tool => "Tool",
            TargetKind::Resource => "Resource",
            TargetKind::ResourceTemplate => "ResourceTemplate",
            TargetKind::Prompt => "Prompt",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target<'a> {
    /// The upstream server itself.
    Server,
    /// A tool of the upstream, by name.
    Tool(&'a str),
    /// A resource of the upstream, by URI.
    Resource(&'a str),
    /// A resource template of the upstream, by URI template.
    ResourceTemplate(&'a str),
    /// A prompt of the upstream, by name.
    Prompt(&'a str),
}

impl<'a> Target<'a> {
    /// The kind of target.
    pub fn kind(self) -> TargetKind {
        match self {
            Target::Server => TargetKind::Server,
            Target::Tool(_) => TargetKind::Tool,
            Target::Resource(_) => TargetKind::Resource,
            Target::ResourceTemplate(_) => TargetKind::ResourceTemplate,
            Target::Prompt(_) => TargetKind::Prompt,
        }
    }

    /// The item's id (`None` for the server).
    pub fn id(self) -> Option<&'a str> {
        match self {
            Target::Server => None,
            Target::Tool(id)
            | Target::Resource(id)
            | Target::ResourceTemplate(id)
            | Target::Prompt(id) => Some(id),
        }
    }
}

/// The action and target kind a request method needs a decision for, or `None` when the
/// request needs none: the list methods (always allowed, their results are filtered item by
/// item with [`crate::PolicyEngine::filter_list`]), `ping`, and any other method.
/// Notifications and responses never need a decision.
pub fn classify(method: &str) -> Option<(Action, TargetKind)> {
    let action = match method {
        "initialize" | "server/discover" => Action::Connect,
        "tools/call" => Action::CallTool,
        "resources/read" => Action::ReadResource,
        "resources/subscribe" | "resources/unsubscribe" => Action::Subscribe,
        "prompts/get" => Action::GetPrompt,
        "completion/complete" => Action::Complete,
        "logging/setLevel" => Action::SetLogLevel,
        _ => return None,
    };
    Some((action, action.target_kind()))
}

/// How the result of a list method is filtered: the action deciding each item's
/// visibility, the member holding the items, and the item member holding its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListSpec {
    /// The visibility action.
    pub action: Action,
    /// The result member holding the array, e.g. `"tools"`.
    pub items: &'static str,
    /// The item member holding its id, e.g. `"name"`.
    pub id: &'static str,
}

/// The filtering of a list method's result, or `None` if `method` is not a list method.
pub fn list_spec(method: &str) -> Option<ListSpec> {
    let (action, items, id) = match method {
        "tools/list" => (Action::ListTools, "tools", "name"),
        "resources/list" => (Action::ListResources, "resources", "uri"),
        "resources/templates/list" => (
            Action::ListResourceTemplates,
            "resourceTemplates",
            "uriTemplate",
        ),
        "prompts/list" => (Action::ListPrompts, "prompts", "name"),
        _ => return None,
    };
    Some(ListSpec { action, items, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_map_to_actions() {
        assert_eq!(
            classify("initialize"),
            Some((Action::Connect, TargetKind::Server))
        );
        assert_eq!(
            classify("server/discover"),
            Some((Action::Connect, TargetKind::Server))
        );
        assert_eq!(
            classify("tools/call"),
            Some((Action::CallTool, TargetKind::Tool))
        );
        assert_eq!(
            classify("resources/read"),
            Some((Action::ReadResource, TargetKind::Resource))
        );
        assert_eq!(
            classify("resources/unsubscribe"),
            Some((Action::Subscribe, TargetKind::Resource))
        );
        assert_eq!(
            classify("prompts/get"),
            Some((Action::GetPrompt, TargetKind::Prompt))
        );
        assert_eq!(
            classify("completion/complete"),
            Some((Action::Complete, TargetKind::Server))
        );
        assert_eq!(
            classify("logging/setLevel"),
            Some((Action::SetLogLevel, TargetKind::Server))
        );
        for none in [
            "tools/list",
            "resources/list",
            "prompts/list",
            "ping",
            "notifications/initialized",
            "",
        ] {
            assert_eq!(classify(none), None, "{none}");
        }
        assert_eq!(
            list_spec("resources/templates/list").map(|s| s.id),
            Some("uriTemplate")
        );
        assert_eq!(list_spec("tools/call"), None);
    }

    #[test]
    fn indexes_match_all() {
        for (i, a) in Action::ALL.iter().enumerate() {
            assert_eq!(a.index(), i);
        }
    }
}
