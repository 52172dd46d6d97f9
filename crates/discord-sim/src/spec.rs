//! Discord's published API description, for fidelity checks: where to find it
//! (`../shared/discord` beside the workspace, or `DISCORD_SPEC_DIR`), and a
//! validator for the JSON-schema subset Discord's openapi.json uses:
//! `type` (with type arrays for nullability), `properties`, `required`,
//! `items`, `additionalProperties`, `oneOf`/`anyOf`/`allOf`, `$ref`, `enum`,
//! `const`, `minimum`/`maximum`, `minLength`/`maxLength`, `maxItems`, and the
//! snowflake `pattern`. `oneOf` means what JSON Schema says, exactly one
//! alternative: a payload that fits two (say, a partial and a full object) is
//! ambiguous, and is reported rather than accepted.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value};

/// `../shared/discord` from the workspace root, or `$DISCORD_SPEC_DIR`. `None`
/// (after printing that `test` skipped) when absent, unless `KEEPER_REQUIRE_SPEC=1`,
/// where absence fails the test: CI must not skip the fidelity checks.
pub fn spec_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("DISCORD_SPEC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/discord")
        });
    if dir.join("openapi.json").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("KEEPER_REQUIRE_SPEC").as_deref() != Ok("1"),
        "{test}: Discord spec not found at {} and KEEPER_REQUIRE_SPEC=1",
        dir.display()
    );
    eprintln!(
        "{test}: skipped, Discord spec not found at {}",
        dir.display()
    );
    None
}

/// Read one of the spec files as JSON; panics with the path when it can't (tests).
pub fn load_json(dir: &Path, file: &str) -> Value {
    let path = dir.join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

pub struct Spec<'a> {
    pub root: &'a Value,
}

impl<'a> Spec<'a> {
    pub fn new(root: &'a Value) -> Self {
        Self { root }
    }

