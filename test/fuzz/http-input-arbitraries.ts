import fc from 'fast-check';

// Generators of hostile HTTP input for the sync routes (spec §3). A generated case is symbolic: `{token:alice}`,
// `{push}`, `{bob_push}`, `{snapshot}`, `{bob_snapshot}` and `{source}` are filled in by the suite when the case
// runs, so one case stays meaningful while fixtures come and go.
//
// Each case is broken at one site (headers, path, query, body members, a row, a payload, the body text or
// bytes, the framing) and valid everywhere else, or valid throughout, or broken everywhere at random: a
// request that is wrong in one place only reaches the deep validation paths (and commit, for chunks).

/** Sources of the fuzzed users (fixed, so generated bodies can name them). */
export const FUZZ_SOURCES = {
  alice: 'fuzz-a-1',
  alicePush: 'fuzz-a-c',
  aliceOther: 'fuzz-a-2',
  bob: 'fuzz-b-1',
} as const;

export interface FuzzCase {
  /** the route family the case was generated for (for reports) */
  endpoint: string;
  /** where the case was broken */
  site: Site | 'none' | 'all';
  method: string;
  path: string;
  /** the actor's source id, `{source}` in headers and body */
  source: string;
  headers: Array<[string, string | string[]]>;
  body?: Buffer;
  framing: 'exact' | 'chunked' | 'long';
  /** chunk cases: rows planned by the fixture session the chunk goes to */
  plannedRowCount?: number;
}

export interface FuzzWorld {
  /** largest accepted body, to build oversize ones */
  maxBodyBytes: number;
  /** existing business rows of alice (UPDATE/DELETE and FK targets) */
  aliceUserIds: string[];
}

export type Site = 'headers' | 'framing' | 'path' | 'query' | 'body' | 'row' | 'payload' | 'text' | 'bytes';
type Mode = 'valid' | 'fault' | 'mixed';

const weighted = <T>(...entries: Array<[number, fc.Arbitrary<T>]>) =>
  fc.oneof(...entries.map(([weight, arbitrary]) => ({ weight, arbitrary })));

/** The valid value, a fault, or (mixed) mostly valid. */
const choose = <T>(mode: Mode, valid: fc.Arbitrary<T>, fault: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  mode === 'valid' ? valid : mode === 'fault' ? fault : weighted<T>([3, valid], [1, fault]);

/** Which site of a case is broken: 10 % none, 60 % exactly one, 30 % all at random. */
function faultSite(sites: Site[]): fc.Arbitrary<Site | 'none' | 'all'> {
  return weighted<Site | 'none' | 'all'>(
    [1, fc.constant('none' as const)],
    [6, fc.constantFrom(...sites)],
    [3, fc.constant('all' as const)],
  );
}
const modeAt = (site: Site | 'none' | 'all', here: Site): Mode =>
  site === 'all' ? 'mixed' : site === here ? 'fault' : 'valid';

/** A latin-1 header value Node's client will send (tab, 0x20–0x7E, 0x80–0xFF). */
const headerText = (maxLength = 40) =>
  fc.string({
    unit: fc
      .integer({ min: 0x20, max: 0xff })
      .filter((c) => c !== 0x7f)
      .map((c) => String.fromCharCode(c)),
    maxLength,
  });

/** UTF-8 text as the latin-1 characters of its bytes: what a client sending raw UTF-8 in a header puts on the wire. */
const utf8AsLatin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/** encodeURIComponent that survives lone surrogates (they become U+FFFD). */
const encode = (text: string) =>
  encodeURIComponent(text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));

// ---------- JSON values -------------------------------------------------------------------------

const ODD_NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '7.0',
  '7e0',
  '1E+2',
  '1e400',
  '-1e400',
  '1e-400',
  '0.1',
  '1.5',
  '4.9e-324',
  '9007199254740993',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
  '-9223372036854775809',
  '18446744073709551616',
  '99999999999999999999999999999999999999',
  `1${'0'.repeat(400)}`,
];
const ODD_NON_JSON = [
  'NaN',
  'Infinity',
  '-Infinity',
  '01',
  '.5',
  '5.',
  '-',
  '+1',
  '0x10',
  'undefined',
  "'x'",
  'tru',
  'nul',
  '"unterminated',
  '{',
  '[',
  '1 2',
];
const ODD_STRINGS = [
  '""',
  '" "',
  '"7"',
  '"true"',
  '"null"',
  '"\\u0000"',
  '"a\\u0000b"',
  '"\\ud800"',
  '"\\udc00\\ud800"',
  '"\\uFFFF"',
  '"\\u2028"',
  '"<script>"',
  '"\\"quoted\\""',
  '"\\\\"',
  '"\'; DROP TABLE business.users; --"',
  '"%s%n"',
  '"${jndi:x}"',
  '"\u00e9\u00e8"',
  '"\u{1F600}"',
  '"not-a-uuid"',
  '"00000000-0000-0000-0000-000000000000"',
  '"AAAA"',
  '"===="',
  '"\\t  padded  \\n"',
];

/** Raw JSON text of a value of the wrong type, an extreme number, an odd string or not JSON at all. */
export const oddJsonValue: fc.Arbitrary<string> = weighted<string>(
  [4, fc.constantFrom(...ODD_NUMBERS)],
  [3, fc.constantFrom(...ODD_STRINGS)],
  [2, fc.constantFrom('true', 'false', 'null', '{}', '[]', '[null]', '{"":null}', '[[[]]]')],
  [1, fc.constantFrom(...ODD_NON_JSON)],
  [2, fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String)],
  [1, fc.double().map((n) => JSON.stringify(n) ?? 'null')],
  [2, fc.string({ unit: 'binary', maxLength: 30 }).map((s) => JSON.stringify(s))],
  [2, fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null')],
  [1, fc.constantFrom(100, 513, 5000, 50_000).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`)],
  [1, fc.constantFrom(100, 600).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`)],
  [1, fc.constantFrom(10_000, 100_000).map((n) => JSON.stringify('x'.repeat(n)))],
);

/** Members of a JSON object as raw text pairs, so duplicates, odd names and invalid values survive. */
type Members = Array<[name: string, value: string]>;
const objectText = (members: Members) =>
  `{${members.map(([name, value]) => `${JSON.stringify(name)}:${value}`).join(',')}}`;

