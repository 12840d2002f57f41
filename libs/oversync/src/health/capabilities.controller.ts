import { Controller, Get, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import type { CapabilitiesResponse } from '@oversync/protocol';
import { ApiOkResponse, ApiOperation, ApiTags } from '../openapi/optional-swagger.js';
import { ApiSyncAuthenticated, ApiSyncErrors } from '../openapi/sync-openapi.js';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { OversyncActorGuard } from '../auth/oversync-actor.guard.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { SyncEndpointInterceptor } from '../errors/sync-endpoint.interceptor.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { CapabilitiesResponseDto } from './health.dto.js';
import { CapabilitiesService } from './capabilities.service.js';

/** GET /sync/capabilities (spec §3.12), answered from the configuration without a query. */
@ApiTags('sync')
@ApiSyncAuthenticated()
@Controller('sync')
@UseGuards(OversyncActorGuard)
@UseFilters(OversyncExceptionFilter)
@UseInterceptors(SyncEndpointInterceptor)
export class CapabilitiesController {
  constructor(private readonly capabilities: CapabilitiesService) {}

  @Get('capabilities')
  @ApiOperation({ summary: 'Protocol version, registered tables, features and limits' })
  @ApiOkResponse({ type: CapabilitiesResponseDto })
  @ApiSyncErrors({ 500: ['capabilities_failed'] })
  @SyncEndpoint('capabilities_failed')
  capabilitiesOf(@Actor() actor: SyncActor): CapabilitiesResponse {
    return this.capabilities.capabilities(actor);
  }
}
