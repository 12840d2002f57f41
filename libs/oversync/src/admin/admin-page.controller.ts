import { Catch, Controller, Get, HttpException, Param, Req, Res, UseFilters, UseGuards, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { ApiExcludeController } from '../openapi/optional-swagger.js';
import type { Request, Response } from 'express';
import { OversyncError } from '../errors/oversync.error.js';
import { OversyncExceptionFilter } from '../errors/oversync-exception.filter.js';
import { AdminAccessGuard } from './admin-access.guard.js';
import { ADMIN_PAGE_CSP, loadAdminAssets, type AdminAsset } from './admin-page.assets.js';

// read when the console is mounted (a host that never imports it never reads them)
let loaded: Map<string, AdminAsset> | undefined;
const pageAssets = () => (loaded ??= loadAdminAssets());

function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', ADMIN_PAGE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

/** The console document: index.html with the console's own URL as the base of its assets and API. */
function sendPage(req: Request, res: Response, status: number): void {
  const path = req.originalUrl.split('?')[0]!.replace(/\/*$/, '/');
  const base = path.replace(/[&"<>']/g, (c) => `&#${c.charCodeAt(0)};`);
  const html = pageAssets().get('index.html')!.body.toString('utf8').replaceAll('%BASE%', base);
  securityHeaders(res);
  res.setHeader('Cache-Control', 'no-store');
  res.status(status).type('text/html; charset=utf-8').send(html);
}

/**
 * Without the admin guard the document is still the console (status 401/403), which then asks for a
 * bearer token: a browser navigation cannot send one, and the page holds no data of its own.
 */
@Catch()
class AdminPageFilter implements ExceptionFilter {
  private readonly fallback = new OversyncExceptionFilter();

  catch(exception: unknown, host: ArgumentsHost): void {
    const status = exception instanceof OversyncError ? exception.status : exception instanceof HttpException ? exception.getStatus() : 500;
    if (status !== 401 && status !== 403) return this.fallback.catch(exception, host);
    const http = host.switchToHttp();
    sendPage(http.getRequest<Request>(), http.getResponse<Response>(), status);
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
  page(@Req() req: Request, @Res() res: Response): void {
    sendPage(req, res, 200);
  }

  @Get('assets/:file')
  @UseFilters(OversyncExceptionFilter)
  asset(@Param('file') file: string, @Res() res: Response): void {
    const asset: AdminAsset | undefined = file === 'index.html' ? undefined : pageAssets().get(file);
    if (!asset) throw new OversyncError('not_found', `no console file ${file}`);
    securityHeaders(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.status(200).type(asset.contentType).send(asset.body);
  }
}