/** Spellings of a member name: Go matches some case-insensitively (§3.0.5), the others are unknown members. */
const variantsOf = (name: string) => [
  name.toUpperCase(),
  name[0]!.toUpperCase() + name.slice(1),
  name.replace(/_/g, ''),
  name.replace(/_/g, '-'),
  ` ${name}`,
  `${name} `,
  `${name}\u0000`,
  name.replace(/i/g, '\u0130'),
  name.replace(/s/g, '\u017f'),
];
const caseVariant = (name: string) => fc.constantFrom(...variantsOf(name));

type MemberMutation =
  | { kind: 'drop'; at: number }
  | { kind: 'odd'; at: number; value: string }
  | { kind: 'null'; at: number }
  | { kind: 'duplicate'; at: number; value: string; first: boolean }
  | { kind: 'rename'; at: number; variant: number }
  | { kind: 'unknown'; name: string; value: string };

const fraction = fc.double({ min: 0, max: 0.999, noNaN: true });

const memberMutation: fc.Arbitrary<MemberMutation> = weighted<MemberMutation>(
  [2, fc.record({ kind: fc.constant('drop' as const), at: fraction })],
  [5, fc.record({ kind: fc.constant('odd' as const), at: fraction, value: oddJsonValue })],
  [1, fc.record({ kind: fc.constant('null' as const), at: fraction })],
  [2, fc.record({ kind: fc.constant('duplicate' as const), at: fraction, value: oddJsonValue, first: fc.boolean() })],
  [2, fc.record({ kind: fc.constant('rename' as const), at: fraction, variant: fc.nat() })],
  [
    1,
    fc.record({
      kind: fc.constant('unknown' as const),
      name: fc.oneof(
        fc.string({ maxLength: 12 }),
        fc.constantFrom('source_id', 'user_id', '__proto__', 'constructor', '_sync_scope_id'),
      ),
      value: oddJsonValue,
    }),
  ],
);

function mutateMembers(members: Members, mutations: MemberMutation[], renames: string[][]): Members {
  const out = members.map(([n, v]) => [n, v] as [string, string]);
  for (const m of mutations) {
    if (m.kind === 'unknown') {
      out.push([m.name, m.value]);
      continue;
    }
    if (out.length === 0) continue;
    const i = Math.floor(m.at * out.length);
    const [name, value] = out[i]!;
    if (m.kind === 'drop') out.splice(i, 1);
    else if (m.kind === 'odd') out[i] = [name, m.value];
    else if (m.kind === 'null') out[i] = [name, 'null'];
    else if (m.kind === 'duplicate') {
      if (m.first) out.unshift([name, m.value]);
      else out.push([name, m.value]);
    } else {
      const variants = renames[members.findIndex(([n]) => n === name)] ?? [name.toUpperCase()];
      out[i] = [variants[m.variant % variants.length]!, value];
    }
  }
  return out;
}

/** A member of a generated object: its valid raw values, and optionally its own odd ones (else wrong-typed JSON). */
type Field = fc.Arbitrary<string> | { valid: fc.Arbitrary<string>; odd: fc.Arbitrary<string> };
const validOf = (field: Field) => (field instanceof fc.Arbitrary ? field : field.valid);
const oddOf = (field: Field) =>
  field instanceof fc.Arbitrary ? oddJsonValue : weighted<string>([3, field.odd], [1, oddJsonValue]);

/**
 * A JSON object of `fields`. Valid: every field with a valid value. Fault: one field with an odd
 * value, or one to three member mutations (drop, wrong type, null, duplicate, case variant, unknown
 * member), or random members, or not an object at all. Mixed: mostly valid.
 */
export function objectBody(fields: Record<string, Field>, mode: Mode): fc.Arbitrary<string> {
  const names = Object.keys(fields);
  const build = (value: (name: string) => fc.Arbitrary<string>) =>
    fc.tuple(...names.map((name) => value(name).map((v) => [name, v] as [string, string])));
  const valid = build((name) => validOf(fields[name]!));
  if (mode === 'valid') return valid.map(objectText);
  const oneOdd = fc
    .constantFrom(...names)
    .chain((broken) => build((name) => (name === broken ? oddOf(fields[name]!) : validOf(fields[name]!))))
    .map(objectText);
  const mutated = fc
    .tuple(valid, fc.array(memberMutation, { minLength: 1, maxLength: 3 }))
    .map(([members, mutations]) => objectText(mutateMembers(members, mutations, names.map(variantsOf))));
  const randomMembers = fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...names), fc.constantFrom(...names).chain(caseVariant), fc.string({ maxLength: 10 })),
        oddJsonValue,
      ),
      { maxLength: 5 },
    )
    .map(objectText);
  const fault = weighted<string>([5, oneOdd], [5, mutated], [1, randomMembers], [1, oddJsonValue]);
  return mode === 'fault' ? fault : weighted<string>([3, valid.map(objectText)], [1, fault]);
}

// ---------- body text and bytes -----------------------------------------------------------------

type TextMutation =
  | { kind: 'none' }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'append'; text: string }
  | { kind: 'prefix'; text: string }
  | { kind: 'wrap'; open: string; close: string }
  | { kind: 'replace'; bytes: 'empty' | 'random' | 'oversize'; text: string };

const textMutation: fc.Arbitrary<TextMutation> = weighted<TextMutation>(
  [5, fc.record({ kind: fc.constant('truncate' as const), at: fraction })],
  [
    3,
    fc.record({
      kind: fc.constant('insert' as const),
      at: fraction,
      text: fc.oneof(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }),
        fc.constantFrom(',', ':', '"', '\\', '}', ']', '\u0000', '\n'),
      ),
    }),
  ],
  [
    2,
    fc.record({
      kind: fc.constant('append' as const),
      text: fc.constantFrom(' {}', ' x', '\u0000', '}', ',', ' null', '\n\n{"a":1}', ' /* c */'),
    }),
  ],
  [
    2,
    fc.record({
      kind: fc.constant('prefix' as const),
      text: fc.constantFrom('\ufeff', ' \n\t', ")]}'\n", '\u0000', 'null'),
    }),
  ],
  [
    1,
    fc.record({
      kind: fc.constant('wrap' as const),
      open: fc.constantFrom('[', '{"a":', '"'),
      close: fc.constantFrom(']', '}', '"'),
    }),
  ],
  [
    2,
    fc.record({
      kind: fc.constant('replace' as const),
      bytes: fc.constant('empty' as const),
      text: fc.constantFrom('', ' ', '\n', 'null', '{}', '[]', '""', '0'),
    }),
  ],
  [
    1,
    fc.record({
      kind: fc.constant('replace' as const),
      bytes: fc.constant('random' as const),
      text: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
    }),
  ],
  [
    1,
    fc.record({
      kind: fc.constant('replace' as const),
      bytes: fc.constant('oversize' as const),
      text: fc.constant(''),
    }),
  ],
);

