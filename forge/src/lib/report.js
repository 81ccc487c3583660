// A diagnostics report (shared/contract/report.md) for people: the verdict, then the root causes
// worst first — each with its fix once and its consequences folded under it — then the details.
import { badge, facts, h, table } from './dom.js';
import { COVERAGE, FRESHNESS, OWNER, VERDICT, formatTime } from './format.js';
import { MACROS, MODE_NAMES } from './macros.js';
import { DATASET_NAMES } from './paths.js';

const VERDICT_TONE = { healthy: 'ok', degraded: 'warn', broken: 'bad' };
const STATUS_TONE = { fail: 'bad', warn: 'warn' };
const STATUS_WORD = { fail: 'Must fix', warn: 'Should fix' };
const MACRO_STATUS = { ok: 'Shown', error: 'Failed', timeout: 'Timed out', stale: 'Old data', not_rendered: 'Not viewed yet' };
const MACRO_TONE = { ok: 'ok', error: 'bad', timeout: 'bad', stale: 'warn', not_rendered: 'neutral' };

export function verdictBadge(verdict) {
  return badge(VERDICT[verdict] || verdict || 'Not finished yet', VERDICT_TONE[verdict]);
}

const severity = (finding) => (finding.status === 'fail' ? 0 : 1);

/** Root causes with their consequences: from `root_causes`, else from `cause`, else fail-first. */
export function rootCauses(report) {
  const findings = Array.isArray(report.findings) ? report.findings : [];
  const byKey = new Map(findings.filter((f) => f.key).map((f) => [f.key, f]));
  const rootOf = (finding) => {
    const seen = new Set();
    let current = finding;
    while (current && current.cause && byKey.has(current.cause) && !seen.has(current.key)) {
      seen.add(current.key);
      current = byKey.get(current.cause);
    }
    return current;
  };
  let roots;
  if (Array.isArray(report.root_causes)) {
    roots = report.root_causes.map((key) => byKey.get(key)).filter(Boolean);
  } else if (findings.some((f) => 'cause' in f)) {
    roots = findings.filter((f) => !f.cause || !byKey.has(f.cause));
  } else {
    roots = findings;
  }
  const rootSet = new Set(roots);
  const grouped = roots.map((root) => {
    const consequences = findings.filter((f) => !rootSet.has(f) && f.key && rootOf(f) === root);
    // A cause is as urgent as the worst thing it breaks (a warning that fails a macro must be fixed).
    const status = [root, ...consequences].some((f) => f.status === 'fail') ? 'fail' : root.status;
    return { finding: root, consequences, status };
  });
  return grouped.sort((a, b) => severity(a) - severity(b)); // stable: keeps worst-first order
}

function causeItem({ finding, consequences, status }) {
  return h(
    'li',
    { className: 'cause' },
    h('p', { className: 'cause-title' }, badge(STATUS_WORD[status] || status, STATUS_TONE[status]), ' ', h('strong', null, finding.title)),
    finding.detail && h('p', null, finding.detail),
    facts([
      ['Who acts', OWNER[finding.owner] || finding.owner],
      ['What to do', finding.remediation],
    ]),
    consequences.length > 0 &&
      h(
        'details',
        null,
        h('summary', null, `What this also breaks (${consequences.length})`),
        h('ul', null, consequences.map((c) => h('li', null, c.title))),
      ),
  );
}

function datasetRows(report) {
  return Object.entries(report.datasets || {}).map(([key, d]) => [
    DATASET_NAMES[key] || key,
    COVERAGE[d.coverage] || d.coverage,
    FRESHNESS[d.freshness] || d.freshness,
    d.last_successful_fetch ? formatTime(d.last_successful_fetch) : '—',
  ]);
}

function macroRows(report) {
  return (report.macros || []).map((m) => [
    m.page_title || `Page ${m.page_id}`,
    `${MACROS[m.macro] ? MACROS[m.macro].title : m.macro}${m.mode ? ` (${(MODE_NAMES[m.mode] || m.mode).split(' (')[0]})` : ''}`,
    badge(MACRO_STATUS[m.status] || m.status, MACRO_TONE[m.status]),
    m.last_rendered_at ? formatTime(m.last_rendered_at) : '—',
    m.error || '',
  ]);
}

/** The whole report, root causes first. `headingLevel` is the level of its section headings. */
export function renderReport(report, { headingLevel = 3 } = {}) {
  const heading = (text) => h(`h${headingLevel}`, null, text);
  const causes = rootCauses(report);
  const failing = (report.macros || []).filter((m) => m.status === 'error' || m.status === 'timeout');
  return h(
    'div',
    { className: 'report' },
    h(
      'p',
      { className: 'verdict' },
      verdictBadge(report.verdict),
      ' ',
      causes.length === 0
        ? 'Nothing to fix.'
        : `${causes.length === 1 ? 'One thing' : `${causes.length} things`} to fix, most important first.`,
      ' ',
      h('span', { className: 'muted' }, `Checked ${formatTime(report.generated_at)}.`),
    ),
    causes.length > 0 && [heading('What to fix'), h('ol', { className: 'causes' }, causes.map(causeItem))],
    failing.length > 0 &&
      h('p', null, `${failing.length === 1 ? 'One macro' : `${failing.length} macros`} failed for readers; see Macros below.`),
    h(
      'details',
      null,
      h('summary', null, 'Datasets'),
      table(['Dataset', 'Data', 'Cache', 'Last fetched'], datasetRows(report)),
    ),
    (report.macros || []).length > 0 &&
      h(
        'details',
        { open: failing.length > 0 },
        h('summary', null, `Macros (${report.macros.length})`),
        table(['Page', 'Macro', 'Last render', 'When', 'Problem'], macroRows(report), { className: 'macros' }),
      ),
  );
}

/** What changed since the previous run (the diff route's answer). */
export function renderDiff(diff) {
  if (!diff.before) return h('p', { className: 'muted' }, diff.message || 'There is nothing to compare yet.');
  const list = (title, items) =>
    items.length > 0 && [h('p', null, h('strong', null, title)), h('ul', null, items.map((f) => h('li', null, f.title)))];
  const verdict = diff.verdict || {};
  return h(
    'div',
    { className: 'diff' },
    h(
      'p',
      null,
      `Compared with the run of ${formatTime(diff.before.generated_at)}: `,
      verdict.before === verdict.after
        ? `still ${String(VERDICT[verdict.after] || verdict.after).toLowerCase()}.`
        : `${VERDICT[verdict.before] || verdict.before} → ${VERDICT[verdict.after] || verdict.after}.`,
    ),
    list('Fixed', diff.fixed || []),
    list('New', diff.new || []),
    (diff.fixed || []).length + (diff.new || []).length === 0 &&
      h('p', { className: 'muted' }, `No finding was fixed or added (${(diff.still_open || []).length} still open).`),
  );
}
