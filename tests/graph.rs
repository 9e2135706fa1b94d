//! `tflq graph` on the committed real models: the SVG and HTML parse as XML,
//! hold one node per op (or per collapsed run) in the colour class of how
//! the op computes, outline every float island, and load nothing from
//! anywhere; DOT and Mermaid are snapshots; a PTQ/QAT pair marks each finding
//! on both sides.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use insta_cmd::assert_cmd_snapshot;
use tflq::analysis::graph_view::{self, GraphView, NodeClass, NodeKind, ViewOptions};
use tflq::analysis::{Compute, Inspection, OpClass};
use tflq::model::{BuiltinCode, Model, SubgraphId};
use tflq::report::graph::{GraphFormat, Panel, render, render_pair};

/// Real models of every kind: int8 chains, a MobileNet with residuals,
/// QAT conversions with float islands and requantizes, MediaPipe graphs,
/// int16, dynamic range (hybrid ops), float, control flow.
const FIXTURES: [&str; 16] = [
    "ptq_int8.tflite",
    "advice_concat_requantize_qat.tflite",
    "advice_round_trip_qat.tflite",
    "plan_mobilenet_ptq.tflite",
    "qat_partial.tflite",
    "advice_bn_unfolded_qat.tflite",
    "advice_unsupported_float_qat.tflite",
    "advice_mobilenet_bn_qat.tflite",
    "mediapipe_face_detection_short_range.tflite",
    "mediapipe_hand_recrop.tflite",
    "ptq_int16x8.tflite",
    "dynamic_range.tflite",
    "float.tflite",
    "control_flow.tflite",
    "float16.tflite",
    "mediapipe_face_detection_full_range_sparse.tflite",
];

fn view(model: &Model, insp: &Inspection, collapse: bool) -> GraphView {
    let quant = &insp.subgraphs[0];
    let mut options = ViewOptions::new(SubgraphId(0));
    if !collapse {
        options.min_run = 0;
    }
    options.keep = graph_view::finding_ops(quant);
    graph_view::build(model, quant, &options)
}

fn draw(model: &Model, insp: &Inspection, view: &GraphView, format: GraphFormat) -> String {
    let panel = Panel {
        model,
        quant: &insp.subgraphs[0],
        view,
        label: "m.tflite",
        sqnr: None,
    };
    let mut out = Vec::new();
    render(&panel, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The `<g class="node ...">` elements of a parsed document, by id, with
/// their colour class (`c-int8` → `int8`).
fn nodes(doc: &roxmltree::Document) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for g in doc.descendants().filter(|n| n.has_tag_name("g")) {
        let classes: Vec<&str> = g.attribute("class").unwrap_or("").split(' ').collect();
        if classes.first() != Some(&"node") {
            continue;
        }
        let colour: Vec<&str> = classes
            .iter()
            .filter_map(|c| c.strip_prefix("c-"))
            .collect();
        assert_eq!(colour.len(), 1, "{classes:?}");
        let id = g.attribute("id").expect("node id").to_owned();
        assert!(
            out.insert(id.clone(), colour[0].to_owned()).is_none(),
            "id {id} twice"
        );
    }
    out
}

/// The class each op must have, read from the analysis and the op kind
/// (not from the view code under test).
fn expected_class(model: &Model, insp: &Inspection, op: tflq::model::OpId) -> &'static str {
    let sg = &model.subgraphs[0];
    let o = sg.op(op);
    if o.kind.is(BuiltinCode::DEQUANTIZE) {
        let input = o.inputs[0].unwrap();
        // Weights stored in the file, or densified from it.
        let densified = sg.operators.iter().any(|p| {
            p.kind.is(BuiltinCode::DENSIFY)
                && p.outputs.contains(&input)
                && p.present_inputs().all(|t| sg.tensor(t).is_constant())
        });
        return if sg.tensor(input).is_constant() || densified {
            "constant-dequantize"
        } else {
            "dequantize"
        };
    }
    if o.kind.is(BuiltinCode::QUANTIZE) {
        let (input, output) = (o.inputs[0].unwrap(), o.outputs[0]);
        let (from, to) = (sg.tensor(input).dtype, sg.tensor(output).dtype);
        return if from.is_float() {
            "quantize"
        } else if from == to {
            "requantize"
        } else {
            "type-conversion"
        };
    }
    match insp.subgraphs[0].ops[op.index()].compute {
        Compute::Int8 => "int8",
        Compute::Int16 => "int16",
        Compute::Float => "float",
        Compute::Hybrid => "hybrid",
        Compute::Convert | Compute::Other => "other",
    }
}

/// No URL of any kind: nothing is fetched when the file is opened. The one
/// `http` allowed is the SVG namespace name (an identifier, never loaded).
fn assert_no_external_urls(text: &str, doc: &roxmltree::Document) {
    let without_ns = text.replacen("xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    for bad in ["http://", "https://", "ftp://", "file:", "data:", "@import"] {
        assert!(!without_ns.contains(bad), "{bad} in output");
    }
    for url in without_ns.match_indices("url(") {
        let rest = &without_ns[url.0 + 4..];
        assert!(rest.starts_with('#'), "url({}", &rest[..rest.len().min(40)]);
    }
    for n in doc.descendants() {
        for a in n.attributes() {
            if matches!(a.name(), "href" | "src" | "action" | "srcset") {
                assert!(
                    a.value().starts_with('#') && !a.value().contains("//"),
                    "{}={}",
                    a.name(),
                    a.value()
                );
            }
        }
        if n.has_tag_name("script") {
            assert!(n.attribute("src").is_none());
        }
    }
}

/// (x0, y0, x1, y1) of an element with x, y, width and height.
fn rect_box(n: roxmltree::Node) -> [f64; 4] {
    let v = |a: &str| -> f64 { n.attribute(a).unwrap_or("0").parse().unwrap() };
    [v("x"), v("y"), v("x") + v("width"), v("y") + v("height")]
}

fn overlap(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

fn has_class(n: &roxmltree::Node, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split(' ').any(|c| c == class))
}

/// The box of each node drawn under `root`, by id.
fn node_boxes(root: roxmltree::Node) -> BTreeMap<String, [f64; 4]> {
    root.descendants()
        .filter(|g| g.has_tag_name("g") && has_class(g, "node"))
        .map(|g| {
            let rect = g
                .children()
                .find(|r| r.has_tag_name("rect"))
                .expect("a node's box");
            (g.attribute("id").unwrap().to_owned(), rect_box(rect))
        })
        .collect()
}