/** Byte sequences that are not UTF-8: stray continuation, overlong, surrogate, beyond U+10FFFF, truncated. */
const INVALID_UTF8 = [
  [0xff],
  [0xfe, 0xff],
  [0x80],
  [0xc0, 0xaf],
  [0xc3, 0x28],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x82],
];

type ByteMutation = { kind: 'none' } | { kind: 'invalid-utf8'; at: number; bytes: number[] } | { kind: 'utf16' };
const byteMutation: fc.Arbitrary<ByteMutation> = weighted<ByteMutation>(
  [5, fc.record({ kind: fc.constant('invalid-utf8' as const), at: fraction, bytes: fc.constantFrom(...INVALID_UTF8) })],
  [1, fc.constant({ kind: 'utf16' as const })],
);

function applyMutations(text: string, t: TextMutation, b: ByteMutation, world: FuzzWorld): Buffer {
  let out = text;
  switch (t.kind) {
    case 'none':
      break;
    case 'truncate':
      out = text.slice(0, Math.floor(t.at * text.length));
      break;
    case 'insert': {
      const at = Math.floor(t.at * (text.length + 1));
      out = text.slice(0, at) + t.text + text.slice(at);
      break;
    }
    case 'append':
      out = text + t.text;
      break;
    case 'prefix':
      out = t.text + text;
      break;
    case 'wrap':
      out = t.open + text + t.close;
      break;
    case 'replace':
      if (t.bytes === 'random') return Buffer.from(t.text, 'latin1');
      out =
        t.bytes === 'empty'
          ? t.text
          : `{"pad":"${'x'.repeat(world.maxBodyBytes)}",${text.startsWith('{') ? text.slice(1) : `"v":${text}}`}`;
  }
  if (b.kind === 'utf16') return Buffer.from(out, 'utf16le');
  const bytes = Buffer.from(out, 'utf8');
  if (b.kind === 'none') return bytes;
  // prefer a position inside a string literal, where a lenient decoder would keep the bytes
  const quote = bytes.indexOf(0x22, Math.floor(b.at * bytes.length));
  const at = quote >= 0 ? quote + 1 : Math.floor(b.at * bytes.length);
  return Buffer.concat([bytes.subarray(0, at), Buffer.from(b.bytes), bytes.subarray(at)]);
}

/** Body bytes from a JSON text: text mutations (site `text`) and byte mutations (site `bytes`) on top. */
function bodyBytes(json: fc.Arbitrary<string>, site: Site | 'none' | 'all', world: FuzzWorld): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      json,
      choose(modeAt(site, 'text'), fc.constant({ kind: 'none' as const }), textMutation),
      choose(modeAt(site, 'bytes'), fc.constant({ kind: 'none' as const }), byteMutation),
    )
    .map(([text, t, b]) => applyMutations(text, t, b, world));
}

// ---------- paths and queries -------------------------------------------------------------------

/**
 * Odd spellings of a path segment that names an id (raw, as on the request line). Raw bytes above 0x7E
 * and spaces are left out: Node's HTTP parser refuses such a request line itself (400, no body).
 */
const ODD_SEGMENTS = [
  '',
  '%20',
  '%',
  '%zz',
  '%FF',
  '%C3%28',
  '%00',
  '%2F',
  '%2e%2e',
  '..',
  '.',
  ';',
  'a;b=c',
  'null',
  'undefined',
  '0',
  '-1',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'not-a-uuid',
  '%E2%80%A8',
  `urn:uuid:${'1'.repeat(8)}-1111-1111-1111-${'1'.repeat(12)}`,
  'x'.repeat(3000),
  '%25',
  '%u0041',
  '*',
  '$',
  '~',
  "'",
  '(',
  ')',
];

/**
 * Spellings of a UUID accepted by Go's uuid.Parse and/or PostgreSQL's uuid input, applied by the suite
 * to the live id (`{spell:<name>:{push}}`): braces (also one of them), `urn:uuid:`, upper and mixed
 * case, no dashes, dashes every four digits, surrounding whitespace.
 */
export const UUID_SPELLINGS = [
  'braces',
  'open-brace',
  'close-brace',
  'urn',
  'URN',
  'upper',
  'mixed',
  'no-dashes',
  'braced-no-dashes',
  'dash-4',
  'space-before',
  'tab-after',
  'upper-urn-braced',
] as const;

/** One spelling of a canonical UUID, as it goes in a path segment (percent-encoded where needed). */
export function spellUuid(spelling: string, id: string): string {
  const bare = id.replace(/-/g, '');
  switch (spelling) {
    case 'braces':
      return `{${id}}`;
    case 'open-brace':
      return `{${id}`;
    case 'close-brace':
      return `${id}}`;
    case 'urn':
      return `urn:uuid:${id}`;
    case 'URN':
      return `URN:UUID:${id}`;
    case 'upper':
      return id.toUpperCase();
    case 'mixed':
      return [...id].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
    case 'no-dashes':
      return bare;
    case 'braced-no-dashes':
      return `{${bare}}`;
    case 'dash-4':
      return bare.replace(/(.{4})(?=.)/g, '$1-');
    case 'space-before':
      return `%20${id}`;
    case 'tab-after':
      return `${id}%09`;
    default:
      return `{URN:UUID:${id.toUpperCase()}}`;
  }
}

