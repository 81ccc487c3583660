// Links out of a Custom UI iframe: to the space's MuleSight dashboard (its diagnostics).
import { router } from '@forge/bridge';
import { h } from './dom.js';

const APP_ID = '73856157-5880-44b7-9347-6c0c688e1923'; // manifest.yml app.id
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const LOCAL_ID = new RegExp(`extension-(${UUID})-(${UUID})`, 'i');

/** The URL of the space page (`confluence:spacePage`, route `mulesight`) of `spaceKey`. */
export function diagnosticsUrl(context, spaceKey) {
  const site = String(context.siteUrl || '').replace(/\/+$/, '');
  const match = LOCAL_ID.exec(String(context.localId || ''));
  const appId = (match && match[1]) || APP_ID;
  const environmentId = (match && match[2]) || context.environmentId || '';
  const space = encodeURIComponent(spaceKey || '');
  return `${site}/wiki/spaces/${space}/apps/${appId}/${environmentId}/mulesight`;
}

/** A link that opens `url` in the Confluence window (not inside the iframe). */
export function navLink(url, text) {
  return h(
    'a',
    {
      href: url,
      target: '_top',
      onClick: (event) => {
        event.preventDefault();
        router.navigate(url).catch(() => window.open(url, '_top'));
      },
    },
    text,
  );
}
