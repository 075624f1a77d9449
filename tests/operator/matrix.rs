//! The bad-input matrix: every malformed input a user can send, as data, each with the answer
//! the user sees (a 422 `Invalid` naming the field at admission, or `Ready=False` with a
//! specific reason, a message and a Warning Event), while a healthy token beside them keeps its
//! token and a new one is issued promptly.
//!
//! `docs/bad-input.md` is rendered from this table and the answers observed (in memory); the test
//! fails when it differs. Regenerate it with
//! `VIDEOSDK_WRITE_BAD_INPUT_DOC=1 cargo test --test operator matrix`.

use super::*;
use kube::api::{ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use std::time::Instant;
use videosdk_token_operator::api::{ClusterVideoSdkIssuer, VideoSdkIssuer};

const SECRET: &str = "e2e-secret-matrix-0123456789abcdef";
const DOC: &str = "docs/bad-input.md";
const WRITE_DOC: &str = "VIDEOSDK_WRITE_BAD_INPUT_DOC";
/// A new token next to all the bad input must be Ready within this.
const PROMPTLY: Duration = Duration::from_secs(10);

/// The answer a user must get.
#[derive(Debug, Clone)]
enum Expected {
    /// 422 `Invalid` from the API server; the message contains `field_fragment`.
    Rejected { field_fragment: String },
    /// The token is `Ready=False` with `reason`, its message contains `message_fragment`, and a
    /// Warning Event with `reason` is about it. `issuer_reason`: the issuer it references says
    /// `Ready=False` with this reason (and, when namespaced, emits an Event with it).
    NotReady {
        reason: &'static str,
        message_fragment: String,
        issuer_reason: Option<&'static str>,
    },
}

/// One malformed input.
#[derive(Debug, Clone)]
struct Case {
    /// Also the name of the object under test.
    name: &'static str,
    /// What the user applied, as the table shows it.
    input: &'static str,
    /// Applied in order; the last one is the object under test, the others must be accepted.
    objects: Vec<Value>,
    expected: Expected,
}

fn rejected(
    name: &'static str,
    input: &'static str,
    objects: Vec<Value>,
    field_fragment: impl Into<String>,
) -> Case {
    Case {
        name,
        input,
        objects,
        expected: Expected::Rejected {
            field_fragment: field_fragment.into(),
        },
    }
}

fn not_ready(
    name: &'static str,
    input: &'static str,
    objects: Vec<Value>,
    reason: &'static str,
    message_fragment: impl Into<String>,
    issuer_reason: Option<&'static str>,
) -> Case {
    Case {
        name,
        input,
        objects,
        expected: Expected::NotReady {
            reason,
            message_fragment: message_fragment.into(),
            issuer_reason,
        },
    }
}

/// `base` with the fields of `extra`; a `null` in `extra` removes the field.
fn merged(base: Value, extra: Value) -> Value {
    let mut out = base.as_object().cloned().unwrap_or_default();
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            out.remove(&k);
        } else {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

/// A token named `name` whose spec is a valid one (issuer `good`, `allow_join`) changed by
/// `changes`.
fn token(name: &str, changes: Value) -> Value {
    let spec = merged(
        json!({"issuerRef": {"name": "good"}, "permissions": ["allow_join"]}),
        changes,
    );
    json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
           "metadata": {"name": name}, "spec": spec})
}

/// A token referencing issuer `issuer_ref` (an `issuerRef` object).
fn token_for(name: &str, issuer_ref: Value) -> Value {
    token(name, json!({"issuerRef": issuer_ref}))
}

/// A VideoSdkIssuer named `name` with `spec`.
fn issuer(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkIssuer",
           "metadata": {"name": name}, "spec": spec})
}

/// A ClusterVideoSdkIssuer named `name` with `spec`.
fn cluster_issuer(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "ClusterVideoSdkIssuer",
           "metadata": {"name": name}, "spec": spec})
}

/// A Secret named `name` with `stringData`.
fn secret_text(name: &str, string_data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
           "stringData": string_data})
}

/// A Secret named `name` with `data` (base64 values).
fn secret_data(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data})
}

/// The three objects of a credentials case: Secret `<name>-creds` holding `string_data`,
/// issuer `<name>` reading it, token `<name>` using the issuer.
fn credentials_case(name: &'static str, secret: Value, issuer_changes: Value) -> Vec<Value> {
    let creds = format!("{name}-creds");
    let mut secret = secret;
    secret["metadata"]["name"] = json!(creds);
    vec![
        secret,
        issuer(
            name,
            json!({"credentialsSecretRef": merged(json!({"name": creds}), issuer_changes)}),
        ),
        token_for(name, json!({"name": name})),
    ]
}

fn text(data: Value) -> Value {
    secret_text("", data)
}

fn bytes(data: Value) -> Value {
    secret_data("", data)
}

