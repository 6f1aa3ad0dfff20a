"""Checks Kubernetes manifests against the batch/v1 Job schema, strictly.

No cluster or kubectl is available here, so this walks the fields that the
Kubernetes API reference defines for Job, JobSpec, PodTemplateSpec, PodSpec,
Container, EnvVar, VolumeMount, Volume (the sources used by batchscope's
manifests) and ResourceRequirements: unknown fields, wrong types and the
Job rules (restartPolicy Never/OnFailure, Indexed needs completions, DNS
names, mounts naming declared volumes) are errors, as with
`kubectl apply --validate=strict`.
Usage: check_k8s_job.py MANIFEST.yaml...   (exit 1 and one line per error)
"""
import re
import sys

import yaml

INT, STR, BOOL, MAP, LIST, QTY = "int", "str", "bool", "map", "list", "quantity"
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

OBJECT_META = {"name": STR, "namespace": STR, "labels": MAP, "annotations": MAP, "generateName": STR}
ENV_VAR = {"name": STR, "value": STR, "valueFrom": MAP}
VOLUME_MOUNT = {"name": STR, "mountPath": STR, "readOnly": BOOL, "subPath": STR,
                "subPathExpr": STR, "mountPropagation": STR}
RESOURCES = {"limits": ("qtymap",), "requests": ("qtymap",)}
CONTAINER = {"name": STR, "image": STR, "command": (LIST, STR), "args": (LIST, STR),
             "workingDir": STR, "env": (LIST, ENV_VAR), "envFrom": (LIST, MAP),
             "volumeMounts": (LIST, VOLUME_MOUNT), "resources": RESOURCES,
             "imagePullPolicy": ("enum", "Always", "Never", "IfNotPresent"),
             "securityContext": MAP, "ports": (LIST, MAP), "stdin": BOOL, "tty": BOOL,
             "terminationMessagePath": STR, "terminationMessagePolicy": STR,
             "livenessProbe": MAP, "readinessProbe": MAP, "startupProbe": MAP, "lifecycle": MAP}
VOLUME = {"name": STR,
          "persistentVolumeClaim": {"claimName": STR, "readOnly": BOOL},
          "configMap": {"name": STR, "items": (LIST, MAP), "defaultMode": INT, "optional": BOOL},
          "secret": {"secretName": STR, "items": (LIST, MAP), "defaultMode": INT, "optional": BOOL},
          "emptyDir": {"medium": STR, "sizeLimit": QTY},
          "hostPath": {"path": STR, "type": STR},
          "nfs": {"server": STR, "path": STR, "readOnly": BOOL}}
POD_SPEC = {"containers": (LIST, CONTAINER), "initContainers": (LIST, CONTAINER),
            "restartPolicy": ("enum", "Always", "OnFailure", "Never"),
            "volumes": (LIST, VOLUME), "nodeSelector": MAP, "affinity": MAP, "tolerations": (LIST, MAP),
            "serviceAccountName": STR, "securityContext": MAP, "imagePullSecrets": (LIST, MAP),
            "activeDeadlineSeconds": INT, "terminationGracePeriodSeconds": INT,
            "priorityClassName": STR, "hostname": STR, "subdomain": STR, "schedulerName": STR}
POD_TEMPLATE = {"metadata": OBJECT_META, "spec": POD_SPEC}
JOB_SPEC = {"activeDeadlineSeconds": INT, "backoffLimit": INT, "backoffLimitPerIndex": INT,
            "completionMode": ("enum", "NonIndexed", "Indexed"), "completions": INT,
            "manualSelector": BOOL, "maxFailedIndexes": INT, "parallelism": INT,
            "podFailurePolicy": MAP, "podReplacementPolicy": STR, "selector": MAP, "suspend": BOOL,
            "template": POD_TEMPLATE, "ttlSecondsAfterFinished": INT}
JOB = {"apiVersion": ("enum", "batch/v1"), "kind": ("enum", "Job"), "metadata": OBJECT_META,
       "spec": JOB_SPEC}
