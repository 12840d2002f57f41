import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { useSourceIdParameterRef } from '@oversync/nestjs';

/** Swagger UI at /docs and the OpenAPI document at /docs-json, with bearer auth declared. */
export function setupSwagger(app: INestApplication): void {
  const document = useSourceIdParameterRef(
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Oversync for NestJS — reference server')
        .setDescription(
          'go-oversync compatible sync protocol: push sessions, pull, snapshots, watch. Every error is ' +
            '`{"error","message"}`. ' +
            ('Sign in with POST /dummy-signin (development only), then Authorize with the token; it is kept ' +
              'across reloads.'),
        )
        .setVersion('0.1.0')
        .addBearerAuth()
        .build(),
    ),
  );
  // persistAuthorization: the UI keeps the bearer token in localStorage across page reloads
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: { persistAuthorization: true },
  });
}
