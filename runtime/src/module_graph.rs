//! The module graph of this crate, read from its source: dependencies run one way.
//!
//! Every file is a module. Module `a` uses module `b` when `a`'s code names an item that `b`
//! defines: through `use` (`use crate::…`, `use super::…`, `use child::…`) or a path written in
//! place (`crate::session::identifier(…)`), with re-exports followed to the module that defines
//! the item (`crate::Db` is `db`, `super::EmbeddedError` is `embedded::error`). Test code
//! (`#[cfg(test)]` modules) and the crate root's `__private` re-exports are left out: they are
//! not the dependency structure. `cargo test -p pgready --lib module_graph -- --nocapture`
//! prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path below the crate root: `["health", "flight"]`; `[]` is the root.
type ModPath = Vec<String>;

struct Module {
    /// Child modules declared with `mod name;`.
    children: BTreeSet<String>,
    /// Names bound by `use`, with the path they stand for (relative to this module).
    bindings: BTreeMap<String, Vec<String>>,
    /// Every path this module names, as written (relative to this module).
    paths: Vec<Vec<String>>,
}

/// The graph of the crate whose root file is `root` within `files` (file name → source).
fn graph(files: &BTreeMap<String, String>, root: &str) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut modules = BTreeMap::new();
    load(files, root, Vec::new(), &mut modules);
    let mut graph = BTreeMap::new();
    for (path, module) in &modules {
        let mut uses = BTreeSet::new();
        for written in &module.paths {
            if let Some(target) = resolve(&modules, path, written, 0)
                && &target != path
                && !target.is_empty()
            {
                uses.insert(target);
            }
        }
        graph.insert(path.clone(), uses);
    }
    graph.remove(&Vec::new());
    graph
}

fn load(
    files: &BTreeMap<String, String>,
    file: &str,
    path: ModPath,
    modules: &mut BTreeMap<ModPath, Module>,
) {
    let Some(source) = files.get(file) else {
        panic!("module file `{file}` not found");
    };
    let code = without_inline_modules(&strip(source));
    let dir = match file.rsplit_once('/') {
        Some((dir, name)) if name == "mod.rs" || name == "lib.rs" => format!("{dir}/"),
        None if file == "mod.rs" || file == "lib.rs" => String::new(),
        Some((dir, name)) => format!("{dir}/{}/", name.trim_end_matches(".rs")),
        None => format!("{}/", file.trim_end_matches(".rs")),
    };
    let children = declared_modules(&code);
    let mut module = Module {
        children: children.iter().cloned().collect(),
        bindings: BTreeMap::new(),
        paths: Vec::new(),
    };
    let rest = uses(&code, &mut module);
    module.paths.extend(inline_paths(&rest, &module.children));
    modules.insert(path.clone(), module);
    for child in children {
        let flat = format!("{dir}{child}.rs");
        let nested = format!("{dir}{child}/mod.rs");
        let child_file = if files.contains_key(&flat) {
            flat
        } else {
            nested
        };
        let mut child_path = path.clone();
        child_path.push(child);
        load(files, &child_file, child_path, modules);
    }
}

/// Where `written` (a path as written in module `from`) leads: the module defining the item,
/// or `None` for another crate's.
fn resolve(
    modules: &BTreeMap<ModPath, Module>,
    from: &ModPath,
    written: &[String],
    depth: usize,
) -> Option<ModPath> {
    if depth > 32 {
        panic!("re-exports loop at {written:?} in {from:?}");
    }
    let (first, rest) = written.split_first()?;
    let mut at: ModPath = match first.as_str() {
        "crate" => Vec::new(),
        "self" => from.clone(),
        "super" => from[..from.len().checked_sub(1)?].to_vec(),
        name if modules[from].children.contains(name) => {
            let mut child = from.clone();
            child.push(name.to_owned());
            child
        }
        name => {
            let bound = modules[from].bindings.get(name)?;
            if bound.first().map(String::as_str) == Some(name) {
                // `pub use sqlx;`: another crate.
                return None;
            }
            let mut path = bound.clone();
            path.extend(rest.iter().cloned());
            return resolve(modules, from, &path, depth + 1);
        }
    };
    let mut segments = rest.iter();
    while let Some(segment) = segments.next() {
        match segment.as_str() {
            "super" => {
                at.pop();
            }
            "self" => {}
            name if modules[&at].children.contains(name) => at.push(name.to_owned()),
            name => {
                return match modules[&at].bindings.get(name) {
                    // A re-export: the item is where the `use` leads.
                    Some(bound) => {
                        let mut path = bound.clone();
                        path.extend(segments.cloned());
                        resolve(modules, &at, &path, depth + 1)
                    }
                    None => Some(at),
                };
            }
        }
    }
    Some(at)
}

