//! The fingerprint of a token request: what the operator records on a Secret to tell, without
//! re-signing, whether the stored token was signed for the spec as it is now.

use super::claims::TokenRequest;
use super::credentials::hex_prefix;
use aws_lc_rs::digest::{SHA256, digest};

impl TokenRequest {
    /// 16 hex digits of SHA-256 over a canonical form of the request: the claims-relevant
    /// fields only (permissions, roles, roomId, participantId, ttl in seconds), so that a change
    /// of `renewBefore`, `secretTemplate` or the issuer's name does not re-sign, and `24h` and
    /// `1440m` are the same ttl. Permission and role order is kept: it is the order of the
    /// claims in the token.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::json!({
            "permissions": self.permissions,
            "roles": self.roles,
            "roomId": self.room_id,
            "participantId": self.participant_id,
            "ttlSeconds": self.ttl.as_secs(),
        });
        hex_prefix(
            digest(&SHA256, canonical.to_string().as_bytes()).as_ref(),
            16,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Permission, Role};
    use std::time::Duration;

    fn request() -> TokenRequest {
        super::super::test_request(Duration::from_secs(24 * 3600))
    }

    #[test]
    fn same_request_same_fingerprint_and_equal_ttls_agree() {
        let mut spec = super::super::test_spec(vec![Permission::AllowJoin]);
        let a = TokenRequest::from_spec(&spec).unwrap().fingerprint();
        spec.ttl = "1440m".to_owned();
        assert_eq!(TokenRequest::from_spec(&spec).unwrap().fingerprint(), a);
        assert_eq!(request().fingerprint(), a);
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn every_claims_relevant_field_changes_it() {
        let base = request().fingerprint();
        let changes: [fn(&mut TokenRequest); 5] = [
            |r| r.permissions.push(Permission::AllowMod),
            |r| r.roles.push(Role::Rtc),
            |r| r.room_id = Some("room".to_owned()),
            |r| r.participant_id = Some("alice".to_owned()),
            |r| r.ttl = Duration::from_secs(3600),
        ];
        for change in changes {
            let mut changed = request();
            change(&mut changed);
            assert_ne!(changed.fingerprint(), base, "{changed:?}");
        }
    }
}
