//! Who may sign in, whether they are an administrator, and which role they act as: decided from
//! the claims at every login, so nothing is sticky. Pure, no I/O.
//!
//! An email address decides something only when the provider says it verified it
//! (`email_verified`): otherwise anyone could register `boss@example.com` at a provider that
//! does not check, and pass a domain restriction (OpenID Connect Core 5.7).

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::claim_path::{ClaimPath, GroupsClaimError};
use super::pg_role::PgRole;
use super::role_map::{GroupMatching, RoleMap};
use crate::error::AuthErrorKind;

/// An email domain rule: `example.com` matches that domain only; `*.example.com` matches its
/// subdomains (not `example.com` itself). Compared ignoring case.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct DomainPattern {
    /// Lowercase; for a wildcard, the suffix with its leading dot (`.example.com`).
    domain: Box<str>,
    subdomains: bool,
}

impl DomainPattern {
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (subdomains, domain) = match raw.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let valid = !domain.is_empty()
            && domain.len() <= 253
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if !valid {
            return Err(format!(
                "`{raw}` is not a domain; write `example.com`, or `*.example.com` for its subdomains"
            ));
        }
        let domain = domain.to_lowercase();
        Ok(Self {
            domain: if subdomains {
                format!(".{domain}").into()
            } else {
                domain.into()
            },
            subdomains,
        })
    }

    /// Whether `domain` (already lowercase) matches.
    fn matches(&self, domain: &str) -> bool {
        if self.subdomains {
            domain.len() > self.domain.len() && domain.ends_with(&*self.domain)
        } else {
            domain == &*self.domain
        }
    }
}

impl fmt::Debug for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subdomains {
            write!(f, "*{}", self.domain)
        } else {
            f.write_str(&self.domain)
        }
    }
}

/// The domain of an address, lowercase: the part after the last `@`, if both sides are
/// non-empty.
fn email_domain(email: &str) -> Option<String> {
    let (local, domain) = email.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty()).then(|| domain.to_lowercase())
}

/// The access rules of one provider: allowed email domains and who is an administrator.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccessRules {
    /// `OIDC_ALLOWED_EMAIL_DOMAINS`: when non-empty, only verified emails in these domains.
    pub(crate) allowed_email_domains: Vec<DomainPattern>,
    /// `OIDC_ADMIN_GROUP`.
    pub(crate) admin_group: Option<String>,
    /// `OIDC_ADMIN_EMAILS`, lowercase.
    pub(crate) admin_emails: Vec<String>,
    /// `OIDC_ADMIN_EMAIL_DOMAINS`.
    pub(crate) admin_email_domains: Vec<DomainPattern>,
}

/// What a login is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) role: Option<PgRole>,
    pub(crate) admin: bool,
    /// Why the user is or is not an administrator, for the debug log.
    pub(crate) admin_detail: String,
}

/// Why a login is refused: the kind, the reason shown to the user, and a detail for the log
/// (at debug level: which rule did not match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) kind: AuthErrorKind,
    pub(crate) reason: &'static str,
    pub(crate) detail: String,
}

/// Everything the policy needs from a provider's configuration.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) access: AccessRules,
    pub(crate) roles: Option<Arc<RoleMap>>,
    pub(crate) groups_claim: ClaimPath,
    pub(crate) email_claim: String,
}

impl Policy {
    /// How admin-group names compare: as the role map says, else exactly.
    fn matching(&self) -> GroupMatching {
        self.roles
            .as_ref()
            .map(|r| r.matching())
            .unwrap_or_default()
    }

