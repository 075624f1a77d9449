//! Each behaviour asserts kube-apiserver's answer: field path, cause type and message.

use super::*;
use serde_json::json;

fn crd_schema(kind: &str) -> CompiledSchema {
    let (_, crd) = e2e_support::operator_crds::crds()
        .into_iter()
        .find(|(_, c)| c.spec.names.kind == kind)
        .expect("CRD exists");
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("schema");
    CompiledSchema::compile(&serde_json::to_value(schema).unwrap()).expect("compiles")
}

fn token_schema() -> CompiledSchema {
    crd_schema("VideoSdkToken")
}

fn token(spec: Value) -> Value {
    json!({
        "apiVersion": "videosdk.live/v1alpha1",
        "kind": "VideoSdkToken",
        "metadata": {"name": "t", "namespace": "default"},
        "spec": spec,
    })
}

fn fe(field: &str, reason: &str, message: &str) -> FieldError {
    FieldError {
        field: field.into(),
        reason: reason.into(),
        message: message.into(),
    }
}

const NOT_CHECKED: &str = "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

fn not_checked() -> FieldError {
    fe("<nil>", "FieldValueInvalid", NOT_CHECKED)
}

fn admit_spec(spec: Value) -> Result<Value, Vec<FieldError>> {
    let mut obj = token(spec);
    token_schema().admit(&mut obj, None).map(|()| obj)
}

const DURATION: &str = r"^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$";

#[test]
fn valid_token_passes_and_gets_defaults() {
    let obj = admit_spec(json!({
        "issuerRef": {"name": "main"},
        "permissions": ["allow_join", "allow_mod"],
        "roles": ["rtc"],
        "roomId": "room-1",
        "renewBefore": "1h",
        "secretName": "my-token.v1",
        "secretTemplate": {"labels": {"app": "web"}, "annotations": {"a/b": "c"}},
    }))
    .expect("valid");
    assert_eq!(obj["spec"]["issuerRef"]["kind"], "VideoSdkIssuer");
    assert_eq!(obj["spec"]["ttl"], "24h");
    assert_eq!(obj["spec"]["secretTemplate"]["labels"]["app"], "web");
}

#[test]
fn every_crd_compiles_and_accepts_a_valid_object() {
    let mut issuer = json!({
        "apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkIssuer",
        "metadata": {"name": "i"},
        "spec": {"credentialsSecretRef": {"name": "creds"}, "maxTtl": "168h",
                 "allowedPermissions": ["allow_join"]},
    });
    crd_schema("VideoSdkIssuer")
        .admit(&mut issuer, None)
        .unwrap();
    assert_eq!(
        issuer["spec"]["credentialsSecretRef"]["apiKeyKey"],
        "apiKey"
    );
    assert_eq!(
        issuer["spec"]["credentialsSecretRef"]["secretKey"],
        "secret"
    );
    let mut cluster = json!({
        "apiVersion": "videosdk.live/v1alpha1", "kind": "ClusterVideoSdkIssuer",
        "metadata": {"name": "c"},
        "spec": {"credentialsSecretRef": {"name": "creds"},
                 "namespaceSelector": {"matchLabels": {"team": "a"}}},
    });
    crd_schema("ClusterVideoSdkIssuer")
        .admit(&mut cluster, None)
        .unwrap();
    assert_eq!(
        cluster["spec"]["namespaceSelector"]["matchLabels"]["team"],
        "a"
    );
}

#[test]
fn unknown_permission_is_unsupported() {
    let errs =
        admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join", "foo"]}))
            .unwrap_err();
    assert_eq!(
        errs,
        vec![
            fe(
                "spec.permissions[1]",
                "FieldValueNotSupported",
                r#"Unsupported value: "foo": supported values: "allow_join", "ask_join", "allow_mod""#
            ),
            not_checked(),
        ]
    );
    assert_eq!(
        errs[0].to_string(),
        r#"spec.permissions[1]: Unsupported value: "foo": supported values: "allow_join", "ask_join", "allow_mod""#
    );
}

#[test]
fn duplicate_permission() {
    let errs = admit_spec(json!({"issuerRef": {"name": "m"},
        "permissions": ["allow_join", "ask_join", "allow_join", "allow_join"]}))
    .unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.permissions[2]",
            "FieldValueDuplicate",
            r#"Duplicate value: "allow_join""#
        )]
    );
}

