//! The VideoSDK API key and secret that sign tokens, and the fingerprints that let status, logs
//! and Secret annotations refer to them without revealing them.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use std::fmt;

/// Why an API key or secret was refused. Messages never contain the values themselves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// The API key is empty.
    #[error("the VideoSDK API key is empty")]
    EmptyApiKey,
    /// The API secret is empty.
    #[error("the VideoSDK API secret is empty")]
    EmptySecret,
    /// A value starts or ends with whitespace; nearly always a newline from `echo` rather than
    /// `echo -n`, which would make every token fail VideoSDK's signature check.
    #[error(
        "the VideoSDK {which} starts or ends with whitespace (often a trailing newline from `echo` instead of `echo -n` or `printf`); store it without that whitespace"
    )]
    SurroundingWhitespace {
        /// `API key` or `API secret`.
        which: &'static str,
    },
}

/// A VideoSDK API key and its secret, checked to be usable.
///
/// `Debug` shows the API key's fingerprint only and never the secret, so a `Credentials` can sit
/// inside any struct that gets logged.
#[derive(Clone)]
pub struct Credentials {
    api_key: String,
    secret: String,
    /// The secret as an HMAC-SHA256 key, built once here rather than for every token: keying
    /// HMAC hashes the padded secret, which `jsonwebtoken::encode` redoes on every call (one
    /// reason tokens are encoded by hand, see [`super::sign`]). Its `Debug` shows only the
    /// algorithm, and `Credentials` has its own `Debug` anyway.
    signing_key: hmac::Key,
}

impl PartialEq for Credentials {
    fn eq(&self, other: &Self) -> bool {
        self.api_key == other.api_key && self.secret == other.secret
    }
}

impl Eq for Credentials {}

impl Credentials {
    /// Credentials from an API key and secret as stored in the issuer's Secret. Both must be
    /// non-empty and free of surrounding whitespace.
    pub fn new(
        api_key: impl Into<String>,
        secret: impl Into<String>,
    ) -> Result<Self, CredentialsError> {
        let (api_key, secret) = (api_key.into(), secret.into());
        check(&api_key, "API key", CredentialsError::EmptyApiKey)?;
        check(&secret, "API secret", CredentialsError::EmptySecret)?;
        let signing_key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        Ok(Credentials {
            api_key,
            secret,
            signing_key,
        })
    }

    /// The API key (the `apikey` claim). Not secret, but shown as a [`fingerprint`] in status and
    /// logs.
    pub(crate) fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The API secret that signs tokens. Callers must not log or store it.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The secret as an HMAC-SHA256 key, for signing tokens.
    pub(crate) fn signing_key(&self) -> &hmac::Key {
        &self.signing_key
    }

    /// A fingerprint of the API key *and* the secret (16 hex digits), so that the operator can
    /// tell that an issuer's credentials were rotated, even when only the secret changed, and
    /// re-sign the tokens they signed.
    ///
    /// It is safe to publish (in a Secret annotation) because it reveals nothing usable about the
    /// secret: SHA-256 is preimage resistant, so the only attack is guessing secrets and
    /// comparing fingerprints. A VideoSDK secret is a random 256-bit value; 64 bits of
    /// fingerprint leave about 2^192 secrets matching any fingerprint, and guessing through a
    /// 2^256 space is infeasible. (A short, human-chosen secret could be guessed offline this
    /// way, but such a secret is guessable from any token it signs anyway.) The input is
    /// domain-separated and length-prefixed, so it matches no other hash of these values and
    /// `("ab", "c")` and `("a", "bc")` differ.
    pub fn fingerprint(&self) -> String {
        let mut input = Vec::with_capacity(64 + self.api_key.len() + self.secret.len());
        input.extend_from_slice(b"videosdk-token-operator credentials v1\0");
        input.extend_from_slice(&(self.api_key.len() as u64).to_be_bytes());
        input.extend_from_slice(self.api_key.as_bytes());
        input.extend_from_slice(self.secret.as_bytes());
        hex_prefix(digest(&SHA256, &input).as_ref(), 16)
    }
}

fn check(
    value: &str,
    which: &'static str,
    empty: CredentialsError,
) -> Result<(), CredentialsError> {
    if value.is_empty() {
        Err(empty)
    } else if value.trim() != value {
        Err(CredentialsError::SurroundingWhitespace { which })
    } else {
        Ok(())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field(
                "api_key",
                &format_args!("sha256:{}", fingerprint(&self.api_key)),
            )
            .field("secret", &format_args!("<redacted>"))
            .finish()
    }
}

/// First 8 hex digits of the SHA-256 of an API key: enough to tell keys apart in status, events
/// and logs (`status.apiKeyFingerprint`) without writing the key there.
pub(crate) fn fingerprint(api_key: &str) -> String {
    hex_prefix(digest(&SHA256, api_key.as_bytes()).as_ref(), 8)
}

pub(super) fn hex_prefix(bytes: &[u8], hex_digits: usize) -> String {
    bytes
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(hex_digits)
        .map(|nibble| char::from_digit(u32::from(nibble), 16).unwrap_or('0'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

    #[test]
    fn refuses_empty_and_padded_values() {
        assert_eq!(
            Credentials::new("", SECRET),
            Err(CredentialsError::EmptyApiKey)
        );
        assert_eq!(
            Credentials::new("key", ""),
            Err(CredentialsError::EmptySecret)
        );
        let newline = Credentials::new("key", format!("{SECRET}\n")).unwrap_err();
        assert_eq!(
            newline,
            CredentialsError::SurroundingWhitespace {
                which: "API secret"
            }
        );
        assert!(newline.to_string().contains("echo -n"));
        assert!(!newline.to_string().contains(SECRET));
        assert!(matches!(
            Credentials::new(" key", SECRET),
            Err(CredentialsError::SurroundingWhitespace { which: "API key" })
        ));
    }

    #[test]
    fn api_key_fingerprint_is_the_sha256_prefix() {
        // SHA-256("abc") = ba7816bf 8f01cfea ... (FIPS 180-2, appendix B.1).
        assert_eq!(fingerprint("abc"), "ba7816bf");
    }

    #[test]
    fn credentials_fingerprint_changes_with_either_half() {
        let base = Credentials::new("key", SECRET).unwrap();
        let other_secret = Credentials::new("key", "another-secret").unwrap();
        let other_key = Credentials::new("key2", SECRET).unwrap();
        assert_eq!(base.fingerprint().len(), 16);
        assert_eq!(base.fingerprint(), base.clone().fingerprint());
        assert_ne!(base.fingerprint(), other_secret.fingerprint());
        assert_ne!(base.fingerprint(), other_key.fingerprint());
        // Moving a byte across the boundary changes the fingerprint.
        let ab_c = Credentials::new("ab", "c").unwrap();
        let a_bc = Credentials::new("a", "bc").unwrap();
        assert_ne!(ab_c.fingerprint(), a_bc.fingerprint());
    }

    #[test]
    fn debug_never_shows_the_secret_or_the_key() {
        let credentials = Credentials::new("my-api-key-1234", SECRET).unwrap();
        let debug = format!("{credentials:?} {credentials:#?}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(!debug.contains("my-api-key-1234"), "{debug}");
        assert!(debug.contains(&fingerprint("my-api-key-1234")), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }
}
