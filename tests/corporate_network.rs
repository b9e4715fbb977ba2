//! Corporate networks: a provider whose certificate a private CA signed (made here, with
//! rcgen) is reached only with that CA configured (`with_extra_root_certificate_pem`), and
//! `with_https_proxy` sends the requests through a `CONNECT` proxy. Each test asserts on the
//! answer to a browser without a session (a redirect to the provider needs its discovery
//! document; an unreachable one gets the 503 page) and on the provider's and the proxy's hits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tower::ServiceExt;
use tower_oidc::{Identity, OidcConfig, OidcConfigBuilder, OidcLayer};

/// A private CA (its certificate as PEM) and a TLS server configuration for `127.0.0.1`
/// whose certificate it signed.
fn private_ca() -> (String, Arc<rustls::ServerConfig>) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "tower-oidc test CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (ca.pem(), Arc::new(server))
}

/// Reads a request head (up to the blank line); `None` when the peer closes first.
async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 || head.len() > 16 * 1024 {
            return None;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).ok()
}

/// A loopback https provider that serves its discovery document: its issuer, and how many
/// requests got past the TLS handshake.
async fn tls_provider(tls: Arc<rustls::ServerConfig>) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let hits = Arc::new(AtomicU64::new(0));
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let (doc_issuer, counter) = (issuer.clone(), hits.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, issuer, hits) = (acceptor.clone(), doc_issuer.clone(), counter.clone());
            tokio::spawn(async move {
                // A client that does not trust the CA ends the handshake here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if read_head(&mut tls).await.is_none() {
                    return;
                }
                hits.fetch_add(1, Ordering::SeqCst);
                let body = serde_json::json!({
                    "issuer": issuer,
                    "authorization_endpoint": format!("{issuer}/authorize"),
                    "token_endpoint": format!("{issuer}/token"),
                    "jwks_uri": format!("{issuer}/jwks"),
                    "id_token_signing_alg_values_supported": ["RS256"],
                })
                .to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (issuer, hits)
}

/// A `CONNECT` proxy on loopback: its URL, and how many tunnels it opened.
async fn connect_proxy() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let tunnels = Arc::new(AtomicU64::new(0));
    let counter = tunnels.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let tunnels = counter.clone();
            tokio::spawn(async move {
                let Some(head) = read_head(&mut client).await else {
                    return;
                };
                let Some(target) = head
                    .strip_prefix("CONNECT ")
                    .and_then(|rest| rest.split(' ').next())
                else {
                    let _ = client.write_all(b"HTTP/1.1 405 CONNECT only\r\n\r\n").await;
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    return;
                };
                tunnels.fetch_add(1, Ordering::SeqCst);
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (url, tunnels)
}

fn builder(issuer: &str) -> OidcConfigBuilder {
    OidcConfig::builder()
        .with_issuer(issuer)
        .with_client_id("app")
        .with_client_secret("app-secret-0123456789")
        .with_base_url("http://127.0.0.1:3999")
        .with_cookie_key("2yZ3pBv0xJ5x8QmT1kq7WcN4rL6sHdGfA9eUoVbYiPM=")
        .with_http_timeout(Duration::from_secs(3))
}

/// A browser without a session asks for `/`: the status and `Location`.
async fn navigate(config: OidcConfig) -> (StatusCode, String) {
    let app = Router::new()
        .route(
            "/",
            get(|me: Identity| async move { me.subject().to_owned() }),
        )
        .layer(OidcLayer::new(config));
    let res = app
        .oneshot(
            Request::get("/")
                .header(header::ACCEPT, "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status(), location)
}

#[tokio::test]
async fn a_provider_signed_by_a_private_ca_is_reached_only_with_that_ca() {
    let (ca_pem, tls) = private_ca();
    let (issuer, hits) = tls_provider(tls).await;

    let (status, _) = navigate(builder(&issuer).build().unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the handshake must fail");

    let config = builder(&issuer)
        .with_extra_root_certificate_pem(&ca_pem)
        .build()
        .unwrap();
    let (status, location) = navigate(config).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        location.starts_with(&format!("{issuer}/authorize?")),
        "{location}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_https_proxy_carries_the_requests_to_the_provider() {
    let (ca_pem, tls) = private_ca();
    let (issuer, hits) = tls_provider(tls).await;
    let (proxy, tunnels) = connect_proxy().await;
    let config = builder(&issuer)
        .with_extra_root_certificate_pem(&ca_pem)
        .with_https_proxy(&proxy)
        .build()
        .unwrap();
    let (status, location) = navigate(config).await;
    assert_eq!(status, StatusCode::FOUND, "{location}");
    assert_eq!(tunnels.load(Ordering::SeqCst), 1);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_malformed_pem_or_proxy_url_is_a_startup_error_naming_the_setting() {
    let err = builder("https://id.example.com")
        .with_extra_root_certificate_pem(
            "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n",
        )
        .with_https_proxy("socks5://user:s3cret@proxy:1080")
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("with_extra_root_certificate_pem"), "{text}");
    assert!(text.contains("with_https_proxy"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}
