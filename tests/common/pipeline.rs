//! Everything a user can make tflq do with one or two models, as plain
//! functions over `tflq`'s public API: the hostile-input tests, the corpus
//! replay test and the `pipeline` fuzz target all run this one file (the fuzz
//! crate includes it with `#[path]`), so what the fuzzer checks and what
//! `cargo test` replays cannot drift apart. It must therefore use nothing
//! but `std` and `tflq`.
//!
//! Nothing here checks output: each step must simply return, without a
//! panic (in debug builds, without an overflow), a hang or a runaway
//! allocation. Rendering fails only when the writer does, and [`Discard`]
//! never does, so render results are unwrapped.

use std::io::Write;

use tflq::Model;
use tflq::model::SubgraphId;
use tflq::report::inspect::{Section, View};
use tflq::report::model_explorer::{self, Side};
use tflq::report::{Format, Style};
use tflq::{SnapshotOptions, snapshot};

/// A writer that keeps nothing but makes the renderers do all their work.
/// `std::io::sink()` is no use for that: its `write_fmt` returns without
/// formatting its arguments, so a table written with `writeln!(w, "{t}")`
/// would never be laid out.
#[derive(Debug, Default)]
pub struct Discard {
    /// Bytes written.
    pub len: usize,
}

impl Write for Discard {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.len += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Styles to render with: the CLI's default, and colour in a narrow table.
const STYLES: [Style; 2] = [
    Style {
        color: false,
        width: 100,
    },
    Style {
        color: true,
        width: 40,
    },
];

/// Arbitrary bytes, as the fuzzer gives them: the whole input as one model
/// (with itself), then the input split in two models compared both ways.
/// The split is at the second `TFL3` identifier (a model followed by
/// another, which is how the pair seeds are made), else in the middle.
pub fn bytes(data: &[u8]) {
    if let Ok(model) = tflq::load(data) {
        one(&model);
    }
    let (a, b) = split(data);
    if let (Ok(a), Ok(b)) = (tflq::load(a), tflq::load(b)) {
        pair(&a, &b);
    }
}

/// Where a second model starts in `data`: 4 bytes before a `TFL3` found
/// past the first header, else the middle.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    let second = data
        .get(8..)
        .and_then(|rest| rest.windows(4).position(|w| w == b"TFL3"))
        .map(|p| p + 8 - 4);
    data.split_at(second.unwrap_or(data.len() / 2))
}

/// Everything with one model: its graphs' order; the inspect report in every
/// format, section and subgraph choice, in both styles; the snapshot with
/// and without scales (and its check against itself); the comparison with
/// itself in every format.
pub fn one(model: &Model) {
    for sg in &model.subgraphs {
        let g = tflq::graph::Graph::new(sg);
        let _ = (g.topo_order(), g.file_order_is_topological());
    }
    let _ = (
        tflq::graph::reachable_subgraphs(model),
        tflq::graph::calls(model),
    );
    let insp = tflq::analysis::inspect(model);
    let last = model
        .subgraphs
        .len()
        .checked_sub(1)
        .map(|s| SubgraphId(s as u32));
    let mut views = Vec::new();
    for section in [
        Section::All,
        Section::Ops,
        Section::Tensors,
        Section::Findings,
    ] {
        views.push(View {
            subgraph: None,
            section,
        });
    }
    views.push(View {
        subgraph: last,
        section: Section::All,
    });
    // Every view in every format, the styles taking turns (a table is the
    // costly part: each once keeps the fuzzer fast). Markdown renders
    // inspect as a table.
    for format in [Format::Table, Format::Text, Format::Json] {
        for (k, view) in views.iter().enumerate() {
            tflq::report::inspect::render(
                model,
                &insp,
                "fuzz.tflite",
                format,
                *view,
                STYLES[k % 2],
                &mut Discard::default(),
            )
            .unwrap();
        }
    }
    // Model Explorer node data colours ops: the tensors and findings views
    // are refused, never a panic.
    for view in &views {
        let r = tflq::report::inspect::render(
            model,
            &insp,
            "fuzz.tflite",
            Format::ModelExplorer,
            *view,
            STYLES[0],
            &mut Discard::default(),
        );
        match view.section {
            Section::All | Section::Ops => r.unwrap(),
            Section::Tensors | Section::Findings => {
                assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::Unsupported)
            }
        }
    }
    let plain = snapshot(model, SnapshotOptions::default());
    for digits in [1, 9] {
        snapshot(
            model,
            SnapshotOptions {
                scale_digits: Some(digits),
                exact_names: digits == 9,
            },
        );
    }
    assert!(tflq::report::snapshot::diff(&plain, &plain, "a", "b").is_none());
    plan(&insp, model);
    compare(model, model);
    for s in [Some(SubgraphId(0)), last] {
        graph(model, &insp, s, &tflq::report::graph::FORMATS);
    }
    let c = tflq::compare::compare(model, model, tflq::compare::Options::default());
    graph_pair(model, model, &c, &tflq::report::graph::FORMATS);
}

/// `tflq graph` of subgraph `s` in `formats`: collapsed, then every op,
/// then around its first op.
pub fn graph(
    model: &Model,
    insp: &tflq::analysis::Inspection,
    s: Option<SubgraphId>,
    formats: &[tflq::report::graph::GraphFormat],
) {
    use tflq::analysis::graph_view::{ViewOptions, build, finding_ops};
    let Some(quant) = s.and_then(|s| insp.subgraphs.get(s.index())) else {
        return;
    };
    let mut options = ViewOptions::new(quant.subgraph);
    options.keep = finding_ops(quant);
    let mut views = vec![build(model, quant, &options)];
    options.min_run = 0;
    views.push(build(model, quant, &options));
    options.around = vec![tflq::model::OpId(0)];
    options.depth = 2;
    views.push(build(model, quant, &options));
    for (k, view) in views.iter().enumerate() {
        let panel = tflq::report::graph::Panel {
            model,
            quant,
            view,
            label: "fuzz.tflite",
            sqnr: None,
        };
        let format = formats[k % formats.len()];
        tflq::report::graph::render(&panel, format, &mut Discard::default()).unwrap();
    }
}

