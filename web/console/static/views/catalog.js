// The catalog: app cards with search and a category filter, an app's
// detail view, and Install (optional instance name) which opens the
// job's live progress panel. An app whose bundle asks for more than the
// default bundle policy is installed only after the operator grants it
// exactly that, in a dialog listing it in plain words.

import {h, replace, uid} from '../dom.js';
import {t, has, keys} from '../i18n.js';
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

/**
 * openInstallDialog opens the install form of the catalog app summary
 * names: the list holds summaries, so the whole entry (parameters, form)
 * is read first.
 */
async function openInstallDialog(summary, button) {
  let app;
  try {
    app = localized(await busy(button, () => api.catalogApp(summary.appName)));
  } catch (err) {
    notify(err.message, 'error');
    return;
  }
  let dialog;
  const {form, focus} = installForm(app, () => dialog.close());
  dialog = openDialog({id: 'install-dialog', title: t('install.title', {app: app.title || app.appName}), content: form});
  focus();
}

/** categoryKeys are the catalog's category keys, in the catalog's order. */
function categoryKeys() {
  return keys('category.').map((k) => k.slice('category.'.length));
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
        h('button', {type: 'button', class: 'btn primary', 'data-action': 'install', onClick: (ev) => openInstallDialog(app, ev.currentTarget)},
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

// PAGE is how many cards the catalog asks for at a time.
const PAGE = 48;
// SEARCH_DELAY_MS lets a person finish typing before the catalog asks.
const SEARCH_DELAY_MS = 200;

/**
 * renderList draws the catalog a page at a time: the server searches and
 * filters, and "Show more" asks for the next page.
 */
function renderList(root, me) {
  let live = true;
  let apps = [];
  let total = 0;
  let installed = [];
  let asked = 0; // the latest query's number: older answers are dropped
  let timer;
  const search = h('input', {id: 'catalog-search', type: 'search', placeholder: t('catalog.searchPlaceholder'), autocomplete: 'off'});
  const category = h('select', {id: 'catalog-category'}, h('option', {value: ''}, t('catalog.allCategories')),
    categoryKeys().map((k) => h('option', {value: k}, categoryName(k))));
  const count = h('p', {class: 'muted', id: 'catalog-count', role: 'status'});
  const list = h('ul', {class: 'cards', id: 'catalog-list'});
  const error = errorSlot('catalog-error');
  const more = h('button', {type: 'button', class: 'btn', id: 'catalog-more', hidden: true}, t('catalog.more'));

  const draw = (added) => {
    if (added) list.append(...added.map((a) => card(a, installed)));
    else replace(list, apps.map((a) => card(a, installed)));
    count.textContent = t('catalog.count', {n: apps.length, total});
    more.hidden = apps.length >= total;
  };
  // ask reads the page from offset of what the search and category
  // select: the first page replaces the cards, a later one adds to them.
  const ask = async (offset) => {
    const n = ++asked;
    clearError(error);
    try {
      const get = () => api.catalogPage({q: search.value.trim(), category: category.value, offset, limit: PAGE});
      const page = await (offset ? busy(more, get) : get());
      if (!live || n !== asked) return;
      const items = page.items.map(localized);
      total = page.total;
      if (offset) {
        apps = apps.concat(items);
        draw(items);
      } else {
        apps = items;
        draw();
      }
    } catch (err) {
      if (live && n === asked) showError(error, err);
    }
  };
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => ask(0), SEARCH_DELAY_MS);
  });
  category.addEventListener('change', () => ask(0));
  more.addEventListener('click', () => ask(apps.length));

  const load = () => {
    api.apps().then((inst) => {
      installed = inst;
      if (live) draw();
    }, () => {});
    return ask(0);
  };
  const admin = me && me.role === 'admin';
  replace(root,
    h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, t('nav.catalog')),
      admin ? h('button', {type: 'button', class: 'btn', id: 'add-bundle', onClick: () => addBundleDialog(() => load())}, t('addBundle.open')) : null),
    h('div', {class: 'toolbar', role: 'search'},
      h('div', {class: 'field grow'}, h('label', {for: 'catalog-search'}, t('catalog.search')), search),
      h('div', {class: 'field'}, h('label', {for: 'catalog-category'}, t('catalog.category')), category)),
    error, count, list, h('div', {class: 'buttons'}, more));

  load();
  return () => {
    live = false;
    clearTimeout(timer);
  };
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
