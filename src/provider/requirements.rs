//! What a provider's configuration requires against what its discovery document offers
//! (discovery decides what is possible, the configuration what is required): `form_post` among
//! `response_modes_supported`, a pushed authorization request endpoint for `REQUIRE_PAR` (or
//! for a provider that requires pushed requests), the client assertion's method and algorithm
//! among the token endpoint's. Each mismatch names the setting to change; the ones no login can
//! get past refuse the login, the others are warnings. Logged at the first discovery, refused at
//! each login, and reported by the doctor.

use super::discovery::Metadata;
use crate::config::{ProviderConfig, ResponseMode, TokenAuthMethod};

/// One thing the configuration asks for that the provider does not offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    /// The setting to change (`OIDC_RESPONSE_MODE`, `OIDC_PROVIDER_2_REQUIRE_PAR`, ...).
    pub(crate) key: String,
    /// What is wrong, naming the discovery field.
    pub(crate) message: String,
    /// Whether no login can succeed so (else the provider may still accept it).
    pub(crate) blocks_login: bool,
}

/// Every mismatch of `config` with `metadata`, the ones that block logins first.
pub(crate) fn mismatches(config: &ProviderConfig, metadata: &Metadata) -> Vec<Mismatch> {
    let key = |suffix: &str| config.keys.key(suffix);
    let mut found = Vec::new();
    let mut push = |key: String, blocks_login: bool, message: String| {
        found.push(Mismatch {
            key,
            message,
            blocks_login,
        });
    };
    if config.response_mode == ResponseMode::FormPost {
        if let Some(modes) = &metadata.response_modes {
            if !modes.iter().any(|m| m == "form_post") {
                push(
                    key("RESPONSE_MODE"),
                    true,
                    "is form_post, which the provider's response_modes_supported does not list: set it to query, or enable the form post response mode at the provider".into(),
                );
            }
        }
    }
    if metadata.par_endpoint.is_none() {
        if config.require_par {
            push(
                key("REQUIRE_PAR"),
                true,
                "is on, but the provider's discovery document names no pushed_authorization_request_endpoint: turn it off, or enable pushed authorization requests (RFC 9126) at the provider".into(),
            );
        } else if metadata.par_required {
            push(
                key("ISSUER"),
                true,
                "names a provider that requires pushed authorization requests but names no pushed_authorization_request_endpoint".into(),
            );
        }
    }
    if config.dpop && !super::dpop::offered(metadata) {
        push(
            key("DPOP"),
            false,
            format!(
                "is on, but the provider's dpop_signing_alg_values_supported does not list {} ({}): the calls go without DPoP proofs; turn it off, or enable DPoP at the provider",
                super::dpop::ALG,
                metadata.dpop_algs.join(", ")
            ),
        );
    }
    let method = match config.token_auth {
        TokenAuthMethod::PrivateKeyJwt => Some("private_key_jwt"),
        TokenAuthMethod::ClientSecretJwt => Some("client_secret_jwt"),
        _ => None,
    };
    if let Some(method) = method {
        if !metadata.token_auth_methods.iter().any(|m| m == method) {
            push(
                key("TOKEN_ENDPOINT_AUTH_METHOD"),
                false,
                format!(
                    "is {method}, which the provider's token_endpoint_auth_methods_supported does not list ({})",
                    metadata.token_auth_methods.join(", ")
                ),
            );
        }
        let alg = match (&config.client_assertion, config.token_auth) {
            (_, TokenAuthMethod::ClientSecretJwt) => {
                Some(("TOKEN_ENDPOINT_AUTH_METHOD", "HS256".to_owned()))
            }
            (Some(assertion), _) => {
                Some(("CLIENT_ASSERTION_ALG", format!("{:?}", assertion.key.alg)))
            }
            (None, _) => None,
        };
        if let (Some((suffix, alg)), Some(algs)) = (alg, &metadata.token_auth_signing_algs) {
            if !algs.contains(&alg) {
                push(
                    key(suffix),
                    false,
                    format!(
                        "signs the client assertion with {alg}, which the provider's token_endpoint_auth_signing_alg_values_supported does not list ({})",
                        algs.join(", ")
                    ),
                );
            }
        }
    }
    found.sort_by_key(|m| !m.blocks_login);
    found
}

