// The cluster on the server page: when the server's Docker engine manages
// a Swarm, a table of its nodes (CPU, memory, disk, apps, reachability)
// with Drain, Activate and Remove for admins; when it is not a swarm, one
// muted line telling how to start a cluster with the CLI, and nothing
// else changes.

import {h, replace} from '../dom.js';
import {t, has, formatBytes} from '../i18n.js';
import {api} from '../api.js';
import {errorSlot, showError, clearError, confirmDialog} from '../ui.js';

/** word translates a Swarm word (manager, ready, drain…), or shows it as is. */
function word(w) {
  return w && has(`nodes.word.${w}`) ? t(`nodes.word.${w}`) : (w || t('nodes.unknown'));
}

function cpus(n) {
  return n > 0 ? String(Math.round(n * 10) / 10) : t('nodes.unknown');
}

/**
 * nodesSection is the server page's cluster part for me (admins get the
 * buttons). It returns {el, refresh}: refresh reads the cluster again.
 */
export function nodesSection(me) {
  const admin = Boolean(me && me.role === 'admin');
  const error = errorSlot('nodes-error');
  const tbody = h('tbody');
  const cols = ['hostname', 'role', 'state', 'availability', 'cpu', 'memory', 'disk', 'apps', 'address'];
  const table = h('table', {id: 'server-nodes'},
    h('caption', {class: 'sr-only'}, t('nodes.title')),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', {scope: 'col'}, t(`nodes.${c}`))),
      admin ? h('th', {scope: 'col'}, h('span', {class: 'sr-only'}, t('nodes.actions'))) : null)),
    tbody);
  const panel = h('section', {class: 'panel', id: 'nodes-section', 'aria-labelledby': 'nodes-heading', hidden: true},
    h('h2', {id: 'nodes-heading'}, t('nodes.title')), h('div', {class: 'table-wrap'}, table), error);
  const hint = h('p', {class: 'muted', id: 'cluster-hint', hidden: true});
  const el = h('div', {id: 'cluster'}, hint, panel);

  function act(n, {id, kind, danger, force}) {
    const forced = force ? h('input', {type: 'checkbox', id: `${id}-force`}) : null;
    confirmDialog({
      id,
      title: t(`nodes.${kind}Title`, {node: n.hostname}),
      message: t(`nodes.${kind}Confirm`, {node: n.hostname, apps: n.apps}),
      confirmLabel: t(`nodes.${kind}`),
      danger,
      extra: forced ? h('div', {class: 'check warning-box'}, forced, h('label', {for: `${id}-force`}, t(`nodes.${kind}Force`))) : null,
      work: () => {
        if (kind === 'drain') return api.drainNode(n.id, forced.checked);
        if (kind === 'remove') return api.removeNode(n.id, forced.checked);
        return api.activateNode(n.id);
      },
      onDone: () => refresh(),
    });
  }

  function buttons(n) {
    const out = [];
    if (n.availability === 'active') {
      out.push(h('button', {type: 'button', class: 'btn small', 'data-action': 'drain-node',
        onClick: () => act(n, {id: 'drain-node-dialog', kind: 'drain', danger: true, force: true})}, t('nodes.drain')));
    } else {
      out.push(h('button', {type: 'button', class: 'btn small', 'data-action': 'activate-node',
        onClick: () => act(n, {id: 'activate-node-dialog', kind: 'activate'})}, t('nodes.activate')));
    }
    if (!n.self) {
      out.push(' ', h('button', {type: 'button', class: 'btn small', 'data-action': 'remove-node',
        onClick: () => act(n, {id: 'remove-node-dialog', kind: 'remove', danger: true, force: true})}, t('nodes.remove')));
    }
    return out;
  }

  function row(n) {
    const state = n.state === 'ready' ? word(n.state) : h('span', {class: 'error'}, word(n.state));
    const reach = n.reachability && n.reachability !== 'reachable' ? h('span', {class: 'muted'}, ` (${word(n.reachability)})`) : null;
    const disk = n.disk && n.disk.total ? `${formatBytes(n.disk.used)} / ${formatBytes(n.disk.total)}` : t('nodes.unknown');
    return h('tr', {'data-node': n.id, 'data-hostname': n.hostname},
      h('td', {}, n.hostname || n.id, ' ',
        n.self ? h('span', {class: 'tag', 'data-role': 'self'}, t('nodes.self')) : null,
        n.leader ? h('span', {class: 'tag'}, t('nodes.leader')) : null,
        n.message && n.state !== 'ready' ? h('p', {class: 'muted'}, n.message) : null),
      h('td', {}, word(n.role)),
      h('td', {'data-role': 'state'}, state, reach),
      h('td', {'data-role': 'availability'}, word(n.availability)),
      h('td', {}, cpus(n.cpus)),
      h('td', {}, n.memoryBytes > 0 ? formatBytes(n.memoryBytes) : t('nodes.unknown')),
      h('td', {}, disk),
      h('td', {'data-role': 'apps'}, String(n.apps || 0)),
      h('td', {}, h('code', {}, n.addr || '')),
      admin ? h('td', {}, buttons(n)) : null);
  }

  async function refresh() {
    try {
      const st = await api.cluster();
      if (st.swarm !== 'manager') {
        panel.hidden = true;
        hint.hidden = false;
        hint.textContent = st.swarm === 'inactive' ? t('nodes.notSwarm') : t('nodes.otherState', {state: st.swarm});
        clearError(error);
        return;
      }
      hint.hidden = true;
      const list = await api.nodes();
      replace(tbody, list.map(row));
      panel.hidden = false;
      clearError(error);
    } catch (err) {
      panel.hidden = false;
      showError(error, err);
    }
  }
  return {el, refresh};
}
