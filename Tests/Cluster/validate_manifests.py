#!/usr/bin/env python3
"""Offline validation of vramd's cluster deployment files (deploy/kubernetes, deploy/standalone).

    python Tests/Cluster/validate_manifests.py

Needs kubernetes-validate, jsonschema and PyYAML (the project venv has them). No cluster, no
network. What it checks:

- built-in Kubernetes kinds against kubernetes-validate's schemas, strict (unknown fields fail);
- the InferencePool against the openAPIV3Schema of the Gateway API Inference Extension CRD in
  the shared reference folder (VRAMD_GIE_REFERENCE overrides where that is: the CRD file or
  the folder holding it), with unknown fields rejected as `kubectl apply` does, and its two CEL
  rules checked by hand;
- the EPP's EndpointPickerConfig (both copies): known keys and plugin types, vramd's metric names
  in engineConfigs, the lora-affinity scorer in a scheduling profile, parsers, data layer;
- the vramd config inside the ConfigMap: YAML, keys vramd knows (read from
  Sources/VRAMConfig when present), listen/auth/shutdown_grace against the DaemonSet;
  with VRAMD_BINARY set, also `vramd check-config` on it;
- the standalone endpoints file and Envoy config, structurally;
- cross references (selectors, ports, names, namespaces, kustomization resources);
- negative checks: deliberately broken copies must be rejected, so none of the above is a no-op.

Prints one line per failure (`-v`: per check) and `N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

try:
    import jsonschema
    import kubernetes_validate
    import yaml
except ImportError as error:  # pragma: no cover - environment problem, not a check
    print(f"validate_manifests: missing module ({error}); install kubernetes-validate, jsonschema and PyYAML")
    sys.exit(2)

REPO = Path(__file__).resolve().parents[2]
KUBE_DIR = REPO / "deploy" / "kubernetes"
STANDALONE_DIR = REPO / "deploy" / "standalone"
CRD_NAME = "inferencepools.crd.yaml"

# The Kubernetes version whose schemas the built-in kinds are checked against. The newest
# shipped version not above it is used (kubernetes-validate's own rule).
K8S_VERSION = os.environ.get("VRAMD_K8S_VERSION", "1.33")

# The metric names vramd publishes for the EPP (docs/cluster.md).
VRAMD_METRICS = {
    "queuedRequestsSpec": "vramd_requests_queued",
    "runningRequestsSpec": "vramd_requests_running",
    "kvUsageSpec": "vramd_memory_used_ratio",
    "loraSpec": "vramd_model_residency",
}
ENGINE_LABEL = "llm-d.ai/engine-type"
ENGINE_NAME = "vramd"

# What llm-d's EPP accepts, from llm-d/llm-d-router (v0.9.0 and main):
# apix/config/v1alpha1/endpointpickerconfig_types.go
EPP_TOP_KEYS = {"apiVersion", "kind", "featureGates", "plugins", "schedulingProfiles", "dataLayer",
                "flowControl", "requestHandler", "saturationDetector", "parser"}
EPP_API_VERSIONS = {"llm-d.ai/v1alpha1", "inference.networking.x-k8s.io/v1alpha1"}  # the second is deprecated
# pkg/epp/framework/plugins/datalayer/extractor/metrics/factories.go (parameters are decoded
# with DisallowUnknownFields: pkg/epp/framework/interface/plugin/registry.go)
EXTRACTOR_KEYS = {"engineLabelKey", "defaultEngine", "engineConfigs"}
ENGINE_CONFIG_KEYS = {"name", "queuedRequestsSpec", "runningRequestsSpec", "kvUsageSpec", "loraSpec",
                      "cacheInfoSpec", "cacheBlockSizeLabelName", "cacheNumBlocksLabelName",
                      "cacheBlockSizeSpec", "cacheNumBlocksSpec", "customMetrics"}
CUSTOM_METRIC_KEYS = {"attributeKey", "metricSpec"}
# pkg/epp/framework/plugins/datalayer/source/metrics/datasource.go at v0.9.0 (main adds more)
METRICS_SOURCE_KEYS = {"scheme", "path", "insecureSkipVerify"}
# pkg/epp/framework/plugins/datalayer/discovery/file/plugin.go
FILE_DISCOVERY_KEYS = {"path", "watchFile"}
# Type names registered in cmd/epp/runner/runner.go, each from the plugin's own source.
KNOWN_PLUGIN_TYPES = {
    "metrics-data-source", "core-metrics-extractor", "file-discovery",
    "lora-affinity-scorer", "queue-scorer", "kv-cache-utilization-scorer", "prefix-cache-scorer",
    "max-score-picker", "random-picker", "weighted-random-picker", "single-profile-handler",
    "openai-parser", "anthropic-parser", "vllmhttp-parser", "passthrough-parser",
}
PICKERS = {"max-score-picker", "random-picker", "weighted-random-picker"}
PARSERS = {"openai-parser", "anthropic-parser", "vllmhttp-parser", "passthrough-parser"}
FALLBACK_PARSERS = {"passthrough-parser"}  # claims no paths: must be last
# A metric spec as the extractor parses it (extractor/metrics/spec.go): a legacy Prometheus
# metric name, optionally {label=value,...}.
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
METRIC_SPEC = re.compile(r"^\s*(\S+?)\s*(?:\{([^}]*)\})?\s*$")
LABEL_PAIR = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"?([^",}]*)"?\s*$')

# Envoy type URLs the standalone config may use.
ENVOY_TYPES = {
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
    "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute",
    "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
}


class CheckFailed(Exception):
    pass


class SetupError(Exception):
    """Something to check against is missing (not a verdict on the files)."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# ---------------------------------------------------------------------------------------------
