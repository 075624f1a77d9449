//! Which Kubernetes release an API server is, read from its `/version` (`major`, `minor`,
//! `gitVersion`): one reading for the operator (`run` warns below the oldest release it
//! supports) and the end-to-end test support (a test skips on a server without a feature it
//! needs). Its own crate because the operator cannot depend on test support, nor test support
//! (which the in-memory API server's tests use) on the operator; no dependencies: callers pass
//! the fields of k8s-openapi's `version::Info`.

use std::fmt;

/// A Kubernetes release, `major.minor` (`1.28`), ordered as releases are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release {
    /// `1` for every release so far.
    pub major: u32,
    /// `28` for 1.28.
    pub minor: u32,
}

impl Release {
    /// The release `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Release {
        Release { major, minor }
    }

    /// The release of a server whose `/version` says `major`, `minor` and `git_version`: from
    /// `major` and `minor` (vendors append `+`, as in `"27+"`), else from `gitVersion`
    /// (`v1.29.4-eks-…`); `None` when neither reads.
    pub fn parse(major: &str, minor: &str, git_version: &str) -> Option<Release> {
        let number = |s: &str| -> Option<u32> {
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        if let (Some(major), Some(minor)) = (number(major), number(minor)) {
            return Some(Release::new(major, minor));
        }
        let mut parts = git_version.strip_prefix('v')?.split('.');
        Some(Release::new(number(parts.next()?)?, number(parts.next()?)?))
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_is_read_from_major_and_minor_or_else_from_git_version() {
        assert_eq!(
            Release::parse("1", "34", "v1.34.0"),
            Some(Release::new(1, 34))
        );
        assert_eq!(
            Release::parse("1", "27+", "v1.27.3-gke.100"),
            Some(Release::new(1, 27))
        );
        assert_eq!(
            Release::parse("1", "28+", "v1.28.3-eks-4f4795d"),
            Some(Release::new(1, 28))
        );
        assert_eq!(
            Release::parse("", "", "v1.29.4-eks-036c24b"),
            Some(Release::new(1, 29))
        );
        assert_eq!(Release::parse("", "", "devel"), None);
        assert_eq!(Release::parse("", "", "unknown"), None);
    }

    #[test]
    fn releases_order_by_major_then_minor_and_show_as_major_dot_minor() {
        assert!(Release::new(1, 9) < Release::new(1, 28));
        assert!(Release::new(1, 40) < Release::new(2, 0));
        assert_eq!(Release::new(1, 28).to_string(), "1.28");
    }
}
