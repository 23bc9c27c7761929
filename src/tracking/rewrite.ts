/**
 * The HTML scan behind click tracking: finds the links of an HTML body and rewrites their
 * `href` in one left-to-right pass, without building a DOM. Linear in the size of the HTML:
 * every search moves forward from where the previous one stopped.
 *
 * What the scan understands: tags and attribute names in any case; attribute values in double
 * quotes, single quotes or unquoted; character references in values (`&amp;`, `&#38;`,
 * `&#x26;`, `&quot;`...); comments (skipped), Outlook conditional comments (`<!--[if mso]>`,
 * whose content is scanned, since Outlook renders it); the raw text of `script`, `style`,
 * `textarea` and `title` (skipped).
 *
 * Links are the `href` of `a`, `area` and VML (`v:roundrect`, `v:rect`...: Outlook buttons).
 *
 * @module
 */

/** One link found by {@link scanLinks}. */
export interface FoundLink {
  /** Lower-case tag name (`a`, `area`, `v:roundrect`). */
  readonly tag: string;
  /** The `href` value with character references decoded and surrounding white space removed. */
  readonly href: string;
  /** Offset of the value in the HTML, quotes included. */
  readonly start: number;
  /** End offset (exclusive) of the value, quotes included. */
  readonly end: number;
  /** The element carries `data-mailpush-notrack`. */
  readonly notrack: boolean;
}

/** Result of {@link scanLinks}. */
export interface ScanResult {
  readonly links: FoundLink[];
  /** Offset of the last `</body`, or -1. */
  readonly bodyEnd: number;
}

/**
 * The attribute that leaves a link alone: `<a href="..." data-mailpush-notrack>`.
 *
 * @example
 * ```ts
 * const html = `<a href="https://acme.example/login" ${NOTRACK_ATTRIBUTE}>Sign in</a>`; // never rewritten
 * ```
 */
export const NOTRACK_ATTRIBUTE = 'data-mailpush-notrack';

const RAW_TEXT = new Set(['script', 'style', 'textarea', 'title']);
const LT = 60; // <
const GT = 62; // >
const isNameStart = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 12;

function isLinkTag(name: string): boolean {
  return name === 'a' || name === 'area' || (name.length > 2 && name.charCodeAt(0) === 118 && name.charCodeAt(1) === 58); // v:
}

/**
 * Finds every link of `html` and the end of its body.
 *
 * @example
 * ```ts
 * scanLinks('<A HREF=\'https://x.example/?a=1&amp;b=2\'>x</A>').links[0]?.href; // 'https://x.example/?a=1&b=2'
 * ```
 */
export function scanLinks(html: string): ScanResult {
  const links: FoundLink[] = [];
  const n = html.length;
  let bodyEnd = -1;
  let i = html.indexOf('<');
  while (i !== -1 && i < n - 1) {
    const c = html.charCodeAt(i + 1);
    if (c === 33 /* ! */) {
      if (html.startsWith('<!--', i)) {
        // Conditional comments open (`<!--[if mso]>`) and close (`<![endif]-->`) around markup that Outlook renders.
        if (html.startsWith('[if', i + 4)) {
          const gt = html.indexOf('>', i + 4);
          if (gt === -1) break;
          i = html.indexOf('<', gt + 1);
          continue;
        }
        const close = html.indexOf('-->', i + 4);
        if (close === -1) break;
        i = html.indexOf('<', close + 3);
        continue;
      }
      const gt = html.indexOf('>', i + 2);
      if (gt === -1) break;
      i = html.indexOf('<', gt + 1);
      continue;
    }
    const closing = c === 47; /* / */
    const nameAt = closing ? i + 2 : i + 1;
    if (nameAt >= n || !isNameStart(html.charCodeAt(nameAt))) {
      i = html.indexOf('<', i + 1);
      continue;
    }
    let j = nameAt + 1;
    while (j < n) {
      const d = html.charCodeAt(j);
      if (isSpace(d) || d === GT || d === 47 || d === LT) break;
      j++;
    }
    // Only a few names matter (links, raw-text elements, body): others are not even sliced.
    const name = interesting(html, nameAt, j) ? html.slice(nameAt, j).toLowerCase() : '';
    if (closing) {
      if (name === 'body') bodyEnd = i;
      const gt = html.indexOf('>', j);
      if (gt === -1) break;
      i = html.indexOf('<', gt + 1);
      continue;
    }
    const link = name !== '' && isLinkTag(name);
    const end = link ? readAttributes(html, j, name, links) : skipTag(html, j, links);
    if (end === -1) break;
    if (name !== '' && RAW_TEXT.has(name)) {
      const close = indexOfCloseTag(html, name, end);
      if (close === -1) break;
      i = close;
      continue;
    }
    i = html.indexOf('<', end);
  }
  return { links, bodyEnd };
}

/** Whether the tag name at [from, to) may be a link, raw-text or body tag (a, area, v:*, body, script, style, textarea, title). */
function interesting(html: string, from: number, to: number): boolean {
  const len = to - from;
  const c = html.charCodeAt(from) | 0x20;
  if (c === 97 /* a */) return len === 1 || len === 4;
  if (c === 118 /* v */) return len > 2 && html.charCodeAt(from + 1) === 58;
  if (c === 98 /* b */) return len === 4;
  if (c === 115 /* s */) return len === 5 || len === 6;
  if (c === 116 /* t */) return len === 5 || len === 8;
  return false;
}

