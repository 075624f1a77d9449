//! HTTP responses as kube-apiserver sends them: JSON bodies, `Status` errors (with
//! `Retry-After`) and `Warning` headers.

use super::error::ApiError;
use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use serde_json::Value;

/// A response with a JSON body.
pub(crate) fn json_response(code: u16, body: impl Into<Body>) -> Response {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .expect("static response parts are valid")
}

/// `response` with one `Warning: 299 - "TEXT"` header per warning, as kube-apiserver sends
/// them (kubectl prints each as `Warning: TEXT`).
pub(crate) fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for text in warnings {
        let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = header::HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

/// A response with the JSON value `v`.
pub(crate) fn value_response(code: u16, v: &Value) -> Response {
    json_response(code, serde_json::to_vec(v).expect("JSON values serialise"))
}

/// The `Status` of a failed request.
pub(crate) fn error_response(e: &ApiError) -> Response {
    let mut r = value_response(e.code, &e.status());
    if let Some(secs) = e.retry_after {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            secs.to_string().parse().expect("digits are a valid header"),
        );
    }
    r
}
