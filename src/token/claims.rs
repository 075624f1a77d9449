//! What a token grants: the request derived from a `VideoSdkToken` spec, and the JWT claims
//! VideoSDK reads.

use super::credentials::fingerprint;
use crate::api::{ID_MAX_LENGTH, Permission, Role, VideoSdkTokenSpec};
use go_duration::{DurationError, GoDuration, parse_positive};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The shortest lifetime any token may ask for: a token request's floor (422 below it), and the
/// lower bound of `--max-ttl`. A `VideoSdkToken` has a higher one, which the CRD states at
/// admission (`ttl must be at least 2m10s`). It is checked
/// again here because admission rules can be bypassed (an older CRD, a direct call), and
/// a shorter token would be renewed almost continuously.
pub(crate) const MIN_TTL: Duration = Duration::from_secs(60);

/// The longest lifetime a token may ask for: a year. The CRD says the same at admission
/// (`ttl must be at most 8760h`), and `--max-ttl` cannot be set above it; checked again here
/// for specs that bypassed admission and for token requests. A Go duration reaches
/// `2562047h`, an expiry in the 24th century, for a bearer credential that cannot be revoked
/// but by rotating the API secret.
pub const TTL_LIMIT: Duration = Duration::from_secs(8760 * 3600);

/// The default of the operator-wide ceiling on a token's lifetime (`run --max-ttl`): 30 days.
/// cert-manager caps nothing, but a certificate can be revoked and a VideoSDK token cannot. The
/// operator renews tokens by itself, so a long lifetime buys only fewer restarts of workloads
/// that read the token once; a month keeps those to about one a month while a leaked token
/// works for a month at most, not for centuries.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(720 * 3600);

/// Why a token spec cannot be turned into a request. Each message names the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// `spec.permissions` is empty.
    #[error("spec.permissions is empty: give at least one of allow_join, ask_join, allow_mod")]
    NoPermissions,
    /// A permission is listed twice.
    #[error("spec.permissions lists {0} more than once: list each permission once")]
    DuplicatePermission(Permission),
    /// A role is listed twice.
    #[error("spec.roles lists {0} more than once: list each role once")]
    DuplicateRole(Role),
    /// `spec.roomId` is the empty string.
    #[error("spec.roomId is empty: remove it or give a room id")]
    EmptyRoomId,
    /// `spec.participantId` is the empty string.
    #[error("spec.participantId is empty: remove it or give a participant id")]
    EmptyParticipantId,
    /// `spec.roomId` or `spec.participantId` holds a control character (U+0000–U+001F,
    /// U+007F–U+009F): VideoSDK ids are printable text, and a NUL or newline in a claim breaks
    /// the logs and dashboards that show it. The CRD refuses them at admission too.
    #[error(
        "{field} contains a control character (U+{code:04X}) at character {position}: use printable text only"
    )]
    ControlCharacter {
        /// `spec.roomId` or `spec.participantId`.
        field: &'static str,
        /// The character's code point.
        code: u32,
        /// Its 0-based position in the value, in characters.
        position: usize,
    },
    /// `spec.roomId` or `spec.participantId` is longer than [`ID_MAX_LENGTH`] characters, the
    /// CRD's `maxLength` (so a token request cannot ask for what a `VideoSdkToken` may not).
    #[error("{field} is {length} characters long: at most {max} are allowed")]
    TooLong {
        /// `spec.roomId` or `spec.participantId`.
        field: &'static str,
        /// Its length, in characters.
        length: usize,
        /// [`ID_MAX_LENGTH`].
        max: usize,
    },
    /// `spec.ttl` is not a positive Go duration.
    #[error("spec.ttl: {0}")]
    Ttl(#[source] DurationError),
    /// `spec.ttl` is shorter than [`MIN_TTL`].
    #[error("spec.ttl {ttl} is shorter than the minimum of 1m")]
    TtlTooShort {
        /// The ttl, in Go's notation.
        ttl: String,
    },
    /// `spec.ttl` is longer than [`TTL_LIMIT`].
    #[error("spec.ttl {ttl} is longer than the maximum of 8760h (a year)")]
    TtlTooLong {
        /// The ttl, in Go's notation.
        ttl: String,
    },
}

