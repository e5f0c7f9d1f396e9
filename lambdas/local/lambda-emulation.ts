/**
 * What the local runtime's stand-ins (the in-process queue, the stream poller, the digest timer and the
 * other asynchronous invocations) share to run a handler as Lambda runs it:
 *
 * - **instances**: a handler runs in an execution environment that serves one call at a time; a call
 *   still running at the function's timeout is abandoned and its environment is thrown away (Lambda
 *   stops its process). In one Node process the abandoned code cannot be stopped, so a consumer may be
 *   given as a factory of instances, each with a `kill()` that cuts the instance off from the world
 *   (see `killable`): that kill switch is what keeps a timed-out call from acting afterwards. A plain
 *   handler is one instance shared by every call and cannot be killed: a timed-out call of it is no
 *   longer waited for, but goes on running.
 * - **timed calls** (`invokeWithTimeout`): `context.getRemainingTimeInMillis()` counting down from the
 *   timeout, and the call abandoned when it runs out.
 * - **asynchronous invocation** (`invokeAsync`): Lambda's own retries (about 1 then 2 minutes apart),
 *   the maximum event age, and the on-failure destination.
 *
 * Every wait runs on a `TimeSource`, so a `ScaledTime` runs all of it proportionally faster.
 */
import type { AsyncLimits } from '../../infra/limits.ts';
import { systemTime, type TimeSource } from '../core/clock.ts';

/** What a Lambda handler receives besides its event (the part the handlers here use). */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** One execution environment: its handler, and how to stop everything it started. */
export interface Instance<H> {
  handler: H;
  /** Stops the instance acting for good (typically `killable(deps).kill`). Called once its call timed out. */
  kill?: () => void;
}

/** Makes a fresh execution environment (a cold start). */
export type InstanceFactory<H> = () => Instance<H>;

/**
 * A consumer as the stand-ins take it: a plain handler (one instance, shared, which cannot be killed), or
 * `{ instance: factory }`, a fresh instance per execution environment, each killable.
 */
export type Consumer<H> = H | { instance: InstanceFactory<H> };

/**
 * The execution environments of one function: an idle one is reused, a new one is made when none is idle,
 * and one whose call timed out is killed and never used again.
 */
export class InstancePool<H> {
  private readonly idle: Instance<H>[] = [];
  private readonly factory: InstanceFactory<H> | undefined;
  private readonly shared: Instance<H> | undefined;
  /** Instances made so far (cold starts). */
  created = 0;
  /** Instances killed after a call timed out. */
  killed = 0;

  constructor(consumer: Consumer<H>) {
    if (typeof consumer === 'object' && consumer !== null && 'instance' in consumer && typeof consumer.instance === 'function')
      this.factory = consumer.instance;
    else {
      this.shared = { handler: consumer as H };
      this.created = 1;
    }
  }

  /** An instance for one call: an idle one, or a new one. */
  acquire(): Instance<H> {
    if (this.shared) return this.shared;
    const reused = this.idle.pop();
    if (reused) return reused;
    this.created++;
    return this.factory!();
  }

  /** The call ended in time: the instance may serve another call. */
  release(instance: Instance<H>): void {
    if (instance !== this.shared) this.idle.push(instance);
  }

  /** The call timed out: the instance is killed and forgotten (the next call gets a fresh one). */
  discard(instance: Instance<H>): void {
    this.killed++;
    try {
      instance.kill?.();
    } catch {
      /* a kill switch that fails leaves nothing more to do */
    }
  }
}

/** How much emulated time one step of a cancellable wait lasts at most. */
const WAIT_STEP_MS = 1000;

/**
 * Waits on `time` until `deadline` (ms since the epoch on that time), in steps, so that `cancelled()`
 * ends the wait early and no long timer is left pending (a stopped runtime can exit). Answers whether
 * the deadline was reached (false: cancelled).
 */
export async function sleepUntil(time: TimeSource, deadline: number, cancelled: () => boolean = () => false): Promise<boolean> {
  for (;;) {
    if (cancelled()) return false;
    const left = deadline - time.nowMs();
    if (left <= 0) return true;
    await time.sleep(Math.min(left, WAIT_STEP_MS));
  }
}

