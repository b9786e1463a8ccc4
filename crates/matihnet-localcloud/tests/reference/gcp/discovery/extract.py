#!/usr/bin/env python3
"""Trim a Google API Discovery document down to the parts the local cloud emulates.

Usage:
    python3 extract.py --preset compute FULL_DOCUMENT.json OUT.json
    python3 extract.py --preset dns     FULL_DOCUMENT.json OUT.json
    python3 extract.py --schema Network --resource networks FULL.json OUT.json

The output holds, copied value-for-value from the source document (key order kept):
  * the top-level keys "name", "version", "revision", "rootUrl", "servicePath";
  * "schemas": the root schemas named by the preset / --schema, plus every schema they
    reference through "$ref", transitively;
  * "resources": for every collection named by the preset / --resource, its "methods"
    object (HTTP method, path, flatPath, parameters, request/response refs).
Only the JSON formatting is re-done (indent=2, non-ASCII kept). Nothing is added or changed.
Schemas referenced only by the kept methods' request/response (and not reachable from the
roots) are NOT added; they are listed on stderr so the reader knows what is missing.
"""

import argparse
import json
import sys
from collections import OrderedDict

PRESETS = {
    "compute": {
        "schemas": [
            "Network", "NetworkList", "Subnetwork", "SubnetworkList",
            "SubnetworkSecondaryRange", "Address", "AddressList", "Operation",
            "OperationList", "NetworkRoutingConfig", "NetworkPeering",
            "NetworksAddPeeringRequest",
            # request/response bodies of kept methods that the recordings use
            "SubnetworkAggregatedList", "AddressAggregatedList", "OperationAggregatedList",
            "SubnetworksSetPrivateIpGoogleAccessRequest", "SubnetworksExpandIpCidrRangeRequest",
            "RegionSetLabelsRequest", "GlobalSetLabelsRequest", "NetworksRemovePeeringRequest",
        ],
        "resources": [
            "networks", "subnetworks", "addresses", "globalAddresses",
            "globalOperations", "regionOperations",
        ],
    },
    "dns": {
        "schemas": [
            "ManagedZone", "ManagedZonesListResponse", "ResourceRecordSet",
            "ResourceRecordSetsListResponse", "Change", "ChangesListResponse", "Operation",
            "ResourceRecordSetsDeleteResponse",
        ],
        "resources": ["managedZones", "resourceRecordSets", "changes"],
    },
}

TOP_LEVEL = ["name", "version", "revision", "rootUrl", "servicePath"]


def refs_in(node):
    """Yield every "$ref" value found anywhere inside node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs_in(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs_in(v)


def closure(schemas, roots):
    keep, todo, missing = [], list(roots), []
    seen = set()
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        if name not in schemas:
            missing.append(name)
            continue
        keep.append(name)
        todo.extend(r for r in refs_in(schemas[name]) if r not in seen)
    return keep, missing


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS))
    ap.add_argument("--schema", action="append", default=[], help="extra root schema")
    ap.add_argument("--resource", action="append", default=[], help="extra resource collection")
    ap.add_argument("source")
    ap.add_argument("output")
    a = ap.parse_args()

    roots, resources = list(a.schema), list(a.resource)
    if a.preset:
        roots = PRESETS[a.preset]["schemas"] + roots
        resources = PRESETS[a.preset]["resources"] + resources
    if not roots and not resources:
        ap.error("nothing to extract: give --preset, --schema or --resource")

    with open(a.source, "r", encoding="utf-8") as f:
        doc = json.load(f, object_pairs_hook=OrderedDict)

    out = OrderedDict()
    for k in TOP_LEVEL:
        if k in doc:
            out[k] = doc[k]

    all_schemas = doc.get("schemas", {})
    keep, missing = closure(all_schemas, roots)
    # Source order, not discovery order, so diffs against the source stay readable.
    keep_set = set(keep)
    out["schemas"] = OrderedDict((n, s) for n, s in all_schemas.items() if n in keep_set)

    out["resources"] = OrderedDict()
    method_refs = set()
    for r in resources:
        res = doc.get("resources", {}).get(r)
        if res is None or "methods" not in res:
            print(f"warning: resources.{r}.methods not in the source", file=sys.stderr)
            continue
        out["resources"][r] = OrderedDict([("methods", res["methods"])])
        method_refs.update(refs_in(res["methods"]))

    for m in missing:
        print(f"warning: root or referenced schema {m!r} not in the source", file=sys.stderr)
    outside = sorted(method_refs - keep_set)
    if outside:
        print("note: schemas named by kept methods but not kept (not reachable from the roots): "
              + ", ".join(outside), file=sys.stderr)
    print(f"kept {len(out['schemas'])} schemas: " + ", ".join(out["schemas"]), file=sys.stderr)
    print(f"kept methods of: " + ", ".join(out["resources"]), file=sys.stderr)

    with open(a.output, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
