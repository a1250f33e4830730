//! The layout is checked, not just drawn (STYLE.md habit 17, DESIGN.md
//! "Layout"): this test reads every `.rs` file under `src/`, builds the graph
//! of which file imports which, and fails when
//!
//! 1. files in two or more different folders import each other in a loop
//!    (a strongly connected component of the file graph that spans folders;
//!    a loop inside one folder is allowed, habit 16), or two files in
//!    different folders import each other directly; or
//! 2. a file under `src/scheduler/` imports from anything but `scheduler`
//!    itself, `stack`, `reactor`, `timer` and `trace` (and their submodules).
//!    A path to a crate-root item (`crate::Stats`, `crate::spawn`) is an
//!    import of `src/lib.rs` and is reported too.
//!
//! How a file is read: comments, string, byte-string, raw-string and char
//! literals are dropped (lifetimes such as `'a` are kept apart from char
//! literals), then the tokens are scanned for `use` trees (grouped, nested,
//! multi-line, `pub`/`pub(crate)`, `self`, `as`, globs) and for paths in code
//! (`crate::trace::emit`, `super::task::TaskId`, `scheduler::with_core` after
//! `use crate::scheduler;`, `$crate::…` in macros). A path starts from `crate`,
//! `super`, `self`, a child `mod` or a name bound by a `use` in the same
//! module (inline `mod tests { use super::*; }` blocks are their own scope),
//! and lands on the longest prefix that names a module file:
//! `crate::scheduler::Core` is `src/scheduler/mod.rs`,
//! `crate::scheduler::task::TaskId` is `src/scheduler/task.rs`. A file's folder
//! is the directory it sits in (`src/net/tcp.rs` is in `src/net/`, its
//! child `src/net/tcp/options.rs` in `src/net/tcp/`). `mod x;` declares, it
//! does not import. Imports inside `#[cfg(test)]` modules count: they are
//! imports of that file. `#[path]` attributes are not followed: the test
//! fails on one rather than guess.
//!
//! Reading the output: `cargo test --test layout -- --nocapture` prints the
//! number of files and imports, every group of files that import each other
//! in a loop (marked allowed when it stays inside one folder) and each file's
//! imports. On failure every offending import is listed as
//! `file:line -> file  [the paths it names]`, and for a loop the way back
//! that closes it. The fix is to move the named type or function down into
//! the file that owns it, or to pass it in through the small interface the
//! lower module offers, never to hide the path from this test.
//!
//! The `checker_*` tests feed small made-up trees into the same code, so the
//! checker is shown able to fail.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// The folder the scheduler rule is about, and the modules it may use.
const SCHEDULER: &str = "scheduler";
const SCHEDULER_MAY_USE: [&str; 4] = ["stack", "reactor", "timer", "trace"];

#[test]
fn imports_point_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_rs_files(&src, "src", &mut files);
    assert!(
        files.iter().any(|(path, _)| path == "src/lib.rs"),
        "no src/lib.rs under {}",
        src.display()
    );
    let layout = Layout::build(&files);
    eprintln!("{}", layout.summary());
    let problems = layout.problems();
    if !problems.is_empty() {
        panic!("{}", report(&problems));
    }
}

/// Every `.rs` file under `dir`, as (path relative to the crate, text).
fn read_rs_files(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_else(|| panic!("a file name that is not UTF-8: {}", path.display()));
        let rel = format!("{rel}/{name}");
        if path.is_dir() {
            read_rs_files(&path, &rel, out);
        } else if name.ends_with(".rs") {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            out.push((rel, text));
        }
    }
}

fn report(problems: &[String]) -> String {
    let mut out = String::from(
        "the layout rule of DESIGN.md (\"Layout\") and STYLE.md habit 17 is broken:\n\n",
    );
    for (n, problem) in problems.iter().enumerate() {
        let _ = writeln!(out, "{}. {problem}", n + 1);
    }
    out.push_str(
        "What to do: move the named type or function down into the file that owns it \
         (habit 16: types live beside the code that owns them), or hand it in through \
         the lower module's small interface, so that imports run one way. A loop inside \
         one folder is allowed. Run `cargo test --test layout -- --nocapture` to see the \
         whole graph.\n",
    );
    out
}

