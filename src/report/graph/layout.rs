//! Coordinates for a [`GraphView`](crate::analysis::graph_view::GraphView)'s
//! nodes: a layered (Sugiyama) layout from the `rust-sugiyama` crate, one
//! connected component at a time, the components packed in rows.
//!
//! A layered layout adds a dummy vertex for every layer an edge crosses, so an
//! edge from the first op of a long chain to its last costs as much as the
//! chain itself, and a tensor read by every op of a chain costs the square of
//! its length (1,000 such readers took 8.5 s). Before laying out, the layers a
//! longest-path ranking gives bound those dummies (for an acyclic graph the
//! ranking the crate computes is at most as long); past [`DUMMY_BUDGET`] the longest edges are
//! left out of the layout and only drawn, so the time stays bounded whatever
//! the file.

use std::collections::VecDeque;

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::unionfind::UnionFind;
use rust_sugiyama::configure::{Config, CrossingMinimization, RankingType};

/// Most dummy vertices (layers crossed by edges) a layout may add.
pub const DUMMY_BUDGET: usize = 20_000;

/// Gap between nodes, and between components.
const SPACING: f64 = 28.0;

/// Widest row of components before the next row starts.
const ROW_WIDTH: f64 = 2_400.0;

/// A node's box: centre and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    /// Centre, x.
    pub x: f64,
    /// Centre, y.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// A laid-out graph: every box inside `[0, width] x [0, height]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// One box per node, in the order given.
    pub nodes: Vec<Placed>,
    /// Total width.
    pub width: f64,
    /// Total height.
    pub height: f64,
    /// Edges left out of the layout to keep it within [`DUMMY_BUDGET`].
    pub skipped_edges: usize,
}

/// Longest-path ranks of a graph (nodes on a cycle rank after what
/// precedes them): an upper bound on the layers each edge crosses.
fn ranks(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(a, b) in edges {
        out[a].push(b);
        indegree[b] += 1;
    }
    let mut rank = vec![0usize; n];
    let mut queued: Vec<bool> = indegree.iter().map(|d| *d == 0).collect();
    let mut queue: VecDeque<usize> = (0..n).filter(|i| queued[*i]).collect();
    // Nodes are released in index order when only cycles are left: the
    // cursor never moves back, so this stays linear.
    let mut cursor = 0;
    loop {
        while let Some(a) = queue.pop_front() {
            for &b in &out[a] {
                rank[b] = rank[b].max(rank[a] + 1);
                indegree[b] = indegree[b].saturating_sub(1);
                if indegree[b] == 0 && !queued[b] {
                    queued[b] = true;
                    queue.push_back(b);
                }
            }
        }
        while cursor < n && queued[cursor] {
            cursor += 1;
        }
        if cursor == n {
            break;
        }
        queued[cursor] = true;
        queue.push_back(cursor);
    }
    rank
}

/// Lay out `sizes.len()` nodes of the given (width, height) joined by `edges`
/// (pairs of node indices; repeats and loops are ignored).
pub fn layout(sizes: &[(f64, f64)], edges: &[(usize, usize)]) -> Layout {
    let n = sizes.len();
    let mut edges: Vec<(usize, usize)> = edges
        .iter()
        .copied()
        .filter(|(a, b)| a != b && *a < n && *b < n)
        .collect();
    edges.sort_unstable();
    edges.dedup();

    // Bound the dummy vertices: drop the longest edges first.
    let rank = ranks(n, &edges);
    let span = |(a, b): (usize, usize)| rank[b].saturating_sub(rank[a]).saturating_sub(1);
    let mut dummies: usize = edges.iter().map(|e| span(*e)).sum();
    let mut skipped_edges = 0;
    if dummies > DUMMY_BUDGET {
        let mut by_span: Vec<usize> = (0..edges.len()).collect();
        by_span.sort_by_key(|i| (std::cmp::Reverse(span(edges[*i])), *i));
        let mut keep = vec![true; edges.len()];
        for i in by_span {
            if dummies <= DUMMY_BUDGET {
                break;
            }
            dummies -= span(edges[i]);
            keep[i] = false;
            skipped_edges += 1;
        }
        let mut k = keep.into_iter();
        edges.retain(|_| k.next().unwrap_or(true));
    }

    // Connected components, in order of their first node.
    let mut uf: UnionFind<usize> = UnionFind::new(n);
    for &(a, b) in &edges {
        uf.union(a, b);
    }
    let mut component_of_root: Vec<Option<usize>> = vec![None; n];
    let mut components: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let r = uf.find(i);
        let c = *component_of_root[r].get_or_insert_with(|| {
            components.push(Vec::new());
            components.len() - 1
        });
        components[c].push(i);
    }
    let mut local = vec![0usize; n];
    let mut component_edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); components.len()];
    for members in &components {
        for (j, &m) in members.iter().enumerate() {
            local[m] = j;
        }
    }
    for &(a, b) in &edges {
        let c = component_of_root[uf.find(a)].unwrap_or(0);
        component_edges[c].push((local[a], local[b]));
    }

    let config = Config {
        minimum_length: 1,
        vertex_spacing: SPACING,
        dummy_vertices: true,
        dummy_size: 0.5,
        ranking_type: RankingType::MinimizeEdgeLength,
        c_minimization: CrossingMinimization::Barycenter,
        // Swapping neighbours costs much more on wide layers for little
        // gain on converter graphs.
        transpose: false,
    };
    let mut nodes = vec![
        Placed {
            x: 0.0,
            y: 0.0,
            w: 0.0,
            h: 0.0
        };
        n
    ];
    let (mut row_x, mut row_y, mut row_h, mut width) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (members, cedges) in components.iter().zip(&component_edges) {
        let boxes = place_component(members, cedges, sizes, &config);
        let (cw, ch) = boxes.iter().fold((0.0f64, 0.0f64), |(w, h), p| {
            (w.max(p.x + p.w / 2.0), h.max(p.y + p.h / 2.0))
        });
        if row_x > 0.0 && row_x + cw > ROW_WIDTH {
            row_y += row_h + SPACING;
            row_x = 0.0;
            row_h = 0.0;
        }
        for (&m, p) in members.iter().zip(&boxes) {
            nodes[m] = Placed {
                x: p.x + row_x,
                y: p.y + row_y,
                ..*p
            };
        }
        width = width.max(row_x + cw);
        row_x += cw + SPACING;
        row_h = row_h.max(ch);
    }
    Layout {
        nodes,
        width,
        height: row_y + row_h,
        skipped_edges,
    }
}

