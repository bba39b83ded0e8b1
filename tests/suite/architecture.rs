//! The shape of the code: capability modules depend on each other one way only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The modules of `app/src` whose dependencies are checked: every capability, and the
/// layers below (`common`, `shell`) and above (`layout`) them.
const MODULES: [&str; 15] = [
    "common",
    "shell",
    "compliance",
    "audit",
    "accounts",
    "clients",
    "orders",
    "templates",
    "outbox",
    "campaigns",
    "delivery",
    "reports",
    "connectors",
    "messaging",
    "layout",
];

/// Which of `MODULES` each module's files name (`crate::<module>` or `use crate::{…}`).
fn dependencies(app_src: &Path) -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let mut deps = BTreeMap::new();
    for module in MODULES {
        let mut files = Vec::new();
        let single = app_src.join(format!("{module}.rs"));
        if single.exists() {
            files.push(single);
        } else {
            let mut folders = vec![app_src.join(module)];
            while let Some(folder) = folders.pop() {
                for entry in std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()) {
                    if entry.is_dir() {
                        folders.push(entry);
                    } else if entry.extension().is_some_and(|e| e == "rs") {
                        files.push(entry);
                    }
                }
            }
        }
        let mut named = BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (at, _) in text.match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => {
                        group.split('}').next().unwrap_or("").split(',').map(|n| n.trim().split("::").next().unwrap_or("")).collect()
                    }
                    None => vec![rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("")],
                };
                named.extend(names.into_iter().filter_map(|n| MODULES.iter().find(|m| **m == n && **m != module).copied()));
            }
        }
        deps.insert(module, named);
    }
    deps
}

#[test]
fn capability_modules_depend_on_each_other_one_way_only() {
    let deps = dependencies(&starling_tests::repo_root().join("app/src"));
    // Each module may use only those listed before it.
    let mut problems = Vec::new();
    for (position, module) in MODULES.iter().enumerate() {
        for used in &deps[module] {
            if MODULES.iter().position(|m| m == used).unwrap() > position {
                problems.push(format!("{module} uses {used}, which comes after it"));
            }
        }
    }
    assert!(problems.is_empty(), "the dependency order is common, shell, compliance, audit, accounts, clients, orders, templates, outbox, campaigns, delivery, reports, connectors, messaging, layout:\n{}", problems.join("\n"));
    assert!(deps["common"].is_empty(), "common uses {:?}", deps["common"]);
}
