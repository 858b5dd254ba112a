// Metrics before the recorder is ready (or when it never loads, opted out):
// every counter at zero. The names are the core's (tables.js).
import { METRIC_NAMES } from './tables.js';

export const emptyMetrics = (pending) => {
  const metrics = { circuitState: 'closed', nextRetryAt: null, authPaused: false, online: true, lastError: null, storage: null, core: null };
  for (const name of METRIC_NAMES) metrics[name] = name === 'pending' ? pending : 0;
  return metrics;
};
