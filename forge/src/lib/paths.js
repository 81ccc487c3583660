// The backend routes the Custom UI front ends call through invokeRemote. They are fixed by the
// backend (tests/test_manifest.py keeps the same list and checks every path literal in forge/src).
const seg = (value) => encodeURIComponent(String(value));

export const paths = {
  connection: '/forge/v1/connection',
  connectionTest: '/forge/v1/connection/test',
  scopes: '/forge/v1/scopes.csv', // with format=json: the checklist as JSON rows
  refresh: '/forge/v1/refresh',
  dataset: (dataset) => `/forge/v1/datasets/${seg(dataset)}`,
  renders: '/forge/v1/renders',
  spaces: '/forge/v1/spaces',
  runs: '/forge/v1/runs',
  run: (runId) => `/forge/v1/runs/${seg(runId)}`,
  runDiff: (runId) => `/forge/v1/runs/${seg(runId)}/diff`,
};

/** Appends the defined, non-empty entries of `params` as a query string. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

// The eight dataset keys of the backend (shared/contract/datasets.md).
export const DATASETS = [
  ['diagnostics', 'Shared platform context'],
  ['exchange', 'Exchange'],
  ['endpoints', 'Endpoints'],
  ['runtime_manager', 'Runtime Manager'],
  ['api_manager', 'API Manager'],
  ['api_security_posture', 'API security posture'],
  ['ops_dashboard', 'Ops dashboard'],
  ['rovo', 'Rovo'],
];

export const DATASET_NAMES = Object.fromEntries(DATASETS);
