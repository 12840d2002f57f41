import {
  Controller,
  Get,
  Header,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  UseFilters,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '../openapi/optional-swagger.js';
import type { GoJsonValue } from '@oversync/protocol';
import { OversyncError } from '../errors/oversync.error.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { SyncEndpointInterceptor } from '../errors/sync-endpoint.interceptor.js';
import { SyncEndpoint } from '../errors/sync-endpoint.decorator.js';
import { ErrorResponseDto } from '../errors/error-response.dto.js';
import { AdminAccessGuard, type RequestWithAdmin } from './admin-access.guard.js';
import { AdminQueryService } from './admin-query.service.js';
import { AdminActionsService } from './admin-actions.service.js';
import { actionBody, type RequestWithAdminBody } from './admin-body.middleware.js';
import { int64Text, pageLimit } from './admin-paging.js';
import { ADMIN_MAX_PAGE } from './oversync-admin.constants.js';

type AdminRequest = RequestWithAdminBody & RequestWithAdmin;

const send = (body: unknown) => body as GoJsonValue;
const Paged = () => (target: object, key: string | symbol, descriptor: PropertyDescriptor) => {
  ApiQuery({ name: 'limit', required: false, description: `1…${ADMIN_MAX_PAGE}, default 50` })(target, key, descriptor);
  ApiQuery({ name: 'cursor', required: false, description: 'next_cursor of the previous page' })(
    target,
    key,
    descriptor,
  );
};

/**
 * The admin console's JSON API: bounded keyset-paginated reads of sync state and audited repairs
 * (values encoded like Go by SyncEndpointInterceptor).
 */
@ApiTags('oversync-admin')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'no admin credentials', type: ErrorResponseDto })
@ApiResponse({ status: 403, description: 'not an admin', type: ErrorResponseDto })
@Controller('api')
@UseGuards(AdminAccessGuard)
@UseFilters(OversyncExceptionFilter)
@UseInterceptors(SyncEndpointInterceptor)
export class AdminApiController {
  constructor(
    private readonly queries: AdminQueryService,
    private readonly actions: AdminActionsService,
  ) {}

  @Get('status')
  @ApiOperation({ summary: 'Live counters: status service counters, watch subscribers, rejected commits' })
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_failed', 'Failed to read admin status')
  async status(): Promise<GoJsonValue> {
    return send(await this.queries.counters());
  }

  @Get('users')
  @ApiOperation({ summary: 'Users by id prefix: bundle_seq, retained floor, row counts, last activity' })
  @ApiQuery({ name: 'prefix', required: false })
  @Paged()
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_failed', 'Failed to list users')
  async users(
    @Query('prefix') prefix: string | undefined,
    @Query('cursor') cursor: string | undefined,
    @Query('limit') limit: string | undefined,
  ): Promise<GoJsonValue> {
    return send(
      await this.queries.users(text(prefix, 'prefix') ?? '', text(cursor, 'cursor'), pageLimit(text(limit, 'limit'))),
    );
  }

  @Get('users/:userId')
  @ApiOperation({ summary: 'One user: counters, scope state, sessions, rejected writes' })
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_failed', 'Failed to read user')
  async user(@Param('userId') userId: string): Promise<GoJsonValue> {
    return send(await this.queries.user(userId));
  }

  @Get('users/:userId/sources')
  @ApiOperation({
    summary: "A user's sources: state, replaced-by, next source_bundle_id, last push, last pull and lag",
  })
  @Paged()
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_failed', 'Failed to list sources')
  async sources(
    @Param('userId') userId: string,
    @Query('cursor') cursor: string | undefined,
    @Query('limit') limit: string | undefined,
  ): Promise<GoJsonValue> {
    return send(await this.queries.sources(userId, text(cursor, 'cursor'), pageLimit(text(limit, 'limit'))));
  }

  @Get('users/:userId/push-sessions')
  @ApiOperation({ summary: 'Push sessions in flight: staged rows, age, expiry' })
  @Paged()
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_failed', 'Failed to list push sessions')
  async pushSessions(
    @Param('userId') userId: string,
    @Query('cursor') cursor: string | undefined,
    @Query('limit') limit: string | undefined,
  ): Promise<GoJsonValue> {
    return send(await this.queries.pushSessions(userId, text(cursor, 'cursor'), pageLimit(text(limit, 'limit'))));
  }

  @Get('users/:userId/snapshot-sessions')
  @ApiOperation({ summary: 'Snapshot sessions: rows, age, expiry' })
  @Paged()
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_failed', 'Failed to list snapshot sessions')
  async snapshotSessions(
    @Param('userId') userId: string,
    @Query('cursor') cursor: string | undefined,
    @Query('limit') limit: string | undefined,
  ): Promise<GoJsonValue> {
    return send(await this.queries.snapshotSessions(userId, text(cursor, 'cursor'), pageLimit(text(limit, 'limit'))));
  }

  @Get('users/:userId/bundles')
  @ApiOperation({ summary: 'Retained bundles, newest first' })
  @Paged()
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_failed', 'Failed to list bundles')
  async bundles(
    @Param('userId') userId: string,
    @Query('cursor') cursor: string | undefined,
    @Query('limit') limit: string | undefined,
  ): Promise<GoJsonValue> {
    return send(await this.queries.bundles(userId, text(cursor, 'cursor'), pageLimit(text(limit, 'limit'))));
  }

