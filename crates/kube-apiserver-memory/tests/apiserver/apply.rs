//! Server-side apply: creation, managedFields, conflicts, force, removal of dropped fields.

use crate::*;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};

fn applied(labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "labels": labels}})
}

#[tokio::test]
async fn apply_creates_and_records_the_field_manager() {
    let t = TestCluster::new("apply-create").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let s = api
        .patch(
            "s",
            &PatchParams::apply("alpha"),
            &Patch::Apply(applied(json!({"a": "1"}))),
        )
        .await
        .unwrap();
    assert!(s.metadata.uid.is_some());
    let managed = s.metadata.managed_fields.unwrap();
    let alpha = managed
        .iter()
        .find(|m| m.manager.as_deref() == Some("alpha"))
        .expect("alpha manages fields");
    assert_eq!(alpha.operation.as_deref(), Some("Apply"));
    assert_eq!(alpha.fields_type.as_deref(), Some("FieldsV1"));
    let fields = serde_json::to_value(alpha.fields_v1.as_ref().unwrap()).unwrap();
    assert!(
        fields["f:metadata"]["f:labels"].get("f:a").is_some(),
        "{fields}"
    );
    // Applying the same again changes nothing.
    let again = api
        .patch(
            "s",
            &PatchParams::apply("alpha"),
            &Patch::Apply(applied(json!({"a": "1"}))),
        )
        .await
        .unwrap();
    assert_eq!(again.metadata.resource_version, s.metadata.resource_version);
    t.cleanup().await;
}

