// What each macro shows, per kind and mode, from a dataset answer of GET /forge/v1/datasets/<key>
// (items as Anypoint lists them). Readable labels only; times in the reader's zone.
import { badge, facts, h, table } from './dom.js';
import { count, formatDate, formatTime, statusWords } from './format.js';

const GOOD = new Set(['started', 'running', 'applied', 'active', 'published', 'approved']);
const BAD = new Set(['failed', 'stopped', 'undeployed', 'deployment_failed', 'inactive', 'revoked', 'rejected']);

function statusBadge(value) {
  const key = String(value || '').toLowerCase();
  return badge(statusWords(value), GOOD.has(key) ? 'ok' : BAD.has(key) ? 'bad' : 'neutral');
}

export function environmentNames(data) {
  const names = {};
  for (const e of data.environments || []) {
    if (e.environment_id) names[e.environment_id] = e.environment_name || e.environment_id;
  }
  return names;
}

const ASSET_TYPES = {
  'rest-api': 'REST API',
  'http-api': 'HTTP API',
  'soap-api': 'SOAP API',
  'async-api': 'AsyncAPI',
  'raml-fragment': 'RAML fragment',
  connector: 'Connector',
  template: 'Template',
  example: 'Example',
  policy: 'Policy',
  extension: 'Extension',
  custom: 'Custom',
};
const assetType = (type) => ASSET_TYPES[type] || statusWords(type);

const envName = (names, id) => (id ? names[id] || id : 'Organization');

// -- Exchange asset ------------------------------------------------------------------------------

function byVersionDesc(a, b) {
  const parts = (v) => String(v || '').split(/[.-]/).map((p) => (Number.isNaN(Number(p)) ? p : Number(p)));
  const [x, y] = [parts(a.version), parts(b.version)];
  for (let i = 0; i < Math.max(x.length, y.length); i += 1) {
    if (x[i] === y[i]) continue;
    if (x[i] === undefined) return 1;
    if (y[i] === undefined) return -1;
    return x[i] < y[i] ? 1 : -1;
  }
  return 0;
}

function exchangeDetailed(items) {
  const versions = [...items].sort(byVersionDesc);
  const latest = versions[0];
  return h(
    'div',
    null,
    h('h2', null, latest.name || latest.assetId),
    latest.description && h('p', null, latest.description),
    facts([
      ['Latest version', latest.version],
      ['Type', assetType(latest.type)],
      ['Lifecycle', statusBadge(latest.status)],
      ['Asset', `${latest.groupId}/${latest.assetId}`],
      ['Labels', (latest.labels || []).join(', ')],
      ['Updated', formatDate(latest.updatedDate || latest.createdDate)],
    ]),
    versions.length > 1 &&
      table(
        ['Version', 'Lifecycle', 'Updated'],
        versions.map((v) => [v.version, statusBadge(v.status), formatDate(v.updatedDate || v.createdDate)]),
      ),
  );
}

function exchangeCompact(items) {
  const latest = [...items].sort(byVersionDesc)[0];
  return h(
    'p',
    { className: 'compact' },
    h('strong', null, latest.name || latest.assetId),
    ` ${latest.version} · ${assetType(latest.type)} · `,
    statusBadge(latest.status),
  );
}

function endpointsView(items) {
  return items.map((asset) =>
    h(
      'div',
      null,
      h('h2', null, `${asset.name || asset.asset_id} ${asset.version || ''}`.trim()),
      asset.endpoints.length === 0
        ? h('p', { className: 'muted' }, 'The API specification of this version declares no endpoints.')
        : table(
            ['Method', 'Path', 'What it does'],
            asset.endpoints.map((e) => [h('code', null, e.method), h('code', null, e.path), e.summary || '']),
            { className: 'endpoints' },
          ),
    ),
  );
}

// -- Runtime Manager application ----------------------------------------------------------------

