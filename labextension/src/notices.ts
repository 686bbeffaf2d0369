/**
 * Notices of the researcher's requests: when a reviewer or steward changes one (a decision,
 * changes requested, the release ready), JupyterLab says so once, with a link to its page.
 *
 * The session server answers `enclave/review/notices` from the review service's list of the
 * user's requests changed since they last opened them; opening the request's page is what
 * clears a notice there. Here each change (request, status, round) is shown once per browser,
 * remembered in localStorage.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';

import { getEnclave } from './api';

/** One changed request, as the session server gives it. */
export interface INotice {
  id: string;
  status: string;
  round: number;
  notebook: string;
  project: string;
  url: string;
}

const POLL_MS = 15_000;
const SHOWN_KEY = 'enclave-review:notices-shown';
const SHOWN_KEPT = 200;

function shownBefore(): string[] {
  try {
    const kept = JSON.parse(window.localStorage.getItem(SHOWN_KEY) || '[]');
    return Array.isArray(kept) ? kept : [];
  } catch {
    return [];
  }
}

function remember(shown: string[]): void {
  try {
    window.localStorage.setItem(SHOWN_KEY, JSON.stringify(shown.slice(-SHOWN_KEPT)));
  } catch {
    // storage full or off: the notice may show again after a reload, no more
  }
}

/** Where a request stands, as the notice says it (the review service's statuses). */
const STANDING: { [status: string]: string } = {
  in_review: 'has an approval and is in review',
  changes_requested: 'needs changes: see the comments, then resubmit',
  approved: 'is approved; its release is being built',
  released: 'is released: download it from its page',
  rejected: 'was rejected',
  withdrawn: 'was withdrawn'
};

/** What the notice says: the request, its notebook, and where it stands now. */
export function describe(notice: INotice): string {
  const standing =
    STANDING[notice.status] || `is now ${notice.status.replace(/_/g, ' ')}`;
  const round = notice.round > 1 ? `, round ${notice.round}` : '';
  return `Output review: request ${notice.id} (${notice.notebook}${round}) ${standing}.`;
}

async function look(): Promise<void> {
  let notices: INotice[];
  try {
    notices = (await getEnclave<{ notices: INotice[] }>('review/notices')).notices;
  } catch {
    return; // the service is away for a moment: ask again at the next poll
  }
  const shown = shownBefore();
  for (const notice of notices) {
    const key = `${notice.id}:${notice.status}:${notice.round}`;
    if (shown.includes(key)) {
      continue;
    }
    shown.push(key);
    Notification.info(describe(notice), {
      autoClose: false,
      actions: [
        {
          label: 'Open the request',
          callback: () => window.open(notice.url, '_blank', 'noopener')
        }
      ]
    });
  }
  remember(shown);
}

export const noticesPlugin: JupyterFrontEndPlugin<void> = {
  id: 'enclave-review:notices',
  description: 'Shows a notice when one of your output requests changes state.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    void app.restored.then(() => {
      void look();
      window.setInterval(() => {
        if (document.visibilityState === 'visible') {
          void look();
        }
      }, POLL_MS);
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible') {
          void look();
        }
      });
    });
  }
};
