// Runs the Go side of the parity specs (go-parity-program.ts) for any of this repository's JSON readers:
// the protocol's (libs/protocol), the server's (libs/oversync/src/wire) and the client's
// (apps/client-node). Skipped when no Go toolchain is installed.
import { describe } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import fc from 'fast-check';
import { quoteGoJsonString } from '../go-json-encode.js';
import { GO_PARITY_PROGRAM } from './go-parity-program.js';

function findGo(): string | undefined {
  const candidates = (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'go'));
  return [...candidates, '/usr/local/go/bin/go'].find((path) => path !== 'go' && existsSync(path));
}

export const goBinary = findGo();
export const describeWithGo = goBinary === undefined ? describe.skip : describe;

/** One comparison: what Go gets (bytes) and what this repository answers (`undefined` = error). */
export interface ParityCase {
  kind: string;
  input: Uint8Array;
  ours: () => Uint8Array | string | undefined;
}

export const paritySeed = Number(process.env.PARITY_SEED ?? Date.now() % 2 ** 31);

/** Builds the Go program once; `answer` feeds it cases through stdin in a single process. */
export class GoParity {
  private workDir = '';
  private program = '';

  build(): void {
    this.workDir = mkdtempSync(join(tmpdir(), 'oversync-go-parity-'));
    writeFileSync(join(this.workDir, 'go.mod'), 'module oversyncparity\n\ngo 1.21\n');
    writeFileSync(join(this.workDir, 'main.go'), GO_PARITY_PROGRAM);
    this.program = join(this.workDir, 'parity');
    execFileSync(goBinary ?? 'go', ['build', '-o', this.program, '.'], {
      cwd: this.workDir,
      env: {
        ...process.env,
        // Standard library only: no network, no module downloads, a cache that survives runs.
        GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'oversync-protocol-gocache'),
        GOPATH: process.env.GOPATH ?? join(this.workDir, 'gopath'),
        GOFLAGS: '',
        GOTOOLCHAIN: 'local',
        GOPROXY: 'off',
        GO111MODULE: 'on',
      },
      stdio: 'pipe',
      timeout: 120_000,
    });
  }

  remove(): void {
    if (this.workDir !== '') rmSync(this.workDir, { recursive: true, force: true });
  }

  /** The mismatches (none when every answer is Go's), grouped for a readable failure. */
  mismatches(cases: ParityCase[]): {
    cases: number;
    byKind: Record<string, number>;
    first: Array<Record<string, string | undefined>>;
  } {
    const stdin = cases.map((c) => `${c.kind}\t${Buffer.from(c.input).toString('hex')}\n`).join('');
    const stdout = execFileSync(this.program, { input: stdin, maxBuffer: 1 << 28, timeout: 60_000 }).toString('utf8');
    const answers = stdout.split('\n').slice(0, -1);
    if (answers.length !== cases.length) throw new Error(`Go answered ${answers.length} of ${cases.length} cases`);
    const mismatches = cases
      .map((c, i) => ({
        kind: c.kind,
        input: Buffer.from(c.input).toString('utf8'),
        go: readable(answers[i]!),
        ours: readable(hexOf(attempt(c.ours))),
      }))
      .filter((m) => m.go !== m.ours);
    const byKind: Record<string, number> = {};
    for (const m of mismatches) byKind[m.kind] = (byKind[m.kind] ?? 0) + 1;
    return { cases: cases.length, byKind, first: mismatches.slice(0, 10) };
  }
}

function attempt<T>(compute: () => T): T | undefined {
  try {
    return compute();
  } catch (error) {
    // a reader may refuse input only with its own error type, never with a crash of the runtime
    if (error instanceof RangeError && /call stack/.test(error.message)) throw error;
    return undefined;
  }
}

function hexOf(answer: Uint8Array | string | undefined): string {
  if (answer === undefined) return 'err\t';
  return 'ok\t' + Buffer.from(typeof answer === 'string' ? Buffer.from(answer, 'utf8') : answer).toString('hex');
}

function readable(line: string): string {
  const [status, hex] = line.split('\t');
  return status === 'ok' ? `ok ${Buffer.from(hex ?? '', 'hex').toString('utf8')}` : 'err';
}

// ---------- member binding --------------------------------------------------------------------

/** What a reader bound from a document with the fields of the Go program's `bound` struct. */
export interface BoundFields {
  reason: string;
  pending: boolean;
  rows: string[] | null;
  /** compact JSON text of the payload member, or null */
  payload: string | null;
}

/** The Go program's `json.Marshal(bound)` of what a reader bound. */
export function boundText(b: BoundFields): string {
  const rows = b.rows === null ? 'null' : `[${b.rows.map(quoteGoJsonString).join(',')}]`;
  return (
    `{"reason":${quoteGoJsonString(b.reason)},"has_local_pending_rows":${b.pending},"rows":${rows},"payload":` +
    `${b.payload ?? 'null'}}`
  );
}

/** Spellings that bind a field in Go (case, `ſ` for s, the Kelvin sign for k) and some that do not. */
function spellings(field: string): fc.Arbitrary<string> {
  return fc.constantFrom(
    field,
    field,
    field.toUpperCase(),
    field[0]!.toUpperCase() + field.slice(1),
    field.replace(/s/g, '\u017f'),
    field.replace(/k/g, '\u212a'),
    field.replace(/[aeo]/g, (c) => c.toUpperCase()),
    `${field} `,
    field.replace(/_/g, ''),
    field.replace(/i/g, '\u0130'),
    field.replace(/s/g, '\u00df'),
  );
}