#[test]
fn empty_permissions() {
    let errs = admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": []})).unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.permissions",
            "FieldValueInvalid",
            "Invalid value: 0: spec.permissions in body should have at least 1 items"
        )]
    );
}

#[test]
fn bad_ttl_syntax_gets_one_readable_error() {
    // The CRD's ttl rule checks the syntax before any `duration()`, and its messageExpression
    // names the syntax first, so a malformed ttl gets one error saying what to write.
    let errs =
        admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"], "ttl": "1d"}))
            .unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.ttl",
            "FieldValueInvalid",
            "Invalid value: \"object\": must be a Go duration: numbers with units h, m, s, ms, us or ns, such as 24h, 90m or 1h30m"
        )]
    );
}

#[test]
fn a_pattern_error_does_not_block_cel_rules() {
    // kube-apiserver: a `pattern` failure is no reason to skip `x-kubernetes-validations`;
    // `duration('1d')` then fails to evaluate.
    let schema = CompiledSchema::compile(&json!({"type": "object", "properties": {"spec": {
        "type": "object",
        "properties": {"ttl": {"type": "string", "pattern": DURATION,
            "x-kubernetes-validations": [{"rule": "duration(self) >= duration('1m')", "message": "ttl must be at least 1m"}]}}
    }}}))
    .unwrap();
    let mut object =
        json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "x"}, "spec": {"ttl": "1d"}});
    let errs = schema.admit(&mut object, None).unwrap_err();
    assert_eq!(
        errs,
        vec![
            fe(
                "spec.ttl",
                "FieldValueInvalid",
                &format!("Invalid value: \"1d\": spec.ttl in body should match '{DURATION}'")
            ),
            fe(
                "spec.ttl",
                "FieldValueInvalid",
                "Invalid value: \"string\": type conversion error from 'string' to 'google.protobuf.Duration' evaluating rule: ttl must be at least 1m"
            ),
        ]
    );
}

#[test]
fn ttl_below_the_minimum() {
    let errs =
        admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"], "ttl": "2m"}))
            .unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.ttl",
            "FieldValueInvalid",
            r#"Invalid value: "object": ttl must be at least 2m10s: the token must stay valid 2m after its re-sign (renewBefore) and renew at least 10s after issuance; e.g. ttl: 3m with renewBefore: 2m, or ttl: 6m without renewBefore"#
        )]
    );
    // The shortest legal schedule of each kind: renewBefore, a percentage, the default third.
    admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"], "ttl": "2m10s", "renewBefore": "2m"}))
        .unwrap();
    admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"], "ttl": "5m", "renewBeforePercentage": 40}))
        .unwrap();
    admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"], "ttl": "6m"}))
        .unwrap();
}

#[test]
fn go_duration_syntax_in_cel() {
    for ok in [
        "1h30m", "90m", "1.5h", ".5h", "2h0m0.5s", "600000ms", "1h0.5m",
    ] {
        admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"], "ttl": ok}))
            .unwrap_or_else(|e| panic!("{ok}: {e:?}"));
    }
    // 1h30m renewBefore vs 90m ttl: equal, so not shorter
    let errs = admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "ttl": "90m", "renewBefore": "1h30m"}),
    )
    .unwrap_err();
    assert_eq!(errs[0].field, "spec.renewBefore");
}

#[test]
fn renew_before_not_shorter_than_ttl() {
    let errs = admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "ttl": "1h", "renewBefore": "2h"}),
    )
    .unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.renewBefore",
            "FieldValueInvalid",
            "Invalid value: \"object\": renewBefore must be shorter than ttl"
        )]
    );
    // against the defaulted ttl (24h)
    admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"], "renewBefore": "23h"}),
    )
    .unwrap();
}

#[test]
fn both_renew_fields_forbidden() {
    let errs = admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "renewBefore": "1h", "renewBeforePercentage": 30}),
    )
    .unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec",
            "FieldValueForbidden",
            "Forbidden: renewBefore and renewBeforePercentage are mutually exclusive: set at most one"
        )]
    );
}

