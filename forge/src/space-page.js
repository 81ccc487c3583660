// The space's MuleSight dashboard: the latest diagnostics report (root causes first) and what
// changed since the previous run, the runs by time and verdict, the cached ops overview and
// dataset refreshes.
import { view } from '@forge/bridge';
import { errorBox, fill, h, loading, show, statusRegion, table } from './lib/dom.js';
import { formatTime, setTimeZone } from './lib/format.js';
import { macroView } from './lib/macro-views.js';
import { DATASET_NAMES, DATASETS, paths, withQuery } from './lib/paths.js';
import { callRemote } from './lib/remote.js';
import { renderDiff, renderReport, verdictBadge } from './lib/report.js';
import { reportOf, runIdOf, untilDone } from './lib/runs.js';

const root = document.getElementById('root');

const REFRESH_WORDS = { ok: 'Refreshed', partial: 'Partly refreshed', failed: 'Failed', disabled: 'Turned off' };

function refreshSummary(result) {
  // 202: the refresh goes on in the background (the backend says so in plain words).
  if (result && (result.state === 'queued' || result.state === 'running')) return h('p', null, result.message);
  const rows = (result.datasets || []).map((d) => {
    const failed = (d.failed_environments || []).map((f) => f.environment_name || 'the organization');
    const where = failed.length ? ` (not for ${failed.join(', ')})` : '';
    return `${DATASET_NAMES[d.dataset] || d.dataset}: ${REFRESH_WORDS[d.status] || d.status}${where}`;
  });
  return h('ul', null, rows.map((r) => h('li', null, r)));
}

