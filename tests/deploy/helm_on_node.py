"""The chart on a real node: `helm install`, the README's flow, `helm test` and `helm uninstall` by
Helm v4's engine (helm-python-sdk), with KUBECONFIG naming the real-cluster kit of the maintainers
(../shared/real-cluster/; not run by CI, which has no cluster). The README's "Running the
end-to-end tests against a real cluster" gives the last result.

Usage: python3 tests/deploy/helm_on_node.py CHECKOUT, after the kit's deploy-check.sh (which builds
the image and imports it into the node's containerd). Prints 'N passed, M failed'.

The chart is copied and changed only where the kit's network rules demand: hostNetwork and
ClusterFirstWithHostNet on the pods, the API server on the loopback (extraEnv), the test Pod's URL
on the loopback (no Service routing or cluster DNS there), Pod Security privileged on the
namespace, one replica, and crds.enabled false (the CRDs are there from the kustomize install)."""
import base64, json, os, shutil, subprocess, sys, time, uuid
import helm_python

CHECKOUT = sys.argv[1]
KUBECONFIG = os.environ["KUBECONFIG"]
NS, APP, RELEASE = "vst-helm", "vst-helm-app", "vst"
passed = failed = 0
def ok(m):
    global passed; passed += 1; print("  ok   " + m, flush=True)
def bad(m):
    global failed; failed += 1; print("  FAIL " + m, flush=True)
def kubectl(*a, input=None, check=True):
    r = subprocess.run(["kubectl"] + list(a), input=input, capture_output=True, text=True)
    if check and r.returncode: raise SystemExit(f"kubectl {' '.join(a)}: {r.stderr}")
    return r.stdout
def wait(what, f, timeout=180):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = f()
            if v: return v
        except Exception: pass
        time.sleep(2)
    return None

chart = "/tmp/vst-chart-node"
shutil.rmtree(chart, ignore_errors=True)
shutil.copytree(os.path.join(CHECKOUT, "deploy/helm/videosdk-token-operator"), chart)
dep = os.path.join(chart, "templates/deployment.yaml")
s = open(dep).read()
assert "\n    spec:\n" in s
s = s.replace("\n    spec:\n", "\n    spec:\n      hostNetwork: true\n      dnsPolicy: ClusterFirstWithHostNet\n", 1)
open(dep, "w").write(s)
test = os.path.join(chart, "templates/tests/readyz.yaml")
if not os.path.exists(test):
    test = os.path.join(chart, "templates/tests", os.listdir(os.path.join(chart, "templates/tests"))[0])
s = open(test).read()
s = s.replace("\nspec:\n", "\nspec:\n  hostNetwork: true\n", 1)
s = s.replace('(printf "http://%s-metrics.%s.svc:8080/readyz" (include "videosdk-token-operator.fullname" .) .Release.Namespace | quote)', '"http://127.0.0.1:8080/readyz"')
s = s.replace('{{ printf "http://%s-metrics.%s.svc:8080/readyz" (include "videosdk-token-operator.fullname" .) .Release.Namespace | quote }}', '"http://127.0.0.1:8080/readyz"')
assert "127.0.0.1:8080/readyz" in s, "test pod URL not replaced"
open(test, "w").write(s)

# Other installs scaled to 0: two hostNetwork operators would fight over port 8080.
for line in kubectl("get", "deploy", "-A", "-l", "app.kubernetes.io/name=videosdk-token-operator", "-o",
                    'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}').split():
    ns, name = line.split("/")
    if ns != NS: kubectl("-n", ns, "scale", "deploy", name, "--replicas=0")
with helm_python.Config(kubeconfig_path=KUBECONFIG, namespace=NS) as cfg:
    try: cfg.uninstall(RELEASE, timeout=60)
    except helm_python.HelmError: pass
for ns in (NS, APP):
    kubectl("delete", "ns", ns, "--ignore-not-found", "--wait=true")
kubectl("create", "ns", NS); kubectl("create", "ns", APP)
kubectl("label", "ns", NS, "pod-security.kubernetes.io/enforce=privileged", "--overwrite")

