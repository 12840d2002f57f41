import { SetMetadata } from '@nestjs/common';
import type { KnownErrorCode } from '@oversync/protocol';

export const SYNC_ENDPOINT = 'oversync:endpoint';

/** The endpoint's generic failure: what an unexpected error becomes (spec §3.0.3). */
export interface SyncEndpointFailure {
  code: KnownErrorCode;
  message: string;
}

export const SyncEndpoint = (code: KnownErrorCode, message: string) =>
  SetMetadata(SYNC_ENDPOINT, { code, message } satisfies SyncEndpointFailure);
