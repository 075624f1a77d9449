//! Connections open per client IP address, so that one client cannot take a listener's whole
//! connection cap: on the metrics port that would make the kubelet's probes fail and restart the
//! pod; on the token port it would lock every other caller out. It does not stop many
//! addresses (a NetworkPolicy does); clients behind one NAT address share one count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The connections open from each address; an address with none has no entry.
#[derive(Debug, Default)]
pub(super) struct PerIp(Mutex<HashMap<IpAddr, usize>>);

impl PerIp {
    /// Counts one more connection from `ip` if it has fewer than `max` open; the count drops
    /// when the returned guard does. `None`: `ip` is at `max`.
    pub(super) fn admit(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Admitted> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Admitted {
            ip,
            counts: self.clone(),
        })
    }
}

/// One counted connection; dropping it uncounts it.
#[derive(Debug)]
pub(super) struct Admitted {
    ip: IpAddr,
    counts: Arc<PerIp>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_at_its_share_is_refused_others_are_not_and_a_close_frees_one() {
        let counts = Arc::new(PerIp::default());
        let (one, two) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
        let first = counts.admit(one, 2).unwrap();
        let _second = counts.admit(one, 2).unwrap();
        assert!(counts.admit(one, 2).is_none());
        assert!(counts.admit(two, 2).is_some());
        drop(first);
        assert!(counts.admit(one, 2).is_some());
    }

    #[test]
    fn an_address_with_no_connection_left_is_forgotten() {
        let counts = Arc::new(PerIp::default());
        drop(counts.admit(IpAddr::from([10, 0, 0, 1]), 1));
        assert!(counts.0.lock().unwrap().is_empty());
    }
}
