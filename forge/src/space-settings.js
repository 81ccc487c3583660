// Space settings: the space's Anypoint connected app (client credentials, organization, control
// plane, sync interval, dataset toggles), a connection test and the scopes the connected app needs.
import { view } from '@forge/bridge';
import { errorBox, fill, h, loading, renderValue, show } from './lib/dom.js';
import { DATASETS, paths, withQuery } from './lib/paths.js';
import { callRemote } from './lib/remote.js';

const root = document.getElementById('root');
const CONTROL_PLANES = [
  ['us', 'US (anypoint.mulesoft.com)'],
  ['eu', 'EU (eu1.anypoint.mulesoft.com)'],
  ['gov', 'Gov (gov.anypoint.mulesoft.com)'],
  ['custom', 'Custom base URL'],
];

function field(id, label, input) {
  return [h('label', { for: id }, label), input];
}

function connectionForm(spaceKey, saved, status) {
  const enabled = saved.datasets_enabled || {};
  const clientId = h('input', { id: 'client_id', type: 'text', value: saved.client_id || '', autocomplete: 'off' });
  const secret = h('input', {
    id: 'client_secret',
    type: 'password',
    autocomplete: 'new-password',
    placeholder: saved.client_id ? 'Stored (leave empty to keep it)' : '',
  });
  const organization = h('input', { id: 'organization_id', type: 'text', value: saved.organization_id || '' });
  const plane = h(
    'select',
    { id: 'control_plane' },
    CONTROL_PLANES.map(([value, text]) => h('option', { value, selected: value === (saved.control_plane || 'us') }, text)),
  );
  const baseUrl = h('input', { id: 'base_url', type: 'text', value: saved.base_url || '' });
  const interval = h('input', {
    id: 'sync_interval_hours',
    type: 'number',
    min: 1,
    step: 1,
    value: String(saved.sync_interval_hours || 24),
  });
  const toggles = DATASETS.map(([key, name]) => ({
    key,
    box: h('input', { id: `dataset-${key}`, type: 'checkbox', checked: enabled[key] !== false }),
    name,
  }));

  const save = async (event) => {
    event.preventDefault();
    const hours = Number.parseInt(interval.value, 10);
    if (!clientId.value.trim() || !Number.isInteger(hours) || hours < 1) {
      show(status, errorBox(new Error('A client ID and a sync interval of at least 1 hour are required.')));
      return;
    }
    const body = {
      space_key: spaceKey,
      client_id: clientId.value.trim(),
      organization_id: organization.value.trim() || null,
      control_plane: plane.value,
      base_url: plane.value === 'custom' ? baseUrl.value.trim() || null : null,
      sync_interval_hours: hours,
      datasets_enabled: Object.fromEntries(toggles.map((t) => [t.key, t.box.checked])),
    };
    if (secret.value) body.client_secret = secret.value;
    show(status, loading('the saved connection'));
    try {
      const result = await callRemote('PUT', paths.connection, body);
      secret.value = '';
      show(status, h('p', { className: 'ok' }, 'Connection saved.'), renderValue(result));
    } catch (err) {
      show(status, errorBox(err, 'The connection was not saved'));
    }
  };

  return h(
    'form',
    { onSubmit: save },
    field('client_id', 'Connected app client ID', clientId),
    field('client_secret', 'Client secret', secret),
    field('organization_id', 'Default organization ID', organization),
    field('control_plane', 'Control plane', plane),
    field('base_url', 'Custom base URL (only for the custom control plane)', baseUrl),
    field('sync_interval_hours', 'Sync interval (hours)', interval),
    h(
      'fieldset',
      null,
      h('legend', null, 'Datasets'),
      toggles.map((t) => h('div', null, t.box, h('label', { for: `dataset-${t.key}` }, t.name))),
    ),
    h('div', { className: 'toolbar' }, h('button', { type: 'submit' }, 'Save connection')),
  );
}

async function main() {
  const context = await view.getContext();
  const extension = context.extension || {};
  const spaceKey = (extension.space && extension.space.key) || extension.spaceKey;
  const query = { space_key: spaceKey };

  const form = h('div', null, loading('the connection'));
  const status = h('div', { role: 'status' });
  const testResult = h('div', { role: 'status' });
  const scopes = h('div');
  const testButton = h('button', { type: 'button' }, 'Test connection');
  const scopesButton = h('button', { type: 'button' }, 'Show required scopes');

  show(
    root,
    h('h1', null, 'MuleSight connection'),
    h('section', null, form, status),
    h('section', null, h('h2', null, 'Connection test'), h('div', { className: 'toolbar' }, testButton), testResult),
    h('section', null, h('h2', null, 'Connected-app scopes'), h('div', { className: 'toolbar' }, scopesButton), scopes),
  );

  testButton.addEventListener('click', () =>
    fill(testResult, 'the connection test', () => callRemote('POST', paths.connectionTest, { space_key: spaceKey })),
  );
  scopesButton.addEventListener('click', () =>
    fill(
      scopes,
      'the scopes',
      () => callRemote('GET', withQuery(paths.scopesCsv, query)),
      (csv) => (typeof csv === 'string' ? h('pre', null, csv) : renderValue(csv)),
    ),
  );

  try {
    const saved = (await callRemote('GET', withQuery(paths.connection, query))) || {};
    show(form, connectionForm(spaceKey, saved, status));
  } catch (err) {
    if (err.status === 404) {
      show(form, h('p', { className: 'muted' }, 'No connection yet.'), connectionForm(spaceKey, {}, status));
    } else {
      show(form, errorBox(err, 'Could not load the connection'));
    }
  }
}

main().catch((err) => show(root, errorBox(err, 'MuleSight could not start')));