export type CallOutcome<R> =
  | { status: 'returned'; value: R }
  | { status: 'threw'; error: unknown }
  /** Still running at the timeout: nobody waits for it any more. `late` settles if the code ever finishes. */
  | { status: 'timedOut'; late: Promise<unknown> };

/**
 * Calls `handler` as Lambda does: with a context whose `getRemainingTimeInMillis()` counts down from
 * `timeoutMs` on `time`, and gives up on the call when it runs out. Never rejects.
 */
export async function invokeWithTimeout<E, R>(
  handler: (event: E, context: LambdaContext) => Promise<R> | R,
  event: E,
  timeoutMs: number,
  time: TimeSource = systemTime,
): Promise<CallOutcome<R>> {
  const deadline = time.nowMs() + timeoutMs;
  const context: LambdaContext = { getRemainingTimeInMillis: () => Math.max(0, deadline - time.nowMs()) };
  let settled = false;
  const call = (async () => handler(event, context))();
  const result = call.then(
    (value): CallOutcome<R> => ({ status: 'returned', value }),
    (error: unknown): CallOutcome<R> => ({ status: 'threw', error }),
  );
  void result.finally(() => {
    settled = true;
  });
  const timedOut = sleepUntil(time, deadline, () => settled).then((reached) =>
    reached ? ({ status: 'timedOut', late: result } as CallOutcome<R>) : new Promise<never>(() => undefined),
  );
  return Promise.race([result, timedOut]);
}

// ---------------------------------------------------------------------------------------------------------
// killable

/** A promise that never settles: what a call into a killed process looks like from inside it. */
const never = <T = never>(): Promise<T> => new Promise<T>(() => undefined);

