//! The map in docs/ARCHITECTURE.md stays true to the code: every source file is listed there,
//! and no module imports one from a higher layer, in the order the map gives.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MAP: &str = "docs/ARCHITECTURE.md";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.rs` file below `dir`, as a path relative to the repository root.
fn rust_files(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root()).expect("below the root");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// The source files of both crates.
fn source_files() -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("dev-idp/src"), &mut files);
    files.sort();
    files
}

/// The files the map names in backticks, e.g. `` `src/session/codec.rs` ``.
fn listed_files(map: &str) -> BTreeSet<String> {
    map.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.ends_with(".rs") && (s.starts_with("src/") || s.starts_with("dev-idp/")))
        .map(str::to_owned)
        .collect()
}

/// The top-level module of a file of the main crate: `src/session/codec.rs` is `session`.
fn module_of(file: &str) -> Option<String> {
    let rest = file.strip_prefix("src/")?;
    let first = rest.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// The layer of each top-level module: the number of the `### Layer N` heading its files are
/// listed under.
fn layers(map: &str) -> BTreeMap<String, usize> {
    let mut layer = None;
    let mut out = BTreeMap::new();
    for line in map.lines() {
        if let Some(rest) = line.strip_prefix("### Layer ") {
            let n: usize = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{MAP}: `{line}` has no layer number"));
            layer = Some(n);
        } else if line.starts_with("## ") || line.starts_with("### ") {
            layer = None;
        } else if let Some(n) = layer {
            for file in listed_files(line) {
                if let Some(module) = module_of(&file) {
                    let previous = out.insert(module.clone(), n);
                    assert!(
                        previous.is_none_or(|p| p == n),
                        "{MAP}: the files of `{module}` are listed under two layers"
                    );
                }
            }
        }
    }
    out
}

/// What `lib.rs` re-exports at the crate root, name by name: `crate::Identity` is `identity`.
fn root_exports() -> BTreeMap<String, String> {
    let lib = read(&root().join("src/lib.rs"));
    let mut out = BTreeMap::new();
    let mut rest = lib.as_str();
    while let Some(at) = rest.find("pub use ") {
        rest = &rest[at + "pub use ".len()..];
        let end = rest.find(';').expect("a `pub use` ends with `;`");
        let item = &rest[..end];
        rest = &rest[end..];
        let module = item
            .split("::")
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let names = item
            .split_once("::")
            .map_or("", |(_, names)| names)
            .trim_matches(|c: char| c == '{' || c == '}' || c.is_whitespace());
        for name in names.split(',') {
            let name = name
                .trim()
                .trim_start_matches('{')
                .trim_end_matches('}')
                .trim();
            if !name.is_empty() {
                out.insert(name.to_owned(), module.clone());
            }
        }
    }
    out
}

/// The top-level modules a file's code (comments aside) refers to through `crate::`, including
/// each name of a grouped `use crate::{a::B, C};`.
fn imports(text: &str, exports: &BTreeMap<String, String>) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    let mut add = |name: &str| {
        if name.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.insert(name.to_owned());
        } else if let Some(module) = exports.get(name) {
            out.insert(module.clone());
        }
    };
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `tower_oidc_crate::`, not ours
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Each top-level item of the group: after `{` and after every `,` at depth 0.
            let mut depth = 0usize;
            let mut start = true;
            for (i, c) in group.char_indices() {
                if start && !c.is_whitespace() {
                    add(&ident(&group[i..]));
                    start = false;
                }
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    _ => {}
                }
            }
        } else {
            add(&ident(rest));
        }
    }
    out
}

#[test]
fn every_source_file_is_on_the_map() {
    let map = read(&root().join(MAP));
    let listed = listed_files(&map);
    let missing: Vec<_> = source_files()
        .into_iter()
        .filter(|f| !listed.contains(f))
        .collect();
    assert!(missing.is_empty(), "{MAP} does not list: {missing:?}");
    let gone: Vec<_> = listed.iter().filter(|f| !root().join(f).exists()).collect();
    assert!(
        gone.is_empty(),
        "{MAP} lists files that do not exist: {gone:?}"
    );
}

#[test]
fn no_module_imports_one_from_a_higher_layer() {
    let map = read(&root().join(MAP));
    let layers = layers(&map);
    let exports = root_exports();
    let mut problems = Vec::new();
    for file in source_files() {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let Some(&own) = layers.get(&module) else {
            problems.push(format!(
                "`{module}` ({file}) is under no `### Layer N` of {MAP}"
            ));
            continue;
        };
        for used in imports(&read(&root().join(&file)), &exports) {
            if used == module {
                continue;
            }
            match layers.get(&used) {
                Some(&layer) if layer > own => problems.push(format!(
                    "{file} (layer {own}) uses `crate::{used}` (layer {layer})"
                )),
                Some(_) => {}
                None => problems.push(format!(
                    "{file} uses `crate::{used}`, which {MAP} does not place"
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_modules_of_one_layer_do_not_import_each_other_in_a_circle() {
    let map = read(&root().join(MAP));
    let layers = layers(&map);
    let exports = root_exports();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in source_files() {
        let Some(module) = module_of(&file) else {
            continue;
        };
        for used in imports(&read(&root().join(&file)), &exports) {
            if used != module && layers.get(&used) == layers.get(&module) {
                edges.entry(module.clone()).or_default().insert(used);
            }
        }
    }
    for (from, tos) in &edges {
        for to in tos {
            assert!(
                !edges.get(to).is_some_and(|back| back.contains(from)),
                "`{from}` and `{to}` import each other; put one in a lower layer of {MAP}"
            );
        }
    }
}

#[test]
fn the_checks_see_imports_and_layers() {
    // The checks above pass vacuously if the parsing finds nothing: prove it finds what it must.
    let exports = root_exports();
    assert_eq!(
        exports.get("Identity").map(String::as_str),
        Some("identity")
    );
    let seen = imports(
        "use crate::session::Cookies;\n// crate::flow\nx: crate::Identity,",
        &exports,
    );
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["identity", "session"]
    );
    let grouped = imports(
        "use crate::{\n    policy::{PgRole, RoleMap},\n    Identity,\n};",
        &exports,
    );
    assert_eq!(
        grouped.into_iter().collect::<Vec<_>>(),
        ["identity", "policy"]
    );
    let layers = layers(&read(&root().join(MAP)));
    assert!(layers["clock"] < layers["service"], "{layers:?}");
    assert!(layers["session"] < layers["flow"], "{layers:?}");
}
