import { setFlagsFromString } from 'node:v8';

/**
 * V8 schedules the next full collection at the live old generation × a growing factor that it derives
 * from its GC speed over the old generation's allocation speed: 1.1 when collecting is cheap, up to 4
 * (on a heap limit over 2 GiB) when the server allocates fast, as it does while booting and, at times,
 * under the many-devices load. With ~29 MiB live after bootstrap and ~42 MiB under load, a factor of 4
 * let promoted garbage pile up to 116–145 MiB before a full collection: server RSS 219–247 MiB for a
 * while, against ~157 between collections at V8's usual ~1.2 there ("Performance", eleventh round). A fixed
 * factor of 1.3 (`--heap-growing-percent`) bounds that; it costs no measurable CPU on the everyday path
 * (a full collection of this heap is a few ms of pause), and a 100,000-row push 0.1–0.3 s of server CPU
 * (more full collections of a large heap). Imported first by main.ts; a factor given on node's command
 * line wins (`--heap-growing-percent=0`: V8's own).
 */
const HEAP_GROWING_PERCENT = 30;

/** `--heap-growing-percent=N` itself (V8 takes `_` for `-` too). */
const GROWING_FLAG = /^--heap[-_]growing[-_]percent=/;

if (!process.execArgv.some((arg) => GROWING_FLAG.test(arg))) {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
