// StackHub's web console: the header, the session, and a router on the
// URL's fragment (#/catalog, #/apps, #/server, #/settings) that draws one
// screen at a time into <main>. Everything it shows comes from the public
// API (see api.js).

import {h, replace} from './dom.js';
import {t, lang, setLang, LANGUAGES, onLangChange} from './i18n.js';
import {api, setSession, onAuthLost} from './api.js';
import {errorSlot, showError, messageOf} from './ui.js';
import {renderSetup, renderLogin, renderJoin, renderEnroll} from './views/login.js';
import {renderCatalog} from './views/catalog.js';
import {renderApps} from './views/apps.js';
import {renderAppPage} from './views/apppage.js';
import {renderServer} from './views/server.js';
import {renderSettings} from './views/settings.js';

const main = document.getElementById('main');
const header = document.getElementById('top');

const routes = {
  catalog: (root, params) => renderCatalog(root, params, me),
  apps: (root, params) => (params[0] ? renderAppPage(root, params[0]) : renderApps(root)),
  server: (root) => renderServer(root, me),
  settings: (root) => renderSettings(root, {me, onPasswordChanged: () => endSession(t('password.changed'))}),
};
const NAV = ['catalog', 'apps', 'server', 'settings'];

let me = null; // the logged-in user (wire: user, csrf, role, mustEnroll), or null
let authNotice = '';
let cleanup = () => {};

/** parseRoute reads #/<screen>[/<param>…]; null for anything else. */
function parseRoute() {
  const m = /^#\/([a-z]+)(?:\/(.*))?$/.exec(location.hash);
  if (!m || !routes[m[1]]) return null;
  return {name: m[1], params: m[2] ? m[2].split('/').filter(Boolean).map(decodeURIComponent) : []};
}

function drawHeader(current) {
  const langId = 'lang-select';
  const langSelect = h('select', {id: langId, class: 'lang'},
    LANGUAGES.map(([code, name]) => h('option', {value: code, selected: code === lang(), lang: code}, name)));
  langSelect.addEventListener('change', () => setLang(langSelect.value));
  replace(header,
    h('button', {type: 'button', class: 'skip', onClick: () => main.focus()}, t('nav.skip')),
    h('a', {class: 'brand', href: '#/catalog'}, h('img', {src: 'favicon.svg', alt: '', width: 24, height: 24}), 'StackHub'),
    me ? h('nav', {'aria-label': t('nav.label')},
      h('ul', {}, NAV.map((name) => h('li', {},
        h('a', {href: `#/${name}`, id: `nav-${name}`, 'aria-current': current === name ? 'page' : null}, t(`nav.${name}`)))))) : h('span', {class: 'grow'}),
    h('div', {class: 'tools'},
      h('label', {for: langId, class: 'sr-only'}, t('nav.language')),
      langSelect,
      me ? h('span', {class: 'user', id: 'current-user', title: t('nav.loggedInAs', {user: me.user})}, me.user) : null,
      me ? h('button', {type: 'button', class: 'btn small', id: 'logout', onClick: logout}, t('nav.logout')) : null));
}

function closeDialogs() {
  for (const d of document.querySelectorAll('dialog')) d.dispatchEvent(new Event('cancel', {cancelable: true}));
}

async function showAuth() {
  drawHeader(null);
  document.title = 'StackHub';
  try {
    const {needed} = await api.setupNeeded();
    if (me) return; // logged in meanwhile
    if (needed) renderSetup(main, loggedIn);
    else renderLogin(main, loggedIn, authNotice, () => renderJoin(main, loggedIn, () => showAuth()));
  } catch (err) {
    const error = errorSlot('boot-error');
    replace(main, h('section', {class: 'auth-panel'},
      h('h1', {tabindex: '-1'}, 'StackHub'), error,
      h('button', {type: 'button', class: 'btn', onClick: () => route()}, t('action.retry'))));
    showError(error, err);
  }
}

function route() {
  cleanup();
  cleanup = () => {};
  closeDialogs();
  if (!me) {
    showAuth();
    return;
  }
  if (me.mustEnroll) {
    drawHeader(null);
    renderEnroll(main, async () => {
      try {
        loggedIn(await api.me());
      } catch (err) {
        alertInMain(err);
      }
    });
    return;
  }
  const r = parseRoute();
  if (!r) {
    location.replace('#/catalog'); // hashchange draws it
    return;
  }
  drawHeader(r.name);
  document.title = `${t(`nav.${r.name}`)} · StackHub`;
  const stop = routes[r.name](main, r.params);
  cleanup = typeof stop === 'function' ? stop : () => {};
  const heading = main.querySelector('h1');
  if (heading) heading.focus({preventScroll: true});
}

function loggedIn(who) {
  me = who;
  setSession(who);
  authNotice = '';
  if (parseRoute()) route();
  else location.replace('#/catalog');
}

function endSession(notice) {
  me = null;
  setSession(null);
  authNotice = notice || '';
  route();
}

async function logout() {
  try {
    await api.logout();
    endSession(t('login.loggedOut'));
  } catch (err) {
    if (err.status === 401) endSession(t('login.loggedOut'));
    else alertInMain(err);
  }
}

function alertInMain(err) {
  const slot = errorSlot();
  main.prepend(slot);
  showError(slot, err);
}

async function boot() {
  window.addEventListener('hashchange', route);
  onLangChange(() => route());
  onAuthLost(() => {
    if (me) endSession(t('login.expired'));
  });
  try {
    me = await api.me();
    setSession(me);
  } catch (err) {
    me = null;
    if (err.status !== 401) authNotice = messageOf(err);
  }
  route();
}

boot();
