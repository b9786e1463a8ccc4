//! The one rule, and the one wording, for adopting an object that already exists under the name
//! matihnet would give it: it is ours only if its marks (tags, labels or a description) name this
//! resource's address and this state's lineage.
//!
//! Each provider reads the marks its cloud can carry; this module decides.

use crate::{ErrorKind, OperationContext, ProviderError};

/// What an existing object says about who made it. Providers whose cloud alters values (GCP
/// labels are lowercased and cut to 63 characters) compare like with like by building
/// `expected` with the same alteration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks<'a> {
    pub address: Option<&'a str>,
    pub lineage: Option<&'a str>,
    pub environment: Option<&'a str>,
}

impl<'a> Marks<'a> {
    /// The marks `ctx`'s resource carries, unaltered.
    pub fn of(ctx: &'a OperationContext, address: &'a str) -> Marks<'a> {
        Marks {
            address: Some(address),
            lineage: Some(&ctx.lineage),
            environment: Some(&ctx.environment),
        }
    }

    fn is_empty(&self) -> bool {
        self.address.is_none() && self.lineage.is_none() && self.environment.is_none()
    }
}

/// `Ok` when `found` names the same address and lineage as `expected`; otherwise the refusal,
/// worded the same for every cloud. `what` names the object ("virtual network matih-prod").
pub fn check_owner(what: &str, found: Marks<'_>, expected: Marks<'_>) -> Result<(), ProviderError> {
    if found.address.is_some()
        && found.address == expected.address
        && found.lineage.is_some()
        && found.lineage == expected.lineage
    {
        return Ok(());
    }
    let message = if found.is_empty() {
        format!("{what} already exists and was not made by matihnet; refusing to take it over: delete or rename it, or choose another environment name")
    } else {
        format!(
            "{what} already exists and belongs to {} of another matihnet state (environment {}); refusing to take it over",
            found.address.unwrap_or("another resource"),
            found.environment.unwrap_or("unknown")
        )
    };
    Err(ProviderError::new(ErrorKind::Rejected, message))
}

/// `Ok` when an object may be imported into `ctx`'s state: it carries no marks (made outside
/// matihnet), or its marks name this state's lineage (made by this state under another address,
/// or forgotten with `state rm`). An object another matihnet state owns is refused, worded the
/// same for every cloud, so that two environments never manage one object.
pub fn check_importable(
    what: &str,
    found: Marks<'_>,
    expected: Marks<'_>,
) -> Result<(), ProviderError> {
    if found.lineage.is_none() || found.lineage == expected.lineage {
        return Ok(());
    }
    Err(ProviderError::new(
        ErrorKind::Rejected,
        format!(
            "{what} belongs to {} of another matihnet state (environment {}); refusing to import it: remove it from that state (`matihnet state rm`) and delete its matihnet tags or labels first",
            found.address.unwrap_or("a resource"),
            found.environment.unwrap_or("unknown")
        ),
    ))
}

/// The error for an import id that names an object of another kind (a subnet id given for a
/// network, say), worded the same for every cloud.
pub fn wrong_kind(kind: &str, id: &str, found: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Rejected,
        format!("`{id}` is {found}, not a `{kind}`: give the id of a `{kind}` (`matihnet state show` prints the ids of what the state records)"),
    )
}

/// The refusal to write over a DNS record set that exists and was not made by this state (a
/// record of an existing zone): record sets carry no marks, so one with other values than the
/// file's is someone else's. `id` is what `matihnet import` takes to adopt it instead.
pub fn foreign_record(what: &str, id: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Rejected,
        format!("{what} already exists with other values and was not made by matihnet; refusing to overwrite it: remove it, or take it over with `matihnet import <address> {id}` (or an [[import]] entry), after which the plan shows the change"),
    )
}

/// The error for an import id that names nothing, worded the same for every cloud.
pub fn not_found(kind: &str, id: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::NotFound,
        format!("no `{kind}` with id `{id}` exists (or the credentials in use cannot see it)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Address;

    fn ctx() -> OperationContext {
        OperationContext {
            addr: Address::new("network", "main"),
            environment: "prod".into(),
            lineage: "L1".into(),
        }
    }

    #[test]
    fn adopts_only_its_own_address_and_lineage() {
        let c = ctx();
        let addr = c.addr.to_string();
        let ours = Marks::of(&c, &addr);
        assert!(check_owner("vnet x", ours, ours).is_ok());
        let other_lineage = Marks {
            lineage: Some("L0"),
            ..ours
        };
        let e = check_owner("vnet x", other_lineage, ours).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert!(
            e.message
                .contains("belongs to network.main of another matihnet state (environment prod)"),
            "{}",
            e.message
        );
        let untagged = check_owner("vnet x", Marks::default(), ours).unwrap_err();
        assert!(untagged
            .message
            .contains("vnet x already exists and was not made by matihnet"));
        let address_only = Marks {
            address: Some("network.main"),
            ..Marks::default()
        };
        assert!(
            check_owner("vnet x", address_only, ours).is_err(),
            "a lineage is needed too"
        );
    }

    #[test]
    fn imports_what_nobody_or_this_state_marked_and_refuses_other_states() {
        let c = ctx();
        let addr = c.addr.to_string();
        let ours = Marks::of(&c, &addr);
        assert!(check_importable("vpc x", Marks::default(), ours).is_ok());
        let moved = Marks {
            address: Some("network.old"),
            ..ours
        };
        assert!(check_importable("vpc x", moved, ours).is_ok());
        let theirs = Marks {
            lineage: Some("L0"),
            environment: Some("staging"),
            ..ours
        };
        let e = check_importable("vpc x", theirs, ours).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert_eq!(e.message, "vpc x belongs to network.main of another matihnet state (environment staging); refusing to import it: remove it from that state (`matihnet state rm`) and delete its matihnet tags or labels first");
    }
}
