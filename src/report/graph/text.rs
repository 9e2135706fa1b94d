//! Graphviz DOT and Mermaid text of a graph [`Doc`]: the same nodes, classes,
//! edges and float islands as the SVG, laid out by whatever reads them.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Doc, ISLAND_COLOR, NodeDraw, PanelDraw, class_color, class_label};
use crate::analysis::graph_view::NodeClass;

/// A DOT string literal's contents.
fn dot_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Classes used by the panels, in legend order.
fn used_classes(doc: &Doc) -> Vec<NodeClass> {
    let used: BTreeSet<NodeClass> = doc
        .panels
        .iter()
        .flat_map(|p| p.nodes.iter().map(|n| n.class))
        .collect();
    NodeClass::ALL
        .into_iter()
        .filter(|c| used.contains(c))
        .collect()
}

/// How one text format writes the parts of a panel; [`write_panel`] walks it.
trait PanelText {
    fn node(&self, out: &mut String, n: &NodeDraw, indent: &str);
    /// Open island `k` of `p`.
    fn island_open(&self, out: &mut String, p: &PanelDraw, k: usize, indent: &str);
    fn island_close(&self, out: &mut String, p: &PanelDraw, k: usize, indent: &str);
    fn edge(&self, out: &mut String, from: &NodeDraw, to: &NodeDraw, label: &str, indent: &str);
}

/// A panel in the order both text formats write it: each float island with
/// the nodes it is the first to claim, then the nodes in no island, then the
/// edges.
fn write_panel(out: &mut String, p: &PanelDraw, indent: &str, f: &dyn PanelText) {
    let mut in_island = vec![false; p.nodes.len()];
    let inner = format!("{indent}  ");
    for (k, island) in p.islands.iter().enumerate() {
        f.island_open(out, p, k, indent);
        for &m in &island.nodes {
            if let Some(flag) = in_island.get_mut(m)
                && !*flag
            {
                *flag = true;
                if let Some(n) = p.nodes.get(m) {
                    f.node(out, n, &inner);
                }
            }
        }
        f.island_close(out, p, k, indent);
    }
    for (n, inside) in p.nodes.iter().zip(&in_island) {
        if !inside {
            f.node(out, n, indent);
        }
    }
    for e in &p.edges {
        if let (Some(a), Some(b)) = (p.nodes.get(e.from), p.nodes.get(e.to)) {
            f.edge(out, a, b, &e.label, indent);
        }
    }
}

struct Dot;

impl PanelText for Dot {
    fn node(&self, out: &mut String, n: &NodeDraw, indent: &str) {
        let mut attrs = format!(
            "label=\"{}\", fillcolor=\"{}\", class=\"{}\", tooltip=\"{}\"",
            dot_str(&n.lines.join("\n")),
            class_color(n.class),
            n.class.name(),
            dot_str(&n.title)
        );
        if matches!(n.class, NodeClass::Input | NodeClass::Output) {
            attrs.push_str(", shape=ellipse");
        }
        let mut style = vec!["rounded", "filled"];
        if n.cut {
            style.push("dashed");
        }
        if !n.findings.is_empty() {
            let numbers: Vec<String> = n.findings.iter().map(|f| f.to_string()).collect();
            let _ = write!(
                attrs,
                ", penwidth=3, xlabel=\"[{}]\"",
                dot_str(&numbers.join(","))
            );
        }
        let _ = writeln!(
            out,
            "{indent}\"{}\" [{attrs}, style=\"{}\"];",
            dot_str(&n.id),
            style.join(",")
        );
    }

    fn island_open(&self, out: &mut String, p: &PanelDraw, k: usize, indent: &str) {
        let title = p.islands.get(k).map_or("", |i| i.title.as_str());
        let _ = writeln!(
            out,
            "{indent}subgraph \"cluster_{}island{}\" {{",
            p.prefix,
            k + 1
        );
        let _ = writeln!(
            out,
            "{indent}  label=\"{}\"; style=\"dashed,rounded\"; color=\"{ISLAND_COLOR}\"; fontcolor=\"{ISLAND_COLOR}\";",
            dot_str(title)
        );
    }

    fn island_close(&self, out: &mut String, _: &PanelDraw, _: usize, indent: &str) {
        let _ = writeln!(out, "{indent}}}");
    }

    fn edge(&self, out: &mut String, a: &NodeDraw, b: &NodeDraw, label: &str, indent: &str) {
        let _ = writeln!(
            out,
            "{indent}\"{}\" -> \"{}\" [label=\"{}\"];",
            dot_str(&a.id),
            dot_str(&b.id),
            dot_str(label)
        );
    }
}

