//! Pinned load test: the app behind [`OidcLayer`] against the bare app, the way a user deploys
//! them, in interleaved rounds.
//!
//! ```text
//! scripts/load.sh               # installs wrk if needed, then runs this
//! cargo bench --bench load      # needs `wrk` and `taskset` on PATH
//! ```
//!
//! The method:
//!
//! - **One server process pinned to one core** (`taskset -c LOAD_SERVER_CPU`), a tokio runtime
//!   with one worker thread, serving five apps on 127.0.0.1 with the **same handler** (a small
//!   fixed JSON body): the bare app; the app with [`OidcLayer`] applied by `Router::layer`, as
//!   the README shows; the layer around the whole router (`OidcLayer::layer(router)`), which
//!   spares axum's per-route boxing; the bearer app (below); and the app behind
//!   `Router::layer` with a server-side session store (`LOAD_SESSION_STORE`: `memory`, the
//!   default, or a `redis://` URL with the feature `redis`), whose users' cookies hold only
//!   their session's id: it is compared with the cookie store's `Router::layer` app.
//! - **`wrk -t1 -c32` pinned to another core** (`taskset -c LOAD_CLIENT_CPU`), sending
//!   `GET /api/me` over keep-alive connections. Every request carries the `Cookie` header of
//!   one of `LOAD_CLIENTS` signed-in users, in turn, and **every app gets the same headers**:
//!   the bare app parses nothing, the layer finds its session each time. The sessions are
//!   minted by [`OidcLayer::session_cookie`], the cookie a login issues; a session the layer
//!   did not accept would be a 401, which fails the run.
//! - **Bearer tokens**: a fourth app, the same router behind an [`OidcLayer`] with an API
//!   audience, gets `Authorization: Bearer` JWT access tokens (RS256, `typ` `at+jwt`, signed by
//!   this process with the test key; the server process serves the matching discovery document
//!   and JWKS on 127.0.0.1), one of `LOAD_CLIENTS` tokens in turn; the bare app gets the same
//!   headers for its baseline. Each token is verified once (first seen), then found in the
//!   cache of verified tokens; a refused token would be a 401, which fails the run.
//! - **`LOAD_ROUNDS` interleaved rounds**, each app run for `LOAD_SECS` per round, each round
//!   starting with the next app so that drift of the machine falls on all of them. Each
//!   round's ratio (layered requests/s ÷ bare requests/s of the same round) is reported, with
//!   the median and the range.
//! - The run fails on any non-2xx response or socket error.
//!
//! On a machine with one core the run cannot be pinned; the report then says UNPINNED.
//!
//! Settings (environment): `LOAD_ROUNDS` (10), `LOAD_SECS` (10), `LOAD_CONNECTIONS` (32),
//! `LOAD_THREADS` (1, wrk's threads), `LOAD_CLIENTS` (256), `LOAD_SERVER_CPU` (0),
//! `LOAD_CLIENT_CPU` (1), `LOAD_SESSION_STORE` (`memory`). The report goes to stdout and
//! `target/load/report.md`.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Router, ServiceExt};
use serde::Deserialize;
use tower::Layer as _;
use tower_oidc::{Identity, OidcConfig, OidcLayer, PgRole};

const ISSUER: &str = "https://idp.example.com";
/// The argument that makes this binary the server process.
const SERVE: &str = "--load-server";
/// The bare app, the app behind `Router::layer`, the app with the layer around the router, the
/// app behind a layer that takes bearer tokens (`Router::layer`), and the app behind
/// `Router::layer` with a server-side store.
const APPS: usize = 5;
/// The API audience of the bearer app's tokens.
const API: &str = "https://api.example.com";
/// The signing key of the bearer app's tokens (the tests' RSA key).
const TOKEN_KEY: &[u8] = include_bytes!("../tests/fixtures/rsa1.pem");

fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("{name} must be a whole number, not `{v}`");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

/// What the Lua script's `done` prints on a `LOADJSON` line.
#[derive(Debug, Deserialize)]
struct Run {
    requests: u64,
    duration_us: u64,
    non2xx: u64,
    connect: u64,
    read: u64,
    write: u64,
    timeout: u64,
    p50: u64,
    p99: u64,
}

impl Run {
    fn rps(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }
    fn errors(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }
}

/// The settings of every app's layer.
fn config() -> tower_oidc::OidcConfigBuilder {
    OidcConfig::builder()
        .with_issuer(ISSUER)
        .with_client_id("load")
        .with_client_secret("load-secret")
        .with_base_url("http://127.0.0.1:8080")
        .with_cookie_key("ocWVgu8vTVHiX7bH9eyA5AgC4sL4PRr4/BxCfFn7o1c=")
}

