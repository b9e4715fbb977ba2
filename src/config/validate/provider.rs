//! One provider's draft into its [`ProviderConfig`]: the issuer, the client, the scopes, the
//! claim names and the access rules, each setting named by its provider's keys.

use std::sync::Arc;

use super::{boolean, Problems};
use crate::config::draft::{ProviderDraft, DEFAULT_SCOPE};
use crate::config::env::Keys;
use crate::config::types::{
    ClaimNames, ClientId, ClientSecret, IssuerUrl, ProviderSlug, TokenAuthMethod,
};
use crate::config::{ProviderConfig, ProviderRoute};
use crate::policy::{AccessRules, ClaimPath, DomainPattern, Policy, RoleMap};

/// Where a provider sits: how its settings are named, and its routes.
#[derive(Debug)]
pub(super) struct Place {
    pub(super) keys: Keys,
    pub(super) callback_path: String,
    /// `None` when `BASE_URL` is unusable (reported already).
    pub(super) redirect_uri: Option<String>,
    /// The back-channel logout route, if it is turned on; `None` as for `redirect_uri`.
    pub(super) backchannel_logout: Option<ProviderRoute>,
    pub(super) insecure_http_issuer: bool,
}

/// Validates one provider's draft, already completed from the defaults; a setting it leaves
/// unset takes its documented default.
pub(super) fn provider(
    place: Place,
    draft: ProviderDraft,
    problems: &mut Problems,
) -> Option<ProviderConfig> {
    let keys = place.keys;
    let key = |suffix: &str| keys.key(suffix);
    // Named field by field, so that a new field cannot be forgotten here.
    let ProviderDraft {
        name,
        slug,
        issuer,
        client_id,
        client_secret,
        scope,
        username_claim,
        email_claim,
        groups_claim,
        full_name_claim,
        allowed_email_domains,
        admin_group,
        admin_emails,
        admin_email_domains,
        token_auth,
        auto_provision,
        backchannel_logout,
        trusted_audiences,
        role_map,
        userinfo,
        api_audience,
        api_require_at_jwt,
        api_introspection_cache,
        resource,
        prompt,
        max_age,
        acr_values,
        require_acr,
        ui_locales,
        response_mode,
        client_assertion_key_file,
        client_assertion_alg,
        client_assertion_audience,
        require_par,
        dpop,
    } = draft;

    let issuer = self::issuer(issuer, place.insecure_http_issuer, &key("ISSUER"), problems);
    let client_id = self::client_id(client_id, &key("CLIENT_ID"), problems);
    let (client_secret, token_auth) = client_auth(client_secret, token_auth, keys, problems);
    let client_assertion = crate::config::client_assertion::validate(
        client_assertion_key_file.as_deref(),
        client_assertion_alg.as_deref(),
        client_assertion_audience.as_deref(),
        token_auth == TokenAuthMethod::PrivateKeyJwt,
        |suffix, message| problems.push(&key(suffix), message),
    );
    let token_auth = crate::config::client_assertion::method(token_auth, client_assertion.as_ref());
    let response_mode = crate::config::response_mode::validate(response_mode, |m| {
        problems.push(&key("RESPONSE_MODE"), m)
    });
    let require_par = boolean(require_par, false, &key("REQUIRE_PAR"), problems);
    let dpop = boolean(dpop, false, &key("DPOP"), problems);
    let auto_provision = boolean(auto_provision, true, &key("AUTO_PROVISION"), problems);
    let backchannel_logout = boolean(
        backchannel_logout,
        false,
        &key("BACKCHANNEL_LOGOUT"),
        problems,
    );
    let scope = self::scope(scope.as_deref(), &key("SCOPE"), problems);
    let api = super::api::api(
        api_audience,
        api_require_at_jwt,
        api_introspection_cache,
        keys,
        problems,
    );
    let slug = self::slug(slug.as_deref(), &key("SLUG"), problems);
    let resource = super::api::resource(resource, &key("RESOURCE"), problems);
    let (login, require_acr) = crate::config::login_params::validate(
        prompt.as_deref(),
        max_age,
        acr_values.as_deref(),
        require_acr,
        ui_locales.as_deref(),
        |suffix, message| problems.push(&key(suffix), message),
    );

    let defaults = ClaimNames::default();
    let claims = ClaimNames {
        username: username_claim.unwrap_or(defaults.username),
        email: email_claim.unwrap_or(defaults.email),
        groups: groups_claim.unwrap_or(defaults.groups),
        full_name: full_name_claim.unwrap_or(defaults.full_name),
    };
    let groups_claim = check_claims(&claims, keys, problems);

    let access = AccessRules {
        allowed_email_domains: domains(
            allowed_email_domains,
            &key("ALLOWED_EMAIL_DOMAINS"),
            problems,
        ),
        admin_email_domains: domains(admin_email_domains, &key("ADMIN_EMAIL_DOMAINS"), problems),
        admin_emails: self::admin_emails(admin_emails, &key("ADMIN_EMAILS"), problems),
        admin_group: self::admin_group(admin_group.as_deref(), &key("ADMIN_GROUP"), problems),
    };
    let roles = self::role_map(role_map, groups_claim.as_ref());

    let name = name
        .filter(|n| !n.trim().is_empty())
        .or_else(|| slug.as_ref().map(|s| s.as_str().to_owned()))?;
    Some(ProviderConfig {
        keys,
        name,
        slug: slug?,
        issuer: issuer?,
        client_id: client_id?,
        client_secret,
        scope,
        policy: Policy {
            access,
            roles,
            groups_claim: groups_claim?,
            email_claim: claims.email.clone(),
        },
        claims,
        userinfo: userinfo.unwrap_or_default(),
        token_auth,
        trusted_audiences,
        auto_provision,
        api,
        resource,
        login,
        require_acr,
        callback_path: place.callback_path,
        redirect_uri: place.redirect_uri?,
        backchannel_logout: place.backchannel_logout.filter(|_| backchannel_logout),
        response_mode,
        client_assertion,
        require_par,
        dpop,
    })
}