  @Get('users/:userId/bundles/:bundleSeq')
  @ApiOperation({ summary: 'One bundle: header, a page of rows, hash recomputed with @oversync/protocol' })
  @Paged()
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_failed', 'Failed to read bundle')
  async bundle(
    @Param('userId') userId: string,
    @Param('bundleSeq') bundleSeq: string,
    @Query('cursor') cursor: string | undefined,
    @Query('limit') limit: string | undefined,
  ): Promise<GoJsonValue> {
    return send(await this.queries.bundle(userId, bundleSeq, text(cursor, 'cursor'), pageLimit(text(limit, 'limit'))));
  }

  @Get('users/:userId/rejected-writes')
  @ApiOperation({ summary: 'Rejected push commits (conflicts and other 4xx): source, rows sent, answer' })
  @Paged()
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_failed', 'Failed to list rejected writes')
  async rejectedWrites(
    @Param('userId') userId: string,
    @Query('cursor') cursor: string | undefined,
    @Query('limit') limit: string | undefined,
  ): Promise<GoJsonValue> {
    return send(await this.queries.rejectedWrites(userId, text(cursor, 'cursor'), pageLimit(text(limit, 'limit'))));
  }

  @Get('audit')
  @ApiOperation({ summary: 'Audit log of console actions, newest first' })
  @Paged()
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_failed', 'Failed to list audit entries')
  async audit(
    @Query('cursor') cursor: string | undefined,
    @Query('limit') limit: string | undefined,
  ): Promise<GoJsonValue> {
    return send(await this.queries.audit(text(cursor, 'cursor'), pageLimit(text(limit, 'limit'))));
  }

  @Post('users/:userId/sources/:sourceId/retire')
  @HttpCode(200)
  @ApiOperation({ summary: 'Retire a source (its device rebuilds under replaced_by_source_id)' })
  @ApiBody({ schema: { type: 'object', properties: { replaced_by_source_id: { type: 'string' } } } })
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_action_failed', 'Failed to retire source')
  async retireSource(
    @Param('userId') userId: string,
    @Param('sourceId') sourceId: string,
    @Req() req: AdminRequest,
  ): Promise<GoJsonValue> {
    const replacedBy = actionBody(req).replaced_by_source_id;
    if (replacedBy !== undefined && typeof replacedBy !== 'string')
      throw new OversyncError('invalid_request', 'replaced_by_source_id must be a string');
    return send(await this.actions.retireSource(req.oversyncAdminId!, userId, sourceId, replacedBy));
  }

  @Post('users/:userId/push-sessions/:pushId/expire')
  @HttpCode(200)
  @ApiOperation({ summary: 'Expire a push session now' })
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_action_failed', 'Failed to expire push session')
  async expirePushSession(
    @Param('userId') userId: string,
    @Param('pushId') pushId: string,
    @Req() req: AdminRequest,
  ): Promise<GoJsonValue> {
    actionBody(req);
    return send(await this.actions.expireSession(req.oversyncAdminId!, userId, 'push', pushId));
  }

  @Post('users/:userId/snapshot-sessions/:snapshotId/expire')
  @HttpCode(200)
  @ApiOperation({ summary: 'Expire a snapshot session now' })
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_action_failed', 'Failed to expire snapshot session')
  async expireSnapshotSession(
    @Param('userId') userId: string,
    @Param('snapshotId') snapshotId: string,
    @Req() req: AdminRequest,
  ): Promise<GoJsonValue> {
    actionBody(req);
    return send(await this.actions.expireSession(req.oversyncAdminId!, userId, 'snapshot', snapshotId));
  }

  @Post('users/:userId/retained-floor')
  @HttpCode(200)
  @ApiOperation({ summary: "Raise a user's retained floor (prunes history; devices behind it rebuild)" })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['retained_floor'],
      properties: { retained_floor: { type: 'string', example: '120' } },
    },
  })
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_action_failed', 'Failed to raise retained floor')
  async raiseFloor(@Param('userId') userId: string, @Req() req: AdminRequest): Promise<GoJsonValue> {
    const floor = actionBody(req).retained_floor;
    if (typeof floor !== 'string' && typeof floor !== 'number')
      throw new OversyncError('invalid_request', 'retained_floor is required');
    return send(
      await this.actions.raiseRetainedFloor(
        req.oversyncAdminId!,
        userId,
        BigInt(int64Text(String(floor), 'retained_floor')),
      ),
    );
  }

  @Post('sweeps')
  @HttpCode(200)
  @ApiOperation({ summary: 'Run the session sweeper now' })
  @Header('Cache-Control', 'no-store')
  @SyncEndpoint('admin_action_failed', 'Failed to run the sweeper')
  async sweep(@Req() req: AdminRequest): Promise<GoJsonValue> {
    actionBody(req);
    return send(await this.actions.sweep(req.oversyncAdminId!));
  }
}

/** A query parameter given once (`?a=1&a=2` is a 400, not an array reaching SQL). */
function text(value: unknown, name: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw new OversyncError('invalid_request', `${name} must be given once`);
}
