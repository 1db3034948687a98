#!/usr/bin/python3
"""Test oracle for deploy/: the Kubernetes and KServe manifests agree with the server and the Dockerfile.

Usage: check_manifests.py DEPLOY_DIR ROUTE... (routes as "GET /v2/health/ready", from Server::routes()).
Prints one line per problem and exits 1 if there is any.
"""
import re
import sys
from pathlib import Path

import yaml

deploy = Path(sys.argv[1])
routes = set(sys.argv[2:])
problems = []

dockerfile = (deploy / "Dockerfile").read_text()
expose = int(re.search(r"^EXPOSE (\d+)", dockerfile, re.M).group(1))
user = int(re.search(r"^USER (\d+)", dockerfile, re.M).group(1))
volume = re.search(r"^VOLUME (\S+)", dockerfile, re.M).group(1)
entrypoint = re.search(r"^ENTRYPOINT (\[.*\])", dockerfile, re.M).group(1)
if f'"--port", "{expose}"' not in entrypoint:
    problems.append(f"Dockerfile: ENTRYPOINT does not listen on the EXPOSEd port {expose}")
if f'"--model-repository", "{volume}"' not in entrypoint:
    problems.append(f"Dockerfile: ENTRYPOINT does not read the VOLUME {volume}")
healthcheck = re.search(r"http://127\.0\.0\.1:(\d+)(/\S+)", dockerfile)
if not healthcheck or int(healthcheck.group(1)) != expose or f"GET {healthcheck.group(2)}" not in routes:
    problems.append("Dockerfile: HEALTHCHECK is not a GET route of the server on the EXPOSEd port")

docs = {}
for path in sorted(list(deploy.glob("k8s/*.yaml")) + list(deploy.glob("kserve/*.yaml"))):
    for doc in yaml.safe_load_all(path.read_text()):
        docs.setdefault(doc["kind"], []).append((path.name, doc))
for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "InferenceService"):
    if kind not in docs:
        problems.append(f"no {kind} manifest")


def check_container(where, c, port_names):
    if not re.fullmatch(r"(\S+/)?edgeq-serve:\S+", c["image"]):
        problems.append(f"{where}: image {c['image']} is not the edgeq-serve image")
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    port_names.update(ports)
    if expose not in ports.values():
        problems.append(f"{where}: containerPort is not the Dockerfile's {expose}")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if probe not in c:
            if probe != "startupProbe":
                problems.append(f"{where}: no {probe}")
            continue
        get = c[probe]["httpGet"]
        if f"GET {get['path']}" not in routes:
            problems.append(f"{where}: {probe} path {get['path']} is not a GET route of the server")
        port = ports.get(get["port"], get["port"])
        if port != expose:
            problems.append(f"{where}: {probe} port {get['port']} is not {expose}")
    limits = c.get("resources", {}).get("limits", {})
    if "cpu" not in limits or "memory" not in limits:
        problems.append(f"{where}: no cpu/memory limits")


for name, d in docs.get("Deployment", []):
    spec = d["spec"]["template"]["spec"]
    sc = spec.get("securityContext", {})
    if not sc.get("runAsNonRoot") or sc.get("runAsUser") != user:
        problems.append(f"{name}: not runAsNonRoot as the Dockerfile's USER {user}")
    port_names = {}
    for c in spec["containers"]:
        check_container(name, c, port_names)
        if not c.get("securityContext", {}).get("readOnlyRootFilesystem"):
            problems.append(f"{name}: root filesystem is not read-only")
        mounts = [m["mountPath"] for m in c.get("volumeMounts", [])]
        if volume not in mounts:
            problems.append(f"{name}: the model volume is not mounted at {volume}")
    deployment_labels = d["spec"]["template"]["metadata"]["labels"]
    for sname, s in docs.get("Service", []):
        if any(deployment_labels.get(k) != v for k, v in s["spec"]["selector"].items()):
            problems.append(f"{sname}: selector does not match the Deployment's pods")
        for p in s["spec"]["ports"]:
            if p["targetPort"] not in port_names and p["targetPort"] != expose:
                problems.append(f"{sname}: targetPort {p['targetPort']} is not a container port")
    for hname, h in docs.get("HorizontalPodAutoscaler", []):
        ref = h["spec"]["scaleTargetRef"]
        if ref["kind"] != "Deployment" or ref["name"] != d["metadata"]["name"]:
            problems.append(f"{hname}: scaleTargetRef is not the Deployment")

for name, d in docs.get("InferenceService", []):
    for c in d["spec"]["predictor"]["containers"]:
        check_container(name, c, {})
        args = c.get("args", [])
        if "--model-repository" not in args or args[args.index("--model-repository") + 1] != "/mnt/models":
            problems.append(f"{name}: does not read KServe's /mnt/models as the model repository")
        if "--port" not in args or int(args[args.index("--port") + 1]) != expose:
            problems.append(f"{name}: does not listen on {expose}")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
