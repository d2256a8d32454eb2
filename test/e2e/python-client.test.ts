/**
 * The official Python client's custom resource tests against a started Bosun server
 * (kubernetes-client/python, not vendored: its source is read from $BOSUN_PYTHON_CLIENT, default
 * ${XDG_CACHE_HOME:-~/.cache}/bosun/python-client, which scripts/python-client.sh fills from a
 * git mirror). Without it, or without python3 and the client's pure-Python dependencies, every
 * test here is skipped with a message saying how to provide them.
 *
 * Run, unmodified, through pytest or as scripts, with the server's kubeconfig in $KUBECONFIG:
 * - kubernetes/base/dynamic/test_client.py: test_cluster_custom_resources,
 *   test_namespaced_custom_resources, test_async_namespaced_custom_resources (the dynamic client:
 *   discovery of a new CRD's resource, create/get/list/merge-patch/delete, then the resource's
 *   disappearance from discovery after the CRD is deleted);
 * - kubernetes/e2e_test/test_utils.py: test_create_apiservice_from_yaml_with_conflict (an
 *   APIService created from YAML, then the exact 409 Status body of creating it again);
 * - examples/dynamic-client/{cluster_scoped,namespaced}_custom_resource.py and
 *   examples/{namespaced,cluster_scoped}_custom_object.py (CustomObjectsApi; the CRD their doc
 *   string says to apply is applied with kubectl first).
 * The runs mostly wait (the scripts sleep between steps), so up to three run at once against the
 * one server; runs that create the same CustomResourceDefinition (changemes, ingressroutes,
 * crontabs) take turns, as each expects to be its name's only user.
 * Two things differ from upstream's own run, both from the environment, not the tests:
 * - the dynamic-client tests create their CRDs as apiextensions.k8s.io/v1beta1, which upstream
 *   removed in 1.22 (they fail on any current cluster at the first discovery lookup). A pytest
 *   plugin (written below) asks discovery for v1 instead and converts their v1beta1 manifests to
 *   v1 as upstream's apiextensions conversion does (version → versions[0], subresources and
 *   validation moved into it, and, for v1beta1's default preserveUnknownFields, a schema that
 *   keeps unknown fields);
 * - modules the client imports but these tests never use (websocket-client, requests-oauthlib,
 *   oauthlib, durationpy: exec/attach, OIDC refresh, duration parsing) are replaced by stubs that
 *   fail if used, when they are not installed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useServer, kubectl, kubectlVersions, kubectlOk, type ServerHandle } from './harness.ts';

const clientDir = process.env.BOSUN_PYTHON_CLIENT ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'bosun/python-client');
const python = process.env.PYTHON ?? 'python3';
/** Imported by the client and by these tests; without one of them nothing can run. */
const requiredModules = ['pytest', 'urllib3', 'six', 'dateutil', 'yaml', 'certifi', 'requests'];
/** Imported by the client at load time, used only by paths these tests never take: stubbed when absent. */
const stubbable: Record<string, string[]> = {
  websocket: ['websocket/__init__.py'],
  oauthlib: ['oauthlib/__init__.py', 'oauthlib/oauth2/__init__.py'],
  requests_oauthlib: ['requests_oauthlib/__init__.py'],
  durationpy: ['durationpy/__init__.py'],
};
const runTimeoutMs = 180_000;

const howTo =
  'the official Python client is not available: run scripts/python-client.sh (unpacks github.com/kubernetes-client/python from a git mirror, ' +
  `BOSUN_PYTHON_CLIENT_MIRROR, default /work/.mirror/kubernetes-client+python/repo, into ${clientDir}) or set BOSUN_PYTHON_CLIENT to an unpacked ` +
  'checkout of it (v36.x; the repository root, holding kubernetes/ and examples/)';

/**
 * The modules among `mods` that import, asked of one interpreter (one start, not one per module;
 * each import is tried on its own, as separate `python -c "import m"` runs would).
 */
function importable(mods: string[]): Set<string> {
  const script = 'import importlib, sys\nfor m in sys.argv[1:]:\n    try:\n        importlib.import_module(m)\n        print(m)\n    except Exception:\n        pass\n';
  try {
    return new Set(execFileSync(python, ['-c', script, ...mods], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean));
  } catch {
    return new Set();
  }
}
const canImportNow = importable([...requiredModules, ...Object.keys(stubbable)]);
const canImport = (mod: string): boolean => canImportNow.has(mod);