/// Every float island of each panel (its id prefix and view, in document
/// order) has outlines, labelled with its number, that together hold all
/// of its nodes; no outline touches a node outside its island. Which nodes
/// an island has comes from the view, not from the drawing.
fn check_outlines(doc: &roxmltree::Document, panels: &[(&str, &GraphView)], name: &str) {
    let containers: Vec<_> = doc
        .descendants()
        .filter(|n| has_class(n, "panel"))
        .collect();
    assert_eq!(containers.len(), panels.len(), "{name}");
    // A standalone SVG draws its panels in one space; the page draws each
    // in an SVG of its own.
    let standalone = doc.root_element().has_tag_name("svg");
    for (container, (prefix, view)) in containers.iter().zip(panels) {
        let space = if standalone {
            doc.root_element()
        } else {
            *container
        };
        let boxes = node_boxes(space);
        let mut covered = std::collections::BTreeSet::new();
        let mut outlined = std::collections::BTreeSet::new();
        for g in container
            .descendants()
            .filter(|g| has_class(g, "island-outline"))
        {
            let k: usize = g.attribute("data-island").unwrap().parse().unwrap();
            let island = &view.islands[k - 1];
            outlined.insert(k);
            let members: Vec<String> = island
                .nodes
                .iter()
                .map(|n| format!("{prefix}n{n}"))
                .collect();
            let rect = g
                .children()
                .find(|r| r.has_tag_name("rect") && has_class(r, "island"))
                .expect("an outline");
            let outline = rect_box(rect);
            for (id, b) in &boxes {
                if !overlap(&outline, b) {
                    continue;
                }
                assert!(
                    members.contains(id),
                    "{name}: the outline of island {k} {outline:?} takes in {id} {b:?}"
                );
                if b[0] >= outline[0]
                    && b[1] >= outline[1]
                    && b[2] <= outline[2]
                    && b[3] <= outline[3]
                {
                    covered.insert(id.clone());
                }
            }
            let label = g.children().find(|t| has_class(t, "ilabel")).unwrap();
            assert!(label.text().unwrap().starts_with("float island "), "{name}");
        }
        assert_eq!(outlined.len(), view.islands.len(), "{name}");
        for island in &view.islands {
            for n in &island.nodes {
                let id = format!("{prefix}n{n}");
                assert!(covered.contains(&id), "{name}: {id} outside its outline");
            }
        }
    }
}

/// No two finding badges drawn in one space overlap.
fn check_badges(doc: &roxmltree::Document, name: &str) {
    let spaces: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("svg") && !has_class(n, "minimap"))
        .collect();
    for space in spaces {
        let badges: Vec<[f64; 4]> = space
            .descendants()
            .filter(|g| has_class(g, "badge") && g.ancestors().any(|a| has_class(&a, "node")))
            .map(|g| rect_box(g.children().find(|r| r.has_tag_name("rect")).unwrap()))
            .collect();
        for (i, a) in badges.iter().enumerate() {
            for b in &badges[i + 1..] {
                assert!(!overlap(a, b), "{name}: badges at {a:?} and {b:?}");
            }
        }
    }
}

/// The findings listed on a page, in order.
fn list_items<'a>(doc: &'a roxmltree::Document) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.has_tag_name("li") && n.attribute("data-nodes").is_some())
        .collect()
}

/// Islands first, then requantizes (and quantizers to remove), other
/// placement findings, the rest; numbered 1, 2, ... in that order.
fn assert_groups_in_order(items: &[roxmltree::Node], name: &str) {
    let order = ["g-island", "g-quantizer", "g-placement", "g-other"];
    let ranks: Vec<usize> = items
        .iter()
        .map(|li| {
            let class = li.attribute("class").unwrap_or("");
            order.iter().position(|c| *c == class).expect(class)
        })
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{name}: {ranks:?}");
    for (i, li) in items.iter().enumerate() {
        assert_eq!(li.attribute("id"), Some(format!("f{}", i + 1).as_str()));
    }
}

/// How many findings the page of one model lists: each float island in
/// view, and every other finding with an op in view except the single
/// QUANTIZE or DEQUANTIZE ops at an island's boundary, which the island's
/// entry holds.
fn expected_listed(insp: &Inspection, view: &GraphView) -> usize {
    use tflq::analysis::FindingKind;
    let findings = &insp.subgraphs[0].findings;
    let mut boundary = std::collections::BTreeSet::new();
    for island in &view.islands {
        if let FindingKind::FloatIsland { entries, exits, .. } = &findings[island.finding].kind {
            boundary.extend(entries.iter().chain(exits).copied());
        }
    }
    findings
        .iter()
        .filter(|f| f.ops.iter().any(|o| view.node_of(*o).is_some()))
        .filter(|f| {
            let quantizer = matches!(
                f.kind,
                FindingKind::Quantize { .. }
                    | FindingKind::QuantizeInput { .. }
                    | FindingKind::Dequantize { .. }
                    | FindingKind::DequantizeOutput { .. }
            );
            !(quantizer && f.ops.len() == 1 && boundary.contains(&f.ops[0]))
        })
        .count()
}

fn check_drawing(model: &Model, insp: &Inspection, view: &GraphView, name: &str) {
    for format in [GraphFormat::Svg, GraphFormat::Html] {
        let text = draw(model, insp, view, format);
        let doc = roxmltree::Document::parse_with_options(
            &text,
            roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name} {format:?}: not well-formed: {e}"));
        assert_no_external_urls(&text, &doc);
        let drawn = nodes(&doc);
        // One node per view node: per op, per collapsed run, per I/O tensor.
        assert_eq!(drawn.len(), view.nodes.len(), "{name} {format:?}");
        let mut ops_drawn = 0;
        for (i, node) in view.nodes.iter().enumerate() {
            let class = &drawn[&format!("n{i}")];
            assert_eq!(class, node.class.name(), "{name}: node {i} {:?}", node.kind);
            for &op in node.ops() {
                assert_eq!(
                    class,
                    expected_class(model, insp, op),
                    "{name}: op #{op} in node {i}"
                );
                ops_drawn += 1;
            }
        }
        assert_eq!(ops_drawn, model.subgraphs[0].operators.len(), "{name}");
        // Collapsing keeps the picture acyclic: op and run nodes come in
        // execution order and every edge between them points forwards.
        for e in &view.edges {
            let terminal = |i: usize| view.nodes[i].ops().is_empty();
            if !terminal(e.from) && !terminal(e.to) {
                assert!(e.from < e.to, "{name}: edge {e:?}");
            }
        }
        // Every float island is outlined, each outline around its own
        // island's nodes only; badges never cover each other.
        check_outlines(&doc, &[("", view)], name);
        check_badges(&doc, name);
        if format == GraphFormat::Html {
            // Findings beside the graph, islands first, each island's
            // boundary quantizers folded into its entry; the node details
            // as JSON.
            let items = list_items(&doc);
            assert_eq!(items.len(), expected_listed(insp, view), "{name}");
            assert_groups_in_order(&items, name);
            let data = doc
                .descendants()
                .find(|n| n.attribute("id") == Some("tflq-data"))
                .and_then(|n| n.text())
                .expect("data");
            let v: serde_json::Value = serde_json::from_str(data).unwrap();
            assert_eq!(
                v["nodes"].as_object().unwrap().len(),
                view.nodes.len(),
                "{name}"
            );
        }
    }
}