/// Every case, in the order the table shows them. `ns` is the test's namespace (also the
/// operator's cluster resource namespace), `other` a second namespace.
fn cases(ns: &str, other: &str) -> Vec<Case> {
    let long_257 = "a".repeat(257);
    let overlong_duration = "1m".repeat(33); // 66 characters, valid syntax
    let in_body = |field: &str, what: &str| format!("{field}: Invalid value: {what}");
    vec![
        // --- VideoSdkToken: shape and types ---------------------------------------------------
        rejected(
            "permissions-string",
            "`permissions: allow_join` (a string, not a list)",
            vec![token(
                "permissions-string",
                json!({"permissions": "allow_join"}),
            )],
            "spec.permissions: Invalid value: \"string\": spec.permissions in body must be of type array",
        ),
        rejected(
            "ttl-number",
            "`ttl: 3600` (a number)",
            vec![token("ttl-number", json!({"ttl": 3600}))],
            "spec.ttl: Invalid value: \"integer\": spec.ttl in body must be of type string",
        ),
        rejected(
            "roles-object",
            "`roles: {rtc: true}` (an object)",
            vec![token("roles-object", json!({"roles": {"rtc": true}}))],
            "spec.roles: Invalid value: \"object\": spec.roles in body must be of type array",
        ),
        rejected(
            "secret-template-label-number",
            "`secretTemplate.labels: {tier: 1}` (a number)",
            vec![token(
                "secret-template-label-number",
                json!({"secretTemplate": {"labels": {"tier": 1}}}),
            )],
            "spec.secretTemplate.labels.tier: Invalid value: \"integer\"",
        ),
        rejected(
            "issuer-ref-missing",
            "no `issuerRef`",
            vec![token("issuer-ref-missing", json!({"issuerRef": null}))],
            "spec.issuerRef: Required value",
        ),
        rejected(
            "issuer-ref-string",
            "`issuerRef: good` (a string)",
            vec![token("issuer-ref-string", json!({"issuerRef": "good"}))],
            "spec.issuerRef: Invalid value: \"string\": spec.issuerRef in body must be of type object",
        ),
        rejected(
            "issuer-ref-name-empty",
            "`issuerRef: {name: \"\"}`",
            vec![token(
                "issuer-ref-name-empty",
                json!({"issuerRef": {"name": ""}}),
            )],
            "spec.issuerRef.name: Invalid value: \"\": spec.issuerRef.name in body should be at least 1 chars long",
        ),
        rejected(
            "issuer-ref-kind-issuer",
            "`issuerRef: {name: good, kind: Issuer}` (cert-manager's kind)",
            vec![token(
                "issuer-ref-kind-issuer",
                json!({"issuerRef": {"name": "good", "kind": "Issuer"}}),
            )],
            "spec.issuerRef.kind: Unsupported value: \"Issuer\": supported values: \"VideoSdkIssuer\", \"ClusterVideoSdkIssuer\"",
        ),
        // --- permissions and roles ------------------------------------------------------------
        rejected(
            "permission-unknown",
            "`permissions: [join]`",
            vec![token(
                "permission-unknown",
                json!({"permissions": ["join"]}),
            )],
            "spec.permissions[0]: Unsupported value: \"join\": supported values: \"allow_join\", \"ask_join\", \"allow_mod\"",
        ),
        rejected(
            "permission-case",
            "`permissions: [ALLOW_JOIN]`",
            vec![token(
                "permission-case",
                json!({"permissions": ["ALLOW_JOIN"]}),
            )],
            "spec.permissions[0]: Unsupported value: \"ALLOW_JOIN\"",
        ),
        rejected(
            "permissions-duplicate",
            "`permissions: [allow_join, allow_join]`",
            vec![token(
                "permissions-duplicate",
                json!({"permissions": ["allow_join", "allow_join"]}),
            )],
            "spec.permissions[1]: Duplicate value: \"allow_join\"",
        ),
        rejected(
            "permissions-empty",
            "`permissions: []`",
            vec![token("permissions-empty", json!({"permissions": []}))],
            "spec.permissions: Invalid value: 0: spec.permissions in body should have at least 1 items",
        ),
        rejected(
            "permissions-missing",
            "`permission: [allow_join]` (misspelt; unknown fields are pruned)",
            vec![token(
                "permissions-missing",
                json!({"permissions": null, "permission": ["allow_join"]}),
            )],
            "spec.permissions: Required value",
        ),
        rejected(
            "role-unknown",
            "`roles: [admin]`",
            vec![token("role-unknown", json!({"roles": ["admin"]}))],
            "spec.roles[0]: Unsupported value: \"admin\": supported values: \"rtc\", \"crawler\"",
        ),
        rejected(
            "roles-duplicate",
            "`roles: [rtc, rtc]`",
            vec![token("roles-duplicate", json!({"roles": ["rtc", "rtc"]}))],
            "spec.roles[1]: Duplicate value: \"rtc\"",
        ),
        // --- durations ------------------------------------------------------------------------
        rejected(
            "ttl-days",
            "`ttl: 1d` (Go durations have no days)",
            vec![token("ttl-days", json!({"ttl": "1d"}))],
            in_body(
                "spec.ttl",
                "\"1d\": must be a Go duration: numbers with units h, m, s, ms, us or ns, such as 24h, 90m or 1h30m",
            ),
        ),
        rejected(
            "ttl-negative",
            "`ttl: -5m`",
            vec![token("ttl-negative", json!({"ttl": "-5m"}))],
            in_body(
                "spec.ttl",
                "\"-5m\": must be a Go duration: numbers with units h, m, s, ms, us or ns, such as 24h, 90m or 1h30m",
            ),
        ),
        rejected(
            "ttl-no-unit",
            "`ttl: \"5\"` (no unit)",
            vec![token("ttl-no-unit", json!({"ttl": "5"}))],
            in_body(
                "spec.ttl",
                "\"5\": must be a Go duration: numbers with units h, m, s, ms, us or ns, such as 24h, 90m or 1h30m",
            ),
        ),
        rejected(
            "ttl-empty",
            "`ttl: \"\"`",
            vec![token("ttl-empty", json!({"ttl": ""}))],
            in_body(
                "spec.ttl",
                "\"\": must be a Go duration: numbers with units h, m, s, ms, us or ns, such as 24h, 90m or 1h30m",
            ),
        ),
        rejected(
            "ttl-space",
            "`ttl: 1h 30m` (a space)",
            vec![token("ttl-space", json!({"ttl": "1h 30m"}))],
            in_body(
                "spec.ttl",
                "\"1h 30m\": must be a Go duration: numbers with units h, m, s, ms, us or ns, such as 24h, 90m or 1h30m",
            ),
        ),
        rejected(
            "ttl-uppercase",
            "`ttl: 24H`",
            vec![token("ttl-uppercase", json!({"ttl": "24H"}))],
            in_body(
                "spec.ttl",
                "\"24H\": must be a Go duration: numbers with units h, m, s, ms, us or ns, such as 24h, 90m or 1h30m",
            ),
        ),
        rejected(
            "ttl-overlong",
            "`ttl: 1m1m…1m` (66 characters)",
            vec![token("ttl-overlong", json!({"ttl": overlong_duration}))],
            "spec.ttl: Too long: may not be more than 64 bytes",
        ),
        rejected(
            "ttl-under-a-minute",
            "`ttl: 59s`",
            vec![token("ttl-under-a-minute", json!({"ttl": "59s"}))],
            "spec.ttl: Invalid value: \"59s\": ttl must be at least 1m",
        ),
        rejected(
            "ttl-out-of-range",
            "`ttl: 3000000h` (beyond Go's ~292 years)",
            vec![token("ttl-out-of-range", json!({"ttl": "3000000h"}))],
            "spec.ttl",
        ),
        rejected(
            "renew-both",
            "`renewBefore: 10m` and `renewBeforePercentage: 20`",
            vec![token(
                "renew-both",
                json!({"renewBefore": "10m", "renewBeforePercentage": 20}),
            )],
            "spec: Forbidden: renewBefore and renewBeforePercentage are mutually exclusive: set at most one",
        ),
        rejected(
            "renew-before-equals-ttl",
            "`ttl: 1h`, `renewBefore: 1h`",
            vec![token(
                "renew-before-equals-ttl",
                json!({"ttl": "1h", "renewBefore": "1h"}),
            )],
            "spec.renewBefore: Invalid value: renewBefore must be shorter than ttl",
        ),
        rejected(
            "renew-before-longer",
            "`ttl: 1h`, `renewBefore: 90m`",
            vec![token(
                "renew-before-longer",
                json!({"ttl": "1h", "renewBefore": "90m"}),
            )],
            "spec.renewBefore: Invalid value: renewBefore must be shorter than ttl",
        ),
        rejected(
            "renew-before-default-ttl",
            "no `ttl` (24h), `renewBefore: 48h`",
            vec![token(
                "renew-before-default-ttl",
                json!({"renewBefore": "48h"}),
            )],
            "spec.renewBefore: Invalid value: renewBefore must be shorter than ttl",
        ),
        rejected(
            "renew-before-pattern",
            "`renewBefore: 10 minutes`",
            vec![token(
                "renew-before-pattern",
                json!({"renewBefore": "10 minutes"}),
            )],
            in_body(
                "spec.renewBefore",
                "\"10 minutes\": must be a Go duration: numbers with units h, m, s, ms, us or ns, such as 24h, 90m or 1h30m",
            ),
        ),
        rejected(
            "renew-percentage-0",
            "`renewBeforePercentage: 0`",
            vec![token(
                "renew-percentage-0",
                json!({"renewBeforePercentage": 0}),
            )],
            "spec.renewBeforePercentage: Invalid value: 0: spec.renewBeforePercentage in body should be greater than or equal to 1",
        ),
        rejected(
            "renew-percentage-100",
            "`renewBeforePercentage: 100`",
            vec![token(
                "renew-percentage-100",
                json!({"renewBeforePercentage": 100}),
            )],
            "spec.renewBeforePercentage: Invalid value: 100: spec.renewBeforePercentage in body should be less than or equal to 99",
        ),
        rejected(
            "renew-percentage-negative",
            "`renewBeforePercentage: -1`",
            vec![token(
                "renew-percentage-negative",
                json!({"renewBeforePercentage": -1}),
            )],
            "spec.renewBeforePercentage: Invalid value: -1: spec.renewBeforePercentage in body should be greater than or equal to 1",
        ),
        rejected(
            "renew-percentage-string",
            "`renewBeforePercentage: \"20%\"`",
            vec![token(
                "renew-percentage-string",
                json!({"renewBeforePercentage": "20%"}),
            )],
            "spec.renewBeforePercentage: Invalid value: \"string\": spec.renewBeforePercentage in body must be of type integer",
        ),
        // --- ids and names --------------------------------------------------------------------
        rejected(
            "room-id-too-long",
            "`roomId:` 257 characters",
            vec![token("room-id-too-long", json!({"roomId": long_257}))],
            "spec.roomId: Too long: may not be more than 256 bytes",
        ),
        rejected(
            "participant-id-too-long",
            "`participantId:` 257 characters",
            vec![token(
                "participant-id-too-long",
                json!({"participantId": long_257}),
            )],
            "spec.participantId: Too long: may not be more than 256 bytes",
        ),
        rejected(
            "room-id-empty",
            "`roomId: \"\"`",
            vec![token("room-id-empty", json!({"roomId": ""}))],
            "spec.roomId: Invalid value: \"\": spec.roomId in body should be at least 1 chars long",
        ),
        rejected(
            "secret-name-underscore",
            "`secretName: Bad_Name`",
            vec![token(
                "secret-name-underscore",
                json!({"secretName": "Bad_Name"}),
            )],
            in_body(
                "spec.secretName",
                "\"Bad_Name\": spec.secretName in body should match",
            ),
        ),
        rejected(
            "secret-name-leading-dash",
            "`secretName: -x`",
            vec![token(
                "secret-name-leading-dash",
                json!({"secretName": "-x"}),
            )],
            in_body(
                "spec.secretName",
                "\"-x\": spec.secretName in body should match",
            ),
        ),
        rejected(
            "secret-name-too-long",
            "`secretName:` 254 characters",
            vec![token(
                "secret-name-too-long",
                json!({"secretName": "a".repeat(254)}),
            )],
            "spec.secretName: Too long: may not be more than 253 bytes",
        ),
        rejected(
            "secret-name-double-dot",
            "`secretName: a..b`",
            vec![token(
                "secret-name-double-dot",
                json!({"secretName": "a..b"}),
            )],
            in_body(
                "spec.secretName",
                "\"a..b\": spec.secretName in body should match",
            ),
        ),
        // --- issuers at admission -------------------------------------------------------------
        rejected(
            "issuer-max-ttl-days",
            "VideoSdkIssuer `maxTtl: 7d`",
            vec![issuer(
                "issuer-max-ttl-days",
                json!({"credentialsSecretRef": {"name": "creds"}, "maxTtl": "7d"}),
            )],
            in_body(
                "spec.maxTtl",
                "\"7d\": must be a Go duration: numbers with units h, m, s, ms, us or ns, such as 24h, 90m or 1h30m",
            ),
        ),
        rejected(
            "issuer-credentials-missing",
            "VideoSdkIssuer without `credentialsSecretRef`",
            vec![issuer(
                "issuer-credentials-missing",
                json!({"maxTtl": "1h"}),
            )],
            "spec.credentialsSecretRef: Required value",
        ),
        rejected(
            "issuer-credentials-name-empty",
            "VideoSdkIssuer `credentialsSecretRef: {name: \"\"}`",
            vec![issuer(
                "issuer-credentials-name-empty",
                json!({"credentialsSecretRef": {"name": ""}}),
            )],
            "spec.credentialsSecretRef.name: Invalid value: \"\": spec.credentialsSecretRef.name in body should be at least 1 chars long",
        ),
        rejected(
            "issuer-allowed-permission-unknown",
            "VideoSdkIssuer `allowedPermissions: [moderate]`",
            vec![issuer(
                "issuer-allowed-permission-unknown",
                json!({"credentialsSecretRef": {"name": "creds"}, "allowedPermissions": ["moderate"]}),
            )],
            "spec.allowedPermissions[0]: Unsupported value: \"moderate\"",
        ),
        rejected(
            "cluster-issuer-selector-string",
            "ClusterVideoSdkIssuer `namespaceSelector: team=media` (a string)",
            vec![cluster_issuer(
                "cluster-issuer-selector-string",
                json!({"credentialsSecretRef": {"name": "creds"}, "namespaceSelector": "team=media"}),
            )],
            "spec.namespaceSelector: Invalid value: \"string\": spec.namespaceSelector in body must be of type object",
        ),
        rejected(
            "cluster-issuer-match-labels-list",
            "ClusterVideoSdkIssuer `namespaceSelector: {matchLabels: [team]}` (a list)",
            vec![cluster_issuer(
                "cluster-issuer-match-labels-list",
                json!({"credentialsSecretRef": {"name": "creds"}, "namespaceSelector": {"matchLabels": ["team"]}}),
            )],
            "spec.namespaceSelector.matchLabels: Invalid value: \"array\": spec.namespaceSelector.matchLabels in body must be of type object",
        ),
        // --- credentials Secrets (operator) ---------------------------------------------------
        not_ready(
            "credentials-secret-missing",
            "issuer's `credentialsSecretRef.name` names no Secret",
            vec![
                issuer(
                    "credentials-secret-missing",
                    json!({"credentialsSecretRef": {"name": "no-such-secret"}}),
                ),
                token_for(
                    "credentials-secret-missing",
                    json!({"name": "credentials-secret-missing"}),
                ),
            ],
            "IssuerNotReady",
            format!("(SecretNotFound): Secret {ns}/no-such-secret does not exist"),
            Some("SecretNotFound"),
        ),
        not_ready(
            "credentials-no-api-key",
            "credentials Secret without key `apiKey`",
            credentials_case(
                "credentials-no-api-key",
                text(json!({"secret": SECRET})),
                json!({}),
            ),
            "IssuerNotReady",
            "(KeyMissing): Secret",
            Some("KeyMissing"),
        ),
        not_ready(
            "credentials-no-secret",
            "credentials Secret without key `secret`",
            credentials_case(
                "credentials-no-secret",
                text(json!({"apiKey": API_KEY})),
                json!({}),
            ),
            "IssuerNotReady",
            "has no key \"secret\" for the API secret (keys present: apiKey)",
            Some("KeyMissing"),
        ),
        not_ready(
            "credentials-no-keys",
            "credentials Secret with no data at all",
            credentials_case(
                "credentials-no-keys",
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {}}),
                json!({}),
            ),
            "IssuerNotReady",
            "has no key \"apiKey\" for the API key (keys present: none)",
            Some("KeyMissing"),
        ),
        not_ready(
            "credentials-api-key-empty",
            "credentials Secret with `apiKey: \"\"`",
            credentials_case(
                "credentials-api-key-empty",
                text(json!({"apiKey": "", "secret": SECRET})),
                json!({}),
            ),
            "IssuerNotReady",
            "(ValueEmpty)",
            Some("ValueEmpty"),
        ),
        not_ready(
            "credentials-secret-empty",
            "credentials Secret with `secret: \"\"`",
            credentials_case(
                "credentials-secret-empty",
                text(json!({"apiKey": API_KEY, "secret": ""})),
                json!({}),
            ),
            "IssuerNotReady",
            "the VideoSDK API secret is empty",
            Some("ValueEmpty"),
        ),
        not_ready(
            "credentials-secret-not-utf8",
            "credentials Secret whose `secret` is the bytes 0xff 0xfe (`data: {secret: //4=}`)",
            credentials_case(
                "credentials-secret-not-utf8",
                bytes(json!({"apiKey": base64_of(API_KEY.as_bytes()), "secret": "//4="})),
                json!({}),
            ),
            "IssuerNotReady",
            "key \"secret\" (API secret) is not UTF-8 text",
            Some("ValueNotUtf8"),
        ),
        not_ready(
            "credentials-api-key-not-utf8",
            "credentials Secret whose `apiKey` is the bytes 0xff 0xfe",
            credentials_case(
                "credentials-api-key-not-utf8",
                bytes(json!({"apiKey": "//4=", "secret": base64_of(SECRET.as_bytes())})),
                json!({}),
            ),
            "IssuerNotReady",
            "key \"apiKey\" (API key) is not UTF-8 text",
            Some("ValueNotUtf8"),
        ),
        not_ready(
            "credentials-secret-newline",
            "credentials Secret whose `secret` ends with a newline (`echo` without `-n`)",
            credentials_case(
                "credentials-secret-newline",
                text(json!({"apiKey": API_KEY, "secret": format!("{SECRET}\n")})),
                json!({}),
            ),
            "IssuerNotReady",
            "the VideoSDK API secret starts or ends with whitespace (often a trailing newline",
            Some("ValueHasWhitespace"),
        ),
        not_ready(
            "credentials-api-key-newline",
            "credentials Secret whose `apiKey` ends with a newline",
            credentials_case(
                "credentials-api-key-newline",
                text(json!({"apiKey": format!("{API_KEY}\n"), "secret": SECRET})),
                json!({}),
            ),
            "IssuerNotReady",
            "the VideoSDK API key starts or ends with whitespace",
            Some("ValueHasWhitespace"),
        ),
        not_ready(
            "credentials-secret-leading-space",
            "credentials Secret whose `secret` starts with a space",
            credentials_case(
                "credentials-secret-leading-space",
                text(json!({"apiKey": API_KEY, "secret": format!(" {SECRET}")})),
                json!({}),
            ),
            "IssuerNotReady",
            "the VideoSDK API secret starts or ends with whitespace",
            Some("ValueHasWhitespace"),
        ),
        not_ready(
            "credentials-custom-keys",
            "credentials Secret with keys `VIDEOSDK_API_KEY`/`VIDEOSDK_SECRET`, issuer with the default key names",
            credentials_case(
                "credentials-custom-keys",
                text(json!({"VIDEOSDK_API_KEY": API_KEY, "VIDEOSDK_SECRET": SECRET})),
                json!({}),
            ),
            "IssuerNotReady",
            "has no key \"apiKey\" for the API key (keys present: VIDEOSDK_API_KEY, VIDEOSDK_SECRET); add it or set credentialsSecretRef.apiKeyKey",
            Some("KeyMissing"),
        ),
        not_ready(
            "credentials-secret-key-mismatch",
            "issuer `apiKeyKey: VIDEOSDK_API_KEY`, `secretKey: VIDEOSDK_SECRET_KEY`; the Secret has `VIDEOSDK_API_KEY`/`VIDEOSDK_SECRET`",
            credentials_case(
                "credentials-secret-key-mismatch",
                text(json!({"VIDEOSDK_API_KEY": API_KEY, "VIDEOSDK_SECRET": SECRET})),
                json!({"apiKeyKey": "VIDEOSDK_API_KEY", "secretKey": "VIDEOSDK_SECRET_KEY"}),
            ),
            "IssuerNotReady",
            "has no key \"VIDEOSDK_SECRET_KEY\" for the API secret (keys present: VIDEOSDK_API_KEY, VIDEOSDK_SECRET); add it or set credentialsSecretRef.secretKey",
            Some("KeyMissing"),
        ),
        // --- issuer references (operator) -----------------------------------------------------
        not_ready(
            "issuer-missing",
            "`issuerRef: {name: nope}` (no such VideoSdkIssuer)",
            vec![token_for("issuer-missing", json!({"name": "nope"}))],
            "IssuerNotFound",
            format!("VideoSdkIssuer {ns}/nope does not exist"),
            None,
        ),
        not_ready(
            "issuer-wrong-kind",
            "`issuerRef: {name: good, kind: ClusterVideoSdkIssuer}` where `good` is a VideoSdkIssuer",
            vec![token_for(
                "issuer-wrong-kind",
                json!({"name": "good", "kind": "ClusterVideoSdkIssuer"}),
            )],
            "IssuerNotFound",
            "ClusterVideoSdkIssuer good does not exist",
            None,
        ),
        not_ready(
            "issuer-other-namespace",
            "`issuerRef: {name: elsewhere}` where `elsewhere` is a VideoSdkIssuer of another namespace",
            vec![
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}}),
                json!({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "creds", "namespace": other},
                       "stringData": {"apiKey": API_KEY, "secret": SECRET}}),
                json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkIssuer",
                       "metadata": {"name": "elsewhere", "namespace": other},
                       "spec": {"credentialsSecretRef": {"name": "creds"}}}),
                token_for("issuer-other-namespace", json!({"name": "elsewhere"})),
            ],
            "IssuerNotFound",
            format!("VideoSdkIssuer {ns}/elsewhere does not exist"),
            None,
        ),
        not_ready(
            "cluster-issuer-missing",
            "`issuerRef: {name: nope, kind: ClusterVideoSdkIssuer}`",
            vec![token_for(
                "cluster-issuer-missing",
                json!({"name": format!("{ns}-nope"), "kind": "ClusterVideoSdkIssuer"}),
            )],
            "IssuerNotFound",
            format!("ClusterVideoSdkIssuer {ns}-nope does not exist"),
            None,
        ),
        not_ready(
            "cluster-issuer-refuses-namespace",
            "ClusterVideoSdkIssuer with `namespaceSelector: {matchLabels: {videosdk: allowed}}`; the namespace lacks the label",
            vec![
                cluster_issuer(
                    &format!("{ns}-refuses"),
                    json!({"credentialsSecretRef": {"name": "creds"},
                           "namespaceSelector": {"matchLabels": {"videosdk": "allowed"}}}),
                ),
                token_for(
                    "cluster-issuer-refuses-namespace",
                    json!({"name": format!("{ns}-refuses"), "kind": "ClusterVideoSdkIssuer"}),
                ),
            ],
            "NamespaceNotAllowed",
            format!(
                "the namespaceSelector of ClusterVideoSdkIssuer {ns}-refuses does not admit namespace {ns}"
            ),
            Some("CredentialsValid"),
        ),
        not_ready(
            "cluster-issuer-bad-operator",
            "ClusterVideoSdkIssuer with `namespaceSelector.matchExpressions: [{key: tier, operator: Gt, values: [\"1\"]}]`",
            vec![
                cluster_issuer(
                    &format!("{ns}-bad-operator"),
                    json!({"credentialsSecretRef": {"name": "creds"},
                           "namespaceSelector": {"matchExpressions": [{"key": "tier", "operator": "Gt", "values": ["1"]}]}}),
                ),
                token_for(
                    "cluster-issuer-bad-operator",
                    json!({"name": format!("{ns}-bad-operator"), "kind": "ClusterVideoSdkIssuer"}),
                ),
            ],
            "IssuerNotReady",
            "has an invalid namespaceSelector (InvalidNamespaceSelector): operator \"Gt\" is not one of In, NotIn, Exists, DoesNotExist",
            Some("InvalidNamespaceSelector"),
        ),
        rejected(
            "issuer-max-ttl-zero",
            "VideoSdkIssuer `maxTtl: 0s`",
            vec![issuer(
                "issuer-max-ttl-zero",
                json!({"credentialsSecretRef": {"name": "creds"}, "maxTtl": "0s"}),
            )],
            in_body("spec.maxTtl", "\"0s\": maxTtl must be longer than 0s"),
        ),
        // --- policy (operator) ----------------------------------------------------------------
        not_ready(
            "policy-max-ttl",
            "`ttl: 2h` from issuer `strict` (`maxTtl: 1h`)",
            vec![token(
                "policy-max-ttl",
                json!({"issuerRef": {"name": "strict"}, "ttl": "2h"}),
            )],
            "PolicyViolation",
            format!(
                "spec.ttl 2h0m0s exceeds the maxTtl 1h0m0s of issuer VideoSdkIssuer {ns}/strict: ask for at most 1h0m0s"
            ),
            Some("CredentialsValid"),
        ),
        not_ready(
            "policy-default-ttl",
            "no `ttl` (default 24h) from issuer `strict` (`maxTtl: 1h`)",
            vec![token(
                "policy-default-ttl",
                json!({"issuerRef": {"name": "strict"}}),
            )],
            "PolicyViolation",
            "spec.ttl 24h0m0s exceeds the maxTtl 1h0m0s",
            Some("CredentialsValid"),
        ),
        not_ready(
            "policy-permission",
            "`permissions: [allow_join, allow_mod]` from issuer `strict` (`allowedPermissions: [allow_join, ask_join]`)",
            vec![token(
                "policy-permission",
                json!({"issuerRef": {"name": "strict"}, "ttl": "30m", "permissions": ["allow_join", "allow_mod"]}),
            )],
            "PolicyViolation",
            format!(
                "permission allow_mod is not in the allowedPermissions of issuer VideoSdkIssuer {ns}/strict (allow_join, ask_join)"
            ),
            Some("CredentialsValid"),
        ),
        not_ready(
            "policy-role",
            "`roles: [crawler]` from issuer `strict` (`allowedRoles: [rtc]`)",
            vec![token(
                "policy-role",
                json!({"issuerRef": {"name": "strict"}, "ttl": "30m", "roles": ["crawler"]}),
            )],
            "PolicyViolation",
            format!(
                "role crawler is not in the allowedRoles of issuer VideoSdkIssuer {ns}/strict (rtc)"
            ),
            Some("CredentialsValid"),
        ),
        // --- the target Secret ----------------------------------------------------------------
        not_ready(
            "secret-not-owned",
            "`secretName: app-config`, a Secret the operator did not create",
            vec![
                secret_text("app-config", json!({"config.yaml": "debug: true"})),
                token("secret-not-owned", json!({"secretName": "app-config"})),
            ],
            "SecretNotOwned",
            format!(
                "Secret {ns}/app-config exists and was not created for this VideoSdkToken, so it is left untouched: delete it, or set spec.secretName to another name"
            ),
            Some("CredentialsValid"),
        ),
    ]
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Applies `object`; the API server's error when it refuses it.
async fn try_apply(env: &Env, object: &Value) -> Result<(), kube::Error> {
    match manifests::apply(
        &env.t.client,
        env.namespace(),
        "matrix",
        &serde_json::to_string(object).unwrap(),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(manifests::ManifestError::Rejected { error, .. }) => Err(*error),
        Err(other) => panic!("{object}: not sent to the API server: {other}"),
    }
}

