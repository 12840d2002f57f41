import pg from 'pg';

export default async function globalTeardown(): Promise<void> {
  const embedded = globalThis.__OVERSYNC_EMBEDDED__;
  if (embedded) {
    await embedded.stop(); // its data folder, templates included, goes with it
    return;
  }
  const run = process.env.OVERSYNC_TEST_RUN_ID;
  const url = process.env.OVERSYNC_TEST_ADMIN_URL;
  if (!run || !url) return;
  // the run's template database (test-app.ts), and a build of it that did not finish
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    for (const name of [`oversync_tpl_${run}`, `oversync_tpl_${run}_build`])
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
