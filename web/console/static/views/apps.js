// Installed apps: a table with status badges, port links, containers and
// the actions (start, stop, restart, upgrade, logs, uninstall). It polls
// the API, and follows the jobs it starts, so it stays current without a
// reload; rows that did not change are left alone, so focus stays put.

import {h, replace} from '../dom.js';
import {t, lang} from '../i18n.js';
import {api, watchJob, jobID} from '../api.js';
import {errorSlot, showError, clearError, badge, confirmDialog, notify, messageOf} from '../ui.js';
import {openJobPanel} from './progress.js';
import {openLogs} from './logs.js';
import {appLinks, isWebPort} from './links.js';
import {openCredentials} from './credentials.js';

const POLL_MS = 4000;
const POLL_BUSY_MS = 1500;

/** renderApps draws #/apps; it returns a function that stops its timers and streams. */
export function renderApps(root) {
  let live = true;
  let timer = 0;
  let apps = [];
  const pending = new Map(); // app → what is being done to it, from this page
  const errors = new Map(); // app → the last failure of something done from this page
  const watchers = new Set();
  const rows = new Map(); // app → {tr, sig}
  let generated = {}; // catalog app → names of the secrets it generates

  const error = errorSlot('apps-error');
  const empty = h('p', {class: 'empty', id: 'apps-empty', hidden: true},
    t('apps.empty'), ' ', h('a', {href: '#/catalog'}, t('apps.browse')));
  const tbody = h('tbody');
  const table = h('table', {class: 'apps', id: 'apps-table'},
    h('caption', {class: 'sr-only'}, t('apps.caption')),
    h('thead', {}, h('tr', {},
      [t('apps.col.app'), t('apps.col.status'), t('apps.col.ports'), t('apps.col.containers'), t('apps.col.actions')]
        .map((label) => h('th', {scope: 'col'}, label)))),
    tbody);

  function busyApp(app) {
    return Boolean(app.active) || app.state === 'installing' || app.state === 'uninstalling' || pending.has(app.appName);
  }

  function follow(job, name, action) {
    const stop = watchJob(job, () => {}, (end) => {
      watchers.delete(stop);
      pending.delete(name);
      if (end instanceof Error) errors.set(name, messageOf(end));
      else if (end.stage !== 'done') errors.set(name, t('apps.actionFailed', {action: t(`action.${action}`), message: end.message || end.stage}));
      refresh();
    });
    watchers.add(stop);
  }

  async function act(app, action) {
    const name = app.appName;
    errors.delete(name);
    pending.set(name, t(`apps.pending.${action}`));
    draw();
    try {
      const job = await api.action(name, action);
      follow(job.id, name, action);
    } catch (err) {
      pending.delete(name);
      errors.set(name, messageOf(err));
    }
    refresh();
  }

  function upgrade(app) {
    confirmDialog({
      id: 'upgrade-dialog',
      title: t('apps.upgradeTitle', {app: app.appName}),
      message: t('apps.upgradeConfirm', {app: app.appName, from: app.version, to: app.catalogVersion || '?'}),
      confirmLabel: t('action.upgrade'),
      work: () => api.upgrade(app.appName),
      onDone: (job) => {
        openJobPanel({job: job.id, app: app.appName, action: 'upgrade', onFinished: () => refresh()});
        refresh();
      },
    });
  }

  // uninstallOutcome follows an uninstall job to its end and resolves with
  // what it kept, or rejects with why the app is still there. A job whose
  // bundle failed yet removed everything (its outputs say what went) is a
  // success.
  function uninstallOutcome(id) {
    return new Promise((resolve, reject) => {
      const stop = watchJob(id, () => {}, async (end) => {
        watchers.delete(stop);
        if (end instanceof Error) return reject(end);
        try {
          const job = await api.job(id);
          const out = job.outputs || {};
          if (out.removedContainers === undefined) return reject(new Error(job.message || end.message || end.stage));
          resolve({keptVolumes: out.keptVolumes ? out.keptVolumes.split(',') : []});
        } catch (err) {
          reject(err);
        }
      });
      watchers.add(stop);
    });
  }

  function uninstall(app) {
    const name = app.appName;
    const purge = h('input', {type: 'checkbox', id: 'uninstall-purge'});
    confirmDialog({
      id: 'uninstall-dialog',
      title: t('apps.uninstallTitle', {app: name}),
      message: t('apps.uninstallConfirm', {app: name}),
      confirmLabel: t('action.uninstall'),
      danger: true,
      extra: h('div', {class: 'check warning-box'}, purge, h('label', {for: 'uninstall-purge'}, t('apps.purge'))),
      work: async () => {
        errors.delete(name);
        pending.set(name, t('apps.pending.uninstall'));
        draw();
        try {
          // 202 with the job: the dialog stays until the job ends.
          const started = await api.uninstall(name, purge.checked);
          return await uninstallOutcome(jobID(started.job));
        } finally {
          pending.delete(name);
          refresh();
        }
      },
      onDone: (res) => {
        const kept = (res && res.keptVolumes) || [];
        notify(kept.length ? t('apps.uninstalledKept', {app: name, volumes: kept.join(', ')}) : t('apps.uninstalled', {app: name}), 'success');
      },
    });
  }

  function button(label, action, onClick, disabled, extra = {}) {
    return h('button', {type: 'button', class: ['btn', 'small', extra.class], 'data-action': action, disabled, onClick, ...extra.attrs}, label);
  }

  function row(app) {
    const name = app.appName;
    const st = app.state;
    const isBusy = busyApp(app);
    const running = st === 'running';
    const notes = [];
    if (app.active) notes.push(h('p', {class: 'muted small'}, t('apps.active', {action: t(`action.${app.active}`)})));
    if (st === 'failed' && app.info) notes.push(h('p', {class: 'reason small'}, app.info));
    if ((st === 'stopped' || st === 'unreachable') && app.info) notes.push(h('p', {class: 'muted small'}, app.info));
    if (pending.has(name)) notes.push(h('p', {class: 'muted small pending', role: 'status'}, pending.get(name)));
    const dbPorts = Object.entries(app.ports || {}).filter(([p]) => !isWebPort(p))
      .map(([p, port]) => h('span', {class: 'muted small port-text'}, `${p} ${port}`));
    const actions = [];
    if (st === 'installing' && app.runId) {
      actions.push(button(t('action.progress'), 'progress', () => openJobPanel({job: app.runId, app: name, action: 'install', onFinished: () => refresh()})));
    }
    if (st !== 'installing' && st !== 'failed') {
      actions.push(
        button(t('action.start'), 'start', () => act(app, 'start'), isBusy || st !== 'stopped'),
        button(t('action.stop'), 'stop', () => act(app, 'stop'), isBusy || !running),
        button(t('action.restart'), 'restart', () => act(app, 'restart'), isBusy || !running));
    }
    if (app.upgradable) {
      actions.push(button(t('apps.upgradeTo', {version: app.catalogVersion || ''}), 'upgrade', () => upgrade(app), isBusy, {class: 'primary'}));
    }
    if (st !== 'installing' && (app.containers || []).length) {
      actions.push(button(t('action.logs'), 'logs', () => openLogs(app), false));
    }
    if ((st === 'running' || st === 'stopped') && (generated[app.app] || []).length) {
      actions.push(button(t('action.credentials'), 'credentials', () => openCredentials(name), false));
    }
    actions.push(button(t('action.uninstall'), 'uninstall', () => uninstall(app), isBusy && st !== 'failed', {class: 'danger'}));
    return h('tr', {'data-app': name, 'data-state': st},
      h('td', {'data-label': t('apps.col.app')},
        h('strong', {class: 'app-name'}, h('a', {href: `#/apps/${encodeURIComponent(name)}`, 'data-role': 'app-page'}, name)),
        h('p', {class: 'muted small'}, `${app.app} v${app.version}`),
        app.upgradable ? h('span', {class: 'tag'}, t('apps.updateAvailable', {version: app.catalogVersion || ''})) : null),
      h('td', {'data-label': t('apps.col.status')}, badge(st), notes),
      h('td', {'data-label': t('apps.col.ports')}, h('div', {class: 'ports'}, appLinks(app), dbPorts)),
      h('td', {'data-label': t('apps.col.containers')},
        h('ul', {class: 'containers'}, (app.containers || []).map((c) => h('li', {}, h('code', {}, c))))),
      h('td', {'data-label': t('apps.col.actions')},
        h('div', {class: 'buttons'}, actions),
        errors.has(name) ? h('p', {class: 'error small row-error', role: 'alert'}, errors.get(name)) : null));
  }

  function draw() {
    const seen = new Set();
    apps.forEach((app, i) => {
      const name = app.appName;
      seen.add(name);
      const sig = JSON.stringify([app, pending.get(name), errors.get(name), lang(), generated[app.app]]);
      let entry = rows.get(name);
      if (!entry || entry.sig !== sig) {
        const tr = row(app);
        if (entry) {
          const focused = entry.tr.contains(document.activeElement) && document.activeElement.dataset.action;
          entry.tr.replaceWith(tr);
          if (focused) {
            const again = tr.querySelector(`[data-action="${focused}"]`);
            if (again && !again.disabled) {
              again.focus();
            } else { // the button went away or is disabled: keep focus in the row
              const label = tr.querySelector('.app-name');
              label.tabIndex = -1;
              label.focus();
            }
          }
        }
        entry = {tr, sig};
        rows.set(name, entry);
      }
      if (tbody.children[i] !== entry.tr) tbody.insertBefore(entry.tr, tbody.children[i] || null);
    });
    for (const [name, entry] of rows) {
      if (!seen.has(name)) {
        entry.tr.remove();
        rows.delete(name);
      }
    }
    empty.hidden = apps.length > 0;
    table.hidden = apps.length === 0;
  }

  // learnGenerated asks the catalog, once per catalog app, which secrets
  // it generates (without it, no Credentials button).
  let asking = false;
  async function learnGenerated() {
    const missing = [...new Set(apps.map((a) => a.app))].filter((n) => n && /^[a-z0-9][a-z0-9-]{0,62}$/.test(n) && !(n in generated));
    if (asking || !missing.length) return;
    asking = true;
    try {
      const cat = await api.catalogNames(missing);
      for (const n of missing) generated[n] = [];
      for (const a of cat) generated[a.appName] = a.generated || [];
      if (live) draw();
    } catch {
      // asked again at the next refresh
    } finally {
      asking = false;
    }
  }

  async function refresh() {
    try {
      const list = await api.apps();
      if (!live) return;
      apps = list.slice().sort((a, b) => a.appName.localeCompare(b.appName));
      clearError(error);
      draw();
      learnGenerated();
    } catch (err) {
      if (live) showError(error, err);
    }
  }

  async function tick() {
    if (!live) return;
    if (!document.hidden) await refresh();
    if (!live) return;
    timer = setTimeout(tick, apps.some(busyApp) ? POLL_BUSY_MS : POLL_MS);
  }

  table.hidden = true;
  replace(root,
    h('div', {class: 'page-head'},
      h('h1', {tabindex: '-1'}, t('nav.apps')),
      h('a', {class: 'btn', href: '#/catalog'}, t('apps.add'))),
    error, empty, h('div', {class: 'table-wrap'}, table));
  tick();
  return () => {
    live = false;
    clearTimeout(timer);
    for (const stop of watchers) stop();
  };
}
