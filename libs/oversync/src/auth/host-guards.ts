import type { CanActivate, ExecutionContext, Type } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';

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

  /** True when every guard lets the request through; a guard's own exception propagates. */
  async allow(context: ExecutionContext): Promise<boolean> {
    for (const guard of this.guards) {
      if (!(await (await this.instance(guard)).canActivate(context))) return false;
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
