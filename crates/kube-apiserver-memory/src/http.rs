//! HTTP: routes Kubernetes REST paths to discovery and the verbs (watches to
//! [`super::watch`]), and applies faults and accounting.

use super::Shared;
use super::accounting::{Access, Verb};
use super::clock;
use super::discovery;
use super::error::ApiError;
use super::events;
use super::gc::{self, DeleteOptions, Deleted};
use super::identity::UserInfo;
use super::impersonation;
use super::openapi;
use super::openapi_protobuf;
use super::patch;
use super::patch::PatchKind;
use super::protobuf;
use super::representation::{self, Representation};
use super::request::{MAX_BODY, flag, query_map};
use super::resources::{ResourceDef, Special};
use super::responses::{error_response, json_response, value_response, with_warnings};
use super::selector::Selectors;
use super::stored::Stored;
use super::table::TableForm;
use super::validation::{self, FieldValidation};
use super::verbs::{self, Managed, WriteCtx};
use super::watch::{Embedded, WatchForm, watch};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// A request path to a resource: `/api/v1/...` or `/apis/{group}/{version}/...`.
#[derive(Debug, PartialEq)]
struct ResourcePath<'a> {
    group: &'a str,
    version: &'a str,
    namespace: Option<&'a str>,
    plural: &'a str,
    name: Option<&'a str>,
    subresource: Option<&'a str>,
}

#[derive(Debug, PartialEq)]
enum Route<'a> {
    Health,
    Version,
    CoreVersions,
    Groups,
    Group(&'a str),
    Resources(&'a str, &'a str),
    Resource(ResourcePath<'a>),
    OpenApiIndex,
    OpenApi(String),
    OpenApiV2,
}

fn route(path: &str) -> Option<Route<'_>> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["healthz" | "livez" | "readyz", ..] => return Some(Route::Health),
        ["version"] => return Some(Route::Version),
        ["openapi", "v2"] => return Some(Route::OpenApiV2),
        ["openapi", "v3"] => return Some(Route::OpenApiIndex),
        ["openapi", "v3", gv @ ..] => return Some(Route::OpenApi(gv.join("/"))),
        ["api"] => return Some(Route::CoreVersions),
        ["apis"] => return Some(Route::Groups),
        ["apis", g] => return Some(Route::Group(g)),
        ["api", v] => return Some(Route::Resources("", v)),
        ["apis", g, v] => return Some(Route::Resources(g, v)),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let namespaced =
        rest.len() >= 3 && rest[0] == "namespaces" && !matches!(rest[2], "status" | "finalize");
    let (namespace, rest) = if namespaced {
        (Some(rest[1]), &rest[2..])
    } else {
        (None, rest)
    };
    if rest.len() > 3 {
        return None;
    }
    Some(Route::Resource(ResourcePath {
        group,
        version,
        namespace,
        plural: rest[0],
        name: rest.get(1).copied(),
        subresource: rest.get(2).copied(),
    }))
}

/// The field manager of a write: `fieldManager`, else the `User-Agent` up to its first `/`.
fn write_ctx(q: &HashMap<String, String>, headers: &HeaderMap) -> WriteCtx {
    let given = q.get("fieldManager").filter(|m| !m.is_empty());
    let manager = given.cloned().unwrap_or_else(|| {
        headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_owned()
    });
    WriteCtx {
        manager,
        manager_given: given.is_some(),
        force: flag(q, "force"),
        now: clock::now(),
    }
}

fn verb_of(method: &Method, has_name: bool, q: &HashMap<String, String>) -> Option<Verb> {
    Some(match (method, has_name) {
        (&Method::GET, true) => Verb::Get,
        (&Method::GET, false) if flag(q, "watch") => Verb::Watch,
        (&Method::GET, false) => Verb::List,
        (&Method::POST, false) => Verb::Create,
        (&Method::PUT, true) => Verb::Update,
        (&Method::PATCH, true) => Verb::Patch,
        (&Method::DELETE, true) => Verb::Delete,
        (&Method::DELETE, false) => Verb::DeleteCollection,
        _ => return None,
    })
}

/// The forms `/openapi/v2` is served in.
#[derive(Debug, PartialEq)]
enum OpenApiV2Form {
    Json,
    Protobuf,
}

