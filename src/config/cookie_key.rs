//! `OIDC_COOKIE_KEY`: what counts as key material, and the checks that refuse passphrases.
//!
//! A sealed login cookie, which anyone gets from `GET /auth/login`, lets an attacker test
//! guesses of the key offline, so the key must be what a key generator prints, never what a
//! person chose. The rules, in the order they are checked (the crate docs state them too):
//!
//! 1. **The form.** Hex (`openssl rand -hex 32`) or base64, standard or URL-safe, padded or not
//!    (`openssl rand -base64 32`, `-base64 48`), decoding to at least 32 bytes. Surrounding
//!    whitespace and the line breaks of wrapped output are ignored; anything else (spaces,
//!    other punctuation) is refused.
//! 2. **Not a documented example**: the example keys of this crate's documentation are
//!    refused, in whatever encoding they are written.
//! 3. **Not low-entropy**: fewer than 12 different characters (8 for hex), decoded bytes of
//!    which fewer than half differ (of the first 128), or, in base64, 8 characters in a row
//!    that repeat one character or count up or down by one (`AAAAAAAA`, `01234567`,
//!    `hgfedcba`).
//! 4. **Not words**: a value whose every part between `-`, `_`, `+` and `/` is a word
//!    (lowercase, Capitalised or UPPERCASE letters, digits may follow) or a number is a
//!    passphrase (`correct-horse-battery-staple-…`), even when it decodes as base64url.
//!
//! A key from a generator fails rule 3 or 4 less than once in 10^10 tries (worked out for 32
//! random bytes: under 10^-12 for the character and byte counts and for rule 4, under
//! 4 * 10^-11 for the runs). These rules cannot recognise every passphrase (`CamelCaseWords`
//! pass them); the memory-hard derivation (`session/stretch.rs`) is what keeps such a key
//! from being a fast offline oracle.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// The least key material accepted, in bytes.
pub(crate) const MIN_COOKIE_KEY_BYTES: usize = 32;

/// The command every refusal names.
pub(crate) const MAKE_KEY: &str = "`openssl rand -base64 32`";

/// The example keys of this crate's documentation: public, so never a key. A unit test reads
/// the docs and checks that every example there is refused.
const DOCUMENTED_EXAMPLES: &[&str] = &[
    // The example of the configuration docs (src/config/mod.rs).
    "PwnGtci4gzHnQa9OUpQ091Cii0s/wXFc9g+wqX9/Yu8=",
];

/// Key material for the cookie encryption keys. Prints `[redacted]`; not `PartialEq`.
#[derive(Clone)]
pub(crate) struct CookieKey {
    bytes: Arc<[u8]>,
    /// Made by this process ([`CookieKey::random`]) rather than configured: 256 random bits,
    /// which need no stretching.
    generated: bool,
}

impl CookieKey {
    /// The key material.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether this process made the key (a random key for this process only).
    pub(crate) fn is_generated(&self) -> bool {
        self.generated
    }

    /// A random key for this process only.
    pub(crate) fn random() -> Self {
        let mut key = [0u8; MIN_COOKIE_KEY_BYTES];
        crate::random::fill_random(&mut key);
        Self {
            bytes: Arc::from(&key[..]),
            generated: true,
        }
    }