/// The layer both processes build: the server to check sessions, this process to mint them.
fn layer() -> OidcLayer {
    OidcLayer::new(config().build().expect("load test configuration"))
}

/// The layer of the store app: [`layer`]'s settings with `LOAD_SESSION_STORE`.
fn store_layer() -> OidcLayer {
    let store = std::env::var("LOAD_SESSION_STORE").unwrap_or_else(|_| "memory".into());
    OidcLayer::new(
        config()
            .with_session_store(store)
            .build()
            .expect("load test configuration (LOAD_SESSION_STORE)"),
    )
}

/// User `i`, shaped like a real one.
fn user(i: u64) -> Identity {
    Identity::builder(ISSUER, format!("user-{i:06}"))
        .email(format!("user{i}@example.com"), true)
        .name(format!("User {i}"))
        .preferred_username(format!("user{i}"))
        .groups(["readers", "staff", "finance-emea"])
        .role(PgRole::new("app_reader").unwrap())
        .build()
}

/// The `Cookie` header values of `n` distinct signed-in users.
fn cookies(layer: &OidcLayer, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| format!("theme=dark; {}", layer.session_cookie(&user(i))))
        .collect()
}

/// The bearer app's layer: tokens for [`API`] from the provider at `issuer`.
fn bearer_layer(issuer: &str) -> OidcLayer {
    OidcLayer::new(
        OidcConfig::builder()
            .with_issuer(issuer)
            .with_client_id("load")
            .with_client_secret("load-secret")
            .with_base_url("http://127.0.0.1:8080")
            .with_cookie_key("ocWVgu8vTVHiX7bH9eyA5AgC4sL4PRr4/BxCfFn7o1c=")
            .with_api_audience(API)
            .build()
            .expect("load test bearer configuration"),
    )
}

/// The provider of the bearer app, on 127.0.0.1: its discovery document and the JWKS with the
/// public half of [`TOKEN_KEY`]. Returns its issuer.
async fn provider() -> String {
    use jsonwebtoken::{jwk::Jwk, Algorithm, EncodingKey};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let key = EncodingKey::from_rsa_pem(TOKEN_KEY).unwrap();
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap()).unwrap();
    jwk["kid"] = serde_json::json!("load");
    jwk["use"] = serde_json::json!("sig");
    let jwks = serde_json::json!({ "keys": [jwk] });
    let doc = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
    });
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(doc) }),
        )
        .route("/jwks", get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

/// The `Authorization` header values of `n` distinct access tokens from `issuer` for [`API`],
/// shaped like a login's (the user's claims, `scope`, `client_id`), valid for a day.
fn tokens(issuer: &str, n: u64) -> Vec<String> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let key = EncodingKey::from_rsa_pem(TOKEN_KEY).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("load".into());
    (0..n)
        .map(|i| {
            let claims = serde_json::json!({
                "iss": issuer, "sub": format!("user-{i:06}"), "aud": API, "iat": now,
                "exp": now + 86_400, "client_id": "spa", "scope": "openid reports:read",
                "jti": format!("load-{i}"), "email": format!("user{i}@example.com"),
                "email_verified": true, "name": format!("User {i}"),
                "groups": ["readers", "staff", "finance-emea"],
            });
            let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
            format!("Bearer {token}")
        })
        .collect()
}

/// The one handler of both apps: a small fixed JSON body.
async fn handler() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok","items":[1,2,3]}"#,
    )
}

/// The server process: both apps on one single-worker runtime; prints their ports, then
/// serves until it is killed.
fn serve() -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let app = || Router::new().route("/api/me", get(handler));
        // The store app's sessions live in this process's store (or Redis): made here, their
        // cookies printed for the wrk script.
        let stored = store_layer();
        for i in 0..setting("LOAD_CLIENTS", 256).max(1) {
            println!(
                "STORE theme=dark; {}",
                stored.stored_session_cookie(&user(i)).await
            );
        }
        let bare = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let layered = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let outer_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bearer_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let store_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = provider().await;
        println!(
            "PORTS {} {} {} {} {} {issuer}",
            bare.local_addr().unwrap().port(),
            layered.local_addr().unwrap().port(),
            outer_listener.local_addr().unwrap().port(),
            bearer_listener.local_addr().unwrap().port(),
            store_listener.local_addr().unwrap().port(),
        );
        let bare = axum::serve(bare, app());
        let layered = axum::serve(layered, app().layer(layer()));
        let outer = tower::ServiceExt::<axum::extract::Request>::map_response(
            layer().layer(app()),
            IntoResponse::into_response,
        );
        let outer = axum::serve(
            outer_listener,
            ServiceExt::<axum::extract::Request>::into_make_service(outer),
        );
        let bearer = axum::serve(bearer_listener, app().layer(bearer_layer(&issuer)));
        let store = axum::serve(store_listener, app().layer(stored));
        let (a, b, c, d, e) = tokio::join!(bare, layered, outer, bearer, store);
        a.and(b).and(c).and(d).and(e).unwrap();
    });
    ExitCode::SUCCESS
}

