/**
 * The small self-contained HTML pages of the unsubscribe endpoint: the confirmation page a GET
 * shows (its button POSTs the one-click body; a GET never changes anything, because link
 * scanners prefetch links), the done page and the error page. No script, no external resource.
 *
 * @module
 * @internal
 */

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

/** Security headers of every page: nothing loads, nothing frames it, no referrer leaks the token. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
});

/** `ann@example.com` -> `a**@example.com`: enough for the reader to recognise, not a disclosure. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  const local = address.slice(0, at);
  return `${local[0]}${'*'.repeat(Math.min(Math.max(local.length - 1, 2), 8))}${address.slice(at)}`;
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}button{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}p.small{color:#666;font-size:.85rem}</style>
</head><body>
${body}
</body></html>
`;
}

/** The page a GET shows: what will happen and a button that POSTs `List-Unsubscribe=One-Click` to the same URL. */
export function confirmPage(list: string | undefined, address: string): string {
  const what = list === undefined ? 'marketing mail' : `the list “${esc(list)}”`;
  return layout(
    'Unsubscribe',
    `<h1>Unsubscribe</h1>
<p>Stop sending ${what} to <strong>${esc(maskAddress(address))}</strong>?</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>
<p class="small">Nothing changes until you press the button.</p>`,
  );
}

/** The page after a successful POST. */
export function donePage(list: string | undefined): string {
  const what = list === undefined ? 'marketing mail' : `the list “${esc(list)}”`;
  return layout('Unsubscribed', `<h1>Unsubscribed</h1>\n<p>You will no longer receive ${what} at this address.</p>`);
}

/** An error page. */
export function errorPage(title: string, detail: string): string {
  return layout(title, `<h1>${esc(title)}</h1>\n<p>${esc(detail)}</p>`);
}
