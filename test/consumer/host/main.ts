// A host app as a user writes it, compiled by test/consumer/consumer.e2e-spec.ts twice: to CommonJS
// (package.json "type": "commonjs", emitted as require()) and to ESM. It knows @oversync/nestjs only
// through the installed tarball. Settings come from the environment the test gives it.
import 'reflect-metadata';
import {
  Body,
  Controller,
  Injectable,
  Module,
  Post,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OversyncModule } from '@oversync/nestjs';

/** The host's own guard: the user comes from a header (not passport). */
@Injectable()
class HostUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined>; user?: { sub: string } }>();
    const user = req.headers['x-host-user'];
    if (!user) return false;
    req.user = { sub: user };
    return true;
  }
}

class EchoBody {
  name!: string;
  count!: number;
}

/** The host's own JSON route, parsed by the host's body parser. */
@Controller('host')
class HostController {
  @Post('echo')
  echo(@Body() body: EchoBody): { received: EchoBody; countType: string } {
    return { received: body, countType: typeof body?.count };
  }
}

const schema = process.env.HOST_SCHEMA!;
const table = process.env.HOST_TABLE!;

@Module({
  imports: [
    TypeOrmModule.forRoot({ type: 'postgres', url: process.env.DATABASE_URL, extra: { max: 5 } }),
    OversyncModule.forRoot({
      tables: [{ schema, table, syncKeyColumns: ['id'] }],
      guards: [HostUserGuard],
      appName: process.env.HOST_NAME,
    }),
  ],
  controllers: [HostController],
})
class HostModule {}

/** Swagger UI when the host has @nestjs/swagger installed (the ESM host does, the CommonJS host does not). */
interface SwaggerApi {
  SwaggerModule: {
    createDocument(app: INestApplication, config: object): object;
    setup(path: string, app: INestApplication, document: object, options?: object): void;
  };
  DocumentBuilder: new () => { setTitle(title: string): { build(): object } };
}
const SWAGGER = '@nestjs/swagger' as string; // a variable: the CommonJS host compiles without it installed

async function setupDocs(app: INestApplication): Promise<boolean> {
  let swagger: SwaggerApi;
  try {
    swagger = (await import(SWAGGER)) as SwaggerApi;
  } catch {
    return false;
  }
  const document = swagger.SwaggerModule.createDocument(
    app,
    new swagger.DocumentBuilder().setTitle(process.env.HOST_NAME!).build(),
  );
  swagger.SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return true;
}

async function main(): Promise<void> {
  const app = await NestFactory.create(HostModule, {
    rawBody: process.env.HOST_RAW_BODY === '1',
    logger: ['error', 'warn'],
  });
  const docs = await setupDocs(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  console.log(`LISTENING ${port} docs=${docs}`);
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
