// The console's only way to the server: StackHub's public API under
// /api/v1, with the session cookie (sent by the browser) and the session's
// CSRF token in the X-CSRF-Token header on every request that changes
// something.

import {t} from './i18n.js';

const BASE = '/api/v1';
const CSRF_HEADER = 'X-CSRF-Token';

let csrf = '';
const authLost = new Set();

/** ApiError is a failed call: HTTP status, the API's error code, its message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** setSession keeps the CSRF token of the session (from login or /auth/me). */
export function setSession(me) {
  csrf = (me && me.csrf) || '';
}

/** onAuthLost calls fn when a call answers 401: the session ended. */
export function onAuthLost(fn) {
  authLost.add(fn);
}

function mutating(method) {
  return method !== 'GET' && method !== 'HEAD';
}

async function failure(res, path) {
  let code = '';
  let message = '';
  let fields = null;
  try {
    const body = await res.json();
    code = body.error || '';
    message = body.message || '';
    fields = body.fields || null;
  } catch {
    // not JSON: keep the status text
  }
  const err = new ApiError(res.status, code || String(res.status), message || res.statusText || t('error.http', {status: res.status}));
  err.fields = fields;
  if (res.status === 401 && !path.startsWith('/auth/')) {
    for (const fn of authLost) fn(err);
  }
  return err;
}

/**
 * request calls the API and returns the decoded JSON answer (null for
 * 204). It throws an ApiError for any failure, network errors included.
 */