/// `tflq plan` in every format; tfmot code is refused (an Unsupported
/// error, never a panic) for models from producers other than Keras.
pub fn plan(insp: &tflq::analysis::Inspection, model: &Model) {
    let plan = tflq::advice::plan(model, insp);
    for format in tflq::report::plan::FORMATS {
        if let Err(e) = tflq::report::plan::render(
            &plan,
            "ptq.tflite",
            format,
            STYLES[0],
            &mut Discard::default(),
        ) {
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
        }
    }
}

/// Each renderer once, for tests that run thousands of models in a debug
/// build: the inspect report in every format (default view and style), the
/// snapshot with and without scales, the comparison with itself in every
/// format.
pub fn renderers(model: &Model) {
    let insp = tflq::analysis::inspect(model);
    for format in tflq::report::inspect::FORMATS {
        tflq::report::inspect::render(
            model,
            &insp,
            "m.tflite",
            format,
            View::default(),
            Style::default(),
            &mut Discard::default(),
        )
        .unwrap();
    }
    for digits in [None, Some(4)] {
        snapshot(
            model,
            SnapshotOptions {
                scale_digits: digits,
                ..SnapshotOptions::default()
            },
        );
    }
    plan(&insp, model);
    compare_with(model, model, &STYLES[..1]);
    // Laying out is the costly part of `tflq graph`: these thousands of
    // models get the text formats, the sample that runs [`one`] all.
    graph(
        model,
        &insp,
        Some(SubgraphId(0)),
        &[
            tflq::report::graph::GraphFormat::Dot,
            tflq::report::graph::GraphFormat::Mermaid,
        ],
    );
}

/// Two models compared both ways in every format, and the snapshot diff
/// between them (what `snapshot --check` prints).
pub fn pair(a: &Model, b: &Model) {
    compare(a, b);
    compare(b, a);
    let (sa, sb) = (
        snapshot(a, SnapshotOptions::default()),
        snapshot(b, SnapshotOptions::default()),
    );
    let _ = tflq::report::snapshot::diff(&sa, &sb, "a.tflq-snapshot", "b.tflite");
}

/// `tflq compare PTQ QAT` in every format, the styles taking turns.
pub fn compare(ptq: &Model, qat: &Model) {
    compare_with(ptq, qat, &STYLES);
}

/// `tflq compare PTQ QAT` in every format, in `styles` by turns.
fn compare_with(ptq: &Model, qat: &Model, styles: &[Style]) {
    let (ip, iq) = (tflq::inspect(ptq), tflq::inspect(qat));
    let c =
        tflq::compare::compare_inspected((ptq, &ip), (qat, &iq), tflq::compare::Options::default());
    let pair = tflq::report::compare::Pair {
        ptq_label: "ptq.tflite",
        qat_label: "qat.tflite",
    };
    let views = tflq::pair_view::finding_views((ptq, &ip), (qat, &iq), &c);
    let diagrams = tflq::report::graph::where_diagrams((ptq, &ip), (qat, &iq), &c, &views).unwrap();
    for (k, format) in [Format::Table, Format::Text, Format::Json, Format::Markdown]
        .into_iter()
        .enumerate()
    {
        let style = styles[k % styles.len()];
        tflq::report::compare::render_with_diagrams(
            &pair,
            &c,
            Some(&diagrams),
            format,
            style,
            &mut Discard::default(),
        )
        .unwrap();
    }
    // Both side by side, as `tflq graph PTQ QAT` draws them (as text: see
    // `renderers` for why).
    graph_pair(ptq, qat, &c, &[tflq::report::graph::GraphFormat::Mermaid]);
}

/// `tflq graph PTQ QAT` of the first aligned subgraphs in `formats`.
fn graph_pair(
    ptq: &Model,
    qat: &Model,
    c: &tflq::compare::Comparison,
    formats: &[tflq::report::graph::GraphFormat],
) {
    use tflq::analysis::graph_view::{ViewOptions, build};
    use tflq::report::graph::{Panel, render_pair};
    let Some(a) = c.alignment.first() else {
        return;
    };
    let (ip, iq) = (tflq::analysis::inspect(ptq), tflq::analysis::inspect(qat));
    let (Some(pq), Some(qq)) = (
        ip.subgraphs.get(a.ptq.index()),
        iq.subgraphs.get(a.qat.index()),
    ) else {
        return;
    };
    let pv = build(ptq, pq, &ViewOptions::new(a.ptq));
    let qv = build(qat, qq, &ViewOptions::new(a.qat));
    for &format in formats {
        render_pair(
            &Panel {
                model: ptq,
                quant: pq,
                view: &pv,
                label: "ptq.tflite",
                sqnr: None,
            },
            &Panel {
                model: qat,
                quant: qq,
                view: &qv,
                label: "qat.tflite",
                sqnr: None,
            },
            c,
            format,
            &mut Discard::default(),
        )
        .unwrap();
    }
    for side in [Side::Qat, Side::Ptq] {
        model_explorer::compare(ptq, qat, c, side)
            .write(&mut Discard::default())
            .unwrap();
    }
}