#[test]
fn renew_before_percentage_bounds() {
    let errs = admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "renewBeforePercentage": 0}),
    )
    .unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.renewBeforePercentage",
            "FieldValueInvalid",
            "Invalid value: 0: spec.renewBeforePercentage in body should be greater than or equal to 1"
        )]
    );
    let errs = admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "renewBeforePercentage": 100}),
    )
    .unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.renewBeforePercentage",
            "FieldValueInvalid",
            "Invalid value: 100: spec.renewBeforePercentage in body should be less than or equal to 99"
        )]
    );
    admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "renewBeforePercentage": 99}),
    )
    .unwrap();
}

#[test]
fn integer_versus_number() {
    let errs = admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "renewBeforePercentage": 1.5}),
    )
    .unwrap_err();
    assert_eq!(
        errs,
        vec![
            fe(
                "spec.renewBeforePercentage",
                "FieldValueTypeInvalid",
                r#"Invalid value: "double": spec.renewBeforePercentage in body must be of type int32: "double""#
            ),
            not_checked()
        ]
    );
    // a float with an integral value is an integer to kube-openapi
    admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "renewBeforePercentage": 20.0}),
    )
    .unwrap();
}

#[test]
fn over_long_room_id() {
    let errs = admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "roomId": "r".repeat(257)}),
    )
    .unwrap_err();
    assert_eq!(
        errs,
        vec![
            fe(
                "spec.roomId",
                "FieldValueTooLong",
                "Too long: may not be more than 256 bytes"
            ),
            not_checked()
        ]
    );
    let errs = admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "roomId": ""}),
    )
    .unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.roomId",
            "FieldValueInvalid",
            r#"Invalid value: "": spec.roomId in body should be at least 1 chars long"#
        )]
    );
}

#[test]
fn bad_secret_name() {
    let errs = admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "secretName": "Bad_Name"}),
    )
    .unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.secretName",
            "FieldValueInvalid",
            r#"Invalid value: "Bad_Name": spec.secretName in body should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'"#
        )]
    );
}

#[test]
fn wrong_type_string_for_array() {
    let errs =
        admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": "allow_join"})).unwrap_err();
    assert_eq!(
        errs,
        vec![
            fe(
                "spec.permissions",
                "FieldValueTypeInvalid",
                r#"Invalid value: "string": spec.permissions in body must be of type array: "string""#
            ),
            not_checked()
        ]
    );
}

#[test]
fn required_fields() {
    let errs = admit_spec(json!({"permissions": ["allow_join"]})).unwrap_err();
    assert_eq!(
        errs,
        vec![
            fe("spec.issuerRef", "FieldValueRequired", "Required value"),
            not_checked()
        ]
    );
    let mut no_spec = json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
        "metadata": {"name": "t"}});
    let errs = token_schema().admit(&mut no_spec, None).unwrap_err();
    assert_eq!(errs[0], fe("spec", "FieldValueRequired", "Required value"));
}

#[test]
fn issuer_kind_enum() {
    let errs = admit_spec(
        json!({"issuerRef": {"name": "m", "kind": "Issuer"}, "permissions": ["allow_join"]}),
    )
    .unwrap_err();
    assert_eq!(
        errs[0],
        fe(
            "spec.issuerRef.kind",
            "FieldValueNotSupported",
            r#"Unsupported value: "Issuer": supported values: "VideoSdkIssuer", "ClusterVideoSdkIssuer""#
        )
    );
}

#[test]
fn unknown_fields_pruned_meta_kept() {
    let mut obj = json!({
        "apiVersion": "videosdk.live/v1alpha1",
        "kind": "VideoSdkToken",
        "metadata": {"name": "t", "labels": {"a": "b"}, "bogus": 1},
        "extra": true,
        "spec": {"issuerRef": {"name": "m", "color": "red"}, "permissions": ["allow_join"], "foo": "bar",
                 "secretTemplate": {"labels": {"x": "y"}, "other": {}}},
    });
    token_schema().admit(&mut obj, None).unwrap();
    assert_eq!(obj.get("extra"), None);
    assert_eq!(obj["spec"].get("foo"), None);
    assert_eq!(obj["spec"]["issuerRef"].get("color"), None);
    assert_eq!(obj["spec"]["secretTemplate"].get("other"), None);
    assert_eq!(obj["spec"]["secretTemplate"]["labels"]["x"], "y");
    assert_eq!(obj["metadata"], json!({"name": "t", "labels": {"a": "b"}}));
    assert_eq!(obj["apiVersion"], "videosdk.live/v1alpha1");
    assert_eq!(obj["kind"], "VideoSdkToken");
}