# Loading


def load_docs(path: Path) -> list[dict]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def kube_manifests() -> dict[str, list[dict]]:
    return {path.name: load_docs(path) for path in sorted(KUBE_DIR.glob("*.yaml"))
            if path.name != "kustomization.yaml"}


def all_kube_docs() -> list[dict]:
    return [doc for docs in kube_manifests().values() for doc in docs]


def find(kind: str, name: str | None = None) -> dict:
    matches = [doc for doc in all_kube_docs()
               if doc.get("kind") == kind and (name is None or doc["metadata"]["name"] == name)]
    require(len(matches) == 1, f"expected one {kind}{' ' + name if name else ''}, found {len(matches)}")
    return matches[0]


def gie_crd_path() -> Path:
    override = os.environ.get("VRAMD_GIE_REFERENCE")
    if override:
        path = Path(override)
        return path / CRD_NAME if path.is_dir() else path
    return REPO.parent / "shared" / "reference" / "gateway-api-inference-extension" / CRD_NAME


def vramd_config_text() -> str:
    configmap = find("ConfigMap", "vramd-config")
    return configmap["data"]["vramd.yaml"]


def epp_config(which: str) -> dict:
    if which == "kubernetes":
        return yaml.safe_load(find("ConfigMap", "vramd-epp-config")["data"]["epp-config.yaml"])
    return load_docs(STANDALONE_DIR / "epp-config.yaml")[0]


def parse_duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(text))
    require(parts and "".join(a + b for a, b in parts) == str(text), f"not a duration: {text!r}")
    return sum(float(number) * units[unit] for number, unit in parts)


# ---------------------------------------------------------------------------------------------
# Validators (each raises CheckFailed or a library error on a bad input)


def k8s_version() -> str:
    shipped = kubernetes_validate.utils.all_versions()
    wanted = tuple(int(x) for x in K8S_VERSION.split(".")[:2])
    usable = [v for v in shipped if tuple(int(x) for x in v.split(".")[:2]) <= wanted]
    return usable[-1] if usable else shipped[0]


def validate_builtin(doc: dict) -> None:
    try:
        kubernetes_validate.validate(doc, k8s_version(), strict=True)
    except kubernetes_validate.ValidationError as error:
        path = "/".join(str(p) for p in error.absolute_path)
        raise CheckFailed(f"{doc['kind']} {doc['metadata'].get('name')}: {path}: {error.message}")


