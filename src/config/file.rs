//! The TOML configuration file named by `OIDC_CONFIG_FILE`.
//!
//! ```toml
//! # Everything a variable can say, under its name without the `OIDC_` prefix, lowercase:
//! issuer_url = "https://login.example.com/realms/staff"
//! client_id = "reports"
//! client_secret = "..."        # or leave secrets to the environment
//! base_url = "https://reports.example.com"
//! scope = "openid profile email"
//! provider_name = "Staff SSO"
//! provider_slug = "staff"
//! post_logout_redirect_uri = "https://reports.example.com/"
//! token_endpoint_auth_method = "auto"
//! auth_method = "oidc"         # AUTH_METHOD
//! auto_provision = true        # OIDC_AUTO_PROVISION
//! prompt = "select_account"    # OIDC_PROMPT, and the other login parameters:
//! max_age = 3600               # OIDC_MAX_AGE (seconds)
//! acr_values = "urn:example:mfa"
//! require_acr = true           # OIDC_REQUIRE_ACR
//! ui_locales = "de-CH fr"
//! backchannel_logout = true    # OIDC_BACKCHANNEL_LOGOUT
//! response_mode = "form_post"  # OIDC_RESPONSE_MODE (default "query")
//! require_par = true           # OIDC_REQUIRE_PAR: pushed authorization requests
//! dpop = true                  # OIDC_DPOP: sender-constrained tokens (RFC 9449)
//! client_assertion_key_file = "/run/secrets/client-key.pem"  # private_key_jwt
//! client_assertion_alg = "PS256"                  # OIDC_CLIENT_ASSERTION_ALG
//! client_assertion_audience = "issuer"            # OIDC_CLIENT_ASSERTION_AUDIENCE
//! jwks_path = "/auth/jwks"     # OIDC_JWKS_PATH: serve the client's public keys
//! public_paths = ["/healthz", "/static/"]
//!
//! # Or several providers instead of issuer_url/client_id/client_secret (OIDC_PROVIDER_N_*):
//! # [[providers]]
//! # slug = "staff"
//! # name = "Staff SSO"
//! # issuer = "https://login.example.com/realms/staff"
//! # client_id = "reports"
//! # client_secret = "..."
//! # scope = "openid profile email groups"
//! # token_endpoint_auth_method = "client_secret_post"
//! # auto_provision = false
//! # backchannel_logout = true
//! # claims = { groups = "realm_access.roles" }
//! # access = { allowed_email_domains = ["example.com"] }
//!
//! [claims]                     # the OIDC_*_CLAIM variables
//! username = "preferred_username"
//! email = "email"
//! groups = "groups"            # a dotted path reaches nested claims: "realm_access.roles"
//! full_name = "name"
//!
//! [access]                     # the OIDC_ALLOWED_* and OIDC_ADMIN_* variables
//! allowed_email_domains = ["example.com", "*.example.org"]
//! admin_group = "admins"
//! admin_emails = ["boss@example.com"]
//! admin_email_domains = ["ops.example.com"]
//!
//! [roles]                      # the role map: only here or through the builder
//! claim = "groups"
//! default = "viewer"
//! ignore_case = false
//! strip_leading_slash = false
//! [[roles.rule]]
//! group = "admins"
//! role = "app_admin"
//! ```
//!
//! Every key is optional; an unknown key is an error that names it. An environment variable
//! set to a non-empty value wins over the file's value for the same setting.

use serde::Deserialize;
use toml::Spanned;

use super::draft::ProviderDraft;
use super::types::TokenAuthMethod;
use crate::error::ConfigProblem;
use crate::policy::{RoleMap, RoleSource, RuleLines};

