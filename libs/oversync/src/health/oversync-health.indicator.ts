import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { OversyncHealthService } from './oversync-health.service.js';

export interface OversyncHealthCheckOptions {
  /** how long the database ping may take (default 1000 ms) */
  timeoutMs?: number;
}

/**
 * A `@nestjs/terminus` indicator the host composes into its own `/health`: up when the database
 * answers, the sync schema is bootstrapped, the service is running and — with watch on — the
 * LISTEN connection is alive.
 *
 * ```ts
 * @Get('ready') @HealthCheck()
 * ready() { return this.health.check([() => this.oversync.isHealthy('oversync')]); }
 * ```
 */
@Injectable()
export class OversyncHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly health: OversyncHealthService,
  ) {}

  async isHealthy<const Key extends string>(
    key: Key,
    options: OversyncHealthCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.indicators.check(key);
    const database = await this.health.databaseReachable(options.timeoutMs ?? 1000);
    const state = this.health.state();
    const details = {
      database: database ? 'up' : 'down',
      lifecycle: state.lifecycle,
      bootstrapped: state.bootstrapped,
      watch_listener: state.watchListener,
    };
    return database && state.healthy && state.watchListener !== 'down'
      ? indicator.up(details)
      : indicator.down(details);
  }
}
