/**
 * The worker thread of a pull (pull-page-pipeline.ts): reads each page it is sent with `PullPageReader`,
 * beside the thread that applies the rows. Says `ready` once loaded.
 */
import { parentPort } from 'node:worker_threads';
import { PullPageReader } from './pull-page-reader.js';
import type { PullPageTask } from './pull-page-records.js';

parentPort?.on('message', (task: PullPageTask) => new PullPageReader(task).read());
parentPort?.postMessage('ready');
