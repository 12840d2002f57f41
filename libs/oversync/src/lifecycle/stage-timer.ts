import { Logger } from '@nestjs/common';
import { context, trace, type Context, type Tracer } from '@opentelemetry/api';

const logger = new Logger('OversyncStages');

/** Where stage timings go: structured log fields (`logging.stageTimings`) and/or child spans (`tracing`). */
export interface StageSinks {
  readonly log: boolean;
  readonly tracer?: Tracer;
}

const NO_SINKS: StageSinks = { log: false };

/**
 * Per-stage timings of one operation. `mark(stage)` closes the stage that ran since the previous
 * mark: a child span of the active operation span (with the row counts given) and a log field.
 * With no sink it only measures the total.
 */
export class StageTimer {
  private readonly start = performance.now();
  private last = this.start;
  private readonly stages: Record<string, number> = {};
  private readonly parent: Context | undefined;

  constructor(
    private readonly operation: string,
    private readonly sinks: StageSinks = NO_SINKS,
  ) {
    // stage spans only nest under an operation span: never a root trace per stage
    const active = sinks.tracer ? context.active() : undefined;
    this.parent = active && trace.getSpan(active) ? active : undefined;
  }

  mark(stage: string, attributes?: Record<string, number>): void {
    if (this.sinks.log || this.parent) this.stage(stage, performance.now(), attributes);
  }

  /**
   * Records a stage measured elsewhere (inside a database function) as `ms` long, starting where the
   * previous stage ended; the next `mark` covers what remains since then.
   */
  record(stage: string, ms: number, attributes?: Record<string, number>): void {
    if (this.sinks.log || this.parent) this.stage(stage, this.last + ms, attributes);
  }

  /** The stage from where the previous one ended to `end` (a `performance.now()` time): logged, a span. */
  private stage(stage: string, end: number, attributes: Record<string, number> | undefined): void {
    if (this.sinks.log) this.stages[`${stage}_ms`] = Math.round((end - this.last) * 10) / 10;
    if (this.parent) {
      this.sinks
        .tracer!.startSpan(
          `oversync.${stage}`,
          { startTime: performance.timeOrigin + this.last, attributes },
          this.parent,
        )
        .end(performance.timeOrigin + end);
    }
    this.last = end;
  }

  /** Logs the stages when asked to; returns the operation's total in seconds. */
  done(): number {
    const totalMs = performance.now() - this.start;
    if (this.sinks.log)
      logger.log({
        msg: 'stage timings',
        operation: this.operation,
        total_ms: Math.round(totalMs * 10) / 10,
        ...this.stages,
      });
    return totalMs / 1000;
  }
}