/// What to sign: the claims-relevant part of a `VideoSdkToken` spec, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The `permissions` claim; non-empty, no duplicates, in the order given.
    pub permissions: Vec<Permission>,
    /// The v2 `roles` claim; no duplicates. Empty means no `roles` claim.
    pub roles: Vec<Role>,
    /// The v2 `roomId` claim.
    pub room_id: Option<String>,
    /// The v2 `participantId` claim.
    pub participant_id: Option<String>,
    /// Lifetime: `exp` is `iat` plus this, in whole seconds.
    pub ttl: Duration,
}

impl TokenRequest {
    /// The request a `VideoSdkToken` spec asks for. `roles: []` is the same as no roles (it
    /// does not make a v2 token).
    pub fn from_spec(spec: &VideoSdkTokenSpec) -> Result<Self, RequestError> {
        let ttl = parse_positive(&spec.ttl).map_err(RequestError::Ttl)?;
        let request = TokenRequest {
            permissions: spec.permissions.clone(),
            roles: spec.roles.clone().unwrap_or_default(),
            room_id: spec.room_id.clone(),
            participant_id: spec.participant_id.clone(),
            ttl,
        };
        request.validate()?;
        Ok(request)
    }

    /// Checks what the CRD schema also checks at admission, for requests built by hand (the
    /// `sign` command) or specs that bypassed admission.
    pub(crate) fn validate(&self) -> Result<(), RequestError> {
        if self.permissions.is_empty() {
            return Err(RequestError::NoPermissions);
        }
        if let Some(duplicate) = first_duplicate(&self.permissions) {
            return Err(RequestError::DuplicatePermission(duplicate));
        }
        if let Some(duplicate) = first_duplicate(&self.roles) {
            return Err(RequestError::DuplicateRole(duplicate));
        }
        if self.room_id.as_deref() == Some("") {
            return Err(RequestError::EmptyRoomId);
        }
        if self.participant_id.as_deref() == Some("") {
            return Err(RequestError::EmptyParticipantId);
        }
        for (field, value) in [
            ("spec.roomId", &self.room_id),
            ("spec.participantId", &self.participant_id),
        ] {
            let length = value.as_deref().map_or(0, |v| v.chars().count());
            if length > ID_MAX_LENGTH {
                return Err(RequestError::TooLong {
                    field,
                    length,
                    max: ID_MAX_LENGTH,
                });
            }
            let control = value
                .as_deref()
                .and_then(|v| v.chars().enumerate().find(|(_, c)| c.is_control()));
            if let Some((position, c)) = control {
                return Err(RequestError::ControlCharacter {
                    field,
                    code: u32::from(c),
                    position,
                });
            }
        }
        if self.ttl < MIN_TTL {
            return Err(RequestError::TtlTooShort {
                ttl: show_duration(self.ttl),
            });
        }
        if self.ttl > TTL_LIMIT {
            return Err(RequestError::TtlTooLong {
                ttl: show_duration(self.ttl),
            });
        }
        Ok(())
    }

    /// Whether the token needs VideoSDK's v2 claims (and so `version: 2`).
    pub(crate) fn is_v2(&self) -> bool {
        !self.roles.is_empty() || self.room_id.is_some() || self.participant_id.is_some()
    }
}

/// `d` in Go's notation (`2562047h0m0s`), saturated at Go's largest duration.
pub(crate) fn show_duration(d: Duration) -> String {
    GoDuration::from_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)).to_string()
}

fn first_duplicate<T: Copy + PartialEq>(items: &[T]) -> Option<T> {
    items
        .iter()
        .enumerate()
        .find(|(i, item)| items[..*i].contains(item))
        .map(|(_, item)| *item)
}

/// The `version` claim value of VideoSDK's v2 tokens.
const V2: u32 = 2;

