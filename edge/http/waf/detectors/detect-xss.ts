// @detectXSS: would this input, pasted into an HTML page, run script?
//
// Our own design: a small HTML tag scanner that follows the HTML Living Standard's tokenizer rules
// where they matter for attacks (a tag starts with "<" and an ASCII letter; "/" separates
// attributes like a blank; attribute values may be unquoted; entities are decoded in values;
// a tag does not need its ">" — the page supplies one later), plus checks for the two places a
// value lands outside a tag: inside an attribute value it may close ("\" onmouseover=..."), and
// as a URL ("javascript:..."). Script runs through a few doors only, and each check is one door:
//   - an element that is script or loads active content (script, iframe, object, embed, base, ...);
//   - an event-handler attribute (on*) on any element;
//   - a URL attribute whose scheme runs code (javascript:, vbscript:, data:text/html);
//   - CSS that runs code (expression(), behavior, -moz-binding, url(javascript:)).
//
// Coverage: the whole value is read, in linear time, so padding before an injection does not
// hide it. Every "<" + letter is read as a tag (also one inside another tag's attribute value:
// the value may be pasted somewhere else). A tag that starts after the text earlier tags were
// read from is read to its ">" however long, every attribute of it (so "<img a/a/.../onerror=" is
// seen whatever the padding): such tags read disjoint stretches. A tag that starts inside that
// text is read within NESTED_TAG_REGION bytes and MAX_ATTRIBUTES attributes — which is what keeps
// "<a x='<a x='<a x='..." from costing n²/2. Attribute injection (a quote or blank, then on*=,
// style=, href=... ) is also looked for over the whole value.
import { MAX_BODY_LIMIT } from '../limits.js';
import { htmlEntityDecode } from '../seclang/transformations.js';

export interface XssResult {
  readonly reason: string;
}

/** Inputs are examined up to this many bytes: 64 MiB, the largest waf.body.limit, so to their end. */
const MAX_INPUT = MAX_BODY_LIMIT;
/** A tag that starts inside the text an earlier tag was read from is read within this many bytes... */
const NESTED_TAG_REGION = 256;
/** ... and this many attributes. */
const MAX_ATTRIBUTES = 64;

/** Elements that are dangerous whatever their attributes. */
const ACTIVE_ELEMENTS = new Set([
  'script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'meta', 'link', 'style', 'import',
  'isindex', 'xml', 'xss', 'vmlframe', 'portal', 'svg', 'math', 'noembed', 'listing', 'xmp', 'plaintext', 'template',
  'handler', 'set', 'animate', 'foreignobject',
]);

/** Attributes holding a URL the browser may navigate to or load. */
const URL_ATTRIBUTES = new Set([
  'href', 'src', 'action', 'formaction', 'data', 'xlink:href', 'background', 'lowsrc', 'dynsrc', 'poster', 'code',
  'codebase', 'srcdoc', 'srcset', 'content', 'to', 'from', 'values', 'by', 'ping', 'cite', 'longdesc', 'manifest', 'icon',
  'profile', 'usemap', 'classid', 'archive', 'folder', 'datasrc', 'xmlns',
]);

