//! The house rules of the workspace's sources, checked on every test run: no two files of a
//! crate import each other (directly or around a loop), no non-test file over 600 lines, no
//! non-test function over 80 lines. Test modules (`#[cfg(test)] mod tests` and `tests.rs`
//! files) are left out: they may reach across a crate.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
mod support;

use std::path::Path;

use support::{rust_files, workspace};

/// The source folders of the workspace's crates.
const CRATES: &[&str] = &[
    "crates/lookahead-optim/src",
    "crates/models/src",
    "crates/data/src",
    "crates/study/src",
    "experiments/src",
    "xtask/src",
];

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

/// A file's module path inside its crate (`lib.rs`/`main.rs` → [], `a/mod.rs` → [a]).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The text of a file without its unit-test module and comment lines.
fn non_test_text(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The path segments that follow `prefix` at `at` in `text` (`a::b::C` → [a, b, C]).
fn segments(text: &str, at: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = &text[at..];
    loop {
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            break;
        }
        out.push(rest[..len].to_string());
        match rest[len..].strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    out
}

/// The paths after `at` in `text`: one (`a::b::C`), or with a group one per item, each with
/// the group's prefix (`a::{b, c::{D, E}}` → a::b, a::c::D, a::c::E).
fn paths_at(text: &str, at: usize) -> Vec<Vec<String>> {
    let prefix = segments(text, at);
    let mut after = at;
    for (i, segment) in prefix.iter().enumerate() {
        after += segment.len() + if i + 1 < prefix.len() { 2 } else { 0 };
    }
    let Some(group) = text[after..]
        .strip_prefix("::{")
        .or_else(|| text[after..].strip_prefix('{'))
    else {
        return vec![prefix];
    };
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .flat_map(|item| paths_at(item, 0))
        .map(|tail| prefix.iter().cloned().chain(tail).collect())
        .collect()
}

/// The file modules one file refers to: `crate::…` and `super::…` paths (groups too), and a
/// module file's `pub use child::…` re-exports.
fn references(text: &str, own: &[String], is_mod: bool) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        if at > 0 && text[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        out.extend(paths_at(text, at + "crate::".len()));
    }
    for (at, _) in text.match_indices("super::") {
        if text[..at].ends_with("super::") {
            continue;
        }
        let mut ups = 0;
        let mut rest = &text[at..];
        while let Some(next) = rest.strip_prefix("super::") {
            ups += 1;
            rest = next;
        }
        // `super` is the parent module, for a `mod.rs` and a leaf file alike.
        let Some(keep) = own.len().checked_sub(ups) else {
            continue;
        };
        for tail in paths_at(text, text.len() - rest.len()) {
            let mut path = own[..keep].to_vec();
            path.extend(tail);
            out.push(path);
        }
    }
    if is_mod {
        for (child, _) in reexports(text) {
            let mut path = own.to_vec();
            path.push(child);
            out.push(path);
        }
    }
    out
}

/// A module file's re-exports: (child module, name) for each `pub use child::…Name`.
fn reexports(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("pub use ") {
        for path in paths_at(text, at + "pub use ".len()) {
            if let (Some(child), Some(name)) = (path.first(), path.last()) {
                out.push((child.clone(), name.clone()));
            }
        }
    }
    out
}

/// The file module `path` names: its longest prefix that is a file module, followed through
/// that module's re-exports (`crate::Name` re-exported from `child` is `child`).
fn resolve(
    path: &[String],
    modules: &BTreeSet<Vec<String>>,
    exports: &BTreeMap<Vec<String>, Vec<(String, String)>>,
) -> Option<Vec<String>> {
    let module = (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))?;
    let Some(name) = path.get(module.len()) else {
        return Some(module);
    };
    let child = exports
        .get(&module)
        .and_then(|e| e.iter().find(|(_, n)| n == name))
        .map(|(child, _)| child.clone());
    match child {
        Some(child) if child != "self" && child != "super" && child != "crate" => {
            let mut inner = module.clone();
            inner.push(child);
            inner.push(name.clone());
            resolve(&inner, modules, exports).or(Some(module))
        }
        _ => Some(module),
    }
}