/// The file's contents, before validation. No `Debug`: it may hold secrets.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub(crate) issuer_url: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) base_url: Option<String>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) provider_name: Option<String>,
    pub(crate) provider_slug: Option<String>,
    pub(crate) post_logout_redirect_uri: Option<String>,
    pub(crate) token_endpoint_auth_method: Option<String>,
    pub(crate) cookie_key: Option<String>,
    /// `OIDC_COOKIE_KEYS_OLD` as a list.
    pub(crate) cookie_keys_old: Option<Vec<String>>,
    pub(crate) auth_method: Option<String>,
    pub(crate) auto_provision: Option<bool>,
    pub(crate) api_audience: Option<String>,
    pub(crate) api_require_at_jwt: Option<bool>,
    /// `OIDC_API_INTROSPECTION_CACHE`, in seconds.
    pub(crate) api_introspection_cache: Option<u64>,
    /// `OIDC_RESOURCE`.
    pub(crate) resource: Option<String>,
    pub(crate) prompt: Option<String>,
    pub(crate) max_age: Option<u64>,
    pub(crate) acr_values: Option<String>,
    pub(crate) require_acr: Option<bool>,
    pub(crate) ui_locales: Option<String>,
    pub(crate) backchannel_logout: Option<bool>,
    pub(crate) response_mode: Option<String>,
    pub(crate) client_assertion_key_file: Option<String>,
    pub(crate) client_assertion_alg: Option<String>,
    pub(crate) client_assertion_audience: Option<String>,
    pub(crate) require_par: Option<bool>,
    pub(crate) dpop: Option<bool>,
    /// `OIDC_JWKS_PATH` (app-wide).
    pub(crate) jwks_path: Option<String>,
    pub(crate) public_paths: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) providers: Vec<FileProvider>,
    #[serde(default)]
    pub(crate) claims: FileClaims,
    #[serde(default)]
    pub(crate) access: FileAccess,
    pub(crate) roles: Option<FileRoles>,
    /// `OIDC_SESSION_STORE` and the session's lengths (`session_store.rs`); the lengths in
    /// seconds.
    pub(crate) session_store: Option<String>,
    pub(crate) session_store_staleness: Option<u64>,
    pub(crate) session_idle_timeout: Option<u64>,
    pub(crate) session_lifetime: Option<u64>,
    /// `OIDC_REFRESH`, its margin and grace in seconds (`refresh.rs`).
    pub(crate) refresh: Option<bool>,
    pub(crate) refresh_margin: Option<u64>,
    pub(crate) refresh_grace: Option<u64>,
}

