//! Which Kubernetes release a test's API server is, and what a test needs of it: a test of a
//! feature newer than the oldest release it may meet requires that feature, and is skipped with
//! a message on a server that lacks it ([`crate::cluster::TestCluster::require`]).

use k8s_openapi::apimachinery::pkg::version::Info;
use std::fmt;

/// A Kubernetes release, `major.minor` (`1.28`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release {
    pub major: u32,
    pub minor: u32,
}

impl Release {
    pub const fn new(major: u32, minor: u32) -> Release {
        Release { major, minor }
    }

    /// The release of a server's `/version`: from `major` and `minor` (vendors append `+`, as
    /// in `"28+"`), else from `gitVersion` (`v1.28.3-eks-…`); `None` when neither reads.
    pub fn of(info: &Info) -> Option<Release> {
        let number = |s: &str| -> Option<u32> {
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        if let (Some(major), Some(minor)) = (number(&info.major), number(&info.minor)) {
            return Some(Release::new(major, minor));
        }
        let mut parts = info.git_version.strip_prefix('v')?.split('.');
        Some(Release::new(number(parts.next()?)?, number(parts.next()?)?))
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Something a test needs of the API server, and the releases that have it on by default
/// (a cluster's administrator may turn a feature gate on earlier or off later; the test then
/// runs, or fails, there). Each one names its source where it is defined.
#[derive(Clone, Copy, Debug)]
pub struct Feature {
    /// What the test needs, as the skip message names it ("streaming lists (`sendInitialEvents`)").
    pub what: &'static str,
    /// The first release that has it on by default.
    pub since: Release,
    /// Later releases that have it off by default all the same (`WatchList` in 1.33).
    pub except: &'static [Release],
}

impl Feature {
    /// Whether a server of `release` has this feature by default.
    pub fn on_in(&self, release: Release) -> bool {
        release >= self.since && !self.except.contains(&release)
    }

    /// `None` when a server of `release` has this feature; else what a skipped test prints:
    /// `skipped: <what> needs Kubernetes 1.N or later; the server is 1.M`.
    pub fn skip_message(&self, release: Release) -> Option<String> {
        if self.on_in(release) {
            return None;
        }
        let except: Vec<String> = self.except.iter().map(Release::to_string).collect();
        let except = match except.as_slice() {
            [] => String::new(),
            list => format!(" (except {}, which has it off by default)", list.join(", ")),
        };
        Some(format!(
            "skipped: {} needs Kubernetes {} or later{except}; the server is {release}",
            self.what, self.since
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(major: &str, minor: &str, git_version: &str) -> Info {
        Info {
            major: major.into(),
            minor: minor.into(),
            git_version: git_version.into(),
            ..Info::default()
        }
    }

    #[test]
    fn a_release_is_read_from_major_and_minor_or_else_from_git_version() {
        assert_eq!(
            Release::of(&info("1", "34", "v1.34.0")),
            Some(Release::new(1, 34))
        );
        assert_eq!(
            Release::of(&info("1", "28+", "v1.28.3-eks-4f4795d")),
            Some(Release::new(1, 28))
        );
        assert_eq!(
            Release::of(&info("", "", "v1.27.3-gke.100")),
            Some(Release::new(1, 27))
        );
        assert_eq!(Release::of(&info("", "", "unknown")), None);
    }

    const STREAMING: Feature = Feature {
        what: "streaming lists",
        since: Release::new(1, 32),
        except: &[Release::new(1, 33)],
    };

    #[test]
    fn a_feature_is_on_from_its_release_except_where_it_was_turned_off_again() {
        let on: Vec<u32> = (28..=36)
            .filter(|&minor| STREAMING.on_in(Release::new(1, minor)))
            .collect();
        assert_eq!(on, [32, 34, 35, 36]);
        assert!(!STREAMING.on_in(Release::new(0, 40)));
        assert!(STREAMING.on_in(Release::new(2, 0)));
    }

    #[test]
    fn the_skip_message_names_the_feature_and_both_releases() {
        let crds = Feature {
            what: "the operator's CRDs",
            since: Release::new(1, 28),
            except: &[],
        };
        assert_eq!(
            crds.skip_message(Release::new(1, 24)).as_deref(),
            Some("skipped: the operator's CRDs needs Kubernetes 1.28 or later; the server is 1.24")
        );
        assert_eq!(crds.skip_message(Release::new(1, 28)), None);
        assert_eq!(
            STREAMING.skip_message(Release::new(1, 33)).as_deref(),
            Some(
                "skipped: streaming lists needs Kubernetes 1.32 or later (except 1.33, which has it off by default); the server is 1.33"
            )
        );
    }
}
