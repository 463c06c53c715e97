// The Kubernetes manifests (deploy/k8s/): the base and the replicas overlay are rendered
// with `kubectl kustomize`, every rendered document is validated against the Kubernetes
// JSON schemas in strict mode (unknown fields refused) by kubernetes-validate (PyPI, pinned
// in deploy/k8s/requirements.txt, run by $PYTHON), and the facts a schema cannot check are
// asserted here: the probes are gRPC health probes on the server's port, the drain fits in
// the grace period, the Secret is referenced, the Services and NetworkPolicies select the
// right pods, the overlay runs several replicas. No cluster: nothing is applied.
//
// Needs `kubectl` on PATH (or $KUBECTL; 1.32 with kustomize v5.5 and Debian 12's 1.20.2
// with kustomize v2.0.3 were both checked, and render the same documents) and $PYTHON
// (default target/seed-venv/bin/python) with kubernetes-validate installed:
//   target/seed-venv/bin/python -m pip install -r deploy/k8s/requirements.txt
// Either missing fails the test, saying so: it never skips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BASE = join(ROOT, 'deploy/k8s/base');
const OVERLAY = join(ROOT, 'deploy/k8s/overlays/replicas');
const KUBECTL = process.env.KUBECTL || 'kubectl';
const PYTHON = (() => {
  const python = process.env.PYTHON || 'target/seed-venv/bin/python';
  return isAbsolute(python) || !python.includes('/') ? python : join(ROOT, python);
})();
// The newer kubectl checked (1.32), and the newest the pinned kubernetes-validate ships.
const KUBERNETES_VERSIONS = ['1.32.0', '1.37.0'];
const PINNED = readFileSync(join(ROOT, 'deploy/k8s/requirements.txt'), 'utf8')
  .match(/^kubernetes-validate==(\S+)/m)?.[1];
const INSTALL = `${PYTHON} -m pip install -r deploy/k8s/requirements.txt`;

/** `kubectl kustomize dir`: the YAML text and its documents. Only stdout is read, and only
 * the exit status decides: kustomize v5 (kubectl 1.32) prints deprecation warnings on stderr
 * for `bases:` and `patchesStrategicMerge:`, which the overlay keeps so that kubectl 1.20's
 * kustomize v2.0.3 (Debian 12's kubernetes-client) renders the same manifests; stderr is
 * shown only when the command fails. */