function skipReason(): string | undefined {
  if (!fs.existsSync(path.join(clientDir, 'kubernetes/dynamic/test_client.py'))) return howTo;
  const missing = requiredModules.filter((m) => !canImport(m));
  if (missing.length) return `${python} cannot import ${missing.join(', ')} (the Python client's test dependencies; set PYTHON to another interpreter)`;
  return undefined;
}

const stubSource = (mod: string) => `"""Stub written by Bosun's test/e2e/python-client.test.ts: ${mod} is not installed and these tests never use it."""
class _Missing:
    def __init__(self, *args, **kwargs):
        raise ImportError("${mod} is not installed (stub)")


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if name.endswith("Exception") or name.endswith("Error"):
        return type(name, (Exception,), {})
    return _Missing
`;

/**
 * The pytest plugin: dynamic-client lookups of apiextensions.k8s.io/v1beta1 go to v1, and a
 * v1beta1 CustomResourceDefinition body is converted to v1 before it is sent.
 */
const v1beta1Plugin = `"""Bosun's e2e shim: apiextensions.k8s.io/v1beta1 CRDs (removed upstream in 1.22) sent as v1."""
import copy

from kubernetes.dynamic import client as dynamic_client
from kubernetes.dynamic import discovery

OLD = "apiextensions.k8s.io/v1beta1"
NEW = "apiextensions.k8s.io/v1"

_get = discovery.Discoverer.get


def _discovery_get(self, **kwargs):
    if kwargs.get("api_version") == OLD:
        kwargs["api_version"] = NEW
    return _get(self, **kwargs)


discovery.Discoverer.get = _discovery_get


def to_v1(body):
    if not isinstance(body, dict) or body.get("apiVersion") != OLD or body.get("kind") != "CustomResourceDefinition":
        return body
    crd = copy.deepcopy(body)
    crd["apiVersion"] = NEW
    spec = crd.setdefault("spec", {})
    versions = spec.pop("versions", None) or [{"name": spec.get("version"), "served": True, "storage": True}]
    spec.pop("version", None)
    validation = spec.pop("validation", None)
    subresources = spec.pop("subresources", None)
    columns = spec.pop("additionalPrinterColumns", None)
    preserve = spec.pop("preserveUnknownFields", True)
    for v in versions:
        schema = v.pop("validation", None) or validation
        if schema is None:
            schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
        elif preserve:
            schema = copy.deepcopy(schema)
            schema.setdefault("openAPIV3Schema", {}).setdefault("x-kubernetes-preserve-unknown-fields", True)
        v["schema"] = schema
        if subresources is not None and "subresources" not in v:
            v["subresources"] = copy.deepcopy(subresources)
        cols = v.pop("additionalPrinterColumns", None) or columns
        if cols:
            v["additionalPrinterColumns"] = [
                {("jsonPath" if k == "JSONPath" else k): val for k, val in c.items()} for c in cols
            ]
    spec["versions"] = versions
    return crd


for verb in ("create", "replace"):
    def wrap(original):
        def converted(self, resource, body=None, *args, **kwargs):
            return original(self, resource, to_v1(body), *args, **kwargs)
        return converted
    setattr(dynamic_client.DynamicClient, verb, wrap(getattr(dynamic_client.DynamicClient, verb)))
`;

interface PyResult {
  code: number;
  output: string;
}

