//! A self-signed server certificate for 127.0.0.1, made by `openssl` (a real component, as a
//! user would make one), for the token request endpoint's HTTPS. Shared by the operator tests
//! and the token request benchmark.

/// Writes `{name}.crt` and `{name}.key` into `dir`; returns (certificate, private key), PEM.
/// An end-entity certificate (`CA:FALSE`: webpki refuses a CA as the server's certificate),
/// ECDSA P-256, valid a day.
pub fn self_signed(dir: &std::path::Path, name: &str) -> (String, String) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read_to_string(cert).expect("the certificate"),
        std::fs::read_to_string(key).expect("the key"),
    )
}
