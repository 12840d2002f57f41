import { Controller, Get, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { OversyncActorGuard } from '../auth/oversync-actor.guard.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { SyncEndpointInterceptor } from '../errors/sync-endpoint.interceptor.js';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '../openapi/optional-swagger.js';
import { ApiSyncAuthenticated, ApiSyncErrors } from '../openapi/sync-openapi.js';
import { StatusResponseDto } from './health.dto.js';
import type { GoJsonValue } from '@oversync/protocol';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { WireAnswerException } from '../http/wire-reply.js';
import { SyncStatusService } from './sync-status.service.js';
import { OversyncHealthService } from './oversync-health.service.js';

/**
 * Service status (spec §3.13). `/syncx/status` (tables, counters) sits behind the same guards as the
 * sync routes; `/syncx/health` stays open for probes and says only healthy/unhealthy unless the host
 * opts into details (`exposeHealthDetails`, §8.18).
 */
@ApiTags('syncx')
@Controller('syncx')
@UseFilters(OversyncExceptionFilter)
@UseInterceptors(SyncEndpointInterceptor)
export class SyncxController {
  constructor(
    private readonly statusService: SyncStatusService,
    private readonly healthService: OversyncHealthService,
  ) {}

  @Get('status')
  @UseGuards(OversyncActorGuard)
  @ApiSyncAuthenticated()
  @ApiOperation({
    summary:
      'Service status and counters (details only when the host sets exposeStatusDetails); authenticated like ' +
      'the sync routes',
  })
  @ApiOkResponse({ type: StatusResponseDto })
  @ApiSyncErrors({ 500: ['status_failed'] })
  @SyncEndpoint('status_failed')
  async status(): Promise<GoJsonValue> {
    return (await this.statusService.status()).body;
  }

  @Get('health')
  @ApiOperation({
    summary:
      '200 when running and bootstrapped, 503 otherwise; no auth; from process state only (no query); details ' +
      'only when the host sets exposeHealthDetails',
  })
  @ApiOkResponse({ type: StatusResponseDto, description: 'healthy' })
  @ApiResponse({
    status: 503,
    type: StatusResponseDto,
    description: 'unhealthy (starting, shutting down, or the watch listener lost)',
  })
  @ApiSyncErrors({ 500: ['health_failed'] })
  @SyncEndpoint('health_failed')
  health(): GoJsonValue {
    const state = this.healthService.state();
    if (!state.healthy) throw new WireAnswerException(503, this.healthService.body(state));
    return this.healthService.body(state);
  }
}
