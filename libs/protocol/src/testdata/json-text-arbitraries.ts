// fast-check generators of raw JSON *bytes*, valid and broken: odd number spellings, every escape,
// unpaired surrogate escapes, invalid UTF-8, duplicate member names, stray whitespace and junk.
import fc from 'fast-check';
import { trickyString } from './json-arbitraries.js';

const whitespace = fc.stringMatching(/^[ \t\r\n]{0,2}$/);

export const numberLiteral = fc
  .tuple(
    fc.constantFrom('', '-'),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,24}$/)),
    fc.option(fc.stringMatching(/^\.[0-9]{1,20}$/), { nil: '' }),
    fc.option(fc.stringMatching(/^[eE][+-]?[0-9]{1,3}$/), { nil: '' }),
  )
  .map((parts) => parts.join(''));

const escapeSequence = fc.oneof(
  fc.constantFrom(
    '\\"',
    '\\\\',
    '\\/',
    '\\b',
    '\\f',
    '\\n',
    '\\r',
    '\\t',
    '\\ud83d\\ude00',
    '\\uD800',
    '\\udfff\\ud800',
    '\\u2028',
    '\\u003C',
  ),
  fc.integer({ min: 0, max: 0xffff }).map((unit) => '\\u' + unit.toString(16).padStart(4, '0')),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => '\\u' + unit.toString(16).toUpperCase()),
);

const invalidUtf8 = fc.oneof(
  fc.integer({ min: 0x80, max: 0xff }).map((byte) => Buffer.from([byte])),
  fc.constantFrom(
    Buffer.from([0xe2, 0x82]),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0xc0, 0x80]),
    Buffer.from([0xf4, 0x90, 0x80, 0x80]),
    Buffer.from([0xf0, 0x9f, 0x98]),
    Buffer.from([0xe0, 0x80, 0xaf]),
  ),
);

/** Raw string content: well-formed text (raw `"`/`\`/controls escaped away), escapes, broken bytes. */
const stringContent = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: trickyString.map((text) => Buffer.from(JSON.stringify(text).slice(1, -1), 'utf8')) },
      { weight: 2, arbitrary: escapeSequence.map((escape) => Buffer.from(escape, 'latin1')) },
      { weight: 1, arbitrary: invalidUtf8 },
    ),
    { maxLength: 4 },
  )
  .map((parts) => Buffer.concat(parts));

export const stringLiteral = stringContent.map((content) =>
  Buffer.concat([Buffer.from('"'), content, Buffer.from('"')]),
);

function joined(parts: readonly Buffer[], separator: string): Buffer {
  const pieces: Buffer[] = [];
  parts.forEach((part, i) => {
    if (i > 0) pieces.push(Buffer.from(separator));
    pieces.push(part);
  });
  return Buffer.concat(pieces);
}

const jsonText: fc.Arbitrary<Buffer> = fc.letrec<{ value: Buffer }>((tie) => ({
  value: fc
    .tuple(
      whitespace,
      fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom('true', 'false', 'null').map((literal) => Buffer.from(literal)),
        numberLiteral.map((literal) => Buffer.from(literal)),
        stringLiteral,
        fc
          .array(tie('value'), { maxLength: 4 })
          .map((items) => Buffer.concat([Buffer.from('['), joined(items, ','), Buffer.from(']')])),
        fc
          .array(
            fc.tuple(
              fc.oneof(stringLiteral, fc.constantFrom(Buffer.from('"a"'), Buffer.from('"__proto__"'))),
              tie('value'),
            ),
            { maxLength: 4 },
          )
          .map((members) =>
            Buffer.concat([
              Buffer.from('{'),
              joined(
                members.map(([name, value]) => Buffer.concat([name, Buffer.from(':'), value])),
                ',',
              ),
              Buffer.from('}'),
            ]),
          ),
      ),
      whitespace,
    )
    .map(([before, value, after]) => Buffer.concat([Buffer.from(before), value, Buffer.from(after)])),
})).value;

/** JSON texts; about one in eight is corrupted by a junk byte somewhere. */
export const jsonTextBytes: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 7, arbitrary: jsonText },
  {
    weight: 1,
    arbitrary: fc
      .tuple(jsonText, fc.nat(), fc.constantFrom(',', ']', '}', '"', ':', 'x', '\\', '\u0001', ' '))
      .map(([text, at, junk]) => {
        const cut = at % (text.length + 1);
        return Buffer.concat([text.subarray(0, cut), Buffer.from(junk), text.subarray(cut)]);
      }),
  },
);