const reason = skipReason();
if (reason) {
  test('the Python client\'s CRD tests', { skip: reason }, () => {});
} else {
  let server: ServerHandle;
  useServer({}, (s) => (server = s));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-pyclient-'));
  process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
  const stubs = path.join(work, 'stubs');
  for (const [mod, files] of Object.entries(stubbable)) {
    if (canImport(mod)) continue;
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(stubs, f)), { recursive: true });
      fs.writeFileSync(path.join(stubs, f), stubSource(mod));
    }
  }
  const plugins = path.join(work, 'plugins');
  fs.mkdirSync(plugins);
  fs.writeFileSync(path.join(plugins, 'bosun_v1beta1_crd.py'), v1beta1Plugin);
  // No ini file of the client's (or of a parent directory) is picked up.
  fs.writeFileSync(path.join(work, 'pytest.ini'), '[pytest]\n');

  /**
   * Runs python with the client importable and the server's kubeconfig; never throws on the exit
   * code. Each run has its own TMPDIR: the dynamic client caches discovery there per server URL,
   * and a resource one run saw cluster-scoped must not be one another run recreates namespaced.
   */
  const py = (args: string[]): Promise<PyResult> =>
    new Promise((resolve) => {
      const env = {
        ...process.env,
        KUBECONFIG: server.kubeconfig,
        HOME: work,
        TMPDIR: fs.mkdtempSync(path.join(work, 'tmp-')),
        PYTHONPATH: [clientDir, plugins, stubs].join(':'),
        PYTHONDONTWRITEBYTECODE: '1',
        PYTHONUNBUFFERED: '1',
      };
      execFile(python, args, { cwd: clientDir, env, timeout: runTimeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      });
    });
  const pytest = (nodeId: string, plugin = false) =>
    py(['-m', 'pytest', '-c', path.join(work, 'pytest.ini'), '--rootdir', clientDir, '-p', 'no:cacheprovider', ...(plugin ? ['-p', 'bosun_v1beta1_crd'] : []), '-q', '-rA', '--tb=long', nodeId]);
  const passed = (r: PyResult, what: string) => assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.output.slice(-12_000)}`);
  const minor = kubectlVersions.at(-1) ?? '';

  /** Runs `fn` after every earlier holder of `name` is done: runs sharing a CRD take turns. */
  const turns = new Map<string, Promise<unknown>>();
  const inTurn = <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const run = (turns.get(name) ?? Promise.resolve()).then(fn, fn);
    turns.set(name, run.catch(() => {}));
    return run;
  };

  const dynamicTest = (name: string, crd: string) =>
    test(`dynamic client: ${name} (kubernetes/base/dynamic/test_client.py)`, { timeout: 2 * runTimeoutMs + 10_000 }, async () => {
      passed(await inTurn(crd, () => pytest(`kubernetes/dynamic/test_client.py::TestDynamicClient::${name}`, true)), name);
    });

  // Registered in the order they start; the longest chain (changemes) first. A test's timeout
  // covers its wait for its turn.
  describe('the official Python client', { concurrency: 3 }, () => {
    dynamicTest('test_namespaced_custom_resources', 'changemes');
    dynamicTest('test_cluster_custom_resources', 'clusterchangemes');

    test('e2e_test: test_create_apiservice_from_yaml_with_conflict (kubernetes/e2e_test/test_utils.py)', { timeout: runTimeoutMs + 10_000 }, async () => {
      passed(await pytest('kubernetes/e2e_test/test_utils.py::TestUtils::test_create_apiservice_from_yaml_with_conflict'), 'test_create_apiservice_from_yaml_with_conflict');
    });

    dynamicTest('test_async_namespaced_custom_resources', 'changemes');

    for (const example of ['examples/dynamic-client/cluster_scoped_custom_resource.py', 'examples/dynamic-client/namespaced_custom_resource.py']) {
      test(`example: ${example}`, { timeout: 2 * runTimeoutMs + 10_000 }, async () => {
        passed(await inTurn('ingressroutes', () => py([example])), example);
      });
    }

    for (const example of ['examples/namespaced_custom_object.py', 'examples/cluster_scoped_custom_object.py']) {
      test(`example: ${example} (with the CRD its doc string names)`, { timeout: 2 * runTimeoutMs + 60_000 }, () =>
        inTurn('crontabs', async () => {
          const source = fs.readFileSync(path.join(clientDir, example), 'utf8');
          const manifest = /^apiVersion: apiextensions\.k8s\.io\/v1\n[\s\S]*?(?=^""")/m.exec(source)?.[0];
          assert.ok(manifest, `no CRD manifest in the doc string of ${example}`);
          const crd = /^  name: (\S+)$/m.exec(manifest)![1]!;
          await kubectlOk(server, minor, ['apply', '-f', '-'], { input: manifest });
          try {
            await kubectlOk(server, minor, ['wait', '--for=condition=Established', `crd/${crd}`, '--timeout=30s']);
            passed(await py([example]), example);
          } finally {
            await kubectl(server, minor, ['delete', 'crd', crd, '--ignore-not-found', '--timeout=60s']);
          }
        }),
      );
    }
  });
}
