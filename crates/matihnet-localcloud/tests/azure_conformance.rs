//! Conformance of the local Azure Resource Manager with the reference data in
//! `tests/reference/azure`: every x-ms-example (request/response pairs from the REST API specs)
//! and every interaction of the real az-cli recording is replayed against the emulator, and the
//! status codes, the headers that matter (`Azure-AsyncOperation`, `Location`, `etag`) and the
//! body fields are compared, ignoring ids of operations, etags, GUIDs and addresses.
#![allow(clippy::unwrap_used)]

#[path = "azure/wire.rs"]
mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};
use wire::{path_of, Emulator};

/// Examples of operations matihnet never calls, skipped with the reason printed.
const SKIPPED: [(&str, &str); 3] = [
    ("LoadBalancerCreateWithOutboundRules.json", "load balancers are created by AKS's cloud provider, not by matihnet; the emulator has no Microsoft.Network/loadBalancers"),
    ("LoadBalancerGet.json", "load balancers are created by AKS's cloud provider, not by matihnet; the emulator has no Microsoft.Network/loadBalancers"),
    ("LoadBalancerDelete.json", "load balancers are created by AKS's cloud provider, not by matihnet; the emulator has no Microsoft.Network/loadBalancers"),
];

/// Fields of an example's response that are not compared, with the reason.
const IGNORED: [(&str, &str, &str); 6] = [
    ("PublicIpAddressCreate", "/name", "the example answers name 'testDNS-ip' for a PUT to .../publicIPAddresses/test-ip: an inconsistency in the example; the emulator echoes the path's name"),
    ("PublicIpAddress", "/properties/ipConfiguration", "read-only back-reference to a NIC ip configuration; matihnet creates no NICs and the emulator models none"),
    ("PublicIpAddressCreateCustomizedValues", "/zones", "the example puts zones among the path parameters, outside the request body, so the replayed PUT carries none"),
    ("VirtualNetworkGet", "/properties/defaultPublicNatGateway", "set by a NAT gateway resource, which matihnet does not use and the emulator does not model"),
    ("dns-", "/properties/maxNumberOfRecordSets", "a service limit: 5000 in the 2018 example, 10000 in real traffic since; the emulator answers 10000"),
    ("dns-", "/properties/nameServers", "assigned per zone (the example's ns1-01 placeholders); their shape is checked separately"),
];

/// Fields whose values are random per object or write in real ARM, compared by presence only.
const RANDOM: [&str; 3] = ["etag", "resourceGuid", "ipAddress"];

fn reference_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/azure");
    assert!(
        dir.join("README.md").is_file(),
        "the Azure reference data is missing: expected {} (vendored in the repository) \
         with the x-ms-examples and the az-cli recording",
        dir.display()
    );
    dir
}

/// Compares `expected` against `actual`: every expected field must be there with the same value
/// (extra fields in `actual` are fine: the examples are abridged).
fn compare(expected: &Value, actual: &Value, path: &str, ignored: &[&str], out: &mut Vec<String>) {
    if ignored.contains(&path) {
        return;
    }
    let field = path.rsplit('/').next().unwrap_or("");
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}/{k}");
                if ignored.contains(&p.as_str()) {
                    continue;
                }
                match a.get(k) {
                    Some(av) => compare(ev, av, &p, ignored, out),
                    None => out.push(format!("{p}: missing (expected {ev})")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!("{path}: {} items, expected {}", a.len(), e.len()));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                compare(ev, av, &format!("{path}/{i}"), ignored, out);
            }
        }
        (Value::String(e), Value::String(a)) => {
            let same = if RANDOM.contains(&field) {
                true
            } else if field == "id" || field == "location" || field == "type" {
                // ARM ids, locations and types are case-insensitive.
                e.eq_ignore_ascii_case(a)
            } else if field == "fqdn" {
                // Real Azure DNS answers absolute names (trailing dot); the examples omit it.
                e.trim_end_matches('.') == a.trim_end_matches('.')
            } else {
                e == a
            };
            if !same {
                out.push(format!("{path}: {a:?}, expected {e:?}"));
            }
        }
        (e, a) => {
            if e != a && !RANDOM.contains(&field) {
                out.push(format!("{path}: {a}, expected {e}"));
            }
        }
    }
}