/// One `[[providers]]` entry. No `Debug`: it may hold a secret.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileProvider {
    pub(crate) slug: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) token_endpoint_auth_method: Option<String>,
    pub(crate) auto_provision: Option<bool>,
    pub(crate) api_audience: Option<String>,
    pub(crate) api_require_at_jwt: Option<bool>,
    pub(crate) api_introspection_cache: Option<u64>,
    pub(crate) resource: Option<String>,
    pub(crate) prompt: Option<String>,
    pub(crate) max_age: Option<u64>,
    pub(crate) acr_values: Option<String>,
    pub(crate) require_acr: Option<bool>,
    pub(crate) ui_locales: Option<String>,
    pub(crate) backchannel_logout: Option<bool>,
    pub(crate) response_mode: Option<String>,
    pub(crate) client_assertion_key_file: Option<String>,
    pub(crate) client_assertion_alg: Option<String>,
    pub(crate) client_assertion_audience: Option<String>,
    pub(crate) require_par: Option<bool>,
    pub(crate) dpop: Option<bool>,
    #[serde(default)]
    pub(crate) claims: FileClaims,
    #[serde(default)]
    pub(crate) access: FileAccess,
    /// The provider's own role map, instead of the global `[roles]`.
    pub(crate) roles: Option<FileRoles>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileClaims {
    pub(crate) username: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) groups: Option<String>,
    pub(crate) full_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileAccess {
    pub(crate) allowed_email_domains: Option<Vec<String>>,
    pub(crate) admin_group: Option<String>,
    pub(crate) admin_emails: Option<Vec<String>>,
    pub(crate) admin_email_domains: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRoles {
    claim: Option<Spanned<String>>,
    default: Option<Spanned<String>>,
    #[serde(default)]
    ignore_case: bool,
    #[serde(default)]
    strip_leading_slash: bool,
    #[serde(default)]
    rule: Vec<FileRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    group: Spanned<String>,
    role: Spanned<String>,
}

impl FileConfig {
    /// The top-level per-provider keys (`issuer_url`, `scope`, `[claims]`, `[access]`, ...)
    /// as a `[[providers]]` entry: the defaults draft's part of the file. The top-level
    /// `[roles]` is parsed separately ([`Parsed::roles`]).
    pub(crate) fn take_defaults(&mut self) -> FileProvider {
        FileProvider {
            slug: self.provider_slug.take(),
            name: self.provider_name.take(),
            issuer: self.issuer_url.take(),
            client_id: self.client_id.take(),
            client_secret: self.client_secret.take(),
            scope: self.scope.take(),
            token_endpoint_auth_method: self.token_endpoint_auth_method.take(),
            auto_provision: self.auto_provision.take(),
            api_audience: self.api_audience.take(),
            api_require_at_jwt: self.api_require_at_jwt.take(),
            api_introspection_cache: self.api_introspection_cache.take(),
            resource: self.resource.take(),
            prompt: self.prompt.take(),
            max_age: self.max_age.take(),
            acr_values: self.acr_values.take(),
            require_acr: self.require_acr.take(),
            ui_locales: self.ui_locales.take(),
            backchannel_logout: self.backchannel_logout.take(),
            response_mode: self.response_mode.take(),
            client_assertion_key_file: self.client_assertion_key_file.take(),
            client_assertion_alg: self.client_assertion_alg.take(),
            client_assertion_audience: self.client_assertion_audience.take(),
            require_par: self.require_par.take(),
            dpop: self.dpop.take(),
            claims: std::mem::take(&mut self.claims),
            access: std::mem::take(&mut self.access),
            roles: None,
        }
    }
}

impl FileProvider {
    /// Writes every key this entry sets into `draft`, with `roles` its parsed role map; a key
    /// left out keeps the draft's value.
    pub(crate) fn fill(self, draft: &mut ProviderDraft, roles: Option<RoleMap>) {
        fn set<T>(slot: &mut Option<T>, value: Option<T>) {
            if value.is_some() {
                *slot = value;
            }
        }
        set(&mut draft.slug, self.slug);
        set(&mut draft.name, self.name);
        set(&mut draft.issuer, self.issuer);
        set(&mut draft.client_id, self.client_id);
        set(&mut draft.client_secret, self.client_secret);
        set(&mut draft.scope, self.scope);
        let token_auth = self.token_endpoint_auth_method;
        set(
            &mut draft.token_auth,
            token_auth.map(|m| TokenAuthMethod::parse(&m).ok_or(m)),
        );
        set(&mut draft.auto_provision, self.auto_provision.map(Ok));
        set(&mut draft.api_audience, self.api_audience);
        set(
            &mut draft.api_require_at_jwt,
            self.api_require_at_jwt.map(Ok),
        );
        set(
            &mut draft.api_introspection_cache,
            self.api_introspection_cache.map(Ok),
        );
        set(&mut draft.resource, self.resource);
        set(&mut draft.prompt, self.prompt);
        set(&mut draft.max_age, self.max_age.map(Ok));
        set(&mut draft.acr_values, self.acr_values);
        set(&mut draft.require_acr, self.require_acr.map(Ok));
        set(&mut draft.ui_locales, self.ui_locales);
        set(
            &mut draft.backchannel_logout,
            self.backchannel_logout.map(Ok),
        );
        set(
            &mut draft.response_mode,
            self.response_mode.map(|m| super::ResponseMode::parse(&m)),
        );
        set(
            &mut draft.client_assertion_key_file,
            self.client_assertion_key_file,
        );
        set(&mut draft.client_assertion_alg, self.client_assertion_alg);
        set(
            &mut draft.client_assertion_audience,
            self.client_assertion_audience,
        );
        set(&mut draft.require_par, self.require_par.map(Ok));
        set(&mut draft.dpop, self.dpop.map(Ok));
        set(&mut draft.username_claim, self.claims.username);
        set(&mut draft.email_claim, self.claims.email);
        set(&mut draft.groups_claim, self.claims.groups);
        set(&mut draft.full_name_claim, self.claims.full_name);
        let access = self.access;
        set(
            &mut draft.allowed_email_domains,
            access.allowed_email_domains,
        );
        set(&mut draft.admin_group, access.admin_group);
        set(&mut draft.admin_emails, access.admin_emails);
        set(&mut draft.admin_email_domains, access.admin_email_domains);
        set(&mut draft.role_map, roles);
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The parsed file: its settings, the global role map, and each `[[providers]]` entry's own.
pub(crate) struct Parsed {
    pub(crate) file: FileConfig,
    pub(crate) roles: Option<RoleMap>,
    pub(crate) provider_roles: Vec<Option<RoleMap>>,
}

/// A TOML error without the offending value: serde's "invalid type: string \"...\", expected
/// ..." would echo whatever was written, a secret included. The value may itself contain
/// `, expected` or quotes, so the expectation is taken from the end (it is ours: a type name).
fn without_value(message: &str) -> String {
    for marker in ["invalid type: ", "invalid value: "] {
        let Some(at) = message.find(marker) else {
            continue;
        };
        let rest = &message[at + marker.len()..];
        // `string "..."`, `integer `3``, `floating point `1.5``, `sequence`, `map`, ...
        let kind = rest[..rest.find(['"', '`', ',']).unwrap_or(rest.len())].trim_end();
        let expected = rest.rfind(", expected ").map_or("", |i| &rest[i..]);
        return format!("{}{marker}{kind}{expected}", &message[..at]);
    }
    message.to_owned()
}

/// Parses the file; `name` (its path) goes into every message.
pub(crate) fn parse(name: &str, text: &str) -> Result<Parsed, Vec<ConfigProblem>> {
    let mut file: FileConfig = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(" line {}", line_of(text, s.start)))
            .unwrap_or_default();
        vec![ConfigProblem {
            key: "OIDC_CONFIG_FILE".into(),
            message: format!("in {name}{at}: {}", without_value(e.message().trim_end())),
        }]
    })?;
    let mut problems = Vec::new();
    let mut convert = |roles: Option<FileRoles>, prefix: String| {
        let roles = roles?;
        match role_map(name, text, roles, prefix) {
            Ok(map) => Some(map),
            Err(p) => {
                problems.extend(p);
                None
            }
        }
    };
    let roles = convert(file.roles.take(), "roles".into());
    let provider_roles = file
        .providers
        .iter_mut()
        .enumerate()
        .map(|(i, p)| convert(p.roles.take(), format!("providers[{}].roles", i + 1)))
        .collect();
    if problems.is_empty() {
        Ok(Parsed {
            file,
            roles,
            provider_roles,
        })
    } else {
        Err(problems)
    }
}

