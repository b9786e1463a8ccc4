#!/usr/bin/env python3
"""Validates rendered Kubernetes manifests and ingress-nginx Helm values files.

Usage: validate_manifests.py DIR [--kubernetes-version 1.33]

Walks DIR recursively (DIR may also be a single file):

* ``*.yaml`` / ``*.yml`` (multi-document) and ``*.json`` (one JSON object) are manifests; a
  ``kind: List`` object expands to its ``items``. Every object is validated:
  - core Kubernetes kinds (API groups without a dot, or ending in ``.k8s.io``) with the
    kubernetes-validate package's strict schemas (unknown fields are errors) for the pinned
    Kubernetes version;
  - cert-manager, Calico and AWS Load Balancer Controller kinds against the ``openAPIV3Schema`` of
    the CRDs vendored in ``tests/reference/k8s/`` (unknown fields are errors wherever the CRD does
    not set ``x-kubernetes-preserve-unknown-fields``), with a minimal check of ``metadata``;
  - anything else is an error: "no schema for <apiVersion> <kind>".
* ``*.values.yaml`` / ``*.values.json`` are ingress-nginx Helm values: every key path must exist in
  the vendored chart ``values.yaml``, except below a key whose chart default is an empty map,
  null or a list (free-form).
* every other file (and everything in a hidden directory) is skipped and listed as skipped.

Prints one line per problem, ``path: Kind/name: message``, then
``validated N objects in M files, K problems``. Exit status 1 when K > 0 or no object was
validated, 2 when the validator itself cannot run, 0 otherwise.

Not checked: CEL rules (``x-kubernetes-validations``), admission webhooks, the Calico API
server's own checks (selector syntax and the like), and anything needing a live cluster.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime
import difflib
import json
import os
import re
import sys
from typing import Any, Iterator

try:
    import jsonschema
    import yaml
    from kubernetes_validate import utils as kv_utils
    from referencing import Registry, Resource
except ImportError as e:  # pragma: no cover - depends on the environment
    sys.stdout.write(
        f"validate_manifests.py needs the pip packages kubernetes-validate, jsonschema and PyYAML: {e}\n"
    )
    sys.exit(2)

# The Kubernetes version whose schemas core kinds are held to (kubernetes-validate ships one
# directory of schemas per minor version).
KUBERNETES_VERSION = "1.33"

REFERENCE = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference", "k8s")
)

# (API group, kind) -> the vendored CRD file (relative to REFERENCE). The versions come from the
# file's `served` versions. Calico's `projectcalico.org/v3` (served by the Calico API server) has
# its own upstream CRD, whose schema is that of `crd.projectcalico.org/v1` plus
# `required: [metadata, spec]`.
CRDS: dict[tuple[str, str], str] = {
    ("cert-manager.io", "ClusterIssuer"): "cert-manager/cert-manager.io_clusterissuers.yaml",
    ("crd.projectcalico.org", "NetworkPolicy"): "calico/crd.projectcalico.org_networkpolicies.yaml",
    ("crd.projectcalico.org", "GlobalNetworkPolicy"): "calico/crd.projectcalico.org_globalnetworkpolicies.yaml",
    ("projectcalico.org", "NetworkPolicy"): "calico/projectcalico.org_networkpolicies.yaml",
    ("projectcalico.org", "GlobalNetworkPolicy"): "calico/projectcalico.org_globalnetworkpolicies.yaml",
    ("elbv2.k8s.aws", "TargetGroupBinding"): "aws-load-balancer-controller/elbv2.k8s.aws_targetgroupbindings.yaml",
}

HELM_VALUES = "ingress-nginx/values.yaml"
HELM_VALUES_NAME = "HelmValues/ingress-nginx"

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
NULLABLE_STRING = {"type": ["string", "null"]}

# What the API server checks of a custom resource's metadata, kept minimal: a name, and every
# ObjectMeta field of its type (unknown fields are errors, as they are for core kinds).
METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 253, "pattern": DNS_SUBDOMAIN},
        "namespace": {"type": "string", "maxLength": 63, "pattern": DNS_LABEL},
        "generateName": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "selfLink": {"type": "string"},
        "generation": {"type": "integer"},
        "creationTimestamp": NULLABLE_STRING,
        "deletionTimestamp": NULLABLE_STRING,
        "deletionGracePeriodSeconds": {"type": "integer"},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        "managedFields": {"type": "array", "items": {"type": "object"}},
    },
}


# ---------------------------------------------------------------------------------------------
# YAML and JSON as the API server reads them


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (kubectl's strict decoding does) and keeps
    unquoted dates as strings (JSON has no timestamps)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in out
        except TypeError:  # a list or map as a key, which JSON cannot have
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


def _construct_value(loader: _Loader, node: yaml.Node) -> str:
    # A bare `=` scalar (YAML's "value" tag) is the string "=", as kubernetes-validate reads it.
    return str(loader.construct_scalar(node))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:value", _construct_value)


def _json_object(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def load_documents(path: str) -> list[Any]:
    """The file's documents; raises ValueError with a readable message when it cannot be read."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".json"):
        try:
            return [json.loads(text, object_pairs_hook=_json_object)]
        except ValueError as e:
            raise ValueError(f"invalid JSON: {e}") from None
    try:
        return list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as e:
        raise ValueError("invalid YAML: " + " ".join(str(e).split())) from None


