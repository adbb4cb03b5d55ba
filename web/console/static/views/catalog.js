// The catalog: app cards with search and a category filter, an app's
// detail view, and Install (optional instance name) which opens the
// job's live progress panel. An app whose bundle asks for more than the
// default bundle policy is installed only after the operator grants it
// exactly that, in a dialog listing it in plain words.

import {h, replace, uid} from '../dom.js';
import {t, has} from '../i18n.js';
import {api} from '../api.js';
import {errorSlot, showError, clearError, busy, appIcon, openDialog, confirmDialog, notify} from '../ui.js';
import {openJobPanel} from './progress.js';
import {localized, settingsFields} from './settingsform.js';

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

function requirementList(app) {
  const req = app.requirements || {};
  const items = [['cpu', t('req.cpu')], ['memory', t('req.memory')], ['disk', t('req.disk')]]
    .filter(([k]) => req[k])
    .map(([k, label]) => h('li', {}, h('span', {class: 'muted'}, `${label} `), req[k]));
  return items.length ? h('ul', {class: 'requirements', 'aria-label': t('catalog.requirements')}, items) : null;
}

/**
 * grantDialog lists what perms (the API's answer for the app's
 * permissions) asks for beyond the default bundle policy, in plain words,
 * and on "Grant & install" records the grant of exactly that bundle, then
 * runs install; onStarted gets install's answer. Cancel installs nothing.
 */
function grantDialog(app, perms, install, onStarted) {
  const digest = perms.digest || '';
  return confirmDialog({
    id: 'grant-dialog',
    title: t('grant.title', {app: app.title || app.appName}),
    message: t('grant.intro', {app: app.appName}),
    confirmLabel: t('grant.confirm'),
    danger: true,
    extra: [
      h('ul', {class: 'permissions', 'aria-label': t('grant.list')}, perms.permissions.map((p) =>
        h('li', {'data-permission': p.permission}, h('span', {}, p.description), ' ', h('code', {}, p.permission)))),
      h('p', {class: 'muted small'}, t('grant.bundle', {app: perms.app, version: perms.version, digest: digest.slice(0, 19)})),
      h('p', {class: 'warning'}, t('grant.warning')),
    ],
    work: async () => {
      await api.grant(app.appName, digest, perms.permissions.map((p) => p.permission));
      return install();
    },
    onDone: onStarted,
  });
}

/**
 * localized returns app with its words in the console's language, where
 * the bundle gives them (texts: zh-CN, else zh): title, description, and
 * each parameter's label and help.
 */
/**
 * installForm asks for an optional instance name (and force) and starts
 * the install; the job's progress panel opens once the API accepts it.
 * When the app's bundle needs permissions not granted, the grant dialog
 * comes first.
 */
function installForm(app, onStarted) {
  const nameId = uid('install-name');
  const forceId = uid('install-force');
  const error = errorSlot();
  error.classList.add('install-error');
  const submit = h('button', {type: 'submit', class: 'btn primary', 'data-role': 'install-submit'}, t('catalog.install'));
  const nameInput = h('input', {id: nameId, name: 'name', type: 'text', placeholder: app.appName, autocomplete: 'off',
    spellcheck: 'false', 'aria-describedby': `${nameId}-help`, 'data-role': 'install-name'});
  const force = h('input', {id: forceId, name: 'force', type: 'checkbox'});
  const settings = settingsFields(app);
  const form = h('form', {class: 'stack install-form', novalidate: true, 'data-app': app.appName},
    h('div', {class: 'field'},
      h('label', {for: nameId}, t('install.name')),
      nameInput,
      h('p', {class: 'help', id: `${nameId}-help`}, t('install.nameHelp', {app: app.appName}))),
    settings.content,
    h('div', {class: 'check'}, force, h('label', {for: forceId}, t('install.force'))),
    error,
    h('div', {class: 'buttons'}, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError(error);
    const name = nameInput.value.trim();
    if (name && !NAME_RE.test(name)) {
      showError(error, new Error(t('install.badName')));
      nameInput.focus();
      return;
    }
    const parameters = settings.values();
    if (!parameters) return; // a field says why
    const install = () => api.install(app.appName, name, force.checked, parameters);
    const started = (res) => {
      const instance = (res.app && res.app.appName) || name || app.appName;
      onStarted();
      openJobPanel({job: res.job, app: instance, action: 'install', onFinished: (stage) => {
        if (stage === 'done') notify(t('install.done', {app: instance}), 'success');
      }});
    };
    try {
      const perms = await busy(submit, () => api.permissions(app.appName));
      if (perms.missing && perms.missing.length) {
        grantDialog(app, perms, install, started);
        return;
      }
      started(await busy(submit, install));
    } catch (err) {
      if (err.code === 'parameters' && settings.showErrors(err.fields)) {
        showError(error, new Error(t('install.fixFields')));
        return;
      }
      showError(error, err);
      if (err.status === 412) force.focus();
    }
  });
  return {form, focus: () => nameInput.focus()};
}

