// The live progress panel of a job (install, upgrade, action), fed by the
// job's Server-Sent Events: stages, a bar per pulled image, the compose
// resources, the log lines, and a Cancel button. After a successful
// install it shows the app's link and, once, its generated credentials.

import {h, replace} from '../dom.js';
import {t, has, formatBytes} from '../i18n.js';
import {api, jobID, watchJob} from '../api.js';
import {openDialog, errorSlot, showError, clearError, busy, messageOf} from '../ui.js';
import {appLinks} from './links.js';
import {credentialsSection} from './credentials.js';

const MAX_LOG_LINES = 1000;

function stageLabel(stage) {
  return has(`stage.${stage}`) ? t(`stage.${stage}`) : stage;
}

/**
 * openJobPanel opens the panel for job (an id or /api/v1/jobs/<id>) of
 * app (the instance name); action says what the job does (install,
 * upgrade, start, …). onFinished(stage) runs when the job ends. Closing
 * the panel stops watching; the job goes on. replay shows a past run's
 * events (from the app page's runs) without what follows an install.
 */
export function openJobPanel({job, app, action, onFinished, replay}) {
  const id = jobID(job);
  const statusLine = h('p', {class: 'job-status', id: 'job-status', role: 'status'}, stageLabel('queued'));
  const stages = h('ol', {class: 'stages', id: 'job-stages', 'aria-label': t('job.stages')});
  const images = h('div', {class: 'pulls', id: 'job-images'});
  const resources = h('ul', {class: 'resources', id: 'job-resources', 'aria-label': t('job.resources')});
  const log = h('pre', {class: 'log', id: 'job-log', tabindex: '0', 'aria-label': t('job.log')});
  const result = h('div', {class: 'job-result', id: 'job-result'});
  const cancelError = errorSlot('job-cancel-error');
  const cancel = h('button', {type: 'button', class: 'btn danger', id: 'job-cancel'}, t('action.cancelJob'));
  const close = h('button', {type: 'button', class: 'btn', id: 'job-close'}, t('action.close'));

  const stageItems = new Map();
  const imageBars = new Map();
  const resourceItems = new Map();
  let logLines = 0;
  let stop = () => {};

  const dialog = openDialog({
    id: 'job-panel',
    wide: true,
    title: t(`job.title.${has(`job.title.${action}`) ? action : 'other'}`, {app, action}),
    content: [statusLine, stages, images, resources,
      h('h3', {}, t('job.log')), log, result, cancelError,
      h('div', {class: 'buttons'}, cancel, close)],
    onClose: () => stop(),
  });
  dialog.el.dataset.job = id;
  dialog.el.dataset.app = app;
  close.addEventListener('click', () => dialog.close());
  cancel.addEventListener('click', async () => {
    clearError(cancelError);
    try {
      await busy(cancel, () => api.cancelJob(id));
      statusLine.textContent = t('job.canceling');
    } catch (err) {
      showError(cancelError, err);
    }
  });

  function markStage(ev) {
    let item = stageItems.get(ev.stage);
    if (!item) {
      item = h('li', {'data-stage': ev.stage}, h('span', {class: 'stage-name'}, stageLabel(ev.stage)), h('span', {class: 'stage-msg muted'}));
      stageItems.set(ev.stage, item);
      stages.append(item);
    }
    for (const other of stageItems.values()) {
      if (other !== item && other.classList.contains('current')) {
        other.classList.remove('current');
        other.classList.add('past');
      }
    }
    item.classList.remove('past');
    item.classList.add('current');
    if (ev.resource || ev.image) return;
    if (ev.total > 0 && (ev.stage === 'backing-up' || ev.stage === 'restoring')) {
      item.querySelector('.stage-msg').textContent = copyProgress(ev);
    } else if (ev.message) {
      item.querySelector('.stage-msg').textContent = ev.message;
    }
  }

  // copyProgress is a backup's or a restore's progress in words: bytes,
  // files, time left.
  function copyProgress(ev) {
    const parts = [t('job.copied', {done: formatBytes(Math.min(ev.current || 0, ev.total)), total: formatBytes(ev.total)})];
    if (ev.files) parts.push(t('job.files', {n: ev.files}));
    if (ev.etaSeconds) parts.push(t('job.eta', {time: formatDuration(ev.etaSeconds)}));
    return parts.join(' · ');
  }

  // formatDuration writes seconds as 42 s, 3 min 5 s or 2 h 10 min.
  function formatDuration(s) {
    if (s < 60) return t('time.s', {s});
    if (s < 3600) return t('time.ms', {m: Math.floor(s / 60), s: s % 60});
    return t('time.hm', {h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60)});
  }

  function pull(ev) {
    let bar = imageBars.get(ev.image);
    if (!bar) {
      const progress = h('progress', {max: 1, value: 0, 'aria-label': ev.image});
      const text = h('span', {class: 'muted'});
      bar = {progress, text};
      imageBars.set(ev.image, bar);
      images.append(h('div', {class: 'pull', 'data-image': ev.image}, h('code', {}, ev.image), progress, text));
    }
    if (ev.stage === 'pulled') {
      bar.progress.max = 1;
      bar.progress.value = 1;
      bar.text.textContent = t('job.pulled');
    } else if (ev.total > 0) {
      bar.progress.max = ev.total;
      bar.progress.value = Math.min(ev.current || 0, ev.total);
      bar.text.textContent = `${formatBytes(ev.current || 0)} / ${formatBytes(ev.total)}`;
    } else {
      bar.progress.removeAttribute('value'); // size not known yet: indeterminate
      bar.text.textContent = formatBytes(ev.current || 0);
    }
  }

  function resource(ev) {
    let item = resourceItems.get(ev.resource);
    const text = `${ev.resource}: ${ev.status || stageLabel(ev.stage)}${ev.message ? ` — ${ev.message}` : ''}`;
    if (!item) {
      item = h('li', {'data-resource': ev.resource});
      resourceItems.set(ev.resource, item);
      resources.append(item);
    }
    item.textContent = text;
    item.classList.toggle('error', ev.stage === 'failed');
  }

  function appendLog(line) {
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(`${line}\n`);
    logLines += 1;
    if (logLines > MAX_LOG_LINES) {
      log.firstChild.remove();
      logLines -= 1;
    }
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function onEvent(ev) {
    if (ev.type === 'log') {
      appendLog(ev.line || '');
      return;
    }
    if (ev.image) pull(ev);
    else if (ev.resource) resource(ev);
    markStage(ev);
    const detail = ev.resource || ev.image || ev.message || '';
    statusLine.textContent = detail ? `${stageLabel(ev.stage)}: ${detail}` : stageLabel(ev.stage);
  }

  async function afterInstall() {
    try {
      const info = await api.app(app);
      const links = appLinks(info);
      if (links.length) result.append(h('p', {}, t('job.open'), ' ', links));
    } catch {
      // the table shows the app anyway
    }
    const section = await credentialsSection(app);
    if (section) result.append(section);
  }

  function onEnd(end) {
    cancel.hidden = true;
    if (!end || end instanceof Error) {
      dialog.el.dataset.final = 'error';
      replace(result, h('p', {class: 'error', role: 'alert'}, messageOf(end)));
    } else {
      dialog.el.dataset.final = end.stage;
      const key = `job.end.${end.stage}`;
      const text = t(has(key) ? key : 'job.end.other', {stage: end.stage});
      replace(result, h('p', {class: end.stage === 'done' ? 'success' : 'error', role: end.stage === 'done' ? 'status' : 'alert'},
        end.message ? `${text} ${end.message}` : text));
      if (end.stage === 'done' && action === 'install' && !replay) afterInstall();
    }
    close.focus();
    if (onFinished) onFinished(end && end.stage);
  }

  stop = watchJob(id, onEvent, onEnd);
  return dialog;
}
