//! Structure of a subgraph: who produces and who consumes each tensor, the
//! operator dependency graph (petgraph), execution order, constants versus
//! activations, and the control-flow links between subgraphs.
//!
//! Building a [`Graph`] costs O(ops + tensors + edges).

use std::cell::OnceCell;

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::{CallRole, Model, OpId, Subgraph, SubgraphId, Tensor, TensorId};

/// The dataflow view of one subgraph.
#[derive(Debug)]
pub struct Graph<'m> {
    subgraph: &'m Subgraph<'m>,
    producer: Vec<Option<OpId>>,
    /// Consumers of tensor `t` are `consumers[starts[t]..starts[t + 1]]`.
    starts: Vec<u32>,
    consumers: Vec<OpId>,
    is_input: Vec<bool>,
    is_output: Vec<bool>,
    /// Built on first use: most analyses need only producers and consumers.
    dag: OnceCell<DiGraph<OpId, TensorId, u32>>,
}

/// A cycle among operators: the subgraph cannot run in any order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    /// An operator on the cycle.
    pub op: OpId,
}

impl<'m> Graph<'m> {
    /// Build the view.
    pub fn new(subgraph: &'m Subgraph<'m>) -> Graph<'m> {
        let n_t = subgraph.tensors.len();
        let mut producer = vec![None; n_t];
        let mut counts = vec![0u32; n_t + 1];
        for (o, op) in subgraph.operators.iter().enumerate() {
            for t in &op.outputs {
                // The first writer wins; a second writer is a malformed graph
                // that the runtime would reject, and is simply not linked.
                producer[t.index()].get_or_insert(OpId(o as u32));
            }
            for t in op.present_inputs() {
                counts[t.index() + 1] += 1;
            }
        }
        let mut starts = counts;
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut fill = starts.clone();
        let mut consumers = vec![OpId(0); starts[n_t] as usize];
        for (o, op) in subgraph.operators.iter().enumerate() {
            for t in op.present_inputs() {
                let slot = &mut fill[t.index()];
                consumers[*slot as usize] = OpId(o as u32);
                *slot += 1;
            }
        }
        let mut is_input = vec![false; n_t];
        for t in &subgraph.inputs {
            is_input[t.index()] = true;
        }
        let mut is_output = vec![false; n_t];
        for t in &subgraph.outputs {
            is_output[t.index()] = true;
        }
        let mut consumers_dedup = consumers;
        // An op that reads the same tensor twice (x * x) is one consumer.
        for t in 0..n_t {
            let (a, b) = (starts[t] as usize, starts[t + 1] as usize);
            consumers_dedup[a..b].sort_unstable();
        }
        Graph {
            subgraph,
            producer,
            starts,
            consumers: consumers_dedup,
            is_input,
            is_output,
            dag: OnceCell::new(),
        }
    }

    /// The subgraph.
    pub fn subgraph(&self) -> &'m Subgraph<'m> {
        self.subgraph
    }

    /// The operator writing `t`, if any (graph inputs and constants have none).
    pub fn producer(&self, t: TensorId) -> Option<OpId> {
        self.producer.get(t.index()).copied().flatten()
    }

    /// Operators reading `t`, in execution order (an op reading it twice appears twice).
    pub fn consumers(&self, t: TensorId) -> &[OpId] {
        let i = t.index();
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.consumers[a as usize..b as usize],
            _ => &[],
        }
    }

    /// Distinct operators reading `t`.
    pub(crate) fn distinct_consumers(&self, t: TensorId) -> impl Iterator<Item = OpId> + '_ {
        let c = self.consumers(t);
        c.iter()
            .enumerate()
            .filter(move |(i, o)| *i == 0 || c[i - 1] != **o)
            .map(|(_, o)| *o)
    }

    /// Whether `t` is a runtime input of the subgraph.
    pub fn is_graph_input(&self, t: TensorId) -> bool {
        self.is_input.get(t.index()).copied().unwrap_or(false)
    }

    /// Whether `t` is a result of the subgraph.
    pub(crate) fn is_graph_output(&self, t: TensorId) -> bool {
        self.is_output.get(t.index()).copied().unwrap_or(false)
    }

    /// Whether `t` holds constant data.
    pub fn is_constant(&self, t: TensorId) -> bool {
        self.tensor(t).is_constant()
    }

    /// Whether `t` carries values computed at run time (an activation): not
    /// constant, and produced by an op or fed in as an input or state.
    pub fn is_activation(&self, t: TensorId) -> bool {
        !self.is_constant(t)
    }

    /// The tensor `t`.
    pub fn tensor(&self, t: TensorId) -> &'m Tensor<'m> {
        self.subgraph.tensor(t)
    }

    /// Operators that produce an input of `op`.
    pub fn predecessors(&self, op: OpId) -> impl Iterator<Item = OpId> + '_ {
        self.subgraph
            .op(op)
            .present_inputs()
            .filter_map(|t| self.producer(t))
    }

    /// Operators that read an output of `op`.
    pub fn successors(&self, op: OpId) -> impl Iterator<Item = OpId> + '_ {
        self.subgraph
            .op(op)
            .outputs
            .iter()
            .flat_map(|t| self.consumers(*t).iter().copied())
    }

    /// Operators in a dependency order. The file's order is one already for
    /// every converter-written model; this recomputes it so a hand-made file
    /// with ops out of order is still analysed correctly.
    pub fn topo_order(&self) -> Result<Vec<OpId>, Cycle> {
        let dag = self.dag();
        toposort(dag, None)
            .map(|nodes| nodes.into_iter().map(|n| dag[n]).collect())
            .map_err(|c| Cycle {
                op: dag[c.node_id()],
            })
    }

    /// The order analyses walk the ops in: the file's when it is a valid
    /// execution order (every converter writes one), else a topological
    /// order of the petgraph view; a cyclic file (which no runtime runs)
    /// keeps the file's order.
    pub fn execution_order(&self) -> Vec<OpId> {
        if self.file_order_is_topological() {
            return self.subgraph.op_ids().collect();
        }
        self.topo_order()
            .unwrap_or_else(|_| self.subgraph.op_ids().collect())
    }

    /// A topological order that does not depend on how the file happens to
    /// order independent ops: among the ops ready to run, the one with the
    /// smallest `key` goes first (file position breaks ties). Two converters
    /// that emit the branches of one network in different orders give the
    /// same sequence. Kahn's algorithm over the petgraph view, O((ops +
    /// edges) log ops); a cyclic file keeps its order for the ops on cycles.
    pub(crate) fn canonical_order<K: Ord>(&self, key: impl Fn(OpId) -> K) -> Vec<OpId> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let dag = self.dag();
        let n = dag.node_count();
        let mut indegree: Vec<usize> = (0..n)
            .map(|i| {
                dag.neighbors_directed(NodeIndex::new(i), petgraph::Direction::Incoming)
                    .count()
            })
            .collect();
        let mut ready: BinaryHeap<Reverse<(K, OpId)>> = BinaryHeap::new();
        for (i, d) in indegree.iter().enumerate() {
            if *d == 0 {
                let op = OpId(i as u32);
                ready.push(Reverse((key(op), op)));
            }
        }
        let mut order = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        while let Some(Reverse((_, op))) = ready.pop() {
            order.push(op);
            placed[op.index()] = true;
            // One edge per tensor use: a consumer reading twice counts twice.
            for next in
                dag.neighbors_directed(NodeIndex::new(op.index()), petgraph::Direction::Outgoing)
            {
                let d = &mut indegree[next.index()];
                *d = d.saturating_sub(1);
                if *d == 0 {
                    let o = OpId(next.index() as u32);
                    ready.push(Reverse((key(o), o)));
                }
            }
        }
        // Ops on a cycle never become ready: append them in file order.
        order.extend((0..n).filter(|i| !placed[*i]).map(|i| OpId(i as u32)));
        order
    }

    /// Whether the file's operator order is a valid execution order.
    pub fn file_order_is_topological(&self) -> bool {
        self.subgraph.op_ids().all(|o| {
            self.subgraph
                .op(o)
                .present_inputs()
                .all(|t| self.producer(t).is_none_or(|p| p < o))
        })
    }

    /// The petgraph view: one node per operator (weight = its id), one edge
    /// per tensor from producer to consumer (weight = the tensor). Built on
    /// the first call.
    pub fn dag(&self) -> &DiGraph<OpId, TensorId, u32> {
        self.dag.get_or_init(|| {
            let ops = &self.subgraph.operators;
            let mut dag = DiGraph::with_capacity(ops.len(), self.consumers.len());
            for o in 0..ops.len() {
                dag.add_node(OpId(o as u32));
            }
            for (o, op) in ops.iter().enumerate() {
                for t in op.present_inputs() {
                    if let Some(p) = self.producer[t.index()] {
                        dag.add_edge(NodeIndex::new(p.index()), NodeIndex::new(o), t);
                    }
                }
            }
            dag
        })
    }
}

