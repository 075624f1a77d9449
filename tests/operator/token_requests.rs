//! The token request endpoint end to end: a ServiceAccount token minted through the
//! TokenRequest subresource, checked by TokenReview, authorized by RBAC objects through a
//! SubjectAccessReview, against the in-memory API server or a real cluster
//! (`VIDEOSDK_E2E_KUBECONFIG`), with the controller making the issuers Ready.

use super::*;
use e2e_support::{certificate, http, interop};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use videosdk_token_operator::api::{ClusterVideoSdkIssuer, VideoSdkIssuer};
use videosdk_token_operator::listener::{Limits, ListenerStatus};
use videosdk_token_operator::token_requests::{self, Server, Settings, budget};

pub const AUDIENCE: &str = "videosdk-token-operator";
const SECRET: &str = "e2e-secret-token-requests-0123456789";

/// The endpoint of one test, served on loopback.
pub struct Endpoint {
    address: SocketAddr,
    server: Arc<Server>,
    path: String,
}

impl Endpoint {
    async fn start(env: &Env, rate: u32, burst: u32, cache: Duration) -> Endpoint {
        Self::start_with(
            env,
            env.t.client.clone(),
            Some(env.namespace()),
            rate,
            burst,
            cache,
        )
        .await
    }

    /// The endpoint with the operator's `client`, serving the issuers of `namespace` (all: `None`).
    pub async fn start_with(
        env: &Env,
        client: kube::Client,
        namespace: Option<&str>,
        rate: u32,
        burst: u32,
        cache: Duration,
    ) -> Endpoint {
        let settings = Settings {
            cache_lifetime: cache,
            cache_capacity: 1000,
            rate: NonZeroU32::new(rate).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
            namespace: namespace.map(str::to_owned),
            ..settings(env)
        };
        Self::serve(env, client, settings).await
    }

    /// The endpoint with `settings`.
    pub async fn serve(env: &Env, client: kube::Client, settings: Settings) -> Endpoint {
        let server = Server::start(client, settings, Default::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let status = Arc::new(ListenerStatus::new("token requests", address));
        tokio::spawn(token_requests::serve(
            listener,
            server.clone(),
            Limits::new(64, 64),
            status,
            std::future::pending(),
        ));
        Endpoint {
            address,
            server,
            path: token_requests::PATH.replace("{namespace}", env.namespace()),
        }
    }

    async fn ask(&self, bearer: Option<&str>, body: &Value) -> http::Answer {
        http::post(
            self.address,
            &self.path,
            bearer,
            body.to_string().as_bytes(),
        )
        .await
        .expect("the endpoint answers")
    }
}

/// A ServiceAccount `name`, and (with `issuers`) a Role granting it `request` on those
/// VideoSdkIssuers only, bound by a RoleBinding of the same name.
pub async fn service_account(env: &Env, name: &str, issuers: &[&str]) {
    env.apply(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}))
        .await;
    if issuers.is_empty() {
        return;
    }
    env.apply(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": name},
        "rules": [{"apiGroups": ["videosdk.live"], "resources": ["videosdkissuers"],
                   "verbs": ["request"], "resourceNames": issuers}]}),
    )
    .await;
    env.apply(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": env.namespace()}]}),
    )
    .await;
}

/// A token of ServiceAccount `name` for `audience`, valid `seconds`.
pub async fn mint(
    env: &Env,
    name: &str,
    audience: &str,
    seconds: i64,
) -> Result<String, kube::Error> {
    let api: Api<ServiceAccount> = Api::namespaced(env.t.client.clone(), env.namespace());
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![audience.to_owned()],
            expiration_seconds: Some(seconds),
            bound_object_ref: None,
        },
        ..TokenRequest::default()
    };
    let answered = api
        .create_token_request(name, &PostParams::default(), &request)
        .await?;
    Ok(answered.status.expect("a TokenRequest status").token)
}