function appFacts(app, names, targets) {
  if (app._kind === 'deployment') {
    const target = app.target || {};
    const targetName = targets[target.targetId] || target.targetId;
    return {
      name: app.name,
      status: (app.application && app.application.status) || app.status,
      rows: [
        ['Environment', envName(names, app.environment_id)],
        ['Deployed to', targetName ? `${targetName} (CloudHub 2.0 / Runtime Fabric)` : 'CloudHub 2.0 / Runtime Fabric'],
        ['Mule runtime', app.currentRuntimeVersion],
        ['Deployment', statusWords(app.status)],
        ['Last changed', formatTime(app.lastModifiedDate)],
      ],
    };
  }
  const workers = app.workers || {};
  const type = (workers.type && workers.type.name) || app.workerType;
  return {
    name: app.domain || app.name,
    status: app.status,
    rows: [
      ['Environment', envName(names, app.environment_id)],
      ['Deployed to', `CloudHub 1.0${app.region ? `, ${app.region}` : ''}`],
      ['Mule runtime', app.muleVersion && app.muleVersion.version],
      ['Workers', workers.amount ? `${workers.amount} × ${type || 'worker'}` : type],
      ['URL', app.fullDomain],
      ['Last changed', formatTime(app.lastUpdateTime)],
    ],
  };
}

function runtimeTargets(allItems) {
  return Object.fromEntries(allItems.filter((i) => i._kind === 'rtf_target').map((t) => [t.id, t.name]));
}

function runtimeDetailed(items, names, allItems) {
  const targets = runtimeTargets(allItems);
  return items.map((item) => {
    const app = appFacts(item, names, targets);
    return h('div', null, h('h2', null, app.name, ' ', statusBadge(app.status)), facts(app.rows));
  });
}

function runtimeCompact(items, names, allItems) {
  const targets = runtimeTargets(allItems);
  return items.map((item) => {
    const app = appFacts(item, names, targets);
    const runtime = app.rows.find(([label]) => label === 'Mule runtime');
    return h(
      'p',
      { className: 'compact' },
      h('strong', null, app.name),
      ' ',
      statusBadge(app.status),
      ` · ${envName(names, item.environment_id)}${runtime && runtime[1] ? ` · Mule ${runtime[1]}` : ''}`,
    );
  });
}

// -- API Manager instance -----------------------------------------------------------------------

const apiName = (api) => api.exchangeAssetName || api.assetId || `API ${api.id}`;

function apiDetailed(items, names) {
  return items.map((api) =>
    h(
      'div',
      null,
      h('h2', null, apiName(api), ' ', statusBadge(api.status)),
      facts([
        ['Instance', `${api.instanceLabel || api.id} (ID ${api.id})`],
        ['Environment', envName(names, api.environment_id || api.environmentId)],
        ['API version', [api.productVersion, api.assetVersion && `asset ${api.assetVersion}`].filter(Boolean).join(', ')],
        ['Endpoint', api.endpointUri],
        ['Runtime', api.technology === 'mule4' ? 'Mule 4' : statusWords(api.technology)],
        ['Active contracts', String(api.activeContractsCount ?? 0)],
        ['Deprecated', api.deprecated ? 'Yes' : null],
      ]),
    ),
  );
}

function apiCompact(items, names) {
  return items.map((api) =>
    h(
      'p',
      { className: 'compact' },
      h('strong', null, apiName(api)),
      ' ',
      statusBadge(api.status),
      ` · ${envName(names, api.environment_id || api.environmentId)} · ${api.productVersion || api.assetVersion || ''} · ${count(api.activeContractsCount ?? 0, 'contract')}`,
    ),
  );
}

function limitText(limit) {
  const seconds = Number(limit.timePeriodInMilliseconds) / 1000;
  const period = seconds % 3600 === 0 ? `${seconds / 3600} h` : seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
  return `${limit.maximumRequests} requests per ${period}`;
}