#[tokio::test]
async fn apply_conflicts_with_another_manager_unless_forced() {
    let t = TestCluster::new("apply-conflict").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    api.patch(
        "s",
        &PatchParams::apply("alpha"),
        &Patch::Apply(applied(json!({"a": "1"}))),
    )
    .await
    .unwrap();
    // Same value: shared ownership, no conflict.
    api.patch(
        "s",
        &PatchParams::apply("beta"),
        &Patch::Apply(applied(json!({"a": "1"}))),
    )
    .await
    .unwrap();
    let e = api_error(
        api.patch(
            "s",
            &PatchParams::apply("gamma"),
            &Patch::Apply(applied(json!({"a": "2"}))),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        e.message,
        "Apply failed with 2 conflicts: conflicts with \"alpha\":\n- .metadata.labels.a\nconflicts with \"beta\":\n- .metadata.labels.a"
    );
    let s = api
        .patch(
            "s",
            &PatchParams::apply("gamma").force(),
            &Patch::Apply(applied(json!({"a": "2"}))),
        )
        .await
        .unwrap();
    assert_eq!(s.metadata.labels.unwrap()["a"], "2");
    let managers: Vec<String> = s
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(
        managers,
        ["gamma"],
        "forcing takes the field from every other manager"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn apply_removes_fields_its_manager_no_longer_applies() {
    let t = TestCluster::new("apply-remove").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let pp = PatchParams::apply("alpha");
    api.patch(
        "s",
        &pp,
        &Patch::Apply(applied(json!({"a": "1", "b": "2"}))),
    )
    .await
    .unwrap();
    api.patch(
        "s",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"c": "3"}}})),
    )
    .await
    .unwrap();
    let s = api
        .patch("s", &pp, &Patch::Apply(applied(json!({"a": "1"}))))
        .await
        .unwrap();
    let labels = s.metadata.labels.unwrap();
    assert_eq!(labels.get("b"), None, "b was only alpha's");
    assert_eq!(
        labels.get("c").map(String::as_str),
        Some("3"),
        "c belongs to another manager"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn apply_to_status_changes_only_status() {
    let t = TestCluster::new("apply-status").await;
    let api = widgets(&t).await;
    let w = json!({"apiVersion": format!("{GROUP}/v1"), "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}});
    api.patch("w", &PatchParams::apply("op"), &Patch::Apply(&w))
        .await
        .unwrap();
    let mut st = w.clone();
    st["spec"] = json!({"size": 5});
    st["status"] = json!({"phase": "Up"});
    let got = api
        .patch_status("w", &PatchParams::apply("op"), &Patch::Apply(&st))
        .await
        .unwrap();
    assert_eq!(got.data["status"]["phase"], "Up");
    assert_eq!(got.data["spec"]["size"], 1);
    let managed = got.metadata.managed_fields.unwrap();
    assert!(
        managed
            .iter()
            .any(|m| m.subresource.as_deref() == Some("status")
                && m.manager.as_deref() == Some("op"))
    );
    t.cleanup().await;
}

/// The `.spec` fields `manager` owns in `object`'s managedFields, as `.spec.name` paths.
fn spec_fields(object: &DynamicObject, manager: &str) -> Vec<String> {
    let managed = object
        .metadata
        .managed_fields
        .as_deref()
        .unwrap_or_default();
    let mut fields: Vec<String> = managed
        .iter()
        .filter(|m| m.manager.as_deref() == Some(manager))
        .filter_map(|m| m.fields_v1.as_ref())
        .filter_map(|f| f.0["f:spec"].as_object().cloned())
        .flat_map(|spec| spec.into_iter().map(|(k, _)| k.replacen("f:", ".spec.", 1)))
        .collect();
    fields.sort();
    fields
}

/// kube-rs (serde_json) writes an f64 99 as `99.0`, kubectl (Go) as `99`: the same number, which
/// kube-apiserver (structured-merge-diff) compares by value. This is how `dev` installs the
/// operator's CRDs (`maximum: 99.0`) before a user's `kubectl apply --server-side`.
#[tokio::test]
async fn apply_compares_numbers_by_value_not_by_spelling() {
    let t = TestCluster::new("apply-numbers").await;
    let api = widgets(&t).await;
    let w = |spec: Value| json!({"apiVersion": format!("{GROUP}/v1"), "kind": "Widget", "metadata": {"name": "w"}, "spec": spec});
    api.patch(
        "w",
        &PatchParams::apply("alpha"),
        &Patch::Apply(w(json!({"max": 99.0, "min": 1.0}))),
    )
    .await
    .unwrap();
    // Not forced: the same values spelled as integers are no conflict, and both own them.
    let shared = api
        .patch(
            "w",
            &PatchParams::apply("beta"),
            &Patch::Apply(w(json!({"max": 99, "min": 1}))),
        )
        .await
        .expect("applying 99 over another manager's 99.0 is no conflict");
    assert_eq!(spec_fields(&shared, "alpha"), [".spec.max", ".spec.min"]);
    assert_eq!(spec_fields(&shared, "beta"), [".spec.max", ".spec.min"]);
    // A different number still is a conflict.
    let e = api_error(
        api.patch(
            "w",
            &PatchParams::apply("beta"),
            &Patch::Apply(w(json!({"max": 98, "min": 1}))),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"), "{e:?}");
    // Re-applying in the other spelling changes nothing: no new resourceVersion.
    let again = api
        .patch(
            "w",
            &PatchParams::apply("alpha"),
            &Patch::Apply(w(json!({"max": 99, "min": 1}))),
        )
        .await
        .unwrap();
    assert_eq!(rv(&again.metadata), rv(&shared.metadata));
    // What is stored is what Go's encoding writes: the first apply's 99.0 reads back as 99.
    assert_eq!(again.data["spec"]["max"], json!(99), "{}", again.data);
    // An update (not an apply) that only respells a number is a change to kube-apiserver, which
    // compares a custom resource's unstructured spec with reflect.DeepEqual (int64 99 is not
    // float64 99): a write with a new generation; but its manager owns nothing, since
    // managed fields compare by value, and the stored number is 99 again.
    let editor = PatchParams {
        field_manager: Some("editor".into()),
        ..Default::default()
    };
    let respelled = api
        .patch("w", &editor, &Patch::Merge(json!({"spec": {"max": 99.0}})))
        .await
        .unwrap();
    assert_ne!(rv(&respelled.metadata), rv(&shared.metadata));
    assert_eq!(
        respelled.metadata.generation,
        shared.metadata.generation.map(|g| g + 1)
    );
    assert_eq!(spec_fields(&respelled, "editor"), Vec::<String>::new());
    assert_eq!(
        respelled.data["spec"]["max"],
        json!(99),
        "{}",
        respelled.data
    );
    // With a real change along, the editor owns only the field it changed.
    let edited = api
        .patch(
            "w",
            &editor,
            &Patch::Merge(json!({"spec": {"max": 99.0, "size": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(spec_fields(&edited, "editor"), [".spec.size"]);
    assert_eq!(spec_fields(&edited, "alpha"), [".spec.max", ".spec.min"]);
    assert_eq!(
        edited.metadata.generation,
        respelled.metadata.generation.map(|g| g + 1)
    );
    t.cleanup().await;
}

/// The operator creates a token's first Secret with an apply whose resourceVersion is one no
/// object has (`"1"`): kube-apiserver drops the resourceVersion of an object an apply creates
/// through the generic registry (kubernetes/kubernetes#106745, where ConfigMaps behave so) and
/// takes it as a precondition on an object that exists.
#[tokio::test]
async fn an_applied_resource_version_is_a_precondition_and_dropped_on_create() {
    let t = TestCluster::new("apply-rv").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let guarded = |labels: Value, rv: &str| {
        let mut body = applied(labels);
        body["metadata"]["resourceVersion"] = json!(rv);
        Patch::Apply(body)
    };
    let created = api
        .patch(
            "s",
            &PatchParams::apply("alpha"),
            &guarded(json!({"a": "1"}), "1"),
        )
        .await
        .expect("an apply that creates ignores the resourceVersion");
    let rv = created.metadata.resource_version.clone().unwrap();
    assert_ne!(rv, "1");
    let e = api_error(
        api.patch(
            "s",
            &PatchParams::apply("alpha").force(),
            &guarded(json!({"a": "2"}), "1"),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        e.message,
        "Operation cannot be fulfilled on secrets \"s\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_eq!(api.get("s").await.unwrap().labels()["a"], "1");
    // The current resourceVersion passes.
    let updated = api
        .patch(
            "s",
            &PatchParams::apply("alpha"),
            &guarded(json!({"a": "2"}), &rv),
        )
        .await
        .unwrap();
    assert_eq!(updated.labels()["a"], "2");
    t.cleanup().await;
}

/// A create (POST) with a resourceVersion is refused by kube-apiserver's storage
/// (`storage.ErrResourceVersionSetOnCreate`), as a 500 without a reason.
#[tokio::test]
async fn a_create_with_a_resource_version_is_refused() {
    let t = TestCluster::new("create-rv").await;
    let api: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let mut secret: Secret = serde_json::from_value(applied(json!({"a": "1"}))).unwrap();
    secret.metadata.resource_version = Some("5".into());
    let e = api_error(api.create(&Default::default(), &secret).await);
    assert_eq!(
        (e.code, e.reason.as_str(), e.message.as_str()),
        (
            500,
            "",
            "resourceVersion should not be set on objects to be created"
        )
    );
    assert!(api.get_opt("s").await.unwrap().is_none());
    // A dry run never reaches the storage that refuses it.
    let dry_run = kube::api::PostParams {
        dry_run: true,
        ..Default::default()
    };
    let answered = api.create(&dry_run, &secret).await.unwrap();
    assert_eq!(answered.metadata.name.as_deref(), Some("s"));
    assert!(api.get_opt("s").await.unwrap().is_none());
    t.cleanup().await;
}
