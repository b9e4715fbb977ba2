//! The live checks of one provider: what the layer will need from it at sign-in, asked of it
//! now, with the same HTTP client, discovery parser, JWKS parser and algorithm allowlist the
//! layer uses.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::report::{Check, Report, Status};
use crate::config::{OidcConfig, ProviderConfig, TokenAuthMethod};
use crate::jwt::ASYMMETRIC;
use crate::provider::discovery::{issuer_fix, issuer_mismatch_message, parse_metadata, Metadata};
use crate::provider::http::{read_limited, HttpClient};
use crate::provider::jwks::parse_jwks;
use crate::random::{login_secrets, sha256_b64};

/// A clock difference worth a warning even inside the leeway.
const SKEW_WARNING: Duration = Duration::from_secs(5);

/// The errors an authorization request with `prompt=none` is answered with when all is well
/// but the user must first sign in (OpenID Connect Core 3.1.2.6).
const PROMPT_NONE_ERRORS: [&str; 4] = [
    "login_required",
    "interaction_required",
    "consent_required",
    "account_selection_required",
];

/// Runs every check of `provider`, in the order sign-in needs them. When discovery fails, the
/// checks that need its document are skipped.
pub(super) async fn check(config: &OidcConfig, provider: &ProviderConfig, report: &mut Report) {
    let p = Checker {
        config,
        provider,
        slug: provider.slug.as_str(),
        http: HttpClient::new(config.http_timeout, &config.network),
    };
    let Some((raw, metadata)) = p.discovery(report).await else {
        return;
    };
    p.keys(&metadata, report).await;
    p.token_auth(&metadata, report);
    p.requirements(&metadata, report);
    p.scopes(&raw, report);
    p.groups_claim(&raw, report);
    p.logout(&metadata, &raw, report);
    p.iss_parameter(&metadata, report);
    p.redirect_uri(&metadata, report).await;
}

struct Checker<'a> {
    config: &'a OidcConfig,
    provider: &'a ProviderConfig,
    slug: &'a str,
    http: HttpClient,
}

