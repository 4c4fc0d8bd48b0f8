// @ts-check
/**
 * The Usage view: the caller's own requests and tokens per UTC day, per
 * alias, from GET /v1/usage, drawn as two stacked bar charts in plain SVG
 * (no library, nothing loaded from elsewhere).
 */
import { call } from './api.js';
import { showError } from './ui.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 560;
const HEIGHT = 160;
const AXIS = 28;
/** One color per alias, in the order aliases first appear; enough to tell a handful apart. */
const COLORS = ['#2f6fdf', '#e07b24', '#2a9d5b', '#b23a9c', '#8a6d00', '#1c9aa8', '#c8324b', '#6a5acd'];

/**
 * @typedef {{ requests: number, input_tokens: number, output_tokens: number }} Counters
 * @typedef {{ date: string, by_alias: Record<string, Counters> }} Day
 * @typedef {{ client: string, totals: Counters & { errors: number }, by_day: Day[] }} Usage
 */

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T, prototype: T }} type
 * @returns {T}
 */
function byId(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`The page has no ${type.name} #${id}.`);
  return node;
}

const form = byId('usage-form', HTMLFormElement);
const days = byId('usage-days', HTMLSelectElement);
const summary = byId('usage-summary', HTMLParagraphElement);
const charts = byId('usage-charts', HTMLDivElement);

/** @param {() => { base: string, headers: Record<string, string> }} connection */
export function initUsage(connection) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    showUsage(connection()).catch((err) => {
      charts.replaceChildren();
      summary.textContent = '';
      showError(err);
    });
  });
}

/** @param {{ base: string, headers: Record<string, string> }} current */
async function showUsage(current) {
  summary.textContent = 'Loading usage…';
  /** @type {Usage} */
  const usage = await (await call(current.base, `/v1/usage?days=${days.value}`, { headers: current.headers })).json();
  const { totals } = usage;
  summary.textContent = `${usage.client}: ${totals.requests} requests (${totals.errors} errors), ${totals.input_tokens + totals.output_tokens} tokens over ${usage.by_day.length} days.`;
  const aliases = [...new Set(usage.by_day.flatMap((day) => Object.keys(day.by_alias)))];
  charts.replaceChildren(
    chart('Requests per day', usage.by_day, aliases, (c) => c.requests),
    chart('Tokens per day', usage.by_day, aliases, (c) => c.input_tokens + c.output_tokens),
    legend(aliases),
  );
}

/**
 * Stacked bars: one per day, one segment per alias.
 * @param {string} title
 * @param {Day[]} byDay
 * @param {string[]} aliases
 * @param {(counters: Counters) => number} value
 */
function chart(title, byDay, aliases, value) {
  const figure = document.createElement('figure');
  const caption = document.createElement('figcaption');
  caption.textContent = title;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT + AXIS}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', title);
  const totals = byDay.map((day) => aliases.reduce((sum, alias) => sum + value(day.by_alias[alias] ?? zero()), 0));
  const max = Math.max(1, ...totals);
  const slot = WIDTH / Math.max(1, byDay.length);
  byDay.forEach((day, i) => {
    let top = HEIGHT;
    aliases.forEach((alias, a) => {
      const amount = value(day.by_alias[alias] ?? zero());
      if (amount === 0) return;
      const height = (amount / max) * (HEIGHT - 12);
      top -= height;
      const bar = svgNode('rect', { x: i * slot + slot * 0.15, y: top, width: slot * 0.7, height, fill: COLORS[a % COLORS.length] ?? '#888' });
      bar.setAttribute('data-alias', alias);
      bar.setAttribute('data-date', day.date);
      bar.setAttribute('data-value', String(amount));
      const tip = svgNode('title', {});
      tip.textContent = `${day.date} · ${alias}: ${amount}`;
      bar.append(tip);
      svg.append(bar);
    });
    // Label the first, the last and every seventh day, so the axis stays readable for a month.
    if (i === 0 || i === byDay.length - 1 || (byDay.length - 1 - i) % 7 === 0) {
      const label = svgNode('text', { x: i * slot + slot / 2, y: HEIGHT + 18, 'text-anchor': 'middle', 'font-size': 11, fill: 'currentColor' });
      label.textContent = day.date.slice(5);
      svg.append(label);
    }
  });
  const peak = svgNode('text', { x: 2, y: 10, 'font-size': 11, fill: 'currentColor' });
  peak.textContent = `max ${max}`;
  svg.append(svgNode('line', { x1: 0, y1: HEIGHT, x2: WIDTH, y2: HEIGHT, stroke: 'currentColor' }), peak);
  figure.append(caption, svg);
  return figure;
}

/** @param {string[]} aliases */
function legend(aliases) {
  const list = document.createElement('ul');
  list.className = 'legend';
  list.setAttribute('aria-label', 'Aliases');
  aliases.forEach((alias, a) => {
    const item = document.createElement('li');
    const swatch = document.createElementNS(SVG, 'svg');
    swatch.setAttribute('viewBox', '0 0 10 10');
    swatch.setAttribute('width', '10');
    swatch.setAttribute('height', '10');
    swatch.append(svgNode('rect', { width: 10, height: 10, fill: COLORS[a % COLORS.length] ?? '#888' }));
    item.append(swatch, ` ${alias === '-' ? '(no alias)' : alias}`);
    list.append(item);
  });
  return list;
}

/**
 * @param {string} name
 * @param {Record<string, string | number>} attributes
 */
function svgNode(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** @returns {Counters} */
function zero() {
  return { requests: 0, input_tokens: 0, output_tokens: 0 };
}