/** The id segment of a push or snapshot path: the live fixture, or the other user's, spellings of both, junk. */
const idSegment = (mode: Mode, own: string, other: string) =>
  choose(
    mode,
    fc.constant(own),
    weighted<string>(
      [2, fc.constant(other)],
      [
        2,
        fc.constantFrom(
          `${own}/`,
          `%7B${own}%7D`,
          `{${own}}`,
          `${own}%20`,
          `%20${own}`,
          `urn:uuid:${own}`,
          `${own}%00`,
          `${own}x`,
          `${own}%FF`,
        ),
      ],
      // spellings of the live id that Go's uuid.Parse or PostgreSQL's uuid input accept (issue 18): all are 404
      [4, fc.constantFrom(...UUID_SPELLINGS).map((spell) => `{spell:${spell}:${own}}`)],
      [2, fc.uuid()],
      [1, fc.uuid().map((u) => u.toUpperCase())],
      [1, fc.uuid().map((u) => u.replace(/-/g, ''))],
      [3, fc.constantFrom(...ODD_SEGMENTS)],
      [2, fc.string({ unit: 'binary', maxLength: 40 }).map(encode)],
    ),
  );

const ODD_INT_QUERY = [
  '',
  '0',
  '1',
  '2',
  '3',
  '-1',
  '+1',
  '-0',
  '007',
  '4999',
  '5000',
  '5001',
  '1000000',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
  '-9223372036854775809',
  '99999999999999999999999',
  '1e3',
  '1.5',
  '1.0',
  '%207',
  '7%20',
  '0x10',
  'NaN',
  'Infinity',
  'abc',
  '%',
  '%zz',
  '%FF',
  '%00',
  '%C3%28',
  '%D9%A3',
  '1,2',
  '+',
  '%2B1',
  '1%00',
  '[]',
  '%5B%5D',
];

/** A query string: valid values for `params`, or odd ones (case variants, unknown, repeated, bracketed names). */
function queryString(mode: Mode, params: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const names = Object.keys(params);
  const validPairs =
    names.length === 0
      ? fc.constant('')
      : fc
          .subarray(names)
          .chain((chosen) => fc.tuple(...chosen.map((n) => params[n]!.map((v) => `${n}=${v}`))))
          .map((pairs) => (pairs.length ? `?${pairs.join('&')}` : ''));
  const name =
    names.length > 0
      ? weighted<string>(
          [6, fc.constantFrom(...names)],
          [
            1,
            fc
              .constantFrom(...names)
              .chain(caseVariant)
              .map(encode),
          ],
          [1, fc.constantFrom(...names).map((p) => `${p}%5B%5D`)],
          [1, fc.constantFrom(...names).map((p) => `${p}[a]`)],
          [1, fc.string({ maxLength: 8 }).map(encode)],
        )
      : fc.string({ maxLength: 8 }).map(encode);
  const value = weighted<string>(
    [5, fc.constantFrom(...ODD_INT_QUERY)],
    [2, fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String)],
    [1, fc.string({ unit: 'binary', maxLength: 12 }).map(encode)],
  );
  const pair = weighted<string>(
    [8, fc.tuple(name, value).map(([n, v]) => `${n}=${v}`)],
    [1, name],
    [1, fc.constantFrom('=', '&', '==1', '&&&')],
  );
  const odd = weighted<string>(
    [8, fc.array(pair, { minLength: 1, maxLength: 4 }).map((pairs) => `?${pairs.join('&')}`)],
    [1, fc.constantFrom('?', '??', '?#x', '?a=%')],
  );
  return choose(mode, validPairs, odd);
}

// ---------- headers -----------------------------------------------------------------------------

const ODD_AUTHORIZATION = [
  '',
  'Bearer',
  'Bearer ',
  'bearer {token:alice}',
  'BEARER {token:alice}',
  'Bearer  {token:alice}',
  'Bearer {token:alice} extra',
  'Token {token:alice}',
  'Basic YWxpY2U6eA==',
  'Bearer x.y.z',
  'Bearer {token:carol}',
  'Bearer {token:bob}',
  'Bearer {token:alice}.',
  'Bearer .{token:alice}',
  `Bearer ${'a'.repeat(4000)}`,
  'Bearer \u00ff\u00fe',
  'Bearer {token:alice}\u00a0',
  'Bearer\t{token:alice}',
  'Bearer null',
  'Bearer undefined',
  // valid tokens of users with odd ids (see ODD_USERS)
  'Bearer {token:quotes}',
  'Bearer {token:unicode}',
  'Bearer {token:longest}',
  'Bearer {token:toolong}',
  'Bearer {token:nul}',
  'Bearer {token:padded}',
];

/** Users with odd ids, for whom the suites sign valid tokens: `{token:<name>}`. */
export const ODD_USERS: Record<string, string> = {
  quotes: `o'dd "user" <b>&amp; \\ %s`,
  unicode: 'ü\u2028\u0085\ufeff\u{1F600}',
  longest: 'u'.repeat(512),
  toolong: 'u'.repeat(513),
  nul: 'a\u0000b',
  padded: '\u3000 alice \t',
};
const oddAuthorization = weighted<string[] | string | undefined>(
  [1, fc.constant(undefined)],
  [6, fc.constantFrom(...ODD_AUTHORIZATION)],
  [1, headerText(60).map((v) => `Bearer ${v}`)],
  [1, fc.constant(['Bearer {token:carol}', 'Bearer {token:alice}'])],
);

const ODD_SOURCES = [
  '',
  '   ',
  '\t',
  'x'.repeat(512),
  'x'.repeat(513),
  'x'.repeat(4000),
  utf8AsLatin1('s\u00e9\u00e8'),
  '\u00ff\u00fe',
  utf8AsLatin1('\u2028'),
  utf8AsLatin1('\ufeff{source}'),
  '{source} ',
  FUZZ_SOURCES.aliceOther,
  FUZZ_SOURCES.bob,
  '%00',
  'a\tb',
  "'; DROP TABLE sync.bundle_log; --",
  '\u0085x',
];
const oddSource = weighted<string[] | string | undefined>(
  [1, fc.constant(undefined)],
  [6, fc.constantFrom(...ODD_SOURCES)],
  [1, headerText(30)],
  [1, fc.constant(['{source}', FUZZ_SOURCES.aliceOther])],
);

const oddContentType = weighted<string | undefined>(
  [1, fc.constant(undefined)],
  [
    4,
    fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'application/octet-stream',
      '*/*',
      'garbage',
      '',
      'application/json; charset=utf-8; boundary=',
      'application/merge-patch+json',
      'text/event-stream',
    ),
  ],
);