fn issuer(
    raw: Option<String>,
    allow_http: bool,
    key: &str,
    problems: &mut Problems,
) -> Option<IssuerUrl> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => {
            problems.push(
                key,
                "is not set; use the provider's issuer URL, e.g. https://login.example.com/realms/main",
            );
            None
        }
        Some(raw) => IssuerUrl::parse(raw, allow_http)
            .map_err(|e| problems.push(key, e))
            .ok(),
    }
}

/// The client secret (a blank one is a mistake) and the token endpoint auth method (one other
/// than `auto` needs a secret).
fn client_auth(
    secret: Option<String>,
    method: Option<Result<TokenAuthMethod, String>>,
    keys: Keys,
    problems: &mut Problems,
) -> (Option<ClientSecret>, TokenAuthMethod) {
    let secret = secret.map(ClientSecret);
    if secret
        .as_ref()
        .is_some_and(|s| s.expose().trim().is_empty())
    {
        problems.push(
            &keys.key("CLIENT_SECRET"),
            "is empty; leave it unset for a public client",
        );
    }
    let method = match method.unwrap_or(Ok(TokenAuthMethod::Auto)) {
        Ok(m) => m,
        Err(raw) => {
            problems.push(
                &keys.key("TOKEN_ENDPOINT_AUTH_METHOD"),
                format!("`{raw}` is not one of auto, client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt"),
            );
            TokenAuthMethod::Auto
        }
    };
    let keyed = matches!(
        method,
        TokenAuthMethod::Auto | TokenAuthMethod::PrivateKeyJwt
    );
    if !keyed && secret.is_none() {
        problems.push(
            &keys.key("CLIENT_SECRET"),
            "is required by the configured token endpoint auth method",
        );
    }
    (secret, method)
}

