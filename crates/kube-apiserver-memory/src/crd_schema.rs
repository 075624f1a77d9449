//! The seam between the API server and structural-schema admission of custom resources
//! (pruning, defaulting, validation, CEL), which lives in `apiserver::schema`.
//!
//! Everything the server needs from a schema goes through [`SchemaAdmit`] and [`compile`].

use super::error::Cause;
use super::schema::CompiledSchema;
use serde_json::Value;
use std::sync::Arc;

pub(crate) use super::schema::FieldError;

/// kube-apiserver's admission of a custom resource against one CRD version's schema.
pub(crate) trait SchemaAdmit: Send + Sync {
    /// Prunes, defaults and validates `object` (the whole object); `old` is the stored object on
    /// updates, for transition rules.
    fn admit(&self, object: &mut Value, old: Option<&Value>) -> Result<(), Vec<FieldError>>;

    /// Why server-side apply refuses `patch` (the whole applied object) before merging it:
    /// structured-merge-diff's message for a value of the wrong type, duplicate list entries or
    /// an undeclared field; `None` when it converts to its typed form.
    fn typed_patch_error(&self, patch: &Value) -> Option<String>;

    /// The fields of `object` the schema does not declare (`spec.tll`), for
    /// `fieldValidation`.
    fn unknown_fields(&self, object: &Value) -> Vec<String>;
}

impl SchemaAdmit for CompiledSchema {
    fn admit(&self, object: &mut Value, old: Option<&Value>) -> Result<(), Vec<FieldError>> {
        CompiledSchema::admit(self, object, old)
    }

    fn typed_patch_error(&self, patch: &Value) -> Option<String> {
        CompiledSchema::typed_patch_error(self, patch)
    }

    fn unknown_fields(&self, object: &Value) -> Vec<String> {
        CompiledSchema::unknown_fields(self, object)
    }
}

/// The `details.causes` of the 422 that refuses an object for `errors`.
pub(crate) fn causes(errors: Vec<FieldError>) -> Vec<Cause> {
    errors
        .into_iter()
        .map(|e| Cause {
            reason: e.reason,
            message: e.message,
            field: e.field,
        })
        .collect()
}

/// Compiles a CRD version's `openAPIV3Schema` once, when the CRD is created or updated.
pub(crate) fn compile(open_api_v3_schema: &Value) -> Result<Arc<dyn SchemaAdmit>, String> {
    Ok(Arc::new(CompiledSchema::compile(open_api_v3_schema)?))
}
