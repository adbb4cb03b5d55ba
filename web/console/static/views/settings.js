// Settings: API tokens (created and shown once, listed, revoked) and the
// password of the logged-in user.

import {h, replace} from '../dom.js';
import {t, formatTime} from '../i18n.js';
import {api} from '../api.js';
import {errorSlot, showError, clearError, busy, confirmDialog, secretBox, notify} from '../ui.js';

function tokenSection(isLive) {
  const error = errorSlot('token-error');
  const listError = errorSlot('tokens-error');
  const created = h('div', {id: 'token-created'});
  const tbody = h('tbody');
  const table = h('table', {class: 'tokens', id: 'tokens-table'},
    h('caption', {class: 'sr-only'}, t('tokens.caption')),
    h('thead', {}, h('tr', {}, [t('tokens.name'), t('tokens.scope'), t('tokens.created'), t('tokens.lastUsed'), '']
      .map((label) => h('th', {scope: 'col'}, label)))),
    tbody);
  const none = h('p', {class: 'muted', hidden: true}, t('tokens.none'));
  const name = h('input', {id: 'token-name', type: 'text', required: true, autocomplete: 'off', maxlength: 64});
  const scope = h('select', {id: 'token-scope'},
    h('option', {value: 'read'}, t('tokens.scope.read')),
    h('option', {value: 'admin'}, t('tokens.scope.admin')));
  const submit = h('button', {type: 'submit', class: 'btn primary', id: 'token-create'}, t('tokens.create'));
  const form = h('form', {class: 'toolbar', novalidate: true},
    h('div', {class: 'field grow'}, h('label', {for: 'token-name'}, t('tokens.name')), name),
    h('div', {class: 'field'}, h('label', {for: 'token-scope'}, t('tokens.scope')), scope),
    submit);

  async function load() {
    try {
      const list = await api.tokens();
      if (!isLive()) return;
      clearError(listError);
      replace(tbody, list.map((tok) =>
        h('tr', {'data-token': tok.id},
          h('td', {'data-label': t('tokens.name')}, tok.name),
          h('td', {'data-label': t('tokens.scope')}, t(`tokens.scope.${tok.scope}`)),
          h('td', {'data-label': t('tokens.created')}, formatTime(tok.created)),
          h('td', {'data-label': t('tokens.lastUsed')}, tok.lastUsed ? formatTime(tok.lastUsed) : '—'),
          h('td', {},
            h('button', {type: 'button', class: 'btn small danger', 'data-action': 'revoke', onClick: () => confirmDialog({
              id: 'revoke-dialog',
              title: t('tokens.revokeTitle'),
              message: t('tokens.revokeConfirm', {name: tok.name}),
              confirmLabel: t('tokens.revoke'),
              danger: true,
              work: () => api.revokeToken(tok.id),
              onDone: () => {
                notify(t('tokens.revoked', {name: tok.name}), 'success');
                load();
              },
            })}, t('tokens.revoke'))))));
      none.hidden = list.length > 0;
      table.hidden = list.length === 0;
    } catch (err) {
      if (isLive()) showError(listError, err);
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    replace(created);
    if (!name.value.trim()) {
      showError(error, new Error(t('tokens.nameRequired')));
      name.focus();
      return;
    }
    try {
      const tok = await busy(submit, () => api.createToken(name.value.trim(), scope.value));
      name.value = '';
      replace(created,
        h('p', {class: 'warning'}, t('tokens.once')),
        secretBox({label: t('tokens.secret', {name: tok.name}), value: tok.token, id: 'token-secret'}));
      created.querySelector('input').focus();
      load();
    } catch (err) {
      showError(error, err);
    }
  });
  load();
  return h('section', {class: 'panel', 'aria-labelledby': 'tokens-heading'},
    h('h2', {id: 'tokens-heading'}, t('tokens.title')),
    h('p', {class: 'muted'}, t('tokens.intro')),
    form, error, created, listError, none, h('div', {class: 'table-wrap'}, table));
}

function passwordSection(onPasswordChanged) {
  const error = errorSlot('password-error');
  const submit = h('button', {type: 'submit', class: 'btn primary', id: 'password-submit'}, t('password.submit'));
  const input = (id, label, autocomplete) => h('div', {class: 'field'},
    h('label', {for: id}, label),
    h('input', {id, type: 'password', required: true, autocomplete}));
  const form = h('form', {class: 'stack narrow', novalidate: true},
    input('password-current', t('password.current'), 'current-password'),
    input('password-new', t('password.new'), 'new-password'),
    input('password-confirm', t('password.confirm'), 'new-password'),
    h('p', {class: 'help'}, t('password.help')),
    error,
    h('div', {class: 'buttons'}, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    const current = form.querySelector('#password-current').value;
    const next = form.querySelector('#password-new').value;
    if (!current || !next) {
      showError(error, new Error(t('password.missing')));
      return;
    }
    if (next !== form.querySelector('#password-confirm').value) {
      showError(error, new Error(t('password.mismatch')));
      form.querySelector('#password-confirm').focus();
      return;
    }
    try {
      await busy(submit, () => api.changePassword(current, next));
      onPasswordChanged();
    } catch (err) {
      showError(error, err);
    }
  });
  return h('section', {class: 'panel', 'aria-labelledby': 'password-heading'},
    h('h2', {id: 'password-heading'}, t('password.title')),
    form);
}

/**
 * renderSettings draws #/settings. onPasswordChanged runs after a
 * password change, which ends every session of the user.
 */
export function renderSettings(root, {onPasswordChanged}) {
  let live = true;
  replace(root,
    h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, t('nav.settings'))),
    tokenSection(() => live),
    passwordSection(onPasswordChanged));
  return () => { live = false; };
}
