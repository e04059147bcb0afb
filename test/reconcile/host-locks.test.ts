import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HostLocks, type HostSet } from '../../src/reconcile/host-locks.js';

const hostsOf = (...names: string[]) => async (): Promise<HostSet> => new Set(names);
const never = (): Promise<HostSet> => new Promise(() => undefined);
/** Whether `promise` settles within a few turns of the event loop. */
const settlesSoon = (promise: Promise<unknown>) =>
  Promise.race([promise.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 50))]);

describe('host locks: targets sharing a host never run at once', () => {
  it('lets a lone target and targets with disjoint hosts through at once', async () => {
    const locks = new HostLocks();
    const signal = new AbortController().signal;
    let listed = 0;
    const releaseA = await locks.acquire('a', async () => (listed++, new Set(['h1'])), signal);
    assert.equal(listed, 0, 'nobody else held hosts: nothing was listed');
    const releaseB = await locks.acquire('b', hostsOf('h2'), signal);
    releaseA();
    releaseB();
  });

  it('holds a target whose hosts overlap until the holder releases', async () => {
    const locks = new HostLocks();
    const signal = new AbortController().signal;
    const releaseA = await locks.acquire('a', hostsOf('h1', 'h2'), signal);
    const b = locks.acquire('b', hostsOf('h2'), signal);
    assert.equal(await settlesSoon(b), false);
    releaseA();
    assert.equal(await settlesSoon(b), true);
    (await b)();
  });

  it('stops waiting on a listing that hangs once the holder it belongs to releases', async () => {
    const locks = new HostLocks();
    const signal = new AbortController().signal;
    const releaseHung = await locks.acquire('hung', never, signal);
    const good = locks.acquire('good', hostsOf('h1'), signal);
    assert.equal(await settlesSoon(good), false, 'an unlisted holder is assumed to overlap while it holds');
    releaseHung();
    assert.equal(await settlesSoon(good), true);
    (await good)();
  });

  it('rejects the wait when its signal aborts', async () => {
    const locks = new HostLocks();
    const release = await locks.acquire('a', hostsOf('h1'), new AbortController().signal);
    const abort = new AbortController();
    const b = locks.acquire('b', hostsOf('h1'), abort.signal);
    abort.abort(new Error('cancelled'));
    await assert.rejects(b);
    release();
  });
});
