// Settings: the people who may use this server and their invites (admins),
// API tokens (created and shown once, listed, revoked), the logged-in
// user's second factor and password.

import {h, replace} from '../dom.js';
import {t, formatTime} from '../i18n.js';
import {api} from '../api.js';
import {errorSlot, showError, clearError, busy, confirmDialog, secretBox, notify} from '../ui.js';
import {totpSetup, recoveryList} from './login.js';
import {repositoriesSection} from './backups.js';

const ROLES = ['viewer', 'operator', 'admin'];

function roleSelect(id, value) {
  return h('select', {id}, ROLES.map((r) => h('option', {value: r, selected: r === value}, t(`role.${r}`))));
}

// usersSection lists the accounts (role, second factor) and the open
// invites; an admin changes roles, requires a second factor, deletes
// accounts and invites people with a role.
function usersSection(isLive, me) {
  const error = errorSlot('users-error');
  const created = h('div', {id: 'invite-created'});
  const tbody = h('tbody');
  const table = h('table', {class: 'tokens', id: 'users-table'},
    h('caption', {class: 'sr-only'}, t('users.caption')),
    h('thead', {}, h('tr', {}, [t('users.name'), t('users.role'), t('users.secondFactor'), t('users.require'), '']
      .map((label) => h('th', {scope: 'col'}, label)))),
    tbody);
  const invites = h('ul', {id: 'invites-list', class: 'plain'});
  const role = roleSelect('invite-role', 'operator');
  const submit = h('button', {type: 'submit', class: 'btn primary', id: 'invite-create'}, t('users.invite'));
  const form = h('form', {class: 'toolbar', novalidate: true},
    h('div', {class: 'field'}, h('label', {for: 'invite-role'}, t('users.role')), role), submit);

  const change = async (name, body) => {
    clearError(error);
    try {
      await api.changeUser(name, body);
      notify(t('users.changed', {name}), 'success');
    } catch (err) {
      showError(error, err);
    }
    load();
  };

  async function load() {
    try {
      const [list, open] = await Promise.all([api.users(), api.invites()]);
      if (!isLive()) return;
      replace(tbody, list.map((u) => {
        const sel = roleSelect(`role-${u.name}`, u.role);
        sel.addEventListener('change', () => change(u.name, {role: sel.value}));
        const req = h('input', {type: 'checkbox', id: `require-${u.name}`, checked: u.requireSecondFactor,
          'aria-label': t('users.require')});
        req.addEventListener('change', () => change(u.name, {requireSecondFactor: req.checked}));
        return h('tr', {'data-user': u.name},
          h('td', {'data-label': t('users.name')}, u.name),
          h('td', {'data-label': t('users.role')}, sel),
          h('td', {'data-label': t('users.secondFactor')}, u.secondFactor ? t('users.on') : t('users.off')),
          h('td', {'data-label': t('users.require')}, req),
          h('td', {}, u.name === me.user ? null : h('button', {type: 'button', class: 'btn small danger', 'data-action': 'delete-user',
            onClick: () => confirmDialog({
              id: 'delete-user-dialog', title: t('users.deleteTitle'), message: t('users.deleteConfirm', {name: u.name}),
              confirmLabel: t('users.delete'), danger: true, work: () => api.deleteUser(u.name),
              onDone: () => { notify(t('users.deleted', {name: u.name}), 'success'); load(); },
            })}, t('users.delete'))));
      }));
      replace(invites, open.map((inv) => h('li', {'data-invite': inv.id},
        t('users.inviteLine', {role: t(`role.${inv.role}`), by: inv.createdBy, expires: formatTime(inv.expires)}), ' ',
        h('button', {type: 'button', class: 'btn small', 'data-action': 'withdraw', onClick: async () => {
          try {
            await api.revokeInvite(inv.id);
            load();
          } catch (err) {
            showError(error, err);
          }
        }}, t('users.withdraw')))));
    } catch (err) {
      if (isLive()) showError(error, err);
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    replace(created);
    try {
      const inv = await busy(submit, () => api.invite(role.value));
      replace(created,
        h('p', {class: 'warning'}, t('users.inviteOnce', {role: t(`role.${inv.role}`)})),
        secretBox({label: t('users.inviteCode'), value: inv.code, id: 'invite-code'}));
      load();
    } catch (err) {
      showError(error, err);
    }
  });
  load();
  return h('section', {class: 'panel', 'aria-labelledby': 'users-heading'},
    h('h2', {id: 'users-heading'}, t('users.title')),
    h('p', {class: 'muted'}, t('users.intro')),
    error, h('div', {class: 'table-wrap'}, table),
    h('h3', {}, t('users.invites')), invites, form, created);
}

// secondFactorSection sets up, or turns off, the logged-in user's second
// factor, and renews its recovery codes.
function secondFactorSection(me, isLive) {
  const body = h('div', {class: 'stack'});
  const error = errorSlot('second-error');
  const password = h('input', {id: 'second-password', type: 'password', autocomplete: 'current-password'});
  const withPassword = (label, id, work) => {
    const btn = h('button', {type: 'button', class: 'btn', id}, label);
    btn.addEventListener('click', async () => {
      clearError(error);
      try {
        await busy(btn, () => work(password.value));
      } catch (err) {
        showError(error, err);
      }
    });
    return btn;
  };
  async function draw() {
    let on = Boolean(me.secondFactor);
    try {
      on = Boolean((await api.me()).secondFactor);
    } catch (err) {
      showError(error, err);
    }
    if (!isLive()) return;
    replace(body,
      h('p', {class: 'muted', id: 'second-state'}, on ? t('totp.isOn') : t('totp.isOff')),
      on ? null : totpSetup(() => draw()),
      on ? h('div', {class: 'field narrow'}, h('label', {for: 'second-password'}, t('password.current')), password) : null,
      on ? h('div', {class: 'buttons'},
        withPassword(t('totp.renew'), 'recovery-renew', async (pw) => {
          const {recoveryCodes} = await api.recoveryCodes(pw);
          body.append(recoveryList(recoveryCodes));
        }),
        withPassword(t('totp.disable'), 'totp-disable', async (pw) => {
          await api.totpDisable(pw);
          notify(t('totp.disabled'), 'success');
          draw();
        })) : null,
      error);
  }
  draw();
  return h('section', {class: 'panel', 'aria-labelledby': 'second-heading'},
    h('h2', {id: 'second-heading'}, t('totp.title')), body);
}

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
    ROLES.map((r) => h('option', {value: r}, t(`role.${r}`))));
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
          h('td', {'data-label': t('tokens.scope')}, t(`role.${tok.scope}`)),
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
export function renderSettings(root, {me, onPasswordChanged}) {
  let live = true;
  const admin = me && me.role === 'admin';
  replace(root,
    h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, t('nav.settings'))),
    admin ? usersSection(() => live, me) : null,
    admin ? tokenSection(() => live) : null,
    admin ? repositoriesSection(() => live) : null,
    secondFactorSection(me || {}, () => live),
    passwordSection(onPasswordChanged));
  return () => { live = false; };
}
