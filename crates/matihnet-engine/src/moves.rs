//! Moves: an object whose address changed in the file (a tenant or node pool renamed) keeps its
//! cloud object instead of being deleted and created again. A move is either declared (a
//! `[[moved]]` entry, Terraform's `moved` block) or proposed by the plan when a resource the
//! state records and the file no longer names is otherwise identical to one the file names and
//! the state does not.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use matihnet_core::{Address, Attrs, DesiredResource};
use matihnet_state::State;
use serde::{Deserialize, Serialize};

/// One planned move of a state entry; the cloud is not touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    pub from: Address,
    pub to: Address,
    /// Proposed by the plan (identical objects), not declared in the file.
    pub automatic: bool,
}

/// The moves to make: the declared ones that still apply (a declared move whose `from` is no
/// longer in the state was made by an earlier apply and is skipped), then the proposed ones.
/// `order` is the configuration in dependency order, so that a resource whose references point
/// at a moved resource is compared after that move. `claimed` are addresses that an import or
/// an existing object fills: they are never the target of a proposed move.
pub(crate) fn plan_moves(
    desired: &[DesiredResource],
    order: &[Address],
    state: &State,
    declared: &[(Address, Address)],
    claimed: &BTreeSet<Address>,
) -> Result<Vec<Move>, Vec<String>> {
    let by_addr: BTreeMap<&Address, &DesiredResource> =
        desired.iter().map(|r| (&r.addr, r)).collect();
    let mut errors = Vec::new();
    let mut moves = Vec::new();
    // Addresses as they will be once the moves so far are made.
    let mut view: BTreeMap<Address, &Attrs> = state
        .resources
        .iter()
        .map(|(a, r)| (a.clone(), &r.attributes))
        .collect();
    for (from, to) in declared {
        if from == to {
            errors.push(format!("moved: from and to are both {from}"));
            continue;
        }
        if from.kind != to.kind {
            errors.push(format!(
                "moved: {from} is a {} and {to} a {}: a move keeps the kind",
                from.kind, to.kind
            ));
            continue;
        }
        if !by_addr.contains_key(to) {
            errors.push(format!(
                "moved: {to} is not declared in the file; a move goes to an address the file declares"
            ));
            continue;
        }
        let Some(attrs) = view.remove(from) else {
            continue;
        };
        if view.contains_key(to) {
            errors.push(format!(
                "moved: both {from} and {to} are in the state; remove one (`matihnet state rm`) before moving"
            ));
            view.insert(from.clone(), attrs);
            continue;
        }
        view.insert(to.clone(), attrs);
        moves.push(Move {
            from: from.clone(),
            to: to.clone(),
            automatic: false,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // Proposals: what the state has and the file no longer names, by kind.
    let mut orphans: BTreeMap<String, Vec<Address>> = BTreeMap::new();
    for (addr, r) in &state.resources {
        let addr = moves
            .iter()
            .find(|m| &m.from == addr)
            .map(|m| &m.to)
            .unwrap_or(addr);
        if !by_addr.contains_key(addr) && !r.existing && !r.tainted {
            orphans
                .entry(addr.kind.clone())
                .or_default()
                .push(addr.clone());
        }
    }
    if orphans.is_empty() {
        return Ok(moves);
    }
    for addr in order {
        if view.contains_key(addr) || claimed.contains(addr) {
            continue;
        }
        let Some(r) = by_addr.get(addr) else { continue };
        if r.existing.is_some() {
            continue;
        }
        let Some(candidates) = orphans.get_mut(addr.kind.as_str()) else {
            continue;
        };
        let lookup = |a: &Address| view.get(a).copied();
        let Some(wanted) = r
            .attrs
            .iter()
            .map(|(k, e)| e.resolve(&lookup).map(|v| (k, v)))
            .collect::<Option<Vec<_>>>()
        else {
            // It refers to something not yet made: it cannot be the same object.
            continue;
        };
        let same: Vec<usize> = candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                view.get(*c)
                    .is_some_and(|a| wanted.iter().all(|(k, v)| a.get(*k) == Some(v)))
            })
            .map(|(i, _)| i)
            .collect();
        // Two identical candidates: which one was renamed is a guess, so propose neither.
        let [i] = same.as_slice() else { continue };
        let from = candidates.remove(*i);
        if let Some(attrs) = view.remove(&from) {
            view.insert(addr.clone(), attrs);
        }
        moves.push(Move {
            from,
            to: addr.clone(),
            automatic: true,
        });
    }
    Ok(moves)
}

/// `state` with `moves` made (borrowed unchanged when there are none).
pub(crate) fn moved<'a>(state: &'a State, moves: &[Move]) -> Cow<'a, State> {
    if moves.is_empty() {
        return Cow::Borrowed(state);
    }
    let mut s = state.clone();
    for m in moves {
        // Checked by `plan_moves`: `from` is there and `to` is free.
        let _ = s.move_resource(&m.from, &m.to);
    }
    Cow::Owned(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use matihnet_core::{Expr, Value};
    use matihnet_state::ResourceState;

    fn recorded(attrs: &[(&str, &str)], deps: &[&Address]) -> ResourceState {
        ResourceState {
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect(),
            dependencies: deps.iter().map(|a| (*a).clone()).collect(),
            tainted: false,
            protect: false,
            existing: false,
        }
    }

    #[test]
    fn a_renamed_zone_and_its_records_are_proposed_as_moves_in_dependency_order() {
        let (old_zone, new_zone) = (
            Address::new("dns_zone", "tenant_acme"),
            Address::new("dns_zone", "tenant_acme_corp"),
        );
        let (old_rec, new_rec) = (
            Address::new("dns_record", "tenant_acme_apex"),
            Address::new("dns_record", "tenant_acme_corp_apex"),
        );
        let mut state = State::new();
        state.resources.insert(
            old_zone.clone(),
            recorded(&[("name", "acme.matih.ai"), ("id", "Z1")], &[]),
        );
        state.resources.insert(
            old_rec.clone(),
            recorded(&[("zone_id", "Z1"), ("name", "@")], &[&old_zone]),
        );
        let desired = vec![
            DesiredResource::new(new_zone.clone()).attr("name", "acme.matih.ai"),
            DesiredResource::new(new_rec.clone())
                .attr("zone_id", Expr::reference(new_zone.clone(), "id"))
                .attr("name", "@"),
        ];
        let order = vec![new_zone.clone(), new_rec.clone()];
        let moves = plan_moves(&desired, &order, &state, &[], &BTreeSet::new()).unwrap();
        assert_eq!(
            moves,
            vec![
                Move {
                    from: old_zone.clone(),
                    to: new_zone.clone(),
                    automatic: true
                },
                Move {
                    from: old_rec,
                    to: new_rec.clone(),
                    automatic: true
                },
            ]
        );
        let after = moved(&state, &moves);
        assert_eq!(after.resources[&new_rec].dependencies, vec![new_zone]);
    }

    #[test]
    fn a_changed_or_ambiguous_object_is_not_proposed_and_declared_moves_are_checked() {
        let old = Address::new("dns_zone", "a");
        let twin = Address::new("dns_zone", "b");
        let new = Address::new("dns_zone", "c");
        let mut state = State::new();
        state
            .resources
            .insert(old.clone(), recorded(&[("name", "a.test")], &[]));
        let desired = vec![DesiredResource::new(new.clone()).attr("name", "c.test")];
        let order = vec![new.clone()];
        let none = BTreeSet::new();
        assert!(plan_moves(&desired, &order, &state, &[], &none)
            .unwrap()
            .is_empty());
        // Declared, it moves even though the name changes (the plan then replaces it).
        let declared = [(old.clone(), new.clone())];
        let moves = plan_moves(&desired, &order, &state, &declared, &none).unwrap();
        assert_eq!(moves.len(), 1);
        assert!(!moves[0].automatic);

        let same = vec![DesiredResource::new(new.clone()).attr("name", "a.test")];
        state
            .resources
            .insert(twin.clone(), recorded(&[("name", "a.test")], &[]));
        assert!(plan_moves(&same, &order, &state, &[], &none)
            .unwrap()
            .is_empty());

        let errors = plan_moves(
            &same,
            &order,
            &state,
            &[
                (old.clone(), Address::new("dns_record", "x")),
                (old.clone(), Address::new("dns_zone", "undeclared")),
            ],
            &none,
        )
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("a move keeps the kind"), "{errors:?}");
        assert!(
            errors[1].contains("is not declared in the file"),
            "{errors:?}"
        );
    }
}
