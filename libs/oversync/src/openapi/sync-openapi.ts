import { SOURCE_ID_HEADER } from '@oversync/protocol';
import { ErrorResponseDto } from '../errors/error-response.dto.js';
import { ApiBearerAuth, ApiHeader, ApiQuery, ApiResponse } from './optional-swagger.js';

type Decorator = ClassDecorator & MethodDecorator;

const compose = (...decorators: Decorator[]): Decorator =>
  ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    for (const decorator of decorators)
      (decorator as (t: object, k?: string | symbol, d?: PropertyDescriptor) => void)(target, key, descriptor);
  }) as Decorator;

/** The one description of the source header, used by every authenticated sync operation. */
export const SOURCE_ID_PARAMETER = {
  name: SOURCE_ID_HEADER,
  required: true,
  description:
    'The device (sync source) making the call: any opaque, stable, printable id chosen by the client ' +
    '(up to 512 characters, no control characters; a UUID is a common choice but not required).',
  schema: { type: 'string', maxLength: 512, example: 'device-5f0c' },
} as const;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Not authenticated',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  410: 'Gone (expired)',
  413: 'Request too large',
  429: 'Too many requests',
  500: 'Internal failure (generic message, the cause is only logged)',
  503: "Unavailable, retryable (shutting down, database unreachable, the user's sync lock busy)",
};

/** Error answers as `{status: [codes]}`: each status documented with the envelope schema and its codes. */
export type SyncErrorMap = Partial<
  Record<400 | 401 | 403 | 404 | 409 | 410 | 413 | 429 | 500 | 503, readonly string[]>
>;

export function ApiSyncErrors(errors: SyncErrorMap): Decorator {
  return compose(
    ...Object.entries(errors).map(
      ([status, codes]) =>
        ApiResponse({
          status: Number(status),
          description:
            `${STATUS_TEXT[Number(status)] ?? 'Error'}: \`{"error","message"}\` with error ` +
            `${codes!.map((c) => `\`${c}\``).join(', ')}`,
          type: ErrorResponseDto,
        }) as Decorator,
    ),
  );
}

/** Bearer auth, the source header, and the answers every authenticated sync route can give. */
export function ApiSyncAuthenticated(): Decorator {
  return compose(
    ApiBearerAuth() as Decorator,
    ApiHeader(SOURCE_ID_PARAMETER) as Decorator,
    ApiSyncErrors({
      401: ['authentication_failed'],
      503: ['service_unavailable'],
    }),
  );
}

/** A query parameter carrying a non-negative int64 (bound with Go rules; absent = the default). */
export function ApiInt64Query(
  name: string,
  description: string,
  bounds: { minimum?: number; maximum?: number } = {},
): Decorator {
  return ApiQuery({
    name,
    required: false,
    description,
    schema: { type: 'integer', format: 'int64', ...bounds },
  }) as Decorator;
}

/** The parts of an OpenAPI 3 document that `useSourceIdParameterRef` touches (no @nestjs/swagger types needed). */
export interface OpenApiDocumentLike {
  paths: Record<string, object>;
  components?: { parameters?: Record<string, object> };
}

/** Name of the reusable parameter under `components.parameters`. */
export const SOURCE_ID_PARAMETER_NAME = 'OversyncSourceId';

/**
 * Turns the `Oversync-Source-ID` header of every operation into one reusable parameter
 * (`#/components/parameters/OversyncSourceId`). @nestjs/swagger writes header parameters inline and
 * a module cannot add components to the host's document, so a host that wants the reference form
 * calls this on `SwaggerModule.createDocument(…)`'s result. Returns the same document.
 */
export function useSourceIdParameterRef<D extends OpenApiDocumentLike>(document: D): D {
  const ref = { $ref: `#/components/parameters/${SOURCE_ID_PARAMETER_NAME}` };
  let definition: Record<string, unknown> | undefined;
  for (const pathItem of Object.values(document.paths)) {
    for (const operation of Object.values(pathItem as Record<string, unknown>)) {
      const parameters = (operation as { parameters?: Array<Record<string, unknown>> } | null)?.parameters;
      if (!Array.isArray(parameters)) continue;
      const index = parameters.findIndex((p) => p.in === 'header' && p.name === SOURCE_ID_PARAMETER.name);
      if (index < 0) continue;
      definition ??= parameters[index];
      parameters[index] = ref;
    }
  }
  if (definition) {
    document.components ??= {};
    document.components.parameters = {
      ...(document.components.parameters ?? {}),
      [SOURCE_ID_PARAMETER_NAME]: definition,
    };
  }
  return document;
}
