// Languages of the console: English and Simplified Chinese. The choice
// follows the browser (navigator.languages) until the operator picks one
// in the header; that pick is remembered in localStorage.

import en from './messages-en.js';
import zh from './messages-zh.js';

const STORE_KEY = 'stackhub.lang';

/** LANGUAGES are the console's languages: [code, name in itself]. */
export const LANGUAGES = [['en', 'English'], ['zh-CN', '中文']];

const dictionaries = {en, 'zh-CN': zh};
const listeners = new Set();
let current = initial();

function stored() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null; // storage disabled
  }
}

function initial() {
  const saved = stored();
  if (saved && dictionaries[saved]) return saved;
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const tag = l.toLowerCase();
    if (tag.startsWith('zh')) return 'zh-CN';
    if (tag.startsWith('en')) return 'en';
  }
  return 'en';
}

/** lang returns the current language code. */
export function lang() {
  return current;
}

/** setLang switches the language, remembers it and tells the listeners. */
export function setLang(code) {
  if (!dictionaries[code] || code === current) return;
  current = code;
  try {
    localStorage.setItem(STORE_KEY, code);
  } catch {
    // not remembered: storage disabled
  }
  document.documentElement.lang = code;
  for (const fn of listeners) fn(code);
}

/** onLangChange calls fn after every switch; it returns an unsubscribe. */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * t returns the message key in the current language (English when the
 * current dictionary lacks it, the key itself when both do), with {name}
 * placeholders replaced from params.
 */
export function t(key, params) {
  let msg = dictionaries[current][key] ?? en[key] ?? key;
  if (params) {
    msg = msg.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }
  return msg;
}

/** has tells whether key has a message (to translate API words when known). */
export function has(key) {
  return key in en;
}

/** keys returns the message keys that start with prefix, in their order. */
export function keys(prefix) {
  return Object.keys(en).filter((k) => k.startsWith(prefix));
}

/** formatBytes renders a byte count with binary units. */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n <= 0) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n.toFixed(i === 0 || n >= 100 ? 0 : 1)} ${units[i]}`;
}

/** formatTime renders a date (or ISO string) as a local date and time. */
export function formatTime(value, withDate = true) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return '';
  const opts = withDate
    ? {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit'}
    : {hour: '2-digit', minute: '2-digit'};
  return new Intl.DateTimeFormat(current, opts).format(d);
}

/** formatDuration renders seconds as days, hours and minutes. */
export function formatDuration(seconds) {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return t('duration.dh', {d, h});
  if (h > 0) return t('duration.hm', {h, m});
  return t('duration.m', {m});
}

document.documentElement.lang = current;