// ---------------------------------------------------------------------------
// Lexing: tokens without comments and literals.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    line: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn lex(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(c[i] == '\n');
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1, None, &mut line);
        } else if ch == '\'' {
            i = skip_char_or_lifetime(&c, i);
        } else if is_ident_start(ch) {
            let start = i;
            while is_ident_char(at(i)) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            match (word.as_str(), at(i)) {
                ("r" | "br" | "cr", '"' | '#') => {
                    let mut j = i;
                    while at(j) == '#' {
                        j += 1;
                    }
                    if at(j) == '"' {
                        i = skip_string(&c, j + 1, Some(j - i), &mut line);
                    } else if word == "r" && j == i + 1 && is_ident_start(at(j)) {
                        // A raw identifier, `r#type`.
                        let start = j;
                        i = j;
                        while is_ident_char(at(i)) {
                            i += 1;
                        }
                        let word = c[start..i].iter().collect();
                        out.push(Token {
                            tok: Tok::Ident(word),
                            line,
                        });
                    } else {
                        out.push(Token {
                            tok: Tok::Ident(word),
                            line,
                        });
                    }
                }
                ("b" | "c", '"') => i = skip_string(&c, i + 1, None, &mut line),
                ("b", '\'') => i = skip_char_or_lifetime(&c, i),
                _ => out.push(Token {
                    tok: Tok::Ident(word),
                    line,
                }),
            }
        } else if ch.is_ascii_digit() {
            while is_ident_char(at(i)) {
                i += 1;
            }
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(Token {
                tok: Tok::PathSep,
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                tok: Tok::Punct(ch),
                line,
            });
            i += 1;
        }
    }
    out
}

/// Skips a string body starting at `i` (just past the opening quote); `raw`
/// is the number of `#` of a raw string, whose body has no escapes.
fn skip_string(c: &[char], mut i: usize, raw: Option<usize>, line: &mut usize) -> usize {
    while i < c.len() {
        match (c[i], raw) {
            ('\\', None) => {
                *line += usize::from(c.get(i + 1) == Some(&'\n'));
                i += 2;
            }
            ('"', None) => return i + 1,
            ('"', Some(hashes)) if (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) => {
                return i + 1 + hashes;
            }
            (ch, _) => {
                *line += usize::from(ch == '\n');
                i += 1;
            }
        }
    }
    i
}

/// At a `'`: skips a char literal (`'x'`, `'\''`, `'\u{1F600}'`) or a
/// lifetime / label (`'a`, `'static`), which is not a literal at all.
fn skip_char_or_lifetime(c: &[char], mut i: usize) -> usize {
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    if at(i + 1) == '\\' {
        i += 3;
        while i < c.len() && c[i] != '\'' && c[i] != '\n' {
            i += 1;
        }
        i + 1
    } else if at(i + 2) == '\'' {
        i + 3
    } else {
        i += 1;
        while is_ident_char(at(i)) {
            i += 1;
        }
        i
    }
}

// ---------------------------------------------------------------------------
// Parsing: `mod` declarations, `use` trees and paths in code.

/// A module path from the crate root; `[]` is the root.
type ModPath = Vec<String>;

/// One path found in a file, in the module scope (the file's module, or an
/// inline `mod` inside it) where it was written.
#[derive(Clone, Debug)]
struct Found {
    scope: ModPath,
    /// The segments as written (`crate`, `super`, `self`, or a bound name
    /// first); a leading `::` is kept as a `::` segment.
    path: Vec<String>,
    line: usize,
}

#[derive(Clone, Debug)]
struct UseLeaf {
    found: Found,
    /// The name the `use` binds (`None` for globs and `as _`).
    binding: Option<String>,
    glob: bool,
}

#[derive(Debug, Default)]
struct Parsed {
    /// `mod name;` (file children) and `mod name { … }` (inline), by scope.
    declared_files: Vec<(ModPath, String, usize)>,
    inline_mods: Vec<(ModPath, String)>,
    uses: Vec<UseLeaf>,
    paths: Vec<Found>,
    path_attributes: Vec<usize>,
}

