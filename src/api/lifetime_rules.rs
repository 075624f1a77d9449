//! The CEL rules on a `VideoSdkToken`'s lifetime (`ttl`, `renewBefore`,
//! `renewBeforePercentage`): one rule per field, on `spec` with the field's `fieldPath`, whose
//! `messageExpression` names the limit that failed.
//!
//! Why one rule per field and not one per limit: kube-apiserver evaluates every rule of `spec` at
//! each create and again at each status write, and each evaluation builds the rule's program
//! afresh (cel-go makes a new program per evaluation when cost is tracked), compiling every
//! `matches()` pattern in it whether or not that branch runs. Ten rules holding twelve patterns
//! took 10.3 s of the API server's CEL time for 3,000 tokens (a create and a status write each);
//! these, 4.7–5.0 s, and the API server's CPU was within the noise of a CRD with no rules at all
//! (`bench_peer.py floor -n 3000`; `docs/src/development/benchmarks.md` has the figures).

use super::shared::{
    DURATION_SYNTAX_MESSAGE, go_duration_regex, min_default_ttl, min_renew_before, min_token_ttl,
    ttl_limit,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::ValidationRule;

const TTL_MIN_MESSAGE: &str = concat!(
    "ttl must be at least ",
    min_token_ttl!(),
    ": the token must stay valid ",
    min_renew_before!(),
    " after its re-sign (renewBefore) and renew at least 10s after issuance; e.g. ttl: 3m with renewBefore: 2m, or ttl: ",
    min_default_ttl!(),
    " without renewBefore"
);
const TTL_MAX_MESSAGE: &str = concat!(
    "ttl must be at most ",
    ttl_limit!(),
    " (a year); the operator's --max-ttl may lower it"
);
const DEFAULT_WINDOW_MESSAGE: &str = concat!(
    "with no renewBefore the token renews a third of its ttl before expiry: ttl must be at least ",
    min_default_ttl!(),
    ", or set renewBefore to at least ",
    min_renew_before!(),
    " (the kubelet's time to update a mounted Secret with margin)"
);
const RENEW_BEFORE_MIN_MESSAGE: &str = concat!(
    "renewBefore must be at least ",
    min_renew_before!(),
    ": the kubelet updates a mounted Secret up to 90s after a re-sign, and the old token must stay valid until then (ttl ",
    min_token_ttl!(),
    " or more)"
);
const RENEW_BEFORE_SHORTER_MESSAGE: &str = "renewBefore must be shorter than ttl";
const RENEW_BEFORE_INTERVAL_MESSAGE: &str =
    "renewBefore must leave at least 10s between issuance and renewal: at most ttl minus 10s";
const PERCENTAGE_INTERVAL_MESSAGE: &str = "renewBeforePercentage must leave at least 10s between issuance and renewal: at most 95 for a 4m ttl, 99 from a 16m40s ttl";
const PERCENTAGE_WINDOW_MESSAGE: &str = concat!(
    "renewBeforePercentage must give a renew window (ttl x renewBeforePercentage / 100) of at least ",
    min_renew_before!(),
    ", the kubelet's time to update a mounted Secret with margin: at least 40 for a 5m ttl, or set renewBefore to at least ",
    min_renew_before!(),
    " instead"
);

/// The `x-kubernetes-validations` of `VideoSdkTokenSpec`, in order: renewBefore and
/// renewBeforePercentage exclusive, then the rules of `ttl`, `renewBefore` and
/// `renewBeforePercentage`.
///
/// Each field's rule reports one problem, the first of: syntax, its own bounds, its relation to
/// the ttl. A rule that cannot be evaluated (a duration that matches the syntax but is beyond
/// Go's ~292 years, where `duration()` fails) is reported with its `message`, which for that
/// case is the upper bound. The limits are `token::MIN_TOKEN_TTL`, `token::TTL_LIMIT`,
/// `token::MIN_RENEW_BEFORE` and `token::MIN_RENEWAL_INTERVAL` (10 s); a test checks each figure
/// against its constant.
pub(super) fn spec_rules() -> Vec<ValidationRule> {
    let is_duration = |field: &str| format!("{field}.matches('{}')", go_duration_regex!());
    let ttl_ok = is_duration("self.ttl");
    let renew_before_ok = is_duration("self.renewBefore");
    let ttl = "duration(self.ttl)";
    let renew_before = "duration(self.renewBefore)";
    let percentage = "double(self.renewBeforePercentage)";
    let ttl_seconds = "double(duration(self.ttl).getSeconds())";
    let (min_ttl, max_ttl, min_default) = (
        concat!("duration('", min_token_ttl!(), "')"),
        concat!("duration('", ttl_limit!(), "')"),
        concat!("duration('", min_default_ttl!(), "')"),
    );
    let min_renew_before = concat!("duration('", min_renew_before!(), "')");
    let min_renew_before_seconds =
        concat!("double(duration('", min_renew_before!(), "').getSeconds())");
    vec![
        ValidationRule {
            rule: "!(has(self.renewBefore) && has(self.renewBeforePercentage))".to_owned(),
            message: Some(
                "renewBefore and renewBeforePercentage are mutually exclusive: set at most one"
                    .to_owned(),
            ),
            reason: Some("FieldValueForbidden".to_owned()),
            ..ValidationRule::default()
        },
        field_rule(
            ".ttl",
            format!(
                "{ttl_ok} && {ttl} >= {min_ttl} && {ttl} <= {max_ttl} && (has(self.renewBefore) || has(self.renewBeforePercentage) || {ttl} >= {min_default})"
            ),
            TTL_MAX_MESSAGE,
            format!(
                "!{ttl_ok} ? {} : {ttl} < {min_ttl} ? {} : {ttl} > {max_ttl} ? {} : {}",
                cel_string(DURATION_SYNTAX_MESSAGE),
                cel_string(TTL_MIN_MESSAGE),
                cel_string(TTL_MAX_MESSAGE),
                cel_string(DEFAULT_WINDOW_MESSAGE),
            ),
        ),
        // A ttl that is not a duration gets its own rule's error alone.
        field_rule(
            ".renewBefore",
            format!(
                "!has(self.renewBefore) || {renew_before_ok} && {renew_before} >= {min_renew_before} && (!{ttl_ok} || {renew_before} < {ttl} && {ttl} - {renew_before} >= duration('10s'))"
            ),
            RENEW_BEFORE_SHORTER_MESSAGE,
            format!(
                "!{renew_before_ok} ? {} : {renew_before} < {min_renew_before} ? {} : {renew_before} >= {ttl} ? {} : {}",
                cel_string(DURATION_SYNTAX_MESSAGE),
                cel_string(RENEW_BEFORE_MIN_MESSAGE),
                cel_string(RENEW_BEFORE_SHORTER_MESSAGE),
                cel_string(RENEW_BEFORE_INTERVAL_MESSAGE),
            ),
        ),
        // A percentage outside 1-99 gets its schema bound alone, a ttl below its minimum (which no
        // window can pass) the ttl's rule alone. The percentage is read through double() so that
        // the rule holds for a JSON number written `20.0` as for `20`; 1000 is 100 x 10 s.
        field_rule(
            ".renewBeforePercentage",
            format!(
                "!has(self.renewBeforePercentage) || !{ttl_ok} || {percentage} < 1.0 || {percentage} > 99.0 || {ttl_seconds} * (100.0 - {percentage}) >= 1000.0 && ({ttl} < {min_ttl} || {ttl_seconds} * {percentage} >= 100.0 * {min_renew_before_seconds})"
            ),
            PERCENTAGE_WINDOW_MESSAGE,
            format!(
                "{ttl_seconds} * (100.0 - {percentage}) < 1000.0 ? {} : {}",
                cel_string(PERCENTAGE_INTERVAL_MESSAGE),
                cel_string(PERCENTAGE_WINDOW_MESSAGE),
            ),
        ),
    ]
}

/// A rule on `spec` reported at `field_path` (`spec.ttl: Invalid value: "object": …`):
/// `message_expression` says which limit failed, `message` is what the API server says when the
/// rule itself cannot be evaluated.
fn field_rule(
    field_path: &str,
    rule: String,
    message: &str,
    message_expression: String,
) -> ValidationRule {
    ValidationRule {
        rule,
        message: Some(message.to_owned()),
        message_expression: Some(message_expression),
        field_path: Some(field_path.to_owned()),
        reason: Some("FieldValueInvalid".to_owned()),
        ..ValidationRule::default()
    }
}

/// `text` as a CEL string literal; the messages here have no `"` or `\` to escape (a test
/// checks).
fn cel_string(text: &str) -> String {
    format!("\"{text}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_a_plain_cel_string() {
        for message in [
            DURATION_SYNTAX_MESSAGE,
            TTL_MIN_MESSAGE,
            TTL_MAX_MESSAGE,
            DEFAULT_WINDOW_MESSAGE,
            RENEW_BEFORE_MIN_MESSAGE,
            RENEW_BEFORE_SHORTER_MESSAGE,
            RENEW_BEFORE_INTERVAL_MESSAGE,
            PERCENTAGE_INTERVAL_MESSAGE,
            PERCENTAGE_WINDOW_MESSAGE,
        ] {
            assert!(!message.contains(['"', '\\', '\n']), "{message}");
        }
    }
}