/// Whether `object` (by kind and name) exists.
async fn exists(env: &Env, object: &Value) -> bool {
    let (group, version) = object["apiVersion"]
        .as_str()
        .unwrap()
        .split_once('/')
        .unwrap_or(("", "v1"));
    let kind = object["kind"].as_str().unwrap();
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let api: Api<DynamicObject> = if kind == "ClusterVideoSdkIssuer" {
        Api::all_with(env.t.client.clone(), &resource)
    } else {
        Api::namespaced_with(env.t.client.clone(), env.namespace(), &resource)
    };
    api.get_opt(object["metadata"]["name"].as_str().unwrap())
        .await
        .expect("reading the object")
        .is_some()
}

/// The healthy token is still Ready with the same token id and JWT.
async fn check_healthy(env: &Env, token_id: &Option<String>, jwt: &str, after: &str) {
    let token = env
        .tokens()
        .get("healthy")
        .await
        .expect("the healthy token");
    assert_eq!(
        ready_reason(&token).as_deref(),
        Some("True/Issued"),
        "the healthy token is no longer Ready after {after}"
    );
    assert_eq!(
        &token.status.unwrap().token_id,
        token_id,
        "the healthy token was re-signed after {after}"
    );
    assert_eq!(env.jwt("healthy").await, jwt, "the healthy Secret changed");
}

