//! Geometry decided before anything is written: the outlines of each float
//! island (which never take in a node of another), where finding badges go
//! (never on top of each other), and how legend items wrap into rows.

use super::layout::Placed;

/// Space between an island's nodes and its outline.
pub(super) const PAD: f64 = 9.0;

/// An axis-aligned rectangle, `x0 <= x1`, `y0 <= y1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    /// A node's box.
    pub(super) fn of(p: &Placed) -> Rect {
        Rect {
            x0: p.x - p.w / 2.0,
            y0: p.y - p.h / 2.0,
            x1: p.x + p.w / 2.0,
            y1: p.y + p.h / 2.0,
        }
    }

    fn union(self, o: Rect) -> Rect {
        Rect {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    fn grow(self, d: f64) -> Rect {
        Rect {
            x0: self.x0 - d,
            y0: self.y0 - d,
            x1: self.x1 + d,
            y1: self.y1 + d,
        }
    }

    /// Whether the two share more than an edge.
    pub(super) fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    fn is_empty(&self) -> bool {
        self.x0 >= self.x1 || self.y0 >= self.y1
    }
}

/// Node boxes sorted by their top, to find the nodes in a band quickly.
pub(super) struct Index {
    /// (top, node), ascending.
    by_top: Vec<(f64, usize)>,
    boxes: Vec<Rect>,
    tallest: f64,
}

impl Index {
    pub(super) fn new(nodes: &[Placed]) -> Index {
        let boxes: Vec<Rect> = nodes.iter().map(Rect::of).collect();
        let mut by_top: Vec<(f64, usize)> = boxes.iter().map(|b| b.y0).zip(0..).collect();
        by_top.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let tallest = boxes.iter().map(|b| b.y1 - b.y0).fold(0.0, f64::max);
        Index {
            by_top,
            boxes,
            tallest,
        }
    }

    /// Whether a node for which `inside` is false overlaps `r`.
    fn foreign_in(&self, r: &Rect, inside: &dyn Fn(usize) -> bool) -> bool {
        if r.is_empty() {
            return false;
        }
        let from = self
            .by_top
            .partition_point(|(top, _)| *top <= r.y0 - self.tallest);
        self.by_top[from..]
            .iter()
            .take_while(|(top, _)| *top < r.y1)
            .any(|&(_, n)| !inside(n) && self.boxes[n].overlaps(r))
    }
}

/// The outlines of an island whose nodes are `members` (ascending node
/// indices, in execution order): one per run of consecutive indices, cut
/// wherever growing it would take in any other node. Each outline is its
/// nodes' box grown by [`PAD`]; with the layout's spacing wider than twice
/// that, a single node's outline never touches another node.
pub(super) fn island_pieces(members: &[usize], index: &Index) -> Vec<(Rect, Vec<usize>)> {
    let inside = |n: usize| members.binary_search(&n).is_ok();
    let mut out: Vec<(Rect, Vec<usize>)> = Vec::new();
    let mut prev: Option<usize> = None;
    for &m in members {
        let Some(b) = index.boxes.get(m).map(|b| b.grow(PAD)) else {
            continue;
        };
        let follows = prev.is_some_and(|p| p + 1 == m);
        prev = Some(m);
        if follows && let Some((cur, nodes)) = out.last_mut() {
            let grown = cur.union(b);
            // `cur` holds no other node: only what `grown` adds can.
            let added = [
                Rect {
                    y1: cur.y0,
                    ..grown
                },
                Rect {
                    y0: cur.y1,
                    ..grown
                },
                Rect {
                    x0: grown.x0,
                    x1: cur.x0,
                    ..*cur
                },
                Rect {
                    x0: cur.x1,
                    x1: grown.x1,
                    ..*cur
                },
            ];
            if !added.iter().any(|r| index.foreign_in(r, &inside)) {
                *cur = grown;
                nodes.push(m);
                continue;
            }
        }
        out.push((b, vec![m]));
    }
    out
}

/// Height of a finding badge.
pub(super) const BADGE_H: f64 = 16.0;
/// Width of one digit in a badge.
const DIGIT_W: f64 = 6.0;
/// Space between badges.
const BADGE_GAP: f64 = 3.0;

/// A finding badge: a pill centred on (x, y).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Badge {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub number: usize,
}

/// A badge's width for `number`: wider with each digit.
pub(super) fn badge_width(number: usize) -> f64 {
    let digits = number.to_string().len() as f64;
    (digits * DIGIT_W + 8.0).max(BADGE_H)
}

