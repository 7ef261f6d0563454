// What the unit tests stand in for: the server (a scripted fetch that records every request) and
// the page's cookie. No DOM: the modules under test only read document.cookie.

// A response as fetch resolves it, with only what the modules read.
export function answer(status, body = null, { headers = {}, url = "", redirected = false, text } = {}) {
  const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return {
    status,
    ok: status >= 200 && status < 300,
    url,
    redirected,
    headers: { get: (name) => lower[name.toLowerCase()] ?? null },
    json: async () => {
      if (body === null) throw new SyntaxError("no JSON body");
      return structuredClone(body);
    },
    text: async () => text ?? JSON.stringify(body),
    clone() {
      return this;
    },
  };
}

// Install a fetch that answers with ``respond(request)`` (an answer, or throws for a network error)
// and return the list of requests it received: {url, method, headers, body}.
export function fakeFetch(respond) {
  const requests = [];
  globalThis.fetch = async (url, init = {}) => {
    const request = {
      url: String(url),
      method: init.method ?? "GET",
      headers: { ...(init.headers ?? {}) },
      body: init.body === undefined ? undefined : JSON.parse(init.body),
    };
    requests.push(request);
    return respond(request, requests);
  };
  return requests;
}

export function setCookie(value) {
  globalThis.document = { cookie: value };
}