/// Waits until issuer `name` is Ready (the controller checked its credentials).
pub async fn wait_issuer_ready(env: &Env, name: &str) {
    let api: Api<VideoSdkIssuer> = Api::namespaced(env.t.client.clone(), env.namespace());
    tokio::time::timeout(
        WAIT,
        await_condition(api, name, |i: Option<&VideoSdkIssuer>| {
            i.and_then(|i| i.status.as_ref()).is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("issuer {name} did not become Ready in time"))
    .expect("watching the issuer");
}

/// Applies a `kubernetes.io/tls` Secret `name` with a new self-signed certificate for 127.0.0.1;
/// returns the certificate (PEM), for clients to trust.
pub async fn apply_self_signed_tls(env: &Env, name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("videosdk-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = certificate::self_signed(&dir, name);
    let _ = std::fs::remove_dir_all(&dir);
    env.apply(
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
               "metadata": {"name": name},
               "stringData": {"tls.crt": &cert, "tls.key": key}}),
    )
    .await;
    cert
}

/// Serves the endpoint with [`settings`] over HTTPS on a free loopback port, with the
/// certificate of the TLS Secret `secret` of `env`'s namespace; `status` makes the listener's
/// status for its address. Returns the address.
pub async fn serve_https(
    env: &Env,
    secret: &str,
    limits: Limits,
    status: impl FnOnce(std::net::SocketAddr) -> Arc<ListenerStatus>,
) -> std::net::SocketAddr {
    let server = Server::start(env.t.client.clone(), settings(env), Default::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let status = status(address);
    let secrets = Arc::new(videosdk_token_operator::controller::CredentialSecrets::new(
        env.t.client.clone(),
    ));
    tokio::spawn(token_requests::tls::serve(
        listener,
        token_requests::router(server),
        secrets,
        env.namespace().to_owned(),
        secret.to_owned(),
        limits,
        status,
        std::future::pending(),
    ));
    address
}

/// The endpoint's settings for `env`: its namespace served, a 10 s cache of 100 answers, 100
/// requests per second per caller, the operator's default budgets and `--max-ttl`.
pub fn settings(env: &Env) -> Settings {
    Settings {
        audience: AUDIENCE.to_owned(),
        cache_lifetime: Duration::from_secs(10),
        cache_capacity: 100,
        rate: NonZeroU32::new(100).unwrap(),
        burst: NonZeroU32::new(100).unwrap(),
        cluster_resource_namespace: env.namespace().to_owned(),
        namespace: Some(env.namespace().to_owned()),
        review_budget: Default::default(),
        access_review_budget: Default::default(),
        max_ttl: token::DEFAULT_MAX_TTL,
    }
}

/// An issuer `videosdk` (with `policy`) Ready, and `backend` granted it.
pub async fn setup(test: &str, policy: Value) -> Option<Env> {
    let env = Env::start(test).await?;
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", policy).await;
    wait_issuer_ready(&env, "videosdk").await;
    service_account(&env, "backend", &["videosdk"]).await;
    Some(env)
}

pub fn request(issuer: &str) -> Value {
    json!({"issuer": {"name": issuer}, "permissions": ["allow_join"], "roles": ["rtc"],
           "roomId": "abcd-efgh-ijkl", "participantId": "participant-ü-1"})
}

/// Asks until the answer is no longer 503 (the endpoint's caches listing): what a client's
/// retry does.
pub async fn ask_when_listed(endpoint: &Endpoint, bearer: &str, body: &Value) -> http::Answer {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = endpoint.ask(Some(bearer), body).await;
        if answer.status != 503 || tokio::time::Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn refusal(answer: &http::Answer, status: u16) -> Value {
    assert_eq!(answer.status, status, "{}", answer.body);
    answer.json()
}

#[tokio::test]
async fn a_granted_caller_gets_a_token_with_exactly_the_claims_asked() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-allowed", json!({})).await else {
        return;
    };
    let endpoint = Endpoint::start(&env, 100, 100, Duration::from_secs(10)).await;
    let bearer = mint(&env, "backend", AUDIENCE, 3600)
        .await
        .expect("a token");
    let cases = [
        (request("videosdk"), 600),
        (
            json!({"issuer": {"name": "videosdk", "kind": "VideoSdkIssuer"},
                   "permissions": ["ask_join", "allow_mod"], "ttl": "90m"}),
            5400,
        ),
    ];
    let mut jwts = Vec::new();
    for (body, ttl) in cases {
        let answer = ask_when_listed(&endpoint, &bearer, &body).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let granted = answer.json();
        let jwt = granted["token"].as_str().expect("a token").to_owned();
        let (iat, exp) = (
            granted["iat"].as_u64().unwrap(),
            granted["exp"].as_u64().unwrap(),
        );
        assert_eq!(exp - iat, ttl, "the ttl asked");
        let mut claims = json!({"apikey": API_KEY, "permissions": body["permissions"],
                                "iat": iat, "exp": exp, "jti": granted["id"]});
        for key in ["roles", "roomId", "participantId"] {
            if let Some(v) = body.get(key) {
                claims[key] = v.clone();
                claims["version"] = json!(2);
            }
        }
        let verified = verified(&jwt, SECRET);
        assert_eq!(
            serde_json::to_value(&verified).unwrap(),
            claims,
            "exactly the claims asked"
        );
        for verifier in interop::VERIFIERS {
            interop::verify_with(verifier, &jwt, &claims, SECRET);
        }
        jwts.push(jwt);
    }
    // One TokenReview and one SubjectAccessReview for both requests: the cache answered the rest.
    let metrics = endpoint.server.metrics();
    assert_eq!(metrics.reviews_asked("tokenreview"), 1);
    assert_eq!(metrics.reviews_asked("subjectaccessreview"), 1);
    let logs = captured_logs();
    assert!(logs.contains("token request"), "an audit line per request");
    assert!(
        logs.contains("system:serviceaccount:"),
        "the audit line names the caller"
    );
    for secret in jwts.iter().chain([&bearer]) {
        assert!(
            !logs.contains(secret.as_str()),
            "a token or bearer credential was logged"
        );
    }
    env.cleanup().await;
}

#[tokio::test]
async fn rbac_policy_and_unknown_issuers_refuse_with_the_check_that_said_no() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup(
        "tr-refused",
        json!({"allowedRoles": ["crawler"], "maxTtl": "1h"}),
    )
    .await
    else {
        return;
    };
    env.issuer("other", "creds", json!({})).await;
    env.issuer("broken", "missing-secret", json!({})).await;
    service_account(&env, "stranger", &[]).await;
    service_account(&env, "wide", &["videosdk", "ghost", "broken"]).await;
    let endpoint = Endpoint::start(&env, 100, 100, Duration::from_secs(10)).await;
    let backend = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    let stranger = mint(&env, "stranger", AUDIENCE, 3600).await.unwrap();
    let wide = mint(&env, "wide", AUDIENCE, 3600).await.unwrap();
    let crawler = json!({"issuer": {"name": "videosdk"}, "permissions": ["allow_join"], "roles": ["crawler"]});

    // Allowed first, so that the caches have listed before the refusals are judged.
    assert_eq!(
        ask_when_listed(&endpoint, &backend, &crawler).await.status,
        200
    );

    let r = refusal(&endpoint.ask(Some(&stranger), &crawler).await, 403);
    assert_eq!(r["check"], "RBAC", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("verb \"request\""),
        "{r}"
    );
    let r = refusal(&endpoint.ask(Some(&backend), &request("other")).await, 403);
    assert_eq!(r["check"], "RBAC", "granted one issuer, not another: {r}");

    let r = refusal(
        &endpoint.ask(Some(&backend), &request("videosdk")).await,
        403,
    );
    assert_eq!(r["check"], "Policy", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("allowedRoles"),
        "{r}"
    );
    let long = json!({"issuer": {"name": "videosdk"}, "permissions": ["allow_join"], "ttl": "2h"});
    let r = refusal(&endpoint.ask(Some(&backend), &long).await, 403);
    assert!(r["message"].as_str().unwrap().contains("maxTtl"), "{r}");

    let r = refusal(&endpoint.ask(Some(&wide), &request("ghost")).await, 404);
    assert_eq!(r["reason"], "NotFound");
    let broken = json!({"issuer": {"name": "broken"}, "permissions": ["allow_join"]});
    let r = refusal(&endpoint.ask(Some(&wide), &broken).await, 503);
    assert!(r["message"].as_str().unwrap().contains("not Ready"), "{r}");

    let r = refusal(&endpoint.ask(None, &crawler).await, 401);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{r}"
    );
    let r = refusal(&endpoint.ask(Some("not-a-token"), &crawler).await, 401);
    assert_eq!(r["reason"], "Unauthorized");
    let bad =
        json!({"issuer": {"name": "videosdk"}, "permissions": ["allow_join"], "ttl": "1 hour"});
    let r = refusal(&endpoint.ask(Some(&backend), &bad).await, 422);
    assert_eq!(r["field"], "ttl", "{r}");
    let answer = http::post(endpoint.address, &endpoint.path, Some(&backend), b"{")
        .await
        .unwrap();
    refusal(&answer, 400);
    let huge = vec![b' '; token_requests::MAX_BODY + 1];
    let answer = http::post(endpoint.address, &endpoint.path, Some(&backend), &huge)
        .await
        .unwrap();
    refusal(&answer, 413);
    env.cleanup().await;
}