fn parse(module: &[String], toks: &[Token]) -> Parsed {
    let tok = |i: usize| toks.get(i).map(|t| &t.tok);
    let ident = |i: usize| match tok(i) {
        Some(Tok::Ident(w)) => Some(w.as_str()),
        _ => None,
    };
    let mut parsed = Parsed::default();
    // Inline modules open at this point, with the brace depth of their body.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let scope = |inline: &[(String, usize)]| -> ModPath {
        let mut s = module.to_vec();
        s.extend(inline.iter().map(|(name, _)| name.clone()));
        s
    };
    let mut i = 0;
    while i < toks.len() {
        let line = toks[i].line;
        match &toks[i].tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(w) if w == "mod" => {
                if let Some(name) = ident(i + 1) {
                    match tok(i + 2) {
                        Some(Tok::Punct(';')) => {
                            parsed
                                .declared_files
                                .push((scope(&inline), name.to_string(), line));
                        }
                        Some(Tok::Punct('{')) => {
                            parsed.inline_mods.push((scope(&inline), name.to_string()));
                            inline.push((name.to_string(), depth + 1));
                        }
                        _ => {}
                    }
                    i += 2;
                    continue;
                }
            }
            // `use<'a>` is a precise-capturing bound, not a declaration.
            Tok::Ident(w) if w == "use" && tok(i + 1) != Some(&Tok::Punct('<')) => {
                let here = scope(&inline);
                i += 1;
                let mut leaves = Vec::new();
                parse_use_tree(toks, &mut i, Vec::new(), &mut leaves);
                for (path, binding, glob, line) in leaves {
                    parsed.uses.push(UseLeaf {
                        found: Found {
                            scope: here.clone(),
                            path,
                            line,
                        },
                        binding,
                        glob,
                    });
                }
                while i < toks.len() && toks[i].tok != Tok::Punct(';') {
                    i += 1;
                }
                continue;
            }
            Tok::Ident(w)
                if w == "path"
                    && i >= 2
                    && tok(i - 1) == Some(&Tok::Punct('['))
                    && tok(i - 2) == Some(&Tok::Punct('#'))
                    && tok(i + 1) == Some(&Tok::Punct('=')) =>
            {
                parsed.path_attributes.push(line);
            }
            Tok::Ident(first)
                if tok(i + 1) == Some(&Tok::PathSep)
                    && (i == 0 || tok(i - 1) != Some(&Tok::PathSep))
                    // `pub(in crate::x)` is a visibility, not an import.
                    && !(i >= 2 && ident(i - 1) == Some("in") && tok(i - 2) == Some(&Tok::Punct('('))) =>
            {
                let mut path = vec![first.clone()];
                i += 1;
                while tok(i) == Some(&Tok::PathSep) {
                    match ident(i + 1) {
                        Some(seg) => {
                            path.push(seg.to_string());
                            i += 2;
                        }
                        None => break,
                    }
                }
                parsed.paths.push(Found {
                    scope: scope(&inline),
                    path,
                    line,
                });
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parsed
}

/// A `use` leaf as parsed: (path, binding, glob, line).
type RawLeaf = (Vec<String>, Option<String>, bool, usize);

/// One `use` tree from `i` (just past `use`, or inside a `{ … }` group):
/// pushes each leaf and leaves `i` past the tree.
fn parse_use_tree(toks: &[Token], i: &mut usize, mut path: Vec<String>, out: &mut Vec<RawLeaf>) {
    let tok = |i: usize| toks.get(i).map(|t| &t.tok);
    if path.is_empty() && tok(*i) == Some(&Tok::PathSep) {
        path.push("::".to_string());
        *i += 1;
    }
    loop {
        match tok(*i) {
            Some(Tok::Punct('{')) => {
                *i += 1;
                loop {
                    match tok(*i) {
                        Some(Tok::Punct('}')) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => *i += 1,
                        Some(Tok::Ident(_) | Tok::PathSep | Tok::Punct('{' | '*')) => {
                            let before = *i;
                            parse_use_tree(toks, i, path.clone(), out);
                            if *i == before {
                                return;
                            }
                        }
                        _ => return,
                    }
                }
            }
            Some(Tok::Punct('*')) => {
                out.push((path, None, true, toks[*i].line));
                *i += 1;
                return;
            }
            Some(Tok::Ident(seg)) => {
                path.push(seg.clone());
                let line = toks[*i].line;
                *i += 1;
                if tok(*i) == Some(&Tok::PathSep) {
                    *i += 1;
                    continue;
                }
                if path.last().is_some_and(|s| s == "self") && path.len() > 1 {
                    path.pop();
                }
                let mut binding = path.last().cloned();
                if let Some(Tok::Ident(w)) = tok(*i)
                    && w == "as"
                {
                    binding = match tok(*i + 1) {
                        Some(Tok::Ident(name)) if name != "_" => Some(name.clone()),
                        _ => None,
                    };
                    *i += 2;
                }
                out.push((path, binding, false, line));
                return;
            }
            _ => return,
        }
    }
}

// ---------------------------------------------------------------------------
// The graph.

#[derive(Clone, Debug)]
struct Edge {
    from: usize,
    to: usize,
    line: usize,
    /// The path as written, e.g. `crate::blocking::Job` or `scheduler::with_core`.
    text: String,
}

struct Layout {
    /// Paths relative to the crate, e.g. `src/scheduler/mod.rs`.
    files: Vec<String>,
    modules: Vec<ModPath>,
    edges: Vec<Edge>,
    /// Problems found while reading (an undeclared file, a `#[path]`, …).
    unreadable: Vec<String>,
}

fn module_of(rel: &str) -> ModPath {
    let inner = rel
        .strip_prefix("src/")
        .and_then(|p| p.strip_suffix(".rs"))
        .unwrap_or_else(|| panic!("{rel} is not a .rs file under src/"));
    let mut segs: Vec<String> = inner.split('/').map(str::to_string).collect();
    if segs == ["lib"] {
        return Vec::new();
    }
    assert!(
        segs != ["main"] && segs.first().is_none_or(|s| s != "bin"),
        "{rel}: this checker knows a library crate only"
    );
    if segs.last().is_some_and(|s| s == "mod") {
        segs.pop();
    }
    segs
}

/// The folder a file sits in: `src/net/tcp.rs` -> `src/net`.
fn folder_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(dir, _)| dir)
}

