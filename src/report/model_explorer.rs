//! Node data for Google's Model Explorer (`--format model-explorer`): tflq's
//! view of each op as a value and a background colour, for the web app to
//! paint over the same .tflite file.
//!
//! What the format is, as read in google-ai-edge/model-explorer: the
//! sources below, and what pip's `ai-edge-model-explorer` 0.1.34 installs
//! (its `node_data_builder.py`, its TFLite adapter and its built web app):
//! - `src/server/package/src/model_explorer/node_data_builder.py` defines it:
//!   a model's node data maps graph ids to graph node data; a graph's node
//!   data holds `results` (node key → `{value, bgColor?, textColor?}`) and
//!   optionally `name`, `thresholds`, `gradient` and a few display switches.
//! - `src/ui/src/components/visualizer/node_data_provider_extension_service.ts`
//!   reads a loaded file: a document whose `results` is not itself a graph's
//!   data is one graph's data; anything else is keyed by graph id. A result
//!   key is looked up among the `tensor_name`s of every node's outputs first
//!   and used as a node id otherwise. A result with its own `bgColor` keeps
//!   it, so thresholds only matter for numbers without one; string values
//!   are shown as they are.
//! - `src/builtin-adapter/direct_flatbuffer_to_json_graph_convert.cc`, the
//!   adapter that opens .tflite files by default, gives op `i` of a subgraph
//!   the node id `"i"`, records each output tensor's name under
//!   `tensor_name`, and names a graph after its subgraph, else after the
//!   first signature of that subgraph (when its key is not empty), else
//!   `main` (subgraph 0) or `subgraph_N`. Two subgraphs can get one id.
//! - The web app (`addGraphCollections` in `app_service.ts`) then gives the
//!   n-th graph of a repeated id, n >= 2 in subgraph order, the id
//!   `"<id> (n)"`, and looks a graph's node data up by that id alone.
//!
//! So each op is keyed by its first output tensor's name, which needs no
//! knowledge of node ids; when that name is empty or carried by another
//! tensor of the subgraph as well (the web app could find a different
//! node), by its index, the flatbuffer adapter's node id. An op with neither
//! (its index is also some tensor's name, which the web app would look up
//! first) gets no entry.
//!
//! So a graph is written under the id the web app shows ([`graph_ids`]):
//! the first subgraph of a repeated id under the id itself, the others as
//! `"<id> (2)"`, `"<id> (3)"`, ... Where even that id repeats (a subgraph
//! is named `"<id> (2)"` itself), the web app cannot tell the graphs apart
//! and would paint them alike: none of them is written.
//!
//! Values are category names (`int8`, `float-compute`, ...) with a fixed
//! colour each ([`COMPUTE_LEGEND`], [`SEVERITY_LEGEND`]): a string value
//! shows on the node as it is and labels the group summaries, where a number
//! would need a legend to be read. Each graph's data hides the side panel's
//! aggregated stats table (`hideInAggregatedStatsTable`): its min, max, sum
//! and average are for numbers and show `-` and `0` for strings.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::analysis::{Inspection, OpClass};
use crate::compare::{Comparison, Severity};
use crate::model::{Model, OpId, Subgraph, SubgraphId};

/// Which model of a comparison the overlay colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Side {
    /// The QAT model: the model the findings are about.
    #[default]
    Qat,
    /// The PTQ model: each finding's PTQ counterpart ops.
    Ptq,
}

/// The categories of `tflq inspect --format model-explorer`, with their
/// background colours: how an op computes, and what a QUANTIZE or
/// DEQUANTIZE does.
pub const COMPUTE_LEGEND: [(&str, &str); 10] = {
    let mut out = [("", ""); 10];
    let mut i = 0;
    while i < OpClass::ALL.len() {
        let c = OpClass::ALL[i];
        out[i] = (c.name(), super::op_color(c));
        i += 1;
    }
    out
};

