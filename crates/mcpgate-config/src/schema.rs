//! JSON Schema of the configuration file format, generated from the raw
//! serde types.

use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::raw::RawConfig;

/// The schema of [`RawConfig`], without the `null` alternatives that
/// optional fields would otherwise get: TOML has no null, a key is simply
/// left out.
pub(crate) fn generate() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<RawConfig>();
    let mut value = schema.to_value();
    drop_null(&mut value);
    value
}

/// Removes `null` from `type` lists and `anyOf` alternatives, recursively.
fn drop_null(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|kind| kind != "null");
                if let [only] = types.as_slice() {
                    let only = only.clone();
                    object.insert("type".to_owned(), only);
                }
            }
            if let Some(Value::Array(alternatives)) = object.get_mut("anyOf") {
                alternatives.retain(|alternative| !is_null_schema(alternative));
                if let [only] = alternatives.as_slice() {
                    let only = only.clone();
                    object.remove("anyOf");
                    if let Value::Object(only) = only {
                        for (key, member) in only {
                            object.entry(key).or_insert(member);
                        }
                    }
                }
            }
            object.values_mut().for_each(drop_null);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type").is_some_and(|kind| kind == "null")
        || schema.get("const").is_some_and(Value::is_null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mentions_null(value: &Value) -> bool {
        match value {
            Value::String(text) => text == "null",
            Value::Array(items) => items.iter().any(mentions_null),
            Value::Object(object) => object.values().any(mentions_null),
            _ => false,
        }
    }

    #[test]
    fn schema_describes_the_file() {
        let schema = generate();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["additionalProperties"], false);
        let properties = schema["properties"].as_object().unwrap();
        for key in ["server", "upstreams", "jsonrpc", "audit", "log"] {
            assert!(properties.contains_key(key), "{key}");
        }
        assert_eq!(schema["required"], serde_json::json!(["upstreams"]));
        assert!(!mentions_null(&schema), "{schema:#}");

        let upstream = &schema["$defs"]["Upstream"];
        assert_eq!(upstream["additionalProperties"], false);
        assert_eq!(upstream["required"], serde_json::json!(["transport"]));
        assert!(upstream["properties"]["command"].is_object());
        assert!(upstream["allOf"].is_array());
    }
}
