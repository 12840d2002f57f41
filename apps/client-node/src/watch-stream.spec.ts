import { describe, expect, it } from '@jest/globals';
import { readWatchStream } from './watch-stream.js';
import type { BundleChangeEvent } from '@oversync/protocol';

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function collect(...chunks: string[]): Promise<{ events: BundleChangeEvent[]; activity: number }> {
  const events: BundleChangeEvent[] = [];
  let activity = 0;
  await readWatchStream(streamOf(...chunks), { onEvent: (e) => events.push(e), onActivity: () => activity++ });
  return { events, activity };
}

describe('watch stream', () => {
  it('decodes bundle events split across chunks and ignores heartbeats and other fields', async () => {
    const { events, activity } = await collect(
      'event: bundle\ndata: {"bundle_seq":7}\n\n: heartbeat\n\n',
      'id: 1\nretry: 10\nevent: bund',
      'le\r\ndata: {"bundle_seq":8,"source_id":"device-b",\ndata: "source_bundle_id":3}\r\n\r\nevent: ' +
        'other\ndata: {}\n\n',
    );
    expect(events).toEqual([
      { bundle_seq: 7n, source_id: '', source_bundle_id: 0n },
      { bundle_seq: 8n, source_id: 'device-b', source_bundle_id: 3n },
    ]);
    expect(activity).toBe(3);
  });

  it('reports the id of dispatched events and the retry time, as an EventSource does', async () => {
    const ids: string[] = [];
    const retries: number[] = [];
    await readWatchStream(
      streamOf(
        'retry: 2500\n\n',
        'event: bundle\ndata: {"bundle_seq":4}\nid: 4\n\n',
        'retry: x\nid: 5\n\n: ping\n\nevent: bundle\ndata: {"bundle_seq":6}\n\n',
      ),
      {
        onEvent: () => undefined,
        onActivity: () => undefined,
        onLastEventId: (id) => ids.push(id),
        onRetry: (ms) => retries.push(ms),
      },
    );
    // an id without data is kept for the next dispatched event; a non-numeric retry is ignored
    expect(ids).toEqual(['4', '5']);
    expect(retries).toEqual([2500]);
  });

  it('rejects malformed bundle data', async () => {
    await expect(collect('event: bundle\ndata: {"source_id":"x"}\n\n')).rejects.toThrow(
      'bundle watch event missing bundle_seq',
    );
    await expect(collect('event: bundle\ndata: nope\n\n')).rejects.toThrow(/^decode bundle watch event: /);
  });
});
