/**
 * Time-ordered keys for new rows (UUIDv7, RFC 9562 §5.7). A random key (UUIDv4) lands anywhere in the table's
 * key index and in the queue's, so with many rows pending each local insert dirties two leaves of its own; a
 * time-ordered key lands on the last leaf of both and the cost of a write stays flat (README: local writes).
 */
import { randomBytes } from 'node:crypto';

/** Keys made in one millisecond count up in the 12 bits after the version (RFC 9562 §6.2, method 1). */
const COUNTER_MAX = 0xfff;

let lastMs = 0;
let counter = 0;

/**
 * A new UUIDv7 in canonical dashed lower-case text, after every one this process made before: the Unix time in
 * ms, a counter within the ms (its overflow and a clock stepping back move the time on past the last key's),
 * then 62 random bits.
 */
export function uuidV7(): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter > COUNTER_MAX) {
    lastMs++;
    counter = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
