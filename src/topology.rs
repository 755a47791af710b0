//! Replication topologies: which regions ship entries to which, the per-origin route trees
//! relays follow, and consistent-hashing replica placement.
//!
//! Everything here is computed once, before a run, from the scenario; the replicas receive the
//! result as their static plan.

use crate::replica::plan::Hop;
use crate::replica::{mix64, RegionId};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A directed adjacency matrix (`from * n + to`).
pub type Links = Vec<bool>;

fn both(links: &mut Links, n: usize, a: usize, b: usize) {
    links[a * n + b] = true;
    links[b * n + a] = true;
}

pub fn mesh(n: usize) -> Links {
    (0..n * n).map(|i| i / n != i % n).collect()
}

/// Regions in list order round a ring: `i -> i+1` (and back, if bidirectional).
pub fn ring(n: usize, bidirectional: bool) -> Links {
    let mut l = vec![false; n * n];
    if n < 2 {
        return l;
    }
    for i in 0..n {
        let j = (i + 1) % n;
        if i != j {
            l[i * n + j] = true;
            if bidirectional {
                l[j * n + i] = true;
            }
        }
    }
    l
}

pub fn hub(n: usize, hub: usize) -> Links {
    let mut l = vec![false; n * n];
    for i in (0..n).filter(|&i| i != hub) {
        both(&mut l, n, i, hub);
    }
    l
}

/// Regions in the given order, each linked both ways to the next.
pub fn line(n: usize, order: &[usize]) -> Links {
    let mut l = vec![false; n * n];
    for w in order.windows(2) {
        both(&mut l, n, w[0], w[1]);
    }
    l
}

/// A breadth-first tree in list order: region `i`'s parent is `(i - 1) / fanout`.
pub fn tree(n: usize, fanout: usize) -> Links {
    let mut l = vec![false; n * n];
    for i in 1..n {
        both(&mut l, n, i, (i - 1) / fanout);
    }
    l
}

/// Per origin, the tree of shortest paths over `links`, as next hops with the regions reached
/// through each. `cost[from * n + to]` is the link's nominal latency in ns. With `by_latency`
/// the path cost is total latency (then hops); otherwise hops (then latency). Ties go to the
/// lower region index, so the result is deterministic.
///
/// Returns `Err((origin, unreachable))` if some region cannot be reached from `origin`.
pub fn routes(
    n: usize,
    links: &Links,
    cost: &[u64],
    by_latency: bool,
    origins: &[usize],
) -> Result<Vec<Vec<Vec<Hop>>>, (usize, usize)> {
    let mut all = vec![vec![Vec::new(); n]; n];
    for &o in origins {
        // Dijkstra with a lexicographic (primary, secondary, region) cost.
        let mut dist: Vec<Option<(u64, u64)>> = vec![None; n];
        let mut parent = vec![usize::MAX; n];
        let mut heap = BinaryHeap::new();
        dist[o] = Some((0, 0));
        heap.push(Reverse((0u64, 0u64, o)));
        while let Some(Reverse((a, b, u))) = heap.pop() {
            if dist[u] != Some((a, b)) {
                continue;
            }
            for v in 0..n {
                if !links[u * n + v] {
                    continue;
                }
                let (lat, hops) = if by_latency {
                    (a + cost[u * n + v], b + 1)
                } else {
                    (b + cost[u * n + v], a + 1)
                };
                let c = if by_latency { (lat, hops) } else { (hops, lat) };
                let better = match dist[v] {
                    None => true,
                    Some(d) => c < d || (c == d && u < parent[v]),
                };
                if better {
                    dist[v] = Some(c);
                    parent[v] = u;
                    heap.push(Reverse((c.0, c.1, v)));
                }
            }
        }
        if let Some(v) = (0..n).find(|&v| dist[v].is_none()) {
            return Err((o, v));
        }
        // Subtree masks, children before parents (deepest first).
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&v| Reverse((dist[v], v)));
        let mut reach: Vec<u64> = (0..n).map(|v| 1u64 << v).collect();
        for &v in &order {
            if v != o {
                let p = parent[v];
                reach[p] |= reach[v];
            }
        }
        for v in 0..n {
            if v != o {
                all[o][parent[v]].push((RegionId(v as u16), reach[v]));
            }
        }
    }
    Ok(all)
}

