//! Every provider's draft, validated, and the checks across providers: slugs and issuers
//! unique.

use url::Url;

use super::provider::{provider, Place};
use super::Problems;
use crate::config::builder::OidcConfigBuilder;
use crate::config::draft::ProviderDraft;
use crate::config::env::Keys;
use crate::config::types::IssuerUrl;
use crate::config::{ProviderConfig, ProviderRoute};

/// Every provider, validated: the numbered ones (each completed from the defaults draft), or
/// else the defaults draft alone. Then the checks across providers: slugs and issuers unique.
pub(super) fn providers(
    b: &mut OidcConfigBuilder,
    base_url: Option<&Url>,
    problems: &mut Problems,
) -> Vec<ProviderConfig> {
    let drafts = drafts(b, problems);
    // Numbered providers always get their own routes, so adding a second one later does not
    // change the first one's redirect URI.
    let several = drafts.len() > 1 || matches!(drafts.first(), Some((Keys::Numbered(_), _)));
    check_unique_slugs(&drafts, problems);
    let mut providers = Vec::with_capacity(drafts.len());
    for (keys, draft) in drafts {
        let callback_path = match (several, draft.slug.as_deref()) {
            (true, Some(slug)) => format!("{}/{}", b.callback_path, slug.trim()),
            _ => b.callback_path.clone(),
        };
        let url = |path: &str| {
            base_url.map(|base| format!("{}{path}", base.as_str().trim_end_matches('/')))
        };
        let redirect_uri = url(&callback_path);
        let backchannel_path = match (several, draft.slug.as_deref()) {
            (true, Some(slug)) => format!("{}/{}", b.backchannel_logout_path, slug.trim()),
            _ => b.backchannel_logout_path.clone(),
        };
        let backchannel_url = url(&backchannel_path);
        let place = Place {
            keys,
            callback_path,
            redirect_uri,
            backchannel_logout: backchannel_url.map(|url| ProviderRoute {
                path: backchannel_path,
                url,
            }),
            insecure_http_issuer: b.insecure_http_issuer,
        };
        if let Some(p) = provider(place, draft, problems) {
            providers.push(p);
        }
    }
    check_unique_issuers(&providers, problems);
    providers
}

/// The drafts to validate, each with the names of its settings.
fn drafts(b: &mut OidcConfigBuilder, problems: &mut Problems) -> Vec<(Keys, ProviderDraft)> {
    let defaults = std::mem::take(&mut b.defaults);
    if b.providers.is_empty() {
        return vec![(Keys::Single, defaults.single())];
    }
    for (suffix, set) in [
        ("ISSUER", defaults.issuer.is_some()),
        ("CLIENT_ID", defaults.client_id.is_some()),
        ("CLIENT_SECRET", defaults.client_secret.is_some()),
    ] {
        if set {
            problems.push(
                &Keys::Single.key(suffix),
                "is set together with numbered OIDC_PROVIDER_N_* providers: use one form; move it to OIDC_PROVIDER_1_*",
            );
        }
    }
    std::mem::take(&mut b.providers)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (Keys::Numbered(i + 1), p.inherit(&defaults)))
        .collect()
}

fn check_unique_slugs(drafts: &[(Keys, ProviderDraft)], problems: &mut Problems) {
    for (i, (keys, draft)) in drafts.iter().enumerate() {
        let slug = draft.slug.as_deref().map(str::trim);
        if let Some((earlier, _)) = drafts[..i]
            .iter()
            .find(|(_, d)| slug.is_some() && d.slug.as_deref().map(str::trim) == slug)
        {
            problems.push(
                &keys.key("SLUG"),
                format!(
                    "`{}` is already the slug of {}",
                    slug.unwrap_or_default(),
                    earlier.key("SLUG")
                ),
            );
        }
    }
}

fn check_unique_issuers(providers: &[ProviderConfig], problems: &mut Problems) {
    let same = |a: &IssuerUrl, b: &IssuerUrl| {
        a.as_str().trim_end_matches('/') == b.as_str().trim_end_matches('/')
    };
    for (i, p) in providers.iter().enumerate() {
        for earlier in &providers[..i] {
            if same(&earlier.issuer, &p.issuer) {
                problems.push(
                    &p.keys.key("ISSUER"),
                    format!(
                        "`{}` is also the issuer of {}: two providers with one issuer cannot be told apart, which defeats the mix-up defence (RFC 9700 4.4); configure the issuer once",
                        p.issuer,
                        earlier.keys.key("ISSUER")
                    ),
                );
            }
        }
    }
}
