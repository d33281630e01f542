//! The crates' modules form no import circles.
//!
//! Each source file is a node; a file depends on another when its code names an item there (`use` paths,
//! `crate::`/`super::`/`self::` paths in code, a child module's name). A `pub use` re-export is transparent:
//! naming `a::X` where `a` only re-exports `X` from `a::b` is a dependency on `a::b`, not on `a`, and the
//! re-export itself is no dependency, so a facade `mod.rs` does not make its children circular. Comments,
//! doc links and `#[cfg(test)] mod tests` blocks are not code the crate runs, so they are left out.
//!
//! Run with `--nocapture` to see the graph's circles and each edge in them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The library crates whose modules must form a DAG.
const CRATES: &[&str] = &[
    "rmq-protocol",
    "rmq-filter",
    "rmq-broker",
    "rmq-client",
    "rmq-runtime",
    "rmq-listener-attrs",
];

/// A module path inside a crate, `[]` for the crate root.
type ModPath = Vec<String>;

struct Module {
    /// Code with comments and test modules removed.
    code: String,
    /// `pub use` re-exports: item name → full path it names.
    reexports: BTreeMap<String, ModPath>,
    /// `pub use m::*` re-exports: the modules whose items this one passes on.
    globs: Vec<ModPath>,
}

impl Module {
    /// Whether the module's own code declares an item called `name`.
    fn defines(&self, name: &str) -> bool {
        [
            "struct",
            "enum",
            "fn",
            "type",
            "trait",
            "const",
            "static",
            "union",
            "macro_rules!",
        ]
        .iter()
        .any(|kw| {
            self.code
                .match_indices(&format!("{kw} {name}"))
                .any(|(at, m)| {
                    let next = self.code[at + m.len()..].chars().next();
                    !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
        })
    }
}

/// `code` with its `use` statements blanked out (they are read separately).
fn without_uses(code: &str) -> String {
    let mut out = code.to_string();
    for (at, _, _) in uses(code) {
        if let Some(end) = code[at..].find(';') {
            out.replace_range(at..at + end, &" ".repeat(end));
        }
    }
    out
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn module_path(src: &Path, file: &Path) -> Option<ModPath> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    let last = parts.pop()?;
    match last.as_str() {
        "lib.rs" if parts.is_empty() => {}
        "main.rs" => return None,
        "mod.rs" => {}
        other => parts.push(other.strip_suffix(".rs")?.to_string()),
    }
    Some(parts)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without comments, string literals and `#[cfg(test)]` items.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i = text[i..].find("*/").map_or(b.len(), |e| i + e + 2);
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    // Test modules sit at the end of their files.
    if let Some(at) = out.find("#[cfg(test)]") {
        out.truncate(at);
    }
    out
}

/// Expands a use tree (`a::{b, c::{D, E}}`) into paths.
fn expand_use(tree: &str) -> Vec<String> {
    // `X as Y` keeps X (marked with `@` so whitespace can go).
    let tree = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.replace(" as ", "@");
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len().saturating_sub(1)];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            expand_use(p)
                .into_iter()
                .map(move |x| format!("{prefix}{x}"))
        })
        .collect()
}

/// For each byte of `code`, how many inline `mod x { .. }` blocks enclose it (a `super::` there first leaves
/// those, not the file's module).
fn inline_depths(code: &str) -> Vec<u8> {
    let b = code.as_bytes();
    let mut depth_at = vec![0u8; b.len() + 1];
    // Brace depth at which each open inline module started.
    let mut open: Vec<usize> = Vec::new();
    let mut braces = 0usize;
    let mut pending_mod = false;
    for (i, &c) in b.iter().enumerate() {
        if (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
            && b[i..].starts_with(b"mod ")
        {
            pending_mod = true;
        }
        match c {
            b';' => pending_mod = false,
            b'{' => {
                braces += 1;
                if pending_mod {
                    open.push(braces);
                    pending_mod = false;
                }
            }
            b'}' => {
                if open.last() == Some(&braces) {
                    open.pop();
                }
                braces = braces.saturating_sub(1);
            }
            _ => {}
        }
        depth_at[i] = open.len() as u8;
    }
    depth_at
}

/// `use` statements: (offset, is `pub`, path).
fn uses(code: &str) -> Vec<(usize, bool, String)> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("use ") {
        let before = &code[..at];
        if before
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let line_start = before.rfind(['\n', ';', '{', '}']).map_or(0, |i| i + 1);
        let lead = before[line_start..].trim();
        if !(lead.is_empty() || lead.starts_with("pub") || lead.starts_with("#[")) {
            continue;
        }
        let Some(end) = code[at..].find(';') else {
            continue;
        };
        let is_pub = lead.starts_with("pub");
        for p in expand_use(&code[at + 4..at + end]) {
            let p = p.split('@').next().unwrap_or(&p).to_string();
            out.push((at, is_pub, p));
        }
    }
    out
}

