import { describe, expect, it } from '@jest/globals';
import { asyncContextFrames, validateEnvironment } from './app-config.js';

describe('the request log context setting (LOG_REQUEST_CONTEXT)', () => {
  it('defaults to on only where AsyncLocalStorage needs no promise hook', () => {
    expect(asyncContextFrames('20.20.2', [])).toBe(false);
    expect(asyncContextFrames('20.20.2', ['--experimental-async-context-frame'])).toBe(false);
    expect(asyncContextFrames('22.12.0', [])).toBe(false);
    expect(asyncContextFrames('22.12.0', ['--experimental-async-context-frame'])).toBe(true);
    expect(asyncContextFrames('24.0.0', [])).toBe(true);
    expect(asyncContextFrames('24.11.1', ['--no-async-context-frame'])).toBe(false);
  });

  it('follows the variable when it is set, and the runtime when it is not', () => {
    expect(validateEnvironment({ LOG_REQUEST_CONTEXT: 'true' }).logRequestContext).toBe(true);
    expect(validateEnvironment({ LOG_REQUEST_CONTEXT: 'off' }).logRequestContext).toBe(false);
    expect(validateEnvironment({}).logRequestContext).toBe(asyncContextFrames());
    expect(() => validateEnvironment({ LOG_REQUEST_CONTEXT: 'sometimes' })).toThrow(
      'LOG_REQUEST_CONTEXT must be true or false',
    );
  });
});