/// Consistent hashing: each region owns `VNODES` points on a 64-bit ring; a key's replicas are
/// the first `replicas` distinct regions clockwise from its hash. Returns a holder mask per key.
pub fn consistent_hash(regions: usize, replicas: usize, keys: u64) -> Vec<u64> {
    const VNODES: u64 = 64;
    let mut ring: Vec<(u64, usize)> = (0..regions)
        .flat_map(|r| (0..VNODES).map(move |v| (mix64(((r as u64) << 32) | v ^ 0x7e57), r)))
        .collect();
    ring.sort_unstable();
    (0..keys)
        .map(|k| {
            let h = mix64(k.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x00c0_ffee);
            let start = ring.partition_point(|&(t, _)| t < h);
            let mut mask = 0u64;
            let mut i = start;
            while (mask.count_ones() as usize) < replicas {
                mask |= 1u64 << ring[i % ring.len()].1;
                i += 1;
            }
            mask
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hops(r: &[Vec<Vec<Hop>>], o: usize, at: usize) -> Vec<u16> {
        r[o][at].iter().map(|h| h.0 .0).collect()
    }

    #[test]
    fn ring_routes_go_round_and_never_back() {
        let n = 4;
        let r = routes(n, &ring(n, false), &vec![1; n * n], false, &[0, 1, 2, 3]).unwrap();
        assert_eq!(hops(&r, 0, 0), [1]);
        assert_eq!(hops(&r, 0, 1), [2]);
        assert_eq!(hops(&r, 0, 2), [3]);
        assert!(
            hops(&r, 0, 3).is_empty(),
            "the last region does not send back to the origin"
        );
        assert_eq!(r[0][0][0].1, 0b1110);
    }

    #[test]
    fn hub_routes_relay_through_the_hub() {
        let n = 4;
        let r = routes(n, &hub(n, 2), &vec![1; n * n], false, &[0, 2]).unwrap();
        assert_eq!(hops(&r, 0, 0), [2]);
        assert_eq!(hops(&r, 0, 2), [1, 3]);
        assert_eq!(hops(&r, 2, 2), [0, 1, 3]);
    }

    #[test]
    fn shortest_latency_relays_when_the_detour_is_faster() {
        // 0 -> 2 directly costs 100; via 1 it costs 10 + 10.
        let n = 3;
        let mut cost = vec![100; n * n];
        cost[1] = 10; // 0 -> 1
        cost[n + 2] = 10; // 1 -> 2
        let direct = routes(n, &mesh(n), &cost, false, &[0]).unwrap();
        assert_eq!(hops(&direct, 0, 0), [1, 2]);
        let fast = routes(n, &mesh(n), &cost, true, &[0]).unwrap();
        assert_eq!(hops(&fast, 0, 0), [1]);
        assert_eq!(hops(&fast, 0, 1), [2]);
    }

    #[test]
    fn disconnected_graph_is_reported() {
        let n = 3;
        let mut l = vec![false; n * n];
        both(&mut l, n, 0, 1);
        assert_eq!(routes(n, &l, &vec![1; n * n], false, &[0]), Err((0, 2)));
    }

    #[test]
    fn consistent_hashing_places_exactly_n_replicas_and_spreads_them() {
        let masks = consistent_hash(5, 3, 10_000);
        assert!(masks.iter().all(|m| m.count_ones() == 3));
        for r in 0..5 {
            let held = masks.iter().filter(|m| *m & (1 << r) != 0).count();
            // 3/5 of the keys each, within 15%.
            assert!((5100..6900).contains(&held), "region {r} holds {held}");
        }
    }
}
