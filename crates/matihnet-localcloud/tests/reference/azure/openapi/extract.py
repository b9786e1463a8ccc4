#!/usr/bin/env python3
"""Trim a swagger/OpenAPI 2.0 file down to a set of root definitions.

Usage:
  extract.py SWAGGER.json OUT.json ROOT [ROOT ...] [--source-path P] [--commit C] [--repo R]

Writes a JSON object:
  {"source": {...}, "roots": [...], "definitions": {name: <verbatim definition>},
   "externalRefs": [sorted list of "$ref" strings that point into other files]}

Every definition reachable from the roots through "$ref": "#/definitions/X" (transitively,
anywhere inside a definition, including allOf/items/additionalProperties/properties) is copied
verbatim (json.load -> json.dump, key order preserved). Refs into other files
("./network.json#/definitions/SubResource") are recorded under "externalRefs" but not followed.
"""
import argparse
import hashlib
import json
import os
import sys
from collections import OrderedDict


def walk_refs(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.append(v)
            else:
                walk_refs(v, out)
    elif isinstance(node, list):
        for v in node:
            walk_refs(v, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("swagger")
    ap.add_argument("out")
    ap.add_argument("roots", nargs="+")
    ap.add_argument("--source-path", default=None)
    ap.add_argument("--commit", default=None)
    ap.add_argument("--repo", default="Azure/azure-rest-api-specs")
    a = ap.parse_args()

    raw = open(a.swagger, "rb").read()
    spec = json.loads(raw.decode("utf-8-sig"), object_pairs_hook=OrderedDict)
    defs = spec.get("definitions", {})

    missing = [r for r in a.roots if r not in defs]
    if missing:
        sys.exit("root definition(s) not in file: %s" % ", ".join(missing))

    seen = OrderedDict()
    external = set()
    queue = list(a.roots)
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        if name not in defs:
            sys.exit("dangling local ref #/definitions/%s" % name)
        seen[name] = defs[name]
        refs = []
        walk_refs(defs[name], refs)
        for r in refs:
            if r.startswith("#/definitions/"):
                queue.append(r[len("#/definitions/"):])
            elif r.startswith("#/"):
                external.add(r)  # local but not a definition (e.g. #/parameters/...)
            else:
                external.add(r)

    result = OrderedDict()
    result["source"] = OrderedDict([
        ("repo", a.repo),
        ("path", a.source_path or os.path.basename(a.swagger)),
        ("commit", a.commit),
        ("bytes", len(raw)),
        ("sha256", hashlib.sha256(raw).hexdigest()),
        ("info.version", spec.get("info", {}).get("version")),
        ("info.title", spec.get("info", {}).get("title")),
        ("licence", "MIT (Azure/azure-rest-api-specs)"),
    ])
    result["roots"] = a.roots
    result["definitions"] = OrderedDict((k, seen[k]) for k in seen)
    result["externalRefs"] = sorted(external)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print("%s: %d definitions (%d roots), %d external refs" % (
        a.out, len(seen), len(a.roots), len(external)))


if __name__ == "__main__":
    main()
