//! The OpenAPI v2 document as protobuf (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`),
//! the form kubectl's OpenAPI v2 client asks for (`kubectl explain --output
//! plaintext-openapiv2`) and kube-apiserver serves: gnostic's `openapi.v2.Document` message.
//!
//! No crate on crates.io has gnostic's message types, so the ones kubectl reads are declared
//! here with prost's derives, with the field numbers of
//! [gnostic-models `openapiv2/OpenAPIv2.proto`][proto] (generated from the Swagger 2.0 JSON
//! schema; its Go types are `github.com/google/gnostic-models/openapiv2`). kubectl reads only
//! `definitions` (k8s.io/kube-openapi/pkg/util/proto/document.go `NewOpenAPIData`), and finds a
//! kind's schema by its `x-kubernetes-group-version-kind` extension, so `paths`, `parameters`,
//! `responses`, security and tags are not declared; of a Schema, every field but `xml`.
//!
//! [`encode`] turns the JSON v2 document ([`super::openapi::v2`]) into that message, shaped as
//! kube-openapi's parser accepts it (it refuses the whole document over one schema it cannot
//! read): one `type` per schema (`"null"` dropped; a schema of several types is left untyped,
//! which it reads as any value), an array without `items` gets an untyped item, and a lone
//! `allOf: [{$ref}]` (how a described reference is written) becomes the `$ref` itself.
//! Values that are any JSON (`default`, `example`, `enum` entries, `x-` extensions) are gnostic
//! `Any`s holding their YAML text (JSON, which YAML reads).
//!
//! [proto]: https://github.com/google/gnostic-models/blob/main/openapiv2/OpenAPIv2.proto

use serde_json::{Map, Value};

/// The media type kubectl asks for.
pub(crate) const MEDIA_TYPE: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// The same type as the answer's `Content-Type` gives it, and as older clients ask for it: `@`
/// is not allowed in a media type that Go's `mime.ParseMediaType` reads, so kube-apiserver
/// answers with this name (k8s.io/kube-openapi/pkg/handler/handler.go).
pub(crate) const CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// `message Document` (only the fields kubectl reads, and `swagger` and `info`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Document {
    #[prost(string, tag = "1")]
    pub(crate) swagger: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) info: Option<Info>,
    #[prost(message, optional, tag = "9")]
    pub(crate) definitions: Option<Definitions>,
}

/// `message Info` (title and version).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Info {
    #[prost(string, tag = "1")]
    pub(crate) title: String,
    #[prost(string, tag = "2")]
    pub(crate) version: String,
}

/// `message Definitions`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Definitions {
    #[prost(message, repeated, tag = "1")]
    pub(crate) additional_properties: Vec<NamedSchema>,
}

/// `message NamedSchema`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedSchema {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<Schema>,
}

/// `message Properties`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Properties {
    #[prost(message, repeated, tag = "1")]
    pub(crate) additional_properties: Vec<NamedSchema>,
}

/// `message Schema` (every field but `xml`, 28).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Schema {
    /// `$ref`.
    #[prost(string, tag = "1")]
    pub r#ref: String,
    #[prost(string, tag = "2")]
    pub(crate) format: String,
    #[prost(string, tag = "3")]
    pub(crate) title: String,
    #[prost(string, tag = "4")]
    pub(crate) description: String,
    #[prost(message, optional, tag = "5")]
    pub(crate) default: Option<Any>,
    #[prost(double, tag = "6")]
    pub(crate) multiple_of: f64,
    #[prost(double, tag = "7")]
    pub(crate) maximum: f64,
    #[prost(bool, tag = "8")]
    pub(crate) exclusive_maximum: bool,
    #[prost(double, tag = "9")]
    pub(crate) minimum: f64,
    #[prost(bool, tag = "10")]
    pub(crate) exclusive_minimum: bool,
    #[prost(int64, tag = "11")]
    pub(crate) max_length: i64,
    #[prost(int64, tag = "12")]
    pub(crate) min_length: i64,
    #[prost(string, tag = "13")]
    pub(crate) pattern: String,
    #[prost(int64, tag = "14")]
    pub(crate) max_items: i64,
    #[prost(int64, tag = "15")]
    pub(crate) min_items: i64,
    #[prost(bool, tag = "16")]
    pub(crate) unique_items: bool,
    #[prost(int64, tag = "17")]
    pub(crate) max_properties: i64,
    #[prost(int64, tag = "18")]
    pub(crate) min_properties: i64,
    #[prost(string, repeated, tag = "19")]
    pub(crate) required: Vec<String>,
    #[prost(message, repeated, tag = "20")]
    pub r#enum: Vec<Any>,
    #[prost(message, optional, tag = "21")]
    pub(crate) additional_properties: Option<AdditionalPropertiesItem>,
    #[prost(message, optional, tag = "22")]
    pub r#type: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    pub(crate) items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    pub(crate) all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    pub(crate) properties: Option<Properties>,
    #[prost(string, tag = "26")]
    pub(crate) discriminator: String,
    #[prost(bool, tag = "27")]
    pub(crate) read_only: bool,
    #[prost(message, optional, tag = "29")]
    pub(crate) external_docs: Option<ExternalDocs>,
    #[prost(message, optional, tag = "30")]
    pub(crate) example: Option<Any>,
    #[prost(message, repeated, tag = "31")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `message AdditionalPropertiesItem`: a schema or a boolean.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AdditionalPropertiesItem {
    #[prost(oneof = "AdditionalProperties", tags = "1, 2")]
    pub(crate) oneof: Option<AdditionalProperties>,
}

