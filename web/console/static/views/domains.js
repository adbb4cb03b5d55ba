// Domains in the console: the section of an app's page that gives the app
// a domain (the server's gateway obtains its certificate and sends its
// requests to the app), shows each certificate's state with the CA's error
// when it failed, and takes a domain away.

import {h, replace} from '../dom.js';
import {t, formatTime} from '../i18n.js';
import {api} from '../api.js';
import {errorSlot, showError, clearError, busy, confirmDialog} from '../ui.js';

/** domainsSection is app name's domains panel; it reloads itself. */
export function domainsSection(name) {
  const error = errorSlot('domains-error');
  const tbody = h('tbody');
  const none = h('p', {class: 'muted', id: 'domains-none', hidden: true});
  const table = h('table', {class: 'tokens', id: 'app-domains'},
    h('caption', {class: 'sr-only'}, t('domains.title')),
    h('thead', {}, h('tr', {}, [t('domains.domain'), t('domains.certificate'), t('domains.expires'), '']
      .map((l) => h('th', {scope: 'col'}, l)))),
    tbody);
  const input = h('input', {id: 'domain-input', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'blog.example.com'});
  const add = h('button', {type: 'submit', class: 'btn small primary', 'data-action': 'add-domain'}, t('domains.add'));
  const form = h('form', {class: 'inline', id: 'domain-form', novalidate: true},
    h('label', {for: 'domain-input'}, t('domains.new')), input, add);
  let timer = 0;
  let live = true;

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    try {
      await busy(add, () => api.addDomain(name, input.value.trim()));
      input.value = '';
      load();
    } catch (err) {
      showError(error, err);
    }
  });

  function state(d) {
    const c = d.certificate || {};
    const label = t(`domains.state.${c.state || 'pending'}`);
    if (c.state !== 'failed') return h('span', {'data-state': c.state}, label);
    return h('span', {'data-state': 'failed'}, label, ' — ', h('span', {class: 'error-text', 'data-role': 'cert-error'}, c.error || ''),
      c.attempts ? h('span', {class: 'muted'}, ' ' + t('domains.attempts', {n: c.attempts})) : null);
  }

  async function load() {
    clearTimeout(timer);
    try {
      const list = await api.domains(name);
      replace(tbody, list.map((d) => {
        const remove = h('button', {type: 'button', class: 'btn small', 'data-action': 'remove-domain'}, t('domains.remove'));
        remove.addEventListener('click', () => confirmDialog({
          id: 'remove-domain-dialog',
          title: t('domains.removeTitle', {domain: d.domain}),
          message: t('domains.removeConfirm', {domain: d.domain, app: name}),
          confirmLabel: t('domains.remove'),
          work: () => api.removeDomain(name, d.domain),
          onDone: () => load(),
        }));
        const link = h('a', {href: `https://${d.domain}${d.pathPrefix || '/'}`, target: '_blank', rel: 'noopener'}, d.domain + (d.pathPrefix || ''));
        // An app on a Swarm node: its web port stays open on the node too.
        const exposed = d.exposed ? h('div', {class: 'muted', 'data-role': 'exposed'}, t('domains.exposed', {addr: d.exposed})) : null;
        return h('tr', {'data-domain': d.domain}, h('td', {}, link, exposed), h('td', {}, state(d)),
          h('td', {}, d.certificate && d.certificate.notAfter ? formatTime(d.certificate.notAfter) : '—'), h('td', {}, remove));
      }));
      none.hidden = list.length > 0;
      none.textContent = t('domains.none');
      table.hidden = list.length === 0;
      // A certificate on its way: look again soon.
      if (live && list.some((d) => !d.certificate || d.certificate.state !== 'valid')) timer = setTimeout(load, 3000);
    } catch (err) {
      showError(error, err);
    }
  }
  // Without the gateway, say so instead of offering a form that fails.
  api.gateway().then((gw) => {
    if (gw.enabled) return load();
    none.hidden = false;
    none.textContent = t('domains.noGateway');
    table.hidden = true;
    form.hidden = true;
  }, (err) => showError(error, err));
  return {
    section: h('section', {class: 'panel', 'aria-labelledby': 'app-domains-heading', id: 'domains-section'},
      h('h2', {id: 'app-domains-heading'}, t('domains.title')), h('p', {class: 'help'}, t('domains.help')), table, none, form, error),
    stop: () => {
      live = false;
      clearTimeout(timer);
    },
  };
}
