import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, onTokenChange } from './api.js';

/** What a view loaded: the newest data (kept while a later poll fails) and the newest error. */
export type Loaded<T> = { data: T | undefined; error: ApiError | undefined; refresh: () => void };

const visible = () => document.visibilityState === 'visible';

/**
 * Loads with `load` now, then every `everyMs` while the tab is visible (nothing while it is hidden, at once when
 * it shows again); once only when `everyMs` is null. Requests never overlap; a new `key` or token starts over.
 * The state changes only when the answer does, so an unchanged fleet re-renders nothing.
 */
export function usePoll<T>(key: string, load: (signal: AbortSignal) => Promise<T>, everyMs: number | null): Loaded<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: ApiError }>({ key });
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const lastText = useRef<string | undefined>(undefined);

  useEffect(() => onTokenChange(() => setGeneration((g) => g + 1)), []);

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let busy = false;
    lastText.current = undefined;
    const tick = async (): Promise<void> => {
      clearTimeout(timer);
      if (busy || controller.signal.aborted) return;
      busy = true;
      try {
        const data = await loadRef.current(controller.signal);
        const text = JSON.stringify(data);
        if (text !== lastText.current) {
          lastText.current = text;
          setState({ key, data });
        } else {
          setState((s) => (s.error ? { key, data: s.data } : s));
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        const failure = error instanceof ApiError ? error : new ApiError(0, String(error));
        setState((s) => ({ key, data: s.key === key ? s.data : undefined, error: failure }));
      } finally {
        busy = false;
      }
      if (everyMs !== null && visible() && !controller.signal.aborted) timer = setTimeout(tick, everyMs);
    };
    const onVisibility = (): void => {
      if (visible()) void tick();
      else clearTimeout(timer);
    };
    void tick();
    if (everyMs !== null) document.addEventListener('visibilitychange', onVisibility);
    return () => {
      controller.abort();
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [key, everyMs, generation]);

  const refresh = useCallback(() => setGeneration((g) => g + 1), []);
  const current = state.key === key ? state : { key };
  return { data: current.data, error: current.error, refresh };
}

/** The page's clock, ticking every few seconds, so "3 min ago" stays true without each time keeping a timer. */
export const NowContext = createContext(Date.now());

export function useNow(): number {
  return useContext(NowContext);
}

export function useClock(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/**
 * The route of a shareable hash link: `#/`, `#/targets/web`, `#/runs/42`, `#/hosts/web1`, `#/source`,
 * `#/previews`, `#/previews/7` (the link forge statuses and pull-request comments give).
 */
export type Route =
  | { view: 'fleet' }
  | { view: 'target'; name: string }
  | { view: 'run'; id: number }
  | { view: 'host'; name: string }
  | { view: 'source' }
  | { view: 'previews' }
  | { view: 'preview'; id: number }
  | { view: 'unknown'; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const [, first, second, ...rest] = path.split('/');
  if (!first) return { view: 'fleet' };
  if (first === 'source' && second === undefined) return { view: 'source' };
  if (first === 'previews' && !second && rest.length === 0) return { view: 'previews' };
  if (second && rest.length === 0) {
    const value = safeDecode(second);
    if (first === 'targets' && value) return { view: 'target', name: value };
    if (first === 'hosts' && value) return { view: 'host', name: value };
    if (first === 'runs' && /^[1-9][0-9]*$/.test(second)) return { view: 'run', id: Number(second) };
    if (first === 'previews' && /^[1-9][0-9]*$/.test(second)) return { view: 'preview', id: Number(second) };
  }
  return { view: 'unknown', path };
}

function safeDecode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export const links = {
  fleet: () => '#/',
  target: (name: string) => `#/targets/${encodeURIComponent(name)}`,
  run: (id: number) => `#/runs/${id}`,
  host: (name: string) => `#/hosts/${encodeURIComponent(name)}`,
  source: () => '#/source',
  previews: () => '#/previews',
  preview: (id: number) => `#/previews/${id}`,
};
