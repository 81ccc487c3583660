// Space settings: the space's Anypoint connected app (client credentials, organization, control
// plane, sync interval, dataset toggles), a connection test and the scopes the connected app needs.
import { view } from '@forge/bridge';
import { errorBox, fill, h, show, statusRegion, table } from './lib/dom.js';
import { formatTime, setTimeZone } from './lib/format.js';
import { DATASETS, paths, withQuery } from './lib/paths.js';
import { callRemote } from './lib/remote.js';

const root = document.getElementById('root');
const CONTROL_PLANES = [
  ['us', 'US (anypoint.mulesoft.com)'],
  ['eu', 'EU (eu1.anypoint.mulesoft.com)'],
  ['gov', 'Gov (gov.anypoint.mulesoft.com)'],
  ['custom', 'Custom base URL'],
];
const GRANTED_AT = { organization: 'Organization', 'per environment': 'Each environment' };

/** One labelled input with its own message line (aria-describedby), filled by `setError`. */
function field(id, label, input, help) {
  const message = h('p', { id: `${id}-error`, className: 'field-error', hidden: true });
  const helpLine = help && h('p', { id: `${id}-help`, className: 'muted small' }, help);
  input.setAttribute('aria-describedby', [help && `${id}-help`, `${id}-error`].filter(Boolean).join(' '));
  const setError = (text) => {
    message.textContent = text || '';
    message.hidden = !text;
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  return { node: h('div', { className: 'field' }, h('label', { for: id }, label), input, helpLine, message), setError, input };
}

function connectionState(saved) {
  if (!saved) return h('p', null, 'Not connected yet: enter the connected app of this space’s Anypoint organization.');
  return h(
    'p',
    null,
    `Connected with client ID ${saved.client_id}${saved.client_secret_set ? ' and a stored secret' : ' (no secret stored)'}; saved ${formatTime(saved.updated_at)}.`,
  );
}

function connectionForm(spaceKey, initial, stateLine, status, onSaved) {
  let saved = initial;
  const enabled = (saved && saved.datasets_enabled) || {};
  const f = {
    client_id: field('client_id', 'Connected app client ID', h('input', { type: 'text', id: 'client_id', value: (saved && saved.client_id) || '', autocomplete: 'off' })),
    client_secret: field(
      'client_secret',
      'Client secret',
      h('input', { type: 'password', id: 'client_secret', autocomplete: 'new-password' }),
      saved && saved.client_secret_set ? 'A secret is stored: leave empty to keep it.' : null,
    ),
    organization_id: field('organization_id', 'Organization ID', h('input', { type: 'text', id: 'organization_id', value: (saved && saved.organization_id) || '' }), 'Empty: the connected app’s own organization.'),
    control_plane: field(
      'control_plane',
      'Control plane',
      h('select', { id: 'control_plane' }, CONTROL_PLANES.map(([value, text]) => h('option', { value, selected: value === ((saved && saved.control_plane) || 'us') }, text))),
    ),
    base_url: field('base_url', 'Custom base URL', h('input', { type: 'text', id: 'base_url', value: (saved && saved.base_url) || '' }), 'Only for the custom control plane: https://…'),
    sync_interval_hours: field(
      'sync_interval_hours',
      'Sync interval (hours)',
      h('input', { type: 'number', id: 'sync_interval_hours', min: 1, step: 1, value: String((saved && saved.sync_interval_hours) || 24) }),
    ),
  };
  const toggles = DATASETS.map(([key, name]) => ({
    key,
    box: h('input', { id: `dataset-${key}`, type: 'checkbox', checked: enabled[key] !== false }),
    name,
  }));
  const datasetsError = h('p', { className: 'field-error', hidden: true });
  const showBaseUrl = () => {
    f.base_url.node.hidden = f.control_plane.input.value !== 'custom';
  };
  f.control_plane.input.addEventListener('change', showBaseUrl);
  showBaseUrl();

  const clearErrors = () => {
    Object.values(f).forEach((x) => x.setError(null));
    datasetsError.hidden = true;
  };

  const save = async (event) => {
    event.preventDefault();
    clearErrors();
    const hours = Number.parseInt(f.sync_interval_hours.input.value, 10);
    const plane = f.control_plane.input.value;
    const body = {
      space_key: spaceKey,
      client_id: f.client_id.input.value.trim(),
      organization_id: f.organization_id.input.value.trim() || null,
      control_plane: plane,
      base_url: plane === 'custom' ? f.base_url.input.value.trim() || null : null,
      sync_interval_hours: Number.isInteger(hours) ? hours : f.sync_interval_hours.input.value,
      datasets_enabled: Object.fromEntries(toggles.map((t) => [t.key, t.box.checked])),
    };
    // PUT replaces the connection: keep what this form does not show (simulated mode's scenario).
    if (saved && saved.scenario) body.scenario = saved.scenario;
    const secret = f.client_secret.input.value;
    if (secret) body.client_secret = secret;
    show(status, 'Saving…');
    try {
      saved = await callRemote('PUT', paths.connection, body);
      f.client_secret.input.value = '';
      show(stateLine, connectionState(saved));
      show(status, h('p', { className: 'ok' }, 'Connection saved.'));
      onSaved(saved);
    } catch (err) {
      const fields = err.fields || {};
      const named = Object.entries(fields).filter(([name]) => f[name] || name === 'datasets_enabled');
      for (const [name, messages] of named) {
        const text = Array.isArray(messages) ? messages.join(' ') : typeof messages === 'string' ? messages : 'Check this value.';
        if (f[name]) f[name].setError(text);
        else {
          datasetsError.textContent = text;
          datasetsError.hidden = false;
        }
      }
      show(
        status,
        errorBox(
          new Error(named.length ? `Check the highlighted ${named.length === 1 ? 'field' : 'fields'}.` : err.message),
          'The connection was not saved',
        ),
      );
      if (named.length && f[named[0][0]]) f[named[0][0]].input.focus();
    }
  };

  return h(
    'form',
    { onSubmit: save, noValidate: true },
    Object.values(f).map((x) => x.node),
    h(
      'fieldset',
      null,
      h('legend', null, 'Datasets MuleSight fetches'),
      toggles.map((t) => h('div', null, t.box, h('label', { for: `dataset-${t.key}` }, t.name))),
      datasetsError,
    ),
    h('div', { className: 'toolbar' }, h('button', { type: 'submit', className: 'primary' }, 'Save connection')),
  );
}

function testResult(result) {
  if (result.ok) {
    const org = result.organization ? ` to ${result.organization.name || result.organization.id}` : '';
    return h('p', { className: 'ok' }, `The connection works${org}: ${result.environment_count ?? 0} environments found.`);
  }
  return h('div', null, h('p', { className: 'error' }, result.problem || 'The connection does not work.'), result.fix && h('p', null, h('strong', null, 'Fix: '), result.fix));
}

function scopesTable(rows) {
  return table(
    ['Scope', 'Why MuleSight needs it', 'Used by', 'Grant it for'],
    rows.map((r) => [h('code', null, r.scope), r.why_needed, (r.used_by || []).join(', '), GRANTED_AT[r.granted_at] || r.granted_at]),
    { className: 'scopes' },
  );
}

async function main() {
  const context = await view.getContext();
  setTimeZone(context.timezone);
  const extension = context.extension || {};
  const spaceKey = (extension.space && extension.space.key) || extension.spaceKey;
  const query = { space_key: spaceKey };

  const stateLine = h('div', { id: 'connection-state' });
  const form = h('div', null, h('p', { className: 'muted' }, 'Loading the connection…'));
  const status = statusRegion({ id: 'save-status' });
  const testStatus = statusRegion({ id: 'test-status' });
  const scopes = h('div', { id: 'scopes' });
  const testButton = h('button', { type: 'button' }, 'Test connection');

  show(
    root,
    h('h1', null, `MuleSight connection · space ${spaceKey}`),
    h('section', { 'aria-labelledby': 'connection-heading' }, h('h2', { id: 'connection-heading' }, 'Connected app'), stateLine, form, status),
    h('section', { 'aria-labelledby': 'test-heading' }, h('h2', { id: 'test-heading' }, 'Connection test'), h('div', { className: 'toolbar' }, testButton), testStatus),
    h('section', { 'aria-labelledby': 'scopes-heading' }, h('h2', { id: 'scopes-heading' }, 'Scopes the connected app needs'), scopes),
  );

  testButton.addEventListener('click', async () => {
    testButton.disabled = true;
    show(testStatus, 'Testing the connection…');
    try {
      show(testStatus, testResult(await callRemote('POST', paths.connectionTest, { space_key: spaceKey })));
    } catch (err) {
      show(testStatus, errorBox(err, 'The test could not run'));
    } finally {
      testButton.disabled = false;
    }
  });

  let saved = null;
  try {
    saved = await callRemote('GET', withQuery(paths.connection, query));
  } catch (err) {
    if (err.status !== 404) {
      show(form, errorBox(err, 'Could not load the connection'));
      return;
    }
  }
  const loadScopes = () =>
    fill(scopes, 'the scopes', () => callRemote('GET', withQuery(paths.scopes, { ...query, format: 'json' })), scopesTable);
  show(stateLine, connectionState(saved));
  show(form, connectionForm(spaceKey, saved, stateLine, status, loadScopes));
  if (saved) await loadScopes();
  else show(scopes, h('p', { className: 'muted' }, 'The checklist appears here once the connection is saved.'));
}

main().catch((err) => show(root, errorBox(err, 'MuleSight could not start')));
