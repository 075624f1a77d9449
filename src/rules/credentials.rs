//! Reading an issuer's VideoSDK API key and secret out of its credentials Secret, with a reason
//! a person can act on for every way that goes wrong. Nothing here ever puts a value of the
//! Secret into a message: only key names.

use super::problem::Problem;
use crate::api::CredentialsSecretRef;
use crate::controller::reason::Reason;
use crate::token::{Credentials, CredentialsError};
use k8s_openapi::api::core::v1::Secret;

/// The credentials in `secret` (`None`: it does not exist), which lives in `namespace` and is
/// referenced by `secret_ref`.
pub(crate) fn read(
    secret: Option<&Secret>,
    secret_ref: &CredentialsSecretRef,
    namespace: &str,
) -> Result<Credentials, Problem> {
    let where_ = format!("Secret {namespace}/{}", secret_ref.name);
    let Some(secret) = secret else {
        return Err(Problem {
            reason: Reason::SecretNotFound,
            message: format!(
                "{where_} does not exist: create it with keys {:?} and {:?}",
                secret_ref.api_key_key, secret_ref.secret_key
            ),
        });
    };
    let data = secret.data.clone().unwrap_or_default();
    let value = |key: &str, what: &str| -> Result<String, Problem> {
        let Some(bytes) = data.get(key) else {
            let present: Vec<&str> = data.keys().map(String::as_str).collect();
            return Err(Problem {
                reason: Reason::KeyMissing,
                message: format!(
                    "{where_} has no key {key:?} for the {what} (keys present: {}); add it or set credentialsSecretRef.{}",
                    if present.is_empty() {
                        "none".to_owned()
                    } else {
                        present.join(", ")
                    },
                    if what == "API key" {
                        "apiKeyKey"
                    } else {
                        "secretKey"
                    },
                ),
            });
        };
        String::from_utf8(bytes.0.clone()).map_err(|_| Problem {
            reason: Reason::ValueNotUtf8,
            message: format!("{where_} key {key:?} ({what}) is not UTF-8 text; store the value VideoSDK shows, as text"),
        })
    };
    let api_key = value(&secret_ref.api_key_key, "API key")?;
    let api_secret = value(&secret_ref.secret_key, "API secret")?;
    Credentials::new(api_key, api_secret).map_err(|e| Problem {
        reason: match e {
            CredentialsError::SurroundingWhitespace { .. } => Reason::ValueHasWhitespace,
            _ => Reason::ValueEmpty,
        },
        message: format!("{where_}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    const SECRET_VALUE: &str = "s3cr3t-value-that-must-never-show";

    fn secret_ref() -> CredentialsSecretRef {
        CredentialsSecretRef {
            name: "creds".into(),
            api_key_key: "apiKey".into(),
            secret_key: "secret".into(),
        }
    }

    fn secret(entries: &[(&str, &[u8])]) -> Secret {
        Secret {
            data: Some(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    fn problem(s: Option<&Secret>) -> Problem {
        let p = read(s, &secret_ref(), "ns").unwrap_err();
        assert!(
            !p.message.contains(SECRET_VALUE),
            "a message leaked the secret: {}",
            p.message
        );
        p
    }

    #[test]
    fn good_credentials_are_read() {
        let s = secret(&[("apiKey", b"key"), ("secret", SECRET_VALUE.as_bytes())]);
        let c = read(Some(&s), &secret_ref(), "ns").unwrap();
        assert_eq!((c.api_key(), c.secret()), ("key", SECRET_VALUE));
    }

    #[test]
    fn each_problem_has_its_own_reason() {
        assert_eq!(problem(None).reason, Reason::SecretNotFound);
        let p = problem(Some(&secret(&[("secret", SECRET_VALUE.as_bytes())])));
        assert_eq!(p.reason, Reason::KeyMissing);
        assert!(
            p.message.contains("\"apiKey\"") && p.message.contains("keys present: secret"),
            "{}",
            p.message
        );
        assert_eq!(
            problem(Some(&secret(&[("apiKey", b"key")]))).reason,
            Reason::KeyMissing
        );
        assert_eq!(
            problem(Some(&secret(&[
                ("apiKey", b"key"),
                ("secret", b"\xff\xfe")
            ])))
            .reason,
            Reason::ValueNotUtf8
        );
        assert_eq!(
            problem(Some(&secret(&[
                ("apiKey", b""),
                ("secret", SECRET_VALUE.as_bytes())
            ])))
            .reason,
            Reason::ValueEmpty
        );
        let newline = format!("{SECRET_VALUE}\n");
        let p = problem(Some(&secret(&[
            ("apiKey", b"key"),
            ("secret", newline.as_bytes()),
        ])));
        assert_eq!(p.reason, Reason::ValueHasWhitespace);
        assert!(p.message.contains("trailing newline"), "{}", p.message);
    }
}