fn ignored_for(file: &str) -> Vec<&'static str> {
    IGNORED
        .iter()
        .filter(|(prefix, _, _)| file.starts_with(prefix))
        .map(|(_, p, _)| *p)
        .collect()
}

fn check_body(file: &str, what: &str, expected: &Value, actual: &Value, extra_ignored: &[&str]) {
    let mut ignored = ignored_for(file);
    ignored.extend_from_slice(extra_ignored);
    let mut diffs = Vec::new();
    compare(expected, actual, "", &ignored, &mut diffs);
    assert!(
        diffs.is_empty(),
        "{file}: {what}: body differs from the reference:\n  {}\nactual body: {actual:#}",
        diffs.join("\n  ")
    );
}

/// The request body to create what an example's response shows: the response minus what the
/// server fills in.
fn creation_body(response: &Value) -> Value {
    let mut body = response.clone();
    strip_read_only(&mut body);
    body
}

fn strip_read_only(v: &mut Value) {
    if let Some(obj) = v.as_object_mut() {
        // A lone `id` is a reference the client sets (a DDoS plan); a named object's is ARM's.
        if obj.contains_key("name") {
            obj.remove("id");
        }
        for k in [
            "etag",
            "type",
            "provisioningState",
            "resourceGuid",
            "ipConfiguration",
            "ipConfigurations",
            "ipAddress",
            "fqdn",
            "numberOfRecordSets",
            "maxNumberOfRecordSets",
            "nameServers",
        ] {
            obj.remove(k);
        }
        for (k, child) in obj.iter_mut() {
            if k != "tags" && k != "metadata" {
                strip_read_only(child);
            }
        }
    } else if let Some(items) = v.as_array_mut() {
        for item in items {
            strip_read_only(item);
        }
    }
}

struct Example {
    file: String,
    params: Value,
    responses: Value,
}

impl Example {
    fn p(&self, name: &str) -> String {
        self.params[name].as_str().unwrap().to_string()
    }

    fn api(&self) -> String {
        self.p("api-version")
    }

    fn group_url(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.p("subscriptionId"),
            self.p("resourceGroupName")
        )
    }

    fn url(&self, rest: &str) -> String {
        format!(
            "{}/providers/Microsoft.Network/{rest}?api-version={}",
            self.group_url(),
            self.api()
        )
    }

    fn response(&self, status: &str) -> Value {
        self.responses[status]["body"].clone()
    }

    fn statuses(&self) -> Vec<u16> {
        self.responses
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.parse().unwrap())
            .collect()
    }
}

async fn create_group(emu: &Emulator, group_url: &str, body: Value) {
    let a = emu
        .call(
            "PUT",
            &format!("{group_url}?api-version=2021-04-01"),
            Some(&body),
        )
        .await;
    assert!(
        a.status.is_success(),
        "creating {group_url}: {} {}",
        a.status,
        a.body
    );
}

