//! Compiling an `openAPIV3Schema` into a tree of [`Node`]s: types resolved, regexes and CEL
//! programs compiled, once per CRD version.

use kube_cel::cel::Program;
use regex::Regex;
use serde_json::{Map, Value};

/// The `type` of a schema node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Any,
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
}

impl Shape {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Shape::Any => "",
            Shape::Object => "object",
            Shape::Array => "array",
            Shape::String => "string",
            Shape::Integer => "integer",
            Shape::Number => "number",
            Shape::Boolean => "boolean",
        }
    }
}

/// The `format`s that change how a value is checked or bound in CEL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    None,
    DateTime,
    Date,
    Duration,
    Byte,
    Other,
}

#[derive(Debug)]
pub(crate) enum ListType {
    Atomic,
    Set,
    Map(Vec<String>),
}

#[derive(Debug)]
pub(crate) enum Additional {
    /// No `additionalProperties`: unknown fields are pruned.
    Absent,
    /// `additionalProperties: true` (or `false`).
    Bool(bool),
    Schema(Box<Node>),
}

pub(crate) struct Rule {
    pub(crate) rule: String,
    pub(crate) program: Program,
    pub(crate) message: Option<String>,
    pub(crate) message_program: Option<Program>,
    /// `fieldPath` without its leading dot, as kube-apiserver appends it (`renewBefore`).
    pub(crate) field_path: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) uses_old_self: bool,
    pub(crate) optional_old_self: bool,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule").field("rule", &self.rule).finish()
    }
}

#[derive(Debug)]
pub(crate) struct Bound {
    pub(crate) value: f64,
    pub(crate) exclusive: bool,
}

/// One compiled schema node.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) shape: Shape,
    pub(crate) nullable: bool,
    pub(crate) default: Option<Value>,
    /// Sorted by name (binary search).
    pub(crate) properties: Vec<(String, Node)>,
    pub(crate) additional: Additional,
    pub(crate) items: Option<Box<Node>>,
    pub(crate) preserve_unknown: bool,
    pub(crate) embedded_resource: bool,
    pub(crate) int_or_string: bool,
    pub(crate) required: Vec<String>,
    pub(crate) enumeration: Option<Vec<Value>>,
    pub(crate) pattern: Option<(String, Regex)>,
    pub(crate) min_length: Option<u64>,
    pub(crate) max_length: Option<u64>,
    pub(crate) min_items: Option<u64>,
    pub(crate) max_items: Option<u64>,
    pub(crate) min_properties: Option<u64>,
    pub(crate) max_properties: Option<u64>,
    pub(crate) minimum: Option<Bound>,
    pub(crate) maximum: Option<Bound>,
    pub(crate) multiple_of: Option<f64>,
    pub(crate) format: Format,
    pub(crate) format_name: String,
    pub(crate) list_type: ListType,
    /// `x-kubernetes-map-type` of an object; `Some("granular"|"atomic")` or None.
    pub(crate) map_type: Option<String>,
    pub(crate) all_of: Vec<Node>,
    pub(crate) rules: Vec<Rule>,
    /// Whether this node or any node below it has CEL rules (lets the CEL walk skip subtrees).
    pub(crate) has_rules: bool,
    /// Whether this node or any node below it has a default (lets defaulting skip subtrees).
    pub(crate) has_defaults: bool,
    /// Whether a list-type set/map lives at or below this node.
    pub(crate) has_list_types: bool,
}

impl Node {
    pub(crate) fn property(&self, name: &str) -> Option<&Node> {
        self.properties
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| &self.properties[i].1)
    }

    pub(crate) fn additional_schema(&self) -> Option<&Node> {
        match &self.additional {
            Additional::Schema(n) => Some(n),
            _ => None,
        }
    }

    /// The schema of `key` in an object: its property, else the additionalProperties schema.
    pub(crate) fn field_schema(&self, key: &str) -> Option<&Node> {
        self.property(key).or_else(|| self.additional_schema())
    }
}

fn u64_of(m: &Map<String, Value>, k: &str, at: &str) -> Result<Option<u64>, String> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or_else(|| format!("{at}.{k}: must be a non-negative integer")),
    }
}

