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
  private startedDone = 0;
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
      this.startedDone = progress.done;
      this.lastLineAt = at;
    }
    // The rate is measured from the phase's first event (its start: the client reports done = 0
    // when a phase begins); until 100 ms have passed there is no honest rate to show.
    const elapsedMs = at - this.startedAt;
    const rate = elapsedMs >= 100 ? Math.round(((progress.done - this.startedDone) * 1000) / elapsedMs) : null;
    const unit = progress.phase === 'pull' ? 'bundles' : 'rows';
    const count = progress.total > 0 ? `${progress.done}/${progress.total} ${unit}` : `${progress.done} ${unit}`;
    const speed = rate === null ? '' : `${rate} ${unit}/s`;
    if (this.out.isTTY) {
      const width = 24;
      const ratio = progress.total > 0 ? Math.min(progress.done / progress.total, 1) : 0;
      const filled = Math.round(ratio * width);
      const bar = progress.total > 0 ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
      const left = progress.total - progress.done;
      const eta = rate && progress.total > 0 && left > 0 ? `  ETA ${formatDuration(left / rate)}` : '';
      this.out.write(`\r${LABELS[progress.phase].padEnd(8)} ${bar}${count}${speed ? `  ${speed}` : ''}${eta}\x1b[K`);
      this.barOpen = true;
      return;
    }
    // Plain output: at most one line per second, plus the final one.
    const complete = progress.total > 0 && progress.done >= progress.total;
    if (complete || at - this.lastLineAt >= 1000) {
      this.out.write(`${LABELS[progress.phase]}: ${count}${speed ? ` (${speed})` : ''}\n`);
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

/** `42s`, `3m05s`, `1h02m` */
function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
