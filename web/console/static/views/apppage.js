// The page of one installed app (#/apps/<name>): its state, links and
// version, its actions (upgrade when the catalog has a newer version),
// its current settings with an edit that upgrades after showing what
// changes, each container as Docker shows it (state, health, and CPU,
// memory, network and disk use, live), and its runs, newest first, each
// with its events. It polls while it is open.

import {h, replace} from '../dom.js';
import {t, formatTime, formatBytes} from '../i18n.js';
import {api, watchJob} from '../api.js';
import {errorSlot, showError, clearError, badge, messageOf, openDialog, busy as whileBusy} from '../ui.js';
import {openJobPanel} from './progress.js';
import {openLogs} from './logs.js';
import {appLinks} from './links.js';
import {openCredentials} from './credentials.js';
import {localized, settingsFields} from './settingsform.js';
import {backupsSection} from './backups.js';
import {domainsSection} from './domains.js';

const POLL_MS = 3000;

/** shown is a setting's value as the page prints it. */
function shown(s) {
  if (s.sensitive) return s.set ? t('settings.secretSet') : t('settings.unset');
  if (s.value === undefined || s.value === null || s.value === '') return t('settings.empty');
  return String(s.value);
}

/**
 * openUpgradeDialog edits an app's settings (editing: true) or upgrades it
 * as it is, and shows what the upgrade changes (the plan) before it runs.
 * onStarted(job) runs once the API accepts it.
 */
function openUpgradeDialog({name, settings, editing, onStarted}) {
  const app = localized(settings.catalog);
  const labels = Object.fromEntries(app.parameters.map((p) => [p.name, p.label]));
  const error = errorSlot('upgrade-error');
  const fields = editing ? settingsFields(app, {action: 'upgrade', current: settings.settings}) : null;
  const planBox = h('div', {class: 'plan', id: 'upgrade-plan', 'aria-live': 'polite'});
  const review = h('button', {type: 'submit', class: 'btn primary', 'data-role': 'review'}, t('settings.review'));
  const apply = h('button', {type: 'button', class: 'btn primary', 'data-role': 'apply', hidden: true}, t('settings.apply'));
  const back = h('button', {type: 'button', class: 'btn', hidden: true}, t('settings.back'));
  const form = h('form', {class: 'stack', novalidate: true, id: 'upgrade-form'},
    fields ? fields.content : null, planBox, error,
    h('div', {class: 'buttons'}, back, review, apply));
  const dialog = openDialog({id: 'upgrade-dialog', wide: true, content: form,
    title: editing ? t('settings.editTitle', {app: name}) : t('apps.upgradeTitle', {app: name})});
  let parameters = {};
  const fold = (on) => {
    if (fields) fields.content.hidden = on;
    review.hidden = on;
    apply.hidden = !on;
    back.hidden = !on || !fields;
  };
  const value = (v) => (v === undefined || v === null || v === '' ? t('settings.empty') : String(v));
  const drawPlan = (plan) => {
    const rows = plan.changes.map((c) => h('tr', {'data-change': c.name},
      h('th', {scope: 'row'}, labels[c.name] || c.name),
      h('td', {}, c.sensitive ? t('settings.secretOld') : (c.fromDefault ? t('settings.default', {value: value(c.from)}) : value(c.from))),
      h('td', {}, c.sensitive ? t('settings.secretNew') : value(c.to))));
    replace(planBox,
      h('p', {id: 'upgrade-version'}, plan.fromVersion === plan.toVersion
        ? t('settings.sameVersion', {version: plan.toVersion})
        : t('settings.newVersion', {from: plan.fromVersion, to: plan.toVersion})),
      rows.length
        ? h('table', {class: 'tokens diff'},
          h('caption', {}, t('settings.changes')),
          h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, t('settings.setting')), h('th', {scope: 'col'}, t('settings.before')),
            h('th', {scope: 'col'}, t('settings.after')))),
          h('tbody', {}, rows))
        : h('p', {class: 'muted', id: 'upgrade-nochange'}, t('settings.noChange')));
  };
  const fail = (err) => {
    if (err.code === 'parameters' && fields && fields.showErrors(err.fields)) {
      fold(false);
      replace(planBox);
      showError(error, new Error(t('install.fixFields')));
      return;
    }
    showError(error, err);
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    if (fields) {
      const v = fields.values();
      if (!v) return; // a field says why
      parameters = v;
    }
    try {
      const plan = await whileBusy(review, () => api.planUpgrade(name, parameters));
      drawPlan(plan);
      fold(true);
      // Nothing to do: the same version with the same settings.
      apply.disabled = !plan.changes.length && plan.fromVersion === plan.toVersion;
      apply.focus();
    } catch (err) {
      fail(err);
    }
  });
  back.addEventListener('click', () => {
    fold(false);
    replace(planBox);
  });
  apply.addEventListener('click', async () => {
    clearError(error);
    try {
      const job = await whileBusy(apply, () => api.upgrade(name, parameters));
      dialog.close();
      onStarted(job);
    } catch (err) {
      fold(false);
      fail(err);
    }
  });
  if (!fields) form.requestSubmit();
  return dialog;
}

