import { describe, expect, it } from '@jest/globals';
import { PROTOCOL_PLACEHOLDER } from './index.js';
describe('smoke', () => { it('loads', () => { expect(PROTOCOL_PLACEHOLDER).toBe(1); }); });