def closed(schema: Any) -> Any:
    """The CRD schema with unknown fields rejected: an object schema listing properties, with no
    additionalProperties and no x-kubernetes-preserve-unknown-fields, gets additionalProperties:
    false. The API server prunes such fields, and kubectl's default (strict) field validation
    refuses them."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if (schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


def inference_pool_schema() -> tuple[dict, set[str]]:
    path = gie_crd_path()
    if not path.is_file():
        raise SetupError(f"InferencePool CRD not found at {path} (set VRAMD_GIE_REFERENCE)")
    crd = load_docs(path)[0]
    require(crd.get("kind") == "CustomResourceDefinition" and crd["spec"]["names"]["kind"] == "InferencePool",
            f"{path} is not the InferencePool CRD")
    group = crd["spec"]["group"]
    served = {f"{group}/{v['name']}": v for v in crd["spec"]["versions"] if v.get("served")}
    return served, set(served)


def validate_inference_pool(doc: dict) -> None:
    served, api_versions = inference_pool_schema()
    require(doc.get("apiVersion") in api_versions,
            f"InferencePool apiVersion {doc.get('apiVersion')} is not served by the CRD (served: {sorted(api_versions)})")
    schema = closed(served[doc["apiVersion"]]["schema"]["openAPIV3Schema"])
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        raise CheckFailed(f"InferencePool {doc['metadata'].get('name')}: "
                          f"{'/'.join(str(p) for p in first.absolute_path)}: {first.message}")
    name = doc.get("metadata", {}).get("name", "")
    require(re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", name or "") is not None,
            f"InferencePool name {name!r} is not a DNS subdomain")
    # The CRD's x-kubernetes-validations (CEL), checked by hand.
    ref = doc["spec"].get("endpointPickerRef")
    if ref is not None:
        require(ref.get("kind", "Service") != "Service" or "port" in ref,
                "InferencePool endpointPickerRef: port is required when kind is 'Service' or unspecified")
    numbers = [port["number"] for port in doc["spec"]["targetPorts"]]
    require(len(numbers) == len(set(numbers)), "InferencePool targetPorts: port number must be unique")


def validate_metric_spec(spec: str, where: str) -> str:
    match = METRIC_SPEC.match(spec)
    require(match is not None and METRIC_NAME.match(match.group(1)) is not None,
            f"{where}: not a valid metric specification: {spec!r}")
    if match.group(2):
        for pair in match.group(2).split(","):
            require(LABEL_PAIR.match(pair) is not None, f"{where}: invalid label pair {pair!r} in {spec!r}")
    return match.group(1)


def validate_epp_config(config: dict, which: str) -> None:
    where = f"EndpointPickerConfig ({which})"
    require(isinstance(config, dict), f"{where}: not a mapping")
    require(config.get("apiVersion") in EPP_API_VERSIONS, f"{where}: apiVersion {config.get('apiVersion')!r}")
    require(config.get("kind") == "EndpointPickerConfig", f"{where}: kind {config.get('kind')!r}")
    unknown = set(config) - EPP_TOP_KEYS
    require(not unknown, f"{where}: unknown keys {sorted(unknown)}")

    plugins: dict[str, dict] = {}
    for plugin in config.get("plugins", []):
        require(set(plugin) <= {"name", "type", "parameters"}, f"{where}: plugin keys {sorted(plugin)}")
        require(plugin.get("type") in KNOWN_PLUGIN_TYPES, f"{where}: unknown plugin type {plugin.get('type')!r}")
        name = plugin.get("name") or plugin["type"]  # the EPP names an unnamed plugin after its type
        require(name not in plugins, f"{where}: duplicate plugin name {name!r}")
        plugins[name] = plugin

    def of_type(kind: str) -> list[tuple[str, dict]]:
        return [(name, plugin) for name, plugin in plugins.items() if plugin["type"] == kind]

    # Data layer: vramd's metric names.
    extractors = of_type("core-metrics-extractor")
    require(len(extractors) == 1, f"{where}: expected one core-metrics-extractor, found {len(extractors)}")
    params = extractors[0][1].get("parameters") or {}
    require(set(params) <= EXTRACTOR_KEYS, f"{where}: core-metrics-extractor unknown parameters {sorted(set(params) - EXTRACTOR_KEYS)}")
    require(params.get("engineLabelKey", ENGINE_LABEL) == ENGINE_LABEL,
            f"{where}: engineLabelKey {params.get('engineLabelKey')!r}, expected {ENGINE_LABEL}")
    engines = {}
    for engine in params.get("engineConfigs", []):
        unknown = set(engine) - ENGINE_CONFIG_KEYS
        require(not unknown, f"{where}: engineConfigs[{engine.get('name')}] unknown keys {sorted(unknown)}")
        require(engine.get("name") and engine["name"] != "default", f"{where}: engine config name {engine.get('name')!r}")
        engines[engine["name"]] = engine
    require(ENGINE_NAME in engines, f"{where}: no engineConfigs entry named {ENGINE_NAME!r}")
    require(params.get("defaultEngine", "vllm") in engines or params.get("defaultEngine", "vllm") in
            {"vllm", "sglang", "trtllm-serve", "triton-tensorrt-llm", "triton"},
            f"{where}: defaultEngine {params.get('defaultEngine')!r} is not an engine")
    vramd = engines[ENGINE_NAME]
    for key, metric in VRAMD_METRICS.items():
        require(key in vramd, f"{where}: engine vramd has no {key}")
        name = validate_metric_spec(vramd[key], f"{where}: vramd.{key}")
        require(name == metric, f"{where}: vramd.{key} names {name!r}, vramd publishes {metric!r}")
    for custom in vramd.get("customMetrics", []):
        require(set(custom) == CUSTOM_METRIC_KEYS, f"{where}: customMetrics entry keys {sorted(custom)}")
        validate_metric_spec(custom["metricSpec"], f"{where}: customMetrics {custom['attributeKey']}")
        require(custom["metricSpec"].startswith("vramd_"), f"{where}: customMetrics reads a non-vramd metric")

    sources = of_type("metrics-data-source")
    require(len(sources) == 1, f"{where}: expected one metrics-data-source, found {len(sources)}")
    source_params = sources[0][1].get("parameters") or {}
    require(set(source_params) <= METRICS_SOURCE_KEYS, f"{where}: metrics-data-source unknown parameters {sorted(set(source_params) - METRICS_SOURCE_KEYS)}")
    require(source_params.get("path", "/metrics") == "/metrics", f"{where}: metrics path {source_params.get('path')!r}")
    data_layer = config.get("dataLayer") or {}
    require(set(data_layer) <= {"injectDefaults", "sources", "discovery", "peerDiscovery",
                                "crossReplicaSyncerPluginRef", "crossReplicaSyncInterval"},
            f"{where}: dataLayer keys {sorted(data_layer)}")
    for source in data_layer.get("sources", []):
        require(source["pluginRef"] in plugins, f"{where}: dataLayer source {source['pluginRef']!r} is not a plugin")
        for extractor in source.get("extractors", []):
            require(extractor["pluginRef"] in plugins, f"{where}: extractor {extractor['pluginRef']!r} is not a plugin")
    wired = [(s["pluginRef"], e["pluginRef"]) for s in data_layer.get("sources", []) for e in s.get("extractors", [])]
    require((sources[0][0], extractors[0][0]) in wired or not data_layer.get("sources"),
            f"{where}: the metrics source does not feed the core-metrics-extractor")

    # Scheduling: the lora-affinity scorer in a profile, a picker, every ref defined.
    profiles = config.get("schedulingProfiles", [])
    require(profiles, f"{where}: no schedulingProfiles")
    lora_names = {name for name, _ in of_type("lora-affinity-scorer")}
    lora_in_profile = False
    for profile in profiles:
        require(profile.get("name"), f"{where}: a profile has no name")
        refs = [entry["pluginRef"] for entry in profile.get("plugins", [])]
        for entry in profile.get("plugins", []):
            require(set(entry) <= {"pluginRef", "weight"}, f"{where}: profile entry keys {sorted(entry)}")
            require(entry["pluginRef"] in plugins, f"{where}: profile {profile['name']} names undefined plugin {entry['pluginRef']!r}")
            if entry["pluginRef"] in lora_names:
                lora_in_profile = lora_in_profile or entry.get("weight", 1) > 0
        require(any(plugins[ref]["type"] in PICKERS for ref in refs), f"{where}: profile {profile['name']} has no picker")
    require(lora_in_profile, f"{where}: no scheduling profile uses the lora-affinity-scorer")

    # Parsers: all defined, the fallback last.
    parsers = [p["pluginRef"] for p in (config.get("requestHandler") or {}).get("parsers", [])]
    for ref in parsers:
        require(ref in plugins and plugins[ref]["type"] in PARSERS, f"{where}: parser {ref!r} is not a parser plugin")
    fallbacks = [i for i, ref in enumerate(parsers) if plugins[ref]["type"] in FALLBACK_PARSERS]
    require(not fallbacks or fallbacks == [len(parsers) - 1], f"{where}: the passthrough parser must come last")
    require(any(plugins[ref]["type"] == "openai-parser" for ref in parsers), f"{where}: no openai-parser")

    # Discovery: file discovery in the standalone copy only.
    discovery = data_layer.get("discovery")
    if which == "standalone":
        require(discovery and discovery.get("pluginRef") in plugins
                and plugins[discovery["pluginRef"]]["type"] == "file-discovery",
                f"{where}: dataLayer.discovery must name a file-discovery plugin")
        file_params = plugins[discovery["pluginRef"]].get("parameters") or {}
        require(set(file_params) <= FILE_DISCOVERY_KEYS and file_params.get("path"),
                f"{where}: file-discovery parameters {sorted(file_params)}")
    else:
        require(discovery is None and not of_type("file-discovery"),
                f"{where}: the Kubernetes EPP discovers pods through the InferencePool, not a file")


def validate_endpoints(doc: dict) -> None:
    require(set(doc) == {"endpoints"}, f"endpoints.yaml: top-level keys {sorted(doc)}")
    seen = set()
    for entry in doc["endpoints"]:
        require(set(entry) <= {"name", "namespace", "address", "port", "labels"}, f"endpoints.yaml: keys {sorted(entry)}")
        key = (entry.get("namespace", "default"), entry.get("name"))
        require(entry.get("name") and key not in seen, f"endpoints.yaml: name {entry.get('name')!r} missing or repeated")
        seen.add(key)
        try:
            require(isinstance(ipaddress.ip_address(entry["address"]), ipaddress.IPv4Address),
                    f"endpoints.yaml: {entry['name']}: address must be IPv4")
        except ValueError:
            raise CheckFailed(f"endpoints.yaml: {entry['name']}: address {entry['address']!r} is not an IPv4 address")
        require(isinstance(entry["port"], str) and entry["port"].isdigit() and 1 <= int(entry["port"]) <= 65535,
                f"endpoints.yaml: {entry['name']}: port must be a string holding 1-65535")
        require((entry.get("labels") or {}).get(ENGINE_LABEL) == ENGINE_NAME,
                f"endpoints.yaml: {entry['name']}: label {ENGINE_LABEL}: {ENGINE_NAME} missing")


def walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def validate_envoy(doc: dict) -> None:
    for node in walk(doc):
        if "@type" in node:
            require(node["@type"] in ENVOY_TYPES, f"envoy.yaml: unexpected type {node['@type']}")
    clusters = {c["name"]: c for c in doc["static_resources"]["clusters"]}
    ext_procs = [n for n in walk(doc) if n.get("name") == "envoy.filters.http.ext_proc" and "typed_config" in n]
    require(len(ext_procs) == 1, "envoy.yaml: expected one ext_proc filter")
    ext_proc = ext_procs[0]["typed_config"]
    require(ext_proc["grpc_service"]["envoy_grpc"]["cluster_name"] in clusters, "envoy.yaml: ext_proc cluster missing")
    mode = ext_proc["processing_mode"]
    require(mode.get("request_body_mode") == "FULL_DUPLEX_STREAMED" and mode.get("request_header_mode") == "SEND",
            "envoy.yaml: the EPP needs request headers and the streamed body")
    original = [c for c in clusters.values() if c.get("type") == "ORIGINAL_DST"]
    require(len(original) == 1, "envoy.yaml: expected one ORIGINAL_DST cluster")
    lb = original[0].get("original_dst_lb_config", {})
    require(original[0].get("lb_policy") == "CLUSTER_PROVIDED" and lb.get("use_http_header") is True
            and lb.get("http_header_name") == "x-gateway-destination-endpoint",
            "envoy.yaml: the ORIGINAL_DST cluster must follow x-gateway-destination-endpoint")
    for node in walk(doc):
        if "route" in node and isinstance(node["route"], dict) and "cluster" in node["route"]:
            require(node["route"]["cluster"] in clusters, f"envoy.yaml: route to unknown cluster {node['route']['cluster']}")
    router_last = [n for n in walk(doc) if "http_filters" in n]
    require(all(f["http_filters"][-1]["name"] == "envoy.filters.http.router" for f in router_last),
            "envoy.yaml: the router filter must be last")


def swift_string_list(source: str, name: str) -> list[str] | None:
    match = re.search(r"static let " + re.escape(name) + r"(?:: \[String\])? = \[(.*?)\]", source, re.S)
    return re.findall(r'"([^"]+)"', match.group(1)) if match else None


def vramd_known_keys() -> dict[str, list[str]] | None:
    """The config keys vramd's parser allows, read from its sources (None when not readable)."""
    try:
        parser = (REPO / "Sources" / "VRAMConfig" / "ConfigParser.swift").read_text()
    except OSError:
        return None
    keys = {name: swift_string_list(parser, name) for name in ("topLevelKeys", "deviceKeys", "modelKeys")}
    return keys if all(keys.values()) else None