function openInstallDialog(app) {
  let dialog;
  const {form, focus} = installForm(app, () => dialog.close());
  dialog = openDialog({id: 'install-dialog', title: t('install.title', {app: app.title || app.appName}), content: form});
  focus();
}

/** categoryName is a category's name in the current language (its key when unknown). */
function categoryName(key) {
  return has(`category.${key}`) ? t(`category.${key}`) : key;
}

/** origin says which store app a converted bundle came from, or null. */
function origin(app) {
  const o = app.origin;
  if (!o || !o.store) return null;
  const store = has(`store.${o.store}`) ? t(`store.${o.store}`) : o.store;
  return t('catalog.from', {store, id: o.id + (o.version ? ` ${o.version}` : '')});
}

function card(app, installed) {
  const titleId = uid('card');
  const count = installed.filter((i) => i.app === app.appName).length;
  return h('li', {class: 'card', 'data-app': app.appName},
    h('article', {'aria-labelledby': titleId},
      h('div', {class: 'card-head'},
        appIcon(app),
        h('div', {},
          h('h2', {id: titleId}, h('a', {href: `#/catalog/${encodeURIComponent(app.appName)}`}, app.title || app.appName)),
          h('p', {class: 'muted small'},
            app.title && app.title !== app.appName ? [h('span', {class: 'app-name'}, app.appName), ' · '] : null,
            h('span', {class: 'version'}, `v${app.version}`),
            app.category ? [' · ', h('span', {class: 'category', 'data-category': app.category}, categoryName(app.category))] : null),
          origin(app) ? h('p', {class: 'muted small origin'}, origin(app)) : null)),
      h('p', {class: 'description'}, app.description || ''),
      requirementList(app),
      count ? h('p', {class: 'small'}, h('a', {href: '#/apps'}, t('catalog.installedCount', {n: count}))) : null,
      h('div', {class: 'buttons'},
        h('a', {class: 'btn', href: `#/catalog/${encodeURIComponent(app.appName)}`}, t('catalog.details')),
        h('button', {type: 'button', class: 'btn primary', 'data-action': 'install', onClick: () => openInstallDialog(app)},
          t('catalog.install')))));
}

/**
 * addBundleDialog adds a bundle to the catalog (admins): from a registry
 * by its OCI reference, or an archive file uploaded; force replaces an
 * entry of the same name and version with another digest. onAdded gets
 * the new catalog entry.
 */
