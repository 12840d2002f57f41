/**
 * One simulated device: a SQLite file with the reference app's tables and an `OversqliteClient`
 * on it. `restart()` simulates a killed and relaunched app (its client opened again); `destroy()` an uninstall.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EXAMPLE_DEVICE_DDL, EXAMPLE_SCHEMA_NAME, EXAMPLE_TABLES } from '../example-schema.js';
import { OversqliteClient, type OversqliteClientOptions } from '../oversqlite-client.js';
import type { TokenProvider } from '../sync-transport.js';

export interface SimulatedDeviceOptions {
  readonly baseUrl: string;
  readonly tokenProvider: TokenProvider;
  /** Shown in logs and used in the file name. */
  readonly label?: string;
  /** Client options on top of the example schema and tables. */
  readonly client?: Partial<OversqliteClientOptions>;
}

export class SimulatedDevice {
  db: Database.Database;
  client: OversqliteClient;

  private constructor(
    readonly label: string,
    readonly path: string,
    private readonly options: SimulatedDeviceOptions,
    db: Database.Database,
    client: OversqliteClient,
  ) {
    this.db = db;
    this.client = client;
  }

  /** A device with a fresh database file in the system temporary directory, its client open. Not attached. */
  static async create(options: SimulatedDeviceOptions): Promise<SimulatedDevice> {
    const label = options.label ?? 'device';
    const directory = mkdtempSync(join(tmpdir(), `oversync-${label.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
    const path = join(directory, 'device.sqlite');
    const db = new Database(path);
    db.exec(EXAMPLE_DEVICE_DDL);
    return new SimulatedDevice(label, path, options, db, await openClient(db, options, {}));
  }

  /** A killed and relaunched app: the client object is dropped and the file reopened (`extra` replaces options). */
  async restart(extra: Partial<OversqliteClientOptions> = {}): Promise<void> {
    await this.client.close();
    this.db.close();
    this.db = new Database(this.path);
    this.client = await openClient(this.db, this.options, extra);
  }

  /** Stops background sync and closes the client and the database. Idempotent. */
  async close(): Promise<void> {
    await this.client.close();
    if (this.db.open) this.db.close();
  }

  /** Closes the device and deletes its database (an uninstalled app). */
  async destroy(): Promise<void> {
    await this.close();
    rmSync(dirname(this.path), { recursive: true, force: true });
  }
}

function openClient(
  db: Database.Database,
  options: SimulatedDeviceOptions,
  extra: Partial<OversqliteClientOptions>,
): Promise<OversqliteClient> {
  return OversqliteClient.open(db, {
    baseUrl: options.baseUrl,
    tokenProvider: options.tokenProvider,
    schema: EXAMPLE_SCHEMA_NAME,
    tables: EXAMPLE_TABLES,
    ...options.client,
    ...extra,
  });
}
