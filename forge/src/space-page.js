// The space's MuleSight dashboard: the cached ops overview, dataset refreshes and diagnostics runs
// (start a run, list runs, open one, compare it with the previous run).
import { view } from '@forge/bridge';
import { errorBox, fill, h, show } from './lib/dom.js';
import { DATASETS, paths, withQuery } from './lib/paths.js';
import { callRemote } from './lib/remote.js';

const root = document.getElementById('root');

function runId(run) {
  return run && (run.id ?? run.run_id);
}

async function main() {
  const context = await view.getContext();
  const extension = context.extension || {};
  const spaceKey = (extension.space && extension.space.key) || extension.spaceKey;
  const query = { space_key: spaceKey };

  const overview = h('div');
  const refreshResult = h('div', { role: 'status' });
  const runs = h('div');
  const runDetail = h('div');
  const datasetSelect = h(
    'select',
    { id: 'dataset', 'aria-label': 'Dataset' },
    DATASETS.map(([key, name]) => h('option', { value: key }, name)),
  );
  const refreshButton = h('button', { type: 'button' }, 'Refresh dataset');
  const runButton = h('button', { type: 'button' }, 'Run diagnostics');

  const openRun = (id) => {
    const diff = h('div');
    const diffButton = h('button', { type: 'button' }, 'Compare with the previous run');
    diffButton.addEventListener('click', () =>
      fill(diff, 'the comparison', () => callRemote('GET', paths.runDiff(id))),
    );
    const report = h('div');
    show(runDetail, h('h2', null, `Run ${id}`), report, h('div', { className: 'toolbar' }, diffButton), diff);
    return fill(report, 'the run', () => callRemote('GET', paths.run(id)));
  };

  const listRuns = () =>
    fill(
      runs,
      'the runs',
      () => callRemote('GET', withQuery(paths.runs, query)),
      (data) => {
        const items = Array.isArray(data) ? data : (data && (data.runs || data.items)) || [];
        if (items.length === 0) return h('p', { className: 'muted' }, 'No diagnostics run yet.');
        return h(
          'ul',
          null,
          items.map((run) =>
            h(
              'li',
              null,
              h('button', { type: 'button', onClick: () => openRun(runId(run)) }, String(runId(run))),
              ` ${run.verdict || run.status || ''} ${run.created_at || run.started_at || ''}`,
            ),
          ),
        );
      },
    );

  refreshButton.addEventListener('click', () =>
    fill(refreshResult, 'the refresh', () =>
      callRemote('POST', paths.refresh, { space_key: spaceKey, dataset: datasetSelect.value }),
    ),
  );
  runButton.addEventListener('click', async () => {
    runButton.disabled = true;
    try {
      const run = await callRemote('POST', paths.runs, { space_key: spaceKey });
      await listRuns();
      if (runId(run) !== undefined) await openRun(runId(run));
    } catch (err) {
      show(runDetail, errorBox(err, 'The diagnostics run could not start'));
    } finally {
      runButton.disabled = false;
    }
  });

  show(
    root,
    h('h1', null, 'MuleSight dashboard'),
    h('section', null, h('h2', null, 'Operations overview'), overview),
    h(
      'section',
      null,
      h('h2', null, 'Datasets'),
      h('div', { className: 'toolbar' }, datasetSelect, refreshButton),
      refreshResult,
    ),
    h('section', null, h('h2', null, 'Diagnostics'), h('div', { className: 'toolbar' }, runButton), runs, runDetail),
  );

  await Promise.all([
    fill(overview, 'the overview', () => callRemote('GET', withQuery(paths.dataset('ops_dashboard'), query))),
    listRuns(),
  ]);
}

main().catch((err) => show(root, errorBox(err, 'MuleSight could not start')));