/// The first mismatch that blocks logins, as the sentence a page shows.
pub(crate) fn blocking(config: &ProviderConfig, metadata: &Metadata) -> Option<String> {
    mismatches(config, metadata)
        .into_iter()
        .find(|m| m.blocks_login)
        .map(|m| format!("{} {}", m.key, m.message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OidcConfig;

    /// The one provider of a configuration `edit` completes.
    fn provider(
        edit: impl FnOnce(crate::OidcConfigBuilder) -> crate::OidcConfigBuilder,
    ) -> ProviderConfig {
        let builder = OidcConfig::builder()
            .with_issuer("https://id.example.com")
            .with_client_id("app")
            .with_client_secret("secret")
            .with_base_url("http://127.0.0.1:3000");
        edit(builder)
            .build()
            .expect("a valid test configuration")
            .providers[0]
            .clone()
    }

    fn metadata(edit: impl FnOnce(&mut Metadata)) -> Metadata {
        let url = |p: &str| url::Url::parse(&format!("https://id.example.com/{p}")).unwrap();
        let mut m = Metadata {
            authorization_endpoint: url("authorize"),
            token_endpoint: url("token"),
            userinfo_endpoint: None,
            jwks_uri: url("jwks"),
            end_session_endpoint: None,
            introspection_endpoint: None,
            revocation_endpoint: None,
            token_auth_methods: vec!["client_secret_basic".into(), "client_secret_jwt".into()],
            iss_parameter_supported: true,
            signing_algs: vec![],
            response_modes: Some(vec!["query".into(), "fragment".into()]),
            token_auth_signing_algs: Some(vec!["RS256".into()]),
            par_endpoint: None,
            par_required: false,
            userinfo_signing_algs: vec![],
            dpop_algs: vec![],
        };
        edit(&mut m);
        m
    }

    #[test]
    fn form_post_and_par_block_logins_an_algorithm_only_warns() {
        let config = &provider(|b| {
            b.with_response_mode(ResponseMode::FormPost)
                .require_par(true)
                .with_token_auth_method(TokenAuthMethod::ClientSecretJwt)
        });
        let found = mismatches(config, &metadata(|_| {}));
        let keys: Vec<(&str, bool)> = found
            .iter()
            .map(|m| (m.key.as_str(), m.blocks_login))
            .collect();
        assert_eq!(
            keys,
            [
                ("OIDC_RESPONSE_MODE", true),
                ("OIDC_REQUIRE_PAR", true),
                ("OIDC_TOKEN_ENDPOINT_AUTH_METHOD", false),
            ]
        );
        assert!(found[2].message.contains("HS256"), "{:?}", found[2]);
        let blocked = blocking(config, &metadata(|_| {})).unwrap();
        assert!(
            blocked.starts_with("OIDC_RESPONSE_MODE is form_post"),
            "{blocked}"
        );

        let offered = metadata(|m| {
            m.response_modes = None;
            m.par_endpoint = Some(url::Url::parse("https://id.example.com/par").unwrap());
            m.token_auth_signing_algs = Some(vec!["HS256".into()]);
        });
        assert_eq!(mismatches(config, &offered), []);

        let required = metadata(|m| m.par_required = true);
        let found = mismatches(&provider(|b| b), &required);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "OIDC_ISSUER_URL");
        assert!(found[0].blocks_login);
    }

    #[test]
    fn dpop_without_es256_in_discovery_warns_naming_the_setting() {
        let config = &provider(|b| b.dpop(true));
        let found = mismatches(config, &metadata(|m| m.dpop_algs = vec!["PS256".into()]));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "OIDC_DPOP");
        assert!(!found[0].blocks_login);
        assert!(found[0].message.contains("ES256"), "{:?}", found[0]);
        let offered = metadata(|m| m.dpop_algs = vec!["ES256".into()]);
        assert_eq!(mismatches(config, &offered), []);
        assert_eq!(mismatches(&provider(|b| b), &metadata(|_| {})), []);
    }
}