/// PUT of a network resource: checks the first answer (201, `Updating`, `Azure-AsyncOperation`),
/// waits for the operation and returns the resource as GET shows it.
async fn lro_put(emu: &Emulator, file: &str, url: &str, body: &Value, expect: StatusCode) -> Value {
    let a = emu.call("PUT", url, Some(body)).await;
    assert_eq!(a.status, expect, "{file}: PUT {url}: {}", a.body);
    assert_eq!(
        a.body["properties"]["provisioningState"], "Updating",
        "{file}: a PUT answers while the operation runs"
    );
    let op = a
        .header("azure-asyncoperation")
        .unwrap_or_else(|| panic!("{file}: PUT answered without Azure-AsyncOperation"));
    assert!(
        a.header("location").is_none(),
        "{file}: PUT has no Location (real traffic)"
    );
    let status = emu.wait_operation(&op).await;
    assert_eq!(status.body["status"], "Succeeded", "{file}");
    let got = emu.call("GET", url, None).await;
    assert_eq!(got.status, StatusCode::OK, "{file}");
    assert_eq!(
        got.header("etag").as_deref(),
        got.body["etag"].as_str(),
        "{file}: etag header = body etag"
    );
    got.body
}

/// DELETE of a network resource: 202 with both headers, `Location` polled to its end, then the
/// resource is gone and a second DELETE answers 204.
async fn lro_delete(emu: &Emulator, ex: &Example, url: &str, want_location: bool) {
    let statuses = ex.statuses();
    let a = emu.call("DELETE", url, None).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}: DELETE {url}", ex.file);
    assert!(statuses.contains(&202), "{}: 202 is documented", ex.file);
    let async_op = a.header("azure-asyncoperation");
    assert!(
        async_op.is_some(),
        "{}: DELETE carries Azure-AsyncOperation",
        ex.file
    );
    let documented_headers = ex.responses["202"]["headers"]
        .as_object()
        .map(|h| h.keys().map(|k| k.to_ascii_lowercase()).collect::<Vec<_>>())
        .unwrap_or_default();
    for h in &documented_headers {
        assert!(
            a.header(h).is_some(),
            "{}: 202 lacks the documented {h} header",
            ex.file
        );
    }
    if want_location {
        let location = a
            .header("location")
            .unwrap_or_else(|| panic!("{}: no Location", ex.file));
        assert!(
            location.contains("/operationResults/"),
            "{}: {location}",
            ex.file
        );
        let running = emu.call("GET", &location, None).await;
        assert_eq!(
            running.status,
            StatusCode::ACCEPTED,
            "{}: Location while running",
            ex.file
        );
        let done = emu.wait_location(&location).await;
        assert_eq!(
            done.status,
            StatusCode::NO_CONTENT,
            "{}: Location when done",
            ex.file
        );
    } else {
        let done = emu.wait_operation(&async_op.unwrap()).await;
        assert_eq!(done.body["status"], "Succeeded", "{}", ex.file);
    }
    let gone = emu.call("GET", url, None).await;
    assert_eq!(
        gone.status,
        StatusCode::NOT_FOUND,
        "{}: gone after the operation",
        ex.file
    );
    let again = emu.call("DELETE", url, None).await;
    assert_eq!(
        again.status,
        StatusCode::NO_CONTENT,
        "{}: DELETE of nothing",
        ex.file
    );
    assert!(statuses.contains(&204), "{}: 204 is documented", ex.file);
    if statuses.contains(&200) {
        println!(
            "  {}: documented 200 (synchronous delete) not exercised: the emulator always deletes asynchronously, as the recorded real DELETE does",
            ex.file
        );
    }
}

