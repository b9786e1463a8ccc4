//! What an ARM resource id names, from its format alone: the subscription, the resource group,
//! the type path (`Microsoft.Network/virtualNetworks/subnets`, `Microsoft.Network/dnsZones/NS`,
//! or `resourceGroups` for a group itself) and the names along it; so an import of another
//! kind's id is refused before any call.

use matihnet_core::ownership;
use matihnet_core::{ErrorKind, ProviderError};

/// A parsed ARM id.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ArmId<'a> {
    pub subscription: &'a str,
    pub group: &'a str,
    /// `resourceGroups`, or the provider namespace and the type segments joined by `/`.
    pub type_path: String,
    /// The names after each type segment, outermost first (a record set: zone, then record).
    pub names: Vec<&'a str>,
}

pub(crate) fn parse(id: &str) -> Option<ArmId<'_>> {
    let parts: Vec<&str> = id.strip_prefix('/')?.split('/').collect();
    match parts.as_slice() {
        [s, sub, g, group]
            if s.eq_ignore_ascii_case("subscriptions")
                && g.eq_ignore_ascii_case("resourceGroups") =>
        {
            Some(ArmId {
                subscription: sub,
                group,
                type_path: "resourceGroups".to_string(),
                names: vec![group],
            })
        }
        [s, sub, g, group, pr, namespace, rest @ ..]
            if s.eq_ignore_ascii_case("subscriptions")
                && g.eq_ignore_ascii_case("resourceGroups")
                && pr.eq_ignore_ascii_case("providers")
                && !rest.is_empty()
                && rest.len() % 2 == 0 =>
        {
            let mut type_path = namespace.to_string();
            let mut names = Vec::new();
            for pair in rest.chunks(2) {
                type_path.push('/');
                type_path.push_str(pair[0]);
                names.push(pair[1]);
            }
            Some(ArmId {
                subscription: sub,
                group,
                type_path,
                names,
            })
        }
        _ => None,
    }
}

/// The ARM type path of each kind's ids; a record set's ends in its record type.
pub(crate) fn kind_of_type(type_path: &str) -> Option<&'static str> {
    let t = type_path.to_ascii_lowercase();
    Some(match t.as_str() {
        "resourcegroups" => "resource_group",
        "microsoft.network/virtualnetworks" => "network",
        "microsoft.network/virtualnetworks/subnets" => "subnet",
        "microsoft.network/publicipaddresses" => "frontend",
        "microsoft.network/dnszones" => "dns_zone",
        _ if t.starts_with("microsoft.network/dnszones/") && t.matches('/').count() == 2 => {
            "dns_record"
        }
        _ => return None,
    })
}

/// The id parsed, when it is of `kind` in `subscription`; otherwise the refusal: another kind's
/// id (named by its ARM type), another subscription, or no ARM id at all.
pub(crate) fn expect<'a>(
    kind: &str,
    id: &'a str,
    subscription: &str,
) -> Result<ArmId<'a>, ProviderError> {
    let Some(parsed) = parse(id) else {
        return Err(ProviderError::new(
            ErrorKind::Rejected,
            format!("`{id}` is not the id of a `{kind}`: Azure gives those as ARM ids (`/subscriptions/<id>/resourceGroups/<group>/…`)"),
        ));
    };
    if kind_of_type(&parsed.type_path) != Some(kind) {
        return Err(ownership::wrong_kind(
            kind,
            id,
            &format!("an ARM `{}`", parsed.type_path),
        ));
    }
    if !parsed.subscription.eq_ignore_ascii_case(subscription) {
        return Err(ProviderError::new(
            ErrorKind::Rejected,
            format!(
                "`{id}` is in subscription {}; this environment manages subscription {subscription}",
                parsed.subscription
            ),
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_say_what_they_name() {
        let vnet =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";
        let subnet = format!("{vnet}/subnets/a");
        assert_eq!(expect("network", vnet, "s").map(|i| i.names), Ok(vec!["v"]));
        assert_eq!(
            expect("subnet", &subnet, "S").map(|i| i.names),
            Ok(vec!["v", "a"])
        );
        let record = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/dnsZones/matih.ai/NS/acme";
        assert_eq!(
            expect("dns_record", record, "s").map(|i| i.names),
            Ok(vec!["matih.ai", "acme"])
        );
        assert_eq!(
            expect("resource_group", "/subscriptions/s/resourceGroups/rg", "s").map(|i| i.group),
            Ok("rg")
        );
        let e = expect("network", &subnet, "s").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert!(
            e.message
                .contains("Microsoft.Network/virtualNetworks/subnets"),
            "{}",
            e.message
        );
        assert!(expect("network", vnet, "other").is_err());
        assert!(expect("network", "matih.ai", "s").is_err());
    }
}
