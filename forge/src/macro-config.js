// Custom configuration of the four MuleSight macros: the environment, what to show and the mode.
// Saved with view.submit({ config }); the macro reads it back from context.extension.config.
import { view } from '@forge/bridge';
import { errorBox, h, show } from './lib/dom.js';
import { MODE_NAMES, macroFor } from './lib/macros.js';

const root = document.getElementById('root');

async function main() {
  const context = await view.getContext();
  const macro = macroFor(context.moduleKey);
  const current = (context.extension && context.extension.config) || {};

  const environment = h('input', { id: 'environment', type: 'text', value: current.environment || '' });
  const target = macro.target ? h('input', { id: 'target', type: 'text', value: current.target || '' }) : null;
  const mode = h(
    'select',
    { id: 'mode' },
    macro.modes.map((m) => h('option', { value: m, selected: m === current.mode }, MODE_NAMES[m] || m)),
  );
  const message = h('div', { role: 'status', 'aria-live': 'polite' });

  const save = async (event) => {
    event.preventDefault();
    if (target && !target.value.trim()) {
      show(message, errorBox(new Error(`${macro.target} is required.`)));
      return;
    }
    const config = { environment: environment.value.trim(), mode: mode.value };
    if (target) config.target = target.value.trim();
    try {
      await view.submit({ config });
    } catch (err) {
      show(message, errorBox(err, 'The configuration was not saved'));
    }
  };

  show(
    root,
    h(
      'form',
      { onSubmit: save },
      h('h1', null, macro.title),
      h('label', { for: 'environment' }, 'Environment (name or ID; empty for the default)'),
      environment,
      target && h('label', { for: 'target' }, macro.target),
      target,
      h('label', { for: 'mode' }, 'Mode'),
      mode,
      h(
        'div',
        { className: 'toolbar' },
        h('button', { type: 'submit' }, 'Save'),
        h('button', { type: 'button', onClick: () => view.close() }, 'Cancel'),
      ),
      message,
    ),
  );
}

main().catch((err) => show(root, errorBox(err, 'The configuration could not be opened')));
