// One Custom UI entry point for the four MuleSight macros: it reads the macro's cached dataset
// (cache-first) from the backend, shows it for its kind and mode, and posts the render's true
// outcome (ok, stale, error with the reason, timeout) as telemetry, which diagnostics reports.
import { view } from '@forge/bridge';
import { h, show, statusRegion } from './lib/dom.js';
import { formatTime, outcomeWords, setTimeZone } from './lib/format.js';
import { diagnosticsUrl, navLink } from './lib/links.js';
import { macroView, shownItems } from './lib/macro-views.js';
import { macroFor } from './lib/macros.js';
import { paths, withQuery } from './lib/paths.js';
import { callRemote } from './lib/remote.js';

const root = document.getElementById('root');

function reportRender(event) {
  // Telemetry is best effort: a failure here must never change what the reader sees.
  return callRemote('POST', paths.renders, { events: [event] }).catch(() => undefined);
}

const where = (e) => e.environment_name || 'the organization';

const failureWords = (e) => outcomeWords(e.outcome, e.last_error);

/**
 * Why `data` cannot show what the macro asks for, as one sentence and a render status; null when
 * it can. `subject` names what the macro shows ("API instance 123").
 */
function problemOf(data, items, { subject, config }) {
  const name = data.name || data.dataset;
  if (data.enabled === false) {
    return { status: 'error', reason: `The ${name} data is turned off for this space in the MuleSight space settings.` };
  }
  const failed = (data.environments || []).filter((e) => e.last_error);
  const places = [...new Set(failed.map(where))].join(', ');
  const failure = failed.length
    ? `${failureWords(failed[0])} at the last refresh (${formatTime(failed[0].last_attempt_at)})`
    : null;
  if (items.length > 0) return null;
  const listedNothing = (data.environments || []).length > 0 && data.environments.every((e) => !e.item_count);
  if (data.dataset === 'exchange' && data.coverage === 'full' && listedNothing) {
    return {
      status: 'error',
      reason: 'Anypoint listed no Exchange assets for this organization, which is how it answers when the connected app lacks the read:exchange scope.',
    };
  }
  if (data.coverage === 'none' && failure) {
    return { status: 'error', reason: `MuleSight has no ${name} data for ${places}: ${failure}.` };
  }
  if (data.freshness === 'never' && !failure) {
    return { status: 'error', reason: `MuleSight has not fetched the ${name} data from Anypoint yet; choose Refresh.` };
  }
  if (config.target) {
    const env = config.environment ? ` in ${config.environment}` : '';
    const maybe = failure ? ` — it may be in ${places}, where ${failure}` : '';
    return { status: 'error', reason: `${subject} is not in the ${name} data${env}${maybe}.` };
  }
  if (data.coverage === 'none') {
    return { status: 'error', reason: `MuleSight has no ${name} data to show for this environment.` };
  }
  return null;
}

/** What a partial dataset leaves out, and why (shown above the data; the render is still ok). */
function partialNote(data) {
  const failed = (data.environments || []).filter((e) => e.last_error && !e.fetched_at);
  if (data.coverage !== 'partial' || failed.length === 0) return null;
  const places = [...new Set(failed.map(where))].join(', ');
  return `Some data is missing for ${places}: ${failureWords(failed[0])} at the last refresh (${formatTime(failed[0].last_attempt_at)}).`;
}

function staleNote(data) {
  if (!data.stale) return null;
  const failed = (data.environments || []).filter((e) => e.last_error);
  const why = data.stale_fallback && failed.length
    ? `the last refresh failed: ${failureWords(failed[0])}`
    : `it is older than ${data.freshness === 'expired' ? 'twice ' : ''}the ${data.sync_interval_hours}-hour sync interval`;
  return `This data was fetched ${formatTime(data.last_successful_fetch)}; ${why}.`;
}

