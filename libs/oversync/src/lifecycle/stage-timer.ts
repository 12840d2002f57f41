import { Logger } from '@nestjs/common';

const logger = new Logger('OversyncStages');
const enabled = ['1', 'true', 'yes'].includes((process.env.OVERSYNC_LOG_STAGE_TIMINGS ?? '').toLowerCase());

/** Optional per-stage timings of an operation (`OVERSYNC_LOG_STAGE_TIMINGS=1`), logged at the end. */
export class StageTimer {
  private readonly start = performance.now();
  private last = this.start;
  private readonly stages: string[] = [];

  constructor(private readonly operation: string) {}

  mark(stage: string): void {
    if (!enabled) return;
    const now = performance.now();
    this.stages.push(`${stage}=${(now - this.last).toFixed(1)}ms`);
    this.last = now;
  }

  done(): void {
    if (enabled) logger.log(`${this.operation} total=${(performance.now() - this.start).toFixed(1)}ms ${this.stages.join(' ')}`);
  }
}