#[test]
fn svg_and_html_show_every_op_in_its_class() {
    let mut met = std::collections::BTreeSet::new();
    for name in FIXTURES {
        let model = common::fixture_model(name);
        let insp = tflq::analysis::inspect(&model);
        let all = view(&model, &insp, false);
        // Without collapsing, every op is a node of its own.
        assert!(
            all.nodes
                .iter()
                .all(|n| !matches!(n.kind, NodeKind::Run(_))),
            "{name}"
        );
        check_drawing(&model, &insp, &all, name);
        let collapsed = view(&model, &insp, true);
        check_drawing(&model, &insp, &collapsed, name);
        met.extend(all.nodes.iter().map(|n| n.class));
    }
    // The fixtures reach every class but one, so each mapping above was
    // checked; no converter fixture converts between integer types
    // (`type_conversion_is_its_own_class` builds one).
    let unmet: Vec<_> = NodeClass::ALL.iter().filter(|c| !met.contains(c)).collect();
    assert_eq!(unmet, [&NodeClass::Op(OpClass::TypeConversion)], "{met:?}");
}

#[test]
fn runs_of_integer_ops_collapse_and_findings_stay_apart() {
    let model = common::fixture_model("plan_mobilenet_ptq.tflite");
    let insp = tflq::analysis::inspect(&model);
    let all = view(&model, &insp, false);
    let collapsed = view(&model, &insp, true);
    assert!(collapsed.runs > 0);
    assert!(
        collapsed.nodes.len() * 2 < all.nodes.len(),
        "{} of {}",
        collapsed.nodes.len(),
        all.nodes.len()
    );
    let keep = graph_view::finding_ops(&insp.subgraphs[0]);
    for node in &collapsed.nodes {
        if let NodeKind::Run(ops) = &node.kind {
            assert!(ops.len() >= ViewOptions::MIN_RUN);
            assert!(node.class.is_integer());
            assert!(ops.iter().all(|o| !keep.contains(o)));
            // Consecutive in execution order (the file's, for a converter's model).
            for w in ops.windows(2) {
                assert_eq!(w[1].0, w[0].0 + 1, "{ops:?}");
            }
        }
    }
    let svg = draw(&model, &insp, &collapsed, GraphFormat::Svg);
    assert!(svg.contains(" int8 ops"));
}

#[test]
fn float_islands_are_outlined_around_their_ops() {
    let model = common::fixture_model("advice_bn_unfolded_qat.tflite");
    let insp = tflq::analysis::inspect(&model);
    let v = view(&model, &insp, true);
    assert!(!v.islands.is_empty());
    for island in &v.islands {
        for &n in &island.nodes {
            assert_eq!(
                v.nodes[n].class,
                NodeClass::Op(OpClass::Float),
                "{:?}",
                v.nodes[n]
            );
        }
    }
    let svg = draw(&model, &insp, &v, GraphFormat::Svg);
    assert!(svg.contains(">float island 1</text>"));
}

#[test]
fn around_an_op_shows_its_neighbourhood_only() {
    let model = common::fixture_model("plan_mobilenet_ptq.tflite");
    let insp = tflq::analysis::inspect(&model);
    let quant = &insp.subgraphs[0];
    let mut options = ViewOptions::new(SubgraphId(0));
    options.min_run = 0;
    options.around = vec![tflq::model::OpId(10)];
    options.depth = 1;
    let v = graph_view::build(&model, quant, &options);
    let g = tflq::graph::Graph::new(&model.subgraphs[0]);
    let mut expected: Vec<_> = g
        .predecessors(tflq::model::OpId(10))
        .chain(g.successors(tflq::model::OpId(10)))
        .chain([tflq::model::OpId(10)])
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(v.shown_ops, expected.len());
    assert!(v.nodes.iter().any(|n| n.cut));
}

/// `--around` on an op inside a long int8 stretch: the op and every op
/// within the depth get nodes of their own (runs would hide the op asked for).
#[test]
fn around_never_merges_the_op_asked_for() {
    let model = common::fixture_model("ptq_int8.tflite");
    let insp = tflq::analysis::inspect(&model);
    let quant = &insp.subgraphs[0];
    let center = quant
        .ops
        .iter()
        .find(|i| i.layer.as_deref() == Some("conv2"))
        .expect("a conv2 layer")
        .op;
    let mut options = ViewOptions::new(SubgraphId(0));
    options.around = vec![center];
    options.depth = 3;
    options.keep = graph_view::finding_ops(quant);
    let v = graph_view::build(&model, quant, &options);
    assert_eq!(v.runs, 0);
    let node = v.node_of(center).expect("the op asked for is drawn");
    assert_eq!(v.nodes[node].kind, NodeKind::Op(center));
    // Every op within 3 edges, in either direction, has its own node.
    let g = tflq::graph::Graph::new(&model.subgraphs[0]);
    let mut frontier = vec![center];
    for _ in 0..3 {
        frontier = frontier
            .iter()
            .flat_map(|&o| g.predecessors(o).chain(g.successors(o)).collect::<Vec<_>>())
            .collect();
        for &o in &frontier {
            let n = v.node_of(o).expect("neighbour within depth drawn");
            assert_eq!(v.nodes[n].kind, NodeKind::Op(o));
        }
    }
}

#[test]
fn a_pair_marks_each_finding_on_both_sides() {
    for format in [GraphFormat::Html, GraphFormat::Svg] {
        let (text, c, pv, qv) = pair_drawing("ptq_int8.tflite", "qat_partial.tflite", format);
        let doc = parse(&text);
        assert_no_external_urls(&text, &doc);
        let drawn = nodes(&doc);
        assert_eq!(drawn.len(), pv.nodes.len() + qv.nodes.len());
        check_outlines(&doc, &[("p-", &pv), ("q-", &qv)], "pair");
        check_badges(&doc, "pair");
        if format == GraphFormat::Svg {
            continue;
        }
        let items = list_items(&doc);
        assert_groups_in_order(&items, "pair");
        // Every compare finding is listed once, on its own or folded into
        // the island it is about.
        for f in &c.findings {
            let title = match &f.layer {
                Some(l) => format!("{} {} ({l})", f.kind.name(), f.severity.name()),
                None => format!("{} {}", f.kind.name(), f.severity.name()),
            };
            let holding = items
                .iter()
                .filter(|li| li.descendants().any(|t| t.text() == Some(title.as_str())))
                .count();
            assert_eq!(holding, 1, "{title}");
        }
        // The QAT island, then compare's other findings.
        assert_eq!(
            items.len(),
            qv.islands.len() + pv.islands.len() + c.findings.len() - 1
        );
        let add = items
            .iter()
            .find(|li| {
                li.descendants()
                    .any(|t| t.text() == Some("add-quantizer float-compute (bn1)"))
            })
            .expect("the add-quantizer finding is listed");
        // Folded into the island's entry, listed first.
        assert_eq!(add.attribute("id"), Some("f1"));
        assert_eq!(add.attribute("class"), Some("g-island"));
        let ids: Vec<&str> = add.attribute("data-nodes").unwrap().split(' ').collect();
        // Its float ops and their boundary on the QAT side, their int8
        // counterparts on the PTQ side.
        assert!(ids.iter().any(|i| i.starts_with("p-")), "{ids:?}");
        assert!(ids.iter().any(|i| i.starts_with("q-")), "{ids:?}");
        for id in &ids {
            let class = drawn[*id].as_str();
            if id.starts_with("q-") {
                assert!(
                    ["float", "dequantize", "quantize"].contains(&class),
                    "{id}: {class}"
                );
            } else {
                assert_eq!(class, "int8", "{id}");
            }
        }
        for &n in &qv.islands[0].nodes {
            assert!(ids.contains(&format!("q-n{n}").as_str()), "q-n{n}");
        }
        // Matched ops are linked for the page's script.
        assert!(
            text.contains("\"match\":{\"p-n"),
            "no links between the sides"
        );
    }
}

