//! The claims of a JWS payload, read in one pass: a JSON object whose members are the claims,
//! the last one winning when a name repeats, except for the registered claims `exp`, `nbf`,
//! `sub`, `iss` and `aud`, whose repetition refuses the payload (RFC 7519 section 4 allows
//! either; jsonwebtoken, which verifies the keys it does not parse itself, refuses them, so
//! every key refuses them alike).

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// The registered claims whose repetition refuses a payload.
const NOT_REPEATED: [&str; 5] = ["exp", "nbf", "sub", "iss", "aud"];

/// The claims of a base64url payload (no padding), or `None` when it is not base64url, not a
/// JSON object, or repeats one of the registered claims.
pub(crate) fn decode(payload: &str) -> Option<Map<String, Value>> {
    use base64::Engine as _;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<Claims>(&json).ok().map(|c| c.0)
}

/// A JSON object read as [`decode`] reads it.
struct Claims(Map<String, Value>);

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ClaimsVisitor)
    }
}

struct ClaimsVisitor;

impl<'de> Visitor<'de> for ClaimsVisitor {
    type Value = Claims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Claims, A::Error> {
        let mut claims = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if NOT_REPEATED.contains(&name.as_str()) && claims.contains_key(&name) {
                return Err(de::Error::custom("a registered claim is repeated"));
            }
            let value = access.next_value::<Value>()?;
            claims.insert(name, value);
        }
        Ok(Claims(claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    fn decoded(json: &str) -> Option<Map<String, Value>> {
        decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
    }

    #[test]
    fn a_repeated_registered_claim_is_refused_and_elsewhere_the_last_one_wins() {
        for name in NOT_REPEATED {
            let twice = format!(r#"{{"{name}":1,"n":2,"{name}":1}}"#);
            assert_eq!(decoded(&twice), None, "{name}");
            // An escaped name is the same name.
            let escaped = format!(
                r#"{{"{name}":1,"\u00{:x}{}":1}}"#,
                name.as_bytes()[0],
                &name[1..]
            );
            assert_eq!(decoded(&escaped), None, "{escaped}");
        }
        let claims = decoded(r#"{"sub":"u1","groups":["a"],"groups":["admins"]}"#).unwrap();
        assert_eq!(
            Value::Object(claims),
            json!({"sub": "u1", "groups": ["admins"]})
        );
        assert_eq!(decoded(r#"{"sub":"u1","exp":1}"#).unwrap()["exp"], json!(1));
    }

    #[test]
    fn anything_but_a_base64url_json_object_is_refused() {
        for json in ["[1]", "\"sub\"", "{\"sub\":", "null", "{} {}"] {
            assert_eq!(decoded(json), None, "{json}");
        }
        assert_eq!(decode("e30="), None, "padding");
        assert_eq!(decode("e30.e30"), None);
        assert_eq!(decode("e30"), Some(Map::new()));
    }
}