/// The categories of `tflq compare --format model-explorer`, with their
/// background colours: the severity names of [`Severity`], most severe
/// first, then ops no finding touches and ops of a subgraph the comparison
/// could not pair.
pub const SEVERITY_LEGEND: [(&str, &str); 9] = [
    ("float-compute", "#e53935"),
    ("precision", "#fb8c00"),
    ("extra-quantizer", "#fdd835"),
    ("clipping", "#8e24aa"),
    ("wide-range", "#3949ab"),
    ("near-free", "#90caf9"),
    ("info", "#b0bec5"),
    ("no-finding", "#e8f5e9"),
    ("not-compared", "#f5f5f5"),
];

/// What `compare` says about an op, in the order of [`SEVERITY_LEGEND`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FindingValue {
    /// The most severe finding that lists the op.
    Worst(Severity),
    NoFinding,
    NotCompared,
}

impl FindingValue {
    /// Its name and colour.
    fn entry(self) -> (&'static str, &'static str) {
        let i = match self {
            // Severity is declared most severe first, as Severity::ALL lists it.
            FindingValue::Worst(s) => s as usize,
            FindingValue::NoFinding => Severity::ALL.len(),
            FindingValue::NotCompared => Severity::ALL.len() + 1,
        };
        SEVERITY_LEGEND[i]
    }
}

/// Node data for one model: one entry per graph, in subgraph order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeData {
    /// The graphs.
    pub graphs: Vec<GraphData>,
}

/// Node data for one graph (a subgraph of the model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphData {
    /// The graph id Model Explorer's web app gives the subgraph
    /// ([`graph_ids`]).
    pub id: String,
    /// The subgraph.
    pub subgraph: SubgraphId,
    /// The run's name in the web app.
    pub name: String,
    /// One entry per op that can be keyed, in op order.
    pub results: Vec<NodeResult>,
}

/// One op's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeResult {
    /// The op.
    pub op: OpId,
    /// Its key: the first output tensor's name, or the op index.
    pub key: String,
    /// The category.
    pub value: &'static str,
    /// Its colour, `#rrggbb`.
    pub bg_color: &'static str,
}

/// The overlay of `tflq inspect`: how each op computes. `only` restricts it
/// to one subgraph.
pub fn inspect(model: &Model, insp: &Inspection, only: Option<SubgraphId>) -> NodeData {
    let mut graphs = Graphs::new(model);
    for (s, sq) in insp.subgraphs.iter().enumerate() {
        if only.is_some_and(|o| o.index() != s) {
            continue;
        }
        let Some(sg) = model.subgraphs.get(s) else {
            continue;
        };
        let classes = sq.op_classes();
        let values = (0..sg.operators.len()).map(|i| {
            let c = classes.get(i).copied().unwrap_or(OpClass::Other);
            (c.name(), super::op_color(c))
        });
        graphs.push(model, SubgraphId(s as u32), "tflq compute", values);
    }
    graphs.done()
}

