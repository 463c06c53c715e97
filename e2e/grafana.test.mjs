// The Grafana dashboard (deploy/grafana/dashboard.json) against the real server and a real
// Prometheus: every metric and label its PromQL uses is one the release server exports (a
// scrape of /metrics after real calls), and Debian's Prometheus, run with
// deploy/prometheus/prometheus.yml (its `server` job pointed at this server, scraping
// every second), scrapes the server and answers every query of the dashboard with data.
//
// The metrics listener's port cannot be read back when `--metrics-listen` is given port 0
// (the server logs the address it was given, not the bound one), so a free port is picked
// here first by binding 127.0.0.1:0.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { startServer } from './harness.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DASHBOARD = join(ROOT, 'deploy/grafana/dashboard.json');
const PROMETHEUS_CONFIG = join(ROOT, 'deploy/prometheus/prometheus.yml');
const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';
/** Grafana's interval variables, as Grafana would make them for a 1 s scrape interval. */
const RATE_INTERVAL = '10s';

/** Series Prometheus adds to every target itself: not in the server's exposition. */
const PROMETHEUS_SERIES = new Set([
  'up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
]);
/** Labels Prometheus attaches to every scraped series. */
const TARGET_LABELS = new Set(['job', 'instance']);

// PromQL's functions and aggregation operators (Prometheus 2.x); a name followed by `(`
// that is in neither is refused, so a misspelt function is caught too.
const FUNCTIONS = new Set(`abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil
  changes clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year
  days_in_month deg delta deriv exp floor histogram_count histogram_fraction histogram_quantile
  histogram_sum holt_winters hour idelta increase irate label_join label_replace last_over_time ln
  log10 log2 mad_over_time max_over_time min_over_time minute month pi predict_linear
  present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_desc sqrt
  stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector year start end`
  .split(/\s+/));
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count',
  'count_values', 'bottomk', 'topk', 'quantile']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const WORDS = new Set(['bool', 'and', 'or', 'unless', 'atan2', 'offset', 'inf', 'nan']);

/** Grafana's variables replaced as Grafana would for "All": intervals by a duration, the rest by `.+`. */
export function substituteVariables(expr) {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g, RATE_INTERVAL)
    .replace(/\$\{[^}]+\}|\$[A-Za-z_]\w*|\[\[[^\]]+\]\]/g, '.+');
}

function tokenize(expr) {
  const tokens = [];
  const patterns = [
    ['space', /^\s+/],
    ['comment', /^#[^\n]*/],
    ['string', /^"(?:[^"\\]|\\.)*"|^'(?:[^'\\]|\\.)*'|^`[^`]*`/],
    ['number', /^(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?:ms|[smhdwy])*)/],
    ['ident', /^[A-Za-z_:][A-Za-z0-9_:]*/],
    ['op', /^(?:=~|!~|!=|==|>=|<=|[-+*/%^<>=,(){}[\]@])/],
  ];
  let rest = expr;
  while (rest.length > 0) {
    const found = patterns.find(([, pattern]) => pattern.test(rest));
    if (!found) throw new Error(`cannot read PromQL at ${JSON.stringify(rest.slice(0, 20))} in ${expr}`);
    const [type, pattern] = found;
    const [text] = rest.match(pattern);
    if (type !== 'space' && type !== 'comment') tokens.push({ type, text });
    rest = rest.slice(text.length);
  }
  return tokens;
}