async function main() {
  const context = await view.getContext();
  setTimeZone(context.timezone);
  const extension = context.extension || {};
  const spaceKey = (extension.space && extension.space.key) || extension.spaceKey;
  const query = { space_key: spaceKey };

  const progress = statusRegion({ id: 'run-progress' });
  const current = h('div', { id: 'current-run' });
  const runs = h('div', { id: 'runs' });
  const overview = h('div');
  const refreshStatus = statusRegion({ id: 'refresh-status' });
  const datasetSelect = h(
    'select',
    { id: 'dataset' },
    DATASETS.filter(([key]) => key !== 'diagnostics').map(([key, name]) => h('option', { value: key }, name)),
  );
  const assetInput = h('input', { id: 'asset', type: 'text', placeholder: 'groupId/assetId', 'aria-describedby': 'asset-help' });
  const assetField = h(
    'div',
    { hidden: true },
    h('label', { for: 'asset' }, 'Exchange asset (for Endpoints)'),
    assetInput,
    h('p', { id: 'asset-help', className: 'muted small' }, 'Empty: refresh the assets already cached.'),
  );
  const refreshButton = h('button', { type: 'button' }, 'Refresh');
  const runButton = h('button', { type: 'button', className: 'primary' }, 'Run diagnostics');

  const openRun = async (id, answer) => {
    show(current, loading('the report'));
    try {
      const run =
        answer && (answer.report || answer.schema_version)
          ? answer
          : await untilDone(await callRemote('GET', paths.run(id)), (state) => show(current, `The run is ${state}…`));
      const report = reportOf(run);
      const diff = h('div', null, loading('the comparison with the previous run'));
      show(
        current,
        renderReport(report, { headingLevel: 3 }),
        h('h3', null, 'Since the previous run'),
        diff,
      );
      await fill(diff, 'the comparison', () => callRemote('GET', paths.runDiff(id)), renderDiff);
    } catch (err) {
      show(current, errorBox(err, 'Could not load the run'));
    }
  };

  const listRuns = () =>
    fill(
      runs,
      'the runs',
      () => callRemote('GET', withQuery(paths.runs, { ...query, limit: 10 })),
      (items) => {
        if (!items || items.length === 0) return h('p', { className: 'muted' }, 'No diagnostics run yet.');
        return table(
          ['When', 'Verdict', 'Report'],
          items.map((run) => [
            formatTime(run.created_at),
            verdictBadge(run.verdict),
            h(
              'button',
              { type: 'button', className: 'link', onClick: () => openRun(run.id) },
              `Show`,
              h('span', { className: 'visually-hidden' }, ` the run of ${formatTime(run.created_at)}`),
            ),
          ]),
          { className: 'runs' },
        );
      },
    );

  datasetSelect.addEventListener('change', () => {
    assetField.hidden = datasetSelect.value !== 'endpoints';
  });
  refreshButton.addEventListener('click', async () => {
    refreshButton.disabled = true;
    const body = { space_key: spaceKey, dataset: datasetSelect.value };
    if (body.dataset === 'endpoints' && assetInput.value.trim()) body.target = assetInput.value.trim();
    show(refreshStatus, 'Refreshing from Anypoint…');
    try {
      if (body.dataset === 'endpoints' && !body.target) {
        const cached = await callRemote('GET', withQuery(paths.dataset('endpoints'), query));
        if (!cached.items || cached.items.length === 0) {
          show(refreshStatus, h('p', { className: 'error' }, 'No Exchange asset is cached for Endpoints yet: name one (groupId/assetId).'));
          assetInput.focus();
          return;
        }
      }
      const result = await callRemote('POST', paths.refresh, body);
      show(refreshStatus, refreshSummary(result));
      await fill(overview, 'the overview', () => callRemote('GET', withQuery(paths.dataset('ops_dashboard'), query)), overviewView);
    } catch (err) {
      const field = err.fields && Object.values(err.fields)[0];
      show(refreshStatus, errorBox(new Error(field ? [].concat(field).join(' ') : err.message), 'The refresh failed'));
    } finally {
      refreshButton.disabled = false;
    }
  });
  runButton.addEventListener('click', async () => {
    runButton.disabled = true;
    show(progress, 'Probing Anypoint… (up to 20 s)');
    try {
      const started = await callRemote('POST', paths.runs, { space_key: spaceKey });
      const done = await untilDone(started, (state, seconds) =>
        show(progress, `Diagnostics ${state === 'queued' ? 'queued' : 'running'}… ${seconds} s`),
      );
      show(progress, 'Diagnostics finished.');
      await listRuns();
      await openRun(runIdOf(started) ?? runIdOf(done), done);
    } catch (err) {
      show(progress, errorBox(err, 'The diagnostics run failed'));
    } finally {
      runButton.disabled = false;
    }
  });

  const overviewView = (data) =>
    (data.items || []).length === 0
      ? h('p', { className: 'muted' }, 'Nothing cached yet: refresh the Runtime Manager and API Manager data.')
      : [macroView('environment-summary', 'detailed', data), h('p', { className: 'muted small' }, `From Anypoint, ${formatTime(data.last_successful_fetch)}.`)];

  show(
    root,
    h('h1', null, `MuleSight · space ${spaceKey}`),
    h(
      'section',
      { 'aria-labelledby': 'diagnostics-heading' },
      h('h2', { id: 'diagnostics-heading' }, 'Diagnostics'),
      h('div', { className: 'toolbar' }, runButton, progress),
      current,
      h('h3', null, 'Runs'),
      runs,
    ),
    h('section', { 'aria-labelledby': 'overview-heading' }, h('h2', { id: 'overview-heading' }, 'Operations overview'), overview),
    h(
      'section',
      { 'aria-labelledby': 'datasets-heading' },
      h('h2', { id: 'datasets-heading' }, 'Refresh data'),
      h('label', { for: 'dataset' }, 'Dataset'),
      datasetSelect,
      assetField,
      h('div', { className: 'toolbar' }, refreshButton),
      refreshStatus,
    ),
  );

  const [latest] = await Promise.all([
    listRuns(),
    fill(overview, 'the overview', () => callRemote('GET', withQuery(paths.dataset('ops_dashboard'), query)), overviewView),
  ]);
  if (latest && latest.length > 0) await openRun(latest[0].id);
  else show(current, h('p', { className: 'muted' }, 'Run diagnostics to check this space’s connection, data and macros.'));
}

main().catch((err) => show(root, errorBox(err, 'MuleSight could not start')));
