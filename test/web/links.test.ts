import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { webLink } from '../../web/src/format.js';

/*
 * The check the page applies before it renders a URL from outside data (a pull request's html_url, from a
 * webhook delivery) as a link. A unit test of the page's own pure function: the browser test would need a
 * signed pull-request delivery with previews.fromWebhooks for the same assertion.
 */
describe('links from outside data', () => {
  it('keeps http and https URLs, in any letter case', () => {
    assert.equal(webLink('https://github.com/acme/fleet/pull/7'), 'https://github.com/acme/fleet/pull/7');
    assert.equal(webLink('HTTP://gitea.lan/acme/fleet/pulls/7'), 'http://gitea.lan/acme/fleet/pulls/7');
  });

  it('refuses javascript:, data: and other schemes, however they are written', () => {
    for (const url of [
      'javascript:alert(1)',
      'JavaScript:alert(1)',
      ' javascript:alert(1)',
      '\u0001javascript:alert(1)',
      'java\tscript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      '//evil.example/x',
      '/relative/path',
      'not a url',
      '',
      null,
      undefined,
    ]) {
      assert.equal(webLink(url), undefined, JSON.stringify(url));
    }
  });
});
