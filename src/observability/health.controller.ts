import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { OversyncHealthIndicator } from '@oversync/nestjs';

/** Kubernetes-style probes composed from the sync module's terminus indicator. */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly oversync: OversyncHealthIndicator,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'The process answers (no dependency is checked)' })
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @ApiOperation({ summary: 'Database reachable, sync schema bootstrapped, LISTEN connection alive (watch on)' })
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([() => this.oversync.isHealthy('oversync')]);
  }
}