fn client_id(raw: Option<String>, key: &str, problems: &mut Problems) -> Option<ClientId> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => {
            problems.push(
                key,
                "is not set; use the client id registered at the provider",
            );
            None
        }
        Some(id) if id.chars().any(char::is_control) => {
            problems.push(key, "contains control characters");
            None
        }
        Some(id) => Some(ClientId(id.to_owned())),
    }
}

/// The scopes, normalised to single spaces; they must contain `openid`.
fn scope(raw: Option<&str>, key: &str, problems: &mut Problems) -> String {
    let raw = raw.unwrap_or(DEFAULT_SCOPE);
    let scopes: Vec<&str> = raw.split_whitespace().collect();
    if !scopes.contains(&"openid") {
        problems.push(key, format!("must contain `openid` (got `{}`)", raw.trim()));
    }
    if scopes
        .iter()
        .any(|s| s.chars().any(|c| c.is_control() || c == '"' || c == '\\'))
    {
        problems.push(
            key,
            "contains characters not allowed in a scope (RFC 6749 3.3)",
        );
    }
    scopes.join(" ")
}

fn slug(raw: Option<&str>, key: &str, problems: &mut Problems) -> Option<ProviderSlug> {
    let Some(raw) = raw else {
        problems.push(
            key,
            "is not set; every numbered provider needs a slug (its routes are /auth/login/{slug} and /auth/callback/{slug})",
        );
        return None;
    };
    ProviderSlug::parse(raw.trim())
        .map_err(|e| problems.push(key, e))
        .ok()
}

/// Every claim name is set; the groups claim is a valid path (returned).
fn check_claims(claims: &ClaimNames, keys: Keys, problems: &mut Problems) -> Option<ClaimPath> {
    for (suffix, claim) in [
        ("USERNAME_CLAIM", &claims.username),
        ("EMAIL_CLAIM", &claims.email),
        ("GROUPS_CLAIM", &claims.groups),
        ("FULL_NAME_CLAIM", &claims.full_name),
    ] {
        if claim.trim().is_empty() {
            problems.push(&keys.key(suffix), "must name a claim");
        }
    }
    ClaimPath::new(&claims.groups)
        .map_err(|e| problems.push(&keys.key("GROUPS_CLAIM"), e))
        .ok()
}

fn domains(list: Option<Vec<String>>, key: &str, problems: &mut Problems) -> Vec<DomainPattern> {
    list.unwrap_or_default()
        .iter()
        .filter_map(|d| {
            DomainPattern::parse(d)
                .map_err(|e| problems.push(key, e))
                .ok()
        })
        .collect()
}

/// The admin emails, lowercased.
fn admin_emails(list: Option<Vec<String>>, key: &str, problems: &mut Problems) -> Vec<String> {
    let mut emails = Vec::new();
    for email in list.iter().flatten() {
        let email = email.trim();
        match email.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                emails.push(email.to_lowercase())
            }
            _ => problems.push(key, format!("`{email}` is not an email address")),
        }
    }
    emails
}

fn admin_group(raw: Option<&str>, key: &str, problems: &mut Problems) -> Option<String> {
    match raw.map(str::trim) {
        Some("") => {
            problems.push(key, "must name a group");
            None
        }
        other => other.map(str::to_owned),
    }
}

