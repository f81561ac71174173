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
import { htmlEntityDecode } from '../seclang/transformations.js';

export interface XssResult {
  readonly reason: string;
}

const MAX_INPUT = 16384;
const MAX_TAGS = 64;

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

  // The value as a URL.
  const asUrl = schemeText(input.slice(0, 128));
  const scheme = SCRIPT_SCHEME.exec(asUrl);
  if (scheme && (asUrl.startsWith(scheme[0] + ':') || scheme[0].startsWith('data:'))) return { reason: `${scheme[0].replace(/\s+/g, '')} URL` };

  // Tags.
  let pos = 0;
  let tags = 0;
  while (tags < MAX_TAGS) {
    const lt = lower.indexOf('<', pos);
    if (lt < 0) break;
    pos = lt + 1;
    let i = lt + 1;
    if (lower[i] === '/') i++; // closing tags carry attributes too, and </script> ends a script context
    const nameMatch = /^[a-z][^\s/>\x00]*/.exec(lower.slice(i, i + 64));
    if (!nameMatch) {
      if (lower.startsWith('<!--', lt) || lower.startsWith('<?', lt) || lower.startsWith('<!', lt)) continue;
      continue;
    }
    tags++;
    const name = nameMatch[0];
    const closing = lower[lt + 1] === '/';
    i += name.length;
    if (!closing && ACTIVE_ELEMENTS.has(name)) return { reason: `<${name}> element` };
    if (closing && (name === 'script' || name === 'style' || name === 'textarea' || name === 'title')) {
      // "</script>" on its own ends the page's script and lets what follows be markup.
      if (lower.indexOf('<', i) >= 0) return { reason: `</${name}> then markup` };
    }
    // Attributes
    for (let attrs = 0; attrs < 64 && i < lower.length && lower[i] !== '>'; attrs++) {
      while (i < lower.length && /[\s/]/.test(lower[i]!)) i++;
      if (i >= lower.length || lower[i] === '>') break;
      const attr = /^[^\s/>=]+|^=[^\s/>=]*/.exec(lower.slice(i, i + 128));
      if (!attr) break;
      const attrName = attr[0];
      i += attrName.length;
      while (i < lower.length && /\s/.test(lower[i]!)) i++;
      let value = '';
      if (lower[i] === '=') {
        i++;
        while (i < lower.length && /\s/.test(lower[i]!)) i++;
        const q = lower[i];
        if (q === '"' || q === "'") {
          const end = lower.indexOf(q, i + 1);
          value = input.slice(i + 1, end < 0 ? lower.length : end);
          i = end < 0 ? lower.length : end + 1;
        } else {
          const m = /^[^\s>]*/.exec(lower.slice(i))!;
          value = input.slice(i, i + m[0].length);
          i += m[0].length;
        }
      }
      if (/^on[a-z]+/.test(attrName)) return { reason: `<${name} ${attrName}=> event handler` };
      if (URL_ATTRIBUTES.has(attrName) && value !== '') {
        const url = schemeText(value.slice(0, 256));
        const s = SCRIPT_SCHEME.exec(url);
        if (s) return { reason: `<${name} ${attrName}=${s[0].replace(/\s+/g, '')}...>` };
      }
      if (attrName === 'style' && SCRIPT_CSS.test(htmlEntityDecode(value).toLowerCase())) return { reason: `<${name} style=...> script in CSS` };
      if (attrName === 'http-equiv' && /refresh|set-cookie/.test(value.toLowerCase())) return { reason: `<${name} http-equiv=${value}>` };
    }
  }

  // The value closing an attribute and adding one: a quote (or the start, or a blank for unquoted
  // attributes), then blanks or "/", then an event handler, or a style / URL attribute that runs code.
  const head = lower.slice(0, 1024);
  for (const m of head.matchAll(/(?:^|["'`\s])[\s/]*(on[a-z]{3,40}|style|formaction|href|src|srcdoc)\s*=\s*["'`]?/g)) {
    const name = m[1]!;
    const value = head.slice(m.index + m[0].length);
    if (name.startsWith('on')) {
      if (EVENT_HANDLER.test(name)) return { reason: `attribute injection: ${name}=` };
    } else if (name === 'style' ? SCRIPT_CSS.test(value.slice(0, 256)) : SCRIPT_SCHEME.test(schemeText(value.slice(0, 128)))) {
      return { reason: `attribute injection: ${name}=` };
    }
  }
  return null;
}
