// The settings form of an install (catalog) and of an edit (app page),
// built from the bundle's own parameter definitions: types, ranges, enums,
// patterns, defaults and sensitive, with the bundle's labels and help in
// the console's language and its form groups (custom.sh.websoft9.form).

import {h, uid} from '../dom.js';
import {t, lang} from '../i18n.js';

/** localized returns app with its title, description, parameter labels and form group labels in the console's language. */
export function localized(app) {
  const texts = app.texts || {};
  const l = lang();
  const tx = texts[l] || texts[l.split('-')[0]] || {};
  const params = tx.parameters || {};
  const groups = tx.form || {};
  return {
    ...app,
    title: tx.title || app.title,
    description: tx.description || app.description,
    parameters: (app.parameters || []).map((p) => ({
      ...p,
      label: (params[p.name] && params[p.name].label) || p.name,
      description: (params[p.name] && params[p.name].help) || p.description,
    })),
    form: (app.form || []).map((g) => ({...g, label: groups[g.group] || g.label || g.group})),
  };
}

/** appliesTo tells whether a parameter reaches action. */
function appliesTo(p, action) {
  return !p.applyTo || !p.applyTo.length || p.applyTo.includes(action);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * settingsFields builds a form's fields from the bundle's parameters: a
 * select for an enum, a checkbox for a boolean, a number field with its
 * range, a password field for a secret, text otherwise. The bundle's form
 * groups come first, in its order; the fields no group names (the ports,
 * most often) and the groups marked advanced are folded away.
 *
 * opts.action is 'install' (the default) or 'upgrade'. For an upgrade,
 * opts.current are the app's settings (GET /apps/{name}/settings): only
 * editable ones are shown, filled with their current values; a secret is
 * left empty, which keeps it. values() returns what differs from the
 * starting values (the defaults, or the current ones), or null after
 * marking each field the browser's checks refuse; showErrors puts the
 * server's reasons beside their fields.
 */
export function settingsFields(app, opts = {}) {
  const action = opts.action || 'install';
  const current = opts.current ? Object.fromEntries(opts.current.map((s) => [s.name, s])) : null;
  const params = (app.parameters || []).filter((p) => {
    if (p.type === 'file' || !appliesTo(p, action)) return false;
    if (current) return Boolean(current[p.name] && current[p.name].editable);
    return p.settable || p.port;
  });
  const rowsOf = {};
  const inputs = {};
  const errors = {};
  for (const p of params) {
    const id = uid(`param-${p.name}`);
    const rules = p.rules || {};
    const cur = current && current[p.name];
    // What the field starts with: the current value, else the default.
    const start = cur ? (p.sensitive ? undefined : cur.value) : p.default;
    let input;
    if (Array.isArray(rules.enum)) {
      input = h('select', {id, 'data-param': p.name, required: p.required},
        start === undefined ? h('option', {value: ''}, '') : null,
        rules.enum.map((v) => h('option', {value: String(v), selected: v === start}, String(v))));
    } else if (p.type === 'boolean') {
      input = h('input', {id, type: 'checkbox', 'data-param': p.name, checked: start === true});
    } else if (p.type === 'integer' || p.type === 'number') {
      input = h('input', {id, type: 'number', 'data-param': p.name, step: p.type === 'integer' ? '1' : 'any',
        min: rules.minimum, max: rules.maximum, required: p.required && !cur,
        value: start === undefined || start === null ? '' : String(start),
        placeholder: p.port ? t('install.portAuto') : ''});
    } else {
      let placeholder = '';
      if (cur && p.sensitive) placeholder = cur.set ? t('settings.keep') : '';
      else if (p.generated) placeholder = t('install.generated');
      input = h('input', {id, type: p.sensitive ? 'password' : 'text', 'data-param': p.name, autocomplete: p.sensitive ? 'new-password' : 'off',
        spellcheck: 'false', required: p.required && !cur, minlength: rules.minLength, maxlength: rules.maxLength,
        value: start === undefined || start === null ? '' : String(start), placeholder});
    }
    inputs[p.name] = {p, input, start};
    const err = h('p', {class: 'field-error', id: `${id}-error`, hidden: true, role: 'alert'});
    errors[p.name] = err;
    input.setAttribute('aria-describedby', `${id}-help ${id}-error`);
    const label = h('label', {for: id}, p.label || p.name, p.required && !cur ? h('span', {class: 'required', 'aria-hidden': 'true'}, ' *') : null);
    const help = h('p', {class: 'help', id: `${id}-help`}, p.description || '');
    rowsOf[p.name] = p.type === 'boolean'
      ? h('div', {class: 'check', 'data-field': p.name}, input, label, help, err)
      : h('div', {class: 'field', 'data-field': p.name}, label, input, help, err);
  }

  // The bundle's groups in its order, then the rest folded away.
  const placed = new Set();
  const sections = [];
  for (const g of app.form || []) {
    const rows = (g.fields || []).filter((n) => rowsOf[n] && !placed.has(n)).map((n) => {
      placed.add(n);
      return rowsOf[n];
    });
    if (!rows.length) continue;
    sections.push(g.advanced
      ? h('details', {class: 'advanced', 'data-group': g.group}, h('summary', {}, g.label), rows)
      : h('fieldset', {class: 'stack group', 'data-group': g.group}, h('legend', {}, g.label), rows));
  }
  const rest = params.filter((p) => !placed.has(p.name));
  if (app.form && app.form.length) {
    if (rest.length) {
      sections.push(h('details', {class: 'advanced', 'data-group': 'advanced'}, h('summary', {}, t('install.advancedAll')),
        rest.map((p) => rowsOf[p.name])));
    }
  } else {
    // No groups: the parameters in porter.yaml's order, the ports folded.
    const ports = rest.filter((p) => p.port);
    sections.push(...rest.filter((p) => !p.port).map((p) => rowsOf[p.name]));
    if (ports.length) {
      sections.push(h('details', {class: 'advanced', 'data-group': 'advanced'}, h('summary', {}, t('install.advanced')),
        ports.map((p) => rowsOf[p.name])));
    }
  }

  const clear = () => {
    for (const e of Object.values(errors)) {
      e.hidden = true;
      e.textContent = '';
    }
  };
  const mark = (name, message) => {
    const e = errors[name];
    if (!e) return false;
    e.textContent = message;
    e.hidden = false;
    // A field folded away is unfolded to show why.
    const fold = e.closest('details');
    if (fold) fold.open = true;
    return true;
  };
  const values = () => {
    clear();
    const out = {};
    let bad = null;
    for (const [name, {p, input, start}] of Object.entries(inputs)) {
      if (!input.checkValidity()) {
        mark(name, input.validationMessage);
        bad = bad || input;
        continue;
      }
      if (p.type === 'boolean') {
        if (input.checked !== (start === true)) out[name] = input.checked;
        continue;
      }
      const raw = input.value;
      // The pattern as JSON Schema reads it (a match anywhere unless
      // anchored), which HTML's pattern attribute does not.
      if (raw !== '' && p.rules && p.rules.pattern) {
        let ok = true;
        try {
          ok = new RegExp(p.rules.pattern, 'u').test(raw);
        } catch {
          // a pattern this browser cannot read: the server checks it
        }
        if (!ok) {
          mark(name, t('install.pattern', {pattern: p.rules.pattern}));
          bad = bad || input;
          continue;
        }
      }
      const value = p.type === 'integer' || p.type === 'number' ? Number(raw) : raw;
      if (raw === '') {
        // Empty: the default at install, kept as it is on an edit, except a
        // text that had a value and is now cleared on purpose.
        if (current && !p.sensitive && start !== undefined && start !== null && start !== '' && p.type === 'string') out[name] = '';
        continue;
      }
      if (same(value, start) || (!current && raw === String(start === undefined ? '' : start))) continue;
      out[name] = value;
    }
    if (bad) {
      bad.focus();
      return null;
    }
    return out;
  };
  const showErrors = (fields) => {
    let first = null;
    for (const [name, why] of Object.entries(fields || {})) {
      if (mark(name, why) && !first) first = inputs[name].input;
    }
    if (first) first.focus();
    return Boolean(first);
  };
  const content = params.length
    ? h('fieldset', {class: 'stack settings'}, h('legend', {}, t('install.settings')), sections)
    : null;
  return {content, values, showErrors, clear};
}
