//! The layer's own routes and the login redirect: [`run`] carries out a [`Route`] that is not a
//! pass-through. Each flow is its own module: [`login`] (to the provider), [`callback`] (back
//! from it), [`logout`]; [`backchannel_logout`] needs the request's body and is called by the
//! service directly.

use http::request::Parts;
use tracing::Instrument;

use crate::pages;
use crate::route::Route;
use crate::shared::Shared;

pub(crate) mod audit_trail;
pub(crate) mod backchannel_logout;
pub(crate) mod bearer;
pub(crate) mod callback;
pub(crate) mod ending;
pub(crate) mod form_body;
pub(crate) mod introspect;
pub(crate) mod login;
pub(crate) mod login_params;
pub(crate) mod logout;
pub(crate) mod origin;
pub(crate) mod refresh;
pub(crate) mod return_to;
pub(crate) mod throttle;

/// Carries out `route` (anything but [`Route::Pass`]) and returns the page to send.
pub(crate) async fn run(shared: &Shared, route: Route, parts: Parts) -> pages::Page {
    let config = &shared.config;
    let base = &config.base_url;
    if matches!(route, Route::Callback | Route::Login(_) | Route::Redirect) {
        if let Some(page) = throttle::refuse(shared, &parts) {
            return page;
        }
    }
    match route {
        Route::Callback => {
            let span = tracing::info_span!(target: "tower_oidc", "callback");
            callback::handle(shared, &parts).instrument(span).await
        }
        Route::Logout => logout::handle(shared, &parts).await,
        Route::Providers => pages::providers_json(config),
        Route::ClientJwks => pages::client_jwks(config),
        Route::UnknownProvider => {
            pages::unknown_provider(config, crate::route::app_uri(&parts).path())
        }
        Route::Login(Some(i)) => {
            let return_to = return_to::requested_return_to(base, &parts);
            let query = crate::route::app_uri(&parts).query();
            login::start(shared, &shared.providers[i], &parts, return_to, query).await
        }
        Route::Login(None) => {
            let return_to = return_to::requested_return_to(base, &parts);
            let query = crate::route::app_uri(&parts).query();
            if config.offers_choice() {
                let passed_on = login_params::passed_on(query);
                return pages::chooser(config, &return_to, &passed_on);
            }
            login::start(shared, shared.default_provider(), &parts, return_to, query).await
        }
        Route::Redirect => {
            let return_to = return_to::current_target(base, &parts);
            if config.offers_choice() {
                return pages::chooser(config, &return_to, "");
            }
            login::start(shared, shared.default_provider(), &parts, return_to, None).await
        }
        Route::StoreUnavailable => pages::store_unavailable(config),
        Route::ProviderUnavailable => pages::error_page(
            &crate::error::AuthError::new(
                crate::error::AuthErrorKind::ProviderUnreachable,
                "The identity provider cannot be reached to renew your session.",
            ),
            config,
        ),
        Route::RefreshRefused(err) => pages::error_page(&err, config),
        Route::Token(route) => bearer::page(route),
        // The service loads the session (`Load`) or hands the request to
        // `backchannel_logout::handle` with the body (`BackchannelLogout`); never here.
        Route::Unauthorized
        | Route::Pass { .. }
        | Route::Renew { .. }
        | Route::Load { .. }
        | Route::Refresh { .. }
        | Route::BackchannelLogout(_) => pages::unauthorized_json(&shared.config.login_path),
    }
}
