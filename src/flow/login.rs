//! Starting a login: the authorization request (RFC 6749 4.1.1 with PKCE, RFC 7636) and the
//! per-login cookie that remembers it.

use http::header;
use http::request::Parts;

use crate::config::ResponseMode;
use crate::error::{AuthError, AuthErrorKind};
use crate::pages::{self, Page};
use crate::provider::Provider;
use crate::random::{login_secrets, sha256_b64};
use crate::session::{request_cookies, LoginRecord, LOGIN_TTL_SECS, MAX_PENDING_LOGINS};
use crate::shared::Shared;

/// Sends the browser to the provider. `return_to` must already be a safe same-origin path;
/// `query` is the explicit login route's query, whose login parameters refine the provider's
/// (`None` for a login started by redirecting a protected page).
#[tracing::instrument(target = "tower_oidc", name = "login", skip_all, fields(provider = provider.config.slug.as_str()))]
pub(crate) async fn start(
    shared: &Shared,
    provider: &Provider,
    parts: &Parts,
    return_to: String,
    query: Option<&str>,
) -> Page {
    // A sign-in that could not be stored would fail at the callback: say so now.
    if let Some(server) = &shared.server {
        if !server.accepts_sign_ins().await {
            tracing::warn!(target: "tower_oidc", event = "login_failed", kind = "session_store_unavailable");
            return pages::store_unavailable(&shared.config);
        }
    }
    let metadata = match provider.metadata().await {
        Ok(m) => m,
        Err(err) => return failed(shared, provider, &err.to_auth_error()),
    };
    super::origin::warn_if_foreign(
        &shared.config.base_url,
        parts,
        &provider.config.redirect_uri,
    );
    let now = shared.config.clock.unix_seconds();
    // The verifier has 64 characters: within RFC 7636's 43 to 128, with 384 bits of entropy.
    let [state, nonce, verifier] = login_secrets();
    let (params, acr) = super::login_params::for_login(&provider.config, query);
    let record = LoginRecord {
        state,
        nonce,
        verifier,
        issuer: provider.config.issuer.as_str().to_owned(),
        provider: provider.config.slug.as_str().to_owned(),
        return_to,
        created_at: now,
        max_age: params.max_age,
        acr,
    };
    let challenge = sha256_b64(record.verifier.as_bytes());
    if let Some(mismatch) = crate::provider::requirements::blocking(&provider.config, &metadata) {
        let err = AuthError::new(
            AuthErrorKind::BadProviderResponse,
            format!("The identity provider cannot sign you in as this application is configured: {mismatch}."),
        );
        return failed(shared, provider, &err);
    }

    // The parameters that never change are encoded once, at startup; state, nonce and
    // challenge are base64url, which needs no percent-encoding.
    let mut query = String::with_capacity(provider.static_auth_query.len() + 200);
    query.push_str(&provider.static_auth_query);
    for (key, value) in [
        ("state", &record.state),
        ("nonce", &record.nonce),
        ("code_challenge", &challenge),
    ] {
        query.push('&');
        query.push_str(key);
        query.push('=');
        query.push_str(value);
    }
    query.push_str("&code_challenge_method=S256");
    super::login_params::append(&mut query, &params);

    let endpoint = &metadata.authorization_endpoint;
    let mut url = String::with_capacity(endpoint.as_str().len() + query.len() + 1);
    url.push_str(endpoint.as_str());
    url.push(if endpoint.query().is_some() { '&' } else { '?' });
    match metadata
        .par_endpoint
        .as_ref()
        .filter(|_| provider.pushes(&metadata))
    {
        // RFC 9126 section 4: the browser carries only the client id and the request URI.
        Some(par) => match provider.push_authorization(&metadata, par, &query).await {
            Ok(request_uri) => {
                let mut tail = url::form_urlencoded::Serializer::new(String::new());
                tail.append_pair("client_id", provider.config.client_id.as_str())
                    .append_pair("request_uri", &request_uri);
                url.push_str(&tail.finish());
            }
            Err(err) => return failed(shared, provider, &err.to_auth_error()),
        },
        None => url.push_str(&query),
    }

    let names = &shared.cookies.names;
    let name = names.login(&record.state);
    let value = record.seal(&shared.cookies.codec, &name);
    let mut page = pages::redirect(&url);
    let headers = page.headers_mut();
    for stale in stale_logins(shared, parts, now) {
        headers.append(header::SET_COOKIE, names.remove(&stale));
    }
    // A form_post response is a cross-site POST, which a SameSite=Lax cookie does not reach.
    let cookie = match provider.config.response_mode {
        ResponseMode::FormPost => names.set_cross_site(&name, &value, LOGIN_TTL_SECS),
        _ => names.set(&name, &value, LOGIN_TTL_SECS),
    };
    headers.append(header::SET_COOKIE, cookie);
    page
}

/// A login that could not start: logged, counted, and its error page.
fn failed(shared: &Shared, provider: &Provider, err: &AuthError) -> Page {
    tracing::warn!(target: "tower_oidc", event = "login_failed", kind = err.kind().as_str(), reason = %err.reason());
    crate::meter::login_failure(Some(provider.config.slug.as_str()), err.kind().as_str());
    pages::error_page(err, &shared.config)
}

/// The login cookies to expire so that, with the new one, at most [`MAX_PENDING_LOGINS`]
/// remain: expired or unreadable ones first, then the oldest.
fn stale_logins(shared: &Shared, parts: &Parts, now: u64) -> Vec<String> {
    let names = &shared.cookies.names;
    let mut pending: Vec<(u64, &str)> = request_cookies(&parts.headers)
        .filter(|(n, _)| n.starts_with(names.login_prefix.as_str()))
        // A request stuffed with login cookies costs at most this many AEAD opens and
        // deletions; the rest are left to expire by themselves.
        .take(4 * MAX_PENDING_LOGINS)
        .map(|(n, v)| {
            let created = LoginRecord::open(&shared.cookies.codec, n, v)
                .map(|r| r.created_at)
                .filter(|t| t.saturating_add(LOGIN_TTL_SECS) > now)
                .unwrap_or(0);
            (created, n)
        })
        .collect();
    pending.sort_unstable();
    pending.dedup_by(|a, b| a.1 == b.1);
    let keep = MAX_PENDING_LOGINS - 1;
    let excess = pending
        .iter()
        .filter(|(t, _)| *t == 0)
        .count()
        .max(pending.len().saturating_sub(keep));
    pending
        .into_iter()
        .take(excess)
        .map(|(_, n)| n.to_owned())
        .collect()
}