#[test]
fn status_left_as_is() {
    let status = json!({
        "conditions": [{"type": "Ready", "status": "True", "reason": "Issued", "message": "ok",
                        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 3}],
        "tokenId": "0b6e", "notAfter": "2026-01-02T00:00:00Z", "secretName": "t",
        "failedIssuanceAttempts": 0, "observedGeneration": 3,
    });
    let mut obj = token(json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"]}));
    obj["status"] = status.clone();
    token_schema().admit(&mut obj, None).unwrap();
    assert_eq!(obj["status"], status);
}

#[test]
fn duplicate_condition_types_in_list_map() {
    let cond = json!({"type": "Ready", "status": "True", "reason": "Issued", "message": "",
                      "lastTransitionTime": "2026-01-01T00:00:00Z"});
    let mut obj = token(json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"]}));
    obj["status"] = json!({"conditions": [cond.clone(), cond]});
    let errs = token_schema().admit(&mut obj, None).unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "status.conditions[1]",
            "FieldValueDuplicate",
            r#"Duplicate value: {"type":"Ready"}"#
        )]
    );
}

#[test]
fn bad_date_time_format() {
    let mut obj = token(json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"]}));
    obj["status"] = json!({"notAfter": "tomorrow"});
    let errs = token_schema().admit(&mut obj, None).unwrap_err();
    assert_eq!(
        errs[0],
        fe(
            "status.notAfter",
            "FieldValueTypeInvalid",
            r#"Invalid value: "tomorrow": status.notAfter in body must be of type date-time: "tomorrow""#
        )
    );
}

#[test]
fn nulls_as_kube_apiserver_handles_them() {
    // nullable: stays null and is absent for CEL (has() false)
    let obj = admit_spec(
        json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"],
        "renewBefore": null, "renewBeforePercentage": 20}),
    )
    .unwrap();
    assert_eq!(obj["spec"]["renewBefore"], Value::Null);
    // non-nullable with a default: the default
    let obj = admit_spec(
        json!({"issuerRef": {"name": "m", "kind": null}, "permissions": ["allow_join"],
        "ttl": null}),
    )
    .unwrap();
    assert_eq!(obj["spec"]["ttl"], "24h");
    assert_eq!(obj["spec"]["issuerRef"]["kind"], "VideoSdkIssuer");
    // non-nullable without a default: dropped, so a required one is then missing
    let errs = admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": null})).unwrap_err();
    assert_eq!(
        errs[0],
        fe("spec.permissions", "FieldValueRequired", "Required value")
    );
}

fn small(schema: Value) -> CompiledSchema {
    CompiledSchema::compile(&json!({
        "type": "object",
        "properties": {"spec": schema},
    }))
    .expect("compiles")
}

fn obj(spec: Value) -> Value {
    json!({"apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "x"}, "spec": spec})
}

#[test]
fn transition_rule_with_old_self() {
    let s = small(json!({
        "type": "object",
        "properties": {"name": {"type": "string",
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "name is immutable"}]}},
    }));
    // create: transition rules are not evaluated
    let mut o = obj(json!({"name": "a"}));
    s.admit(&mut o, None).unwrap();
    // update, unchanged
    let old = o.clone();
    let mut same = obj(json!({"name": "a"}));
    s.admit(&mut same, Some(&old)).unwrap();
    // update, changed
    let mut changed = obj(json!({"name": "b"}));
    let errs = s.admit(&mut changed, Some(&old)).unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.name",
            "FieldValueInvalid",
            r#"Invalid value: "string": name is immutable"#
        )]
    );
    // field newly added on update: no old value, not evaluated
    let mut old_without = obj(json!({}));
    s.admit(&mut old_without, None).unwrap();
    let mut added = obj(json!({"name": "c"}));
    s.admit(&mut added, Some(&old_without)).unwrap();
}

#[test]
fn optional_old_self_and_object_level_transition() {
    let s = small(json!({
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "x-kubernetes-validations": [
            {"rule": "!oldSelf.hasValue() || self.n >= oldSelf.value().n",
             "message": "n may only grow", "optionalOldSelf": true}],
    }));
    s.admit(&mut obj(json!({"n": 1})), None).unwrap();
    let old = obj(json!({"n": 5}));
    let errs = s.admit(&mut obj(json!({"n": 4})), Some(&old)).unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec",
            "FieldValueInvalid",
            "Invalid value: \"object\": n may only grow"
        )]
    );
}