def validate_vramd_config(text: str) -> dict:
    config = yaml.safe_load(text)
    require(isinstance(config, dict), "vramd.yaml: not a mapping")
    require(config.get("models"), "vramd.yaml: no models")
    known = vramd_known_keys()
    if known:
        require(set(config) <= set(known["topLevelKeys"]), f"vramd.yaml: unknown keys {sorted(set(config) - set(known['topLevelKeys']))}")
        for device in config.get("devices", []):
            require(set(device) <= set(known["deviceKeys"]), f"vramd.yaml: device keys {sorted(device)}")
        for name, model in config["models"].items():
            require(set(model) <= set(known["modelKeys"]), f"vramd.yaml: models.{name} keys {sorted(set(model) - set(known['modelKeys']))}")
    host, _, port = str(config.get("listen", "")).rpartition(":")
    require(port.isdigit(), f"vramd.yaml: listen {config.get('listen')!r}")
    if host not in {"127.0.0.1", "localhost", "::1", "[::1]"}:
        require("auth" in config, "vramd.yaml: a non-loopback listen address needs auth (a token, or auth: none)")
    require(any(d.get("kind") == "nvidia" for d in config.get("devices", [])), "vramd.yaml: no nvidia device")
    for name, model in config["models"].items():
        require("," not in name and all("," not in a for a in model.get("aliases", [])),
                f"vramd.yaml: model {name}: a comma would split it in the EPP's adapter lists")
    return config