/** The metric names (as series names: `_bucket`, `_total`... included) and label names a PromQL expression uses. */
export function promqlNames(expr) {
  const tokens = tokenize(substituteVariables(expr));
  const metrics = new Set();
  const labels = new Set();
  // The metrics read inside histogram_quantile(...), and where those calls are.
  const quantiled = new Set();
  const quantileRanges = [];
  const closing = (from, open, close) => {
    let depth = 0;
    for (let k = from; k < tokens.length; k += 1) {
      if (tokens[k].text === open) depth += 1;
      if (tokens[k].text === close && --depth === 0) return k;
    }
    throw new Error(`unbalanced ${open} in ${expr}`);
  };
  for (let k = 0; k < tokens.length; k += 1) {
    const token = tokens[k];
    const next = tokens[k + 1];
    if (token.text === '{') {
      // Label matchers: `name op "value"`, comma separated.
      const end = closing(k, '{', '}');
      for (let m = k + 1; m < end; m += 1) {
        if (tokens[m].type === 'ident' && ['=', '!=', '=~', '!~'].includes(tokens[m + 1]?.text)) {
          if (tokens[m].text === '__name__') metrics.add(JSON.parse(`"${tokens[m + 2].text.slice(1, -1)}"`));
          else labels.add(tokens[m].text);
        }
      }
      k = end;
    } else if (token.text === '[') {
      k = closing(k, '[', ']'); // a range or subquery's durations
    } else if (token.type === 'ident') {
      const word = token.text.toLowerCase();
      if (GROUPING.has(word)) {
        if (next?.text === '(') {
          const end = closing(k + 1, '(', ')');
          for (let m = k + 2; m < end; m += 1) if (tokens[m].type === 'ident') labels.add(tokens[m].text);
          k = end;
        }
      } else if (WORDS.has(word)) {
        // An operator or keyword (offset's duration is a number token).
      } else if (next?.text === '(') {
        if (!FUNCTIONS.has(token.text) && !AGGREGATIONS.has(token.text)) {
          throw new Error(`unknown PromQL function ${token.text}() in ${expr}`);
        }
        if (token.text === 'histogram_quantile') quantileRanges.push([k, closing(k + 1, '(', ')')]);
      } else if (AGGREGATIONS.has(token.text) && ['by', 'without'].includes(next?.text)) {
        // `sum by (le) (...)`: the grouping comes next.
      } else {
        metrics.add(token.text);
        if (quantileRanges.some(([from, to]) => k > from && k < to)) quantiled.add(token.text);
      }
    }
  }
  return { metrics, labels, quantiled };
}

/** Every query of a dashboard: each panel's targets (rows' panels included) and each query variable. */
export function dashboardQueries(dashboard) {
  const queries = [];
  const visit = (panels, path) => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (target.expr) queries.push({ where: `${path}${panel.title} [${target.refId}]`, expr: target.expr, kind: 'expr' });
      }
      visit(panel.panels, `${path}${panel.title} / `);
    }
  };
  visit(dashboard.panels, '');
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    const text = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    const labelValues = text?.match(/^\s*label_values\(\s*(?:(.*),\s*)?([A-Za-z_]\w*)\s*\)\s*$/);
    if (labelValues) {
      queries.push({ where: `variable $${variable.name}`, expr: labelValues[1] ?? '', label: labelValues[2], kind: 'label_values' });
    } else if (text) {
      const wrapped = text.match(/^\s*query_result\((.*)\)\s*$/);
      queries.push({ where: `variable $${variable.name}`, expr: wrapped ? wrapped[1] : text, kind: 'expr' });
    }
  }
  return queries;
}

