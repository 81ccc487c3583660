// The four MuleSight macros (module keys in manifest.yml), what they ask for in their config and
// which backend dataset each mode reads.
export const MODE_NAMES = {
  detailed: 'Detailed',
  compact: 'Compact',
  endpoints: 'Endpoints (methods and paths)',
  security: 'Security (policies, SLA tiers, contracts)',
};

export const MACROS = {
  'exchange-asset': {
    title: 'Exchange asset',
    target: 'Exchange asset (groupId/assetId or groupId/assetId/version)',
    targetName: 'Exchange asset',
    modes: ['detailed', 'compact', 'endpoints'],
    dataset: (mode) => (mode === 'endpoints' ? 'endpoints' : 'exchange'),
  },
  'runtime-manager-app': {
    title: 'Runtime Manager application',
    target: 'Application name',
    targetName: 'Application',
    modes: ['detailed', 'compact'],
    dataset: () => 'runtime_manager',
  },
  'api-manager-instance': {
    title: 'API Manager instance',
    target: 'API instance ID',
    targetName: 'API instance',
    modes: ['detailed', 'compact', 'security'],
    dataset: (mode) => (mode === 'security' ? 'api_security_posture' : 'api_manager'),
  },
  'environment-summary': {
    title: 'Environment summary',
    target: null,
    targetName: 'Environment',
    modes: ['detailed', 'compact'],
    dataset: () => 'ops_dashboard',
  },
};

export function macroFor(moduleKey) {
  return MACROS[moduleKey] || MACROS['environment-summary'];
}