// ------------------------------------------------------------ command line

fn tflq() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tflq"));
    c.current_dir(common::root()).env_clear();
    c
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(env!("CARGO_PKG_VERSION"), "[VERSION]");
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn dot_and_mermaid_snapshots() {
    settings().bind(|| {
        assert_cmd_snapshot!(
            "graph_qat_partial_mermaid",
            tflq().args([
                "graph",
                "testdata/qat_partial.tflite",
                "--format",
                "mermaid"
            ])
        );
        assert_cmd_snapshot!(
            "graph_qat_partial_dot",
            tflq().args(["graph", "testdata/qat_partial.tflite", "--format", "dot"])
        );
        assert_cmd_snapshot!(
            "graph_bn_unfolded_mermaid_around",
            tflq().args([
                "graph",
                "testdata/advice_bn_unfolded_qat.tflite",
                "--format",
                "mermaid",
                "--around",
                "#4",
                "--depth",
                "2"
            ])
        );
        assert_cmd_snapshot!(
            "graph_mobilenet_dot",
            tflq().args([
                "graph",
                "testdata/plan_mobilenet_ptq.tflite",
                "--format",
                "dot"
            ])
        );
        assert_cmd_snapshot!(
            "graph_pair_mermaid",
            tflq().args([
                "graph",
                "testdata/ptq_int8.tflite",
                "testdata/qat_partial.tflite",
                "--format",
                "mermaid"
            ])
        );
        assert_cmd_snapshot!(
            "graph_pair_dot",
            tflq().args([
                "graph",
                "testdata/ptq_maximum.tflite",
                "testdata/qat_maximum_output.tflite",
                "--format",
                "dot"
            ])
        );
    });
}

#[test]
fn usage_errors() {
    settings().bind(|| {
        assert_cmd_snapshot!(
            "graph_around_unknown",
            tflq().args([
                "graph",
                "testdata/qat_partial.tflite",
                "--around",
                "no_such_layer"
            ])
        );
        assert_cmd_snapshot!(
            "graph_around_out_of_range",
            tflq().args(["graph", "testdata/qat_partial.tflite", "--around", "#99"])
        );
        assert_cmd_snapshot!(
            "graph_around_huge",
            tflq().args([
                "graph",
                "testdata/qat_partial.tflite",
                "--around",
                "99999999999999"
            ])
        );
        assert_cmd_snapshot!(
            "graph_no_subgraph",
            tflq().args(["graph", "testdata/qat_partial.tflite", "--subgraph", "3"])
        );
        assert_cmd_snapshot!(
            "graph_pair_swapped",
            tflq().args([
                "graph",
                "testdata/qat_partial.tflite",
                "testdata/ptq_int8.tflite"
            ])
        );
    });
}

#[test]
fn the_format_follows_the_output_file() {
    let dir = tempfile::tempdir().unwrap();
    for (file, start) in [
        ("g.svg", "<svg xmlns="),
        ("g.html", "<!DOCTYPE html>"),
        ("g.dot", "digraph tflq {"),
        ("g.mmd", "flowchart TB"),
    ] {
        let path = dir.path().join(file);
        let out = tflq()
            .args(["graph", "testdata/qat_partial.tflite", "-o"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(out.stdout.is_empty());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(start), "{file}: {}", &text[..40]);
    }
    // Same model, same bytes.
    let a = tflq()
        .args([
            "graph",
            "testdata/mediapipe_hand_recrop.tflite",
            "--format",
            "html",
        ])
        .output()
        .unwrap();
    let b = tflq()
        .args([
            "graph",
            "testdata/mediapipe_hand_recrop.tflite",
            "--format",
            "html",
        ])
        .output()
        .unwrap();
    assert_eq!(a.stdout, b.stdout);
}

/// `-o` with an extension that names no format is a usage error, not SVG in a
/// `.png`; `--format` makes any name fine; `-o` never overwrites a model.
#[test]
fn output_files_that_name_no_format_or_a_model_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("g.png");
    let out = tflq()
        .args(["graph", "testdata/qat_partial.tflite", "-o"])
        .arg(&png)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(".svg, .html"), "{err}");
    assert!(err.contains("--format"), "{err}");
    assert!(!png.exists());
    // With --format, the name is the user's business.
    let out = tflq()
        .args([
            "graph",
            "testdata/qat_partial.tflite",
            "--format",
            "dot",
            "-o",
        ])
        .arg(&png)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        std::fs::read_to_string(&png)
            .unwrap()
            .starts_with("digraph")
    );
    // The model itself, directly, through another spelling, or as the
    // second model of a pair, even with --format.
    let model = dir.path().join("m.tflite");
    let bytes = std::fs::read(common::root().join("testdata/qat_partial.tflite")).unwrap();
    std::fs::write(&model, &bytes).unwrap();
    let ptq = common::root().join("testdata/ptq_int8.tflite");
    let dotted = dir.path().join(".").join("m.tflite");
    let cases: [Vec<std::ffi::OsString>; 3] = [
        vec![
            "graph".into(),
            model.clone().into(),
            "--format".into(),
            "svg".into(),
            "-o".into(),
            model.clone().into(),
        ],
        vec![
            "graph".into(),
            model.clone().into(),
            "--format".into(),
            "html".into(),
            "-o".into(),
            dotted.into(),
        ],
        vec![
            "graph".into(),
            ptq.into(),
            model.clone().into(),
            "--format".into(),
            "dot".into(),
            "-o".into(),
            model.clone().into(),
        ],
    ];
    for args in cases {
        let out = tflq().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("input model"), "{err}");
        assert_eq!(std::fs::read(&model).unwrap(), bytes, "{args:?}");
    }
}