#[test]
fn default_message_message_expression_and_map_paths() {
    let s = small(json!({
        "type": "object",
        "properties": {
            "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3,
                "x-kubernetes-validations": [{"rule": "self != 'bad'"}]}},
            "count": {"type": "integer",
                "x-kubernetes-validations": [{"rule": "self < 10",
                    "messageExpression": "'count ' + string(self) + ' is not below 10'"}]},
        },
    }));
    let errs = s
        .admit(
            &mut obj(json!({"labels": {"foo": "bad"}, "count": 12})),
            None,
        )
        .unwrap_err();
    assert_eq!(
        errs,
        vec![
            fe(
                "spec.count",
                "FieldValueInvalid",
                "Invalid value: \"integer\": count 12 is not below 10"
            ),
            fe(
                "spec.labels[foo]",
                "FieldValueInvalid",
                r#"Invalid value: "string": failed rule: self != 'bad'"#
            ),
        ]
    );
    // OpenAPI errors under additionalProperties use kube-openapi's dotted path
    let errs = s
        .admit(&mut obj(json!({"labels": {"foo": "long"}})), None)
        .unwrap_err();
    assert_eq!(
        errs,
        vec![
            fe(
                "spec.labels.foo",
                "FieldValueTooLong",
                "Too long: may not be more than 3 bytes"
            ),
            not_checked()
        ]
    );
}

#[test]
fn nested_defaults_and_preserve_unknown() {
    let s = small(json!({
        "type": "object",
        "properties": {
            "outer": {"type": "object", "default": {},
                "properties": {"inner": {"type": "string", "default": "x"},
                               "deep": {"type": "object", "properties": {"v": {"type": "integer", "default": 7}}}}},
            "items": {"type": "array", "items": {"type": "object",
                "properties": {"p": {"type": "string", "default": "d"}}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
        },
    }));
    let mut o = obj(json!({
        "items": [{}, {"p": "given"}],
        "free": {"anything": {"goes": 1}, "known": {"a": "1", "b": "pruned"}},
    }));
    s.admit(&mut o, None).unwrap();
    assert_eq!(o["spec"]["outer"], json!({"inner": "x"}));
    assert_eq!(o["spec"]["items"], json!([{"p": "d"}, {"p": "given"}]));
    assert_eq!(
        o["spec"]["free"],
        json!({"anything": {"goes": 1}, "known": {"a": "1"}})
    );
    let mut o = obj(json!({"outer": {"deep": {}}}));
    s.admit(&mut o, None).unwrap();
    assert_eq!(o["spec"]["outer"], json!({"inner": "x", "deep": {"v": 7}}));
}

#[test]
fn max_items_and_required_reason_rule() {
    let s = small(json!({
        "type": "object",
        "properties": {"l": {"type": "array", "maxItems": 2, "items": {"type": "integer"}}},
        "x-kubernetes-validations": [{"rule": "has(self.l)", "message": "l is required", "reason": "FieldValueRequired", "fieldPath": ".l"}],
    }));
    let errs = s
        .admit(&mut obj(json!({"l": [1, 2, 3]})), None)
        .unwrap_err();
    assert_eq!(
        errs,
        vec![
            fe(
                "spec.l",
                "FieldValueTooMany",
                "Too many: 3: must have at most 2 items"
            ),
            not_checked()
        ]
    );
    let errs = s.admit(&mut obj(json!({})), None).unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.l",
            "FieldValueRequired",
            "Required value: l is required"
        )]
    );
}

#[test]
fn compile_errors_are_reported() {
    let bad = CompiledSchema::compile(&json!({"type": "object", "properties": {"spec": {
        "type": "object", "x-kubernetes-validations": [{"rule": "self.a ==="}]}}}))
    .unwrap_err();
    assert!(bad.contains("x-kubernetes-validations[0].rule"), "{bad}");
    let bad = CompiledSchema::compile(&json!({"type": "object", "properties": {"spec": {
        "type": "string", "pattern": "("}}}))
    .unwrap_err();
    assert!(bad.contains("pattern"), "{bad}");
}