/// Graphviz DOT.
pub(super) fn dot(doc: &Doc, w: &mut dyn Write) -> io::Result<()> {
    let mut out = String::new();
    let _ = writeln!(out, "digraph tflq {{");
    let _ = writeln!(
        out,
        "  graph [rankdir=TB, fontname=\"monospace\", label=\"{}\", labelloc=t];",
        dot_str(&doc.title)
    );
    let _ = writeln!(
        out,
        "  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\", fontsize=10];"
    );
    let _ = writeln!(
        out,
        "  edge [fontname=\"monospace\", fontsize=8, color=\"#666666\"];"
    );
    if doc.panels.len() == 1 {
        write_panel(&mut out, &doc.panels[0], "  ", &Dot);
    } else {
        for p in &doc.panels {
            let _ = writeln!(
                out,
                "  subgraph \"cluster_{}\" {{",
                p.prefix.trim_end_matches('-')
            );
            let _ = writeln!(
                out,
                "    label=\"{}\"; color=\"#999999\";",
                dot_str(&format!("{}\n{}", p.heading, p.summary))
            );
            write_panel(&mut out, p, "    ", &Dot);
            let _ = writeln!(out, "  }}");
        }
        // Aligned ops are not joined: Graphviz routes such cross-cluster
        // lines through both graphs, and the HTML page links them instead.
    }
    let _ = writeln!(out, "  subgraph cluster_legend {{");
    let _ = writeln!(out, "    label=\"legend\"; color=\"#999999\";");
    for c in used_classes(doc) {
        let _ = writeln!(
            out,
            "    \"legend-{}\" [label=\"{}\", fillcolor=\"{}\", class=\"{}\"];",
            c.name(),
            class_label(c),
            class_color(c),
            c.name()
        );
    }
    let _ = writeln!(out, "  }}");
    for (i, m) in doc.marks.iter().enumerate() {
        let _ = writeln!(
            out,
            "  // finding [{}] {}: {}",
            i + 1,
            m.title.replace('\n', " "),
            m.text.replace('\n', " ")
        );
    }
    let _ = writeln!(out, "}}");
    w.write_all(out.as_bytes())
}

/// A Mermaid label's text. Characters Mermaid, or the HTML it renders
/// labels to, would read as syntax become look-alikes: Mermaid's entity codes
/// (`#quot;`) are not decoded by every renderer (mermaid 11 in a browser
/// shows them raw), while `#` itself is plain text inside quotes.
fn mermaid_str(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '`' => '\'',
            '<' => '‹',
            '>' => '›',
            '|' => '¦',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// A Mermaid node id: letters, digits and underscores only.
fn mermaid_id(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

struct Mermaid;

impl Mermaid {
    fn island_id(p: &PanelDraw, k: usize) -> String {
        format!("{}island{}", mermaid_id(p.prefix), k + 1)
    }
}

impl PanelText for Mermaid {
    fn node(&self, out: &mut String, n: &NodeDraw, indent: &str) {
        let label = n
            .lines
            .iter()
            .map(|l| mermaid_str(l))
            .collect::<Vec<_>>()
            .join("<br/>");
        let (open, close) = if matches!(n.class, NodeClass::Input | NodeClass::Output) {
            ("([", "])")
        } else {
            ("[", "]")
        };
        let _ = writeln!(
            out,
            "{indent}{}{open}\"{label}\"{close}:::{}",
            mermaid_id(&n.id),
            n.class.name()
        );
    }

    fn island_open(&self, out: &mut String, p: &PanelDraw, k: usize, indent: &str) {
        let title = p.islands.get(k).map_or("", |i| i.title.as_str());
        let id = Self::island_id(p, k);
        let _ = writeln!(out, "{indent}subgraph {id} [\"{}\"]", mermaid_str(title));
    }

    fn island_close(&self, out: &mut String, p: &PanelDraw, k: usize, indent: &str) {
        let id = Self::island_id(p, k);
        let _ = writeln!(out, "{indent}end");
        let _ = writeln!(
            out,
            "{indent}style {id} fill:#fdb86322,stroke:{ISLAND_COLOR},stroke-dasharray:6 4"
        );
    }

    fn edge(&self, out: &mut String, a: &NodeDraw, b: &NodeDraw, label: &str, indent: &str) {
        let _ = writeln!(
            out,
            "{indent}{} -->|\"{}\"| {}",
            mermaid_id(&a.id),
            mermaid_str(label),
            mermaid_id(&b.id)
        );
    }
}

fn mermaid_classes(out: &mut String, doc: &Doc) {
    for c in used_classes(doc) {
        let _ = writeln!(
            out,
            "  classDef {} fill:{},stroke:#444444,color:#111111",
            c.name(),
            class_color(c)
        );
    }
    let marked: Vec<String> = doc
        .panels
        .iter()
        .flat_map(|p| p.nodes.iter())
        .filter(|n| !n.findings.is_empty())
        .map(|n| mermaid_id(&n.id))
        .collect();
    let cut: Vec<String> = doc
        .panels
        .iter()
        .flat_map(|p| p.nodes.iter())
        .filter(|n| n.cut)
        .map(|n| mermaid_id(&n.id))
        .collect();
    if !marked.is_empty() {
        let _ = writeln!(
            out,
            "  classDef finding stroke:{ISLAND_COLOR},stroke-width:3px"
        );
        let _ = writeln!(out, "  class {} finding", marked.join(","));
    }
    if !cut.is_empty() {
        let _ = writeln!(out, "  classDef cut stroke-dasharray:4 3");
        let _ = writeln!(out, "  class {} cut", cut.join(","));
    }
}

/// A Mermaid flowchart: one panel top to bottom, or two side by side (an
/// invisible link puts the second right of the first), each top to bottom.
pub(super) fn mermaid(doc: &Doc, w: &mut dyn Write) -> io::Result<()> {
    let mut out = String::new();
    if doc.panels.len() == 1 {
        let _ = writeln!(out, "flowchart TB");
        write_panel(&mut out, &doc.panels[0], "  ", &Mermaid);
    } else {
        let _ = writeln!(out, "flowchart LR");
        let mut ids = Vec::new();
        for p in &doc.panels {
            let id = mermaid_id(p.prefix.trim_end_matches('-'));
            let _ = writeln!(out, "  subgraph {id} [\"{}\"]", mermaid_str(&p.heading));
            let _ = writeln!(out, "    direction TB");
            write_panel(&mut out, p, "    ", &Mermaid);
            let _ = writeln!(out, "  end");
            ids.push(id);
        }
        let _ = writeln!(out, "  {}", ids.join(" ~~~ "));
    }
    mermaid_classes(&mut out, doc);
    w.write_all(out.as_bytes())
}