    /// Parses `OIDC_COOKIE_KEY` by the rules of this module. The error says what is wrong and
    /// names the command that makes a key; it never quotes the value.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let text: String = raw
            .trim()
            .chars()
            .filter(|&c| c != '\n' && c != '\r')
            .collect();
        let refuse = |why: &str| Err(format!("{why}; set it to the output of {MAKE_KEY}"));
        if text.is_empty() {
            return refuse("is empty");
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'='))
        {
            return refuse(
                "is not key material: a key is hex or base64, with no spaces or other punctuation (a passphrase is not a key)",
            );
        }
        let Some((bytes, hex)) = decode(&text) else {
            return refuse("is neither hex nor base64");
        };
        if bytes.len() < MIN_COOKIE_KEY_BYTES {
            return refuse(&format!(
                "holds {} bytes: at least {MIN_COOKIE_KEY_BYTES} random bytes are needed",
                bytes.len()
            ));
        }
        if DOCUMENTED_EXAMPLES
            .iter()
            .any(|example| decode(example).is_some_and(|(b, _)| b == bytes))
        {
            return refuse("is the example key of the tower-oidc documentation, which everyone can read: make your own");
        }
        let body = text.trim_end_matches('=');
        if let Some(why) = low_entropy(body, &bytes, hex) {
            return refuse(&format!("is not random enough ({why})"));
        }
        if reads_as_words(body) {
            return refuse(
                "reads as words joined together, a passphrase: a key must be random, not chosen",
            );
        }
        Ok(Self {
            bytes: Arc::from(bytes),
            generated: false,
        })
    }
}

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieKey([redacted])")
    }
}

/// The bytes `text` stands for, and whether it was read as hex: hex when it is all hex digits
/// of even length (what `openssl rand -hex` prints), else base64 in any of its four forms.
fn decode(text: &str) -> Option<(Vec<u8>, bool)> {
    let hex_digit = |b: u8| (b as char).to_digit(16);
    if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let bytes = text
            .as_bytes()
            .chunks(2)
            .map(|pair| Some((hex_digit(pair[0])? * 16 + hex_digit(pair[1])?) as u8))
            .collect::<Option<Vec<u8>>>()?;
        return Some((bytes, true));
    }
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .map(|bytes| (bytes, false))
}

/// Rule 3: every part between `-`, `_`, `+` and `/` is a word or a number.
fn reads_as_words(body: &str) -> bool {
    body.split(['-', '_', '+', '/'])
        .filter(|part| !part.is_empty())
        .all(is_word_or_number)
}

/// `[A-Z]?[a-z]+[0-9]*`, `[A-Z]+[0-9]*` or `[0-9]+`.
fn is_word_or_number(part: &str) -> bool {
    let letters = part.trim_end_matches(|c: char| c.is_ascii_digit());
    if letters.is_empty() {
        return true;
    }
    let lower = letters
        .strip_prefix(|c: char| c.is_ascii_uppercase())
        .unwrap_or(letters);
    (!lower.is_empty() && lower.bytes().all(|b| b.is_ascii_lowercase()))
        || letters.bytes().all(|b| b.is_ascii_uppercase())
}

/// Rule 4: why `body` (the text without padding) and its `bytes` look chosen, if they do.
fn low_entropy(body: &str, bytes: &[u8], hex: bool) -> Option<&'static str> {
    let mut seen = [false; 256];
    for b in body.bytes() {
        seen[usize::from(b)] = true;
    }
    let distinct_chars = seen.iter().filter(|&&s| s).count();
    if distinct_chars < if hex { 8 } else { 12 } {
        return Some("too few different characters");
    }
    let head = &bytes[..bytes.len().min(128)];
    let mut seen = [false; 256];
    for &b in head {
        seen[usize::from(b)] = true;
    }
    if seen.iter().filter(|&&s| s).count() * 2 < head.len() {
        return Some("its bytes repeat");
    }
    if !hex && has_run(body.as_bytes(), 8) {
        return Some("a run of repeated or consecutive characters");
    }
    None
}