    fn resolve(&self, r: &str) -> &'a Value {
        let mut node = self.root;
        for part in r.trim_start_matches("#/").split('/') {
            node = &node[part];
        }
        node
    }

    /// The operation object for `method` on `path` (`path` with any param
    /// names; matched segment by segment).
    pub fn operation(&self, method: &str, path: &str) -> Option<&'a Value> {
        let paths = self.root["paths"].as_object()?;
        // Parameters match whatever they are named: `{}` stands for each.
        let norm = |p: &str| -> Vec<String> {
            p.split('/')
                .map(|s| {
                    let param = s.starts_with('{') && s.ends_with('}');
                    if param { "{}".to_owned() } else { s.to_owned() }
                })
                .collect()
        };
        let want = norm(path);
        paths
            .iter()
            .find(|(p, _)| norm(p) == want)
            .and_then(|(_, item)| item.get(method.to_ascii_lowercase()))
    }

    /// The JSON schema of the response `status` of an operation.
    pub fn response_schema(&self, op: &'a Value, status: u16) -> Option<&'a Value> {
        let responses = &op["responses"];
        let r = responses
            .get(status.to_string())
            .or_else(|| responses.get(format!("{}XX", status / 100)))?;
        let r = match r.get("$ref").and_then(Value::as_str) {
            Some(x) => self.resolve(x),
            None => r,
        };
        r.pointer("/content/application~1json/schema")
    }

    /// The JSON schema of an operation's request body.
    pub fn request_schema(&self, op: &'a Value) -> Option<&'a Value> {
        let body = &op["requestBody"];
        let body = match body.get("$ref").and_then(Value::as_str) {
            Some(x) => self.resolve(x),
            None => body,
        };
        body.pointer("/content/application~1json/schema")
    }

    /// Check a request a bot sent to the simulator: its route must exist in
    /// Discord's API with that method, and its JSON body must match the documented
    /// schema. Problems go to `errors`; returns the route as `METHOD /path`.
    pub fn check_request(
        &self,
        req: &crate::state::RequestRec,
        errors: &mut Vec<String>,
    ) -> String {
        let route = req.route.trim_start_matches("/api/v10");
        let name = format!("{} {route}", req.method);
        let Some(op) = self.operation(&req.method, route) else {
            errors.push(format!("{name} is not in Discord's API"));
            return name;
        };
        if let (Some(body), Some(schema)) = (&req.body, self.request_schema(op)) {
            self.validate(schema, body, &name, errors);
        }
        name
    }

    /// Validate `v` against `schema`; errors carry JSON paths.
    pub fn validate(&self, schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            return self.validate(self.resolve(r), v, path, errors);
        }
        if check_type(schema, v, path, errors).is_break() {
            return;
        }
        if let Some(c) = schema.get("const")
            && c != v
        {
            errors.push(format!("{path}: expected {c}, got {v}"));
        }
        if let Some(e) = schema.get("enum").and_then(Value::as_array)
            && !e.contains(v)
        {
            errors.push(format!("{path}: {v} not in enum"));
        }
        self.validate_combinations(schema, v, path, errors);
        match v {
            Value::Object(o) => self.validate_object(schema, o, path, errors),
            Value::Array(a) => self.validate_array(schema, a, path, errors),
            Value::String(s) => validate_string(schema, s, path, errors),
            Value::Number(n) => validate_number(schema, n, path, errors),
            _ => {}
        }
    }

    /// `allOf` (each must hold), `anyOf` (at least one must) and `oneOf`
    /// (exactly one must). Without a match, the errors of the closest
    /// alternative are reported; with two `oneOf` matches, which ones.
    fn validate_combinations(
        &self,
        schema: &Value,
        v: &Value,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        for all in list(schema, "allOf") {
            self.validate(all, v, path, errors);
        }
        for key in ["oneOf", "anyOf"] {
            let Some(alts) = schema.get(key).and_then(Value::as_array) else {
                continue;
            };
            let mut best: Option<Vec<String>> = None;
            let mut matched = Vec::new();
            for (i, alt) in alts.iter().enumerate() {
                let mut e = Vec::new();
                self.validate(alt, v, path, &mut e);
                if e.is_empty() {
                    matched.push(alternative_name(alt, i));
                    // One is enough for anyOf; oneOf must rule out the rest.
                    if key == "anyOf" {
                        break;
                    }
                } else if best.as_ref().is_none_or(|b| e.len() < b.len()) {
                    best = Some(e);
                }
            }
            match matched.len() {
                0 => {
                    errors.push(format!("{path}: matches no {key} alternative"));
                    errors.extend(best.unwrap_or_default());
                }
                1 => {}
                _ if key == "anyOf" => {}
                _ => errors.push(format!(
                    "{path}: matches {} oneOf alternatives ({}), exactly one allowed",
                    matched.len(),
                    matched.join(", ")
                )),
            }
        }
    }

    /// `required` keys, and each property against its schema (or
    /// `additionalProperties` when that is a schema).
    fn validate_object(
        &self,
        schema: &Value,
        o: &Map<String, Value>,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        for r in list(schema, "required") {
            if let Some(k) = r.as_str()
                && !o.contains_key(k)
            {
                errors.push(format!("{path}: missing required {k}"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, child) in o {
            let sub = format!("{path}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(s) => self.validate(s, child, &sub, errors),
                None => {
                    if let Some(ap) = schema.get("additionalProperties")
                        && ap.is_object()
                    {
                        self.validate(ap, child, &sub, errors);
                    }
                }
            }
        }
    }

    /// `maxItems`, and each item against `items`.
    fn validate_array(&self, schema: &Value, a: &[Value], path: &str, errors: &mut Vec<String>) {
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && a.len() as u64 > max
        {
            errors.push(format!("{path}: more than {max} items"));
        }
        if let Some(items) = schema.get("items") {
            for (i, x) in a.iter().enumerate() {
                self.validate(items, x, &format!("{path}[{i}]"), errors);
            }
        }
    }
}

/// `type` (a name or an array of names, for nullability). Breaks when
/// nothing else should be checked: a type mismatch (reported), a permission
/// string where the spec says integer, or a null the type allows.
fn check_type(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) -> ControlFlow<()> {
    let Some(types) = schema.get("type") else {
        return ControlFlow::Continue(());
    };
    if let Some(text) = v.as_str()
        && is_string_bitfield(schema, text)
    {
        return ControlFlow::Break(());
    }
    let ok = match types {
        Value::String(t) => type_ok(t, v),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| type_ok(t, v)),
        _ => true,
    };
    if !ok {
        errors.push(format!("{path}: expected type {types}, got {v}"));
        return ControlFlow::Break(());
    }
    // Null accepted by the type array: nothing else applies.
    if v.is_null() {
        return ControlFlow::Break(());
    }
    ControlFlow::Continue(())
}

/// `maxLength`, `minLength` (in characters), and the snowflake `pattern`.
fn validate_string(schema: &Value, s: &str, path: &str, errors: &mut Vec<String>) {
    let n = s.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && n > max
    {
        errors.push(format!("{path}: longer than {max}"));
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && n < min
    {
        errors.push(format!("{path}: shorter than {min}"));
    }
    if schema.get("pattern").and_then(Value::as_str) == Some("^(0|[1-9][0-9]*)$")
        && !is_snowflake(s)
    {
        errors.push(format!("{path}: {s} is not a snowflake"));
    }
}

/// `minimum` and `maximum`.
fn validate_number(schema: &Value, n: &Number, path: &str, errors: &mut Vec<String>) {
    if let (Some(min), Some(x)) = (schema.get("minimum").and_then(Value::as_f64), n.as_f64())
        && x < min
    {
        errors.push(format!("{path}: {x} < {min}"));
    }
    if let (Some(max), Some(x)) = (schema.get("maximum").and_then(Value::as_f64), n.as_f64())
        && x > max
    {
        errors.push(format!("{path}: {x} > {max}"));
    }
}

/// How an error names a `oneOf` alternative: its `$ref`'s last segment, or
/// its position.
fn alternative_name(alt: &Value, index: usize) -> String {
    alt.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map_or_else(|| format!("#{index}"), str::to_owned)
}

/// The entries of an array keyword (none when absent).
fn list<'a>(schema: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    schema
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => true,
    }
}

/// Discord documents permission bitfields as strings ("serialized into a string")
/// and its API takes them so, but the OpenAPI description types some request
/// fields (`default_member_permissions`) as integers up to 2^54. A decimal string
/// within the range is accepted where the schema is such a 64-bit integer.
fn is_string_bitfield(schema: &Value, text: &str) -> bool {
    let wide = schema
        .get("maximum")
        .and_then(Value::as_u64)
        .is_some_and(|max| max > 1 << 53);
    let integer = match schema.get("type") {
        Some(Value::String(t)) => t == "integer",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
        _ => false,
    };
    let max = schema
        .get("maximum")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    integer && wide && text.parse::<u64>().is_ok_and(|n| n <= max) && is_snowflake(text)
}

fn is_snowflake(s: &str) -> bool {
    s == "0" || (!s.is_empty() && !s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(root: &Value, schema: &Value, v: Value) -> Vec<String> {
        let mut errors = Vec::new();
        Spec::new(root).validate(schema, &v, "x", &mut errors);
        errors
    }

    #[test]
    fn one_of_means_exactly_one_alternative() {
        let root = json!({"components": {"schemas": {
            "Partial": {"type": "object", "properties": {"id": {"type": "string"}}},
            "Full": {"type": "object", "required": ["id", "name"]},
        }}});
        let schema = json!({"oneOf": [
            {"$ref": "#/components/schemas/Partial"},
            {"$ref": "#/components/schemas/Full"},
        ]});
        // Only the partial shape: id is required by Full.
        assert_eq!(
            errors(&root, &schema, json!({"id": "1"})),
            Vec::<String>::new()
        );
        // Both: ambiguous, and named.
        let both = errors(&root, &schema, json!({"id": "1", "name": "n"}));
        assert_eq!(both.len(), 1, "{both:?}");
        assert!(
            both[0].contains("2 oneOf alternatives (Partial, Full)"),
            "{both:?}"
        );
        // Neither.
        assert!(!errors(&root, &schema, json!({"id": 1})).is_empty());
        // Numbers: 5 is an integer and a number, 5.5 only a number.
        let numbers = json!({"oneOf": [{"type": "integer"}, {"type": "number"}]});
        assert!(!errors(&root, &numbers, json!(5)).is_empty());
        assert!(errors(&root, &numbers, json!(5.5)).is_empty());
        // anyOf is still "at least one".
        let any = json!({"anyOf": [{"type": "integer"}, {"type": "number"}]});
        assert!(errors(&root, &any, json!(5)).is_empty());
    }

    #[test]
    fn permission_strings_pass_only_where_the_spec_means_a_bitfield() {
        let root = json!({});
        let spec = Spec::new(&root);
        let bitfield =
            json!({"type": ["integer", "null"], "minimum": 0, "maximum": 18014398509481983u64});
        let small = json!({"type": "integer", "maximum": 100});
        let check = |schema: &Value, v: Value| {
            let mut errors = Vec::new();
            spec.validate(schema, &v, "x", &mut errors);
            errors.is_empty()
        };
        assert!(check(&bitfield, json!("32")));
        assert!(check(&bitfield, json!(32)));
        assert!(!check(&bitfield, json!("thirty-two")));
        assert!(!check(&bitfield, json!("99999999999999999999")));
        assert!(
            !check(&small, json!("32")),
            "a plain integer stays an integer"
        );
    }
}
