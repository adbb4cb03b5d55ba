// Backups in the console: the repositories panel of Settings (admins add a
// directory or an S3 bucket, with a password StackHub keeps sealed) and
// the backups section of an app's page (back up now, restore in place or
// as a clone, each as a job with its progress).

import {h, replace} from '../dom.js';
import {t, formatTime, formatBytes} from '../i18n.js';
import {api} from '../api.js';
import {errorSlot, showError, clearError, busy, confirmDialog, openDialog, notify, messageOf} from '../ui.js';
import {openJobPanel} from './progress.js';

/** repositoriesSection lists the backup repositories and adds one (admins). */
export function repositoriesSection(isLive) {
  const error = errorSlot('repository-error');
  const listError = errorSlot('repositories-error');
  const tbody = h('tbody');
  const table = h('table', {class: 'tokens', id: 'repositories-table'},
    h('caption', {class: 'sr-only'}, t('repos.caption')),
    h('thead', {}, h('tr', {}, [t('repos.id'), t('repos.where'), t('repos.default'), ''].map((l) => h('th', {scope: 'col'}, l)))),
    tbody);
  const none = h('p', {class: 'muted', hidden: true, id: 'repositories-none'}, t('repos.none'));
  const field = (id, label, attrs = {}) => h('div', {class: 'field', 'data-field': id},
    h('label', {for: id}, label), h('input', {id, type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs}));
  const kind = h('select', {id: 'repo-kind'},
    h('option', {value: 'filesystem'}, t('repos.filesystem')), h('option', {value: 's3'}, t('repos.s3')));
  const fsFields = h('div', {class: 'stack', id: 'repo-fs'}, field('repo-path', t('repos.path'), {placeholder: '/var/backups/stackhub'}));
  const s3Fields = h('div', {class: 'stack', id: 'repo-s3', hidden: true},
    field('repo-endpoint', t('repos.endpoint'), {placeholder: 's3.example.com:443'}),
    field('repo-bucket', t('repos.bucket')),
    field('repo-prefix', t('repos.prefix')),
    field('repo-region', t('repos.region')),
    field('repo-access-key', t('repos.accessKey')),
    field('repo-secret-key', t('repos.secretKey'), {type: 'password', autocomplete: 'new-password'}),
    h('div', {class: 'check'}, h('input', {id: 'repo-insecure', type: 'checkbox'}), h('label', {for: 'repo-insecure'}, t('repos.insecure'))));
  kind.addEventListener('change', () => {
    fsFields.hidden = kind.value !== 'filesystem';
    s3Fields.hidden = kind.value !== 's3';
  });
  const create = h('input', {id: 'repo-create', type: 'checkbox', checked: true});
  const submit = h('button', {type: 'submit', class: 'btn primary', id: 'repo-add'}, t('repos.add'));
  const form = h('form', {class: 'stack', novalidate: true, id: 'repo-form'},
    field('repo-id', t('repos.id'), {required: true, pattern: '[A-Za-z0-9_\\-]{1,64}', placeholder: 'local'}),
    h('div', {class: 'field'}, h('label', {for: 'repo-kind'}, t('repos.kind')), kind),
    fsFields, s3Fields,
    field('repo-password', t('repos.password'), {type: 'password', autocomplete: 'new-password', required: true, minlength: 8}),
    h('p', {class: 'help'}, t('repos.passwordHelp')),
    h('div', {class: 'check'}, create, h('label', {for: 'repo-create'}, t('repos.create'))),
    error, h('div', {class: 'buttons'}, submit));
  const value = (id) => form.querySelector(`#${id}`).value.trim();

  async function load() {
    try {
      const list = await api.repositories();
      if (!isLive()) return;
      clearError(listError);
      replace(tbody, list.map((r) => h('tr', {'data-repository': r.id},
        h('td', {'data-label': t('repos.id')}, r.id),
        h('td', {'data-label': t('repos.where')}, h('code', {}, r.where)),
        h('td', {'data-label': t('repos.default')}, r.default ? t('repos.yes') : ''),
        h('td', {}, h('button', {type: 'button', class: 'btn small danger', 'data-action': 'remove', onClick: () => confirmDialog({
          id: 'repo-remove-dialog', title: t('repos.removeTitle'), message: t('repos.removeConfirm', {id: r.id}),
          confirmLabel: t('repos.remove'), danger: true, work: () => api.removeRepository(r.id), onDone: load,
        })}, t('repos.remove'))))));
      none.hidden = list.length > 0;
      table.hidden = list.length === 0;
    } catch (err) {
      if (isLive()) showError(listError, err);
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    for (const input of form.querySelectorAll('input')) {
      if (!input.closest('[hidden]') && !input.checkValidity()) {
        showError(error, new Error(`${input.labels[0] ? input.labels[0].textContent : input.id}: ${input.validationMessage}`));
        input.focus();
        return;
      }
    }
    const body = {id: value('repo-id'), kind: kind.value, password: form.querySelector('#repo-password').value, create: create.checked};
    if (kind.value === 'filesystem') {
      body.path = value('repo-path');
    } else {
      Object.assign(body, {endpoint: value('repo-endpoint'), bucket: value('repo-bucket'), prefix: value('repo-prefix'),
        region: value('repo-region'), accessKey: value('repo-access-key'), secretKey: form.querySelector('#repo-secret-key').value,
        insecure: form.querySelector('#repo-insecure').checked});
    }
    try {
      const r = await busy(submit, () => api.addRepository(body));
      notify(t('repos.added', {id: r.id}), 'success');
      form.querySelector('#repo-password').value = '';
      form.querySelector('#repo-secret-key').value = '';
      load();
    } catch (err) {
      showError(error, err);
    }
  });
  load();
  return h('section', {class: 'panel', 'aria-labelledby': 'repositories-heading'},
    h('h2', {id: 'repositories-heading'}, t('repos.title')),
    h('p', {class: 'muted'}, t('repos.intro')),
    listError, none, h('div', {class: 'table-wrap'}, table),
    h('details', {class: 'advanced', id: 'repo-add-fold'}, h('summary', {}, t('repos.addTitle')), form));
}