/// The page script caps the zoom-out when opening or jumping to a finding,
/// and frames all of a finding's nodes; long tensor names in the findings
/// list wrap instead of running under the graph.
#[test]
fn html_opens_readable_and_frames_whole_findings() {
    let model = common::fixture_model("mediapipe_face_detection_full_range_sparse.tflite");
    let insp = tflq::analysis::inspect(&model);
    let v = view(&model, &insp, true);
    let html = draw(&model, &insp, &v, GraphFormat::Html);
    assert!(html.contains("var MAX_UNITS = 2;"));
    assert!(
        html.contains("centre(svgs[i], els, k)"),
        "a finding frames all its nodes"
    );
    let css = html.split("#findings li{").nth(1).unwrap();
    assert!(
        css.split('}')
            .next()
            .unwrap()
            .contains("overflow-wrap:anywhere")
    );
}

#[test]
fn views_too_large_to_lay_out_are_refused_not_drawn() {
    use tflq::report::graph::MAX_LAYOUT_NODES;
    // One float op per reader of one tensor: nothing collapses.
    let n = MAX_LAYOUT_NODES + 1;
    let model = common::leak_load(tflq::synth::shared_tensor(
        n,
        tflq::synth::Sharing::Readers,
        true,
    ));
    let insp = tflq::analysis::inspect(&model);
    let v = view(&model, &insp, true);
    assert!(v.nodes.len() > MAX_LAYOUT_NODES);
    for format in [GraphFormat::Svg, GraphFormat::Html] {
        let panel = Panel {
            model: &model,
            quant: &insp.subgraphs[0],
            view: &v,
            label: "m.tflite",
            sqnr: None,
        };
        let mut out = Vec::new();
        let e = render(&panel, format, &mut out).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("more than the 20,000"), "{e}");
        assert!(out.is_empty());
    }
    // DOT and Mermaid leave the layout to their readers: tflq writes them
    // at any size.
    assert!(
        draw(&model, &insp, &v, GraphFormat::Mermaid)
            .lines()
            .count()
            > n
    );
}

/// Mermaid output past the default `maxEdges` (500) or `maxTextSize`
/// (50,000 characters) of Mermaid renderers is still written, with a note
/// on standard error that points at DOT and `--around`; smaller output
/// gets no note.
#[test]
fn mermaid_past_renderer_limits_gets_a_note() {
    use tflq::report::graph::{MERMAID_MAX_EDGES, MermaidSize};
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.tflite");
    std::fs::write(
        &big,
        tflq::synth::shared_tensor(600, tflq::synth::Sharing::Readers, true),
    )
    .unwrap();
    let out = tflq()
        .args(["graph", "--format", "mermaid"])
        .arg(&big)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let size = MermaidSize::of(std::str::from_utf8(&out.stdout).unwrap());
    assert!(size.edges > MERMAID_MAX_EDGES, "{size:?}");
    assert!(size.over_default_limits());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("note: "), "{err}");
    assert!(
        err.contains("--format dot") && err.contains("--around"),
        "{err}"
    );
    // The same into a file, and a small graph: no note for the latter.
    let out = tflq()
        .args(["graph", "--format", "mermaid", "-o"])
        .arg(dir.path().join("big.mmd"))
        .arg(&big)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("note: "));
    let out = tflq()
        .args([
            "graph",
            "testdata/qat_partial.tflite",
            "--format",
            "mermaid",
        ])
        .output()
        .unwrap();
    assert!(out.stderr.is_empty(), "{out:?}");
    let small = MermaidSize::of(std::str::from_utf8(&out.stdout).unwrap());
    assert_eq!(small.edges, 11);
    assert!(!small.over_default_limits());
}