/** Objects handed through as they are: values, not ports (and some break when proxied). */
function isBuiltin(v: object): boolean {
  return (
    Array.isArray(v) ||
    v instanceof Date ||
    v instanceof Map ||
    v instanceof Set ||
    v instanceof WeakMap ||
    v instanceof WeakSet ||
    v instanceof RegExp ||
    v instanceof Error ||
    v instanceof Promise ||
    v instanceof ArrayBuffer ||
    ArrayBuffer.isView(v) ||
    v instanceof URL ||
    v instanceof URLSearchParams ||
    (typeof AbortSignal !== 'undefined' && v instanceof AbortSignal) ||
    (typeof AbortController !== 'undefined' && v instanceof AbortController)
  );
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Makes `target` (a graph of ports: objects whose methods return promises, nested objects such as
 * `deps.sends`) killable, as a Lambda process is: after `kill()`, every method or function reached
 * through `value` returns a promise that never settles (sync methods included), and a promise one of
 * them returned before the kill never settles either if it had not yet when the kill came. From the
 * point of view of the code holding `value`, nothing it started completes: it hangs at its next await,
 * as if its process were gone. (Work already handed to the world, such as an HTTP request on its way,
 * may still happen, as it may in AWS.)
 *
 * What is wrapped: class instances and plain objects reached by property access (so nested ports are
 * covered), and functions (called with the object they were read from as `this`: the original one, so
 * classes with `#private` fields work). What is not: primitives, arrays, Dates, Maps, Sets, errors,
 * promises, buffers, URLs; and data returned by a method (plain objects and arrays come back as they
 * are; functions and class instances come back wrapped, e.g. a semaphore's release). Arguments that are
 * wrapped objects are unwrapped before the original method sees them.
 */
export function killable<T extends object>(target: T): { value: T; kill(): void } {
  let killed = false;
  const proxies = new WeakMap<object, object>();
  const originals = new WeakMap<object, object>();
  /** Wrapped functions by the object they were read from (`this`) and the function. */
  const bound = new WeakMap<object, WeakMap<(...a: unknown[]) => unknown, (...a: unknown[]) => unknown>>();
  const freeFunctions = new WeakMap<(...a: unknown[]) => unknown, (...a: unknown[]) => unknown>();

  const unwrap = (v: unknown): unknown => ((typeof v === 'object' || typeof v === 'function') && v !== null ? (originals.get(v) ?? v) : v);

  /** A result as the killed-or-not code sees it. */
  const guard = (r: unknown): unknown => {
    if (isThenable(r)) {
      return new Promise((resolve, reject) => {
        r.then(
          (v) => {
            if (!killed) resolve(wrapResult(v));
          },
          (e: unknown) => {
            if (!killed) reject(e);
          },
        );
      });
    }
    return wrapResult(r);
  };

  const wrapResult = (v: unknown): unknown => {
    if (typeof v === 'function') return wrapFunction(v as (...a: unknown[]) => unknown, undefined);
    if (typeof v === 'object' && v !== null && !isBuiltin(v) && !isPlainObject(v)) return wrapObject(v);
    return v;
  };

  const wrapFunction = (fn: (...a: unknown[]) => unknown, owner: object | undefined): ((...a: unknown[]) => unknown) => {
    if (originals.has(fn)) return fn;
    let cache: WeakMap<(...a: unknown[]) => unknown, (...a: unknown[]) => unknown> | undefined;
    if (owner) {
      cache = bound.get(owner);
      if (!cache) bound.set(owner, (cache = new WeakMap()));
    } else cache = freeFunctions;
    const known = cache.get(fn);
    if (known) return known;
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      if (killed) return never();
      const plain = args.map(unwrap);
      if (new.target) return wrapResult(Reflect.construct(fn, plain));
      const r = Reflect.apply(fn, owner ?? unwrap(this), plain);
      return guard(r);
    };
    Object.defineProperty(wrapped, 'name', { value: fn.name });
    cache.set(fn, wrapped);
    originals.set(wrapped, fn);
    return wrapped;
  };

  /** A property read from `owner`, as the code sees it. */
  const wrapMember = (v: unknown, owner: object): unknown => {
    if (typeof v === 'function') return wrapFunction(v as (...a: unknown[]) => unknown, owner);
    if (typeof v === 'object' && v !== null && !isBuiltin(v)) return wrapObject(v);
    return v;
  };

  const wrapObject = (obj: object): object => {
    if (originals.has(obj)) return obj;
    const known = proxies.get(obj);
    if (known) return known;
    // The proxy stands over an empty object of its own, so frozen or non-configurable members of the
    // original do not bind it to hand them out unwrapped (the proxy invariants).
    const proxy = new Proxy(Object.create(null) as object, {
      get: (_, p) => wrapMember(Reflect.get(obj, p, obj), obj),
      set: (_, p, v) => Reflect.set(obj, p, v, obj),
      has: (_, p) => Reflect.has(obj, p),
      deleteProperty: (_, p) => Reflect.deleteProperty(obj, p),
      ownKeys: () => Reflect.ownKeys(obj),
      getOwnPropertyDescriptor: (_, p) => {
        const d = Reflect.getOwnPropertyDescriptor(obj, p);
        if (!d) return undefined;
        return { value: wrapMember(Reflect.get(obj, p, obj), obj), writable: true, enumerable: d.enumerable ?? false, configurable: true };
      },
      defineProperty: (_, p, d) => Reflect.defineProperty(obj, p, d),
      getPrototypeOf: () => Reflect.getPrototypeOf(obj),
      setPrototypeOf: (_, proto) => Reflect.setPrototypeOf(obj, proto),
    });
    proxies.set(obj, proxy);
    originals.set(proxy, obj);
    return proxy;
  };

  const value = (typeof target === 'function' ? wrapFunction(target as unknown as (...a: unknown[]) => unknown, undefined) : wrapObject(target)) as T;
  return {
    value,
    kill: () => {
      killed = true;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Asynchronous invocation

/** Lambda's waits before the first and the second retry of a failed asynchronous invocation. */
export const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000] as const;

/** How an asynchronously invoked function runs, in milliseconds. */
export interface AsyncInvokeOptions {
  /** Retries after a failed invocation (Lambda allows 0 to 2). */
  retryAttempts: number;
  timeoutMs: number;
  /** An event older than this is not tried again: it goes to the on-failure destination. */
  maxEventAgeMs: number;
}

/** The limits of an asynchronously invoked function, in the units the stand-ins take. */
export function asyncOptionsFrom(limits: AsyncLimits): AsyncInvokeOptions {
  return { retryAttempts: limits.retryAttempts, timeoutMs: limits.timeoutSeconds * 1000, maxEventAgeMs: limits.maxEventAgeSeconds * 1000 };
}

/** What the on-failure destination receives (the gist of Lambda's destination record). */
export interface AsyncFailure<E> {
  event: E;
  /** `RetriesExhausted`: every attempt failed; `EventAgeExceeded`: the event got too old to try again. */
  condition: 'RetriesExhausted' | 'EventAgeExceeded';
  /** Invocations made. */
  attempts: number;
  /** The last attempt's error (a timeout is an `Error` saying so). */
  error: unknown;
}

export type AsyncOutcome<R> =
  | { status: 'succeeded'; value: R; attempts: number }
  | { status: 'failed'; failure: AsyncFailure<unknown> }
  | { status: 'dropped'; attempts: number };

export interface InvokeAsyncExtras {
  log?: (msg: string, detail?: unknown) => void;
  /** Name for the log lines. */
  name?: string;
  /** Once true, retries still to come are not made (the process stops); resolves `dropped`. */
  cancelled?: () => boolean;
}

/**
 * Invokes `handler` with `event` as Lambda invokes a function asynchronously: a call that throws or runs
 * past its timeout (abandoned, its instance killed) is tried again after about 1 minute, then after
 * about 2 more (`retryAttempts` of them), unless the event is older than `maxEventAge` by then; an event
 * that fails for good is handed to `onFailure` (the on-failure destination; by default it is logged).
 * Resolves once the event succeeded or was handed on. `handler` may be a plain handler, an instance
 * factory (`{ instance }`), or an `InstancePool` shared by several invocations.
 */
export async function invokeAsync<E, R>(
  handler: Consumer<(event: E, context: LambdaContext) => Promise<R> | R> | InstancePool<(event: E, context: LambdaContext) => Promise<R> | R>,
  event: E,
  limits: AsyncLimits | AsyncInvokeOptions,
  time: TimeSource = systemTime,
  onFailure?: (failure: AsyncFailure<E>) => unknown,
  extras: InvokeAsyncExtras = {},
): Promise<AsyncOutcome<R>> {
  const o = 'timeoutSeconds' in limits ? asyncOptionsFrom(limits) : limits;
  const retries = Math.max(0, Math.min(ASYNC_RETRY_DELAYS_MS.length, Math.floor(o.retryAttempts)));
  const pool = handler instanceof InstancePool ? handler : new InstancePool(handler);
  const log = extras.log ?? ((m: string, d?: unknown) => console.error(m, d ?? ''));
  const name = extras.name ?? 'async';
  const cancelled = extras.cancelled ?? (() => false);
  const queuedAt = time.nowMs();
  let lastError: unknown;
  const fail = async (failure: AsyncFailure<E>): Promise<AsyncOutcome<R>> => {
    if (onFailure) {
      try {
        await onFailure(failure);
      } catch (e) {
        log(`[${name}] the on-failure destination threw`, e);
      }
    } else
      log(`[${name}] invocation failed for good (${failure.condition} after ${failure.attempts} attempt(s)); the event goes to the on-failure destination`, {
        event: failure.event,
        error: failure.error,
      });
    return { status: 'failed', failure: failure as AsyncFailure<unknown> };
  };
  for (let attempt = 1; ; attempt++) {
    const instance = pool.acquire();
    const outcome = await invokeWithTimeout(instance.handler, event, o.timeoutMs, time);
    if (outcome.status === 'returned') {
      pool.release(instance);
      return { status: 'succeeded', value: outcome.value, attempts: attempt };
    }
    if (outcome.status === 'timedOut') {
      pool.discard(instance);
      outcome.late.catch(() => undefined);
      lastError = new Error(`Task timed out after ${(o.timeoutMs / 1000).toFixed(2)} seconds`);
    } else {
      pool.release(instance);
      lastError = outcome.error;
    }
    if (attempt > retries) return fail({ event, condition: 'RetriesExhausted', attempts: attempt, error: lastError });
    log(`[${name}] invocation failed (attempt ${attempt}); Lambda tries it again`, lastError instanceof Error ? lastError.message : lastError);
    const retryAt = time.nowMs() + ASYNC_RETRY_DELAYS_MS[attempt - 1]!;
    if (!(await sleepUntil(time, retryAt, cancelled))) return { status: 'dropped', attempts: attempt };
    if (time.nowMs() - queuedAt > o.maxEventAgeMs) return fail({ event, condition: 'EventAgeExceeded', attempts: attempt, error: lastError });
  }
}
