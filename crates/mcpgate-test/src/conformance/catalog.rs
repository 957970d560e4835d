//! What the fixture offers: its tools, prompts, resources and their fixed contents, written
//! as JSON so that every field reaches the wire exactly as the conformance scenarios name it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

/// A 1×1 red PNG, base64-encoded.
pub(super) const RED_PIXEL_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";

/// The text of `test://static-text`.
pub(super) const STATIC_TEXT: &str = "This is the content of the static text resource.";

/// The tool whose `region` argument clients mirror into the `Mcp-Param-Region` header.
pub(super) const HEADER_TOOL: &str = "test_header_param";

/// The name of the tool whose schema uses JSON Schema 2020-12 keywords.
pub(super) const SCHEMA_TOOL: &str = "json_schema_2020_12_tool";

/// A short WAV file (8 kHz, 8-bit mono, 16 samples of silence), base64-encoded.
pub(super) fn silent_wav() -> String {
    const SAMPLES: u32 = 16;
    const RATE: u32 = 8000;
    let mut wav = Vec::with_capacity(44 + SAMPLES as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + SAMPLES).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&RATE.to_le_bytes()); // byte rate: 1 byte per sample
    wav.extend_from_slice(&1u16.to_le_bytes()); // block align
    wav.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&SAMPLES.to_le_bytes());
    wav.extend(std::iter::repeat_n(0x80u8, SAMPLES as usize));
    BASE64.encode(wav)
}

fn no_args() -> Value {
    json!({ "type": "object", "properties": {} })
}

fn tool(name: &str, description: &str, input_schema: Value) -> Value {
    json!({ "name": name, "description": description, "inputSchema": input_schema })
}

/// Every tool, in the order `tools/list` returns them.
pub(super) fn tools() -> Vec<Value> {
    vec![
        tool("test_simple_text", "Returns one text block.", no_args()),
        tool(
            "test_image_content",
            "Returns one image block (a 1x1 PNG).",
            no_args(),
        ),
        tool(
            "test_audio_content",
            "Returns one audio block (a short WAV).",
            no_args(),
        ),
        tool(
            "test_embedded_resource",
            "Returns one embedded text resource.",
            no_args(),
        ),
        tool(
            "test_multiple_content_types",
            "Returns a text, an image and an embedded resource block.",
            no_args(),
        ),
        tool(
            "test_tool_with_logging",
            "Sends three info log messages while it runs.",
            no_args(),
        ),
        tool(
            "test_tool_with_progress",
            "Reports progress 0, 50 and 100 of 100 when given a progress token.",
            no_args(),
        ),
        tool(
            "test_error_handling",
            "Always fails with a tool error result.",
            no_args(),
        ),
        tool(
            "test_sampling",
            "Asks the client's model to answer `prompt`.",
            json!({
                "type": "object",
                "properties": { "prompt": { "type": "string", "description": "The prompt for the model" } },
                "required": ["prompt"],
            }),
        ),
        tool(
            "test_elicitation",
            "Asks the user for a username and an email address, showing `message`.",
            json!({
                "type": "object",
                "properties": { "message": { "type": "string", "description": "What to show the user" } },
                "required": ["message"],
            }),
        ),
        tool(
            "test_elicitation_sep1034_defaults",
            "Elicits primitive fields that all carry default values.",
            no_args(),
        ),
        tool(
            "test_elicitation_sep1330_enums",
            "Elicits every kind of enum field.",
            no_args(),
        ),
        tool(
            SCHEMA_TOOL,
            "Tool with JSON Schema 2020-12 features",
            schema_2020_12(),
        ),
        tool(
            HEADER_TOOL,
            "Echoes `region`, which clients mirror into the Mcp-Param-Region header.",
            json!({
                "type": "object",
                "properties": {
                    "region": { "type": "string", "x-mcp-header": "Region", "description": "A region name" },
                },
                "required": ["region"],
            }),
        ),
        tool(
            "test_missing_capability",
            "Needs the client's sampling capability; fails with -32021 without it.",
            no_args(),
        ),
        tool(
            "test_streaming_elicitation",
            "Asks the user to confirm; on 2026-07-28 the answer is an input-required result.",
            no_args(),
        ),
        tool(
            "test_logging_tool",
            "Logs two messages, only when the request asked for log messages.",
            no_args(),
        ),
        tool(
            "test_trigger_tool_change",
            "Announces a change of the tool list to open subscriptions.",
            no_args(),
        ),
        tool(
            "test_trigger_prompt_change",
            "Announces a change of the prompt list to open subscriptions.",
            no_args(),
        ),
        tool(
            "test_input_required_result_elicitation",
            "Asks for the user's name, then greets them.",
            no_args(),
        ),
        tool(
            "test_input_required_result_sampling",
            "Asks the client's model a question, then returns its answer.",
            no_args(),
        ),
        tool(
            "test_input_required_result_list_roots",
            "Asks for the client's roots, then lists them.",
            no_args(),
        ),
        tool(
            "test_input_required_result_request_state",
            "Asks for a confirmation and checks the request state it handed out.",
            no_args(),
        ),
        tool(
            "test_input_required_result_multiple_inputs",
            "Asks for a name, a model greeting and the roots at once.",
            no_args(),
        ),
        tool(
            "test_input_required_result_multi_round",
            "Asks for a name, then a favourite colour, then answers.",
            no_args(),
        ),
        tool(
            "test_input_required_result_tampered_state",
            "Asks for a confirmation; refuses a request state that was altered.",
            no_args(),
        ),
        tool(
            "test_input_required_result_capabilities",
            "Asks only for the inputs the client declared it can provide.",
            no_args(),
        ),
    ]
}