/** A text exposition (OpenMetrics or Prometheus): each family's type, each series name's labels. */
export function parseExposition(text) {
  const types = new Map();
  const series = new Map();
  for (const line of text.split('\n')) {
    const type = line.match(/^# TYPE (\S+) (\S+)/);
    if (type) { types.set(type[1], type[2]); continue; }
    if (line.startsWith('#') || line.trim() === '') continue;
    const sample = line.match(/^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+\S+/);
    if (!sample) throw new Error(`cannot read the sample line ${JSON.stringify(line)}`);
    const labels = series.get(sample[1]) ?? new Set();
    for (const [, name] of (sample[2] ?? '').matchAll(/([A-Za-z_]\w*)="(?:[^"\\]|\\.)*"/g)) labels.add(name);
    series.set(sample[1], labels);
  }
  // The family a series name belongs to: itself, or itself less its type's suffix.
  const suffixes = {
    counter: ['_total', '_created'], histogram: ['_bucket', '_sum', '_count', '_created'],
    summary: ['_sum', '_count', '_created'], gaugehistogram: ['_bucket', '_gsum', '_gcount'], info: ['_info'],
  };
  const familyOf = (name) => {
    if (types.has(name) && !['counter', 'histogram', 'summary', 'gaugehistogram', 'info'].includes(types.get(name))) return name;
    for (const [family, type] of types) {
      if ((suffixes[type] ?? []).some((suffix) => name === `${family}${suffix}`)) return family;
    }
    return undefined;
  };
  return { types, series, familyOf };
}

/**
 * What is wrong with `dashboard` against a scrape (`exposition`): metrics or labels that
 * the server does not export, series names that are not series (a histogram's bare family
 * name, say), histogram_quantile over anything but a histogram's buckets, families the
 * dashboard leaves out. Empty when it is right.
 */
export function dashboardProblems(dashboard, exposition) {
  const { types, series, familyOf } = parseExposition(exposition);
  const knownLabels = new Set([...TARGET_LABELS, ...[...series.values()].flatMap((labels) => [...labels])]);
  const problems = [];
  const usedFamilies = new Set();
  const queries = dashboardQueries(dashboard);
  if (queries.length === 0) problems.push('the dashboard has no queries');
  for (const { where, expr, label } of queries) {
    let names;
    try {
      names = promqlNames(expr);
    } catch (error) {
      problems.push(`${where}: ${error.message}`);
      continue;
    }
    if (label) names.labels.add(label);
    if (names.metrics.size === 0 && label === undefined) problems.push(`${where}: no metric in ${expr}`);
    for (const metric of names.metrics) {
      if (PROMETHEUS_SERIES.has(metric)) continue;
      if (!series.has(metric)) {
        const family = types.has(metric) ? ` (${metric} is a ${types.get(metric)} family: its series are ${[...series.keys()].filter((name) => familyOf(name) === metric).join(', ')})` : '';
        problems.push(`${where}: ${metric} is not a series the server exports${family}`);
        continue;
      }
      usedFamilies.add(familyOf(metric));
    }
    for (const name of names.labels) {
      if (!knownLabels.has(name)) problems.push(`${where}: no exported series has the label ${name}`);
    }
    for (const metric of names.quantiled) {
      if (types.get(familyOf(metric)) !== 'histogram' || !metric.endsWith('_bucket')) {
        problems.push(`${where}: histogram_quantile over ${metric}, not a histogram's _bucket series`);
      }
    }
  }
  for (const family of types.keys()) {
    if (!usedFamilies.has(family)) problems.push(`the server exports ${family} (${types.get(family)}), which the dashboard does not show`);
  }
  return problems;
}

/** A free loopback port (bound and released). */
async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** Polls `check` (which returns a value when done) every 250 ms for at most `timeoutMs`. */
async function eventually(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = `got ${value}`;
    } catch (error) {
      last = error.message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${last})`);
    await sleep(250);
  }
}

const timeout = (ms = 10_000) => AbortSignal.timeout(ms);

let server;
let metricsUrl;
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));

before(async () => {
  // The picked port may be taken before the server binds it: then try another.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    try {
      server = await startServer({ staticDir: null, args: ['--metrics-listen', `127.0.0.1:${port}`] });
      metricsUrl = `http://127.0.0.1:${port}/metrics`;
      break;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
});

after(async () => {
  await server?.stop();
});

/** Real calls over the REST gateway and gRPC-Web, OK and not, so every call series has samples. */
async function makeCalls() {
  const hello = await fetch(`${server.url}/v1/greeter/hello`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": "Ada"}', signal: timeout(),
  });
  assert.equal(hello.status, 200);
  assert.deepEqual(await hello.json(), { message: 'Hello, Ada!' });
  const invalid = await fetch(`${server.url}/v1/greeter/hello`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": ""}', signal: timeout(),
  });
  assert.equal(invalid.status, 400);
  await invalid.body?.cancel();
  const cities = await fetch(`${server.url}/v1/cities?query=par&limit=3`, { signal: timeout() });
  assert.equal(cities.status, 200);
  await cities.body?.cancel();
  // gRPC-Web (binary): one SayHello, HelloRequest { name: "Grace" }.
  const message = Buffer.from([0x0a, 5, ...Buffer.from('Grace')]);
  const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
  const grpcWeb = await fetch(`${server.url}/Greeter/SayHello`, {
    method: 'POST',
    headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' },
    body: frame,
    signal: timeout(),
  });
  assert.equal(grpcWeb.status, 200);
  const answer = Buffer.from(await grpcWeb.arrayBuffer()).toString('latin1');
  assert.match(answer, /Hello, Grace!/);
  assert.match(grpcWeb.headers.get('grpc-status') ?? answer, /grpc-status:\s*0|^0$/);
}

