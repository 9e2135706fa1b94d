//! The op graph of one subgraph as `tflq graph` draws it, as plain data:
//! which ops are shown, which long runs of integer ops stand as one node, the
//! class (colour) of each node, the tensors between nodes, and the float
//! islands to outline. No coordinates and no text here: `report::graph`
//! lays the view out and writes it as SVG, HTML, DOT or Mermaid.
//!
//! Building a view costs O(ops + tensors + edges).

use std::collections::{BTreeSet, VecDeque};

use crate::analysis::{Compute, FindingKind, SubgraphQuant};
use crate::graph::Graph;
use crate::model::{BuiltinCode, Model, OpId, SubgraphId, TensorId};

/// How a node computes: the colour it is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeClass {
    /// Integer compute on 8-bit activations.
    Int8,
    /// Integer compute on 16-bit activations.
    Int16,
    /// Float compute.
    Float,
    /// Float activations with integer weights.
    Hybrid,
    /// QUANTIZE float → integer.
    Quantize,
    /// DEQUANTIZE integer → float (of activations or of constants).
    Dequantize,
    /// QUANTIZE integer → integer: new scale or type.
    Requantize,
    /// Shapes, indices, control flow: no numeric activations.
    Other,
    /// A runtime input of the subgraph.
    Input,
    /// A result of the subgraph.
    Output,
}

impl NodeClass {
    /// Every class, in legend order.
    pub const ALL: [NodeClass; 10] = [
        NodeClass::Int8,
        NodeClass::Int16,
        NodeClass::Float,
        NodeClass::Hybrid,
        NodeClass::Quantize,
        NodeClass::Dequantize,
        NodeClass::Requantize,
        NodeClass::Other,
        NodeClass::Input,
        NodeClass::Output,
    ];

    /// The kebab-case name, also the CSS / DOT / Mermaid class.
    pub fn name(self) -> &'static str {
        match self {
            NodeClass::Int8 => "int8",
            NodeClass::Int16 => "int16",
            NodeClass::Float => "float",
            NodeClass::Hybrid => "hybrid",
            NodeClass::Quantize => "quantize",
            NodeClass::Dequantize => "dequantize",
            NodeClass::Requantize => "requantize",
            NodeClass::Other => "other",
            NodeClass::Input => "input",
            NodeClass::Output => "output",
        }
    }

    /// Integer compute: what collapses into runs.
    pub fn is_integer(self) -> bool {
        matches!(self, NodeClass::Int8 | NodeClass::Int16)
    }
}

/// What a node stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// One operator.
    Op(OpId),
    /// A run of integer ops, each the only reader of the one before, drawn
    /// as one node (in execution order).
    Run(Vec<OpId>),
    /// A runtime input tensor.
    Input(TensorId),
    /// A result tensor.
    Output(TensorId),
}

/// One node of the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewNode {
    /// What it stands for.
    pub kind: NodeKind,
    /// How it computes.
    pub class: NodeClass,
    /// The layer of its (first) op, when the names give one.
    pub layer: Option<String>,
    /// The float island it belongs to (index into [`GraphView::islands`]).
    pub island: Option<usize>,
    /// It has neighbours that the view leaves out (`--around`).
    pub cut: bool,
}

impl ViewNode {
    /// The ops it stands for (none for an input or output).
    pub fn ops(&self) -> &[OpId] {
        match &self.kind {
            NodeKind::Op(o) => std::slice::from_ref(o),
            NodeKind::Run(ops) => ops,
            NodeKind::Input(_) | NodeKind::Output(_) => &[],
        }
    }
}

/// A tensor from one node to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ViewEdge {
    /// Index of the producing node.
    pub from: usize,
    /// Index of the consuming node.
    pub to: usize,
    /// The tensor.
    pub tensor: TensorId,
}

/// A float island of the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewIsland {
    /// Its nodes, ascending.
    pub nodes: Vec<usize>,
    /// The island's finding: index into the subgraph's findings.
    pub finding: usize,
}

/// What a view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewOptions {
    /// The subgraph.
    pub subgraph: SubgraphId,
    /// Collapse runs of at least this many integer ops into one node
    /// (0 or 1: never collapse).
    pub min_run: usize,
    /// When not empty: only the ops within `depth` edges (either
    /// direction) of these ops.
    pub around: Vec<OpId>,
    /// How far from `around` the view reaches.
    pub depth: usize,
    /// Ops that always keep a node of their own (the ops of findings).
    pub keep: BTreeSet<OpId>,
}

impl ViewOptions {
    /// The default: runs of 3 or more integer ops collapse.
    pub const MIN_RUN: usize = 3;

    /// All of `subgraph`, with runs collapsed.
    pub fn new(subgraph: SubgraphId) -> ViewOptions {
        ViewOptions {
            subgraph,
            min_run: Self::MIN_RUN,
            around: Vec::new(),
            depth: 0,
            keep: BTreeSet::new(),
        }
    }
}