/// Without `--subgraph`, a model with one signature is drawn from that
/// signature's subgraph, even when it is not subgraph 0; with several
/// signatures (control_flow.tflite: `branch` is 0, `serving_default` 1),
/// subgraph 0.
#[test]
fn the_default_subgraph_is_the_only_signatures() {
    use tflq::synth::ModelBuilder;
    let mut m = ModelBuilder::new();
    let relu = m.builtin(BuiltinCode::RELU);
    let tanh = m.builtin(BuiltinCode::TANH);
    for (name, code) in [("helper", relu), ("main", tanh)] {
        let sg = m.subgraph(name);
        let x = m.tensor(sg, &format!("{name}_x"), &[1, 4], 0, None);
        let y = m.tensor(sg, &format!("{name}_y"), &[1, 4], 0, None);
        m.op(sg, code, &[x], &[y], tflq::synth::SynthOptions::None);
        m.io(sg, &[x], &[y]);
        if name == "main" {
            m.signature(
                "serving_default",
                sg as u32,
                &[("x", x as u32)],
                &[("y", y as u32)],
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.tflite");
    std::fs::write(&path, m.finish()).unwrap();
    let text = |args: &[&str]| {
        let out = tflq().arg("graph").arg(&path).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let default = text(&["--format", "mermaid"]);
    assert!(default.contains("#0 TANH"), "{default}");
    assert!(text(&["--format", "mermaid", "--subgraph", "0"]).contains("#0 RELU"));

    let out = tflq()
        .args([
            "graph",
            "testdata/control_flow.tflite",
            "--format",
            "mermaid",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("input<br/>branch_x:0"), "{text}");
}

/// Control-flow ops name the subgraphs they run, in the model's order, so
/// that `--subgraph N` can follow them; the title says which role each has.
#[test]
fn control_flow_nodes_name_the_subgraphs_they_call() {
    let model = common::fixture_model("control_flow.tflite");
    let insp = tflq::analysis::inspect(&model);
    let mut seen = 0;
    for (s, sg) in model.subgraphs.iter().enumerate() {
        let quant = &insp.subgraphs[s];
        let v = graph_view::build(&model, quant, &ViewOptions::new(SubgraphId(s as u32)));
        let panel = Panel {
            model: &model,
            quant,
            view: &v,
            label: "m.tflite",
            sqnr: None,
        };
        let mut out = Vec::new();
        render(&panel, GraphFormat::Dot, &mut out).unwrap();
        let dot = String::from_utf8(out).unwrap();
        for op in sg.op_ids() {
            let o = sg.op(op);
            if o.calls.is_empty() {
                continue;
            }
            seen += 1;
            let ids: Vec<String> = o.calls.iter().map(|(_, c)| c.to_string()).collect();
            let head = format!("#{op} {} → {}", o.kind, ids.join(", "));
            assert!(dot.contains(&head), "{head} in subgraph {s}:\n{dot}");
        }
    }
    // IF in `branch` and `serving_default`, WHILE in `serving_default`.
    assert!(seen >= 2, "{seen}");
}

/// Op names are never cut short, however long; long layer names lose their
/// middle, keeping both ends.
#[test]
fn op_names_are_whole_and_layers_are_cut_in_the_middle() {
    let model = common::fixture_model("lstm.tflite");
    let insp = tflq::analysis::inspect(&model);
    let v = view(&model, &insp, false);
    let mermaid = draw(&model, &insp, &v, GraphFormat::Mermaid);
    assert!(
        mermaid.contains("\"#0 UNIDIRECTIONAL_SEQUENCE_LSTM+TANH\""),
        "{mermaid}"
    );
    // MobileNet's layer names are long: both ends stay.
    let model = common::fixture_model("plan_mobilenet_ptq.tflite");
    let insp = tflq::analysis::inspect(&model);
    let v = view(&model, &insp, false);
    let mermaid = draw(&model, &insp, &v, GraphFormat::Mermaid);
    let cut: Vec<&str> = mermaid
        .lines()
        .filter(|l| l.contains('…') && !l.contains(" … "))
        .collect();
    assert!(!cut.is_empty());
    for line in cut {
        assert!(!line.contains("…\""), "{line}");
    }
    assert!(
        mermaid.contains("<br/>expanded_conv/…eze_excite/Relu\""),
        "{mermaid}"
    );
}

/// int8 → uint8, then uint8 at a new scale: a QUANTIZE between integer types
/// is a type conversion, drawn in its own class, and the overlay says so too;
/// one within a type is a requantize.
#[test]
fn type_conversion_is_its_own_class() {
    use tflq::synth::{ModelBuilder, SynthOptions, SynthQuant};
    let mut m = ModelBuilder::new();
    let quantize = m.builtin(BuiltinCode::QUANTIZE);
    let sg = m.subgraph("main");
    let a = m.tensor(sg, "a", &[1, 4], 9, Some(SynthQuant::per_tensor(0.1, 0)));
    let b = m.tensor(sg, "b", &[1, 4], 3, Some(SynthQuant::per_tensor(0.1, 128)));
    let c = m.tensor(sg, "c", &[1, 4], 3, Some(SynthQuant::per_tensor(0.2, 128)));
    m.op(sg, quantize, &[a], &[b], SynthOptions::None);
    m.op(sg, quantize, &[b], &[c], SynthOptions::None);
    m.io(sg, &[a], &[c]);
    let model = common::leak_load(m.finish());
    let model = &model;
    let insp = tflq::analysis::inspect(model);
    let all = view(model, &insp, false);
    let classes: Vec<NodeClass> = all
        .nodes
        .iter()
        .filter(|n| !n.ops().is_empty())
        .map(|n| n.class)
        .collect();
    assert_eq!(
        classes,
        [
            NodeClass::Op(OpClass::TypeConversion),
            NodeClass::Op(OpClass::Requantize)
        ],
        "{all:?}"
    );
    for op in 0..2 {
        assert_eq!(
            all.nodes
                .iter()
                .find(|n| n.ops() == [tflq::model::OpId(op)])
                .map(|n| n.class.name()),
            Some(expected_class(model, &insp, tflq::model::OpId(op)))
        );
    }
    let overlay = tflq::report::model_explorer::inspect(model, &insp, None);
    let values: Vec<&str> = overlay.graphs[0].results.iter().map(|r| r.value).collect();
    assert_eq!(values, ["type-conversion", "requantize"]);
}

fn parse(text: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap()
}

/// A PTQ fixture and a QAT fixture drawn as `tflq graph` draws a pair
/// (the ops compare's findings name keep nodes of their own), with the
/// comparison and both views.
fn pair_drawing(
    ptq: &str,
    qat: &str,
    format: GraphFormat,
) -> (String, tflq::compare::Comparison, GraphView, GraphView) {
    let ptq = common::fixture_model(ptq);
    let qat = common::fixture_model(qat);
    let c = tflq::compare::compare(&ptq, &qat, Default::default());
    let (ip, iq) = (tflq::analysis::inspect(&ptq), tflq::analysis::inspect(&qat));
    let build = |model: &Model, insp: &Inspection, keep: Vec<tflq::model::OpId>| {
        let mut options = ViewOptions::new(SubgraphId(0));
        options.keep = keep.into_iter().collect();
        graph_view::build(model, &insp.subgraphs[0], &options)
    };
    let pv = build(
        &ptq,
        &ip,
        c.findings.iter().flat_map(|f| f.ptq_ops.clone()).collect(),
    );
    let qv = build(
        &qat,
        &iq,
        c.findings.iter().flat_map(|f| f.qat_ops.clone()).collect(),
    );
    let mut out = Vec::new();
    render_pair(
        &Panel {
            model: &ptq,
            quant: &ip.subgraphs[0],
            view: &pv,
            label: "ptq.tflite",
            sqnr: None,
        },
        &Panel {
            model: &qat,
            quant: &iq.subgraphs[0],
            view: &qv,
            label: "qat.tflite",
            sqnr: None,
        },
        &c,
        format,
        &mut out,
    )
    .unwrap();
    (String::from_utf8(out).unwrap(), c, pv, qv)
}

/// A real MobileNet pair: its PTQ conversion and a QAT conversion with
/// dozens of float islands.
fn mobilenet_pair(format: GraphFormat) -> (String, GraphView, GraphView) {
    let (text, _, pv, qv) = pair_drawing(
        "plan_mobilenet_ptq.tflite",
        "advice_mobilenet_bn_qat.tflite",
        format,
    );
    (text, pv, qv)
}

/// On a real MobileNet pair with dozens of islands, no outline takes in a
/// node of another island or of the integer graph, on either format.
#[test]
fn island_outlines_enclose_only_their_island_in_a_pair() {
    for format in [GraphFormat::Svg, GraphFormat::Html] {
        let (text, pv, qv) = mobilenet_pair(format);
        assert!(qv.islands.len() >= 10, "{}", qv.islands.len());
        let doc = parse(&text);
        check_outlines(&doc, &[("p-", &pv), ("q-", &qv)], "mobilenet pair");
        check_badges(&doc, "mobilenet pair");
    }
}

/// Headings and titles name the files, never the directories they are in:
/// a shared page does not tell where it was made.
#[test]
fn titles_and_headings_hold_file_names_only() {
    let root = common::root();
    let ptq = root.join("testdata/ptq_int8.tflite");
    let qat = root.join("testdata/qat_partial.tflite");
    let dir = root.to_str().unwrap();
    for format in ["svg", "html", "dot"] {
        for models in [vec![&qat], vec![&ptq, &qat]] {
            let out = tflq()
                .arg("graph")
                .args(&models)
                .args(["--format", format])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{out:?}");
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(!text.contains(dir), "{format}: {dir} in the output");
            assert!(!text.contains("testdata/"), "{format}");
            let want = if models.len() == 1 {
                "tflq graph qat_partial.tflite"
            } else {
                "tflq graph ptq_int8.tflite qat_partial.tflite"
            };
            if format == "dot" {
                assert!(text.contains(&format!("label=\"{want}\"")), "{text}");
                continue;
            }
            let doc = parse(&text);
            // The document's title: the page's, or the SVG's first child.
            let title = doc
                .descendants()
                .find(|n| n.has_tag_name("title"))
                .and_then(|n| n.text())
                .unwrap();
            assert_eq!(title, want, "{format}");
            let headings: Vec<&str> = doc
                .descendants()
                .filter(|n| n.has_tag_name("h2") || has_class(n, "heading"))
                .filter_map(|n| n.text())
                .filter(|t| t.contains(".tflite"))
                .collect();
            assert_eq!(headings.len(), models.len(), "{format}: {headings:?}");
            for h in headings {
                assert!(!h.contains('/') && !h.contains('\\'), "{format}: {h}");
            }
        }
    }
}

/// One model's list: its float islands first, each holding the single
/// QUANTIZE and DEQUANTIZE findings at its boundary (no line of their own),
/// then the rest; an island's entry and its outline carry one number.
#[test]
fn findings_list_islands_first_with_their_quantizers_folded() {
    let model = common::fixture_model("advice_mobilenet_bn_qat.tflite");
    let insp = tflq::analysis::inspect(&model);
    let v = view(&model, &insp, true);
    let html = draw(&model, &insp, &v, GraphFormat::Html);
    let doc = parse(&html);
    let items = list_items(&doc);
    let findings = insp.subgraphs[0].findings.len();
    assert!(
        items.len() * 2 < findings,
        "{} listed of {findings}",
        items.len()
    );
    for (k, _) in v.islands.iter().enumerate() {
        let li = &items[k];
        assert_eq!(li.attribute("class"), Some("g-island"));
        let title = li.children().find(|n| n.has_tag_name("b")).unwrap();
        assert!(title.text().unwrap().starts_with("float-island"));
        // The outline of island k is labelled with its number in the list.
        let label = format!("float island {}", k + 1);
        let outline = doc
            .descendants()
            .find(|g| g.attribute("data-island") == Some((k + 1).to_string().as_str()))
            .unwrap();
        assert!(
            outline
                .descendants()
                .any(|t| t.text() == Some(label.as_str()))
        );
    }
    // Folded quantizers are named in their island's entry.
    let folded = items
        .iter()
        .flat_map(|li| li.descendants())
        .filter(|n| has_class(n, "folded"))
        .count();
    assert!(folded > 0);
    // No QUANTIZE or DEQUANTIZE at an island's boundary has a line of its
    // own (a round trip between integer ops, with no island, does).
    let findings = &insp.subgraphs[0].findings;
    let mut boundary = std::collections::BTreeSet::new();
    for island in &v.islands {
        if let tflq::analysis::FindingKind::FloatIsland { entries, exits, .. } =
            &findings[island.finding].kind
        {
            boundary.extend(
                entries
                    .iter()
                    .chain(exits)
                    .filter_map(|o| v.node_of(*o))
                    .map(|n| format!("n{n}")),
            );
        }
    }
    assert!(!boundary.is_empty());
    let mut alone = 0;
    for li in &items {
        let title = li.children().find(|n| n.has_tag_name("b")).unwrap();
        let title = title.text().unwrap();
        if title.starts_with("quantize") || title.starts_with("dequantize") {
            alone += 1;
            for id in li.attribute("data-nodes").unwrap().split(' ') {
                assert!(!boundary.contains(id), "{title} listed on its own");
            }
        }
    }
    assert!(alone > 0, "round trips stay listed");
}

/// The SVG's key gives every badge number a line, one line each; the
/// legend wraps to the picture's width.
#[test]
fn svg_has_a_key_for_every_badge_and_a_legend_that_fits() {
    let (text, _, _) = mobilenet_pair(GraphFormat::Svg);
    let (html, _, _) = mobilenet_pair(GraphFormat::Html);
    let doc = parse(&text);
    let width: f64 = doc
        .root_element()
        .attribute("width")
        .unwrap()
        .parse()
        .unwrap();
    let listed = list_items(&parse(&html)).len();
    let keyed: Vec<_> = doc
        .descendants()
        .filter(|n| has_class(n, "key-item"))
        .collect();
    assert_eq!(keyed.len(), listed);
    for (i, item) in keyed.iter().enumerate() {
        assert_eq!(item.attribute("id"), Some(format!("k{}", i + 1).as_str()));
        let line = item
            .children()
            .rfind(|n| n.has_tag_name("text"))
            .and_then(|n| n.text())
            .unwrap();
        assert!(line.chars().count() <= 88, "{line}");
    }
    let badges: std::collections::BTreeSet<usize> = doc
        .descendants()
        .filter(|g| has_class(g, "badge") && g.ancestors().any(|a| has_class(&a, "node")))
        .map(|g| {
            g.children()
                .find(|t| t.has_tag_name("text"))
                .and_then(|t| t.text())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        badges.iter().all(|n| (1..=listed).contains(n)),
        "{badges:?}"
    );
    let legend = doc.descendants().find(|n| has_class(n, "legend")).unwrap();
    for t in legend.descendants().filter(|n| n.has_tag_name("text")) {
        let x: f64 = t.attribute("x").unwrap().parse().unwrap();
        let chars = t.text().unwrap().chars().count() as f64;
        assert!(x + chars * 6.7 <= width, "{:?} past {width}", t.text());
    }
}

/// The page: a minimap per panel with every island outline and a mark per
/// island, the clicked node's details above the findings, the script from
/// its template, and the pair's sides linked.
#[test]
fn the_page_has_an_overview_and_details_above_the_findings() {
    let (html, pv, qv) = mobilenet_pair(GraphFormat::Html);
    let doc = parse(&html);
    let maps: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("svg") && has_class(n, "minimap"))
        .collect();
    assert_eq!(maps.len(), 2);
    for (map, view) in maps.iter().zip([&pv, &qv]) {
        let outlines = map
            .parent()
            .unwrap()
            .descendants()
            .filter(|n| has_class(n, "island-outline"))
            .count();
        let drawn = map
            .descendants()
            .filter(|n| has_class(n, "mm-island"))
            .count();
        assert_eq!(drawn, outlines);
        let marks: std::collections::BTreeSet<&str> = map
            .descendants()
            .filter(|n| has_class(n, "mm-mark") && has_class(n, "g-island"))
            .map(|n| n.attribute("data-f").unwrap())
            .collect();
        assert_eq!(marks.len(), view.islands.len());
    }
    let position = |id: &str| {
        doc.descendants()
            .position(|n| n.attribute("id") == Some(id))
            .unwrap()
    };
    assert!(position("details") < position("findings"));
    assert!(html.contains("function follow(svg)"), "linked sides");
    assert!(html.contains("id=\"link\""));
}

// ------------------------------------------------- coloured by a measurement

/// The committed `tflq measure --format json` of the unfolded-BatchNorm QAT
/// file against its float twin (bn1's segment, ops #1 to #4, is the worst at
/// 21.50 dB local; the quantized input #0 reads 54.17 dB).
const BN_MEASURE: &str = "testdata/measure/bn_unfolded_measure.json";
const BN_QAT: &str = "testdata/measure/bn_unfolded_qat.tflite";

/// Each op node's tooltip and fill, by the op index that starts its tooltip.
fn op_fills(doc: &roxmltree::Document) -> BTreeMap<u32, (String, Option<String>)> {
    let mut out = BTreeMap::new();
    for g in doc.descendants().filter(|n| has_class(n, "node")) {
        let title = g
            .children()
            .find(|c| c.has_tag_name("title"))
            .and_then(|t| t.text())
            .unwrap_or("")
            .to_owned();
        let rect = g.children().find(|c| c.has_tag_name("rect")).unwrap();
        let fill = rect
            .attribute("style")
            .map(|s| s.strip_prefix("fill:").unwrap().to_owned());
        if let Some(op) = title
            .strip_prefix('#')
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
        {
            out.insert(op, (title, fill));
        } else {
            assert_eq!(
                fill, None,
                "an input or output node keeps its colour: {title}"
            );
        }
    }
    out
}

/// What `tflq ARGS` writes, which must succeed.
fn drawn(args: &[&str]) -> String {
    let out = tflq().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
    [v(1), v(3), v(5)]
}

#[test]
fn graph_colours_ops_by_the_measured_sqnr() {
    let text = drawn(&["graph", BN_QAT, "--measure", BN_MEASURE, "--format", "svg"]);
    let doc = parse(&text);
    assert_no_external_urls(&text, &doc);
    let ops = op_fills(&doc);
    // Every op has a node of its own (no collapsed runs) and a fill.
    assert_eq!(
        ops.keys().copied().collect::<Vec<_>>(),
        (0..13).collect::<Vec<_>>()
    );
    let fill = |op: u32| ops[&op].1.clone().expect("a fill");
    // The unfolded BatchNorm's segment shares its value and its colour.
    for op in 1..=4 {
        assert!(ops[&op].0.contains("SQNR 21.50 dB local"), "{}", ops[&op].0);
        assert_eq!(fill(op), fill(4));
    }
    // 54.17 dB is past the scale's green end; 21.50 dB sits between red and yellow.
    assert!(ops[&0].0.contains("SQNR 54.17 dB local"));
    assert_eq!(fill(0), "#1a9850");
    // Red minus green falls along the scale (red, yellow, green): the
    // worst op is the reddest.
    let redness = |op: u32| {
        let [r, g, _] = rgb(&fill(op));
        i32::from(r) - i32::from(g)
    };
    assert!(redness(4) > 30, "{} is redder than yellow", fill(4));
    for op in (0..13).filter(|o| !(1..=4).contains(o)) {
        assert!(redness(op) < redness(4), "#{op} {}", fill(op));
    }
    let legend = doc
        .descendants()
        .find(|n| has_class(n, "legend-sqnr"))
        .expect("the SQNR legend");
    assert!(
        legend
            .descendants()
            .any(|n| n.text().is_some_and(|t| t.starts_with("qat SQNR per op")))
    );
}

#[test]
fn graph_html_gives_each_op_its_sqnr_in_the_details() {
    let html = drawn(&["graph", BN_QAT, "--measure", BN_MEASURE, "--format", "html"]);
    let doc = parse(&html);
    let data = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("tflq-data"))
        .and_then(|n| n.text())
        .unwrap();
    let data: serde_json::Value = serde_json::from_str(data).unwrap();
    let details: Vec<Vec<String>> = data["nodes"]
        .as_object()
        .unwrap()
        .values()
        .map(|d| {
            d.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    // bn1's MUL is measured with its segment, at #4.
    let mul = details.iter().find(|d| d[0].starts_with("#3 MUL")).unwrap();
    assert!(
        mul.contains(&"SQNR #3: 21.50 dB local, measured at #4".to_owned()),
        "{mul:?}"
    );
    let add = details.iter().find(|d| d[0].starts_with("#4 ADD")).unwrap();
    assert!(
        add.contains(&"SQNR #4: 21.50 dB local".to_owned()),
        "{add:?}"
    );
    assert!(html.contains("class=\"sqnr\""), "the legend's gradient");
}

#[test]
fn graph_colours_both_sides_of_a_pair_by_their_own_measurement() {
    let text = drawn(&[
        "graph",
        "testdata/ptq_int8.tflite",
        "testdata/qat_partial.tflite",
        "--measure",
        "testdata/measure/qat_partial_measure.json",
        "--format",
        "svg",
    ]);
    let doc = parse(&text);
    let filled: Vec<&str> = doc
        .descendants()
        .filter(|n| has_class(n, "node"))
        .filter(|g| {
            g.children()
                .any(|c| c.has_tag_name("rect") && c.attribute("style").is_some())
        })
        .map(|g| g.attribute("id").unwrap())
        .collect();
    // PTQ's 9 ops and QAT's 13, every one measured.
    assert_eq!(filled.iter().filter(|i| i.starts_with("p-")).count(), 9);
    assert_eq!(filled.iter().filter(|i| i.starts_with("q-")).count(), 13);
    assert!(text.contains("ptq and qat SQNR per op"));
}

#[test]
fn graph_refuses_a_measurement_it_cannot_colour_with() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["graph", "testdata/ptq_int8.tflite", "--measure", BN_MEASURE],
            "measured on another model",
        ),
        (
            &["graph", BN_QAT, "--measure", BN_MEASURE, "--format", "dot"],
            "--measure colours SVG and HTML drawings, not dot",
        ),
        (
            &[
                "graph",
                BN_QAT,
                "--measure",
                "testdata/measure/qd_ptq_int8.json",
            ],
            "not a document of `tflq measure --format json`",
        ),
        (
            &[
                "graph",
                "testdata/qat_partial.tflite",
                "--measure",
                "testdata/measure/qat_partial_measure.json",
                "--measure-side",
                "ptq",
            ],
            "measured on another model",
        ),
        (
            &[
                "graph",
                BN_QAT,
                "--measure",
                BN_MEASURE,
                "--measure-side",
                "ptq",
            ],
            "it has no ptq side (it has qat)",
        ),
    ];
    for (args, says) in cases {
        let out = tflq().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // Two measured sides and a file of neither's name: say which.
    let out = tflq()
        .args([
            "graph",
            "testdata/advice_bn_unfolded_qat.tflite",
            "--measure",
            "testdata/measure/qat_partial_measure.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("with --measure-side"));
}
