//! The quickstart: an axum app behind OpenID Connect single sign-on, in one command.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! With no variables set, a built-in development identity provider runs beside the app (at
//! `{BASE_URL}/dev-idp`) with three test users: open <http://127.0.0.1:3000/> and pick one.
//! It signs anyone in without a password, so it never starts by mistake: when a provider
//! variable is set (`OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`, any `OIDC_PROVIDER_N_*`) but no
//! issuer, or when `BASE_URL` is not a loopback address (127.0.0.1, [::1], localhost), the
//! quickstart exits with a message naming what is missing instead.
//!
//! With `OIDC_ISSUER_URL`, `OIDC_CLIENT_ID` and `OIDC_CLIENT_SECRET` set (or the numbered
//! `OIDC_PROVIDER_N_*` ones), the app signs in against those providers instead; the banner
//! prints the redirect URI to register at each.
//! The other `OIDC_*` variables (scope, claims, `OIDC_COOKIE_KEY`, ...) apply as documented;
//! an https `BASE_URL` needs `OIDC_COOKIE_KEY` (`openssl rand -base64 32`).
//!
//! The role map and access rules come from `examples/quickstart.toml` (alice gets the role
//! `app_admin` and is an administrator, bob gets `app_reader`, mallory has no role and is
//! refused with 403), or from the file named by `OIDC_CONFIG_FILE`.
//!
//! The app listens on the host and port of `BASE_URL` (default `http://127.0.0.1:3000`), or on
//! `LISTEN_ADDR` (such as `127.0.0.1:3001`) when set: replicas behind one public origin run side
//! by side that way. `OIDC_SESSION_STORE` (`cookie`, `memory`, or a `redis://` URL with the
//! feature `redis`) chooses where sessions live, with either provider.
//!
//! Routes:
//! - `GET /`: protected HTML page showing who you are and your PostgreSQL role;
//! - `GET /api/me`: the same as JSON (`subject, issuer, email, name, groups, role, admin,
//!   provider`; a script without a session gets 401, not a redirect);
//! - `GET /public`: open to everyone, says whether you are signed in;
//! - `POST /sign-out-everywhere`: ends every session of the signed-in user, in every browser
//!   and replica (with the cookie store: in this process only), then sends the browser to
//!   `/public`;
//! - `GET /metrics`: the layer's metrics in the Prometheus text format (logins, failures,
//!   logouts, provider calls, cached sessions), open, beside the layer: in production serve
//!   them where only the scraper reaches;
//! - `/auth/callback`, `/auth/login`, `/auth/logout`: handled by the layer.
//!
//! Every sign-in, failed sign-in, refusal and sign-out is logged by the audit sink
//! (`TracingAuditSink`, target `tower_oidc::audit`) with the client's address: the app is
//! served with connect info, as the login rate limit and the audit trail need.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::{json, Value};
use tower_oidc::{escape_html, Identity, OidcConfig, OidcLayer, TracingAuditSink};
use tower_oidc_dev_idp::{DevClient, DevIdp};
use tracing_subscriber::EnvFilter;
use url::Url;