/// Boxes of one component, shifted so that its top-left corner is (0, 0).
fn place_component(
    members: &[usize],
    edges: &[(usize, usize)],
    sizes: &[(f64, f64)],
    config: &Config,
) -> Vec<Placed> {
    let size = |i: usize| {
        let (w, h) = sizes[members[i]];
        let ok = |v: f64| if v.is_finite() && v > 0.0 { v } else { 1.0 };
        (ok(w), ok(h))
    };
    let mut centres = vec![(0.0f64, 0.0f64); members.len()];
    if members.len() == 1 || edges.is_empty() {
        // One node (the crate needs no help for it, but this is cheaper).
        let (w, h) = size(0);
        centres[0] = (w / 2.0, h / 2.0);
    } else {
        let mut g: StableDiGraph<usize, ()> =
            StableDiGraph::with_capacity(members.len(), edges.len());
        for i in 0..members.len() {
            g.add_node(i);
        }
        for &(a, b) in edges {
            g.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
        }
        let vertex_size = |_: NodeIndex, i: &usize| size(*i);
        for (coords, _, _) in rust_sugiyama::from_graph(&g, &vertex_size, config) {
            for (id, (x, y)) in coords {
                if let Some(c) = centres.get_mut(id.index()) {
                    let ok = |v: f64| if v.is_finite() { v } else { 0.0 };
                    *c = (ok(x), ok(y));
                }
            }
        }
    }
    let mut boxes: Vec<Placed> = centres
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            let (w, h) = size(i);
            Placed { x, y, w, h }
        })
        .collect();
    let (min_x, min_y) = boxes
        .iter()
        .fold((f64::INFINITY, f64::INFINITY), |(x, y), p| {
            (x.min(p.x - p.w / 2.0), y.min(p.y - p.h / 2.0))
        });
    for p in &mut boxes {
        p.x -= min_x;
        p.y -= min_y;
    }
    boxes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_do_not_overlap_and_edges_point_down() {
        // A diamond and a separate pair.
        let sizes = vec![(80.0, 30.0); 6];
        let edges = [(0, 1), (0, 2), (1, 3), (2, 3), (4, 5), (0, 1)];
        let l = layout(&sizes, &edges);
        for (i, a) in l.nodes.iter().enumerate() {
            assert!(a.x - a.w / 2.0 >= -1e-9 && a.x + a.w / 2.0 <= l.width + 1e-9);
            assert!(a.y - a.h / 2.0 >= -1e-9 && a.y + a.h / 2.0 <= l.height + 1e-9);
            for b in &l.nodes[i + 1..] {
                let apart = (a.x - b.x).abs() >= (a.w + b.w) / 2.0
                    || (a.y - b.y).abs() >= (a.h + b.h) / 2.0;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
        for (a, b) in [(0, 1), (0, 2), (1, 3), (2, 3), (4, 5)] {
            assert!(l.nodes[a].y < l.nodes[b].y, "{a} -> {b}");
        }
        assert_eq!(l.skipped_edges, 0);
    }

    #[test]
    fn long_edges_past_the_budget_are_left_out() {
        // One node read by every node of a chain: quadratic dummies.
        let n = 400;
        let sizes = vec![(60.0, 20.0); n];
        let mut edges: Vec<(usize, usize)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        edges.extend((2..n).map(|i| (0, i)));
        let l = layout(&sizes, &edges);
        assert!(l.skipped_edges > 0);
        // Cycles and loops are laid out too.
        let l = layout(&[(10.0, 10.0); 3], &[(0, 1), (1, 2), (2, 0), (1, 1)]);
        assert_eq!(l.nodes.len(), 3);
        assert!(layout(&[], &[]).nodes.is_empty());
    }

    #[test]
    fn same_layout_every_time() {
        let sizes: Vec<(f64, f64)> = (0..60)
            .map(|i| (40.0 + (i % 5) as f64 * 10.0, 24.0))
            .collect();
        let mut edges = Vec::new();
        for i in 0..59 {
            edges.push((i, i + 1));
            if i % 4 == 0 && i + 4 < 60 {
                edges.push((i, i + 4));
            }
        }
        let a = layout(&sizes, &edges);
        for _ in 0..3 {
            assert_eq!(layout(&sizes, &edges), a);
        }
    }
}
