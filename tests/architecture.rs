//! The rules of docs/architecture.md that a reading of the source can check:
//! layers that depend upward only, no import cycle between the library's
//! files, no renderer calling an analysis or a view builder, and the
//! generated schema read by the loader alone. The source is read as text (comments, strings and test modules
//! left out); paths are resolved through re-exports to the file that
//! defines what they name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path, `report::graph` (empty for the crate root).
type ModPath = Vec<String>;

struct Module {
    file: PathBuf,
    /// Code without comments, string and char literals or `#[cfg(test)]`
    /// modules.
    code: String,
    /// Child modules declared here (`mod x;`).
    children: BTreeSet<String>,
    /// Names made visible here by `use`: name -> absolute path.
    imports: BTreeMap<String, ModPath>,
}

/// Every module of the library, from `src/lib.rs` down its `mod` lines.
fn modules() -> BTreeMap<ModPath, Module> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut todo = vec![(Vec::new(), src.join("lib.rs"))];
    while let Some((path, file)) = todo.pop() {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        let code = strip(&text);
        let children = declared_modules(&code);
        let moved = path_attributes(&text);
        let dir = if path.is_empty() || file.ends_with("mod.rs") {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        for child in &children {
            let mut p = path.clone();
            p.push(child.clone());
            let flat = dir.join(format!("{child}.rs"));
            let nested = dir.join(child).join("mod.rs");
            let file = match moved.get(child) {
                Some(to) => file.parent().unwrap().join(to),
                None if flat.exists() => flat,
                None => nested,
            };
            todo.push((p, file));
        }
        out.insert(
            path,
            Module {
                file,
                code,
                children,
                imports: BTreeMap::new(),
            },
        );
    }
    let uses: Vec<(ModPath, Vec<(ModPath, String)>)> = out
        .iter()
        .map(|(p, m)| (p.clone(), use_trees(&m.code, true)))
        .collect();
    for (path, trees) in uses {
        for (tree, local) in trees {
            let abs = absolute(&out, &path, &tree);
            // Names from other crates (`std`, `serde`) are left out.
            if local != "*" && !abs.is_empty() {
                out.get_mut(&path).unwrap().imports.insert(local, abs);
            }
        }
    }
    out
}

