//! The load plan: which collection depends on which, in what phases they load, and what each
//! collection becomes. Cycles are loaded together; their foreign keys are added after the load.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::model::{MissingPolicy, ModelDef, RefTarget, TableRole};
use crate::schema::Schema;

/// A reference from one collection to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    /// `table.column` holding the reference.
    pub via: String,
    pub policy: MissingPolicy,
    /// Whether a foreign-key constraint will exist for it.
    pub enforced: bool,
}

/// Collections grouped in load phases, with the reference graph between them.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Collection names, in schema order; indexes below point into this list.
    pub collections: Vec<String>,
    /// Phases in load order; each lists collection indexes.
    pub phases: Vec<Vec<usize>>,
    pub edges: Vec<Edge>,
    /// Groups of collections that reference each other in a cycle (two or more members).
    pub cycles: Vec<Vec<usize>>,
}

impl LoadPlan {
    pub fn new(schema: &Schema) -> LoadPlan {
        let defs: Vec<&ModelDef> = schema.models().iter().map(|m| m.def()).collect();
        let index: HashMap<std::any::TypeId, usize> = defs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.type_id, i))
            .collect();
        let mut edges = Vec::new();
        for (from, def) in defs.iter().enumerate() {
            for table in &def.tables {
                for reference in &table.references {
                    let RefTarget::Model { type_id, .. } = &reference.target else {
                        continue;
                    };
                    let Some(&to) = index.get(type_id) else {
                        continue;
                    };
                    let enforced = reference.on_missing != MissingPolicy::Keep
                        && schema
                            .resolve(def, &reference.target)
                            .is_some_and(|t| t.enforceable);
                    edges.push(Edge {
                        from,
                        to,
                        via: format!("{}.{}", table.name, reference.column),
                        policy: reference.on_missing,
                        enforced,
                    });
                }
            }
        }
        let n = defs.len();
        let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        for e in &edges {
            if e.from != e.to {
                deps[e.from].insert(e.to);
            }
        }
        let components = strongly_connected(&deps);
        let mut component_of = vec![0; n];
        for (c, members) in components.iter().enumerate() {
            for &m in members {
                component_of[m] = c;
            }
        }
        // Components come out of Tarjan's algorithm dependencies first, so one pass gives levels.
        let mut level = vec![0usize; components.len()];
        for (c, members) in components.iter().enumerate() {
            let mut l = 0;
            for &m in members {
                for &d in &deps[m] {
                    let dc = component_of[d];
                    if dc != c {
                        l = l.max(level[dc] + 1);
                    }
                }
            }
            level[c] = l;
        }
        let phase_count = level.iter().copied().max().map_or(0, |m| m + 1);
        let mut phases = vec![Vec::new(); phase_count];
        for (i, &c) in component_of.iter().enumerate() {
            phases[level[c]].push(i);
        }
        let cycles = components.into_iter().filter(|c| c.len() > 1).collect();
        LoadPlan {
            collections: defs.iter().map(|d| d.collection.clone()).collect(),
            phases,
            edges,
            cycles,
        }
    }

    /// Model indexes in load order.
    pub fn order(&self) -> impl Iterator<Item = usize> + '_ {
        self.phases.iter().flatten().copied()
    }

    /// The plan as Markdown: phases, cycles, what each collection becomes, and a Mermaid graph.
    pub fn to_markdown(&self, schema: &Schema) -> String {
        let mut out = String::new();
        let defs: Vec<&ModelDef> = schema.models().iter().map(|m| m.def()).collect();
        let _ = writeln!(out, "# Load plan\n");
        let _ = writeln!(
            out,
            "{} collections, {} tables, {} phases. Tables are created without keys or foreign \
             keys, so nothing waits for the phases: every partition loads, `--jobs` at a time, \
             the largest collections first. Then the primary keys and unique constraints are \
             built (a collection whose values repeat is loaded again into its tables with their \
             keys, each repeat a dead letter), the foreign keys added (if one is refused, \
             dangling references are resolved by each reference's policy first) and the indexes \
             built.\n",
            defs.len(),
            defs.iter().map(|d| d.tables.len()).sum::<usize>(),
            self.phases.len()
        );
        let _ = writeln!(out, "## Phases\n\n| phase | collections |\n|---|---|");
        for (p, members) in self.phases.iter().enumerate() {
            let names: Vec<String> = members
                .iter()
                .map(|&m| format!("`{}`", self.collections[m]))
                .collect();
            let _ = writeln!(out, "| {} | {} |", p + 1, names.join(", "));
        }
        if !self.cycles.is_empty() {
            let _ = writeln!(out, "\n## Reference cycles\n");
            for cycle in &self.cycles {
                let names: Vec<String> = cycle
                    .iter()
                    .map(|&m| format!("`{}`", self.collections[m]))
                    .collect();
                let _ = writeln!(
                    out,
                    "- {}: in the same phase; their foreign keys are added after the load.",
                    names.join(" <-> ")
                );
            }
        }
        let _ = writeln!(out, "\n## Collections\n");
        for &m in self.order().collect::<Vec<_>>().iter() {
            write_model(&mut out, schema, defs[m]);
        }
        let _ = writeln!(out, "## Reference graph\n\n```mermaid\nflowchart LR");
        for (i, name) in self.collections.iter().enumerate() {
            let _ = writeln!(out, "  c{i}[{name}]");
        }
        for e in &self.edges {
            let arrow = if e.enforced { "-->" } else { "-.->" };
            let _ = writeln!(out, "  c{} {arrow}|{}| c{}", e.from, e.via, e.to);
        }
        let _ = writeln!(out, "```");
        out
    }
}

