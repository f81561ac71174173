// The demo site's page, stylesheet and logo, made in code (no binary files in the repository).
// The page explains what the visitor is looking at: a TLS connection terminated by an edge that
// never held the site's private key, and which of the demo's routes the edge may cache.

export interface CacheableRoute {
  readonly path: string;
  readonly cacheControl: string;
  readonly note: string;
}

export interface PageFacts {
  readonly renderedAt: Date;
  readonly version: number;
  readonly pageMaxAge: number;
  readonly routes: readonly CacheableRoute[];
}

export function renderPage(facts: PageFacts): string {
  const rows = facts.routes
    .map((r) => `<tr><td><a href="${escapeHtml(r.path)}"><code>${escapeHtml(r.path)}</code></a></td><td><code>${escapeHtml(r.cacheControl)}</code></td><td>${escapeHtml(r.note)}</td></tr>`)
    .join('\n          ');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Keyless edge demo</title>
  <link rel="icon" href="/static/logo.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/style.css">
</head>
<body>
  <header>
    <img src="/static/logo.svg" alt="" width="72" height="72">
    <div>
      <h1>Keyless edge demo</h1>
      <p class="lead">This page reached you over HTTPS, through an edge that <strong>never held this site’s private key</strong>.</p>
    </div>
  </header>
  <main>
    <section class="card">
      <h2>What just happened</h2>
      <ol class="steps">
        <li><strong>TLS 1.3 at the edge.</strong> Your browser’s TLS connection was terminated by the edge. The edge holds the site’s certificate chain, and nothing else of the site’s identity.</li>
        <li><strong>One signature, done elsewhere.</strong> The handshake needs one private-key operation, the CertificateVerify signature. The edge sent the handshake’s transcript hash over mutually authenticated gRPC to the <em>key server</em>, which runs beside the HSM, checked its policy, signed, and wrote a hash-chained audit line before answering.</li>
        <li><strong>Plain HTTP inside the edge.</strong> With the handshake done, the edge read your request, ran it past its WAF, and looked in its cache (RFC 9111).</li>
        <li><strong>A new, verified connection to the origin.</strong> On a miss the edge fetched this page from the origin over TLS again, checking the origin’s certificate against its CA and name (“Full (Strict)”).</li>
      </ol>
    </section>
    <section class="card">
      <h2>What the edge may cache</h2>
      <table>
        <thead><tr><th>Route</th><th>Cache-Control from the origin</th><th>What to expect through the edge</th></tr></thead>
        <tbody>
          ${rows}
        </tbody>
      </table>
      <p class="hint">This page itself is <code>public, max-age=${facts.pageMaxAge}</code>: reload it, and for ${facts.pageMaxAge} seconds the “rendered by the demo origin” time at the bottom stays the same, because the edge answers from its cache. The live panel below comes from <code>no-store</code> routes and changes on every load.</p>
    </section>
    <section class="card live">
      <h2>Live from the origin <span class="badge">no-store</span></h2>
      <dl id="live">
        <dt>Origin time</dt><dd id="live-time">loading…</dd>
        <dt>Via</dt><dd id="live-via">—</dd>
        <dt>X-Forwarded-For</dt><dd id="live-xff">—</dd>
        <dt>X-Forwarded-Proto</dt><dd id="live-proto">—</dd>
        <dt>Edge client certificate</dt><dd id="live-client">—</dd>
      </dl>
    </section>
  </main>
  <footer>Rendered by the demo origin at <time datetime="${facts.renderedAt.toISOString()}">${escapeHtml(facts.renderedAt.toISOString())}</time> · content version ${facts.version}</footer>
  <script>
    (async () => {
      const set = (id, text) => { document.getElementById(id).textContent = text || '—'; };
      try {
        const [time, seen] = await Promise.all([fetch('/api/time').then((r) => r.json()), fetch('/api/headers').then((r) => r.json())]);
        set('live-time', time.now);
        set('live-via', seen.headers.via);
        set('live-xff', seen.headers['x-forwarded-for']);
        set('live-proto', seen.headers['x-forwarded-proto']);
        set('live-client', seen.clientCertificate ? seen.clientCertificate.subjectAltName || seen.clientCertificate.subject : 'none (authenticated origin pulls off)');
      } catch (err) {
        set('live-time', 'unavailable: ' + err.message);
      }
    })();
  </script>
</body>
</html>
`;
}

export const STYLESHEET = `:root {
  --ink: #1d2433;
  --muted: #5b6478;
  --accent: #f38020;
  --accent-dark: #c4540a;
  --paper: #f6f7fb;
  --card: #ffffff;
  --line: #e3e6ef;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink);
  background: var(--paper);
}
* { box-sizing: border-box; }
body { margin: 0; line-height: 1.55; }
header {
  display: flex; gap: 1.25rem; align-items: center;
  padding: 2.5rem max(1.5rem, calc((100vw - 920px) / 2));
  background: linear-gradient(135deg, #1d2433 0%, #2e3a59 60%, #3d4f7a 100%);
  color: #fff;
}
header h1 { margin: 0; font-size: 2.1rem; letter-spacing: -0.02em; }
header .lead { margin: 0.35rem 0 0; color: #d7dcea; font-size: 1.1rem; }
header strong { color: #ffb46b; }
main { max-width: 920px; margin: -1.25rem auto 0; padding: 0 1.5rem 2rem; }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 1.25rem 1.5rem; margin: 1.25rem 0;
  box-shadow: 0 1px 2px rgba(29, 36, 51, 0.06), 0 6px 24px rgba(29, 36, 51, 0.05);
}
.card h2 { margin: 0 0 0.75rem; font-size: 1.2rem; }
.steps { margin: 0; padding-left: 1.25rem; }
.steps li { margin: 0.45rem 0; }
table { width: 100%; border-collapse: collapse; font-size: 0.95rem; }
th, td { text-align: left; padding: 0.5rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 0.85rem; text-transform: uppercase; letter-spacing: 0.04em; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.88em; background: #f0f2f8; padding: 0.1em 0.35em; border-radius: 4px; }
a { color: var(--accent-dark); text-decoration: none; }
a:hover { text-decoration: underline; }
.hint { color: var(--muted); font-size: 0.92rem; margin: 0.9rem 0 0; }
.badge { font-size: 0.7rem; font-weight: 600; color: #fff; background: var(--accent); border-radius: 999px; padding: 0.15em 0.6em; vertical-align: middle; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.35rem 1.25rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.9rem; word-break: break-all; }
footer { max-width: 920px; margin: 0 auto; padding: 0 1.5rem 2.5rem; color: var(--muted); font-size: 0.85rem; }
`;

/** A key beside a cloud: the key is not inside. */
export const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96" role="img" aria-label="Keyless edge">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#f9a03f"/>
      <stop offset="1" stop-color="#e3611b"/>
    </linearGradient>
  </defs>
  <rect width="96" height="96" rx="22" fill="url(#bg)"/>
  <path d="M27 58a11 11 0 0 1 2-21.8A15 15 0 0 1 57.5 31 12 12 0 0 1 70 45a9 9 0 0 1-1 17.9H29z" fill="#fff" opacity="0.95"/>
  <g fill="none" stroke="#1d2433" stroke-width="4.5" stroke-linecap="round">
    <circle cx="40" cy="74" r="7.5"/>
    <path d="M47.5 74H72M64 74v6M70 74v5"/>
  </g>
</svg>
`;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
