// Confluence administration: the MuleSight self-check. It starts a site-wide diagnostics run (the
// backend checks its own health, the Forge tokens and macro discovery across the site) and shows
// the latest runs.
import { errorBox, fill, h, show } from './lib/dom.js';
import { paths, withQuery } from './lib/paths.js';
import { callRemote } from './lib/remote.js';

const root = document.getElementById('root');
const SITE = { scope: 'site' };

function main() {
  const result = h('div', { role: 'status' });
  const runs = h('div');
  const checkButton = h('button', { type: 'button' }, 'Run the self-check');

  const listRuns = () => fill(runs, 'the previous self-checks', () => callRemote('GET', withQuery(paths.runs, SITE)));

  checkButton.addEventListener('click', async () => {
    checkButton.disabled = true;
    try {
      const run = await fill(result, 'the self-check', () => callRemote('POST', paths.runs, SITE));
      const id = run && (run.id ?? run.run_id);
      if (id !== undefined) {
        await fill(result, 'the self-check report', () => callRemote('GET', paths.run(id)));
      }
      await listRuns();
    } finally {
      checkButton.disabled = false;
    }
  });

  show(
    root,
    h('h1', null, 'MuleSight self-check'),
    h(
      'p',
      { className: 'muted' },
      'Checks that the MuleSight backend answers, accepts this site’s Forge tokens and can find MuleSight macros.',
    ),
    h('div', { className: 'toolbar' }, checkButton),
    result,
    h('h2', null, 'Previous self-checks'),
    runs,
  );
  return listRuns();
}

main().catch((err) => show(root, errorBox(err, 'MuleSight could not start')));
