//! Which Kubernetes release a test's API server is, and what a test needs of it: a test of a
//! feature newer than the oldest release it may meet requires that feature, and is skipped with
//! a message on a server that lacks it ([`crate::cluster::TestCluster::require`]).

use k8s_openapi::apimachinery::pkg::version::Info;

pub use kube_release::Release;

/// The release of a server's `/version` ([`Release::parse`], as the operator's `run` reads it).
pub fn of(info: &Info) -> Option<Release> {
    Release::parse(&info.major, &info.minor, &info.git_version)
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