function render(dir) {
  const result = spawnSync(KUBECTL, ['kustomize', dir], {
    encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.error?.code === 'ENOENT') {
    assert.fail(`kubectl not found (${KUBECTL}): this test renders deploy/k8s with ` +
      '`kubectl kustomize`; put kubectl on PATH or set KUBECTL');
  }
  assert.ifError(result.error);
  assert.equal(result.status, 0,
    `${KUBECTL} kustomize ${dir} failed (${result.signal ?? `exit ${result.status}`}):\n${result.stderr}`);
  const documents = parseAllDocuments(result.stdout).map((document) => {
    assert.deepEqual(document.errors, [], 'kubectl printed valid YAML');
    return document.toJS();
  }).filter(Boolean);
  return { text: result.stdout, documents };
}

/** kubernetes-validate on `text` (any number of documents, on stdin), strict, once per
 * version (it reads stdin once, so one `-k` a run). */
function validate(text) {
  const runs = KUBERNETES_VERSIONS.map((version) => {
    const result = spawnSync(PYTHON, ['-m', 'kubernetes_validate', '--strict', '-k', version, '-'],
      { input: text, encoding: 'utf8', timeout: 120_000 });
    if (result.error?.code === 'ENOENT') {
      assert.fail(`no Python at ${PYTHON} (set PYTHON): create it and install the validator: ` +
        `python3 -m venv target/seed-venv && ${INSTALL}`);
    }
    assert.ifError(result.error);
    if (/No module named kubernetes_validate/.test(result.stderr)) {
      assert.fail(`kubernetes-validate is not installed in ${PYTHON}: ${INSTALL}`);
    }
    return result;
  });
  return {
    status: Math.max(...runs.map((run) => run.status ?? 1)),
    lines: runs.flatMap((run) => run.stdout.split('\n').filter(Boolean)),
    stderr: runs.map((run) => run.stderr).join(''),
  };
}

/** Every document passed for every version, and nothing else was said (no WARN: a kind
 * without a schema is only a warning to kubernetes-validate, and a failure here). */
function assertValid(text, documents) {
  const { status, lines, stderr } = validate(text);
  const problems = lines.filter((line) => !/^INFO .* passed for resource /.test(line));
  assert.deepEqual(problems, [], `kubernetes-validate refused:\n${lines.join('\n')}\n${stderr}`);
  assert.equal(status, 0, stderr);
  for (const document of documents) {
    const name = `${document.kind.toLowerCase()}/${document.metadata.name}`;
    for (const version of KUBERNETES_VERSIONS) {
      const minor = version.split('.').slice(0, 2).join('.');
      assert.ok(lines.some((line) => line.includes(`resource ${name} against version ${minor}`)),
        `${name} validated against ${minor}:\n${lines.join('\n')}`);
    }
  }
}

const find = (documents, kind, name) => {
  const found = documents.find((document) => document.kind === kind && document.metadata.name === name);
  assert.ok(found, `${kind}/${name} rendered`);
  return found;
};
const selects = (matchLabels, labels) =>
  Object.keys(matchLabels ?? {}).length > 0
  && Object.entries(matchLabels).every(([key, value]) => labels?.[key] === value);
const portOf = (address) => Number(address.match(/:(\d+)$/)[1]);
const envOf = (container) => Object.fromEntries((container.env ?? []).map((entry) => [entry.name, entry]));
/** A duration as the server's flags take it (`10s`, `500ms`, `2m`), in seconds. */
const seconds = (value) => {
  const match = /^(\d+)(ms|s|m)$/.exec(value);
  assert.ok(match, `a duration: ${value}`);
  return Number(match[1]) * { ms: 0.001, s: 1, m: 60 }[match[2]];
};

// The server's own environment variables, from its flags (`env = "..."` in clap).
const SERVER_ENV = new Set([...readFileSync(join(ROOT, 'server/src/config.rs'), 'utf8')
  .matchAll(/\benv\s*=\s*"([A-Z0-9_]+)"/g)].map((match) => match[1]));
// Read by the server process but not its flags: the downward-API pod address (used in
// SERVER_ADVERTISE) and libpq's PGPASSWORD, which sqlx (its driver) reads when
// DATABASE_URL carries no password.
const OTHER_ENV = new Set(['POD_IP', 'PGPASSWORD']);

function checkServer(documents) {
  const deployment = find(documents, 'Deployment', 'server');
  const pod = deployment.spec.template;
  const container = pod.spec.containers.find((each) => each.name === 'server');
  assert.ok(container, 'the server container');
  const env = envOf(container);

  // Only real names: every variable is one of the server's flags (or the two above), and
  // no others appear: Kubernetes' Docker-link variables (SERVER_PORT, SERVER_SERVICE_HOST
  // from the Service `server`; ETCD_* and POSTGRES_* ones beside those images' own
  // settings) are off in every workload.
  for (const workload of documents.filter((document) => document.spec?.template?.spec)) {
    assert.equal(workload.spec.template.spec.enableServiceLinks, false,
      `${workload.kind}/${workload.metadata.name}: enableServiceLinks: false`);
  }
  assert.ok(SERVER_ENV.size > 40 && SERVER_ENV.has('SERVER_AUTH_TOKEN'), 'config.rs read');
  for (const name of Object.keys(env)) {
    assert.ok(SERVER_ENV.has(name) || OTHER_ENV.has(name), `${name} is one of the server's variables`);
  }

  // The ports: the one the server listens on, and the metrics one.
  const ports = Object.fromEntries(container.ports.map((port) => [port.name, port.containerPort]));
  const listen = portOf(env.SERVER_LISTEN.value);
  assert.equal(ports.http, listen, 'the container port is SERVER_LISTEN\'s');
  assert.equal(ports.metrics, portOf(env.SERVER_METRICS_LISTEN.value), 'metrics port');

  // Probes: gRPC health (grpc.health.v1, the whole server: service "") on that port, and
  // nothing else (an HTTP probe would get the web app, not the server's health).
  for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    const probe = container[kind];
    assert.ok(probe, kind);
    assert.deepEqual(probe.grpc, { port: listen, service: '' }, `${kind} is a gRPC health probe`);
    for (const other of ['httpGet', 'tcpSocket', 'exec']) assert.equal(probe[other], undefined, kind);
  }

  // The drain (server/src/app.rs): NOT_SERVING for the drain delay, then running calls get
  // the grace; SIGKILL must come after both (and after any preStop sleep, which the
  // period also covers). Readiness sees NOT_SERVING within the drain delay; liveness
  // cannot kill a draining pod before its grace period ends.
  const drain = seconds(env.SERVER_DRAIN_DELAY.value);
  const grace = seconds(env.SERVER_SHUTDOWN_GRACE.value);
  const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
  assert.equal(container.lifecycle?.preStop?.exec, undefined, 'no shell in the distroless image');
  const period = pod.spec.terminationGracePeriodSeconds;
  assert.ok(drain > 0, 'a drain delay');
  assert.ok(period > preStop + drain + grace, `terminationGracePeriodSeconds ${period} > ${preStop} + ${drain} + ${grace}`);
  const readiness = container.readinessProbe;
  assert.ok(readiness.periodSeconds * readiness.failureThreshold < drain, 'readiness notices the drain in time');
  const liveness = container.livenessProbe;
  assert.ok(liveness.periodSeconds * liveness.failureThreshold >= period, 'liveness outlasts a drain');

  // Resources.
  for (const what of ['requests', 'limits']) {
    assert.ok(container.resources?.[what]?.cpu && container.resources[what].memory, `${what} set`);
  }

  // The token comes from a Secret that is rendered and has the key; so does every other
  // secretKeyRef of every workload.
  const token = env.SERVER_AUTH_TOKEN;
  assert.equal(token.value, undefined, 'no token in the manifest');
  assert.ok(token.valueFrom?.secretKeyRef, 'SERVER_AUTH_TOKEN from a Secret');
  for (const workload of documents.filter((document) => document.spec?.template?.spec)) {
    for (const each of workload.spec.template.spec.containers) {
      for (const entry of each.env ?? []) {
        const ref = entry.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const secret = find(documents, 'Secret', ref.name);
        assert.ok(ref.key in { ...secret.data, ...secret.stringData }, `${ref.name} has ${ref.key}`);
      }
    }
  }
  // The shipped token is a placeholder the server refuses at start (its rule: 1 to 256
  // visible ASCII characters), so forgetting to set one fails closed.
  const placeholder = find(documents, 'Secret', token.valueFrom.secretKeyRef.name)
    .stringData?.[token.valueFrom.secretKeyRef.key];
  assert.ok(placeholder !== undefined && !/^[\x21-\x7e]{1,256}$/.test(placeholder),
    'the shipped token is a placeholder the server refuses');

  // The Services: a normal one and a headless one (clusterIP: None), both on these pods,
  // to the server's port.
  const services = documents.filter((document) => document.kind === 'Service'
    && selects(document.spec.selector, pod.metadata.labels));
  const headless = services.filter((service) => service.spec.clusterIP === 'None');
  const normal = services.filter((service) => service.spec.clusterIP !== 'None');
  assert.equal(headless.length, 1, 'one headless Service for client-side balancing');
  assert.equal(normal.length, 1, 'one normal Service for the browser');
  for (const service of services) {
    assert.ok(service.spec.ports.some((port) => port.targetPort === 'http' || port.targetPort === listen),
      `${service.metadata.name} reaches the server's port`);
  }

  return { deployment, pod, env };
}