async function main() {
  const context = await view.getContext();
  setTimeZone(context.timezone);
  const moduleKey = context.moduleKey;
  const macro = macroFor(moduleKey);
  const extension = context.extension || {};
  const config = extension.config || {};
  const mode = macro.modes.includes(config.mode) ? config.mode : macro.modes[0];
  const dataset = macro.dataset(mode);
  const spaceKey = (extension.space && extension.space.key) || extension.spaceKey;
  const pageId = extension.content && extension.content.id;
  const subject = config.target ? `${macro.targetName} ${config.target}` : macro.title;
  const event = {
    macro: moduleKey,
    page_id: pageId == null ? null : String(pageId),
    space_key: spaceKey || null,
    mode,
  };
  const diagnosticsLink = () => navLink(diagnosticsUrl(context, spaceKey), 'Open the space’s MuleSight diagnostics');
  const problemBox = (reason) =>
    h('div', { className: 'problem', role: 'alert' }, h('p', null, reason), h('p', null, diagnosticsLink()));

  if (macro.target && !config.target) {
    show(root, h('p', null, `${macro.title}: edit this macro to choose which ${macro.targetName.toLowerCase()} it shows.`));
    document.body.dataset.renderStatus = 'error';
    await reportRender({ ...event, status: 'error', at: new Date().toISOString(), error: 'The macro is not configured.' });
    return;
  }

  const params = { space_key: spaceKey, environment: config.environment, target: config.target, mode };
  const body = h('div', null, h('p', { className: 'muted' }, 'Loading…'));
  const status = statusRegion({ className: 'macro-status' });
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const heading = h('h1', { className: 'macro-title' }, h('strong', null, macro.title), config.environment ? ` · ${config.environment}` : '');
  show(root, heading, body, h('div', { className: 'toolbar' }, refresh, status));

  const read = async () => {
    const data = await callRemote('GET', withQuery(paths.dataset(dataset), params));
    let all = null;
    if (moduleKey === 'runtime-manager-app' && (data.items || []).some((i) => i._kind === 'deployment')) {
      const whole = await callRemote('GET', withQuery(paths.dataset(dataset), { ...params, target: undefined }));
      all = whole.items;
    }
    return { data, all };
  };

  const load = async () => {
    let outcome;
    try {
      let { data, all } = await read();
      let items = shownItems(moduleKey, data);
      if (dataset === 'endpoints' && items.length === 0 && data.freshness === 'never' && data.enabled !== false) {
        // The endpoints cache is seeded by the macro: fetch this asset's spec once, then read again.
        await callRemote('POST', paths.refresh, { dataset, ...params });
        ({ data, all } = await read());
        items = shownItems(moduleKey, data);
      }
      const problem = problemOf(data, items, { subject, config });
      if (problem) {
        show(body, problemBox(problem.reason));
        outcome = { status: problem.status, error: problem.reason };
      } else if (items.length === 0) {
        show(body, h('p', { className: 'muted' }, `${data.name} has nothing to show here.`));
        outcome = { status: 'ok', error: null };
      } else {
        const note = staleNote(data);
        const partial = partialNote(data);
        show(
          body,
          note && h('p', { className: 'notice' }, note),
          partial && h('p', { className: 'notice' }, partial, ' ', diagnosticsLink()),
          macroView(moduleKey, mode, { ...data, items }, all),
          h('p', { className: 'muted small' }, `From Anypoint, ${formatTime(data.last_successful_fetch)}.`),
        );
        outcome = { status: note ? 'stale' : 'ok', error: note };
      }
    } catch (err) {
      const timedOut = err.timeout || err.status === 504;
      const reason = timedOut
        ? 'MuleSight did not answer in time (Forge allows 25 seconds); try Refresh in a minute.'
        : `MuleSight could not load this macro: ${err.message}`;
      show(body, problemBox(reason));
      outcome = { status: timedOut ? 'timeout' : 'error', error: reason };
    }
    document.body.dataset.renderStatus = outcome.status;
    await reportRender({ ...event, ...outcome, at: new Date().toISOString() });
    return outcome;
  };

  await load();

  refresh.addEventListener('click', async () => {
    refresh.disabled = true;
    show(status, 'Refreshing from Anypoint…');
    try {
      await callRemote('POST', paths.refresh, { dataset, ...params });
      show(status, 'Refreshed.');
    } catch (err) {
      show(status, `The refresh failed: ${err.message}`);
    } finally {
      await load();
      refresh.disabled = false;
    }
  });
}

main().catch((err) => {
  show(root, h('p', { className: 'error', role: 'alert' }, `MuleSight could not start: ${err.message || err}`));
});