/// The first form an `Accept` header names (none named: JSON). The protobuf form is asked for
/// by either of its names ([`openapi_protobuf::MEDIA_TYPE`], [`openapi_protobuf::CONTENT_TYPE`]).
fn openapi_v2_form(accept: &str) -> Option<OpenApiV2Form> {
    if accept.trim().is_empty() {
        return Some(OpenApiV2Form::Json);
    }
    accept.split(',').find_map(|entry| {
        let media = entry.split(';').next().unwrap_or("").trim();
        match media {
            "application/json" | "application/*" | "*/*" => Some(OpenApiV2Form::Json),
            openapi_protobuf::MEDIA_TYPE | openapi_protobuf::CONTENT_TYPE => {
                Some(OpenApiV2Form::Protobuf)
            }
            _ => None,
        }
    })
}

/// Who a request acts as: authentication, then impersonation, as kube-apiserver's filters run
/// before any handler. A request with neither credentials nor `Impersonate-*` headers (every
/// request of kube's clients and kubectl here) is the administrator without taking the lock.
fn user_of(shared: &Shared, headers: &HeaderMap) -> Result<UserInfo, ApiError> {
    let asks = headers.contains_key(header::AUTHORIZATION)
        || headers
            .keys()
            .any(|k| k.as_str().starts_with(impersonation::HEADER_PREFIX));
    if !asks {
        return Ok(UserInfo::admin());
    }
    let state = shared.state();
    shared
        .tokens
        .requester(&state, headers)
        .and_then(|requester| impersonation::impersonate(&state, requester, headers))
}

/// The one handler: every request goes through here.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let user = match user_of(&shared, &parts.headers) {
        Ok(user) => user,
        Err(e) => return error_response(&e),
    };
    let body = match super::reviews::answer(
        &shared,
        &parts.method,
        parts.uri.path(),
        &parts.headers,
        &user,
        body,
    )
    .await
    {
        Ok(answered) => return answered,
        Err(body) => body,
    };
    let q = query_map(parts.uri.query());
    let path = parts.uri.path().to_owned();
    let response = match route(&path) {
        None => Err(ApiError::no_route()),
        Some(Route::Health) => Ok(Response::new(Body::from("ok"))),
        Some(Route::Version) => Ok(value_response(
            200,
            &discovery::version(shared.kubernetes_version),
        )),
        Some(Route::CoreVersions) => Ok(value_response(
            200,
            &discovery::core_versions(&shared.address),
        )),
        Some(Route::Groups) => {
            let st = shared.state();
            Ok(value_response(200, &discovery::group_list(&st.registry)))
        }
        Some(Route::Group(g)) => {
            let st = shared.state();
            discovery::group(&st.registry, g)
                .map(|d| value_response(200, &d))
                .ok_or_else(ApiError::no_route)
        }
        Some(Route::Resources(g, v)) => {
            let st = shared.state();
            discovery::resource_list(&st.registry, g, v)
                .map(|d| value_response(200, &d))
                .ok_or_else(ApiError::no_route)
        }
        Some(Route::OpenApiIndex) => {
            let st = shared.state();
            Ok(value_response(200, &openapi::index(&st.registry, st.rv)))
        }
        // JSON or gnostic's protobuf (kubectl's v2 client asks for protobuf alone), whichever
        // the `Accept` header names first; a client that accepts neither gets a 406.
        Some(Route::OpenApiV2) => {
            let accept = parts
                .headers
                .get(header::ACCEPT)
                .and_then(|a| a.to_str().ok())
                .unwrap_or("");
            match openapi_v2_form(accept) {
                Some(OpenApiV2Form::Json) => {
                    let st = shared.state();
                    Ok(value_response(
                        200,
                        &openapi::v2(&st.registry, shared.kubernetes_version),
                    ))
                }
                Some(OpenApiV2Form::Protobuf) => {
                    let doc = openapi::v2(&shared.state().registry, shared.kubernetes_version);
                    Ok(Response::builder()
                        .status(200)
                        .header(header::CONTENT_TYPE, openapi_protobuf::CONTENT_TYPE)
                        .body(Body::from(openapi_protobuf::encode(&doc)))
                        .expect("static response parts are valid"))
                }
                None => Err(ApiError::not_acceptable(
                    accept,
                    &["application/json", openapi_protobuf::MEDIA_TYPE],
                )),
            }
        }
        Some(Route::OpenApi(gv)) => {
            let st = shared.state();
            openapi::group_version(&st.registry, &gv, shared.kubernetes_version)
                .map(|d| value_response(200, &d))
                .ok_or_else(ApiError::no_route)
        }
        Some(Route::Resource(p)) => {
            resource(&shared, &parts.method, &parts.headers, &q, p, body).await
        }
    };
    let response = response.unwrap_or_else(|e| error_response(&e));
    tracing::debug!(method = %parts.method, path, query = parts.uri.query().unwrap_or(""), status = response.status().as_u16(), "apiserver request");
    response
}