/// Waits until the issuer `name` of `kind` says Ready with `reason`; returns its message.
async fn wait_issuer_reason(env: &Env, kind: &str, name: &str, reason: &'static str) -> String {
    let has = move |conditions: Option<
        &Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
    >| {
        conditions
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .filter(|c| c.reason == reason)
            .map(|c| c.message.clone())
    };
    let found = if kind == "ClusterVideoSdkIssuer" {
        let api: Api<ClusterVideoSdkIssuer> = Api::all(env.t.client.clone());
        tokio::time::timeout(
            WAIT,
            await_condition(api, name, move |i: Option<&ClusterVideoSdkIssuer>| {
                has(i.and_then(|i| i.status.as_ref()).map(|s| &s.conditions)).is_some()
            }),
        )
        .await
        .map(|i| {
            i.ok()
                .flatten()
                .and_then(|i| has(i.status.as_ref().map(|s| &s.conditions)))
        })
    } else {
        let api: Api<VideoSdkIssuer> = Api::namespaced(env.t.client.clone(), env.namespace());
        tokio::time::timeout(
            WAIT,
            await_condition(api, name, move |i: Option<&VideoSdkIssuer>| {
                has(i.and_then(|i| i.status.as_ref()).map(|s| &s.conditions)).is_some()
            }),
        )
        .await
        .map(|i| {
            i.ok()
                .flatten()
                .and_then(|i| has(i.status.as_ref().map(|s| &s.conditions)))
        })
    };
    found
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{kind} {name} did not say {reason} in time"))
}