const DEFAULT_BASE_URL: &str = "http://127.0.0.1:3000";
/// Where the development IdP is nested in the app.
const DEV_IDP_PATH: &str = "/dev-idp";
/// The role map used when `OIDC_CONFIG_FILE` is not set.
const QUICKSTART_TOML: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart.toml");

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    // Variables meant for tower-oidc that it does not read: a misspelt OIDC_ISSUER_URL would
    // otherwise start the development IdP without a word.
    let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
    for unused in OidcConfig::unused_variables(names) {
        if unused.is_ignored_on_purpose() {
            tracing::info!("{unused}");
        } else {
            tracing::warn!("{unused}");
        }
    }

    // The metrics recorder, rendered by the `/metrics` route (no listener of its own).
    let metrics = match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => handle,
        Err(err) => {
            eprintln!("cannot install the metrics recorder: {err}");
            return ExitCode::FAILURE;
        }
    };

    let var = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
    let base_url = var("BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let base_url = base_url.trim().trim_end_matches('/').to_owned();
    let listen = match var("LISTEN_ADDR").map_or_else(|| listen_address(&base_url), Ok) {
        Ok(addr) => addr.trim().to_owned(),
        Err(why) => {
            eprintln!("BASE_URL `{base_url}` {why}; use an origin such as {DEFAULT_BASE_URL}");
            return ExitCode::from(2);
        }
    };

    // The app's own routes. The layer protects all of them except `/public`.
    let app = Router::new()
        .route("/", get(home))
        .route("/public", get(public));

    let config_file = var("OIDC_CONFIG_FILE").unwrap_or_else(|| QUICKSTART_TOML.to_owned());
    let set: Vec<String> = std::env::vars_os()
        .filter_map(|(key, _)| key.into_string().ok())
        .filter(|key| var(key).is_some())
        .collect();
    let own_provider = set.iter().any(|key| {
        matches!(key.as_str(), "OIDC_ISSUER_URL" | "OIDC_ISSUER")
            || numbered(key).is_some_and(|(_, suffix)| suffix == "ISSUER")
    });
    if !own_provider {
        // The development IdP lets anyone in: start it only when nothing points elsewhere.
        if let Err(why) = dev_idp_allowed(&set, &base_url) {
            eprintln!("The built-in development IdP was not started:\n{why}");
            return ExitCode::from(2);
        }
    }
    let (app, banner) = if own_provider {
        // Your provider: everything comes from the environment, BASE_URL and the role map file
        // defaulted.
        let config = OidcConfig::builder_from_lookup(|key| match key {
            "BASE_URL" => Some(base_url.clone()),
            "OIDC_CONFIG_FILE" => Some(config_file.clone()),
            _ => var(key),
        })
        .add_public_path("/public")
        .with_audit_sink(TracingAuditSink);
        let config = match config.build() {
            Ok(config) => config,
            Err(err) => return config_error(&err),
        };
        let providers = config
            .providers()
            .map(|p| {
                format!(
                    "  Identity provider `{}`: {}\n    Redirect URI to register there: {}",
                    p.slug(),
                    p.issuer(),
                    p.redirect_uri()
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let banner = format!("{providers}\n\n  Open {base_url}/ and sign in.");
        let layer = OidcLayer::new(config);
        (
            with_layer_routes(app, &base_url, &layer).layer(layer),
            banner,
        )
    } else {
        // The built-in development IdP, nested in this same app under /dev-idp.
        let issuer = format!("{base_url}{DEV_IDP_PATH}");
        let client_secret = random_base64(32);
        let post_logout = format!("{base_url}/public");
        let config = OidcConfig::builder()
            .with_config_file(&config_file)
            .with_issuer(&issuer)
            .with_client_id("quickstart")
            .with_client_secret(&client_secret)
            .with_base_url(&base_url)
            .with_provider_name("Development IdP")
            .with_provider_slug("dev-idp")
            // Sessions only need to live as long as this process: a fresh key for each run,
            // instead of the warning about a missing OIDC_COOKIE_KEY.
            .allow_random_cookie_key(true)
            .add_public_path("/public")
            .with_audit_sink(TracingAuditSink)
            .with_post_logout_redirect_uri(&post_logout);
        let config = match var("OIDC_SESSION_STORE") {
            Some(store) => config.with_session_store(store),
            None => config,
        };
        let config = match config.build() {
            Ok(config) => config,
            Err(err) => return config_error(&err),
        };
        let idp = DevIdp::new(&issuer)
            .with_client(
                DevClient::new("quickstart", client_secret)
                    .add_redirect_uri(config.redirect_uri())
                    .add_post_logout_redirect_uri(&post_logout),
            )
            .with_default_users();
        let users = idp
            .users()
            .iter()
            .map(|u| {
                let groups = if u.groups.is_empty() {
                    "no groups".to_owned()
                } else {
                    u.groups.join(", ")
                };
                let unverified = if u.email_verified {
                    ""
                } else {
                    ", email not verified"
                };
                let outcome = match config.role_map() {
                    None => "signs in".to_owned(),
                    Some(map) => match map.resolve_groups(u.groups.iter().map(String::as_str)) {
                        Some(role) => format!("role {role}"),
                        None => "no role: refused with 403".to_owned(),
                    },
                };
                format!("    {:<8} ({groups}{unverified}) -> {outcome}", u.subject)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let banner = format!(
            "  Identity provider: the built-in development IdP at {issuer} (for development only)\n\
             \x20 Redirect URI: {redirect}\n\
             \x20 Test users:\n{users}\n\n\
             \x20 Open {base_url}/ and pick a test user.\n\n\
             \x20 To use your own provider, set OIDC_ISSUER_URL, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET\n\
             \x20 and register the redirect URI above there.",
            redirect = config.redirect_uri(),
        );
        // The IdP's routes are added after the layer, so they are not behind it.
        let layer = OidcLayer::new(config);
        (
            with_layer_routes(app, &base_url, &layer)
                .layer(layer)
                .nest(DEV_IDP_PATH, idp.router()),
            banner,
        )
    };

    // Added after the layer, like the IdP's routes: not behind it.
    let app = app.route("/metrics", get(move || render(metrics.clone())));

    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on {listen} (from BASE_URL {base_url}): {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("\ntower-oidc quickstart, listening on {listen}\n\n{banner}\n");

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // With connect info: the client's address for the login rate limit and the audit trail.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("server error: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// `GET /metrics`: the recorder's metrics in the Prometheus text format.
async fn render(metrics: PrometheusHandle) -> String {
    metrics.run_upkeep();
    metrics.render()
}

/// `GET /`: who you are. Protected: without a session, a browser is sent to sign in.
async fn home(identity: Identity) -> Html<String> {
    let who = identity
        .name()
        .or(identity.preferred_username())
        .unwrap_or(identity.subject());
    let email = match identity.email() {
        Some(email) if identity.email_verified() => format!("{} (verified)", escape_html(email)),
        Some(email) => format!("{} (<strong>not verified</strong>)", escape_html(email)),
        None => "<em>none</em>".to_owned(),
    };
    let groups = if identity.groups().is_empty() {
        "<em>none</em>".to_owned()
    } else {
        identity
            .groups()
            .iter()
            .map(|g| format!("<code>{}</code>", escape_html(g)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rows = [
        (
            "Subject",
            format!("<code>{}</code>", escape_html(identity.subject())),
        ),
        (
            "Issuer",
            format!("<code>{}</code>", escape_html(identity.issuer())),
        ),
        (
            "Username",
            identity
                .preferred_username()
                .map_or("<em>none</em>".to_owned(), escape_html),
        ),
        ("Email", email),
        ("Groups", groups),
        (
            "PostgreSQL role",
            identity.role().map_or("<em>none</em>".to_owned(), |r| {
                format!("<code>{}</code>", escape_html(r.as_str()))
            }),
        ),
        (
            "Administrator",
            if identity.is_admin() { "yes" } else { "no" }.to_owned(),
        ),
        (
            "Provider",
            format!("<code>{}</code>", escape_html(identity.provider())),
        ),
    ]
    .iter()
    .map(|(k, v)| format!("<tr><th>{k}</th><td>{v}</td></tr>"))
    .collect::<String>();
    Html(page(
        "Signed in",
        &format!(
            "<h1>Signed in as {who}</h1><table>{rows}</table>\
             <p><a href=\"/api/me\">/api/me</a> (the same as JSON) · <a href=\"/public\">/public</a> (open to everyone) · \
             <a href=\"/auth/logout\">Sign out</a></p>\
             <form method=\"post\" action=\"/sign-out-everywhere\"><button>Sign out everywhere</button> \
             (every browser; every replica with a server-side <code>OIDC_SESSION_STORE</code>)</form>",
            who = escape_html(who),
        ),
    ))
}

/// The routes that ask the layer itself: `/api/me` (the user's sessions) and
/// `/sign-out-everywhere`.
fn with_layer_routes(app: Router, base_url: &str, layer: &OidcLayer) -> Router {
    let (for_me, for_everywhere) = (layer.clone(), layer.clone());
    let origin =
        Url::parse(base_url).map_or_else(|_| String::new(), |u| u.origin().ascii_serialization());
    app.route("/api/me", get(move |identity| me(for_me, identity)))
        .route(
            "/sign-out-everywhere",
            post(move |identity, headers| {
                sign_out_everywhere(for_everywhere, origin, identity, headers)
            }),
        )
}

/// `POST /sign-out-everywhere`: ends every session of the signed-in user (every browser, every
/// replica), then back to `/public`. Only from this app's own pages: a cross-site form may not
/// sign anyone out.
async fn sign_out_everywhere(
    layer: OidcLayer,
    origin: String,
    identity: Identity,
    headers: HeaderMap,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let same_site = match (header("sec-fetch-site"), header("origin")) {
        (Some(site), _) => site == "same-origin",
        (None, Some(from)) => from == origin,
        (None, None) => true,
    };
    if !same_site {
        return (
            StatusCode::FORBIDDEN,
            "cross-site requests may not sign anyone out",
        )
            .into_response();
    }
    match layer
        .end_sessions_of(identity.issuer(), identity.subject())
        .await
    {
        Ok(_) => Redirect::to("/public").into_response(),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, err.to_string()).into_response(),
    }
}

/// `GET /api/me`: who you are, as JSON, with how many sessions you have (`null` with the cookie
/// store, which cannot tell). Protected: without a session, 401.
async fn me(layer: OidcLayer, identity: Identity) -> Json<Value> {
    let sessions = layer
        .sessions_of(identity.issuer(), identity.subject())
        .await
        .ok()
        .map(|s| s.len());
    Json(json!({
        "sessions": sessions,
        "subject": identity.subject(),
        "issuer": identity.issuer(),
        "email": identity.email(),
        "email_verified": identity.email_verified(),
        "name": identity.name(),
        "preferred_username": identity.preferred_username(),
        "groups": identity.groups(),
        "role": identity.role().map(|r| r.as_str()),
        "admin": identity.is_admin(),
        "provider": identity.provider(),
    }))
}

/// `GET /public`: open to everyone; the identity is there when the visitor is signed in.
async fn public(identity: Option<Identity>) -> Html<String> {
    let status = match &identity {
        Some(identity) => {
            let who = identity
                .name()
                .or(identity.preferred_username())
                .unwrap_or(identity.subject());
            format!(
                "<p>You are signed in as <strong>{}</strong>. <a href=\"/\">Your page</a> · \
                 <a href=\"/auth/logout\">Sign out</a></p>",
                escape_html(who)
            )
        }
        None => {
            "<p>You are not signed in. <a href=\"/\">Sign in</a> to see the protected page.</p>"
                .to_owned()
        }
    };
    Html(page(
        "Public page",
        &format!("<h1>Public page</h1><p>Anyone can see this page.</p>{status}"),
    ))
}

fn page(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1d2330}}\
         th{{text-align:left;padding:.3rem 1rem .3rem 0;color:#555;font-weight:600}}td{{padding:.3rem 0}}\
         code{{background:#f1f2f4;padding:0 .25rem;border-radius:4px}}</style></head>\
         <body>{content}</body></html>",
        title = escape_html(title),
    )
}

/// `OIDC_PROVIDER_{N}_{SUFFIX}`: its number and suffix.
fn numbered(key: &str) -> Option<(&str, &str)> {
    let (n, suffix) = key.strip_prefix("OIDC_PROVIDER_")?.split_once('_')?;
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some((n, suffix))
}

/// Whether the development IdP may start, with no issuer configured: no provider variable
/// is set (`set` holds the names of the non-empty variables), and BASE_URL is a loopback
/// address. The error names what is missing.
fn dev_idp_allowed(set: &[String], base_url: &str) -> Result<(), String> {
    let mut provider_vars: Vec<&str> = set
        .iter()
        .map(String::as_str)
        .filter(|k| matches!(*k, "OIDC_CLIENT_ID" | "OIDC_CLIENT_SECRET") || numbered(k).is_some())
        .collect();
    provider_vars.sort_unstable();
    if !provider_vars.is_empty() {
        let mut numbers: Vec<u64> = provider_vars
            .iter()
            .filter_map(|k| numbered(k)?.0.parse().ok())
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        let missing = if numbers.is_empty() {
            "OIDC_ISSUER_URL".to_owned()
        } else {
            numbers
                .iter()
                .map(|n| format!("OIDC_PROVIDER_{n}_ISSUER"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "  {} set, but no issuer: set {missing} to your provider's issuer to sign in there,\n\
             \x20 or unset {} to try the development IdP.",
            if provider_vars.len() == 1 {
                format!("{} is", provider_vars[0])
            } else {
                format!("{} are", provider_vars.join(", "))
            },
            provider_vars.join(", "),
        ));
    }
    let loopback = Url::parse(base_url)
        .ok()
        .is_some_and(|url| match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        });
    if !loopback {
        return Err(format!(
            "  BASE_URL `{base_url}` is not a loopback address, and the development IdP signs anyone in\n\
             \x20 without a password: it runs only on 127.0.0.1, [::1] or localhost (e.g. {DEFAULT_BASE_URL}).\n\
             \x20 To serve other addresses, set OIDC_ISSUER_URL, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET for your provider."
        ));
    }
    Ok(())
}

/// The `host:port` of BASE_URL, to listen on.
fn listen_address(base_url: &str) -> Result<String, &'static str> {
    let url = Url::parse(base_url).map_err(|_| "is not an absolute URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL");
    }
    let host = url.host_str().ok_or("has no host")?;
    let port = url.port_or_known_default().ok_or("has no port")?;
    Ok(format!("{host}:{port}"))
}

/// `n` random bytes, base64-encoded.
fn random_base64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes)
        .expect("the operating system's random number generator failed");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn config_error(err: &tower_oidc::ConfigError) -> ExitCode {
    eprintln!("The configuration is not usable:\n{err}");
    ExitCode::from(2)
}