/// The claims of a VideoSDK access token, as signed and as read back.
///
/// Names are VideoSDK's. Absent optional claims are left out of the JSON entirely (never
/// `null`). When reading tokens made by other tools, permission and role names are kept as
/// written (even ones VideoSDK does not define), `jti` may be missing (VideoSDK's own samples
/// do not set it), and claims this type does not know are **kept** in [`Claims::other`], so that
/// `inspect` shows a token in full; `apikey`, `permissions`, `iat` and `exp` are required.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The API key that signed the token.
    pub apikey: String,
    /// Permission names (`allow_join`, `ask_join`, `allow_mod`).
    pub permissions: Vec<String>,
    /// Issued at, in seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, in seconds since the Unix epoch.
    pub exp: u64,
    /// Token id (a UUID v4 in tokens this operator signs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `2` when any v2 claim is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// v2: the only room the token may join.
    #[serde(default, rename = "roomId", skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    /// v2: the participant id the token is bound to.
    #[serde(
        default,
        rename = "participantId",
        skip_serializing_if = "Option::is_none"
    )]
    pub participant_id: Option<String>,
    /// v2: role names (`rtc`, `crawler`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Claims of tokens made by other tools that this type has no field for; empty in tokens
    /// this operator signs.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl Claims {
    /// The claims for `request`, issued at `iat` (Unix seconds) with id `jti`; `None` when the
    /// expiry does not fit in Unix seconds.
    pub(crate) fn for_request(
        request: &TokenRequest,
        apikey: &str,
        iat: u64,
        jti: String,
    ) -> Option<Self> {
        let v2 = request.is_v2();
        Some(Claims {
            apikey: apikey.to_owned(),
            permissions: request
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            iat,
            exp: iat.checked_add(request.ttl.as_secs())?,
            jti: Some(jti),
            version: v2.then_some(V2),
            room_id: request.room_id.clone(),
            participant_id: request.participant_id.clone(),
            roles: (!request.roles.is_empty()).then(|| {
                request
                    .roles
                    .iter()
                    .map(|r| r.as_str().to_owned())
                    .collect()
            }),
            other: BTreeMap::new(),
        })
    }
}

