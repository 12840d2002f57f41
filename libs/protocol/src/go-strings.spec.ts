import { describe, expect, it } from '@jest/globals';
import { equalFoldAscii, goQuote, goToLower, goToUpper, goTrimSpace, parseGoInt64 } from './go-strings.js';

describe('goTrimSpace', () => {
  it('trims Unicode White_Space but keeps U+FEFF, unlike trim()', () => {
    expect(goTrimSpace('\u3000\u0085 a b\u2029\u00a0')).toBe('a b');
    expect(goTrimSpace('\ufeffa\ufeff')).toBe('\ufeffa\ufeff');
    expect(goTrimSpace('\u180ea')).toBe('\u180ea');
  });
});

describe('goToLower / goToUpper', () => {
  it('use simple per-code-point mappings', () => {
    expect(goToLower('Business.İD')).toBe('business.id');
    expect(goToLower('ΑΣ')).toBe('ασ');
    expect(goToUpper('insert')).toBe('INSERT');
    expect(goToUpper('straße')).toBe('STRAßE');
    expect(goToUpper('ﬁ')).toBe('ﬁ');
    // simple mapping of the Greek letters with ypogegrammeni (JavaScript's full mapping expands
    // them); parity seed 1233513693
    expect(goToUpper('\u1f90\u1fb3\u1ff3')).toBe('\u1f98\u1fbc\u1ffc');
  });
});

describe('equalFoldAscii', () => {
  it('matches Go EqualFold against an ASCII name', () => {
    expect(equalFoldAscii('_SYNC_SCOPE_ID', '_sync_scope_id')).toBe(true);
    expect(equalFoldAscii('_ſync_ſcope_id', '_sync_scope_id')).toBe(true);
    expect(equalFoldAscii('_sync_scope_ıd', '_sync_scope_id')).toBe(false);
    expect(equalFoldAscii('_sync_scope_id ', '_sync_scope_id')).toBe(false);
    expect(equalFoldAscii('\u212a', 'k')).toBe(true);
  });
});

describe('goQuote (%q)', () => {
  it.each([
    ['Bad-Schema', '"Bad-Schema"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['\u0000\u0007\u007f\n\v', '"\\x00\\a\\x7f\\n\\v"'],
    ['\u00a0\u2028é😀', '"\\u00a0\\u2028é😀"'],
    ['\u{1f8ff}', '"\\U0001f8ff"'],
    ['\ud800', '"�"'],
    ['\u{13460}', '"\\U00013460"'],
  ])('%j → %s', (text, expected) => {
    expect(goQuote(text)).toBe(expected);
  });
});

describe('parseGoInt64', () => {
  it.each([
    ['7', 7n],
    ['+7', 7n],
    ['-0', 0n],
    ['007', 7n],
    ['9223372036854775807', 9223372036854775807n],
    ['-9223372036854775808', -9223372036854775808n],
  ])('%j → %s', (text, expected) => {
    expect(parseGoInt64(text)).toBe(expected);
  });

  it.each(['', ' 7', '%207', '7.0', '7e0', '0x7', '1_000', '9223372036854775808', '+', '٣'])('rejects %j', (text) => {
    expect(parseGoInt64(text)).toBeUndefined();
  });
});