# ---------------------------------------------------------------------------------------------
# The checks


def check_builtin_kinds() -> list[tuple[str, Callable[[], None]]]:
    checks = []
    for filename, docs in kube_manifests().items():
        for doc in docs:
            group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
            if doc["kind"] in {"InferencePool", "HTTPRoute"} or group.endswith(".x-k8s.io"):
                continue
            checks.append((f"{filename}: {doc['kind']} {doc['metadata']['name']} (Kubernetes {k8s_version()}, strict)",
                           lambda doc=doc: validate_builtin(doc)))
    return checks


def check_inference_pool() -> None:
    validate_inference_pool(find("InferencePool"))


def check_cross_references() -> None:
    pool = find("InferencePool")
    daemonset = find("DaemonSet", "vramd")
    pod = daemonset["spec"]["template"]
    labels = pod["metadata"]["labels"]
    for key, value in pool["spec"]["selector"]["matchLabels"].items():
        require(labels.get(key) == value, f"InferencePool selector {key}={value} does not match the vramd pods")
    require(labels.get(ENGINE_LABEL) == ENGINE_NAME, f"vramd pods lack {ENGINE_LABEL}: {ENGINE_NAME}")
    require(labels.get("app") == "vramd", "vramd pods lack app: vramd")
    container = pod["spec"]["containers"][0]
    http = [p for p in container["ports"] if p.get("name") == "http"]
    require(http and http[0]["containerPort"] == 8770, "vramd container port 8770 named http")
    require([p["number"] for p in pool["spec"]["targetPorts"]] == [8770], "InferencePool targetPorts must be [8770]")
    epp_service = find("Service", pool["spec"]["endpointPickerRef"]["name"])
    require(pool["spec"]["endpointPickerRef"]["port"]["number"] in [p["port"] for p in epp_service["spec"]["ports"]],
            "endpointPickerRef port is not a port of the EPP Service")
    epp_deployment = find("Deployment", "vramd-epp")
    epp_labels = epp_deployment["spec"]["template"]["metadata"]["labels"]
    require(all(epp_labels.get(k) == v for k, v in epp_service["spec"]["selector"].items()),
            "the EPP Service does not select the EPP pods")
    args = epp_deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    require(f"--pool-name={pool['metadata']['name']}" in args, "the EPP's --pool-name is not the InferencePool")
    epp_cm = find("ConfigMap", "vramd-epp-config")
    config_file = [a.split("=", 1)[1] for a in args if a.startswith("--config-file=")]
    mount = epp_deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"]
    require(config_file and config_file[0] == f"{mount}/{next(iter(epp_cm['data']))}",
            "the EPP's --config-file is not the mounted ConfigMap key")
    # vramd: args, probes, GPU, config mount.
    require(container["args"] == ["serve", "--config", "/etc/vramd/vramd.yaml"], "vramd args")
    for probe in ("readinessProbe", "livenessProbe"):
        require(container[probe]["httpGet"]["path"] == "/healthz", f"vramd {probe} must GET /healthz")
    require(str(container["resources"]["limits"].get("nvidia.com/gpu")) == "1", "vramd needs nvidia.com/gpu: 1")
    config_mount = [m for m in container["volumeMounts"] if m["mountPath"] == "/etc/vramd"]
    require(config_mount, "the vramd config is not mounted at /etc/vramd")
    volume = [v for v in pod["spec"]["volumes"] if v["name"] == config_mount[0]["name"]][0]
    require(volume["configMap"]["name"] == "vramd-config", "the vramd config volume is not vramd-config")
    state = [v for v in pod["spec"]["volumes"] if "hostPath" in v and v["hostPath"]["path"] == "/var/lib/vramd"]
    require(state, "no hostPath state directory at /var/lib/vramd")
    # The config agrees with the pod.
    config = yaml.safe_load(vramd_config_text())
    require(config["listen"] == "0.0.0.0:8770", "vramd must listen on 0.0.0.0:8770 in the pod")
    grace = parse_duration(config.get("shutdown_grace", "30s"))
    require(pod["spec"]["terminationGracePeriodSeconds"] > grace,
            f"terminationGracePeriodSeconds must exceed shutdown_grace ({grace:g}s)")
    require(str(config.get("state_dir", "")).startswith("/var/lib/vramd"), "state_dir is not on the hostPath volume")
    # RBAC: the EPP's ServiceAccount, bound in the kustomization's namespace.
    kustomization = load_docs(KUBE_DIR / "kustomization.yaml")[0]
    binding = find("RoleBinding", "vramd-epp")
    for subject in binding["subjects"]:
        require(subject.get("namespace") == kustomization["namespace"],
                "RoleBinding subject namespace differs from the kustomization's namespace")
    require(epp_deployment["spec"]["template"]["spec"]["serviceAccountName"] == binding["subjects"][0]["name"],
            "the EPP runs under a ServiceAccount the RoleBinding does not name")
    # The HTTPRoute sends to the pool (no schema offline: structure only).
    route = find("HTTPRoute")
    require(route["apiVersion"] == "gateway.networking.k8s.io/v1", "HTTPRoute apiVersion")
    refs = [ref for rule in route["spec"]["rules"] for ref in rule["backendRefs"]]
    require(refs and all(ref["group"] == "inference.networking.k8s.io" and ref["kind"] == "InferencePool"
                         and ref["name"] == pool["metadata"]["name"] for ref in refs),
            "HTTPRoute backendRefs must all be the vramd InferencePool")
    paths = [m["path"]["value"] for rule in route["spec"]["rules"] for m in rule["matches"]]
    require(not any(p in {"/", "/v1", "/v1/"} or p.startswith("/v1/admin") for p in paths),
            "HTTPRoute must not expose vramd's admin routes")
    # NetworkPolicy admits the EPP.
    policy = find("NetworkPolicy")
    sources = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    require(any(peer.get("podSelector", {}).get("matchLabels") == {"app": "vramd-epp"} for peer in sources),
            "the NetworkPolicy does not admit the EPP (it scrapes /metrics)")


