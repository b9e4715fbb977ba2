//! The small responses the layer writes itself: redirects, 401 JSON, and HTML pages.
//!
//! Pages show our own reasons, HTML-escaped, with at most a provider's OAuth error code or issuer
//! (filtered and bounded) for diagnosis; never a token, code, cookie, secret or claim value.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::config::OidcConfig;
use crate::error::{AuthError, AuthErrorKind};
pub(crate) use crate::page_hook::escape_html as escape;
use crate::page_hook::{LayerPage, PageLink};

/// The challenge sent with 401 answers. Cookie sessions have no registered scheme; this names
/// ours and where to start a login.
pub(crate) const WWW_AUTHENTICATE: &str = r#"OIDC realm="tower-oidc""#;

pub(crate) type Page = Response<Bytes>;

/// The Content Security Policy of every page the layer writes. The pages are static HTML with
/// inline `style` attributes and links: no script, image, font, frame or fetch, so everything
/// else is refused (`default-src 'none'`). `style-src 'unsafe-inline'` because style attributes
/// cannot be allowed by hash without `'unsafe-hashes'`, which older browsers lack; everything
/// shown is escaped, so no one else's markup can use it. `frame-ancestors 'none'` (with
/// `X-Frame-Options: DENY` for browsers without CSP level 2) keeps the pages out of frames, so
/// the chooser or the sign-out form cannot be overlaid for clickjacking (OWASP Clickjacking
/// Defense Cheat Sheet). No `form-action`: browsers apply it to the redirects after a submit too,
/// and the logout form's answer redirects to the provider's end-session endpoint.
pub(crate) const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

