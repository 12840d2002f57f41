import { Get, Param } from '@nestjs/common';
import {
  DEFAULT_BUNDLES_PER_PULL,
  MAX_BUNDLES_PER_PULL,
  type CommittedBundleRowsResponse,
  type EncodedJson,
  type GoJsonValue,
  type PullResponse,
} from '@oversync/protocol';
import { ApiOkResponse, ApiOperation, ApiParam } from '../openapi/optional-swagger.js';
import { ApiInt64Query, ApiSyncErrors } from '../openapi/sync-openapi.js';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { Int64Pipe } from '../http/int64.pipe.js';
import { CheckedQuery } from '../http/checked-params.js';
import { CommittedBundleRowsResponseDto, PullResponseDto } from './pull.dto.js';
import { ReturnedWireReply, type WireAnswer } from '../http/wire-stream.js';
import { PullService } from './pull.service.js';
import { SyncController } from '../http/sync-controller.decorator.js';

const CHUNK_INVALID = 'committed_bundle_chunk_invalid';

/**
 * Pull and committed-bundle row fetch over HTTP (spec §3.6, §3.7): int64 parameters through
 * Int64Pipe (checked as extracted: CheckedQuery), the answer encoded like Go by SyncEndpointInterceptor.
 */
@SyncController()
export class PullController {
  constructor(private readonly pullService: PullService) {}

  @Get('committed-bundles/:bundle_seq/rows')
  @ApiOperation({ summary: 'Page through the authoritative rows of one committed bundle' })
  @ApiParam({
    name: 'bundle_seq',
    schema: { type: 'integer', format: 'int64', minimum: 1 },
    description: 'a bundle_seq of this user',
  })
  @ApiInt64Query('after_row_ordinal', 'rows already received (default 0)', { minimum: 0 })
  @ApiInt64Query('max_rows', 'page size (default and maximum: capabilities bundle_limits.*_committed_bundle_chunk)', {
    minimum: 1,
  })
  @ApiOkResponse({ type: CommittedBundleRowsResponseDto })
  @ApiSyncErrors({
    400: ['committed_bundle_chunk_invalid'],
    404: ['committed_bundle_not_found'],
    409: ['history_pruned', 'scope_uninitialized', 'scope_initializing'],
    500: ['committed_bundle_rows_failed'],
  })
  @SyncEndpoint('committed_bundle_rows_failed')
  async committedRows(
    @Actor() actor: SyncActor,
    // a Nest @Param: Swagger lists it first (the document is the same as ever)
    @Param('bundle_seq', new Int64Pipe('bundle_seq', { code: CHUNK_INVALID, required: true })) bundleSeq: bigint,
    @CheckedQuery('after_row_ordinal', new Int64Pipe('after_row_ordinal', { code: CHUNK_INVALID }))
    after: bigint | null,
    @CheckedQuery('max_rows', new Int64Pipe('max_rows', { code: CHUNK_INVALID })) maxRows: bigint | null,
  ): Promise<WireAnswer<CommittedBundleRowsResponse<EncodedJson[]>>> {
    // a page of more than 1,000 rows streams while its transaction reads it
    const reply = new ReturnedWireReply<CommittedBundleRowsResponse<EncodedJson[]>>();
    return reply.answer(
      this.pullService.committedRows(
        actor,
        {
          bundleSeq,
          afterRowOrdinal: after,
          maxRows: maxRows === null ? null : Number(maxRows > 1_000_000n ? 1_000_000n : maxRows),
        },
        reply,
      ),
    );
  }

  @Get('pull')
  @ApiOperation({ summary: 'Pull committed bundles after a checkpoint, up to a stable sequence' })
  @ApiInt64Query('after_bundle_seq', 'the device checkpoint: bundles after this one (default 0)', { minimum: 0 })
  @ApiInt64Query('max_bundles', `bundles per page (default ${DEFAULT_BUNDLES_PER_PULL})`, {
    minimum: 1,
    maximum: MAX_BUNDLES_PER_PULL,
  })
  @ApiInt64Query('target_bundle_seq', 'the stable_bundle_seq of the first page while has_more (default 0 = current)', {
    minimum: 0,
  })
  @ApiOkResponse({ type: PullResponseDto })
  @ApiSyncErrors({
    400: ['invalid_request'],
    409: ['history_pruned', 'scope_uninitialized', 'scope_initializing'],
    500: ['pull_failed'],
  })
  @SyncEndpoint('pull_failed')
  async pull(
    @Actor() actor: SyncActor,
    @CheckedQuery('after_bundle_seq', new Int64Pipe('after_bundle_seq', { code: 'invalid_request', min: 0n }))
    after: bigint | null,
    @CheckedQuery(
      'max_bundles',
      new Int64Pipe('max_bundles', { code: 'invalid_request', min: 1n, max: BigInt(MAX_BUNDLES_PER_PULL) }),
    )
    max: bigint | null,
    @CheckedQuery('target_bundle_seq', new Int64Pipe('target_bundle_seq', { code: 'invalid_request', min: 0n }))
    target: bigint | null,
  ): Promise<WireAnswer<PullResponse<GoJsonValue>>> {
    // a large page streams while its transaction reads it: the service answers on the reply
    const reply = new ReturnedWireReply<PullResponse<GoJsonValue>>();
    return reply.answer(
      this.pullService.pull(
        actor,
        {
          afterBundleSeq: after ?? 0n,
          maxBundles: Number(max ?? DEFAULT_BUNDLES_PER_PULL),
          targetBundleSeq: target ?? 0n,
        },
        reply,
      ),
    );
  }
}