const FORBIDDEN_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'expect',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'authorization',
  'oversync-source-id',
  'content-type',
]);
const headerName = fc
  .stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/)
  .filter((n) => !FORBIDDEN_HEADERS.has(n.toLowerCase()));

const extraHeader = weighted<[string, string]>(
  [
    3,
    fc.constantFrom<[string, string]>(
      ['Accept', 'text/html'],
      ['Accept', ''],
      ['Accept-Encoding', 'gzip, br, zstd'],
      ['Content-Encoding', 'gzip'],
      ['Content-Encoding', 'br'],
      ['X-Forwarded-For', '1.2.3.4, ::1'],
      ['Origin', 'http://evil.example'],
      ['Cookie', 'session=1; a=b'],
      ['X-HTTP-Method-Override', 'DELETE'],
      ['Range', 'bytes=0-1'],
      ['If-None-Match', '*'],
      ['If-Modified-Since', 'garbage'],
      ['Accept-Charset', 'utf-16'],
      ['X-Request-Id', '\u00ff'],
      ['Last-Event-ID', '5'],
      ['Last-Event-ID', '-1'],
      ['Last-Event-ID', '9223372036854775808'],
      ['Last-Event-ID', 'abc'],
      ['Last-Event-ID', ''],
    ),
  ],
  [1, fc.tuple(headerName, headerText(40))],
);

type HeaderPart = 'auth' | 'source' | 'type' | 'extras';

/** Actor, content type and extra headers; in a fault, one part (or, mixed, any) is odd. */
function caseHeaders(mode: Mode, withBody: boolean): fc.Arbitrary<Array<[string, string | string[]]>> {
  const parts: HeaderPart[] = withBody ? ['auth', 'source', 'type', 'extras'] : ['auth', 'source', 'extras'];
  const broken: fc.Arbitrary<HeaderPart | 'none' | 'all'> =
    mode === 'valid'
      ? fc.constant('none' as const)
      : mode === 'fault'
        ? fc.constantFrom(...parts)
        : fc.constant('all' as const);
  return broken
    .chain((part) => {
      const at = (p: HeaderPart): Mode => (part === 'all' ? 'mixed' : part === p ? 'fault' : 'valid');
      return fc.tuple(
        choose<string | string[] | undefined>(at('auth'), fc.constant('Bearer {token:alice}'), oddAuthorization),
        choose<string | string[] | undefined>(at('source'), fc.constant('{source}'), oddSource),
        withBody
          ? choose<string | undefined>(at('type'), fc.constant('application/json'), oddContentType)
          : fc.constant(undefined),
        choose<Array<[string, string]>>(
          at('extras'),
          fc.constant([]),
          fc.array(extraHeader, { minLength: 1, maxLength: 3 }),
        ),
      );
    })
    .map(([auth, source, type, extras]) => {
      const headers: Array<[string, string | string[]]> = [];
      if (auth !== undefined) headers.push(['Authorization', auth]);
      if (source !== undefined) headers.push(['Oversync-Source-ID', source]);
      if (type !== undefined) headers.push(['Content-Type', type]);
      const seen = new Set<string>();
      for (const [name, value] of extras) {
        if (seen.has(name.toLowerCase())) continue;
        seen.add(name.toLowerCase());
        headers.push([name, value]);
      }
      return headers;
    });
}

const framingOf = (mode: Mode) =>
  choose<FuzzCase['framing']>(
    mode,
    fc.constant('exact' as const),
    weighted<FuzzCase['framing']>([3, fc.constant('chunked' as const)], [1, fc.constant('long' as const)]),
  );

// ---------- push rows ---------------------------------------------------------------------------

const BAD_BASE64 = fc.constantFrom(
  '"abc"',
  '"a==="',
  '"@@@@"',
  '" AAAA"',
  '"AA\\nAA"',
  '"AAAA="',
  '5',
  '[]',
  '"AAAA\\u0000"',
);
const base64Text: Field = {
  valid: fc.uint8Array({ maxLength: 24 }).map((b) => JSON.stringify(Buffer.from(b).toString('base64'))),
  odd: BAD_BASE64,
};
const nameText = fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s));

/** Payload columns per registered table, `{id}` being the row key and foreign keys alice's rows. */
function payloadFields(table: string, world: FuzzWorld): Record<string, Field> {
  const fk = weighted<string>(
    [3, fc.constantFrom(...world.aliceUserIds).map((id) => JSON.stringify(id))],
    [1, fc.uuid().map((u) => JSON.stringify(u))],
    [1, fc.constant('null')],
  );
  const id = {
    valid: fc.constant('"{id}"'),
    odd: fc.constantFrom('"{ID}"', '"not-a-uuid"', 'null', '7', '"00000000-0000-4000-8000-000000000000"', '""'),
  };
  switch (table) {
    case 'posts':
      return { id, title: nameText, content: nameText, author_id: fk };
    case 'files':
      return { id, name: nameText, data: base64Text };
    case 'categories':
      return { id, name: nameText, parent_id: fc.constant('null') };
    case 'teams':
      return { id, name: nameText };
    case 'typed_rows':
      return {
        id,
        name: nameText,
        note: fc.oneof(nameText, fc.constant('null')),
        count_value: {
          valid: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
          odd: fc.constantFrom('9223372036854775808', '1.5', '"12"', '1e30'),
        },
        enabled_flag: {
          valid: fc.integer({ min: -5, max: 5 }).map(String),
          odd: fc.constantFrom('1.5', 'true', '"1"', '99999999999999999999'),
        },
        rating: {
          valid: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
          odd: fc.constantFrom('1e400', '"NaN"', '"Infinity"', '1e-400'),
        },
        data: base64Text,
        created_at: {
          valid: fc.constantFrom('"2024-01-02T03:04:05Z"', '"2024-01-02T03:04:05.123456+02:00"', 'null'),
          odd: fc.constantFrom('"yesterday"', '"infinity"', '"10000-01-01T00:00:00Z"', '"2024-02-30T00:00:00Z"'),
        },
      };
    default:
      return { id, name: nameText, email: nameText };
  }
}

const TABLES = ['users', 'posts', 'files', 'categories', 'teams', 'typed_rows'];

