/** At most this many warnings are kept per run, each cut to this length: a loop can warn thousands of times. */
const maxWarnings = 50;
const maxLength = 1000;

/**
 * Collects Ansible's `[WARNING]: …` messages from its stderr, line by line. Ansible wraps a warning at 80
 * columns, so the lines after `[WARNING]:` that start neither a new message nor are blank continue it.
 */
export class WarningCollector {
  readonly warnings: string[] = [];
  private current: string | undefined;

  push(line: string): void {
    const start = /^\[WARNING\]:\s?(.*)$/.exec(line);
    if (start) {
      this.flush();
      this.current = start[1] ?? '';
      return;
    }
    if (this.current === undefined) return;
    if (line.trim() === '' || /^(\[[A-Z ]+\]|ERROR!)/.test(line)) {
      this.flush();
      return;
    }
    this.current = this.current ? `${this.current} ${line.trim()}` : line.trim();
  }

  /** Ends the warning being read (call once the stream ends). */
  flush(): void {
    const text = this.current?.trim();
    this.current = undefined;
    if (!text || this.warnings.length >= maxWarnings || this.warnings.includes(text)) return;
    this.warnings.push(text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text);
  }
}