/// (§6 of issue 20) The operator's `--max-ttl` caps token requests as it caps tokens, whatever
/// the issuer's maxTtl; no ttl beyond a year is signed at all.
#[tokio::test]
async fn the_operators_max_ttl_caps_requests_whatever_the_issuer_allows() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-max-ttl", json!({"maxTtl": "8760h"})).await else {
        return;
    };
    let endpoint = Endpoint::start(&env, 100, 100, Duration::from_secs(10)).await;
    let backend = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    let ask = |ttl: &str| json!({"issuer": {"name": "videosdk"}, "permissions": ["allow_join"], "ttl": ttl});
    assert_eq!(
        ask_when_listed(&endpoint, &backend, &ask("720h"))
            .await
            .status,
        200
    );
    let r = refusal(&endpoint.ask(Some(&backend), &ask("721h")).await, 403);
    assert_eq!(r["check"], "Policy", "{r}");
    assert_eq!(
        r["message"],
        "ttl 721h0m0s exceeds the operator's maximum ttl of 720h0m0s (its flag --max-ttl): ask for at most 720h0m0s"
    );
    let r = refusal(&endpoint.ask(Some(&backend), &ask("2562047h")).await, 422);
    assert_eq!(r["field"], "ttl", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("maximum of 8760h"),
        "{r}"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn a_credential_for_another_audience_or_expired_is_refused() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-authn", json!({})).await else {
        return;
    };
    let endpoint = Endpoint::start(&env, 100, 100, Duration::from_secs(10)).await;
    let api_audience = mint(
        &env,
        "backend",
        "https://kubernetes.default.svc.cluster.local",
        3600,
    )
    .await
    .unwrap();
    let r = refusal(
        &endpoint
            .ask(Some(&api_audience), &request("videosdk"))
            .await,
        401,
    );
    assert!(r["message"].as_str().unwrap().contains(AUDIENCE), "{r}");
    let fine = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    assert_eq!(
        ask_when_listed(&endpoint, &fine, &request("videosdk"))
            .await
            .status,
        200
    );
    match mint(&env, "backend", AUDIENCE, 2).await {
        Err(kube::Error::Api(e)) if e.code == 422 || e.code == 400 => {
            eprintln!(
                "SKIPPED expired-credential check: this API server refuses tokens shorter than it allows ({})",
                e.message
            );
        }
        Err(e) => panic!("minting a short-lived token: {e}"),
        Ok(short) => {
            tokio::time::sleep(Duration::from_millis(2100)).await;
            let r = refusal(&endpoint.ask(Some(&short), &request("videosdk")).await, 401);
            assert!(r["message"].as_str().unwrap().contains("expired"), "{r}");
        }
    }
    env.cleanup().await;
}

