// Metrics before the engine is ready (or when it never loads, opted out):
// every counter at zero. The names are the core's (tables.js).
import { METRIC_NAMES } from './tables.js';

export const emptyMetrics = (pending) => ({
  ...Object.fromEntries(METRIC_NAMES.map((name) => [name, 0])),
  pending,
  circuitState: 'closed',
  nextRetryAt: null,
  authPaused: false,
  online: true,
  lastError: null,
  storage: null,
  engine: null,
});