async fn resource(
    shared: &Arc<Shared>,
    method: &Method,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    p: ResourcePath<'_>,
    body: Body,
) -> Result<Response, ApiError> {
    let def = shared
        .state()
        .registry
        .get(p.group, p.version, p.plural)
        .ok_or_else(ApiError::no_route)?;
    if (p.namespace.is_some() && !def.namespaced)
        || (def.namespaced && p.namespace.is_none() && (p.name.is_some() || *method != Method::GET))
    {
        return Err(ApiError::no_route());
    }
    // events.k8s.io/v1 Events live in the core v1 store, renamed on the way in and out.
    let served = def.clone();
    let as_events_v1 = def.special == Special::EventsV1;
    let def = if as_events_v1 {
        let st = shared.state();
        let core = st
            .registry
            .get("", "v1", "events")
            .expect("core events are built in");
        // The core resource, still marked as reached through events.k8s.io: updates made
        // there are validated as kube-apiserver validates them.
        Arc::new(ResourceDef {
            special: Special::EventsV1,
            ..(*core).clone()
        })
    } else {
        def
    };
    let out = |s: &Stored| -> Bytes {
        if as_events_v1 {
            events::from_core_bytes(&s.json)
        } else {
            s.json.clone()
        }
    };
    let verb = verb_of(method, p.name.is_some(), q).ok_or_else(|| {
        ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )
    })?;
    let accounted = match p.subresource {
        Some(s) => format!("{}/{s}", def.plural),
        None => def.plural.clone(),
    };
    shared.accounting.count(verb, &accounted);
    let access = |verb| Access {
        user: headers
            .get("impersonate-user")
            .and_then(|u| u.to_str().ok())
            .map(str::to_owned),
        verb,
        group: served.group.clone(),
        resource: accounted.clone(),
        namespace: p.namespace.map(str::to_owned),
    };
    shared.accounting.record(access(verb));
    let name = p.name.unwrap_or("");
    let verdict = shared
        .faults
        .judge(verb, &accounted, || ApiError::stale(def.subject(), name));
    if !verdict.latency.is_zero() {
        tokio::time::sleep(verdict.latency).await;
    }
    if let Some(e) = verdict.error {
        return Err(e);
    }
    let namespace = p.namespace.unwrap_or("");
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parse = |b: &Bytes| -> Result<Value, ApiError> {
        if protobuf::is_protobuf(content_type) {
            let api_version = match served.group.as_str() {
                "" => served.version.clone(),
                group => format!("{group}/{}", served.version),
            };
            return protobuf::decode(&api_version, &served.kind, b);
        }
        let v: Value = serde_json::from_slice(b).map_err(|e| {
            ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                served.kind, served.version, served.kind
            ))
        })?;
        Ok(if as_events_v1 { events::to_core(v) } else { v })
    };
    let ctx = || write_ctx(q, headers);
    let field_validation = FieldValidation::parse(q.get("fieldValidation").map(String::as_str))?;
    // Duplicate and undeclared fields of a create, update or merge patch, judged by
    // `fieldValidation`: the 400 of Strict, else the Warning headers to send.
    let check_fields = |obj: &Value| -> Result<Vec<String>, ApiError> {
        let mut problems = validation::duplicates(&body);
        if let Some(schema) = &def.schema {
            problems.extend(validation::unknown(schema.unknown_fields(obj)));
        }
        field_validation.judge(&served.kind, &served.version, problems)
    };
    let representation = Representation::from_accept(
        headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .unwrap_or(""),
    );
    // The Table a read asked for, with its `includeObject` (read only when a Table is asked
    // for, as kube-apiserver does).
    let table_form = || {
        TableForm::new(&def, q.get("includeObject").map(String::as_str))
            .map_err(ApiError::bad_request)
    };
    // A write answers with the object written, or its metadata alone when asked
    // (`as=PartialObjectMetadata`, as `Api::patch_metadata` asks): kube-apiserver transforms
    // every verb's response alike.
    let written = |s: &Stored| -> Bytes {
        match representation {
            Representation::Metadata => representation::partial_bytes(&s.json),
            Representation::Object | Representation::Table => out(s),
        }
    };
    // DELETE carries it in its DeleteOptions body as well.
    let dry_run_in_body = matches!(verb, Verb::Delete | Verb::DeleteCollection)
        && gc::body_json(&body, content_type).is_ok_and(|o| {
            o["dryRun"]
                .as_array()
                .is_some_and(|d| d.iter().any(|v| v == "All"))
        });
    let dry_run = match q.get("dryRun").map(String::as_str) {
        None | Some("") => dry_run_in_body,
        Some("All") if verb.is_write() => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
            )));
        }
    };
    let mut st = match verb {
        Verb::Watch => {
            let embedded = match representation {
                Representation::Object => Embedded::Object,
                Representation::Metadata => Embedded::Metadata,
                Representation::Table => Embedded::Table(table_form()?),
            };
            let form = WatchForm {
                embedded,
                events_v1: as_events_v1,
                served,
            };
            return watch(shared, def, p.namespace, q, form);
        }
        _ => shared.state(),
    };
    st.dry_run = dry_run;
    let mut answer = || -> Result<Response, ApiError> {
        match verb {
            Verb::Get => {
                if p.subresource.is_some()
                    && !(p.subresource == Some("status") && def.status_subresource)
                {
                    return Err(ApiError::no_route());
                }
                let s = st
                    .get(&def.store_key(), namespace, name)
                    .ok_or_else(|| ApiError::not_found(def.subject(), name))?;
                match representation {
                    Representation::Object => Ok(json_response(200, out(s))),
                    Representation::Metadata => {
                        Ok(json_response(200, representation::partial_bytes(&s.json)))
                    }
                    Representation::Table => {
                        let t = table_form()?.render(&[s.value()], st.rv);
                        Ok(value_response(200, &t))
                    }
                }
            }
            Verb::List => {
                let limit = q
                    .get("limit")
                    .and_then(|l| l.parse::<usize>().ok())
                    .filter(|l| *l > 0);
                let page = st.list(
                    &def.store_key(),
                    p.namespace,
                    &Selectors::from_query(q, &def)?,
                    limit,
                    q.get("continue").map(String::as_str),
                )?;
                match representation {
                    Representation::Object => Ok(json_response(
                        200,
                        list_body(&served, page, false, as_events_v1),
                    )),
                    Representation::Metadata => {
                        Ok(json_response(200, list_body(&served, page, true, false)))
                    }
                    Representation::Table => {
                        let objects: Vec<Value> = page.items.iter().map(Stored::value).collect();
                        let t = table_form()?.render(&objects, page.resource_version);
                        Ok(value_response(200, &t))
                    }
                }
            }
            Verb::Create => {
                let obj = parse(&body)?;
                let warnings = check_fields(&obj)?;
                let s = verbs::create(&mut st, &def, namespace, obj, &ctx(), Managed::Record)?;
                Ok(with_warnings(json_response(201, written(&s)), &warnings))
            }
            Verb::Update => {
                let obj = parse(&body)?;
                let warnings = check_fields(&obj)?;
                let s = verbs::update(&mut st, &def, namespace, name, p.subresource, obj, &ctx())?;
                Ok(with_warnings(json_response(200, written(&s)), &warnings))
            }
            Verb::Patch => {
                let ct = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let kind = PatchKind::from_content_type(ct)
                    .ok_or_else(|| ApiError::unsupported_media_type(ct))?;
                let existed = st.get(&def.store_key(), namespace, name).is_some();
                let target = verbs::Target {
                    namespace,
                    name,
                    subresource: p.subresource,
                };
                let warnings = match kind {
                    PatchKind::Merge | PatchKind::StrategicMerge => {
                        check_fields(&patch::parse_body(kind, &body)?)?
                    }
                    PatchKind::Json | PatchKind::Apply => Vec::new(),
                };
                let body = if as_events_v1 {
                    let patch = events::patch_to_core(kind, patch::parse_body(kind, &body)?);
                    Bytes::from(serde_json::to_vec(&patch).expect("JSON values serialise"))
                } else {
                    body.clone()
                };
                let s = verbs::patch(&mut st, &def, target, kind, &body, &ctx())?;
                let created = !existed;
                if created {
                    shared.accounting.record(access(Verb::Create));
                }
                let code = if created { 201 } else { 200 };
                Ok(with_warnings(json_response(code, written(&s)), &warnings))
            }
            Verb::Delete => {
                let options = DeleteOptions::parse(
                    &body,
                    content_type,
                    q.get("propagationPolicy").map(String::as_str),
                )?;
                match gc::delete(&mut st, &def, namespace, name, &options, &clock::now())? {
                    Deleted::Pending(s) => Ok(json_response(200, out(&s))),
                    Deleted::Gone(s) => Ok(value_response(200, &success(&def, &s))),
                }
            }
            Verb::DeleteCollection => {
                let options = DeleteOptions::parse(
                    &body,
                    content_type,
                    q.get("propagationPolicy").map(String::as_str),
                )?;
                let page = st.list(
                    &def.store_key(),
                    p.namespace,
                    &Selectors::from_query(q, &def)?,
                    None,
                    None,
                )?;
                let now = clock::now();
                for item in page.items {
                    let (ns, n) = (&item.summary.namespace, &item.summary.name);
                    gc::delete(&mut st, &def, ns, n, &options, &now)?;
                }
                Ok(value_response(
                    200,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
                ))
            }
            Verb::Watch => unreachable!("watches returned above"),
        }
    };
    let answer = answer();
    st.dry_run = false;
    answer
}

