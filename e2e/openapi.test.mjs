// The OpenAPI document as other tools read it: /openapi.json and /openapi.yaml are one
// document, and it is valid OpenAPI 3.1 by an independent validator
// (@seriousme/openapi-schema-validator, the specification's own JSON Schemas run by ajv).
// That each REST answer conforms to its schema is checked by the Rust REST tests
// (testkit/src/rest.rs), on every answer they get.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { parse } from 'yaml';
import { startServer } from './harness.mjs';

let server;

before(async () => {
  server = await startServer({ staticDir: null });
});

after(async () => {
  await server?.stop();
});

test('the OpenAPI document is valid OpenAPI 3.1, the same as JSON and as YAML', async () => {
  const json = await fetch(`${server.url}/openapi.json`);
  assert.equal(json.status, 200);
  assert.equal(json.headers.get('content-type'), 'application/json');
  const document = await json.json();
  const yaml = await fetch(`${server.url}/openapi.yaml`);
  assert.equal(yaml.status, 200);
  assert.equal(yaml.headers.get('content-type'), 'application/yaml');
  const yamlText = await yaml.text();
  assert.deepEqual(parse(yamlText), document, 'one document');

  for (const specification of [document, yamlText]) {
    const validator = new Validator();
    const result = await validator.validate(specification);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, '3.1');
  }

  // The blog is in it, every method, with its security where it writes.
  const operations = Object.values(document.paths).flatMap((item) => Object.values(item));
  const ids = operations.map((operation) => operation.operationId).sort();
  for (const id of ['AuthorService_CreateAuthor', 'AuthorService_GetAuthor', 'PostService_CreatePost',
    'PostService_GetPost', 'PostService_ListPosts', 'PostService_UpdatePost', 'PostService_PublishPost',
    'PostService_DeletePost', 'CommentService_AddComment', 'CommentService_ListComments',
    'CommentService_WatchComments']) {
    assert.ok(ids.includes(id), `${id} in ${ids}`);
  }
  const create = document.paths['/v1/posts'].post;
  assert.deepEqual(create.security, [{ bearerAuth: [] }]);
  assert.equal(document.paths['/v1/posts'].get.security, undefined, 'reads are open');
  const comment = document.components.schemas['blog.v1.Comment'];
  assert.deepEqual(comment.required, ['author', 'text'], 'REQUIRED fields (google.api.field_behavior)');
  assert.equal(comment.properties.id.readOnly, true, 'OUTPUT_ONLY fields');
});

test('a broken document is refused by the same validator', async () => {
  // The check above can fail: the validator refuses a document missing what 3.1 requires.
  const document = await (await fetch(`${server.url}/openapi.json`)).json();
  delete document.info;
  const result = await new Validator().validate(document);
  assert.equal(result.valid, false);
});
