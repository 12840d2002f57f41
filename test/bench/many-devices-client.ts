// One client process of the many-devices phase: `tsx test/bench/many-devices-client.ts <json args>`.
// For each of its users, a writer device pushes 5-row bundles (create + chunk + commit) and a reader
// device of the same user pulls them (the peer pull); one cycle = push + pull up to the pushed bundle.
// Every request goes to a random one of `baseUrls`. Prints `ready` after connecting, waits for a line
// on stdin, runs for `seconds`, prints one JSON line: { bundles, errors, cycles: ms[], firstError }.
import { userRows } from './sync-api.js';

interface Args {
  baseUrls: string[];
  users: { user: string; token: string }[];
  seconds: number;
  rows: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const pick = () => args.baseUrls[Math.floor(Math.random() * args.baseUrls.length)]!;

async function call(token: string, source: string, method: string, path: string, body?: unknown): Promise<string> {
  const res = await fetch(pick() + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'oversync-source-id': source, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
  return text;
}

await Promise.all(args.users.map((u) => call(u.token, `w-${u.user}`, 'POST', '/sync/connect', { has_local_pending_rows: false })));
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

const deadline = performance.now() + args.seconds * 1000;
const cycles: number[] = [];
let bundles = 0;
let errors = 0;
let firstError: string | undefined;
await Promise.all(
  args.users.map(async ({ user, token }) => {
    const writer = `w-${user}`;
    const reader = `r-${user}`;
    let sourceBundleId = 0;
    let checkpoint = 0;
    while (performance.now() < deadline) {
      const t = performance.now();
      try {
        const id = sourceBundleId + 1;
        const created = JSON.parse(await call(token, writer, 'POST', '/sync/push-sessions', { source_bundle_id: id, planned_row_count: args.rows })) as { push_id: string };
        await call(token, writer, 'POST', `/sync/push-sessions/${created.push_id}/chunks`, { start_row_ordinal: 0, rows: userRows(args.rows) });
        const commit = JSON.parse(await call(token, writer, 'POST', `/sync/push-sessions/${created.push_id}/commit`)) as { bundle_seq: number };
        sourceBundleId = id;
        while (checkpoint < commit.bundle_seq) {
          const pulled = JSON.parse(await call(token, reader, 'GET', `/sync/pull?after_bundle_seq=${checkpoint}&max_bundles=100`)) as { stable_bundle_seq: number; bundles: { bundle_seq: number }[] };
          const last = pulled.bundles.length ? pulled.bundles[pulled.bundles.length - 1]!.bundle_seq : pulled.stable_bundle_seq;
          if (last <= checkpoint) throw new Error(`pull after ${checkpoint} did not reach bundle ${commit.bundle_seq}`);
          checkpoint = last;
        }
        bundles++;
        cycles.push(performance.now() - t);
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
      }
    }
  }),
);
process.stdout.write(`${JSON.stringify({ bundles, errors, cycles, firstError })}\n`);
process.exit(0);