/** A NetworkPolicy lets only the server's pods (and `also`) reach `component` on `port`. */
function checkPrivate(documents, component, serverLabels, also = []) {
  const workload = documents.find((document) => document.kind === 'StatefulSet'
    && document.spec.template.metadata.labels['app.kubernetes.io/component'] === component);
  assert.ok(workload, `${component} StatefulSet`);
  const labels = workload.spec.template.metadata.labels;
  const port = workload.spec.template.spec.containers[0].ports[0].containerPort;
  const policies = documents.filter((document) => document.kind === 'NetworkPolicy'
    && selects(document.spec.podSelector.matchLabels, labels));
  assert.equal(policies.length, 1, `one NetworkPolicy selects the ${component} pods`);
  const [policy] = policies;
  assert.ok(policy.spec.policyTypes.includes('Ingress'), 'ingress is restricted');
  assert.ok(policy.spec.ingress.length > 0, 'some ingress allowed');
  for (const rule of policy.spec.ingress) {
    assert.deepEqual(rule.ports, [{ protocol: 'TCP', port }], `only ${component}'s port`);
    assert.ok(rule.from?.length > 0, 'from someone, not from everyone');
    for (const peer of rule.from) {
      assert.deepEqual(Object.keys(peer), ['podSelector'], 'pods of this namespace only');
      const allowed = selects(peer.podSelector.matchLabels, serverLabels)
        || also.some((extra) => selects(peer.podSelector.matchLabels, extra));
      assert.ok(allowed, `${JSON.stringify(peer)} is the server's pods`);
    }
  }
  assert.ok(policy.spec.ingress.some((rule) =>
    rule.from.some((peer) => selects(peer.podSelector.matchLabels, serverLabels))), 'the server gets in');
  return { workload, port };
}