/// The `Status` kube-apiserver answers a DELETE that removed the object at once with.
fn success(def: &ResourceDef, s: &Stored) -> Value {
    let mut details = json!({
        "name": s.summary.name,
        "kind": def.plural,
        "uid": s.summary.uid,
    });
    if !def.group.is_empty() {
        details["group"] = json!(def.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

/// A list body, assembled from the items' stored bytes (or their metadata only, or renamed
/// from core to `events.k8s.io` Events).
fn list_body(
    def: &ResourceDef,
    page: super::store::Page,
    metadata_only: bool,
    events_v1: bool,
) -> Vec<u8> {
    let mut meta = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(c) = &page.continue_token {
        meta["continue"] = json!(c);
    }
    if let Some(n) = page.remaining {
        meta["remainingItemCount"] = json!(n);
    }
    let (kind, api_version) = if metadata_only {
        (
            "PartialObjectMetadata".to_owned(),
            "meta.k8s.io/v1".to_owned(),
        )
    } else {
        (def.kind.clone(), def.api_version())
    };
    let head = format!(
        "{{\"kind\":\"{kind}List\",\"apiVersion\":\"{api_version}\",\"metadata\":{meta},\"items\":["
    );
    let mut out = Vec::with_capacity(
        head.len() + page.items.iter().map(|i| i.json.len() + 1).sum::<usize>() + 2,
    );
    out.extend_from_slice(head.as_bytes());
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if metadata_only {
            out.extend_from_slice(&representation::partial_bytes(&item.json));
        } else if events_v1 {
            out.extend_from_slice(&events::from_core_bytes(&item.json));
        } else {
            out.extend_from_slice(&item.json);
        }
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_v2_is_served_in_the_first_form_accepted() {
        let pb = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
        assert_eq!(openapi_v2_form(pb), Some(OpenApiV2Form::Protobuf));
        assert_eq!(
            openapi_v2_form(&format!("{pb}, application/json")),
            Some(OpenApiV2Form::Protobuf)
        );
        assert_eq!(
            openapi_v2_form(&format!("application/json;q=0.9, {pb}")),
            Some(OpenApiV2Form::Json)
        );
        assert_eq!(openapi_v2_form(""), Some(OpenApiV2Form::Json));
        assert_eq!(openapi_v2_form("text/html, */*"), Some(OpenApiV2Form::Json));
        assert_eq!(openapi_v2_form("application/yaml"), None);
    }

    #[test]
    fn routes() {
        assert_eq!(route("/api/v1"), Some(Route::Resources("", "v1")));
        let Some(Route::Resource(p)) = route("/api/v1/namespaces/ns/secrets/s") else {
            panic!()
        };
        assert_eq!(
            (p.namespace, p.plural, p.name),
            (Some("ns"), "secrets", Some("s"))
        );
        let Some(Route::Resource(p)) = route("/api/v1/namespaces/ns/status") else {
            panic!()
        };
        assert_eq!(
            (p.namespace, p.plural, p.name, p.subresource),
            (None, "namespaces", Some("ns"), Some("status"))
        );
        let Some(Route::Resource(p)) =
            route("/apis/videosdk.live/v1alpha1/namespaces/a/videosdktokens/t/status")
        else {
            panic!()
        };
        assert_eq!(
            (p.group, p.plural, p.subresource),
            ("videosdk.live", "videosdktokens", Some("status"))
        );
        let Some(Route::Resource(p)) = route("/apis/g/v1/widgets") else {
            panic!()
        };
        assert_eq!((p.namespace, p.name), (None, None));
        assert_eq!(route("/nope"), None);
    }
}
