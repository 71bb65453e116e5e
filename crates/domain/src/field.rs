//! Validation errors that name the field at fault, so a client can show each message beside
//! the input it belongs to.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The JSON path of the offending field, for example `name` or `emails[1]`.
    pub field: String,
    /// What is wrong with it, in plain words.
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s)", .0.len())]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was added, the collected errors otherwise.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

/// Parses a JSON value into `T`, naming the field at fault when it does not fit (wrong type,
/// unknown field, missing field).
pub fn parse_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, FieldErrors> {
    serde_path_to_error::deserialize(value).map_err(describe)
}

/// Like [`parse_json`], from raw bytes (a request body). Text that is not JSON at all is
/// reported against the field `body`, before any field is looked at.
pub fn parse_json_bytes<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, FieldErrors> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| FieldErrors::single("body", strip_position(&e.to_string())))?;
    parse_json(value)
}

fn describe(e: serde_path_to_error::Error<serde_json::Error>) -> FieldErrors {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let message = strip_position(&inner.to_string());
    if inner.is_syntax() || inner.is_eof() {
        // Not JSON at all: no field is at fault, the body is.
        return FieldErrors::single("body", message);
    }
    // serde names unknown and missing fields in its message; put the name where a client
    // looks for it.
    let field = if path == "." || path.is_empty() {
        quoted_field(&message).unwrap_or_else(|| "body".to_string())
    } else {
        // For a missing field the path names the enclosing object; for an unknown one it
        // already ends with the field's name.
        match quoted_field(&message) {
            Some(name) if message.starts_with("missing field") => format!("{path}.{name}"),
            _ => path,
        }
    };
    FieldErrors::single(field, message)
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn quoted_field(msg: &str) -> Option<String> {
    if !(msg.starts_with("unknown field") || msg.starts_with("missing field")) {
        return None;
    }
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_string())
}

/// For partial updates: tells an absent field (`None`) from an explicit `null`
/// (`Some(None)`). Use with `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(de).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        name: String,
        #[serde(default)]
        n: Option<i64>,
    }

    #[test]
    fn names_the_field_at_fault() {
        let e = parse_json_bytes::<T>(br#"{"name": 5}"#).unwrap_err();
        assert_eq!(e.0[0].field, "name");
        let e = parse_json_bytes::<T>(br#"{"name": "x", "evil": 1}"#).unwrap_err();
        assert_eq!(e.0[0].field, "evil");
        assert!(e.0[0].message.contains("unknown field"));
        let e = parse_json_bytes::<T>(br#"{}"#).unwrap_err();
        assert_eq!(e.0[0].field, "name");
        let e = parse_json_bytes::<T>(br#"{"name": "x", "n": "1"}"#).unwrap_err();
        assert_eq!(e.0[0].field, "n");
        let e = parse_json_bytes::<T>(br#"{"name": "#).unwrap_err();
        assert_eq!(e.0[0].field, "body");
        assert!(!e.0[0].message.contains("line"));
    }
}