def check_kustomization() -> None:
    kustomization = load_docs(KUBE_DIR / "kustomization.yaml")[0]
    listed = set(kustomization["resources"])
    present = {p.name for p in KUBE_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    require(listed == present, f"kustomization resources differ from the files: missing {sorted(present - listed)}, extra {sorted(listed - present)}")


def check_vramd_config() -> None:
    validate_vramd_config(vramd_config_text())


def check_vramd_check_config() -> None:
    binary = os.environ["VRAMD_BINARY"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vramd.yaml"
        path.write_text(vramd_config_text())
        result = subprocess.run([binary, "check-config", str(path)], capture_output=True, text=True, timeout=60)
        require(result.returncode == 0, f"vramd check-config: {result.stdout}{result.stderr}".strip())


def check_epp_configs_agree() -> None:
    def scoring(config: dict) -> tuple:
        plugins = [p for p in config["plugins"] if p["type"] != "file-discovery"]
        data_layer = {k: v for k, v in (config.get("dataLayer") or {}).items() if k != "discovery"}
        return plugins, config["schedulingProfiles"], config.get("requestHandler"), data_layer
    require(scoring(epp_config("kubernetes")) == scoring(epp_config("standalone")),
            "the Kubernetes and standalone EndpointPickerConfigs score differently")


def check_standalone_paths() -> None:
    config = epp_config("standalone")
    path = [p for p in config["plugins"] if p["type"] == "file-discovery"][0]["parameters"]["path"]
    readme = (STANDALONE_DIR / "README.md").read_text()
    require(path in readme, f"deploy/standalone/README.md does not put the endpoints file at {path}")


def expect_rejected(build: Callable[[], None], what: str) -> Callable[[], None]:
    def check() -> None:
        try:
            build()
        except CheckFailed:
            return
        raise CheckFailed(f"negative check: {what} was accepted")
    return check


def broken(doc: dict, change: Callable[[dict], None]) -> dict:
    copied = copy.deepcopy(doc)
    change(copied)
    return copied


def negative_checks() -> list[tuple[str, Callable[[], None]]]:
    daemonset = find("DaemonSet", "vramd")
    pool = find("InferencePool")
    epp = epp_config("kubernetes")
    endpoints = load_docs(STANDALONE_DIR / "endpoints.yaml")[0]
    container = lambda d: d["spec"]["template"]["spec"]["containers"][0]  # noqa: E731

    def rename_kv(config: dict) -> None:
        engine = [p for p in config["plugins"] if p["type"] == "core-metrics-extractor"][0]["parameters"]["engineConfigs"][0]
        engine["kvUsagespec"] = engine.pop("kvUsageSpec")

    def wrong_metric(config: dict) -> None:
        engine = [p for p in config["plugins"] if p["type"] == "core-metrics-extractor"][0]["parameters"]["engineConfigs"][0]
        engine["loraSpec"] = "vllm:lora_requests_info"

    def drop_lora(config: dict) -> None:
        for profile in config["schedulingProfiles"]:
            profile["plugins"] = [p for p in profile["plugins"] if p["pluginRef"] != "lora-affinity-scorer"]

    cases = [
        ("DaemonSet with a misspelt container field",
         lambda: validate_builtin(broken(daemonset, lambda d: container(d).__setitem__("imagePullPolicyy", "Always")))),
        ("DaemonSet with a string containerPort",
         lambda: validate_builtin(broken(daemonset, lambda d: container(d)["ports"][0].__setitem__("containerPort", "http")))),
        ("DaemonSet without a selector",
         lambda: validate_builtin(broken(daemonset, lambda d: d["spec"].pop("selector")))),
        ("InferencePool with an unknown spec field",
         lambda: validate_inference_pool(broken(pool, lambda d: d["spec"].__setitem__("targetPort", 8770)))),
        ("InferencePool without a selector",
         lambda: validate_inference_pool(broken(pool, lambda d: d["spec"].pop("selector")))),
        ("InferencePool with port 70000",
         lambda: validate_inference_pool(broken(pool, lambda d: d["spec"]["targetPorts"][0].__setitem__("number", 70000)))),
        ("InferencePool with a Service picker but no port",
         lambda: validate_inference_pool(broken(pool, lambda d: d["spec"]["endpointPickerRef"].pop("port")))),
        ("InferencePool at an apiVersion the CRD does not serve",
         lambda: validate_inference_pool(broken(pool, lambda d: d.__setitem__("apiVersion", "inference.networking.x-k8s.io/v1alpha2")))),
        ("EndpointPickerConfig with a misspelt engineConfigs key",
         lambda: validate_epp_config(broken(epp, rename_kv), "negative")),
        ("EndpointPickerConfig reading vLLM's LoRA metric",
         lambda: validate_epp_config(broken(epp, wrong_metric), "negative")),
        ("EndpointPickerConfig without the lora-affinity scorer in a profile",
         lambda: validate_epp_config(broken(epp, drop_lora), "negative")),
        ("endpoints file with a hostname address",
         lambda: validate_endpoints(broken(endpoints, lambda d: d["endpoints"][0].__setitem__("address", "gpu-node-1")))),
        ("vramd config listening on 0.0.0.0 without auth",
         lambda: validate_vramd_config(vramd_config_text().replace("auth: none", "# no auth"))),
    ]
    if vramd_known_keys() is not None:
        cases.append(("vramd config with a key vramd does not know",
                      lambda: validate_vramd_config(vramd_config_text() + "shutdown_grase: 10s\n")))
    return [(f"rejects: {what}", expect_rejected(build, what)) for what, build in cases]


def main() -> int:
    checks: list[tuple[str, Callable[[], None]]] = []
    checks += check_builtin_kinds()
    checks += [
        ("inferencepool.yaml: InferencePool against the GIE CRD schema", check_inference_pool),
        ("kustomization.yaml lists every manifest", check_kustomization),
        ("manifests agree with each other (labels, ports, names, mounts)", check_cross_references),
        ("configmap.yaml: the vramd config", check_vramd_config),
        ("epp-config.yaml: EndpointPickerConfig (Kubernetes)", lambda: validate_epp_config(epp_config("kubernetes"), "kubernetes")),
        ("standalone/epp-config.yaml: EndpointPickerConfig (file discovery)", lambda: validate_epp_config(epp_config("standalone"), "standalone")),
        ("both EndpointPickerConfigs score the same way", check_epp_configs_agree),
        ("standalone/endpoints.yaml", lambda: validate_endpoints(load_docs(STANDALONE_DIR / "endpoints.yaml")[0])),
        ("standalone/envoy.yaml", lambda: validate_envoy(load_docs(STANDALONE_DIR / "envoy.yaml")[0])),
        ("standalone/README.md and epp-config.yaml agree on the endpoints file", check_standalone_paths),
    ]
    if os.environ.get("VRAMD_BINARY"):
        checks.append(("vramd check-config on the ConfigMap's config", check_vramd_check_config))
    checks += negative_checks()

    verbose = "-v" in sys.argv[1:]
    passed = failed = 0
    for name, check in checks:
        try:
            check()
            passed += 1
            if verbose:
                print(f"ok   {name}")
        except Exception as error:  # noqa: BLE001 - every failure is reported, not raised
            failed += 1
            print(f"FAIL {name}: {type(error).__name__ if not isinstance(error, CheckFailed) else ''}{': ' if not isinstance(error, CheckFailed) else ''}{error}")
    if vramd_known_keys() is None:
        print("note: Sources/VRAMConfig/ConfigParser.swift not readable; vramd config keys not checked against vramd's parser")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