/// Paths in code, with their offsets: `crate::a::b`, `super::x`, `self::y`, `child::z`.
fn code_paths(code: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let ident_start = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if ident_start && (b[i].is_ascii_lowercase() || b[i] == b'_') {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b':') {
                j += 1;
            }
            let path = &code[i..j];
            if path.contains("::") && !(i >= 2 && &b[i - 2..i] == b"::") {
                out.push((i, path.trim_end_matches(':').to_string()));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The path a written path names, absolute in the crate; `None` for other crates' paths.
fn absolute(
    from: &ModPath,
    inline: u8,
    written: &str,
    modules: &BTreeMap<ModPath, Module>,
) -> Option<ModPath> {
    let mut segs: Vec<&str> = written.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: ModPath = match segs.first().copied()? {
        "crate" => {
            segs.remove(0);
            Vec::new()
        }
        "self" => {
            segs.remove(0);
            from.clone()
        }
        "super" => {
            let mut b = from.clone();
            let mut inline = inline;
            while segs.first() == Some(&"super") {
                segs.remove(0);
                if inline > 0 {
                    inline -= 1;
                } else {
                    b.pop();
                }
            }
            b
        }
        first => {
            let mut child = from.clone();
            child.push(first.to_string());
            if !modules.contains_key(&child) {
                return None;
            }
            from.clone()
        }
    };
    base.extend(segs.iter().map(|s| s.to_string()));
    Some(base)
}

/// The module a full item path lives in, following re-exports.
fn owner(path: &ModPath, modules: &BTreeMap<ModPath, Module>, depth: usize) -> Option<ModPath> {
    let mut n = path.len();
    while n > 0 && !modules.contains_key(&path[..n]) {
        n -= 1;
    }
    let module = path[..n].to_vec();
    let (Some(item), Some(m), true) = (path.get(n), modules.get(&module), depth < 8) else {
        return Some(module);
    };
    if let Some(target) = m.reexports.get(item) {
        let mut full = target.clone();
        full.extend(path[n + 1..].iter().cloned());
        return owner(&full, modules, depth + 1);
    }
    if m.defines(item) {
        return Some(module);
    }
    for glob in &m.globs {
        let mut full = glob.clone();
        full.extend(path[n..].iter().cloned());
        let Some(o) = owner(&full, modules, depth + 1) else {
            continue;
        };
        let found = path[n..]
            .first()
            .is_some_and(|i| modules.get(&o).is_some_and(|om| om.defines(i)));
        if o != module && found {
            return Some(o);
        }
    }
    Some(module)
}

fn graph(src: &Path) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules: BTreeMap<ModPath, Module> = BTreeMap::new();
    for f in &files {
        let Some(m) = module_path(src, f) else {
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        modules.insert(
            m,
            Module {
                code: code_of(&text),
                reexports: BTreeMap::new(),
                globs: Vec::new(),
            },
        );
    }
    // Re-exports first (they need every module known).
    let names: Vec<ModPath> = modules.keys().cloned().collect();
    for m in &names {
        let code = modules[m].code.clone();
        let depths = inline_depths(&code);
        let mut reexports = BTreeMap::new();
        let mut globs = Vec::new();
        for (at, is_pub, p) in uses(&code) {
            if !is_pub {
                continue;
            }
            if let Some(mut abs) = absolute(m, depths[at], &p, &modules) {
                match abs.last().map(String::as_str) {
                    Some("*") => {
                        abs.pop();
                        globs.push(abs);
                    }
                    Some(name) => {
                        reexports.insert(name.to_string(), abs.clone());
                    }
                    None => {}
                }
            }
        }
        if let Some(module) = modules.get_mut(m) {
            module.reexports = reexports;
            module.globs = globs;
        }
    }
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for m in &names {
        let code = &modules[m].code;
        let depths = inline_depths(code);
        let mut targets = BTreeSet::new();
        let private_uses = uses(code)
            .into_iter()
            .filter(|(_, is_pub, _)| !is_pub)
            .map(|(at, _, p)| (at, p));
        for (at, p) in private_uses.chain(code_paths(&without_uses(code))) {
            let found = absolute(m, depths[at], &p, &modules).and_then(|a| owner(&a, &modules, 0));
            if let Some(t) = found {
                if &t != m {
                    targets.insert(t);
                }
            }
        }
        edges.insert(m.clone(), targets);
    }
    edges
}

/// Strongly connected components of more than one module (Tarjan).
fn circles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        out: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a ModPath) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(next) = s.edges.get(v) {
            for w in next {
                let Some((w, _)) = s.edges.get_key_value(w) else {
                    continue;
                };
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if s.on_stack.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn show(m: &ModPath) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

#[test]
fn no_crate_has_an_import_circle() {
    let mut report = String::new();
    let mut checked = 0;
    for krate in CRATES {
        let src = workspace().join(krate).join("src");
        if !src.is_dir() {
            continue;
        }
        checked += 1;
        let edges = graph(&src);
        for comp in circles(&edges) {
            report.push_str(&format!("{krate}: circle of {} modules:\n", comp.len()));
            for m in &comp {
                let inside: Vec<String> = edges[m]
                    .iter()
                    .filter(|t| comp.contains(t))
                    .map(show)
                    .collect();
                report.push_str(&format!("  {} -> {}\n", show(m), inside.join(", ")));
            }
        }
    }
    assert!(checked >= 5, "found only {checked} crates to check");
    assert!(report.is_empty(), "import circles:\n{report}");
}

/// Every crate of the workspace, by its root file.
fn crate_roots() -> Vec<PathBuf> {
    let manifest =
        std::fs::read_to_string(workspace().join("Cargo.toml")).expect("workspace manifest");
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .expect("a members list");
    members
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty() && *m != "tests")
        .filter_map(|m| {
            let src = workspace().join(m).join("src");
            [src.join("lib.rs"), src.join("main.rs")]
                .into_iter()
                .find(|p| p.is_file())
        })
        .collect()
}

#[test]
fn every_crate_root_has_a_layout_naming_each_of_its_modules() {
    let roots = crate_roots();
    assert!(roots.len() >= 8, "{roots:?}");
    let mut problems = Vec::new();
    for root in roots {
        let krate = root
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&root).expect("crate root");
        let docs: Vec<&str> = text
            .lines()
            .take_while(|l| l.starts_with("//!") || l.trim().is_empty())
            .map(|l| l.trim_start_matches("//!"))
            .collect();
        let Some(start) = docs
            .iter()
            .position(|l| l.trim() == "# Layout" || l.trim() == "Layout:")
        else {
            problems.push(format!(
                "{krate}: no `# Layout` section in {}",
                root.display()
            ));
            continue;
        };
        let layout: String = docs[start + 1..]
            .iter()
            .take_while(|l| !l.trim_start().starts_with('#'))
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        for line in text.lines() {
            let decl = line
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            let Some(name) = decl.strip_prefix("mod ").and_then(|d| d.strip_suffix(';')) else {
                continue;
            };
            let named = [
                format!("`{name}`"),
                format!("`{name}/`"),
                format!("[`{name}`]"),
            ]
            .iter()
            .any(|n| layout.contains(n.as_str()));
            if !named {
                problems.push(format!(
                    "{krate}: module `{name}` is not in the Layout section"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_a_circle_and_looks_through_re_exports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write(
        "lib.rs",
        "pub mod a;\npub mod b;\npub mod facade;\npub use facade::Thing;\n",
    );
    write("a.rs", "use crate::b::B;\npub struct A;\n");
    write(
        "b.rs",
        "pub struct B(crate::a::A);\n// crate::facade::x in a comment is no edge\n",
    );
    write("facade/mod.rs", "mod inner;\npub use inner::Thing;\n");
    write(
        "facade/inner.rs",
        "pub struct Thing;\nfn f() { let _ = super::Thing; }\n#[cfg(test)]\nmod tests { use crate::a::A; }\n",
    );
    let edges = graph(dir.path());
    let comps = circles(&edges);
    assert_eq!(comps.len(), 1, "{comps:?} in {edges:?}");
    assert_eq!(comps[0], vec![vec!["a".to_string()], vec!["b".to_string()]]);
    let inner = vec!["facade".to_string(), "inner".to_string()];
    assert!(edges[&inner].is_empty(), "{:?}", edges[&inner]);
}

/// The ```rust blocks of a README section (from its `## ` heading to the next one).
fn rust_blocks<'a>(readme: &'a str, heading: &str) -> Vec<&'a str> {
    let start = readme
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has no section {heading:?}"));
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    let mut blocks = Vec::new();
    let mut section = &rest[..end];
    while let Some(open) = section.find("```rust\n") {
        let body = &section[open + "```rust\n".len()..];
        let close = body.find("```\n").expect("an unclosed code block");
        blocks.push(&body[..close]);
        section = &body[close..];
    }
    blocks
}

#[test]
fn the_readme_service_and_testing_snippets_are_the_compiled_ones() {
    let root = workspace();
    let readme = fs::read_to_string(root.join("README.md")).expect("README.md");
    let compiled = fs::read_to_string(root.join("rmq-runtime/tests/snippets/readme.rs"))
        .expect("rmq-runtime/tests/snippets/readme.rs");
    let region = |name: &str| -> String {
        let marker = format!("// README: {name}\n");
        let a = compiled
            .find(&marker)
            .unwrap_or_else(|| panic!("no {marker:?} in the snippets"))
            + marker.len();
        let b = a + compiled[a..].find("// README: end").expect("an end marker");
        compiled[a..b].to_string()
    };
    for (heading, name) in [
        ("Using rmq from a service", "service"),
        ("Testing an app", "testing"),
    ] {
        let blocks = rust_blocks(&readme, heading);
        assert_eq!(blocks.len(), 1, "one rust block under {heading:?}");
        assert_eq!(
            blocks[0],
            region(name),
            "README section {heading:?} differs from rmq-runtime/tests/snippets/readme.rs ({name}); \
             edit the snippet file (it is compiled and run) and copy it into the README"
        );
    }
}