function addBundleDialog(onAdded) {
  let dialog;
  const error = errorSlot('add-bundle-error');
  const ref = h('input', {id: 'add-bundle-ref', type: 'text', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'registry.example.com/bundles/app:v1.0.0'});
  const file = h('input', {id: 'add-bundle-file', type: 'file', accept: '.tgz,.tar.gz,application/gzip'});
  const force = h('input', {id: 'add-bundle-force', type: 'checkbox'});
  const pullBtn = h('button', {type: 'button', class: 'btn primary', id: 'add-bundle-pull'}, t('addBundle.pull'));
  const uploadBtn = h('button', {type: 'button', class: 'btn primary', id: 'add-bundle-upload'}, t('addBundle.upload'));
  const done = (app) => {
    notify(t('addBundle.added', {app: app.appName, version: app.version}), 'success');
    dialog.close();
    onAdded(app);
  };
  pullBtn.addEventListener('click', async () => {
    clearError(error);
    if (!ref.value.trim()) {
      showError(error, new Error(t('addBundle.refMissing')));
      ref.focus();
      return;
    }
    try {
      done(await busy(pullBtn, () => api.pull(ref.value.trim(), force.checked)));
    } catch (err) {
      showError(error, err);
    }
  });
  uploadBtn.addEventListener('click', async () => {
    clearError(error);
    if (!file.files.length) {
      showError(error, new Error(t('addBundle.fileMissing')));
      file.focus();
      return;
    }
    try {
      done(await busy(uploadBtn, () => api.upload(file.files[0], force.checked)));
    } catch (err) {
      showError(error, err);
    }
  });
  const content = h('div', {class: 'stack'},
    h('p', {class: 'warning'}, t('addBundle.trust')),
    h('section', {class: 'stack'},
      h('h3', {}, t('addBundle.fromRegistry')),
      h('div', {class: 'field'}, h('label', {for: 'add-bundle-ref'}, t('addBundle.reference')), ref),
      h('div', {class: 'buttons'}, pullBtn)),
    h('section', {class: 'stack'},
      h('h3', {}, t('addBundle.fromArchive')),
      h('div', {class: 'field'}, h('label', {for: 'add-bundle-file'}, t('addBundle.file')), file,
        h('p', {class: 'help'}, t('addBundle.fileHelp'))),
      h('div', {class: 'buttons'}, uploadBtn)),
    h('div', {class: 'check'}, force, h('label', {for: 'add-bundle-force'}, t('addBundle.force'))),
    error);
  dialog = openDialog({id: 'add-bundle-dialog', title: t('addBundle.title'), content});
  ref.focus();
}

function renderList(root, me) {
  let live = true;
  let apps = [];
  let installed = [];
  const search = h('input', {id: 'catalog-search', type: 'search', placeholder: t('catalog.searchPlaceholder'), autocomplete: 'off'});
  const category = h('select', {id: 'catalog-category'}, h('option', {value: ''}, t('catalog.allCategories')));
  const count = h('p', {class: 'muted', id: 'catalog-count', role: 'status'});
  const list = h('ul', {class: 'cards', id: 'catalog-list'});
  const error = errorSlot('catalog-error');

  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const cat = category.value;
    const shown = apps.filter((a) => (!cat || a.category === cat) &&
      (!q || [a.appName, a.title, a.description, a.category, a.category && categoryName(a.category)].some((v) => (v || '').toLowerCase().includes(q))));
    replace(list, shown.map((a) => card(a, installed)));
    count.textContent = t('catalog.count', {n: shown.length, total: apps.length});
  };
  search.addEventListener('input', draw);
  category.addEventListener('change', draw);

  const load = () => Promise.all([api.catalog(), api.apps().catch(() => [])]).then(([raw, inst]) => {
    const cat = raw.map(localized);
    if (!live) return;
    apps = cat.slice().sort((a, b) => (a.title || a.appName).localeCompare(b.title || b.appName));
    installed = inst;
    const known = new Set([...category.options].map((o) => o.value));
    const cats = [...new Set(apps.map((a) => a.category).filter(Boolean))].sort();
    for (const c of cats) if (!known.has(c)) category.append(h('option', {value: c}, categoryName(c)));
    draw();
  }, (err) => live && showError(error, err));
  const admin = me && me.role === 'admin';
  replace(root,
    h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, t('nav.catalog')),
      admin ? h('button', {type: 'button', class: 'btn', id: 'add-bundle', onClick: () => addBundleDialog(() => load())}, t('addBundle.open')) : null),
    h('div', {class: 'toolbar', role: 'search'},
      h('div', {class: 'field grow'}, h('label', {for: 'catalog-search'}, t('catalog.search')), search),
      h('div', {class: 'field'}, h('label', {for: 'catalog-category'}, t('catalog.category')), category)),
    error, count, list);

  load();
  return () => { live = false; };
}

