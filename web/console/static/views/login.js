// First run (create the admin with the setup code from the server log)
// and login.

import {h, replace} from '../dom.js';
import {t} from '../i18n.js';
import {api} from '../api.js';
import {errorSlot, showError, clearError, busy, secretBox} from '../ui.js';

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
 * (logged out, password changed). A user with a second factor is then
 * asked for the authenticator's code (or a recovery code) in the same
 * form. On success it calls onDone(me). onJoin, when given, is offered as
 * a link for people with an invite.
 */
export function renderLogin(root, onDone, notice, onJoin) {
  const error = errorSlot('login-error');
  const submit = h('button', {type: 'submit', class: 'btn primary', id: 'login-submit'}, t('login.submit'));
  const second = field('login-otp', t('login.otp'), {type: 'text', autocomplete: 'one-time-code', inputmode: 'text', spellcheck: 'false'}, t('login.otpHelp'));
  second.hidden = true;
  const form = h('form', {class: 'stack', id: 'login-form', novalidate: true},
    field('login-name', t('login.name'), {type: 'text', required: true, autocomplete: 'username'}),
    field('login-password', t('login.password'), {type: 'password', required: true, autocomplete: 'current-password'}),
    second,
    error,
    h('div', {class: 'buttons'}, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    const name = form.elements['login-name'].value.trim();
    const pw = form.elements['login-password'].value;
    const code = form.elements['login-otp'].value.trim();
    if (!name || !pw) {
      showError(error, new Error(t('login.missing')));
      return;
    }
    try {
      const me = await busy(submit, () => api.login(name, pw, code));
      onDone(me);
    } catch (err) {
      if (err.code === 'second_factor') {
        // The password was right: ask for the second factor.
        second.hidden = false;
        if (code) showError(error, err);
        form.elements['login-otp'].focus();
        return;
      }
      if (err.status === 401 && second.hidden) err.message = t('login.wrong');
      showError(error, err);
      if (second.hidden) form.elements['login-password'].select();
      else form.elements['login-otp'].select();
    }
  });
  replace(root, panel(t('login.title'),
    notice ? h('p', {class: 'notice-inline', role: 'status'}, notice) : null,
    form,
    onJoin ? h('p', {class: 'muted'}, h('a', {href: '#', id: 'join-link', onClick: (ev) => { ev.preventDefault(); onJoin(); }}, t('join.link'))) : null));
  form.elements['login-name'].focus();
}

/**
 * renderJoin shows the form that turns an invite into an account, then
 * logs in with it and calls onDone(me); onBack returns to the login.
 */
export function renderJoin(root, onDone, onBack) {
  const error = errorSlot('join-error');
  const submit = h('button', {type: 'submit', class: 'btn primary', id: 'join-submit'}, t('join.submit'));
  const form = h('form', {class: 'stack', id: 'join-form', novalidate: true},
    field('join-code', t('join.code'), {type: 'text', required: true, autocomplete: 'off', spellcheck: 'false'}, t('join.codeHelp')),
    field('join-name', t('setup.name'), {type: 'text', required: true, autocomplete: 'username'}),
    field('join-password', t('setup.password'), {type: 'password', required: true, autocomplete: 'new-password', minlength: 12}, t('setup.passwordHelp')),
    field('join-password2', t('setup.password2'), {type: 'password', required: true, autocomplete: 'new-password'}),
    error,
    h('div', {class: 'buttons'}, submit,
      h('button', {type: 'button', class: 'btn', onClick: onBack}, t('action.cancel'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    const code = form.elements['join-code'].value.trim();
    const name = form.elements['join-name'].value.trim();
    const pw = form.elements['join-password'].value;
    if (!code || !name || !pw) {
      showError(error, new Error(t('join.missing')));
      return;
    }
    if (pw !== form.elements['join-password2'].value) {
      showError(error, new Error(t('password.mismatch')));
      form.elements['join-password2'].focus();
      return;
    }
    try {
      const me = await busy(submit, async () => {
        await api.join(code, name, pw);
        return api.login(name, pw);
      });
      onDone(me);
    } catch (err) {
      showError(error, err);
    }
  });
  replace(root, panel(t('join.title'), h('p', {}, t('join.intro')), form));
  form.elements['join-code'].focus();
}

/**
 * renderEnroll sets up a second factor for a user who must have one
 * before anything else; onDone runs once it is on.
 */
export function renderEnroll(root, onDone) {
  replace(root, panel(t('totp.requiredTitle'), h('p', {}, t('totp.requiredIntro')), totpSetup(onDone)));
}

/**
 * totpSetup is the two steps of setting up a second factor: show the
 * secret (and its otpauth:// link), confirm a code, show the recovery
 * codes once. onDone runs when the user has seen them.
 */
export function totpSetup(onDone) {
  const box = h('div', {class: 'stack', id: 'totp-setup'});
  const error = errorSlot('totp-error');
  const start = h('button', {type: 'button', class: 'btn primary', id: 'totp-start'}, t('totp.start'));
  start.addEventListener('click', async () => {
    clearError(error);
    try {
      const enr = await busy(start, () => api.totpEnroll());
      const submit = h('button', {type: 'submit', class: 'btn primary', id: 'totp-confirm'}, t('totp.confirm'));
      const form = h('form', {class: 'stack narrow', novalidate: true},
        h('p', {}, t('totp.scan')),
        h('p', {}, h('a', {href: enr.url, id: 'totp-url'}, t('totp.link'))),
        secretBox({label: t('totp.secret'), value: enr.secret, id: 'totp-secret'}),
        field('totp-code', t('totp.code'), {type: 'text', required: true, autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 6}),
        error,
        h('div', {class: 'buttons'}, submit));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearError(error);
        try {
          const {recoveryCodes} = await busy(submit, () => api.totpConfirm(form.elements['totp-code'].value.trim()));
          replace(box, recoveryList(recoveryCodes),
            h('div', {class: 'buttons'}, h('button', {type: 'button', class: 'btn primary', id: 'totp-done', onClick: onDone}, t('totp.done'))));
        } catch (err) {
          showError(error, err);
        }
      });
      replace(box, form);
      form.elements['totp-code'].focus();
    } catch (err) {
      showError(error, err);
    }
  });
  replace(box, h('p', {class: 'muted'}, t('totp.intro')), error, h('div', {class: 'buttons'}, start));
  return box;
}

/** recoveryList shows recovery codes, once, one a line, with a warning. */
export function recoveryList(codes) {
  const copy = h('button', {type: 'button', class: 'btn small'}, t('action.copy'));
  copy.addEventListener('click', () => navigator.clipboard && navigator.clipboard.writeText(codes.join('\n')));
  return h('div', {class: 'stack', id: 'recovery-codes'},
    h('p', {class: 'warning'}, t('totp.recoveryOnce')),
    h('h3', {}, t('totp.recovery')),
    h('ol', {class: 'recovery', id: 'recovery-secret'}, codes.map((c) => h('li', {}, h('code', {}, c)))),
    h('div', {class: 'buttons'}, copy));
}
