/**
 * N reference-app processes (`node dist/src/main.js`, as `npm start` runs it) on one database, each on
 * its own loopback port, each killable (SIGKILL) and restartable on the same port. Every instance
 * connects with `application_name=scale-out-i<k>` so PostgreSQL's views tell its connections apart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface InstanceOptions {
  databaseUrl: string;
  count: number;
  /** extra environment of every instance */
  env?: Record<string, string>;
}

export class Instance {
  child: ChildProcess | null = null;
  /** stderr tail, for failure reports */
  log = '';
  starts = 0;
  kills = 0;

  constructor(
    readonly index: number,
    readonly port: number,
    private readonly databaseUrl: string,
    private readonly env: Record<string, string>,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** `scale-out-i<k>.<start>`: each process of instance k has its own name */
  get applicationName(): string {
    return `scale-out-i${this.index + 1}.${this.starts}`;
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    this.starts++;
    const url = new URL(this.databaseUrl);
    url.searchParams.set('application_name', this.applicationName);
    const child = spawn(process.execPath, ['dist/src/main.js'], {
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        DATABASE_URL: url.toString(),
        PORT: String(this.port),
        HOST: '127.0.0.1',
        ...this.env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.log = (this.log + chunk).slice(-20_000);
    });
    this.child = child;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${this.baseUrl}/syncx/health`)).ok) return;
      } catch {
        // not listening yet
      }
      if (i > 600 || !this.alive)
        throw new Error(`instance ${this.index + 1} did not start (exit ${child.exitCode}):\n${this.log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL: no shutdown hooks, open requests and connections die with the process. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    this.kills++;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Starts `count` instances: the first alone (it bootstraps the schema), then the others together. */
export async function startInstances(options: InstanceOptions): Promise<Instance[]> {
  const instances: Instance[] = [];
  for (let i = 0; i < options.count; i++)
    instances.push(new Instance(i, await freePort(), options.databaseUrl, options.env ?? {}));
  try {
    await instances[0]!.start();
    await Promise.all(instances.slice(1).map((instance) => instance.start()));
  } catch (error) {
    await Promise.all(instances.map((instance) => instance.stop()));
    throw error;
  }
  return instances;
}