const SCRIPT_SCHEME = /^(?:javascript|vbscript|livescript|mocha|jscript|data:\s*text\/html|data:\s*image\/svg|data:\s*application\/(?:x-)?(?:javascript|ecmascript|xhtml|xml))/;
const SCRIPT_CSS = /expression\s*\(|behavior\s*:|-moz-binding|url\s*\(\s*['"]?\s*(?:javascript|vbscript)|@import|javascript:/;

/**
 * Event handler names, by the prefixes the HTML, SVG and old IE specifications use; a word like
 * "online" or "onward" in prose does not pass, "onmouseover" and "onbeginEvent" do.
 */
const EVENT_HANDLER =
  /^on(?:load|error|mouse|key|focus|blur|click|dblclick|change|submit|input|animation|transition|pointer|touch|drag|drop|begin|end|page|hash|popstate|message|resize|scroll|wheel|start|toggle|before|after|copy|cut|paste|contextmenu|formdata|search|select|show|invalid|reset|play|pause|progress|canplay|waiting|volumechange|timeupdate|seek|ratechange|emptied|stalled|suspend|abort|unload|readystatechange|fullscreen|auxclick|securitypolicy|slotchange|durationchange|storage|print|open|close|cancel|finish|repeat|bounce|zoom|activate|deactivate|help|move|propertychange|filterchange|datasetchanged|rowenter|rowexit|rowsdelete|rowsinserted|cellchange|losecapture|lostpointercapture|gotpointercapture|wheel|content|unhandledrejection|rejectionhandled|languagechange|visibilitychange|webkit|ms)/;

/** What a browser ignores inside a URL scheme: blanks and control characters (so "java\tscript:" works). */
function schemeText(value: string): string {
  return htmlEntityDecode(value)
    .replace(/[\x00-\x20\x7f]+/g, '')
    .toLowerCase();
}

export function detectXss(raw: string): XssResult | null {
  if (raw.length < 3) return null;
  const input = raw.length > MAX_INPUT ? raw.slice(0, MAX_INPUT) : raw;
  const lower = input.toLowerCase();
  // Cheap exit: every door needs one of these.
  if (lower.indexOf('<') < 0 && lower.indexOf('on') < 0 && lower.indexOf('script') < 0 && lower.indexOf('data:') < 0 && lower.indexOf('style') < 0) return null;

  // The value as a URL (browsers drop leading blanks and control characters, entity-encoded too).
  const urlStart = skipUrlBlanks(input);
  const asUrl = schemeText(input.slice(urlStart, urlStart + 128));
  const scheme = SCRIPT_SCHEME.exec(asUrl);
  if (scheme && (asUrl.startsWith(scheme[0] + ':') || scheme[0].startsWith('data:'))) return { reason: `${scheme[0].replace(/\s+/g, '')} URL` };

  // Tags. A tag is read to its ">", or — when it starts inside the text an earlier tag was read
  // from (in one of its attribute values, say) — within NESTED_TAG_REGION bytes and never past
  // the next "<". The stretches read for tags of the first kind do not overlap, and each tag of
  // the second kind reads a bounded stretch: the whole scan reads each byte a bounded number of
  // times, however the "<" are arranged.
  let lt = lower.indexOf('<');
  /** End of the text earlier tags were read from. */
  let reach = 0;
  while (lt >= 0) {
    const next = lower.indexOf('<', lt + 1);
    const c = lower.charCodeAt(lt + 1);
    if ((c >= 0x61 && c <= 0x7a) || c === 0x2f) {
      const nested = lt < reach;
      const end = nested ? Math.min(lt + NESTED_TAG_REGION, next < 0 ? lower.length : next) : lower.length;
      const tag = readTag(lower, input, lt, end, next >= 0, nested ? MAX_ATTRIBUTES : Infinity);
      if (typeof tag !== 'number') return tag;
      reach = Math.max(reach, lt + tag);
    }
    lt = next;
  }

  return attributeInjection(lower);
}

/** Where a URL would start once a browser drops its leading blanks and controls (raw or as &#9; &Tab; ...). */
function skipUrlBlanks(s: string): number {
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) {
      i++;
      continue;
    }
    if (c !== 0x26) break;
    const m = /^&(?:#0*(?:[0-9]|[12][0-9]|3[0-2])(?![0-9])|#x0*(?:[0-9a-f]|1[0-9a-f]|20)(?![0-9a-f])|tab|newline);?/i.exec(s.slice(i, i + 16));
    if (!m) break;
    i += m[0].length;
  }
  return i;
}

/**
 * The tag at `lt` of `lower` (the input `input` in lower case), read no further than `end`: a
 * reason, or how far from `lt` it was read. `moreTags`: a "<" follows it in the value.
 */
function readTag(lower: string, input: string, lt: number, end: number, moreTags: boolean, maxAttributes: number): XssResult | number {
  let i = lt + 1;
  const closing = lower.charCodeAt(i) === 0x2f;
  if (closing) i++; // closing tags carry attributes too, and </script> ends a script context
  // The name: a letter, then anything but blanks, "/", ">" and NUL (at most 64 characters).
  if (!isLetter(lower.charCodeAt(i)) || i >= end) return i - lt;
  const nameStart = i;
  const nameEnd = Math.min(end, nameStart + 64);
  while (i < nameEnd && !isNameStop(lower.charCodeAt(i))) i++;
  const name = lower.slice(nameStart, i);
  if (!closing && ACTIVE_ELEMENTS.has(name)) return { reason: `<${name}> element` };
  if (closing && (name === 'script' || name === 'style' || name === 'textarea' || name === 'title')) {
    // "</script>" on its own ends the page's script and lets what follows be markup.
    if (moreTags) return { reason: `</${name}> then markup` };
  }
  // Attributes
  for (let attrs = 0; attrs < maxAttributes && i < end && lower.charCodeAt(i) !== 0x3e; attrs++) {
    while (i < end && isBlankOrSlash(lower.charCodeAt(i))) i++;
    if (i >= end || lower.charCodeAt(i) === 0x3e) break;
    // The name: anything but blanks, "/", ">" and "=", or "=" and then that (at most 128 characters).
    const attrStart = i;
    const attrEnd = Math.min(end, attrStart + 128);
    if (lower.charCodeAt(i) === 0x3d) i++;
    while (i < attrEnd && !isAttrStop(lower.charCodeAt(i))) i++;
    const attrName = lower.slice(attrStart, i);
    while (i < end && isBlank(lower.charCodeAt(i))) i++;
    let value = '';
    if (i < end && lower.charCodeAt(i) === 0x3d) {
      i++;
      while (i < end && isBlank(lower.charCodeAt(i))) i++;
      const q = lower.charCodeAt(i);
      if (i < end && (q === 0x22 || q === 0x27)) {
        let close = i + 1;
        while (close < end && lower.charCodeAt(close) !== q) close++;
        value = input.slice(i + 1, close);
        i = close < end ? close + 1 : end;
      } else {
        const start = i;
        while (i < end && lower.charCodeAt(i) !== 0x3e && !isBlank(lower.charCodeAt(i))) i++;
        value = input.slice(start, i);
      }
    }
    if (attrName.length > 2 && attrName.startsWith('on') && isLetter(attrName.charCodeAt(2))) return { reason: `<${name} ${attrName}=> event handler` };
    if (value === '') continue;
    if (URL_ATTRIBUTES.has(attrName)) {
      const url = schemeText(value.slice(0, 256));
      const s = SCRIPT_SCHEME.exec(url);
      if (s) return { reason: `<${name} ${attrName}=${s[0].replace(/\s+/g, '')}...>` };
    }
    if (attrName === 'style' && SCRIPT_CSS.test(htmlEntityDecode(value).toLowerCase())) return { reason: `<${name} style=...> script in CSS` };
    if (attrName === 'http-equiv' && /refresh|set-cookie/.test(value.toLowerCase())) return { reason: `<${name} http-equiv=${value}>` };
  }
  return i - lt;
}

function isNameStop(c: number): boolean {
  return c === 0x2f || c === 0x3e || c === 0x00 || isBlank(c);
}

function isAttrStop(c: number): boolean {
  return c === 0x2f || c === 0x3e || c === 0x3d || isBlank(c);
}

/** \s as the regexes above mean it, on byte strings: tab, LF, VT, FF, CR, space, and NBSP (0xa0). */
function isBlank(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

function isBlankOrSlash(c: number): boolean {
  return c === 0x2f || isBlank(c);
}

const INJECTED_NAMES = new Set(['style', 'formaction', 'href', 'src', 'srcdoc']);

/**
 * The value closing an attribute and adding one: a quote (or the start, or a blank for unquoted
 * attributes), then blanks or "/", then an event handler, or a style / URL attribute that runs
 * code — "(?:^|["'`\s])[\s/]*(on[a-z]{3,40}|style|formaction|href|src|srcdoc)\s*=\s*["'`]?"
 * anywhere in the value. Found from each "=" backwards, so that it is linear: each run of blanks
 * is walked over at most twice, a name at most once.
 */
function attributeInjection(lower: string): XssResult | null {
  for (let eq = lower.indexOf('='); eq >= 0; eq = lower.indexOf('=', eq + 1)) {
    let j = eq - 1;
    while (j >= 0 && isBlank(lower.charCodeAt(j))) j--;
    const nameEnd = j + 1;
    while (j >= 0 && nameEnd - j <= 43 && isLetter(lower.charCodeAt(j))) j--;
    if (j >= 0 && isLetter(lower.charCodeAt(j))) continue; // a longer word than any name here
    const name = lower.slice(j + 1, nameEnd);
    const isHandler = name.length >= 5 && name.length <= 42 && name.startsWith('on');
    if (!isHandler && !INJECTED_NAMES.has(name)) continue;
    // Before the name: blanks and "/" back to a quote, a blank, or the start of the value.
    let blank = false;
    while (j >= 0 && isBlankOrSlash(lower.charCodeAt(j))) {
      if (lower.charCodeAt(j) !== 0x2f) blank = true;
      j--;
    }
    const before = j < 0 ? '' : lower[j]!;
    if (!(j < 0 || blank || before === '"' || before === "'" || before === '`')) continue;
    let valueStart = eq + 1;
    while (valueStart < lower.length && valueStart - eq <= 256 && isBlank(lower.charCodeAt(valueStart))) valueStart++;
    if (lower[valueStart] === '"' || lower[valueStart] === "'" || lower[valueStart] === '`') valueStart++;
    if (isHandler) {
      if (EVENT_HANDLER.test(name)) return { reason: `attribute injection: ${name}=` };
    } else if (name === 'style' ? SCRIPT_CSS.test(lower.slice(valueStart, valueStart + 256)) : SCRIPT_SCHEME.test(schemeText(lower.slice(valueStart, valueStart + 128)))) {
      return { reason: `attribute injection: ${name}=` };
    }
  }
  return null;
}

function isLetter(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}
