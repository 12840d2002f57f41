// Two devices of one user sync through the reference server.
//   npm start                                   # reference server on http://localhost:8080
//   node apps/client-node/examples/two-devices.mjs
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_DEVICE_DDL, EXAMPLE_SCHEMA_NAME, EXAMPLE_TABLES, OversqliteClient, uuidV7 } from '@oversync/client-node';

const server = process.env.OVERSYNC_URL ?? 'http://localhost:8080';
const user = process.env.OVERSYNC_USER ?? `demo-${randomUUID().slice(0, 8)}`;
const folder = mkdtempSync(join(tmpdir(), 'oversync-demo-'));

// The reference app hands out short-lived tokens for any user name.
async function signIn() {
  const response = await fetch(`${server}/dummy-signin`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, password: 'demo' }),
  });
  return (await response.json()).token;
}

async function device(name) {
  const db = new Database(join(folder, `${name}.sqlite`));
  db.exec(EXAMPLE_DEVICE_DDL); // the app's own tables; the client adds _sync_* tables and triggers
  // local only: metadata tables, triggers, source id; rows already in the tables are queued for upload
  const client = await OversqliteClient.open(db, { baseUrl: server, tokenProvider: signIn, schema: EXAMPLE_SCHEMA_NAME, tables: EXAMPLE_TABLES });
  return { db, client };
}

const phone = await device('phone');
phone.client.onStatusChange((status) => {
  if (status.uploadError || status.downloadError) console.log('phone sync error:', (status.uploadError ?? status.downloadError).message);
});
// Written offline, before the first sign-in: uploaded by the first push. A time-ordered key (UUIDv7) keeps local
// writes as cheap with a million rows queued as with a thousand.
phone.db.prepare('INSERT INTO users (id, name, email) VALUES (?, ?, ?)').run(uuidV7(), 'Ada Lovelace', 'ada@example.com');
console.log('phone attach:', (await phone.client.attach(user)).outcome);
console.log('phone push:', (await phone.client.pushPending()).outcome);

const laptop = await device('laptop');
const attached = await laptop.client.attach(user);
console.log('laptop attach:', attached.outcome, `(${attached.restore?.rowCount ?? 0} rows from the snapshot)`);

laptop.db.prepare("UPDATE users SET name = 'Ada, Countess of Lovelace'").run();
await laptop.client.sync();
await phone.client.sync();
console.log('phone sees:', phone.db.prepare('SELECT name FROM users').get().name);

for (const d of [phone, laptop]) {
  await d.client.close();
  d.db.close();
}