/// The source without comments, string and character literals.
fn strip(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !chars[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `code` without inline modules (`mod tests { … }`, the root's `__private`), and without
/// `#[cfg(test)] mod name;` declarations.
fn without_inline_modules(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = find_word(rest, "mod") {
        let after = &rest[at + 3..];
        let name_len = after
            .trim_start()
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(0);
        let after_name = after.trim_start()[name_len..].trim_start();
        if after_name.starts_with('{') {
            out.push_str(strip_test_attribute(&rest[..at]));
            let open = rest.len() - after_name.len();
            let mut depth = 0;
            let mut end = rest.len();
            for (i, c) in rest[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open + i + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            rest = &rest[end..];
        } else if rest[..at].trim_end().ends_with("#[cfg(test)]") {
            out.push_str(strip_test_attribute(&rest[..at]));
            let end = rest[at..].find(';').map_or(rest.len(), |i| at + i + 1);
            rest = &rest[end..];
        } else {
            out.push_str(&rest[..at + 3]);
            rest = &rest[at + 3..];
        }
    }
    out.push_str(rest);
    out
}

fn strip_test_attribute(before: &str) -> &str {
    before
        .trim_end()
        .strip_suffix("#[cfg(test)]")
        .unwrap_or(before)
}

/// The byte offset of `word` as a whole word in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(i) = text[from..].find(word) {
        let at = from + i;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// `mod name;` declarations.
fn declared_modules(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = code;
    while let Some(at) = find_word(rest, "mod") {
        let after = rest[at + 3..].trim_start();
        let len = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if after[len..].trim_start().starts_with(';') {
            names.push(after[..len].to_owned());
        }
        rest = &rest[at + 3..];
    }
    names
}

/// Records every `use` declaration of `code` in `module` (bindings and paths); returns the
/// code without them.
fn uses(code: &str, module: &mut Module) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = find_word(rest, "use") {
        let after = &rest[at + 3..];
        if !after.starts_with(char::is_whitespace) {
            out.push_str(&rest[..at + 3]);
            rest = after;
            continue;
        }
        let end = after.find(';').unwrap_or(after.len());
        let tokens = tokenize(&after[..end]);
        let mut leaves = Vec::new();
        use_tree(&tokens, &mut 0, Vec::new(), &mut leaves);
        for (path, name) in leaves {
            if let Some(name) = name {
                module.bindings.insert(name, path.clone());
            }
            module.paths.push(path);
        }
        out.push_str(&rest[..at]);
        rest = &after[(end + 1).min(after.len())..];
    }
    out.push_str(rest);
    out
}

fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_owned());
            i += 2;
        } else {
            tokens.push(c.to_string());
            i += 1;
        }
    }
    tokens
}

/// Parses one use tree from `tokens[*i..]` under `prefix`; pushes `(path, bound name)` for
/// each leaf (`None` for a glob or `as _`).
fn use_tree(
    tokens: &[String],
    i: &mut usize,
    prefix: Vec<String>,
    leaves: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let mut path = prefix;
    loop {
        match tokens.get(*i).map(String::as_str) {
            Some("{") => {
                *i += 1;
                while !matches!(tokens.get(*i).map(String::as_str), Some("}") | None) {
                    let before = *i;
                    use_tree(tokens, i, path.clone(), leaves);
                    if *i == before {
                        break;
                    }
                    if tokens.get(*i).map(String::as_str) == Some(",") {
                        *i += 1;
                    }
                }
                *i += 1;
                return;
            }
            Some("*") => {
                *i += 1;
                leaves.push((path, None));
                return;
            }
            Some("::") => *i += 1,
            Some(word) if word.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                *i += 1;
                if word == "self" && !path.is_empty() {
                    // `use a::{self}` binds `a`.
                } else {
                    path.push(word.to_owned());
                }
                if tokens.get(*i).map(String::as_str) != Some("::") {
                    let name = if tokens.get(*i).map(String::as_str) == Some("as") {
                        *i += 2;
                        Some(tokens[*i - 1].clone()).filter(|n| n != "_")
                    } else {
                        path.last().cloned()
                    };
                    leaves.push((path, name));
                    return;
                }
            }
            // `pub`, `(crate)` and the like before the tree, or the end.
            _ => return,
        }
    }
}