/// The view of one subgraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphView {
    /// The subgraph.
    pub subgraph: SubgraphId,
    /// Nodes: ops and runs in execution order of their first op, then
    /// inputs, then outputs.
    pub nodes: Vec<ViewNode>,
    /// Edges, sorted and without repeats.
    pub edges: Vec<ViewEdge>,
    /// Float islands with at least one node in view, in finding order.
    pub islands: Vec<ViewIsland>,
    /// The node showing each op of the subgraph, if shown.
    pub op_node: Vec<Option<usize>>,
    /// Ops in the subgraph.
    pub total_ops: usize,
    /// Ops shown (in a node of their own or in a run).
    pub shown_ops: usize,
    /// Runs collapsed.
    pub runs: usize,
}

impl GraphView {
    /// The node showing `op`, if any.
    pub fn node_of(&self, op: OpId) -> Option<usize> {
        self.op_node.get(op.index()).copied().flatten()
    }
}

/// The class of `op` given the analysis of its subgraph.
pub fn op_class(model: &Model, quant: &SubgraphQuant, op: OpId) -> NodeClass {
    let Some(info) = quant.ops.get(op.index()) else {
        return NodeClass::Other;
    };
    match info.compute {
        Compute::Int8 => NodeClass::Int8,
        Compute::Int16 => NodeClass::Int16,
        Compute::Float => NodeClass::Float,
        Compute::Hybrid => NodeClass::Hybrid,
        Compute::Other => NodeClass::Other,
        Compute::Convert => {
            let sg = model.subgraph(quant.subgraph);
            if sg.op(op).kind.is(BuiltinCode::DEQUANTIZE) {
                return NodeClass::Dequantize;
            }
            // A QUANTIZE whose input is already integer changes scale or type.
            let from_int = sg
                .op(op)
                .inputs
                .first()
                .copied()
                .flatten()
                .is_some_and(|t| !sg.tensor(t).dtype.is_float());
            if from_int {
                NodeClass::Requantize
            } else {
                NodeClass::Quantize
            }
        }
    }
}

/// Which ops the view shows: all, or those within `depth` of `around`
/// (breadth-first, each op once).
fn shown(graph: &Graph<'_>, n: usize, around: &[OpId], depth: usize) -> Vec<bool> {
    if around.is_empty() {
        return vec![true; n];
    }
    let mut seen = vec![false; n];
    let mut queue = VecDeque::new();
    for &center in around {
        if let Some(s) = seen.get_mut(center.index())
            && !*s
        {
            *s = true;
            queue.push_back((center, 0usize));
        }
    }
    while let Some((op, d)) = queue.pop_front() {
        if d >= depth {
            continue;
        }
        for next in graph.predecessors(op).chain(graph.successors(op)) {
            if let Some(s) = seen.get_mut(next.index())
                && !*s
            {
                *s = true;
                queue.push_back((next, d.saturating_add(1)));
            }
        }
    }
    seen
}

/// The one distinct op among `ops`, if there is exactly one.
fn only(mut ops: impl Iterator<Item = OpId>) -> Option<OpId> {
    let first = ops.next()?;
    ops.all(|o| o == first).then_some(first)
}

