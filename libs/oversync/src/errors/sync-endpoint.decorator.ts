import { SetMetadata } from '@nestjs/common';
import { genericErrorMessage, type KnownErrorCode } from '@oversync/protocol';

export const SYNC_ENDPOINT = 'oversync:endpoint';

/** The endpoint's generic failure: what an unexpected error becomes (spec §3.0.3). */
export interface SyncEndpointFailure {
  code: KnownErrorCode;
  message: string;
}

/** The endpoint's generic failure; the message defaults to the protocol's fixed text of `code`. */
export const SyncEndpoint = (code: KnownErrorCode, message = genericErrorMessage(code) ?? 'Internal server error') =>
  SetMetadata(SYNC_ENDPOINT, { code, message } satisfies SyncEndpointFailure);