/**
 * One push row (raw JSON) for a registered table: faults at row level (site `row`) or in its payload (site `payload`).
 */
function pushRow(world: FuzzWorld, site: Site | 'none' | 'all'): fc.Arbitrary<string> {
  // mostly inserts of new rows (which can commit), else any op on new or existing rows (mostly conflicts)
  const target = weighted<[string, string, string]>(
    [5, fc.uuid().map((id) => [id, 'INSERT', '0'])],
    [
      2,
      fc.tuple(
        weighted<string>([1, fc.uuid()], [1, fc.constantFrom(...world.aliceUserIds)]),
        fc.constantFrom('INSERT', 'UPDATE', 'DELETE'),
        fc.constantFrom('0', '1', '2', '3'),
      ),
    ],
  );
  return fc.tuple(fc.constantFrom(...TABLES), target).chain(([table, [id, op, base]]) => {
    const fill = (text: string) => text.replaceAll('{id}', id).replaceAll('{ID}', id.toUpperCase());
    const fields: Record<string, Field> = {
      schema: {
        valid: fc.constant('"business"'),
        odd: fc.constantFrom(
          '"Business"',
          '" business "',
          '""',
          '"public"',
          '"sync"',
          '"pg_catalog"',
          '"information_schema"',
          '"bus iness"',
          '"business\\"; --"',
          `"${'b'.repeat(300)}"`,
        ),
      },
      table: {
        valid: fc.constant(JSON.stringify(table)),
        odd: fc.constantFrom(
          '"USERS"',
          '" users"',
          '"secrets"',
          '"bundle_log"',
          '"user_state"',
          '""',
          '"users;"',
          '"us\\u0000ers"',
        ),
      },
      key: {
        valid: fc.constant(`{"id":${JSON.stringify(id)}}`),
        odd: fc
          .constantFrom(
            '{}',
            '{"id":7}',
            '{"ID":"{id}"}',
            '{"id":"{ID}"}',
            '{"id":"not-a-uuid"}',
            '{"id":"{id}","extra":1}',
            '[]',
            '"{id}"',
            '{"id":null}',
            '{"id":"{id}","id":"x"}',
            '{"id":"{{id}}"}',
          )
          .map(fill),
      },
      op: {
        valid: fc.constant(JSON.stringify(op)),
        odd: fc.constantFrom(
          '"insert"',
          '" UPDATE "',
          '"UPSERT"',
          '"\u0131nsert"',
          '""',
          '1',
          '"DELETE\\u0000"',
          '"delete"',
        ),
      },
      base_row_version: {
        valid: fc.constant(base),
        odd: fc.constantFrom('-1', '9223372036854775807', '9223372036854775808', '1.5', '"1"', '1e3'),
      },
    };
    if (op !== 'DELETE') fields.payload = objectBody(payloadFields(table, world), modeAt(site, 'payload')).map(fill);
    return objectBody(fields, modeAt(site, 'row'));
  });
}

// ---------- endpoints ---------------------------------------------------------------------------

export interface EndpointSpec {
  name: string;
  /** share of the case budget */
  weight: number;
  arbitrary: (world: FuzzWorld) => fc.Arbitrary<FuzzCase>;
}

interface CaseShape {
  endpoint: string;
  method: string;
  sites: Site[];
  path: (site: Site | 'none' | 'all') => fc.Arbitrary<string>;
  /** JSON text of the body, for POST routes */
  body?: (site: Site | 'none' | 'all', world: FuzzWorld) => fc.Arbitrary<string>;
  source?: fc.Arbitrary<string>;
  plannedRowCount?: (body: string) => fc.Arbitrary<number>;
}

/** A generator of cases of one route: pick the broken site, then build each part valid or broken. */
function route(shape: CaseShape): (world: FuzzWorld) => fc.Arbitrary<FuzzCase> {
  const sites: Site[] = [...shape.sites, 'headers', ...(shape.body ? (['text', 'bytes', 'framing'] as Site[]) : [])];
  return (world) =>
    faultSite(sites).chain((site) =>
      fc
        .record({
          site: fc.constant(site),
          path: shape.path(site),
          headers: caseHeaders(modeAt(site, 'headers'), shape.body !== undefined),
          json: shape.body ? shape.body(site, world) : fc.constant(undefined),
          framing: shape.body ? framingOf(modeAt(site, 'framing')) : fc.constant('exact' as const),
          source: shape.source ?? fc.constant<string>(FUZZ_SOURCES.alice),
        })
        .chain(({ json, ...c }) =>
          fc
            .record({
              body: json === undefined ? fc.constant(undefined) : bodyBytes(fc.constant(json), site, world),
              plannedRowCount:
                shape.plannedRowCount && json !== undefined ? shape.plannedRowCount(json) : fc.constant(undefined),
            })
            .map(({ body, plannedRowCount }): FuzzCase => ({
              endpoint: shape.endpoint,
              method: shape.method,
              ...c,
              body,
              ...(plannedRowCount === undefined ? {} : { plannedRowCount }),
            })),
        ),
    );
}

const positive = (max: number) => fc.integer({ min: 1, max }).map(String);
const checkpoint = fc.integer({ min: 0, max: 3 }).map(String);
const at = modeAt;