/// The overlay of `tflq compare`: for each op of the `side` model, the
/// severity of the most severe finding that lists it among its ops, its own
/// or a place's (`no-finding` when none does; `not-compared` in a subgraph
/// the comparison did not pair). An op a finding's message only mentions,
/// such as the DEQUANTIZE and QUANTIZE around a float island, is not listed.
pub fn compare(ptq: &Model, qat: &Model, c: &Comparison, side: Side) -> NodeData {
    let model = match side {
        Side::Qat => qat,
        Side::Ptq => ptq,
    };
    let mut worst: Vec<Vec<Option<Severity>>> = model
        .subgraphs
        .iter()
        .map(|sg| vec![None; sg.operators.len()])
        .collect();
    let mut paired = vec![false; model.subgraphs.len()];
    for a in &c.alignment {
        let s = match side {
            Side::Qat => a.qat,
            Side::Ptq => a.ptq,
        };
        if let Some(p) = paired.get_mut(s.index()) {
            *p = true;
        }
    }
    for f in &c.findings {
        // Findings name the QAT subgraph; PTQ ops live in its partner.
        let s = match side {
            Side::Qat => Some(f.subgraph),
            Side::Ptq => c
                .alignment
                .iter()
                .find(|a| a.qat == f.subgraph)
                .map(|a| a.ptq),
        };
        let Some(ops) = s.and_then(|s| worst.get_mut(s.index())) else {
            continue;
        };
        let places = f.places.iter().map(|p| match side {
            Side::Qat => &p.qat_ops,
            Side::Ptq => &p.ptq_ops,
        });
        let own = match side {
            Side::Qat => &f.qat_ops,
            Side::Ptq => &f.ptq_ops,
        };
        for op in std::iter::once(own).chain(places).flatten() {
            if let Some(w) = ops.get_mut(op.index()) {
                *w = Some(w.map_or(f.severity, |w| w.min(f.severity)));
            }
        }
    }
    let name = match side {
        Side::Qat => "tflq finding severity (QAT)",
        Side::Ptq => "tflq finding severity (PTQ)",
    };
    let mut graphs = Graphs::new(model);
    for (s, ops) in worst.iter().enumerate() {
        let values = ops.iter().map(|w| {
            match (w, paired[s]) {
                (Some(sev), _) => FindingValue::Worst(*sev),
                (None, true) => FindingValue::NoFinding,
                (None, false) => FindingValue::NotCompared,
            }
            .entry()
        });
        graphs.push(model, SubgraphId(s as u32), name, values);
    }
    graphs.done()
}

/// Graphs collected in subgraph order, under the ids the web app gives
/// them.
struct Graphs {
    graphs: Vec<GraphData>,
    ids: Vec<Option<String>>,
}

impl Graphs {
    fn new(model: &Model) -> Self {
        Graphs {
            graphs: Vec::new(),
            ids: graph_ids(model),
        }
    }

    /// Add subgraph `s` with each op's value name and colour, in op order.
    fn push(
        &mut self,
        model: &Model,
        s: SubgraphId,
        name: &str,
        values: impl Iterator<Item = (&'static str, &'static str)>,
    ) {
        let Some(Some(id)) = self.ids.get(s.index()).cloned() else {
            return;
        };
        let sg = model.subgraph(s);
        let keys = keys(sg);
        let results = values
            .zip(keys)
            .enumerate()
            .filter_map(|(i, ((value, bg_color), key))| {
                Some(NodeResult {
                    op: OpId(i as u32),
                    key: key?,
                    value,
                    bg_color,
                })
            })
            .collect();
        self.graphs.push(GraphData {
            id,
            subgraph: s,
            name: name.to_owned(),
            results,
        });
    }

    fn done(self) -> NodeData {
        NodeData {
            graphs: self.graphs,
        }
    }
}

/// The id Model Explorer's web app gives each subgraph, in subgraph order,
/// and so the id its node data must be written under: [`graph_id`], with
/// `" (n)"` added to the n-th subgraph of a repeated one (n >= 2), as the
/// web app's `addGraphCollections` does. `None` for every subgraph whose id
/// still repeats after that, which the web app cannot tell apart.
pub fn graph_ids(model: &Model) -> Vec<Option<String>> {
    // The web app counts each adapter id, not each id it gives: a subgraph
    // named "a (2)" keeps that id even after the second "a" took it.
    let mut count: HashMap<String, usize> = HashMap::new();
    let ids: Vec<String> = (0..model.subgraphs.len())
        .map(|s| {
            let id = graph_id(model, SubgraphId(s as u32));
            let n = count.entry(id.clone()).or_default();
            *n += 1;
            if *n == 1 { id } else { format!("{id} ({n})") }
        })
        .collect();
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for id in &ids {
        *uses.entry(id).or_default() += 1;
    }
    ids.iter()
        .map(|id| (uses[id.as_str()] == 1).then(|| id.clone()))
        .collect()
}

