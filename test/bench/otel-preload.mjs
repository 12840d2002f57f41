// What a host's OpenTelemetry setup does at start, for the bench's "observability on" server: spans are
// recorded and handed to a batch processor whose exporter drops them (no collector on this machine).
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const discard = {
  export(spans, done) {
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
};
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] }));