/// The strongly connected groups of more than one file (Tarjan).
fn loops(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct State<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<Vec<String>, (usize, usize)>,
        stack: Vec<Vec<String>>,
        next: usize,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit(s: &mut State<'_>, v: &Vec<String>) {
        s.index.insert(v.clone(), (s.next, s.next));
        s.next += 1;
        s.stack.push(v.clone());
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.index[v].1.min(s.index[w].1);
                s.index.get_mut(v).unwrap().1 = low;
            } else if s.stack.contains(w) {
                let low = s.index[v].1.min(s.index[w].0);
                s.index.get_mut(v).unwrap().1 = low;
            }
        }
        if s.index[v].0 == s.index[v].1 {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                let done = &w == v;
                group.push(w);
                if done {
                    break;
                }
            }
            if group.len() > 1 {
                s.out.push(group);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_two_files_of_a_crate_import_each_other() {
    let mut found = Vec::new();
    for src in CRATES {
        let src = workspace().join(src);
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        files.retain(|f| !f.ends_with("tests.rs"));
        let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_path(&src, f)).collect();
        let texts: Vec<(Vec<String>, bool, String)> = files
            .iter()
            .map(|file| {
                let is_mod = matches!(
                    file.file_name().and_then(|n| n.to_str()),
                    Some("mod.rs" | "lib.rs" | "main.rs")
                );
                let text = non_test_text(&std::fs::read_to_string(file).unwrap());
                (module_path(&src, file), is_mod, text)
            })
            .collect();
        let exports: BTreeMap<Vec<String>, Vec<(String, String)>> = texts
            .iter()
            .filter(|(_, is_mod, _)| *is_mod)
            .map(|(own, _, text)| (own.clone(), reexports(text)))
            .collect();
        let mut edges = BTreeMap::new();
        for (own, is_mod, text) in &texts {
            let targets: BTreeSet<Vec<String>> = references(text, own, *is_mod)
                .iter()
                .filter_map(|p| resolve(p, &modules, &exports))
                .filter(|t| t != own)
                .collect();
            edges.insert(own.clone(), targets);
        }
        if std::env::var("STRUCTURE_DEBUG").is_ok() {
            for (from, to) in &edges {
                eprintln!("{} -> {:?}", from.join("/"), to);
            }
        }
        for group in loops(&edges) {
            let names: Vec<String> = group
                .iter()
                .map(|m| {
                    if m.is_empty() {
                        "lib".into()
                    } else {
                        m.join("/")
                    }
                })
                .collect();
            found.push(format!("{}: {}", src.display(), names.join(" ↔ ")));
        }
    }
    assert!(
        found.is_empty(),
        "files that import each other:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_long_file_or_function() {
    let mut found = Vec::new();
    for src in CRATES {
        let mut files = Vec::new();
        rust_files(&workspace().join(src), &mut files);
        files.retain(|f| !f.ends_with("tests.rs"));
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let end = lines
                .iter()
                .position(|l| l.starts_with("#[cfg(test)]"))
                .unwrap_or(lines.len());
            if end > MAX_FILE_LINES {
                found.push(format!("{}: {end} lines", file.display()));
            }
            found.extend(long_functions(&lines[..end], &file));
        }
    }
    assert!(found.is_empty(), "too long:\n{}", found.join("\n"));
}

/// The functions of `lines` longer than [`MAX_FN_LINES`], by brace counting from `fn`.
fn long_functions(lines: &[&str], file: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        let is_fn = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "pub(super) fn ",
            "const fn ",
        ]
        .iter()
        .any(|p| code.starts_with(p));
        if !is_fn {
            continue;
        }
        let (mut depth, mut opened) = (0i64, false);
        for (j, l) in lines[i..].iter().enumerate() {
            depth += l.matches('{').count() as i64 - l.matches('}').count() as i64;
            opened |= l.contains('{');
            if !opened && l.trim_end().ends_with(';') {
                break;
            }
            if opened && depth <= 0 {
                if j + 1 > MAX_FN_LINES {
                    out.push(format!(
                        "{}:{}: a function of {} lines",
                        file.display(),
                        i + 1,
                        j + 1
                    ));
                }
                break;
            }
        }
    }
    out
}
