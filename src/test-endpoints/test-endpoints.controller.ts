import { Body, Controller, Delete, Get, HttpCode, HttpException, Inject, Post, Query } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { OversyncRetentionService, OversyncSchemaService } from '@oversync/nestjs';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { businessSchemaDdl } from '../business/migrations/1732500000000-business-schema.js';
import { INJECTABLE_ENDPOINTS, type InjectableEndpoint } from '@oversync/protocol';
import { FailureInjector } from './failure-injector.js';
import { WATCH_SUBSCRIBER_COUNT, type WatchSubscriberCount } from './watch-subscriber-count.js';

type Json = Record<string, unknown>;

/** Go maps encode with sorted keys; the example's test responses are maps. */
function sorted(body: Json): Json {
  return Object.fromEntries(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A refusal, sent as JSON by Nest's exception layer. */
function refused(status: number, body: Json): HttpException {
  return new HttpException(sorted(body), status);
}

/** The reference example's test surface (spec §3.14), mounted only with OVERSYNC_TEST_ENDPOINTS=true. */
@ApiExcludeController()
@Controller('test')
export class TestEndpointsController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly schema: OversyncSchemaService,
    private readonly retention: OversyncRetentionService,
    private readonly failures: FailureInjector,
    @Inject(WATCH_SUBSCRIBER_COUNT) private readonly watchSubscribers: WatchSubscriberCount,
  ) {}

  @Post('reset')
  @HttpCode(200)
  async reset(): Promise<Json> {
    try {
      const schema = this.config.businessSchema;
      await this.schema.drop();
      await this.dataSource.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      for (const statement of businessSchemaDdl(schema)) await this.dataSource.query(statement);
      await this.schema.bootstrap();
      this.failures.clear();
      return sorted({ schema, status: 'ok' });
    } catch (error) {
      throw refused(500, { error: 'reset_failed', message: (error as Error).message });
    }
  }

  @Post('retention-floor')
  @HttpCode(200)
  async retentionFloor(@Body() body: unknown): Promise<Json> {
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw refused(400, { error: 'invalid_request', message: 'invalid JSON' });
    const { user_id: userId, retained_bundle_floor: floor } = body as {
      user_id?: unknown;
      retained_bundle_floor?: unknown;
    };
    if (typeof userId !== 'string' || userId.trim() === '')
      throw refused(400, { error: 'invalid_request', message: 'user_id required' });
    if (typeof floor !== 'number' || !Number.isInteger(floor) || floor < 0) {
      throw refused(400, { error: 'invalid_request', message: 'retained_bundle_floor must be non-negative' });
    }
    let updated: number | null;
    try {
      updated = (await this.retention.setRetainedFloor(userId, BigInt(floor))) ? 1 : 0;
    } catch (error) {
      throw refused(500, { error: 'retention_floor_update_failed', message: (error as Error).message });
    }
    if (!updated)
      throw refused(404, { error: 'user_state_not_found', message: 'no sync user_state row exists for user_id' });
    return sorted({ retained_bundle_floor: floor, status: 'ok', user_id: userId });
  }

  @Get('watch-subscribers')
  watchSubscriberCount(@Query('user_id') userId: string | undefined): Json {
    if (!userId) throw refused(400, { error: 'invalid_request', message: 'user_id required' });
    return sorted({ process_local_only: true, subscriber_count: this.watchSubscribers(userId), user_id: userId });
  }

  /** Arms the failure injector: `{"endpoint":"pull","count":2,"status":500}`. */
  @Post('failures')
  @HttpCode(200)
  arm(@Body() body: unknown): Json {
    const { endpoint, count, status } = (body ?? {}) as { endpoint?: unknown; count?: unknown; status?: unknown };
    if (typeof endpoint !== 'string' || !(INJECTABLE_ENDPOINTS as readonly string[]).includes(endpoint)) {
      throw refused(400, {
        error: 'invalid_request',
        message: `endpoint must be one of ${INJECTABLE_ENDPOINTS.join(', ')}`,
      });
    }
    const times = typeof count === 'number' && Number.isInteger(count) ? count : 1;
    const code = typeof status === 'number' && status >= 400 && status <= 599 ? status : 500;
    this.failures.arm(endpoint as InjectableEndpoint, times, code);
    return sorted({ pending: this.failures.pending(), status: 'ok' });
  }

  /** Failures armed and not yet consumed, so a harness can prove its calls really met them. */
  @Get('failures')
  pendingFailures(): Json {
    return sorted({ pending: this.failures.pending(), status: 'ok' });
  }

  @Delete('failures')
  @HttpCode(200)
  clear(): Json {
    this.failures.clear();
    return sorted({ status: 'ok' });
  }
}
