import type { CanActivate, ExecutionContext, Type } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';

/**
 * The host's guards as the module runs them on its own routes: classes are taken from the host's
 * providers (or created once), instances used as given; the first that refuses ends the run.
 */
export class HostGuards {
  private readonly resolved = new Map<Type<CanActivate>, CanActivate>();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly guards: ReadonlyArray<Type<CanActivate> | CanActivate>,
  ) {}

  /**
   * True when every guard lets the request through; a guard's own exception propagates. A guard's
   * answer may be a boolean, a promise or an observable (its last value), as Nest takes it.
   */
  async allow(context: ExecutionContext): Promise<boolean> {
    for (const guard of this.guards) {
      // resolved once: no extra await per request for the instance
      const instance = (typeof guard === 'function' ? this.resolved.get(guard) : guard) ?? (await this.instance(guard));
      const answer = instance.canActivate(context);
      const allowed =
        typeof answer === 'boolean' ? answer : isObservable(answer) ? await lastValueFrom(answer) : await answer;
      if (!allowed) return false;
    }
    return true;
  }

  private async instance(guard: Type<CanActivate> | CanActivate): Promise<CanActivate> {
    if (typeof guard !== 'function') return guard;
    const cached = this.resolved.get(guard);
    if (cached) return cached;
    let instance: CanActivate;
    try {
      instance = this.moduleRef.get(guard, { strict: false });
    } catch {
      instance = await this.moduleRef.create(guard);
    }
    this.resolved.set(guard, instance);
    return instance;
  }
}