function detailRow(label, value) {
  if (value === null || value === undefined || value === '' || (Array.isArray(value) && !value.length)) return null;
  return [h('dt', {}, label), h('dd', {}, value)];
}

function externalLink(href) {
  if (!href || !/^https?:\/\//i.test(href)) return null;
  return h('a', {href, target: '_blank', rel: 'noopener noreferrer'}, href);
}

function renderDetail(root, name) {
  let live = true;
  const error = errorSlot('detail-error');
  const back = h('p', {}, h('a', {href: '#/catalog'}, `← ${t('nav.catalog')}`));
  replace(root, back, h('h1', {tabindex: '-1'}, name), error);
  Promise.all([api.catalogApp(name), api.apps().catch(() => [])]).then(([raw, inst]) => {
    const app = localized(raw);
    if (!live) return;
    const req = app.requirements || {};
    const reqText = [['cpu', t('req.cpu')], ['memory', t('req.memory')], ['disk', t('req.disk')]]
      .filter(([k]) => req[k]).map(([k, label]) => `${label} ${req[k]}`).join(', ');
    const ports = (app.ports || []).map((p) => `${p.name} (${p.min}–${p.max})`).join(', ');
    const lg = app.login || {};
    const login = lg.user || lg.path || lg.password
      ? [lg.path ? h('code', {}, lg.path) : null,
        lg.user ? ` ${t('detail.user')} ${lg.user}` : null,
        lg.password ? ` ${t('detail.password')} ${lg.password}` : null]
      : null;
    const mine = inst.filter((i) => i.app === app.appName);
    const {form} = installForm(app, () => {});
    replace(root, back,
      h('div', {class: 'detail-head'},
        appIcon(app, 'lg'),
        h('div', {},
          h('h1', {tabindex: '-1'}, app.title || app.appName),
          h('p', {class: 'muted'}, `v${app.version}`, app.category ? ` · ${categoryName(app.category)}` : ''))),
      h('p', {class: 'description'}, app.description || ''),
      h('dl', {class: 'facts', id: 'catalog-detail'},
        detailRow(t('detail.name'), h('code', {}, app.appName)),
        detailRow(t('detail.version'), app.version),
        detailRow(t('catalog.requirements'), reqText),
        detailRow(t('detail.ports'), ports),
        detailRow(t('detail.actions'), (app.actions || []).join(', ')),
        detailRow(t('detail.origin'), origin(app)),
        detailRow(t('detail.images'), (app.images || []).map((i) => h('code', {class: 'block'}, i))),
        detailRow(t('detail.homepage'), externalLink(app.homepage)),
        detailRow(t('detail.documentation'), externalLink(app.documentation)),
        detailRow(t('detail.login'), login),
        detailRow(t('detail.generated'), (app.generated || []).map((g) => h('code', {class: 'block'}, g))),
        detailRow(t('detail.installed'), mine.map((i) => h('a', {class: 'tag', href: '#/apps'}, i.appName)))),
      h('section', {class: 'panel', 'aria-labelledby': 'install-heading'},
        h('h2', {id: 'install-heading'}, t('install.title', {app: app.title || app.appName})),
        form));
    root.querySelector('h1').focus();
  }, (err) => live && showError(error, err));
  return () => { live = false; };
}

/** renderCatalog draws #/catalog, or #/catalog/<name> for one app. */
export function renderCatalog(root, params, me) {
  return params[0] ? renderDetail(root, params[0]) : renderList(root, me);
}