/// Badges of a node, in number order: along its top edge, ending at its
/// top-right corner, in rows no wider than the node, a row above the other
/// when they do not fit. Badges of one node never overlap; those of two
/// nodes stay within their nodes' widths, which the layout keeps apart.
pub(super) fn badges(node: &Placed, numbers: &[usize]) -> Vec<Badge> {
    let right = node.x + node.w / 2.0 + BADGE_H / 2.0;
    let room = node.w.max(BADGE_H);
    let mut rows: Vec<Vec<(usize, f64)>> = vec![Vec::new()];
    let mut used = 0.0;
    for &n in numbers {
        let w = badge_width(n);
        if let Some(row) = rows.last_mut()
            && (row.is_empty() || used + BADGE_GAP + w <= room)
        {
            used += if row.is_empty() { w } else { BADGE_GAP + w };
            row.push((n, w));
            continue;
        }
        rows.push(vec![(n, w)]);
        used = w;
    }
    let top = node.y - node.h / 2.0;
    let mut out = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let total: f64 =
            row.iter().map(|(_, w)| w).sum::<f64>() + BADGE_GAP * (row.len() as f64 - 1.0);
        let mut x = right - total;
        let y = top - r as f64 * (BADGE_H + 2.0);
        for &(number, w) in row {
            out.push(Badge {
                x: x + w / 2.0,
                y,
                w,
                number,
            });
            x += w + BADGE_GAP;
        }
    }
    out
}

/// Items of the given widths in rows no wider than `width` (a wider item
/// gets a row of its own), `gap` apart: the indices of each row.
pub(super) fn rows(widths: &[f64], gap: f64, width: f64) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut used = 0.0;
    for (i, &w) in widths.iter().enumerate() {
        match out.last_mut() {
            Some(row) if used + gap + w <= width => {
                row.push(i);
                used += gap + w;
            }
            _ => {
                out.push(vec![i]);
                used = w;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(x: f64, y: f64, w: f64) -> Placed {
        Placed { x, y, w, h: 30.0 }
    }

    #[test]
    fn an_outline_never_takes_in_a_node_between_runs() {
        // A chain 0-1-2-3-4 down the middle; 0, 1, 3, 4 are the island: the
        // runs 0-1 and 3-4 get an outline each, node 2 stays outside.
        let nodes: Vec<Placed> = (0..5)
            .map(|i| node(100.0, 30.0 + 60.0 * i as f64, 80.0))
            .collect();
        let index = Index::new(&nodes);
        let pieces = island_pieces(&[0, 1, 3, 4], &index);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].1, [0, 1]);
        let two = Rect::of(&nodes[2]);
        assert!(pieces.iter().all(|(r, _)| !r.overlaps(&two)));
    }

    #[test]
    fn a_run_is_cut_where_a_wide_node_would_take_in_a_neighbour() {
        // 0 narrow, 1 wide below it; node 2 sits beside 0, under 1's width.
        let nodes = vec![
            node(100.0, 30.0, 60.0),
            node(140.0, 90.0, 220.0),
            node(210.0, 30.0, 60.0),
        ];
        let index = Index::new(&nodes);
        let pieces = island_pieces(&[0, 1], &index);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        let two = Rect::of(&nodes[2]);
        assert!(pieces.iter().all(|(r, _)| !r.overlaps(&two)));
        // Without the neighbour the two are one outline.
        let index = Index::new(&nodes[..2]);
        assert_eq!(island_pieces(&[0, 1], &index).len(), 1);
    }

    #[test]
    fn badges_never_overlap_and_wrap_within_the_node() {
        let n = node(100.0, 100.0, 90.0);
        let numbers: Vec<usize> = (98..110).collect();
        let b = badges(&n, &numbers);
        assert_eq!(b.len(), numbers.len());
        for (i, a) in b.iter().enumerate() {
            for c in &b[i + 1..] {
                let apart = (a.x - c.x).abs() >= (a.w + c.w) / 2.0 || (a.y - c.y).abs() >= BADGE_H;
                assert!(apart, "{a:?} {c:?}");
            }
            assert!(a.x - a.w / 2.0 >= n.x - n.w / 2.0 - 1e-9, "{a:?}");
        }
        assert!(b.iter().any(|a| a.y < b[0].y), "more rows");
    }

    #[test]
    fn rows_wrap_at_the_width() {
        assert_eq!(rows(&[40.0, 40.0, 40.0], 10.0, 95.0), [vec![0, 1], vec![2]]);
        assert_eq!(rows(&[200.0, 10.0], 10.0, 100.0), [vec![0], vec![1]]);
    }
}
