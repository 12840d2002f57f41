/** Progress output of the CLI: a redrawn bar on a TTY, plain lines otherwise. */
import type { SyncProgress } from './results.js';

const LABELS: Record<SyncProgress['phase'], string> = {
  push_upload: 'upload',
  push_replay: 'replay',
  pull: 'pull',
  snapshot_download: 'download',
  snapshot_apply: 'apply',
};

export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): boolean;
}

export class ProgressReporter {
  private phase: SyncProgress['phase'] | null = null;
  private startedAt = 0;
  private lastLineAt = 0;
  private barOpen = false;

  constructor(
    private readonly out: ProgressStream,
    private readonly now: () => number = Date.now,
  ) {}

  /** Feeds one progress event. */
  update(progress: SyncProgress): void {
    const at = this.now();
    if (progress.phase !== this.phase) {
      this.finish();
      this.phase = progress.phase;
      this.startedAt = at;
      this.lastLineAt = 0;
    }
    const elapsed = Math.max(at - this.startedAt, 1) / 1000;
    const rate = Math.round(progress.done / elapsed);
    const unit = progress.phase === 'pull' ? 'bundles' : 'rows';
    const count = progress.total > 0 ? `${progress.done}/${progress.total} ${unit}` : `${progress.done} ${unit}`;
    if (this.out.isTTY) {
      const width = 24;
      const ratio = progress.total > 0 ? Math.min(progress.done / progress.total, 1) : 0;
      const filled = Math.round(ratio * width);
      const bar = progress.total > 0 ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
      this.out.write(`\r${LABELS[progress.phase].padEnd(8)} ${bar}${count}  ${rate} ${unit}/s\x1b[K`);
      this.barOpen = true;
      return;
    }
    // Plain output: at most one line per second, plus the final one.
    const complete = progress.total > 0 && progress.done >= progress.total;
    if (complete || at - this.lastLineAt >= 1000) {
      this.out.write(`${LABELS[progress.phase]}: ${count} (${rate} ${unit}/s)\n`);
      this.lastLineAt = at;
    }
  }

  /** Ends the current bar line. */
  finish(): void {
    if (this.barOpen) this.out.write('\n');
    this.barOpen = false;
    this.phase = null;
  }
}