/// The input schema of [`SCHEMA_TOOL`].
fn schema_2020_12() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {
                    "street": { "type": "string" },
                    "city": { "type": "string" },
                },
            },
        },
        "properties": {
            "name": { "type": "string" },
            "address": { "$ref": "#/$defs/address" },
            "contactMethod": { "type": "string", "enum": ["phone", "email"] },
            "phone": { "type": "string" },
            "email": { "type": "string" },
        },
        "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
        "if": {
            "properties": { "contactMethod": { "const": "phone" } },
            "required": ["contactMethod"],
        },
        "then": { "required": ["phone"] },
        "else": { "required": ["email"] },
        "additionalProperties": false,
    })
}

/// Every prompt, in the order `prompts/list` returns them.
pub(super) fn prompts() -> Vec<Value> {
    vec![
        json!({
            "name": "test_simple_prompt",
            "description": "A prompt without arguments.",
        }),
        json!({
            "name": "test_prompt_with_arguments",
            "description": "A prompt built from two arguments.",
            "arguments": [
                { "name": "arg1", "description": "First test argument", "required": true },
                { "name": "arg2", "description": "Second test argument", "required": true },
            ],
        }),
        json!({
            "name": "test_prompt_with_embedded_resource",
            "description": "A prompt that embeds the resource named by `resourceUri`.",
            "arguments": [
                { "name": "resourceUri", "description": "URI of the resource to embed", "required": true },
            ],
        }),
        json!({
            "name": "test_prompt_with_image",
            "description": "A prompt with an image.",
        }),
        json!({
            "name": "test_input_required_result_prompt",
            "description": "A prompt that first asks the user for context (2026-07-28).",
        }),
    ]
}

/// The direct resources, in the order `resources/list` returns them.
pub(super) fn resources() -> Vec<Value> {
    vec![
        json!({
            "uri": "test://static-text",
            "name": "static-text",
            "description": "A fixed text resource.",
            "mimeType": "text/plain",
        }),
        json!({
            "uri": "test://static-binary",
            "name": "static-binary",
            "description": "A fixed binary resource (a 1x1 PNG).",
            "mimeType": "image/png",
        }),
        json!({
            "uri": "test://watched-resource",
            "name": "watched-resource",
            "description": "A text resource clients may subscribe to.",
            "mimeType": "text/plain",
        }),
    ]
}

/// The resource templates.
pub(super) fn resource_templates() -> Vec<Value> {
    vec![json!({
        "uriTemplate": "test://template/{id}/data",
        "name": "template-data",
        "description": "JSON data for the given id.",
        "mimeType": "application/json",
    })]
}

/// The contents of the resource at `uri`, or `None` when there is none.
pub(super) fn read(uri: &str) -> Option<Value> {
    let content = match uri {
        "test://static-text" => {
            json!({ "uri": uri, "mimeType": "text/plain", "text": STATIC_TEXT })
        }
        "test://static-binary" => {
            json!({ "uri": uri, "mimeType": "image/png", "blob": RED_PIXEL_PNG })
        }
        "test://watched-resource" => json!({
            "uri": uri,
            "mimeType": "text/plain",
            "text": "This resource is watched for changes.",
        }),
        _ => {
            let id = uri
                .strip_prefix("test://template/")?
                .strip_suffix("/data")
                .filter(|id| !id.is_empty() && !id.contains('/'))?;
            let text =
                json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") });
            json!({ "uri": uri, "mimeType": "application/json", "text": text.to_string() })
        }
    };
    Some(json!({ "contents": [content] }))
}

