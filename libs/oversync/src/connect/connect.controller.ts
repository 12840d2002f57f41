import { HttpCode, Post, Req } from '@nestjs/common';
import { bindScalar, readBool, type ConnectResponse } from '@oversync/protocol';
import { ApiBody, ApiOkResponse, ApiOperation } from '../openapi/optional-swagger.js';
import { ApiSyncErrors } from '../openapi/sync-openapi.js';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { bodyObject } from '../http/request-binding.js';
import type { RequestWithSyncBody } from '../http/sync-body.middleware.js';
import { ConnectRequestDto, ConnectResponseDto } from './connect.dto.js';
import { ConnectService } from './connect.service.js';
import { SyncController } from '../http/sync-controller.decorator.js';

/**
 * POST /sync/connect (spec §3.1): bind with Go rules, call the service, return the answer (encoded
 * like Go by SyncEndpointInterceptor).
 */
@SyncController()
export class ConnectController {
  constructor(private readonly connectService: ConnectService) {}

  @Post('connect')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resolve first authority for the user scope' })
  @ApiBody({ type: ConnectRequestDto })
  @ApiOkResponse({
    type: ConnectResponseDto,
    description: 'how the device proceeds: pull, seed from local rows, start empty, or retry later',
  })
  @ApiSyncErrors({ 400: ['invalid_request'], 413: ['request_too_large'], 500: ['connect_failed'] })
  @SyncEndpoint('connect_failed')
  async connect(@Actor() actor: SyncActor, @Req() req: RequestWithSyncBody): Promise<ConnectResponse> {
    const body = bodyObject(req, 'Failed to parse connect request');
    const pending = bindScalar(body, 'has_local_pending_rows', readBool);
    if (pending === undefined) throw new OversyncError('invalid_request', 'Failed to parse connect request');
    return this.connectService.connect(actor, pending);
  }
}
