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
  container.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null));
}

export const loading = (what) => h('p', { className: 'muted' }, `Loading ${what}…`);

export function errorBox(err, what) {
  const message = err && err.message ? err.message : String(err);
  return h('p', { className: 'error', role: 'alert' }, what ? `${what}: ${message}` : message);
}

function scalar(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

const isRecord = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Renders whatever JSON the backend answered: lists of records as tables, records as key/value lists. */
export function renderValue(value, depth = 0) {
  if (Array.isArray(value)) {
    if (value.length === 0) return h('p', { className: 'muted' }, 'Nothing to show.');
    if (value.every(isRecord)) {
      const columns = [...new Set(value.flatMap((row) => Object.keys(row)))];
      return h(
        'table',
        null,
        h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, value.map((row) => h('tr', null, columns.map((c) => h('td', null, scalar(row[c])))))),
      );
    }
    return h('ul', null, value.map((item) => h('li', null, renderValue(item, depth + 1))));
  }
  if (isRecord(value)) {
    if (depth > 3) return h('code', null, JSON.stringify(value));
    return h(
      'dl',
      null,
      Object.entries(value).flatMap(([key, item]) => [
        h('dt', null, key),
        h('dd', null, isRecord(item) || Array.isArray(item) ? renderValue(item, depth + 1) : scalar(item)),
      ]),
    );
  }
  return h('span', null, scalar(value));
}

/** Runs `load` and shows its result (or a plain error message) in `container`. */
export async function fill(container, what, load, render = renderValue) {
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
