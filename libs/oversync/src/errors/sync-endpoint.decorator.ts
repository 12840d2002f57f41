import { SetMetadata } from '@nestjs/common';

export const SYNC_ENDPOINT = 'oversync:endpoint';

/** The endpoint's generic failure: what an unexpected error becomes (spec §3.0.3). */
export interface SyncEndpointFailure {
  code: string;
  message: string;
}

export const SyncEndpoint = (code: string, message: string) =>
  SetMetadata(SYNC_ENDPOINT, { code, message } satisfies SyncEndpointFailure);
