import { Controller, Get, Res, UseFilters, UseInterceptors } from '@nestjs/common';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { SyncEndpointInterceptor } from '../errors/sync-endpoint.interceptor.js';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { sendWire } from '../http/wire-reply.js';
import { SyncStatusService } from './sync-status.service.js';
import { OversyncHealthService } from './oversync-health.service.js';

/** Unauthenticated service status (spec §3.13); details only when the host allows (§8.18). */
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
  @ApiOperation({ summary: 'Service status and counters' })
  @SyncEndpoint('status_failed', 'Failed to get service status')
  async status(@Res() res: Response): Promise<void> {
    sendWire(res, 200, (await this.statusService.status()).body);
  }

  @Get('health')
  @ApiOperation({ summary: '200 when running and bootstrapped, 503 otherwise; from process state only (no query)' })
  @SyncEndpoint('health_failed', 'Failed to get health status')
  health(@Res() res: Response): void {
    const state = this.healthService.state();
    sendWire(res, state.healthy ? 200 : 503, this.healthService.body(state));
  }
}