/// The id Model Explorer's flatbuffer adapter gives subgraph `s`; several
/// subgraphs can share one ([`graph_ids`] tells them apart).
pub fn graph_id(model: &Model, s: SubgraphId) -> String {
    let sg = model.subgraph(s);
    if !sg.name.is_empty() {
        return sg.name.clone();
    }
    // The adapter looks at the first signature of the subgraph only.
    if let Some(sig) = model.signatures.iter().find(|sig| sig.subgraph == s)
        && !sig.key.is_empty()
    {
        return sig.key.clone();
    }
    if s.index() == 0 {
        "main".to_owned()
    } else {
        format!("subgraph_{}", s.index())
    }
}

/// Each op's result key (see the module documentation), in op order.
pub(crate) fn keys(sg: &Subgraph<'_>) -> Vec<Option<String>> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(sg.tensors.len());
    let mut shared: HashSet<&str> = HashSet::new();
    for t in &sg.tensors {
        if !seen.insert(t.name) {
            shared.insert(t.name);
        }
    }
    sg.op_ids()
        .map(|op| {
            let name = sg
                .op(op)
                .outputs
                .first()
                .and_then(|t| sg.tensors.get(t.index()))
                .map(|t| t.name)
                .filter(|n| !n.is_empty() && !shared.contains(n));
            match name {
                Some(n) => Some(n.to_owned()),
                None => {
                    let id = op.index().to_string();
                    (!seen.contains(id.as_str())).then_some(id)
                }
            }
        })
        .collect()
}

impl NodeData {
    /// Write the document: an object from graph id to that graph's node
    /// data, as `ModelNodeData.to_json_string` writes it.
    pub fn write(&self, w: &mut dyn Write) -> io::Result<()> {
        super::json::emit(w, self)
    }
}

impl Serialize for NodeData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.graphs.len()))?;
        for g in &self.graphs {
            m.serialize_entry(&g.id, g)?;
        }
        m.end()
    }
}

/// The fields of one graph, named as node_data_builder.py names them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GraphDoc<'a> {
    name: &'a str,
    results: Results<'a>,
    // Group nodes list each category with its count, and the side panel
    // counts them per child: both only for string values.
    show_expanded_summary_on_group_node: bool,
    show_label_count_columns_in_children_stats_table: bool,
    // Min, max, sum and average of category names are "-" and "0".
    hide_in_aggregated_stats_table: bool,
}

struct Results<'a>(&'a [NodeResult]);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultDoc<'a> {
    value: &'a str,
    bg_color: &'a str,
}

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for r in self.0 {
            m.serialize_entry(
                &r.key,
                &ResultDoc {
                    value: r.value,
                    bg_color: r.bg_color,
                },
            )?;
        }
        m.end()
    }
}

impl Serialize for GraphData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        GraphDoc {
            name: &self.name,
            results: Results(&self.results),
            show_expanded_summary_on_group_node: true,
            show_label_count_columns_in_children_stats_table: true,
            hide_in_aggregated_stats_table: true,
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_pick_their_own_legend_entries() {
        for (c, (name, colour)) in OpClass::ALL.iter().zip(COMPUTE_LEGEND) {
            assert_eq!((c.name(), super::super::op_color(*c)), (name, colour));
        }
        for s in Severity::ALL {
            assert_eq!(FindingValue::Worst(s).entry().0, s.name());
        }
        assert_eq!(FindingValue::NoFinding.entry().0, "no-finding");
        assert_eq!(FindingValue::NotCompared.entry().0, "not-compared");
    }

    #[test]
    fn legends_cover_every_category_once_with_hex_colours() {
        let sev: Vec<&str> = Severity::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            SEVERITY_LEGEND[..sev.len()]
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>(),
            sev
        );
        for legend in [&COMPUTE_LEGEND[..], &SEVERITY_LEGEND[..]] {
            let names: HashSet<&str> = legend.iter().map(|(n, _)| *n).collect();
            let colours: HashSet<&str> = legend.iter().map(|(_, c)| *c).collect();
            assert_eq!(names.len(), legend.len());
            assert_eq!(colours.len(), legend.len());
            for (_, c) in legend {
                assert!(
                    c.len() == 7
                        && c.starts_with('#')
                        && c[1..].bytes().all(|b| b.is_ascii_hexdigit()),
                    "{c}"
                );
            }
        }
    }
}
