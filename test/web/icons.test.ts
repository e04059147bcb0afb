import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { runStatusLook, suspendedIcon, targetStatusLook } from '../../web/src/format.js';

/** The font families fontconfig says have this character. */
function familiesWith(char: string): string {
  const hex = char.codePointAt(0)!.toString(16);
  return execFileSync('fc-list', [`:charset=${hex}`, 'family'], { encoding: 'utf8' });
}

describe('status icons on the page', () => {
  it("are all characters DejaVu Sans has, so Debian's default fonts never draw an empty box", () => {
    const icons = [...Object.values(targetStatusLook), ...Object.values(runStatusLook)].map((look) => look.icon);
    for (const icon of [...icons, suspendedIcon]) {
      assert.match(familiesWith(icon), /DejaVu Sans/, `${icon} (U+${icon.codePointAt(0)!.toString(16)}) is not in DejaVu Sans`);
    }
  });
});