impl Layout {
    fn build(sources: &[(String, String)]) -> Layout {
        let files: Vec<String> = sources.iter().map(|(p, _)| p.clone()).collect();
        let modules: Vec<ModPath> = files.iter().map(|p| module_of(p)).collect();
        let file_of: HashMap<ModPath, usize> = modules
            .iter()
            .enumerate()
            .map(|(i, m)| (m.clone(), i))
            .collect();
        assert_eq!(file_of.len(), files.len(), "two files for one module");
        let mut unreadable = Vec::new();

        // Names visible in each scope: child modules (files and inline) and
        // `use` bindings, plus the scopes it glob-imports.
        let mut children: HashMap<ModPath, BTreeSet<String>> = HashMap::new();
        let mut declared: BTreeSet<ModPath> = BTreeSet::new();
        let mut uses: Vec<(usize, UseLeaf)> = Vec::new();
        let mut paths: Vec<(usize, Found)> = Vec::new();
        for (f, (rel, text)) in sources.iter().enumerate() {
            let parsed = parse(&modules[f], &lex(text));
            for line in parsed.path_attributes {
                unreadable.push(format!(
                    "{rel}:{line} has a #[path] attribute, which this test does not follow; \
                     teach tests/layout.rs the mapping or drop the attribute"
                ));
            }
            for (scope, name, line) in parsed.declared_files {
                let mut child = scope.clone();
                child.push(name.clone());
                if !file_of.contains_key(&child) {
                    unreadable.push(format!(
                        "{rel}:{line} declares `mod {name};` but no file for module `{}` \
                         was found under src/",
                        child.join("::")
                    ));
                }
                declared.insert(child);
                children.entry(scope).or_default().insert(name);
            }
            for (scope, name) in parsed.inline_mods {
                children.entry(scope).or_default().insert(name);
            }
            uses.extend(parsed.uses.into_iter().map(|u| (f, u)));
            paths.extend(parsed.paths.into_iter().map(|p| (f, p)));
        }
        for (f, module) in modules.iter().enumerate() {
            if !module.is_empty() && !declared.contains(module) {
                unreadable.push(format!(
                    "{} is not declared by any `mod` in its parent, so this test cannot \
                     tell which module it is",
                    files[f]
                ));
            }
        }

        let mut names = Names {
            children,
            bindings: HashMap::new(),
            globs: HashMap::new(),
        };
        // `use` paths may start from names other `use`s bind: resolve until
        // nothing more resolves.
        let mut resolved: Vec<Option<ModPath>> = vec![None; uses.len()];
        loop {
            let mut progress = false;
            for (k, (_, leaf)) in uses.iter().enumerate() {
                if resolved[k].is_some() {
                    continue;
                }
                let Some(target) = names.absolute(&leaf.found.scope, &leaf.found.path) else {
                    continue;
                };
                let scope = leaf.found.scope.clone();
                if leaf.glob {
                    names.globs.entry(scope).or_default().push(target.clone());
                } else if let Some(binding) = &leaf.binding {
                    names
                        .bindings
                        .entry(scope)
                        .or_default()
                        .insert(binding.clone(), target.clone());
                }
                resolved[k] = Some(target);
                progress = true;
            }
            if !progress {
                break;
            }
        }

        let target_file = |target: &ModPath| -> usize {
            (0..=target.len())
                .rev()
                .find_map(|n| file_of.get(&target[..n]).copied())
                .expect("the crate root is always a file")
        };
        let mut edges = Vec::new();
        let mut add = |from: usize, found: &Found, target: &ModPath, glob: bool| {
            let to = target_file(target);
            if to != from {
                let mut text = found.path.join("::");
                if glob {
                    text.push_str("::*");
                }
                edges.push(Edge {
                    from,
                    to,
                    line: found.line,
                    text,
                });
            }
        };
        for ((from, leaf), target) in uses.iter().zip(&resolved) {
            if let Some(target) = target {
                add(*from, &leaf.found, target, leaf.glob);
            }
        }
        for (from, found) in &paths {
            let Some(target) = names.absolute(&found.scope, &found.path) else {
                continue;
            };
            // `scheduler::with_core` after `use crate::scheduler;` adds nothing
            // when it lands in the file that `use` already imports.
            let bound = names
                .bindings
                .get(&found.scope)
                .and_then(|b| b.get(&found.path[0]));
            if bound.is_some_and(|b| target_file(b) == target_file(&target)) {
                continue;
            }
            add(*from, found, &target, false);
        }
        edges.sort_by_key(|e| (e.from, e.to, e.line));
        Layout {
            files,
            modules,
            edges,
            unreadable,
        }
    }