/// A text content block.
pub(super) fn text(text: impl Into<String>) -> Value {
    json!({ "type": "text", "text": text.into() })
}

/// The content of the tools that need no input and no time.
pub(super) fn fixed_tool_result(name: &str) -> Option<Value> {
    let content = match name {
        "test_simple_text" => vec![text("This is a simple text response for testing.")],
        "test_image_content" => {
            vec![json!({ "type": "image", "data": RED_PIXEL_PNG, "mimeType": "image/png" })]
        }
        "test_audio_content" => {
            vec![json!({ "type": "audio", "data": silent_wav(), "mimeType": "audio/wav" })]
        }
        "test_embedded_resource" => vec![json!({
            "type": "resource",
            "resource": {
                "uri": "test://embedded-resource",
                "mimeType": "text/plain",
                "text": "This is an embedded resource content.",
            },
        })],
        "test_multiple_content_types" => vec![
            text("Multiple content types test:"),
            json!({ "type": "image", "data": RED_PIXEL_PNG, "mimeType": "image/png" }),
            json!({
                "type": "resource",
                "resource": {
                    "uri": "test://mixed-content-resource",
                    "mimeType": "application/json",
                    "text": json!({ "test": "data", "value": 123 }).to_string(),
                },
            }),
        ],
        "test_error_handling" => {
            return Some(json!({
                "content": [text("This tool intentionally returns an error for testing")],
                "isError": true,
            }));
        }
        SCHEMA_TOOL => vec![text("The arguments matched the schema.")],
        _ => return None,
    };
    Some(json!({ "content": content }))
}

/// The messages of the prompts that need no input; `Err` names a missing argument.
pub(super) fn fixed_prompt(
    name: &str,
    args: &serde_json::Map<String, Value>,
) -> Option<Result<Value, String>> {
    let arg = |key: &str| -> Result<String, String> {
        args.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("missing required argument `{key}`"))
    };
    let messages = match name {
        "test_simple_prompt" => vec![json!({
            "role": "user",
            "content": text("This is a simple prompt for testing."),
        })],
        "test_prompt_with_arguments" => {
            let (a, b) = match (arg("arg1"), arg("arg2")) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => return Some(Err(e)),
            };
            vec![json!({
                "role": "user",
                "content": text(format!("Prompt with arguments: arg1='{a}', arg2='{b}'")),
            })]
        }
        "test_prompt_with_embedded_resource" => {
            let uri = match arg("resourceUri") {
                Ok(uri) => uri,
                Err(e) => return Some(Err(e)),
            };
            vec![
                json!({
                    "role": "user",
                    "content": {
                        "type": "resource",
                        "resource": {
                            "uri": uri,
                            "mimeType": "text/plain",
                            "text": "Embedded resource content for testing.",
                        },
                    },
                }),
                json!({ "role": "user", "content": text("Please process the embedded resource above.") }),
            ]
        }
        "test_prompt_with_image" => vec![
            json!({
                "role": "user",
                "content": { "type": "image", "data": RED_PIXEL_PNG, "mimeType": "image/png" },
            }),
            json!({ "role": "user", "content": text("Please analyze the image above.") }),
        ],
        _ => return None,
    };
    Some(Ok(json!({ "messages": messages })))
}

/// Completion values for an argument value prefix.
pub(super) fn complete(prefix: &str) -> Value {
    let values: Vec<&str> = ["paris", "park", "party", "test", "testing"]
        .into_iter()
        .filter(|v| v.starts_with(prefix))
        .collect();
    json!({ "completion": { "values": values, "total": values.len(), "hasMore": false } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_substitute_the_id() {
        let r = read("test://template/123/data").unwrap();
        let text = r["contents"][0]["text"].as_str().unwrap();
        assert!(text.contains("\"id\":\"123\""));
        assert!(read("test://template//data").is_none());
        assert!(read("test://nothing").is_none());
    }

    #[test]
    fn the_wav_is_well_formed() {
        let wav = BASE64.decode(silent_wav()).unwrap();
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(wav.len(), 44 + 16);
    }

    #[test]
    fn tool_names_follow_the_naming_rules() {
        for t in tools() {
            let name = t["name"].as_str().unwrap();
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            );
            assert!(t["description"].is_string() && t["inputSchema"].is_object());
        }
    }
}
