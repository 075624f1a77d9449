//! What a handler reads of a request besides its path: the query parameters and the body's
//! size limit.

use std::collections::HashMap;

/// Request bodies above this are refused (etcd's own object limit is 1.5 MiB).
pub(crate) const MAX_BODY: usize = 3 * 1024 * 1024;

/// The query parameters of a request, decoded.
pub(crate) fn query_map(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Whether the query parameter `key` is set to `true` (or `1`).
pub(crate) fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key).is_some_and(|v| v == "true" || v == "1")
}
