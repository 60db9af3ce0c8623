// ODK's own form engine as the Collect phone, end to end against the real `fieldsync` binary.
//
// The forms are filled by @getodk/xforms-engine (the engine of ODK Web Forms): values are set
// on its nodes, its secondary instances are the entity lists the server serves, and what is
// submitted is the engine's own serialization. The HTTP around it imitates ODK Collect; each
// place says which Collect behaviour it copies. A native phone of the same village then checks,
// through the JSON API, that the submissions became the records it pulls, and edits one.
//
// Run: npm test (the binary at ../../target/debug/fieldsync, or $FIELDSYNC_BIN).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { JSDOM } from 'jsdom';

// The engine parses forms with the DOM's DOMParser and checks `globalThis.Node` and
// `document` when it is imported (its README: under Node it is tested with jsdom). Its XPath
// parser is web-tree-sitter, whose Node branch reads `__dirname`, which ES modules lack; the
// WebAssembly it loads is inlined, so any directory will do.
const { window } = new JSDOM('');
Object.assign(globalThis, {
  window,
  document: window.document,
  Node: window.Node,
  DOMParser: window.DOMParser,
  __dirname: import.meta.dirname,
});
const { loadForm } = await import('@getodk/xforms-engine');

const REPO = path.resolve(import.meta.dirname, '../..');
const BIN = process.env.FIELDSYNC_BIN ?? path.join(REPO, 'target/debug/fieldsync');
/** 崇安社区居委会, 凤凰北街街道, 兴庆区. */
const VILLAGE = '640104001002';
/** 银川鼓楼 (WGS-84), inside the village's county. */
const HOME = { latitude: 38.468, longitude: 106.2719, altitude: 1110.5, accuracy: 8 };
/** A 16×16 grayscale baseline JPEG (351 bytes) that the server decodes. */
const PHOTO = Buffer.from(
  '/9j/4AAQSkZJRgABAgAAAQABAAD/wAALCAAQABABAREA/9sAQwAQCwwODAoQDg0OEhEQExgoGhgWFhgxIyUdKDoz' +
    'PTw5Mzg3QEhcTkBEV0U3OFBtUVdfYmdoZz5NcXlwZHhcZWdj/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcI' +
    'CQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcY' +
    'GRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKj' +
    'pKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/AObs' +
    'rPpxXQWVn04osrPpxXQWVn04r//Z',
  'base64',
);

