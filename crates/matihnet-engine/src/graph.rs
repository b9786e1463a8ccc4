//! A small directed acyclic graph over resource addresses: topological order and cycle reports.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use matihnet_core::Address;

/// `deps[a]` are the nodes `a` depends on (must come before `a`), sorted and without
/// duplicates: a `Vec`, because most resources have one or two and a set per node cost a
/// half-kilobyte node each in a 50,000-resource plan.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    deps: BTreeMap<Address, Vec<Address>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dependency cycle: {}", .0.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" -> "))]
pub struct CycleError(pub Vec<Address>);

impl Graph {
    pub fn new() -> Self {
        Graph::default()
    }

    pub fn add_node(&mut self, a: Address) {
        self.deps.entry(a).or_default();
    }

    /// `from` depends on `to`.
    pub fn add_edge(&mut self, from: Address, to: Address) {
        self.deps.entry(to.clone()).or_default();
        let deps = self.deps.entry(from).or_default();
        if let Err(at) = deps.binary_search(&to) {
            deps.insert(at, to);
        }
    }

    pub fn contains(&self, a: &Address) -> bool {
        self.deps.contains_key(a)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Address> {
        self.deps.keys()
    }

    pub fn dependencies(&self, a: &Address) -> impl Iterator<Item = &Address> {
        self.deps.get(a).into_iter().flatten()
    }

    pub fn edges(&self) -> impl Iterator<Item = (&Address, &Address)> {
        self.deps
            .iter()
            .flat_map(|(from, tos)| tos.iter().map(move |to| (from, to)))
    }

    /// Dependencies first; ties broken by address so the order is stable.
    pub fn topo_order(&self) -> Result<Vec<Address>, CycleError> {
        // Nodes are numbered in address order, so the smallest ready number is the smallest
        // ready address; numbers spare the maps of addresses a large graph would need.
        let nodes: Vec<&Address> = self.deps.keys().collect();
        let mut indegree: Vec<usize> = self.deps.values().map(Vec::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (from, tos) in self.deps.values().enumerate() {
            for to in tos {
                // Every dependency is a node (`add_edge` adds it).
                if let Ok(to) = nodes.binary_search(&to) {
                    dependents[to].push(from);
                }
            }
        }
        let mut ready: BTreeSet<usize> = indegree
            .iter()
            .enumerate()
            .filter(|(_, n)| **n == 0)
            .map(|(i, _)| i)
            .collect();
        let mut order = Vec::with_capacity(nodes.len());
        while let Some(i) = ready.pop_first() {
            order.push(nodes[i].clone());
            for &d in &dependents[i] {
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        if order.len() == self.deps.len() {
            Ok(order)
        } else {
            let placed: BTreeSet<&Address> = order.iter().collect();
            Err(CycleError(self.find_cycle(&placed)))
        }
    }

    /// A cycle among the nodes the topological sort could not place.
    fn find_cycle(&self, placed: &BTreeSet<&Address>) -> Vec<Address> {
        // Every unplaced node has an unplaced dependency, so walking those must revisit a node.
        let Some(start) = self.deps.keys().find(|a| !placed.contains(a)) else {
            return Vec::new();
        };
        let mut path: Vec<&Address> = vec![start];
        let mut seen: BTreeMap<&Address, usize> = BTreeMap::from([(start, 0)]);
        let mut current = start;
        loop {
            let Some(next) = self.dependencies(current).find(|d| !placed.contains(d)) else {
                return path.into_iter().cloned().collect();
            };
            if let Some(&i) = seen.get(next) {
                let mut cycle: Vec<Address> = path[i..].iter().map(|a| (*a).clone()).collect();
                cycle.push(next.clone());
                return cycle;
            }
            seen.insert(next, path.len());
            path.push(next);
            current = next;
        }
    }

    /// `roots` and everything they depend on, transitively.
    pub fn closure_of_dependencies(&self, roots: &[Address]) -> BTreeSet<Address> {
        let mut out = BTreeSet::new();
        let mut queue: VecDeque<&Address> = roots.iter().collect();
        while let Some(a) = queue.pop_front() {
            if out.insert(a.clone()) {
                queue.extend(self.dependencies(a));
            }
        }
        out
    }

    /// `roots` and everything that depends on them, transitively.
    pub fn closure_of_dependents(&self, roots: &[Address]) -> BTreeSet<Address> {
        let mut dependents: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
        for (from, to) in self.edges() {
            dependents.entry(to).or_default().push(from);
        }
        let mut out = BTreeSet::new();
        let mut queue: VecDeque<&Address> = roots.iter().collect();
        while let Some(a) = queue.pop_front() {
            if out.insert(a.clone()) {
                queue.extend(dependents.get(a).into_iter().flatten());
            }
        }
        out
    }

    /// The graph in Graphviz DOT, an edge from each resource to what it depends on.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph matihnet {\n  rankdir = \"RL\";\n");
        for a in self.nodes() {
            out.push_str(&format!("  \"{a}\";\n"));
        }
        for (from, to) in self.edges() {
            out.push_str(&format!("  \"{from}\" -> \"{to}\";\n"));
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(i: usize) -> Address {
        Address::new("r", format!("n{i}"))
    }

    #[test]
    fn reports_the_cycle() {
        let mut g = Graph::new();
        g.add_edge(a(1), a(2));
        g.add_edge(a(2), a(3));
        g.add_edge(a(3), a(1));
        g.add_edge(a(4), a(1));
        let err = g.topo_order().unwrap_err();
        assert_eq!(err.0.first(), err.0.last());
        assert_eq!(err.0.len(), 4);
        assert!(err.to_string().starts_with("dependency cycle: "));
    }

    proptest! {
        /// Edges only from higher to lower index make a DAG: the order must respect every edge.
        #[test]
        fn topo_order_respects_every_edge(n in 1usize..40, edges in proptest::collection::vec((0usize..40, 0usize..40), 0..120)) {
            let mut g = Graph::new();
            for i in 0..n { g.add_node(a(i)); }
            for (x, y) in edges {
                let (x, y) = (x % n, y % n);
                if x > y { g.add_edge(a(x), a(y)); }
            }
            let order = g.topo_order().unwrap();
            prop_assert_eq!(order.len(), n);
            let pos: BTreeMap<_, _> = order.iter().enumerate().map(|(i, x)| (x.clone(), i)).collect();
            for (from, to) in g.edges() {
                prop_assert!(pos[to] < pos[from], "{} must come before {}", to, from);
            }
        }

        /// The order is the one "smallest address whose dependencies are all placed, next" gives.
        #[test]
        fn topo_order_breaks_ties_by_address(n in 1usize..30, edges in proptest::collection::vec((0usize..30, 0usize..30), 0..80)) {
            let mut g = Graph::new();
            for i in 0..n { g.add_node(a(i)); }
            for (x, y) in edges {
                let (x, y) = (x % n, y % n);
                if x != y && (x * 7 + 3) % n > (y * 7 + 3) % n { g.add_edge(a(x), a(y)); }
            }
            let mut expected: Vec<Address> = Vec::new();
            let mut left: BTreeSet<Address> = g.nodes().cloned().collect();
            while let Some(next) = left.iter().find(|x| g.dependencies(x).all(|d| expected.contains(d))).cloned() {
                left.remove(&next);
                expected.push(next);
            }
            prop_assert_eq!(g.topo_order().unwrap(), expected);
        }

        /// Any back edge added to a chain closes a cycle, and the sort must notice.
        #[test]
        fn no_cycle_is_missed(n in 2usize..30, back_from in 0usize..30, back_to in 0usize..30) {
            let mut g = Graph::new();
            for i in 1..n { g.add_edge(a(i), a(i - 1)); }
            let (lo, hi) = { let x = back_from % n; let y = back_to % n; (x.min(y), x.max(y)) };
            prop_assume!(lo != hi);
            g.add_edge(a(lo), a(hi));
            let cycle = g.topo_order().unwrap_err().0;
            prop_assert_eq!(cycle.first(), cycle.last());
            for w in cycle.windows(2) {
                prop_assert!(g.dependencies(&w[0]).any(|d| d == &w[1]), "{} -> {} is not an edge", w[0], w[1]);
            }
        }
    }
}