    fn is_scheduler_file(&self, f: usize) -> bool {
        self.files[f].starts_with(&format!("src/{SCHEDULER}/"))
    }

    /// Each importing pair once, with the imports that make it.
    fn pairs(&self) -> BTreeMap<(usize, usize), Vec<&Edge>> {
        let mut pairs: BTreeMap<(usize, usize), Vec<&Edge>> = BTreeMap::new();
        for e in &self.edges {
            pairs.entry((e.from, e.to)).or_default().push(e);
        }
        pairs
    }

    /// `file:line -> file  [paths]` for one importing pair.
    fn describe(&self, edges: &[&Edge]) -> String {
        // `crate::a::X` and `crate::a::Y` are shown as `crate::a::{X, Y}`.
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for e in edges {
            let (prefix, last) = e.text.rsplit_once("::").unwrap_or(("", &e.text));
            match groups.iter_mut().find(|(p, _)| *p == prefix) {
                Some((_, lasts)) if lasts.contains(&last) => {}
                Some((_, lasts)) => lasts.push(last),
                None => groups.push((prefix, vec![last])),
            }
        }
        let names: Vec<String> = groups
            .iter()
            .map(
                |(prefix, lasts)| match (prefix.is_empty(), lasts.as_slice()) {
                    (true, _) => lasts.join(", "),
                    (false, [one]) => format!("{prefix}::{one}"),
                    (false, _) => format!("{prefix}::{{{}}}", lasts.join(", ")),
                },
            )
            .collect();
        let first = edges[0];
        format!(
            "{}:{} -> {}  [{}]",
            self.files[first.from],
            first.line,
            self.files[first.to],
            names.join(", ")
        )
    }

