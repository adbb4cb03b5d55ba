// An app's generated secrets (database passwords and the like): the API
// hands their values out once, so the console shows them with a copy
// button and a warning, and afterwards only says when they were shown.

import {h} from '../dom.js';
import {t, formatTime} from '../i18n.js';
import {api} from '../api.js';
import {openDialog, secretBox, messageOf} from '../ui.js';

/**
 * credentialsSection asks for app's credentials and returns what to show:
 * the values (first time), when they were shown (later), or null when the
 * app has none or the server does not offer them.
 */
export async function credentialsSection(app) {
  let cr;
  try {
    cr = await api.credentials(app);
  } catch (err) {
    // 404/405: a server without the endpoint, or an app without secrets.
    if (err.status === 404 || err.status === 405) return null;
    return h('p', {class: 'error', role: 'alert'}, t('credentials.unavailable', {reason: messageOf(err)}));
  }
  const values = Object.entries(cr.credentials || {});
  if (values.length) {
    return h('section', {class: 'credentials', id: 'credentials'},
      h('h3', {}, t('credentials.title')),
      h('p', {class: 'warning'}, t('credentials.once')),
      values.map(([name, value]) => secretBox({label: name, value})));
  }
  if (cr.shownAt) {
    return h('p', {class: 'muted', id: 'credentials'},
      t('credentials.shown', {time: formatTime(cr.shownAt)}),
      (cr.names || []).length ? ` (${cr.names.join(', ')})` : '');
  }
  return null;
}

/** openCredentials shows app's credentials in a dialog. */
export async function openCredentials(app) {
  const body = h('div', {'aria-busy': 'true'}, h('p', {class: 'muted'}, t('logs.loading')));
  openDialog({id: 'credentials-dialog', title: t('credentials.titleOf', {app}), content: body});
  const section = await credentialsSection(app);
  body.removeAttribute('aria-busy');
  body.replaceChildren(section || h('p', {class: 'muted'}, t('credentials.none')));
}