function checkState(documents, { pod, env }) {
  const serverLabels = pod.metadata.labels;
  // PostgreSQL: a StatefulSet with its volume claim, reached by DATABASE_URL, private.
  const { workload: postgres, port: postgresPort } = checkPrivate(documents, 'postgres', serverLabels);
  const claims = postgres.spec.volumeClaimTemplates.map((claim) => claim.metadata.name);
  assert.ok(postgres.spec.template.spec.containers[0].volumeMounts
    .some((mount) => claims.includes(mount.name)), 'PostgreSQL keeps its data in its claim');
  const database = new URL(env.DATABASE_URL.value);
  assert.equal(database.protocol, 'postgres:');
  assert.equal(database.password, '', 'no password in DATABASE_URL');
  assert.equal(Number(database.port), postgresPort);
  assert.equal(find(documents, 'Service', database.hostname).spec.selector['app.kubernetes.io/component'], 'postgres');
  assert.ok(env.PGPASSWORD.valueFrom.secretKeyRef, 'the database password from the Secret');

  // etcd: the server registers there (with an address to be called at), private too.
  const { port: etcdPort } = checkPrivate(documents, 'etcd', serverLabels,
    [{ 'grpc-browser/etcd-client': 'true' }]);
  const etcd = new URL(env.SERVER_ETCD.value);
  assert.equal(Number(etcd.port), etcdPort);
  assert.equal(find(documents, 'Service', etcd.hostname).spec.selector['app.kubernetes.io/component'], 'etcd');
  assert.match(env.SERVER_ADVERTISE.value, /^\$\(POD_IP\):\d+$/);
  assert.equal(portOf(env.SERVER_ADVERTISE.value), portOf(env.SERVER_LISTEN.value));
}

test('kubernetes-validate is the pinned version', () => {
  assert.ok(PINNED, 'deploy/k8s/requirements.txt pins kubernetes-validate==VERSION');
  const result = spawnSync(PYTHON, ['-m', 'kubernetes_validate', '--version'], { encoding: 'utf8' });
  if (result.error?.code === 'ENOENT') assert.fail(`no Python at ${PYTHON} (set PYTHON); then ${INSTALL}`);
  assert.ok(!/No module named/.test(result.stderr), `kubernetes-validate missing: ${INSTALL}`);
  assert.equal(result.stdout.trim(), PINNED, `the pinned version: ${INSTALL}`);
});

test('the base renders, validates, and says what the server needs', () => {
  const { text, documents } = render(BASE);
  assertValid(text, documents);
  const server = checkServer(documents);
  assert.equal(server.deployment.spec.replicas, 1, 'the base runs one replica');
  checkState(documents, server);
});

test('the replicas overlay renders, validates, and runs several replicas', () => {
  const { text, documents } = render(OVERLAY);
  assertValid(text, documents);
  const server = checkServer(documents);
  checkState(documents, server);
  const replicas = server.deployment.spec.replicas;
  assert.ok(replicas > 1, `several replicas: ${replicas}`);
  assert.equal(server.deployment.spec.strategy.rollingUpdate.maxUnavailable, 0, 'rolled with no capacity lost');

  const budgets = documents.filter((document) => document.kind === 'PodDisruptionBudget'
    && selects(document.spec.selector.matchLabels, server.pod.metadata.labels));
  assert.equal(budgets.length, 1, 'a PodDisruptionBudget on the replicas');
  const [budget] = budgets;
  const down = budget.spec.maxUnavailable ?? replicas - budget.spec.minAvailable;
  assert.ok(down >= 1 && down < replicas, `drains take ${down} of ${replicas} at a time`);
  for (const constraint of server.pod.spec.topologySpreadConstraints) {
    assert.ok(selects(constraint.labelSelector.matchLabels, server.pod.metadata.labels), 'spreads the replicas');
  }

  // The overlay changes only what it says: everything else is the base's.
  const base = render(BASE).documents;
  assert.deepEqual(documents.map((document) => `${document.kind}/${document.metadata.name}`).sort(),
    [...base.map((document) => `${document.kind}/${document.metadata.name}`), 'PodDisruptionBudget/server'].sort());
});

test('a broken manifest is refused by the same validation', () => {
  // The checks above can fail: a field of the wrong type, an unknown field (strict) and a
  // kind with no schema are each refused.
  const { documents } = render(BASE);
  const deployment = () => structuredClone(find(documents, 'Deployment', 'server'));
  const wrongType = deployment();
  wrongType.spec.template.spec.containers[0].ports[0].containerPort = 'fifty thousand';
  const unknown = deployment();
  unknown.spec.template.spec.terminationGracePeriodSecs = 40;
  const noSchema = { apiVersion: 'example.com/v1', kind: 'Unknown', metadata: { name: 'x' } };
  for (const [what, broken, expected] of [
    ['a string for containerPort', wrongType, /containerPort: 'fifty thousand' is not of type 'integer'/],
    ['an unknown field', unknown, /'terminationGracePeriodSecs' was unexpected/],
    ['a kind without a schema', noSchema, /Couldn't find schema for kind Unknown/],
  ]) {
    assert.throws(() => assertValid(stringify(broken), [broken]), expected, what);
  }
});