function securityView(items, names) {
  return items.map((posture) => {
    const policies = posture.policies || [];
    const tiers = posture.tiers || [];
    const contracts = posture.contracts || [];
    return h(
      'div',
      null,
      h('h2', null, `API instance ${posture.api_id} · ${envName(names, posture.environment_id)}`),
      h('h3', null, `Policies (${policies.length})`),
      policies.length === 0
        ? h('p', { className: 'warn-text' }, 'No policy protects this API instance.')
        : table(
            ['Order', 'Policy', 'Version', 'Applied'],
            [...policies]
              .sort((a, b) => (a.order ?? 0) - (b.order ?? 0))
              .map((p) => [
                String(p.order ?? ''),
                (p.implementationAsset && p.implementationAsset.name) || (p.template && p.template.assetId) || p.policyTemplateId,
                (p.template && p.template.assetVersion) || '',
                p.disabled ? badge('Disabled', 'warn') : badge('Enabled', 'ok'),
              ]),
          ),
      h('h3', null, `SLA tiers (${tiers.length})`),
      tiers.length === 0
        ? h('p', { className: 'muted' }, 'No SLA tier.')
        : table(
            ['Tier', 'Limits', 'Approval'],
            tiers.map((t) => [t.name, (t.limits || []).map(limitText).join('; ') || 'none', t.autoApprove ? 'Automatic' : 'Manual']),
          ),
      h('h3', null, `Contracts (${contracts.length})`),
      contracts.length === 0
        ? h('p', { className: 'muted' }, 'No client application has a contract.')
        : table(
            ['Client application', 'Tier', 'Status', 'Approved'],
            contracts.map((c) => [
              (c.application && c.application.name) || String(c.applicationId),
              (c.tier && c.tier.name) || '—',
              statusBadge(c.status),
              formatDate(c.approvedDate),
            ]),
          ),
    );
  });
}

// -- environment summary --------------------------------------------------------------------------

function statusList(statuses) {
  const entries = Object.entries(statuses || {});
  return entries.length === 0 ? 'none' : entries.map(([s, n]) => `${n} ${statusWords(s).toLowerCase()}`).join(', ');
}

/** The items with `missing` also naming the sources whose last refresh failed with nothing kept. */
function withFailures(items, data) {
  const failed = (data.environments || []).filter((e) => e.last_error && !e.fetched_at);
  return items.map((item) => ({
    ...item,
    missing: [
      ...new Set([
        ...(item.missing || []),
        ...failed.filter((e) => e.environment_id === item.environment_id).map((e) => e.dataset),
      ]),
    ],
  }));
}

function summaryDetailed(items) {
  return table(
    ['Environment', 'CloudHub 1.0 apps', 'CloudHub 2.0 / RTF deployments', 'API instances'],
    items.map((e) => [
      h('strong', null, e.environment_name),
      e.missing.includes('runtime_manager') ? 'not available' : `${e.applications}: ${statusList(e.application_statuses)}`,
      e.missing.includes('runtime_manager') ? 'not available' : `${e.deployments}: ${statusList(e.deployment_statuses)}`,
      e.missing.includes('api_manager') ? 'not available' : `${e.apis}: ${statusList(e.api_statuses)}`,
    ]),
  );
}

function summaryCompact(items) {
  return h(
    'ul',
    { className: 'compact-list' },
    items.map((e) =>
      h(
        'li',
        null,
        h('strong', null, e.environment_name),
        `: ${count(e.applications + e.deployments, 'application')}, ${count(e.apis, 'API instance')}`,
        e.missing.length > 0 ? ' (some data missing)' : '',
      ),
    ),
  );
}

/** The view of `data` for a macro kind and mode. */
export function macroView(moduleKey, mode, data, allItems) {
  const names = environmentNames(data);
  const items = data.items || [];
  switch (moduleKey) {
    case 'exchange-asset':
      if (mode === 'endpoints') return endpointsView(items);
      return mode === 'compact' ? exchangeCompact(items) : exchangeDetailed(items);
    case 'runtime-manager-app': {
      const apps = items.filter((i) => i._kind !== 'rtf_target');
      return mode === 'compact' ? runtimeCompact(apps, names, allItems || items) : runtimeDetailed(apps, names, allItems || items);
    }
    case 'api-manager-instance':
      if (mode === 'security') return securityView(items, names);
      return mode === 'compact' ? apiCompact(items, names) : apiDetailed(items, names);
    default:
      return mode === 'compact' ? summaryCompact(withFailures(items, data)) : summaryDetailed(withFailures(items, data));
  }
}

/** The items of `data` a macro shows (runtime targets are context, not applications). */
export function shownItems(moduleKey, data) {
  const items = data.items || [];
  return moduleKey === 'runtime-manager-app' ? items.filter((i) => i._kind !== 'rtf_target') : items;
}