fn role_map(
    name: &str,
    text: &str,
    roles: FileRoles,
    prefix: String,
) -> Result<RoleMap, Vec<ConfigProblem>> {
    let line = |s: &Spanned<String>| Some(line_of(text, s.span().start));
    let source = RoleSource {
        file: Some(name.to_owned()),
        claim_line: roles.claim.as_ref().and_then(line),
        default_line: roles.default.as_ref().and_then(line),
        prefix: Some(prefix),
    };
    let lines: Vec<Option<RuleLines>> = roles
        .rule
        .iter()
        .map(|r| {
            Some(RuleLines {
                group: line(&r.group),
                role: line(&r.role),
            })
        })
        .collect();
    let mut builder = RoleMap::builder()
        .ignore_case(roles.ignore_case)
        .strip_leading_slash(roles.strip_leading_slash);
    if let Some(claim) = roles.claim {
        builder = builder.with_claim(claim.into_inner());
    }
    if let Some(default) = roles.default {
        builder = builder.with_default_role(default.into_inner());
    }
    for rule in roles.rule {
        builder = builder.add_rule(rule.group.into_inner(), rule.role.into_inner());
    }
    builder
        .build_with(&source, &lines)
        .map_err(|e| e.problems().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shape() {
        let Parsed { file, roles, .. } = parse(
            "oidc.toml",
            r#"
[claims]
groups = "realm_access.roles"

[access]
allowed_email_domains = ["example.com"]
admin_group = "admins"

[roles]
claim = "groups"          # claim holding the groups
default = "viewer"
[[roles.rule]]
group = "admins"
role = "app_admin"
[[roles.rule]]
group = "readers"
role = "app_reader"
"#,
        )
        .unwrap();
        assert_eq!(file.claims.groups.as_deref(), Some("realm_access.roles"));
        assert_eq!(file.access.admin_group.as_deref(), Some("admins"));
        let roles = roles.unwrap();
        assert_eq!(roles.rules().len(), 2);
        assert_eq!(roles.rules()[1].role().as_str(), "app_reader");
        assert_eq!(roles.default_role().unwrap().as_str(), "viewer");
        assert_eq!(roles.claim().as_str(), "groups");
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let err = parse(
            "/etc/app/oidc.toml",
            "[roles]\ndefault = \"v\"\ncolour = \"x\"\n",
        )
        .err()
        .unwrap();
        let text = err[0].to_string();
        assert!(text.contains("/etc/app/oidc.toml line 3"), "{text}");
        assert!(text.contains("colour"), "{text}");
        let err = parse(
            "f.toml",
            "[[roles.rule]]\ngroup = \"a\"\nrole = \"b\"\nweight = 1\n",
        )
        .err()
        .unwrap();
        assert!(err[0].to_string().contains("weight"), "{}", err[0]);
        let err = parse("f.toml", "[rolez]\n").err().unwrap();
        assert!(err[0].to_string().contains("rolez"), "{}", err[0]);
    }

    #[test]
    fn bad_rules_name_the_file_key_line_and_reason() {
        let text = "[roles]\nclaim = \"sub.groups\"\n[[roles.rule]]\ngroup = \"admins\"\nrole = \"a\"\n\
                    [[roles.rule]]\ngroup = \"admins\"\nrole = \"b\"\n[[roles.rule]]\ngroup = \"x\"\n\
                    role = \"bad\\u0000name\"\n";
        let err = parse("roles.toml", text).err().unwrap();
        let all: Vec<String> = err.iter().map(ToString::to_string).collect();
        let find = |key: &str| {
            all.iter()
                .find(|p| p.starts_with(key))
                .unwrap_or_else(|| panic!("{key} not in {all:?}"))
                .clone()
        };
        assert!(find("roles.claim").contains("roles.toml line 2"));
        let dup = find("roles.rule[2].group");
        assert!(dup.contains("line 7") && dup.contains("duplicate"), "{dup}");
        let nul = find("roles.rule[3].role");
        assert!(nul.contains("line 11") && nul.contains("NUL"), "{nul}");
    }

    #[test]
    fn type_errors_never_quote_the_value() {
        // Found by the role_map_file fuzzer: a value holding `expected` was partly echoed.
        for text in [
            "auto_provision = \"u\\u0000texpectedve?\\u0000v4lu3-Mk2Qz\"\n",
            "public_paths = \"my, expected value v4lu3-Mk2Qz\"\n",
            "[roles]\nignore_case = \"x \\\", expected v4lu3-Mk2Qz\"\n",
            "[roles]\nignore_case = 1.5e3\n",
        ] {
            let err = parse("f.toml", text).err().unwrap();
            let message = err[0].to_string();
            assert!(
                !message.contains("v4lu3") && !message.contains("1.5"),
                "{message}"
            );
            assert!(message.contains("invalid type: "), "{message}");
            assert!(message.contains(", expected a"), "{message}");
        }
    }

    #[test]
    fn wrong_types_are_reported_not_panicked_on() {
        for text in [
            "[roles]\nignore_case = \"yes\"\n",
            "[access]\nallowed_email_domains = \"example.com\"\n",
            "roles = 3\n",
            "[roles]\nrule = [1]\n",
            "not toml at all [",
        ] {
            let err = parse("f.toml", text).err().unwrap();
            assert_eq!(err[0].key, "OIDC_CONFIG_FILE", "{text}");
            assert!(err[0].message.starts_with("in f.toml"), "{}", err[0]);
        }
    }
}