#[test]
fn cel_functions_kubernetes_rules_use() {
    let s = small(json!({
        "type": "object",
        "properties": {"ttl": {"type": "string"}, "at": {"type": "string", "format": "date-time"}},
        "x-kubernetes-validations": [
            {"rule": "duration('1h30m') == duration('90m')"},
            {"rule": "duration(self.ttl) < duration('2h') && duration(self.ttl) > duration('1m')"},
            {"rule": "!has(self.missing)"},
            {"rule": "self.at > timestamp('2020-01-01T00:00:00Z')"},
            {"rule": "self.ttl.matches('^[0-9]')"},
            {"rule": "'a-b'.split('-').size() == 2"},
        ],
    }));
    s.admit(
        &mut obj(json!({"ttl": "1h30m", "at": "2026-01-01T00:00:00Z"})),
        None,
    )
    .unwrap();
}

#[test]
fn ratcheting_unchanged_invalid_values_on_update() {
    // A value stored before the schema tightened may stay as it is on update.
    let s = small(json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 3},
            "n": {"type": "integer", "x-kubernetes-validations": [{"rule": "self < 10"}]},
            "other": {"type": "string"},
        },
    }));
    let old = obj(json!({"name": "toolong", "n": 20, "other": "a"}));
    s.admit(
        &mut obj(json!({"name": "toolong", "n": 20, "other": "b"})),
        Some(&old),
    )
    .unwrap();
    // changing the invalid value is validated
    let errs = s
        .admit(&mut obj(json!({"name": "toolong2", "n": 21})), Some(&old))
        .unwrap_err();
    assert_eq!(
        errs,
        vec![
            fe(
                "spec.name",
                "FieldValueTooLong",
                "Too long: may not be more than 3 bytes"
            ),
            not_checked()
        ]
    );
    let errs = s
        .admit(&mut obj(json!({"name": "ok", "n": 21})), Some(&old))
        .unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.n",
            "FieldValueInvalid",
            "Invalid value: \"integer\": failed rule: self < 10"
        )]
    );
}

#[test]
fn root_rules_see_type_and_object_meta() {
    let s = CompiledSchema::compile(&json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
        "x-kubernetes-validations": [
            {"rule": "self.kind == 'X' && self.metadata.name.startsWith('x') && !has(self.metadata.labels)"},
            {"rule": "self.spec.a == 'ok'", "message": "spec.a must be ok", "fieldPath": ".spec.a"},
        ],
    }))
    .unwrap();
    s.admit(&mut obj(json!({"a": "ok"})), None).unwrap();
    let errs = s.admit(&mut obj(json!({"a": "no"})), None).unwrap_err();
    assert_eq!(
        errs,
        vec![fe(
            "spec.a",
            "FieldValueInvalid",
            "Invalid value: \"object\": spec.a must be ok"
        )]
    );
    let mut other = obj(json!({"a": "ok"}));
    other["metadata"]["name"] = json!("y");
    let errs = s.admit(&mut other, None).unwrap_err();
    assert_eq!(errs[0].field, "<nil>");
    assert!(
        errs[0]
            .message
            .starts_with("Invalid value: \"object\": failed rule: self.kind == 'X'"),
        "{errs:?}"
    );
}

/// The message of the 422 the server answers `errs` with, for a VideoSdkToken `t`.
fn invalid_message(errs: Vec<FieldError>) -> String {
    let subject = crate::error::Subject {
        plural: "videosdktokens",
        group: "videosdk.live",
        kind: "VideoSdkToken",
    };
    crate::error::ApiError::invalid(subject, "t", &crate::crd_schema::causes(errs)).message
}

#[test]
fn status_message_as_kube_apiserver_aggregates() {
    let errs = admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": ["x"]})).unwrap_err();
    assert_eq!(
        invalid_message(errs),
        r#"VideoSdkToken.videosdk.live "t" is invalid: [spec.permissions[0]: Unsupported value: "x": supported values: "allow_join", "ask_join", "allow_mod", <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"#
    );
    let errs =
        admit_spec(json!({"issuerRef": {"name": "m"}, "permissions": ["allow_join"], "ttl": "5s"}))
            .unwrap_err();
    assert_eq!(
        invalid_message(errs),
        r#"VideoSdkToken.videosdk.live "t" is invalid: spec.ttl: Invalid value: "object": ttl must be at least 2m10s: the token must stay valid 2m after its re-sign (renewBefore) and renew at least 10s after issuance; e.g. ttl: 3m with renewBefore: 2m, or ttl: 6m without renewBefore"#
    );
}
