// The documentation names real files: every repository path that README.md and the pages in
// docs/ name exists, every stage page is linked from docs/README.md, and README.md links
// docs/README.md. Reads the files only: no server, no browser.
//
// Which paths a page names (the extraction rule):
//
// 1. Fenced code blocks (``` … ```) are left out: they hold commands and their arguments
//    (`./photo.jpg`, `notes.md`), not references to this repository.
// 2. Links: the target of every `[text](target)` that is a relative reference, i.e. not a
//    URL (`scheme:`), not an anchor (`#…`) and not site-absolute (`/…`). Any `#fragment` is
//    dropped. The target is resolved against the page's own folder (`../server/…` from
//    docs/). The link's text is a label, not a path: `[`rows.rs`](server/src/store/rows.rs)`
//    checks only the target.
// 3. Inline code spans outside links, resolved against the repository root, when the span
//    looks like a path: only letters, digits and `.`, `_`, `-`, `/` (so no spaces, `:`,
//    `{`, `<`, `*`, `…`, `=`: commands, URLs, `/v1/...` routes with `{id}`, placeholders
//    such as `HOST:PORT` are out), not starting with `/` (a URL path: `/openapi.json`,
//    `/grpc-ws`), `-` (a flag) or `~`, not an extension alone (`.proto`) or a protocol id
//    (`http/1.1`, `h2/…`), and either containing a `/` or ending in one of
//    KNOWN_EXTENSIONS (`Dockerfile` alone is not a path by this rule; `compose.yaml` is).
// 4. Paths under what building and running make (the .gitignore'd GENERATED prefixes:
//    `target/`, `dist/`, `data/`, `.tls/`, `uploads/`, and `node_modules/` anywhere) are not
//    in a fresh clone, so they are not checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = join(ROOT, 'docs');

const KNOWN_EXTENSIONS = [
  '.rs', '.proto', '.mjs', '.js', '.md', '.toml', '.yaml', '.yml', '.json', '.conf', '.py',
  '.sh', '.txt', '.tsv', '.html', '.sql', '.lock', '.pem',
];
const GENERATED = ['target/', 'dist/', 'data/', '.tls/', 'uploads/'];

/// The stage pages, in order; each must be linked from docs/README.md.
const STAGE_PAGES = [
  'stage-1-protobuf.md',
  'stage-2-codegen.md',
  'stage-3-call-modes.md',
  'stage-4-operations.md',
  'stage-5-projects.md',
  'extensions.md',
];

/// Every relative link target of `markdown` (fragment dropped), and the text left once
/// fenced blocks and links are taken out.
function links(markdown) {
  const targets = [];
  const text = markdown
    .replace(/^ {0,3}(```|~~~)[^\n]*\n[\s\S]*?^ {0,3}\1[^\n]*$/gm, '')
    .replace(/!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g,
      (_, _label, target) => {
        targets.push(target);
        return ' ';
      });
  const relativeTargets = targets
    .filter((target) => target !== '' && !/^[a-z][a-z0-9+.-]*:/i.test(target))
    .filter((target) => !target.startsWith('#') && !target.startsWith('/'))
    .map((target) => decodeURI(target.split('#')[0]))
    .filter((target) => target !== '');
  return { targets: relativeTargets, text };
}

/// The contents of the inline code spans of `text`; a span may run over a line break, which
/// counts as a space (as in CommonMark), so such a span is never a path.
function codeSpans(text) {
  return [...text.matchAll(/`([^`]+)`/g)].map(([, span]) => span.replace(/\n/g, ' '));
}

/// Whether an inline code span is a repository path by the rule above.
function looksLikePath(span) {
  if (!/^[A-Za-z0-9._\/-]+$/.test(span)) return false;
  if (/^[\/~-]/.test(span)) return false;
  if (!span.includes('/') && span.startsWith('.')) return false; // `.proto`: an extension
  if (/^(http|h2|h3)\/[\d.]+$/i.test(span)) return false; // `http/1.1`: a protocol id
  return span.includes('/') || KNOWN_EXTENSIONS.some((extension) => span.endsWith(extension));
}

function generated(path) {
  const clean = path.replace(/^\.\//, '');
  return GENERATED.some((prefix) => clean.startsWith(prefix)) || /(^|\/)node_modules(\/|$)/.test(clean);
}

/// Every path `file` (absolute) names, as `{ named, resolved }`, resolved to absolute paths.
function namedPaths(file) {
  const { targets, text } = links(readFileSync(file, 'utf8'));
  const named = [];
  for (const target of targets) {
    named.push({ named: target, resolved: resolve(dirname(file), target) });
  }
  for (const span of codeSpans(text)) {
    if (looksLikePath(span)) named.push({ named: span, resolved: resolve(ROOT, span) });
  }
  return named.filter(({ resolved }) => !generated(relative(ROOT, resolved)));
}

function pages() {
  return [
    join(ROOT, 'README.md'),
    ...readdirSync(DOCS).filter((name) => name.endsWith('.md')).sort().map((name) => join(DOCS, name)),
  ];
}

test('every repository path README.md and docs/ name exists', () => {
  const missing = [];
  let checked = 0;
  for (const page of pages()) {
    for (const { named, resolved } of namedPaths(page)) {
      checked += 1;
      if (!existsSync(resolved)) missing.push(`${relative(ROOT, page)}: \`${named}\``);
    }
  }
  assert.ok(checked > 100, `only ${checked} paths found: is the extraction broken?`);
  assert.deepEqual(missing, [], `named but missing:\n${missing.join('\n')}`);
});

test('docs/README.md links every stage page, and README.md links docs/README.md', () => {
  const index = join(DOCS, 'README.md');
  const linked = new Set(links(readFileSync(index, 'utf8')).targets
    .map((target) => normalize(resolve(DOCS, target))));
  for (const page of [...STAGE_PAGES, 'websocket-transport.md']) {
    assert.ok(existsSync(join(DOCS, page)), `docs/${page} exists`);
    assert.ok(linked.has(join(DOCS, page)), `docs/README.md links ${page}`);
  }
  const readme = links(readFileSync(join(ROOT, 'README.md'), 'utf8')).targets
    .map((target) => normalize(resolve(ROOT, target)));
  assert.ok(readme.includes(index), 'README.md links docs/README.md');
});

test('the extraction finds paths in links and code spans, and skips the rest', () => {
  const sample = [
    'See [`rows.rs`](../server/src/store/rows.rs#L1), [the API](https://example.com/x.rs),',
    '[top](#top), `proto/chat/v1/chat.proto`, `compose.yaml`, `/v1/posts/{id}`, `/openapi.json`,',
    '`HOST:PORT`, `--tls-dir`, `chat.v1.ChatService`, `target/release/server`, `e2e/node_modules/x.js`,',
    '`CONNECT /grpc-ws`, `content-type: application/grpc`.',
    '```sh',
    'cargo run -p cli -- files upload ./photo.jpg `not/a/path.rs`',
    '```',
  ].join('\n');
  const { targets, text } = links(sample);
  assert.deepEqual(targets, ['../server/src/store/rows.rs']);
  const spans = codeSpans(text).filter(looksLikePath)
    .filter((span) => !generated(span));
  assert.deepEqual(spans, ['proto/chat/v1/chat.proto', 'compose.yaml']);
});
