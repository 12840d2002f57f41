import { Injectable, type PipeTransform } from '@nestjs/common';
import type { KnownErrorCode } from '@oversync/protocol';
import { OversyncError } from '../errors/oversync.error.js';
import { parseInt64Param, queryValue } from './request-binding.js';

/** What an int64 query, path or header value must be; out of it is a 400 with `code` (spec §3). */
export interface Int64Rule {
  /** the envelope code of the refusal (`invalid_request`, `committed_bundle_chunk_invalid`, …) */
  code: KnownErrorCode;
  /** absent or empty is refused too ("must be an integer") */
  required?: boolean;
  min?: bigint;
  max?: bigint;
}

/**
 * An int64 parameter bound like Go's `strconv.ParseInt(s, 10, 64)` (the first value when repeated):
 * a bigint, or null when absent or empty; anything else is the rule's 400 naming the parameter.
 */
@Injectable()
export class Int64Pipe implements PipeTransform<unknown, bigint | null> {
  constructor(
    private readonly name: string,
    private readonly rule: Int64Rule,
  ) {}

  transform(value: unknown): bigint | null {
    const { code, required = false, min, max } = this.rule;
    const parsed = parseInt64Param(queryValue(value));
    if (parsed === undefined || (required && parsed === null))
      throw new OversyncError(code, `${this.name} must be an integer`);
    if (parsed === null) return null;
    if (min !== undefined && max !== undefined && (parsed < min || parsed > max))
      throw new OversyncError(code, `${this.name} must be between ${min} and ${max}`);
    if (min !== undefined && parsed < min) throw new OversyncError(code, `${this.name} must be >= ${min}`);
    return parsed;
  }
}
