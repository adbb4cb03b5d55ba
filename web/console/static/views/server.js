// The server: CPU, memory and disk gauges, charts of the last hour from
// the API's history, Docker's version, app counts, the current risks with
// what to do about each, and the cluster's nodes when the server manages a
// Swarm. It refreshes as the server samples (10 s).

import {h, replace} from '../dom.js';
import {t, formatBytes, formatDuration, formatTime} from '../i18n.js';
import {api} from '../api.js';
import {errorSlot, showError, clearError, badge} from '../ui.js';
import {gauge, lineChart} from '../charts.js';
import {nodesSection} from './nodes.js';

const POLL_MS = 10000;

function percentOf(v) {
  const n = parseFloat(v);
  return Number.isFinite(n) ? n : 0;
}

function fact(label, ...value) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

/**
 * renderServer draws #/server for me (an admin gets the nodes' buttons);
 * it returns a function that stops polling.
 */
export function renderServer(root, me) {
  let live = true;
  let timer = 0;
  const error = errorSlot('server-error');
  const gauges = h('div', {class: 'gauges', id: 'server-gauges'});
  const facts = h('dl', {class: 'facts', id: 'server-facts'});
  const risks = h('div', {id: 'server-risks'});
  const charts = h('div', {class: 'charts', id: 'server-charts'});
  const nodes = nodesSection(me);

  function draw({status: st, history, stackhub}) {
    const cpu = percentOf(st.cpu);
    const mem = percentOf(st.memory);
    const hdd = percentOf(st.hdd);
    const load = (st.load || []).map((v) => v.toFixed(2)).join(' · ');
    replace(gauges,
      gauge(cpu, {label: t('server.cpu'), detail: load ? t('server.load', {load}) : '', id: 'gauge-cpu'}),
      gauge(mem, {label: t('server.memory'), detail: st.memoryTotal ? `${formatBytes(st.memoryUsed)} / ${formatBytes(st.memoryTotal)}` : '', id: 'gauge-memory'}),
      gauge(hdd, {label: t('server.disk'), detail: st.hddTotal ? `${formatBytes(st.hddUsed)} / ${formatBytes(st.hddTotal)}` : '', id: 'gauge-disk'}));

    const counts = Object.entries(st.apps || {}).filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b));
    const total = counts.reduce((sum, [, n]) => sum + n, 0);
    const release = stackhub && stackhub.version
      ? [h('span', {id: 'server-version'}, stackhub.version), stackhub.commit ? h('span', {class: 'muted'}, ` (${stackhub.commit})`) : null]
      : null;
    replace(facts,
      release ? fact(t('server.version'), ...release) : null,
      fact(t('server.docker'), st.docker ? st.docker : h('span', {class: 'error'}, t('server.dockerDown'))),
      fact(t('server.apps'), h('span', {id: 'server-app-count'}, String(total)), ' ',
        counts.map(([state, n]) => h('span', {class: 'count'}, badge(state), ` ${n}`))),
      st.uptime ? fact(t('server.uptime'), formatDuration(st.uptime)) : null,
      st.sampledAt ? fact(t('server.sampled'), formatTime(st.sampledAt)) : null);

    const list = st.risks || [];
    replace(risks,
      h('h2', {}, t('server.risks'), ' ', h('span', {class: ['pill', list.length ? 'warn' : 'ok']}, String(list.length))),
      list.length
        ? h('ul', {class: 'risks'}, list.map((r) => h('li', {'data-code': r.code},
          h('strong', {}, r.message),
          r.advice ? h('p', {}, h('span', {class: 'muted'}, `${t('server.advice')} `), r.advice) : null)))
        : h('p', {class: 'success'}, t('server.noRisks')));

    replace(charts,
      lineChart(history || [], {key: 'cpu', label: t('server.cpu'), id: 'chart-cpu'}),
      lineChart(history || [], {key: 'memory', label: t('server.memory'), id: 'chart-memory'}),
      lineChart(history || [], {key: 'hdd', label: t('server.disk'), id: 'chart-disk'}));
  }

  async function tick() {
    if (!live) return;
    if (!document.hidden) {
      try {
        const [data] = await Promise.all([api.server(), nodes.refresh()]);
        if (!live) return;
        clearError(error);
        draw(data);
      } catch (err) {
        if (live) showError(error, err);
      }
    }
    if (live) timer = setTimeout(tick, POLL_MS);
  }

  replace(root,
    h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, t('nav.server'))),
    error,
    gauges,
    h('div', {class: 'split'}, h('section', {class: 'panel'}, h('h2', {}, t('server.facts')), facts), h('section', {class: 'panel'}, risks)),
    nodes.el,
    h('h2', {}, t('server.lastHour')),
    charts);
  tick();
  return () => {
    live = false;
    clearTimeout(timer);
  };
}