const md5 = (bytes) => `md5:${createHash('md5').update(bytes).digest('hex')}`;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A UUID v7: 48 bits of milliseconds, version, variant, random bits. */
function uuidv7() {
  const b = randomBytes(16);
  b.writeUIntBE(Date.now(), 0, 6);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---------------------------------------------------------------------------------------------
// The server: a scratch data directory, a free loopback port, SQLite.

const server = { dir: null, env: null, child: null, base: null, log: null };
let failed = false;

async function freePort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** `fieldsync admin ARGS…` on the server's data directory; its standard output. */
function admin(args, input = '') {
  const r = spawnSync(BIN, ['admin', ...args], { env: server.env, input, encoding: 'utf8' });
  assert.equal(r.status, 0, `fieldsync admin ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function stopServer() {
  if (server.child && server.child.exitCode === null) server.child.kill('SIGKILL');
}
process.on('exit', stopServer);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopServer();
    process.exit(130);
  });
}

before(async () => {
  assert.ok(
    fs.existsSync(BIN),
    `${BIN} is missing: cargo build -p fieldsync-server --bin fieldsync, or set FIELDSYNC_BIN`,
  );
  server.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fieldsync-odk-'));
  const port = await freePort();
  server.base = `http://127.0.0.1:${port}`;
  // The defaults (SQLite, local photos), whatever FIELDSYNC_* settings the caller has.
  const inherited = Object.entries(process.env).filter(
    ([k]) => !k.startsWith('FIELDSYNC_') || k === 'FIELDSYNC_LOG',
  );
  server.env = {
    ...Object.fromEntries(inherited),
    FIELDSYNC_DATA_DIR: path.join(server.dir, 'data'),
    FIELDSYNC_LISTEN: `127.0.0.1:${port}`,
  };
  server.log = path.join(server.dir, 'server.log');
  const log = fs.openSync(server.log, 'w');
  // `serve` migrates and loads Ningxia's built-in division codes on its first start.
  server.child = spawn(BIN, ['serve'], { env: server.env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const deadline = Date.now() + 60_000;
  for (;;) {
    assert.equal(server.child.exitCode, null, `fieldsync serve exited:\n${tail()}`);
    const ready = await fetch(`${server.base}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    assert.ok(Date.now() < deadline, `fieldsync serve is not ready after 60 s:\n${tail()}`);
    await sleep(200);
  }
});

function tail() {
  return fs.readFileSync(server.log, 'utf8').split('\n').slice(-40).join('\n');
}

after(async () => {
  if (server.child && server.child.exitCode === null) {
    const exited = new Promise((resolve) => server.child.once('exit', resolve));
    server.child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000, null, { ref: false })]);
    stopServer();
  }
  if (failed && server.log) console.error(`--- the server's log, last lines ---\n${tail()}`);
  if (server.dir) fs.rmSync(server.dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// ODK Collect's HTTP, for one phone (one server URL, one device id).

/** Reads an XML text with the DOM. */
const parseXml = (text) => new window.DOMParser().parseFromString(text, 'text/xml');
/** The text of the first element named `name` (any namespace) below `el`. */
const textOf = (el, name) => el.getElementsByTagNameNS('*', name)[0]?.textContent ?? null;

class Collect {
  constructor(serverUrl) {
    this.serverUrl = serverUrl;
    this.deviceId = `collect:${randomBytes(8).toString('hex')}`;
  }

  /** Every request: Collect's OkHttpOpenRosaServerClientProvider adds `X-OpenRosa-Version:
   * 1.0`, `Date` and its `User-Agent`; `?deviceID=` is what InstanceServerUploader appends to
   * the submission URL (sent on every request here: the server must ignore it anywhere). */
  request(url, init = {}) {
    const u = new URL(url);
    u.searchParams.set('deviceID', this.deviceId);
    const headers = {
      'X-OpenRosa-Version': '1.0',
      Date: new Date().toUTCString(),
      'User-Agent': 'org.odk.collect.android/v2025.1 (fieldsync odk test)',
      ...init.headers,
    };
    return fetch(u, { ...init, headers });
  }

  /** An OpenRosa XML document (form list, manifest): Collect's OpenRosaXmlFetcher wants 200,
   * a `text/xml` content type and an `X-OpenRosa-Version` header ("isOpenRosaResponse"; a
   * form list or manifest without it is refused). */
  async document(url) {
    const res = await this.request(url);
    const body = await res.text();
    assert.equal(res.status, 200, `${url}: ${body}`);
    assert.match(res.headers.get('content-type') ?? '', /text\/xml/, url);
    assert.equal(res.headers.get('x-openrosa-version'), '1.0', `${url}: X-OpenRosa-Version`);
    return { text: body, doc: parseXml(body) };
  }

  /** A file named in a list or a manifest: its bytes, whose MD5 must be the `md5:` hash given
   * (Collect downloads a form or media file when that hash differs from the one it holds). */
  async download(url, hash) {
    const res = await this.request(url);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, `${url}: ${bytes}`);
    assert.equal(md5(bytes), hash, `${url}: the bytes are not the hash the list gave`);
    return bytes;
  }

  /** `formList`: (formID, version, hash, downloadUrl, manifestUrl) of each form. */
  async formList() {
    const { doc } = await this.document(`${this.serverUrl}/formList`);
    return [...doc.getElementsByTagNameNS('*', 'xform')].map((x) => ({
      formID: textOf(x, 'formID'),
      version: textOf(x, 'version'),
      hash: textOf(x, 'hash'),
      downloadUrl: textOf(x, 'downloadUrl'),
      manifestUrl: textOf(x, 'manifestUrl'),
    }));
  }

  /** A form's manifest: each media file's name, hash, URL, type and integrity URL. */
  async manifest(url) {
    const { doc } = await this.document(url);
    return [...doc.getElementsByTagNameNS('*', 'mediaFile')].map((m) => ({
      filename: textOf(m, 'filename'),
      hash: textOf(m, 'hash'),
      downloadUrl: textOf(m, 'downloadUrl'),
      type: m.getAttribute('type'),
      integrityUrl: m.getAttribute('integrityUrl'),
    }));
  }

  /** A form and its media as Collect keeps them after "Get blank form" (or a form update). */
  async getForm(listed) {
    const xml = (await this.download(listed.downloadUrl, listed.hash)).toString('utf8');
    const media = {};
    const manifest = listed.manifestUrl ? await this.manifest(listed.manifestUrl) : [];
    for (const m of manifest) media[m.filename] = await this.download(m.downloadUrl, m.hash);
    return { ...listed, xml, manifest, media };
  }

  /** Collect's check for entities it holds offline (LocalEntityUseCases.
   * cleanUpDeletedOfflineEntities): `GET integrityUrl?id=…`; which of them are deleted. */
  async deleted(integrityUrl, ids) {
    const u = new URL(integrityUrl);
    u.searchParams.set('id', ids.join(','));
    const { doc } = await this.document(u);
    const out = {};
    for (const e of doc.getElementsByTagNameNS('*', 'entity')) {
      out[e.getAttribute('id')] = textOf(e, 'deleted') === 'true';
    }
    return out;
  }

  /** Sends one finalized instance as Collect's InstanceServerUploader and OkHttpConnection.
   * uploadSubmissionFile do: a HEAD to the submission URL first, expecting 204 (it carries
   * `X-OpenRosa-Accept-Content-Length`); then one multipart POST per entry of `posts` (the
   * files of that POST): the instance as part `xml_submission_file` (text/xml, named by the
   * instance file), each file a part named by its file name, and `*isIncomplete*=yes` on every
   * POST but the last (how Collect splits a submission larger than the accepted length).
   * Collect stops at the first answer that is not 201 or 202, its only successes.
   * `between(answer)` runs after each POST but the last (to look at the server meanwhile). */
  async submit(instance, posts = [instance.files], between = async () => {}) {
    const url = `${this.serverUrl}/submission`;
    const head = await this.request(url, { method: 'HEAD' });
    assert.equal(head.status, 204, `HEAD ${url}`);
    assert.ok(Number(head.headers.get('x-openrosa-accept-content-length')) > PHOTO.length);
    const answers = [];
    for (const [i, files] of posts.entries()) {
      const body = new FormData();
      body.append('xml_submission_file', instance.xmlFile, instance.xmlFile.name);
      for (const f of files) body.append(f.name, f, f.name);
      if (i < posts.length - 1) body.append('*isIncomplete*', 'yes');
      const res = await this.request(url, { method: 'POST', body });
      const text = await res.text();
      answers.push({ status: res.status, text, message: textOf(parseXml(text), 'message') });
      if (res.status !== 201 && res.status !== 202) break;
      if (i < posts.length - 1) await between(answers[i]);
    }
    return answers;
  }
}

// ---------------------------------------------------------------------------------------------
// The engine: forms loaded with their media, filled through its nodes, serialized by it.

/** Loads a form into the engine; `jr://file-csv/NAME` attachments are `media[NAME]`. */
async function engineForm(form, media = form.media) {
  const fetchFormAttachment = async (url) => {
    const name = String(url).split('/').pop();
    if (!(name in media)) return new Response(`no ${name}`, { status: 404 });
    return new Response(media[name], { headers: { 'content-type': 'text/csv' } });
  };
  const loaded = await loadForm(form.xml, { fetchFormAttachment });
  if (loaded.status === 'failure') assert.fail(`the engine refuses ${form.formID}: ${loaded.error.message}`);
  return loaded;
}

/** A node of a form instance by its reference (`/data/photos[1]/photo`). */
function node(root, reference) {
  const stack = [root];
  while (stack.length > 0) {
    const n = stack.pop();
    if (n.currentState.reference === reference) return n;
    stack.push(...(n.currentState.children ?? []));
  }
  throw new Error(`the form has no node ${reference}`);
}

/** Sets answers on an instance's nodes, as a user filling the form would. */
function fill(root, answers) {
  for (const [ref, value] of Object.entries(answers)) {
    const n = node(root, ref);
    if (n.nodeType === 'select') {
      const options = n.currentState.valueOptions.map((o) => o.value);
      for (const v of [value].flat()) assert.ok(options.includes(v), `${ref}: ${v} not in ${options}`);
      if (Array.isArray(value)) n.selectValues(value);
      else n.selectValue(value);
    } else {
      n.setValue(value);
    }
  }
}

const value = (root, ref) => node(root, ref).currentState.value;

/** The engine's submission: its `xml_submission_file` and attachments, named as Collect names
 * the instance file (`formID_date_time.xml`); refuses to go on while the engine reports
 * required or constraint violations (Collect does not finalize such a form). */
async function finalize(root, formID) {
  const payload = await root.prepareInstancePayload();
  const violations = (payload.violations ?? []).map(
    (v) => `${v.reference} ${v.violation?.condition ?? ''}`,
  );
  assert.equal(payload.status, 'ready', `${formID}: ${violations.join(', ')}`);
  const data = payload.data[0];
  const engineXml = data.get('xml_submission_file');
  const stamp = new Date().toISOString().slice(0, 19).replace('T', '_').replaceAll(':', '-');
  const xmlFile = new File([engineXml], `${formID}_${stamp}.xml`, { type: 'text/xml' });
  const files = [...data.entries()].filter(([k]) => k !== 'xml_submission_file').map(([, f]) => f);
  const xml = await engineXml.text();
  const doc = parseXml(xml);
  return { xml, doc, xmlFile, files, instanceID: textOf(doc, 'instanceID') };
}

/** A created instance of a loaded form, with Collect's device id for `deviceid` preloads. */
const create = (loaded, collect) =>
  loaded.createInstance({ preloadProperties: { deviceID: collect.deviceId } }).root;

/** The rows of a CSV without quoting (the lists here hold none) as objects. */
function csvRows(bytes) {
  const [header, ...lines] = bytes.toString('utf8').trim().split(/\r?\n/);
  const cols = header.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

// ---------------------------------------------------------------------------------------------
// The native phone: the JSON API (README "API (v1)", mobile-contract/README.md).

class NativePhone {
  constructor(username, password) {
    this.username = username;
    this.password = password;
    this.deviceId = uuidv7();
    this.cursor = null;
    this.counter = 0;
  }

  async api(method, p, body) {
    const res = await fetch(`${server.base}${p}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  async login() {
    const r = await this.api('POST', '/v1/auth/login', {
      username: this.username,
      password: this.password,
      device_id: this.deviceId,
    });
    this.token = r.access_token;
  }

  /** Pulls from the last cursor until `has_more` is false; the changes. */
  async pull() {
    const changes = [];
    for (;;) {
      const q = this.cursor ? `?cursor=${encodeURIComponent(this.cursor)}` : '';
      const page = await this.api('GET', `/v1/sync/pull${q}`);
      changes.push(...page.changes);
      this.cursor = page.cursor;
      if (!page.has_more) return changes;
    }
  }

  /** Pushes one update: new mutation id (v7), HLC stamped with this device as node. */
  async update(entity, id, baseVersion, fields) {
    const mutation = {
      mutation_id: uuidv7(),
      entity,
      id,
      op: 'update',
      base_version: baseVersion,
      fields,
      hlc: { wall_ms: Date.now(), counter: this.counter++, node: this.deviceId },
    };
    const r = await this.api('POST', '/v1/sync/push', {
      device_id: this.deviceId,
      mutations: [mutation],
    });
    return r.results[0];
  }
}

/** The newest version of each record among pulled changes. */
function latest(changes) {
  const out = new Map();
  for (const c of changes) {
    if (!out.has(c.id) || out.get(c.id).version < c.version) out.set(c.id, c);
  }
  return out;
}

/** Opens a sent housing check in the engine's edit mode (its photo resolved from the
 * instance's files), sets another grade and finalizes it. */
async function editHousingCheck(s, previous, grade) {
  const loaded = await engineForm(s.forms.housing_check);
  const attachments = new Map(previous.files.map((f) => [f.name, async () => new Response(f)]));
  const edited = await loaded.editInstance(
    { inputType: 'FORM_INSTANCE_INPUT_RESOLVABLE', resolveInstance: () => previous.xml, attachments },
    { preloadProperties: { deviceID: s.collect.deviceId } },
  );
  const root = edited.root;
  // The engine loads the edited instance's attachments in the background.
  for (let i = 0; i < 100 && !value(root, '/data/photos[1]/photo'); i++) await sleep(20);
  assert.ok(value(root, '/data/photos[1]/photo'), 'the engine loaded the photo of the edited instance');
  fill(root, { '/data/appraisal_grade': grade });
  const inst = await finalize(root, 'housing_check');
  assert.equal(textOf(inst.doc, 'deprecatedID'), previous.instanceID, 'deprecatedID is the old instanceID');
  assert.notEqual(inst.instanceID, previous.instanceID, 'a new instanceID');
  assert.match(inst.instanceID, /^uuid:/);
  assert.equal(textOf(inst.doc, 'photo'), previous.files[0].name, 'the edit names the same photo');
  return inst;
}

// ---------------------------------------------------------------------------------------------
// The run: sequential steps; the first failure stops it.

const step = (t, name, fn, options = {}) =>
  t.test(name, options, async (st) => {
    try {
      await fn(st);
    } catch (e) {
      if (!options.todo) failed = true;
      throw e;
    }
  });

test('ODK Collect (the xforms-engine) and a native phone against fieldsync', { timeout: 300_000 }, async (t) => {
  const s = {}; // what the steps learn, for the steps after them
  const run = async (name, fn, options) => {
    if (failed) return;
    await step(t, name, fn, options);
  };

  await run('users, a survey form and a Collect link, from the admin commands', () => {
    admin(['create-user', '--username', 'yang', '--role', 'first_secretary', '--village', VILLAGE], 'collect-password-1\n');
    admin(['create-user', '--username', 'ma', '--role', 'grid_worker', '--village', VILLAGE], 'native-password-1\n');
    admin(['publish-form', path.join(REPO, 'ops/forms/school_age_children.json')]);
    const out = admin(['collect-link', '--username', 'yang', '--url', server.base]);
    const url = out.match(/server URL\s+(\S+)/)?.[1];
    assert.ok(url?.startsWith(`${server.base}/openrosa/key/`), out);
    s.collect = new Collect(url);
    s.phone = new NativePhone('ma', 'native-password-1');
  });

  await run('the native phone logs in and pulls its village', async () => {
    await s.phone.login();
    await s.phone.pull();
  });

  await run('form list, forms, manifests and media, as Collect downloads them', async (st) => {
    const list = await s.collect.formList();
    const ids = list.map((f) => f.formID);
    st.diagnostic(`forms: ${ids.join(' ')}`);
    for (const id of ['household_register', 'housing_check', 'member_register', 'member_update', 'household_update', 'survey-school_age_children']) {
      assert.ok(ids.includes(id), `${id} is not listed: ${ids}`);
    }
    s.forms = {};
    for (const listed of list) {
      const form = await s.collect.getForm(listed);
      const root = parseXml(form.xml).getElementsByTagNameNS('*', 'instance')[0].firstElementChild;
      assert.equal(root.getAttribute('id'), form.formID);
      assert.equal(root.getAttribute('version'), form.version, `${form.formID}: version`);
      s.forms[form.formID] = form;
    }
    const media = new Set(Object.values(s.forms).flatMap((f) => f.manifest.map((m) => m.filename)));
    for (const f of ['households.csv', 'members.csv', 'villages.csv']) assert.ok(media.has(f), f);
    for (const f of Object.values(s.forms)) {
      for (const m of f.manifest.filter((m) => m.filename !== 'villages.csv')) {
        assert.equal(m.type, 'entityList', `${f.formID} ${m.filename}`);
        assert.ok(m.integrityUrl, `${f.formID} ${m.filename}: integrityUrl`);
      }
    }
    assert.match(s.forms.household_register.media['villages.csv'].toString(), new RegExp(`^${VILLAGE},`, 'm'));
  });

  await run('every served form loads into the engine and makes an instance', async () => {
    for (const form of Object.values(s.forms)) {
      const loaded = await engineForm(form);
      let root;
      try {
        root = create(loaded, s.collect);
      } catch (e) {
        assert.fail(`the engine cannot make an instance of ${form.formID}: ${e.message}`);
      }
      assert.ok(root.currentState.children.length > 0, form.formID);
    }
  });

  await run('household_register: filled in the engine, submitted, listed back', async (st) => {
    const form = s.forms.household_register;
    const root = create(await engineForm(form), s.collect);
    fill(root, {
      '/data/village_code': VILLAGE,
      '/data/head_name': '杨德明',
      '/data/grid': '一组',
      '/data/phone': '13995001234',
      '/data/head_id_card': '11010519491231002X',
      '/data/household_size': 4,
      '/data/per_capita_income': 7200.5,
      '/data/income_year': 2025,
      '/data/home': HOME,
    });
    const inst = await finalize(root, form.formID);
    const entity = inst.doc.getElementsByTagNameNS('*', 'entity')[0];
    assert.equal(entity.getAttribute('dataset'), 'households');
    assert.equal(entity.getAttribute('create'), '1');
    const id = entity.getAttribute('id');
    // The Entities spec wants a v4 id, and Collect keeps an offline entity only with one
    // (LocalEntityUseCases.updateLocalEntitiesFromForm, getodk/collect#7096).
    assert.match(id, UUID_V4, 'the entity id the form makes');
    assert.equal(textOf(entity, 'label'), '杨德明', 'the entity label is the head name');
    const [answer] = await s.collect.submit(inst);
    assert.equal(answer.status, 201, answer.text);
    st.diagnostic(`201: ${answer.message}`);
    s.register = inst;

    // Collect's form update: the manifest's hash changed, so households.csv is fetched again.
    const before = s.forms.housing_check.manifest.find((m) => m.filename === 'households.csv');
    const now = (await s.collect.manifest(s.forms.housing_check.manifestUrl)).find((m) => m.filename === 'households.csv');
    assert.notEqual(now.hash, before.hash, 'a new household changes the list hash');
    const csv = await s.collect.download(now.downloadUrl, now.hash);
    // The server keeps it under a v7 derived from the phone's v4 (its new records are v7).
    const row = csvRows(csv).find((r) => r.label === '杨德明');
    assert.ok(row, `households.csv lists the household:\n${csv}`);
    assert.match(row.name, UUID_V7);
    s.household = row.name;
    assert.equal(row.label, '杨德明');
    assert.equal(row.__version, '1');
    assert.equal(row.grid, '一组');
    s.householdsCsv = csv;
    for (const f of Object.values(s.forms)) if ('households.csv' in f.media) f.media['households.csv'] = csv;
    const unknown = uuidv7();
    const waiting = randomUUID();
    const deleted = await s.collect.deleted(now.integrityUrl, [id, row.name, unknown, waiting]);
    assert.equal(deleted[row.name], false, 'integrity: the listed household is there');
    assert.equal(deleted[id], true, "integrity: the phone's own copy gives way to the listed one");
    assert.equal(deleted[unknown], true, 'integrity: an unknown server id is deleted');
    assert.equal(deleted[waiting], false, 'integrity: an offline entity not yet sent is kept');
  });

  await run('replay: the same bytes again are 201 and make nothing new', async () => {
    await s.phone.pull();
    const [answer] = await s.collect.submit(s.register);
    assert.equal(answer.status, 201, answer.text);
    const changes = await s.phone.pull();
    assert.deepEqual(changes, [], 'a resent submission changes nothing');
  });

  await run('housing_check with a geopoint and a photo, sent in two POSTs', async (st) => {
    const form = s.forms.housing_check;
    const root = create(await engineForm(form), s.collect);
    const photo = new File([PHOTO], '1764900000000.jpg', { type: 'image/jpeg' });
    fill(root, {
      '/data/household_id': s.household,
      '/data/gps': HOME,
      '/data/appraisal_grade': 'D',
      '/data/hazards': ['ageing', 'flood'],
      '/data/repair_status': 'planned',
      '/data/occupied': 'true',
      '/data/photos[1]/photo': photo,
    });
    assert.ok(value(root, '/data/gps_at'), 'gps_at is set by the setvalue on the fix');
    const inst = await finalize(root, form.formID);
    assert.equal(inst.files.length, 1, 'the engine attaches the photo');
    const name = inst.files[0].name;
    assert.equal(textOf(inst.doc, 'photo'), name, 'the instance names the photo file');
    assert.equal(textOf(inst.doc, 'gps'), '38.468 106.2719 1110.5 8.0');

    // The split: the instance alone, incomplete; then the instance with the photo.
    const [first, second] = await s.collect.submit(inst, [[], inst.files], async (first) => {
      st.diagnostic(`first POST ${first.status}: ${first.message}`);
      const early = await s.phone.pull();
      assert.ok(!early.some((c) => c.entity === 'housing_check'), 'nothing is pushed before the photo');
    });
    assert.ok(first.status === 201 || first.status === 202, first.text);
    assert.ok(second, 'the second POST was sent');
    assert.equal(second.status, 201, second.text);
    st.diagnostic(`second POST ${second.status}: ${second.message}`);
    s.check = inst;
  });

  await run('an edit of the housing check: deprecatedID, a new instanceID, grade C', async (st) => {
    const inst = await editHousingCheck(s, s.check, 'C');
    // The engine leaves out attachments it did not change (Web Forms' edit, for a server that
    // carries them forward as Central does); Collect sends every file of the instance's folder,
    // so the photo goes again, as the edited instance names it.
    assert.deepEqual(inst.files, [], 'the engine re-sends no unchanged photo');
    const [answer] = await s.collect.submit({ ...inst, files: s.check.files });
    assert.equal(answer.status, 201, answer.text);
    st.diagnostic(`201: ${answer.message}`);
    s.edit = inst;
  });

  await run('member_register then member_update offline, on Collect\'s local list, sent together', async (st) => {
    const register = s.forms.member_register;
    const rootA = create(await engineForm(register), s.collect);
    fill(rootA, {
      '/data/household_id': s.household,
      '/data/name': '杨小梅',
      '/data/relation': 'spouse',
      '/data/gender': 'female',
      '/data/birth_date': '1982-03-04',
      '/data/id_card': '640104198203040026',
      '/data/phone': '13995004321',
    });
    const created = await finalize(rootA, register.formID);
    const entity = created.doc.getElementsByTagNameNS('*', 'entity')[0];
    const member = entity.getAttribute('id');
    assert.match(member, UUID_V4);
    assert.equal(textOf(entity, 'label'), '杨小梅');

    // Collect's offline entities (LocalEntityUseCases.saveNewEntity): a created entity joins
    // the local list at version 1 with a new branchId and no trunkVersion, its properties the
    // instance's saveto fields; lists from the server get trunkVersion = version. The update
    // form reads that list.
    const update = s.forms.member_update;
    const cols = update.media['members.csv'].toString().split(/\r?\n/)[0].split(',');
    const header = [...cols, '__trunkVersion', '__branchId'];
    const branch = randomUUID();
    const local = {
      ...Object.fromEntries(cols.map((c) => [c, textOf(created.doc, c) ?? ''])),
      name: member,
      label: textOf(entity, 'label'),
      __version: '1',
      __trunkVersion: '',
      __branchId: branch,
    };
    const rows = csvRows(update.media['members.csv'])
      .map((r) => ({ ...r, __trunkVersion: r.__version, __branchId: randomUUID() }))
      .concat([local]);
    const csv = [header, ...rows.map((r) => header.map((c) => r[c] ?? ''))]
      .map((line) => `${line.join(',')}\r\n`)
      .join('');
    assert.match(csv, /,1,[0-9a-f-]{36},spouse,female,1982-03-04,640104198203040026,13995004321,/);
    const rootB = create(await engineForm(update, { ...update.media, 'members.csv': Buffer.from(csv) }), s.collect);
    fill(rootB, { '/data/household': s.household, '/data/member': member });
    // The form's setvalue actions copy the list's values into the questions and into orig.
    assert.equal(value(rootB, '/data/name'), '杨小梅', 'the name is copied from the list');
    assert.equal(value(rootB, '/data/orig/phone'), '13995004321', 'orig holds what the list had');
    fill(rootB, { '/data/phone': '13995007777', '/data/labour_capacity': 'full' });
    const updated = await finalize(rootB, update.formID);
    const e = updated.doc.getElementsByTagNameNS('*', 'entity')[0];
    assert.equal(e.getAttribute('id'), member);
    assert.equal(e.getAttribute('update'), '1');
    assert.equal(e.getAttribute('baseVersion'), '1');
    assert.equal(e.getAttribute('trunkVersion'), '');
    assert.equal(e.getAttribute('branchId'), branch);

    // Back online, Collect sends its finalized instances in the order they were made.
    for (const inst of [created, updated]) {
      const [answer] = await s.collect.submit(inst);
      assert.equal(answer.status, 201, answer.text);
      st.diagnostic(`${textOf(inst.doc, 'instanceID')} 201: ${answer.message}`);
    }
    s.member = member;
    const members = (await s.collect.manifest(update.manifestUrl)).find((m) => m.filename === 'members.csv');
    const deleted = await s.collect.deleted(members.integrityUrl, [member]);
    assert.equal(deleted[member], true, "integrity: once sent, the phone's copy gives way to the listed one");
  });

  await run('the native phone pulls what Collect sent, with the right fields', async () => {
    s.phone.cursor = null;
    const records = latest(await s.phone.pull());
    const household = records.get(s.household);
    assert.ok(household, 'the household keeps the id the form made');
    assert.equal(household.entity, 'household');
    assert.equal(household.scope, VILLAGE);
    assert.equal(household.fields.village_code, VILLAGE);
    assert.equal(household.fields.head_name, '杨德明');
    assert.equal(household.fields.grid, '一组');
    assert.equal(household.fields.household_size, 4);
    assert.equal(household.fields.per_capita_income, 7200.5);
    assert.equal(household.fields.home_lat, HOME.latitude);
    assert.equal(household.fields.home_lon, HOME.longitude);
    s.householdVersion = household.version;

    const checks = [...records.values()].filter((c) => c.entity === 'housing_check');
    assert.equal(checks.length, 2, 'the check and its correction');
    const original = checks.find((c) => !c.fields.supersedes);
    const correction = checks.find((c) => c.fields.supersedes);
    assert.ok(original && correction, JSON.stringify(checks));
    assert.equal(correction.fields.supersedes, original.id, 'the edit supersedes the first check');
    assert.equal(original.fields.appraisal_grade, 'D');
    assert.equal(correction.fields.appraisal_grade, 'C');
    for (const c of [original, correction]) {
      assert.equal(c.fields.household_id, s.household);
      assert.deepEqual(c.fields.hazards, ['ageing', 'flood']);
      assert.equal(c.fields.repair_status, 'planned');
      assert.equal(c.fields.occupied, true);
      assert.deepEqual(c.fields.photos, [sha256(PHOTO)], 'the photo, named by its SHA-256');
      assert.ok(c.gps_verdict, `the fix is judged: ${JSON.stringify(c)}`);
    }
    const meta = await s.phone.api('GET', `/v1/blobs/${sha256(PHOTO)}/meta`);
    assert.ok(meta, 'the native phone reads the photo the record links');

    const member = [...records.values()].find((r) => r.entity === 'member' && r.fields.name === '杨小梅');
    assert.ok(member, 'the member Collect created offline');
    assert.equal(member.fields.household_id, s.household);
    assert.equal(member.fields.name, '杨小梅');
    assert.equal(member.fields.relation, 'spouse');
    assert.equal(member.fields.birth_date, '1982-03-04');
    assert.equal(member.fields.phone, '13995007777', 'the offline update applied');
    assert.equal(member.fields.labour_capacity, 'full');
    assert.equal(member.version, 2, 'created, then updated');
  });

  await run('a native edit reaches Collect: households.csv, __version and the manifest hash', async () => {
    const manifestBefore = await s.collect.manifest(s.forms.household_update.manifestUrl);
    const before = manifestBefore.find((m) => m.filename === 'households.csv');
    assert.equal(before.hash, md5(s.householdsCsv), 'the list as Collect last fetched it');
    const result = await s.phone.update('household', s.household, s.householdVersion, { grid: '二组' });
    assert.equal(result.status, 'applied', JSON.stringify(result));
    const after = (await s.collect.manifest(s.forms.household_update.manifestUrl)).find((m) => m.filename === 'households.csv');
    assert.notEqual(after.hash, before.hash, 'the manifest hash changed');
    const row = csvRows(await s.collect.download(after.downloadUrl, after.hash)).find((r) => r.name === s.household);
    assert.equal(row.grid, '二组');
    assert.equal(Number(row.__version), result.version);
    assert.ok(result.version > s.householdVersion, 'a new __version');
  });
  // Web Forms edits (this engine's editInstance) send only the attachments that changed, and
  // Central keeps the deprecated submission's other files; so does fieldsync.
  await run('an edit sent as the engine makes it (its unchanged photo left out) keeps the photo', async (st) => {
    const inst = await editHousingCheck(s, { ...s.edit, files: s.check.files }, 'B');
    const [answer] = await s.collect.submit(inst);
    assert.equal(answer.status, 201, answer.text);
    st.diagnostic(`201: ${answer.message}`);
    const check = [...latest(await s.phone.pull()).values()].find((c) => c.entity === 'housing_check');
    assert.ok(check, 'the correction is pushed');
    assert.equal(check.fields.appraisal_grade, 'B');
    assert.deepEqual(check.fields.photos, [sha256(PHOTO)], 'the photo is carried over from the edited instance');
  });
});
