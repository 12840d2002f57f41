import {
  applyDecorators,
  Catch,
  Controller,
  Get,
  Header,
  HttpException,
  Injectable,
  Param,
  Req,
  StreamableFile,
  UseFilters,
  UseGuards,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiExcludeController } from '../openapi/optional-swagger.js';
import { OversyncError } from '../errors/oversync.error.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { AdminAccessGuard } from './admin-access.guard.js';
import { ADMIN_PAGE_CSP, loadAdminAssets, type AdminAsset } from './admin-page.assets.js';

// read when the console is mounted (a host that never imports it never reads them)
let loaded: Map<string, AdminAsset> | undefined;
const pageAssets = () => (loaded ??= loadAdminAssets());

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': ADMIN_PAGE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};
const PAGE_HEADERS: Record<string, string> = {
  ...SECURITY_HEADERS,
  'Cache-Control': 'no-store',
  'Content-Type': 'text/html; charset=utf-8',
};
const Headers = (headers: Record<string, string>) =>
  applyDecorators(...Object.entries(headers).map(([name, value]) => Header(name, value)));

interface PageRequest {
  originalUrl?: string;
  url: string;
}

/** The console document: index.html with the console's own URL as the base of its assets and API. */
function pageHtml(req: PageRequest): string {
  const path = (req.originalUrl ?? req.url).split('?')[0]!.replace(/\/*$/, '/');
  const base = path.replace(/[&"<>']/g, (c) => `&#${c.charCodeAt(0)};`);
  return pageAssets().get('index.html')!.body.toString('utf8').replaceAll('%BASE%', base);
}

/**
 * Without the admin guard the document is still the console (status 401/403), which then asks for a
 * bearer token: a browser navigation cannot send one, and the page holds no data of its own.
 */
@Catch()
@Injectable()
class AdminPageFilter implements ExceptionFilter {
  private readonly fallback: OversyncExceptionFilter;

  constructor(private readonly adapterHost: HttpAdapterHost) {
    this.fallback = new OversyncExceptionFilter(adapterHost);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const status =
      exception instanceof OversyncError
        ? exception.status
        : exception instanceof HttpException
          ? exception.getStatus()
          : 500;
    if (status !== 401 && status !== 403) return this.fallback.catch(exception, host);
    const http = host.switchToHttp();
    const adapter = this.adapterHost.httpAdapter;
    const res = http.getResponse<unknown>();
    for (const [name, value] of Object.entries(PAGE_HEADERS)) adapter.setHeader(res, name, value);
    void adapter.reply(res, pageHtml(http.getRequest<PageRequest>()), status);
  }
}

/** Serves the console page (guarded) and its static files (the repository's code, no data). */
@ApiExcludeController()
@Controller()
export class AdminPageController {
  constructor() {
    pageAssets(); // a package without the page files fails at start, not on the first visit
  }

  @Get()
  @UseGuards(AdminAccessGuard)
  @UseFilters(AdminPageFilter)
  @Headers(PAGE_HEADERS)
  page(@Req() req: PageRequest): string {
    return pageHtml(req);
  }

  @Get('assets/:file')
  @UseFilters(OversyncExceptionFilter)
  @Headers({ ...SECURITY_HEADERS, 'Cache-Control': 'no-cache' })
  asset(@Param('file') file: string): StreamableFile {
    const asset: AdminAsset | undefined = file === 'index.html' ? undefined : pageAssets().get(file);
    if (!asset) throw new OversyncError('not_found', `no console file ${file}`);
    return new StreamableFile(asset.body, { type: asset.contentType });
  }
}
