// Charts drawn as inline SVG by our own code: a ring gauge for a
// percentage and a line chart of percentages over time.

import {h, s} from './dom.js';
import {formatTime} from './i18n.js';

/** level names how worrying a percentage is, for the colours. */
export function level(percent) {
  if (percent >= 90) return 'crit';
  if (percent >= 75) return 'warn';
  return 'ok';
}

function clamp(v) {
  if (!Number.isFinite(v)) return 0;
  return Math.min(100, Math.max(0, v));
}

/**
 * gauge returns a figure with a ring filled to percent, the value in its
 * middle, a caption and an optional detail line.
 */
export function gauge(percent, {label, detail, id}) {
  const p = clamp(percent);
  const r = 52;
  const circ = 2 * Math.PI * r;
  const svg = s('svg', {viewBox: '0 0 120 120', class: ['gauge', `level-${level(p)}`], role: 'img',
    'aria-label': `${label}: ${p.toFixed(1)}%`},
  s('circle', {class: 'gauge-track', cx: 60, cy: 60, r}),
  s('circle', {class: 'gauge-value', cx: 60, cy: 60, r, transform: 'rotate(-90 60 60)',
    'stroke-dasharray': `${((circ * p) / 100).toFixed(2)} ${circ.toFixed(2)}`}),
  s('text', {class: 'gauge-text', x: 60, y: 60, 'text-anchor': 'middle', 'dominant-baseline': 'central'},
    `${p.toFixed(1)}%`));
  return h('figure', {class: 'gauge-box', id},
    svg,
    h('figcaption', {}, h('strong', {}, label), detail ? h('span', {class: 'muted'}, detail) : null));
}

const W = 400;
const H = 170;
const PAD = {left: 40, right: 12, top: 10, bottom: 24};
const GAP_MS = 60 * 1000; // samples come every 10 s: a longer gap is a gap

/**
 * lineChart returns a figure with a line chart of samples[key] (percent,
 * 0–100) over the hour before the newest sample. samples are objects with
 * an ISO time and the key, oldest first.
 */
export function lineChart(samples, {key, label, id}) {
  const points = samples
    .map((smp) => ({t: new Date(smp.time).getTime(), v: clamp(smp[key])}))
    .filter((p) => Number.isFinite(p.t));
  const to = points.length ? Math.max(points[points.length - 1].t, Date.now()) : Date.now();
  const from = to - 3600 * 1000;
  const shown = points.filter((p) => p.t >= from);
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((t - from) / (to - from)) * iw;
  const y = (v) => PAD.top + (1 - v / 100) * ih;

  const grid = [];
  for (const v of [0, 25, 50, 75, 100]) {
    grid.push(s('line', {class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v)}));
    grid.push(s('text', {class: 'axis', x: PAD.left - 6, y: y(v), 'text-anchor': 'end', 'dominant-baseline': 'central'}, `${v}%`));
  }
  for (const [i, t] of [from, from + 1800 * 1000, to].entries()) {
    const anchor = ['start', 'middle', 'end'][i];
    grid.push(s('text', {class: 'axis', x: x(t), y: H - 6, 'text-anchor': anchor}, formatTime(t, false)));
  }

  // Runs of samples without a gap: each is one stretch of line, and of
  // area beneath it when it has two points or more.
  const runs = [];
  for (const p of shown) {
    const run = runs[runs.length - 1];
    if (run && p.t - run[run.length - 1].t <= GAP_MS) run.push(p);
    else runs.push([p]);
  }
  const xy = (p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
  const base = y(0).toFixed(1);
  const line = runs.map((run) => `M${run.map(xy).join(' L')}`).join(' ');
  const area = runs.filter((run) => run.length > 1)
    .map((run) => `M${run.map(xy).join(' L')} L${x(run[run.length - 1].t).toFixed(1)},${base} L${x(run[0].t).toFixed(1)},${base} Z`)
    .join(' ');

  const last = shown[shown.length - 1];
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
    'aria-label': last ? `${label}: ${last.v.toFixed(1)}%` : label},
  grid,
  area ? s('path', {class: 'chart-area', d: area}) : null,
  line ? s('path', {class: 'chart-line', d: line}) : null,
  last ? s('circle', {class: 'chart-last', cx: x(last.t), cy: y(last.v), r: 3.5}) : null);
  return h('figure', {class: 'chart-box', id},
    h('figcaption', {}, h('strong', {}, label), last ? h('span', {class: 'muted'}, ` ${last.v.toFixed(1)}%`) : null),
    svg);
}