    /// Decides a login from its claims (ID token merged with userinfo).
    pub(crate) fn evaluate(&self, claims: &Map<String, Value>) -> Result<Grant, Refusal> {
        let groups = self
            .groups_claim
            .groups(claims)
            .map_err(unreadable_groups)?;
        let email = claims.get(&self.email_claim).and_then(Value::as_str);
        // `email_verified` vouches for the standard `email` claim only (OpenID Connect Core
        // 5.1): an address read from any other claim is never taken as verified.
        let verified = self.email_claim == "email" && email_verified(claims);
        let verified_domain = email.filter(|_| verified).and_then(email_domain);

        let rules = &self.access;
        if !rules.allowed_email_domains.is_empty() {
            let Some(_) = email else {
                return Err(Refusal {
                    kind: AuthErrorKind::EmailDomainNotAllowed,
                    reason: "This application only admits certain email domains, and the identity provider sent no email address for your account.",
                    detail: format!("no `{}` claim; add the `email` scope or a mapper for it", self.email_claim),
                });
            };
            if !verified {
                return Err(Refusal {
                    kind: AuthErrorKind::EmailNotVerified,
                    reason: "This application only admits certain email domains, and your email address is not verified at the identity provider.",
                    detail: "email_verified is not true".into(),
                });
            }
            let allowed = verified_domain
                .as_deref()
                .is_some_and(|d| rules.allowed_email_domains.iter().any(|p| p.matches(d)));
            if !allowed {
                return Err(Refusal {
                    kind: AuthErrorKind::EmailDomainNotAllowed,
                    reason: "Your email domain is not allowed to sign in to this application.",
                    detail: format!(
                        "email domain {:?} matches none of OIDC_ALLOWED_EMAIL_DOMAINS {:?}",
                        verified_domain.as_deref().unwrap_or(""),
                        rules.allowed_email_domains
                    ),
                });
            }
        }

        let role = match &self.roles {
            None => None,
            Some(map) => {
                let own;
                let role_groups: &[&str] = if map.claim() == &self.groups_claim {
                    &groups
                } else {
                    own = map.claim().groups(claims).map_err(unreadable_groups)?;
                    &own
                };
                match map.resolve_groups(role_groups.iter().copied()) {
                    Some(role) => Some(role.clone()),
                    None => {
                        return Err(Refusal {
                            kind: AuthErrorKind::NoRole,
                            reason: "Your account has no role in this application. Ask an administrator to add you to a group that has one.",
                            detail: format!(
                                "none of the {} groups in `{}` matches a rule of the role map ({} rules) and there is no default role",
                                role_groups.len(),
                                map.claim(),
                                map.rules().len()
                            ),
                        })
                    }
                }
            }
        };

        let matching = self.matching();
        let in_admin_group = rules.admin_group.as_deref().is_some_and(|admin| {
            let admin = matching.normalize(admin);
            groups.iter().any(|g| matching.normalize(g) == admin)
        });
        let admin_email = verified
            && email.is_some_and(|e| {
                let e = e.to_lowercase();
                rules.admin_emails.contains(&e)
            });
        let admin_domain = verified_domain
            .as_deref()
            .is_some_and(|d| rules.admin_email_domains.iter().any(|p| p.matches(d)));
        let admin_detail = if in_admin_group {
            "member of the admin group".to_owned()
        } else if admin_email {
            "verified email listed in the admin emails".to_owned()
        } else if admin_domain {
            "verified email in an admin email domain".to_owned()
        } else {
            let mut why = Vec::new();
            match &rules.admin_group {
                Some(g) => why.push(format!("not in the admin group `{g}`")),
                None => why.push("no admin group configured".to_owned()),
            }
            if !rules.admin_emails.is_empty() || !rules.admin_email_domains.is_empty() {
                why.push(if verified {
                    "email not among the admin emails or domains".to_owned()
                } else {
                    "email not verified, so admin emails and domains do not apply".to_owned()
                });
            }
            format!("not an administrator: {}", why.join("; "))
        };
        Ok(Grant {
            role,
            admin: in_admin_group || admin_email || admin_domain,
            admin_detail,
        })
    }
}

/// The refusal for a groups claim that is neither a string nor an array of strings.
fn unreadable_groups(e: GroupsClaimError) -> Refusal {
    Refusal {
        kind: AuthErrorKind::InvalidGroupsClaim,
        reason: "The identity provider sent your groups in a form this application cannot read.",
        detail: e.to_string(),
    }
}

