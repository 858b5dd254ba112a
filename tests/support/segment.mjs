// Segment's own rules for what a collector receives, as tests check every
// body against them: each message passes @segment/loosely-validate-event
// (Segment's validator, which also holds a message under 32 KB), its
// `timestamp` and the body's `sentAt` are ISO 8601, and no request body is
// over 500 KB.
import validate from '@segment/loosely-validate-event';

const ISO_8601 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
export const MAX_BODY_BYTES = 500 * 1024;

/** What is wrong with one batch body (its `bytes` as sent), as messages; none when it conforms. */
export function segmentViolations(body, bytes) {
  const problems = [];
  if (bytes > MAX_BODY_BYTES) problems.push(`a request body of ${bytes} bytes is over 500 KB`);
  if (!ISO_8601.test(String(body.sentAt))) problems.push(`sentAt ${JSON.stringify(body.sentAt)} is not ISO 8601`);
  for (const message of body.batch) {
    if (!ISO_8601.test(String(message?.timestamp))) {
      problems.push(`${message?.messageId}: timestamp ${JSON.stringify(message?.timestamp)} is not ISO 8601`);
      continue;
    }
    try {
      // The validator takes messages as Segment's libraries build them, with a Date.
      validate({ ...message, timestamp: new Date(message.timestamp) });
    } catch (error) {
      problems.push(`${message?.messageId} (${message?.type}): ${error.message}`);
    }
  }
  return problems;
}