impl fmt::Debug for Claims {
    /// Like the derived `Debug`, but with the API key's fingerprint in place of the key: status
    /// and logs show at most a fingerprint of it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field(
                "apikey",
                &format_args!("sha256:{}", fingerprint(&self.apikey)),
            )
            .field("permissions", &self.permissions)
            .field("iat", &self.iat)
            .field("exp", &self.exp)
            .field("jti", &self.jti)
            .field("version", &self.version)
            .field("room_id", &self.room_id)
            .field("participant_id", &self.participant_id)
            .field("roles", &self.roles)
            .field("other", &self.other)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::token::test_spec as spec;

    #[test]
    fn from_spec_parses_ttl_and_copies_claims() {
        let mut s = spec(vec![Permission::AllowJoin, Permission::AllowMod]);
        s.ttl = "1h30m".to_owned();
        s.roles = Some(vec![Role::Rtc]);
        s.room_id = Some("room-1".to_owned());
        let request = TokenRequest::from_spec(&s).unwrap();
        assert_eq!(request.ttl, Duration::from_secs(5400));
        assert_eq!(
            request.permissions,
            vec![Permission::AllowJoin, Permission::AllowMod]
        );
        assert_eq!(request.roles, vec![Role::Rtc]);
        assert_eq!(request.room_id.as_deref(), Some("room-1"));
        assert!(request.is_v2());
    }

    #[test]
    fn empty_roles_are_no_roles() {
        let mut s = spec(vec![Permission::AskJoin]);
        s.roles = Some(vec![]);
        let request = TokenRequest::from_spec(&s).unwrap();
        assert!(request.roles.is_empty());
        assert!(!request.is_v2());
    }

    #[test]
    fn from_spec_refuses_bad_specs_with_specific_errors() {
        assert_eq!(
            TokenRequest::from_spec(&spec(vec![])),
            Err(RequestError::NoPermissions)
        );
        assert_eq!(
            TokenRequest::from_spec(&spec(vec![
                Permission::AllowJoin,
                Permission::AskJoin,
                Permission::AllowJoin
            ])),
            Err(RequestError::DuplicatePermission(Permission::AllowJoin))
        );
        let mut s = spec(vec![Permission::AllowJoin]);
        s.roles = Some(vec![Role::Crawler, Role::Crawler]);
        assert_eq!(
            TokenRequest::from_spec(&s),
            Err(RequestError::DuplicateRole(Role::Crawler))
        );
        let mut s = spec(vec![Permission::AllowJoin]);
        s.room_id = Some(String::new());
        assert_eq!(TokenRequest::from_spec(&s), Err(RequestError::EmptyRoomId));
        let mut s = spec(vec![Permission::AllowJoin]);
        s.participant_id = Some(String::new());
        assert_eq!(
            TokenRequest::from_spec(&s),
            Err(RequestError::EmptyParticipantId)
        );
        for (value, code, position) in [
            ("abc\u{0}def", 0, 3),
            ("a\nb", 0x0a, 1),
            ("\u{85}", 0x85, 0),
        ] {
            let mut s = spec(vec![Permission::AllowJoin]);
            s.participant_id = Some(value.to_owned());
            assert_eq!(
                TokenRequest::from_spec(&s),
                Err(RequestError::ControlCharacter {
                    field: "spec.participantId",
                    code,
                    position
                })
            );
            let mut s = spec(vec![Permission::AllowJoin]);
            s.room_id = Some(value.to_owned());
            let error = TokenRequest::from_spec(&s).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("spec.roomId contains a control character"),
                "{error}"
            );
        }
        // Printable Unicode is fine.
        let mut s = spec(vec![Permission::AllowJoin]);
        s.participant_id = Some("Zoë 🎥 #1".to_owned());
        assert!(TokenRequest::from_spec(&s).is_ok());
        // The CRD's maxLength, in characters (not bytes): 256 two-byte characters pass.
        let mut s = spec(vec![Permission::AllowJoin]);
        s.room_id = Some("ü".repeat(ID_MAX_LENGTH));
        assert!(TokenRequest::from_spec(&s).is_ok());
        s.participant_id = Some("p".repeat(16_000));
        assert_eq!(
            TokenRequest::from_spec(&s),
            Err(RequestError::TooLong {
                field: "spec.participantId",
                length: 16_000,
                max: 256
            })
        );

        let ttl_error = |ttl: &str| {
            let mut s = spec(vec![Permission::AllowJoin]);
            s.ttl = ttl.to_owned();
            TokenRequest::from_spec(&s).unwrap_err()
        };
        assert!(matches!(
            ttl_error("1d"),
            RequestError::Ttl(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            ttl_error("-1h"),
            RequestError::Ttl(DurationError::Negative { .. })
        ));
        assert!(matches!(
            ttl_error("0"),
            RequestError::Ttl(DurationError::Zero { .. })
        ));
        assert_eq!(
            ttl_error("59s"),
            RequestError::TtlTooShort {
                ttl: "59s".to_owned()
            }
        );
        assert!(
            ttl_error("1d")
                .to_string()
                .starts_with("spec.ttl: unknown unit")
        );
        // Go's largest durations parse, and are refused as longer than a year.
        assert_eq!(
            ttl_error("2562047h"),
            RequestError::TtlTooLong {
                ttl: "2562047h0m0s".to_owned()
            }
        );
        assert_eq!(
            ttl_error("8760h1s").to_string(),
            "spec.ttl 8760h0m1s is longer than the maximum of 8760h (a year)"
        );
        // The boundaries themselves are allowed.
        let mut s = spec(vec![Permission::AllowJoin]);
        s.ttl = "1m".to_owned();
        assert_eq!(TokenRequest::from_spec(&s).unwrap().ttl, MIN_TTL);
        s.ttl = "8760h".to_owned();
        assert_eq!(TokenRequest::from_spec(&s).unwrap().ttl, TTL_LIMIT);
    }

    #[test]
    fn claims_debug_shows_a_fingerprint_not_the_api_key() {
        let request = TokenRequest::from_spec(&spec(vec![Permission::AllowJoin])).unwrap();
        let claims = Claims::for_request(&request, "my-api-key-1234", 1, "id".to_owned()).unwrap();
        let debug = format!("{claims:?}");
        assert!(!debug.contains("my-api-key-1234"), "{debug}");
        assert!(debug.contains(&fingerprint("my-api-key-1234")), "{debug}");
    }

    #[test]
    fn expiry_overflow_is_refused_not_wrapped() {
        let request = TokenRequest::from_spec(&spec(vec![Permission::AllowJoin])).unwrap();
        assert!(Claims::for_request(&request, "k", u64::MAX - 10, "id".to_owned()).is_none());
    }
}