/// The `oneof` of [`AdditionalPropertiesItem`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum AdditionalProperties {
    #[prost(message, boxed, tag = "1")]
    Schema(Box<Schema>),
    #[prost(bool, tag = "2")]
    Boolean(bool),
}

/// `message TypeItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    pub(crate) value: Vec<String>,
}

/// `message ItemsItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    pub(crate) schema: Vec<Schema>,
}

/// `message ExternalDocs` (without vendor extensions).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExternalDocs {
    #[prost(string, tag = "1")]
    pub(crate) description: String,
    #[prost(string, tag = "2")]
    pub(crate) url: String,
}

/// `message Any`: gnostic keeps a JSON value as its YAML text (`yaml`, 2), not as a
/// `google.protobuf.Any` (`value`, 1, not declared).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Any {
    #[prost(string, tag = "2")]
    pub(crate) yaml: String,
}

/// `message NamedAny`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedAny {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<Any>,
}

/// The JSON OpenAPI v2 document `doc` (`swagger`, `info`, `definitions`) as gnostic's
/// `Document` message, encoded.
pub(crate) fn encode(doc: &Value) -> Vec<u8> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
    let info = doc.get("info").unwrap_or(&Value::Null);
    let document = Document {
        swagger: text(doc, "swagger"),
        info: Some(Info {
            title: text(info, "title"),
            version: text(info, "version"),
        }),
        definitions: Some(Definitions {
            additional_properties: named(doc.get("definitions")),
        }),
    };
    prost::Message::encode_to_vec(&document)
}

/// The schemas of a JSON object of schemas, by name.
fn named(schemas: Option<&Value>) -> Vec<NamedSchema> {
    schemas
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, s)| NamedSchema {
            name: name.clone(),
            value: Some(schema(s)),
        })
        .collect()
}

fn any(v: &Value) -> Any {
    Any {
        yaml: v.to_string(),
    }
}