/**
 * backupsSection is the app page's list of the app's backups, with "back
 * up now", and restore (in place or as a clone) per backup. refreshApp is
 * called when a job the section started ends.
 */
export function backupsSection(name, refreshApp) {
  const error = errorSlot('backups-error');
  const tbody = h('tbody');
  const none = h('p', {class: 'muted', id: 'backups-none', hidden: true});
  const table = h('table', {class: 'tokens', id: 'app-backups'},
    h('caption', {class: 'sr-only'}, t('backups.title')),
    h('thead', {}, h('tr', {}, [t('backups.created'), t('backups.version'), t('backups.size'), t('backups.quiesce'), '']
      .map((l) => h('th', {scope: 'col'}, l)))),
    tbody);
  const now = h('button', {type: 'button', class: 'btn small primary', 'data-action': 'backup'}, t('backups.now'));
  const ended = () => {
    load();
    refreshApp();
  };
  now.addEventListener('click', async () => {
    clearError(error);
    try {
      const job = await busy(now, () => api.backup(name));
      openJobPanel({job: job.id, app: name, action: 'snapshot', onFinished: ended});
    } catch (err) {
      showError(error, err);
    }
  });

  function restoreDialog(b) {
    const nameInput = h('input', {id: 'restore-name', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: name});
    const rerror = errorSlot('restore-error');
    const go = h('button', {type: 'submit', class: 'btn primary', 'data-role': 'restore'}, t('backups.restore'));
    const form = h('form', {class: 'stack', novalidate: true},
      h('p', {}, t('backups.restoreIntro', {when: formatTime(b.created), version: b.version})),
      h('div', {class: 'field'}, h('label', {for: 'restore-name'}, t('backups.into')), nameInput,
        h('p', {class: 'help'}, t('backups.intoHelp', {app: name}))),
      rerror, h('div', {class: 'buttons'}, go));
    const dialog = openDialog({id: 'restore-dialog', title: t('backups.restoreTitle'), content: form});
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearError(rerror);
      const target = nameInput.value.trim();
      try {
        const res = await busy(go, () => api.restore(b.id, target));
        dialog.close();
        const app = (res.app && res.app.appName) || target || name;
        openJobPanel({job: res.job.id, app, action: 'restore', onFinished: (stage) => {
          if (stage === 'done' && app !== name) notify(t('backups.cloned', {app}), 'success');
          ended();
        }});
      } catch (err) {
        showError(rerror, err);
      }
    });
    nameInput.focus();
  }

  // The schedule: what the app follows, and a form to change it.
  const policyLine = h('p', {id: 'backup-policy'});
  const perror = errorSlot('policy-error');
  const schedule = h('input', {id: 'policy-schedule', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '0 3 * * *'});
  const keeps = ['last', 'daily', 'weekly', 'monthly'].map((k) => [k, h('input', {id: `policy-keep-${k}`, type: 'number', min: 0, step: 1, value: '0'})]);
  const save = h('button', {type: 'submit', class: 'btn small primary', id: 'policy-save'}, t('policy.save'));
  const inherit = h('button', {type: 'button', class: 'btn small', id: 'policy-default'}, t('policy.useDefault'));
  const policyForm = h('form', {class: 'stack', novalidate: true, id: 'policy-form'},
    h('div', {class: 'field'}, h('label', {for: 'policy-schedule'}, t('policy.schedule')), schedule,
      h('p', {class: 'help'}, t('policy.scheduleHelp'))),
    h('div', {class: 'toolbar'}, keeps.map(([k, input]) => h('div', {class: 'field'}, h('label', {for: input.id}, t(`policy.keep.${k}`)), input))),
    perror, h('div', {class: 'buttons'}, inherit, save));
  const describe = (p) => {
    const parts = [p.schedule ? t('policy.runs', {schedule: p.schedule}) : t('policy.none')];
    if (p.next) parts.push(t('policy.next', {when: formatTime(p.next)}));
    const k = p.keep || {};
    if (k.last || k.daily || k.weekly || k.monthly) {
      parts.push(t('policy.keeps', {last: k.last || 0, daily: k.daily || 0, weekly: k.weekly || 0, monthly: k.monthly || 0}));
    }
    if (p.inherited) parts.push(t('policy.inherited'));
    return parts.join(' · ');
  };
  async function loadPolicy() {
    try {
      const p = await api.policy(name);
      replace(policyLine, describe(p));
      schedule.value = p.schedule || '';
      for (const [k, input] of keeps) input.value = String((p.keep && p.keep[k]) || 0);
    } catch (err) {
      replace(policyLine, messageOf(err));
    }
  }
  policyForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(perror);
    const keep = Object.fromEntries(keeps.map(([k, input]) => [k, Number(input.value || 0)]));
    try {
      await busy(save, () => api.setPolicy(name, {schedule: schedule.value.trim(), keep}));
      notify(t('policy.saved'), 'success');
      loadPolicy();
    } catch (err) {
      showError(perror, err);
    }
  });
  inherit.addEventListener('click', async () => {
    clearError(perror);
    try {
      await busy(inherit, () => api.clearPolicy(name));
      loadPolicy();
    } catch (err) {
      showError(perror, err);
    }
  });
  loadPolicy();

  async function load() {
    try {
      const list = await api.backups(name);
      clearError(error);
      replace(tbody, list.map((b) => h('tr', {'data-backup': b.id},
        h('td', {'data-label': t('backups.created')}, formatTime(b.created)),
        h('td', {'data-label': t('backups.version')}, `${b.app} ${b.version}`),
        h('td', {'data-label': t('backups.size')}, formatBytes(b.size)),
        h('td', {'data-label': t('backups.quiesce')}, t(`backups.quiesce.${b.quiesce}`)),
        h('td', {}, h('button', {type: 'button', class: 'btn small', 'data-action': 'restore', onClick: () => restoreDialog(b)},
          t('backups.restore'))))));
      table.hidden = list.length === 0;
      none.hidden = list.length > 0;
      replace(none, t('backups.none'));
    } catch (err) {
      // No repository yet: say so where the backups would be.
      table.hidden = true;
      none.hidden = false;
      replace(none, err.status === 404 && err.code === 'not_found' && /repository/.test(messageOf(err)) ? t('backups.noRepository') : messageOf(err));
    }
  }
  load();
  return {
    section: h('section', {class: 'panel', 'aria-labelledby': 'app-backups-heading'},
      h('h2', {id: 'app-backups-heading'}, t('backups.title')),
      policyLine,
      h('details', {class: 'advanced', id: 'policy-fold'}, h('summary', {}, t('policy.edit')), policyForm),
      h('div', {class: 'buttons'}, now), error, none, h('div', {class: 'table-wrap'}, table)),
    reload: load,
  };
}