    /// Strongly connected components with more than one file (Tarjan).
    fn loops(&self) -> Vec<Vec<usize>> {
        let n = self.files.len();
        let mut next: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        for e in &self.edges {
            next[e.from].insert(e.to);
        }
        struct Tarjan<'a> {
            next: &'a [BTreeSet<usize>],
            index: Vec<Option<usize>>,
            low: Vec<usize>,
            on_stack: Vec<bool>,
            stack: Vec<usize>,
            counter: usize,
            out: Vec<Vec<usize>>,
        }
        impl Tarjan<'_> {
            fn visit(&mut self, v: usize) {
                self.index[v] = Some(self.counter);
                self.low[v] = self.counter;
                self.counter += 1;
                self.stack.push(v);
                self.on_stack[v] = true;
                for &w in self.next[v].iter() {
                    match self.index[w] {
                        None => {
                            self.visit(w);
                            self.low[v] = self.low[v].min(self.low[w]);
                        }
                        Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                        Some(_) => {}
                    }
                }
                if Some(self.low[v]) == self.index[v] {
                    let mut component = Vec::new();
                    while let Some(w) = self.stack.pop() {
                        self.on_stack[w] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort_unstable();
                        self.out.push(component);
                    }
                }
            }
        }
        let mut t = Tarjan {
            next: &next,
            index: vec![None; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            counter: 0,
            out: Vec::new(),
        };
        for v in 0..n {
            if t.index[v].is_none() {
                t.visit(v);
            }
        }
        t.out.sort();
        t.out
    }

    fn spans_folders(&self, component: &[usize]) -> bool {
        let folders: BTreeSet<&str> = component
            .iter()
            .map(|&f| folder_of(&self.files[f]))
            .collect();
        folders.len() > 1
    }

    /// The shortest way from `from` back to `to` inside `component`.
    fn way_back(&self, from: usize, to: usize, component: &[usize]) -> Vec<(usize, usize)> {
        let inside: BTreeSet<usize> = component.iter().copied().collect();
        let pairs = self.pairs();
        let mut came_from: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(v) = queue.pop_front() {
            if v == to {
                break;
            }
            for &(a, b) in pairs.keys() {
                if a == v && inside.contains(&b) && b != from && !came_from.contains_key(&b) {
                    came_from.insert(b, a);
                    queue.push_back(b);
                }
            }
        }
        let mut hops = Vec::new();
        let mut v = to;
        while let Some(&u) = came_from.get(&v) {
            hops.push((u, v));
            v = u;
        }
        hops.reverse();
        hops
    }

    fn summary(&self) -> String {
        let pairs = self.pairs();
        let loops = self.loops();
        let mut out = format!(
            "layout: {} files under src/, {} imports between files ({} importing pairs), \
             {} group(s) of files that import each other in a loop\n",
            self.files.len(),
            self.edges.len(),
            pairs.len(),
            loops.len()
        );
        for component in &loops {
            let verdict = if self.spans_folders(component) {
                "ACROSS FOLDERS, not allowed"
            } else {
                "one folder, allowed"
            };
            let names: Vec<&str> = component.iter().map(|&f| self.files[f].as_str()).collect();
            let _ = writeln!(out, "  loop ({verdict}): {}", names.join(", "));
        }
        out.push_str("imports (file -> the files it imports):\n");
        for (f, file) in self.files.iter().enumerate() {
            let targets: Vec<&str> = pairs
                .keys()
                .filter(|(a, _)| *a == f)
                .map(|&(_, b)| self.files[b].as_str())
                .collect();
            if !targets.is_empty() {
                let _ = writeln!(out, "  {file} -> {}", targets.join(", "));
            }
        }
        out
    }

    /// Everything wrong with the layout, one readable paragraph each.
    fn problems(&self) -> Vec<String> {
        let mut problems = self.unreadable.clone();
        let pairs = self.pairs();

        for component in self.loops() {
            if !self.spans_folders(&component) {
                continue;
            }
            let names: Vec<&str> = component.iter().map(|&f| self.files[f].as_str()).collect();
            let mut text = format!(
                "{} files in different folders import each other in a loop: {}\n   \
                 each import below crosses a folder; `back:` is the way round that closes the loop\n",
                component.len(),
                names.join(", ")
            );
            for (&(a, b), edges) in &pairs {
                let inside = component.contains(&a) && component.contains(&b);
                if !inside || folder_of(&self.files[a]) == folder_of(&self.files[b]) {
                    continue;
                }
                let _ = writeln!(text, "   {}", self.describe(edges));
                for (u, v) in self.way_back(b, a, &component) {
                    let _ = writeln!(text, "       back: {}", self.describe(&pairs[&(u, v)]));
                }
            }
            problems.push(text.trim_end().to_string());
        }

        let mut mutual = String::new();
        for (&(a, b), edges) in &pairs {
            if a < b
                && folder_of(&self.files[a]) != folder_of(&self.files[b])
                && let Some(back) = pairs.get(&(b, a))
            {
                let _ = writeln!(
                    mutual,
                    "   {}\n   {}",
                    self.describe(edges),
                    self.describe(back)
                );
            }
        }
        if !mutual.is_empty() {
            problems.push(format!(
                "files in different folders import each other directly:\n{}",
                mutual.trim_end()
            ));
        }

        let mut above = String::new();
        for (&(a, b), edges) in &pairs {
            let allowed = self.modules[b]
                .first()
                .is_some_and(|m| m == SCHEDULER || SCHEDULER_MAY_USE.contains(&m.as_str()));
            if self.is_scheduler_file(a) && !allowed {
                let _ = writeln!(above, "   {}", self.describe(edges));
            }
        }
        if !above.is_empty() {
            problems.push(format!(
                "src/{SCHEDULER}/ may use only {SCHEDULER}, {} (a path to a crate-root item \
                 counts as src/lib.rs), but imports from above:\n{}",
                SCHEDULER_MAY_USE.join(", "),
                above.trim_end()
            ));
        }
        problems
    }
}

