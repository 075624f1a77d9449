//! The names the operator writes onto the Secrets it manages, and the field manager of every
//! write. They are an interface: users select on the labels, and the operator reads the
//! annotations back to decide, without re-signing, whether a stored token is still right.

/// Server-side apply field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "videosdk-token-operator";

/// Label on every managed Secret; the operator's Secret watch selects on it.
pub(crate) const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub(crate) const MANAGED_BY_VALUE: &str = "videosdk-token-operator";
/// Label selector matching every managed Secret.
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=videosdk-token-operator";
/// Label naming the `VideoSdkToken` that owns the Secret.
pub(crate) const TOKEN_NAME_LABEL: &str = "videosdk.live/token-name";

/// The prefix of every label and annotation key the operator writes but the managed-by label.
/// The whole prefix is the operator's: a `secretTemplate` entry under it is refused at
/// admission and left out of the Secret ([`super::secret::operator_owned_template_keys`]).
pub(crate) const OPERATOR_PREFIX: &str = "videosdk.live/";

/// Annotation: the UID of the `VideoSdkToken` the Secret was created for. With the controller
/// ownerReference it is how the operator knows its Secrets: either one names the token by UID
/// (labels name it only by name, and are copied with manifests), so a Secret whose
/// ownerReference a tool stripped is still known, and the mark restored.
pub(crate) const TOKEN_UID_ANNOTATION: &str = "videosdk.live/token-uid";
/// Annotation: the `jti` of the stored token.
pub(crate) const TOKEN_ID_ANNOTATION: &str = "videosdk.live/token-id";
/// Annotation: when the stored token was issued (RFC 3339).
pub(crate) const ISSUED_AT_ANNOTATION: &str = "videosdk.live/issued-at";
/// Annotation: when the stored token expires (RFC 3339).
pub(crate) const EXPIRES_AT_ANNOTATION: &str = "videosdk.live/expires-at";
/// Annotation: fingerprint of the claims-relevant spec the stored token was signed for.
pub(crate) const SPEC_HASH_ANNOTATION: &str = "videosdk.live/spec-hash";
/// Annotation: fingerprint of the credentials that signed the stored token.
pub(crate) const CREDENTIALS_HASH_ANNOTATION: &str = "videosdk.live/credentials-hash";
/// Annotation: the token's renew-now value that the stored token already answered.
pub(crate) const RENEW_NOW_HANDLED_ANNOTATION: &str = "videosdk.live/renew-now-handled";

/// Key of the Secret's data that holds the JWT.
pub const TOKEN_KEY: &str = "token";
