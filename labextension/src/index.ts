/**
 * The enclave's JupyterLab extension: what a research session adds to JupyterLab.
 *
 * One plugin per feature, each in its own module; they share `api.ts` (requests to the
 * session server's `enclave/` endpoints) and `commands.ts` (command ids). To add a feature
 * (a findings list), write its module exporting a `JupyterFrontEndPlugin` and list
 * it below.
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { noticesPlugin } from './notices';
import { submitPlugin } from './submit';

const plugins: JupyterFrontEndPlugin<any>[] = [submitPlugin, noticesPlugin];

export default plugins;