/** Every route of spec §3 with its generator; weights sum to 100. */
export const ENDPOINTS: EndpointSpec[] = [
  {
    name: 'POST /sync/connect',
    weight: 7,
    arbitrary: route({
      endpoint: 'connect',
      method: 'POST',
      sites: ['body', 'query'],
      path: (s) => queryString(at(s, 'query'), {}).map((q) => `/sync/connect${q}`),
      body: (s) => objectBody({ has_local_pending_rows: fc.constantFrom('true', 'false') }, at(s, 'body')),
    }),
  },
  {
    name: 'POST /sync/push-sessions',
    weight: 10,
    arbitrary: route({
      endpoint: 'push-create',
      method: 'POST',
      sites: ['body'],
      path: () => fc.constant('/sync/push-sessions'),
      source: fc.constant(FUZZ_SOURCES.alicePush),
      body: (s) =>
        objectBody(
          {
            // 1 is the next bundle of this source (nothing is ever committed from it), so a valid create is accepted
            source_bundle_id: { valid: fc.constant('1'), odd: fc.constantFrom('2', '0', '-1') },
            planned_row_count: {
              valid: positive(3),
              odd: fc.constantFrom('0', '-1', '10000001', '9223372036854775807'),
            },
            initialization_id: {
              valid: fc.constantFrom('""', 'null'),
              odd: fc.constantFrom('"00000000-0000-4000-8000-000000000000"', '"not-a-uuid"', '" "'),
            },
          },
          at(s, 'body'),
        ),
    }),
  },
  {
    name: 'POST /sync/push-sessions/:push_id/chunks (then commit)',
    weight: 22,
    arbitrary: (world) =>
      route({
        endpoint: 'chunk',
        method: 'POST',
        sites: ['path', 'body', 'row', 'row', 'payload', 'payload'],
        path: (s) => idSegment(at(s, 'path'), '{push}', '{bob_push}').map((id) => `/sync/push-sessions/${id}/chunks`),
        body: (s) =>
          weighted<string>(
            [
              30,
              fc.array(pushRow(world, s), { minLength: 1, maxLength: 3 }).chain((rows) =>
                objectBody(
                  {
                    start_row_ordinal: { valid: fc.constant('0'), odd: fc.constantFrom('1', '-1', '3') },
                    rows: fc.constant(`[${rows.join(',')}]`),
                  },
                  at(s, 'body'),
                ),
              ),
            ],
            [
              1,
              fc
                .constantFrom(5001, 6000)
                .map((n) => `{"start_row_ordinal":0,"rows":[${Array(n).fill('{}').join(',')}]}`),
            ],
          ),
        // usually exactly the rows sent, so an accepted chunk completes the session and is committed
        plannedRowCount: (json) => {
          const rows = (json.match(/"table":/g) ?? []).length || 1;
          return weighted<number>([4, fc.constant(Math.min(rows, 3))], [1, fc.integer({ min: 1, max: 3 })]);
        },
      })(world),
  },
  {
    name: 'POST /sync/push-sessions/:push_id/commit',
    weight: 6,
    arbitrary: route({
      endpoint: 'commit',
      method: 'POST',
      sites: ['path', 'body'],
      path: (s) => idSegment(at(s, 'path'), '{push}', '{bob_push}').map((id) => `/sync/push-sessions/${id}/commit`),
      body: (s) => choose(at(s, 'body'), fc.constant(''), oddJsonValue),
    }),
  },
  {
    name: 'DELETE /sync/push-sessions/:push_id',
    weight: 6,
    arbitrary: route({
      endpoint: 'push-delete',
      method: 'DELETE',
      sites: ['path'],
      path: (s) => idSegment(at(s, 'path'), '{push}', '{bob_push}').map((id) => `/sync/push-sessions/${id}`),
    }),
  },
  {
    name: 'GET /sync/committed-bundles/:bundle_seq/rows',
    weight: 8,
    arbitrary: route({
      endpoint: 'committed-rows',
      method: 'GET',
      sites: ['path', 'query'],
      path: (s) =>
        fc
          .tuple(
            choose(
              at(s, 'path'),
              positive(3),
              weighted<string>([3, fc.constantFrom(...ODD_INT_QUERY)], [1, fc.constantFrom(...ODD_SEGMENTS)]),
            ),
            queryString(at(s, 'query'), { after_row_ordinal: checkpoint, max_rows: positive(5000) }),
          )
          .map(([seq, q]) => `/sync/committed-bundles/${seq}/rows${q}`),
    }),
  },
  {
    name: 'GET /sync/pull',
    weight: 8,
    arbitrary: route({
      endpoint: 'pull',
      method: 'GET',
      sites: ['query'],
      path: (s) =>
        queryString(at(s, 'query'), {
          after_bundle_seq: checkpoint,
          max_bundles: positive(5000),
          target_bundle_seq: checkpoint,
        }).map((q) => `/sync/pull${q}`),
    }),
  },
  {
    name: 'GET /sync/watch',
    weight: 5,
    arbitrary: route({
      endpoint: 'watch',
      method: 'GET',
      sites: ['query'],
      path: (s) => queryString(at(s, 'query'), { after_bundle_seq: checkpoint }).map((q) => `/sync/watch${q}`),
    }),
  },
  {
    name: 'POST /sync/snapshot-sessions',
    weight: 7,
    arbitrary: route({
      endpoint: 'snapshot-create',
      method: 'POST',
      sites: ['body', 'body', 'query'],
      // a fresh source per case: an accepted rotation retires the source it came from
      source: fc.integer({ min: 1, max: 1_000_000_000 }).map((n) => `fuzz-a-s${n}`),
      path: (s) => queryString(at(s, 'query'), {}).map((q) => `/sync/snapshot-sessions${q}`),
      body: (s) =>
        weighted<string>(
          [1, fc.constantFrom('', 'null', '{}', '{"source_replacement":null}', '{"source_replacement":{}}')],
          [
            4,
            objectBody(
              {
                source_replacement: objectBody(
                  {
                    previous_source_id: {
                      valid: fc.constant('"{source}"'),
                      odd: fc.constantFrom('"fuzz-a-2"', `"${FUZZ_SOURCES.bob}"`, '""', '" {source} "'),
                    },
                    new_source_id: {
                      valid: fc.uuid().map((u) => JSON.stringify(`fuzz-new-${u}`)),
                      odd: fc.constantFrom(
                        '"{source}"',
                        '""',
                        `"${FUZZ_SOURCES.bob}"`,
                        `"${FUZZ_SOURCES.alice}"`,
                        '"   "',
                        `"${'n'.repeat(600)}"`,
                        '"\\u0000"',
                      ),
                    },
                    reason: {
                      valid: fc.constant('"history_pruned"'),
                      odd: fc.constantFrom('"HISTORY_PRUNED"', '""', '"other"', '"history_pruned "'),
                    },
                  },
                  at(s, 'body'),
                ),
              },
              s === 'all' ? 'mixed' : 'valid',
            ),
          ],
        ),
    }),
  },
  {
    name: 'GET /sync/snapshot-sessions/:snapshot_id',
    weight: 6,
    arbitrary: route({
      endpoint: 'snapshot-chunk',
      method: 'GET',
      sites: ['path', 'query'],
      path: (s) =>
        fc
          .tuple(
            idSegment(at(s, 'path'), '{snapshot}', '{bob_snapshot}'),
            queryString(at(s, 'query'), { after_row_ordinal: checkpoint, max_rows: positive(5000) }),
          )
          .map(([id, q]) => `/sync/snapshot-sessions/${id}${q}`),
    }),
  },
  {
    name: 'DELETE /sync/snapshot-sessions/:snapshot_id',
    weight: 4,
    arbitrary: route({
      endpoint: 'snapshot-delete',
      method: 'DELETE',
      sites: ['path'],
      path: (s) =>
        idSegment(at(s, 'path'), '{snapshot}', '{bob_snapshot}').map((id) => `/sync/snapshot-sessions/${id}`),
    }),
  },
  {
    name: 'GET /sync/capabilities',
    weight: 3,
    arbitrary: route({
      endpoint: 'capabilities',
      method: 'GET',
      sites: ['query'],
      path: (s) => queryString(at(s, 'query'), {}).map((q) => `/sync/capabilities${q}`),
    }),
  },
  {
    name: 'GET /syncx/health, /syncx/status',
    weight: 3,
    arbitrary: route({
      endpoint: 'syncx',
      method: 'GET',
      sites: ['query'],
      path: (s) =>
        fc
          .tuple(fc.constantFrom('/syncx/health', '/syncx/status'), queryString(at(s, 'query'), {}))
          .map(([p, q]) => `${p}${q}`),
    }),
  },
  {
    name: 'wrong methods and unknown paths under /sync and /syncx',
    weight: 5,
    arbitrary: (world) =>
      fc
        .record({
          method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'),
          path: weighted<string>(
            [
              3,
              fc.constantFrom(
                '/sync/connect',
                '/sync/push-sessions',
                '/sync/push-sessions/{push}',
                '/sync/push-sessions/{push}/chunks',
                '/sync/pull',
                '/sync/watch',
                '/sync/capabilities',
                '/syncx/status',
                '/sync/snapshot-sessions/{snapshot}',
                '/sync/committed-bundles/1/rows',
                '/sync/snapshot-sessions',
              ),
            ],
            [
              2,
              fc.constantFrom(
                '/sync',
                '/sync/',
                '/syncx',
                '/sync//pull',
                '/sync/pull/',
                '/sync/PULL',
                '/sync/push-sessions/{push}/chunks/x',
                '/sync/committed-bundles/1',
                '/sync/%2e%2e/syncx/status',
                '/sync/pull%00',
                '/sync/push-sessions//chunks',
                '/sync/%FF',
                '/syncx/health/x',
                '/sync/watch/..',
              ),
            ],
            [1, fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `/sync/${encode(s)}`)],
          ),
          headers: caseHeaders('mixed', true),
          body: bodyBytes(oddJsonValue, 'all', world),
        })
        .map((c): FuzzCase => ({
          endpoint: 'routing',
          site: 'all',
          source: FUZZ_SOURCES.alice,
          framing: 'exact',
          ...c,
          body: c.method === 'GET' || c.method === 'HEAD' ? undefined : c.body,
        })),
  },
];

