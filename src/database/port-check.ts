import { createServer } from 'node:net';

/** The port is taken (another server, or a second `npm start`). */
export class PortInUseError extends Error {
  constructor(port: number, host: string) {
    super(`port ${port} on ${host} is already in use (is another server running?); stop it or set PORT to a free port`);
    this.name = 'PortInUseError';
  }
}

/** Resolves when `port` can be bound on `host`; throws PortInUseError when it is taken. Port 0 is always free. */
export async function ensurePortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port, host) : error),
    );
    server.listen(port, host, () => server.close(() => resolve()));
  });
}
