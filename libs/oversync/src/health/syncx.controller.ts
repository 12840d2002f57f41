import { Controller, Get, Res, UseFilters, UseInterceptors } from '@nestjs/common';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { SyncEndpointInterceptor } from '../errors/sync-endpoint.interceptor.js';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '../openapi/optional-swagger.js';
import { ApiSyncErrors } from '../openapi/sync-openapi.js';
import { StatusResponseDto } from '../http/sync.dto.js';
import type { Response } from 'express';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { sendWire } from '../http/wire-reply.js';
import { SyncStatusService } from './sync-status.service.js';

/** Unauthenticated service status (spec §3.13); details only when the host allows (§8.18). */
@ApiTags('syncx')
@Controller('syncx')
@UseFilters(OversyncExceptionFilter)
@UseInterceptors(SyncEndpointInterceptor)
export class SyncxController {
  constructor(private readonly statusService: SyncStatusService) {}

  @Get('status')
  @ApiOperation({ summary: 'Service status and counters (details only when the host sets exposeStatusDetails); no auth' })
  @ApiOkResponse({ type: StatusResponseDto })
  @ApiSyncErrors({ 500: ['status_failed'] })
  @SyncEndpoint('status_failed', 'Failed to get service status')
  async status(@Res() res: Response): Promise<void> {
    sendWire(res, 200, (await this.statusService.status()).body);
  }

  @Get('health')
  @ApiOperation({ summary: '200 when healthy, 503 otherwise; no auth' })
  @ApiOkResponse({ type: StatusResponseDto, description: 'healthy' })
  @ApiResponse({ status: 503, type: StatusResponseDto, description: 'unhealthy (shutting down, or a retention floor ahead of its head): the same status body' })
  @ApiSyncErrors({ 500: ['health_failed'] })
  @SyncEndpoint('health_failed', 'Failed to get health status')
  async health(@Res() res: Response): Promise<void> {
    const { healthy, body } = await this.statusService.status();
    sendWire(res, healthy ? 200 : 503, body);
  }
}
