/**
 * Everything one scenario run uses: unique user ids, devices (tracked for the final comparison
 * and cleanup), sign-in sessions, the test surface and a log.
 */
import { randomBytes } from 'node:crypto';
import type { OversqliteClientOptions } from '../oversqlite-client.js';
import type { AttachResult } from '../results.js';
import { sleep } from '../sync-transport.js';
import type { ScenarioServer } from './scenario.js';
import { expectEqual } from './scenario-checks.js';
import { SimulatedDevice } from './simulated-device.js';
import { TestSurface } from './test-surface.js';

/** The reference harness's standard device config (spec/client.md §13.1). */
export const STANDARD_CONFIG: Partial<OversqliteClientOptions> = { uploadLimit: 100, downloadLimit: 100 };
/** The watch scenarios' config; watchers add `bundleChangeWatchMode: 'auto'`. */
export const WATCH_CONFIG: Partial<OversqliteClientOptions> = {
  uploadLimit: 100,
  downloadLimit: 1000,
  backoffMinMs: 25,
  backoffMaxMs: 250,
  watchFallbackIntervalMs: 30_000,
};

const MAX_ATTACH_ATTEMPTS = 8;

export class ScenarioContext {
  readonly surface: TestSurface;
  private readonly runId = randomBytes(3).toString('hex');
  private readonly devices: SimulatedDevice[] = [];
  private readonly sessions = new Map<SimulatedDevice, string>();

  constructor(
    readonly server: ScenarioServer,
    readonly scenarioName: string,
    private readonly logLine: (line: string) => void = () => undefined,
  ) {
    this.surface = new TestSurface(server.baseUrl);
  }

  log(message: string): void {
    this.logLine(`[${this.scenarioName}] ${message}`);
  }

  /** A user id unique to this run, so scenarios never see each other's data. */
  user(label: string): string {
    return `${this.scenarioName.replace(/[^A-Za-z0-9]+/g, '-')}-${label}-${this.runId}`;
  }

  /** A new device whose token provider follows its sign-in session (`signIn`/`signOut`); open, not attached. */
  async device(label: string, client: Partial<OversqliteClientOptions> = STANDARD_CONFIG): Promise<SimulatedDevice> {
    const device: SimulatedDevice = await SimulatedDevice.create({
      baseUrl: this.server.baseUrl,
      label: `${this.scenarioName}-${label}`,
      tokenProvider: () => {
        const user = this.sessions.get(device);
        if (!user) throw new Error('no active session');
        return this.server.tokens.token(user);
      },
      client,
    });
    this.devices.push(device);
    return device;
  }

  signIn(device: SimulatedDevice, user: string): void {
    this.sessions.set(device, user);
  }

  signOut(device: SimulatedDevice): void {
    this.sessions.delete(device);
  }

  /**
   * `Attach`, repeated while the server answers `retry_later` (at most 8 attempts, waits capped at
   * 1 s; the reference app waits `retry_after`).
   */
  async attach(device: SimulatedDevice, user: string): Promise<AttachResult> {
    this.signIn(device, user);
    for (let attempt = 1; ; attempt++) {
      const result = await device.client.attach(user);
      if (result.status === 'connected') return result;
      if (attempt >= MAX_ATTACH_ATTEMPTS)
        throw new Error(`connect lifecycle did not reach connected status after ${attempt} attempts`);
      await sleep(result.retryAfterMs > 0 ? Math.min(result.retryAfterMs, 1000) : 250);
    }
  }

  /** A new device of `user`: opened, signed in and attached; `expectedOutcome` is checked when given. */
  async signedInDevice(
    label: string,
    user: string,
    options: { client?: Partial<OversqliteClientOptions>; expectedOutcome?: AttachResult['outcome'] } = {},
  ): Promise<SimulatedDevice> {
    const device = await this.device(label, options.client);
    const attached = await this.attach(device, user);
    if (options.expectedOutcome) expectEqual(attached.outcome, options.expectedOutcome, `${label} attach outcome`);
    return device;
  }

  /**
   * An app-level retry: `operation` again after 100 ms × attempt, up to `attempts` times (the reference app's helpers).
   */
  async retrying<T>(what: string, operation: () => Promise<T>, attempts = 5): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (err) {
        if (attempt >= attempts) throw err;
        this.log(`${what} failed (attempt ${attempt}): ${err instanceof Error ? err.message : String(err)}`);
        await sleep(100 * attempt);
      }
    }
  }

  /** Devices still open (not closed or destroyed by the scenario). */
  liveDevices(): SimulatedDevice[] {
    return this.devices.filter((device) => device.db.open);
  }

  /** Stops every device's background loops. */
  async stopAll(): Promise<void> {
    await Promise.all(this.liveDevices().map((device) => device.client.stop()));
  }

  /** Closes every device; deletes their files unless `keepFiles` (kept for a failed run's post-mortem). */
  async dispose(keepFiles: boolean): Promise<void> {
    for (const device of this.devices) {
      if (keepFiles) await device.close();
      else await device.destroy();
    }
  }
}
