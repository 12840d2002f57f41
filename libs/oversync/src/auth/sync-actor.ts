import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/** The authenticated caller of a /sync route: the host's user and the device's source id. */
export interface SyncActor {
  readonly userId: string;
  readonly sourceId: string;
}

export interface RequestWithActor {
  oversyncActor?: SyncActor;
}

/** Injects the actor resolved by `OversyncActorGuard`. */
export const Actor = createParamDecorator((_: unknown, context: ExecutionContext): SyncActor => {
  const actor = context.switchToHttp().getRequest<RequestWithActor>().oversyncActor;
  if (!actor) throw new Error('OversyncActorGuard did not run');
  return actor;
});