fn base(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Page {
    let mut res = Response::new(body.into());
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // The callback's URL holds the authorization code: never pass it on in a Referer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    res
}

/// A 302 to `location` (already a valid URL or same-origin path).
pub(crate) fn redirect(location: &str) -> Page {
    let mut res = base(StatusCode::FOUND, "text/plain; charset=utf-8", Bytes::new());
    match HeaderValue::try_from(location) {
        Ok(v) => {
            res.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR,
    }
    res
}

/// 401 for API clients: JSON, `WWW-Authenticate`, and no cookie.
pub(crate) fn unauthorized_json(login_path: &str) -> Page {
    let body = serde_json::json!({
        "error": AuthErrorKind::Unauthenticated.as_str(),
        "message": "sign in first",
        "login_url": login_path,
    });
    let mut res = base(
        StatusCode::UNAUTHORIZED,
        "application/json",
        body.to_string(),
    );
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(WWW_AUTHENTICATE),
    );
    res.extensions_mut().insert(AuthError::new(
        AuthErrorKind::Unauthenticated,
        "sign in first",
    ));
    res
}

/// The back-channel logout's success (OpenID Connect Back-Channel Logout 1.0 section 2.8): 200
/// with an empty body and `Cache-Control: no-store`.
pub(crate) fn backchannel_logout_done() -> Page {
    let mut res = base(StatusCode::OK, "text/plain", Bytes::new());
    res.headers_mut().remove(header::CONTENT_TYPE);
    res
}

/// A back-channel logout request refused (section 2.8): `status` with
/// `{"error": error, "error_description": description}` and `Cache-Control: no-store`.
pub(crate) fn backchannel_logout_refused(
    status: StatusCode,
    error: &'static str,
    description: &str,
) -> Page {
    let body = serde_json::json!({"error": error, "error_description": description});
    base(status, "application/json", body.to_string())
}

/// Whether the kind means "signed in fine, but not admitted": the user needs another account
/// or another group, not another try.
pub(crate) fn is_refusal(kind: AuthErrorKind) -> bool {
    matches!(
        kind,
        AuthErrorKind::NoRole
            | AuthErrorKind::LoginRefused
            | AuthErrorKind::EmailNotVerified
            | AuthErrorKind::EmailDomainNotAllowed
            | AuthErrorKind::InvalidGroupsClaim
    )
}

/// The HTML page `page`: the app's page hook's body, or the built-in one, with the layer's
/// status and security headers either way.
fn html(config: &OidcConfig, status: StatusCode, page: &LayerPage<'_>) -> Page {
    let body = config
        .page_hook
        .as_ref()
        .and_then(|hook| hook.render(page))
        .unwrap_or_else(|| builtin(page));
    base(status, "text/html; charset=utf-8", body)
}

const HEAD: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
     <meta name=\"viewport\" content=\"width=device-width\">";
const BODY: &str =
    "<body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem\">";

/// The built-in body of `page`.
fn builtin(page: &LayerPage<'_>) -> String {
    match page {
        LayerPage::NoAccess { error, logout_url } => format!(
            "{HEAD}<title>No access</title></head>{BODY}\
             <h1>No access to this application</h1><p>{reason}</p>\
             <p>If you signed in with the wrong account, <a href=\"{logout}\">sign out</a> and sign in with another.</p>\
             <p style=\"color:#666;font-size:.8rem\">Error: {kind}</p></body></html>",
            reason = escape(error.reason()),
            logout = escape(logout_url),
            kind = error.kind().as_str(),
        ),
        LayerPage::SignInFailed {
            error,
            title,
            hint,
            retry_url,
        } => format!(
            "{HEAD}<title>{title}</title></head>{BODY}\
             <h1>{title}</h1><p>{reason}</p><p>{hint}</p>\
             <p><a href=\"{login}\">Sign in again</a></p>\
             <p style=\"color:#666;font-size:.8rem\">Error: {kind}</p></body></html>",
            title = escape(title),
            reason = escape(error.reason()),
            hint = escape(hint),
            login = escape(retry_url),
            kind = error.kind().as_str(),
        ),
        LayerPage::SignedOut { login_url } => format!(
            "{HEAD}<title>Signed out</title></head>{BODY}\
             <h1>You are signed out</h1>\
             <p>Your session at the identity provider was not ended, so you may still be signed in there: \
             sign out at the provider too, or close the browser, before someone else uses this device.</p>\
             <p><a href=\"{}\">Sign in again</a></p></body></html>",
            escape(login_url)
        ),
        LayerPage::LogoutConfirm { logout_url } => format!(
            "{HEAD}<title>Sign out?</title></head>{BODY}\
             <h1>Sign out?</h1><form method=\"post\" action=\"{}\"><button type=\"submit\">Sign out</button></form>\
             </body></html>",
            escape(logout_url)
        ),
        LayerPage::UnknownProvider { slug, providers } => format!(
            "{HEAD}<title>Unknown provider</title></head>{BODY}\
             <h1>Unknown identity provider</h1><p>No provider is configured with the slug <code>{slug}</code>. \
             The configured ones are:</p><ul>{list}</ul></body></html>",
            slug = escape(slug),
            list = links(providers),
        ),
        LayerPage::Chooser { options } => format!(
            "{HEAD}<title>Sign in</title></head>{BODY}\
             <h1>Sign in</h1><ul style=\"list-style:none;padding:0;line-height:2.2\">{}</ul></body></html>",
            links(options)
        ),
    }
}

/// `links` as list items.
fn links(links: &[PageLink]) -> String {
    links
        .iter()
        .map(|l| {
            format!(
                "<li><a href=\"{}\">{}</a></li>",
                escape(&l.href),
                escape(&l.label)
            )
        })
        .collect()
}

/// An HTML page for a failed sign-in, with a link to start again; for a refused account
/// (403) a link that signs out at the provider, so another account can be used.
pub(crate) fn error_page(err: &AuthError, config: &OidcConfig) -> Page {
    if is_refusal(err.kind()) {
        let page = LayerPage::NoAccess {
            error: err,
            logout_url: &config.logout_path,
        };
        let mut res = html(config, err.status(), &page);
        res.extensions_mut().insert(err.clone());
        return res;
    }
    let title = match err.kind() {
        AuthErrorKind::ProviderUnreachable => "The identity provider is unreachable",
        AuthErrorKind::SessionStoreUnavailable => "Sessions are unavailable",
        AuthErrorKind::BadProviderResponse => "The identity provider answered with an error",
        AuthErrorKind::LoginExpired
        | AuthErrorKind::StateMismatch
        | AuthErrorKind::MissingState => "This sign-in link has expired or was already used",
        AuthErrorKind::ProviderDenied => "Sign-in was refused",
        AuthErrorKind::ClientRejected => "Sign-in is not set up correctly",
        AuthErrorKind::AuthenticationTooOld => "Your sign-in at the identity provider is too old",
        AuthErrorKind::AcrNotAccepted => "A stronger sign-in is required",
        _ => "Sign-in failed",
    };
    let hint = match err.kind() {
        AuthErrorKind::ProviderUnreachable | AuthErrorKind::SessionStoreUnavailable => {
            "Signing in is not possible right now. Try again in a moment."
        }
        AuthErrorKind::ClientRejected => {
            "Trying again will not help until the application's administrator fixes the setting named above."
        }
        AuthErrorKind::AuthenticationTooOld => {
            "Sign out at the identity provider, then start the sign-in again."
        }
        AuthErrorKind::AcrNotAccepted => {
            "Start the sign-in again and choose a stronger method at the identity provider (a second factor, for example)."
        }
        _ => "Start the sign-in again.",
    };
    let page = LayerPage::SignInFailed {
        error: err,
        title,
        hint,
        retry_url: &config.login_path,
    };
    let mut res = html(config, err.status(), &page);
    if err.kind() == AuthErrorKind::ProviderUnreachable {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    }
    res.extensions_mut().insert(err.clone());
    res
}

/// `429 Too Many Requests` for a client past the login rate limit, with `Retry-After` in
/// whole seconds (RFC 6585 section 4).
pub(crate) fn too_many_requests(retry_after: std::time::Duration) -> Page {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Too many sign-in attempts</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem\">\
         <h1>Too many sign-in attempts</h1><p>Sign-ins from your network are coming too fast. \
         Wait {secs} second{s} and try again.</p></body></html>",
        s = if secs == 1 { "" } else { "s" },
    );
    let mut res = base(
        StatusCode::TOO_MANY_REQUESTS,
        "text/html; charset=utf-8",
        body,
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    res
}

/// The page shown after logout when there is nowhere else to go: only when the provider's
/// session could not be ended (no RP-initiated logout, or the provider is unreachable), which
/// it says.
/// The 503 page of a session store that cannot be reached (a session that cannot be checked,
/// or a sign-in that cannot be stored), with `Retry-After`.
pub(crate) fn store_unavailable(config: &OidcConfig) -> Page {
    let err = AuthError::new(
        AuthErrorKind::SessionStoreUnavailable,
        "The session store cannot be reached.",
    );
    let mut page = error_page(&err, config);
    page.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
    page
}

pub(crate) fn signed_out_page(config: &OidcConfig) -> Page {
    let page = LayerPage::SignedOut {
        login_url: &config.login_path,
    };
    html(config, StatusCode::OK, &page)
}

/// Asks before signing out when the logout request came from another site.
pub(crate) fn logout_confirm_page(config: &OidcConfig) -> Page {
    let page = LayerPage::LogoutConfirm {
        logout_url: &config.logout_path,
    };
    html(config, StatusCode::OK, &page)
}

/// `GET /auth/providers`: the providers as JSON, for apps that draw their own login page.
pub(crate) fn providers_json(config: &OidcConfig) -> Page {
    let list: Vec<serde_json::Value> = config
        .providers()
        .map(|p| {
            serde_json::json!({
                "slug": p.slug(),
                "name": p.name(),
                "login_url": p.login_url(),
            })
        })
        .collect();
    base(
        StatusCode::OK,
        "application/json",
        serde_json::Value::Array(list).to_string(),
    )
}

/// The public keys of the client assertions (`OIDC_JWKS_PATH`): a JWK Set (RFC 7517 section
/// 5), `application/jwk-set+json`, cacheable for an hour.
pub(crate) fn client_jwks(config: &OidcConfig) -> Page {
    let mut page = base(
        StatusCode::OK,
        "application/jwk-set+json",
        config
            .client_jwks()
            .unwrap_or_else(|| r#"{"keys":[]}"#.to_owned()),
    );
    page.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=3600"),
    );
    page
}

/// `/auth/login/{slug}` for a slug no provider has: 404, listing the valid ones.
pub(crate) fn unknown_provider(config: &OidcConfig, path: &str) -> Page {
    let providers: Vec<PageLink> = config
        .providers()
        .map(|p| PageLink::new(p.slug(), p.login_url()))
        .collect();
    let slug = path.rsplit('/').next().unwrap_or_default();
    let slug: String = slug.chars().take(64).collect();
    let page = LayerPage::UnknownProvider {
        slug: &slug,
        providers: &providers,
    };
    html(config, StatusCode::NOT_FOUND, &page)
}

/// The chooser page for an unauthenticated browser when there is a choice: one button per
/// provider, and the app's own login when `AUTH_METHOD=both`. `login_params` (form-encoded,
/// each after a `&`) travels on in each provider's link.
pub(crate) fn chooser(config: &OidcConfig, return_to: &str, login_params: &str) -> Page {
    let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    let mut options: Vec<PageLink> = config
        .providers()
        .map(|p| {
            PageLink::new(
                format!("Sign in with {}", p.name()),
                format!("{}?return_to={encoded}{login_params}", p.login_url()),
            )
        })
        .collect();
    if let Some(local) = &config.local_login_url {
        let sep = if local.contains('?') { '&' } else { '?' };
        options.push(PageLink::new(
            "Sign in with a local account",
            format!("{local}{sep}return_to={encoded}"),
        ));
    }
    let mut res = html(
        config,
        StatusCode::OK,
        &LayerPage::Chooser { options: &options },
    );
    res.extensions_mut().insert(AuthError::new(
        AuthErrorKind::Unauthenticated,
        "sign in first",
    ));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_providers() -> OidcConfig {
        OidcConfig::builder()
            .with_base_url("https://app.example.com")
            .with_cookie_key("w4fJS+gP3/cYd2x6IVQWu1Pvmdxhz1zuRvilXZ4GdWY=")
            .add_provider(
                crate::ProviderBuilder::new("staff")
                    .with_issuer("https://staff.example.com")
                    .with_client_id("a"),
            )
            .add_provider(
                crate::ProviderBuilder::new("guests")
                    .with_issuer("https://guests.example.com")
                    .with_client_id("b"),
            )
            .build()
            .expect("a valid test configuration")
    }

    /// Every kind of page the layer writes.
    fn every_page() -> Vec<(&'static str, Page)> {
        let config = two_providers();
        let failed = AuthError::new(AuthErrorKind::InvalidIdToken, "bad token");
        let refused = AuthError::new(AuthErrorKind::NoRole, "no role");
        let down = AuthError::new(AuthErrorKind::ProviderUnreachable, "down");
        vec![
            ("redirect", redirect("https://id.example.com/authorize?x=1")),
            ("401 JSON", unauthorized_json("/auth/login")),
            ("error page", error_page(&failed, &config)),
            ("refusal page", error_page(&refused, &config)),
            ("503 page", error_page(&down, &config)),
            ("signed out", signed_out_page(&config)),
            ("logout confirmation", logout_confirm_page(&config)),
            ("providers JSON", providers_json(&config)),
            (
                "unknown provider",
                unknown_provider(&config, "/auth/login/x"),
            ),
            ("chooser", chooser(&config, "/reports", "")),
            (
                "rate limited",
                too_many_requests(std::time::Duration::from_millis(1500)),
            ),
        ]
    }

    #[test]
    fn every_page_refuses_framing_and_everything_its_policy_does_not_need() {
        let csp = CONTENT_SECURITY_POLICY;
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{csp} lacks {directive}");
        }
        assert!(!csp.contains("script") && !csp.contains("*"), "{csp}");
        for (name, page) in every_page() {
            let h = page.headers();
            assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{name}");
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], csp, "{name}");
            assert_eq!(h[header::CACHE_CONTROL], "no-store", "{name}");
            // The policy allows inline styles and nothing else: a page that needed a script,
            // an image, a stylesheet or a frame would break under it.
            let body = std::str::from_utf8(page.body())
                .unwrap()
                .to_ascii_lowercase();
            for needs_more in [
                "<script", "<img", "<link", "<iframe", "<object", " src=", "url(",
            ] {
                assert!(!body.contains(needs_more), "{name} has {needs_more}");
            }
        }
    }

    #[test]
    fn error_page_escapes_and_links_to_login() {
        let err = AuthError::new(AuthErrorKind::InvalidIdToken, "<script>x</script>");
        let page = error_page(&err, &two_providers());
        assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
        let body = std::str::from_utf8(page.body()).unwrap();
        assert!(body.contains("&lt;script&gt;"));
        assert!(!body.contains("<script>"));
        assert!(body.contains("href=\"/auth/login\""));
        assert_eq!(page.extensions().get::<AuthError>(), Some(&err));
    }
}