// ---------- the HTTP parser layer ---------------------------------------------------------------

/** A request Node's HTTP parser refuses before any framework code runs, as raw bytes (issue 18). */
export interface ParserCase {
  kind: 'oversize-headers' | 'method' | 'long-body' | 'request-line';
  bytes: Buffer;
}

const UNKNOWN_METHODS = [
  'get',
  'post',
  'Get',
  'FOO',
  'GETT',
  'G ET',
  'PRI',
  'BREW',
  'delete',
  'G\u00c9T',
  'M-SEARCH ',
  '\u0000GET',
];

/** Oversize headers, unknown or lower-case methods, a body longer than its Content-Length, broken request lines. */
export const parserCase: fc.Arbitrary<ParserCase> = weighted<ParserCase>(
  [
    3,
    fc
      .tuple(
        fc.integer({ min: 17_000, max: 90_000 }),
        fc.constantFrom('/sync/pull', '/sync/connect', '/syncx/health', '/dummy-signin'),
        fc.boolean(),
      )
      .map(([size, path, many]) => ({
        kind: 'oversize-headers' as const,
        bytes: Buffer.from(
          `GET ${path} HTTP/1.1\r\nHost: x\r\n` +
            (many
              ? Array.from({ length: Math.ceil(size / 100) }, (_, i) => `X-H${i}: ${'v'.repeat(95)}\r\n`).join('')
              : `X-Big: ${'a'.repeat(size)}\r\n`) +
            `\r\n`,
          'latin1',
        ),
      })),
  ],
  [
    3,
    fc
      .tuple(
        fc.oneof(fc.constantFrom(...UNKNOWN_METHODS), fc.stringMatching(/^[a-z]{1,8}$/)),
        fc.constantFrom('/sync/pull', '/sync/connect', '/sync/push-sessions', '/syncx/health'),
      )
      .map(([method, path]) => ({
        kind: 'method' as const,
        bytes: Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1'),
      })),
  ],
  [
    3,
    fc
      .tuple(
        fc.integer({ min: 0, max: 31 }),
        fc.oneof(
          fc.constantFrom('garbage', '\r\n\r\n', 'GET / HTTP/1.1', '{"x":1}'),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
        ),
      )
      .map(([declared, extra]) => {
        const body = '{"has_local_pending_rows":false}';
        return {
          kind: 'long-body' as const,
          bytes: Buffer.from(
            `POST /sync/connect HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ` +
              `{token:alice}\r\nOversync-Source-ID: {source}\r\nContent-Type: ` +
              `application/json\r\nContent-Length: ${declared}\r\n\r\n${body}${extra}`,
            'utf8',
          ),
        };
      }),
  ],
  [
    1,
    fc
      .constantFrom(
        'GET /sync/pull HTTP/9.9\r\n\r\n',
        'GET\r\n\r\n',
        'GET /sync/pull HTTP/1.1\r\nBad Header\r\n\r\n',
        'GET /sync/pull HTTP/1.1\r\nContent-Length: x\r\n\r\n',
        'POST /sync/connect HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      )
      .map((text) => ({ kind: 'request-line' as const, bytes: Buffer.from(text, 'latin1') })),
  ],
);