/// The names in scope in each module scope.
struct Names {
    children: HashMap<ModPath, BTreeSet<String>>,
    bindings: HashMap<ModPath, HashMap<String, ModPath>>,
    globs: HashMap<ModPath, Vec<ModPath>>,
}

impl Names {
    /// What `name` means in `scope`, if it is something of this crate.
    fn lookup(&self, scope: &[String], name: &str) -> Option<ModPath> {
        let direct = |scope: &[String]| -> Option<ModPath> {
            if self.children.get(scope).is_some_and(|c| c.contains(name)) {
                let mut p = scope.to_vec();
                p.push(name.to_string());
                return Some(p);
            }
            self.bindings.get(scope)?.get(name).cloned()
        };
        direct(scope).or_else(|| self.globs.get(scope)?.iter().find_map(|glob| direct(glob)))
    }

    /// The path from the crate root that `path`, written in `scope`, names;
    /// `None` for paths into other crates and to local items.
    fn absolute(&self, scope: &[String], path: &[String]) -> Option<ModPath> {
        let (first, rest) = path.split_first()?;
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => scope.to_vec(),
            "super" => {
                let mut b = scope.to_vec();
                b.pop()?;
                b
            }
            "::" | "Self" => return None,
            name => self.lookup(scope, name)?,
        };
        let mut rest = rest.iter().peekable();
        while rest.peek().is_some_and(|s| *s == "super") {
            base.pop()?;
            rest.next();
        }
        base.extend(rest.cloned());
        Some(base)
    }
}

// ---------------------------------------------------------------------------
// The checker checked: small made-up trees through the same code.

fn tree(files: &[(&str, &str)]) -> Layout {
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect();
    Layout::build(&sources)
}

fn edge_set(layout: &Layout) -> BTreeSet<(String, String)> {
    layout
        .edges
        .iter()
        .map(|e| (layout.files[e.from].clone(), layout.files[e.to].clone()))
        .collect()
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

const LIB: &str = "mod a; mod b; mod c; mod scheduler; mod stack; mod trace; mod net;";

#[test]
fn checker_ignores_comments_strings_and_chars_but_not_code_after_them() {
    let layout = tree(&[
        ("src/lib.rs", LIB),
        (
            "src/a.rs",
            r###"
            // use crate::b;
            /// crate::b::X in a doc comment
            //! crate::b::Y
            /* crate::b::Z /* nested */ crate::b::W */
            fn f<'a>(x: &'a str) -> &'a str {
                let _ = "crate::b::in_a_string \" crate::b::still";
                let _ = r#"crate::b::raw " crate::b::raw"#;
                let _ = b"crate::b::bytes";
                let _ = ('"', '\'', '\\', b'"', '\u{22}');
                crate::c::real(x)
            }
            fn g<'a>(r#type: &'a u8) -> impl Sized + use<'a> { crate::c::also(r#type) }
            "###,
        ),
        ("src/b.rs", ""),
        ("src/c.rs", ""),
        ("src/scheduler/mod.rs", ""),
        ("src/stack/mod.rs", ""),
        ("src/trace/mod.rs", ""),
        ("src/net/mod.rs", ""),
    ]);
    assert_eq!(
        edge_set(&layout),
        BTreeSet::from([pair("src/a.rs", "src/c.rs")])
    );
    assert!(layout.problems().is_empty(), "{:?}", layout.problems());
}

