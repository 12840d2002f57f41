/**
 * The convergence fuzz's random model (test/fuzz/convergence.e2e-spec.ts): a seeded PRNG, the
 * run configuration a seed implies (devices, users, client options, resolvers) and the operation
 * list. Operations are plain data that name devices by index and rows by "picks" (random numbers
 * resolved against the device's state when the operation runs), so any sub-list of a generated
 * list is still a valid program: that is what makes shrinking by deleting operations work.
 */

/** sfc32: small, fast, good enough, and identical on every platform. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    let t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    t = (t + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** 0 ≤ n < max */
  int(max: number): number {
    return max <= 1 ? 0 : this.u32() % max;
  }

  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** A weighted choice over `[weight, value]` pairs. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((sum, [w]) => sum + w, 0);
    let roll = this.u32() % total;
    for (const [w, value] of choices) {
      if (roll < w) return value;
      roll -= w;
    }
    return choices[choices.length - 1]![1];
  }
}

// ---- configuration ------------------------------------------------------------------------------------

export type ResolverKind = 'server_wins' | 'merge';

export interface DeviceConfig {
  /** index into RunConfig.users: the user the device signs in as first */
  readonly homeUser: number;
  readonly uploadLimit: number;
  readonly downloadLimit: number;
  readonly snapshotChunkRows: number;
  readonly resolver: ResolverKind;
  /** transient transport failures are retried inside one call (default policy) or not at all */
  readonly retry: boolean;
}

export interface RunConfig {
  readonly seed: number;
  readonly users: number;
  readonly devices: readonly DeviceConfig[];
}

/** 2–5 devices over 1..devices-1 users (so some devices share a user and, from 3 devices, some do not). */
export function runConfig(seed: number): RunConfig {
  const rng = new Rng(seed ^ 0x5bd1e995);
  const deviceCount = rng.range(2, 5);
  const users = deviceCount === 2 ? rng.range(1, 2) : rng.range(2, deviceCount - 1);
  const devices: DeviceConfig[] = [];
  for (let i = 0; i < deviceCount; i++) {
    devices.push({
      homeUser: i % users,
      uploadLimit: rng.weighted([
        [3, 1],
        [3, 2],
        [2, 3],
        [2, 100],
      ]),
      downloadLimit: rng.weighted([
        [2, 1],
        [2, 2],
        [1, 3],
        [3, 100],
      ]),
      snapshotChunkRows: rng.weighted([
        [2, 1],
        [2, 3],
        [3, 1000],
      ]),
      resolver: rng.pick(['server_wins', 'merge'] as const),
      retry: rng.chance(0.7),
    });
  }
  return { seed, users, devices };
}

// ---- operations ----------------------------------------------------------------------------------------

export const TABLE_NAMES = [
  'users',
  'posts',
  'categories',
  'teams',
  'team_members',
  'files',
  'file_reviews',
  'typed_rows',
] as const;
export type TableName = (typeof TABLE_NAMES)[number];

export type WriteKind = 'insert' | 'update' | 'delete' | 'chain';

/** One local transaction on a device; `p` are raw random numbers resolved when it runs. */
export interface WriteOp {
  readonly k: 'write';
  readonly d: number;
  readonly w: WriteKind;
  readonly t: TableName;
  readonly p: readonly number[];
}

/** Client step at which a push is aborted (spec/client.md §6.10 hooks, or the transport between requests). */
export type AbortPoint = 'freeze' | 'create' | 'chunk' | 'commit' | 'replay';

/** Endpoints whose response can be lost after the server processed the request. */
export type DropEndpoint =
  'commit' | 'create' | 'chunk' | 'committed_rows' | 'pull' | 'snapshot_create' | 'snapshot_chunk' | 'connect';

/** Where a server restart or a PostgreSQL connection kill happens inside a device's sync. */
export type MidPoint = 'none' | 'create' | 'chunk' | 'commit' | 'pull' | 'committed_rows';

export type InjectEndpoint =
  | 'push_session_create'
  | 'push_session_chunk'
  | 'push_session_commit'
  | 'pull'
  | 'snapshot_create'
  | 'snapshot_chunk'
  | 'committed_bundle_rows'
  | 'connect';

