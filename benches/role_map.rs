//! Role resolution at login: a user with 200 groups against a map of 50 rules (target: under
//! 5 µs). Run with `cargo bench --bench role_map`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Map, Value};
use tower_oidc::RoleMap;

fn map(ignore_case: bool) -> RoleMap {
    let mut b = RoleMap::builder()
        .ignore_case(ignore_case)
        .with_default_role("viewer");
    for i in 0..50 {
        b = b.add_rule(format!("app-group-{i:02}"), format!("app_role_{i:02}"));
    }
    b.build().expect("a valid map")
}

/// 200 groups shaped like real ones; `hit` adds a group matching rule 40 at the end.
fn claims(hit: bool) -> Map<String, Value> {
    let mut groups: Vec<String> = (0..200)
        .map(|i| format!("Department-{}-Team-{i:03}", i % 17))
        .collect();
    if hit {
        groups.push("app-group-40".into());
    }
    json!({"sub": "u", "groups": groups})
        .as_object()
        .cloned()
        .expect("an object")
}

fn bench(c: &mut Criterion) {
    let exact = map(false);
    let folded = map(true);
    let hit = claims(true);
    let miss = claims(false);
    let mut g = c.benchmark_group("role_map/200_groups_50_rules");
    g.bench_function("exact, match at rule 40", |b| {
        b.iter(|| exact.resolve(black_box(&hit)))
    });
    g.bench_function("exact, no match (default role)", |b| {
        b.iter(|| exact.resolve(black_box(&miss)))
    });
    g.bench_function("ignore_case, match at rule 40", |b| {
        b.iter(|| folded.resolve(black_box(&hit)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
