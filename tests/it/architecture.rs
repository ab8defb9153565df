//! The workspace keeps the shape ARCHITECTURE.md draws: contracts below (domain, db, stage),
//! the stages beside each other over them, the pipeline that sequences them, the binary on
//! top. And no crate declares a dependency it does not use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which workspace crates each crate may depend on (normal dependencies).
fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    const CONTRACTS: &[&str] = &["ykt-domain", "ykt-db", "ykt-stage"];
    BTreeMap::from([
        ("ykt-domain", &[][..]),
        ("ykt-stage", &[][..]),
        ("ykt-db", &["ykt-domain"][..]),
        ("ykt-extract", CONTRACTS),
        ("ykt-transform", CONTRACTS),
        ("ykt-load", CONTRACTS),
        ("ykt-reconcile", CONTRACTS),
        ("ykt-users", CONTRACTS),
        ("ykt-cutover", CONTRACTS),
        // The reports present reconcile's result.
        (
            "ykt-reports",
            &["ykt-domain", "ykt-db", "ykt-stage", "ykt-reconcile"][..],
        ),
        // The simulator writes the legacy schema and export format the extract reads.
        ("ykt-simulate", &["ykt-domain", "ykt-db", "ykt-extract"][..]),
        (
            "ykt-pipeline",
            &[
                "ykt-domain",
                "ykt-db",
                "ykt-stage",
                "ykt-extract",
                "ykt-transform",
                "ykt-load",
                "ykt-reconcile",
                "ykt-reports",
                "ykt-cutover",
            ][..],
        ),
    ])
}

struct Package {
    name: String,
    dir: PathBuf,
    /// (name, kind: None = normal, Some("dev"), Some("build"))
    dependencies: Vec<(String, Option<String>)>,
}

fn packages() -> Vec<Package> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Package {
            name: p["name"].as_str().unwrap().to_owned(),
            dir: Path::new(p["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .to_owned(),
            dependencies: p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["name"].as_str().unwrap().to_owned(),
                        d["kind"].as_str().map(str::to_owned),
                    )
                })
                .collect(),
        })
        .collect()
}

#[test]
fn stages_depend_only_on_the_contracts() {
    let allowed = allowed();
    let mut wrong = Vec::new();
    for p in packages() {
        if p.name == "ykt" {
            continue;
        }
        let Some(may) = allowed.get(p.name.as_str()) else {
            wrong.push(format!(
                "{} is not in the architecture test's map: add it, and to ARCHITECTURE.md",
                p.name
            ));
            continue;
        };
        for (dep, kind) in &p.dependencies {
            if dep.starts_with("ykt") && kind.is_none() && !may.contains(&dep.as_str()) {
                wrong.push(format!("{} depends on {dep}", p.name));
            }
        }
    }
    assert!(wrong.is_empty(), "the crate graph broke: {wrong:#?}");
}

/// The Rust text of a folder's `.rs` files.
fn rust_text(dir: &Path, out: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_text(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

#[test]
fn no_crate_declares_a_dependency_it_does_not_use() {
    let mut unused = BTreeSet::new();
    for p in packages() {
        let mut code = String::new();
        let mut tests = String::new();
        // The root package's own folder holds the others: read only its src/ and tests/.
        rust_text(&p.dir.join("src"), &mut code);
        for folder in ["tests", "benches", "examples"] {
            rust_text(&p.dir.join(folder), &mut tests);
        }
        let build = std::fs::read_to_string(p.dir.join("build.rs")).unwrap_or_default();
        for (dep, kind) in &p.dependencies {
            let ident = dep.replace('-', "_");
            let used_in = |text: &str| {
                text.contains(&format!("{ident}::"))
                    || text.contains(&format!("use {ident}"))
                    || text.contains(&format!("{ident}!"))
                    || text.contains(&format!("extern crate {ident}"))
            };
            let used = match kind.as_deref() {
                Some("dev") => used_in(&tests) || used_in(&code),
                Some("build") => used_in(&build),
                _ => used_in(&code),
            };
            if !used {
                unused.insert(format!(
                    "{}: {dep} ({})",
                    p.name,
                    kind.as_deref().unwrap_or("normal")
                ));
            }
        }
    }
    assert!(
        unused.is_empty(),
        "declared but never used (remove them from Cargo.toml): {unused:#?}"
    );
}