/// What the user saw for one case, for the table.
struct Answer {
    case: Case,
    /// `422 Invalid` or `Ready=False Reason`.
    outcome: String,
    message: String,
}

#[tokio::test]
async fn matrix_every_bad_input_has_a_specific_answer_and_spares_healthy_tokens() {
    let started = Instant::now();
    let env = Env::start("matrix").await;
    let ns = env.namespace().to_owned();
    let other = format!("{ns}-other");

    // Fixtures the cases refer to, and a healthy token created before any bad input.
    env.credentials("creds", SECRET).await;
    env.issuer("good", "creds", json!({})).await;
    env.issuer(
        "strict",
        "creds",
        json!({"maxTtl": "1h", "allowedPermissions": ["allow_join", "ask_join"], "allowedRoles": ["rtc"]}),
    )
    .await;
    env.token(
        "healthy",
        json!({"issuerRef": {"name": "good"}, "permissions": ["allow_join"]}),
    )
    .await;
    let healthy_id = env.wait_ready("healthy").await.status.unwrap().token_id;
    assert!(healthy_id.is_some());
    let healthy_jwt = env.jwt("healthy").await;

    let cases = cases(&ns, &other);
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut names = std::collections::BTreeSet::new();
    for case in &cases {
        assert!(names.insert(case.name), "case {} twice", case.name);
    }
    let mut failures: Vec<String> = Vec::new();
    let mut answers: Vec<Answer> = Vec::new();

    // Admission first: each answer is immediate. Then everything the operator must answer is
    // applied at once, so that the bad tokens are reconciled side by side with the healthy one.
    for case in &cases {
        let (fixtures, object) = case.objects.split_at(case.objects.len() - 1);
        for fixture in fixtures {
            env.apply(fixture.clone()).await;
        }
        let object = &object[0];
        let result = try_apply(&env, object).await;
        match (&case.expected, result) {
            (Expected::Rejected { field_fragment }, Err(kube::Error::Api(status))) => {
                if status.code != 422 || status.reason != "Invalid" {
                    failures.push(format!(
                        "{}: expected 422 Invalid, got {} {}: {}",
                        case.name, status.code, status.reason, status.message
                    ));
                }
                if !status.message.contains(field_fragment.as_str()) {
                    failures.push(format!(
                        "{}: the 422 message {:?} does not contain {field_fragment:?}",
                        case.name, status.message
                    ));
                }
                if exists(&env, object).await {
                    failures.push(format!("{}: stored despite the 422", case.name));
                }
                answers.push(Answer {
                    case: case.clone(),
                    outcome: format!("{} {}", status.code, status.reason),
                    message: status.message.clone(),
                });
            }
            (Expected::Rejected { .. }, other) => {
                failures.push(format!(
                    "{}: expected a 422 at admission, got {other:?}",
                    case.name
                ));
            }
            (Expected::NotReady { .. }, Ok(())) => {}
            (Expected::NotReady { .. }, Err(e)) => {
                failures.push(format!("{}: refused at admission: {e}", case.name));
            }
        }
        check_healthy(&env, &healthy_id, &healthy_jwt, case.name).await;
    }
    let foreign_before = env
        .secrets()
        .get("app-config")
        .await
        .expect("foreign Secret");

    for case in &cases {
        let Expected::NotReady {
            reason,
            message_fragment,
            issuer_reason,
        } = &case.expected
        else {
            continue;
        };
        if failures
            .iter()
            .any(|f| f.starts_with(&format!("{}:", case.name)))
        {
            continue;
        }
        let token = env.wait_not_ready(case.name, reason).await;
        let status = token.status.clone().unwrap();
        let ready = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .expect("a Ready condition");
        if !ready.message.contains(message_fragment.as_str()) {
            failures.push(format!(
                "{}: the message {:?} does not contain {message_fragment:?}",
                case.name, ready.message
            ));
        }
        if ready.message.contains(SECRET_PREFIX) {
            failures.push(format!("{}: the message leaks a secret", case.name));
        }
        if status.failed_issuance_attempts.unwrap_or(0) < 1 || status.last_failure_time.is_none() {
            failures.push(format!("{}: the failure is not counted", case.name));
        }
        if status.token_id.is_some() {
            failures.push(format!("{}: a token id despite the failure", case.name));
        }
        let event = env.wait_event(case.name, reason).await;
        if event.type_.as_deref() != Some("Warning") {
            failures.push(format!("{}: the {reason} Event is no Warning", case.name));
        }
        if event.note.as_deref() != Some(ready.message.as_str()) {
            failures.push(format!(
                "{}: the Event says {:?}, the condition {:?}",
                case.name, event.note, ready.message
            ));
        }
        let secret_name = token.spec.secret_name.as_deref().unwrap_or(case.name);
        let secret = env.secrets().get_opt(secret_name).await.unwrap();
        if *reason == "SecretNotOwned" {
            if secret.as_ref().map(|s| (&s.data, &s.metadata.labels))
                != Some((&foreign_before.data, &foreign_before.metadata.labels))
            {
                failures.push(format!("{}: the foreign Secret was changed", case.name));
            }
        } else if secret.is_some() {
            failures.push(format!("{}: a Secret was written", case.name));
        }
        let mut outcome = format!("Ready=False {reason}");
        if let Some(issuer_reason) = issuer_reason {
            let kind = token.spec.issuer_ref.kind;
            let kind = format!("{kind:?}");
            let issuer = token.spec.issuer_ref.name.clone();
            let issuer_message = wait_issuer_reason(&env, &kind, &issuer, issuer_reason).await;
            if issuer_message.contains(SECRET_PREFIX) {
                failures.push(format!("{}: the issuer's message leaks", case.name));
            }
            if *issuer_reason != "CredentialsValid" {
                if kind == "VideoSdkIssuer" {
                    let event = env.wait_event(&issuer, issuer_reason).await;
                    if event.type_.as_deref() != Some("Warning") {
                        failures.push(format!("{}: the issuer's Event is no Warning", case.name));
                    }
                }
                outcome.push_str(&format!(" (issuer: Ready=False {issuer_reason})"));
            }
        }
        answers.push(Answer {
            case: case.clone(),
            outcome,
            message: ready.message.clone(),
        });
        check_healthy(&env, &healthy_id, &healthy_jwt, case.name).await;
    }

    // A token created after all of it is issued promptly.
    let created = Instant::now();
    env.token(
        "healthy-after",
        json!({"issuerRef": {"name": "good"}, "permissions": ["allow_join", "allow_mod"], "ttl": "1h"}),
    )
    .await;
    env.wait_ready("healthy-after").await;
    let after = created.elapsed();
    assert!(
        after < PROMPTLY,
        "a new token took {after:?} to be Ready beside the bad input"
    );
    let jwt = env.jwt("healthy-after").await;
    verified(&jwt, SECRET);

    // The healthy token was never touched, and the operator never stopped.
    check_healthy(&env, &healthy_id, &healthy_jwt, "the new token").await;
    assert_eq!(env.events("healthy", "Issued").await.len(), 1);
    assert!(env.events("healthy", "Renewed").await.is_empty());
    assert!(
        env.operator_running(),
        "the operator task ended (a panic, or an error it gave up on)"
    );

    assert!(
        failures.is_empty(),
        "{} of {} cases answered differently:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    answers.sort_by_key(|a| cases.iter().position(|c| c.name == a.case.name));
    let doc = render(&answers, &ns);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    if env.t.is_real() {
        // A real kube-apiserver words some answers differently; the table is of this server's.
    } else if std::env::var_os(WRITE_DOC).is_some() {
        std::fs::write(&path, &doc).expect("writing the doc");
    } else {
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            written == doc,
            "{DOC} differs from the answers observed; regenerate it with {WRITE_DOC}=1 cargo test --test operator matrix"
        );
    }
    let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(env.t.client.clone())
        .delete(&other, &DeleteParams::default())
        .await;
    let cluster_issuers: Api<ClusterVideoSdkIssuer> = Api::all(env.t.client.clone());
    for name in [format!("{ns}-refuses"), format!("{ns}-bad-operator")] {
        let _ = cluster_issuers
            .delete(&name, &DeleteParams::default())
            .await;
    }
    env.cleanup().await;
    eprintln!(
        "bad-input matrix: {} cases in {:?}; a new token beside them Ready in {after:?}",
        cases.len(),
        started.elapsed()
    );
}

