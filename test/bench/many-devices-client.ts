// One client process of the many-devices phases: `tsx test/bench/many-devices-client.ts <json args>`.
// For each of its users, a writer device pushes 5-row bundles (create + chunk + commit) and a reader
// device of the same user pulls them (the peer pull); one cycle = push + pull up to the pushed bundle.
// `inFlight: 'user'` runs every user's cycles at once (the scale-out figure); `'process'` runs one
// cycle at a time, taking the users in turn (issue 21's shape: 4 processes = 4 cycles in flight).
// Every request goes to a random one of `baseUrls`. Prints `ready` after connecting, waits for a line
// on stdin, runs for `seconds`, prints one JSON line: { bundles, errors, cycles: ms[], firstError }.
// Tokens of the dummy sign-in live 5 minutes: a user signs in again after 4 (long runs).
import { userRows } from './sync-api.js';
import { httpCall } from './http-client.js';

interface Args {
  baseUrls: string[];
  users: { user: string; token: string }[];
  seconds: number;
  rows: number;
  inFlight?: 'user' | 'process';
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const pick = () => args.baseUrls[Math.floor(Math.random() * args.baseUrls.length)]!;
const TOKEN_RENEW_MS = 4 * 60_000;

interface Device {
  user: string;
  token: string;
  signedInAt: number;
  sourceBundleId: number;
  checkpoint: number;
}

async function call(token: string, source: string, method: string, path: string, body?: unknown): Promise<string> {
  const { status, text } = await httpCall(
    pick() + path,
    method,
    { authorization: `Bearer ${token}`, 'oversync-source-id': source, 'content-type': 'application/json' },
    body === undefined ? undefined : JSON.stringify(body),
  );
  if (status < 200 || status > 299) throw new Error(`${method} ${path}: ${status} ${text.slice(0, 200)}`);
  return text;
}

async function renewToken(device: Device): Promise<void> {
  if (performance.now() - device.signedInAt < TOKEN_RENEW_MS) return;
  const res = await fetch(`${args.baseUrls[0]}/dummy-signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: device.user }),
  });
  device.token = ((await res.json()) as { token: string }).token;
  device.signedInAt = performance.now();
}

const devices: Device[] = args.users.map(({ user, token }) => ({
  user,
  token,
  signedInAt: performance.now(),
  sourceBundleId: 0,
  checkpoint: 0,
}));
await Promise.all(
  devices.map((d) => call(d.token, `w-${d.user}`, 'POST', '/sync/connect', { has_local_pending_rows: false })),
);
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

const deadline = performance.now() + args.seconds * 1000;
const cycles: number[] = [];
let bundles = 0;
let errors = 0;
let firstError: string | undefined;

/** One push by the user's writer, then its reader pulls up to the pushed bundle. */
async function cycle(device: Device): Promise<void> {
  await renewToken(device);
  const { token } = device;
  const writer = `w-${device.user}`;
  const reader = `r-${device.user}`;
  const t = performance.now();
  try {
    const id = device.sourceBundleId + 1;
    const created = JSON.parse(
      await call(token, writer, 'POST', '/sync/push-sessions', { source_bundle_id: id, planned_row_count: args.rows }),
    ) as { push_id: string };
    await call(token, writer, 'POST', `/sync/push-sessions/${created.push_id}/chunks`, {
      start_row_ordinal: 0,
      rows: userRows(args.rows),
    });
    const commit = JSON.parse(await call(token, writer, 'POST', `/sync/push-sessions/${created.push_id}/commit`)) as {
      bundle_seq: number;
    };
    device.sourceBundleId = id;
    while (device.checkpoint < commit.bundle_seq) {
      const pulled = JSON.parse(
        await call(token, reader, 'GET', `/sync/pull?after_bundle_seq=${device.checkpoint}&max_bundles=100`),
      ) as { stable_bundle_seq: number; bundles: { bundle_seq: number }[] };
      const last = pulled.bundles.length
        ? pulled.bundles[pulled.bundles.length - 1]!.bundle_seq
        : pulled.stable_bundle_seq;
      if (last <= device.checkpoint)
        throw new Error(`pull after ${device.checkpoint} did not reach bundle ${commit.bundle_seq}`);
      device.checkpoint = last;
    }
    bundles++;
    cycles.push(performance.now() - t);
  } catch (error) {
    errors++;
    firstError ??= (error as Error).message;
  }
}

if (args.inFlight === 'process') {
  for (let i = 0; performance.now() < deadline; i++) await cycle(devices[i % devices.length]!);
} else {
  await Promise.all(
    devices.map(async (device) => {
      while (performance.now() < deadline) await cycle(device);
    }),
  );
}
// exit once the line is out: a long run's line (every cycle's time) outgrows the pipe, and exit would cut it
process.stdout.write(`${JSON.stringify({ bundles, errors, cycles, firstError })}\n`, () => process.exit(0));
