// Starting a diagnostics run and waiting for it. The backend answers POST /runs with 201 and the
// run when it finished within a bounded wait, else 202 {id, state: queued|running}; GET
// /runs/<id> answers 202 {id, state} while it runs and 200 with the report when done.
import { paths } from './paths.js';
import { callRemote } from './remote.js';

export const POLL_MS = 1500;
const MAX_POLLS = 400; // 10 minutes

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const isPending = (body) =>
  Boolean(body && typeof body === 'object' && (body.state === 'queued' || body.state === 'running'));

/** The run id of a run, a summary or a pending answer. */
export const runIdOf = (run) => run && (run.id ?? run.run_id);

/**
 * The finished answer for `started` (the POST's body): itself when done, else what GET
 * /runs/<id> answers once the run is no longer queued or running. `onProgress(state, seconds)`
 * is called at each poll.
 */
export async function untilDone(started, onProgress = () => undefined) {
  let body = started;
  const id = runIdOf(started);
  for (let poll = 1; isPending(body); poll += 1) {
    if (poll > MAX_POLLS) throw new Error('The diagnostics run is taking too long; look for it in the list later.');
    onProgress(body.state, Math.round((poll * POLL_MS) / 1000));
    await sleep(POLL_MS);
    body = await callRemote('GET', paths.run(id));
  }
  return body;
}

/** The report of a finished answer: `{report}` (RunOut) or the report itself. */
export const reportOf = (answer) => (answer && answer.report ? answer.report : answer);