#[tokio::test]
async fn a_caller_past_its_rate_limit_is_told_when_to_come_back() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-rate", json!({})).await else {
        return;
    };
    let endpoint = Endpoint::start(&env, 1, 2, Duration::from_secs(10)).await;
    let bearer = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    service_account(&env, "neighbour", &["videosdk"]).await;
    let neighbour = mint(&env, "neighbour", AUDIENCE, 3600).await.unwrap();
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(endpoint.ask(Some(&bearer), &request("videosdk")).await);
    }
    let limited = codes.pop().unwrap();
    let r = refusal(&limited, 429);
    assert_eq!(r["reason"], "TooManyRequests");
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_ne!(
        ask_when_listed(&endpoint, &neighbour, &request("videosdk"))
            .await
            .status,
        429,
        "another caller has its own limit"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn a_deleted_role_binding_takes_effect_within_the_cache_lifetime() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-revoke", json!({})).await else {
        return;
    };
    let lifetime = Duration::from_secs(2);
    let endpoint = Endpoint::start(&env, 100, 100, lifetime).await;
    let bearer = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    assert_eq!(
        ask_when_listed(&endpoint, &bearer, &request("videosdk"))
            .await
            .status,
        200
    );
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
        Api::namespaced(env.t.client.clone(), env.namespace());
    bindings
        .delete("backend", &DeleteParams::default())
        .await
        .expect("deleting the RoleBinding");
    let revoked = tokio::time::Instant::now();
    let deadline = revoked + lifetime + WAIT;
    loop {
        let answer = endpoint.ask(Some(&bearer), &request("videosdk")).await;
        if answer.status == 403 {
            assert_eq!(answer.json()["check"], "RBAC");
            break;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(
            tokio::time::Instant::now() < deadline,
            "still granted {:?} after the RoleBinding was deleted",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if std::env::var_os(e2e_support::cluster::E2E_KUBECONFIG).is_none() {
        // In memory the server's answer changes at once: the cache is the whole delay.
        assert!(
            revoked.elapsed() >= lifetime - Duration::from_millis(200),
            "the cache held: {:?}",
            revoked.elapsed()
        );
        assert!(
            revoked.elapsed() < lifetime + Duration::from_secs(1),
            "{:?}",
            revoked.elapsed()
        );
    }
    env.cleanup().await;
}

/// Connects over TLS trusting only `roots` (PEM); returns the stream and the certificate served.
pub async fn connect_tls(
    address: SocketAddr,
    roots: &[&str],
) -> std::io::Result<(
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    Vec<u8>,
)> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto::aws_lc_rs};
    let mut store = RootCertStore::empty();
    for pem in roots {
        store
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
    }
    let config = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(address).await?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::IpAddress(address.ip().into()), tcp)
        .await?;
    let served = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    Ok((tls, served))
}

fn der_of(pem: &str) -> Vec<u8> {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn https_is_served_from_a_tls_secret_and_follows_its_renewal() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-tls", json!({})).await else {
        return;
    };
    let first_cert = apply_self_signed_tls(&env, "token-requests-tls").await;
    let address = serve_https(&env, "token-requests-tls", Limits::new(64, 64), |address| {
        Arc::new(ListenerStatus::new("token requests", address))
    })
    .await;
    let path = token_requests::PATH.replace("{namespace}", env.namespace());
    let bearer = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    let body = request("videosdk").to_string();

    // The first certificate, and a token over HTTPS.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let connected = connect_tls(address, &[&first_cert]).await;
        let failure = connected.as_ref().err().map(ToString::to_string);
        if let Ok((stream, served)) = connected {
            assert_eq!(served, der_of(&first_cert));
            let answer = http::post_over(stream, &path, Some(&bearer), body.as_bytes())
                .await
                .unwrap();
            if answer.status == 200 {
                assert!(answer.json()["token"].is_string());
                break;
            }
            assert_eq!(answer.status, 503, "{}", answer.body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no HTTPS answer with the first certificate: {failure:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Plain HTTP is not served on the TLS port.
    let plain = http::post(address, &path, Some(&bearer), body.as_bytes()).await;
    assert!(
        plain.is_err() || plain.unwrap().status != 200,
        "plain HTTP answered on the HTTPS port"
    );

    // cert-manager renews: the Secret changes, new connections get the new certificate.
    let second_cert = apply_self_signed_tls(&env, "token-requests-tls").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, served) = connect_tls(address, &[&first_cert, &second_cert])
            .await
            .unwrap();
        if served == der_of(&second_cert) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the renewed certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (stream, _) = connect_tls(address, &[&second_cert]).await.unwrap();
    let answer = http::post_over(stream, &path, Some(&bearer), body.as_bytes())
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    env.cleanup().await;
}

/// A bearer shaped as a ServiceAccount token for `audience` that expires at `exp` (Unix
/// seconds), number `n`, signed by nobody: what a flood of garbage sends.
pub fn forged(audience: &str, exp: u64, n: usize) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(json!({"alg": "RS256", "kid": "forged"})),
        part(
            json!({"aud": [audience], "exp": exp, "sub": format!("system:serviceaccount:x:forged-{n}")})
        ),
        URL_SAFE_NO_PAD.encode(format!("no-signature-{n}"))
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_bearer_that_cannot_be_a_service_account_token_costs_no_token_review() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-unfit", json!({})).await else {
        return;
    };
    let endpoint = Endpoint::start(&env, 100, 100, Duration::from_secs(10)).await;
    let api_audience = mint(
        &env,
        "backend",
        "https://kubernetes.default.svc.cluster.local",
        3600,
    )
    .await
    .unwrap();
    let unfit = [
        ("not-a-token".to_owned(), "not a JWT"),
        ("a.b.c".to_owned(), "not a JWT"),
        (api_audience, "aud does not contain"),
        (
            forged("https://kubernetes.default.svc", unix_now() + 3600, 0),
            "aud does not contain",
        ),
        (forged(AUDIENCE, unix_now() - 3600, 1), "expired"),
        (
            forged("https://kubernetes.default.svc", u64::MAX, 2),
            "aud does not contain",
        ),
        ("x".repeat(10_000), "longer than 8192 bytes"),
    ];
    for (bearer, says) in &unfit {
        let r = refusal(&endpoint.ask(Some(bearer), &request("videosdk")).await, 401);
        assert!(r["message"].as_str().unwrap().contains(says), "{r}");
    }
    // A forged JWT for the audience whose exp is past any clock is reviewed (and refused),
    // not a panic.
    let far = forged(AUDIENCE, u64::MAX, 3);
    let r = refusal(&endpoint.ask(Some(&far), &request("videosdk")).await, 401);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("not valid for audience"),
        "{r}"
    );
    let reviews = 1;
    assert_eq!(
        endpoint.server.metrics().reviews_asked("tokenreview"),
        reviews,
        "no TokenReview for a bearer that cannot be valid"
    );
    // RFC 9110 §11.1: the scheme is case-insensitive.
    let good = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    assert_eq!(
        ask_when_listed(&endpoint, &good, &request("videosdk"))
            .await
            .status,
        200
    );
    for scheme in ["bearer", "BEARER"] {
        let answer = http::post_authorized(
            endpoint.address,
            &endpoint.path,
            &format!("{scheme} {good}"),
            request("videosdk").to_string().as_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 200, "{scheme}: {}", answer.body);
    }
    env.cleanup().await;
}

