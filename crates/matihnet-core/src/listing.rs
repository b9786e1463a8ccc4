//! Answering many reads from one listing: the reads of a batch are grouped (by zone, say); a
//! group of one is read alone, a larger group is listed once and each read answered from the
//! listing. One copy of that bookkeeping for every provider's `read_many`.

use std::collections::BTreeMap;
use std::future::Future;

use crate::{Attrs, ProviderError};

/// One answer per prior, in order. `group` names each prior's group; `read_one` reads a prior
/// alone; `list` lists a group (`None`: the group itself is gone, so every object in it is);
/// `find` picks a prior's object out of its group's listing.
pub async fn read_by_listing<'a, G, L, R, RF, LF>(
    priors: &[&'a Attrs],
    group: impl Fn(&Attrs) -> G,
    read_one: impl Fn(&'a Attrs) -> RF,
    list: impl Fn(G) -> LF,
    find: impl Fn(&Attrs, &L) -> Option<R>,
) -> Vec<Result<Option<R>, ProviderError>>
where
    G: Ord + Clone,
    RF: Future<Output = Result<Option<R>, ProviderError>>,
    LF: Future<Output = Result<Option<L>, ProviderError>>,
{
    let mut groups: BTreeMap<G, Vec<usize>> = BTreeMap::new();
    for (i, prior) in priors.iter().enumerate() {
        groups.entry(group(prior)).or_default().push(i);
    }
    let mut out: Vec<Option<Result<Option<R>, ProviderError>>> =
        priors.iter().map(|_| None).collect();
    for (g, indexes) in groups {
        if let [i] = indexes[..] {
            out[i] = Some(read_one(priors[i]).await);
            continue;
        }
        let listed = list(g).await;
        for i in indexes {
            out[i] = Some(match &listed {
                Err(e) => Err(e.clone()),
                Ok(None) => Ok(None),
                Ok(Some(l)) => Ok(find(priors[i], l)),
            });
        }
    }
    out.into_iter().map(|r| r.unwrap_or(Ok(None))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn prior(zone: &str, name: &str) -> Attrs {
        let mut a = Attrs::new();
        a.insert("zone".into(), Value::from(zone));
        a.insert("name".into(), Value::from(name));
        a
    }

    #[tokio::test]
    async fn a_group_of_one_is_read_alone_and_larger_ones_are_listed_once() {
        let (a1, a2, b1) = (prior("a", "x"), prior("a", "y"), prior("b", "z"));
        let priors = [&a1, &a2, &b1];
        let lists = AtomicU32::new(0);
        let reads = AtomicU32::new(0);
        let out = read_by_listing(
            &priors,
            |p| p["zone"].to_string(),
            |p| {
                reads.fetch_add(1, Ordering::SeqCst);
                async move { Ok(Some(p.clone())) }
            },
            |_zone| {
                lists.fetch_add(1, Ordering::SeqCst);
                async { Ok(Some(vec!["x".to_string()])) }
            },
            |p, listed: &Vec<String>| {
                listed
                    .contains(&p["name"].as_str().unwrap_or_default().to_string())
                    .then(|| p.clone())
            },
        )
        .await;
        assert_eq!((lists.into_inner(), reads.into_inner()), (1, 1));
        assert!(matches!(out[0], Ok(Some(_))), "x is listed");
        assert!(matches!(out[1], Ok(None)), "y is not");
        assert!(matches!(out[2], Ok(Some(_))), "z was read alone");
    }
}