REQUIRED = {id(JOB): ["apiVersion", "kind", "metadata", "spec"], id(JOB_SPEC): ["template"],
            id(POD_SPEC): ["containers"], id(CONTAINER): ["name", "image"], id(VOLUME): ["name"],
            id(VOLUME_MOUNT): ["name", "mountPath"], id(ENV_VAR): ["name"],
            id(VOLUME["persistentVolumeClaim"]): ["claimName"], id(VOLUME["configMap"]): ["name"]}
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def check(value, schema, where, errors):
    if schema == INT:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append("%s: expected a non-negative integer" % where)
    elif schema == STR:
        if not isinstance(value, str):
            errors.append("%s: expected a string" % where)
    elif schema == BOOL:
        if not isinstance(value, bool):
            errors.append("%s: expected true or false" % where)
    elif schema == MAP:
        if not isinstance(value, dict):
            errors.append("%s: expected a mapping" % where)
    elif schema == QTY:
        if not QUANTITY.match(str(value)):
            errors.append("%s: not a quantity: %r" % (where, value))
    elif isinstance(schema, tuple) and schema[0] == "enum":
        if value not in schema[1:]:
            errors.append("%s: %r is not one of %s" % (where, value, ", ".join(schema[1:])))
    elif isinstance(schema, tuple) and schema[0] == "qtymap":
        if not isinstance(value, dict):
            errors.append("%s: expected a mapping" % where)
        else:
            for k, v in value.items():
                check(v, QTY, "%s.%s" % (where, k), errors)
    elif isinstance(schema, tuple) and schema[0] == LIST:
        if not isinstance(value, list):
            errors.append("%s: expected a list" % where)
        else:
            for i, v in enumerate(value):
                check(v, schema[1], "%s[%d]" % (where, i), errors)
    elif isinstance(schema, dict):
        if not isinstance(value, dict):
            errors.append("%s: expected a mapping" % where)
            return
        for k in REQUIRED.get(id(schema), []):
            if k not in value:
                errors.append("%s: missing required field %s" % (where, k))
        for k, v in value.items():
            if k not in schema:
                errors.append("%s: unknown field %s" % (where, k))
            else:
                check(v, schema[k], "%s.%s" % (where, k), errors)


def job_rules(doc, errors):
    spec = doc.get("spec", {}) or {}
    name = (doc.get("metadata") or {}).get("name", "")
    if not DNS1123.match(str(name)) or len(str(name)) > 63:
        errors.append("metadata.name: %r is not a DNS-1123 label" % name)
    if spec.get("completionMode") == "Indexed" and "completions" not in spec:
        errors.append("spec.completions: required when completionMode is Indexed")
    pod = ((spec.get("template") or {}).get("spec")) or {}
    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        errors.append("spec.template.spec.restartPolicy: a Job needs Never or OnFailure")
    volumes = {v.get("name") for v in pod.get("volumes", []) or [] if isinstance(v, dict)}
    for c in pod.get("containers", []) or []:
        if not isinstance(c, dict):
            continue
        if not DNS1123.match(str(c.get("name", ""))):
            errors.append("container name %r is not a DNS-1123 label" % c.get("name"))
        for m in c.get("volumeMounts", []) or []:
            if isinstance(m, dict) and m.get("name") not in volumes:
                errors.append("container %s mounts undeclared volume %r" % (c.get("name"), m.get("name")))
    for v in pod.get("volumes", []) or []:
        if isinstance(v, dict) and len([k for k in v if k != "name"]) != 1:
            errors.append("volume %r: exactly one volume source expected" % v.get("name"))


def main():
    failed = False
    for path in sys.argv[1:]:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        for n, doc in enumerate(docs):
            errors = []
            check(doc, JOB, "", errors)
            if isinstance(doc, dict):
                job_rules(doc, errors)
            for e in errors:
                print("%s: document %d: %s" % (path, n + 1, e.lstrip(".")))
            failed = failed or bool(errors)
        if not failed:
            print("%s: valid batch/v1 Job" % path)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