#[tokio::test]
async fn a_flood_of_distinct_bearers_gets_a_bounded_number_of_token_reviews_and_evicts_no_caller() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-flood", json!({})).await else {
        return;
    };
    let (per_second, burst) = (1, 10);
    let settings = Settings {
        cache_lifetime: Duration::from_secs(60),
        // Fewer than the refused answers the flood gets: before refused answers were kept
        // apart, they pushed the caller's answer out.
        cache_capacity: 4,
        review_budget: budget::Limits {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
            in_flight: NonZeroU32::new(20).unwrap(),
        },
        ..settings(&env)
    };
    let endpoint = Endpoint::serve(&env, env.t.client.clone(), settings).await;
    let caller = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    assert_eq!(
        ask_when_listed(&endpoint, &caller, &request("videosdk"))
            .await
            .status,
        200
    );
    let metrics = endpoint.server.metrics();
    assert_eq!(metrics.reviews_asked("tokenreview"), 1);

    let started = tokio::time::Instant::now();
    let flood = 200;
    let (mut reviewed, mut spent) = (0, 0);
    for n in 0..flood {
        let answer = endpoint
            .ask(
                Some(&forged(AUDIENCE, unix_now() + 3600, n)),
                &request("videosdk"),
            )
            .await;
        match answer.status {
            401 => reviewed += 1,
            429 => {
                let retry: u64 = answer
                    .header("retry-after")
                    .expect("Retry-After")
                    .parse()
                    .unwrap();
                assert!((1..=2).contains(&retry), "Retry-After {retry}");
                assert!(
                    answer.body.contains("TokenReviews per second"),
                    "{}",
                    answer.body
                );
                spent += 1;
            }
            other => panic!("{other}: {}", answer.body),
        }
    }
    let budget = u64::from(burst) + u64::from(per_second) * (started.elapsed().as_secs() + 1);
    assert!(
        reviewed as u64 <= budget,
        "{reviewed} TokenReviews, budget {budget}"
    );
    assert_eq!(reviewed + spent, flood);
    assert_eq!(
        metrics.reviews_asked("tokenreview"),
        1 + reviewed as u64,
        "each TokenReview asked is one the flood got within the budget"
    );
    // The caller's answer was kept: no TokenReview again, and no budget needed.
    assert_eq!(
        endpoint
            .ask(Some(&caller), &request("videosdk"))
            .await
            .status,
        200
    );
    assert_eq!(metrics.reviews_asked("tokenreview"), 1 + reviewed as u64);

    // The audit log: a line per code and reason every 10 s for refusals before authentication,
    // not one per refused request.
    let logs = captured_logs();
    let namespace = format!("namespace={}", env.namespace());
    let lines = |reason: &str| {
        logs.lines()
            .filter(|l| l.contains("token request") && l.contains(&namespace) && l.contains(reason))
            .count()
    };
    let intervals = started.elapsed().as_secs() as usize / 10 + 1;
    assert!(
        lines("TooManyRequests") <= intervals,
        "{} lines",
        lines("TooManyRequests")
    );
    assert!(
        lines("Unauthorized") <= intervals,
        "{} lines",
        lines("Unauthorized")
    );
    env.cleanup().await;
}