/** A live weather stream (SSE), held open: an open stream and a live producer. */
async function openWatch() {
  const controller = new AbortController();
  const response = await fetch(`${server.url}/v1/cities/oslo-no/conditions:watch`, { signal: controller.signal });
  assert.equal(response.status, 200);
  const reader = response.body.getReader();
  const give = setTimeout(() => controller.abort(), 10_000);
  let text = '';
  try {
    while (!/^data:/m.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before its first reading: ${text}`);
      text += Buffer.from(value).toString();
    }
  } finally {
    clearTimeout(give);
  }
  return {
    close() {
      controller.abort();
      reader.cancel().catch(() => {});
    },
  };
}

async function scrape() {
  const response = await fetch(metricsUrl, { signal: timeout() });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^application\/openmetrics-text/);
  return response.text();
}

test('every metric and label the dashboard uses is one the server exports', { timeout: 60_000 }, async () => {
  await makeCalls();
  const watch = await openWatch();
  let exposition;
  try {
    exposition = await scrape();
  } finally {
    watch.close();
  }
  const queries = dashboardQueries(dashboard);
  assert.ok(queries.length >= 20, `${queries.length} queries`);
  const problems = dashboardProblems(dashboard, exposition);
  assert.deepEqual(problems, [], `${problems.join('\n')}\n\nthe scrape:\n${exposition}`);

  // What the dashboard reads is there, with samples from the calls above.
  const used = new Set(queries.flatMap(({ expr }) => [...promqlNames(expr).metrics]));
  for (const name of ['grpc_server_handled_total', 'grpc_server_handling_seconds_bucket', 'grpc_server_in_flight',
    'grpc_server_open_streams', 'weather_live_producers', 'process_resident_memory_bytes', 'process_cpu_seconds']) {
    assert.ok(used.has(name), `the dashboard uses ${name}`);
  }
  assert.match(exposition, /^grpc_server_handled_total\{method="\/Greeter\/SayHello",code="OK"\} [1-9]/m);
  assert.match(exposition, /^grpc_server_handled_total\{method="\/Greeter\/SayHello",code="INVALID_ARGUMENT"\} 1/m);
  assert.match(exposition, /^weather_live_producers 1$/m);
});

test('a dashboard with a wrong metric, suffix or label fails the check', { timeout: 60_000 }, async () => {
  const exposition = await scrape();
  const broken = (from, to) => {
    const copy = structuredClone(dashboard);
    let replaced = 0;
    const visit = (panels) => {
      for (const panel of panels ?? []) {
        for (const target of panel.targets ?? []) {
          if (target.expr?.includes(from)) { target.expr = target.expr.replace(from, to); replaced += 1; }
        }
        visit(panel.panels);
      }
    };
    visit(copy.panels);
    assert.ok(replaced > 0, `the dashboard uses ${from}`);
    return dashboardProblems(copy, exposition);
  };
  const problems = (from, to) => broken(from, to).join('\n');
  assert.match(problems('grpc_server_in_flight{', 'grpc_server_inflight{'), /grpc_server_inflight is not a series/);
  // A histogram's family name is not a series; a counter's needs its _total.
  assert.match(problems('grpc_server_handling_seconds_bucket', 'grpc_server_handling_seconds'),
    /grpc_server_handling_seconds is not a series the server exports \(grpc_server_handling_seconds is a histogram family/);
  assert.match(problems('grpc_server_handled_total{', 'grpc_server_handled{'), /grpc_server_handled is not a series/);
  assert.match(problems('histogram_quantile(0.99, sum by (le) (rate(grpc_server_request_bytes_bucket',
    'histogram_quantile(0.99, sum by (le) (rate(grpc_server_request_bytes_count'), /histogram_quantile over grpc_server_request_bytes_count/);
  assert.match(problems('sum by (method, code)', 'sum by (method, status)'), /no exported series has the label status/);
  assert.match(problems('histogram_quantile(0.5', 'histogram_quantil(0.5'), /unknown PromQL function histogram_quantil\(\)/);
  // Leaving a family out is reported too.
  const withoutFds = structuredClone(dashboard);
  withoutFds.panels = withoutFds.panels.filter((panel) => !JSON.stringify(panel.targets ?? []).includes('process_open_fds'));
  assert.match(dashboardProblems(withoutFds, exposition).join('\n'), /exports process_open_fds \(gauge\), which the dashboard does not show/);
});

test('Prometheus scrapes the server with deploy/prometheus/prometheus.yml and answers every dashboard query', { timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(PROMETHEUS), `${PROMETHEUS} is missing: install Debian's prometheus (apt-get install prometheus)`);
  if (existsSync(PROMTOOL)) execFileSync(PROMTOOL, ['check', 'config', PROMETHEUS_CONFIG], { stdio: 'pipe', timeout: 30_000 });

  const dir = mkdtempSync(join(tmpdir(), 'e2e-prometheus-'));
  const config = parseYaml(readFileSync(PROMETHEUS_CONFIG, 'utf8'));
  const job = config.scrape_configs.find((scrape) => scrape.job_name === 'server');
  assert.ok(job, 'prometheus.yml has a `server` job');
  assert.equal(job.metrics_path ?? '/metrics', '/metrics');
  const target = new URL(metricsUrl).host;
  job.static_configs = [{ targets: [target] }];
  config.global = { ...config.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  writeFileSync(join(dir, 'prometheus.yml'), stringifyYaml(config));

  const port = await freePort();
  const prometheusUrl = `http://127.0.0.1:${port}`;
  const logs = [];
  const prometheus = spawn(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1h',
    '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [prometheus.stdout, prometheus.stderr]) stream.on('data', (chunk) => logs.push(chunk.toString()));
  const exited = new Promise((resolve) => { prometheus.once('exit', resolve); });
  const killOnExit = () => prometheus.kill('SIGKILL');
  process.on('exit', killOnExit);

  let calling = true;
  const caller = (async () => {
    while (calling) {
      await makeCalls().catch(() => {});
      await sleep(200);
    }
  })();
  let watch;
  try {
    await eventually('Prometheus ready', async () => {
      if (prometheus.exitCode !== null) throw new Error(`Prometheus exited (${prometheus.exitCode}): ${logs.join('')}`);
      return (await fetch(`${prometheusUrl}/-/ready`, { signal: timeout(2_000) })).ok;
    });
    const version = await (await fetch(`${prometheusUrl}/api/v1/status/buildinfo`, { signal: timeout() })).json();
    t.diagnostic(`Prometheus ${version.data.version} on ${prometheusUrl}, scraping ${target}`);
    await eventually('the server scraped (target health up)', async () => {
      const targets = await (await fetch(`${prometheusUrl}/api/v1/targets?state=active`, { signal: timeout() })).json();
      const active = targets.data.activeTargets.find((one) => one.labels.instance === target);
      if (active?.health !== 'up') throw new Error(`target: ${JSON.stringify(active)}`);
      return active.labels.job === 'server';
    });
    watch = await openWatch();

    const query = async (expr) => {
      const body = new URLSearchParams({ query: substituteVariables(expr) });
      const response = await fetch(`${prometheusUrl}/api/v1/query`, { method: 'POST', body, signal: timeout() });
      const answer = await response.json();
      assert.equal(answer.status, 'success', `${expr}: ${JSON.stringify(answer)}`);
      return answer.data.result;
    };
    const panelExpr = (title) => {
      const found = dashboardQueries(dashboard).find(({ where }) => where.endsWith(`${title} [A]`));
      assert.ok(found, `a panel "${title}"`);
      return found.expr;
    };
    const value = (result) => Number(result[0]?.value[1]);

    // Calls/s over $__rate_interval once there are scrapes with calls between them.
    const callsPerSecond = await eventually('calls/s above 0', async () => {
      const result = await query(panelExpr('Calls/s'));
      return value(result) > 0 ? value(result) : undefined;
    });
    assert.ok(callsPerSecond > 0 && callsPerSecond < 1000, `calls/s ${callsPerSecond}`);
    // The held stream is scraped: open, with its city's producer.
    await eventually('the open stream scraped', async () => value(await query(panelExpr('Open streams'))) >= 1);
    assert.ok(value(await query(panelExpr('In flight'))) >= 1);
    assert.ok(value(await query(panelExpr('Live producers'))) >= 1);
    assert.equal(value(await query(panelExpr('Targets up'))), 1);
    const p99 = value(await query(panelExpr('p99 latency')));
    assert.ok(p99 > 0 && p99 < 20, `p99 latency ${p99} s`);
    assert.ok(value(await query(panelExpr('Resident memory'))) > 1e6);

    // Every query of the dashboard is valid PromQL to Prometheus and has data.
    for (const { where, expr, label, kind } of dashboardQueries(dashboard)) {
      if (kind === 'label_values') {
        const params = new URLSearchParams(expr ? { 'match[]': substituteVariables(expr) } : {});
        const answer = await (await fetch(`${prometheusUrl}/api/v1/label/${label}/values?${params}`, { signal: timeout() })).json();
        assert.equal(answer.status, 'success', `${where}: ${JSON.stringify(answer)}`);
        assert.ok(answer.data.length > 0, `${where}: no values of ${label}`);
      } else {
        const result = await query(expr);
        assert.ok(result.length > 0, `${where}: no data for ${substituteVariables(expr)}`);
      }
    }
  } finally {
    calling = false;
    watch?.close();
    await caller;
    process.off('exit', killOnExit);
    if (prometheus.exitCode === null && prometheus.signalCode === null) {
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
