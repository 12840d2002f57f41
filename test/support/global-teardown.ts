export default async function globalTeardown(): Promise<void> {
  await globalThis.__OVERSYNC_EMBEDDED__?.stop();
}
