import { Get } from '@nestjs/common';
import type { EncodedJson } from '@oversync/protocol';
import { ApiOkResponse, ApiOperation } from '../openapi/optional-swagger.js';
import { ApiSyncErrors } from '../openapi/sync-openapi.js';
import { Actor, type SyncActor } from '../auth/sync-actor.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { CapabilitiesResponseDto } from './health.dto.js';
import { CapabilitiesService } from './capabilities.service.js';
import { SyncController } from '../http/sync-controller.decorator.js';

/** GET /sync/capabilities (spec §3.12), answered from the configuration without a query. */
@SyncController()
export class CapabilitiesController {
  constructor(private readonly capabilities: CapabilitiesService) {}

  @Get('capabilities')
  @ApiOperation({ summary: 'Protocol version, registered tables, features and limits' })
  @ApiOkResponse({ type: CapabilitiesResponseDto })
  @ApiSyncErrors({ 500: ['capabilities_failed'] })
  @SyncEndpoint('capabilities_failed')
  capabilitiesOf(@Actor() actor: SyncActor): EncodedJson {
    return this.capabilities.encodedCapabilities(actor);
  }
}
