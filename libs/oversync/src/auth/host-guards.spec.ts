import { describe, expect, it } from '@jest/globals';
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ModuleRef } from '@nestjs/core';
import { of, throwError } from 'rxjs';
import { HostGuards } from './host-guards.js';

const context = {} as ExecutionContext;
const guard = (answer: () => ReturnType<CanActivate['canActivate']>): CanActivate => ({ canActivate: answer });

let calls = 0;
@Injectable()
class CountingGuard implements CanActivate {
  readonly instance = ++calls;
  canActivate(): boolean {
    return true;
  }
}

describe('HostGuards', () => {
  it('takes a guard answer as Nest does: boolean, promise or the last value of an observable', async () => {
    const allow = (g: CanActivate) =>
      Promise.resolve(new HostGuards(undefined as unknown as ModuleRef, [g]).allow(context));
    await expect(allow(guard(() => true))).resolves.toBe(true);
    await expect(allow(guard(() => false))).resolves.toBe(false);
    await expect(allow(guard(() => Promise.resolve(false)))).resolves.toBe(false);
    await expect(allow(guard(() => Promise.resolve(true)))).resolves.toBe(true);
    // an observable is an object: it must not count as a yes
    await expect(allow(guard(() => of(false)))).resolves.toBe(false);
    await expect(allow(guard(() => of(true, false)))).resolves.toBe(false);
    await expect(allow(guard(() => of(false, true)))).resolves.toBe(true);
    await expect(allow(guard(() => throwError(() => new Error('refused'))))).rejects.toThrow('refused');
  });

  it('answers at once while every answer is a boolean, and awaits the rest after the first that is not', async () => {
    const guards = (...answers: Array<() => ReturnType<CanActivate['canActivate']>>) =>
      new HostGuards(undefined as unknown as ModuleRef, answers.map(guard)).allow(context);
    expect(
      guards(
        () => true,
        () => true,
      ),
    ).toBe(true);
    expect(
      guards(
        () => true,
        () => false,
      ),
    ).toBe(false);
    let after = 0;
    const counted = () => {
      after++;
      return true;
    };
    const pending = guards(
      () => Promise.resolve(true),
      () => false,
      counted,
    );
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).resolves.toBe(false);
    await expect(
      guards(
        () => of(true),
        counted,
        () => Promise.resolve(true),
      ),
    ).resolves.toBe(true);
    expect(after).toBe(1);
  });

  it('stops at the first refusal and resolves a guard class once', async () => {
    const moduleRef = (await Test.createTestingModule({ providers: [CountingGuard] }).compile()).get(ModuleRef);
    let after = 0;
    const guards = new HostGuards(moduleRef, [
      CountingGuard,
      guard(() => false),
      guard(() => {
        after++;
        return true;
      }),
    ]);
    // the class is resolved on the first request; later requests answer at once
    await expect(guards.allow(context)).resolves.toBe(false);
    expect(guards.allow(context)).toBe(false);
    expect(after).toBe(0);
    expect(calls).toBe(1);
  });
});
