//! `OIDC_*` variables the layer does not read: a misspelling (`OIDC_ISSUER_URI`) is named with
//! the closest variable the layer knows, and the variables of tududi's and TimeTracker's guides
//! that it ignores on purpose are named as ignored, with what takes their place.
//!
//! The known names are the ones [`OidcConfig::builder_from_lookup`] asks for, so a variable
//! added to the reader is known here without a second list to keep. Misspelt numbered
//! variables (`OIDC_PROVIDER_1_ISSUER_URL`) are configuration errors instead
//! (`env::unknown_numbered_variables`).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;

use super::OidcConfig;

/// Variables of tududi's and TimeTracker's OIDC guides that tower-oidc ignores on purpose, and
/// why (or what to use instead).
const IGNORED: &[(&str, &str)] = &[
    (
        "OIDC_ENABLED",
        "tududi's switch: single sign-on is on wherever the layer is added",
    ),
    (
        "ALLOW_SELF_REGISTER",
        "tududi's switch: whether unknown users may enter is OIDC_AUTO_PROVISION with a login hook",
    ),
    (
        "OIDC_DNS_RESOLUTION_STRATEGY",
        "TimeTracker's DNS tuning: the system resolver is used",
    ),
    (
        "OIDC_IP_CACHE_TTL",
        "TimeTracker's DNS tuning: the system resolver is used",
    ),
    (
        "OIDC_USE_IP_DIRECTLY",
        "TimeTracker's DNS tuning: the system resolver is used",
    ),
    (
        "OIDC_USE_DOCKER_INTERNAL",
        "TimeTracker's DNS tuning: set OIDC_ISSUER_URL to an address this app can reach",
    ),
    (
        "OIDC_METADATA_REFRESH_INTERVAL",
        "TimeTracker's setting: discovery is cached for an hour and refetched after",
    ),
    (
        "OIDC_METADATA_FETCH_TIMEOUT",
        "TimeTracker's setting: the HTTP timeout is `OidcConfigBuilder::with_http_timeout` (10 s)",
    ),
    (
        "OIDC_METADATA_RETRY_ATTEMPTS",
        "TimeTracker's setting: a failed discovery is retried by the next sign-in, 2 s later",
    ),
    (
        "OIDC_METADATA_RETRY_DELAY",
        "TimeTracker's setting: a failed discovery is retried by the next sign-in, 2 s later",
    ),
];

/// A variable set in the environment that the layer does not read.
///
/// From [`OidcConfig::unused_variables`]; [`OidcConfig::from_env`] logs each at startup. Its
/// Display names the variable and, for a misspelling, the closest known one; it never shows
/// the variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedVariable {
    name: String,
    closest: Option<String>,
    ignored_because: Option<&'static str>,
}

impl UnusedVariable {
    /// The variable's name, as set.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The known variable whose name is closest, probably the one meant; `None` when no known
    /// name is close, or when the variable is ignored on purpose.
    pub fn closest(&self) -> Option<&str> {
        self.closest.as_deref()
    }

    /// Whether this is another application's variable that tower-oidc ignores on purpose
    /// (tududi's `OIDC_ENABLED`, TimeTracker's DNS tuning, ...), rather than an unknown one.
    pub fn is_ignored_on_purpose(&self) -> bool {
        self.ignored_because.is_some()
    }
}

impl fmt::Display for UnusedVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        if let Some(why) = self.ignored_because {
            return write!(f, "{name} is ignored on purpose ({why})");
        }
        write!(f, "{name} is not a tower-oidc variable and is ignored")?;
        match &self.closest {
            Some(closest) if closest.eq_ignore_ascii_case(name) => write!(
                f,
                "; did you mean {closest}? (variable names are case-sensitive)"
            ),
            Some(closest) => write!(f, "; did you mean {closest}?"),
            None => f.write_str("; the README's configuration table lists the variables"),
        }
    }
}

impl OidcConfig {
    /// The variables among `names` (for example the keys of [`std::env::vars`]) that look
    /// meant for tower-oidc but that it does not read: `OIDC_*` names it does not know, each
    /// with the closest known name, and other applications' variables that it ignores on
    /// purpose. Numbered `OIDC_PROVIDER_N_*` names are left out: an unknown one is a
    /// configuration error of [`from_env`](Self::from_env) already.
    ///
    /// ```
    /// use tower_oidc::OidcConfig;
    ///
    /// let unused = OidcConfig::unused_variables(["OIDC_ISSUER_URI", "OIDC_CLIENT_ID", "PATH"]);
    /// assert_eq!(unused.len(), 1);
    /// assert_eq!(unused[0].closest(), Some("OIDC_ISSUER_URL"));
    /// ```
    pub fn unused_variables<I, S>(names: I) -> Vec<UnusedVariable>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let known = known_variables();
        let mut out: Vec<UnusedVariable> = names
            .into_iter()
            .filter_map(|name| unused(name.as_ref(), &known))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup();
        out
    }
}