#[tokio::test]
async fn requests_are_held_to_the_crds_rules_and_a_bad_namespace_to_a_plain_answer() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-rules", json!({})).await else {
        return;
    };
    let endpoint = Endpoint::start(&env, 100, 100, Duration::from_secs(10)).await;
    let bearer = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    assert_eq!(
        ask_when_listed(&endpoint, &bearer, &request("videosdk"))
            .await
            .status,
        200
    );
    let long = "x".repeat(16_000);
    for field in ["roomId", "participantId"] {
        let mut body = request("videosdk");
        body[field] = json!(long);
        let r = refusal(&endpoint.ask(Some(&bearer), &body).await, 422);
        assert_eq!(r["field"], field, "{r}");
        assert!(
            r["message"].as_str().unwrap().contains("at most 256"),
            "{r}"
        );
    }
    let duplicate = br#"{"issuer": {"name": "videosdk"}, "permissions": ["allow_join"], "roomId": "a", "roomId": "b"}"#;
    let answer = http::post(endpoint.address, &endpoint.path, Some(&bearer), duplicate)
        .await
        .unwrap();
    let r = refusal(&answer, 422);
    assert_eq!(r["field"], "roomId", "{r}");

    let reviews = endpoint.server.metrics().reviews_asked("tokenreview");
    let bad_requests = answered(&endpoint, 400);
    let mut refused_400 = 0;
    let body = request("videosdk").to_string();
    for segment in [
        "",
        "%20",
        "..",
        "%2e%2e",
        "%00",
        // Not UTF-8 once decoded: the path extractor's rejection, answered like the rest.
        "%FF",
        "a%C3%28",
        "a%2Fb",
        "Media",
        &"a".repeat(64),
    ] {
        let path = format!("/apis/videosdk.live/v1alpha1/namespaces/{segment}/tokenrequests");
        let answer = http::post(endpoint.address, &path, Some(&bearer), body.as_bytes())
            .await
            .unwrap();
        assert!(
            [400, 404].contains(&answer.status),
            "{segment:?}: {} {}",
            answer.status,
            answer.body
        );
        refused_400 += u64::from(answer.status == 400);
        let message = answer.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains("namespace"), "{segment:?}: {message}");
        for library_text in ["kube", "Error", "error:", "Api("] {
            assert!(!message.contains(library_text), "{segment:?}: {message}");
        }
    }
    assert_eq!(
        endpoint.server.metrics().reviews_asked("tokenreview"),
        reviews,
        "a bad namespace is refused before any API call"
    );
    assert_eq!(
        answered(&endpoint, 400),
        bad_requests + refused_400,
        "each 400 is counted in videosdk_token_requests_total"
    );
    env.cleanup().await;
}