/// What the server process printed: the origins of the bare app, the app behind
/// `Router::layer`, the app with the layer around the router, the bearer app and the store
/// app; the bearer app's issuer; the store app's cookies.
struct Served {
    origins: [String; APPS],
    issuer: String,
    stored: Vec<String>,
}

/// Starts the server process (pinned to `cpu` when given); returns it and what it printed.
fn start_server(cpu: Option<u64>) -> (Child, Served) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string()]).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let mut child = cmd
        .arg(SERVE)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stored = Vec::new();
    loop {
        line.clear();
        stdout.read_line(&mut line).unwrap();
        match line.trim_end().strip_prefix("STORE ") {
            Some(cookie) => stored.push(cookie.to_owned()),
            None => break,
        }
    }
    let ports: Vec<&str> = line
        .strip_prefix("PORTS ")
        .unwrap_or_else(|| panic!("the server printed `{line}`, not its ports"))
        .split_whitespace()
        .collect();
    assert_eq!(ports.len(), APPS + 1, "the server printed `{line}`");
    let served = Served {
        origins: std::array::from_fn(|i| format!("http://127.0.0.1:{}", ports[i])),
        issuer: ports[APPS].to_owned(),
        stored,
    };
    (child, served)
}

/// The wrk script: requests rotate through `values` of the `header` (the users' cookies, or
/// their bearer tokens); every non-2xx is counted.
fn lua(header: &str, values: &[String]) -> String {
    let mut s = String::from("local values = {\n");
    for c in values {
        writeln!(s, "  {c:?},").unwrap();
    }
    s.push_str(
        r#"}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  non2xx = 0
  reqs = {}
  for i, c in ipairs(values) do
    reqs[i] = wrk.format("GET", "/api/me", { ["HEADER"] = c, ["Accept"] = "application/json" })
  end
  n = math.random(#reqs)
end
function request()
  n = n % #reqs + 1
  return reqs[n]
end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    'LOADJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50":%d,"p99":%d}\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"#
        .replace("HEADER", header)
        .as_str(),
    );
    s
}

/// How wrk is started: its threads, connections and core.
struct Wrk<'a> {
    script: &'a Path,
    threads: u64,
    conns: u64,
    cpu: Option<u64>,
}