values = {"crds": {"enabled": False}, "replicaCount": 1, "watchNamespace": APP, "image": {"pullPolicy": "Never"},
          "extraEnv": [{"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
                       {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"}]}
with helm_python.Config(kubeconfig_path=KUBECONFIG, namespace=NS) as cfg:
    try:
        r = cfg.install(chart, RELEASE, values, namespace=NS, timeout=180, wait="watcher")
        ok(f"helm install: {r['status']}") if r["status"] == "deployed" else bad(f"helm install: {r['status']}")
    except helm_python.HelmError as e:
        bad(f"helm install: {e}")
pod = wait("pod", lambda: json.loads(kubectl("-n", NS, "get", "pod", "-l", "app.kubernetes.io/name=videosdk-token-operator", "-o", "json"))["items"][0])
if pod:
    ready = wait("ready", lambda: any(c["type"] == "Ready" and c["status"] == "True" for c in json.loads(kubectl("-n", NS, "get", "pod", pod["metadata"]["name"], "-o", "json"))["status"].get("conditions", [])))
    ok("the operator's pod is Ready") if ready else bad("the operator's pod is not Ready")
    pod = json.loads(kubectl("-n", NS, "get", "pod", pod["metadata"]["name"], "-o", "json"))
    c = pod["spec"]["containers"][0]
    print("  image:", c["image"])
    sc = c.get("securityContext", {})
    ok("read-only root, no privilege escalation, all capabilities dropped") if sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False and sc.get("capabilities", {}).get("drop") == ["ALL"] else bad(f"container securityContext {sc}")
else:
    bad("no operator pod")

# The README's flow: credentials, an issuer, a token.
key, secret = str(uuid.uuid4()), os.urandom(32).hex()
kubectl("-n", APP, "create", "secret", "generic", "videosdk-credentials", f"--from-literal=apiKey={key}", f"--from-literal=secret={secret}")
kubectl("-n", APP, "apply", "-f", os.path.join(CHECKOUT, "deploy/examples/issuer.yaml"))
kubectl("-n", APP, "apply", "-f", "-", input="""apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: helm-check}
spec:
  issuerRef: {name: videosdk}
  permissions: [allow_join]
  ttl: 10m
  renewBefore: 5m
""")
def ready_token():
    t = json.loads(kubectl("-n", APP, "get", "vst", "helm-check", "-o", "json"))
    st = t.get("status", {})
    return st if any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions", [])) and st.get("observedGeneration") == t["metadata"]["generation"] else None
st = wait("token", ready_token, 120)
if st:
    ok(f"the token is Ready (observedGeneration {st['observedGeneration']})")
    jwt = base64.b64decode(json.loads(kubectl("-n", APP, "get", "secret", st["secretName"], "-o", "json"))["data"]["token"]).decode()
    p = jwt.split(".")[1]; claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    ok("the Secret holds the token signed with the issuer's key") if claims.get("apikey") == key else bad(f"claims {sorted(claims)}")
else:
    bad("the token did not become Ready")
    print(kubectl("-n", APP, "get", "vst", "helm-check", "-o", "yaml", check=False))
out = kubectl("get", "vsi", "-n", APP, check=False)
ok("kubectl get videosdkissuers shows a REASON column") if "REASON" in out.splitlines()[0] else bad("no REASON column: " + out)
logs = kubectl("-n", NS, "logs", "deploy/" + RELEASE + "-videosdk-token-operator", check=False) or kubectl("-n", NS, "logs", "-l", "app.kubernetes.io/name=videosdk-token-operator", check=False)
lines = [l for l in logs.splitlines() if l.strip()]
ok(f"JSON logs ({len(lines)} lines)") if lines and all(l.startswith("{") for l in lines) else bad("logs not JSON")
ok("no 403 in the logs") if "403" not in logs and "Forbidden" not in logs else bad("403/Forbidden in the logs")
ok("no secret or token in the logs") if secret not in logs and "eyJ" not in logs else bad("a secret or token in the logs")

with helm_python.Config(kubeconfig_path=KUBECONFIG, namespace=NS) as cfg:
    try:
        r = cfg.test(RELEASE, timeout=120)
        print("  helm test:", json.dumps(r, default=str)[:300])
        ok("helm test passed")
    except helm_python.HelmError as e:
        bad(f"helm test: {e}")
    try:
        cfg.uninstall(RELEASE, timeout=120)
        ok("helm uninstall")
    except helm_python.HelmError as e:
        bad(f"helm uninstall: {e}")
left = kubectl("get", "clusterrole,clusterrolebinding", "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name", check=False).split()
ok("uninstall left no cluster RBAC") if not left else bad(f"left behind: {left}")
ok("the CRDs stay after uninstall") if "videosdktokens.videosdk.live" in kubectl("get", "crd", "-o", "name") else bad("CRDs removed")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
