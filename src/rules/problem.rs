//! A reason a token or issuer is not ready that is no API error: bad input a person must fix.

use crate::controller::reason::Reason;

/// A `Ready=False` reason and its message. Messages name what is wrong and what to do, and
/// never contain a credential or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The reason for the condition and the Event.
    pub(crate) reason: Reason,
    /// What is wrong and what to do.
    pub(crate) message: String,
}

impl Problem {
    /// A problem with `reason` and `message`.
    pub(crate) fn new(reason: Reason, message: impl Into<String>) -> Self {
        Problem {
            reason,
            message: message.into(),
        }
    }
}