/// One control-flow link: operator `op` of subgraph `from` runs subgraph `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The calling subgraph.
    pub from: SubgraphId,
    /// The calling operator.
    pub op: OpId,
    /// Its role.
    pub role: CallRole,
    /// The called subgraph.
    pub to: SubgraphId,
}

/// All control-flow links of a model, in subgraph then operator order.
pub fn calls(model: &Model) -> Vec<Call> {
    let mut out = Vec::new();
    for (s, sg) in model.subgraphs.iter().enumerate() {
        for (o, op) in sg.operators.iter().enumerate() {
            for &(role, to) in &op.calls {
                out.push(Call {
                    from: SubgraphId(s as u32),
                    op: OpId(o as u32),
                    role,
                    to,
                });
            }
        }
    }
    out
}

/// Subgraphs reachable from subgraph 0 and the signatures' subgraphs, each
/// with its depth from a root (breadth-first; cycles in the call graph, which
/// a hand-made file can contain, are visited once).
pub fn reachable_subgraphs(model: &Model) -> Vec<(SubgraphId, usize)> {
    let n = model.subgraphs.len();
    let mut depth = vec![usize::MAX; n];
    let mut queue = std::collections::VecDeque::new();
    let roots = std::iter::once(0u32)
        .filter(|_| n > 0)
        .chain(model.signatures.iter().map(|s| s.subgraph.0));
    for r in roots {
        if let Some(d) = depth.get_mut(r as usize)
            && *d == usize::MAX
        {
            *d = 0;
            queue.push_back(r as usize);
        }
    }
    let mut callees = vec![Vec::new(); n];
    for c in calls(model) {
        callees[c.from.index()].push(c.to.index());
    }
    while let Some(s) = queue.pop_front() {
        for &to in &callees[s] {
            if depth[to] == usize::MAX {
                depth[to] = depth[s] + 1;
                queue.push_back(to);
            }
        }
    }
    depth
        .into_iter()
        .enumerate()
        .filter(|(_, d)| *d != usize::MAX)
        .map(|(s, d)| (SubgraphId(s as u32), d))
        .collect()
}
