//! The bearer credential of a request: taken out of `Authorization`, and refused without asking
//! the API server when it cannot be a ServiceAccount token for this endpoint. Pure, no I/O.
//!
//! A ServiceAccount token minted by the TokenRequest API (what a projected volume holds) is a
//! JWT (RFC 7519: three base64url segments, a JSON header and a JSON payload) whose payload has
//! `aud` (the audiences asked for) and `exp`. A bearer that is not such a JWT, whose `aud` does
//! not contain the endpoint's audience, or whose `exp` has passed would be refused by the
//! TokenReview anyway; refusing it here keeps a client sending garbage from costing the API
//! server one TokenReview per bearer. The signature is the API server's to check (the
//! TokenReview), so nothing read here is trusted for more than refusing.

use super::refusal::Refusal;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest bearer read, in bytes. A projected ServiceAccount token is about 1 KiB (1.3 KiB
/// bound to a pod); 8 KiB leaves room for long names and extra claims.
pub(crate) const MAX_BEARER: usize = 8 * 1024;

/// How long past its `exp` a bearer is still sent to the TokenReview: the API server's own
/// leeway for ServiceAccount tokens (go-jose's `DefaultLeeway`, 1 minute), so that clock skew
/// between the operator and the API server never refuses a token the API server would accept.
pub(crate) const EXPIRY_LEEWAY: Duration = Duration::from_secs(60);

/// The bearer credential of `headers`: `Authorization: Bearer <token>`, the scheme matched
/// case-insensitively (RFC 9110 §11.1: `bearer` and `BEARER` too). 401 without one.
pub(crate) fn from_headers(headers: &HeaderMap) -> Result<&str, Refusal> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Refusal::unauthorized(
                "no bearer token: send `Authorization: Bearer <ServiceAccount token>`".to_owned(),
            )
        })
}

/// Why a bearer cannot be a ServiceAccount token for this endpoint. The messages name the
/// rule broken, never a value of the bearer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unfit {
    /// Longer than [`MAX_BEARER`].
    #[error("the bearer token is longer than {MAX_BEARER} bytes: it is not a ServiceAccount token")]
    TooLong,
    /// Not three base64url segments with a JSON object header and payload.
    #[error(
        "the bearer token is not a JWT (three base64url segments, a JSON header and payload): send a ServiceAccount token minted for audience {audience:?} (a projected token with `audience: {audience}`)"
    )]
    NotJwt {
        /// The audience required.
        audience: String,
    },
    /// `aud` missing or without the endpoint's audience.
    #[error(
        "the bearer token's aud does not contain {audience:?}: use a ServiceAccount token minted for that audience (a projected token with `audience: {audience}`)"
    )]
    OtherAudience {
        /// The audience required.
        audience: String,
    },
    /// `exp` missing, or more than [`EXPIRY_LEEWAY`] in the past.
    #[error(
        "the bearer token has expired (or has no exp): use a fresh ServiceAccount token (a projected token is renewed by the kubelet; read it again from its file)"
    )]
    Expired,
}

/// The claims read from the payload: `aud` is a string or an array of strings (RFC 7519
/// §4.1.3), `exp` NumericDate seconds (§4.1.4).
#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    aud: Audience,
    exp: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::None => false,
            Audience::One(a) => a == audience,
            Audience::Many(all) => all.iter().any(|a| a == audience),
        }
    }
}

/// Checks that `bearer` can be a ServiceAccount token for `audience` at `now`; returns its
/// `exp` (Unix seconds), past which no answer about it is kept.
pub(crate) fn check(bearer: &str, audience: &str, now: SystemTime) -> Result<u64, Unfit> {
    if bearer.len() > MAX_BEARER {
        return Err(Unfit::TooLong);
    }
    let not_jwt = || Unfit::NotJwt {
        audience: audience.to_owned(),
    };
    let segments: Vec<&str> = bearer.split('.').collect();
    let [header, payload, signature] = segments[..] else {
        return Err(not_jwt());
    };
    if signature.is_empty() || URL_SAFE_NO_PAD.decode(signature).is_err() {
        return Err(not_jwt());
    }
    let json_object = |segment: &str| {
        URL_SAFE_NO_PAD
            .decode(segment)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .filter(serde_json::Value::is_object)
    };
    json_object(header).ok_or_else(not_jwt)?;
    let payload: Payload = json_object(payload)
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(not_jwt)?;
    if !payload.aud.contains(audience) {
        return Err(Unfit::OtherAudience {
            audience: audience.to_owned(),
        });
    }
    let unix_now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    match payload.exp {
        Some(exp)
            if exp.is_finite() && exp + EXPIRY_LEEWAY.as_secs_f64() > unix_now.as_secs_f64() =>
        {
            // Saturating: an absurd exp is only a cache bound, capped by the cache lifetime.
            Ok(exp.max(0.0) as u64)
        }
        _ => Err(Unfit::Expired),
    }
}

