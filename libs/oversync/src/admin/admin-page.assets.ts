import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The console's files (plain ES modules, CSS, HTML), shipped in the repository and the package. */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console-api.js': 'text/javascript; charset=utf-8',
  'console-views.js': 'text/javascript; charset=utf-8',
  'console-dom.js': 'text/javascript; charset=utf-8',
};

/** Same origin only, no inline script or style, nothing from elsewhere: works offline on a LAN. */
export const ADMIN_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface AdminAsset {
  contentType: string;
  body: Buffer;
}

// tsc copies no assets: from dist/admin the files are found in the package's src/admin/page
const PAGE_DIRS = ['./page/', '../../src/admin/page/'].map((dir) => new URL(dir, import.meta.url));

/** Loads the page files once; throws at start when the package lacks them. */
export function loadAdminAssets(): Map<string, AdminAsset> {
  const dir = PAGE_DIRS.find((url) => existsSync(fileURLToPath(new URL('index.html', url))));
  if (!dir) throw new Error('OversyncAdminModule: page files not found (src/admin/page)');
  return new Map(
    Object.entries(FILES).map(([name, contentType]) => [name, { contentType, body: readFileSync(new URL(name, dir)) }]),
  );
}
