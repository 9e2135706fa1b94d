//! The op graph of one subgraph as `tflq graph` draws it, as plain data:
//! which ops are shown, which long runs of integer ops stand as one node, the
//! class (colour) of each node, the tensors between nodes, and the float
//! islands to outline. No coordinates and no text here: `report::graph`
//! lays the view out and writes it as SVG, HTML, DOT or Mermaid.
//!
//! Building a view costs O(ops + tensors + edges).

use std::collections::{BTreeSet, VecDeque};

use crate::analysis::{FindingKind, OpClass, SubgraphQuant};
use crate::graph::Graph;
use crate::model::{Model, OpId, SubgraphId, TensorId};

/// How a node computes: the colour it is drawn in. Ops take their
/// [`OpClass`]; the graph's inputs and outputs are nodes of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeClass {
    /// One op, or a run of ops of one class.
    Op(OpClass),
    /// A runtime input of the subgraph.
    Input,
    /// A result of the subgraph.
    Output,
}

impl NodeClass {
    /// Every class, in legend order: the op classes, then input and output.
    pub const ALL: [NodeClass; 12] = {
        let mut out = [NodeClass::Input; 12];
        let mut i = 0;
        while i < OpClass::ALL.len() {
            out[i] = NodeClass::Op(OpClass::ALL[i]);
            i += 1;
        }
        out[OpClass::ALL.len()] = NodeClass::Input;
        out[OpClass::ALL.len() + 1] = NodeClass::Output;
        out
    };

    /// The kebab-case name, also the CSS / DOT / Mermaid class: an op
    /// class's own name ([`OpClass::name`]).
    pub fn name(self) -> &'static str {
        match self {
            NodeClass::Op(c) => c.name(),
            NodeClass::Input => "input",
            NodeClass::Output => "output",
        }
    }

    /// The op class of a node that stands for ops.
    pub(crate) fn op_class(self) -> Option<OpClass> {
        match self {
            NodeClass::Op(c) => Some(c),
            NodeClass::Input | NodeClass::Output => None,
        }
    }

    /// Integer compute: what collapses into runs.
    pub fn is_integer(self) -> bool {
        matches!(self, NodeClass::Op(OpClass::Int8 | OpClass::Int16))
    }
}

/// What a node stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// One operator.
    Op(OpId),
    /// A run of ops that follow each other in execution order and all
    /// compute at one integer width, drawn as one node (in execution order).
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
    /// (0 or 1: never collapse). Ignored when `around` is given: such a
    /// view is already small, and merging would hide the op asked for.
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