impl Wrk<'_> {
    fn run(&self, origin: &str, secs: u64) -> Run {
        let mut cmd = match self.cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpu.to_string(), "wrk"]);
                c
            }
            None => Command::new("wrk"),
        };
        let out = cmd
            .args([
                "-t",
                &self.threads.to_string(),
                "-c",
                &self.conns.to_string(),
            ])
            .args(["-d", &format!("{secs}s"), "--timeout", "5s", "-s"])
            .arg(self.script)
            .arg(format!("{origin}/api/me"))
            .output()
            .expect("wrk is on PATH");
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
            std::process::exit(1);
        }
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("LOADJSON "))
            .unwrap_or_else(|| panic!("no LOADJSON line in wrk's output:\n{stdout}"));
        serde_json::from_str(line).unwrap()
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == SERVE) {
        return serve();
    }
    let rounds = setting("LOAD_ROUNDS", 10).max(1);
    let secs = setting("LOAD_SECS", 10);
    let conns = setting("LOAD_CONNECTIONS", 32);
    let threads = setting("LOAD_THREADS", 1);
    let clients = setting("LOAD_CLIENTS", 256).max(1);
    let server_cpu = setting("LOAD_SERVER_CPU", 0);
    let client_cpu = setting("LOAD_CLIENT_CPU", 1);
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wrk is not installed: run scripts/load.sh (it installs Debian's wrk), or `apt-get install wrk`");
        return ExitCode::from(2);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = cores >= 2 && Command::new("taskset").arg("-V").output().is_ok();
    let (server_cpu, client_cpu) = if pinned {
        (Some(server_cpu), Some(client_cpu))
    } else {
        (None, None)
    };

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/load");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("clients.lua");
    std::fs::write(&script, lua("Cookie", &cookies(&layer(), clients))).unwrap();
    let wrk = Wrk {
        script: &script,
        threads,
        conns,
        cpu: client_cpu,
    };

    let (mut server, served) = start_server(server_cpu);
    let Served {
        origins,
        issuer,
        stored,
    } = served;
    let store_script = dir.join("store-clients.lua");
    std::fs::write(&store_script, lua("Cookie", &stored)).unwrap();
    let store_wrk = Wrk {
        script: &store_script,
        ..wrk
    };
    let bearer_script = dir.join("bearer.lua");
    std::fs::write(
        &bearer_script,
        lua("Authorization", &tokens(&issuer, clients)),
    )
    .unwrap();
    let bearer_wrk = Wrk {
        script: &bearer_script,
        ..wrk
    };
    let placement = match (server_cpu, client_cpu) {
        (Some(s), Some(c)) => format!(
            "PINNED: server on core {s} (one tokio worker), wrk -t{threads} -c{conns} on core {c}"
        ),
        _ => format!(
            "UNPINNED ({cores} core(s)): server (one tokio worker) and wrk -t{threads} -c{conns} \
             share the cores, so the ratios understate the layer's cost"
        ),
    };
    println!(
        "load: {placement}; {clients} signed-in users' cookies sent to every app; \
         {rounds} interleaved rounds of {secs} s per app"
    );
    // A short warm-up of each app, not reported (the bearer app verifies its tokens then).
    for origin in &origins[..3] {
        wrk.run(origin, 2);
    }
    for origin in [&origins[0], &origins[3]] {
        bearer_wrk.run(origin, 2);
    }
    store_wrk.run(&origins[4], 2);

    let mut report = format!(
        "{placement}.\n\n\
         | round | bare requests/s | `Router::layer` requests/s | ratio | layer around the router requests/s | ratio | bare, Bearer headers, requests/s | bearer tokens requests/s | ratio | server-side store requests/s | vs `Router::layer` | p50 / p99 ms (bare, per route, around, bare with Bearer, bearer, store) |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    );
    let mut ratios = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let mut failed = false;
    for round in 1..=rounds {
        // Each round starts with another run, so drift of the machine falls on all of them:
        // the three apps with cookies, the bare and the bearer app with Bearer headers, and
        // the store app with its cookies.
        const RUNS: usize = APPS + 1;
        let mut runs: [Option<Run>; RUNS] = Default::default();
        for k in 0..RUNS {
            let run = (round as usize + k) % RUNS;
            runs[run] = Some(match run {
                0..=2 => wrk.run(&origins[run], secs),
                3 => bearer_wrk.run(&origins[0], secs),
                4 => bearer_wrk.run(&origins[3], secs),
                _ => store_wrk.run(&origins[4], secs),
            });
        }
        let [bare, per_route, around, bare_bearer, bearer, store] = runs.map(Option::unwrap);
        let all = [&bare, &per_route, &around, &bare_bearer, &bearer, &store];
        failed |= all.iter().any(|r| r.non2xx > 0 || r.errors() > 0);
        let r1 = per_route.rps() / bare.rps();
        let r2 = around.rps() / bare.rps();
        let r3 = bearer.rps() / bare_bearer.rps();
        let r4 = store.rps() / per_route.rps();
        ratios[0].push(r1);
        ratios[1].push(r2);
        ratios[2].push(r3);
        ratios[3].push(r4);
        let latencies: Vec<String> = all
            .iter()
            .map(|r| format!("{} / {}", ms(r.p50), ms(r.p99)))
            .collect();
        let row = format!(
            "| {round} | {:.0} | {:.0} | {r1:.3} | {:.0} | {r2:.3} | {:.0} | {:.0} | {r3:.3} | {:.0} | {r4:.3} | {} |",
            bare.rps(),
            per_route.rps(),
            around.rps(),
            bare_bearer.rps(),
            bearer.rps(),
            store.rps(),
            latencies.join(", ")
        );
        let non2xx: Vec<String> = all.iter().map(|r| r.non2xx.to_string()).collect();
        let errors: Vec<String> = all.iter().map(|r| r.errors().to_string()).collect();
        println!(
            "{row}   (non-2xx {}, socket errors {})",
            non2xx.join(" "),
            errors.join(" ")
        );
        writeln!(report, "{row}").unwrap();
    }
    let _ = server.kill();
    let _ = server.wait();

    let names = [
        ("behind `Router::layer`", "the bare app's"),
        ("with the layer around the router", "the bare app's"),
        (
            "with bearer tokens behind `Router::layer` (against the bare app with the same headers)",
            "the bare app's",
        ),
        (
            "with the server-side store behind `Router::layer`",
            "the cookie store's behind `Router::layer`",
        ),
    ];
    for ((name, of), ratios) in names.into_iter().zip(&mut ratios) {
        let (lo, hi) = ratios
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
        writeln!(
            report,
            "\nThroughput {name}: median **{:.3}×** {of} over {rounds} rounds \
             (range {lo:.3}–{hi:.3}).",
            median(ratios)
        )
        .unwrap();
    }
    println!("\n{report}");
    std::fs::write(dir.join("report.md"), &report).unwrap();

    if failed {
        eprintln!("FAILED: non-2xx responses or socket errors under load");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
