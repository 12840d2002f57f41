import type { CanActivate, ExecutionContext, Type } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import { isObservable, lastValueFrom, type Observable } from 'rxjs';

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
   * answer may be a boolean, a promise or an observable (its last value), as Nest takes it. While
   * every answer is a boolean the answer is one too: no promise per request (a device's requests with a
   * cached token never wait on anything here).
   */
  allow(context: ExecutionContext): boolean | Promise<boolean> {
    for (let i = 0; i < this.guards.length; i++) {
      const guard = this.guards[i]!;
      const instance = typeof guard === 'function' ? this.resolved.get(guard) : guard;
      if (!instance) return this.allowFrom(i, context);
      const answer = instance.canActivate(context);
      if (typeof answer !== 'boolean')
        return settled(answer).then((allowed) => allowed && this.allowFrom(i + 1, context));
      if (!answer) return false;
    }
    return true;
  }

  /** `allow` from the guard at `start` on, awaiting each answer (and the instance of a guard not resolved yet). */
  private async allowFrom(start: number, context: ExecutionContext): Promise<boolean> {
    for (const guard of this.guards.slice(start)) {
      const instance = (typeof guard === 'function' ? this.resolved.get(guard) : guard) ?? (await this.instance(guard));
      if (!(await settled(instance.canActivate(context)))) return false;
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

/** A guard's answer as Nest takes it: a boolean, a promise of one, or an observable's last value. */
async function settled(answer: boolean | Promise<boolean> | Observable<boolean>): Promise<boolean> {
  return typeof answer === 'boolean' ? answer : isObservable(answer) ? await lastValueFrom(answer) : await answer;
}
