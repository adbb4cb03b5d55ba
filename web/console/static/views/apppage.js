// The page of one installed app (#/apps/<name>): its state, links and
// version, its actions, each container as Docker shows it (state and
// health), and its runs, newest first. It polls while it is open.

import {h, replace} from '../dom.js';
import {t, formatTime} from '../i18n.js';
import {api, watchJob} from '../api.js';
import {errorSlot, showError, clearError, badge, messageOf} from '../ui.js';
import {openJobPanel} from './progress.js';
import {openLogs} from './logs.js';
import {appLinks} from './links.js';
import {openCredentials} from './credentials.js';

const POLL_MS = 3000;

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
      h('td', {'data-label': t('appPage.ports')}, (c.ports || []).join(', ') || '—'))));
    replace(runs, history.map((r) => h('tr', {'data-run': r.id, 'data-action': r.action, 'data-status': r.status},
      h('td', {'data-label': t('appPage.action')}, r.action),
      h('td', {'data-label': t('appPage.status')}, r.status),
      h('td', {'data-label': t('appPage.started')}, formatTime(r.created)),
      h('td', {'data-label': t('appPage.finished')}, r.finished ? formatTime(r.finished) : '—'),
      h('td', {'data-label': t('appPage.message')}, r.message || ''))));
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

  replace(root, head, error,
    h('section', {class: 'panel', 'aria-labelledby': 'app-summary-heading'},
      h('h2', {id: 'app-summary-heading'}, t('appPage.summary')), summary, actions),
    h('section', {class: 'panel', 'aria-labelledby': 'app-containers-heading'},
      h('h2', {id: 'app-containers-heading'}, t('appPage.containers')),
      table('app-containers', t('appPage.containers'), [t('appPage.container'), t('appPage.state'), t('appPage.health'), t('appPage.ports')], containers)),
    h('section', {class: 'panel', 'aria-labelledby': 'app-runs-heading'},
      h('h2', {id: 'app-runs-heading'}, t('appPage.runs')),
      table('app-runs', t('appPage.runs'), [t('appPage.action'), t('appPage.status'), t('appPage.started'), t('appPage.finished'), t('appPage.message')], runs)));
  refresh();
  return () => {
    live = false;
    clearTimeout(timer);
  };
}
