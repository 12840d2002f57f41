import 'reflect-metadata';
import { describe, expect, it, jest } from '@jest/globals';
import { HttpCode, Logger, Param, Post, StreamableFile, type ExecutionContext } from '@nestjs/common';
import { HTTP_CODE_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { encodeEndpointAnswers } from './sync-endpoint-call.js';
import { OversyncError } from './oversync.error.js';
import { SYNC_ENDPOINT, SyncEndpoint } from './sync-endpoint.decorator.js';

type Wrapped = (this: Probe, id: string, context: ExecutionContext) => Promise<unknown>;
/** The wrapped handler as Nest calls it: the declared parameters, then the execution context. */
const wrappedThing = (): Wrapped => Object.getOwnPropertyDescriptor(Probe.prototype, 'thing')!.value as Wrapped;

class Probe {
  failWith: Error | undefined;

  @Post('things/:id')
  @HttpCode(200)
  @SyncEndpoint('push_chunk_failed')
  async thing(@Param('id') id: string): Promise<unknown> {
    if (this.failWith !== undefined) throw this.failWith;
    return { id, big: 9007199254740993n };
  }
}
encodeEndpointAnswers(Probe.prototype);

/** A context as Nest builds it for the extra parameter: Fastify's reply has `raw`, Express' response not. */
function contextFor(response: object): ExecutionContext {
  return {
    switchToHttp: () => ({ getRequest: () => ({}), getResponse: () => response }),
  } as unknown as ExecutionContext;
}

describe('encodeEndpointAnswers', () => {
  it('keeps the route metadata on the wrapped handler and adds the context as its last parameter', () => {
    const handler = wrappedThing();
    expect(handler.name).toBe('thing');
    expect(Reflect.getMetadata(PATH_METADATA, handler)).toBe('things/:id');
    expect(Reflect.getMetadata(HTTP_CODE_METADATA, handler)).toBe(200);
    expect(Reflect.getMetadata(SYNC_ENDPOINT, handler)).toMatchObject({ code: 'push_chunk_failed' });
    const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, Probe, 'thing') as Record<string, { index: number }>;
    expect(
      Object.values(args)
        .map((a) => a.index)
        .sort(),
    ).toEqual([0, 1]);
  });

  it('answers Go JSON bytes with the wire Content-Type on Fastify and a sized file on Express', async () => {
    const headers: Record<string, string> = {};
    const reply = { raw: {}, header: (name: string, value: string) => (headers[name] = value) };
    const call = wrappedThing();
    const bytes = await call.call(new Probe(), 'a1', contextFor(reply));
    expect(Buffer.isBuffer(bytes) && bytes.toString()).toBe('{"id":"a1","big":9007199254740993}\n');
    expect(headers).toEqual({ 'Content-Type': 'application/json' });

    const set: Record<string, unknown> = {};
    const res = { setHeader: (name: string, value: unknown) => (set[name] = value) };
    const file = await call.call(new Probe(), 'a1', contextFor(res));
    expect(file).toBeInstanceOf(StreamableFile);
    expect((file as StreamableFile).getHeaders()).toMatchObject({ type: 'application/json', length: 35 });
    expect(set).toEqual({ 'Content-Type': 'application/json' });
  });

  it('passes protocol errors through and turns anything else into the endpoint code', async () => {
    const call = wrappedThing();
    const probe = new Probe();
    const context = contextFor({ raw: {}, header: () => undefined });
    probe.failWith = new OversyncError('push_chunk_out_of_order', 'expected 0');
    await expect(call.call(probe, 'a', context)).rejects.toMatchObject({ code: 'push_chunk_out_of_order' });
    const quiet = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      probe.failWith = new Error('boom');
      await expect(call.call(probe, 'a', context)).rejects.toMatchObject({ code: 'push_chunk_failed', status: 500 });
      expect(quiet).toHaveBeenCalled();
    } finally {
      quiet.mockRestore();
    }
  });
});