#[test]
fn checker_reads_use_trees_aliases_and_nested_files() {
    let layout = tree(&[
        ("src/lib.rs", LIB),
        (
            "src/a.rs",
            "pub(crate) use crate::{\n    scheduler::{self, task::{Task as T}},\n    stack::*,\n};\n\
             fn f() { scheduler::hosting::go(); }",
        ),
        ("src/b.rs", "use super::net::tcp::options::Opt;"),
        (
            "src/c.rs",
            "pub use crate::Thing; fn g() -> Self { Self::new() }",
        ),
        (
            "src/scheduler/mod.rs",
            "mod task; mod hosting;\nfn f() {}\n#[cfg(test)]\nmod tests { use super::*; fn t() { task::x(); } }",
        ),
        ("src/scheduler/task.rs", "use super::hosting;"),
        ("src/scheduler/hosting.rs", ""),
        ("src/stack/mod.rs", ""),
        ("src/trace/mod.rs", ""),
        ("src/net/mod.rs", "mod tcp;"),
        ("src/net/tcp.rs", "mod options;"),
        ("src/net/tcp/options.rs", "use super::Stream; use std::io;"),
    ]);
    assert_eq!(
        edge_set(&layout),
        BTreeSet::from([
            pair("src/a.rs", "src/scheduler/mod.rs"),
            pair("src/a.rs", "src/scheduler/task.rs"),
            pair("src/a.rs", "src/scheduler/hosting.rs"),
            pair("src/a.rs", "src/stack/mod.rs"),
            pair("src/b.rs", "src/net/tcp/options.rs"),
            pair("src/c.rs", "src/lib.rs"),
            pair("src/scheduler/mod.rs", "src/scheduler/task.rs"),
            pair("src/scheduler/task.rs", "src/scheduler/hosting.rs"),
            pair("src/net/tcp/options.rs", "src/net/tcp.rs"),
        ])
    );
}

#[test]
fn checker_fails_on_a_loop_across_folders_but_not_inside_one() {
    let layout = tree(&[
        ("src/lib.rs", LIB),
        ("src/a.rs", "use crate::b::B;"),
        ("src/b.rs", "use crate::a::A;"),
        ("src/c.rs", "use crate::net::N;"),
        ("src/scheduler/mod.rs", ""),
        ("src/stack/mod.rs", ""),
        ("src/trace/mod.rs", ""),
        ("src/net/mod.rs", "mod x; fn f() { crate::c::go() }"),
        ("src/net/x.rs", ""),
    ]);
    let loops = layout.loops();
    assert_eq!(loops.len(), 2, "{}", layout.summary());
    let problems = layout.problems();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].contains("src/c.rs:1 -> src/net/mod.rs  [crate::net::N]"));
    assert!(problems[0].contains("back: src/net/mod.rs:1 -> src/c.rs  [crate::c::go]"));
    assert!(problems[1].contains("import each other directly"));
    assert!(
        !problems.concat().contains("src/a.rs"),
        "a <-> b share a folder"
    );
}

#[test]
fn checker_fails_when_the_scheduler_imports_from_above() {
    let layout = tree(&[
        ("src/lib.rs", LIB),
        ("src/a.rs", ""),
        ("src/b.rs", ""),
        ("src/c.rs", ""),
        (
            "src/scheduler/mod.rs",
            "mod task;\nuse crate::stack::{pool::Pool, Stack};\nuse crate::trace;\n\
             fn f() { trace::emit(); crate::a::helper(); crate::trace::html::page(); }",
        ),
        (
            "src/scheduler/task.rs",
            "use super::Core;\nuse crate::Stats;",
        ),
        ("src/stack/mod.rs", "mod pool;"),
        ("src/stack/pool.rs", ""),
        ("src/trace/mod.rs", "mod html;"),
        ("src/trace/html.rs", ""),
        ("src/net/mod.rs", ""),
    ]);
    let problems = layout.problems();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("src/scheduler/mod.rs:4 -> src/a.rs  [crate::a::helper]"));
    assert!(problems[0].contains("src/scheduler/task.rs:2 -> src/lib.rs  [crate::Stats]"));
    assert!(!problems[0].contains("src/stack/"), "{problems:#?}");
    assert!(!problems[0].contains("src/trace/"), "{problems:#?}");
}

#[test]
fn checker_fails_loudly_on_what_it_cannot_map() {
    let layout = tree(&[
        (
            "src/lib.rs",
            "mod a; mod gone;\n#[path = \"elsewhere.rs\"]\nmod b;",
        ),
        ("src/a.rs", ""),
        ("src/b.rs", ""),
        ("src/stray.rs", ""),
    ]);
    let problems = layout.problems().join("\n");
    assert!(
        problems.contains("src/lib.rs:2 has a #[path] attribute"),
        "{problems}"
    );
    assert!(problems.contains("`mod gone;` but no file"), "{problems}");
    assert!(
        problems.contains("src/stray.rs is not declared"),
        "{problems}"
    );
}