/// Build the view of `quant`'s subgraph of `model`.
pub fn build(model: &Model, quant: &SubgraphQuant, options: &ViewOptions) -> GraphView {
    let sg = model.subgraph(quant.subgraph);
    let graph = Graph::new(sg);
    let n = sg.operators.len();
    let show = shown(&graph, n, &options.around, options.depth);
    let class: Vec<NodeClass> = sg.op_ids().map(|o| op_class(model, quant, o)).collect();

    // `next[a] = b` when a and b can share a run: same integer class, b is
    // a's only reader and a is b's only source, neither kept on its own.
    let mut next: Vec<Option<OpId>> = vec![None; n];
    let mut has_prev = vec![false; n];
    if options.min_run > 1 {
        for a in sg.op_ids() {
            let ca = class[a.index()];
            if !show[a.index()] || !ca.is_integer() || options.keep.contains(&a) {
                continue;
            }
            if sg.op(a).outputs.iter().any(|t| graph.is_graph_output(*t)) {
                continue;
            }
            let Some(b) = only(graph.successors(a)) else {
                continue;
            };
            if b == a
                || !show[b.index()]
                || class[b.index()] != ca
                || options.keep.contains(&b)
                || only(graph.predecessors(b)) != Some(a)
            {
                continue;
            }
            next[a.index()] = Some(b);
            has_prev[b.index()] = true;
        }
    }

    let mut nodes: Vec<ViewNode> = Vec::new();
    let mut op_node: Vec<Option<usize>> = vec![None; n];
    let mut runs = 0usize;
    let mut shown_ops = 0usize;
    let layer = |o: OpId| quant.ops.get(o.index()).and_then(|i| i.layer.clone());
    for op in graph.execution_order() {
        let i = op.index();
        if !show[i] || op_node[i].is_some() {
            continue;
        }
        // A run starts at an op with no run predecessor; ops in the middle
        // of a run are placed when its start is.
        if has_prev[i] {
            continue;
        }
        let mut chain = vec![op];
        let mut cur = op;
        // `next` is one-to-one and a run starts at an op nothing links to,
        // so the walk cannot loop; the bound is for certainty.
        while let Some(b) = next[cur.index()] {
            if chain.len() >= n || op_node[b.index()].is_some() {
                break;
            }
            chain.push(b);
            cur = b;
        }
        let id = nodes.len();
        let kind = if chain.len() >= options.min_run.max(2) {
            runs = runs.saturating_add(1);
            NodeKind::Run(chain.clone())
        } else {
            // Too short to collapse: each op its own node.
            for &o in &chain[1..] {
                has_prev[o.index()] = false;
                next[o.index()] = None;
            }
            chain.truncate(1);
            NodeKind::Op(op)
        };
        for &o in &chain {
            op_node[o.index()] = Some(id);
        }
        shown_ops = shown_ops.saturating_add(chain.len());
        nodes.push(ViewNode {
            kind,
            class: class[i],
            layer: layer(op),
            island: None,
            cut: false,
        });
    }
    // Ops left unplaced: the tail of a too-short chain, or ops the file's
    // order skipped. Each gets a node of its own.
    for op in sg.op_ids() {
        let i = op.index();
        if show[i] && op_node[i].is_none() {
            op_node[i] = Some(nodes.len());
            shown_ops = shown_ops.saturating_add(1);
            nodes.push(ViewNode {
                kind: NodeKind::Op(op),
                class: class[i],
                layer: layer(op),
                island: None,
                cut: false,
            });
        }
    }

    let mut edges: BTreeSet<ViewEdge> = BTreeSet::new();
    let mut input_node: Vec<(TensorId, usize)> = Vec::new();
    let mut output_node: Vec<(TensorId, usize)> = Vec::new();
    for op in sg.op_ids() {
        let Some(to) = op_node[op.index()] else {
            continue;
        };
        for t in sg.op(op).present_inputs() {
            match graph.producer(t) {
                Some(p) => match op_node[p.index()] {
                    Some(from) if from != to => {
                        edges.insert(ViewEdge {
                            from,
                            to,
                            tensor: t,
                        });
                    }
                    Some(_) => {}
                    None => nodes[to].cut = true,
                },
                None if graph.is_graph_input(t) => {
                    let from = match input_node.iter().find(|(x, _)| *x == t) {
                        Some(&(_, id)) => id,
                        None => {
                            let id = nodes.len();
                            nodes.push(ViewNode {
                                kind: NodeKind::Input(t),
                                class: NodeClass::Input,
                                layer: None,
                                island: None,
                                cut: false,
                            });
                            input_node.push((t, id));
                            id
                        }
                    };
                    edges.insert(ViewEdge {
                        from,
                        to,
                        tensor: t,
                    });
                }
                None => {}
            }
        }
        for &t in &sg.op(op).outputs {
            if graph.producer(t) != Some(op) {
                continue;
            }
            if graph
                .distinct_consumers(t)
                .any(|c| op_node[c.index()].is_none())
            {
                nodes[to].cut = true;
            }
            if graph.is_graph_output(t) && !output_node.iter().any(|(x, _)| *x == t) {
                let id = nodes.len();
                nodes.push(ViewNode {
                    kind: NodeKind::Output(t),
                    class: NodeClass::Output,
                    layer: None,
                    island: None,
                    cut: false,
                });
                output_node.push((t, id));
                edges.insert(ViewEdge {
                    from: to,
                    to: id,
                    tensor: t,
                });
            }
        }
    }

    let mut islands = Vec::new();
    for (f, finding) in quant.findings.iter().enumerate() {
        if !matches!(finding.kind, FindingKind::FloatIsland { .. }) {
            continue;
        }
        let members: BTreeSet<usize> = finding
            .ops
            .iter()
            .filter_map(|o| op_node.get(o.index()).copied().flatten())
            .collect();
        if members.is_empty() {
            continue;
        }
        let index = islands.len();
        for &m in &members {
            if let Some(node) = nodes.get_mut(m) {
                node.island = Some(index);
            }
        }
        islands.push(ViewIsland {
            nodes: members.into_iter().collect(),
            finding: f,
        });
    }

    GraphView {
        subgraph: quant.subgraph,
        nodes,
        edges: edges.into_iter().collect(),
        islands,
        op_node,
        total_ops: n,
        shown_ops,
        runs,
    }
}
