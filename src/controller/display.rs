//! How objects are named in log lines: `namespace/name` (just `name` for cluster-scoped
//! objects), as kubectl and controller-runtime's logs write them, rather than kube's
//! `ObjectRef` display (`VideoSdkToken.v1alpha1.videosdk.live/name.namespace`). The kind is in
//! the field's key (`token=`, `issuer=`).

use kube::ResourceExt;

/// `namespace/name`, or `name` when the object has no namespace.
pub(crate) fn namespaced_name(object: &impl ResourceExt) -> String {
    match object.namespace() {
        Some(namespace) => format!("{namespace}/{}", object.name_any()),
        None => object.name_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Namespace, Secret};
    use kube::api::ObjectMeta;

    #[test]
    fn namespaced_objects_read_namespace_slash_name() {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some("participant".into()),
                namespace: Some("default".into()),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        };
        assert_eq!(namespaced_name(&secret), "default/participant");
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some("default".into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        assert_eq!(namespaced_name(&namespace), "default");
    }
}
