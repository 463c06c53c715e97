// The Blog and API pages in headless Chromium, against a server with an access token:
// writing a draft (its author made on the way), reading it rendered, publishing, editing
// with a conflict shown when someone else edited first, comments arriving live on every
// open page, a malicious post that runs nothing, pagination, and the API page calling
// operations with "try it".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, startServer } from './harness.mjs';

const TOKEN = 'e2e-blog-token-1234';
let server;
let browser;

before(async () => {
  server = await startServer({ args: ['--auth-token', TOKEN] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A REST call with the token; the JSON answer. */
async function rest(method, path, body) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: body && JSON.stringify(body),
  });
  const json = await response.json();
  assert.ok(response.ok, `${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}

/** A published post by a new author, over REST. */
async function publishedPost(title, body = 'text') {
  const author = await rest('POST', '/v1/authors', { displayName: 'Rest Writer' });
  const draft = await rest('POST', '/v1/posts', { authorId: author.id, title, body });
  return rest('POST', `/v1/posts/${draft.id}:publish`, { etag: draft.etag });
}

async function saveToken(page) {
  await page.fill('#token-input', TOKEN);
  await page.click('#token-save');
  await page.waitForSelector('#token-status:has-text("A token is saved")');
}

test('a post is written, read rendered, published, and an edit conflict is shown', async () => {
  const page = await openPage(browser, `${server.url}/blog`);
  await saveToken(page);
  await page.fill('#write-author', 'Ada');
  await page.fill('#write-title', 'From the browser');
  await page.fill('#write-body', '# Hello\n\nSome *markdown* here.');
  await page.click('#write-save');
  await page.waitForURL(/\/blog\/[0-9a-f]{32}$/);
  const id = page.url().split('/').pop();
  await page.waitForSelector('#post-title:has-text("From the browser")');
  assert.equal(await page.textContent('#post-author'), 'Ada');
  assert.equal(await page.textContent('#post-state'), 'draft');
  assert.equal(await page.textContent('#post-body h1'), 'Hello');
  assert.equal(await page.textContent('#post-body em'), 'markdown');

  await page.click('#post-publish');
  await page.waitForSelector('#post-state:has-text("published")');

  // Someone else edits while this page has the post open.
  await page.click('#post-edit');
  await page.fill('#edit-title', 'My title');
  const current = await rest('GET', `/v1/posts/${id}`);
  await rest('PATCH', `/v1/posts/${id}?updateMask=title`, { title: 'Their title', etag: current.etag });
  await page.click('#edit-save');
  await page.waitForSelector('#edit-conflict');
  assert.match(await page.textContent('#edit-conflict'), /Someone else changed this post/);
  assert.equal(await page.inputValue('#edit-title'), 'My title', 'what was typed is kept');
  await page.click('#edit-theirs');
  await page.waitForSelector('#post-title:has-text("Their title")');
  await page.click('#edit-save');
  await page.waitForSelector('#post-title:has-text("My title")');
  assert.equal((await rest('GET', `/v1/posts/${id}`)).title, 'My title');

  // The list shows it, by its author.
  await page.goto(`${server.url}/blog`);
  await page.waitForSelector(`#post-list .post-line[data-id="${id}"]`);
  assert.match(await page.textContent(`#post-list .post-line[data-id="${id}"]`), /My title.*by Ada/);
  assert.deepEqual(page.pageErrors, []);
});

test('comments arrive live on every open page; a draft refuses them with a clear message', async () => {
  const post = await publishedPost('Live comments');
  const [reader, writer] = [await openPage(browser, `${server.url}/blog/${post.id}`),
    await openPage(browser, `${server.url}/blog/${post.id}`)];
  for (const page of [reader, writer]) await page.waitForSelector('#comments-status:has-text("live")');
  await saveToken(writer);
  await writer.fill('#comment-author', 'Grace');
  await writer.fill('#comment-text', 'Hello from a page');
  await writer.click('#comment-send');
  // The page's comment is acknowledged (the box is cleared) before the second one is sent,
  // so the order both pages must show is the order the server accepted them in.
  await writer.waitForFunction(() => document.querySelector('#comment-text').value === '');
  await rest('POST', `/v1/posts/${post.id}/comments`, { author: 'Rest', text: 'Hello over REST' });
  for (const page of [reader, writer]) {
    await page.waitForFunction(() => document.querySelectorAll('#comment-list .comment').length === 2);
    const shown = await page.$$eval('#comment-list .comment', (items) => items.map((li) =>
      `${li.querySelector('.author').textContent}: ${li.querySelector('.text').textContent}`));
    assert.deepEqual(shown, ['Grace: Hello from a page', 'Rest: Hello over REST']);
  }

  const author = await rest('POST', '/v1/authors', { displayName: 'Drafter' });
  const draft = await rest('POST', '/v1/posts', { authorId: author.id, title: 'Not yet' });
  const page = await openPage(browser, `${server.url}/blog/${draft.id}`);
  await saveToken(page);
  await page.fill('#comment-author', 'Early');
  await page.fill('#comment-text', 'first!');
  await page.click('#comment-send');
  await page.waitForSelector('#comment-result .error-code:has-text("FAILED_PRECONDITION")');
  assert.match(await page.textContent('#comment-result'), /published posts/);
  assert.deepEqual([...reader.pageErrors, ...writer.pageErrors, ...page.pageErrors], []);
});

test('a malicious post runs nothing in a reader\'s browser', async () => {
  const post = await publishedPost('Totally harmless', [
    '<script>window.__pwned = "script"</script>',
    '',
    'Look: <img src=x onerror="window.__pwned = \'img\'"> and <b onmouseover="window.__pwned = \'b\'">bold</b>',
    '',
    '[click me](javascript:window.__pwned=\'link\') and ![pic](javascript:window.__pwned=\'image\')',
  ].join('\n'));
  const page = await openPage(browser, `${server.url}/blog/${post.id}`);
  await page.waitForSelector('#post-body p');
  await page.hover('#post-body');
  await page.click('#post-body a');
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no script ran');
  assert.equal(await page.$$eval('#post-body script, #post-body b', (found) => found.length), 0,
    'raw HTML made no elements');
  const handlers = await page.$$eval('#post-body *', (elements) => elements.flatMap((element) =>
    [...element.attributes].filter((attribute) => attribute.name.startsWith('on')).map((attribute) => attribute.name)));
  assert.deepEqual(handlers, [], 'no event handler attributes');
  assert.equal(await page.getAttribute('#post-body a', 'href'), '#');
  assert.equal(await page.getAttribute('#post-body img', 'src'), '#', 'the markdown image, without its URL');
  assert.match(await page.textContent('#post-body'), /<script>window.__pwned/, 'shown as text');
  assert.deepEqual(page.pageErrors, []);
});

test('the list pages through every post', async () => {
  for (let n = 0; n < 12; n += 1) await publishedPost(`Paged ${n}`);
  const page = await openPage(browser, `${server.url}/blog`);
  await page.waitForSelector('#posts-more');
  const first = await page.$$eval('#post-list .post-line', (items) => items.length);
  assert.equal(first, 10, 'one page');
  while (await page.$('#posts-more')) {
    await page.click('#posts-more');
    await page.waitForSelector('#posts-more, #posts-end');
  }
  const titles = await page.$$eval('#post-list .post-line a', (links) => links.map((a) => a.textContent));
  assert.equal(new Set(titles).size, titles.length, 'no post twice');
  for (let n = 0; n < 12; n += 1) assert.ok(titles.includes(`Paged ${n}`), `Paged ${n} in ${titles}`);
  assert.match(await page.textContent('#posts-end'), /every post/);
});

test('the API page lists the operations and calls them with "try it"', async () => {
  const page = await openPage(browser, `${server.url}/api`);
  await page.waitForSelector('#api-operations .operation');
  const ids = await page.$$eval('#api-operations .operation', (items) => items.map((li) => li.dataset.operationId));
  for (const id of ['Greeter_SayHello', 'PostService_CreatePost', 'CommentService_WatchComments',
    'WeatherService_GetForecast']) {
    assert.ok(ids.includes(id), `${id} in ${ids}`);
  }
  assert.ok(await page.$('#api-schemas details[data-schema="blog.v1.Post"]'));

  // A unary call with a body.
  const hello = page.locator('.operation[data-operation-id="Greeter_SayHello"]');
  await hello.locator('.operation-summary').click();
  await hello.locator('.try-body').fill('{"name": "Api page"}');
  await hello.locator('.try-send').click();
  await hello.locator('.try-status:has-text("200")').waitFor();
  assert.match(await hello.locator('.try-output').textContent(), /"message": "Hello, Api page!"/);

  // A write: refused without the token, then done with the saved one.
  const create = page.locator('.operation[data-operation-id="AuthorService_CreateAuthor"]');
  await create.locator('.operation-summary').click();
  await create.locator('.try-body').fill('{"displayName": "From the API page"}');
  await create.locator('.try-send').click();
  await create.locator('.try-status:has-text("401")').waitFor();
  assert.match(await create.locator('.try-output').textContent(), /"code": 16/);
  await saveToken(page);
  await create.locator('.try-send').click();
  await create.locator('.try-status:has-text("200")').waitFor();
  assert.match(await create.locator('.try-output').textContent(), /"displayName": "From the API page"/);

  // A server stream, message by message, with a path variable and query parameters.
  const stream = page.locator('.operation[data-operation-id="Greeter_SayHelloStream"]');
  await stream.locator('.operation-summary').click();
  await stream.locator('input[data-param="name"]').fill('Stream');
  await stream.locator('input[data-param="count"]').fill('2');
  await stream.locator('.try-send').click();
  await stream.locator('.try-output:has-text("(2/2)")').waitFor();
  assert.match(await stream.locator('.try-output').textContent(), /Hello, Stream! \(1\/2\)/);
  assert.deepEqual(page.pageErrors, []);
});