# ---------------------------------------------------------------------------------------------
# Schemas


def _int_range(bits: int):
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int):
            return True
        return lo <= value <= hi

    return check


def _base64(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    base64.b64decode(value, validate=True)
    return True


def _date_time(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    datetime.datetime.fromisoformat(value)
    return "T" in value or "t" in value


# The OpenAPI formats the API server checks in custom resources.
FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("int32")(_int_range(32))
FORMATS.checks("int64")(_int_range(64))
FORMATS.checks("byte", raises=(binascii.Error, ValueError))(_base64)
FORMATS.checks("date-time", raises=ValueError)(_date_time)


def _list_map_keys(validator, keys, instance, schema) -> Iterator[jsonschema.ValidationError]:
    """`x-kubernetes-list-type: map`: no two items may share the same key fields."""
    if schema.get("x-kubernetes-list-type") != "map" or not validator.is_type(instance, "array"):
        return
    seen: dict[str, int] = {}
    for i, item in enumerate(instance):
        if not isinstance(item, dict):
            continue
        key = json.dumps([item.get(k) for k in keys], sort_keys=True)
        if key in seen:
            values = ", ".join(f"{k}={item.get(k)!r}" for k in keys)
            yield jsonschema.ValidationError(
                f"duplicate entry ({values}); the same key is at index {seen[key]}", path=(i,)
            )
        else:
            seen[key] = i


CrdValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"x-kubernetes-list-map-keys": _list_map_keys}
)


