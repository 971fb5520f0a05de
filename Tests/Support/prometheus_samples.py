"""Reads a Prometheus text page on stdin with prometheus_client's own parser (the format the
Gateway API Inference Extension's picker reads) and prints its samples as JSON:
[{"name": ..., "labels": {...}, "value": ...}]. A page it cannot parse exits non-zero."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        samples.append({"name": sample.name, "labels": sample.labels, "value": sample.value})
json.dump(samples, sys.stdout)