/// `email_verified`, which some providers send as the string `"true"`; false when absent.
pub(crate) fn email_verified(claims: &Map<String, Value>) -> bool {
    match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn policy(access: AccessRules, roles: Option<RoleMap>) -> Policy {
        Policy {
            access,
            roles: roles.map(Arc::new),
            groups_claim: ClaimPath::new("groups").unwrap(),
            email_claim: "email".into(),
        }
    }

    fn domains(list: &[&str]) -> Vec<DomainPattern> {
        list.iter()
            .map(|d| DomainPattern::parse(d).unwrap())
            .collect()
    }

    fn user(email: &str, verified: bool) -> Map<String, Value> {
        claims(json!({"sub": "u", "email": email, "email_verified": verified}))
    }

    #[test]
    fn allowed_domains_match_exactly_and_ignore_case() {
        let p = policy(
            AccessRules {
                allowed_email_domains: domains(&["example.com"]),
                ..Default::default()
            },
            None,
        );
        assert!(p.evaluate(&user("a@example.com", true)).is_ok());
        assert!(p.evaluate(&user("a@EXAMPLE.Com", true)).is_ok());
        for bad in [
            "a@evil-example.com",
            "a@example.com.evil.test",
            "a@sub.example.com",
            "a@example.co",
            "example.com",
            "@example.com",
            "a@example.com@evil.test",
            "a@example.com.",
        ] {
            let r = p.evaluate(&user(bad, true)).unwrap_err();
            assert_eq!(r.kind, AuthErrorKind::EmailDomainNotAllowed, "{bad}");
        }
        // The last `@` decides: a quoted local part cannot smuggle a domain in.
        assert!(p
            .evaluate(&user("\"x@evil.test\"@example.com", true))
            .is_ok());
    }

    #[test]
    fn subdomains_only_when_configured() {
        let p = policy(
            AccessRules {
                allowed_email_domains: domains(&["*.example.com"]),
                ..Default::default()
            },
            None,
        );
        assert!(p.evaluate(&user("a@eu.example.com", true)).is_ok());
        assert!(p.evaluate(&user("a@a.b.Example.com", true)).is_ok());
        assert!(p.evaluate(&user("a@example.com", true)).is_err());
        assert!(p.evaluate(&user("a@evilexample.com", true)).is_err());
    }

    #[test]
    fn an_unverified_or_missing_email_never_passes_a_domain_rule() {
        let p = policy(
            AccessRules {
                allowed_email_domains: domains(&["example.com"]),
                ..Default::default()
            },
            None,
        );
        let r = p.evaluate(&user("a@example.com", false)).unwrap_err();
        assert_eq!(r.kind, AuthErrorKind::EmailNotVerified);
        let r = p
            .evaluate(&claims(json!({"email": "a@example.com"})))
            .unwrap_err();
        assert_eq!(r.kind, AuthErrorKind::EmailNotVerified);
        let r = p.evaluate(&claims(json!({"sub": "u"}))).unwrap_err();
        assert_eq!(r.kind, AuthErrorKind::EmailDomainNotAllowed);
        let r = p
            .evaluate(&claims(
                json!({"email": "a@example.com", "email_verified": "TRUE"}),
            ))
            .unwrap();
        assert!(!r.admin);
    }

    #[test]
    fn admin_by_group_email_or_domain_and_only_with_a_verified_email() {
        let p = policy(
            AccessRules {
                admin_group: Some("admins".into()),
                admin_emails: vec!["boss@example.com".into()],
                admin_email_domains: domains(&["ops.example.com"]),
                ..Default::default()
            },
            None,
        );
        let admin = |c: Value| p.evaluate(&claims(c)).unwrap().admin;
        assert!(admin(json!({"groups": ["x", "admins"]})));
        assert!(!admin(json!({"groups": ["Admins"]})));
        assert!(admin(
            json!({"email": "BOSS@example.com", "email_verified": true})
        ));
        assert!(!admin(
            json!({"email": "boss@example.com", "email_verified": false})
        ));
        assert!(!admin(json!({"email": "boss@example.com"})));
        assert!(admin(
            json!({"email": "a@OPS.example.com", "email_verified": true})
        ));
        assert!(!admin(
            json!({"email": "a@ops.example.com", "email_verified": false})
        ));
        assert!(!admin(
            json!({"email": "a@evil-ops.example.com", "email_verified": true})
        ));
        assert!(!admin(
            json!({"email": "a@example.com", "email_verified": true})
        ));
    }

    #[test]
    fn admin_group_follows_the_role_maps_matching_options() {
        let roles = RoleMap::builder()
            .ignore_case(true)
            .strip_leading_slash(true)
            .with_default_role("viewer")
            .build()
            .unwrap();
        let p = policy(
            AccessRules {
                admin_group: Some("admins".into()),
                ..Default::default()
            },
            Some(roles),
        );
        let g = p.evaluate(&claims(json!({"groups": ["/ADMINS"]}))).unwrap();
        assert!(g.admin);
        assert_eq!(g.role.unwrap().as_str(), "viewer");
    }

    #[test]
    fn no_matching_rule_and_no_default_is_a_no_role_refusal() {
        let roles = RoleMap::builder()
            .add_rule("admins", "app_admin")
            .build()
            .unwrap();
        let p = policy(AccessRules::default(), Some(roles));
        let r = p
            .evaluate(&claims(json!({"groups": ["other"]})))
            .unwrap_err();
        assert_eq!(r.kind, AuthErrorKind::NoRole);
        assert!(r.reason.contains("no role in this application"));
        let g = p.evaluate(&claims(json!({"groups": "admins"}))).unwrap();
        assert_eq!(g.role.unwrap().as_str(), "app_admin");
    }

    #[test]
    fn a_wrongly_typed_groups_claim_is_a_refusal_not_a_panic() {
        let p = policy(AccessRules::default(), None);
        for bad in [json!(1), json!({"a": 1}), json!([1, 2]), json!(true)] {
            let r = p.evaluate(&claims(json!({"groups": bad}))).unwrap_err();
            assert_eq!(r.kind, AuthErrorKind::InvalidGroupsClaim);
        }
        // The role map's own claim is checked too.
        let roles = RoleMap::builder()
            .with_claim("realm_access.roles")
            .with_default_role("viewer")
            .build()
            .unwrap();
        let p = policy(AccessRules::default(), Some(roles));
        let r = p
            .evaluate(&claims(
                json!({"realm_access": {"roles": "x", "y": 1}, "groups": []}),
            ))
            .unwrap();
        assert_eq!(r.role.unwrap().as_str(), "viewer");
        let r = p
            .evaluate(&claims(json!({"realm_access": {"roles": [{}]}})))
            .unwrap_err();
        assert_eq!(r.kind, AuthErrorKind::InvalidGroupsClaim);
    }

    #[test]
    fn email_verified_vouches_for_the_email_claim_only() {
        // With the address read from another claim (a username the user may edit, say),
        // `email_verified` says nothing about it.
        let mut p = policy(
            AccessRules {
                allowed_email_domains: domains(&["corp.example"]),
                admin_emails: vec!["boss@corp.example".into()],
                ..Default::default()
            },
            None,
        );
        p.email_claim = "preferred_username".into();
        let c = claims(json!({
            "email": "me@home.example", "email_verified": true,
            "preferred_username": "boss@corp.example",
        }));
        assert_eq!(
            p.evaluate(&c).unwrap_err().kind,
            AuthErrorKind::EmailNotVerified
        );
    }

    #[test]
    fn domain_patterns_are_validated() {
        for bad in [
            "",
            "*.",
            "exa mple.com",
            "example..com",
            ".example.com",
            "a@b.com",
            "*",
        ] {
            assert!(DomainPattern::parse(bad).is_err(), "`{bad}`");
        }
        assert!(DomainPattern::parse("Example.COM")
            .unwrap()
            .matches("example.com"));
    }
}