export type FaultOp =
  /** push on `d` aborted at `at`; `crash` also restarts the device process afterwards */
  | { readonly k: 'abort'; readonly d: number; readonly at: AbortPoint; readonly crash: boolean }
  /** the next `ep` response of `d` is lost after the server answered; `transient` lets the client retry in the call */
  | { readonly k: 'drop'; readonly d: number; readonly ep: DropEndpoint; readonly transient: boolean }
  /** the server app is closed and started again on the same database (`mid`: while `d` syncs) */
  | { readonly k: 'restart_server'; readonly d: number; readonly mid: MidPoint }
  /** pg_terminate_backend on every connection of the app (`mid`: while `d` syncs) */
  | { readonly k: 'kill_pg'; readonly d: number; readonly mid: MidPoint }
  /** the retained floor of user `u` raised to latest − depth and history below it deleted */
  | { readonly k: 'prune'; readonly u: number; readonly depth: number }
  /** the reference failure injector answers `count` calls of `ep` with `status` */
  | { readonly k: 'inject'; readonly ep: InjectEndpoint; readonly status: number; readonly count: number }
  /** a local write on `d` while its push uploads (between the last chunk and the commit) */
  | { readonly k: 'write_during_push'; readonly d: number; readonly t: TableName; readonly p: readonly number[] };

export type Op =
  | WriteOp
  | {
      readonly k: 'push' | 'pull' | 'sync' | 'rebuild' | 'restart_device' | 'offline' | 'online' | 'sign_out';
      readonly d: number;
    }
  | { readonly k: 'sync_pair'; readonly d: number; readonly e: number }
  /** `d` and `e` (if they share a user) both update or delete the same row of `t`, then both sync */
  | {
      readonly k: 'contend';
      readonly d: number;
      readonly e: number;
      readonly t: TableName;
      readonly p: readonly number[];
    }
  | { readonly k: 'sign_in' | 'switch_user'; readonly d: number; readonly u: number }
  | FaultOp;

export type FaultKind = FaultOp['k'];

export const FAULT_KINDS: readonly FaultKind[] = [
  'abort',
  'drop',
  'restart_server',
  'kill_pg',
  'prune',
  'inject',
  'write_during_push',
];

export function isFault(op: Op): op is FaultOp {
  return (FAULT_KINDS as readonly string[]).includes(op.k);
}

function picks(rng: Rng, n = 6): number[] {
  return Array.from({ length: n }, () => rng.u32());
}

