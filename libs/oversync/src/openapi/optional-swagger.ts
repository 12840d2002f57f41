import type * as SwaggerApi from '@nestjs/swagger';

// @nestjs/swagger is an optional peer: the module's controllers and DTOs are documented with the
// decorators below, which only record what to apply. `applyOpenApiDecorations()` (a provider of
// OversyncModule, awaited before the host can build a document) imports @nestjs/swagger when the host
// has it and replays the records with it; without it nothing is applied and nothing fails. A dynamic
// import keeps the module loadable by `require()` from CommonJS hosts (no top-level await).

type Swagger = typeof SwaggerApi;
type DecoratorName =
  | 'ApiBearerAuth'
  | 'ApiBody'
  | 'ApiExcludeController'
  | 'ApiExtraModels'
  | 'ApiHeader'
  | 'ApiOkResponse'
  | 'ApiNoContentResponse'
  | 'ApiOperation'
  | 'ApiParam'
  | 'ApiProduces'
  | 'ApiProperty'
  | 'ApiPropertyOptional'
  | 'ApiQuery'
  | 'ApiResponse'
  | 'ApiTags';

type AnyDecorator = (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => void;

interface Recorded {
  name: DecoratorName;
  args: unknown[];
  target: object;
  key?: string | symbol;
  descriptor?: PropertyDescriptor;
}

const recorded: Recorded[] = [];
let applied: Promise<boolean> | undefined;

function recorder<N extends DecoratorName>(name: N) {
  return (...args: Parameters<Swagger[N]>) =>
    ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
      recorded.push({ name, args, target, key, descriptor });
    }) as ClassDecorator & MethodDecorator & PropertyDecorator;
}

export const ApiBearerAuth = recorder('ApiBearerAuth');
export const ApiBody = recorder('ApiBody');
export const ApiExcludeController = recorder('ApiExcludeController');
export const ApiExtraModels = recorder('ApiExtraModels');
export const ApiHeader = recorder('ApiHeader');
export const ApiNoContentResponse = recorder('ApiNoContentResponse');
export const ApiOkResponse = recorder('ApiOkResponse');
export const ApiOperation = recorder('ApiOperation');
export const ApiParam = recorder('ApiParam');
export const ApiProduces = recorder('ApiProduces');
export const ApiProperty = recorder('ApiProperty');
export const ApiPropertyOptional = recorder('ApiPropertyOptional');
export const ApiQuery = recorder('ApiQuery');
export const ApiResponse = recorder('ApiResponse');
export const ApiTags = recorder('ApiTags');

/** `#/components/schemas/<Name>` of a DTO class (what `getSchemaPath` answers). */
export const schemaPath = (model: { name: string }): string => `#/components/schemas/${model.name}`;

async function importSwagger(): Promise<Swagger | undefined> {
  try {
    return await import('@nestjs/swagger');
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * Applies the recorded OpenAPI decorators once per process when @nestjs/swagger is installed;
 * resolves to whether it was. Idempotent and safe to await from every module instance.
 */
export function applyOpenApiDecorations(): Promise<boolean> {
  applied ??= importSwagger().then((swagger) => {
    if (!swagger) return false;
    // Records were pushed in TypeScript's decorator order (bottom-up per member); replaying keeps it.
    for (const { name, args, target, key, descriptor } of recorded) {
      const factory = swagger[name] as (...factoryArgs: unknown[]) => AnyDecorator;
      // a method replaced since it was decorated (@SyncController() wraps its handlers): its current function
      const current = key !== undefined && descriptor ? Object.getOwnPropertyDescriptor(target, key) : undefined;
      factory(...args)(target, key, current ?? descriptor);
    }
    return true;
  });
  return applied;
}
