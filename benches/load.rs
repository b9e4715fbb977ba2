//! Load test: many signed-in clients hold the app behind the layer busy for 30 s, then the
//! same load hits the bare app, and the two are compared.
//!
//! ```text
//! scripts/load.sh               # installs wrk if needed, then runs this
//! cargo bench --bench load      # needs `wrk` on PATH
//! ```
//!
//! Two HTTP servers run in this process on 127.0.0.1 (tokio, one worker per core): the app
//! behind [`OidcLayer`] and the same app without it. `wrk` (a separate process) sends
//! `GET /api/me` over keep-alive connections; every request carries the session cookie of one
//! of `LOAD_CLIENTS` distinct users, in turn, so the layer decodes a different session each
//! time. The sessions are minted by [`OidcLayer::session_cookie`], the same cookie a login
//! issues. The handler answers 200 only when it got an [`Identity`], so a session that was
//! not accepted would show as a non-2xx response, which fails the run.
//!
//! Settings (environment): `LOAD_SECS` (30), `LOAD_CONNECTIONS` (64), `LOAD_THREADS` (2, wrk's
//! threads), `LOAD_CLIENTS` (256). The report goes to stdout and `target/load/report.md`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tower_oidc::{Identity, OidcConfig, OidcLayer, PgRole};

const ISSUER: &str = "https://idp.example.com";

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
    p90: u64,
    p99: u64,
    p999: u64,
    max: u64,
}

impl Run {
    fn rps(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }
    fn errors(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }
}

fn layer() -> OidcLayer {
    OidcLayer::new(
        OidcConfig::builder()
            .with_issuer(ISSUER)
            .with_client_id("load")
            .with_client_secret("load-secret")
            .with_base_url("http://127.0.0.1:8080")
            .with_cookie_key("load-cookie-key-0123456789abcdef0123456789")
            .build()
            .expect("load test configuration"),
    )
}

/// The `Cookie` header values of `n` distinct signed-in users, shaped like real ones.
fn cookies(layer: &OidcLayer, n: u64) -> Vec<String> {
    let reader = PgRole::new("app_reader").unwrap();
    (0..n)
        .map(|i| {
            let who = Identity::builder(ISSUER, format!("user-{i:06}"))
                .email(format!("user{i}@example.com"), true)
                .name(format!("User {i}"))
                .preferred_username(format!("user{i}"))
                .groups(["readers", "staff", "finance-emea"])
                .role(reader.clone())
                .build();
            format!("theme=dark; {}", layer.session_cookie(&who))
        })
        .collect()
}

async fn me(identity: Identity) -> String {
    identity.subject().to_owned()
}

async fn bare() -> String {
    "user-000000".to_owned()
}

/// Serves `app` on a free loopback port in the background; returns its origin.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// The wrk script: requests rotate through the users' cookies; every non-2xx is counted.
fn lua(cookies: &[String]) -> String {
    let mut s = String::from("local cookies = {\n");
    for c in cookies {
        writeln!(s, "  {c:?},").unwrap();
    }
    s.push_str(
        r#"}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  non2xx = 0
  reqs = {}
  for i, c in ipairs(cookies) do
    reqs[i] = wrk.format("GET", "/api/me", { ["Cookie"] = c, ["Accept"] = "application/json" })
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
    'LOADJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
"#,
    );
    s
}

fn wrk(script: &PathBuf, origin: &str, secs: u64, conns: u64, threads: u64) -> Run {
    let out = Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &conns.to_string()])
        .args(["-d", &format!("{secs}s"), "--timeout", "5s", "-s"])
        .arg(script)
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

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn main() -> ExitCode {
    let secs = setting("LOAD_SECS", 30);
    let conns = setting("LOAD_CONNECTIONS", 64);
    let threads = setting("LOAD_THREADS", 2);
    let clients = setting("LOAD_CLIENTS", 256).max(1);
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wrk is not installed: run scripts/load.sh (it installs Debian's wrk), or `apt-get install wrk`");
        return ExitCode::from(2);
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let layer = layer();
    let cookies = cookies(&layer, clients);
    let (layered, plain) = rt.block_on(async {
        let layered = serve(Router::new().route("/api/me", get(me)).layer(layer)).await;
        let plain = serve(Router::new().route("/api/me", get(bare))).await;
        (layered, plain)
    });

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/load");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("clients.lua");
    std::fs::write(&script, lua(&cookies)).unwrap();

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "load: {clients} signed-in users over {conns} connections, wrk {threads} threads, \
         {secs} s per app, {cores} cores shared by wrk and the server"
    );
    let mut runs = Vec::new();
    for (name, origin) in [("bare app", &plain), ("behind tower-oidc", &layered)] {
        // A short warm-up, not reported, so both runs start with warm connections and caches.
        wrk(&script, origin, 3, conns, threads);
        let run = wrk(&script, origin, secs, conns, threads);
        println!("{name}: {run:?}");
        runs.push((name, run));
    }

    let mut report = String::from(
        "| app | requests/s | p50 | p90 | p99 | p99.9 | max | requests | non-2xx | socket errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (name, r) in &runs {
        writeln!(
            report,
            "| {name} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.rps(),
            ms(r.p50),
            ms(r.p90),
            ms(r.p99),
            ms(r.p999),
            ms(r.max),
            r.requests,
            r.non2xx,
            r.errors()
        )
        .unwrap();
    }
    let (bare_run, layered_run) = (&runs[0].1, &runs[1].1);
    writeln!(
        report,
        "\nThroughput behind the layer: {:.2} of the bare app's ({:.0} vs {:.0} requests/s); \
         p99 {} vs {}.",
        layered_run.rps() / bare_run.rps(),
        layered_run.rps(),
        bare_run.rps(),
        ms(layered_run.p99),
        ms(bare_run.p99),
    )
    .unwrap();
    println!("\n{report}");
    std::fs::write(dir.join("report.md"), &report).unwrap();

    let failed = runs.iter().any(|(_, r)| r.non2xx > 0 || r.errors() > 0);
    if failed {
        eprintln!("FAILED: non-2xx responses or socket errors under load");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
