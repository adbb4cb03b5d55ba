// The logs viewer: the last lines of one of an app's containers, and with
// Follow, new lines as they come (a streamed fetch, aborted on close).

import {h} from '../dom.js';
import {t} from '../i18n.js';
import {streamLogs} from '../api.js';
import {openDialog, errorSlot, showError, clearError} from '../ui.js';

const MAX_CHARS = 1 << 20; // keep the last MiB in the page

/** openLogs opens the viewer for app (a wire.App). */
export function openLogs(app) {
  const containers = app.containers && app.containers.length ? app.containers : [app.containerName];
  const container = h('select', {id: 'logs-container'},
    containers.map((c) => h('option', {value: c, selected: c === app.containerName}, c)));
  const tail = h('select', {id: 'logs-tail'}, [100, 500, 2000].map((n) => h('option', {value: n}, String(n))));
  const follow = h('input', {id: 'logs-follow', type: 'checkbox', checked: true});
  const reload = h('button', {type: 'button', class: 'btn', id: 'logs-reload'}, t('logs.reload'));
  const output = h('pre', {class: 'log tall', id: 'logs-output', tabindex: '0', 'aria-label': t('logs.output'), 'aria-live': 'off'});
  const state = h('p', {class: 'muted small', id: 'logs-state', role: 'status'});
  const error = errorSlot('logs-error');
  let controller = null;

  function stop() {
    if (controller) controller.abort();
    controller = null;
  }

  function write(text) {
    const atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
    output.append(text);
    if (output.textContent.length > MAX_CHARS) {
      output.textContent = output.textContent.slice(-MAX_CHARS);
    }
    if (atBottom) output.scrollTop = output.scrollHeight;
  }

  async function load() {
    stop();
    clearError(error);
    output.textContent = '';
    const mine = new AbortController();
    controller = mine;
    const following = follow.checked;
    state.textContent = t(following ? 'logs.following' : 'logs.loading');
    output.setAttribute('aria-busy', 'true');
    try {
      await streamLogs(app.appName, {tail: Number(tail.value), follow: following, container: container.value}, write, mine.signal);
      if (controller === mine) state.textContent = t('logs.ended');
    } catch (err) {
      if (err.name === 'AbortError') return;
      if (controller === mine) {
        state.textContent = '';
        showError(error, err);
      }
    } finally {
      output.removeAttribute('aria-busy');
      output.dataset.loaded = 'true';
    }
  }

  for (const el of [container, tail, follow]) el.addEventListener('change', load);
  reload.addEventListener('click', load);

  openDialog({
    id: 'logs-dialog',
    wide: true,
    title: t('logs.title', {app: app.appName}),
    onClose: stop,
    content: [
      h('div', {class: 'toolbar'},
        h('div', {class: 'field'}, h('label', {for: 'logs-container'}, t('logs.container')), container),
        h('div', {class: 'field'}, h('label', {for: 'logs-tail'}, t('logs.tail')), tail),
        h('div', {class: 'check'}, follow, h('label', {for: 'logs-follow'}, t('logs.follow'))),
        reload),
      error, state, output],
  });
  load();
}