fn write_model(out: &mut String, schema: &Schema, def: &ModelDef) {
    let _ = writeln!(
        out,
        "### `{}` ({})\n\n_id strategy: `{}`; unknown fields: {}.\n",
        def.collection,
        def.rust_name,
        def.id_strategy.as_str(),
        match def.unknown_fields {
            crate::model::UnknownFields::Report => "dropped and reported",
            crate::model::UnknownFields::Ignore => "ignored",
            crate::model::UnknownFields::Reject => "rejected",
        }
    );
    for table in &def.tables {
        let role = match &table.role {
            TableRole::Collection => "one row per document".to_string(),
            TableRole::Junction { .. } => "one row per distinct array element".to_string(),
            TableRole::Child { .. } => "one row per array element".to_string(),
        };
        let _ = writeln!(
            out,
            "- table `{}` from `{}`: {role}; primary key ({})",
            table.name,
            table.source,
            table.primary_key.join(", ")
        );
        for col in &table.columns {
            let mut notes = Vec::new();
            if !col.nullable {
                notes.push("not null".to_string());
            }
            if let Some(r) = table.references.iter().find(|r| r.column == col.name) {
                let target = schema
                    .resolve(def, &r.target)
                    .map(|t| format!("{}.{}", t.table, t.column))
                    .unwrap_or_else(|| "?".into());
                notes.push(format!("-> `{target}`, missing: {}", r.on_missing.as_str()));
                if r.on_missing == MissingPolicy::Keep {
                    notes.push("no foreign key (values kept unchecked)".into());
                }
            }
            let _ = writeln!(
                out,
                "  - `{}` {} <- `{}`{}{}",
                col.name,
                col.ty.sql(),
                col.source,
                if notes.is_empty() { "" } else { "; " },
                notes.join("; ")
            );
        }
    }
    out.push('\n');
}

/// Tarjan's strongly connected components over `deps` (edges from a node to what it depends on).
/// Components are returned so that every component comes after the ones it depends on.
fn strongly_connected(deps: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        deps: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in s.deps[v].iter() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut members = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                members.push(w);
                if w == v {
                    break;
                }
            }
            members.sort_unstable();
            s.out.push(members);
        }
    }
    let n = deps.len();
    let mut s = State {
        deps,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(usize, usize)]) -> Vec<BTreeSet<usize>> {
        let mut g = vec![BTreeSet::new(); n];
        for &(a, b) in edges {
            g[a].insert(b);
        }
        g
    }

    #[test]
    fn components_come_after_their_dependencies() {
        // 0 -> 1 -> 2, 2 <-> 3 (cycle), 4 alone
        let comps = strongly_connected(&graph(5, &[(0, 1), (1, 2), (2, 3), (3, 2)]));
        let pos = |x: usize| comps.iter().position(|c| c.contains(&x)).expect("present");
        assert!(pos(2) < pos(1) && pos(1) < pos(0));
        assert_eq!(pos(2), pos(3));
        assert_eq!(comps.iter().filter(|c| c.len() > 1).count(), 1);
        assert_eq!(comps.len(), 4);
    }
}
