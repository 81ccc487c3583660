// Confluence administration: the MuleSight self-check. It runs diagnostics for every configured
// space of the site (or the one the admin names) and lists the self-check's own earlier runs.
import { view } from '@forge/bridge';
import { errorBox, fill, h, show, statusRegion, table } from './lib/dom.js';
import { formatTime, setTimeZone } from './lib/format.js';
import { paths, withQuery } from './lib/paths.js';
import { callRemote } from './lib/remote.js';
import { renderReport, verdictBadge } from './lib/report.js';
import { reportOf, untilDone } from './lib/runs.js';

const root = document.getElementById('root');

function spaceResult(run) {
  const report = reportOf(run);
  return h(
    'section',
    { className: 'space-result' },
    h('h3', null, `Space ${run.space_key || report.space_key}`),
    renderReport(report, { headingLevel: 4 }),
  );
}

async function main() {
  const context = await view.getContext().catch(() => ({}));
  setTimeZone(context.timezone);
  const progress = statusRegion({ id: 'check-progress' });
  const result = h('div', { id: 'check-result' });
  const runs = h('div', { id: 'self-check-runs' });
  const spaceInput = h('select', { id: 'space' }, h('option', { value: '' }, 'Every configured space'));
  const checkButton = h('button', { type: 'button', className: 'primary' }, 'Run the self-check');

  const showRun = async (id) => {
    await fill(
      result,
      'the run',
      async () => untilDone(await callRemote('GET', paths.run(id))),
      (report) => [h('h2', null, 'Earlier self-check'), spaceResult({ report })],
    );
  };

  const listRuns = () =>
    fill(
      runs,
      'the previous self-checks',
      () => callRemote('GET', withQuery(paths.runs, { scope: 'site', limit: 20 })),
      (items) => {
        if (!items || items.length === 0) return h('p', { className: 'muted' }, 'The self-check has not run yet.');
        return table(
          ['When', 'Space', 'Verdict', 'Report'],
          items.map((run) => [
            formatTime(run.created_at),
            run.space_key || '—',
            verdictBadge(run.verdict),
            h(
              'button',
              { type: 'button', className: 'link', onClick: () => showRun(run.id) },
              'Show',
              h('span', { className: 'visually-hidden' }, ` the ${run.space_key || ''} run of ${formatTime(run.created_at)}`),
            ),
          ]),
        );
      },
    );

  checkButton.addEventListener('click', async () => {
    checkButton.disabled = true;
    const spaceKey = spaceInput.value.trim();
    show(progress, spaceKey ? `Checking space ${spaceKey}…` : 'Checking every configured space…');
    try {
      const started = await callRemote('POST', paths.runs, spaceKey ? { scope: 'site', space_key: spaceKey } : { scope: 'site' });
      const done = await untilDone(started, (state, seconds) =>
        show(progress, `Self-check ${state === 'queued' ? 'queued' : 'running'}… ${seconds} s`),
      );
      const list = Array.isArray(done.runs) ? done.runs : [done];
      if (list.length === 0) {
        show(progress, 'No space has a MuleSight connection yet: connect one in its space settings.');
        show(result);
      } else {
        show(progress, `Self-check finished: ${list.length === 1 ? 'one space' : `${list.length} spaces`} checked.`);
        show(
          result,
          h('h2', null, 'Result'),
          done.verdict && h('p', null, 'Site: ', verdictBadge(done.verdict)),
          list.map((run) => spaceResult(run)),
        );
      }
      await listRuns();
    } catch (err) {
      const field = err.fields && err.fields.space_key;
      show(progress, errorBox(new Error(field ? [].concat(field).join(' ') : err.message), 'The self-check failed'));
    } finally {
      checkButton.disabled = false;
    }
  });

  show(
    root,
    h('h1', null, 'MuleSight self-check'),
    h(
      'p',
      null,
      'Runs diagnostics for the spaces of this site: the MuleSight backend, the Anypoint connection, the cached data and the MuleSight macros on their pages.',
    ),
    h('label', { for: 'space' }, 'Spaces to check'),
    spaceInput,
    h('div', { className: 'toolbar' }, checkButton, progress),
    result,
    h('h2', null, 'Previous self-checks'),
    runs,
  );
  const spaces = await callRemote('GET', paths.spaces).catch(() => []);
  spaceInput.append(...spaces.map((s) => h('option', { value: s.space_key }, `Space ${s.space_key}`)));
  await listRuns();
}

main().catch((err) => show(root, errorBox(err, 'MuleSight could not start')));