/// Comments, string and char literals, and `#[cfg(test)] mod ... { }`
/// blocks removed (strings become `""`).
fn strip(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let rest = |k: usize| b.get(i + k).copied().unwrap_or('\0');
        match b[i] {
            '/' if rest(1) == '/' => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '/' if rest(1) == '*' => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            'r' if (rest(1) == '"' || rest(1) == '#')
                && !b
                    .get(i.wrapping_sub(1))
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_') =>
            {
                let mut hashes = 0;
                while rest(1 + hashes) == '#' {
                    hashes += 1;
                }
                if rest(1 + hashes) != '"' {
                    out.push('r');
                    i += 1;
                    continue;
                }
                i += 2 + hashes;
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                while i < b.len() && !b[i..].iter().collect::<String>().starts_with(&close) {
                    i += 1;
                }
                i += close.len();
                out.push_str("\"\"");
            }
            '"' => {
                i += 1;
                while i < b.len() && b[i] != '"' {
                    i += if b[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            '\'' if rest(1) == '\\' => {
                i += 3;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
            }
            '\'' if rest(2) == '\'' => i += 3,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    cut_test_modules(&out)
}

fn cut_test_modules(code: &str) -> String {
    let mut out = code.to_owned();
    while let Some(at) = out.find("#[cfg(test)]") {
        let after = out[at..].trim_start_matches("#[cfg(test)]").trim_start();
        if !after.starts_with("mod ") {
            out.replace_range(at..at + "#[cfg(test)]".len(), "");
            continue;
        }
        let open = at + out[at..].find('{').unwrap();
        let mut depth = 0;
        let mut end = open;
        for (k, c) in out[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = open + k + 1;
                break;
            }
        }
        out.replace_range(at..end, "");
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The words of `code`, with `::`, braces, commas and `;` as words of
/// their own.
fn tokens(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_ident(c) {
            word.push(c);
            i += 1;
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
            continue;
        }
        if !c.is_whitespace() {
            out.push(c.to_string());
        }
        i += 1;
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// `#[path = "file.rs"] mod name;`: name -> file, relative to the
/// declaring file's directory.
fn path_attributes(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, _) in text.match_indices("#[path = \"") {
        let rest = &text[k + "#[path = \"".len()..];
        let Some(end) = rest.find('"') else { continue };
        let t = tokens(&rest[end..]);
        if let Some(at) = t.iter().position(|w| w == "mod") {
            out.insert(t[at + 1].clone(), rest[..end].to_owned());
        }
    }
    out
}

fn declared_modules(code: &str) -> BTreeSet<String> {
    let t = tokens(code);
    (0..t.len().saturating_sub(2))
        .filter(|&i| t[i] == "mod" && t[i + 2] == ";")
        .map(|i| t[i + 1].clone())
        .collect()
}

/// Every path of every `use` item, its groups expanded, with the name it
/// takes here (`self` in a group names its parent; `as` renames). With
/// `reexports` false, `pub use` items (a module's facade, not what it
/// uses) are left out.
fn use_trees(code: &str, reexports: bool) -> Vec<(ModPath, String)> {
    let t = tokens(code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if t[i] == "use"
            && (i == 0 || matches!(t[i - 1].as_str(), ";" | "}" | "{" | "pub" | ")" | "]"))
        {
            let end = i + t[i..].iter().position(|w| w == ";").unwrap();
            let public =
                ends_with(&t[..i], &["pub"]) || ends_with(&t[..i], &["pub", "(", "crate", ")"]);
            if reexports || !public {
                expand(&t[i + 1..end], &mut Vec::new(), &mut out);
            }
            i = end;
        }
        i += 1;
    }
    out
}

fn ends_with(t: &[String], words: &[&str]) -> bool {
    t.len() >= words.len()
        && t[t.len() - words.len()..]
            .iter()
            .zip(words)
            .all(|(a, b)| a == b)
}

fn expand(t: &[String], prefix: &mut ModPath, out: &mut Vec<(ModPath, String)>) {
    let mut path = prefix.clone();
    let mut alias = None;
    let mut i = 0;
    while i < t.len() {
        match t[i].as_str() {
            "::" => {}
            "{" => {
                let mut depth = 0;
                let mut start = i + 1;
                for k in i..t.len() {
                    match t[k].as_str() {
                        "{" => depth += 1,
                        "}" => depth -= 1,
                        _ => {}
                    }
                    if (depth == 1 && t[k] == ",") || depth == 0 {
                        expand(&t[start..k], &mut path.clone(), out);
                        start = k + 1;
                    }
                    if depth == 0 {
                        return;
                    }
                }
            }
            "as" => {
                alias = t.get(i + 1).cloned();
                break;
            }
            w => path.push(w.to_owned()),
        }
        i += 1;
    }
    if path.len() > prefix.len() {
        if path.last().is_some_and(|w| w == "self") {
            path.pop();
        }
        if let Some(local) = alias.or_else(|| path.last().cloned()) {
            out.push((path, local));
        }
    }
}

/// `path` as written in module `at` (crate-, super-, self- or child-relative,
/// or through a name `at` imports), as an absolute path.
fn absolute(mods: &BTreeMap<ModPath, Module>, at: &ModPath, path: &[String]) -> ModPath {
    let Some(first) = path.first() else {
        return Vec::new();
    };
    let mut base = at.clone();
    let rest = match first.as_str() {
        "crate" => {
            base.clear();
            &path[1..]
        }
        "self" => &path[1..],
        "super" => {
            let mut k = 0;
            while path.get(k).is_some_and(|s| s == "super") {
                base.pop();
                k += 1;
            }
            &path[k..]
        }
        name if mods.get(at).is_some_and(|m| m.children.contains(name)) => path,
        name => match mods.get(at).and_then(|m| m.imports.get(name)) {
            Some(p) => {
                base = p.clone();
                &path[1..]
            }
            None => return Vec::new(),
        },
    };
    base.extend(rest.iter().cloned());
    base
}

/// The module that defines what `path` names, and the rest of the path
/// below that module, following re-exports.
fn resolve(mods: &BTreeMap<ModPath, Module>, path: &[String], depth: usize) -> (ModPath, ModPath) {
    let mut k = path.len();
    while k > 0 && !mods.contains_key(&path[..k]) {
        k -= 1;
    }
    let (module, rest) = (path[..k].to_vec(), path[k..].to_vec());
    if let Some(name) = rest.first()
        && depth < 8
        && let Some(target) = mods[&module].imports.get(name)
        && target.as_slice() != path
    {
        let mut next = target.clone();
        next.extend(rest[1..].iter().cloned());
        return resolve(mods, &next, depth + 1);
    }
    (module, rest)
}

/// Every path the module's code names (`a::b::c` runs of words), absolute.
fn paths_named(mods: &BTreeMap<ModPath, Module>, at: &ModPath) -> Vec<ModPath> {
    let m = &mods[at];
    let t = tokens(&m.code);
    let mut out: Vec<ModPath> = use_trees(&m.code, false)
        .iter()
        .map(|(p, _)| absolute(mods, at, p))
        .filter(|p| !p.is_empty())
        .collect();
    let mut i = 0;
    while i < t.len() {
        let starts = is_ident(t[i].chars().next().unwrap_or(' '))
            && t.get(i + 1).is_some_and(|w| w == "::")
            && (i == 0 || t[i - 1] != "::");
        if !starts {
            i += 1;
            continue;
        }
        let mut path = vec![t[i].clone()];
        let mut k = i + 1;
        while t.get(k).is_some_and(|w| w == "::")
            && t.get(k + 1)
                .is_some_and(|w| is_ident(w.chars().next().unwrap_or(' ')))
        {
            path.push(t[k + 1].clone());
            k += 2;
        }
        let abs = absolute(mods, at, &path);
        if !abs.is_empty() {
            out.push(abs);
        }
        i = k;
    }
    out
}

fn name(p: &ModPath) -> String {
    if p.is_empty() {
        "crate".into()
    } else {
        p.join("::")
    }
}

/// File-level dependencies: module -> modules whose items it names. A
/// module naming its ancestors' items does not count: a parent is the
/// facade and shared vocabulary of its children (`report::graph`'s `Doc`
/// that `svg` and `text` write), one unit with them.
fn dependencies(mods: &BTreeMap<ModPath, Module>) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    mods.keys()
        .map(|at| {
            let deps = paths_named(mods, at)
                .iter()
                .map(|p| resolve(mods, p, 0).0)
                .filter(|m| !at.starts_with(m))
                .collect();
            (at.clone(), deps)
        })
        .collect()
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(deps: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        deps: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a ModPath) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        for w in s.deps.get(v).into_iter().flatten() {
            let Some((w, _)) = s.deps.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.stack.contains(&w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut part = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                part.insert(name(w));
                if w == v {
                    break;
                }
            }
            if part.len() > 1 {
                s.out.push(part);
            }
        }
    }
    let mut s = State {
        deps,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in deps.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_import_cycles() {
    let mods = modules();
    assert!(mods.len() > 30, "read only {} modules", mods.len());
    let found = cycles(&dependencies(&mods));
    assert!(found.is_empty(), "import cycles: {found:?}");
}

/// The layers of docs/architecture.md, top first, by the first segment of a
/// module's path: each uses only its own layer and those above it.
const LAYERS: [&[&str]; 8] = [
    &["error", "model"],
    &["load"],
    &["graph", "rules", "producer"],
    &["analysis"],
    &["compare", "advice", "pair_view", "measure"],
    &["report"],
    &["cli"],
    &["synth"],
];

fn layer(p: &ModPath) -> Option<usize> {
    let first = p.first()?;
    LAYERS.iter().position(|l| l.contains(&first.as_str()))
}

#[test]
fn layers_depend_upward() {
    let mods = modules();
    let mut wrong = Vec::new();
    for (at, deps) in dependencies(&mods) {
        if at.is_empty() {
            continue; // the crate root re-exports and wraps every layer
        }
        let Some(own) = layer(&at) else {
            panic!("{}: in no layer of LAYERS", name(&at));
        };
        let synth = LAYERS.len() - 1;
        for d in deps {
            // The test builder writes models: it may use the model and the
            // library's one model writer (`measure::cut`) alone.
            let writer = name(&d) == "measure::cut";
            let ok = layer(&d).is_some_and(|l| l <= own && (own != synth || l == 0 || writer));
            if !ok {
                wrong.push(format!("{} -> {}", name(&at), name(&d)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against the layers: {wrong:#?}"
    );
}

/// Renderers turn data into words: no path under `src/report/` names a
/// function of `analysis` or `pair_view` (types are data, and fine).
#[test]
fn renderers_run_no_analysis() {
    let mods = modules();
    let mut calls = Vec::new();
    for at in mods
        .keys()
        .filter(|p| p.first().is_some_and(|f| f == "report"))
    {
        for path in paths_named(&mods, at) {
            let (module, rest) = resolve(&mods, &path, 0);
            let analysis = matches!(
                module.first().map(String::as_str),
                Some("analysis" | "pair_view")
            );
            if analysis
                && rest
                    .first()
                    .is_some_and(|w| w.starts_with(|c: char| c.is_lowercase()))
            {
                calls.push(format!("{}: {}", mods[at].file.display(), name(&path)));
            }
        }
    }
    assert!(calls.is_empty(), "renderers calling analyses: {calls:#?}");
}

/// The generated schema (`tflq_schema`) is read by the loader only, and
/// written by the test builder.
#[test]
fn only_the_loader_reads_the_schema() {
    let mods = modules();
    let readers: Vec<String> = mods
        .iter()
        .filter(|(_, m)| tokens(&m.code).iter().any(|w| w == "tflq_schema"))
        .map(|(p, _)| name(p))
        .collect();
    // Writers of the schema besides the reader: the test builder, and the
    // cutter that writes one op of a model out as a model of its own for
    // `tflq measure`.
    assert_eq!(readers, ["load", "measure::cut", "synth"]);
}

/// The checks above see what they should: a cycle and a call they must
/// catch, in code written for them.
#[test]
fn the_checks_find_what_they_look_for() {
    let code = strip(
        "use crate::b::{self, Thing as T}; // crate::c\nfn f() { b::g(\"crate::d::h\"); let c = 'x'; }\n#[cfg(test)]\nmod tests { use crate::e; }",
    );
    assert!(!code.contains("crate::c") && !code.contains("crate::d") && !code.contains("crate::e"));
    let crate_b = vec!["crate".to_owned(), "b".into()];
    let thing = vec!["crate".to_owned(), "b".into(), "Thing".into()];
    assert_eq!(
        use_trees(&code, true),
        [(crate_b, "b".to_owned()), (thing, "T".to_owned())]
    );
    let a: ModPath = vec!["a".into()];
    let b: ModPath = vec!["b".into()];
    let deps = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b, BTreeSet::from([a])),
    ]);
    assert_eq!(
        cycles(&deps),
        [BTreeSet::from(["a".to_owned(), "b".into()])]
    );
}
