import './style.css';

/** Creates an element; strings become text nodes (never HTML), so backend data cannot inject markup. */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'className') {
      node.className = value;
    } else if (key === 'value' || key === 'checked') {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function show(container, ...children) {
  container.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
}

/** A small polite live region for one status line (never the whole page). */
export const statusRegion = (attrs = {}) => h('div', { role: 'status', 'aria-live': 'polite', ...attrs });

export const loading = (what) => h('p', { className: 'muted' }, `Loading ${what}…`);

export function errorBox(err, what) {
  const message = err && err.message ? err.message : String(err);
  return h('p', { className: 'error', role: 'alert' }, what ? `${what}: ${message}` : message);
}

/** A table with column headers; `rows` are arrays of cells (strings or nodes). */
export function table(headers, rows, attrs = {}) {
  return h(
    'table',
    attrs,
    h('thead', null, h('tr', null, headers.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, rows.map((row) => h('tr', null, row.map((cell) => h('td', null, cell ?? '—'))))),
  );
}

/** A label / value list; entries with an empty value are left out. */
export function facts(entries) {
  const kept = entries.filter(([, value]) => value !== undefined && value !== null && value !== '');
  return h(
    'dl',
    { className: 'facts' },
    kept.flatMap(([label, value]) => [h('dt', null, label), h('dd', null, value)]),
  );
}

const TONES = { ok: 'ok', good: 'ok', warn: 'warn', bad: 'bad', neutral: 'neutral' };

/** A short coloured word; the word itself carries the meaning (not the colour). */
export function badge(text, tone = 'neutral') {
  return h('span', { className: `badge badge-${TONES[tone] || 'neutral'}` }, text);
}

/** Runs `load` and shows `render(result)` (or a plain error message) in `container`. */
export async function fill(container, what, load, render) {
  show(container, loading(what));
  try {
    const value = await load();
    show(container, render(value));
    return value;
  } catch (err) {
    show(container, errorBox(err, `Could not load ${what}`));
    return undefined;
  }
}
