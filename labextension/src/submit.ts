/**
 * "Submit for Output Review": a command (palette, notebook context menu, toolbar button) that
 * saves the open notebook, asks for the submission's context and files it through the session
 * server (`enclave/review/submit`), then shows the request it became.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ToolbarButton } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { EnclaveRequestError, getEnclave, postEnclave } from './api';
import { CommandIDs, PALETTE_CATEGORY } from './commands';

/** What the researcher tells the reviewers (the fields of the server's submission body). */
export interface ISubmissionContext {
  purpose: string;
  release_use: string;
  recipients: string[];
  summary: string;
  exception_note: string;
  resubmit: string;
}

/** The consortium's member institutions: code -> name (`enclave/review/members`). */
export type Members = Record<string, string>;

/** What the session server answers for a filed submission. */
export interface ISubmissionResult {
  id: string;
  round: number;
  verdict: string;
  findings: number;
  institutions: string[];
}

const FIELDS: [keyof ISubmissionContext, string, boolean][] = [
  ['purpose', 'Purpose: why should these outputs leave the enclave?', true],
  ['summary', 'What the outputs show (for the reviewers)', false],
  ['exception_note', 'Exception request for outputs the gate blocks', false],
  ['resubmit', 'Resubmitting? The request id (e.g. r-0123456789)', false]
];

/** The dialog's form: the release's use (internal, with its recipients, or external), then
 * one text area per field. Nothing is preselected: the researcher states the use. */
export class SubmissionForm extends Widget {
  constructor(members: Members) {
    super({ node: document.createElement('form') });
    this.addClass('enclave-review-form');
    const use = document.createElement('fieldset');
    use.className = 'enclave-review-use';
    const legend = document.createElement('legend');
    legend.textContent = 'Use of the release (required)';
    use.appendChild(legend);
    const choices: [string, string][] = [
      ['internal', 'Internal: used only by the member institutions ticked below'],
      [
        'external',
        'External reporting: publication or a report outside the consortium ' +
          '(a steward of every member decides)'
      ]
    ];
    for (const [value, text] of choices) {
      const label = document.createElement('label');
      label.className = 'enclave-review-choice';
      const radio = document.createElement('input');
      radio.type = 'radio';
      radio.name = 'release_use';
      radio.value = value;
      label.append(radio, ' ' + text);
      use.appendChild(label);
    }
    const recipients = document.createElement('div');
    recipients.className = 'enclave-review-recipients';
    for (const [code, name] of Object.entries(members)) {
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.name = 'recipient';
      box.value = code;
      label.append(box, ` ${code}${name ? ' (' + name + ')' : ''}`);
      recipients.appendChild(label);
    }
    use.appendChild(recipients);
    this.node.appendChild(use);
    for (const [name, label, required] of FIELDS) {
      const wrapper = document.createElement('label');
      wrapper.className = 'enclave-review-field';
      wrapper.textContent = label + (required ? ' (required)' : '');
      const area = document.createElement('textarea');
      area.name = name;
      area.rows = 3;
      wrapper.appendChild(area);
      this.node.appendChild(wrapper);
    }
  }

  getValue(): ISubmissionContext {
    const value = (name: string) =>
      (this.node.querySelector(`[name=${name}]`) as HTMLTextAreaElement).value;
    const use = this.node.querySelector(
      '[name=release_use]:checked'
    ) as HTMLInputElement | null;
    const recipients = Array.from(
      this.node.querySelectorAll('[name=recipient]:checked')
    ).map(box => (box as HTMLInputElement).value);
    return {
      purpose: value('purpose'),
      release_use: use ? use.value : '',
      recipients: use && use.value === 'internal' ? recipients : [],
      summary: value('summary'),
      exception_note: value('exception_note'),
      resubmit: value('resubmit')
    };
  }
}

/** Save, ask, submit, and show the outcome (or the server's one-line refusal). */
export async function submitNotebook(panel: NotebookPanel): Promise<void> {
  await panel.context.save(); // the frozen copy is what the researcher sees now
  let members: Members;
  try {
    members = await getEnclave<Members>('review/members');
  } catch (error) {
    const message =
      error instanceof EnclaveRequestError ? error.message : String(error);
    await showErrorMessage('Output review', message);
    return;
  }
  const answer = await showDialog({
    title: 'Submit for output review',
    body: new SubmissionForm(members),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Submit' })]
  });
  if (!answer.button.accept || answer.value === null) {
    return;
  }
  let result: ISubmissionResult;
  try {
    result = await postEnclave<ISubmissionResult>('review/submit', {
      path: panel.context.path,
      ...answer.value
    });
  } catch (error) {
    const message =
      error instanceof EnclaveRequestError ? error.message : String(error);
    await showErrorMessage('Output review', message);
    return;
  }
  const body = document.createElement('p');
  body.id = 'enclave-review-result';
  body.textContent =
    `Request ${result.id} (round ${result.round}): gate ${result.verdict} with ` +
    `${result.findings} finding(s); stewards of ${result.institutions.join(', ')} ` +
    'must sign off. Follow it in the review service.';
  await showDialog({
    title: 'Submitted for review',
    body: new Widget({ node: body }),
    buttons: [Dialog.okButton()]
  });
}

export const submitPlugin: JupyterFrontEndPlugin<void> = {
  id: 'enclave-review:submit',
  description: 'Submit the current notebook to the enclave output review.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null
  ) => {
    app.commands.addCommand(CommandIDs.submit, {
      label: 'Submit for Output Review…',
      caption: 'Freeze this notebook and send it to the review service',
      isEnabled: () => tracker.currentWidget !== null,
      execute: () => {
        const panel = tracker.currentWidget;
        return panel ? submitNotebook(panel) : undefined;
      }
    });
    palette?.addItem({ command: CommandIDs.submit, category: PALETTE_CATEGORY });
    app.contextMenu.addItem({
      command: CommandIDs.submit,
      selector: '.jp-Notebook',
      rank: 100
    });
    tracker.widgetAdded.connect((_, panel) => {
      const button = new ToolbarButton({
        className: 'enclave-submit-review',
        label: 'Submit for review',
        tooltip: 'Submit this notebook to output review',
        onClick: () => void app.commands.execute(CommandIDs.submit)
      });
      panel.toolbar.insertItem(10, 'enclave-submit-review', button);
    });
  }
};
