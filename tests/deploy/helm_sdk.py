"""Helm v4's engine (helm-python-sdk) and the Kubernetes OpenAPI schemas (kubernetes-validate), for
tests/deploy/helm.rs: one subcommand a run, JSON out. Exits 3 when a package is not installed
(pip install -r tests/deploy/requirements.txt), so that the test can say SKIPPED outside CI.

  lint CHART VALUES_JSON KUBE_VERSION            helm lint --strict: the messages, as JSON
  render CHART NAME NAMESPACE VALUES_JSON        helm template: {template path: text}
  validate KUBE_VERSION                          stdin: a JSON list of objects; each built-in kind
                                                 against that release's OpenAPI schemas (strict:
                                                 an unknown field is an error), each custom
                                                 resource against its CRD's schema (from the list
                                                 itself or argv[3:], CRD files): the errors
  install KUBECONFIG CHART NAME NAMESPACE VALUES_JSON   helm install --create-namespace
  uninstall KUBECONFIG NAME NAMESPACE            helm uninstall
"""
import json
import sys

try:
    import helm_python
    import jsonschema
    import kubernetes_validate
    import yaml
except ImportError as e:
    print(e, file=sys.stderr)
    sys.exit(3)


def strict(schema):
    """A CRD's structural schema as kube-apiserver prunes by it: an object's fields are those it
    lists, unless x-kubernetes-preserve-unknown-fields (so an unknown field is an error here,
    where the API server would drop it silently)."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if (out.get("type") == "object" and "properties" in out
                and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def crd_schemas(objects, files):
    """(apiVersion, kind) -> openAPIV3Schema of every served version of the CRDs given."""
    crds = [o for o in objects if o.get("kind") == "CustomResourceDefinition"]
    for path in files:
        with open(path) as f:
            crds.extend(d for d in yaml.safe_load_all(f) if d)
    out = {}
    for crd in crds:
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served"):
                key = (spec["group"] + "/" + version["name"], spec["names"]["kind"])
                schema = strict(version["schema"]["openAPIV3Schema"])
                # Every object has these, which a CRD's schema does not list.
                schema["properties"].update({"apiVersion": {"type": "string"},
                                             "kind": {"type": "string"},
                                             "metadata": {"type": "object"}})
                out[key] = schema
    return out


def validate(kube_version, objects, crd_files):
    schemas = crd_schemas(objects, crd_files)
    errors = []
    for o in objects:
        what = "%s %s" % (o.get("kind"), o.get("metadata", {}).get("name"))
        key = (o.get("apiVersion"), o.get("kind"))
        if key in schemas:
            validator = jsonschema.Draft7Validator(schemas[key])
            errors += ["%s: %s at %s" % (what, e.message, "/".join(map(str, e.absolute_path)))
                       for e in validator.iter_errors(o)]
            continue
        try:
            kubernetes_validate.validate(o, kube_version, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append("%s: %s at %s" % (what, e.message, "/".join(map(str, e.path))))
        except kubernetes_validate.SchemaNotFoundError as e:
            errors.append("%s: no schema: %s" % (what, e.message))
    return errors


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "lint":
        chart, values, kube_version = args
        out = helm_python.lint(chart, json.loads(values), strict=True, kube_version=kube_version)
    elif command == "render":
        chart, name, namespace, values = args
        with helm_python.Chart.load(chart) as c:
            out = c.render(json.loads(values), name=name, namespace=namespace, is_install=True)
    elif command == "validate":
        out = validate(args[0], json.load(sys.stdin), args[1:])
    elif command == "install":
        kubeconfig, chart, name, namespace, values = args
        with helm_python.Config(kubeconfig_path=kubeconfig, namespace=namespace) as cfg:
            try:
                release = cfg.install(chart, name, json.loads(values), namespace=namespace,
                                      create_namespace=True, timeout=60)
                out = {"status": release["status"]}
            except helm_python.HelmError as e:
                out = {"error": str(e)}
    elif command == "uninstall":
        kubeconfig, name, namespace = args
        with helm_python.Config(kubeconfig_path=kubeconfig, namespace=namespace) as cfg:
            try:
                cfg.uninstall(name, timeout=60)
                out = {"status": "uninstalled"}
            except helm_python.HelmError as e:
                out = {"error": str(e)}
    else:
        sys.exit("unknown command " + command)
    print(json.dumps(out))


main()