async fn replay_example(ex: &Example) {
    let emu = Emulator::new(Duration::from_millis(30));
    create_group(&emu, &ex.group_url(), json!({"location": "westus"})).await;
    let f = ex.file.as_str();
    let stem = f.trim_end_matches(".json");
    match stem {
        "VirtualNetworkCreate" => {
            let url = ex.url(&format!("virtualNetworks/{}", ex.p("virtualNetworkName")));
            let body = ex.params["parameters"].clone();
            let got = lro_put(&emu, f, &url, &body, StatusCode::CREATED).await;
            check_body(f, "201 then GET", &ex.response("201"), &got, &[]);
            let got = lro_put(&emu, f, &url, &body, StatusCode::OK).await;
            check_body(f, "200 then GET", &ex.response("200"), &got, &[]);
        }
        "VirtualNetworkGet" => {
            let expected = ex.response("200");
            let url = ex.url(&format!("virtualNetworks/{}", ex.p("virtualNetworkName")));
            let mut body = creation_body(&expected);
            body.as_object_mut().unwrap().remove("name");
            body["properties"].as_object_mut().unwrap().remove("defaultPublicNatGateway");
            lro_put(&emu, f, &url, &body, StatusCode::CREATED).await;
            // The subnet's ipConfigurations back-reference comes from what uses it.
            for s in expected["properties"]["subnets"].as_array().unwrap() {
                for user in s["properties"]["ipConfigurations"].as_array().into_iter().flatten() {
                    emu.cloud
                        .mark_subnet_in_use(s["id"].as_str().unwrap(), user["id"].as_str().unwrap())
                        .unwrap();
                }
            }
            let got = emu.call("GET", &url, None).await;
            assert_eq!(got.status, StatusCode::OK, "{f}");
            check_body(f, "GET", &expected, &got.body, &[]);
        }
        "VirtualNetworkDelete" => {
            let url = ex.url(&format!("virtualNetworks/{}", ex.p("virtualNetworkName")));
            let body = json!({"location": "westus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}});
            lro_put(&emu, f, &url, &body, StatusCode::CREATED).await;
            lro_delete(&emu, ex, &url, true).await;
        }
        "SubnetCreate" | "SubnetGet" | "SubnetDelete" => {
            let vnet = ex.url(&format!("virtualNetworks/{}", ex.p("virtualNetworkName")));
            let body = json!({"location": "westus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}});
            lro_put(&emu, f, &vnet, &body, StatusCode::CREATED).await;
            let url = ex.url(&format!(
                "virtualNetworks/{}/subnets/{}",
                ex.p("virtualNetworkName"),
                ex.p("subnetName")
            ));
            match stem {
                "SubnetCreate" => {
                    let body = ex.params["subnetParameters"].clone();
                    let got = lro_put(&emu, f, &url, &body, StatusCode::CREATED).await;
                    check_body(f, "201 then GET", &ex.response("201"), &got, &[]);
                    let got = lro_put(&emu, f, &url, &body, StatusCode::OK).await;
                    check_body(f, "200 then GET", &ex.response("200"), &got, &[]);
                }
                "SubnetGet" => {
                    let expected = ex.response("200");
                    let mut body = creation_body(&expected);
                    body.as_object_mut().unwrap().remove("name");
                    lro_put(&emu, f, &url, &body, StatusCode::CREATED).await;
                    let got = emu.call("GET", &url, None).await;
                    assert_eq!(got.status, StatusCode::OK, "{f}");
                    check_body(f, "GET", &expected, &got.body, &[]);
                }
                _ => {
                    let body = json!({"properties": {"addressPrefix": "10.0.0.0/24"}});
                    lro_put(&emu, f, &url, &body, StatusCode::CREATED).await;
                    lro_delete(&emu, ex, &url, true).await;
                }
            }
        }
        "PublicIpAddressCreateDefaults" | "PublicIpAddressCreateCustomizedValues" => {
            let url = ex.url(&format!("publicIPAddresses/{}", ex.p("publicIpAddressName")));
            let body = ex.params["parameters"].clone();
            let got = lro_put(&emu, f, &url, &body, StatusCode::CREATED).await;
            check_body(f, "201 then GET", &ex.response("201"), &got, &[]);
            let static_ip = body["properties"]["publicIPAllocationMethod"] == "Static";
            assert_eq!(
                got["properties"].get("ipAddress").is_some(),
                static_ip,
                "{f}: only a provisioned static IP has an address"
            );
            let got = lro_put(&emu, f, &url, &body, StatusCode::OK).await;
            check_body(f, "200 then GET", &ex.response("200"), &got, &[]);
        }
        "PublicIpAddressGet" => {
            let expected = ex.response("200");
            let url = ex.url(&format!("publicIPAddresses/{}", ex.p("publicIpAddressName")));
            let mut body = creation_body(&expected);
            body.as_object_mut().unwrap().remove("name");
            lro_put(&emu, f, &url, &body, StatusCode::CREATED).await;
            let got = emu.call("GET", &url, None).await;
            assert_eq!(got.status, StatusCode::OK, "{f}");
            check_body(f, "GET", &expected, &got.body, &[]);
        }
        "PublicIpAddressDelete" => {
            let url = ex.url(&format!("publicIPAddresses/{}", ex.p("publicIpAddressName")));
            lro_put(&emu, f, &url, &json!({"location": "westus"}), StatusCode::CREATED).await;
            lro_delete(&emu, ex, &url, true).await;
        }
        "dns-CreateOrUpdateZone" | "dns-GetZone" | "dns-DeleteZone" => {
            let url = ex.url(&format!("dnsZones/{}", ex.p("zoneName")));
            let body = if stem == "dns-GetZone" {
                creation_body(&ex.response("200"))
            } else if stem == "dns-DeleteZone" {
                json!({"location": "global"})
            } else {
                ex.params["parameters"].clone()
            };
            let created = emu.call("PUT", &url, Some(&body)).await;
            assert_eq!(created.status, StatusCode::CREATED, "{f}: {}", created.body);
            assert!(created.header("azure-asyncoperation").is_none(), "{f}: DNS is synchronous");
            check_name_servers(f, &created.body);
            match stem {
                "dns-CreateOrUpdateZone" => {
                    check_body(f, "201", &ex.response("201"), &created.body, &[]);
                    let again = emu.call("PUT", &url, Some(&body)).await;
                    assert_eq!(again.status, StatusCode::OK, "{f}");
                    check_body(f, "200", &ex.response("200"), &again.body, &[]);
                    assert_ne!(again.body["etag"], created.body["etag"], "{f}: every write changes the etag");
                }
                "dns-GetZone" => {
                    let got = emu.call("GET", &url, None).await;
                    assert_eq!(got.status, StatusCode::OK, "{f}");
                    check_body(f, "GET", &ex.response("200"), &got.body, &[]);
                }
                _ => lro_delete(&emu, ex, &url, false).await,
            }
        }
        "dns-CreateOrUpdateARecordset" | "dns-CreateOrUpdateNSRecordset" | "dns-GetNSRecordset"
        | "dns-DeleteARecordset" => {
            let zone = ex.url(&format!("dnsZones/{}", ex.p("zoneName")));
            let z = emu.call("PUT", &zone, Some(&json!({"location": "global"}))).await;
            assert_eq!(z.status, StatusCode::CREATED, "{f}");
            let url = ex.url(&format!(
                "dnsZones/{}/{}/{}",
                ex.p("zoneName"),
                ex.p("recordType"),
                ex.p("relativeRecordSetName")
            ));
            let body = if stem == "dns-GetNSRecordset" {
                creation_body(&ex.response("200"))
            } else if stem == "dns-DeleteARecordset" {
                json!({"properties": {"TTL": 300, "ARecords": [{"ipv4Address": "192.0.2.1"}]}})
            } else {
                ex.params["parameters"].clone()
            };
            let created = emu.call("PUT", &url, Some(&body)).await;
            assert_eq!(created.status, StatusCode::CREATED, "{f}: {}", created.body);
            match stem {
                "dns-GetNSRecordset" => {
                    let got = emu.call("GET", &url, None).await;
                    assert_eq!(got.status, StatusCode::OK, "{f}");
                    check_body(f, "GET", &ex.response("200"), &got.body, &[]);
                }
                "dns-DeleteARecordset" => {
                    let a = emu.call("DELETE", &url, None).await;
                    assert_eq!(a.status, StatusCode::OK, "{f}: DELETE of a record set");
                    assert!(a.header("azure-asyncoperation").is_none() && a.header("location").is_none(), "{f}: synchronous");
                    let b = emu.call("DELETE", &url, None).await;
                    assert_eq!(b.status, StatusCode::NO_CONTENT, "{f}: DELETE of an absent record set");
                    assert!(ex.statuses().contains(&200) && ex.statuses().contains(&204));
                }
                _ => {
                    check_body(f, "201", &ex.response("201"), &created.body, &[]);
                    let again = emu.call("PUT", &url, Some(&body)).await;
                    assert_eq!(again.status, StatusCode::OK, "{f}");
                    check_body(f, "200", &ex.response("200"), &again.body, &[]);
                }
            }
        }
        other => panic!("{other}: an example the conformance test does not know; add it to the replay or to SKIPPED with a reason"),
    }
}

fn check_name_servers(file: &str, zone: &Value) {
    let ns: Vec<&str> = zone["properties"]["nameServers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ns.len(), 4, "{file}: four name servers");
    for (i, (n, tld)) in ns.iter().zip(["com", "net", "org", "info"]).enumerate() {
        let prefix = format!("ns{}-", i + 1);
        let suffix = format!(".azure-dns.{tld}.");
        assert!(
            n.starts_with(&prefix)
                && n.ends_with(&suffix)
                && n[prefix.len()..n.len() - suffix.len()]
                    .chars()
                    .all(|c| c.is_ascii_digit()),
            "{file}: name server {n} is not like {prefix}NN{suffix}"
        );
    }
}

#[tokio::test]
async fn every_x_ms_example_replays() {
    let dir = reference_dir();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "expected the 20 example files in {}",
        dir.display()
    );
    for (prefix, path, reason) in IGNORED {
        println!("not compared: {prefix}* {path}: {reason}");
    }
    let mut replayed = 0;
    for file in files {
        if let Some((_, reason)) = SKIPPED.iter().find(|(f, _)| *f == file) {
            println!("SKIPPED {file}: {reason}");
            continue;
        }
        let raw: Value = serde_json::from_slice(&std::fs::read(dir.join(&file)).unwrap()).unwrap();
        let ex = Example {
            file: file.clone(),
            params: raw["parameters"].clone(),
            responses: raw["responses"].clone(),
        };
        println!("replaying {file}");
        replay_example(&ex).await;
        replayed += 1;
    }
    assert_eq!(replayed, 17, "every non-skipped example is replayed");
}

/// Maps the recording's random values (operation ids, etags) to the emulator's, checking that the
/// mapping is one-to-one: an etag that stays the same in the recording stays the same here, and
/// one that changes changes.
#[derive(Default)]
struct Correspondence {
    forward: BTreeMap<String, String>,
}

impl Correspondence {
    fn pair(&mut self, what: &str, recorded: &str, actual: &str) {
        if let Some(prev) = self.forward.get(recorded) {
            assert_eq!(
                prev, actual,
                "{what}: the recording repeats {recorded}; the emulator changed it"
            );
        } else {
            assert!(
                !self.forward.values().any(|v| v == actual),
                "{what}: the recording has a new value {recorded}; the emulator repeated {actual}"
            );
            self.forward
                .insert(recorded.to_string(), actual.to_string());
        }
    }
}

fn operation_id(url: &str) -> String {
    url.split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_az_cli_recording_replays() {
    let path = reference_dir().join("real-azcli-public-ip-lifecycle.recording.yaml");
    let cassette: serde_yaml::Value =
        serde_yaml::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let interactions = cassette["interactions"].as_sequence().unwrap();
    // A delay long enough that the recorded `InProgress` poll, sent right after the DELETE, sees it
    // running; the recorded `Succeeded` polls are retried until the operation ends, as az does.
    let emu = Emulator::new(Duration::from_millis(300));
    let mut ops = Correspondence::default();
    let mut etags = Correspondence::default();
    let mut group_created = false;
    for (i, it) in interactions.iter().enumerate() {
        let req = &it["request"];
        let resp = &it["response"];
        let method = req["method"].as_str().unwrap();
        let mut uri = path_of(req["uri"].as_str().unwrap());
        for (recorded, actual) in &ops.forward {
            uri = uri.replace(recorded.as_str(), actual);
        }
        let what = format!("interaction {i}: {method} {uri}");
        let want_status = resp["status"]["code"].as_u64().unwrap() as u16;
        let text = resp["body"]["string"].as_str().unwrap_or("");
        let want_body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(text).unwrap()
        };
        let header = |name: &str| -> Option<String> {
            resp["headers"][name]
                .as_sequence()
                .and_then(|s| s.first())
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        if !group_created && uri.to_ascii_lowercase().contains("/resourcegroups/") {
            // The recording starts with an existing group: create it as it shows it.
            let group_uri = uri.split('?').next().unwrap().to_string();
            let group_uri = group_uri.split("/providers/").next().unwrap().to_string();
            create_group(&emu, &group_uri, json!({"location": "westus", "tags": {"product": "azurecli", "cause": "automation", "date": "2022-10-05T17:20:23Z"}})).await;
            group_created = true;
        }
        let body: Option<Value> = req["body"]
            .as_str()
            .map(|b| serde_json::from_str(b).unwrap());
        let is_status_poll = uri.contains("/operations/");
        let is_result_poll = uri.contains("/operationResults/");
        let got = if is_status_poll && want_body["status"] != "InProgress" {
            emu.wait_operation(&uri).await
        } else if is_result_poll && want_status != 202 {
            emu.wait_location(&uri).await
        } else {
            emu.call(method, &uri, body.as_ref()).await
        };
        assert_eq!(got.status.as_u16(), want_status, "{what}: {}", got.body);
        for h in ["azure-asyncoperation", "location"] {
            assert_eq!(
                got.header(h).is_some(),
                header(h).is_some(),
                "{what}: presence of the {h} header"
            );
            if let (Some(recorded), Some(actual)) = (header(h), got.header(h)) {
                ops.pair(&what, &operation_id(&recorded), &operation_id(&actual));
                let shape = |u: &str| {
                    let path = path_of(u);
                    let path = path.split('?').next().unwrap();
                    path.rsplit_once('/').unwrap().0.to_ascii_lowercase()
                };
                assert_eq!(shape(&recorded), shape(&actual), "{what}: {h} URL shape");
            }
        }
        if let Some(recorded) = header("etag") {
            let actual = got
                .header("etag")
                .unwrap_or_else(|| panic!("{what}: no etag header"));
            assert_eq!(
                Some(actual.as_str()),
                got.body["etag"].as_str(),
                "{what}: etag header = body etag"
            );
            etags.pair(&what, &recorded, &actual);
        }
        if let Some(recorded) = want_body["etag"].as_str() {
            etags.pair(
                &what,
                recorded,
                got.body["etag"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: no etag")),
            );
        }
        for item in want_body["value"]
            .as_array()
            .into_iter()
            .flatten()
            .zip(got.body["value"].as_array().into_iter().flatten())
        {
            etags.pair(
                &what,
                item.0["etag"].as_str().unwrap(),
                item.1["etag"].as_str().unwrap(),
            );
        }
        if want_body["properties"]["ipAddress"].is_string() {
            assert!(
                got.body["properties"]["ipAddress"].is_string(),
                "{what}: provisioned static IP has an address"
            );
        }
        let mut diffs = Vec::new();
        compare(&want_body, &got.body, "", &[], &mut diffs);
        assert!(
            diffs.is_empty(),
            "{what}: body differs from the recording:\n  {}\nactual: {:#}",
            diffs.join("\n  "),
            got.body
        );
    }
    println!("replayed {} recorded interactions", interactions.len());
}
