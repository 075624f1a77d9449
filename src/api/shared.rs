//! Schema pieces used by more than one kind: the permission and role vocabularies of VideoSDK
//! tokens, and the Go duration pattern the API server checks at admission.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A VideoSDK token permission (the `permissions` claim).
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Joins a meeting directly.
    AllowJoin,
    /// Asks to join; someone holding `allow_join` must admit the participant.
    AskJoin,
    /// May moderate other participants (toggle their mic or webcam, remove them).
    AllowMod,
}

/// A VideoSDK v2 role (the `roles` claim).
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May only join meetings and rooms.
    Rtc,
    /// May only call the v2 REST API.
    Crawler,
}

impl Permission {
    /// Every permission, in the order VideoSDK's documentation lists them.
    pub const ALL: [Permission; 3] = [
        Permission::AllowJoin,
        Permission::AskJoin,
        Permission::AllowMod,
    ];

    /// The claim value, as VideoSDK and the manifests spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::AllowJoin => "allow_join",
            Permission::AskJoin => "ask_join",
            Permission::AllowMod => "allow_mod",
        }
    }
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 2] = [Role::Rtc, Role::Crawler];

    /// The claim value, as VideoSDK and the manifests spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Rtc => "rtc",
            Role::Crawler => "crawler",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a permission or role name that VideoSDK does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}: expected one of {expected}")]
pub struct UnknownName {
    what: &'static str,
    given: String,
    expected: String,
}

fn parse_named<T: Copy>(
    all: &[T],
    name: impl Fn(T) -> &'static str,
    what: &'static str,
    s: &str,
) -> Result<T, UnknownName> {
    all.iter()
        .copied()
        .find(|v| name(*v) == s)
        .ok_or_else(|| UnknownName {
            what,
            given: s.to_owned(),
            expected: all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", "),
        })
}

impl std::str::FromStr for Permission {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_named(&Permission::ALL, Permission::as_str, "permission", s)
    }
}

impl std::str::FromStr for Role {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_named(&Role::ALL, Role::as_str, "role", s)
    }
}

/// Go's `time.ParseDuration` syntax without a sign (a negative lifetime means nothing here):
/// one or more decimal numbers, each with a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`),
/// as in `24h`, `90m`, `1h30m`, `1.5h`. A macro so that CEL rules can embed it with `concat!`;
/// `[.]` rather than `\.` because CEL string literals do not allow that escape.
macro_rules! go_duration_regex {
    () => {
        "^(([0-9]+([.][0-9]*)?|[.][0-9]+)(ns|us|µs|μs|ms|s|m|h))+$"
    };
}
pub(crate) use go_duration_regex;

/// The longest `ttl` the CRD admits, a year, in Go's notation (`token::TTL_LIMIT`). A macro so
/// that CEL rules and their messages can embed it with `concat!`.
macro_rules! ttl_limit {
    () => {
        "8760h"
    };
}
pub(crate) use ttl_limit;

/// The shortest renew window the CRD admits, in Go's notation (`token::MIN_RENEW_BEFORE`, where
/// the figure is justified: the kubelet's 90 s worst case to update a mounted Secret, with 30 s
/// of margin). A macro so that CEL rules and their messages can embed it with `concat!`.
macro_rules! min_renew_before {
    () => {
        "2m"
    };
}
pub(crate) use min_renew_before;

/// The shortest `ttl` the CRD admits (`token::MIN_TOKEN_TTL`): [`min_renew_before`] plus the
/// 10 s between issuance and renewal (`token::MIN_RENEWAL_INTERVAL`).
macro_rules! min_token_ttl {
    () => {
        "2m10s"
    };
}
pub(crate) use min_token_ttl;

/// The shortest `ttl` without `renewBefore` or `renewBeforePercentage`: three times
/// [`min_renew_before`], since the default window is a third of the ttl.
macro_rules! min_default_ttl {
    () => {
        "6m"
    };
}
pub(crate) use min_default_ttl;

/// The message of the CEL rule that checks a duration's syntax. A CEL rule rather than a schema
/// `pattern`, whose message would show the regular expression instead of saying what to write.
pub(super) const DURATION_SYNTAX_MESSAGE: &str =
    "must be a Go duration: numbers with units h, m, s, ms, us or ns, such as 24h, 90m or 1h30m";

/// Longest duration string accepted; bounds the CEL cost the API server estimates.
pub(crate) const DURATION_MAX_LENGTH: u32 = 64;

/// The longest `roomId` or `participantId`, in characters: the CRD's `maxLength`, which the
/// API server counts in Unicode characters. The token request API and specs that bypassed
/// admission are held to it by `token::TokenRequest::validate`.
pub(crate) const ID_MAX_LENGTH: usize = 256;

/// The longest object name (a DNS-1123 subdomain), in characters.
pub(crate) const NAME_MAX_LENGTH: usize = 253;

/// Whether `s` is a DNS-1123 label, what a namespace's name must be: at most 63 characters,
/// lowercase letters, digits and `-`, starting and ending with a letter or digit (Kubernetes
/// `IsDNS1123Label`).
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    let alphanumeric = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = s.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes.iter().all(|&c| alphanumeric(c) || c == b'-')
        && alphanumeric(bytes[0])
        && alphanumeric(bytes[bytes.len() - 1])
}

/// Whether `s` is a DNS-1123 subdomain, what most objects' names must be: at most 253
/// characters, DNS-1123 labels joined by `.` (Kubernetes `IsDNS1123Subdomain`).
pub(crate) fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= NAME_MAX_LENGTH && s.split('.').all(is_dns1123_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_names_are_told_from_the_rest() {
        for label in ["a", "media", "team-1", "0", &"a".repeat(63)] {
            assert!(is_dns1123_label(label), "{label}");
            assert!(is_dns1123_subdomain(label), "{label}");
        }
        for not_label in [
            "",
            " ",
            "%20",
            "..",
            ".",
            "a.b",
            "\0",
            "a\0",
            "Media",
            "-a",
            "a-",
            "a_b",
            "ü",
            &"a".repeat(64),
        ] {
            assert!(!is_dns1123_label(not_label), "{not_label:?}");
        }
        assert!(is_dns1123_subdomain("videosdk.example.com"));
        for not_subdomain in ["", "a..b", ".a", "a.", "A.b", &"a.".repeat(127)] {
            assert!(!is_dns1123_subdomain(not_subdomain), "{not_subdomain:?}");
        }
    }

    /// The figures the CRD's rules embed are the ones the operator checks at run time.
    #[test]
    fn the_crds_duration_figures_are_the_operators() {
        use crate::token::{self, parse_positive};
        let parse = |text| parse_positive(text).unwrap();
        assert_eq!(parse(min_renew_before!()), token::MIN_RENEW_BEFORE);
        assert_eq!(parse(min_token_ttl!()), token::MIN_TOKEN_TTL);
        assert_eq!(parse(min_default_ttl!()), token::MIN_RENEW_BEFORE * 3);
        assert_eq!(parse(ttl_limit!()), token::TTL_LIMIT);
    }
}