/// Paths written in place that start at a module: `crate::…`, `super::…`, `self::…`, or a
/// child module's name.
fn inline_paths(code: &str, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let tokens = tokenize(code);
    let mut paths = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let starts_path = i == 0 || tokens[i - 1] != "::";
        let head = tokens[i].as_str();
        let is_root = matches!(head, "crate" | "super" | "self") || children.contains(head);
        if starts_path && is_root && tokens.get(i + 1).map(String::as_str) == Some("::") {
            let mut path = vec![head.to_owned()];
            let mut j = i + 1;
            while tokens.get(j).map(String::as_str) == Some("::")
                && tokens
                    .get(j + 1)
                    .is_some_and(|t| t.chars().all(|c| c.is_alphanumeric() || c == '_'))
            {
                path.push(tokens[j + 1].clone());
                j += 2;
            }
            paths.push(path);
            i = j;
        } else {
            i += 1;
        }
    }
    paths
}

/// The first cycle in `graph`, as the modules along it.
fn cycle(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Option<Vec<ModPath>> {
    fn visit(
        graph: &BTreeMap<ModPath, BTreeSet<ModPath>>,
        node: &ModPath,
        stack: &mut Vec<ModPath>,
        done: &mut BTreeSet<ModPath>,
    ) -> Option<Vec<ModPath>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

fn name(path: &ModPath) -> String {
    path.join("::")
}

fn read_tree(dir: &Path, prefix: &str, files: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        panic!("cannot read {}", dir.display());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            read_tree(&path, &format!("{prefix}{file_name}/"), files);
        } else if file_name.ends_with(".rs")
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            files.insert(format!("{prefix}{file_name}"), text);
        }
    }
}

#[test]
fn runtime_modules_depend_on_each_other_one_way() {
    let mut files = BTreeMap::new();
    read_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        "",
        &mut files,
    );
    let graph = graph(&files, "lib.rs");
    for (module, uses) in &graph {
        let uses: Vec<_> = uses.iter().map(name).collect();
        println!("{} -> {}", name(module), uses.join(", "));
    }
    // The reader sees through re-exports and `crate::` paths written in place.
    let uses = |a: &str, b: &str| {
        let path = |s: &str| s.split("::").map(str::to_owned).collect::<ModPath>();
        graph[&path(a)].contains(&path(b))
    };
    assert!(
        uses("start", "db"),
        "`use crate::{{Db, Error}}` in start.rs"
    );
    assert!(uses("embedded::cluster", "embedded::error"));
    assert!(
        uses("migrate::plan", "session"),
        "`crate::session::identifier`"
    );
    if let Some(cycle) = cycle(&graph) {
        let cycle: Vec<_> = cycle.iter().map(name).collect();
        panic!("modules use each other in a circle: {}", cycle.join(" -> "));
    }
}

#[test]
fn a_cycle_through_a_re_export_or_a_path_in_place_is_found() {
    let files: BTreeMap<String, String> = [
        ("lib.rs", "mod a;\nmod b;\npub use a::Alpha;\n"),
        ("a.rs", "pub struct Alpha;\nfn f() { crate::b::beta(); }\n"),
        (
            "b.rs",
            "use crate::Alpha; // via the root\n/// crate::a::nothing\npub fn beta() {}\n",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let graph = graph(&files, "lib.rs");
    let found = cycle(&graph).expect("a -> b -> a");
    assert_eq!(found.len(), 3, "{found:?}");

    let one_way: BTreeMap<String, String> = [
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::{self, Beta as B};\n"),
        (
            "b.rs",
            "pub struct Beta;\n#[cfg(test)]\nmod tests { use crate::a; }\n",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(cycle(&graph_of(&one_way)), None);
}

fn graph_of(files: &BTreeMap<String, String>) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    graph(files, "lib.rs")
}