/// `videosdk_token_requests_total` for `code`, summed over issuers.
fn answered(endpoint: &Endpoint, code: u16) -> u64 {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, endpoint.server.metrics().registry())
        .unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("videosdk_token_requests_total{")
                && l.contains(&format!("code=\"{code}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn a_cluster_issuers_status_written_by_another_installation_changes_no_answer() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = Env::start("tr-foreign-status").await else {
        return;
    };
    // The cluster resource namespace of this installation is the test's namespace.
    env.credentials("creds", SECRET).await;
    let name = format!("{}-shared", env.namespace());
    env.apply(objects::cluster_issuer(
        &name,
        objects::issuer_spec("creds"),
    ))
    .await;
    let issuers: Api<ClusterVideoSdkIssuer> = Api::all(env.t.client.clone());
    let ours = env.namespace().to_owned();
    tokio::time::timeout(
        WAIT,
        await_condition(
            issuers.clone(),
            &name,
            move |i: Option<&ClusterVideoSdkIssuer>| {
                i.and_then(|i| i.status.as_ref())
                    .is_some_and(|s| s.cluster_resource_namespace.as_deref() == Some(&ours))
            },
        ),
    )
    .await
    .expect("this installation writes the status, marked with its cluster resource namespace")
    .unwrap();
    service_account(&env, "backend", &[]).await;
    env.apply(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [{"apiGroups": ["videosdk.live"], "resources": ["clustervideosdkissuers"],
                   "verbs": ["request"], "resourceNames": [name]}]}),
    )
    .await;
    env.apply(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "backend-cluster"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "backend", "namespace": env.namespace()}]}),
    )
    .await;

    // Another installation, whose cluster resource namespace has no such Secret, writes it.
    let foreign = |status: &str, reason: &str| {
        json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "ClusterVideoSdkIssuer",
               "metadata": {"name": name},
               "status": {"clusterResourceNamespace": "other-installation",
                          "conditions": [{"type": "Ready", "status": status, "reason": reason,
                                          "message": "written by another installation",
                                          "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
    };
    issuers
        .patch_status(
            &name,
            &PatchParams::apply("other-installation").force(),
            &Patch::Apply(foreign("False", "SecretNotFound")),
        )
        .await
        .expect("writing the status as another installation");

    // This installation reports it rather than writing the status back.
    let deadline = tokio::time::Instant::now() + WAIT;
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(env.t.client.clone(), "default");
    loop {
        let found = events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .any(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name.as_str())
                    && e.reason.as_deref() == Some("ConflictingInstallation")
                    && e.type_.as_deref() == Some("Warning")
                    && e.note
                        .as_deref()
                        .is_some_and(|n| n.contains("other-installation"))
            });
        if found {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ConflictingInstallation Event"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = issuers.get_status(&name).await.unwrap().status.unwrap();
    assert_eq!(
        status.cluster_resource_namespace.as_deref(),
        Some("other-installation"),
        "the other installation's status is left alone"
    );

    // The endpoint decides from the credentials it reads itself: it grants.
    let endpoint = Endpoint::start(&env, 100, 100, Duration::from_secs(10)).await;
    let bearer = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    let body = json!({"issuer": {"name": name, "kind": "ClusterVideoSdkIssuer"},
                      "permissions": ["allow_join"]});
    let answer = ask_when_listed(&endpoint, &bearer, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    // Nor does a status saying Ready grant when the credentials are gone.
    issuers
        .patch_status(
            &name,
            &PatchParams::apply("other-installation").force(),
            &Patch::Apply(foreign("True", "CredentialsValid")),
        )
        .await
        .unwrap();
    env.delete_secret("creds").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = endpoint.ask(Some(&bearer), &body).await;
        if answer.status == 503 {
            assert!(answer.body.contains("SecretNotFound"), "{}", answer.body);
            break;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(
            tokio::time::Instant::now() < deadline,
            "still granted without credentials"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = issuers.delete(&name, &DeleteParams::default()).await;
    let roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(env.t.client.clone());
    let _ = roles.delete(&name, &DeleteParams::default()).await;
    env.cleanup().await;
}

#[tokio::test]
async fn a_caller_already_authenticated_is_not_locked_out_when_garbage_spends_the_budget() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-known", json!({})).await else {
        return;
    };
    let lifetime = Duration::from_secs(1);
    let settings = Settings {
        cache_lifetime: lifetime,
        review_budget: budget::Limits {
            per_second: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(1).unwrap(),
            in_flight: NonZeroU32::new(20).unwrap(),
        },
        ..settings(&env)
    };
    let endpoint = Endpoint::serve(&env, env.t.client.clone(), settings).await;
    let caller = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    assert_eq!(
        ask_when_listed(&endpoint, &caller, &request("videosdk"))
            .await
            .status,
        200
    );
    // Garbage spends the rate until it is refused, after the caller's answer has expired.
    tokio::time::sleep(lifetime + Duration::from_millis(100)).await;
    let mut n = 0;
    loop {
        n += 1;
        let answer = endpoint
            .ask(
                Some(&forged(AUDIENCE, unix_now() + 3600, n)),
                &request("videosdk"),
            )
            .await;
        if answer.status == 429 {
            break;
        }
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert!(n < 10, "the budget of 1 per second was never spent");
    }
    // The caller, reviewed again, is not held to the spent rate.
    let answer = endpoint.ask(Some(&caller), &request("videosdk")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        endpoint.server.metrics().reviews_asked("tokenreview"),
        2 + n as u64 - 1
    );
    env.cleanup().await;
}

/// (Round 2, finding 1) A caller with a valid token past its rate limit, or refused by RBAC,
/// writes one audit line per caller, code and reason every 10 s (with a `suppressed` count),
/// not one per request; its granted requests each keep their line.
#[tokio::test]
async fn an_authenticated_caller_hammering_past_its_limit_or_its_grant_writes_few_audit_lines() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-audit-hammer", json!({})).await else {
        return;
    };
    service_account(&env, "hammer", &["videosdk"]).await;
    service_account(&env, "stranger", &[]).await;
    let limited = Endpoint::start(&env, 1, 2, Duration::from_secs(60)).await;
    let open = Endpoint::start(&env, 1000, 1000, Duration::from_secs(60)).await;
    let hammer = mint(&env, "hammer", AUDIENCE, 3600).await.unwrap();
    let stranger = mint(&env, "stranger", AUDIENCE, 3600).await.unwrap();
    // Another caller waits for the endpoint to list: its 503s spend no limit of the hammer's.
    let backend = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    assert_eq!(
        ask_when_listed(&limited, &backend, &request("videosdk"))
            .await
            .status,
        200
    );
    let started = tokio::time::Instant::now();
    let hammered = 60;
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for _ in 0..hammered {
        let answer = limited.ask(Some(&hammer), &request("videosdk")).await;
        *codes.entry(answer.status).or_default() += 1;
        let answer = open.ask(Some(&stranger), &request("videosdk")).await;
        assert_eq!(answer.status, 403, "{}", answer.body);
    }
    assert!(
        codes.get(&429).copied().unwrap_or_default() >= hammered - 5,
        "{codes:?}"
    );

    let logs = captured_logs();
    let of = |name: &str| format!("system:serviceaccount:{}:{name}", env.namespace());
    let lines = |who: &str, what: &str| {
        logs.lines()
            .filter(|l| l.contains("token request") && l.contains(&of(who)) && l.contains(what))
            .count()
    };
    let intervals = started.elapsed().as_secs() as usize / 10 + 1;
    let limited_lines = lines("hammer", "TooManyRequests");
    assert!(
        (1..=intervals).contains(&limited_lines),
        "{limited_lines} lines of 429 for {} refusals",
        codes[&429]
    );
    let forbidden_lines = lines("stranger", "Forbidden");
    assert!(
        (1..=intervals).contains(&forbidden_lines),
        "{forbidden_lines} lines of 403 for {hammered} refusals"
    );
    assert_eq!(
        lines("hammer", "Granted"),
        codes.get(&200).copied().unwrap_or_default(),
        "a line per granted request"
    );
    env.cleanup().await;
}

/// (Round 2, finding 4) SubjectAccessReviews, all callers together, stay within the endpoint's
/// budget: a caller asking on ever new issuer names (each a new answer to ask) gets 429 with
/// `Retry-After` past it, not one SubjectAccessReview per request; a caller granted before is
/// not locked out by it.
#[tokio::test]
async fn subject_access_reviews_stay_within_the_endpoints_budget() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("tr-sar-budget", json!({})).await else {
        return;
    };
    service_account(&env, "stranger", &[]).await;
    let (per_second, burst) = (1, 5);
    let cache_lifetime = Duration::from_secs(1);
    let settings = Settings {
        cache_lifetime,
        cache_capacity: 1000,
        rate: NonZeroU32::new(1000).unwrap(),
        burst: NonZeroU32::new(1000).unwrap(),
        access_review_budget: budget::Limits {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
            in_flight: NonZeroU32::new(20).unwrap(),
        },
        ..settings(&env)
    };
    let endpoint = Endpoint::serve(&env, env.t.client.clone(), settings).await;
    let stranger = mint(&env, "stranger", AUDIENCE, 3600).await.unwrap();
    let backend = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    assert_eq!(
        ask_when_listed(&endpoint, &backend, &request("videosdk"))
            .await
            .status,
        200
    );
    // Its answer runs out before the flood below spends the budget.
    tokio::time::sleep(cache_lifetime + Duration::from_millis(100)).await;
    let started = tokio::time::Instant::now();
    let asked = 50;
    let (mut reviewed, mut spent) = (0u64, 0);
    for n in 0..asked {
        let answer = endpoint
            .ask(Some(&stranger), &request(&format!("ghost-{n}")))
            .await;
        match answer.status {
            403 => reviewed += 1,
            429 => {
                let retry: u64 = answer
                    .header("retry-after")
                    .expect("Retry-After")
                    .parse()
                    .unwrap();
                assert!((1..=2).contains(&retry), "Retry-After {retry}");
                assert!(
                    answer.body.contains(
                        "SubjectAccessReviews per second (--token-requests-access-review-rate)"
                    ),
                    "{}",
                    answer.body
                );
                spent += 1;
            }
            other => panic!("{other}: {}", answer.body),
        }
    }
    let budget = u64::from(burst) + u64::from(per_second) * (started.elapsed().as_secs() + 1);
    assert!(
        reviewed <= budget,
        "{reviewed} SubjectAccessReviews, budget {budget}"
    );
    assert_eq!(reviewed + spent, asked);
    let metrics = endpoint.server.metrics();
    assert_eq!(
        metrics.reviews_asked("subjectaccessreview"),
        1 + reviewed,
        "each SubjectAccessReview asked is one within the budget"
    );
    // A caller granted before is not held to the spent rate when its answer has run out.
    let answer = endpoint.ask(Some(&backend), &request("videosdk")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(metrics.reviews_asked("subjectaccessreview"), 2 + reviewed);
    env.cleanup().await;
}

/// (Round 2, finding 4) A caller granted a cluster issuer cluster-wide, asking in a namespace
/// that does not exist, costs one Namespace read per cache lifetime, not one per request.
#[tokio::test]
async fn a_namespace_that_does_not_exist_is_read_once_per_cache_lifetime() {
    if skipped_on_a_real_cluster("counting requests needs the in-memory API server's accounting") {
        return;
    }
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = Env::start("tr-missing-ns").await else {
        return;
    };
    env.credentials("creds", SECRET).await;
    let name = format!("{}-selective", env.namespace());
    let mut spec = objects::issuer_spec("creds");
    spec["namespaceSelector"] = json!({"matchLabels": {"videosdk": "yes"}});
    env.apply(objects::cluster_issuer(&name, spec)).await;
    service_account(&env, "backend", &[]).await;
    env.apply(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [{"apiGroups": ["videosdk.live"], "resources": ["clustervideosdkissuers"],
                   "verbs": ["request"], "resourceNames": [name]}]}),
    )
    .await;
    env.apply(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "backend", "namespace": env.namespace()}]}),
    )
    .await;
    let endpoint = Endpoint::start_with(
        &env,
        env.t.client.clone(),
        None,
        1000,
        1000,
        Duration::from_secs(60),
    )
    .await;
    let bearer = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    let missing = format!("{}-gone", env.namespace());
    let path = token_requests::PATH.replace("{namespace}", &missing);
    let body = json!({"issuer": {"name": name, "kind": "ClusterVideoSdkIssuer"},
                      "permissions": ["allow_join"]});
    let ask = || async {
        http::post(
            endpoint.address,
            &path,
            Some(&bearer),
            body.to_string().as_bytes(),
        )
        .await
        .unwrap()
    };
    // Until the endpoint has listed the issuer, then the namespace's answer.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = ask().await;
        if answer
            .body
            .contains(&format!("namespace {missing} does not exist"))
        {
            assert_eq!(answer.status, 404);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: {}",
            answer.status,
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let server = env.t.server().expect("in memory");
    server.reset_requests();
    for _ in 0..20 {
        let answer = ask().await;
        assert_eq!(answer.status, 404, "{}", answer.body);
    }
    let requests = server.requests();
    assert_eq!(
        requests.get(kube_apiserver_memory::Verb::Get, "namespaces"),
        0,
        "the answer that it does not exist is cached: {requests:?}"
    );
    let issuers: Api<ClusterVideoSdkIssuer> = Api::all(env.t.client.clone());
    let _ = issuers.delete(&name, &DeleteParams::default()).await;
    let roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(env.t.client.clone());
    let _ = roles.delete(&name, &DeleteParams::default()).await;
    let bindings: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> =
        Api::all(env.t.client.clone());
    let _ = bindings.delete(&name, &DeleteParams::default()).await;
    env.cleanup().await;
}