const FIELD_VALUES: Record<string, string[]> = {
  reason: ['"x"', '"y"', '"Zz\\u00e9"', 'null'],
  has_local_pending_rows: ['true', 'false', 'null'],
  rows: ['["a"]', '[]', 'null', '["b","c"]'],
  payload: ['{"a":1}', '[1,2]', '"s"', 'null', 'true', '{}'],
};
/** Values of the wrong type for a field: Go fails the whole decode, wherever the member comes. */
const WRONG_VALUES: Record<string, string[]> = {
  reason: ['5', 'true', '[]'],
  has_local_pending_rows: ['"true"', '1'],
  rows: ['"a"', '{}', '[1]'],
  payload: [],
};

/**
 * JSON objects whose members bind the `bound` fields under several spellings, repeated, in any
 * order, with unrelated members between; `wrongTypes` adds members of a wrong type.
 */
export function bindingDocuments(wrongTypes: boolean): fc.Arbitrary<string> {
  const fields = Object.keys(FIELD_VALUES);
  const memberOf = fc.constantFrom(...fields).chain((field) => {
    const values =
      wrongTypes && WRONG_VALUES[field]!.length > 0
        ? fc.oneof(
            { weight: 6, arbitrary: fc.constantFrom(...FIELD_VALUES[field]!) },
            { weight: 1, arbitrary: fc.constantFrom(...WRONG_VALUES[field]!) },
          )
        : fc.constantFrom(...FIELD_VALUES[field]!);
    return fc.tuple(spellings(field), values);
  });
  const unrelated = fc.tuple(
    fc.constantFrom('other', 'REASONS', 'row', 'pay load', ''),
    fc.constantFrom('1', '"x"', 'null', '{"reason":"inner"}'),
  );
  return fc
    .array(fc.oneof({ weight: 5, arbitrary: memberOf }, { weight: 1, arbitrary: unrelated }), { maxLength: 7 })
    .map((members) => `{${members.map(([name, value]) => `${quoteGoJsonString(name)}:${value}`).join(',')}}`);
}

/** Literals for an int64 field: in and out of range, not integers, not numbers. */
const intLiteral: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String) },
  { weight: 2, arbitrary: fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n }).map(String) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '0',
      '-0',
      '1.0',
      '1e2',
      '1E2',
      '-1',
      '1.5',
      '9223372036854775807',
      '-9223372036854775808',
      '9223372036854775808',
      '-9223372036854775809',
      '9007199254740993',
      '1e400',
      '"5"',
      'null',
      'true',
      '[]',
      '{}',
      '0.0',
      '-0.0',
      '1e-2',
      '100e-2',
    ),
  },
);

/**
 * JSON objects binding the Go program's `integer` struct (`n int64`): one or more members under
 * several spellings (case, the Kelvin sign does not apply, `N`), `keep` filters the literals.
 */
export function intDocuments(keep: (literal: string) => boolean = () => true): fc.Arbitrary<string> {
  const member = fc.tuple(fc.constantFrom('n', 'N', 'n', 'n ', 'm'), intLiteral.filter(keep));
  return fc
    .array(member, { minLength: 1, maxLength: 3 })
    .map((members) => `{${members.map(([name, value]) => `${quoteGoJsonString(name)}:${value}`).join(',')}}`);
}

// ---------- nesting depth and string decoding -------------------------------------------------

/** Documents nested 1 … 20,000 levels deep (Go's limit is 10,000), arrays and objects. */
export function depthDocuments(): Array<{ depth: number; text: string }> {
  const out: Array<{ depth: number; text: string }> = [];
  for (const depth of [1, 2, 100, 511, 512, 513, 9_999, 10_000, 10_001, 20_000]) {
    out.push({ depth, text: `${'['.repeat(depth)}${']'.repeat(depth)}` });
    out.push({ depth, text: `${'['.repeat(depth)}1${']'.repeat(depth)}` });
    out.push({ depth, text: `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}` });
    out.push({ depth, text: `${'[{"a":'.repeat(Math.floor(depth / 2))}0${'}]'.repeat(Math.floor(depth / 2))}` });
  }
  return out;
}

const ESCAPES = [
  '\\ud800',
  '\\udbff',
  '\\udc00',
  '\\udfff',
  '\\ud83d\\ude00',
  '\\ud83d',
  '\\ude00',
  '\\ud800\\ud800',
  '\\udc00\\ud800',
  '\\ud800\\u0041',
  '\\u0041',
  '\\u00e9',
  '\\n',
  '\\/',
  '\\\\',
];

/** JSON string literals with lone and paired surrogate escapes; `rawBytes` adds invalid UTF-8 inside. */
export function stringLiterals(rawBytes: boolean): fc.Arbitrary<Buffer> {
  const piece = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ESCAPES).map((e) => Buffer.from(e)) },
    { weight: 2, arbitrary: fc.constantFrom('a', 'é', '😀', ' ').map((t) => Buffer.from(t)) },
    ...(rawBytes
      ? [
          {
            weight: 1,
            arbitrary: fc
              .constantFrom([0xff], [0xed, 0xa0, 0x80], [0xc3], [0xf0, 0x9f, 0x98], [0x80, 0x80], [0xe0, 0x80, 0xaf])
              .map((b) => Buffer.from(b)),
          },
        ]
      : []),
  );
  return fc
    .array(piece, { maxLength: 6 })
    .map((pieces) => Buffer.concat([Buffer.from('"'), ...pieces, Buffer.from('"')]));
}