/** renderAppPage draws #/apps/<name>; it returns a function that stops polling. */
export function renderAppPage(root, name) {
  let live = true;
  let timer = 0;
  let busy = false;
  const error = errorSlot('app-page-error');
  const head = h('div', {class: 'page-head'});
  const summary = h('dl', {class: 'detail', id: 'app-summary'});
  const actions = h('div', {class: 'buttons', id: 'app-actions'});
  const containers = h('tbody');
  const runs = h('tbody');
  const settingsList = h('dl', {class: 'detail', id: 'app-settings'});
  const settingsButtons = h('div', {class: 'buttons'});
  const table = (id, caption, cols, body) => h('div', {class: 'table-wrap'},
    h('table', {class: 'tokens', id},
      h('caption', {class: 'sr-only'}, caption),
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', {scope: 'col'}, c)))),
      body));

  const act = async (action) => {
    clearError(error);
    busy = true;
    draw();
    try {
      const job = await api.action(name, action);
      openJobPanel({job: job.id, app: name, action, onFinished: () => refresh()});
      const stop = watchJob(job.id, () => {}, () => {
        stop();
        busy = false;
        refresh();
      });
    } catch (err) {
      busy = false;
      showError(error, err);
    }
    refresh();
  };

  let app = null;
  let history = [];
  let settings = null;
  let stats = new Map();

  const started = (job, action) => {
    openJobPanel({job: job.id, app: name, action, onFinished: () => {
      refresh();
      loadSettings();
    }});
    refresh();
  };
  const edit = (editing) => {
    if (!settings) return;
    openUpgradeDialog({name, settings, editing, onStarted: (job) => started(job, 'upgrade')});
  };

  function drawSettings() {
    if (!settings) return;
    const cat = localized(settings.catalog);
    const labels = Object.fromEntries(cat.parameters.map((p) => [p.name, p.label]));
    replace(settingsList, settings.settings.length
      ? settings.settings.map((s) => [h('dt', {}, labels[s.name] || s.name), h('dd', {'data-setting': s.name}, shown(s))])
      : h('p', {class: 'muted'}, t('settings.none')));
    const off = busy || Boolean(app && app.active) || !settings.settings.some((s) => s.editable);
    replace(settingsButtons, h('button', {type: 'button', class: 'btn small', 'data-action': 'edit-settings', disabled: off,
      onClick: () => edit(true)}, t('settings.edit')));
  }

  async function loadSettings() {
    try {
      settings = await api.settings(name);
      if (live) drawSettings();
    } catch (err) {
      if (live) showError(error, new Error(messageOf(err)));
    }
  }

  // Stats take Docker about a second: their own loop, never in the way.
  let statsTimer = 0;
  async function loadStats() {
    try {
      const list = await api.stats(name);
      stats = new Map(list.map((s) => [s.name, s]));
      if (live) draw();
    } catch {
      // Docker's stats are a bonus: the containers' states still show
    }
    if (live) statsTimer = setTimeout(loadStats, POLL_MS);
  }

  function draw() {
    if (!app) return;
    const st = app.state;
    const running = st === 'running';
    const off = busy || Boolean(app.active);
    replace(head,
      h('h1', {tabindex: '-1'}, name),
      badge(st),
      h('a', {class: 'btn small', href: '#/apps'}, t('appPage.back')));
    replace(summary,
      h('dt', {}, t('appPage.app')), h('dd', {}, `${app.app} v${app.version}`),
      app.upgradable ? [h('dt', {}, t('appPage.newer')), h('dd', {}, h('span', {class: 'tag'}, app.catalogVersion))] : null,
      app.info ? [h('dt', {}, t('appPage.info')), h('dd', {}, app.info)] : null,
      h('dt', {}, t('appPage.open')), h('dd', {}, h('div', {class: 'ports'}, appLinks(app))),
      h('dt', {}, t('appPage.ports')), h('dd', {}, Object.entries(app.ports || {}).map(([p, port]) => h('span', {class: 'tag'}, `${p} ${port}`))));
    const button = (action, label, disabled) => h('button', {type: 'button', class: 'btn small', 'data-action': action, disabled,
      onClick: () => act(action)}, label);
    replace(actions,
      app.upgradable ? h('button', {type: 'button', class: 'btn small primary', 'data-action': 'upgrade', disabled: off,
        onClick: () => edit(false)}, t('apps.upgradeTo', {version: app.catalogVersion || ''})) : null,
      button('start', t('action.start'), off || st !== 'stopped'),
      button('stop', t('action.stop'), off || !running),
      button('restart', t('action.restart'), off || !running),
      h('button', {type: 'button', class: 'btn small', 'data-action': 'logs', onClick: () => openLogs(app)}, t('action.logs')),
      h('button', {type: 'button', class: 'btn small', 'data-action': 'credentials', onClick: () => openCredentials(name)}, t('action.credentials')));
    const observed = app.observed || (app.containers || []).map((c) => ({name: c}));
    replace(containers, observed.map((c) => h('tr', {'data-container': c.name},
      h('td', {'data-label': t('appPage.container')}, h('code', {}, c.name)),
      h('td', {'data-label': t('appPage.state')}, c.state || '—'),
      h('td', {'data-label': t('appPage.health')}, c.health ? t(`appPage.health.${c.health}`) : t('appPage.noCheck')),
      h('td', {'data-label': t('appPage.ports')}, (c.ports || []).join(', ') || '—'),
      ...usage(stats.get(c.name)))));
    replace(runs, history.map((r) => h('tr', {'data-run': r.id, 'data-action': r.action, 'data-status': r.status},
      h('td', {'data-label': t('appPage.action')}, r.action),
      h('td', {'data-label': t('appPage.status')}, r.status),
      h('td', {'data-label': t('appPage.started')}, formatTime(r.created)),
      h('td', {'data-label': t('appPage.finished')}, r.finished ? formatTime(r.finished) : '—'),
      h('td', {'data-label': t('appPage.message')}, r.message || ''),
      h('td', {}, h('button', {type: 'button', class: 'btn small', 'data-role': 'events',
        onClick: () => openJobPanel({job: r.id, app: name, action: r.action, replay: true})}, t('appPage.events'))))));
    drawSettings();
  }

  /** usage is a container's stats cells ('—' until sampled, or stopped). */
  function usage(s) {
    const cell = (key, text) => h('td', {'data-label': t(`appPage.${key}`), 'data-stat': key}, text);
    if (!s) return ['cpu', 'memory', 'net', 'disk'].map((k) => cell(k, '—'));
    // Not sampled (an app on another Swarm node): the reason, no figures.
    if (s.unavailable) return ['cpu', 'memory', 'net', 'disk'].map((k) => h('td', {'data-label': t(`appPage.${k}`), 'data-stat': k, title: s.unavailable}, '—'));
    return [
      cell('cpu', `${s.cpuPercent.toFixed(1)} %`),
      cell('memory', `${formatBytes(s.memoryBytes)} / ${formatBytes(s.memoryLimit)}`),
      cell('net', `↓ ${formatBytes(s.netRxBytes)} ↑ ${formatBytes(s.netTxBytes)}`),
      cell('disk', `${formatBytes(s.blockReadBytes)} / ${formatBytes(s.blockWriteBytes)}`),
    ];
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const [a, r] = await Promise.all([api.app(name), api.runs(name, 20)]);
      if (!live) return;
      app = a;
      history = r;
      draw();
    } catch (err) {
      if (live) showError(error, new Error(messageOf(err)));
    }
    if (live) timer = setTimeout(refresh, POLL_MS);
  }

  const domains = domainsSection(name);
  const backups = backupsSection(name, () => {
    refresh();
    loadSettings();
  });
  replace(root, head, error,
    h('section', {class: 'panel', 'aria-labelledby': 'app-summary-heading'},
      h('h2', {id: 'app-summary-heading'}, t('appPage.summary')), summary, actions),
    h('section', {class: 'panel', 'aria-labelledby': 'app-settings-heading'},
      h('h2', {id: 'app-settings-heading'}, t('settings.title')), settingsList, settingsButtons),
    domains.section,
    backups.section,
    h('section', {class: 'panel', 'aria-labelledby': 'app-containers-heading'},
      h('h2', {id: 'app-containers-heading'}, t('appPage.containers')),
      table('app-containers', t('appPage.containers'), [t('appPage.container'), t('appPage.state'), t('appPage.health'), t('appPage.ports'),
        t('appPage.cpu'), t('appPage.memory'), t('appPage.net'), t('appPage.disk')], containers)),
    h('section', {class: 'panel', 'aria-labelledby': 'app-runs-heading'},
      h('h2', {id: 'app-runs-heading'}, t('appPage.runs')),
      table('app-runs', t('appPage.runs'), [t('appPage.action'), t('appPage.status'), t('appPage.started'), t('appPage.finished'),
        t('appPage.message'), t('appPage.events')], runs)));
  refresh();
  loadSettings();
  loadStats();
  return () => {
    live = false;
    domains.stop();
    clearTimeout(timer);
    clearTimeout(statsTimer);
  };
}
