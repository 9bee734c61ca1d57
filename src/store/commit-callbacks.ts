// Runs the callbacks waiting for a commit (Store.afterCommit), in order, for every backend.
import type { Logger } from '../logger.js';

export function runCommitCallbacks(callbacks: readonly (() => void)[], logger: Logger): void {
  for (const callback of callbacks) {
    try {
      callback();
    } catch (err) {
      // One consumer's bug must not withhold the others' acknowledgements.
      logger.error({ err }, 'store: afterCommit callback threw');
    }
  }
}
