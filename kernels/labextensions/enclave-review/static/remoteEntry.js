// A prebuilt JupyterLab federated extension, written by hand instead of bundled by webpack.
//
// JupyterLab loads this script, calls init(shareScope) with its shared modules and then
// get("./extension"): the same container protocol webpack's ModuleFederationPlugin emits. We take
// @jupyterlab/* and @lumino/* from JupyterLab's own share scope, so there is nothing to bundle
// and no npm build in CI (a @jupyterlab/builder build pulls hundreds of MB of packages).
(function () {
  'use strict';
  const NAME = 'enclave-review';
  const COMMAND = 'enclave:submit-for-review';
  let shared = null;

  async function use(pkg) {
    const versions = shared && shared[pkg];
    if (!versions || !Object.keys(versions).length) {
      throw new Error(`${NAME}: JupyterLab does not share ${pkg}`);
    }
    const factory = await versions[Object.keys(versions)[0]].get();
    return factory();
  }

  function field(form, name, label, required) {
    const wrapper = document.createElement('label');
    wrapper.style.display = 'block';
    wrapper.style.marginBottom = '8px';
    wrapper.textContent = label + (required ? ' (required)' : '');
    const area = document.createElement('textarea');
    area.name = name;
    area.rows = 3;
    area.style.width = '100%';
    wrapper.appendChild(area);
    form.appendChild(wrapper);
  }

  async function plugins() {
    const [apputils, notebook, ui, services, coreutils, widgets] = await Promise.all([
      use('@jupyterlab/apputils'),
      use('@jupyterlab/notebook'),
      use('@jupyterlab/ui-components'),
      use('@jupyterlab/services'),
      use('@jupyterlab/coreutils'),
      use('@lumino/widgets')
    ]);
    const { Dialog, showDialog, showErrorMessage, ICommandPalette } = apputils;

    async function submit(tracker) {
      const panel = tracker.currentWidget;
      if (!panel) {
        return;
      }
      await panel.context.save(); // the frozen copy is what the researcher sees now
      const form = document.createElement('form');
      form.className = 'enclave-review-form';
      field(form, 'purpose', 'Purpose: why should these outputs leave the enclave?', true);
      field(form, 'summary', 'What the outputs show (for the reviewers)', false);
      field(form, 'exception_note', 'Exception request for outputs the gate blocks', false);
      field(form, 'resubmit', 'Resubmitting? The request id (e.g. r-0123456789)', false);
      const answer = await showDialog({
        title: 'Submit for output review',
        body: new widgets.Widget({ node: form }),
        buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Submit' })]
      });
      if (!answer.button.accept) {
        return;
      }
      const value = name => form.querySelector(`[name=${name}]`).value;
      const settings = services.ServerConnection.makeSettings();
      const response = await services.ServerConnection.makeRequest(
        coreutils.URLExt.join(settings.baseUrl, 'enclave/review/submit'),
        {
          method: 'POST',
          body: JSON.stringify({
            path: panel.context.path,
            purpose: value('purpose'),
            summary: value('summary'),
            exception_note: value('exception_note'),
            resubmit: value('resubmit')
          })
        },
        settings
      );
      const data = await response.json();
      if (!response.ok) {
        await showErrorMessage('Output review', data.message || `HTTP ${response.status}`);
        return;
      }
      const body = document.createElement('p');
      body.id = 'enclave-review-result';
      body.textContent =
        `Request ${data.id} (round ${data.round}): gate ${data.verdict} with ` +
        `${data.findings} finding(s); stewards of ${data.institutions.join(', ')} ` +
        'must sign off. Follow it in the review service.';
      await showDialog({
        title: 'Submitted for review',
        body: new widgets.Widget({ node: body }),
        buttons: [Dialog.okButton()]
      });
    }

    return [
      {
        id: 'enclave-review:submit',
        description: 'Submit the current notebook to the enclave output review.',
        autoStart: true,
        requires: [notebook.INotebookTracker],
        optional: [ICommandPalette],
        activate: (app, tracker, palette) => {
          app.commands.addCommand(COMMAND, {
            label: 'Submit for Output Review…',
            caption: 'Freeze this notebook and send it to the review service',
            isEnabled: () => tracker.currentWidget !== null,
            execute: () => submit(tracker)
          });
          if (palette) {
            palette.addItem({ command: COMMAND, category: 'Enclave' });
          }
          app.contextMenu.addItem({ command: COMMAND, selector: '.jp-Notebook', rank: 100 });
          tracker.widgetAdded.connect((_, panel) => {
            const button = new ui.ToolbarButton({
              className: 'enclave-submit-review',
              label: 'Submit for review',
              tooltip: 'Submit this notebook to output review',
              onClick: () => app.commands.execute(COMMAND)
            });
            panel.toolbar.insertItem(10, 'enclave-submit-review', button);
          });
        }
      }
    ];
  }

  const container = {
    init: scope => {
      shared = scope;
    },
    get: async module => {
      if (module !== './extension') {
        throw new Error(`${NAME}: no module ${module}`);
      }
      const exported = await plugins();
      return () => ({ __esModule: true, default: exported });
    }
  };
  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[NAME] = container;
})();
