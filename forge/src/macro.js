// One Custom UI entry point for the four MuleSight macros: it reads the macro's cached dataset
// (cache-first) from the backend, renders it, and reports the render outcome as telemetry.
import { view } from '@forge/bridge';
import { errorBox, h, renderValue, show } from './lib/dom.js';
import { macroFor } from './lib/macros.js';
import { paths, withQuery } from './lib/paths.js';
import { callRemote } from './lib/remote.js';

const root = document.getElementById('root');

function renderStatus(err) {
  if (!err) return 'ok';
  return err.status === 504 || /timed? ?out/i.test(err.message) ? 'timeout' : 'error';
}

function reportRender(event) {
  // Telemetry is best effort: a failure here must never change what the reader sees.
  callRemote('POST', paths.renders, { events: [event] }).catch(() => undefined);
}

async function main() {
  const context = await view.getContext();
  const moduleKey = context.moduleKey;
  const macro = macroFor(moduleKey);
  const extension = context.extension || {};
  const config = extension.config || {};
  const mode = macro.modes.includes(config.mode) ? config.mode : macro.modes[0];
  const dataset = macro.dataset(mode);
  const spaceKey = extension.space && extension.space.key;
  const pageId = extension.content && extension.content.id;
  const event = {
    macro: moduleKey,
    page_id: pageId == null ? null : String(pageId),
    space_key: spaceKey || null,
    mode,
    status: 'ok',
    at: new Date().toISOString(),
    error: null,
  };

  if (macro.target && !config.target) {
    show(root, h('p', { className: 'muted' }, `${macro.title}: edit this macro to choose what it shows.`));
    reportRender({ ...event, status: 'error', error: 'macro is not configured' });
    return;
  }

  const params = { space_key: spaceKey, environment: config.environment, target: config.target, mode };
  const body = h('div', null, h('p', { className: 'muted' }, 'Loading…'));
  const refresh = h('button', { type: 'button' }, 'Refresh');
  show(root, h('h1', null, macro.title), body, h('div', { className: 'toolbar' }, refresh));

  const load = async () => {
    try {
      const data = await callRemote('GET', withQuery(paths.dataset(dataset), params));
      show(body, renderValue(data));
      return { status: data && data.stale === true ? 'stale' : 'ok', error: null };
    } catch (err) {
      show(body, errorBox(err, 'MuleSight could not show this macro'));
      return { status: renderStatus(err), error: err.message };
    }
  };

  reportRender({ ...event, ...(await load()) });

  refresh.addEventListener('click', async () => {
    refresh.disabled = true;
    try {
      await callRemote('POST', paths.refresh, { dataset, ...params });
      await load();
    } catch (err) {
      show(body, errorBox(err, 'The refresh failed'));
    } finally {
      refresh.disabled = false;
    }
  });
}

main().catch((err) => show(root, errorBox(err, 'MuleSight could not start')));