/** The operation list of a seed: every device signs in first (some after offline writes), then a random mix. */
export function generateOps(config: RunConfig, count: number): Op[] {
  const rng = new Rng(config.seed);
  const deviceCount = config.devices.length;
  const ops: Op[] = [];
  const device = () => rng.int(deviceCount);
  const table = () =>
    rng.weighted<TableName>([
      [4, 'users'],
      [3, 'posts'],
      [3, 'categories'],
      [2, 'teams'],
      [2, 'team_members'],
      [2, 'files'],
      [2, 'file_reviews'],
      [2, 'typed_rows'],
    ]);
  const write = (d: number): WriteOp => ({
    k: 'write',
    d,
    w: rng.weighted<WriteKind>([
      [40, 'insert'],
      [30, 'update'],
      [15, 'delete'],
      [15, 'chain'],
    ]),
    t: table(),
    p: picks(rng),
  });

  // Launch: writes made before the first sign-in seed the user's scope (initialize_local) or are replaced.
  for (let d = 0; d < deviceCount; d++) {
    if (rng.chance(0.4)) for (let i = rng.range(1, 3); i > 0; i--) ops.push(write(d));
    ops.push({ k: 'sign_in', d, u: config.devices[d]!.homeUser });
  }

  while (ops.length < count) {
    const d = device();
    const kind = rng.weighted<string>([
      [38, 'write'],
      [12, 'sync'],
      [5, 'push'],
      [4, 'pull'],
      [3, 'sync_pair'],
      [3, 'contend'],
      [2, 'offline'],
      [3, 'online'],
      [1, 'sign_out'],
      [2, 'sign_in'],
      [1, 'switch_user'],
      [2, 'rebuild'],
      [2, 'restart_device'],
      [5, 'abort'],
      [4, 'drop'],
      [1, 'restart_server'],
      [2, 'kill_pg'],
      [2, 'prune'],
      [2, 'inject'],
      [2, 'write_during_push'],
    ]);
    switch (kind) {
      case 'write':
        ops.push(write(d));
        break;
      case 'sync':
      case 'push':
      case 'pull':
      case 'offline':
      case 'online':
      case 'sign_out':
      case 'rebuild':
      case 'restart_device':
        ops.push({ k: kind, d });
        break;
      case 'sync_pair': {
        const e = (d + 1 + rng.int(deviceCount - 1)) % deviceCount;
        ops.push({ k: 'sync_pair', d, e });
        break;
      }
      case 'contend': {
        const e = (d + 1 + rng.int(deviceCount - 1)) % deviceCount;
        ops.push({ k: 'contend', d, e, t: table(), p: picks(rng) });
        break;
      }
      case 'sign_in':
      case 'switch_user':
        ops.push({ k: kind, d, u: rng.int(config.users + (kind === 'switch_user' ? 1 : 0)) % config.users });
        break;
      case 'abort':
        ops.push({
          k: 'abort',
          d,
          at: rng.pick(['freeze', 'create', 'chunk', 'commit', 'replay'] as const),
          crash: rng.chance(0.5),
        });
        break;
      case 'drop':
        ops.push({
          k: 'drop',
          d,
          ep: rng.weighted<DropEndpoint>([
            [6, 'commit'],
            [2, 'create'],
            [2, 'chunk'],
            [2, 'committed_rows'],
            [2, 'pull'],
            [1, 'snapshot_create'],
            [1, 'snapshot_chunk'],
            [1, 'connect'],
          ]),
          transient: rng.chance(0.5),
        });
        break;
      case 'restart_server':
        ops.push({
          k: 'restart_server',
          d,
          mid: rng.pick(['none', 'none', 'create', 'chunk', 'commit', 'pull'] as const),
        });
        break;
      case 'kill_pg':
        ops.push({
          k: 'kill_pg',
          d,
          mid: rng.pick(['none', 'create', 'chunk', 'commit', 'pull', 'committed_rows'] as const),
        });
        break;
      case 'prune':
        ops.push({ k: 'prune', u: rng.int(config.users), depth: rng.pick([0, 0, 1, 2, 4]) });
        break;
      case 'inject':
        ops.push({
          k: 'inject',
          ep: rng.pick([
            'push_session_create',
            'push_session_chunk',
            'push_session_commit',
            'pull',
            'snapshot_create',
            'snapshot_chunk',
            'committed_bundle_rows',
            'connect',
          ] as const),
          status: rng.pick([500, 503, 429, 502]),
          count: rng.range(1, 3),
        });
        break;
      case 'write_during_push':
        ops.push({ k: 'write_during_push', d, t: table(), p: picks(rng) });
        break;
    }
  }
  return ops;
}

/** One line per operation, for transcripts and minimal replays. */
export function describeOp(op: Op): string {
  switch (op.k) {
    case 'write':
      return `d${op.d} ${op.w} ${op.t}`;
    case 'sync_pair':
      return `d${op.d}+d${op.e} sync concurrently`;
    case 'contend':
      return `d${op.d} and d${op.e} edit the same ${op.t} row, then sync`;
    case 'sign_in':
    case 'switch_user':
      return `d${op.d} ${op.k} u${op.u}`;
    case 'abort':
      return `d${op.d} push aborted at ${op.at}${op.crash ? ' + process restart' : ''}`;
    case 'drop':
      return `d${op.d} ${op.ep} response dropped${op.transient ? ' (transient)' : ''}`;
    case 'restart_server':
    case 'kill_pg':
      return `${op.k}${op.mid === 'none' ? '' : ` during d${op.d} ${op.mid}`}`;
    case 'prune':
      return `prune u${op.u} to latest-${op.depth}`;
    case 'inject':
      return `inject ${op.status} x${op.count} on ${op.ep}`;
    case 'write_during_push':
      return `d${op.d} write ${op.t} during push`;
    default:
      return `d${op.d} ${op.k}`;
  }
}