export async function request(method, path, body, options = {}) {
  const headers = {Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (mutating(method) && csrf) headers[CSRF_HEADER] = csrf;
  let res;
  try {
    res = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: options.signal,
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', t('error.network'));
  }
  if (!res.ok) throw await failure(res, path);
  if (options.headers) return {body: await res.json(), headers: res.headers};
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

/**
 * catalogPage returns one page of catalog summaries and how many match:
 * q (every word, any case), category, names (only those apps), offset
 * and limit (1-200).
 */
async function catalogPage({q = '', category = '', names = [], offset = 0, limit = 48} = {}) {
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  if (category) params.set('category', category);
  for (const n of names) params.append('name', n);
  if (offset) params.set('offset', String(offset));
  params.set('limit', String(limit));
  const {body, headers} = await request('GET', `/catalog?${params}`, undefined, {headers: true});
  return {items: body, total: Number(headers.get('X-Total-Count')) || 0};
}

const enc = encodeURIComponent;

/** upload POSTs a file as application/gzip and returns the JSON answer. */
async function upload(path, file) {
  const headers = {Accept: 'application/json', 'Content-Type': 'application/gzip'};
  if (csrf) headers[CSRF_HEADER] = csrf;
  let res;
  try {
    res = await fetch(BASE + path, {method: 'POST', headers, body: file, credentials: 'same-origin'});
  } catch {
    throw new ApiError(0, 'network', t('error.network'));
  }
  if (!res.ok) throw await failure(res, path);
  return res.json();
}

/** api is one function per endpoint the console uses. */
export const api = {
  me: () => request('GET', '/auth/me'),
  setupNeeded: () => request('GET', '/auth/setup'),
  setup: (code, name, password) => request('POST', '/auth/setup', {code, name, password}),
  // login sends second, when given, as the one-time code (six digits) or
  // else as a recovery code.
  login: (name, password, second) => {
    const body = {name, password};
    if (second) {
      if (/^\d{6}$/.test(second)) body.otp = second;
      else body.recovery = second;
    }
    return request('POST', '/auth/login', body);
  },
  join: (code, name, password) => request('POST', '/auth/join', {code, name, password}),
  totpEnroll: () => request('POST', '/auth/totp/enroll'),
  totpConfirm: (code) => request('POST', '/auth/totp/confirm', {code}),
  totpDisable: (password) => request('POST', '/auth/totp/disable', {password}),
  recoveryCodes: (password) => request('POST', '/auth/recovery-codes', {password}),
  users: () => request('GET', '/users'),
  changeUser: (name, change) => request('PATCH', `/users/${enc(name)}`, change),
  deleteUser: (name) => request('DELETE', `/users/${enc(name)}`),
  invites: () => request('GET', '/invites'),
  invite: (role) => request('POST', '/invites', {role}),
  revokeInvite: (id) => request('DELETE', `/invites/${enc(id)}`),
  logout: () => request('POST', '/auth/logout'),
  changePassword: (current, next) => request('POST', '/auth/password', {current, new: next}),
  catalogPage,
  // catalogNames returns the catalog summaries of these apps (the
  // catalog's names, at most 100 a call: asked 100 at a time).
  catalogNames: async (names) => {
    const unique = [...new Set(names)];
    const out = [];
    for (let i = 0; i < unique.length; i += 100) {
      const chunk = unique.slice(i, i + 100);
      out.push(...(await catalogPage({names: chunk, limit: chunk.length})).items);
    }
    return out;
  },
  catalogApp: (name) => request('GET', `/catalog/${enc(name)}`),
  // permissions is what an app's bundle asks for beyond the default bundle
  // policy, in plain words, with its grant and what is still missing.
  permissions: (name) => request('GET', `/catalog/${enc(name)}/permissions`),
  grant: (name, digest, permissions) => request('POST', `/catalog/${enc(name)}/grants`, {digest, permissions}),
  apps: () => request('GET', '/apps'),
  app: (name) => request('GET', `/apps/${enc(name)}`),
  install: (app, name, force, parameters) => {
    const body = {app};
    if (name) body.name = name;
    if (force) body.force = true;
    if (parameters && Object.keys(parameters).length) body.parameters = parameters;
    return request('POST', '/apps', body);
  },
  // pull adds the bundle at an OCI reference to the catalog; upload adds
  // a bundle archive (stackhub bundle archive), sent as it is.
  pull: (reference, force) => request('POST', '/catalog/pull', force ? {reference, force: true} : {reference}),
  upload: (file, force) => upload(`/catalog/import${force ? '?force=true' : ''}`, file),
  uninstall: (name, purge) => request('DELETE', `/apps/${enc(name)}${purge ? '?purge=true' : ''}`),
  action: (name, action) => request('POST', `/apps/${enc(name)}/actions/${enc(action)}`),
  upgrade: (name, parameters) => request('POST', `/apps/${enc(name)}/upgrade`,
    parameters && Object.keys(parameters).length ? {parameters} : undefined),
  // planUpgrade tells what upgrade would do with the same parameters:
  // the version it moves to and each setting it changes.
  planUpgrade: (name, parameters) => request('POST', `/apps/${enc(name)}/upgrade/plan`, {parameters: parameters || {}}),
  settings: (name) => request('GET', `/apps/${enc(name)}/settings`),
  stats: (name) => request('GET', `/apps/${enc(name)}/stats`),
  gateway: () => request('GET', '/gateway'),
  domains: (name) => request('GET', `/apps/${enc(name)}/domains`),
  addDomain: (name, domain) => request('POST', `/apps/${enc(name)}/domains`, {domain}),
  removeDomain: (name, domain) => request('DELETE', `/apps/${enc(name)}/domains/${enc(domain)}`),
  backup: (name) => request('POST', `/apps/${enc(name)}/backups`, {}),
  backups: (name) => request('GET', `/apps/${enc(name)}/backups`),
  // restore puts backup id back: into its app (name empty) or a clone.
  restore: (id, name) => request('POST', `/backups/${enc(id)}/restore`, name ? {name} : {}),
  policy: (name) => request('GET', `/apps/${enc(name)}/backup-policy`),
  setPolicy: (name, policy) => request('PUT', `/apps/${enc(name)}/backup-policy`, policy),
  clearPolicy: (name) => request('DELETE', `/apps/${enc(name)}/backup-policy`),
  repositories: () => request('GET', '/repositories'),
  addRepository: (body) => request('POST', '/repositories', body),
  removeRepository: (id) => request('DELETE', `/repositories/${enc(id)}`),
  // credentials shows an app's generated secrets: their values the first
  // time only (a POST: the reveal is recorded), later only their names.
  credentials: (name) => request('POST', `/apps/${enc(name)}/credentials`),
  job: (id) => request('GET', `/jobs/${enc(id)}`),
  runs: (name, limit) => request('GET', `/apps/${enc(name)}/runs?limit=${limit}`),
  cancelJob: (id) => request('DELETE', `/jobs/${enc(id)}`),
  server: () => request('GET', '/server'),
  // The Swarm the server's engine may manage, and its nodes (a node by
  // its ID; force: the API's ?force=true).
  cluster: () => request('GET', '/cluster'),
  nodes: () => request('GET', '/nodes'),
  drainNode: (id, force) => request('POST', `/nodes/${enc(id)}/drain${force ? '?force=true' : ''}`),
  activateNode: (id) => request('POST', `/nodes/${enc(id)}/activate`),
  removeNode: (id, force) => request('DELETE', `/nodes/${enc(id)}${force ? '?force=true' : ''}`),
  tokens: () => request('GET', '/tokens'),
  createToken: (name, scope) => request('POST', '/tokens', {name, scope}),
  revokeToken: (id) => request('DELETE', `/tokens/${enc(id)}`),
};

/** jobID returns the id of a job from its id or its path (/api/v1/jobs/<id>). */
export function jobID(ref) {
  if (!ref) return '';
  const parts = String(ref).split('/');
  return parts[parts.length - 1];
}

/** isFinal tells whether a job event is the job's last (see wire.JobEvent.Final). */
export function isFinal(ev) {
  if (ev.type !== 'stage' || ev.resource || ev.image) return false;
  return ev.stage === 'done' || ev.stage === 'failed' || ev.stage === 'canceled';
}

/**
 * watchJob follows a job's Server-Sent Events: onEvent gets every event;
 * onEnd gets the final one, or an ApiError when the stream cannot go on.
 * The browser resumes after a dropped connection (Last-Event-ID). It
 * returns a function that stops watching.
 */
export function watchJob(id, onEvent, onEnd) {
  const es = new EventSource(`${BASE}/jobs/${enc(id)}/events`);
  let over = false;
  const finish = (result) => {
    if (over) return;
    over = true;
    es.close();
    onEnd(result);
  };
  const handle = (msg) => {
    let ev;
    try {
      ev = JSON.parse(msg.data);
    } catch {
      return;
    }
    onEvent(ev);
    if (isFinal(ev)) finish(ev);
  };
  es.addEventListener('stage', handle);
  es.addEventListener('log', handle);
  es.addEventListener('error', () => {
    if (over || es.readyState !== EventSource.CLOSED) return; // reconnecting
    // The server refused the stream (unknown job, session gone): ask for
    // the job's record to tell how it ended.
    api.job(id).then(
      (job) => {
        if (job.status === 'running') finish(new ApiError(0, 'network', t('error.stream')));
        else finish({type: 'stage', stage: job.status === 'succeeded' ? 'done' : job.status, message: job.message || ''});
      },
      (err) => finish(err),
    );
  });
  return () => {
    over = true;
    es.close();
  };
}

/**
 * streamLogs reads an app's container log: tail lines, then (with follow)
 * new lines as they come. onText gets each decoded chunk. It resolves when
 * the log ends, and rejects with an ApiError (or an AbortError when signal
 * aborts).
 */
export async function streamLogs(name, {tail, follow, container}, onText, signal) {
  const q = new URLSearchParams();
  if (tail) q.set('tail', String(tail));
  if (follow) q.set('follow', 'true');
  if (container) q.set('container', container);
  const path = `/apps/${enc(name)}/logs?${q}`;
  let res;
  try {
    res = await fetch(BASE + path, {credentials: 'same-origin', signal, headers: {Accept: 'text/plain'}});
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', t('error.network'));
  }
  if (!res.ok) throw await failure(res, path);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    onText(decoder.decode(value, {stream: true}));
  }
  const rest = decoder.decode();
  if (rest) onText(rest);
}
