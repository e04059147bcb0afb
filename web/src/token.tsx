import { useEffect, useRef, useState } from 'preact/hooks';
import { currentToken, onTokenChange, setToken, setTokenAsker } from './api.js';

/**
 * The API token: entered once in a dialog, kept in this tab's sessionStorage, forgotten when the tab closes.
 * The dialog opens from the header, and by itself when an action or (on a daemon that wants it) a read needs
 * a token and none is kept.
 */
export function TokenControl() {
  const dialog = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const pending = useRef<((entered: boolean) => void) | undefined>(undefined);
  const [reason, setReason] = useState<string | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [hasToken, setHasToken] = useState(() => currentToken() !== null);

  useEffect(() => onTokenChange(() => setHasToken(currentToken() !== null)), []);

  const open = (why: string | undefined): void => {
    setReason(why);
    setProblem(undefined);
    if (input.current) input.current.value = '';
    if (!dialog.current?.open) dialog.current?.showModal();
  };

  useEffect(() => {
    setTokenAsker(
      (why) =>
        new Promise<boolean>((resolve) => {
          pending.current = resolve;
          open(why);
        }),
    );
    return () => setTokenAsker(undefined);
  }, []);

  const settle = (entered: boolean): void => {
    pending.current?.(entered);
    pending.current = undefined;
  };

  const save = (event: Event): void => {
    event.preventDefault();
    const value = input.current?.value.trim() ?? '';
    if (!value) {
      setProblem('Enter the token (the content of the file api.tokenFile names).');
      input.current?.focus();
      return;
    }
    setToken(value);
    dialog.current?.close();
    settle(true);
  };

  const forget = (): void => {
    setToken(null);
    dialog.current?.close();
    settle(false);
  };

  return (
    <>
      <button type="button" class="token-button" onClick={() => open(undefined)}>
        {hasToken ? 'API token set' : 'Enter API token'}
      </button>
      <dialog ref={dialog} class="token-dialog" aria-labelledby="token-title" onClose={() => settle(false)}>
        <form onSubmit={save}>
          <h2 id="token-title">API token</h2>
          {reason && <p>{reason}</p>}
          <p class="muted">
            Actions (reconcile, cancel, suspend, previews) send it as <code>Authorization: Bearer …</code>. It is kept in this tab only
            (sessionStorage) and never put in a link.
          </p>
          <label for="token-input">Token</label>
          <input id="token-input" ref={input} type="password" name="token" autocomplete="off" spellcheck={false} />
          {problem && (
            <p class="note error" role="alert">
              {problem}
            </p>
          )}
          <div class="buttons">
            <button type="submit" class="primary">
              Save token
            </button>
            {hasToken && (
              <button type="button" onClick={forget}>
                Forget token
              </button>
            )}
            <button type="button" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
