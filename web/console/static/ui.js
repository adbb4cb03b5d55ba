// Shared pieces of the screens: modal dialogs, notices, error slots, busy
// buttons, status badges and app icons.

import {h, replace, uid, copyText} from './dom.js';
import {t, has} from './i18n.js';

/**
 * openDialog shows a modal <dialog> (focus moves into it, Escape closes
 * it, focus returns to where it was). It returns {el, body, close}.
 */
export function openDialog({title, id, content, onClose, wide}) {
  const opener = document.activeElement;
  const titleId = uid('dialog-title');
  const body = h('div', {class: 'dialog-body'}, content || []);
  const heading = h('h2', {id: titleId}, title);
  const dlg = h('dialog', {id, class: ['dialog', wide && 'wide'], 'aria-labelledby': titleId},
    h('div', {class: 'dialog-head'},
      heading,
      h('button', {type: 'button', class: 'icon-btn', 'data-role': 'close', 'aria-label': t('action.close'),
        title: t('action.close'), onClick: () => close()}, '✕')),
    body);
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    if (dlg.open) dlg.close();
    dlg.remove();
    if (onClose) onClose();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  }
  dlg.addEventListener('cancel', (ev) => {
    ev.preventDefault(); // Escape: close through close() so onClose runs once
    close();
  });
  document.body.append(dlg);
  dlg.showModal();
  return {el: dlg, body, close, setTitle: (text) => { heading.textContent = text; }};
}

/**
 * confirmDialog asks a yes/no question; work runs on yes, with its errors
 * shown in the dialog, which closes when work succeeds and then calls
 * onDone with work's result. extra is more content (a checkbox) placed
 * above the buttons.
 */
export function confirmDialog({title, message, confirmLabel, danger, extra, id, work, onDone}) {
  const error = errorSlot();
  const yes = h('button', {type: 'submit', class: ['btn', danger ? 'danger' : 'primary'], 'data-role': 'confirm'}, confirmLabel);
  const form = h('form', {class: 'stack', novalidate: true},
    h('p', {}, message),
    extra || null,
    error,
    h('div', {class: 'buttons'},
      h('button', {type: 'button', class: 'btn', onClick: () => dialog.close()}, t('action.cancel')),
      yes));
  const dialog = openDialog({title, id, content: form});
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    try {
      const result = await busy(yes, () => work());
      dialog.close();
      if (onDone) onDone(result);
    } catch (err) {
      showError(error, err);
    }
  });
  yes.focus();
  return dialog;
}

/** errorSlot returns an empty alert paragraph placed next to what may fail. */
export function errorSlot(id) {
  return h('p', {class: 'error', role: 'alert', id, hidden: true});
}

/** showError puts an error's message in its slot. */
export function showError(slot, err) {
  slot.textContent = messageOf(err);
  slot.hidden = false;
}

/** clearError empties and hides a slot. */
export function clearError(slot) {
  slot.textContent = '';
  slot.hidden = true;
}

/** messageOf returns what to tell the operator about err. */
export function messageOf(err) {
  if (!err) return '';
  if (err.status === 429) return `${t('error.tooMany')} ${err.message || ''}`.trim();
  return err.message || String(err);
}

/**
 * busy disables a button while fn runs (aria-busy for screen readers)
 * and returns fn's result.
 */
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** notify shows a short message in the page's live region. */
export function notify(message, kind = 'info') {
  const area = document.getElementById('notice');
  if (!area) return;
  const item = h('div', {class: ['notice', kind], role: kind === 'error' ? 'alert' : null},
    h('span', {}, message),
    h('button', {type: 'button', class: 'icon-btn', 'aria-label': t('action.dismiss'), title: t('action.dismiss'),
      onClick: () => item.remove()}, '✕'));
  area.append(item);
  if (kind !== 'error') setTimeout(() => item.remove(), 8000);
}

/** stateLabel translates an app state, or returns it as is. */
export function stateLabel(state) {
  return has(`state.${state}`) ? t(`state.${state}`) : state;
}

/** badge returns a status badge for an app state. */
export function badge(state) {
  return h('span', {class: ['badge', `badge-${state}`], 'data-state': state}, stateLabel(state));
}

function hue(name) {
  let sum = 0;
  for (const ch of name) sum = (sum * 31 + ch.codePointAt(0)) % 997;
  return sum % 8;
}

/** initials returns up to two letters for an app without an icon. */
function initials(app) {
  const words = (app.title || app.appName || '?').split(/[\s_-]+/).filter(Boolean);
  return words.slice(0, 2).map((w) => [...w][0].toUpperCase()).join('') || '?';
}

/**
 * appIcon returns the app's icon (a URL the API gives), or its initials on
 * a coloured tile when there is none or it does not load.
 */
export function appIcon(app, size = 'md') {
  const tile = h('span', {class: ['app-icon', `icon-${size}`, `hue-${hue(app.appName || '')}`], 'aria-hidden': 'true'}, initials(app));
  if (!app.icon) return tile;
  const img = h('img', {class: ['app-icon', `icon-${size}`], src: app.icon, alt: '', loading: 'lazy'});
  img.addEventListener('error', () => img.replaceWith(tile), {once: true});
  return img;
}

/**
 * secretBox shows a value that is shown only once, read-only, with a copy
 * button and a warning.
 */
export function secretBox({label, value, id}) {
  const inputId = id || uid('secret');
  const input = h('input', {id: inputId, class: 'secret', type: 'text', readonly: true, value, spellcheck: 'false', autocomplete: 'off'});
  const status = h('span', {class: 'muted', role: 'status'});
  return h('div', {class: 'secret-box'},
    h('label', {for: inputId}, label),
    h('div', {class: 'row'},
      input,
      h('button', {type: 'button', class: 'btn', onClick: async () => {
        input.select();
        replace(status, (await copyText(value)) ? t('secret.copied') : t('secret.copyFailed'));
      }}, t('action.copy'))),
    status);
}
