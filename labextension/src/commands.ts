/** The ids of the extension's commands (also what tests and keyboard shortcuts name). */
export namespace CommandIDs {
  export const submit = 'enclave:submit-for-review';
}

/** The palette category every enclave command is listed under. */
export const PALETTE_CATEGORY = 'Enclave';