/// The ops the findings of `quant` point at (other than float islands,
/// whose float ops never collapse anyway): each should keep a node of its
/// own ([`ViewOptions::keep`]).
pub fn finding_ops(quant: &SubgraphQuant) -> BTreeSet<OpId> {
    quant
        .findings
        .iter()
        .filter(|f| !matches!(f.kind, FindingKind::FloatIsland { .. }))
        .flat_map(|f| f.ops.iter().copied())
        .collect()
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

/// Build the view of `quant`'s subgraph of `model`.
pub fn build(model: &Model, quant: &SubgraphQuant, options: &ViewOptions) -> GraphView {
    let sg = model.subgraph(quant.subgraph);
    let graph = Graph::new(sg);
    let n = sg.operators.len();
    let show = shown(&graph, n, &options.around, options.depth);
    let class: Vec<NodeClass> = quant.op_classes().into_iter().map(NodeClass::Op).collect();

    // Execution order is topological: see `op_nodes` for why runs of it
    // keep the picture acyclic.
    let order: Vec<OpId> = graph
        .execution_order()
        .into_iter()
        .filter(|o| show.get(o.index()).copied().unwrap_or(false))
        .collect();
    let OpNodes {
        mut nodes,
        op_node,
        runs,
    } = op_nodes(&order, &class, quant, options, n);
    let edges = connect(sg, &graph, &op_node, &mut nodes);
    let islands = islands(quant, &op_node, &mut nodes);
    GraphView {
        subgraph: quant.subgraph,
        nodes,
        edges: edges.into_iter().collect(),
        islands,
        op_node,
        total_ops: n,
        shown_ops: order.len(),
        runs,
    }
}

/// The nodes of the shown ops, and the node of each op.
struct OpNodes {
    nodes: Vec<ViewNode>,
    /// The node of each op of the subgraph (`None`: not shown).
    op_node: Vec<Option<usize>>,
    /// How many nodes are runs.
    runs: usize,
}

/// One node per shown op in `order`, or per run: a stretch of consecutive
/// shown ops in execution order that all compute at one integer width.
/// Execution order is topological, so merging a stretch of it into one node
/// keeps the picture acyclic: an edge can only leave a stretch forwards.
fn op_nodes(
    order: &[OpId],
    class: &[NodeClass],
    quant: &SubgraphQuant,
    options: &ViewOptions,
    n: usize,
) -> OpNodes {
    let layer = |o: OpId| quant.ops.get(o.index()).and_then(|i| i.layer.clone());
    // An `--around` view is small already; collapsing it could swallow the
    // very op the user asked to see, so it draws every op.
    let collapse = options.min_run > 1 && options.around.is_empty();
    let runnable = |o: OpId| class[o.index()].is_integer() && !options.keep.contains(&o);
    let mut nodes: Vec<ViewNode> = Vec::new();
    let mut op_node: Vec<Option<usize>> = vec![None; n];
    let mut runs = 0usize;
    let mut i = 0usize;
    while let Some(&op) = order.get(i) {
        let mut j = i.saturating_add(1);
        if runnable(op) {
            while let Some(&next) = order.get(j) {
                if !runnable(next) || class[next.index()] != class[op.index()] {
                    break;
                }
                j = j.saturating_add(1);
            }
        }
        let stretch = order.get(i..j).unwrap_or_default();
        let id = nodes.len();
        let kind = if collapse && stretch.len() >= options.min_run {
            runs = runs.saturating_add(1);
            for &o in stretch {
                op_node[o.index()] = Some(id);
            }
            i = j;
            NodeKind::Run(stretch.to_vec())
        } else {
            op_node[op.index()] = Some(id);
            i = i.saturating_add(1);
            NodeKind::Op(op)
        };
        nodes.push(ViewNode {
            kind,
            class: class[op.index()],
            layer: layer(op),
            island: None,
            cut: false,
        });
    }
    OpNodes {
        nodes,
        op_node,
        runs,
    }
}

/// A node of its own for a graph input or output tensor.
fn terminal_node(kind: NodeKind, class: NodeClass) -> ViewNode {
    ViewNode {
        kind,
        class,
        layer: None,
        island: None,
        cut: false,
    }
}

/// The edges between the nodes, with a node for each graph input and output
/// tensor; a node with an operand outside the view is marked cut.
fn connect(
    sg: &crate::model::Subgraph,
    graph: &Graph,
    op_node: &[Option<usize>],
    nodes: &mut Vec<ViewNode>,
) -> BTreeSet<ViewEdge> {
    let mut edges: BTreeSet<ViewEdge> = BTreeSet::new();
    // The node of each input and output tensor, once made.
    let mut terminal: Vec<Option<usize>> = vec![None; sg.tensors.len()];
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
                    let from = match terminal.get(t.index()).copied().flatten() {
                        Some(id) => id,
                        None => {
                            let id = nodes.len();
                            nodes.push(terminal_node(NodeKind::Input(t), NodeClass::Input));
                            if let Some(slot) = terminal.get_mut(t.index()) {
                                *slot = Some(id);
                            }
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
            if graph.is_graph_output(t)
                && let Some(slot) = terminal.get_mut(t.index())
                && slot.is_none()
            {
                let id = nodes.len();
                nodes.push(terminal_node(NodeKind::Output(t), NodeClass::Output));
                *slot = Some(id);
                edges.insert(ViewEdge {
                    from: to,
                    to: id,
                    tensor: t,
                });
            }
        }
    }
    edges
}

/// The float islands of `quant`'s findings that have a shown node, each
/// node marked with its island.
fn islands(
    quant: &SubgraphQuant,
    op_node: &[Option<usize>],
    nodes: &mut [ViewNode],
) -> Vec<ViewIsland> {
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
    islands
}