impl Checker<'_> {
    fn check(&self, status: Status, topic: &'static str, message: impl Into<String>) -> Check {
        Check::new(status, Some(self.slug), topic, message)
    }

    fn key(&self, suffix: &str) -> String {
        self.provider.keys.key(suffix)
    }

    /// Discovery reachable, a valid document, the issuer exact; and the clock against the
    /// answer's `Date`.
    async fn discovery(&self, report: &mut Report) -> Option<(Value, Metadata)> {
        let issuer_key = self.key("ISSUER");
        let url = self.provider.issuer.discovery_url();
        let before = self.config.clock.now();
        let request = self
            .http
            .get_request(&url)
            .header(http::header::ACCEPT, "application/json");
        let response = match self.http.send(request, "discovery document").await {
            Ok(r) => r,
            Err(e) => {
                report.push(
                    self.check(Status::Error, "discovery", format!("{url}: {e}"))
                        .with_fix(format!(
                            "check {issuer_key} and that this machine reaches the provider (DNS, firewall, proxy)"
                        )),
                );
                return None;
            }
        };
        let status = response.status();
        let date = response
            .headers()
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        let body = match read_limited(response, "discovery document").await {
            Ok(b) if status.is_success() => b,
            Ok(_) => {
                report.push(
                    self.check(
                        Status::Error,
                        "discovery",
                        format!("{url} answered HTTP {}", status.as_u16()),
                    )
                    .with_fix(format!(
                        "set {issuer_key} to the provider's issuer: discovery is read from {{issuer}}/.well-known/openid-configuration"
                    )),
                );
                return None;
            }
            Err(e) => {
                report.push(self.check(Status::Error, "discovery", format!("{url}: {e}")));
                return None;
            }
        };
        report.push(self.check(Status::Ok, "discovery", format!("{url} is reachable")));

        let mut raw: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let issuer = &self.provider.issuer;
        let named = raw.get("issuer").and_then(Value::as_str).map(str::to_owned);
        let mismatch = named.filter(|n| n != issuer.as_str());
        let matched = mismatch.is_none();
        let body = match mismatch {
            Some(named) => {
                let fix = issuer_fix(&named, issuer, &issuer_key).unwrap_or_else(|| {
                    format!(
                        "set {issuer_key} to the issuer the provider names, if this is the provider you mean"
                    )
                });
                report.push(
                    self.check(
                        Status::Error,
                        "issuer",
                        issuer_mismatch_message(&named, issuer, &issuer_key),
                    )
                    .with_fix(fix),
                );
                // The other checks go on as if the issuer matched, so that every problem
                // shows at once.
                raw["issuer"] = Value::String(issuer.as_str().to_owned());
                serde_json::to_vec(&raw).unwrap_or_default().into()
            }
            None => body,
        };
        let metadata = match parse_metadata(&body, issuer, &issuer_key) {
            Ok(m) => m,
            Err(e) => {
                report.push(self.check(Status::Error, "issuer", e.to_string()).with_fix(
                    "the provider's discovery document must be valid OpenID Connect Discovery 1.0 metadata",
                ));
                return None;
            }
        };
        if matched {
            report.push(self.check(
                Status::Ok,
                "issuer",
                format!("the discovery document names `{issuer}`, exactly as {issuer_key}"),
            ));
        }
        self.clock(before, date, report);
        Some((raw, metadata))
    }

    /// This machine's clock against the provider's `Date` header (one second of resolution,
    /// plus the round trip).
    fn clock(&self, before: SystemTime, date: Option<SystemTime>, report: &mut Report) {
        let Some(date) = date else {
            report.push(self.check(
                Status::Info,
                "clock",
                "the provider sent no Date header; the clock difference was not measured",
            ));
            return;
        };
        let after = self.config.clock.now();
        let local = before + after.duration_since(before).unwrap_or_default() / 2;
        let (skew, ahead) = match local.duration_since(date) {
            Ok(d) => (d, "ahead of"),
            Err(e) => (e.duration(), "behind"),
        };
        // The Date header has whole seconds.
        let skew = skew.saturating_sub(Duration::from_secs(1));
        let leeway = self.config.leeway;
        let secs = skew.as_secs();
        if skew > leeway {
            report.push(
                self.check(
                    Status::Error,
                    "clock",
                    format!(
                        "this machine's clock is about {secs} s {ahead} the provider's, more than the leeway of {} s: ID tokens will be refused",
                        leeway.as_secs()
                    ),
                )
                .with_fix("synchronise the clocks of both machines (NTP)"),
            );
        } else if skew > SKEW_WARNING {
            report.push(
                self.check(
                    Status::Warning,
                    "clock",
                    format!("this machine's clock is about {secs} s {ahead} the provider's"),
                )
                .with_fix("synchronise the clocks of both machines (NTP)"),
            );
        } else {
            report.push(self.check(
                Status::Ok,
                "clock",
                "this machine's clock agrees with the provider's (within 5 s)",
            ));
        }
    }

    /// The JWKS fetchable, with a key the algorithm allowlist (asymmetric only, narrowed to what
    /// discovery advertises) can use.
    async fn keys(&self, metadata: &Metadata, report: &mut Report) {
        let advertised = &metadata.signing_algs;
        let allowed: Vec<_> = ASYMMETRIC
            .iter()
            .filter(|a| advertised.is_empty() || advertised.contains(a))
            .copied()
            .collect();
        let fix = format!(
            "configure client `{}` at the provider to sign ID tokens with an asymmetric algorithm (RS256, ES256, EdDSA, ...)",
            self.provider.client_id.as_str()
        );
        if allowed.is_empty() {
            report.push(
                self.check(
                    Status::Error,
                    "signing keys",
                    format!(
                        "the provider signs ID tokens only with {advertised:?}; tower-oidc accepts asymmetric algorithms only (never `none` or HMAC)"
                    ),
                )
                .with_fix(fix),
            );
            return;
        }
        let url = metadata.jwks_uri.as_str();
        let keys = match self
            .http
            .get(url, "JWKS")
            .await
            .and_then(|b| parse_jwks(&b))
        {
            Ok(keys) => keys,
            Err(e) => {
                report.push(
                    self.check(Status::Error, "signing keys", format!("{url}: {e}"))
                        .with_fix(fix),
                );
                return;
            }
        };
        let usable = keys
            .iter()
            .filter(|k| match k.alg {
                Some(alg) => allowed.contains(&alg),
                None => allowed.iter().any(|a| a.family() == k.family),
            })
            .count();
        if usable == 0 {
            report.push(
                self.check(
                    Status::Error,
                    "signing keys",
                    format!(
                        "none of the {} keys at {url} fits the algorithms allowed ({allowed:?})",
                        keys.len()
                    ),
                )
                .with_fix(fix),
            );
        } else {
            report.push(self.check(
                Status::Ok,
                "signing keys",
                format!("{usable} usable signing key(s) at {url}, for {allowed:?}"),
            ));
        }
    }

    /// The configured token endpoint auth method among those the provider supports.
    fn token_auth(&self, metadata: &Metadata, report: &mut Report) {
        let supported = &metadata.token_auth_methods;
        let has = |m: &str| supported.iter().any(|s| s == m);
        let method_key = self.key("TOKEN_ENDPOINT_AUTH_METHOD");
        let list = supported
            .iter()
            .take(20)
            .map(|m| shown(m))
            .collect::<Vec<_>>()
            .join(", ");
        let ours = ["client_secret_basic", "client_secret_post"];
        let (used, ok) = match (&self.provider.client_secret, self.provider.token_auth) {
            (_, TokenAuthMethod::PrivateKeyJwt) => ("private_key_jwt", has("private_key_jwt")),
            (Some(_), TokenAuthMethod::ClientSecretJwt) => {
                ("client_secret_jwt", has("client_secret_jwt"))
            }
            (None, _) => ("none", has("none")),
            (Some(_), TokenAuthMethod::ClientSecretBasic) => {
                ("client_secret_basic", has("client_secret_basic"))
            }
            (Some(_), TokenAuthMethod::ClientSecretPost) => {
                ("client_secret_post", has("client_secret_post"))
            }
            (Some(_), _) => {
                let chosen = if has("client_secret_basic") || !has("client_secret_post") {
                    "client_secret_basic"
                } else {
                    "client_secret_post"
                };
                (chosen, has(chosen))
            }
        };
        if ok {
            report.push(self.check(
                Status::Ok,
                "token endpoint auth",
                format!("`{used}` is supported by the provider ({list})"),
            ));
            return;
        }
        let fix = if used == "none" {
            format!(
                "set {} (the provider does not accept public clients)",
                self.key("CLIENT_SECRET")
            )
        } else {
            match ours.iter().find(|m| has(m)) {
                Some(other) => format!("set {method_key}={other}"),
                None => format!(
                    "the provider supports none of client_secret_basic and client_secret_post; register the client for one of them (it lists: {list})"
                ),
            }
        };
        report.push(
            self.check(
                Status::Error,
                "token endpoint auth",
                format!("`{used}` is not among the methods the provider supports ({list})"),
            )
            .with_fix(fix),
        );
    }

    /// What the configuration requires of the provider (form_post, pushed authorization
    /// requests, the client assertion's algorithm, DPoP) against what its discovery offers.
    fn requirements(&self, metadata: &Metadata, report: &mut Report) {
        let topic = "provider requirements";
        let mismatches = crate::provider::requirements::mismatches(self.provider, metadata);
        for m in &mismatches {
            let status = if m.blocks_login {
                Status::Error
            } else {
                Status::Warning
            };
            report.push(
                self.check(status, topic, format!("{} {}", m.key, m.message))
                    .with_fix(format!("change {} or the provider's settings", m.key)),
            );
        }
        let demanding = self.provider.response_mode != crate::config::ResponseMode::Query
            || self.provider.require_par
            || metadata.par_required
            || self.provider.client_assertion.is_some()
            || self.provider.dpop;
        if mismatches.is_empty() && demanding {
            let pushed = if self.provider.require_par || metadata.par_required {
                ", logins are pushed (RFC 9126)"
            } else {
                ""
            };
            let dpop = if self.provider.dpop {
                ", tokens DPoP-bound (RFC 9449, ES256)"
            } else {
                ""
            };
            report.push(self.check(
                Status::Ok,
                topic,
                format!(
                    "the provider offers what the configuration requires (response_mode={}{pushed}{dpop})",
                    self.provider.response_mode.as_str()
                ),
            ));
        }
    }

    /// Every configured scope among the provider's `scopes_supported`, when it lists them.
    fn scopes(&self, raw: &Value, report: &mut Report) {
        let scope_key = self.key("SCOPE");
        let Some(supported) = string_list(raw, "scopes_supported") else {
            report.push(self.check(
                Status::Info,
                "scopes",
                "the provider does not list its scopes (scopes_supported); not checked",
            ));
            return;
        };
        let unknown: Vec<&str> = self
            .provider
            .scope
            .split_whitespace()
            .filter(|s| !supported.iter().any(|x| x == s))
            .collect();
        if unknown.is_empty() {
            report.push(self.check(
                Status::Ok,
                "scopes",
                format!("`{}` are all advertised", self.provider.scope),
            ));
            return;
        }
        let unknown = unknown
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        report.push(
            self.check(
                Status::Error,
                "scopes",
                format!(
                    "the provider does not know the scope(s) {unknown} (it advertises: {})",
                    supported.join(", ")
                ),
            )
            .with_fix(format!(
                "remove {unknown} from {scope_key}, or create the scope at the provider"
            )),
        );
    }

    /// The groups claim among the provider's `claims_supported`, when it lists them.
    fn groups_claim(&self, raw: &Value, report: &mut Report) {
        let path = self.provider.policy.groups_claim.as_str();
        let root = path.split('.').next().unwrap_or(path);
        let Some(supported) = string_list(raw, "claims_supported") else {
            report.push(self.check(
                Status::Info,
                "groups claim",
                format!("the provider does not list its claims (claims_supported); `{path}` not checked"),
            ));
            return;
        };
        if supported.iter().any(|c| c == root) {
            report.push(self.check(
                Status::Ok,
                "groups claim",
                format!("`{root}` is advertised"),
            ));
        } else {
            report.push(
                self.check(
                    Status::Warning,
                    "groups claim",
                    format!("the provider does not advertise the claim `{root}`: users may arrive without groups (no role, not admin)"),
                )
                .with_fix(format!(
                    "add a groups claim (a mapper or scope) at the provider, or set {} to the claim that holds the groups",
                    self.key("GROUPS_CLAIM")
                )),
            );
        }
    }

    /// RP-initiated logout, back-channel logout, and where the provider returns after logout.
    fn logout(&self, metadata: &Metadata, raw: &Value, report: &mut Report) {
        match &metadata.end_session_endpoint {
            Some(url) => report.push(self.check(
                Status::Ok,
                "end session",
                format!("RP-initiated logout at {url}"),
            )),
            None => report.push(
                self.check(
                    Status::Warning,
                    "end session",
                    "the provider has no end_session_endpoint: logout ends the session in this app only, users stay signed in at the provider",
                )
                .with_fix("enable RP-initiated logout at the provider, if it offers it"),
            ),
        }
        let backchannel = raw
            .get("backchannel_logout_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        report.push(self.check(
            Status::Info,
            "back-channel logout",
            if backchannel {
                "supported by the provider; tower-oidc does not use it, so a logout at the provider does not end sessions here"
            } else {
                "not supported by the provider; a logout at the provider does not end sessions here"
            },
        ));
        match &self.config.post_logout_redirect_uri {
            Some(uri) if metadata.end_session_endpoint.is_some() => report.push(self.check(
                Status::Info,
                "post-logout URI",
                format!(
                    "register `{uri}` as a post-logout redirect URI of client `{}` at the provider",
                    self.provider.client_id.as_str()
                ),
            )),
            Some(uri) => report.push(self.check(
                Status::Info,
                "post-logout URI",
                format!("`{uri}`: the browser goes there straight after logout"),
            )),
            None => report.push(self.check(
                Status::Info,
                "post-logout URI",
                "OIDC_POST_LOGOUT_REDIRECT_URI is not set: after logout the provider shows its own page",
            )),
        }
    }

    /// RFC 9207: the provider names itself in authorization responses.
    fn iss_parameter(&self, metadata: &Metadata, report: &mut Report) {
        if metadata.iss_parameter_supported {
            report.push(self.check(
                Status::Ok,
                "RFC 9207 iss",
                "the provider names itself in authorization responses; the callback requires it",
            ));
        } else {
            let several = self.config.providers.len() > 1;
            report.push(self.check(
                if several { Status::Warning } else { Status::Info },
                "RFC 9207 iss",
                "the provider does not send `iss` in authorization responses: the mix-up defence relies on each provider's own callback route",
            ));
        }
    }

    /// The redirect URI registered: an authorization request with `prompt=none` must come back
    /// to it (with `login_required`, as nobody is signed in here), not stop at an error page of
    /// the provider's.
    async fn redirect_uri(&self, metadata: &Metadata, report: &mut Report) {
        let uri = &self.provider.redirect_uri;
        let client = self.provider.client_id.as_str();
        let [state, nonce, verifier] = login_secrets();
        let mut url = metadata.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client)
            .append_pair("redirect_uri", uri)
            .append_pair("scope", &self.provider.scope)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &sha256_b64(verifier.as_bytes()))
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "none");
        let register = format!(
            "register `{uri}` as a redirect URI of client `{client}` at the provider, exactly as written (it is BASE_URL followed by the callback path), and check {}",
            self.key("CLIENT_ID")
        );
        let response = match self
            .http
            .send(
                self.http.get_request(url.as_str()),
                "authorization endpoint",
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                report.push(self.check(Status::Error, "redirect URI", e.to_string()));
                return;
            }
        };
        let status = response.status();
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| metadata.authorization_endpoint.join(l).ok());
        let back = location.filter(|l| {
            let s = l.as_str();
            s.strip_prefix(uri.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['?', '#']))
        });
        let Some(back) = back else {
            let what = if status.is_redirection() {
                "sent the browser elsewhere".to_owned()
            } else {
                format!("answered HTTP {} instead", status.as_u16())
            };
            report.push(
                self.check(
                    Status::Error,
                    "redirect URI",
                    format!(
                        "an authorization request with redirect URI `{uri}` did not come back to it: the provider {what}, as it does for a redirect URI or client it does not know"
                    ),
                )
                .with_fix(register),
            );
            return;
        };
        let error = back
            .query_pairs()
            .chain(
                back.fragment()
                    .map(|f| url::form_urlencoded::parse(f.as_bytes()))
                    .into_iter()
                    .flatten(),
            )
            .find(|(k, _)| k == "error")
            .map(|(_, v)| crate::provider::token_refusal::safe_code(&v));
        match error.as_deref() {
            None => report.push(self.check(
                Status::Ok,
                "redirect URI",
                format!("the provider accepts `{uri}` for client `{client}`"),
            )),
            Some(e) if PROMPT_NONE_ERRORS.contains(&e) => report.push(self.check(
                Status::Ok,
                "redirect URI",
                format!("the provider accepts `{uri}` for client `{client}`"),
            )),
            Some("invalid_scope") => report.push(
                self.check(
                    Status::Error,
                    "redirect URI",
                    "the provider refused the authorization request: invalid_scope",
                )
                .with_fix(format!(
                    "request only scopes the provider knows for this client in {}",
                    self.key("SCOPE")
                )),
            ),
            Some("unauthorized_client") => report.push(
                self.check(
                    Status::Error,
                    "redirect URI",
                    "the provider refused the authorization request: unauthorized_client",
                )
                .with_fix(format!(
                    "allow the authorization code flow for client `{client}` at the provider"
                )),
            ),
            Some(other) => report.push(
                self.check(
                    Status::Error,
                    "redirect URI",
                    format!("the provider refused the authorization request: {other}"),
                )
                .with_fix("the provider's log says why it refused the request"),
            ),
        }
    }
}

/// A discovery field that is a list of strings, fit for the report: at most 100 items of at
/// most 100 characters, without control characters (the provider's text reaches a terminal).
fn string_list(raw: &Value, field: &str) -> Option<Vec<String>> {
    raw.get(field)?.as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .take(100)
            .map(shown)
            .collect()
    })
}

/// A value of the provider's, fit for one line of the report: no control characters, at most
/// 100 of them.
fn shown(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(100).collect()
}
