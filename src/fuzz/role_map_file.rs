//! The `OIDC_CONFIG_FILE` parser (`config::file::parse`), the role maps built from it, the whole
//! configuration built with the file, and `RoleMapBuilder` with arbitrary rules.
//!
//! The first input byte picks the mode, the rest is its input:
//! - `0`: the file's text;
//! - `1`: the file's text with a secret line added (`client_secret`, `cookie_key`, or a
//!   provider's `client_secret`; the next byte says which and where);
//! - `2`: a role map from arbitrary rules (structured);
//! - `3`: one key (the next byte says which) set to a string of the fuzzer's choice that ends
//!   with a marker: no message may quote the value, whatever its key's type.
//!
//! Properties: no panic; every problem names a key and the file; no message ever holds a secret
//! or any other value written in the file; a role map built from the file or the builder resolves exactly like the
//! rule "the first rule whose group the user has, else the default" with the map's own
//! comparison (one leading `/` dropped, Unicode lowercase), on groups made from its rules.

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value};

use super::support::{assert_no_secret, record_logs, take_logs, NOW};
use crate::clock::TestClock;
use crate::config::{file, OidcConfig};
use crate::policy::{PgRole, RoleMap};

const FILE: &str = "oidc.toml";
/// A valid cookie key (generated, `openssl rand -base64 32`), and written nowhere else.
const SECRET: &str = "OPaBuaIwaQilvGYe0O+Bq/axQJ9dlzbkh6twT3ByIoY=";
/// Ends every value of mode 3.
const VALUE_MARK: &str = "v4lu3-Mk2Qz";

/// `s` as a TOML basic string (JSON's escapes are TOML's, except `\/`, which JSON does not
/// need and serde_json never writes).
fn toml_string(s: &str) -> String {
    Value::from(s).to_string()
}

/// Too short for a cookie key: its error must not echo it either.
const SHORT_SECRET: &str = "hunter2-Pq4x";

fn normalize(map: &RoleMap, group: &str) -> String {
    let m = map.matching();
    let g = if m.strip_leading_slash {
        group.strip_prefix('/').unwrap_or(group)
    } else {
        group
    };
    if m.ignore_case {
        g.to_lowercase()
    } else {
        g.to_owned()
    }
}

fn reference<'m>(map: &'m RoleMap, groups: &[String]) -> Option<&'m PgRole> {
    let groups: Vec<String> = groups.iter().map(|g| normalize(map, g)).collect();
    map.rules()
        .iter()
        .find(|r| groups.contains(&normalize(map, r.group())))
        .map(|r| r.role())
        .or(map.default_role())
}

/// Groups a user may have: each rule's group as written and altered (case, a leading `/`, a
/// trailing character), and the extra ones given.
fn candidate_groups(map: &RoleMap, extra: &[String]) -> Vec<Vec<String>> {
    let mut sets = vec![extra.to_vec(), Vec::new()];
    for rule in map.rules().iter().take(16) {
        let g = rule.group();
        sets.push(vec![g.to_owned()]);
        sets.push(vec![g.to_uppercase(), format!("/{g}")]);
        sets.push(vec![format!("//{g}"), format!("{g} "), g.to_lowercase()]);
        let mut with_extra = extra.to_vec();
        with_extra.push(g.to_owned());
        sets.push(with_extra);
    }
    let all: Vec<String> = map.rules().iter().map(|r| r.group().to_owned()).collect();
    sets.push(all.into_iter().rev().collect());
    sets
}

fn check_map(map: &RoleMap, extra: &[String]) {
    assert!(
        map.rules()
            .iter()
            .all(|r| !r.role().as_str().is_empty() && r.role().as_str().len() <= 63),
        "a role name that is empty or over 63 bytes: {map:?}"
    );
    for groups in candidate_groups(map, extra) {
        let got = map.resolve_groups(groups.iter().map(String::as_str));
        assert_eq!(
            got,
            reference(map, &groups),
            "resolve_groups({groups:?}) with {map:?}"
        );
        let mut claims = Map::new();
        claims.insert(map.claim().as_str().to_owned(), Value::from(groups.clone()));
        assert_eq!(
            map.resolve(&claims).ok().flatten().as_ref(),
            got,
            "resolve disagrees with resolve_groups({groups:?})"
        );
    }
    let _ = map.roles();
}