/// One JSON schema as gnostic's `Schema`, shaped for kube-openapi's parser (see the module doc).
fn schema(v: &Value) -> Schema {
    let empty = Map::new();
    let obj = v.as_object().unwrap_or(&empty);
    let text = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let number = |key: &str| obj.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let integer = |key: &str| obj.get(key).and_then(Value::as_i64).unwrap_or(0);
    let flag = |key: &str| obj.get(key).and_then(Value::as_bool).unwrap_or(false);
    let types: Vec<String> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let types: Vec<String> = types.into_iter().filter(|t| t != "null").collect();
    let single = (types.len() == 1).then(|| types[0].clone());
    let mut items: Vec<Schema> = match obj.get("items") {
        Some(Value::Array(items)) => items.iter().map(schema).collect(),
        Some(item) => vec![schema(item)],
        None => Vec::new(),
    };
    if single.as_deref() == Some("array") && items.len() != 1 {
        items = vec![Schema::default()];
    }
    let mut all_of: Vec<Schema> = obj
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(schema)
        .collect();
    let mut reference = text("$ref");
    let lone_ref = all_of.len() == 1
        && !all_of[0].r#ref.is_empty()
        && reference.is_empty()
        && single.is_none()
        && !obj.contains_key("properties");
    if lone_ref {
        reference = all_of.remove(0).r#ref;
    }
    let external_docs = obj.get("externalDocs").map(|d| ExternalDocs {
        description: d
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        url: d
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    });
    Schema {
        r#ref: reference,
        format: text("format"),
        title: text("title"),
        description: text("description"),
        default: obj.get("default").map(any),
        multiple_of: number("multipleOf"),
        maximum: number("maximum"),
        exclusive_maximum: flag("exclusiveMaximum"),
        minimum: number("minimum"),
        exclusive_minimum: flag("exclusiveMinimum"),
        max_length: integer("maxLength"),
        min_length: integer("minLength"),
        pattern: text("pattern"),
        max_items: integer("maxItems"),
        min_items: integer("minItems"),
        unique_items: flag("uniqueItems"),
        max_properties: integer("maxProperties"),
        min_properties: integer("minProperties"),
        required: obj
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        r#enum: obj
            .get("enum")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(any)
            .collect(),
        additional_properties: match obj.get("additionalProperties") {
            Some(Value::Bool(b)) => Some(AdditionalPropertiesItem {
                oneof: Some(AdditionalProperties::Boolean(*b)),
            }),
            Some(s @ Value::Object(_)) => Some(AdditionalPropertiesItem {
                oneof: Some(AdditionalProperties::Schema(Box::new(schema(s)))),
            }),
            _ => None,
        },
        r#type: single.map(|t| TypeItem { value: vec![t] }),
        items: (!items.is_empty()).then_some(ItemsItem { schema: items }),
        all_of,
        properties: obj.get("properties").map(|p| Properties {
            additional_properties: named(Some(p)),
        }),
        discriminator: text("discriminator"),
        read_only: flag("readOnly"),
        external_docs,
        example: obj.get("example").map(any),
        vendor_extension: obj
            .iter()
            .filter(|(k, _)| k.starts_with("x-"))
            .map(|(k, v)| NamedAny {
                name: k.clone(),
                value: Some(any(v)),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use serde_json::json;

    fn decoded(doc: &Value) -> Document {
        Document::decode(encode(doc).as_slice()).unwrap()
    }

    #[test]
    fn a_kind_keeps_its_descriptions_types_and_group_version_kind() {
        let doc = json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "definitions": {"live.videosdk.v1alpha1.VideoSdkToken": {
                "type": "object", "description": "A token.", "required": ["spec"],
                "x-kubernetes-group-version-kind": [{"group": "videosdk.live", "kind": "VideoSdkToken", "version": "v1alpha1"}],
                "properties": {
                    "metadata": {"description": "Standard.", "allOf": [{"$ref": "#/definitions/meta"}]},
                    "spec": {"type": "object", "properties": {
                        "ttl": {"type": "string", "description": "How long.", "default": "24h"},
                        "permissions": {"type": "array", "items": {"type": "string", "enum": ["allow_join"]}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "maybe": {"type": ["string", "null"]},
                        "list": {"type": "array"}}}}}}});
        let d = decoded(&doc);
        assert_eq!(
            (d.swagger.as_str(), d.info.unwrap().title.as_str()),
            ("2.0", "Kubernetes")
        );
        let defs = d.definitions.unwrap().additional_properties;
        let token = defs[0].value.as_ref().unwrap();
        assert_eq!(defs[0].name, "live.videosdk.v1alpha1.VideoSdkToken");
        assert_eq!(token.description, "A token.");
        assert_eq!(token.r#type.as_ref().unwrap().value, ["object"]);
        assert_eq!(token.required, ["spec"]);
        assert_eq!(
            token.vendor_extension[0].name,
            "x-kubernetes-group-version-kind"
        );
        assert_eq!(
            serde_json::from_str::<Value>(&token.vendor_extension[0].value.as_ref().unwrap().yaml)
                .unwrap()[0]["kind"],
            "VideoSdkToken"
        );
        let props = |s: &Schema| -> Vec<(String, Schema)> {
            s.properties
                .as_ref()
                .unwrap()
                .additional_properties
                .iter()
                .map(|n| (n.name.clone(), n.value.clone().unwrap()))
                .collect()
        };
        let top = props(token);
        let metadata = &top.iter().find(|(n, _)| n == "metadata").unwrap().1;
        assert_eq!(metadata.r#ref, "#/definitions/meta");
        assert!(metadata.all_of.is_empty());
        assert_eq!(metadata.description, "Standard.");
        let spec = props(&top.iter().find(|(n, _)| n == "spec").unwrap().1);
        let field = |name: &str| spec.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(field("ttl").description, "How long.");
        assert_eq!(field("ttl").default.unwrap().yaml, "\"24h\"");
        let permissions = field("permissions");
        assert_eq!(
            permissions.items.as_ref().unwrap().schema[0].r#enum[0].yaml,
            "\"allow_join\""
        );
        match field("labels").additional_properties.unwrap().oneof {
            Some(AdditionalProperties::Schema(s)) => {
                assert_eq!(s.r#type.unwrap().value, ["string"])
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(field("maybe").r#type.unwrap().value, ["string"]);
        // kube-openapi refuses an array without exactly one item schema.
        assert_eq!(field("list").items.unwrap().schema, [Schema::default()]);
    }
}