fn join(at: &str, seg: &str) -> String {
    if at.is_empty() {
        seg.to_owned()
    } else {
        format!("{at}.{seg}")
    }
}

/// The string formats kube-apiserver validates (its names with `-` removed).
const STRING_FORMATS: [&str; 24] = [
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
];

pub(crate) fn compile_node(schema: &Value, at: &str, depth: usize) -> Result<Node, String> {
    if depth > 64 {
        return Err(format!("{at}: schema nesting exceeds 64 levels"));
    }
    let m = schema
        .as_object()
        .ok_or_else(|| format!("{at}: must be an object"))?;
    let shape = match m.get("type").and_then(Value::as_str) {
        None | Some("") => Shape::Any,
        Some("object") => Shape::Object,
        Some("array") => Shape::Array,
        Some("string") => Shape::String,
        Some("integer") => Shape::Integer,
        Some("number") => Shape::Number,
        Some("boolean") => Shape::Boolean,
        Some(other) => return Err(format!("{at}.type: Unsupported value: {other:?}")),
    };
    let flag = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(false);

    let mut properties = Vec::new();
    if let Some(props) = m.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            properties.push((
                name.clone(),
                compile_node(sub, &join(at, &format!("properties[{name}]")), depth + 1)?,
            ));
        }
        properties.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let additional = match m.get("additionalProperties") {
        None | Some(Value::Null) => Additional::Absent,
        Some(Value::Bool(b)) => Additional::Bool(*b),
        Some(sub) => Additional::Schema(Box::new(compile_node(
            sub,
            &join(at, "additionalProperties"),
            depth + 1,
        )?)),
    };
    let items = match m.get("items") {
        None | Some(Value::Null) => None,
        Some(sub) => Some(Box::new(compile_node(sub, &join(at, "items"), depth + 1)?)),
    };
    let pattern = match m.get("pattern").and_then(Value::as_str) {
        None => None,
        Some(p) => Some((
            p.to_owned(),
            Regex::new(p).map_err(|e| format!("{at}.pattern: Invalid value: {p:?}: {e}"))?,
        )),
    };
    let bound = |k: &str, ex: &str| -> Option<Bound> {
        m.get(k).and_then(Value::as_f64).map(|value| Bound {
            value,
            exclusive: m.get(ex).and_then(Value::as_bool).unwrap_or(false),
        })
    };
    // kube-apiserver strips the formats it does not support before validating
    // (StripUnsupportedFormatsPostProcessor).
    let raw_format = m.get("format").and_then(Value::as_str).unwrap_or("");
    let format_name = match shape {
        Shape::Any | Shape::String
            if STRING_FORMATS.contains(&raw_format.replace('-', "").as_str()) =>
        {
            raw_format.to_owned()
        }
        Shape::Integer if matches!(raw_format, "int32" | "int64") => raw_format.to_owned(),
        Shape::Number if matches!(raw_format, "float" | "double") => raw_format.to_owned(),
        _ => String::new(),
    };
    let format = match raw_format {
        "" => Format::None,
        "date-time" | "datetime" => Format::DateTime,
        "date" => Format::Date,
        "duration" => Format::Duration,
        "byte" => Format::Byte,
        _ => Format::Other,
    };
    let list_type = match m.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => ListType::Set,
        Some("map") => ListType::Map(
            m.get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|ks| {
                    ks.iter()
                        .filter_map(|k| k.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => ListType::Atomic,
    };
    let mut all_of = Vec::new();
    if let Some(branches) = m.get("allOf").and_then(Value::as_array) {
        for (i, b) in branches.iter().enumerate() {
            all_of.push(compile_node(
                b,
                &join(at, &format!("allOf[{i}]")),
                depth + 1,
            )?);
        }
    }
    let mut rules = Vec::new();
    if let Some(raw) = m.get("x-kubernetes-validations").and_then(Value::as_array) {
        for (i, r) in raw.iter().enumerate() {
            rules.push(compile_rule(
                r,
                &join(at, &format!("x-kubernetes-validations[{i}]")),
            )?);
        }
    }

    let mut node = Node {
        shape,
        nullable: flag("nullable"),
        default: m.get("default").cloned(),
        properties,
        additional,
        items,
        preserve_unknown: flag("x-kubernetes-preserve-unknown-fields"),
        embedded_resource: flag("x-kubernetes-embedded-resource"),
        int_or_string: flag("x-kubernetes-int-or-string"),
        required: m
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        enumeration: m.get("enum").and_then(Value::as_array).cloned(),
        pattern,
        min_length: u64_of(m, "minLength", at)?,
        max_length: u64_of(m, "maxLength", at)?,
        min_items: u64_of(m, "minItems", at)?,
        max_items: u64_of(m, "maxItems", at)?,
        min_properties: u64_of(m, "minProperties", at)?,
        max_properties: u64_of(m, "maxProperties", at)?,
        minimum: bound("minimum", "exclusiveMinimum"),
        maximum: bound("maximum", "exclusiveMaximum"),
        multiple_of: m.get("multipleOf").and_then(Value::as_f64),
        format,
        format_name,
        list_type,
        map_type: m
            .get("x-kubernetes-map-type")
            .and_then(Value::as_str)
            .map(str::to_owned),
        all_of,
        rules,
        has_rules: false,
        has_defaults: false,
        has_list_types: false,
    };
    let children = || {
        node.properties
            .iter()
            .map(|(_, n)| n)
            .chain(node.additional_schema())
            .chain(node.items.as_deref())
    };
    let has_rules = !node.rules.is_empty()
        || children().any(|c| c.has_rules)
        || node.all_of.iter().any(|c| c.has_rules);
    let has_defaults = children().any(|c| c.has_defaults || c.default.is_some());
    let has_list_types =
        !matches!(node.list_type, ListType::Atomic) || children().any(|c| c.has_list_types);
    node.has_rules = has_rules;
    node.has_defaults = has_defaults;
    node.has_list_types = has_list_types;
    Ok(node)
}

fn compile_rule(raw: &Value, at: &str) -> Result<Rule, String> {
    let m = raw
        .as_object()
        .ok_or_else(|| format!("{at}: must be an object"))?;
    let s = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let rule = s("rule").ok_or_else(|| format!("{at}.rule: Required value"))?;
    let program = Program::compile(&rule)
        .map_err(|e| format!("{at}.rule: Invalid value: {rule:?}: compilation failed: {e}"))?;
    let uses_old_self = program.references().has_variable("oldSelf");
    let message_expression = s("messageExpression");
    let message_program = match &message_expression {
        None => None,
        Some(expr) => Some(Program::compile(expr).map_err(|e| {
            format!("{at}.messageExpression: Invalid value: {expr:?}: compilation failed: {e}")
        })?),
    };
    let field_path = s("fieldPath").map(|p| normalize_field_path(&p));
    let reason = s("reason");
    if let Some(r) = &reason {
        const REASONS: [&str; 4] = [
            "FieldValueInvalid",
            "FieldValueForbidden",
            "FieldValueRequired",
            "FieldValueDuplicate",
        ];
        if !REASONS.contains(&r.as_str()) {
            return Err(format!(
                "{at}.reason: Unsupported value: {r:?}: supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\""
            ));
        }
    }
    Ok(Rule {
        rule,
        program,
        message: s("message").map(|m| m.trim().to_owned()),
        message_program,
        field_path,
        reason,
        uses_old_self,
        optional_old_self: m
            .get("optionalOldSelf")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// A rule's `fieldPath` (`.renewBefore`, `.labels['a.b']`, `.list[0]`) as kube-apiserver appends
/// it to the field path of the node: dots for children, `[key]` for bracketed keys.
fn normalize_field_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&r[..end]);
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").unwrap_or(r.len());
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&r[..end].replace("\\'", "'"));
            rest = r.get(end + 2..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            out.push('[');
            out.push_str(&r[..end]);
            out.push(']');
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            out.push_str(rest);
            break;
        }
    }
    out
}