fn parse_and_check(text: &str, secrets: &[&str]) {
    match file::parse(FILE, text) {
        Ok(parsed) => {
            for map in parsed
                .roles
                .iter()
                .chain(parsed.provider_roles.iter().flatten())
            {
                check_map(map, &[]);
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a problem");
            for p in &problems {
                assert!(!p.key.is_empty(), "a problem without a key: {p}");
                assert!(p.message.contains(FILE), "a problem without the file: {p}");
                assert_no_secret("a problem", &p.to_string(), secrets);
            }
        }
    }
    // The whole configuration, built with the file: its errors must not echo secrets either.
    let built = OidcConfig::builder()
        .with_clock(TestClock::at(NOW))
        .with_config_toml(FILE, text)
        .build();
    match built {
        Ok(config) => {
            assert_no_secret("the configuration's Debug", &format!("{config:?}"), secrets);
            if let Some(map) = config.role_map() {
                check_map(map, &[]);
            }
        }
        Err(e) => assert_no_secret("a configuration error", &e.to_string(), secrets),
    }
    assert_no_secret("the log", &take_logs(), secrets);
}

#[derive(Debug, Arbitrary)]
struct Builder {
    claim: Option<String>,
    default: Option<String>,
    ignore_case: bool,
    strip_leading_slash: bool,
    rules: Vec<(String, String)>,
    groups: Vec<String>,
}

/// The `role_map_file` target: the first byte picks the mode, the rest is its input.
pub(super) fn run(data: &[u8]) {
    record_logs();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            parse_and_check(&text, &[]);
        }
        1 => {
            let Some((&slot, rest)) = rest.split_first() else {
                return;
            };
            let text = String::from_utf8_lossy(rest);
            let secret = if slot & 4 == 0 { SECRET } else { SHORT_SECRET };
            let line = match slot % 4 {
                0 => format!("client_secret = \"{secret}\"\n"),
                1 => format!("cookie_key = \"{secret}\"\n"),
                2 => format!("cookie_key = '{secret}'\n"),
                _ => format!("[[providers]]\nclient_secret = \"{secret}\"\n"),
            };
            let text = if slot & 8 == 0 {
                format!("{line}{text}")
            } else {
                format!("{text}\n{line}")
            };
            parse_and_check(&text, &[secret]);
        }
        3 => {
            let Some((&slot, rest)) = rest.split_first() else {
                return;
            };
            let key = [
                "public_paths",
                "auto_provision",
                "providers",
                "claims",
                "roles",
                "client_secret",
                "[roles]\nignore_case",
                "[roles]\nrule",
                "[[roles.rule]]\ngroup",
                "[access]\nadmin_emails",
                "[[providers]]\nauto_provision",
            ][slot as usize % 11];
            let value = format!("{}{VALUE_MARK}", String::from_utf8_lossy(rest));
            // A TOML basic string holding exactly `value`.
            let text = format!("{key} = {}\n", toml_string(&value));
            parse_and_check(&text, &[VALUE_MARK]);
        }
        _ => {
            let Ok(b) = Builder::arbitrary_take_rest(Unstructured::new(rest)) else {
                return;
            };
            let mut builder = RoleMap::builder()
                .ignore_case(b.ignore_case)
                .strip_leading_slash(b.strip_leading_slash);
            if let Some(claim) = b.claim {
                builder = builder.with_claim(claim);
            }
            if let Some(default) = b.default {
                builder = builder.with_default_role(default);
            }
            for (group, role) in b.rules {
                builder = builder.add_rule(group, role);
            }
            match builder.build() {
                Ok(map) => check_map(&map, &b.groups),
                Err(e) => assert!(!e.problems().is_empty(), "refused without a problem"),
            }
        }
    }
}
