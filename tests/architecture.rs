//! ARCHITECTURE.md stays true: every file and folder it names exists, and the
//! modules of the bot and of the simulator import each other one way only (no
//! cycle between the files and folders directly under `src/`).

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `code spans` of a markdown text.
fn code_spans(text: &str) -> Vec<&str> {
    text.split("```")
        .step_by(2) // outside fenced blocks
        .flat_map(|prose| prose.split('`').skip(1).step_by(2))
        .collect()
}

/// Whether `pattern` (a path, `*` standing for any one name) names something.
fn exists(base: &Path, pattern: &str) -> bool {
    let mut candidates = vec![base.to_path_buf()];
    for part in pattern.trim_end_matches('/').split('/') {
        candidates = candidates
            .into_iter()
            .flat_map(|dir| -> Vec<PathBuf> {
                if !part.contains('*') {
                    return vec![dir.join(part)];
                }
                let (head, tail) = part.split_once('*').unwrap();
                fs::read_dir(&dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        let name = p.file_name().unwrap().to_string_lossy();
                        name.starts_with(head) && name.ends_with(tail)
                    })
                    .collect()
            })
            .filter(|p| p.exists())
            .collect();
    }
    !candidates.is_empty()
}

/// Each crate's folder, and every folder under `src/` and `crates/*/src/`.
fn source_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![root().join("src")];
    for krate in fs::read_dir(root().join("crates")).unwrap().flatten() {
        dirs.push(krate.path().join("src"));
        dirs.push(krate.path());
    }
    let mut i = 0;
    while i < dirs.len() {
        let found: Vec<PathBuf> = fs::read_dir(&dirs[i])
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir() && !p.ends_with("target") && !p.ends_with(".sqlx"))
            .collect();
        dirs.extend(found);
        i += 1;
    }
    dirs
}

#[test]
fn every_path_architecture_md_names_exists() {
    let text = fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut checked = 0;
    for span in code_spans(&text) {
        let looks_like_path =
            (span.contains('/') || span.ends_with(".rs") || span.ends_with(".md"))
                && !span.contains(['<', ' ', '(', ':']);
        if !looks_like_path {
            continue;
        }
        // A path from the repository's root, or (in a section about one crate)
        // a path inside the sources of a crate.
        assert!(
            exists(&root(), span) || source_dirs().iter().any(|dir| exists(dir, span)),
            "ARCHITECTURE.md names `{span}`, which does not exist"
        );
        checked += 1;
    }
    assert!(
        checked > 30,
        "only {checked} paths found: did the format change?"
    );
}

/// The top-level module each `crate::x` path in `dir`'s files points to, per module.
fn module_graph(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = vec![dir.to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(dir).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let uses = graph.entry(module.clone()).or_default();
        for used in imports(code) {
            if used != module {
                uses.insert(used);
            }
        }
    }
    let known: BTreeSet<String> = graph.keys().cloned().collect();
    for uses in graph.values_mut() {
        uses.retain(|m| known.contains(m));
    }
    graph
}

/// The first segment after every `crate::` in `code`, `use crate::{a, b::c}`
/// groups included.
fn imports(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find("};").unwrap_or(group.len())];
            // Items at the group's top level: after `{` or a `,` at depth 0.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => {
                        found.insert(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty() && m != "self" && m != "super");
    found
}

/// A cycle in `graph`, if there is one, as the modules along it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in &graph[node] {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_bot_and_the_simulator_have_no_module_cycles() {
    for dir in ["src", "crates/discord-sim/src"] {
        let graph = module_graph(&root().join(dir));
        assert!(graph.len() > 5, "{dir}: {graph:?}");
        if let Some(found) = cycle(&graph) {
            panic!("{dir}: the modules import each other in a cycle: {found:?}");
        }
    }
}

#[test]
fn the_cycle_check_sees_cycles_and_grouped_imports() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(cycle(&graph).unwrap().len(), 4);
    let uses =
        imports("use crate::{bot, config::{Config, X}, error::Fatal};\nlet x = crate::xp::f();");
    assert_eq!(
        uses.into_iter().collect::<Vec<_>>(),
        ["bot", "config", "error", "xp"]
    );
}
