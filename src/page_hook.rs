//! The page hook: the app's own look for the HTML pages the layer writes ([`LayerPage`]), and
//! [`escape_html`] for what the hook puts in them.
//!
//! The hook returns the page's HTML body only: the status, `Content-Type`, `Cache-Control:
//! no-store`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and the Content Security
//! Policy (no script, no image, no font, no frame; inline `style` attributes and `<style>`
//! allowed) stay the layer's, and the [`AuthError`] stays in the response's extensions. Return
//! `None` to keep the built-in page.
//!
//! ```
//! use tower_oidc::{escape_html, LayerPage, OidcConfig};
//!
//! let builder = OidcConfig::builder().with_page_hook(|page: &LayerPage<'_>| match page {
//!     LayerPage::SignInFailed { error, retry_url, .. } => Some(format!(
//!         "<!doctype html><title>Oops</title><main class=\"brand\"><p>{}</p><a href=\"{}\">Try again</a></main>",
//!         escape_html(error.reason()),
//!         escape_html(retry_url),
//!     )),
//!     // Every other page as the layer draws it.
//!     _ => None,
//! });
//! ```

use std::fmt;
use std::sync::Arc;

use crate::error::AuthError;

/// A page the layer writes, with the data its built-in version shows. Every text is plain
/// (not escaped): escape it with [`escape_html`] where it goes into HTML. Every URL is a
/// same-origin path or a configured URL, safe to link to (once escaped).
#[derive(Debug)]
#[non_exhaustive]
pub enum LayerPage<'a> {
    /// A sign-in that failed (`400`, `401`, `403` when the provider refused, `500`, `502`,
    /// `503`; see [`AuthError::status`]): the reason and where to start again.
    #[non_exhaustive]
    SignInFailed {
        /// Why: [`AuthError::kind`] and [`AuthError::reason`] (which never holds a token,
        /// code, cookie, secret or claim value).
        error: &'a AuthError,
        /// The built-in page's heading, for example "The identity provider is unreachable".
        title: &'a str,
        /// What the user can do, for example "Start the sign-in again."
        hint: &'a str,
        /// The login route, to start again.
        retry_url: &'a str,
    },
    /// A user who signed in but is not admitted (`403`: no role, email domain not allowed,
    /// refused by the login hook, ...): another account may help, another try will not.
    #[non_exhaustive]
    NoAccess {
        /// Why, as for [`SignInFailed`](Self::SignInFailed).
        error: &'a AuthError,
        /// The logout route, to sign out at the provider and use another account.
        logout_url: &'a str,
    },
    /// The choice of providers (and the app's own login with `AUTH_METHOD=both`), for a
    /// browser without a session when there is a choice (`200`).
    #[non_exhaustive]
    Chooser {
        /// One link per way to sign in, in the configured order.
        options: &'a [PageLink],
    },
    /// After logout, when the provider's session could not be ended (`200`): the page must
    /// say that the user may still be signed in at the provider.
    #[non_exhaustive]
    SignedOut {
        /// The login route.
        login_url: &'a str,
    },
    /// A logout request from another site (`200`): a form that posts to `logout_url`, so
    /// that no other site can sign users out.
    #[non_exhaustive]
    LogoutConfirm {
        /// Where the form posts (`method="post"`, no fields).
        logout_url: &'a str,
    },
    /// `/auth/login/{slug}` with a slug no provider has (`404`).
    #[non_exhaustive]
    UnknownProvider {
        /// The slug asked for (at most 64 characters).
        slug: &'a str,
        /// The configured providers' login links.
        providers: &'a [PageLink],
    },
}

/// A link on one of the layer's pages.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PageLink {
    /// What the link says, for example "Sign in with Staff" (plain text).
    pub label: String,
    /// Where it goes: a same-origin path (with its query) or a configured URL (not escaped).
    pub href: String,
}

impl PageLink {
    pub(crate) fn new(label: impl Into<String>, href: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            href: href.into(),
        }
    }
}

/// The hook's function: a page's data in, its HTML body (or `None`) out.
type RenderFn = dyn Fn(&LayerPage<'_>) -> Option<String> + Send + Sync;

/// The page hook as the configuration keeps it.
#[derive(Clone)]
pub(crate) struct PageHook(Arc<RenderFn>);

impl PageHook {
    pub(crate) fn new(
        hook: impl Fn(&LayerPage<'_>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(hook))
    }

    /// The app's body for `page`, or `None` for the built-in one.
    pub(crate) fn render(&self, page: &LayerPage<'_>) -> Option<String> {
        (self.0)(page)
    }
}

impl fmt::Debug for PageHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PageHook")
    }
}

/// Escapes text for HTML element content and quoted attribute values: `&`, `<`, `>`, `"`
/// and `'` (OWASP Cross Site Scripting Prevention Cheat Sheet, rules 1 and 2). Not for
/// unquoted attributes, URLs in `javascript:` or `style` contexts, or script.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_both_quotes() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html("plain café"), "plain café");
    }
}