/// Whether `text` has `len` characters in a row that repeat one character or count up or down
/// by one.
fn has_run(text: &[u8], len: usize) -> bool {
    text.windows(len).any(|w| {
        [0i16, 1, -1].iter().any(|&step| {
            w.windows(2)
                .all(|p| i16::from(p[1]) - i16::from(p[0]) == step)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_bytes(n: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; n];
        crate::random::fill_random(&mut bytes);
        bytes
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn refusal(raw: &str) -> String {
        match CookieKey::parse(raw) {
            Ok(_) => panic!("accepted {raw:?}"),
            Err(message) => message,
        }
    }

    #[test]
    fn accepts_ten_thousand_generated_keys_of_each_form() {
        /// A key generator's name, and the generator.
        type Form = (&'static str, fn() -> String);
        let forms: [Form; 5] = [
            ("openssl rand -base64 32", || {
                STANDARD.encode(random_bytes(32))
            }),
            ("openssl rand -base64 48", || {
                STANDARD.encode(random_bytes(48))
            }),
            ("openssl rand -hex 32", || hex(&random_bytes(32))),
            ("base64url, unpadded", || {
                URL_SAFE_NO_PAD.encode(random_bytes(32))
            }),
            ("base64url, padded", || URL_SAFE.encode(random_bytes(32))),
        ];
        for (form, make) in forms {
            for _ in 0..10_000 {
                let key = make();
                // With the trailing newline a shell or a secret file adds.
                let parsed = CookieKey::parse(&format!("{key}\n"))
                    .unwrap_or_else(|e| panic!("{form}: refused {key:?}: {e}"));
                assert!(parsed.bytes().len() >= MIN_COOKIE_KEY_BYTES, "{form}");
                assert!(!parsed.is_generated());
            }
        }
    }

    #[test]
    fn reads_each_form_as_the_bytes_it_encodes() {
        let bytes = random_bytes(48);
        for text in [
            STANDARD.encode(&bytes),
            STANDARD_NO_PAD.encode(&bytes),
            URL_SAFE.encode(&bytes),
            URL_SAFE_NO_PAD.encode(&bytes),
            hex(&bytes),
            hex(&bytes).to_ascii_uppercase(),
        ] {
            assert_eq!(
                CookieKey::parse(&text).unwrap().bytes(),
                &bytes[..],
                "{text}"
            );
        }
        // `openssl rand -base64 64` wraps its output after 64 characters.
        let long = random_bytes(64);
        let wrapped = STANDARD.encode(&long);
        let wrapped = format!("{}\n{}\n", &wrapped[..64], &wrapped[64..]);
        assert_eq!(CookieKey::parse(&wrapped).unwrap().bytes(), &long[..]);
    }

    #[test]
    fn refuses_passphrases_even_when_they_decode_as_base64url() {
        // 44 characters each, so that they decode as base64 or base64url.
        for passphrase in [
            "correct-horse-battery-staple-tower-oidc-keys",
            "Correct-Horse-Battery-Staple-Tower-Oidc-Keys",
            "CORRECT_HORSE_BATTERY_STAPLE_TOWER_OIDC_KEYS",
            "my_super_secret_cookie_key_for_production_12",
            "correcthorsebatterystaplecorrecthorsebattery",
            "our-app-2024-cookie-key-please-change-me-now",
            "Tower/Oidc+Cookie/Key+For/Production+Use2024",
        ] {
            assert!(decode(passphrase).is_some(), "{passphrase} must decode");
            let message = refusal(passphrase);
            assert!(
                message.contains("reads as words"),
                "{passphrase}: {message}"
            );
            assert!(message.contains("openssl rand -base64 32"), "{message}");
            assert!(!message.contains(passphrase), "{message}");
        }
        assert!(refusal("2024-01-01-2024-01-01-2024-01-01-2024-01-01x").contains("random enough"));
        // Spaces and punctuation are never key material.
        for passphrase in [
            "correct horse battery staple tower oidc key!",
            "my.cookie.key.that.is.long.enough.for.you.ok",
        ] {
            assert!(refusal(passphrase).contains("not key material"));
        }
    }

    #[test]
    fn refuses_low_entropy_values() {
        // A generated key with a run spliced into its middle, keeping its canonical end.
        let spliced = |run: &str| {
            let mut key = STANDARD.encode(random_bytes(32));
            key.replace_range(10..10 + run.len(), run);
            key
        };
        for (value, why) in [
            ("Zq".repeat(22), "different characters"),
            ("Q".repeat(44), "different characters"),
            ("00".repeat(32), "different characters"),
            ("deadbeef".repeat(8), "different characters"),
            ("0123456789abcdef".repeat(4), "bytes repeat"),
            (
                "test-cookie-key-0123456789abcdef0123456789ab".into(),
                "run of",
            ),
            (spliced("ABCDEFGH"), "run of"),
            (spliced("87654321"), "run of"),
            (spliced("qqqqqqqq"), "run of"),
        ] {
            let message = refusal(&value);
            assert!(message.contains(why), "{value}: {message}");
        }
    }

    #[test]
    fn refuses_short_and_malformed_values_without_quoting_them() {
        for (value, why) in [
            ("", "is empty"),
            ("   ", "is empty"),
            ("k3y-v4lue", "neither hex nor base64"),
            (&*STANDARD.encode(random_bytes(31)), "holds 31 bytes"),
            (&*hex(&random_bytes(31)), "holds 31 bytes"),
            ("0123456789abcdef0123456789abcdef", "holds 16 bytes"),
        ] {
            let message = refusal(value);
            assert!(message.contains(why), "{value:?}: {message}");
            assert!(
                value.trim().is_empty() || !message.contains(value),
                "{message}"
            );
        }
    }

    #[test]
    fn refuses_the_documented_examples_in_every_encoding() {
        for example in DOCUMENTED_EXAMPLES {
            assert!(refusal(example).contains("make your own"));
            let (bytes, _) = decode(example).expect("a documented example decodes");
            for text in [URL_SAFE_NO_PAD.encode(&bytes), hex(&bytes)] {
                assert!(refusal(&text).contains("make your own"), "{text}");
            }
        }
    }

    /// Every key value in the docs (`with_cookie_key("…")` in doc comments and Markdown,
    /// `OIDC_COOKIE_KEY=…` in Markdown) is refused: an example is public, so never a key.
    #[test]
    fn every_key_in_the_docs_is_refused() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("README.md"), root.join("dev-idp/README.md")];
        let mut dirs = vec![root.join("src"), root.join("docs"), root.join("examples")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs" || e == "md") {
                    files.push(path);
                }
            }
        }
        let mut examples = Vec::new();
        for path in &files {
            let text = std::fs::read_to_string(path).unwrap();
            let markdown = path.extension().is_some_and(|e| e == "md");
            for line in text.lines() {
                let doc = line.trim_start();
                if !(markdown || doc.starts_with("//!") || doc.starts_with("///")) {
                    continue;
                }
                if let Some((_, rest)) = line.split_once("with_cookie_key(\"") {
                    if let Some((value, _)) = rest.split_once('"') {
                        examples.push((path.clone(), value.to_owned()));
                    }
                }
                if let Some((_, rest)) = line.split_once("OIDC_COOKIE_KEY=") {
                    let value = rest.split_whitespace().next().unwrap_or("");
                    examples.push((path.clone(), value.trim_matches('`').to_owned()));
                }
            }
        }
        assert!(
            examples.iter().any(|(_, v)| v == DOCUMENTED_EXAMPLES[0]),
            "the scan found the crate docs' example: {examples:?}"
        );
        for (path, value) in examples {
            assert!(
                CookieKey::parse(&value).is_err(),
                "{}: the example key {value:?} is accepted; add it to DOCUMENTED_EXAMPLES",
                path.display()
            );
        }
    }

    #[test]
    fn random_keys_are_marked_generated_and_debug_redacts() {
        let key = CookieKey::random();
        assert!(key.is_generated());
        assert_eq!(key.bytes().len(), MIN_COOKIE_KEY_BYTES);
        assert_eq!(format!("{key:?}"), "CookieKey([redacted])");
    }
}