/// `docs/bad-input.md`: the table, one row per case, with the answer as observed (the test's
/// namespace shown as `<ns>`, long runs of one character shortened).
fn render(answers: &[Answer], ns: &str) -> String {
    let rejected = answers
        .iter()
        .filter(|a| matches!(a.case.expected, Expected::Rejected { .. }))
        .count();
    let mut out = String::new();
    out.push_str("# Bad input and the answer you get\n\n");
    out.push_str(&format!(
        "Every malformed input the end-to-end test `tests/operator/matrix.rs` sends ({} cases), with the \
         answer a user sees. {} are rejected at admission by the CRD schema (`kubectl apply` fails \
         with a 422 `Invalid` naming the field); the other {} are accepted and the token goes \
         `Ready=False` with a reason and a Warning Event of the same reason and message \
         (`kubectl describe vst NAME`). A healthy token beside them keeps its token throughout, and \
         a new one is issued promptly.\n\n",
        answers.len(),
        rejected,
        answers.len() - rejected
    ));
    out.push_str(
        "The cases share a Secret `creds` with valid credentials, a VideoSdkIssuer `good` using \
         it, and a VideoSdkIssuer `strict` with `maxTtl: 1h`, `allowedPermissions: [allow_join, \
         ask_join]`, `allowedRoles: [rtc]`. Unless the row says otherwise a token is \
         `issuerRef: {name: good}`, `permissions: [allow_join]`. `<ns>` is the token's namespace. \
         A 422 that ends with `<nil>: Invalid value: null: some validation rules were not checked \
         …` is kube-apiserver's standard note that the CEL rules were skipped because of the error \
         before it: fix the field it names first.\n\n",
    );
    out.push_str(
        "Generated by the test from the answers it observed: \
         `VIDEOSDK_WRITE_BAD_INPUT_DOC=1 cargo test --test operator matrix`.\n\n",
    );
    out.push_str("| # | case | input | answer | message |\n|---|---|---|---|---|\n");
    for (i, a) in answers.iter().enumerate() {
        let message = shorten_runs(&a.message.replace(ns, "<ns>"));
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            i + 1,
            a.case.name,
            cell(a.case.input),
            a.outcome,
            code(&message)
        ));
    }
    out
}

/// Escapes `|` for a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// `s` as a code span in a table cell (it may contain single backticks).
fn code(s: &str) -> String {
    format!("`` {} ``", cell(s))
}

/// Replaces runs of 20 or more of one character with `<N × c>`.
fn shorten_runs(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && chars[j] == chars[i] {
            j += 1;
        }
        if j - i >= 20 {
            out.push_str(&format!("<{} × {}>", j - i, chars[i]));
        } else {
            out.extend(&chars[i..j]);
        }
        i = j;
    }
    out
}