/// The role map reads the provider's groups claim unless it names its own.
fn role_map(map: Option<RoleMap>, groups_claim: Option<&ClaimPath>) -> Option<Arc<RoleMap>> {
    map.map(|mut map| {
        if let (true, Some(groups)) = (map.claim_is_default(), groups_claim) {
            map.set_claim(groups.clone());
        }
        Arc::new(map)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::types::TokenAuthMethod;

    fn place(keys: Keys) -> Place {
        Place {
            keys,
            callback_path: "/auth/callback/staff".into(),
            redirect_uri: Some("https://app.example.com/auth/callback/staff".into()),
            backchannel_logout: None,
            insecure_http_issuer: false,
        }
    }

    #[test]
    fn one_draft_becomes_a_provider_with_the_defaults_filled_in() {
        let draft = ProviderDraft {
            slug: Some(" staff ".into()),
            issuer: Some(" https://id.example.com ".into()),
            client_id: Some("app".into()),
            scope: Some("  openid   groups ".into()),
            admin_emails: Some(vec!["Boss@Example.com".into()]),
            admin_group: Some(" admins ".into()),
            role_map: Some(
                RoleMap::builder()
                    .add_rule("admins", "app_admin")
                    .build()
                    .unwrap(),
            ),
            groups_claim: Some("realm_access.roles".into()),
            ..ProviderDraft::default()
        };
        let mut problems = Problems::default();
        let p = provider(place(Keys::Numbered(2)), draft, &mut problems).unwrap();
        assert!(problems.0.is_empty(), "{:?}", problems.0);
        assert_eq!(p.slug.as_str(), "staff");
        assert_eq!(p.name, "staff", "the name defaults to the slug");
        assert_eq!(p.issuer.as_str(), "https://id.example.com");
        assert_eq!(p.scope, "openid groups");
        assert_eq!(p.claims.username, "preferred_username");
        assert_eq!(p.token_auth, TokenAuthMethod::Auto);
        assert!(p.auto_provision);
        assert_eq!(p.policy.access.admin_emails, ["boss@example.com"]);
        assert_eq!(p.policy.access.admin_group.as_deref(), Some("admins"));
        assert_eq!(
            p.policy.roles.as_deref().unwrap().claim().as_str(),
            "realm_access.roles",
            "the role map follows the groups claim"
        );
        assert_eq!(
            p.redirect_uri,
            "https://app.example.com/auth/callback/staff"
        );
    }

    #[test]
    fn one_draft_reports_every_problem_under_its_own_names() {
        let draft = ProviderDraft {
            issuer: Some("http://id.example.com".into()),
            client_id: Some("a\u{1}b".into()),
            client_secret: Some(" ".into()),
            scope: Some("profile".into()),
            token_auth: Some(Err("private_key_jwt".into())),
            auto_provision: Some(Err("maybe".into())),
            groups_claim: Some("a..b".into()),
            admin_group: Some(" ".into()),
            admin_emails: Some(vec!["nope".into()]),
            allowed_email_domains: Some(vec!["exa mple.org".into()]),
            ..ProviderDraft::default()
        };
        let mut problems = Problems::default();
        assert!(provider(place(Keys::Numbered(3)), draft.clone(), &mut problems).is_none());
        let keys: Vec<&str> = problems.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "OIDC_PROVIDER_3_ISSUER",
                "OIDC_PROVIDER_3_CLIENT_ID",
                "OIDC_PROVIDER_3_CLIENT_SECRET",
                "OIDC_PROVIDER_3_TOKEN_ENDPOINT_AUTH_METHOD",
                "OIDC_PROVIDER_3_AUTO_PROVISION",
                "OIDC_PROVIDER_3_SCOPE",
                "OIDC_PROVIDER_3_SLUG",
                "OIDC_PROVIDER_3_GROUPS_CLAIM",
                "OIDC_PROVIDER_3_ALLOWED_EMAIL_DOMAINS",
                "OIDC_PROVIDER_3_ADMIN_EMAILS",
                "OIDC_PROVIDER_3_ADMIN_GROUP",
            ]
        );

        let mut problems = Problems::default();
        let _ = provider(place(Keys::Single), draft.single(), &mut problems);
        let keys: Vec<&str> = problems.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "OIDC_ISSUER_URL",
                "OIDC_CLIENT_ID",
                "OIDC_CLIENT_SECRET",
                "OIDC_TOKEN_ENDPOINT_AUTH_METHOD",
                "OIDC_AUTO_PROVISION",
                "OIDC_SCOPE",
                "OIDC_GROUPS_CLAIM",
                "OIDC_ALLOWED_EMAIL_DOMAINS",
                "OIDC_ADMIN_EMAILS",
                "OIDC_ADMIN_GROUP",
            ]
        );
    }
}
