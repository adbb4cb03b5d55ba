// Links to an installed app's web ports.

import {h} from '../dom.js';
import {t} from '../i18n.js';

/** isWebPort tells whether a port parameter serves the app's web UI (db_* do not). */
export function isWebPort(param) {
  return !/^db_|(^|_)db_port$/.test(param);
}

/**
 * appURL is where port of the app answers, on the host the console was
 * loaded from, at path (the app's login path, if any).
 */
export function appURL(port, path) {
  let p = path || '/';
  if (!p.startsWith('/')) p = `/${p}`;
  return `http://${location.hostname}:${port}${p}`; // an IPv6 hostname keeps its brackets
}

/** appLinks returns a link for each web port of app (a wire.App). */
export function appLinks(app) {
  const out = [];
  const ports = Object.entries(app.ports || {}).sort(([a], [b]) => (a === 'port' ? -1 : b === 'port' ? 1 : a.localeCompare(b)));
  for (const [param, port] of ports) {
    if (!isWebPort(param)) continue;
    out.push(h('a', {class: 'port-link', href: appURL(port, param === 'port' ? app.loginPath : ''), target: '_blank',
      rel: 'noopener noreferrer', 'data-param': param, title: t('apps.openPort', {port})}, `:${port}`));
  }
  return out;
}