impl From<Unfit> for Refusal {
    fn from(unfit: Unfit) -> Self {
        Refusal::unauthorized(unfit.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const AUDIENCE: &str = "videosdk-token-operator";

    fn jwt(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode("signature")
        )
    }

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_the_token_is_required() {
        let bearer_of = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            from_headers(&headers).map(str::to_owned)
        };
        for value in ["Bearer t0k", "bearer t0k", "BEARER t0k", "BeArEr   t0k "] {
            assert_eq!(bearer_of(value).as_deref(), Ok("t0k"), "{value}");
        }
        for value in ["Basic dTpw", "Bearer", "Bearer   ", "Bearert0k", "t0k"] {
            assert_eq!(
                bearer_of(value).unwrap_err().status.as_u16(),
                401,
                "{value}"
            );
        }
        assert_eq!(
            from_headers(&HeaderMap::new()).unwrap_err().status.as_u16(),
            401
        );
    }

    #[test]
    fn a_service_account_shaped_token_for_the_audience_passes_with_its_exp() {
        let header = r#"{"alg":"RS256","kid":"k"}"#;
        for aud in [
            format!("\"{AUDIENCE}\""),
            format!("[\"other\", \"{AUDIENCE}\"]"),
        ] {
            let token = jwt(header, &format!(r#"{{"aud":{aud},"exp":2000,"sub":"s"}}"#));
            assert_eq!(check(&token, AUDIENCE, at(1000)), Ok(2000), "{aud}");
        }
        let skewed = jwt(header, &format!(r#"{{"aud":"{AUDIENCE}","exp":1000}}"#));
        assert_eq!(
            check(&skewed, AUDIENCE, at(1030)),
            Ok(1000),
            "within the leeway"
        );
    }

    #[test]
    fn each_kind_of_unfit_bearer_is_refused_with_its_rule() {
        let not_jwt = Unfit::NotJwt {
            audience: AUDIENCE.into(),
        };
        let other = Unfit::OtherAudience {
            audience: AUDIENCE.into(),
        };
        let good_payload = format!(r#"{{"aud":"{AUDIENCE}","exp":2000}}"#);
        let cases = [
            ("random".to_owned(), not_jwt.clone()),
            ("a.b".to_owned(), not_jwt.clone()),
            ("a.b.c.d".to_owned(), not_jwt.clone()),
            (
                format!("{}x", jwt("{}", &good_payload)).replace('.', "!"),
                not_jwt.clone(),
            ),
            (jwt("[]", &good_payload), not_jwt.clone()),
            (jwt("{}", "not json"), not_jwt.clone()),
            (jwt("{}", r#"{"aud":7,"exp":2000}"#), not_jwt.clone()),
            (
                format!("{}.", jwt("{}", &good_payload).rsplit_once('.').unwrap().0),
                not_jwt.clone(),
            ),
            (jwt("{}", r#"{"exp":2000}"#), other.clone()),
            (
                jwt(
                    "{}",
                    r#"{"aud":"https://kubernetes.default.svc","exp":2000}"#,
                ),
                other.clone(),
            ),
            (
                jwt("{}", &format!(r#"{{"aud":["{AUDIENCE}x"],"exp":2000}}"#)),
                other,
            ),
            (
                jwt("{}", &format!(r#"{{"aud":"{AUDIENCE}"}}"#)),
                Unfit::Expired,
            ),
            (
                jwt("{}", &format!(r#"{{"aud":"{AUDIENCE}","exp":900}}"#)),
                Unfit::Expired,
            ),
            (
                format!("{}.{}", "a".repeat(MAX_BEARER), "b.c"),
                Unfit::TooLong,
            ),
        ];
        for (bearer, unfit) in cases {
            assert_eq!(
                check(&bearer, AUDIENCE, at(1000)),
                Err(unfit),
                "{bearer:.80}"
            );
        }
    }

    #[test]
    fn a_refusal_never_shows_the_bearer() {
        let token = jwt(
            "{}",
            r#"{"aud":"elsewhere","exp":2000,"sub":"secret-subject"}"#,
        );
        let refusal = Refusal::from(check(&token, AUDIENCE, at(1000)).unwrap_err());
        assert_eq!(refusal.status.as_u16(), 401);
        assert!(!refusal.message.contains("secret-subject"));
        assert!(!refusal.message.contains(&token));
        assert!(refusal.message.contains(AUDIENCE));
    }
}