/**
 * Skips a start tag that is not a link, to after its `>`, stepping over quoted attribute values
 * (which may hold `>`). Returns -1 when the tag never closes.
 */
function skipTag(html: string, at: number, links: FoundLink[]): number {
  void links;
  const n = html.length;
  let afterEquals = false;
  for (let k = at; k < n; k++) {
    const c = html.charCodeAt(k);
    if (c === GT) return k + 1;
    if ((c === 34 || c === 39) && afterEquals) {
      // A quoted value: only a quote that follows `=` (and white space) opens one, as in HTML.
      const close = html.indexOf(c === 34 ? '"' : "'", k + 1);
      if (close === -1) return -1;
      k = close;
      afterEquals = false;
      continue;
    }
    if (c === 61) afterEquals = true;
    else if (!isSpace(c)) afterEquals = false;
  }
  return -1;
}

/**
 * Reads the attributes of a start tag from `at` to its `>`; pushes the tag's href when `tag` is
 * set. Returns the offset after `>`, or -1 when the tag never closes.
 */
function readAttributes(html: string, at: number, tag: string | undefined, links: FoundLink[]): number {
  const n = html.length;
  let i = at;
  let href: { value: string; start: number; end: number } | undefined;
  let notrack = false;
  for (;;) {
    while (i < n && (isSpace(html.charCodeAt(i)) || html.charCodeAt(i) === 47)) i++;
    if (i >= n) return -1;
    if (html.charCodeAt(i) === GT) break;
    const nameStart = i;
    while (i < n) {
      const d = html.charCodeAt(i);
      if (isSpace(d) || d === GT || d === 47 || d === 61 /* = */) break;
      i++;
    }
    if (i === nameStart) i++; // a stray character: move on
    const attrEnd = i;
    while (i < n && isSpace(html.charCodeAt(i))) i++;
    let vStart = -1;
    let vEnd = -1;
    let raw = '';
    if (i < n && html.charCodeAt(i) === 61) {
      i++;
      while (i < n && isSpace(html.charCodeAt(i))) i++;
      if (i >= n) return -1;
      const q = html.charCodeAt(i);
      if (q === 34 || q === 39) {
        const close = html.indexOf(q === 34 ? '"' : "'", i + 1);
        if (close === -1) return -1;
        vStart = i;
        vEnd = close + 1;
        raw = html.slice(i + 1, close);
        i = close + 1;
      } else {
        vStart = i;
        while (i < n && !isSpace(html.charCodeAt(i)) && html.charCodeAt(i) !== GT) i++;
        vEnd = i;
        raw = html.slice(vStart, vEnd);
      }
    }
    if (tag !== undefined) {
      const len = attrEnd - nameStart;
      if (len === 4 && vStart !== -1 && href === undefined && html.slice(nameStart, attrEnd).toLowerCase() === 'href') {
        href = { value: raw, start: vStart, end: vEnd };
      } else if (len === NOTRACK_ATTRIBUTE.length && html.slice(nameStart, attrEnd).toLowerCase() === NOTRACK_ATTRIBUTE) {
        notrack = true;
      }
    }
  }
  if (tag !== undefined && href !== undefined) {
    links.push({ tag, href: cleanUrl(decodeEntities(href.value)), start: href.start, end: href.end, notrack });
  }
  return i + 1;
}

/** Offset of `</name` (any case) at or after `from`, or -1. Linear: one forward search. */
function indexOfCloseTag(html: string, name: string, from: number): number {
  const re = new RegExp(`</${name}[\\s/>]`, 'gi');
  re.lastIndex = from;
  const m = re.exec(html);
  return m === null ? -1 : m.index;
}

const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', sol: '/', colon: ':', equals: '=', quest: '?', num: '#', percnt: '%', lpar: '(', rpar: ')', plus: '+', comma: ',', period: '.' };

/**
 * Decodes the character references of an attribute value (numeric, and the named ones links use).
 *
 * @example
 * ```ts
 * decodeEntities('a=1&amp;b=2&#38;c=3'); // 'a=1&b=2&c=3'
 * ```
 */
export function decodeEntities(value: string): string {
  if (value.indexOf('&') === -1) return value;
  return value.replace(/&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z]{2,8});?/g, (all, ref: string) => {
    if (ref.charCodeAt(0) === 35) {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!(code > 0 && code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) return '\ufffd';
      return String.fromCodePoint(code);
    }
    const named = NAMED[ref] ?? NAMED[ref.toLowerCase()];
    // A named reference needs its `;` unless it is one of the legacy ones (`&amp` without `;`).
    return named !== undefined && (all.endsWith(';') || ref === 'amp' || ref === 'lt' || ref === 'gt' || ref === 'quot') ? named : all;
  });
}

/** What a browser does to an href before parsing it: strip surrounding white space, drop tabs and newlines. */
function cleanUrl(value: string): string {
  let s = value.trim();
  if (/[\t\n\r]/.test(s)) s = s.replace(/[\t\n\r]+/g, '');
  return s;
}

/**
 * Escapes a value for a double-quoted attribute.
 *
 * @example
 * ```ts
 * escapeAttribute('https://x.example/?a="1"&b'); // 'https://x.example/?a=&quot;1&quot;&amp;b'
 * ```
 */
export function escapeAttribute(value: string): string {
  return value.replace(/[&"<>]/g, (c) => (c === '&' ? '&amp;' : c === '"' ? '&quot;' : c === '<' ? '&lt;' : '&gt;'));
}