/// Logs each unused variable among `names`: a warning for an unknown one, a note for one
/// ignored on purpose.
pub(crate) fn log_unused_variables<'a>(names: impl Iterator<Item = &'a String>) {
    for unused in OidcConfig::unused_variables(names) {
        if unused.is_ignored_on_purpose() {
            tracing::info!(target: "tower_oidc", variable = unused.name(), "{unused}");
        } else {
            tracing::warn!(target: "tower_oidc", variable = unused.name(), "{unused}");
        }
    }
}

/// Every unnumbered variable the reader asks for (numbered ones are checked elsewhere).
fn known_variables() -> BTreeSet<String> {
    let asked = RefCell::new(BTreeSet::new());
    let _ = OidcConfig::builder_from_lookup(|key| {
        if !is_numbered(key) {
            asked.borrow_mut().insert(key.to_owned());
        }
        None
    });
    asked.into_inner()
}

/// `OIDC_PROVIDER_` followed by a digit.
fn is_numbered(name: &str) -> bool {
    name.strip_prefix("OIDC_PROVIDER_")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

fn unused(name: &str, known: &BTreeSet<String>) -> Option<UnusedVariable> {
    if let Some((_, why)) = IGNORED.iter().find(|(n, _)| *n == name) {
        return Some(UnusedVariable {
            name: name.to_owned(),
            closest: None,
            ignored_because: Some(why),
        });
    }
    let upper = name.to_ascii_uppercase();
    if !upper.starts_with("OIDC_") || known.contains(name) || is_numbered(name) {
        return None;
    }
    Some(UnusedVariable {
        name: name.to_owned(),
        closest: closest(&upper, known.iter().map(String::as_str)).map(str::to_owned),
        ignored_because: None,
    })
}

/// The candidate nearest to `name` by edit distance, if it is near enough to be a slip: at most
/// three edits, and fewer than a third of the name's length.
pub(super) fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= 3 && d * 3 < name.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes (variable names are ASCII; anything else only grows it).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unused(names: &[&str]) -> Vec<UnusedVariable> {
        OidcConfig::unused_variables(names)
    }

    #[test]
    fn a_misspelt_variable_is_named_with_the_closest_known_one() {
        let found = unused(&[
            "OIDC_ISSUER_URI",
            "OIDC_CLIENTID",
            "OIDC_GROUP_CLAIM",
            "oidc_client_secret",
            "OIDC_SOMETHING_ELSE_ENTIRELY",
        ]);
        let pairs: Vec<_> = found.iter().map(|u| (u.name(), u.closest())).collect();
        assert_eq!(
            pairs,
            [
                ("OIDC_CLIENTID", Some("OIDC_CLIENT_ID")),
                ("OIDC_GROUP_CLAIM", Some("OIDC_GROUPS_CLAIM")),
                ("OIDC_ISSUER_URI", Some("OIDC_ISSUER_URL")),
                ("OIDC_SOMETHING_ELSE_ENTIRELY", None),
                ("oidc_client_secret", Some("OIDC_CLIENT_SECRET")),
            ]
        );
        assert_eq!(
            found[2].to_string(),
            "OIDC_ISSUER_URI is not a tower-oidc variable and is ignored; did you mean OIDC_ISSUER_URL?"
        );
        assert!(
            found[4].to_string().contains("case-sensitive"),
            "{}",
            found[4]
        );
        assert!(found[3].to_string().contains("README"), "{}", found[3]);
    }

    #[test]
    fn known_numbered_and_foreign_variables_are_not_reported() {
        let found = unused(&[
            "OIDC_ISSUER_URL",
            "OIDC_ISSUER",
            "OIDC_SCOPES",
            "OIDC_REDIRECT_URI",
            "OIDC_COOKIE_KEY",
            "OIDC_CONFIG_FILE",
            "OIDC_POST_LOGOUT_REDIRECT_URI",
            "OIDC_PROVIDER_NAME",
            "OIDC_TOKEN_ENDPOINT_AUTH_METHOD",
            "OIDC_PROVIDER_1_ISSUER_URL",
            "BASE_URL",
            "AUTH_METHOD",
            "PATH",
        ]);
        assert_eq!(found, [], "{found:?}");
    }

    #[test]
    fn the_guides_variables_the_layer_ignores_are_named_as_ignored() {
        let found = unused(&["OIDC_ENABLED", "ALLOW_SELF_REGISTER", "OIDC_IP_CACHE_TTL"]);
        assert_eq!(found.len(), 3);
        assert!(found.iter().all(UnusedVariable::is_ignored_on_purpose));
        assert!(found.iter().all(|u| u.closest().is_none()));
        let enabled = found.iter().find(|u| u.name() == "OIDC_ENABLED").unwrap();
        assert!(
            enabled.to_string().contains("ignored on purpose"),
            "{enabled}"
        );
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "abd"), 1);
        assert_eq!(edit_distance("abc", "ab"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