def to_json_schema(s: Any, structural: bool = True) -> Any:
    """An OpenAPI v3 structural schema as JSON Schema: `nullable` becomes a null type,
    `x-kubernetes-int-or-string` an integer-or-string, `x-kubernetes-list-type: set` unique
    items, and every object schema with `properties` and no `x-kubernetes-preserve-unknown-fields`
    gets `additionalProperties: false` (the API server prunes, and with strict field validation
    rejects, unknown fields there). Schemas below `allOf`/`anyOf`/`oneOf`/`not` only constrain
    values, so they are not closed."""
    if not isinstance(s, dict):
        return s
    out = {k: v for k, v in s.items() if k not in ("properties", "items", "additionalProperties")}
    if s.get("nullable") and "type" in s:
        out["type"] = [s["type"], "null"] if isinstance(s["type"], str) else list(s["type"]) + ["null"]
    if s.get("x-kubernetes-int-or-string") and "type" not in s and "anyOf" not in s and "oneOf" not in s:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if s.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    props = dict(s.get("properties", {}))
    if s.get("x-kubernetes-embedded-resource"):
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    if props:
        out["properties"] = {k: to_json_schema(v, structural) for k, v in props.items()}
    if "items" in s:
        out["items"] = to_json_schema(s["items"], structural)
    if "additionalProperties" in s:
        out["additionalProperties"] = to_json_schema(s["additionalProperties"], structural)
    for junctor in ("allOf", "anyOf", "oneOf"):
        if junctor in s:
            out[junctor] = [to_json_schema(b, False) for b in s[junctor]]
    if "not" in s:
        out["not"] = to_json_schema(s["not"], False)
    if (
        structural
        and props
        and "additionalProperties" not in s
        and not s.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


class Schemas:
    def __init__(self, kubernetes_version: str) -> None:
        self.kubernetes_version = kubernetes_version
        self.k8s_dir = f"kubernetes-json-schema/v{kubernetes_version}.0-local-strict"
        self._k8s_defs: Any = None
        self._k8s: dict[tuple[str, str], Any] = {}
        self._crds: dict[str, dict[str, Any]] = {}
        self._values: Any = None

    # Core kinds ------------------------------------------------------------------------------

    def core_validator(self, api_version: str, kind: str):
        key = (api_version, kind)
        if key not in self._k8s:
            self._k8s[key] = self._load_core(api_version, kind)
        return self._k8s[key]

    def _load_core(self, api_version: str, kind: str):
        group, _, version = api_version.rpartition("/")
        # kubernetes-validate's own file naming: the group's first label, then the version.
        short = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        name = f"{self.k8s_dir}/{kind.lower()}-{short}.json"
        try:
            schema = kv_utils.schema_contents(name, self.kubernetes_version)
        except FileNotFoundError:
            return None
        gvks = schema.get("x-kubernetes-group-version-kind", [])
        if not any(
            g.get("group", "") == group and g.get("version") == version and g.get("kind") == kind
            for g in gvks
        ):
            return None  # the file name matched, but it is another group's kind
        if self._k8s_defs is None:
            self._k8s_defs = kv_utils.schema_contents(f"{self.k8s_dir}/_definitions.json", self.kubernetes_version)
        registry = Resource.from_contents(schema) @ Registry()
        registry = Resource.from_contents(self._k8s_defs) @ registry
        return jsonschema.Draft202012Validator(schema, registry=registry)

    # Custom resources --------------------------------------------------------------------------

    def crd_validator(self, api_version: str, kind: str) -> tuple[Any, str | None]:
        """(validator, None), or (None, why not) for a vendored CRD's kind at an unserved version,
        or (None, None) when no vendored CRD has this kind."""
        group, _, version = api_version.rpartition("/")
        rel = CRDS.get((group, kind))
        if rel is None:
            return None, None
        versions = self._crd_versions(rel)
        if version not in versions:
            return None, f"the vendored CRD {rel} serves {', '.join(sorted(versions))}"
        return versions[version], None

    def _crd_versions(self, rel: str) -> dict[str, Any]:
        if rel not in self._crds:
            path = os.path.join(REFERENCE, rel)
            with open(path, encoding="utf-8") as f:
                docs = [d for d in yaml.load_all(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d]
            if len(docs) != 1 or docs[0].get("kind") != "CustomResourceDefinition":
                raise RuntimeError(f"{path} is not one CustomResourceDefinition")
            versions = {}
            for v in docs[0]["spec"]["versions"]:
                if not v.get("served", False):
                    continue
                schema = to_json_schema(v["schema"]["openAPIV3Schema"])
                schema.setdefault("properties", {})["metadata"] = METADATA_SCHEMA
                schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
                schema["additionalProperties"] = False
                CrdValidator.check_schema(schema)
                versions[v["name"]] = CrdValidator(schema, format_checker=FORMATS)
            self._crds[rel] = versions
        return self._crds[rel]

    # Helm values -------------------------------------------------------------------------------

    def chart_values(self) -> Any:
        if self._values is None:
            with open(os.path.join(REFERENCE, HELM_VALUES), encoding="utf-8") as f:
                text = f.read()
            self._values = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            # The chart documents some top-level keys only as comments (`# fullnameOverride:`);
            # its templates read them, so they are known keys with a free-form default.
            for line in text.splitlines():
                m = re.match(r"^# ([A-Za-z][A-Za-z0-9]*):\s*$", line)
                if m and isinstance(self._values, dict):
                    self._values.setdefault(m.group(1), None)
        return self._values


# ---------------------------------------------------------------------------------------------
# Checks


def _join(path: list[Any], key: Any = None) -> str:
    parts = list(path) + ([] if key is None else [key])
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "(root)"


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _hint(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def describe(error: jsonschema.ValidationError) -> Iterator[str]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and error.validator_value is False and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        patterns = error.schema.get("patternProperties", {})
        for key in sorted(error.instance):
            if key in known or any(re.search(p, key) for p in patterns):
                continue
            yield f"{_join(path, key)}: unknown field{_hint(key, known)}"
    elif error.validator == "required" and isinstance(error.instance, dict):
        for key in error.validator_value:
            if key not in error.instance:
                yield f"{_join(path, key)}: required field is missing"
    elif error.validator in ("anyOf", "oneOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        yield f"{_join(path)}: {_short(error.instance)} matches none of the allowed forms ({best.message})"
    elif error.validator == "pattern" and path in (["metadata", "name"], ["metadata", "namespace"]):
        what = "an RFC 1123 subdomain" if path[-1] == "name" else "an RFC 1123 label"
        yield f"{_join(path)}: {_short(error.instance)} is not {what} (lowercase letters, digits, '-')"
    elif error.validator == "format":
        yield f"{_join(path)}: {_short(error.instance)} is not a valid {error.validator_value}"
    else:
        yield f"{_join(path)}: {error.message}"


def schema_problems(validator: Any, obj: dict) -> list[str]:
    errors = sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    out: list[str] = []
    for e in errors:
        for line in describe(e):
            if line not in out:
                out.append(line)
    return out


def object_problems(schemas: Schemas, obj: dict) -> list[str]:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not api_version:
        return ["apiVersion: required field is missing (or not a string)"]
    if not isinstance(kind, str) or not kind:
        return ["kind: required field is missing (or not a string)"]
    validator, why = schemas.crd_validator(api_version, kind)
    if validator is not None:
        return schema_problems(validator, obj)
    if why is not None:
        return [f"no schema for {api_version} {kind}: {why}"]
    group = api_version.rpartition("/")[0]
    if "." not in group or group.endswith(".k8s.io"):
        validator = schemas.core_validator(api_version, kind)
        if validator is not None:
            problems = schema_problems(validator, obj)
            meta = obj.get("metadata")
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
                if not any(p.startswith("metadata") for p in problems):
                    problems.append("metadata.name: required field is missing")
            return problems
        return [f"no schema for {api_version} {kind} (not a Kubernetes {schemas.kubernetes_version} kind)"]
    return [f"no schema for {api_version} {kind}"]


def values_problems(values: Any, chart: Any, path: list[str]) -> list[str]:
    """Key paths of `values` that the chart's values.yaml does not have."""
    out: list[str] = []
    if not isinstance(values, dict):
        return out
    for key in values:
        here = path + [str(key)]
        dotted = ".".join(here)
        if not isinstance(chart, dict) or key not in chart:
            out.append(f"{dotted}: unknown key path (not in the ingress-nginx chart's values.yaml){_hint(key, chart if isinstance(chart, dict) else [])}")
            continue
        default, given = chart[key], values[key]
        if isinstance(default, dict) and default:
            if isinstance(given, dict):
                out.extend(values_problems(given, default, here))
            elif given is not None:
                out.append(f"{dotted}: expected a map (the chart's default is a map), got {_short(given)}")
        elif default is None or isinstance(default, (dict, list)):
            continue  # free-form below an empty map, a null or a list
        elif isinstance(given, dict):
            out.extend(values_problems(given, default, here))
    return out


# ---------------------------------------------------------------------------------------------
# The walk


class Report:
    def __init__(self) -> None:
        self.objects = 0
        self.files = 0
        self.problems = 0
        self.skipped: list[str] = []

    def problem(self, path: str, who: str, message: str) -> None:
        self.problems += 1
        print(f"{path}: {who}: {message}")


def _who(obj: Any, index: int) -> str:
    if not isinstance(obj, dict):
        return f"(document {index})"
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) and obj.get("kind") else "(no kind)"
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        name = f"(document {index}, no name)"
    return f"{kind}/{name}"


def check_manifest_file(path: str, schemas: Schemas, report: Report) -> None:
    try:
        docs = load_documents(path)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        report.problem(path, "-", str(e))
        return
    objects: list[tuple[int, Any]] = []
    for i, doc in enumerate(docs, start=1):
        if doc is None:
            continue  # an empty document (`---` with nothing after it)
        if isinstance(doc, dict) and doc.get("kind") == "List" and doc.get("apiVersion") == "v1":
            items = doc.get("items")
            if not isinstance(items, list):
                report.problem(path, _who(doc, i), "items: a List needs a list of items")
                continue
            objects.extend((i, item) for item in items)
        else:
            objects.append((i, doc))
    if not objects:
        report.problem(path, "-", "no objects in this file")
        return
    for i, obj in objects:
        report.objects += 1
        if not isinstance(obj, dict):
            report.problem(path, _who(obj, i), f"expected an object (a mapping), got {_short(obj)}")
            continue
        for message in object_problems(schemas, obj):
            report.problem(path, _who(obj, i), message)


def check_values_file(path: str, schemas: Schemas, report: Report) -> None:
    try:
        docs = [d for d in load_documents(path) if d is not None]
    except (OSError, UnicodeDecodeError, ValueError) as e:
        report.problem(path, HELM_VALUES_NAME, str(e))
        return
    report.objects += 1
    if len(docs) > 1:
        report.problem(path, HELM_VALUES_NAME, f"a values file is one document, this one has {len(docs)}")
        return
    values = docs[0] if docs else {}
    if not isinstance(values, dict):
        report.problem(path, HELM_VALUES_NAME, f"expected a map of values, got {_short(values)}")
        return
    for message in values_problems(values, schemas.chart_values(), []):
        report.problem(path, HELM_VALUES_NAME, message)


def kind_of(name: str) -> str | None:
    if name.startswith("."):
        return None
    if name.endswith((".values.yaml", ".values.yml", ".values.json")):
        return "values"
    if name.endswith((".yaml", ".yml", ".json")):
        return "manifest"
    return None


def files_under(root: str, report: Report) -> list[str]:
    if os.path.isfile(root):
        return [root]
    out = []
    for here, dirs, names in os.walk(root):
        for d in sorted(dirs):
            if d.startswith("."):
                report.skipped.append(os.path.join(here, d) + os.sep)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(os.path.join(here, n) for n in sorted(names))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", help="directory (or file) of rendered manifests and values files")
    parser.add_argument("--kubernetes-version", default=KUBERNETES_VERSION, help="default: %(default)s")
    args = parser.parse_args(argv)
    if not os.path.exists(args.dir):
        print(f"{args.dir}: no such file or directory")
        return 2
    schemas = Schemas(args.kubernetes_version)
    try:
        kv_utils.schema_contents(f"{schemas.k8s_dir}/_definitions.json", args.kubernetes_version)
    except (kv_utils.VersionNotSupportedError, FileNotFoundError):
        print(f"kubernetes-validate has no schemas for Kubernetes {args.kubernetes_version}")
        return 2
    report = Report()
    for path in files_under(args.dir, report):
        kind = kind_of(os.path.basename(path))
        # `cloud/` holds documents for a cloud's own tools (IAM policies), not for Kubernetes.
        if kind is None or "cloud" in os.path.relpath(path, args.dir).split(os.sep)[:-1]:
            report.skipped.append(path)
            continue
        report.files += 1
        if kind == "values":
            check_values_file(path, schemas, report)
        else:
            check_manifest_file(path, schemas, report)
    for path in report.skipped:
        print(f"skipped: {path}")
    print(f"validated {report.objects} objects in {report.files} files, {report.problems} problems")
    if report.objects == 0:
        print("no object was validated")
    return 1 if report.problems or report.objects == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
