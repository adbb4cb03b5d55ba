// First run (create the admin with the setup code from the server log)
// and login.

import {h, replace} from '../dom.js';
import {t} from '../i18n.js';
import {api} from '../api.js';
import {errorSlot, showError, clearError, busy} from '../ui.js';

function field(id, label, attrs, help) {
  const helpId = help ? `${id}-help` : null;
  return h('div', {class: 'field'},
    h('label', {for: id}, label),
    h('input', {id, name: id, 'aria-describedby': helpId, ...attrs}),
    help ? h('p', {class: 'help', id: helpId}, help) : null);
}

function panel(title, ...content) {
  return h('section', {class: 'auth-panel'},
    h('h1', {tabindex: '-1'}, title),
    content);
}

/**
 * renderSetup shows the first-run form: setup code, user name, password.
 * On success it logs in with the new account and calls onDone(me).
 */
export function renderSetup(root, onDone) {
  const error = errorSlot('setup-error');
  const submit = h('button', {type: 'submit', class: 'btn primary', id: 'setup-submit'}, t('setup.submit'));
  const form = h('form', {class: 'stack', id: 'setup-form', novalidate: true},
    field('setup-code', t('setup.code'), {type: 'text', required: true, autocomplete: 'off', spellcheck: 'false'}, t('setup.codeHelp')),
    field('setup-name', t('setup.name'), {type: 'text', required: true, autocomplete: 'username', value: 'admin'}),
    field('setup-password', t('setup.password'), {type: 'password', required: true, autocomplete: 'new-password', minlength: 12}, t('setup.passwordHelp')),
    field('setup-password2', t('setup.password2'), {type: 'password', required: true, autocomplete: 'new-password'}),
    error,
    h('div', {class: 'buttons'}, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    const code = form.elements['setup-code'].value.trim();
    const name = form.elements['setup-name'].value.trim();
    const pw = form.elements['setup-password'].value;
    if (!code || !name || !pw) {
      showError(error, new Error(t('setup.missing')));
      return;
    }
    if (pw !== form.elements['setup-password2'].value) {
      showError(error, new Error(t('password.mismatch')));
      form.elements['setup-password2'].focus();
      return;
    }
    try {
      const me = await busy(submit, async () => {
        await api.setup(code, name, pw);
        return api.login(name, pw);
      });
      onDone(me);
    } catch (err) {
      showError(error, err);
    }
  });
  replace(root, panel(t('setup.title'), h('p', {}, t('setup.intro')), form));
  form.elements['setup-code'].focus();
}

/**
 * renderLogin shows the login form; notice is an optional message above it
 * (logged out, password changed). On success it calls onDone(me).
 */
export function renderLogin(root, onDone, notice) {
  const error = errorSlot('login-error');
  const submit = h('button', {type: 'submit', class: 'btn primary', id: 'login-submit'}, t('login.submit'));
  const form = h('form', {class: 'stack', id: 'login-form', novalidate: true},
    field('login-name', t('login.name'), {type: 'text', required: true, autocomplete: 'username'}),
    field('login-password', t('login.password'), {type: 'password', required: true, autocomplete: 'current-password'}),
    error,
    h('div', {class: 'buttons'}, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    const name = form.elements['login-name'].value.trim();
    const pw = form.elements['login-password'].value;
    if (!name || !pw) {
      showError(error, new Error(t('login.missing')));
      return;
    }
    try {
      const me = await busy(submit, () => api.login(name, pw));
      onDone(me);
    } catch (err) {
      if (err.status === 401) err.message = t('login.wrong');
      showError(error, err);
      form.elements['login-password'].select();
    }
  });
  replace(root, panel(t('login.title'),
    notice ? h('p', {class: 'notice-inline', role: 'status'}, notice) : null,
    form));
  form.elements['login-name'].focus();
}
