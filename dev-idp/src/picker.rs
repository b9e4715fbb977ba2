//! The user picker: the page the authorization endpoint shows instead of a login form.

use axum::response::Response;
use http::StatusCode;
use url::Url;

use crate::authorize::{Approved, AuthorizeParams};
use crate::idp::DevIdp;
use crate::pages::{escape, html_response, layout};
use crate::params::given;

/// The page listing every test user as a button; the form posts the authorization request back
/// with the choice.
pub(crate) fn picker_page(
    idp: &DevIdp,
    params: &AuthorizeParams,
    approved: &Approved<'_>,
) -> Response {
    let mut hidden = String::new();
    for (name, value) in [
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("response_type", &params.response_type),
        ("scope", &params.scope),
        ("state", &params.state),
        ("nonce", &params.nonce),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
        ("response_mode", &params.response_mode),
    ] {
        if let Some(value) = given(value) {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(value)
            ));
        }
    }
    let mut users = String::new();
    for user in &idp.users {
        let title = user
            .name
            .as_deref()
            .or(user.preferred_username.as_deref())
            .unwrap_or(&user.subject);
        let email = match (&user.email, user.email_verified) {
            (Some(e), true) => format!("<span class=\"email\">{}</span>", escape(e)),
            (Some(e), false) => format!(
                "<span class=\"email\">{}</span> <span class=\"badge warn\">email not verified</span>",
                escape(e)
            ),
            (None, _) => "<span class=\"email muted\">no email</span>".to_owned(),
        };
        let groups = if user.groups.is_empty() {
            "<span class=\"muted\">no groups</span>".to_owned()
        } else {
            user.groups
                .iter()
                .map(|g| format!("<span class=\"badge\">{}</span>", escape(g)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        users.push_str(&format!(
            "<li><button type=\"submit\" name=\"user\" value=\"{value}\">\
             <span class=\"who\"><strong>{title}</strong> <code>{subject}</code></span>\
             <span class=\"line\">{email}</span><span class=\"line\">{groups}</span></button></li>",
            value = escape(&user.subject),
            title = escape(title),
            subject = escape(&user.subject),
        ));
    }
    if users.is_empty() {
        users.push_str("<li class=\"muted\">No test users are configured; add some with <code>DevIdp::with_user</code>.</li>");
    }
    let app = Url::parse(approved.redirect_uri)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let content = format!(
        "<p class=\"warning\"><strong>For development only.</strong> This identity provider signs \
         anyone in as any test user, without a password. Never expose it on a network.</p>\
         <h1>Development identity provider — choose a test user</h1>\
         <p><strong>{client}</strong> at <code>{app}</code> asks you to sign in \
         (scopes: <code>{scope}</code>).</p>\
         <form method=\"post\" action=\"authorize\">{hidden}<ul class=\"users\">{users}</ul>\
         <button type=\"submit\" name=\"action\" value=\"deny\" class=\"cancel\">Cancel sign-in</button></form>\
         <p class=\"muted small\">Issuer <code>{issuer}</code></p>",
        client = escape(&approved.client.id),
        app = escape(&app),
        scope = escape(&approved.scope),
        issuer = escape(&idp.issuer),
    );
    html_response(
        StatusCode::OK,
        layout("Development identity provider", &content),
    )
}

#[cfg(test)]
mod tests {
    use http::{header, StatusCode};

    use crate::test_support::*;

    #[tokio::test]
    async fn picker_lists_every_user_escaped_and_warns() {
        let f = fixture();
        let reply = get(
            &f.router,
            &format!("/authorize?{}", query(&authz(&[("state", "\"><script>")]))),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let body = &reply.body;
        assert!(body.contains("choose a test user"));
        assert!(body.contains("For development only"));
        for text in [
            "Alice Example",
            "alice@example.com",
            "admins",
            "Bob Example",
            "Mallory Example",
            "email not verified",
        ] {
            assert!(body.contains(text), "{text}");
        }
        assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(body.contains("a&amp;b"));
        assert!(
            body.contains("value=\"&quot;&gt;&lt;script&gt;\""),
            "state is escaped in its hidden field"
        );
        assert!(!body.contains("<script>"));
        let csp = reply
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    }
}
